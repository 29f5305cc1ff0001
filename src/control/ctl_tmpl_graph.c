/*
 * ctl_tmpl_graph.c - the resource graph: every instance's evaluated type,
 * name and id, the dependencies its dependsOn names (ids, "type/name",
 * bare names or copy loop names, as ARM allows), and a deployment order.
 *
 * An instance's type and name may not use reference() (ARM needs them
 * before anything is deployed), so the graph is computed once per
 * template and cached; ordering, dependsOn ids and reference('name')
 * lookups all share it.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/json.h"
#include "common/mem.h"
#include "control/ctl_tmpl_fn.h"
#include "control/ctl_tmpl_int.h"

/* Evaluate def[key] to a non-empty string, owned in *out. */
static int
eval_field(struct ctl_tmpl_ctx *c, const json_t *def, const char *key, char **out)
{
    size_t saved = ctl_tmpl_path_key(c, key);
    json_t *v = NULL;
    int rc;

    *out = NULL;
    if ((rc = ctl_tmpl_eval_value(c, scc_json_iget(def, key), &v)) == 0) {
        if (!json_is_string(v) || json_string_length(v) == 0)
            rc = ctl_tmpl_fail(c, SCC_EINVAL,
                               "The template resource property '%s' must evaluate to a "
                               "non-empty string; it is of type '%s'.",
                               key, ctl_tmpl_type_name(v));
        else if ((*out = scc_strdup(json_string_value(v))) == NULL)
            rc = ctl_tmpl_oom(c);
    }
    json_decref(v);
    ctl_tmpl_path_restore(c, saved);
    return rc;
}

static int
make_inst_id(struct ctl_tmpl_ctx *c, struct ctl_tmpl_inst *inst)
{
    const struct ctl_tmpl *t = c->t;
    const char *names[1] = {inst->name};
    char prefix[512];
    struct scc_buf b;
    int rc;

    if (snprintf(prefix, sizeof(prefix), "/subscriptions/%s/resourceGroups/%s", t->sub_id,
                 t->rg_name) >= (int)sizeof(prefix))
        return ctl_tmpl_fail(c, SCC_ETOOBIG, "The resource group id is too long.");
    scc_buf_init(&b, 4096);
    if ((rc = ctl_tmpl_make_id(prefix, inst->type, names, 1, &b)) == 0 &&
        (inst->id = scc_buf_steal(&b, NULL)) == NULL)
        rc = SCC_ENOMEM;
    scc_buf_fini(&b);
    if (rc == SCC_EINVAL)
        return ctl_tmpl_fail(c, rc,
                             "The template resource '%s' for type '%s' has incorrect segment "
                             "lengths. A nested resource type must have identical number of "
                             "segments as its resource name. A root resource type must have "
                             "segment length one greater than its resource name. Please see "
                             "https://aka.ms/arm-syntax-resources for usage details.",
                             inst->name, inst->type);
    if (rc < 0)
        return rc == SCC_ENOMEM
                       ? ctl_tmpl_oom(c)
                       : ctl_tmpl_fail(c, rc, "The resource id of '%s' is too long.", inst->name);
    return 0;
}

static int
inst_ident(struct ctl_tmpl_ctx *c, struct ctl_tmpl_inst *inst)
{
    struct ctl_tmpl_iter it;
    int rc;

    scc_free(inst->type);
    scc_free(inst->name);
    scc_free(inst->id);
    inst->type = inst->name = inst->id = NULL;
    ctl_tmpl_inst_enter(c, inst, &it, CTL_TMPL_ALLOW_VARIABLES);
    if ((rc = eval_field(c, inst->def, "type", &inst->type)) < 0 ||
        (rc = eval_field(c, inst->def, "name", &inst->name)) < 0)
        return rc;
    return make_inst_id(c, inst);
}

static bool
has_condition(const struct ctl_tmpl_inst *inst)
{
    return scc_json_iget(inst->def, "condition") != NULL;
}

/* Two instances with one id are an error unless a condition may drop one. */
static int
check_duplicates(struct ctl_tmpl_ctx *c)
{
    const struct ctl_tmpl *t = c->t;

    for (size_t k = 0; k < t->ninsts; k++) {
        for (size_t j = 0; j < k; j++) {
            if (strcasecmp(t->insts[j].id, t->insts[k].id) == 0 && !has_condition(&t->insts[j]) &&
                !has_condition(&t->insts[k]))
                return ctl_tmpl_fail(c, SCC_EINVAL,
                                     "The resource '%s' is defined multiple times in a template. "
                                     "Please see https://aka.ms/arm-multiple-resources for "
                                     "usage details.",
                                     t->insts[k].id);
        }
    }
    return 0;
}

