/*
 * ctl_dbx_pool.c - instance pools (databricks-compat.md §5):
 * /api/2.0/instance-pools/{create,edit,get,list,delete}.
 *
 * A pool keeps min_idle_instances VMs of the workspace made ahead of need
 * (createNodes named after the pool), their agents already holding their
 * tunnels to the relay, so a cluster that names the pool starts on them
 * without waiting for VMs.  A cluster takes idle instances when there are
 * enough for it, all at once; until then its request counts toward what
 * the pool makes, up to max_capacity.  An instance serves one cluster:
 * when the cluster ends, its VMs are deleted and the pool makes fresh ones,
 * so nothing one cluster's tasks left on a node is seen by the next.
 * Idle instances above min_idle_instances are deleted after
 * idle_instance_autotermination_minutes.
 *
 * The private member holds "instances" ([{vm, name, node, nic, host_nic},
 * plus "pending" until createNodes' operation ends, "cluster" while used,
 * "gone" once to be deleted, "since" when made idle]), "demand"
 * ({cluster id: instances wanted}) and the ARM call's "op".  Everything
 * happens in the tick, one ARM call at a time, from what the document says.
 */
#include "ctl_dbx_int.h"

#include "ctl_compute.h"

#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"

#include <stdio.h>
#include <string.h>

#define POOL_NAME_MAX    100
#define POOL_IDLE_MAX    100   /* min_idle_instances */
#define POOL_CAPACITY    1000  /* max_capacity, and when it is not given */
#define POOL_RETRY_MS    30000 /* after createNodes failed: clusters asking fail meanwhile */
#define POOL_IDLE_MIN_DF 60    /* idle_instance_autotermination_minutes by default */

/* The fields a pool keeps from create and edit. */
static const char *const keep[] = {
        "instance_pool_name",
        "node_type_id",
        "min_idle_instances",
        "max_capacity",
        "custom_tags",
        "azure_attributes",
        "disk_spec",
        "enable_elastic_disk",
        "preloaded_spark_versions",
        "idle_instance_autotermination_minutes",
};

struct counts {
    size_t idle, used, pending, gone, demand;
};

static json_t *
instances(json_t *doc)
{
    json_t *a = json_object_get(dbx_priv(doc), "instances");

    if (a == NULL) {
        a = json_array();
        json_object_set_new(dbx_priv(doc), "instances", a);
    }
    return a;
}

static bool
flag(const json_t *o, const char *key)
{
    return json_is_true(json_object_get(o, key));
}

static bool
is_idle(const json_t *in)
{
    return !flag(in, "pending") && !flag(in, "gone") && json_object_get(in, "cluster") == NULL;
}

static struct counts
count(json_t *doc, const char *except)
{
    struct counts n = {0};
    const char *key;
    json_t *in, *v;
    size_t i;

    json_array_foreach(instances(doc), i, in)
    {
        if (flag(in, "gone"))
            n.gone++;
        else if (flag(in, "pending"))
            n.pending++;
        else if (json_object_get(in, "cluster"))
            n.used++;
        else
            n.idle++;
    }
    json_object_foreach(json_object_get(dbx_priv(doc), "demand"), key, v)
    {
        if (except == NULL || strcmp(key, except) != 0)
            n.demand += (size_t)json_integer_value(v);
    }
    return n;
}

static size_t
capacity(const json_t *doc)
{
    const json_t *v = json_object_get(doc, "max_capacity");

    return v ? (size_t)json_integer_value(v) : POOL_CAPACITY;
}

/* The pool as a GET shows it: with its stats of now. */
static json_t *
shown(json_t *doc)
{
    struct counts n = count(doc, NULL);
    size_t pused = n.pending < n.demand ? n.pending : n.demand;
    json_t *o = dbx_public(doc);

    json_object_set_new(o, "stats",
                        json_pack("{s:I, s:I, s:I, s:I}", "idle_count", (json_int_t)n.idle,
                                  "used_count", (json_int_t)n.used, "pending_idle_count",
                                  (json_int_t)(n.pending - pused), "pending_used_count",
                                  (json_int_t)pused));
    return o;
}

