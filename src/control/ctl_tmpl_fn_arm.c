/*
 * ctl_tmpl_fn_arm.c - template functions that read the deployment: its
 * parameters and variables, the resource group, subscription, tenant and
 * deployment objects, resource ids, reference() and copyIndex().
 *
 * Where ARM limits a function to parts of the template (no variables() in
 * parameter defaults, no reference() outside resource bodies and outputs,
 * copyIndex() only inside a loop), the context's allow bits and loop stack
 * say where we are.
 */
#include "control/ctl_tmpl_fn.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/json.h"
#include "control/ctl_tmpl_int.h"

static int
not_here(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f)
{
    return ctl_tmpl_fail(c, SCC_EINVAL,
                         "The template function '%s' is not expected at this location. Please "
                         "see https://aka.ms/arm-functions for usage details.",
                         f->name);
}

static int
fn_parameters(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
              json_t **out)
{
    int rc;

    (void)argc;
    if ((rc = ctl_tmpl_fn_want(c, f, argv, 0, JSON_STRING)) < 0)
        return rc;
    return ctl_tmpl_param_get(c, json_string_value(argv[0]), out);
}

static int
fn_variables(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
             json_t **out)
{
    int rc;

    (void)argc;
    if (!(c->allow & CTL_TMPL_ALLOW_VARIABLES) || c->t == NULL)
        return not_here(c, f);
    if ((rc = ctl_tmpl_fn_want(c, f, argv, 0, JSON_STRING)) < 0)
        return rc;
    return ctl_tmpl_var_get(c, json_string_value(argv[0]), out);
}

static int
set_str(struct ctl_tmpl_ctx *c, json_t *obj, const char *key, const char *val)
{
    json_t *v = NULL;
    int rc;

    if ((rc = ctl_tmpl_mkstr(c, val, strlen(val), &v)) < 0)
        return rc;
    return ctl_tmpl_set(c, obj, key, v);
}