static const char *
id_tail(const char *id)
{
    const char *p = strstr(id, "/providers/");

    return p != NULL ? p + strlen("/providers/") : id;
}

/* ARM accepts a full id, "ns/type/name" or the bare name. */
static bool
inst_matches(const struct ctl_tmpl_inst *inst, const char *ref)
{
    if (inst->id == NULL)
        return false;
    if (ref[0] == '/')
        return strcasecmp(inst->id, ref) == 0;
    return strcasecmp(id_tail(inst->id), ref) == 0 || strcasecmp(inst->name, ref) == 0;
}

size_t
ctl_tmpl_res_find(struct ctl_tmpl *t, const char *ref, bool *ambiguous)
{
    size_t found = SIZE_MAX;

    *ambiguous = false;
    for (size_t k = 0; k < t->ninsts; k++) {
        if (!inst_matches(&t->insts[k], ref))
            continue;
        if (found == SIZE_MAX)
            found = k;
        else if (strcasecmp(t->insts[found].id, t->insts[k].id) != 0)
            *ambiguous = true;
    }
    return found;
}

/* Dependencies of one instance, collected deduplicated through mark[]. */
struct depset {
    bool *mark;
    size_t *list;
    size_t n;
};

static void
dep_add(struct depset *d, size_t j)
{
    if (!d->mark[j]) {
        d->mark[j] = true;
        d->list[d->n++] = j;
    }
}

static int
dep_by_ref(struct ctl_tmpl_ctx *c, size_t self, const char *ref, struct depset *d)
{
    const struct ctl_tmpl *t = c->t;
    size_t first = SIZE_MAX, others = 0;

    for (size_t l = 0; l < t->nloops; l++) {
        if (strcasecmp(t->loops[l].name, ref) != 0)
            continue;
        for (size_t j = 0; j < t->loops[l].count; j++)
            dep_add(d, t->loops[l].first + j);
        return ctl_tmpl_charge(c, 1 + t->loops[l].count / 16);
    }
    for (size_t j = 0; j < t->ninsts; j++) {
        if (j == self || !inst_matches(&t->insts[j], ref))
            continue;
        if (first != SIZE_MAX && ref[0] != '/' && strcasecmp(t->insts[first].id, t->insts[j].id))
            return ctl_tmpl_fail(c, SCC_EINVAL,
                                 "The resource '%s' named in dependsOn is ambiguous; name it "
                                 "with resourceId().",
                                 ref);
        first = first == SIZE_MAX ? j : first;
        others++;
        dep_add(d, j);
    }
    if (others == 0 && inst_matches(&t->insts[self], ref))
        dep_add(d, self); /* depending on itself: a cycle, reported by the order */
    else if (others == 0)
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The resource '%s' is not defined in the template. Please see "
                             "https://aka.ms/arm-syntax for usage details.",
                             ref);
    return ctl_tmpl_charge(c, 1 + t->ninsts / 64);
}

static int
dep_entry(struct ctl_tmpl_ctx *c, size_t self, const json_t *e, size_t i, struct depset *d)
{
    size_t saved = ctl_tmpl_path_index(c, i);
    json_t *v = NULL;
    int rc;

    if ((rc = ctl_tmpl_eval_value(c, e, &v)) == 0) {
        if (!json_is_string(v))
            rc = ctl_tmpl_fail(c, SCC_EINVAL,
                               "The template resource dependsOn entry must be a string; it is "
                               "of type '%s'.",
                               ctl_tmpl_type_name(v));
        else
            rc = dep_by_ref(c, self, json_string_value(v), d);
    }
    json_decref(v);
    ctl_tmpl_path_restore(c, saved);
    return rc;
}

/* A serial copy instance waits for every instance of the previous batch. */
static void
dep_serial(const struct ctl_tmpl *t, const struct ctl_tmpl_inst *inst, struct depset *d)
{
    const struct ctl_tmpl_loop *l;
    size_t idx, from;

    if (inst->loop == SIZE_MAX || (l = &t->loops[inst->loop])->batch == 0)
        return;
    idx = (size_t)inst->index;
    if (idx < l->batch)
        return;
    from = (idx / l->batch - 1) * l->batch;
    for (size_t j = from; j < from + l->batch; j++)
        dep_add(d, l->first + j);
}

