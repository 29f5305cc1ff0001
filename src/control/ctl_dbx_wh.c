/*
 * ctl_dbx_wh.c - SQL warehouses (databricks-compat.md §6):
 * /api/2.0/sql/warehouses[/{id}[/edit|/start|/stop]].
 *
 * A classic or pro warehouse runs in the customer's network, so here it is
 * a cluster of the workspace's VMs (cluster_source SQL, hidden from the
 * clusters API) sized by cluster_size, whose agents hold tunnels to the
 * relay like any node's.  The warehouse's state and health are read from
 * that cluster whenever it is shown: STARTING while it is PENDING, RUNNING,
 * STOPPING, STOPPED; a cluster that ended for another reason than a stop
 * makes the warehouse's health FAILED with that reason.  auto_stop_mins is
 * the cluster's autotermination.  Serverless warehouses do not run in the
 * customer's network, so they are refused.
 */
#include "ctl_dbx_int.h"

#include "common/encode.h"
#include "common/err.h"
#include "common/json.h"

#include <stdio.h>
#include <string.h>

#define WH_NAME_MAX 100
#define WH_MAX      100 /* per workspace */

/* cluster_size -> workers of its cluster (the driver is one more node). */
static const struct {
    const char *size;
    int workers;
} sizes[] = {{"2X-Small", 0}, {"X-Small", 1},   {"Small", 2},     {"Medium", 4},   {"Large", 8},
             {"X-Large", 16}, {"2X-Large", 32}, {"3X-Large", 64}, {"4X-Large", 99}};

/* The fields a warehouse keeps from create and edit. */
static const char *const keep[] = {
        "name",           "cluster_size",  "min_num_clusters", "max_num_clusters",
        "auto_stop_mins", "enable_photon", "warehouse_type",   "spot_instance_policy",
        "channel",        "tags"};

static int
size_index(const char *size)
{
    for (size_t i = 0; size && i < DBX_NELEM(sizes); i++)
        if (strcmp(sizes[i].size, size) == 0)
            return (int)i;
    return -1;
}

struct name_scan {
    const char *name, *except;
    bool taken;
};

static void
name_one(struct dbx *d, const char *id, json_t *doc, void *arg)
{
    struct name_scan *n = arg;

    (void)d;
    if ((n->except == NULL || strcmp(id, n->except) != 0) && dbx_str(doc, "name") &&
        strcmp(dbx_str(doc, "name"), n->name) == 0)
        n->taken = true;
}

/* Check create or edit fields (edit: only those given); false after a 4xx. */
static bool
fields_ok(struct dbx_req *q, const json_t *b, bool create, const char *id)
{
    const json_t *mn = json_object_get(b, "min_num_clusters"),
                 *mx = json_object_get(b, "max_num_clusters"),
                 *as = json_object_get(b, "auto_stop_mins"), *nm = json_object_get(b, "name");
    struct name_scan ns = {.name = json_string_value(nm), .except = id};

    if (ns.name)
        dbx_each(q->d, q->ws.id, DBX_WH, name_one, &ns);
    if ((create || nm) && (!json_is_string(nm) || json_string_length(nm) == 0 ||
                           json_string_length(nm) > WH_NAME_MAX))
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE", "name must be a string of 1 to %d characters",
                  WH_NAME_MAX);
    else if (ns.taken)
        dbx_error(q, 409, "RESOURCE_ALREADY_EXISTS", "A warehouse named %.100s already exists",
                  ns.name);
    else if ((create || json_object_get(b, "cluster_size")) &&
             size_index(dbx_str(b, "cluster_size")) < 0)
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE",
                  "cluster_size must be one of 2X-Small, X-Small, Small, Medium, Large, X-Large, "
                  "2X-Large, 3X-Large, 4X-Large");
    else if ((mn && (!json_is_integer(mn) || json_integer_value(mn) < 1)) ||
             (mx && (!json_is_integer(mx) || json_integer_value(mx) > 40 ||
                     json_integer_value(mx) < (mn ? json_integer_value(mn) : 1))))
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE",
                  "min_num_clusters must be at least 1 and max_num_clusters from it to 40");
    else if (as &&
             (!json_is_integer(as) || (json_integer_value(as) != 0 && json_integer_value(as) < 10)))
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE", "auto_stop_mins must be 0 or at least 10");
    else if (json_is_true(json_object_get(b, "enable_serverless_compute")))
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE",
                  "Serverless warehouses do not run in the workspace's network; this control "
                  "plane runs classic and pro warehouses only");
    else
        return true;
    return false;
}

/* ---- the cluster behind a warehouse ---- */