static int __attribute__((format(printf, 4, 5)))
set_fmt(struct ctl_tmpl_ctx *c, json_t *obj, const char *key, const char *fmt, ...)
{
    char s[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(s, sizeof(s), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(s))
        return ctl_tmpl_fail(c, SCC_ETOOBIG, "The deployment scope names are too long.");
    return set_str(c, obj, key, s);
}

static int
rg_fill(struct ctl_tmpl_ctx *c, const struct ctl_tmpl *t, json_t *rg)
{
    json_t *x = NULL;
    int rc;

    if ((rc = set_fmt(c, rg, "id", "/subscriptions/%s/resourceGroups/%s", t->sub_id, t->rg_name)) <
                0 ||
        (rc = set_str(c, rg, "name", t->rg_name)) < 0 ||
        (rc = set_str(c, rg, "type", "Microsoft.Resources/resourceGroups")) < 0 ||
        (rc = set_str(c, rg, "location", t->rg_location)) < 0)
        return rc;
    if (t->rg_tags != NULL &&
        ((rc = ctl_tmpl_copy(c, t->rg_tags, &x)) < 0 || (rc = ctl_tmpl_set(c, rg, "tags", x)) < 0))
        return rc;
    if ((rc = ctl_tmpl_new_object(c, &x)) < 0 || (rc = ctl_tmpl_set(c, rg, "properties", x)) < 0)
        return rc;
    return set_str(c, x, "provisioningState", "Succeeded");
}

static int
fn_resource_group(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv,
                  size_t argc, json_t **out)
{
    json_t *rg = NULL;
    int rc;

    (void)argv, (void)argc;
    if (c->t == NULL)
        return not_here(c, f);
    if ((rc = ctl_tmpl_new_object(c, &rg)) < 0)
        return rc;
    if ((rc = rg_fill(c, c->t, rg)) < 0) {
        json_decref(rg);
        return rc;
    }
    *out = rg;
    return 0;
}

/* subscription(), tenant() and deployment(): small fixed objects. */
static int
scope_fill(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, const struct ctl_tmpl *t, json_t *o)
{
    json_t *props = NULL, *tmpl = NULL;
    int rc;

    if (strcmp(f->name, "subscription") == 0) {
        if ((rc = set_fmt(c, o, "id", "/subscriptions/%s", t->sub_id)) < 0 ||
            (rc = set_str(c, o, "subscriptionId", t->sub_id)) < 0 ||
            (rc = set_str(c, o, "tenantId", t->tenant_id)) < 0)
            return rc;
        return set_str(c, o, "displayName", t->sub_name);
    }
    if (strcmp(f->name, "tenant") == 0) {
        if ((rc = set_fmt(c, o, "id", "/tenants/%s", t->tenant_id)) < 0)
            return rc;
        return set_str(c, o, "tenantId", t->tenant_id);
    }
    if ((rc = set_str(c, o, "name", t->deployment_name)) < 0 ||
        (rc = ctl_tmpl_new_object(c, &props)) < 0 ||
        (rc = ctl_tmpl_set(c, o, "properties", props)) < 0 ||
        (rc = ctl_tmpl_new_object(c, &tmpl)) < 0 ||
        (rc = ctl_tmpl_set(c, props, "template", tmpl)) < 0)
        return rc;
    return set_str(c, tmpl, "contentVersion", t->content_version);
}

static int
fn_scope(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
         json_t **out)
{
    json_t *o = NULL;
    int rc;

    (void)argv, (void)argc;
    if (c->t == NULL)
        return not_here(c, f);
    if ((rc = ctl_tmpl_new_object(c, &o)) < 0)
        return rc;
    if ((rc = scope_fill(c, f, c->t, o)) < 0) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

static size_t
count_char(const char *s, char ch)
{
    size_t n = 0;

    for (; *s != '\0'; s++)
        n += *s == ch;
    return n;
}

/* The next '/'-separated segment of the names, which may hold '/' themselves. */
static bool
next_name(const char *const *names, size_t n, size_t *ni, const char **np, const char **seg,
          size_t *len)
{
    if (*ni >= n)
        return false;
    *seg = *np;
    *len = strcspn(*np, "/");
    if ((*np)[*len] == '/') {
        *np += *len + 1;
    } else if (++*ni < n) {
        *np = names[*ni];
    }
    return *len > 0;
}

int
ctl_tmpl_make_id(const char *prefix, const char *type, const char *const *names, size_t n,
                 struct scc_buf *b)
{
    const char *tp = strchr(type, '/'), *seg = NULL;
    size_t want = count_char(type, '/'), have = 0, ni = 0, len = 0, tl;
    const char *np = n > 0 ? names[0] : "";
    int rc;

    for (size_t i = 0; i < n; i++)
        have += count_char(names[i], '/') + 1;
    if (tp == NULL || tp == type || want != have)
        return SCC_EINVAL;
    if ((rc = scc_buf_printf(b, "%s/providers/%.*s", prefix, (int)(tp - type), type)) < 0)
        return rc;
    while (*tp == '/') {
        tl = strcspn(tp + 1, "/");
        if (tl == 0 || !next_name(names, n, &ni, &np, &seg, &len))
            return SCC_EINVAL;
        if ((rc = scc_buf_printf(b, "/%.*s/%.*s", (int)tl, tp + 1, (int)len, seg)) < 0)
            return rc;
        tp += 1 + tl;
    }
    return 0;
}

static int
id_error(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, int rc, const char *type)
{
    if (rc == SCC_ENOMEM)
        return ctl_tmpl_oom(c);
    if (rc == SCC_ETOOBIG)
        return ctl_tmpl_fail(c, rc, "The resource id built by '%s' is too long.", f->name);
    return ctl_tmpl_fail(c, SCC_EINVAL,
                         "Unable to evaluate template language function '%s': the type '%s' "
                         "needs one resource name segment per type segment. Please see "
                         "https://aka.ms/arm-resource-functions for usage details.",
                         f->name, type);
}

/* Build "{prefix}/providers/{type/names}" from argv[ti] (type) and the rest. */
static int
build_id(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, const char *prefix,
         json_t *const *argv, size_t argc, size_t ti, json_t **out)
{
    const char *names[64];
    const char *type = json_string_value(argv[ti]);
    struct scc_buf b;
    size_t n = argc - ti - 1;
    int rc;

    if (n > sizeof(names) / sizeof(names[0]))
        return id_error(c, f, SCC_EINVAL, type);
    for (size_t i = 0; i < n; i++)
        names[i] = json_string_value(argv[ti + 1 + i]);
    scc_buf_init(&b, 4096);
    if ((rc = ctl_tmpl_make_id(prefix, type, names, n, &b)) < 0) {
        scc_buf_fini(&b);
        return id_error(c, f, rc, type);
    }
    return ctl_tmpl_mkbuf(c, &b, out);
}

static int
want_all_strings(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv,
                 size_t argc)
{
    int rc;

    for (size_t i = 0; i < argc; i++) {
        if ((rc = ctl_tmpl_fn_want(c, f, argv, i, JSON_STRING)) < 0)
            return rc;
    }
    return 0;
}

/* The resource type is the first argument holding a '/'; before it come
 * the optional subscription id and resource group name. */
static size_t
type_index(json_t *const *argv, size_t argc, size_t max_before)
{
    for (size_t i = 0; i <= max_before && i + 1 < argc; i++) {
        if (strchr(json_string_value(argv[i]), '/') != NULL)
            return i;
    }
    return SIZE_MAX;
}

static int
fn_resource_id(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv,
               size_t argc, json_t **out)
{
    const struct ctl_tmpl *t = c->t;
    const char *sub, *rg;
    char prefix[512];
    size_t ti;
    int rc, n;

    if ((rc = want_all_strings(c, f, argv, argc)) < 0)
        return rc;
    if ((ti = type_index(argv, argc, 2)) == SIZE_MAX)
        return id_error(c, f, SCC_EINVAL, json_string_value(argv[0]));
    if (ti < 2 && t == NULL)
        return not_here(c, f);
    sub = ti == 2 ? json_string_value(argv[0]) : t->sub_id;
    rg = ti >= 1 ? json_string_value(argv[ti - 1]) : t->rg_name;
    n = snprintf(prefix, sizeof(prefix), "/subscriptions/%s/resourceGroups/%s", sub, rg);
    if (n < 0 || (size_t)n >= sizeof(prefix))
        return id_error(c, f, SCC_ETOOBIG, "");
    return build_id(c, f, prefix, argv, argc, ti, out);
}

static int
fn_subscription_resource_id(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f,
                            json_t *const *argv, size_t argc, json_t **out)
{
    const char *sub;
    char prefix[512];
    size_t ti;
    int rc, n;

    if ((rc = want_all_strings(c, f, argv, argc)) < 0)
        return rc;
    if ((ti = type_index(argv, argc, 1)) == SIZE_MAX)
        return id_error(c, f, SCC_EINVAL, json_string_value(argv[0]));
    if (ti == 0 && c->t == NULL)
        return not_here(c, f);
    sub = ti == 1 ? json_string_value(argv[0]) : c->t->sub_id;
    n = snprintf(prefix, sizeof(prefix), "/subscriptions/%s", sub);
    if (n < 0 || (size_t)n >= sizeof(prefix))
        return id_error(c, f, SCC_ETOOBIG, "");
    /* Resource groups have ids without a provider segment; Bicep's rg.id
     * compiles to this call and the Databricks RP expects that form. */
    if (strcasecmp(json_string_value(argv[ti]), "Microsoft.Resources/resourceGroups") == 0 &&
        argc == ti + 2 && strchr(json_string_value(argv[ti + 1]), '/') == NULL) {
        char id[600];

        n = snprintf(id, sizeof(id), "%s/resourceGroups/%s", prefix,
                     json_string_value(argv[ti + 1]));
        if (n < 0 || (size_t)n >= sizeof(id))
            return id_error(c, f, SCC_ETOOBIG, "");
        return ctl_tmpl_mkstr(c, id, (size_t)n, out);
    }
    return build_id(c, f, prefix, argv, argc, ti, out);
}

static int
fn_tenant_resource_id(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv,
                      size_t argc, json_t **out)
{
    int rc;

    if ((rc = want_all_strings(c, f, argv, argc)) < 0)
        return rc;
    return build_id(c, f, "", argv, argc, 0, out);
}

static int
fn_extension_resource_id(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv,
                         size_t argc, json_t **out)
{
    const char *base;
    int rc;

    if ((rc = want_all_strings(c, f, argv, argc)) < 0)
        return rc;
    base = json_string_value(argv[0]);
    if (strlen(base) > 2048)
        return id_error(c, f, SCC_ETOOBIG, "");
    return build_id(c, f, base, argv, argc, 1, out);
}

/* "ns/type/name" of a full id, the way ARM names a missing resource. */
static const char *
id_tail(const char *id)
{
    const char *p = NULL, *q = id;

    while ((q = strstr(q, "/providers/")) != NULL)
        p = q += strlen("/providers/");
    return p != NULL ? p : id;
}

/* reference(): the resource named by id or by its template name. */
static int
reference_target(struct ctl_tmpl_ctx *c, const char *ref, const char **id)
{
    struct ctl_tmpl *t = c->t;
    bool amb = false;
    size_t k;
    int rc;

    if (ref[0] == '/') {
        *id = ref;
        return 0;
    }
    if ((rc = ctl_tmpl_graph_build(c)) < 0)
        return rc;
    if ((k = ctl_tmpl_res_find(t, ref, &amb)) == SIZE_MAX || amb)
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The template reference '%s' is not valid: could not find template "
                             "resource or resource copy with this name%s. Please see "
                             "https://aka.ms/arm-function-reference for usage details.",
                             ref, amb ? " (it is ambiguous)" : "");
    *id = t->insts[k].id;
    return 0;
}

static int
reference_value(struct ctl_tmpl_ctx *c, const json_t *res, bool full, json_t **out)
{
    const json_t *v = full ? res : scc_json_iget(res, "properties");

    if (v == NULL) {
        *out = json_null();
        return 0;
    }
    return ctl_tmpl_copy(c, v, out); /* the engine's state stays the engine's */
}

static int
fn_reference(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
             json_t **out)
{
    const char *id = NULL, *api = NULL;
    bool full = false;
    json_t *res;
    int rc;

    if (!(c->allow & CTL_TMPL_ALLOW_REFERENCE) || c->t == NULL)
        return not_here(c, f);
    if ((rc = want_all_strings(c, f, argv, argc)) < 0)
        return rc;
    api = argc > 1 ? json_string_value(argv[1]) : NULL;
    if (argc > 2 && !(full = strcasecmp(json_string_value(argv[2]), "Full") == 0))
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The template function 'reference' accepts only 'Full' as its third "
                             "parameter.");
    if ((rc = reference_target(c, json_string_value(argv[0]), &id)) < 0)
        return rc;
    if (c->t->reference == NULL)
        return ctl_tmpl_fail(c, SCC_EUNAVAIL,
                             "The template function 'reference' cannot be evaluated for '%s': "
                             "resource state is not available at this stage of the deployment.",
                             id);
    if ((res = c->t->reference(c->t->reference_arg, id, api)) == NULL)
        return ctl_tmpl_fail_code(c, SCC_ENOTFOUND, "ResourceNotFound",
                                  "The Resource '%s' under resource group '%s' was not found. For "
                                  "more details please go to https://aka.ms/ARMResourceNotFoundFix",
                                  id_tail(id), c->t->rg_name);
    rc = reference_value(c, res, full, out);
    json_decref(res);
    return rc;
}