/* ---- implicit dependencies: reference() to a resource of the template ---- */

/* Keys whose expressions cannot call reference() or are not evaluated. */
static bool
ref_skipped_key(const char *key)
{
    static const char *const skip[] = {"type", "apiVersion", "name",    "dependsOn",
                                       "copy", "comments",   "metadata"};

    for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++) {
        if (ctl_tmpl_key_is(key, skip[i]))
            return true;
    }
    return false;
}

/* A cheap textual test, once per resource definition, so that only the
 * instances of resources that may call reference() pay for a parse. */
static bool
mentions_reference(const json_t *v)
{
    const char *k, *s;
    json_t *kid;
    size_t i, n;

    if (json_is_string(v)) {
        s = json_string_value(v);
        n = json_string_length(v);
        if (!ctl_tmpl_is_expr(s, n))
            return false;
        for (i = 0; i + 9 <= n; i++) {
            if (strncasecmp(s + i, "reference", 9) == 0)
                return true;
        }
        return false;
    }
    json_object_foreach((json_t *)v, k, kid)
    {
        if (mentions_reference(kid))
            return true;
    }
    json_array_foreach(v, i, kid)
    {
        if (mentions_reference(kid))
            return true;
    }
    return false;
}

static bool
def_mentions_reference(const json_t *def)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)def, k, v)
    {
        if (!ref_skipped_key(k) && mentions_reference(v))
            return true;
    }
    return false;
}

/* Evaluate reference()'s first argument without deployed state, in a
 * context of its own: an argument that needs deployed state (or fails)
 * adds no dependency and records no error; evaluating the resource
 * reports any real problem later, as ARM does. */
static int
dep_reference_arg(struct ctl_tmpl_ctx *c, size_t self, const struct ctl_tmpl_node *arg,
                  struct depset *d)
{
    struct ctl_tmpl_ctx sub;
    json_t *v = NULL;
    bool amb = false;
    size_t k;
    int rc;

    ctl_tmpl_ctx_init(&sub, c->t, NULL);
    sub.allow = CTL_TMPL_ALLOW_VARIABLES;
    sub.iter = c->iter;
    rc = ctl_tmpl_expr_eval(&sub, arg, &v);
    if (rc == 0 && json_is_string(v) &&
        (k = ctl_tmpl_res_find(c->t, json_string_value(v), &amb)) != SIZE_MAX && !amb && k != self)
        dep_add(d, k);
    json_decref(v);
    if (rc == SCC_ENOMEM)
        return ctl_tmpl_oom(c);
    return ctl_tmpl_charge(c, 1 + sub.work);
}

static int
dep_scan_node(struct ctl_tmpl_ctx *c, size_t self, const struct ctl_tmpl_node *n, struct depset *d)
{
    const struct ctl_tmpl_node *a;
    int rc = 0;

    if (n->kind == CTL_TMPL_N_CALL && n->fn != NULL && n->kid != NULL &&
        ctl_tmpl_key_is(n->fn->name, "reference"))
        rc = dep_reference_arg(c, self, n->kid, d);
    if (n->kind == CTL_TMPL_N_CALL) {
        for (a = n->kid; rc == 0 && a != NULL; a = a->next)
            rc = dep_scan_node(c, self, a, d);
    } else if (n->kind == CTL_TMPL_N_PROP || n->kind == CTL_TMPL_N_INDEX) {
        rc = dep_scan_node(c, self, n->kid, d);
        if (rc == 0 && n->idx != NULL)
            rc = dep_scan_node(c, self, n->idx, d);
    }
    return rc;
}

static int
dep_scan_value(struct ctl_tmpl_ctx *c, size_t self, const json_t *v, struct depset *d)
{
    struct ctl_tmpl_ast ast;
    const char *k;
    json_t *kid;
    size_t i;
    int rc = 0;

    if (json_is_string(v) && ctl_tmpl_is_expr(json_string_value(v), json_string_length(v))) {
        if ((rc = ctl_tmpl_expr_parse(c, json_string_value(v) + 1, json_string_length(v) - 2,
                                      &ast)) < 0)
            return rc;
        rc = dep_scan_node(c, self, ast.root, d);
        ctl_tmpl_expr_fini(&ast);
        return rc;
    }
    json_object_foreach((json_t *)v, k, kid)
    {
        if ((rc = dep_scan_value(c, self, kid, d)) < 0)
            return rc;
    }
    json_array_foreach(v, i, kid)
    {
        if ((rc = dep_scan_value(c, self, kid, d)) < 0)
            return rc;
    }
    return 0;
}

