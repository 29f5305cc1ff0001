/*
 * ctl_tmpl_param.c - template parameters (declaration, binding of the
 * supplied values, lazy defaults, validation) and variables (lazy,
 * cached, cycle-checked).  Messages follow ARM's (arm-compat.md §4.5).
 *
 * Names of parameters and variables are case-insensitive in ARM, so two
 * declarations differing only in case are rejected rather than letting
 * lookup order decide which one wins.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/json.h"
#include "common/mem.h"
#include "control/ctl_tmpl_fn.h"
#include "control/ctl_tmpl_int.h"

/* Lists quoted inside messages are cut at this many bytes. */
#define LIST_MAX 300

static const struct {
    const char *name;
    enum ctl_tmpl_ptype type;
    const char *echo;     /* deployment echo, e.g. "SecureString" */
    const char *expected; /* JToken type name in ARM's type error */
} ptypes[] = {
        {"string", CTL_TMPL_PT_STRING, "String", "String"},
        {"securestring", CTL_TMPL_PT_SECURESTRING, "SecureString", "String"},
        {"int", CTL_TMPL_PT_INT, "Int", "Integer"},
        {"bool", CTL_TMPL_PT_BOOL, "Bool", "Boolean"},
        {"object", CTL_TMPL_PT_OBJECT, "Object", "Object"},
        {"secureobject", CTL_TMPL_PT_SECUREOBJECT, "SecureObject", "Object"},
        {"array", CTL_TMPL_PT_ARRAY, "Array", "Array"},
};

int
ctl_tmpl_ptype_parse(const json_t *v, enum ctl_tmpl_ptype *out)
{
    for (size_t i = 0; json_is_string(v) && i < sizeof(ptypes) / sizeof(ptypes[0]); i++) {
        if (strcasecmp(json_string_value(v), ptypes[i].name) == 0) {
            *out = ptypes[i].type;
            return 0;
        }
    }
    return SCC_EINVAL;
}

const char *
ctl_tmpl_ptype_echo_name(enum ctl_tmpl_ptype type)
{
    return ptypes[type].echo;
}

static bool
is_secure(enum ctl_tmpl_ptype type)
{
    return type == CTL_TMPL_PT_SECURESTRING || type == CTL_TMPL_PT_SECUREOBJECT;
}

int
ctl_tmpl_ptype_check(struct ctl_tmpl_ctx *c, enum ctl_tmpl_ptype type, const json_t *v,
                     const char *what, const char *name)
{
    static const json_type want[] = {
            [CTL_TMPL_PT_STRING] = JSON_STRING, [CTL_TMPL_PT_SECURESTRING] = JSON_STRING,
            [CTL_TMPL_PT_INT] = JSON_INTEGER,   [CTL_TMPL_PT_BOOL] = JSON_TRUE,
            [CTL_TMPL_PT_OBJECT] = JSON_OBJECT, [CTL_TMPL_PT_SECUREOBJECT] = JSON_OBJECT,
            [CTL_TMPL_PT_ARRAY] = JSON_ARRAY,
    };
    bool ok = want[type] == JSON_TRUE ? json_is_boolean(v) : json_typeof(v) == want[type];

    if (ok)
        return 0;
    return ctl_tmpl_fail(c, SCC_EINVAL,
                         "The provided value for the template %s '%s' is not valid. Template "
                         "%s JToken type is not valid. Expected '%s'. Actual '%s'. Please see "
                         "https://aka.ms/arm-create-parameter-file for usage details.",
                         what, name, what, ptypes[type].expected, ctl_tmpl_type_name(v));
}

static struct ctl_tmpl_param *
find_param(struct ctl_tmpl *t, const char *name, size_t upto)
{
    for (size_t i = 0; i < upto; i++) {
        if (strcasecmp(t->params[i].name, name) == 0)
            return &t->params[i];
    }
    return NULL;
}

/* minValue/maxValue/minLength/maxLength, when present, are integers. */
static int
check_bounds_decl(struct ctl_tmpl_ctx *c, const char *name, const json_t *decl)
{
    static const char *const keys[] = {"minValue", "maxValue", "minLength", "maxLength"};
    const json_t *v;

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if ((v = scc_json_iget(decl, keys[i])) != NULL && !json_is_integer(v))
            return ctl_tmpl_fail(c, SCC_EINVAL,
                                 "The template parameter '%s' has an invalid '%s': it must be an "
                                 "integer.",
                                 name, keys[i]);
    }
    v = scc_json_iget(decl, "allowedValues");
    if (v != NULL && (!json_is_array(v) || json_array_size(v) == 0))
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The template parameter '%s' has an invalid 'allowedValues': it "
                             "must be a non-empty array.",
                             name);
    return 0;
}

