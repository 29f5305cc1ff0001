/*
 * ctl_tmpl.c - loading a template: size and nesting limits, the top-level
 * structure, a syntax pass over every expression, then parameters,
 * variables, resources and outputs; plus the small public entry points
 * (free, eval_string, parameters_echo, hash).
 *
 * Loading checks everything that does not need deployed state, so that
 * the deployment API can answer a bad template with a synchronous 400
 * (arm-compat.md §3.2 "pre-flight") instead of a failed deployment.
 */
#include "control/ctl_tmpl.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/json.h"
#include "common/mem.h"
#include "control/ctl_tmpl_fn.h"
#include "control/ctl_tmpl_int.h"

bool
ctl_tmpl_key_is(const char *key, const char *want)
{
    return strcasecmp(key, want) == 0;
}

int
ctl_tmpl_ctx_done(struct ctl_tmpl_ctx *c, int rc)
{
    if (c->t != NULL)
        c->t->work_total += c->work;
    if (rc < 0 && c->rc == 0) /* every failure should have been recorded */
        (void)ctl_tmpl_fail(c, rc, "The template engine failed: %s.", scc_strerror(rc));
    return rc < 0 ? c->rc : 0;
}

/* Size as minified JSON text (escapes not counted) and nesting, with an
 * early exit, so that a huge template costs no more than the limit. */
static int
measure(const json_t *v, unsigned depth, size_t *bytes)
{
    const char *k;
    json_t *kid;
    size_t i;
    int rc;

    if (depth > CTL_TMPL_MAX_NESTING)
        return SCC_ERANGE;
    if (json_is_string(v))
        *bytes += json_string_length(v) + 2;
    else if (json_is_object(v) || json_is_array(v))
        *bytes += 2;
    else
        *bytes += 5;
    if (*bytes > CTL_TMPL_MAX_SIZE)
        return SCC_ETOOBIG;
    json_object_foreach((json_t *)v, k, kid)
    {
        *bytes += strlen(k) + 4;
        if ((rc = measure(kid, depth + 1, bytes)) < 0)
            return rc;
    }
    json_array_foreach(v, i, kid)
    {
        *bytes += 1;
        if ((rc = measure(kid, depth + 1, bytes)) < 0)
            return rc;
    }
    return 0;
}

static int
check_input(struct ctl_tmpl_ctx *c, const json_t *v, const char *what)
{
    size_t bytes = 0;
    int rc = measure(v, 1, &bytes);

    if (rc == SCC_ERANGE)
        return ctl_tmpl_fail(c, SCC_ETOOBIG,
                             "The %s is nested deeper than the limit of '%d' levels.", what,
                             CTL_TMPL_MAX_NESTING);
    if (rc < 0)
        return ctl_tmpl_fail(c, SCC_ETOOBIG, "The %s is larger than the limit of '%u' bytes.", what,
                             CTL_TMPL_MAX_SIZE);
    return 0;
}

static char *
dup_or_empty(const char *s)
{
    return scc_strdup(s != NULL ? s : "");
}

static int
copy_scope(struct ctl_tmpl_ctx *c, struct ctl_tmpl *t, const struct ctl_tmpl_scope *scope,
           const json_t *tmpl)
{
    t->sub_id = dup_or_empty(scope->subscription_id);
    t->tenant_id = dup_or_empty(scope->tenant_id);
    t->sub_name = dup_or_empty(scope->subscription_name);
    t->rg_name = dup_or_empty(scope->rg_name);
    t->rg_location = dup_or_empty(scope->rg_location);
    t->deployment_name = dup_or_empty(scope->deployment_name);
    t->reference = scope->reference;
    t->reference_arg = scope->reference_arg;
    if (t->sub_id == NULL || t->tenant_id == NULL || t->sub_name == NULL || t->rg_name == NULL ||
        t->rg_location == NULL || t->deployment_name == NULL)
        return ctl_tmpl_oom(c);
    if (scope->rg_tags != NULL && (t->rg_tags = json_deep_copy(scope->rg_tags)) == NULL)
        return ctl_tmpl_oom(c);
    /* Our own copy: names and definitions are borrowed from it for the
     * template's whole life, whatever the caller does with its JSON. */
    if ((t->tmpl = json_deep_copy(tmpl)) == NULL)
        return ctl_tmpl_oom(c);
    return 0;
}