static int
cluster_of(struct dbx *d, const struct dbx_ws *ws, json_t *wh, const char *user, char *id,
           size_t cap)
{
    int i = size_index(dbx_str(wh, "cluster_size"));
    json_int_t stop = json_object_get(wh, "auto_stop_mins")
                              ? json_integer_value(json_object_get(wh, "auto_stop_mins"))
                              : 120;
    json_t *spec = json_pack("{s:s, s:s, s:i, s:I}", "cluster_name", dbx_str(wh, "name"),
                             "spark_version", ctl_dbx_versions[0].key, "num_workers",
                             sizes[i < 0 ? 0 : i].workers, "autotermination_minutes", stop);
    json_t *cl;
    int rc;

    if (spec == NULL)
        return SCC_ENOMEM;
    rc = dbx_cluster_new(d, ws, spec, user, "SQL", id, cap);
    json_decref(spec);
    if (rc == 0 && (cl = dbx_get(d, ws->id, DBX_CLUSTER, id)) != NULL) {
        json_object_set_new(dbx_priv(cl), "hidden", json_true());
        dbx_save(d, ws->id, DBX_CLUSTER, id);
        json_object_set_new(dbx_priv(wh), "cluster", json_string(id));
    }
    return rc;
}

static json_t *
cluster(struct dbx *d, const char *ws, json_t *wh)
{
    const char *cid = dbx_str(dbx_priv(wh), "cluster");

    return cid ? dbx_get(d, ws, DBX_CLUSTER, cid) : NULL;
}

/* What a GET shows: the fields, and state and health from the cluster. */
static json_t *
shown(struct dbx *d, const char *ws, json_t *wh)
{
    json_t *o = dbx_public(wh), *cl = cluster(d, ws, wh), *reason;
    const char *st = cl ? dbx_str(cl, "state") : "TERMINATED", *state;
    const char *type;
    bool failed;

    state = strcmp(st, "PENDING") == 0       ? "STARTING"
            : strcmp(st, "TERMINATING") == 0 ? "STOPPING"
            : strcmp(st, "TERMINATED") == 0  ? "STOPPED"
                                             : "RUNNING";
    reason = cl ? json_object_get(cl, "termination_reason") : NULL;
    type = dbx_str(reason, "type");
    failed = strcmp(state, "STOPPED") == 0 && type && strcmp(type, "SUCCESS") != 0;
    json_object_set_new(o, "state", json_string(state));
    json_object_set_new(o, "num_clusters", json_integer(strcmp(state, "STOPPED") ? 1 : 0));
    json_object_set_new(o, "num_active_sessions", json_integer(0));
    json_object_set_new(
            o, "health",
            failed ? json_pack("{s:s, s:s, s:s, s:O}", "status", "FAILED", "summary",
                               "The warehouse's cluster could not run", "message",
                               dbx_str(cl, "state_message") ? dbx_str(cl, "state_message") : "",
                               "failure_reason", reason)
                   : json_pack("{s:s, s:s}", "status", "HEALTHY", "summary", ""));
    return o;
}

/* ---- the requests ---- */

