/*
 * ctl_tmpl.h - the ARM template engine: loads a deployment template, binds
 * its parameters, and evaluates resources and outputs at resource-group
 * scope.  Pure computation: no I/O, no sockets, no store.  The deployment
 * API (Microsoft.Resources/deployments) drives it and does the PUTs.
 *
 * Errors: every function that can fail returns 0 or a negative SCC_E* code
 * and, when err is not NULL, fills it in ARM's terms:
 *   SCC_EINVAL    the template, a parameter or an expression is invalid,
 *                 including integer overflow and dependency cycles (code
 *                 "InvalidTemplate", or "InvalidRequestContent" for a
 *                 malformed parameters object);
 *   SCC_ETOOBIG   a limit below was exceeded (code "InvalidTemplate");
 *   SCC_ENOSYS    a template feature we do not implement: user functions,
 *                 copy in top-level variables, nested child resources,
 *                 extension or cross-scope resources, languageVersion 2.0
 *                 (code "InvalidTemplate"), or a Key Vault parameter
 *                 reference (code "InvalidTemplateDeployment");
 *   SCC_EUNAVAIL  reference() was needed but the scope has no callback
 *                 (code "InvalidTemplate"; pre-flight may skip such work);
 *   SCC_ENOTFOUND reference() named a resource the callback does not know
 *                 (code "ResourceNotFound");
 *   SCC_ENOMEM    allocation failed (code "InternalServerError").
 * A failed call leaves its outputs untouched (NULL) and frees everything it
 * built; a failed ctl_tmpl_resource_eval or ctl_tmpl_outputs_eval leaves t
 * usable.
 *
 * Threads: ctl_tmpl_load, ctl_tmpl_hash and ctl_tmpl_unique_string may run
 * on any thread.  A struct ctl_tmpl caches evaluated variables, so one
 * template must be used by one thread at a time.
 */
#ifndef SCC_CONTROL_CTL_TMPL_H
#define SCC_CONTROL_CTL_TMPL_H

#include <jansson.h>
#include <stddef.h>

/* Limits; docs/templates.md explains each.  ARM's own limits where it has one. */
#define CTL_TMPL_MAX_PARAMETERS  256
#define CTL_TMPL_MAX_VARIABLES   256
#define CTL_TMPL_MAX_OUTPUTS     64
#define CTL_TMPL_MAX_RESOURCES   800        /* after copy expansion */
#define CTL_TMPL_MAX_COPY        800        /* copy count of one loop */
#define CTL_TMPL_MAX_SIZE        (4u << 20) /* template or parameters, bytes as minified JSON */
#define CTL_TMPL_MAX_NESTING     64         /* JSON nesting of template and parameters */
#define CTL_TMPL_MAX_EXPR_LEN    24576      /* characters inside one "[...]" */
#define CTL_TMPL_MAX_EXPR_DEPTH  64         /* nested calls/accesses in one expression */
#define CTL_TMPL_MAX_EVAL_DEPTH  256        /* nesting across expressions and variables */
#define CTL_TMPL_MAX_VALUE_DEPTH 128        /* nesting of a value an expression builds */
#define CTL_TMPL_MAX_STRING      (1u << 20) /* bytes of a string an expression builds */
#define CTL_TMPL_MAX_ITEMS       65536      /* members of an array/object an expression builds */
#define CTL_TMPL_MAX_WORK        1000000ul  /* work units per call (see docs) */
#define CTL_TMPL_MAX_WORK_TOTAL  16000000ul /* work units over a template's life */

struct ctl_tmpl;

/*
 * reference() support: the deployment engine returns a new reference to the
 * full ARM resource JSON (id, name, type, properties, ...) of resource_id
 * as deployed earlier in this deployment or already existing, or NULL if
 * it does not know it.  api_version may be NULL.
 */
typedef json_t *(*ctl_tmpl_reference_cb)(void *arg, const char *resource_id,
                                         const char *api_version);

/* Deployment context.  ctl_tmpl_load copies the strings and tags. */
struct ctl_tmpl_scope {
    const char *subscription_id;     /* required */
    const char *tenant_id;           /* NULL means "" */
    const char *subscription_name;   /* displayName; NULL means "" */
    const char *rg_name;             /* required; stored casing, feeds resourceGroup().id */
    const char *rg_location;         /* NULL means "" */
    const json_t *rg_tags;           /* may be NULL */
    const char *deployment_name;     /* NULL means "" */
    ctl_tmpl_reference_cb reference; /* may be NULL; then reference() fails */
    void *reference_arg;             /* borrowed; must outlive the template */
};

struct ctl_tmpl_error {
    char code[64];      /* "InvalidTemplate", "InvalidRequestContent", ... */
    char message[1024]; /* ARM wording, names the path and expression */
    char target[256];   /* template path, e.g. "resources[0].properties.x" */
};

/*
 * ctl_tmpl_load - check a template's structure, bind its parameters and
 * prepare its resources (copy loops expanded).  Every expression in the
 * template is parsed now, so syntax errors and unknown functions surface
 * here; parameters are fully resolved and validated (type, allowedValues,
 * min/max) now; variables are evaluated lazily and cached.
 * @template_json: borrowed; deep-copied, the caller may drop it afterwards.
 * @parameters: borrowed, {"name": {"value": x}, ...} or NULL.
 * @scope: borrowed; strings and tags are copied.
 * @out: receives the owned template on success, NULL otherwise.
 * @err: optional.
 * Returns 0, SCC_EINVAL, SCC_ETOOBIG, SCC_ENOSYS or SCC_ENOMEM.
 */