/* ---- the VMs ---- */

static void
failed(json_t *doc, const char *code, const char *msg)
{
    json_object_set_new(doc, "status",
                        json_pack("{s:[{s:s, s:s}]}", "pending_instance_errors", "error", code,
                                  "message", msg));
    json_object_set_new(dbx_priv(doc), "retry_at", json_integer(dbx_now() + POOL_RETRY_MS));
}

/* The operation of the last createNodes ended: its VMs are idle, or (it
 * failed) to be deleted. */
static void
made(json_t *doc, bool ok)
{
    json_t *in;
    size_t i;

    json_array_foreach(instances(doc), i, in)
    {
        if (!flag(in, "pending"))
            continue;
        json_object_del(in, "pending");
        json_object_set_new(in, "since", json_integer(dbx_now()));
        if (!ok)
            json_object_set_new(in, "gone", json_true());
    }
    if (ok)
        json_object_set_new(doc, "status", json_pack("{s:[]}", "pending_instance_errors"));
}

static void
created(struct dbx *d, const char *ws, const char *id, json_t *doc, const struct ctl_arm_resp *resp)
{
    char code[64], msg[700];
    json_t *vms, *in;
    size_t i;

    if (dbx_vm_busy(resp))
        return;
    if (resp->status != 202) {
        dbx_vm_err(resp, code, sizeof(code), msg, sizeof(msg));
        failed(doc, code, msg);
    } else {
        vms = dbx_vm_list(resp);
        json_array_foreach(vms, i, in) json_object_set_new(in, "pending", json_true());
        json_array_extend(instances(doc), vms);
        json_decref(vms);
        dbx_vm_keep_op(doc, resp);
        if (dbx_str(dbx_priv(doc), "op") == NULL)
            made(doc, true);
    }
    dbx_save(d, ws, DBX_POOL, id);
}

/* Drop the instances being deleted (all: the call succeeded). */
static void
dropped(json_t *doc)
{
    json_t *a = instances(doc);

    for (size_t i = json_array_size(a); i-- > 0;)
        if (flag(json_array_get(a, i), "deleting"))
            json_array_remove(a, i);
}

static void
deleted(struct dbx *d, const char *ws, const char *id, json_t *doc, const struct ctl_arm_resp *resp)
{
    char code[64], msg[700];
    json_t *in;
    size_t i;

    if (resp->status == 202) {
        dbx_vm_keep_op(doc, resp);
        json_object_set_new(dbx_priv(doc), "op_delete", json_true());
    } else if (resp->status == 200) {
        dropped(doc);
    } else {
        dbx_vm_err(resp, code, sizeof(code), msg, sizeof(msg));
        if (strcmp(code, "NodeNotFound") == 0 && !flag(dbx_priv(doc), "one_by_one")) {
            /* One of them is gone already, and then nothing is deleted:
             * ask for them one at a time, to learn which. */
            json_object_set_new(dbx_priv(doc), "one_by_one", json_true());
            json_array_foreach(instances(doc), i, in) json_object_del(in, "deleting");
        } else if (strcmp(code, "NodeNotFound") == 0 || strcmp(code, "ResourceNotFound") == 0) {
            dropped(doc);
        } else { /* asked again at a later tick */
            if (!dbx_vm_busy(resp))
                scc_log_warn(&d->c->log, "instance pool %s: deleteNodes: %s: %s", id, code, msg);
            json_array_foreach(instances(doc), i, in) json_object_del(in, "deleting");
        }
    }
    dbx_save(d, ws, DBX_POOL, id);
}

