/*
 * ctl_arm_rg.c - resource groups, and the list endpoints.
 *
 * A group keeps the casing of its first PUT, which matters: it feeds
 * resourceGroup().id and therefore templates' uniqueString() names.
 * Deleting a group is a long-running operation that deletes everything
 * in it, workspaces with their managed groups included.  A managed group
 * (locked_by set) refuses user writes at dispatch (ctl_arm.c).
 */
#include "ctl_arm_int.h"
#include "ctl_compute.h"

#include "ctl_names.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/mem.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

int
arm_rg_get(struct arm_call *k, const char *sub, const char *rg, struct ctl_arm_row *out)
{
    char id[CTL_ARM_PATH_MAX];
    int rc;

    if (ctl_arm_rg_id(id, sizeof(id), sub, rg) < 0 ||
        (rc = arm_row_get(k, id, out)) == SCC_ENOTFOUND) {
        arm_error(k, 404, "ResourceGroupNotFound", "Resource group '%.90s' could not be found.",
                  rg);
        return SCC_ENOTFOUND;
    }
    if (rc < 0)
        return arm_store_error(k, rc);
    return 0;
}

static json_t *
rg_body(const char *id, const char *name, const char *loc, const json_t *tags,
        const char *managed_by, const char *state)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "name", name, "type", ARM_T_RG,
                          "location", loc);

    if (o == NULL)
        return NULL;
    if (managed_by)
        json_object_set_new(o, "managedBy", json_string(managed_by));
    if (tags && json_object_size(tags))
        json_object_set(o, "tags", (json_t *)tags);
    json_object_set_new(o, "properties", json_pack("{s:s}", "provisioningState", state));
    return o;
}

int
arm_rg_create_locked(struct arm_call *k, const char *rg_id, const char *location, const char *ws_id)
{
    struct ctl_arm_target t;
    struct ctl_arm_row r;
    json_t *body;
    int rc;

    if ((rc = ctl_arm_id_split(rg_id, &t)) < 0 || t.rg == NULL)
        return SCC_EINVAL;
    arm_row_init(&r, rg_id, t.sub, NULL, ARM_T_RG, k->now_ms);
    r.locked_by = (char *)ws_id;
    if ((body = rg_body(rg_id, t.rg, location, NULL, ws_id, "Succeeded")) == NULL)
        return SCC_ENOMEM;
    rc = arm_row_put_json(k, &r, body);
    json_decref(body);
    return rc;
}

/* ---- PUT / PATCH ---- */

static int
rg_put_tx(struct arm_call *k, bool patch)
{
    const char *want = json_string_value(scc_json_iget(k->body, "location"));
    const char *name = k->t.rg, *have = NULL, *mb;
    char id[CTL_ARM_PATH_MAX], loc[64];
    struct ctl_arm_row old, r;
    json_t *prev = NULL, *body = NULL;
    const json_t *tags;
    int rc;

    (void)ctl_arm_rg_id(id, sizeof(id), k->t.sub, k->t.rg);
    if ((rc = arm_row_get(k, id, &old)) < 0 && rc != SCC_ENOTFOUND)
        return arm_store_error(k, rc);
    if (rc == SCC_ENOTFOUND && patch) {
        arm_error(k, 404, "ResourceGroupNotFound", "Resource group '%.90s' could not be found.",
                  k->t.rg);
        return -1;
    }
    if (rc == 0) {
        prev = arm_loads(old.body);
        name = json_string_value(json_object_get(prev, "name"));
        have = json_string_value(json_object_get(prev, "location"));
    }
    if (patch || (have && want == NULL))
        snprintf(loc, sizeof(loc), "%s", have);
    else if (!arm_location(k, want, loc, sizeof(loc)))
        rc = -1;
    if (rc == 0 && have && strcmp(loc, have) != 0) {
        arm_error(k, 409, "InvalidResourceGroupLocation",
                  "Invalid resource group location '%s'. The Resource group already exists in "
                  "location '%s'.",
                  loc, have);
        rc = -1;
    }
    if (rc == 0 || rc == SCC_ENOTFOUND) {
        tags = json_object_get(k->body, "tags") ? json_object_get(k->body, "tags")
                                                : json_object_get(prev, "tags");
        mb = json_string_value(scc_json_iget(k->body, "managedBy"));
        mb = mb ? mb : json_string_value(json_object_get(prev, "managedBy"));
        (void)ctl_arm_rg_id(id, sizeof(id), k->t.sub, name);
        arm_row_init(&r, id, k->t.sub, NULL, ARM_T_RG, k->now_ms);
        body = rg_body(id, name, loc, tags, mb, "Succeeded");
        rc = body ? arm_row_put_json(k, &r, body) : SCC_ENOMEM;
        if (rc == 0)
            arm_reply(k, have ? 200 : 201, json_incref(body));
    }
    json_decref(body);
    json_decref(prev);
    if (have)
        ctl_arm_row_fini(&old);
    return rc;
}