static int
param_decl(struct ctl_tmpl_ctx *c, const char *name, const json_t *decl)
{
    struct ctl_tmpl *t = c->t;
    struct ctl_tmpl_param *p = &t->params[t->nparams];
    const json_t *type = scc_json_iget(decl, "type");
    int rc;

    if (!json_is_object(decl))
        return ctl_tmpl_fail(c, SCC_EINVAL, "The template parameter '%s' must be an object.", name);
    if (find_param(t, name, t->nparams) != NULL)
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The template parameter '%s' is declared more than once (names are "
                             "case-insensitive).",
                             name);
    if (ctl_tmpl_ptype_parse(type, &p->type) < 0)
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The template parameter '%s' has an invalid type '%s'. The supported "
                             "types are 'string, securestring, int, bool, object, secureObject, "
                             "array'.",
                             name, json_is_string(type) ? json_string_value(type) : "");
    if ((rc = check_bounds_decl(c, name, decl)) < 0)
        return rc;
    p->name = name;
    p->decl = decl;
    t->nparams++;
    return 0;
}

int
ctl_tmpl_params_init(struct ctl_tmpl_ctx *c, const json_t *decls)
{
    struct ctl_tmpl *t = c->t;
    const char *k;
    json_t *v;
    size_t saved;
    int rc;

    if (decls == NULL)
        return 0;
    if (!json_is_object(decls))
        return ctl_tmpl_fail(c, SCC_EINVAL, "The template 'parameters' must be an object.");
    if (json_object_size(decls) > CTL_TMPL_MAX_PARAMETERS)
        return ctl_tmpl_fail(c, SCC_ETOOBIG,
                             "The number of template parameters '%zu' exceeds the limit of '%d'.",
                             json_object_size(decls), CTL_TMPL_MAX_PARAMETERS);
    if ((t->params = scc_calloc(json_object_size(decls), sizeof(*t->params))) == NULL)
        return ctl_tmpl_oom(c);
    json_object_foreach((json_t *)decls, k, v)
    {
        saved = ctl_tmpl_path_key(c, k);
        rc = param_decl(c, k, v);
        ctl_tmpl_path_restore(c, saved);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Append s to a comma-separated list, quietly stopping when it is full. */
static void
list_add(struct scc_buf *b, const char *sep, const char *s)
{
    if (b->len > 0)
        (void)scc_buf_put_str(b, sep); /* a cut list is fine in a message */
    (void)scc_buf_put_str(b, s);
}

static int
undeclared(struct ctl_tmpl_ctx *c, struct scc_buf *bad)
{
    struct scc_buf all;
    int rc;

    scc_buf_init(&all, LIST_MAX);
    for (size_t i = 0; i < c->t->nparams; i++)
        list_add(&all, ", ", c->t->params[i].name);
    rc = ctl_tmpl_fail(c, SCC_EINVAL,
                       "The template parameters '%s' in the parameters file are not valid; they "
                       "are not present in the original template and can therefore not be "
                       "provided at deployment time. The only supported parameters for this "
                       "template are '%s'. Please see https://aka.ms/arm-pass-parameter-values "
                       "for usage details.",
                       scc_buf_str(bad), scc_buf_str(&all));
    scc_buf_fini(&all);
    return rc;
}

static int
bad_request(struct ctl_tmpl_ctx *c, const char *name, const char *why)
{
    return ctl_tmpl_fail_code(c, SCC_EINVAL, "InvalidRequestContent",
                              "The request content was invalid and could not be deserialized: "
                              "'The deployment parameter '%s' %s'.",
                              name, why);
}

static int
bind_one(struct ctl_tmpl_ctx *c, struct ctl_tmpl_param *p, const char *key, const json_t *entry)
{
    const json_t *v;

    if (p->supplied)
        return bad_request(c, key, "is given more than once (names are case-insensitive)");
    if (!json_is_object(entry))
        return bad_request(c, key, "must be an object with a 'value' property");
    if (scc_json_iget(entry, "reference") != NULL)
        return ctl_tmpl_fail_code(c, SCC_ENOSYS, "InvalidTemplateDeployment",
                                  "The deployment parameter '%s' is a Key Vault reference. Key "
                                  "Vault references are not supported by this deployment "
                                  "engine; pass the value directly.",
                                  key);
    if ((v = scc_json_iget(entry, "value")) == NULL)
        return bad_request(c, key, "must be an object with a 'value' property");
    if (json_is_null(v))
        return 0; /* ARM treats a null value as not provided */
    p->supplied = true;
    return ctl_tmpl_copy(c, v, &p->value);
}

int
ctl_tmpl_params_bind(struct ctl_tmpl_ctx *c, const json_t *supplied)
{
    struct ctl_tmpl_param *p;
    struct scc_buf bad;
    const char *k;
    json_t *v;
    int rc = 0;

    if (supplied == NULL)
        return 0;
    if (!json_is_object(supplied))
        return ctl_tmpl_fail_code(c, SCC_EINVAL, "InvalidRequestContent",
                                  "The request content was invalid and could not be "
                                  "deserialized: 'The deployment parameters must be an "
                                  "object.'.");
    scc_buf_init(&bad, LIST_MAX);
    json_object_foreach((json_t *)supplied, k, v)
    {
        if ((p = find_param(c->t, k, c->t->nparams)) == NULL)
            list_add(&bad, ", ", k);
        else if ((rc = bind_one(c, p, k, v)) < 0)
            break;
    }
    if (rc == 0 && bad.len > 0)
        rc = undeclared(c, &bad);
    scc_buf_fini(&bad);
    return rc;
}

/* A value as ARM quotes it in messages: strings raw, others as JSON. */
static void
render(const json_t *v, struct scc_buf *b)
{
    if (json_is_string(v))
        (void)scc_buf_put_str(b, json_string_value(v)); /* cut is fine in a message */
    else
        (void)scc_json_dump(v, b);
}

static int
not_allowed(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_param *p, const json_t *v,
            const json_t *allowed)
{
    struct scc_buf val, list;
    int rc;

    scc_buf_init(&val, LIST_MAX);
    scc_buf_init(&list, LIST_MAX);
    if (!is_secure(p->type))
        render(v, &val);
    for (size_t i = 0; i < json_array_size(allowed); i++) {
        if (i > 0)
            (void)scc_buf_put_str(&list, ",");
        render(json_array_get(allowed, i), &list);
    }
    rc = ctl_tmpl_fail(c, SCC_EINVAL,
                       "The provided value for the template parameter '%s' is not valid. The "
                       "value '%s' is not part of the allowed value(s): '%s'.",
                       p->name, is_secure(p->type) ? "***" : scc_buf_str(&val), scc_buf_str(&list));
    scc_buf_fini(&val);
    scc_buf_fini(&list);
    return rc;
}

static int
allowed_one(struct ctl_tmpl_ctx *c, const json_t *v, const json_t *allowed, bool *ok)
{
    int rc;

    *ok = false;
    for (size_t i = 0; !*ok && i < json_array_size(allowed); i++) {
        if ((rc = ctl_tmpl_equal(c, v, json_array_get(allowed, i), true, ok)) < 0)
            return rc;
    }
    return 0;
}

/* allowedValues: an array parameter passes when each item is allowed. */
static int
check_allowed(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_param *p)
{
    const json_t *allowed = scc_json_iget(p->decl, "allowedValues"), *v = p->value;
    bool ok = true;
    int rc;

    if (allowed == NULL)
        return 0;
    if (p->type == CTL_TMPL_PT_ARRAY) {
        for (size_t i = 0; ok && i < json_array_size(v); i++) {
            if ((rc = allowed_one(c, json_array_get(v, i), allowed, &ok)) < 0)
                return rc;
            if (!ok)
                return not_allowed(c, p, json_array_get(v, i), allowed);
        }
        return 0;
    }
    if ((rc = allowed_one(c, v, allowed, &ok)) < 0)
        return rc;
    return ok ? 0 : not_allowed(c, p, v, allowed);
}

static int
check_range(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_param *p)
{
    const json_t *lo = scc_json_iget(p->decl, "minValue"), *hi = scc_json_iget(p->decl, "maxValue");
    json_int_t v;

    if (p->type != CTL_TMPL_PT_INT)
        return 0;
    v = json_integer_value(p->value);
    if (lo != NULL && v < json_integer_value(lo))
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The provided value for the template parameter '%s' is not valid. "
                             "The value '%lld' is less than the minimum value '%lld'.",
                             p->name, (long long)v, (long long)json_integer_value(lo));
    if (hi != NULL && v > json_integer_value(hi))
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The provided value for the template parameter '%s' is not valid. "
                             "The value '%lld' is greater than the maximum value '%lld'.",
                             p->name, (long long)v, (long long)json_integer_value(hi));
    return 0;
}