static void
op_polled(struct dbx *d, const char *ws, const char *id, json_t *doc,
          const struct ctl_arm_resp *resp)
{
    char code[64], msg[700];
    int st = dbx_vm_op_status(resp, code, sizeof(code), msg, sizeof(msg));
    json_t *priv = dbx_priv(doc), *in;
    size_t i;

    if (st == DBX_OP_RUNNING)
        return;
    json_object_del(priv, "op");
    if (flag(priv, "op_delete")) {
        json_object_del(priv, "op_delete");
        if (st == DBX_OP_FAILED) /* the instances are asked for again */
            json_array_foreach(instances(doc), i, in) json_object_del(in, "deleting");
        else
            dropped(doc);
    } else {
        made(doc, st != DBX_OP_FAILED);
        if (st == DBX_OP_FAILED)
            failed(doc, code[0] ? code : "CLOUD_PROVIDER_LAUNCH_FAILURE", msg);
    }
    dbx_save(d, ws, DBX_POOL, id);
}

/* ---- the tick ---- */

/* Requests of clusters that no longer wait for this pool go. */
static bool
prune_demand(struct dbx *d, const char *ws, json_t *doc)
{
    json_t *dem = json_object_get(dbx_priv(doc), "demand"), *v, *cl;
    const char *cid, *st;
    bool changed = false;
    void *tmp;

    json_object_foreach_safe(dem, tmp, cid, v)
    {
        cl = dbx_get(d, ws, DBX_CLUSTER, cid);
        st = cl ? dbx_str(cl, "state") : NULL;
        if (st == NULL || (strcmp(st, "RESIZING") != 0 &&
                           (strcmp(st, "PENDING") != 0 ||
                            json_array_size(json_object_get(dbx_priv(cl), "nodes")) > 0))) {
            json_object_del(dem, cid);
            changed = true;
        }
    }
    return changed;
}

/* Idle instances above min_idle_instances, idle too long, go. */
static bool
expire(json_t *doc)
{
    json_int_t min = json_integer_value(json_object_get(doc, "min_idle_instances"));
    json_int_t after =
            json_integer_value(json_object_get(doc, "idle_instance_autotermination_minutes")) *
            60000;
    struct counts n = count(doc, NULL);
    bool changed = false;
    json_t *in;
    size_t i;

    json_array_foreach(instances(doc), i, in)
    {
        if ((json_int_t)n.idle <= min)
            break;
        if (is_idle(in) &&
            (after == 0 || dbx_now() - json_integer_value(json_object_get(in, "since")) > after)) {
            json_object_set_new(in, "gone", json_true());
            n.idle--;
            changed = true;
        }
    }
    return changed;
}

static void
refill(struct dbx *d, const char *ws, const char *id, json_t *doc)
{
    bool pruned = prune_demand(d, ws, doc), changed = expire(doc) || pruned;
    struct counts n = count(doc, NULL);
    size_t want = (size_t)json_integer_value(json_object_get(doc, "min_idle_instances")) + n.demand;
    size_t have = n.idle + n.pending, total = n.idle + n.used + n.pending, make = 0;

    if (want > have && capacity(doc) > total)
        make = want - have < capacity(doc) - total ? want - have : capacity(doc) - total;
    if (make > CTL_COMPUTE_MAX_NEW)
        make = CTL_COMPUTE_MAX_NEW;
    if (make > 0 && dbx_now() >= json_integer_value(json_object_get(dbx_priv(doc), "retry_at")))
        changed = dbx_vm_create(d, ws, DBX_POOL, id, doc, (json_int_t)make, id, created) || changed;
    if (changed)
        dbx_save(d, ws, DBX_POOL, id);
}

/* The answer to dbx_vm_find after a restart that lost a createNodes'
 * answer: the pool's VMs it does not know are deleted. */
static void
found(struct dbx *d, const char *ws, const char *id, json_t *doc, const struct ctl_arm_resp *resp)
{
    json_t *names = dbx_vm_unknown(resp, id, instances(doc)), *n;
    size_t i;

    if (resp->status != 200)
        scc_log_warn(&d->c->log,
                     "instance pool %s: cannot list the workspace's VMs (HTTP %d): any made by "
                     "a createNodes whose answer was lost stay",
                     id, resp->status);
    json_array_foreach(names, i, n)
            json_array_append_new(instances(doc), json_pack("{s:O, s:b}", "name", n, "gone", 1));
    json_decref(names);
    dbx_save(d, ws, DBX_POOL, id);
}

