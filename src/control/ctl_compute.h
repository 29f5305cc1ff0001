/*
 * ctl_compute.h - VMs as resources: the nodes a workspace boots in its
 * network, as Azure Databricks' managed resource group shows them
 * (network-compat.md §4).
 *
 * Each node is a Microsoft.Compute/virtualMachines resource named by 32
 * hex digits in the workspace's managed resource group, with two NICs:
 * <name>-privateNIC (container subnet, primary) and <name>-publicNIC (host
 * subnet), and in legacy mode (enableNoPublicIp false) a public IP
 * <name>-publicIP on the host NIC.  The provider realises the host NIC:
 * its subnet, its addresses, scc-agent inside.  The node's identity is
 * <workspace name>/<cluster>/<VM name> (tag scc-node).
 *
 *   POST .../workspaces/{ws}/createNodes {"count": N, "clusterName": C}
 *   POST .../workspaces/{ws}/deleteNodes {"nodes": [NAME...]} | {"clusterName": C} | {"all": true}
 *
 * answer 202 with Azure-AsyncOperation and Location; the operation ends
 * when the provider has applied the change (ctl_wire.c): Succeeded, or
 * Failed with why (a node whose subnet has no way out to the relay says
 * which subnet and what is missing).
 *
 *   ctl_compute.c       the API: actions, reads, VM and NIC bodies
 *   ctl_compute_doc.c   the VMs' part of the provider's document
 *   ctl_compute_feed.c  provider statuses -> provisioningState, operations
 *
 * Threads: route functions on the loop; the rest on the store's worker.
 */
#ifndef SCC_CONTROL_CTL_COMPUTE_H
#define SCC_CONTROL_CTL_COMPUTE_H

#include "ctl_net_int.h"

#define CTL_COMPUTE_T_VM    "Microsoft.Compute/virtualMachines"
#define CTL_COMPUTE_MAX_NEW 100 /* nodes per createNodes */
#define CTL_COMPUTE_OP_NEW  "vm.create"
#define CTL_COMPUTE_OP_DEL  "vm.delete"
/* A workspace delete whose rows are gone, until the provider has removed
 * what it made for it (ctl_arm_ws_net.c). */
#define CTL_COMPUTE_OP_WS_DEL "ws.delete.wait"
#define CTL_COMPUTE_TAG_NODE  "scc-node" /* ws/cluster/node */
#define CTL_COMPUTE_TAG_MODE  "scc-mode" /* "scc" or "legacy" */

/* arm_compute_ws_action - POST .../workspaces/{ws}/createNodes|deleteNodes. */
void arm_compute_ws_action(struct arm_call *k);

/* arm_compute_route - Microsoft.Compute: GET a VM (and .../instanceView),
 * lists; writes go through the workspace's actions. */
void arm_compute_route(struct arm_call *k);

/* ctl_compute_vm_delete - remove a VM's row and revoke its node's
 * certificates (worker, in k's transaction); its NICs are separate. */
int ctl_compute_vm_delete(struct arm_call *k, const char *vm_id);

/* ctl_compute_count - VMs in managed resource group mrg_id (what an SCC
 * upgrade counts as running compute). */
int ctl_compute_count(struct ctl_store *st, const char *mrg_id, int64_t *n);

/*
 * ctl_compute_feed - record an apply's outcome (inside k's transaction):
 * provisioningState of network resources (Failed when the provider says
 * so) and of every VM of doc (Succeeded, or Failed with the reason in its
 * instanceView), then end each node operation not in awaiting (those came
 * after doc was built).  status may be NULL (the apply failed as a whole:
 * err says why).  Returns 0 or a store error.
 */
int ctl_compute_feed(struct arm_call *k, const json_t *doc, const json_t *status, const char *err,
                     const json_t *awaiting);

/* ctl_compute_vms_fail - the VMs of a node-create operation's payload
 * become Failed with why in their instanceView (no provider will ever
 * boot them).  Inside k's transaction; 0 or a store error. */
int ctl_compute_vms_fail(struct arm_call *k, const char *payload, const char *why);

#endif /* SCC_CONTROL_CTL_COMPUTE_H */
