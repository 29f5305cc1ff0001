/*
 * ctl_net_int.h - shared by ctl_net_api.c, ctl_net_refs.c and the
 * workspace code that writes network resources as the resource provider.
 * Worker thread, inside the caller's transaction.
 */
#ifndef SCC_CONTROL_CTL_NET_INT_H
#define SCC_CONTROL_CTL_NET_INT_H

#include "ctl_arm_int.h"
#include "ctl_net.h"

/* Reference kinds (arm_refs.kind). */
#define NET_REF_SUBNET_NSG "subnet.nsg"
#define NET_REF_SUBNET_RT  "subnet.rt"
#define NET_REF_SUBNET_NAT "subnet.nat"
#define NET_REF_NAT_PIP    "nat.pip"
#define NET_REF_LB_PIP     "lb.pip"
#define NET_REF_FW_PIP     "fw.pip"
#define NET_REF_FW_SUBNET  "fw.subnet"
#define NET_REF_NIC_SUBNET "nic.subnet"
#define NET_REF_NIC_PIP    "nic.pip"
#define NET_REF_NIC_NSG    "nic.nsg"
#define NET_REF_NIC_POOL   "nic.lbpool"
#define NET_REF_WS_SUBNET  "ws.subnet" /* a workspace's network intent policy */
#define NET_REF_WS_NSG     "ws.nsg"    /* an NSG holding a workspace's rules */

/* net_refs_of - the references a stored body makes: [[kind, src, dst]...]. */
json_t *net_refs_of(const struct ctl_net_type *ty, const json_t *body);
/* net_refs_check - every dst exists, has the right type and is free
 * where it must be; e set otherwise. */
int net_refs_check(struct arm_call *k, const char *owner, const json_t *refs,
                   struct ctl_net_err *e);
/* net_refs_write - replace owner's refs with refs and re-render the
 * back-references of everything they touched, before and after. */
int net_refs_write(struct arm_call *k, const char *owner, const json_t *refs);
/* net_rerender - recompute the read-only back-references in top's body. */
int net_rerender(struct arm_call *k, const char *top);
/* net_allocate - public and private addresses of a body being written. */
int net_allocate(struct arm_call *k, const struct ctl_net_type *ty, json_t *body, const json_t *old,
                 struct ctl_net_err *e);
/* net_release - the addresses held by body (it is being deleted). */
int net_release(struct arm_call *k, const json_t *body);
/* net_subnet - the stored subnet object of subnet_id (owned copy), or
 * NULL (e set when e != NULL). */
json_t *net_subnet(struct arm_call *k, const char *subnet_id, struct ctl_net_err *e);

/* net_body - the stored body of id (owned), or NULL. */
json_t *net_body(struct arm_call *k, const char *id);

/*
 * net_apply - create or replace network resource id (canonical) from
 * request body req, as a PUT does: build, check references and use,
 * allocate addresses, write refs and back-references.  *out gets the
 * stored body (owned) and *created whether it is new.  The RP itself
 * (k->who.internal) passes the workspace protections.
 */
int net_apply(struct arm_call *k, const struct ctl_net_type *ty, const char *id, const char *rg,
              const json_t *req, json_t **out, bool *created, struct ctl_net_err *e);

/* net_required_rules - the Databricks rules the workspaces that use nsg_id
 * need (their union), or an empty array. */
json_t *net_required_rules(struct arm_call *k, const char *nsg_id);

#endif /* SCC_CONTROL_CTL_NET_INT_H */
