/*
 * ctl_tmpl_res.c - template resources and outputs: structure checks,
 * copy-loop expansion into instances, the dependency graph and its order,
 * and evaluation of one instance or of the outputs.
 *
 * An instance's type and name may not use reference() (ARM needs them
 * before anything is deployed), so its id and dependencies are computed
 * once for the whole template, cached, and shared by ordering, dependsOn
 * ids and reference('name') lookups.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/json.h"
#include "common/mem.h"
#include "control/ctl_tmpl_int.h"

/* Keys ARM itself reads and does not send to the resource provider. */
static const char *const template_only[] = {
        "type", "apiVersion", "name", "dependsOn", "condition", "copy", "comments", "metadata",
};

/* Keys that need a deployment scope or nesting we do not implement. */
static const struct {
    const char *key;
    const char *why;
} unsupported[] = {
        {"scope", "Extension resources ('scope' on a resource) are not supported."},
        {"resourceGroup", "Resources in another resource group are not supported."},
        {"subscriptionId", "Resources in another subscription are not supported."},
        {"resources", "Nested child resources are not supported; declare the child at the top "
                      "level with its full type (a/b/c) and name (x/y)."},
};

static bool
is_template_only(const char *key)
{
    for (size_t i = 0; i < sizeof(template_only) / sizeof(template_only[0]); i++) {
        if (ctl_tmpl_key_is(key, template_only[i]))
            return true;
    }
    return false;
}

static int
check_keys(struct ctl_tmpl_ctx *c, const json_t *def)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)def, k, v)
    {
        for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
            if (ctl_tmpl_key_is(k, unsupported[i].key))
                return ctl_tmpl_fail(c, SCC_ENOSYS, "%s", unsupported[i].why);
        }
    }
    return 0;
}

static int
check_resource(struct ctl_tmpl_ctx *c, const json_t *def)
{
    static const char *const required[] = {"type", "apiVersion", "name"};
    const json_t *v;
    int rc;

    if (!json_is_object(def))
        return ctl_tmpl_fail(c, SCC_EINVAL, "The template resource '%s' must be an object.",
                             c->path);
    if ((rc = check_keys(c, def)) < 0)
        return rc;
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (!json_is_string(scc_json_iget(def, required[i])))
            return ctl_tmpl_fail(c, SCC_EINVAL,
                                 "The template resource '%s' must have a '%s' string property.",
                                 c->path, required[i]);
    }
    v = scc_json_iget(def, "dependsOn");
    if (v != NULL && !json_is_array(v))
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The template resource '%s' has a 'dependsOn' that is not an array.",
                             c->path);
    return 0;
}

static int
loop_mode(struct ctl_tmpl_ctx *c, const json_t *copy, size_t *batch)
{
    const json_t *mode = scc_json_iget(copy, "mode"), *bs = scc_json_iget(copy, "batchSize");
    const char *m = json_string_value(mode);
    json_int_t n = 1;
    size_t saved;
    int rc;

    *batch = 0;
    if (mode == NULL || (m != NULL && strcasecmp(m, "parallel") == 0))
        return 0;
    if (m == NULL || strcasecmp(m, "serial") != 0)
        return ctl_tmpl_fail(c, SCC_EINVAL, "The copy mode at '%s' must be 'serial' or 'parallel'.",
                             c->path);
    if (bs != NULL) {
        saved = ctl_tmpl_path_key(c, "batchSize");
        rc = ctl_tmpl_eval_count(c, bs, CTL_TMPL_MAX_COPY, &n);
        ctl_tmpl_path_restore(c, saved);
        if (rc < 0)
            return rc;
    }
    *batch = n < 1 ? 1 : (size_t)n; /* serial without a batch size goes one by one */
    return 0;
}

static int
loop_name(struct ctl_tmpl_ctx *c, const json_t *copy, const char **out)
{
    const struct ctl_tmpl *t = c->t;
    const char *name = json_string_value(scc_json_iget(copy, "name"));

    if (!json_is_object(copy) || name == NULL || *name == '\0' ||
        ctl_tmpl_is_expr(name, strlen(name)))
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The copy at '%s' must be an object with a literal 'name' and a "
                             "'count'.",
                             c->path);
    for (size_t i = 0; i < t->nloops; i++) {
        if (strcasecmp(t->loops[i].name, name) == 0)
            return ctl_tmpl_fail(c, SCC_EINVAL, "The copy name '%s' is used more than once.", name);
    }
    *out = name;
    return 0;
}