static const struct ctl_tmpl_iter *
find_loop(const struct ctl_tmpl_iter *it, const char *name)
{
    const struct ctl_tmpl_iter *inner = it;

    for (; it != NULL; it = it->up) {
        if (name != NULL ? strcasecmp(it->name, name) == 0 : it->resource)
            return it;
    }
    return name == NULL ? inner : NULL; /* property loops in an unlooped resource */
}

static int
fn_copy_index(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
              json_t **out)
{
    const struct ctl_tmpl_iter *it;
    const char *name = NULL;
    json_int_t off = 0, r;
    int rc;

    if (argc == 2 || (argc == 1 && json_is_string(argv[0]))) {
        if ((rc = ctl_tmpl_fn_want(c, f, argv, 0, JSON_STRING)) < 0)
            return rc;
        name = json_string_value(argv[0]);
    }
    if (argc == 2 || (argc == 1 && name == NULL)) {
        if ((rc = ctl_tmpl_fn_want(c, f, argv, argc - 1, JSON_INTEGER)) < 0)
            return rc;
        off = json_integer_value(argv[argc - 1]);
    }
    if ((it = find_loop(c->iter, name)) == NULL) {
        if (name == NULL)
            return not_here(c, f);
        return ctl_tmpl_fail(c, SCC_EINVAL, "The copy index loop '%s' is not found.", name);
    }
    if (__builtin_add_overflow(it->index, off, &r))
        return ctl_tmpl_fail(c, SCC_EINVAL, "The copyIndex offset is out of range.");
    return ctl_tmpl_mkint(c, r, out);
}

const struct ctl_tmpl_fn ctl_tmpl_fn_arm[] = {
        {"parameters", 1, 1, fn_parameters},
        {"variables", 1, 1, fn_variables},
        {"resourceGroup", 0, 0, fn_resource_group},
        {"subscription", 0, 0, fn_scope},
        {"tenant", 0, 0, fn_scope},
        {"deployment", 0, 0, fn_scope},
        {"resourceId", 2, CTL_TMPL_FN_ANY, fn_resource_id},
        {"subscriptionResourceId", 2, CTL_TMPL_FN_ANY, fn_subscription_resource_id},
        {"tenantResourceId", 2, CTL_TMPL_FN_ANY, fn_tenant_resource_id},
        {"extensionResourceId", 3, CTL_TMPL_FN_ANY, fn_extension_resource_id},
        {"reference", 1, 3, fn_reference},
        {"copyIndex", 0, 2, fn_copy_index},
        {NULL, 0, 0, NULL},
};