enum section {
    SEC_SCHEMA,
    SEC_CONTENT_VERSION,
    SEC_API_PROFILE,
    SEC_METADATA,
    SEC_PARAMETERS,
    SEC_VARIABLES,
    SEC_FUNCTIONS,
    SEC_RESOURCES,
    SEC_OUTPUTS,
    SEC_COUNT,
};

static const char *const section_names[SEC_COUNT] = {
        "$schema",   "contentVersion", "apiProfile", "metadata", "parameters",
        "variables", "functions",      "resources",  "outputs",
};

static int
section_of(struct ctl_tmpl_ctx *c, const char *k, const json_t **sec)
{
    for (int i = 0; i < SEC_COUNT; i++) {
        if (!ctl_tmpl_key_is(k, section_names[i]))
            continue;
        if (sec[i] != NULL)
            return ctl_tmpl_fail(c, SCC_EINVAL,
                                 "The template property '%s' is given more than once (names are "
                                 "case-insensitive).",
                                 k);
        return i;
    }
    if (ctl_tmpl_key_is(k, "languageVersion") || ctl_tmpl_key_is(k, "definitions"))
        return ctl_tmpl_fail(c, SCC_ENOSYS,
                             "The template property '%s' belongs to languageVersion 2.0 "
                             "templates, which are not supported.",
                             k);
    return ctl_tmpl_fail(c, SCC_EINVAL,
                         "The template property '%s' is not valid. The top-level properties of a "
                         "template are '$schema, contentVersion, apiProfile, metadata, "
                         "parameters, variables, functions, resources, outputs'.",
                         k);
}

static int
classify(struct ctl_tmpl_ctx *c, const json_t *tmpl, const json_t **sec)
{
    const char *k;
    json_t *v;
    int i;

    memset(sec, 0, SEC_COUNT * sizeof(*sec));
    json_object_foreach((json_t *)tmpl, k, v)
    {
        if ((i = section_of(c, k, sec)) < 0)
            return i;
        sec[i] = v;
    }
    return 0;
}

/* "1.0.0.0": four dot-separated decimal numbers, as ARM's schema says. */
static bool
is_content_version(const char *s)
{
    int parts = 0;

    for (;;) {
        if (*s < '0' || *s > '9')
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
        parts++;
        if (*s == '\0')
            return parts == 4;
        if (*s++ != '.')
            return false;
    }
}

static int
check_header(struct ctl_tmpl_ctx *c, const json_t *const *sec)
{
    const char *cv = json_string_value(sec[SEC_CONTENT_VERSION]);
    const char *schema = json_string_value(sec[SEC_SCHEMA]);

    if (cv == NULL || !is_content_version(cv) || strlen(cv) >= sizeof(c->t->content_version))
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The template must have a 'contentVersion' such as '1.0.0.0'.");
    (void)snprintf(c->t->content_version, sizeof(c->t->content_version), "%s", cv);
    if (sec[SEC_SCHEMA] != NULL && schema == NULL)
        return ctl_tmpl_fail(c, SCC_EINVAL, "The template '$schema' must be a string.");
    if (schema != NULL && (strstr(schema, "ubscriptionDeploymentTemplate") != NULL ||
                           strstr(schema, "anagementGroupDeploymentTemplate") != NULL ||
                           strstr(schema, "enantDeploymentTemplate") != NULL))
        return ctl_tmpl_fail(c, SCC_ENOSYS,
                             "The template schema '%s' is for another deployment scope; only "
                             "resource group deployments are supported.",
                             schema);
    if (sec[SEC_FUNCTIONS] != NULL &&
        (!json_is_array(sec[SEC_FUNCTIONS]) || json_array_size(sec[SEC_FUNCTIONS]) > 0))
        return ctl_tmpl_fail(c, SCC_ENOSYS,
                             "User-defined template functions ('functions') are not supported.");
    return 0;
}

