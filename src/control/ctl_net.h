/*
 * ctl_net.h - Microsoft.Network resources: shapes, validation, the NSG
 * rules Azure Databricks writes, and the provider's desired state.
 *
 *   ctl_net_cidr.c     addresses, prefixes, service tags, ports
 *   ctl_net_nsg.c      security rules, default rules, Databricks rule sets
 *   ctl_net_build.c    request body -> stored body, per resource type
 *   ctl_net_build2.c   (the types with IP configurations)
 *   ctl_net_api.c      the ARM handlers: references, in-use checks,
 *                      protection, address allocation (store access)
 *   ctl_net_desired.c  the provider's desired-state document
 *
 * Everything here except ctl_net_api.c and ctl_net_desired() is pure
 * (no store, no loop) and unit-tested; network-compat.md is the source.
 */
#ifndef SCC_CONTROL_CTL_NET_H
#define SCC_CONTROL_CTL_NET_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ctl_store;

/* An ARM error to answer with. */
struct ctl_net_err {
    int status;
    char code[64];
    char message[768];
};

void ctl_net_err_set(struct ctl_net_err *e, int status, const char *code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* ---- addresses (ctl_net_cidr.c) ---- */

struct ctl_net_cidr {
    uint32_t addr; /* host order */
    int len;       /* 0..32 */
};

/* ctl_net_ip_parse - dotted quad; SCC_EINVAL. */
int ctl_net_ip_parse(const char *s, uint32_t *out);
void ctl_net_ip_format(uint32_t ip, char out[16]);
/* ctl_net_cidr_parse - "a.b.c.d/n".  SCC_EINVAL when malformed, SCC_ERANGE
 * when host bits are set (Azure's InvalidCIDRNotation). */
int ctl_net_cidr_parse(const char *s, struct ctl_net_cidr *out);
bool ctl_net_cidr_contains(const struct ctl_net_cidr *outer, const struct ctl_net_cidr *inner);
bool ctl_net_cidr_overlap(const struct ctl_net_cidr *a, const struct ctl_net_cidr *b);
bool ctl_net_cidr_has_ip(const struct ctl_net_cidr *c, uint32_t ip);
/* ctl_net_is_service_tag - VirtualNetwork, Internet, AzureDatabricks, Sql,
 * Storage, EventHub, ... and regional forms (Storage.EastUS). */
bool ctl_net_is_service_tag(const char *s);
/* ctl_net_is_prefix - "*", an IPv4 address, a CIDR or a service tag. */
bool ctl_net_is_prefix(const char *s);
/* ctl_net_is_port_range - "*", "443" or "8443-8451" within 0-65535. */
bool ctl_net_is_port_range(const char *s);

/* ---- NSG rules (ctl_net_nsg.c) ---- */

#define CTL_NET_DBX_PREFIX "Microsoft.Databricks-workspaces_UseOnly_"

/*
 * ctl_net_rule_build - validate one securityRules entry and return the
 * stored form (canonical enum casing, both singular and plural fields as
 * Azure echoes them, id/etag/type).  Returns 0 or SCC_EINVAL with e set.
 */
int ctl_net_rule_build(const json_t *in, const char *nsg_id, json_t **out, struct ctl_net_err *e);
/* ctl_net_rules_check - names unique and no two rules with the same
 * priority and direction (400 SecurityRuleConflict). */
int ctl_net_rules_check(const json_t *rules, struct ctl_net_err *e);
/* ctl_net_default_rules - the six read-only defaultSecurityRules. */
json_t *ctl_net_default_rules(const char *nsg_id);

/*
 * ctl_net_dbx_rules - the Microsoft.Databricks-workspaces_UseOnly_* rules
 * for a workspace's mode (network-compat.md §3): scc drops rules 2 and 3,
 * all_rules keeps rule 4.  Stored form, ids under nsg_id (may be NULL).
 */
json_t *ctl_net_dbx_rules(bool scc, bool all_rules, const char *nsg_id);
/* ctl_net_rule_same - the same rule content (name, priority, direction,
 * access, protocol, prefixes, ports), ignoring ids, etags and states. */
bool ctl_net_rule_same(const json_t *a, const json_t *b);
/*
 * ctl_net_rules_protected - would replacing an NSG's rules with `rules`
 * break a workspace's `required` rules (a removed or changed one, or
 * another rule at a required rule's priority and direction)?  Returns 0
 * or SCC_EPERM with e set to 400 ConflictWithNetworkIntentPolicy.
 */
int ctl_net_rules_protected(const json_t *rules, const json_t *required, struct ctl_net_err *e);

/* ---- resource bodies (ctl_net_build*.c) ----
 *
 * Each builder validates the request body `req` of a PUT of resource id
 * (canonical, location already normalised) and returns the body to store:
 * {id, name, type, location, tags, etag, properties{provisioningState:
 * "Succeeded", resourceGuid, ...}} with every child's id, etag and type.
 * old is the stored body or NULL: it keeps resourceGuid and the read-only
 * parts the API layer maintains (back-references, allocated addresses).
 * References are checked by the API layer, not here.
 * Returns 0 or SCC_EINVAL / SCC_ENOMEM with e set.
 */
struct ctl_net_ctx {
    const char *id;
    const char *location;
    const char *api_version;
    const json_t *old;
};

typedef int (*ctl_net_build_fn)(const struct ctl_net_ctx *x, const json_t *req, json_t **out,
                                struct ctl_net_err *e);

int ctl_net_vnet_build(const struct ctl_net_ctx *x, const json_t *req, json_t **out,
                       struct ctl_net_err *e);
int ctl_net_nsg_build(const struct ctl_net_ctx *x, const json_t *req, json_t **out,
                      struct ctl_net_err *e);
int ctl_net_nat_build(const struct ctl_net_ctx *x, const json_t *req, json_t **out,
                      struct ctl_net_err *e);
int ctl_net_pip_build(const struct ctl_net_ctx *x, const json_t *req, json_t **out,
                      struct ctl_net_err *e);
int ctl_net_rt_build(const struct ctl_net_ctx *x, const json_t *req, json_t **out,
                     struct ctl_net_err *e);
int ctl_net_lb_build(const struct ctl_net_ctx *x, const json_t *req, json_t **out,
                     struct ctl_net_err *e);
int ctl_net_fw_build(const struct ctl_net_ctx *x, const json_t *req, json_t **out,
                     struct ctl_net_err *e);
int ctl_net_nic_build(const struct ctl_net_ctx *x, const json_t *req, json_t **out,
                      struct ctl_net_err *e);

/* The resource types, with the name of their child collections. */
struct ctl_net_type {
    const char *type;     /* "virtualNetworks" */
    const char *full;     /* "Microsoft.Network/virtualNetworks" */
    const char *children; /* "subnets", "securityRules", "routes" or NULL */
    const char *child_type;
    ctl_net_build_fn build;
};

/* ctl_net_type_of - by the type segment, any casing; NULL if unknown. */
const struct ctl_net_type *ctl_net_type_of(const char *type);

/* Helpers the builders share. */
/* ctl_net_envelope - {id, name, type, location, tags, sku, zones, properties
 * {provisioningState, resourceGuid}} for a new body. */
json_t *ctl_net_envelope(const struct ctl_net_ctx *x, const char *type, const json_t *req);
/* ctl_net_child - {name, id: parent/coll/name, etag, type, properties};
 * takes props. */
json_t *ctl_net_child(const char *parent_id, const char *coll, const char *type, const char *name,
                      json_t *props);
/* ctl_net_stamp - a new etag on body and on every child in it. */
void ctl_net_stamp(json_t *body);
bool ctl_net_name_ok(const char *s);
/* ctl_net_ref - {"id": id} from a reference object; NULL (and no error)
 * when ref is absent or null; NULL with e set when it is malformed. */
json_t *ctl_net_ref(const json_t *ref, const char *what, struct ctl_net_err *e);

/* ---- desired state (ctl_net_desired.c) ---- */

struct ctl_net_env {
    const char *api_ip, *relay_ip; /* the control plane's public addresses */
    int api_port, relay_port;
};

/*
 * ctl_net_desired_build - the provider's desired-state document
 * (docs/internals/provider.md) from the stored bodies of every network
 * resource (an array, any order, any types; non-network ones ignored).
 * Returns 0 and an owned *out, or SCC_ENOMEM.
 */
int ctl_net_desired_build(const json_t *resources, const struct ctl_net_env *env, json_t **out);

/* ctl_net_desired - the same from the store (worker thread). */
int ctl_net_desired(struct ctl_store *st, const struct ctl_net_env *env, json_t **out);

#endif /* SCC_CONTROL_CTL_NET_H */