/* A resource "copy": {name, count, mode?, batchSize?}; sets *n instances. */
static int
check_loop(struct ctl_tmpl_ctx *c, const json_t *def, size_t *loop, size_t *n)
{
    struct ctl_tmpl *t = c->t;
    struct ctl_tmpl_loop *l = &t->loops[t->nloops];
    const json_t *copy = scc_json_iget(def, "copy");
    const char *name = NULL;
    json_int_t count = 0;
    size_t saved, inner;
    int rc;

    *loop = SIZE_MAX;
    *n = 1;
    if (copy == NULL)
        return 0;
    saved = ctl_tmpl_path_key(c, "copy");
    if ((rc = loop_name(c, copy, &name)) == 0) {
        inner = ctl_tmpl_path_key(c, "count");
        rc = ctl_tmpl_eval_count(c, scc_json_iget(copy, "count"), CTL_TMPL_MAX_COPY, &count);
        ctl_tmpl_path_restore(c, inner);
    }
    if (rc == 0)
        rc = loop_mode(c, copy, &l->batch);
    ctl_tmpl_path_restore(c, saved);
    if (rc < 0)
        return rc;
    l->name = name;
    l->count = (size_t)count;
    *loop = t->nloops++;
    *n = (size_t)count;
    return 0;
}

static void
fill_instances(struct ctl_tmpl *t, const size_t *loop_of, const size_t *count)
{
    size_t k = 0;

    for (size_t i = 0; i < json_array_size(t->resources); i++) {
        if (loop_of[i] != SIZE_MAX)
            t->loops[loop_of[i]].first = k;
        for (size_t j = 0; j < count[i]; j++, k++) {
            t->insts[k].res = i;
            t->insts[k].def = json_array_get(t->resources, i);
            t->insts[k].loop = loop_of[i];
            t->insts[k].index = (json_int_t)j;
        }
    }
    t->ninsts = k;
}

static int
scan_resources(struct ctl_tmpl_ctx *c, size_t *loop_of, size_t *count, size_t *total)
{
    const json_t *def;
    size_t i, saved;
    int rc = 0;

    *total = 0;
    json_array_foreach(c->t->resources, i, def)
    {
        saved = ctl_tmpl_path_index(c, i);
        if ((rc = check_resource(c, def)) == 0)
            rc = check_loop(c, def, &loop_of[i], &count[i]);
        ctl_tmpl_path_restore(c, saved);
        if (rc < 0)
            return rc;
        if ((*total += count[i]) > CTL_TMPL_MAX_RESOURCES)
            return ctl_tmpl_fail(c, SCC_ETOOBIG,
                                 "The template has more than '%d' resources after copy "
                                 "expansion.",
                                 CTL_TMPL_MAX_RESOURCES);
    }
    return 0;
}

int
ctl_tmpl_res_init(struct ctl_tmpl_ctx *c, const json_t *resources)
{
    struct ctl_tmpl *t = c->t;
    size_t n, total = 0, *loop_of = NULL, *count = NULL;
    int rc = SCC_ENOMEM;

    ctl_tmpl_path_set(c, "resources");
    if (json_is_object(resources))
        return ctl_tmpl_fail(c, SCC_ENOSYS,
                             "Symbolic resource names (languageVersion 2.0) are not supported; "
                             "'resources' must be an array.");
    if (!json_is_array(resources))
        return ctl_tmpl_fail(c, SCC_EINVAL, "The template must have a 'resources' array.");
    if ((n = json_array_size(resources)) > CTL_TMPL_MAX_RESOURCES)
        return ctl_tmpl_fail(c, SCC_ETOOBIG,
                             "The number of template resources '%zu' exceeds the limit of '%d'.", n,
                             CTL_TMPL_MAX_RESOURCES);
    t->resources = resources;
    c->allow = CTL_TMPL_ALLOW_VARIABLES; /* copy counts may not use reference() */
    if ((t->loops = scc_calloc(n + 1, sizeof(*t->loops))) == NULL ||
        (loop_of = scc_calloc(n + 1, sizeof(*loop_of))) == NULL ||
        (count = scc_calloc(n + 1, sizeof(*count))) == NULL) {
        rc = ctl_tmpl_oom(c);
        goto out;
    }
    if ((rc = scan_resources(c, loop_of, count, &total)) < 0)
        goto out;
    if ((t->insts = scc_calloc(total + 1, sizeof(*t->insts))) == NULL) {
        rc = ctl_tmpl_oom(c);
        goto out;
    }
    fill_instances(t, loop_of, count);
out:
    scc_free(loop_of);
    scc_free(count);
    return rc;
}

