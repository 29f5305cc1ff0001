/*
 * ctl_arm_int.h - shared by ctl_arm*.c and ctl_net*.c only.
 *
 * A request becomes a struct arm_call.  Handlers validate what they can
 * on the loop, then submit a worker job (arm_submit) that does the store
 * work in one transaction and builds the answer; the job's done callback
 * applies the transaction's cache changes, schedules any operation it
 * started, and answers.  A handler that needs no store answers at once
 * (arm_finish).  The reply helpers work on either thread.
 */
#ifndef SCC_CONTROL_CTL_ARM_INT_H
#define SCC_CONTROL_CTL_ARM_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "ctl.h"
#include "ctl_arm.h"
#include "ctl_arm_id.h"
#include "ctl_store_arm.h"

struct scc_map;
struct arm_timer;

/* Canonical names. */
#define ARM_NS_DATABRICKS "Microsoft.Databricks"
#define ARM_NS_NETWORK    "Microsoft.Network"
#define ARM_NS_RESOURCES  "Microsoft.Resources"
#define ARM_NS_IDENTITY   "Microsoft.ManagedIdentity"
#define ARM_NS_COMPUTE    "Microsoft.Compute"
#define ARM_NS_STORAGE    "Microsoft.Storage"
#define ARM_T_SUB         "Microsoft.Resources/subscriptions"
#define ARM_T_RG          "Microsoft.Resources/resourceGroups"
#define ARM_T_WS          "Microsoft.Databricks/workspaces"

/* One cached GET body. */
struct arm_entry {
    char *text;
    size_t len;
    char *locked_by; /* resource groups: the workspace holding the deny assignment */
};

struct arm_token {
    char hash[SCC_TOKEN_HASH_LEN + 1];
    char scope[SCC_TOKEN_SCOPE_MAX];
    int64_t expires_ms, revoked_ms;
};

struct ctl_arm {
    struct ctl *c;
    struct scc_map *cache;  /* lowercase id -> struct arm_entry */
    struct scc_map *tokens; /* token id -> struct arm_token */
    struct arm_timer *timers;
    size_t inflight; /* worker jobs whose done has not run */
    bool stopping;
    char default_sub[37];
};

/* A cache update recorded by a worker job, applied by its done callback. */
struct arm_change {
    struct arm_change *next;
    char *id_lc;
    char *text; /* NULL: the row is gone */
    char *locked_by;
};

struct arm_call;
typedef void (*arm_job_fn)(struct arm_call *k);

struct arm_call {
    struct ctl *c;
    struct ctl_arm *arm;
    char method[16];
    struct ctl_arm_target t;
    char api_version[48];
    char host[256];
    char query[512]; /* raw, for $expand, forceDeletion, ... */
    /* If-Match / If-None-Match, "" when absent; an over-long one is kept
     * as "\n", which no etag matches. */
    char if_match[128], if_none_match[128];
    json_t *body; /* the request body, an object, or NULL */
    struct ctl_principal who;
    ctl_arm_done_fn done;
    void *done_arg;
    struct ctl_arm_resp resp;
    struct arm_change *changes;
    char run_op[40]; /* an operation the job started, scheduled by done */
    int64_t now_ms;
    arm_job_fn job;
    void *ctx; /* handler data */
    void (*ctx_free)(void *ctx);
    bool quiet; /* the provider's own status writes: no round for them (ctl_wire.h) */
    bool round; /* ask the provider for a round once committed, whatever changed */
};

/* ---- ctl_arm.c ---- */

/* arm_cache_get - the cached body of id (any casing), or NULL.  Loop only. */
const struct arm_entry *arm_cache_get(struct ctl_arm *arm, const char *id);
/* arm_get_cached - answer a GET of k->t's resource from the cache, or the
 * most specific 404 (subscription, group, resource).  Does not finish k. */
void arm_get_cached(struct arm_call *k);
/* arm_cache_apply - install a job's changes (loop). */
void arm_cache_apply(struct ctl_arm *arm, struct arm_change *changes);
/* arm_cache_load - fill the cache from the store (start-up, worker). */
int arm_cache_load(struct ctl *c, struct arm_change **out);

