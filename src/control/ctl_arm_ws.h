/*
 * ctl_arm_ws.h - shared by ctl_arm_ws.c (the API: parsing, PUT, PATCH,
 * DELETE, rendering) and ctl_arm_ws_net.c (the network side: VNet
 * injection checks, the managed resource group, NSG rules, the steps).
 */
#ifndef SCC_CONTROL_CTL_ARM_WS_H
#define SCC_CONTROL_CTL_ARM_WS_H

#include "ctl_net_int.h"

/* What a workspace's network looks like, read from its body. */
struct ws_net {
    bool scc;                      /* parameters.enableNoPublicIp */
    bool all_rules;                /* requiredNsgRules == AllRules */
    const char *vnet, *pub, *priv; /* VNet injection, or NULL (borrowed from the body) */
    const char *mrg;               /* managedResourceGroupId */
    const char *vnet_prefix;       /* "10.139" */
    const char *nat_name, *pip_name;
};

void ws_net_of(const json_t *body, struct ws_net *n);

/* ws_param - parameters.<name>.value of a body, or NULL. */
const json_t *ws_param(const json_t *body, const char *name);

/*
 * ws_inject_check - the synchronous VNet-injection checks of
 * network-compat.md §6 for a workspace about to use n (worker).  A missing
 * subnet is not an error here: the operation reports it.  Answers on k
 * and returns false when a check fails.
 */
bool ws_inject_check(struct arm_call *k, const char *ws_id, const char *location,
                     const struct ws_net *n);

/* ws_network_apply - make the network match body (managed resource group
 * contents, or the rules in the user's NSGs and the intent policy). */
int ws_network_apply(struct arm_call *k, const char *ws_id, const json_t *body,
                     struct ctl_arm_op *op);
/* ws_network_remove - undo ws_network_apply (delete). */
int ws_network_remove(struct arm_call *k, const char *ws_id, const json_t *body);

/* ws_subnets_exist - step 0 of a create or update; fails op when not. */
bool ws_subnets_exist(struct arm_call *k, const struct ws_net *n, struct ctl_arm_op *op);

/* ws_write - store body (with state as provisioningState) for ws_id. */
int ws_write(struct arm_call *k, const char *ws_id, json_t *body, const char *state);

#endif /* SCC_CONTROL_CTL_ARM_WS_H */