/* The VMs to delete now (gone ones; every idle one of a deleted pool):
 * their names, marked "deleting". */
static json_t *
to_delete(json_t *doc)
{
    json_t *priv = dbx_priv(doc), *names = json_array(), *in;
    bool dead = strcmp(dbx_str(doc, "state"), "DELETED") == 0;
    size_t i, max = flag(priv, "one_by_one") ? 1 : CTL_COMPUTE_MAX_NEW;

    json_array_foreach(instances(doc), i, in)
    {
        if (dead && is_idle(in))
            json_object_set_new(in, "gone", json_true());
        if (flag(in, "gone") && json_array_size(names) < max) {
            json_object_set_new(in, "deleting", json_true());
            json_array_append(names, json_object_get(in, "name"));
        }
    }
    if (json_array_size(names) == 0)
        json_object_del(priv, "one_by_one");
    return names;
}

void
dbx_pools_tick(struct dbx *d, const char *ws, const char *id, json_t *doc)
{
    json_t *priv = dbx_priv(doc), *names;

    if (flag(priv, "busy"))
        return;
    if (dbx_vm_recovering(doc)) {
        if (!dbx_vm_find(d, ws, DBX_POOL, id, doc, found))
            json_object_del(priv, "creating"); /* no workspace to look in */
        return;
    }
    if (dbx_str(priv, "op")) {
        (void)dbx_vm_call(d, ws, DBX_POOL, id, doc, "GET", dbx_str(priv, "op"), NULL, op_polled);
        return;
    }
    names = to_delete(doc);
    if (json_array_size(names) > 0)
        (void)dbx_vm_delete(d, ws, DBX_POOL, id, doc, json_pack("{s:o}", "nodes", names), deleted);
    else if (json_decref(names), strcmp(dbx_str(doc, "state"), "DELETED") != 0)
        refill(d, ws, id, doc);
    else if (json_array_size(instances(doc)) == 0)
        dbx_del(d, ws, DBX_POOL, id); /* deleted, and its VMs are gone */
}

/* ---- clusters and pools ---- */

const char *
dbx_pool_node_type(struct dbx *d, const char *ws, const char *pool)
{
    json_t *doc = pool ? dbx_get(d, ws, DBX_POOL, pool) : NULL;

    if (doc == NULL || strcmp(dbx_str(doc, "state"), "ACTIVE") != 0)
        return NULL;
    return dbx_str(doc, "node_type_id");
}

/* Can pool ever give need instances to cluster cid?  0, or the reason. */
static int
can_give(json_t *doc, const char *pool, const char *cid, size_t need, char *code, size_t ccap,
         char *msg, size_t mcap)
{
    struct counts n;
    const json_t *errs = json_object_get(json_object_get(doc, "status"), "pending_instance_errors");

    if (doc == NULL || strcmp(dbx_str(doc, "state"), "ACTIVE") != 0) {
        snprintf(code, ccap, "INSTANCE_POOL_CLUSTER_FAILURE");
        snprintf(msg, mcap, "Instance pool %s was deleted", pool);
        return SCC_EINVAL;
    }
    n = count(doc, cid);
    if (n.used + n.demand + need > capacity(doc)) {
        snprintf(code, ccap, "INSTANCE_POOL_MAX_CAPACITY_REACHED");
        snprintf(msg, mcap,
                 "Instance pool %s has max_capacity %zu: %zu instance(s) in use and %zu asked for "
                 "by other clusters; this cluster needs %zu",
                 pool, capacity(doc), n.used, n.demand, need);
    } else if (json_array_size(errs) > 0 &&
               dbx_now() < json_integer_value(json_object_get(dbx_priv(doc), "retry_at"))) {
        snprintf(code, ccap, "INSTANCE_POOL_CLUSTER_FAILURE");
        snprintf(msg, mcap, "Instance pool %s cannot make instances: %s", pool,
                 dbx_str(json_array_get(errs, 0), "message"));
    } else {
        return 0;
    }
    return SCC_EINVAL;
}