static int
check_length(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_param *p)
{
    const json_t *lo = scc_json_iget(p->decl, "minLength"),
                 *hi = scc_json_iget(p->decl, "maxLength");
    json_int_t n;

    if (json_is_string(p->value))
        n = (json_int_t)ctl_tmpl_utf16_len(json_string_value(p->value),
                                           json_string_length(p->value));
    else if (json_is_array(p->value))
        n = (json_int_t)json_array_size(p->value);
    else
        return 0;
    if (lo != NULL && n < json_integer_value(lo))
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The provided value for the template parameter '%s' is not valid. "
                             "The length of the value is '%lld', which is less than the minimum "
                             "length '%lld'.",
                             p->name, (long long)n, (long long)json_integer_value(lo));
    if (hi != NULL && n > json_integer_value(hi))
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The provided value for the template parameter '%s' is not valid. "
                             "The length of the value is '%lld', which is greater than the "
                             "maximum length '%lld'.",
                             p->name, (long long)n, (long long)json_integer_value(hi));
    return 0;
}

static int
validate(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_param *p)
{
    int rc;

    if ((rc = ctl_tmpl_ptype_check(c, p->type, p->value, "parameter", p->name)) < 0 ||
        (rc = check_allowed(c, p)) < 0 || (rc = check_range(c, p)) < 0)
        return rc;
    return check_length(c, p);
}