int ctl_tmpl_load(const json_t *template_json, const json_t *parameters,
                  const struct ctl_tmpl_scope *scope, struct ctl_tmpl **out,
                  struct ctl_tmpl_error *err);

/* ctl_tmpl_free - NULL-safe. */
void ctl_tmpl_free(struct ctl_tmpl *t);

/* ctl_tmpl_resource_count - resource instances after copy expansion. */
size_t ctl_tmpl_resource_count(const struct ctl_tmpl *t);

/*
 * ctl_tmpl_resource_eval - evaluate resource instance i (< count).
 * @out: receives an owned object:
 *   {"type", "apiVersion", "name", "id", "condition": bool,
 *    "dependsOn": [ids, including the implicit ones of a serial copy],
 *    "copy": {"name", "index"} (only for a copy instance),
 *    "body": {every key but type/apiVersion/name/dependsOn/condition/copy/
 *             comments/metadata, names as written, e.g. location, sku,
 *             properties}}.
 * When condition is false the body is {} and is not evaluated, as in ARM.
 * Returns 0, SCC_EINVAL, SCC_ETOOBIG, SCC_EUNAVAIL, SCC_ENOTFOUND, SCC_ENOMEM.
 */
int ctl_tmpl_resource_eval(struct ctl_tmpl *t, size_t i, json_t **out, struct ctl_tmpl_error *err);

/*
 * ctl_tmpl_resource_order - a deployment order of the instances: order[k]
 * is an instance index, and every dependency comes before its dependents.
 * dependsOn entries may be full ids, "type/name" ids, plain names or copy
 * loop names, as ARM allows.  A reference() to another resource of the
 * template whose argument needs no deployed state is an implicit
 * dependency, as in ARM.  Among independent instances template order
 * is kept.  Also rejects two instances with the same id.
 * @order: caller array of ctl_tmpl_resource_count(t) entries.
 * Returns 0 or SCC_EINVAL (cycle, unknown or ambiguous dependency,
 * duplicate id), SCC_ETOOBIG, SCC_ENOMEM.
 */
int ctl_tmpl_resource_order(struct ctl_tmpl *t, size_t *order, struct ctl_tmpl_error *err);

/* What the graph knows of one instance; every pointer is borrowed from t. */
struct ctl_tmpl_res_info {
    const char *type; /* evaluated, e.g. "Microsoft.Network/virtualNetworks" */
    const char *name;
    const char *id;
    const size_t *deps; /* the instances it waits for, explicit and implicit */
    size_t ndeps;
};

/*
 * ctl_tmpl_resource_info - type, name, id and dependencies of instance i
 * (< count), as ctl_tmpl_resource_order counts them; needs no deployed
 * state, so it works where evaluating the body would not.
 * Returns 0 or like ctl_tmpl_resource_order (the graph is built once).
 */
int ctl_tmpl_resource_info(struct ctl_tmpl *t, size_t i, struct ctl_tmpl_res_info *out,
                           struct ctl_tmpl_error *err);

/*
 * ctl_tmpl_outputs_eval - evaluate the outputs section.
 * @out: receives an owned {"name": {"type": "String", "value": v}, ...};
 * outputs whose condition is false are left out; secure outputs carry no
 * value.  Returns like ctl_tmpl_resource_eval.
 */
int ctl_tmpl_outputs_eval(struct ctl_tmpl *t, json_t **out, struct ctl_tmpl_error *err);

/*
 * ctl_tmpl_parameters_echo - every declared parameter with its effective
 * value, as a deployment echoes them: {"name": {"type": "String", "value":
 * v}}, types "String", "Int", "Bool", "Object", "Array", "SecureString",
 * "SecureObject"; secure ones carry no value.  Returns owned, NULL on
 * allocation failure.
 */
json_t *ctl_tmpl_parameters_echo(const struct ctl_tmpl *t);

/*
 * ctl_tmpl_hash - ARM's templateHash: the decimal MurmurHash64 (the
 * uniqueString variant) of the compact JSON of the template, ASCII
 * upper-cased.  Stable for a given template, but not guaranteed to equal
 * ARM's digits (its serialiser escapes some characters differently).
 * @out: receives the NUL-terminated decimal string.
 * Returns 0, SCC_EINVAL (not an object), SCC_ETOOBIG or SCC_ENOMEM.
 */
int ctl_tmpl_hash(const json_t *template_json, char out[21]);

/*
 * ctl_tmpl_unique_string - ARM's uniqueString(args[0], ..., args[n-1]):
 * 13 characters of base32 over MurmurHash64 of the arguments joined by '-'.
 * Returns 0, SCC_EINVAL (n == 0), SCC_ETOOBIG (joined > 131072 bytes) or
 * SCC_ENOMEM.
 */
int ctl_tmpl_unique_string(const char *const *args, size_t n, char out[14]);

/*
 * ctl_tmpl_eval_string - evaluate one JSON string value: a "[...]"
 * expression, a "[[..." escape or a plain literal.
 * @t: context for parameters(), variables(), resourceGroup(), ...; may be
 * NULL, then only context-free functions work.
 * @s: NUL-terminated, borrowed.
 * @out: receives the owned value (any JSON type).
 * Returns like ctl_tmpl_resource_eval.
 */
int ctl_tmpl_eval_string(struct ctl_tmpl *t, const char *s, json_t **out,
                         struct ctl_tmpl_error *err);

#endif /* SCC_CONTROL_CTL_TMPL_H */