/* Move need idle instances of pool to cluster cid, onto nodes. */
static void
give(json_t *doc, const char *cid, size_t need, json_t *nodes)
{
    json_t *in, *node;
    size_t i;

    json_array_foreach(instances(doc), i, in)
    {
        if (need == 0)
            break;
        if (!is_idle(in))
            continue;
        json_object_set_new(in, "cluster", json_string(cid));
        node = json_copy(in);
        json_object_del(node, "cluster");
        json_object_del(node, "since");
        json_array_append_new(nodes, node);
        need--;
    }
    json_object_del(json_object_get(dbx_priv(doc), "demand"), cid);
}

static void
ask(json_t *doc, const char *cid, size_t need)
{
    json_t *priv = dbx_priv(doc);

    if (json_object_get(priv, "demand") == NULL)
        json_object_set_new(priv, "demand", json_object());
    json_object_set_new(json_object_get(priv, "demand"), cid, json_integer((json_int_t)need));
}

int
dbx_pool_take(struct dbx *d, const char *ws, const char *cid, const char *dpool, const char *pool,
              size_t workers, json_t **nodes, char *code, size_t ccap, char *msg, size_t mcap)
{
    bool driver = dpool != NULL, one = !driver || strcmp(dpool, pool) == 0;
    json_t *dp = dbx_get(d, ws, DBX_POOL, driver ? dpool : pool),
           *wp = dbx_get(d, ws, DBX_POOL, pool);
    size_t nd = one ? workers + driver : 1, nw = one ? 0 : workers;
    int rc;

    if (!driver)
        dpool = pool;
    if ((rc = can_give(dp, dpool, cid, nd, code, ccap, msg, mcap)) < 0 ||
        (!one && (rc = can_give(wp, pool, cid, nw, code, ccap, msg, mcap)) < 0))
        return rc;
    if (count(dp, NULL).idle < nd || (!one && count(wp, NULL).idle < nw)) {
        ask(dp, cid, nd);
        if (!one)
            ask(wp, cid, nw);
        return SCC_EBUSY;
    }
    *nodes = json_array();
    give(dp, cid, nd, *nodes);
    if (!one)
        give(wp, cid, nw, *nodes);
    dbx_save(d, ws, DBX_POOL, dpool);
    if (!one)
        dbx_save(d, ws, DBX_POOL, pool);
    return 0;
}

void
dbx_pool_drop(struct dbx *d, const char *ws, const char *pool, const char *cid, const json_t *names)
{
    json_t *doc = pool ? dbx_get(d, ws, DBX_POOL, pool) : NULL, *in, *n;
    const char *c;
    size_t i, j;

    json_array_foreach(doc ? instances(doc) : NULL, i, in)
    {
        if ((c = dbx_str(in, "cluster")) == NULL || strcmp(c, cid) != 0)
            continue;
        json_array_foreach(names, j, n)
        {
            if (json_equal(json_object_get(in, "name"), n))
                json_object_set_new(in, "gone", json_true());
        }
    }
    if (doc)
        dbx_save(d, ws, DBX_POOL, pool);
}

void
dbx_pool_release(struct dbx *d, const char *ws, const char *pool, const char *cid)
{
    json_t *doc = pool ? dbx_get(d, ws, DBX_POOL, pool) : NULL, *in;
    const char *c;
    size_t i;

    if (doc == NULL)
        return;
    json_object_del(json_object_get(dbx_priv(doc), "demand"), cid);
    json_array_foreach(instances(doc), i, in)
    {
        if ((c = dbx_str(in, "cluster")) && strcmp(c, cid) == 0)
            json_object_set_new(in, "gone", json_true());
    }
    dbx_save(d, ws, DBX_POOL, pool);
}