/* Reply helpers (either thread). */
void arm_error(struct arm_call *k, int status, const char *code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
void arm_reply(struct arm_call *k, int status, json_t *body); /* steals body; NULL: none */
void arm_reply_text(struct arm_call *k, int status, char *text, size_t len); /* steals text */
void arm_header(struct arm_call *k, const char *name, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
bool arm_replied(const struct arm_call *k);

/* JSON helpers shared by the handlers. */
char *arm_dumps(const json_t *v, size_t *len); /* compact, scc_malloc'd */
json_t *arm_loads(const char *text);
/* arm_str - a string member, case-insensitive key; NULL if absent.  A
 * present non-string sets a 400 and *bad. */
const char *arm_str(struct arm_call *k, const json_t *obj, const char *key, const char *what,
                    bool *bad);
/* arm_check_tags - tags must be an object of strings (ARM's limits). */
bool arm_check_tags(struct arm_call *k, const json_t *tags);
/* arm_location - normalised location ("East US" -> "eastus"); false and a
 * 400 when invalid. */
bool arm_location(struct arm_call *k, const char *in, char *out, size_t cap);
/* arm_system_data - ARM's systemData object for a write by k->who. */
json_t *arm_system_data(struct arm_call *k, const json_t *old);
/* arm_etag - W/"<guid>" into out (48 bytes). */
void arm_etag(char out[48]);
/* arm_time - ARM's 7-digit UTC timestamp of ms into out (40 bytes). */
void arm_time(int64_t ms, char out[40]);

/* ---- ctl_arm_job.c ---- */

struct arm_call *arm_call_new(struct ctl *c, const struct ctl_principal *who, ctl_arm_done_fn done,
                              void *arg);
/* arm_finish - answer and free k (loop). */
void arm_finish(struct arm_call *k);
/* arm_submit - run fn on the worker, then apply, schedule and answer. */
void arm_submit(struct arm_call *k, arm_job_fn fn);

/* Worker side.  arm_tx_begin answers 503 itself on failure. */
int arm_tx_begin(struct arm_call *k);
/* arm_tx_end - commit when rc >= 0 and no error answer was set, else roll
 * back and forget the changes; a failed commit answers 503.  Returns rc or
 * the commit's error. */
int arm_tx_end(struct arm_call *k, int rc);
/* arm_store_error - answer 503 for a store failure rc and return rc. */
int arm_store_error(struct arm_call *k, int rc);

int arm_row_get(struct arm_call *k, const char *id, struct ctl_arm_row *out);
/* arm_precondition - worker: the request's If-Match / If-None-Match
 * against the etag of id's stored body (body: that body, NULL when id
 * does not exist).  False, with 412 PreconditionFailed answered, when
 * they do not hold. */
bool arm_precondition(struct arm_call *k, const json_t *body);
/* arm_row_put - write r and record its cache change. */
int arm_row_put(struct arm_call *k, const struct ctl_arm_row *r);
/* arm_row_put_json - r with body replaced by the compact dump of body. */
int arm_row_put_json(struct arm_call *k, const struct ctl_arm_row *r, const json_t *body);
/* arm_row_del - remove id with its refs and addresses, record the change. */
int arm_row_del(struct arm_call *k, const char *id);
/* arm_row_init - a row whose strings are borrowed from the arguments (the
 * name is id's last segment); body and locked_by start NULL. */
void arm_row_init(struct ctl_arm_row *r, const char *id, const char *sub, const char *rg,
                  const char *type, int64_t now_ms);

/* ---- ctl_arm_auth.c ---- */

int arm_tokens_load(struct ctl *c);
/* arm_scope_allows - may who act on t?  A 403 is set when not. */
bool arm_scope_allows(struct arm_call *k);

/* ---- ctl_arm_lro.c ---- */

/* A step runs inside a transaction: >0 more steps follow, 0 the operation
 * succeeded, <0 it failed (op->error_code/message say why when the step
 * knows).  A failed step's transaction is rolled back; the kind's fail
 * function then records the failure on the resource in a new one. */
typedef int (*arm_step_fn)(struct arm_call *k, struct ctl_arm_op *op, json_t *payload);

/* arm_op_start - record a new InProgress operation (worker, inside the
 * caller's transaction) and have done schedule it. */
int arm_op_start(struct arm_call *k, const char *ns, const char *loc, const char *kind,
                 const char *res_id, json_t *payload, char op_id[40]);
/* arm_op_done_now - record an operation that already finished (network
 * writes complete in their own transaction). */
int arm_op_done_now(struct arm_call *k, const char *ns, const char *loc, const char *kind,
                    const char *res_id, char op_id[40]);
void arm_op_set_error(struct ctl_arm_op *op, const char *code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* arm_lro_headers - Azure-AsyncOperation (async), Location (location) and
 * Retry-After for op. */
void arm_lro_headers(struct arm_call *k, const char *ns, const char *loc, const char *op_id,
                     bool async, bool location);
void arm_lro_schedule(struct ctl_arm *arm, const char *op_id, bool first);
int arm_lro_resume(struct ctl *c);
void arm_lro_stop(struct ctl_arm *arm);
void arm_op_status(struct arm_call *k); /* GET .../operationStatuses/{id} */
void arm_op_result(struct arm_call *k); /* GET .../operationResults/{id} */
/* arm_op_busy - 409 if res_id has an operation in progress (worker). */
bool arm_op_busy(struct arm_call *k, const char *res_id);

/* ---- ctl_arm_sub.c ---- */

int arm_subs_init(struct ctl *c); /* start-up: the default subscription */
void arm_sub_route(struct arm_call *k);
void arm_prov_route(struct arm_call *k);
/* arm_sub_exists - worker; 404 SubscriptionNotFound when not. */
bool arm_sub_exists(struct arm_call *k, const char *sub);
/* arm_ns_registered - worker; 409 MissingSubscriptionRegistration when not. */
bool arm_ns_registered(struct arm_call *k, const char *sub, const char *ns, const char *why);
/* arm_ns_canonical - "Microsoft.Network" for any casing, or NULL. */
const char *arm_ns_canonical(const char *ns);

/* ---- ctl_arm_rg.c ---- */

void arm_rg_route(struct arm_call *k);
void arm_list_route(struct arm_call *k);
/* arm_rg_get - worker: the group row; 404 ResourceGroupNotFound when absent. */
int arm_rg_get(struct arm_call *k, const char *sub, const char *rg, struct ctl_arm_row *out);
/* arm_rg_create_locked - the managed resource group of a workspace. */
int arm_rg_create_locked(struct arm_call *k, const char *rg_id, const char *location,
                         const char *ws_id);
/* arm_rg_delete_all - delete a group and everything in it (worker, in a
 * transaction; workspaces inside are deleted with their managed groups). */
int arm_rg_delete_all(struct arm_call *k, const char *rg_id);
int arm_rg_del_step(struct arm_call *k, struct ctl_arm_op *op, json_t *payload);
int arm_rg_del_fail(struct arm_call *k, struct ctl_arm_op *op, json_t *payload);

/* ---- ctl_arm_ws.c, ctl_arm_ws_net.c ---- */

void arm_ws_route(struct arm_call *k);
int arm_ws_put_step(struct arm_call *k, struct ctl_arm_op *op, json_t *payload);
int arm_ws_del_step(struct arm_call *k, struct ctl_arm_op *op, json_t *payload);
int arm_ws_fail(struct arm_call *k, struct ctl_arm_op *op, json_t *payload);
/* arm_ws_delete_now - remove a workspace and what it owns (worker, in a
 * transaction), for a resource group delete. */
int arm_ws_delete_now(struct arm_call *k, const char *ws_id);

/* ---- ctl_net_api.c ---- */

void arm_net_route(struct arm_call *k);
/* arm_net_delete_now - remove a network resource regardless of use (a
 * resource group delete). */
int arm_net_delete_now(struct arm_call *k, const char *id);

#endif /* SCC_CONTROL_CTL_ARM_INT_H */
