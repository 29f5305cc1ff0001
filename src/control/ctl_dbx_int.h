/*
 * ctl_dbx_int.h - shared by the ctl_dbx*.c files only.
 *
 * Live objects are JSON documents on the loop, in the wire shape a GET
 * returns, plus one private member "_scc" that is never shown.  Every
 * change is written to the store in order (dbx_save); an answer that
 * follows a change is sent only once the store has it (dbx_reply), so a
 * kill -9 never loses what a client was told.
 */
#ifndef SCC_CONTROL_CTL_DBX_INT_H
#define SCC_CONTROL_CTL_DBX_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "ctl.h"
#include "ctl_arm.h"
#include "ctl_arm_id.h"
#include "ctl_dbx.h"

#define DBX_CLUSTER "cluster"
#define DBX_RUN     "run"
#define DBX_LOG     "log" /* a finished task's output, store only */
#define DBX_WH      "warehouse"
#define DBX_PRIV    "_scc"

#define DBX_LOGS_MAX     (5u << 20) /* the last bytes of a task's output kept, as Databricks */
#define DBX_CLUSTERS_MAX 1000       /* per workspace */
#define DBX_RUNS_MAX     2000       /* per workspace; the oldest finished go first */
/* --cluster-launch-timeout, --cluster-node-grace (seconds) */
#define DBX_LAUNCH_S(d)  ((int64_t)(d)->c->cfg->cluster_launch_s)
#define DBX_LOST_S(d)    ((int64_t)(d)->c->cfg->cluster_grace_s)
#define DBX_NODE_CALL_MS 10000 /* one request to a node */

#define DBX_NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* dbx_str - a string member, or NULL (any of them may be absent). */
static inline const char *
dbx_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

struct relay;
struct relay_call;
struct dbx_proxy;

struct dbx_ws {
    char id[24];              /* workspaceId: digits */
    char rid[CTL_ARM_ID_MAX]; /* its ARM resource id */
    char name[65];
};

struct dbx {
    struct ctl *c;
    struct relay *relay;
    json_t *objs;    /* "ws/kind/id" -> document */
    json_t *ws_keys; /* workspaceId -> the ARM cache's key of its workspace */
    struct event *tick;
    unsigned ticks;
    LIST_HEAD(, dbx_pending) pending; /* calls to nodes and to the ARM layer in flight */
    LIST_HEAD(, dbx_proxy) proxies;   /* driver-proxy connections (ctl_dbx_proxy.c) */
    size_t nproxies;
    bool stopping;
};

/* One request of the workspace API. */
struct dbx_req {
    struct dbx *d;
    struct dbx_ws ws;
    char user[64];
    char host[256]; /* the workspace's host name, without a port */
    const char *method;
    char op[64];  /* the path after /api/2.x/<area>/ */
    char *query;  /* owned, may be NULL */
    json_t *body; /* POST bodies; an empty object otherwise */
    ctl_arm_done_fn done;
    void *arg;
};

/* ---- ctl_dbx.c ---- */
/* dbx_authorize - the workspace of host, and may authorization's token use
 * it (public: no token needed)?  0 with ws and user filled, or SCC_EAUTH. */
int dbx_authorize(struct dbx *d, const char *host, const char *authorization, bool public,
                  struct dbx_ws *ws, char *user, size_t ucap);