void
ctl_tmpl_res_free(struct ctl_tmpl *t)
{
    for (size_t k = 0; t->insts != NULL && k < t->ninsts; k++) {
        scc_free(t->insts[k].type);
        scc_free(t->insts[k].name);
        scc_free(t->insts[k].id);
        scc_free(t->insts[k].deps);
    }
    scc_free(t->insts);
    scc_free(t->loops);
}

void
ctl_tmpl_inst_enter(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_inst *inst,
                    struct ctl_tmpl_iter *it, unsigned allow)
{
    ctl_tmpl_path_set(c, "resources");
    (void)ctl_tmpl_path_index(c, inst->res);
    c->allow = allow;
    c->expr = NULL;
    c->iter = NULL;
    if (inst->loop != SIZE_MAX) {
        *it = (struct ctl_tmpl_iter){c->t->loops[inst->loop].name, inst->index, true, NULL};
        c->iter = it;
    }
}

static int
eval_condition(struct ctl_tmpl_ctx *c, const json_t *def, bool *cond)
{
    const json_t *v = scc_json_iget(def, "condition");
    json_t *x = NULL;
    size_t saved;
    int rc;

    *cond = true;
    if (v == NULL)
        return 0;
    saved = ctl_tmpl_path_key(c, "condition");
    if ((rc = ctl_tmpl_eval_value(c, v, &x)) == 0 && !json_is_boolean(x))
        rc = ctl_tmpl_fail(c, SCC_EINVAL,
                           "The template resource condition must evaluate to a boolean; it is of "
                           "type '%s'.",
                           ctl_tmpl_type_name(x));
    *cond = rc == 0 && json_is_true(x);
    json_decref(x);
    ctl_tmpl_path_restore(c, saved);
    return rc;
}

/* The apiVersion may be an expression over parameters and variables
 * (arm-compat.md §0 finding 8), but not over deployed state. */
static int
eval_api_version(struct ctl_tmpl_ctx *c, const json_t *def, json_t **out)
{
    size_t saved = ctl_tmpl_path_key(c, "apiVersion");
    unsigned allow = c->allow;
    int rc;

    c->allow = CTL_TMPL_ALLOW_VARIABLES;
    if ((rc = ctl_tmpl_eval_value(c, scc_json_iget(def, "apiVersion"), out)) == 0 &&
        (!json_is_string(*out) || json_string_length(*out) == 0)) {
        rc = ctl_tmpl_fail(c, SCC_EINVAL,
                           "The template resource apiVersion must evaluate to a non-empty "
                           "string; it is of type '%s'.",
                           ctl_tmpl_type_name(*out));
        json_decref(*out);
        *out = NULL;
    }
    c->allow = allow;
    ctl_tmpl_path_restore(c, saved);
    return rc;
}

/* Everything but the template-only keys, names as written; property copy
 * loops expand inside "properties" only, as in ARM. */
static int
eval_body(struct ctl_tmpl_ctx *c, const json_t *def, json_t **out)
{
    json_t *body = NULL, *v, *x;
    const char *k;
    size_t saved;
    int rc;

    if ((rc = ctl_tmpl_new_object(c, &body)) < 0)
        return rc;
    json_object_foreach((json_t *)def, k, v)
    {
        if (is_template_only(k))
            continue;
        c->allow = CTL_TMPL_ALLOW_VARIABLES | CTL_TMPL_ALLOW_REFERENCE |
                   (ctl_tmpl_key_is(k, "properties") ? CTL_TMPL_ALLOW_PROPCOPY : 0);
        saved = ctl_tmpl_path_key(c, k);
        if ((rc = ctl_tmpl_eval_value(c, v, &x)) == 0)
            rc = ctl_tmpl_set(c, body, k, x);
        ctl_tmpl_path_restore(c, saved);
        if (rc < 0) {
            json_decref(body);
            return rc;
        }
    }
    *out = body;
    return 0;
}