bool
dbx_pool_spec_ok(struct dbx_req *q, const json_t *spec, const char *what)
{
    const char *keys[] = {"instance_pool_id", "driver_instance_pool_id"}, *p;

    for (size_t i = 0; i < DBX_NELEM(keys); i++) {
        if ((p = dbx_str(spec, keys[i])) && dbx_pool_node_type(q->d, q->ws.id, p) == NULL) {
            dbx_error(q, 400, "INVALID_PARAMETER_VALUE", "%sInstance pool %s does not exist", what,
                      p);
            return false;
        }
    }
    return true;
}

/* ---- the requests ---- */

/* Check create or edit fields; false after a 400. */
static bool
fields_ok(struct dbx_req *q, const json_t *b, const json_t *old)
{
    const json_t *nm = json_object_get(b, "instance_pool_name");
    const json_t *mi = json_object_get(b, "min_idle_instances"),
                 *mc = json_object_get(b, "max_capacity"),
                 *at = json_object_get(b, "idle_instance_autotermination_minutes");
    const char *nt = dbx_str(b, "node_type_id");

    if (!json_is_string(nm) || json_string_length(nm) == 0 ||
        json_string_length(nm) > POOL_NAME_MAX)
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE",
                  "instance_pool_name must be a string of 1 to %d characters", POOL_NAME_MAX);
    else if (ctl_dbx_node_type(nt) < 0)
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE",
                  "Node type %.100s is not supported; GET /api/2.1/clusters/list-node-types "
                  "lists them",
                  nt ? nt : "(none given)");
    else if (old && strcmp(nt, dbx_str(old, "node_type_id")) != 0)
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE",
                  "The node type of an instance pool cannot change (it is %s)",
                  dbx_str(old, "node_type_id"));
    else if (mi && (!json_is_integer(mi) || json_integer_value(mi) < 0 ||
                    json_integer_value(mi) > POOL_IDLE_MAX))
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE",
                  "min_idle_instances must be an integer from 0 to %d", POOL_IDLE_MAX);
    else if (mc && (!json_is_integer(mc) || json_integer_value(mc) < 1 ||
                    json_integer_value(mc) > POOL_CAPACITY ||
                    json_integer_value(mc) < json_integer_value(mi)))
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE",
                  "max_capacity must be an integer from min_idle_instances (and 1) to %d",
                  POOL_CAPACITY);
    else if (at &&
             (!json_is_integer(at) || json_integer_value(at) < 0 || json_integer_value(at) > 10000))
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE",
                  "idle_instance_autotermination_minutes must be an integer from 0 to 10000");
    else
        return true;
    return false;
}

static void
apply(json_t *doc, const json_t *b)
{
    for (size_t i = 0; i < DBX_NELEM(keep); i++) {
        json_t *v = json_object_get(b, keep[i]);

        json_object_del(doc, keep[i]);
        if (v && !json_is_null(v))
            json_object_set(doc, keep[i], v);
    }
    if (json_object_get(doc, "min_idle_instances") == NULL)
        json_object_set_new(doc, "min_idle_instances", json_integer(0));
    if (json_object_get(doc, "idle_instance_autotermination_minutes") == NULL)
        json_object_set_new(doc, "idle_instance_autotermination_minutes",
                            json_integer(POOL_IDLE_MIN_DF));
}