static void
rg_put_job(struct arm_call *k)
{
    if (!arm_sub_exists(k, k->t.sub) || arm_tx_begin(k) < 0)
        return;
    (void)arm_tx_end(k, rg_put_tx(k, strcmp(k->method, "PATCH") == 0));
}

static bool
rg_body_valid(struct arm_call *k)
{
    const json_t *mb = scc_json_iget(k->body, "managedBy");

    if (k->body == NULL) {
        arm_error(k, 400, "InvalidRequestContent", "The request content is empty.");
        return false;
    }
    if (mb && !json_is_null(mb) && !json_is_string(mb)) {
        arm_error(k, 400, "InvalidRequestContent", "managedBy must be a string.");
        return false;
    }
    if (!arm_check_tags(k, json_object_get(k->body, "tags")))
        return false;
    if (!ctl_name_is_resource_group(k->t.rg)) {
        arm_error(k, 400, "InvalidResourceGroup",
                  "The resource group name '%.100s' is invalid: 1-90 characters of letters, "
                  "digits, '_', '-', '.', '(' and ')', not ending in '.'.",
                  k->t.rg);
        return false;
    }
    return true;
}

/* ---- DELETE ---- */

static int
type_rank(const char *type)
{
    /* Dependents before what they depend on. */
    static const char *const order[] = {
            ARM_T_WS,
            "Microsoft.Compute/virtualMachines",
            "Microsoft.Network/networkInterfaces",
            "Microsoft.Network/azureFirewalls",
            "Microsoft.Network/loadBalancers",
            "Microsoft.Network/virtualNetworks",
            "Microsoft.Network/natGateways",
            "Microsoft.Network/publicIPAddresses",
            "Microsoft.Network/networkSecurityGroups",
            "Microsoft.Network/routeTables",
    };

    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        if (strcasecmp(type, order[i]) == 0)
            return (int)i;
    }
    return 100;
}

struct victims {
    char **ids;
    int *rank;
    size_t n, cap;
};

static int
collect(const struct ctl_arm_row *r, void *arg)
{
    struct victims *v = arg;

    if (v->n == v->cap) {
        size_t ncap = v->cap ? v->cap * 2 : 16;
        char **ids = scc_realloc(v->ids, ncap * sizeof(*ids));
        int *rank = ids ? scc_realloc(v->rank, ncap * sizeof(*rank)) : NULL;

        if (ids)
            v->ids = ids;
        if (rank == NULL)
            return SCC_ENOMEM;
        v->rank = rank;
        v->cap = ncap;
    }
    if ((v->ids[v->n] = scc_strdup(r->id)) == NULL)
        return SCC_ENOMEM;
    v->rank[v->n++] = type_rank(r->type);
    return 0;
}