static int
dep_references(struct ctl_tmpl_ctx *c, size_t self, const struct ctl_tmpl_inst *inst,
               struct depset *d)
{
    const char *k;
    json_t *v;
    int rc;

    json_object_foreach((json_t *)inst->def, k, v)
    {
        if (!ref_skipped_key(k) && (rc = dep_scan_value(c, self, v, d)) < 0)
            return rc;
    }
    return 0;
}

static int
inst_deps(struct ctl_tmpl_ctx *c, size_t k, struct depset *d, bool refs)
{
    struct ctl_tmpl_inst *inst = &c->t->insts[k];
    const json_t *deps = scc_json_iget(inst->def, "dependsOn");
    struct ctl_tmpl_iter it;
    size_t i, saved;
    int rc = 0;

    ctl_tmpl_inst_enter(c, inst, &it, CTL_TMPL_ALLOW_VARIABLES);
    saved = ctl_tmpl_path_key(c, "dependsOn");
    d->n = 0;
    for (i = 0; rc == 0 && i < json_array_size(deps); i++)
        rc = dep_entry(c, k, json_array_get(deps, i), i, d);
    ctl_tmpl_path_restore(c, saved);
    if (rc == 0 && refs)
        rc = dep_references(c, k, inst, d);
    if (rc == 0)
        dep_serial(c->t, inst, d);
    for (i = 0; i < d->n; i++)
        d->mark[d->list[i]] = false;
    if (rc < 0)
        return rc;
    scc_free(inst->deps);
    inst->ndeps = 0;
    if ((inst->deps = scc_calloc(d->n + 1, sizeof(*inst->deps))) == NULL)
        return ctl_tmpl_oom(c);
    memcpy(inst->deps, d->list, d->n * sizeof(*d->list));
    inst->ndeps = d->n;
    return 0;
}

static int
build_deps(struct ctl_tmpl_ctx *c)
{
    struct depset d = {NULL, NULL, 0};
    size_t n = c->t->ninsts;
    int rc = 0;

    size_t res = SIZE_MAX;
    bool refs = false;

    d.mark = scc_calloc(n + 1, sizeof(*d.mark));
    d.list = scc_calloc(n + 1, sizeof(*d.list));
    if (d.mark == NULL || d.list == NULL)
        rc = ctl_tmpl_oom(c);
    for (size_t k = 0; rc == 0 && k < n; k++) {
        if (c->t->insts[k].res != res) { /* the instances of one resource are adjacent */
            res = c->t->insts[k].res;
            refs = def_mentions_reference(c->t->insts[k].def);
        }
        rc = inst_deps(c, k, &d, refs);
    }
    scc_free(d.mark);
    scc_free(d.list);
    return rc;
}

int
ctl_tmpl_graph_build(struct ctl_tmpl_ctx *c)
{
    struct ctl_tmpl *t = c->t;
    struct ctl_tmpl_ctx saved = *c; /* may run inside another evaluation */
    int rc = 0;

    if (t->graph_ready)
        return 0;
    for (size_t k = 0; rc == 0 && k < t->ninsts; k++)
        rc = inst_ident(c, &t->insts[k]);
    if (rc == 0)
        rc = check_duplicates(c);
    if (rc == 0)
        rc = build_deps(c);
    memcpy(c->path, saved.path, sizeof(c->path));
    c->path_len = saved.path_len;
    c->allow = saved.allow;
    c->iter = saved.iter;
    c->expr = saved.expr;
    c->expr_len = saved.expr_len;
    t->graph_ready = rc == 0;
    return rc;
}

/* Reverse edges in compressed rows: dependents of k are rev[off[k]..off[k+1]). */
struct rev {
    size_t *off;
    size_t *list;
};