/* The context a nested evaluation saves and replaces. */
struct nest {
    char path[sizeof(((struct ctl_tmpl_ctx *)0)->path)];
    size_t path_len;
    unsigned allow;
    const struct ctl_tmpl_iter *iter;
    const char *expr;
    size_t expr_len;
};

static void
nest_enter(struct ctl_tmpl_ctx *c, struct nest *n, const char *section, const char *name,
           unsigned allow)
{
    memcpy(n->path, c->path, c->path_len + 1);
    n->path_len = c->path_len;
    n->allow = c->allow;
    n->iter = c->iter;
    n->expr = c->expr;
    n->expr_len = c->expr_len;
    ctl_tmpl_path_set(c, section);
    (void)ctl_tmpl_path_key(c, name);
    c->allow = allow;
    c->iter = NULL;
    c->expr = NULL;
    c->expr_len = 0;
}

static void
nest_leave(struct ctl_tmpl_ctx *c, const struct nest *n)
{
    memcpy(c->path, n->path, n->path_len + 1);
    c->path_len = n->path_len;
    c->allow = n->allow;
    c->iter = n->iter;
    c->expr = n->expr;
    c->expr_len = n->expr_len;
}

static int
resolve(struct ctl_tmpl_ctx *c, struct ctl_tmpl_param *p)
{
    const json_t *dv = scc_json_iget(p->decl, "defaultValue");
    struct nest n;
    size_t saved;
    int rc = 0;

    if (p->state == CTL_TMPL_RESOLVED)
        return 0;
    if (p->state == CTL_TMPL_RESOLVING)
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The template parameter '%s' has a circular reference in its "
                             "default value.",
                             p->name);
    p->state = CTL_TMPL_RESOLVING;
    /* Defaults may use parameters() and the scope functions, not variables(). */
    nest_enter(c, &n, "parameters", p->name, 0);
    if (!p->supplied && dv == NULL) {
        rc = ctl_tmpl_fail(c, SCC_EINVAL,
                           "The value for the template parameter '%s' is not provided. Please "
                           "see https://aka.ms/arm-create-parameter-file for usage details.",
                           p->name);
    } else if (!p->supplied) {
        saved = ctl_tmpl_path_key(c, "defaultValue");
        rc = ctl_tmpl_eval_value(c, dv, &p->value);
        ctl_tmpl_path_restore(c, saved);
    }
    if (rc == 0)
        rc = validate(c, p);
    nest_leave(c, &n);
    if (rc < 0 && !p->supplied) {
        json_decref(p->value); /* a retry evaluates the default again */
        p->value = NULL;
    }
    p->state = rc == 0 ? CTL_TMPL_RESOLVED : CTL_TMPL_UNRESOLVED;
    return rc;
}