static int
check_section(struct ctl_tmpl_ctx *c, const char *name, const json_t *v)
{
    ctl_tmpl_path_set(c, name);
    return ctl_tmpl_check_value(c, v);
}

/* Parse every expression the engine will evaluate, so that syntax errors
 * and unknown functions fail the load; metadata and comments are text. */
static int
check_exprs(struct ctl_tmpl_ctx *c, const json_t *const *sec)
{
    const char *k;
    const json_t *v, *dv;
    size_t i;
    int rc;

    json_object_foreach((json_t *)sec[SEC_PARAMETERS], k, v)
    {
        if ((dv = scc_json_iget(v, "defaultValue")) != NULL) {
            ctl_tmpl_path_set(c, "parameters");
            (void)ctl_tmpl_path_key(c, k);
            (void)ctl_tmpl_path_key(c, "defaultValue");
            if ((rc = ctl_tmpl_check_value(c, dv)) < 0)
                return rc;
        }
    }
    if ((rc = check_section(c, "variables", sec[SEC_VARIABLES])) < 0 ||
        (rc = check_section(c, "outputs", sec[SEC_OUTPUTS])) < 0)
        return rc;
    json_array_foreach(sec[SEC_RESOURCES], i, v)
    {
        ctl_tmpl_path_set(c, "resources");
        (void)ctl_tmpl_path_index(c, i);
        json_object_foreach((json_t *)v, k, dv)
        {
            size_t saved = ctl_tmpl_path_key(c, k);

            rc = ctl_tmpl_key_is(k, "comments") || ctl_tmpl_key_is(k, "metadata")
                         ? 0
                         : ctl_tmpl_check_value(c, dv);
            ctl_tmpl_path_restore(c, saved);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

static int
load_sections(struct ctl_tmpl_ctx *c, const json_t *parameters)
{
    const json_t *sec[SEC_COUNT];
    int rc;

    if ((rc = classify(c, c->t->tmpl, sec)) < 0 || (rc = check_header(c, sec)) < 0)
        return rc;
    ctl_tmpl_path_set(c, "parameters");
    if ((rc = ctl_tmpl_params_init(c, sec[SEC_PARAMETERS])) < 0)
        return rc;
    ctl_tmpl_path_set(c, "variables");
    if ((rc = ctl_tmpl_vars_init(c, sec[SEC_VARIABLES])) < 0)
        return rc;
    ctl_tmpl_path_set(c, "outputs");
    if ((rc = ctl_tmpl_outputs_check(c, sec[SEC_OUTPUTS])) < 0 || (rc = check_exprs(c, sec)) < 0)
        return rc;
    ctl_tmpl_path_set(c, "parameters");
    if ((rc = ctl_tmpl_params_bind(c, parameters)) < 0 || (rc = ctl_tmpl_params_resolve(c)) < 0)
        return rc;
    return ctl_tmpl_res_init(c, sec[SEC_RESOURCES]);
}

int
ctl_tmpl_load(const json_t *template_json, const json_t *parameters,
              const struct ctl_tmpl_scope *scope, struct ctl_tmpl **out, struct ctl_tmpl_error *err)
{
    struct ctl_tmpl_ctx c;
    struct ctl_tmpl *t = NULL;
    int rc;

    *out = NULL;
    ctl_tmpl_ctx_init(&c, NULL, err);
    if (scope == NULL || scope->subscription_id == NULL || scope->rg_name == NULL) {
        rc = ctl_tmpl_fail(&c, SCC_EINVAL, "The deployment scope is incomplete.");
        goto out;
    }
    if (!json_is_object(template_json)) {
        rc = ctl_tmpl_fail(&c, SCC_EINVAL, "The template must be a JSON object.");
        goto out;
    }
    if ((rc = check_input(&c, template_json, "template")) < 0 ||
        (parameters != NULL && (rc = check_input(&c, parameters, "parameters object")) < 0))
        goto out;
    if ((t = scc_calloc(1, sizeof(*t))) == NULL) {
        rc = ctl_tmpl_oom(&c);
        goto out;
    }
    c.t = t;
    if ((rc = copy_scope(&c, t, scope, template_json)) < 0 ||
        (rc = load_sections(&c, parameters)) < 0)
        goto out;
    *out = t;
    t = NULL; /* the caller owns it now */
out:
    rc = ctl_tmpl_ctx_done(&c, rc);
    ctl_tmpl_free(t);
    return rc;
}

void
ctl_tmpl_free(struct ctl_tmpl *t)
{
    if (t == NULL)
        return;
    ctl_tmpl_params_free(t);
    ctl_tmpl_res_free(t);
    scc_free(t->sub_id);
    scc_free(t->tenant_id);
    scc_free(t->sub_name);
    scc_free(t->rg_name);
    scc_free(t->rg_location);
    scc_free(t->deployment_name);
    json_decref(t->rg_tags);
    json_decref(t->tmpl);
    scc_free(t);
}

int
ctl_tmpl_eval_string(struct ctl_tmpl *t, const char *s, json_t **out, struct ctl_tmpl_error *err)
{
    struct ctl_tmpl_ctx c;
    int rc;

    *out = NULL;
    ctl_tmpl_ctx_init(&c, t, err);
    c.allow = CTL_TMPL_ALLOW_VARIABLES | CTL_TMPL_ALLOW_REFERENCE;
    ctl_tmpl_path_set(&c, "expression");
    rc = ctl_tmpl_eval_str(&c, s, strlen(s), out);
    return ctl_tmpl_ctx_done(&c, rc);
}

static json_t *
echo_one(const struct ctl_tmpl_param *p)
{
    json_t *e = json_object(), *v;

    if (e == NULL ||
        json_object_set_new(e, "type", json_string(ctl_tmpl_ptype_echo_name(p->type))) != 0)
        goto fail;
    if (p->type == CTL_TMPL_PT_SECURESTRING || p->type == CTL_TMPL_PT_SECUREOBJECT)
        return e; /* secure values are never echoed */
    if ((v = json_deep_copy(p->value)) == NULL || json_object_set_new(e, "value", v) != 0)
        goto fail;
    return e;
fail:
    json_decref(e);
    return NULL;
}

json_t *
ctl_tmpl_parameters_echo(const struct ctl_tmpl *t)
{
    json_t *all = json_object(), *e;

    for (size_t i = 0; all != NULL && i < t->nparams; i++) {
        if ((e = echo_one(&t->params[i])) == NULL ||
            json_object_set_new(all, t->params[i].name, e) != 0) {
            json_decref(all);
            all = NULL;
        }
    }
    return all;
}

struct hash_dump {
    struct scc_buf b;
    int rc;
};

static int
hash_cb(const char *buffer, size_t size, void *data)
{
    struct hash_dump *h = data;

    if (h->rc == 0)
        h->rc = scc_buf_put(&h->b, buffer, size);
    return h->rc == 0 ? 0 : -1;
}

int
ctl_tmpl_hash(const json_t *template_json, char out[21])
{
    struct hash_dump h = {{NULL, 0, 0, 0}, 0};
    uint64_t v;

    if (!json_is_object(template_json))
        return SCC_EINVAL;
    /* Escapes can grow the text past the measured size; allow for that. */
    scc_buf_init(&h.b, 4 * (size_t)CTL_TMPL_MAX_SIZE);
    if (json_dump_callback(template_json, hash_cb, &h, JSON_COMPACT) != 0 && h.rc == 0)
        h.rc = SCC_ENOMEM;
    if (h.rc == 0) {
        for (size_t i = 0; i < h.b.len; i++) {
            if (h.b.data[i] >= 'a' && h.b.data[i] <= 'z')
                h.b.data[i] = (uint8_t)(h.b.data[i] - 'a' + 'A');
        }
        v = ctl_tmpl_murmur64(h.b.data != NULL ? h.b.data : (const uint8_t *)"", h.b.len);
        (void)snprintf(out, 21, "%" PRIu64, v); /* 20 digits at most */
    }
    scc_buf_fini(&h.b);
    return h.rc;
}