static void
create(struct dbx_req *q)
{
    char id[17], cid[32];
    uint8_t r[8];
    json_t *wh;
    int rc;

    size_t n = 0;

    if (!fields_ok(q, q->body, true, NULL))
        return;
    n = dbx_count(q->d, q->ws.id, DBX_WH);
    if (n >= WH_MAX) {
        dbx_error(q, 400, "QUOTA_EXCEEDED",
                  "The workspace has %zu warehouses, the most it may have", n);
        return;
    }
    if (scc_rand_bytes(r, sizeof(r)) < 0 || scc_hex_encode(r, sizeof(r), id, sizeof(id)) < 0 ||
        (wh = json_object()) == NULL) {
        dbx_error(q, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    for (size_t i = 0; i < DBX_NELEM(keep); i++)
        if (json_object_get(q->body, keep[i]))
            json_object_set(wh, keep[i], json_object_get(q->body, keep[i]));
    json_object_set_new(wh, "id", json_string(id));
    json_object_set_new(wh, "creator_name", json_string(q->user));
    if (json_object_get(wh, "warehouse_type") == NULL)
        json_object_set_new(wh, "warehouse_type", json_string("PRO"));
    json_object_set_new(wh, "enable_serverless_compute", json_false());
    json_object_set_new(wh, "jdbc_url",
                        json_sprintf("jdbc:spark://%s:443/default;transportMode=http;ssl=1;"
                                     "AuthMech=3;httpPath=/sql/1.0/warehouses/%s",
                                     q->host, id));
    json_object_set_new(wh, "odbc_params",
                        json_pack("{s:s, s:o, s:s, s:i}", "hostname", q->host, "path",
                                  json_sprintf("/sql/1.0/warehouses/%s", id), "protocol", "https",
                                  "port", 443));
    if ((rc = cluster_of(q->d, &q->ws, wh, q->user, cid, sizeof(cid))) < 0) {
        json_decref(wh);
        dbx_error(q, rc == SCC_EBUSY ? 400 : 500,
                  rc == SCC_EBUSY ? "QUOTA_EXCEEDED" : "INTERNAL_ERROR",
                  "No cluster for the warehouse: %s", scc_strerror(rc));
        return;
    }
    dbx_put(q->d, q->ws.id, DBX_WH, id, wh);
    dbx_reply(q, 200, json_pack("{s:s}", "id", id));
}

struct listing {
    const char *ws;
    json_t *out;
};

static void
list_one(struct dbx *d, const char *id, json_t *wh, void *arg)
{
    struct listing *l = arg;

    (void)id;
    json_array_append_new(l->out, shown(d, l->ws, wh));
}

static void
list(struct dbx_req *q)
{
    struct listing l = {q->ws.id, json_array()};

    dbx_each(q->d, q->ws.id, DBX_WH, list_one, &l);
    dbx_reply(q, 200,
              json_array_size(l.out) ? json_pack("{s:o}", "warehouses", l.out)
                                     : (json_decref(l.out), json_object()));
}

static void
start(struct dbx_req *q, const char *id, json_t *wh)
{
    json_t *cl = cluster(q->d, q->ws.id, wh);
    char cid[32];

    if (cl == NULL) {
        if (cluster_of(q->d, &q->ws, wh, q->user, cid, sizeof(cid)) < 0) {
            dbx_error(q, 400, "QUOTA_EXCEEDED", "No cluster for the warehouse");
            return;
        }
        dbx_save(q->d, q->ws.id, DBX_WH, id);
    } else if (strcmp(dbx_str(cl, "state"), "TERMINATED") == 0) {
        dbx_cluster_wake(q->d, q->ws.id, dbx_str(cl, "cluster_id"), cl, q->user);
    }
    dbx_reply(q, 200, NULL);
}

/* The cluster goes: now if it has ended, else once it has (the tick). */
static void
forget(struct dbx_req *q, json_t *cl)
{
    const char *cid = dbx_str(cl, "cluster_id");

    if (strcmp(dbx_str(cl, "state"), "TERMINATED") == 0) {
        dbx_del(q->d, q->ws.id, DBX_CLUSTER, cid);
        return;
    }
    json_object_set_new(dbx_priv(cl), "permanent", json_true());
    dbx_save(q->d, q->ws.id, DBX_CLUSTER, cid);
}

static void
stop(struct dbx_req *q, json_t *wh, bool gone)
{
    json_t *cl = cluster(q->d, q->ws.id, wh);

    if (cl == NULL)
        return;
    dbx_cluster_end(q->d, q->ws.id, dbx_str(cl, "cluster_id"), "USER_REQUEST");
    if (gone)
        forget(q, cl);
}

/* edit: the fields given; a new size or auto-stop applies from the next start. */
static void
edit(struct dbx_req *q, const char *id, json_t *wh)
{
    json_t *cl = cluster(q->d, q->ws.id, wh);

    if (!fields_ok(q, q->body, false, id))
        return;
    for (size_t i = 0; i < DBX_NELEM(keep); i++)
        if (json_object_get(q->body, keep[i]))
            json_object_set(wh, keep[i], json_object_get(q->body, keep[i]));
    /* A stopped warehouse's cluster is made again, to the new size, at start. */
    if (cl && strcmp(dbx_str(cl, "state"), "TERMINATED") == 0) {
        forget(q, cl);
        json_object_del(dbx_priv(wh), "cluster");
    }
    dbx_save(q->d, q->ws.id, DBX_WH, id);
    dbx_reply(q, 200, NULL);
}

void
dbx_warehouses_route(struct dbx_req *q)
{
    char id[32] = "", sub[16] = "";
    bool get = strcmp(q->method, "GET") == 0, post = strcmp(q->method, "POST") == 0;
    json_t *wh;

    if (q->op[0] == '\0') {
        if (post)
            create(q);
        else if (get)
            list(q);
        else
            dbx_error(q, 404, "ENDPOINT_NOT_FOUND", "No API found for '%s /sql/warehouses'",
                      q->method);
        return;
    }
    if (sscanf(q->op, "%31[0-9a-f]/%15s", id, sub) < 1 ||
        (wh = dbx_get(q->d, q->ws.id, DBX_WH, id)) == NULL) {
        dbx_error(q, 404, "RESOURCE_DOES_NOT_EXIST", "Warehouse %.40s does not exist", q->op);
        return;
    }
    if (get && sub[0] == '\0')
        dbx_reply(q, 200, shown(q->d, q->ws.id, wh));
    else if (post && strcmp(sub, "start") == 0)
        start(q, id, wh);
    else if (post && strcmp(sub, "stop") == 0) {
        stop(q, wh, false);
        dbx_reply(q, 200, NULL);
    } else if (post && strcmp(sub, "edit") == 0)
        edit(q, id, wh);
    else if (strcmp(q->method, "DELETE") == 0 && sub[0] == '\0') {
        stop(q, wh, true);
        dbx_del(q->d, q->ws.id, DBX_WH, id);
        dbx_reply(q, 200, NULL);
    } else
        dbx_error(q, 404, "ENDPOINT_NOT_FOUND", "No API found for '%s /sql/warehouses/%s'",
                  q->method, q->op);
}