static int
delete_one(struct arm_call *k, const char *id, int rank)
{
    struct ctl_arm_row r;
    int rc;

    /* An earlier delete (a workspace's managed group) may have taken it. */
    if ((rc = arm_row_get(k, id, &r)) == SCC_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    ctl_arm_row_fini(&r);
    if (rank == 0)
        return arm_ws_delete_now(k, id);
    if (rank == 1) /* a node VM: its certificates are revoked with it */
        return ctl_compute_vm_delete(k, id);
    if (rank >= 2 && rank <= 9)
        return arm_net_delete_now(k, id);
    return arm_row_del(k, id);
}

int
arm_rg_delete_all(struct arm_call *k, const char *rg_id)
{
    struct ctl_arm_target t;
    struct victims v = {0};
    struct ctl_arm_filter f;
    int rc;

    if ((rc = ctl_arm_id_split(rg_id, &t)) < 0)
        return rc;
    f = (struct ctl_arm_filter){t.sub, t.rg, NULL};
    rc = ctl_store_arm_res_each(k->c->store, &f, collect, &v);
    for (int rank = 0; rc == 0 && rank <= 100; rank++) {
        for (size_t i = 0; rc == 0 && i < v.n; i++) {
            if (v.rank[i] == rank)
                rc = delete_one(k, v.ids[i], rank);
        }
    }
    for (size_t i = 0; i < v.n; i++)
        scc_free(v.ids[i]);
    scc_free(v.ids);
    scc_free(v.rank);
    return rc == 0 ? arm_row_del(k, rg_id) : rc;
}

int
arm_rg_del_step(struct arm_call *k, struct ctl_arm_op *op, json_t *payload)
{
    (void)payload;
    if (arm_rg_delete_all(k, op->resource_id) < 0)
        return SCC_ESTORE;
    return 0;
}

int
arm_rg_del_fail(struct arm_call *k, struct ctl_arm_op *op, json_t *payload)
{
    struct ctl_arm_row r;
    json_t *body;
    int rc;

    (void)payload;
    if (arm_row_get(k, op->resource_id, &r) < 0)
        return 0;
    body = arm_loads(r.body);
    json_object_set_new(json_object_get(body, "properties"), "provisioningState",
                        json_string("Succeeded"));
    rc = body ? arm_row_put_json(k, &r, body) : SCC_ENOMEM;
    json_decref(body);
    ctl_arm_row_fini(&r);
    return rc;
}

static void
rg_delete_job(struct arm_call *k)
{
    struct ctl_arm_row r;
    char op_id[40];
    json_t *body;
    int rc;

    if (arm_tx_begin(k) < 0)
        return;
    if ((rc = arm_rg_get(k, k->t.sub, k->t.rg, &r)) < 0) {
        (void)arm_tx_end(k, rc);
        return;
    }
    if (arm_op_busy(k, r.id)) {
        (void)arm_tx_end(k, -1);
        ctl_arm_row_fini(&r);
        return;
    }
    body = arm_loads(r.body);
    json_object_set_new(json_object_get(body, "properties"), "provisioningState",
                        json_string("Deleting"));
    rc = body ? arm_row_put_json(k, &r, body) : SCC_ENOMEM;
    if (rc == 0)
        rc = arm_op_start(k, ARM_NS_RESOURCES, "global", "rg.delete", r.id, NULL, op_id);
    if (arm_tx_end(k, rc) == 0) {
        arm_reply(k, 202, NULL);
        arm_lro_headers(k, ARM_NS_RESOURCES, "global", op_id, false, true);
    }
    json_decref(body);
    ctl_arm_row_fini(&r);
}

/* ---- GET / HEAD ---- */

static void
rg_get(struct arm_call *k, bool head)
{
    char id[CTL_ARM_PATH_MAX];
    const struct arm_entry *e;
    char *text;

    (void)ctl_arm_rg_id(id, sizeof(id), k->t.sub, k->t.rg);
    e = arm_cache_get(k->arm, id);
    if (head)
        arm_reply(k, e ? 204 : 404, NULL);
    else if (e == NULL || (text = scc_strdup(e->text)) == NULL)
        arm_error(k, 404, "ResourceGroupNotFound", "Resource group '%.90s' could not be found.",
                  k->t.rg);
    else
        arm_reply_text(k, 200, text, e->len);
    arm_finish(k);
}

/* ---- lists ---- */

struct list_ctx {
    struct scc_buf out;
    bool first;
    bool generic; /* /resources: the GenericResource subset of each body */
};

static int
list_row(const struct ctl_arm_row *r, void *arg)
{
    static const char *const keep[] = {"id",   "name", "type", "location",
                                       "tags", "sku",  "kind", "managedBy"};
    struct list_ctx *l = arg;
    json_t *full, *slim;
    int rc;

    /* /resources lists resources: not subscriptions, not groups. */
    if (l->generic && (strcasecmp(r->type, ARM_T_SUB) == 0 || strcasecmp(r->type, ARM_T_RG) == 0))
        return 0;
    if (!l->first && (rc = scc_buf_put(&l->out, ",", 1)) < 0)
        return rc;
    l->first = false;
    if (!l->generic)
        return scc_buf_put_str(&l->out, r->body);
    if ((full = arm_loads(r->body)) == NULL || (slim = json_object()) == NULL) {
        json_decref(full);
        return SCC_ENOMEM;
    }
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
        json_t *v = json_object_get(full, keep[i]);

        if (v)
            json_object_set(slim, keep[i], v);
    }
    rc = scc_json_dump(slim, &l->out);
    json_decref(full);
    json_decref(slim);
    return rc;
}

