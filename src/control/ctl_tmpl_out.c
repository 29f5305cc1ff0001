/*
 * ctl_tmpl_out.c - the outputs section: checked when the template loads,
 * evaluated (with reference() allowed) once the deployment has run.
 */
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/json.h"
#include "control/ctl_tmpl_int.h"

static int
output_decl(struct ctl_tmpl_ctx *c, const json_t *outputs, const char *name, const json_t *o)
{
    enum ctl_tmpl_ptype type;
    const char *k;
    json_t *v;

    if (!json_is_object(o))
        return ctl_tmpl_fail(c, SCC_EINVAL, "The template output '%s' must be an object.", name);
    if (ctl_tmpl_ptype_parse(scc_json_iget(o, "type"), &type) < 0)
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The template output '%s' has an invalid or missing 'type'.", name);
    if (scc_json_iget(o, "value") == NULL && !json_is_object(scc_json_iget(o, "copy")))
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The template output '%s' must have a 'value' or a 'copy'.", name);
    json_object_foreach((json_t *)outputs, k, v)
    {
        if (k == name)
            break;
        if (strcasecmp(k, name) == 0)
            return ctl_tmpl_fail(c, SCC_EINVAL,
                                 "The template output '%s' is declared more than once (names "
                                 "are case-insensitive).",
                                 name);
    }
    return 0;
}

int
ctl_tmpl_outputs_check(struct ctl_tmpl_ctx *c, const json_t *outputs)
{
    const char *k;
    json_t *o;
    size_t saved;
    int rc;

    c->t->outputs = outputs;
    if (outputs == NULL)
        return 0;
    if (!json_is_object(outputs))
        return ctl_tmpl_fail(c, SCC_EINVAL, "The template 'outputs' must be an object.");
    if (json_object_size(outputs) > CTL_TMPL_MAX_OUTPUTS)
        return ctl_tmpl_fail(c, SCC_ETOOBIG,
                             "The number of template outputs '%zu' exceeds the limit of '%d'.",
                             json_object_size(outputs), CTL_TMPL_MAX_OUTPUTS);
    json_object_foreach((json_t *)outputs, k, o)
    {
        saved = ctl_tmpl_path_key(c, k);
        rc = output_decl(c, outputs, k, o);
        ctl_tmpl_path_restore(c, saved);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int
output_condition(struct ctl_tmpl_ctx *c, const json_t *o, bool *cond)
{
    const json_t *v = scc_json_iget(o, "condition");
    json_t *x = NULL;
    size_t saved;
    int rc;

    *cond = true;
    if (v == NULL)
        return 0;
    saved = ctl_tmpl_path_key(c, "condition");
    if ((rc = ctl_tmpl_eval_value(c, v, &x)) == 0 && !json_is_boolean(x))
        rc = ctl_tmpl_fail(c, SCC_EINVAL,
                           "The template output condition must evaluate to a boolean; it is of "
                           "type '%s'.",
                           ctl_tmpl_type_name(x));
    *cond = rc == 0 && json_is_true(x);
    json_decref(x);
    ctl_tmpl_path_restore(c, saved);
    return rc;
}

/* "value", or "copy": {count, input} building an array with copyIndex(). */
static int
output_value(struct ctl_tmpl_ctx *c, const json_t *o, json_t **out)
{
    const json_t *copy = scc_json_iget(o, "copy");
    json_int_t count = 0;
    size_t saved;
    int rc;

    if (!json_is_object(copy)) {
        saved = ctl_tmpl_path_key(c, "value");
        rc = ctl_tmpl_eval_value(c, scc_json_iget(o, "value"), out);
        ctl_tmpl_path_restore(c, saved);
        return rc;
    }
    saved = ctl_tmpl_path_key(c, "copy");
    rc = ctl_tmpl_eval_count(c, scc_json_iget(copy, "count"), CTL_TMPL_MAX_COPY, &count);
    if (rc == 0 && scc_json_iget(copy, "input") == NULL)
        rc = ctl_tmpl_fail(c, SCC_EINVAL, "The output copy at '%s' has no 'input'.", c->path);
    if (rc == 0)
        rc = ctl_tmpl_eval_loop(c, "", count, scc_json_iget(copy, "input"), out);
    ctl_tmpl_path_restore(c, saved);
    return rc;
}

static int
output_one(struct ctl_tmpl_ctx *c, const char *name, const json_t *o, json_t *res)
{
    enum ctl_tmpl_ptype type = CTL_TMPL_PT_STRING;
    json_t *v = NULL, *e = NULL, *tn = NULL;
    const char *echo;
    bool cond = true;
    int rc;

    (void)ctl_tmpl_ptype_parse(scc_json_iget(o, "type"), &type); /* checked at load */
    if ((rc = output_condition(c, o, &cond)) < 0 || !cond)
        return rc;
    if ((rc = output_value(c, o, &v)) < 0 ||
        (rc = ctl_tmpl_ptype_check(c, type, v, "output", name)) < 0 ||
        (rc = ctl_tmpl_new_object(c, &e)) < 0)
        goto out;
    echo = ctl_tmpl_ptype_echo_name(type);
    if ((rc = ctl_tmpl_mkstr(c, echo, strlen(echo), &tn)) < 0 ||
        (rc = ctl_tmpl_set(c, e, "type", tn)) < 0)
        goto out;
    /* Secure outputs are reported without their value, as ARM does. */
    if (type != CTL_TMPL_PT_SECURESTRING && type != CTL_TMPL_PT_SECUREOBJECT) {
        rc = ctl_tmpl_set(c, e, "value", v);
        v = NULL;
        if (rc < 0)
            goto out;
    }
    rc = ctl_tmpl_set(c, res, name, e);
    e = NULL;
out:
    json_decref(v);
    json_decref(e);
    return rc;
}

int
ctl_tmpl_outputs_eval(struct ctl_tmpl *t, json_t **out, struct ctl_tmpl_error *err)
{
    struct ctl_tmpl_ctx c;
    json_t *res = NULL, *o;
    const char *k;
    size_t saved;
    int rc;

    *out = NULL;
    ctl_tmpl_ctx_init(&c, t, err);
    c.allow = CTL_TMPL_ALLOW_VARIABLES | CTL_TMPL_ALLOW_REFERENCE;
    ctl_tmpl_path_set(&c, "outputs");
    if ((rc = ctl_tmpl_new_object(&c, &res)) < 0)
        goto out;
    json_object_foreach((json_t *)t->outputs, k, o)
    {
        saved = ctl_tmpl_path_key(&c, k);
        rc = output_one(&c, k, o, res);
        ctl_tmpl_path_restore(&c, saved);
        if (rc < 0)
            goto out;
    }
    *out = res;
    res = NULL;
out:
    json_decref(res);
    return ctl_tmpl_ctx_done(&c, rc);
}