static int
set_string(struct ctl_tmpl_ctx *c, json_t *o, const char *key, const char *s)
{
    json_t *v = NULL;
    int rc;

    if ((rc = ctl_tmpl_mkstr(c, s, strlen(s), &v)) < 0)
        return rc;
    return ctl_tmpl_set(c, o, key, v);
}

static int
set_depends(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_inst *inst, json_t *o)
{
    json_t *arr = NULL, *v;
    int rc;

    if ((rc = ctl_tmpl_new_array(c, &arr)) < 0 || (rc = ctl_tmpl_set(c, o, "dependsOn", arr)) < 0)
        return rc;
    for (size_t j = 0; j < inst->ndeps; j++) {
        const char *id = c->t->insts[inst->deps[j]].id;

        if ((rc = ctl_tmpl_mkstr(c, id, strlen(id), &v)) < 0 ||
            (rc = ctl_tmpl_append(c, arr, v)) < 0)
            return rc;
    }
    return 0;
}

static int
set_copy(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_inst *inst, json_t *o)
{
    json_t *cp = NULL, *v = NULL;
    int rc;

    if (inst->loop == SIZE_MAX)
        return 0;
    if ((rc = ctl_tmpl_new_object(c, &cp)) < 0 || (rc = ctl_tmpl_set(c, o, "copy", cp)) < 0 ||
        (rc = set_string(c, cp, "name", c->t->loops[inst->loop].name)) < 0 ||
        (rc = ctl_tmpl_mkint(c, inst->index, &v)) < 0)
        return rc;
    return ctl_tmpl_set(c, cp, "index", v);
}

static int
eval_instance(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_inst *inst, json_t *o)
{
    json_t *api = NULL, *body = NULL;
    bool cond = true;
    int rc;

    /* set() takes api even when it fails, so nothing sits between the two. */
    if ((rc = eval_condition(c, inst->def, &cond)) < 0 ||
        (rc = set_string(c, o, "type", inst->type)) < 0 ||
        (rc = eval_api_version(c, inst->def, &api)) < 0 ||
        (rc = ctl_tmpl_set(c, o, "apiVersion", api)) < 0 ||
        (rc = set_string(c, o, "name", inst->name)) < 0 ||
        (rc = set_string(c, o, "id", inst->id)) < 0 ||
        (rc = ctl_tmpl_set(c, o, "condition", json_boolean(cond))) < 0 ||
        (rc = set_depends(c, inst, o)) < 0 || (rc = set_copy(c, inst, o)) < 0)
        return rc;
    /* A false condition skips the body unevaluated, as ARM does, so it may
     * hold expressions that are valid only when the resource is deployed. */
    rc = cond ? eval_body(c, inst->def, &body) : ctl_tmpl_new_object(c, &body);
    if (rc < 0)
        return rc;
    return ctl_tmpl_set(c, o, "body", body);
}

int
ctl_tmpl_resource_eval(struct ctl_tmpl *t, size_t i, json_t **out, struct ctl_tmpl_error *err)
{
    struct ctl_tmpl_ctx c;
    struct ctl_tmpl_iter it;
    json_t *o = NULL;
    int rc;

    *out = NULL;
    ctl_tmpl_ctx_init(&c, t, err);
    if (i >= t->ninsts) {
        rc = ctl_tmpl_fail(&c, SCC_EINVAL, "The resource index '%zu' is out of range.", i);
        goto out;
    }
    if ((rc = ctl_tmpl_graph_build(&c)) < 0 || (rc = ctl_tmpl_new_object(&c, &o)) < 0)
        goto out;
    ctl_tmpl_inst_enter(&c, &t->insts[i], &it, CTL_TMPL_ALLOW_VARIABLES | CTL_TMPL_ALLOW_REFERENCE);
    if ((rc = eval_instance(&c, &t->insts[i], o)) < 0)
        goto out;
    *out = o;
    o = NULL;
out:
    json_decref(o);
    return ctl_tmpl_ctx_done(&c, rc);
}

size_t
ctl_tmpl_resource_count(const struct ctl_tmpl *t)
{
    return t->ninsts;
}