static void
list_job(struct arm_call *k)
{
    struct list_ctx l = {.first = true};
    struct ctl_arm_filter f = {k->t.sub, k->t.rg, NULL};
    struct ctl_arm_row rg;
    char type[256];
    int rc;

    if (!arm_sub_exists(k, k->t.sub))
        return;
    if (k->t.rg && k->t.kind != CTL_ARM_T_RGS) {
        if (arm_rg_get(k, k->t.sub, k->t.rg, &rg) < 0)
            return;
        ctl_arm_row_fini(&rg);
    }
    if (k->t.kind == CTL_ARM_T_RGS) {
        f = (struct ctl_arm_filter){k->t.sub, NULL, ARM_T_RG};
    } else if (k->t.kind == CTL_ARM_T_LIST_RG || k->t.kind == CTL_ARM_T_LIST_SUB) {
        snprintf(type, sizeof(type), "%s/%s", k->t.ns, k->t.types[0]);
        f.type = type;
    }
    l.generic = k->t.kind == CTL_ARM_T_RG_RESOURCES || k->t.kind == CTL_ARM_T_SUB_RESOURCES;
    scc_buf_init(&l.out, 64u << 20);
    if ((rc = scc_buf_put_str(&l.out, "{\"value\":[")) == 0 &&
        (rc = ctl_store_arm_res_each(k->c->store, &f, list_row, &l)) == 0)
        rc = scc_buf_put_str(&l.out, "]}");
    if (rc < 0) {
        scc_buf_fini(&l.out);
        (void)arm_store_error(k, rc);
        return;
    }
    /* The group rows of a subscription-wide /resources list are not
     * resources; they were filtered by type above only for /resourcegroups. */
    arm_reply_text(k, 200, scc_buf_steal(&l.out, NULL), l.out.len);
}

void
arm_list_route(struct arm_call *k)
{
    if (strcmp(k->method, "GET") != 0) {
        arm_error(k, 405, "MethodNotAllowed", "%s is not supported on a list.", k->method);
        arm_finish(k);
        return;
    }
    arm_submit(k, list_job);
}

void
arm_rg_route(struct arm_call *k)
{
    if (k->t.kind == CTL_ARM_T_RGS) {
        arm_list_route(k);
    } else if (strcmp(k->method, "GET") == 0 || strcmp(k->method, "HEAD") == 0) {
        rg_get(k, strcmp(k->method, "HEAD") == 0);
    } else if (strcmp(k->method, "PUT") == 0 || strcmp(k->method, "PATCH") == 0) {
        if (rg_body_valid(k))
            arm_submit(k, rg_put_job);
        else
            arm_finish(k);
    } else if (strcmp(k->method, "DELETE") == 0) {
        arm_submit(k, rg_delete_job);
    } else {
        arm_error(k, 405, "MethodNotAllowed", "%s is not supported on a resource group.",
                  k->method);
        arm_finish(k);
    }
}
