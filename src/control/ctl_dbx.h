/*
 * ctl_dbx.h - the workspace API: what Databricks clients (the SDKs, the
 * CLI, Terraform) call on a workspace's own URL (databricks-compat.md).
 *
 * Each workspace is its own origin, adb-<workspaceId>.<shard>.<domain>
 * (the workspaceUrl its ARM resource shows), served by the API listener
 * and routed on the Host header.  Clusters are the workspace's VMs
 * (createNodes/deleteNodes through the ARM layer, in-process); runs are
 * started, watched, read and cancelled on the cluster's driver through
 * its tunnel (relay_call).  Nothing is ever sent to a node's address.
 *
 *   ctl_dbx.c          entry, auth, errors, store sync, the tick, small endpoints
 *   ctl_dbx_cluster.c  clusters (api/2.0, 2.1): lifecycle over VMs and tunnels
 *   ctl_dbx_run.c      jobs/runs (api/2.1, 2.2): tasks on the driver
 *
 * Threads: the loop; the store through sccd's worker.
 */
#ifndef SCC_CONTROL_CTL_DBX_H
#define SCC_CONTROL_CTL_DBX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ctl_arm.h"

struct ctl;
struct relay;

/* ctl_dbx_start - load clusters and runs, start the tick.  After
 * ctl_api_start; relay may be NULL (runs then wait for it). */
int ctl_dbx_start(struct ctl *c, struct relay *relay);
/* ctl_dbx_stop - stop the tick and every call to nodes; answers still due
 * from the ARM layer find it stopped.  ctl_dbx_free after ctl_api_stop. */
void ctl_dbx_stop(struct ctl *c);
void ctl_dbx_free(struct ctl *c);

/* ctl_dbx_is_workspace_host - is host (a Host header, port allowed) a
 * workspace origin, adb-<digits>.<shard>.<domain>? */
bool ctl_dbx_is_workspace_host(const struct ctl *c, const char *host);

/* ctl_dbx_request - serve one request of a workspace origin; done runs
 * exactly once (req->who is ignored: the token is checked here, in the
 * workspace API's own terms). */
void ctl_dbx_request(struct ctl *c, const struct ctl_arm_req *req, const char *authorization,
                     ctl_arm_done_fn done, void *arg);

/* ---- the driver proxy (ctl_dbx_proxy.c) ---- */

struct bufferevent;

struct ctl_dbx_proxy_req {
    const char *method, *path, *query, *host, *authorization;
    const char *head; /* the raw request head: its headers are forwarded */
    size_t head_len;
    const char *body; /* the whole body (Content-Length or de-chunked) */
    size_t body_len;
    const char *peer;
};

/* ctl_dbx_is_proxy_path - /driver-proxy-api/... or /driver-proxy/... */
bool ctl_dbx_is_proxy_path(const char *path);
/* ctl_dbx_proxy - serve a driver-proxy request of a workspace origin on
 * bev, which it takes (its callbacks are replaced at once; req is borrowed
 * for the call only): the request goes to 127.0.0.1:<port> on the
 * cluster's driver through a CONNECT stream of its tunnel, and the
 * connection carries the answer (or a WebSocket) to its end. */
void ctl_dbx_proxy(struct ctl *c, struct bufferevent *bev, const struct ctl_dbx_proxy_req *req);

/* ---- checks of what clients send (ctl_dbx_check.c) ----
 * Pure functions: the unit tests and the fuzzer call them without sccd. */

struct ctl_dbx_node_type {
    const char *id;
    int cores, memory_mb;
};
extern const struct ctl_dbx_node_type ctl_dbx_node_types[];
extern const size_t ctl_dbx_node_ntypes;
struct ctl_dbx_version {
    const char *key, *name;
};
extern const struct ctl_dbx_version ctl_dbx_versions[];
extern const size_t ctl_dbx_nversions;

#define CTL_DBX_WORKERS_MAX 99 /* createNodes makes up to 100 VMs: the driver and 99 */

/* ctl_dbx_host_parse - a Host header "adb-<digits>.<digits>.<domain>" with
 * an optional port: the workspace id into id.  0 or SCC_EINVAL. */
int ctl_dbx_host_parse(const char *domain, const char *host, char *id, size_t cap);
/* ctl_dbx_query_get - the first value of key in a query string, URL-decoded
 * ('+' is a space) and cut to cap - 1 bytes; false if absent. */
bool ctl_dbx_query_get(const char *query, const char *key, char *out, size_t cap);
/* ctl_dbx_node_type - index of a node type id in ctl_dbx_node_types, or -1. */
int ctl_dbx_node_type(const char *id);
/* ctl_dbx_spec_check - a ClusterSpec (create, edit): 0, or SCC_EINVAL
 * with the message for the client in err. */
int ctl_dbx_spec_check(const json_t *spec, char *err, size_t cap);
/* The spec fields a cluster keeps and shows (the rest is ignored). */
extern const char *const ctl_dbx_spec_keys[];
extern const size_t ctl_dbx_nspec_keys;
/* ctl_dbx_mask_apply - clusters/update: the fields update_mask names
 * (comma-separated spec keys, spaces around them ignored) from part over
 * spec; one named but absent (or null) in part is removed, and num_workers
 * and autoscale replace each other.  0; SCC_EINVAL (spec maybe half
 * changed: the caller's copy) or SCC_ENOMEM with the message in err.  The
 * result is not checked: ctl_dbx_spec_check it. */
int ctl_dbx_mask_apply(json_t *spec, const char *mask, const json_t *part, char *err, size_t cap);
/* ctl_dbx_task_key_ok - ^[A-Za-z0-9_.-]{1,100}$ */
bool ctl_dbx_task_key_ok(const char *key);
/* ctl_dbx_task_argv - what a task runs on the driver (a new array of
 * strings), or NULL with the message for the client in err. */
json_t *ctl_dbx_task_argv(const json_t *task, char *err, size_t cap);
/* ctl_dbx_text - bytes as a JSON string: valid UTF-8 kept, anything else
 * replaced by U+FFFD (output of a task is whatever it wrote). */
json_t *ctl_dbx_text(const char *p, size_t n);

#endif /* SCC_CONTROL_CTL_DBX_H */