static void
create(struct dbx_req *q)
{
    char base[40], id[48];
    json_t *doc;

    if (!fields_ok(q, q->body, NULL))
        return;
    if (dbx_count(q->d, q->ws.id, DBX_POOL) >= DBX_POOLS_MAX) {
        dbx_error(q, 400, "QUOTA_EXCEEDED",
                  "The workspace has %d instance pools, the most it may have", DBX_POOLS_MAX);
        return;
    }
    if (dbx_new_id(base, sizeof(base)) < 0 || (doc = json_object()) == NULL) {
        dbx_error(q, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    snprintf(id, sizeof(id), "%s-pool", base);
    json_object_set_new(doc, "instance_pool_id", json_string(id));
    apply(doc, q->body);
    json_object_set_new(doc, "state", json_string("ACTIVE"));
    json_object_set_new(doc, "status", json_pack("{s:[]}", "pending_instance_errors"));
    json_object_set_new(doc, "default_tags",
                        json_pack("{s:s, s:s, s:s, s:s}", "Vendor", "Databricks",
                                  "DatabricksInstancePoolCreatorId", q->user,
                                  "DatabricksInstancePoolId", id, "DatabricksInstanceGroupId", id));
    json_object_set_new(dbx_priv(doc), "ws_rid", json_string(q->ws.rid));
    dbx_put(q->d, q->ws.id, DBX_POOL, id, doc);
    dbx_reply(q, 200, json_pack("{s:s}", "instance_pool_id", id));
}

/* The pool named by instance_pool_id (not a deleted one), or NULL after a 400. */
static json_t *
find(struct dbx_req *q, char *id, size_t cap)
{
    json_t *doc;

    if (!dbx_param_id(q, "instance_pool_id", id, cap))
        return NULL;
    if ((doc = dbx_get(q->d, q->ws.id, DBX_POOL, id)) == NULL)
        dbx_error(q, 400, "RESOURCE_DOES_NOT_EXIST", "Instance pool %s does not exist", id);
    return doc;
}

static void
edit(struct dbx_req *q, json_t *doc, const char *id)
{
    if (strcmp(dbx_str(doc, "state"), "ACTIVE") != 0) {
        dbx_error(q, 400, "INVALID_STATE", "Instance pool %s is deleted", id);
        return;
    }
    if (!fields_ok(q, q->body, doc))
        return;
    apply(doc, q->body);
    dbx_save(q->d, q->ws.id, DBX_POOL, id);
    dbx_reply(q, 200, NULL);
}

/* delete: the tick deletes idle instances now, used ones when their
 * clusters end, then the pool. */
static void
drop(struct dbx_req *q, json_t *doc, const char *id)
{
    json_object_set_new(doc, "state", json_string("DELETED"));
    json_object_del(dbx_priv(doc), "demand");
    dbx_save(q->d, q->ws.id, DBX_POOL, id);
    dbx_reply(q, 200, NULL);
}

static int
by_id(const void *a, const void *b)
{
    const char *x = dbx_str(*(json_t *const *)a, "instance_pool_id");
    const char *y = dbx_str(*(json_t *const *)b, "instance_pool_id");

    return strcmp(x ? x : "", y ? y : "");
}

static void
list(struct dbx_req *q)
{
    json_t *out = json_array(), **v;
    size_t n;

    if ((v = dbx_sorted(q->d, q->ws.id, DBX_POOL, by_id, &n)) == NULL || out == NULL) {
        json_decref(out);
        dbx_error(q, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(dbx_str(v[i], "state"), "ACTIVE") == 0)
            json_array_append_new(out, shown(v[i]));
    scc_free(v);
    dbx_reply(q, 200,
              json_array_size(out) ? json_pack("{s:o}", "instance_pools", out)
                                   : (json_decref(out), json_object()));
}

void
dbx_pools_route(struct dbx_req *q)
{
    bool get = strcmp(q->method, "GET") == 0, post = strcmp(q->method, "POST") == 0;
    const char *op = q->op;
    char id[64];
    json_t *doc;

    if (get && strcmp(op, "list") == 0)
        list(q);
    else if (post && strcmp(op, "create") == 0)
        create(q);
    else if (!(get && strcmp(op, "get") == 0) &&
             !(post && (strcmp(op, "edit") == 0 || strcmp(op, "delete") == 0)))
        dbx_error(q, 404, "ENDPOINT_NOT_FOUND", "No API found for '%s /instance-pools/%s'",
                  q->method, op);
    else if ((doc = find(q, id, sizeof(id))) == NULL)
        return;
    else if (strcmp(op, "get") == 0)
        dbx_reply(q, 200, shown(doc));
    else if (strcmp(op, "edit") == 0)
        edit(q, doc, id);
    else
        drop(q, doc, id);
}
