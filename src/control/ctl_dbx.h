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

#include <stdbool.h>

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

#endif /* SCC_CONTROL_CTL_DBX_H */