int
ctl_tmpl_params_resolve(struct ctl_tmpl_ctx *c)
{
    int rc;

    for (size_t i = 0; i < c->t->nparams; i++) {
        if ((rc = resolve(c, &c->t->params[i])) < 0)
            return rc;
    }
    return 0;
}

int
ctl_tmpl_param_get(struct ctl_tmpl_ctx *c, const char *name, json_t **out)
{
    struct ctl_tmpl_param *p = c->t != NULL ? find_param(c->t, name, c->t->nparams) : NULL;
    int rc;

    *out = NULL;
    if (p == NULL)
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The template parameter '%s' is not found. Please see "
                             "https://aka.ms/arm-syntax-parameters for usage details.",
                             name);
    if ((rc = resolve(c, p)) < 0)
        return rc;
    return ctl_tmpl_copy(c, p->value, out);
}

int
ctl_tmpl_vars_init(struct ctl_tmpl_ctx *c, const json_t *defs)
{
    struct ctl_tmpl *t = c->t;
    const char *k;
    json_t *v;

    if (defs == NULL)
        return 0;
    if (!json_is_object(defs))
        return ctl_tmpl_fail(c, SCC_EINVAL, "The template 'variables' must be an object.");
    if (json_object_size(defs) > CTL_TMPL_MAX_VARIABLES)
        return ctl_tmpl_fail(c, SCC_ETOOBIG,
                             "The number of template variables '%zu' exceeds the limit of '%d'.",
                             json_object_size(defs), CTL_TMPL_MAX_VARIABLES);
    if ((t->vars = scc_calloc(json_object_size(defs), sizeof(*t->vars))) == NULL)
        return ctl_tmpl_oom(c);
    json_object_foreach((json_t *)defs, k, v)
    {
        if (strcasecmp(k, "copy") == 0)
            return ctl_tmpl_fail(c, SCC_ENOSYS,
                                 "Variable iteration ('copy' in the variables section) is not "
                                 "supported; use a property 'copy' inside a variable's object "
                                 "value instead.");
        for (size_t i = 0; i < t->nvars; i++) {
            if (strcasecmp(t->vars[i].name, k) == 0)
                return ctl_tmpl_fail(c, SCC_EINVAL,
                                     "The template variable '%s' is declared more than once "
                                     "(names are case-insensitive).",
                                     k);
        }
        t->vars[t->nvars].name = k;
        t->vars[t->nvars++].def = v;
    }
    return 0;
}

static int
var_eval(struct ctl_tmpl_ctx *c, struct ctl_tmpl_var *v)
{
    struct nest n;
    int rc;

    v->state = CTL_TMPL_RESOLVING;
    nest_enter(c, &n, "variables", v->name, CTL_TMPL_ALLOW_VARIABLES | CTL_TMPL_ALLOW_PROPCOPY);
    rc = ctl_tmpl_eval_value(c, v->def, &v->value);
    nest_leave(c, &n);
    v->state = rc == 0 ? CTL_TMPL_RESOLVED : CTL_TMPL_UNRESOLVED;
    return rc;
}

int
ctl_tmpl_var_get(struct ctl_tmpl_ctx *c, const char *name, json_t **out)
{
    struct ctl_tmpl *t = c->t;
    struct ctl_tmpl_var *v = NULL;
    int rc;

    *out = NULL;
    for (size_t i = 0; v == NULL && i < t->nvars; i++) {
        if (strcasecmp(t->vars[i].name, name) == 0)
            v = &t->vars[i];
    }
    if (v == NULL)
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The template variable '%s' is not found. Please see "
                             "https://aka.ms/arm-syntax-variables for usage details.",
                             name);
    if (v->state == CTL_TMPL_RESOLVING)
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The template variable '%s' has a circular reference: its value "
                             "depends on itself.",
                             v->name);
    if (v->state == CTL_TMPL_UNRESOLVED && (rc = var_eval(c, v)) < 0)
        return rc;
    return ctl_tmpl_copy(c, v->value, out);
}

void
ctl_tmpl_params_free(struct ctl_tmpl *t)
{
    for (size_t i = 0; t->params != NULL && i < t->nparams; i++)
        json_decref(t->params[i].value);
    for (size_t i = 0; t->vars != NULL && i < t->nvars; i++)
        json_decref(t->vars[i].value);
    scc_free(t->params);
    scc_free(t->vars);
}