static int
rev_build(const struct ctl_tmpl *t, struct rev *r)
{
    size_t n = t->ninsts, e = 0, *fill;

    for (size_t k = 0; k < n; k++)
        e += t->insts[k].ndeps;
    r->off = scc_calloc(n + 1, sizeof(*r->off));
    r->list = scc_calloc(e + 1, sizeof(*r->list));
    fill = scc_calloc(n + 1, sizeof(*fill));
    if (r->off == NULL || r->list == NULL || fill == NULL) {
        scc_free(fill);
        return SCC_ENOMEM;
    }
    for (size_t k = 0; k < n; k++) {
        for (size_t j = 0; j < t->insts[k].ndeps; j++)
            r->off[t->insts[k].deps[j] + 1]++;
    }
    for (size_t k = 0; k < n; k++)
        r->off[k + 1] += r->off[k];
    for (size_t k = 0; k < n; k++) {
        for (size_t j = 0; j < t->insts[k].ndeps; j++) {
            size_t d = t->insts[k].deps[j];

            r->list[r->off[d] + fill[d]++] = k;
        }
    }
    scc_free(fill);
    return 0;
}

/* Every unplaced instance waits on another unplaced one; walking such
 * edges n times from any of them ends inside a cycle, which we name. */
static int
cycle_error(struct ctl_tmpl_ctx *c, const size_t *pending)
{
    const struct ctl_tmpl *t = c->t;
    size_t k = 0, step, j;

    while (pending[k] == SIZE_MAX)
        k++;
    for (step = 0; step < t->ninsts; step++) {
        for (j = 0; pending[t->insts[k].deps[j]] == SIZE_MAX; j++)
            ;
        k = t->insts[k].deps[j];
    }
    return ctl_tmpl_fail(c, SCC_EINVAL,
                         "Circular dependency detected on resource: '%s'. Please see "
                         "https://aka.ms/arm-template/#resources for usage details.",
                         t->insts[k].id);
}

/* Kahn's algorithm taking the lowest ready index each time, so that
 * independent resources keep template order (n <= 800: n^2 is fine). */
static int
topo_sort(struct ctl_tmpl_ctx *c, const struct rev *r, size_t *pending, size_t *order)
{
    const struct ctl_tmpl *t = c->t;
    size_t n = t->ninsts, k;

    for (k = 0; k < n; k++)
        pending[k] = t->insts[k].ndeps;
    for (size_t pos = 0; pos < n; pos++) {
        for (k = 0; k < n && pending[k] != 0; k++)
            ;
        if (k == n)
            return cycle_error(c, pending);
        order[pos] = k;
        pending[k] = SIZE_MAX; /* placed */
        for (size_t j = r->off[k]; j < r->off[k + 1]; j++)
            pending[r->list[j]]--;
    }
    return 0;
}

int
ctl_tmpl_resource_order(struct ctl_tmpl *t, size_t *order, struct ctl_tmpl_error *err)
{
    struct ctl_tmpl_ctx c;
    struct rev r = {NULL, NULL};
    size_t *pending = NULL;
    int rc;

    ctl_tmpl_ctx_init(&c, t, err);
    if ((rc = ctl_tmpl_graph_build(&c)) < 0)
        goto out;
    ctl_tmpl_path_set(&c, "resources");
    if ((rc = rev_build(t, &r)) < 0 ||
        (pending = scc_calloc(t->ninsts + 1, sizeof(*pending))) == NULL) {
        rc = ctl_tmpl_oom(&c);
        goto out;
    }
    rc = topo_sort(&c, &r, pending, order);
out:
    scc_free(r.off);
    scc_free(r.list);
    scc_free(pending);
    return ctl_tmpl_ctx_done(&c, rc);
}

int
ctl_tmpl_resource_info(struct ctl_tmpl *t, size_t i, struct ctl_tmpl_res_info *out,
                       struct ctl_tmpl_error *err)
{
    struct ctl_tmpl_ctx c;
    int rc;

    memset(out, 0, sizeof(*out));
    ctl_tmpl_ctx_init(&c, t, err);
    if (i >= t->ninsts)
        rc = ctl_tmpl_fail(&c, SCC_EINVAL, "The resource index '%zu' is out of range.", i);
    else if ((rc = ctl_tmpl_graph_build(&c)) == 0)
        *out = (struct ctl_tmpl_res_info){t->insts[i].type, t->insts[i].name, t->insts[i].id,
                                          t->insts[i].deps, t->insts[i].ndeps};
    return ctl_tmpl_ctx_done(&c, rc);
}