void dbx_reply(struct dbx_req *q, int status, json_t *body); /* steals body; after pending saves */
void dbx_error(struct dbx_req *q, int status, const char *code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* dbx_query - a query parameter into out (URL-decoded); false if absent. */
bool dbx_query(const struct dbx_req *q, const char *key, char *out, size_t cap);
/* dbx_query_true - is query parameter key "true"? */
bool dbx_query_true(const struct dbx_req *q, const char *key);
/* dbx_page - limit (1 to max, default 20) and the offset of page_token
 * (or offset); false after answering 400. */
bool dbx_page(struct dbx_req *q, long long max, long long *limit, long long *off);
/* dbx_reply_page - {key: items, has_more} and, when next >= 0, the token
 * of the page from offset next. */
void dbx_reply_page(struct dbx_req *q, const char *key, json_t *items, long long next);
/* dbx_ws_get - workspace wsid (as requests see it); false if it is gone. */
bool dbx_ws_get(struct dbx *d, const char *wsid, struct dbx_ws *out);
/* dbx_req_internal - a request of sccd's own (a schedule's run) in
 * workspace wsid as user, with an empty body; its answer goes to done.
 * NULL: no such workspace, or out of memory. */
struct dbx_req *dbx_req_internal(struct dbx *d, const char *wsid, const char *user,
                                 ctl_arm_done_fn done, void *arg);
/* dbx_param - a string parameter: the body's, else the query's. */
const char *dbx_param(struct dbx_req *q, const char *key, char *buf, size_t cap);
/* dbx_param_id - a required id parameter copied into id; false after
 * answering 400 "Missing required field". */
bool dbx_param_id(struct dbx_req *q, const char *key, char *id, size_t cap);

json_t *dbx_get(struct dbx *d, const char *ws, const char *kind, const char *id); /* borrowed */
void dbx_put(struct dbx *d, const char *ws, const char *kind, const char *id, json_t *doc);
void dbx_del(struct dbx *d, const char *ws, const char *kind, const char *id);
/* dbx_save - queue doc's write (after a change to it). */
void dbx_save(struct dbx *d, const char *ws, const char *kind, const char *id);
/* dbx_each - every document of kind in ws, in no order. */
void dbx_each(struct dbx *d, const char *ws, const char *kind,
              void (*fn)(struct dbx *d, const char *id, json_t *doc, void *arg), void *arg);
/* dbx_count - how many documents of kind ws has. */
size_t dbx_count(struct dbx *d, const char *ws, const char *kind);
/* dbx_sorted - the documents of kind in ws (borrowed), sorted by cmp, in
 * an array to scc_free (NULL: out of memory); their count into n. */
json_t **dbx_sorted(struct dbx *d, const char *ws, const char *kind,
                    int (*cmp)(const void *, const void *), size_t *n);
/* dbx_public - a copy without the private member. */
json_t *dbx_public(const json_t *doc);
json_t *dbx_priv(json_t *doc);
int64_t dbx_now(void);

/* In-process calls: to the ARM layer (as the platform) and to a node.
 * An ARM callback gets its context back unless sccd is stopping (the
 * context is then scc_free'd: keep it flat); a node callback always runs,
 * with SCC_ECLOSED when sccd stops, and owns its context. */
typedef void (*dbx_arm_cb)(struct dbx *d, void *ctx, const struct ctl_arm_resp *resp);
void dbx_arm(struct dbx *d, const char *method, const char *path, json_t *body, dbx_arm_cb cb,
             void *ctx);
typedef void (*dbx_node_cb)(struct dbx *d, void *ctx, int status, const char *body, size_t len);
/* dbx_node - a request to node "ws/cluster/node"; false: not connected
 * (cb will not run). */
bool dbx_node(struct dbx *d, const char *node, const char *method, const char *path,
              const char *body, size_t max, dbx_node_cb cb, void *ctx);
bool dbx_node_connected(struct dbx *d, const char *node);
/* dbx_store_get - a document of the store only (DBX_LOG), on the worker;
 * cb gets its text or NULL. */
void dbx_store_get(struct dbx *d, const char *ws, const char *kind, const char *id,
                   void (*cb)(struct dbx *d, void *ctx, const char *text), void *ctx);
/* dbx_store_put - write (text, taken) or delete (NULL) a store-only document. */
void dbx_store_put(struct dbx *d, const char *ws, const char *kind, const char *id, char *text);

/* ---- ctl_dbx_vm.c: a document's VMs, through the workspace's actions ---- */
#define DBX_ARM_API_VERSION "api-version=2024-05-01"
/* The answer to a document's call, with its document (found again by id:
 * not called if it was deleted meanwhile), no longer busy. */
typedef void (*dbx_vm_cb)(struct dbx *d, const char *ws, const char *id, json_t *doc,
                          const struct ctl_arm_resp *resp);
/* dbx_vm_call - an ARM call for document (ws, kind, id), marked busy until
 * it answers; body is taken.  false: out of memory (no call). */
bool dbx_vm_call(struct dbx *d, const char *ws, const char *kind, const char *id, json_t *doc,
                 const char *method, const char *path, json_t *body, dbx_vm_cb cb);
/* dbx_vm_create - createNodes: count VMs named in group (clusterName),
 * in the workspace of the document's private "ws_rid". */
bool dbx_vm_create(struct dbx *d, const char *ws, const char *kind, const char *id, json_t *doc,
                   json_int_t count, const char *group, dbx_vm_cb cb);
/* dbx_vm_recovering - was a createNodes of the document in flight when
 * sccd stopped (its VMs may exist unrecorded)?  Its owner finds them, then
 * the mark goes with the answer of the next call. */
bool dbx_vm_recovering(json_t *doc);
/* dbx_vm_find - list the workspace's VMs (answer for dbx_vm_unknown). */
bool dbx_vm_find(struct dbx *d, const char *ws, const char *kind, const char *id, json_t *doc,
                 dbx_vm_cb cb);
/* dbx_vm_unknown - the names of the listed VMs of group (tag ClusterName)
 * that no member of known ([{name}]) has. */
json_t *dbx_vm_unknown(const struct ctl_arm_resp *resp, const char *group, const json_t *known);
/* dbx_vm_delete - deleteNodes with what ({"clusterName"} or {"nodes"}, taken). */
bool dbx_vm_delete(struct dbx *d, const char *ws, const char *kind, const char *id, json_t *doc,
                   json_t *what, dbx_vm_cb cb);
/* dbx_vm_err - an ARM error answer's code and message. */
void dbx_vm_err(const struct ctl_arm_resp *resp, char *code, size_t ccap, char *msg, size_t mcap);
/* dbx_vm_busy - refused because the workspace runs another operation? */
bool dbx_vm_busy(const struct ctl_arm_resp *resp);
/* dbx_vm_keep_op - note an LRO answer's status URL as private "op". */
void dbx_vm_keep_op(json_t *doc, const struct ctl_arm_resp *resp);
/* dbx_vm_list - createNodes' VMs as nodes: [{vm, name, node, nic, host_nic}]. */
json_t *dbx_vm_list(const struct ctl_arm_resp *resp);
/* dbx_vm_op_status - an operation poll's outcome (DBX_OP_*), its error's
 * code and message. */
enum { DBX_OP_RUNNING, DBX_OP_DONE, DBX_OP_FAILED, DBX_OP_GONE };
int dbx_vm_op_status(const struct ctl_arm_resp *resp, char *code, size_t ccap, char *msg,
                     size_t mcap);

/* ---- ctl_dbx_cluster.c ---- */
void dbx_clusters_route(struct dbx_req *q);
void dbx_clusters_tick(struct dbx *d, const char *ws, const char *id, json_t *doc);
/* dbx_cluster_driver - the node identity of a RUNNING cluster's driver,
 * or NULL. */
const char *dbx_cluster_driver(json_t *cluster);
/* dbx_cluster_new - a cluster of spec (checked by the caller) in ws,
 * PENDING: the tick launches it.  source: "API", "JOB".  Its id into id;
 * 0, SCC_EBUSY (DBX_CLUSTERS_MAX reached) or SCC_ENOMEM. */
int dbx_cluster_new(struct dbx *d, const struct dbx_ws *ws, const json_t *spec, const char *user,
                    const char *source, char *id, size_t cap);
/* dbx_cluster_end - terminate it with code (SUCCESS type) unless ending. */
void dbx_cluster_end(struct dbx *d, const char *ws, const char *id, const char *code);
/* dbx_cluster_visible - does it exist for clients?  Not when permanently
 * deleted, nor when it is a SQL warehouse's (hidden). */
bool dbx_cluster_visible(json_t *cluster);
/* dbx_cluster_touch - note activity (autotermination counts from it). */
void dbx_cluster_touch(json_t *cluster);
/* dbx_cluster_wake - a run wants it: start a TERMINATED one; note activity. */
void dbx_cluster_wake(struct dbx *d, const char *ws, const char *id, json_t *doc, const char *user);

/* dbx_new_id - MMDD-HHMMSS-xxxxxxxx, as Databricks' cluster ids look. */
int dbx_new_id(char *out, size_t cap);

/* ---- ctl_dbx_pool.c ---- */
#define DBX_POOL      "pool"
#define DBX_POOLS_MAX 100 /* per workspace */
void dbx_pools_route(struct dbx_req *q);
void dbx_pools_tick(struct dbx *d, const char *ws, const char *id, json_t *doc);
/* dbx_pool_spec_ok - do a cluster spec's pools exist?  false after a 400
 * (its message starts with what). */
bool dbx_pool_spec_ok(struct dbx_req *q, const json_t *spec, const char *what);
/* dbx_pool_node_type - an ACTIVE pool's node type, or NULL. */
const char *dbx_pool_node_type(struct dbx *d, const char *ws, const char *pool);
/* dbx_pool_take - nodes for cluster cid: its driver from dpool (NULL: no
 * driver, a resize), workers from pool (the same pool or not), all at
 * once.  0 with *nodes (driver first); SCC_EBUSY: asked for, not idle yet
 * (ask again); SCC_EINVAL: they cannot come, code and msg say why
 * (INSTANCE_POOL_*). */
int dbx_pool_take(struct dbx *d, const char *ws, const char *cid, const char *dpool,
                  const char *pool, size_t workers, json_t **nodes, char *code, size_t ccap,
                  char *msg, size_t mcap);
/* dbx_pool_drop - cluster cid no longer uses the instances of pool named
 * in names (a shrink): they are deleted. */
void dbx_pool_drop(struct dbx *d, const char *ws, const char *pool, const char *cid,
                   const json_t *names);
/* dbx_pool_release - cluster cid ended: its request is withdrawn and the
 * instances it used are deleted. */
void dbx_pool_release(struct dbx *d, const char *ws, const char *pool, const char *cid);

/* ---- ctl_dbx_proxy.c ---- */
#define DBX_PROXIES_MAX 256 /* driver-proxy connections at once */
void dbx_proxies_close(struct dbx *d);

/* ---- ctl_dbx_wh.c ---- */
void dbx_warehouses_route(struct dbx_req *q);

/* ---- ctl_dbx_job.c ---- */
#define DBX_JOB      "job"
#define DBX_JOBS_MAX 1000 /* per workspace */
void dbx_jobs_route(struct dbx_req *q);
/* dbx_job_has_room - may run, queued for job, start now?  The job has
 * fewer active (not queued) runs than its max_concurrent_runs, and no
 * queued run older than this one. */
bool dbx_job_has_room(struct dbx *d, const char *ws, const json_t *job, const json_t *run);
/* dbx_job_due - is the job's schedule due now?  dbx_jobs_tick - start its
 * run (not during a walk of the documents: it adds some). */
bool dbx_job_due(const json_t *job);
void dbx_jobs_tick(struct dbx *d, const char *ws, const char *id, json_t *job);

/* ---- ctl_dbx_run.c ---- */
void dbx_runs_route(struct dbx_req *q);
/* dbx_runs_check - are spec's tasks (a job's settings) runnable?  false
 * after answering 400. */
bool dbx_runs_check(struct dbx_req *q, const json_t *spec);
/* dbx_run_start - a run of spec (runs/submit's body, or a job's settings
 * with job_id > 0) admitted as admit says (a job's run past its
 * max_concurrent_runs: skipped, or queued when its queue is enabled): its
 * id into rid; false after answering. */
enum dbx_admit { DBX_RUN_NOW, DBX_RUN_SKIP, DBX_RUN_QUEUE };
bool dbx_run_start(struct dbx_req *q, const json_t *spec, json_int_t job_id, enum dbx_admit admit,
                   json_int_t *rid);
void dbx_runs_tick(struct dbx *d, const char *ws, json_t *run);
/* dbx_run_queued - is run waiting in its job's queue?  (Its tick may then
 * make clusters: not during a walk of the documents.) */
bool dbx_run_queued(const json_t *run);

#endif /* SCC_CONTROL_CTL_DBX_INT_H */
