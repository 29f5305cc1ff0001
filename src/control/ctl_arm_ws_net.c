/*
 * ctl_arm_ws_net.c - a workspace's network, and the steps of its
 * operations.
 *
 * Managed VNet: the RP fills the managed resource group with workers-vnet
 * (public-subnet and private-subnet, two /18s of {vnetAddressPrefix}.0.0/16),
 * workers-sg on both, and with secure cluster connectivity a NAT gateway
 * and its public IP on both subnets (network-compat.md §4).
 *
 * VNet injection: the user's VNet and subnets are used; the RP writes the
 * Microsoft.Databricks-workspaces_UseOnly_* rules for the workspace's mode
 * into the NSG of each subnet and records the network intent policy
 * (refs ws.subnet, ws.nsg), which from then on protects rules, delegation
 * and NSG association (ctl_net_api.c).  Several workspaces may share an
 * NSG: the rules kept are the union of what each needs.
 *
 * Steps of ws.put: 0 check subnets (and, for an SCC upgrade, that no
 * compute runs), 1 network, 2 publish the desired body.  Each step is
 * idempotent, so one re-run after a crash is harmless.
 */
#include "ctl_arm_ws.h"
#include "ctl_compute.h"
#include "ctl_wire.h"

#include "common/err.h"
#include "common/json.h"
#include "common/mem.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- VNet injection checks (network-compat.md §6) ---- */

static const json_t *
subnet_named(const json_t *vnet, const char *name)
{
    size_t i;
    json_t *s;

    json_array_foreach(json_object_get(json_object_get(vnet, "properties"), "subnets"), i, s)
    {
        if (name && strcasecmp(json_string_value(json_object_get(s, "name")), name) == 0)
            return s;
    }
    return NULL;
}

static int
prefix_len(const json_t *subnet)
{
    json_t *p = json_object_get(subnet, "properties");
    const char *pre = json_string_value(json_object_get(p, "addressPrefix"));
    struct ctl_net_cidr c;

    if (pre == NULL)
        pre = json_string_value(json_array_get(json_object_get(p, "addressPrefixes"), 0));
    return pre && ctl_net_cidr_parse(pre, &c) == 0 ? c.len : 99;
}

static bool
is_delegated(const json_t *subnet)
{
    size_t i;
    json_t *d;

    json_array_foreach(json_object_get(json_object_get(subnet, "properties"), "delegations"), i, d)
    {
        const char *svc =
                json_string_value(json_object_get(json_object_get(d, "properties"), "serviceName"));

        if (svc && strcasecmp(svc, "Microsoft.Databricks/workspaces") == 0)
            return true;
    }
    return false;
}

static const char *
nsg_of(const json_t *subnet)
{
    return json_string_value(json_object_get(
            json_object_get(json_object_get(subnet, "properties"), "networkSecurityGroup"), "id"));
}

struct users {
    const char *self, *mrg;
    char ws[CTL_ARM_ID_MAX], other[CTL_ARM_ID_MAX];
};

/* Whether id lies in resource group rg_id (the workspace's own nodes'
 * NICs are in its managed resource group). */
static bool
in_group(const char *id, const char *rg_id)
{
    size_t n = rg_id ? strlen(rg_id) : 0;

    return n && strncasecmp(id, rg_id, n) == 0 && id[n] == '/';
}

static int
subnet_user(const char *owner, const char *kind, const char *src, const char *dst, void *arg)
{
    struct users *u = arg;

    (void)dst;
    if (strcmp(kind, NET_REF_NIC_SUBNET) == 0 && in_group(owner, u->mrg))
        return 0;
    if (strcmp(kind, NET_REF_WS_SUBNET) == 0 && strcasecmp(owner, u->self) != 0)
        snprintf(u->ws, sizeof(u->ws), "%s", owner);
    else if (strcmp(kind, NET_REF_NIC_SUBNET) == 0 || strcmp(kind, NET_REF_FW_SUBNET) == 0)
        snprintf(u->other, sizeof(u->other), "%s", src);
    return 0;
}

/* A user rule where one of ours must go. */
static bool
rule_clash(struct arm_call *k, const json_t *nsg, const json_t *want)
{
    json_t *rules = json_object_get(json_object_get(nsg, "properties"), "securityRules"), *r, *w;
    size_t i, j;

    json_array_foreach(rules, i, r)
    {
        json_t *pr = json_object_get(r, "properties");
        const char *name = json_string_value(json_object_get(r, "name"));

        if (strncmp(name, CTL_NET_DBX_PREFIX, strlen(CTL_NET_DBX_PREFIX)) == 0)
            continue; /* ours, maybe pre-created: rewritten as needed */
        json_array_foreach(want, j, w)
        {
            json_t *pw = json_object_get(w, "properties");

            if (json_integer_value(json_object_get(pr, "priority")) ==
                        json_integer_value(json_object_get(pw, "priority")) &&
                strcmp(json_string_value(json_object_get(pr, "direction")),
                       json_string_value(json_object_get(pw, "direction"))) == 0) {
                arm_error(k, 400, "SecurityRuleConflict",
                          "Security rule %.80s of network security group %.200s conflicts with "
                          "rule %.120s that Azure Databricks needs. Rules cannot have the same "
                          "Priority and Direction.",
                          name, ctl_arm_id_last(json_string_value(json_object_get(nsg, "id"))),
                          json_string_value(json_object_get(w, "name")));
                return true;
            }
        }
    }
    return false;
}

static bool
subnet_check(struct arm_call *k, const char *ws_id, const json_t *s, const char *which,
             const struct ws_net *n)
{
    const char *name = json_string_value(json_object_get(s, "name"));
    struct users u = {ws_id, n->mrg, "", ""};
    json_t *nsg, *want;
    bool clash;

    if (prefix_len(s) > 26) {
        arm_error(k, 400, "InvalidParameter",
                  "The %s subnet %.80s is smaller than /26; Azure Databricks needs at least /26.",
                  which, name);
        return false;
    }
    if (!is_delegated(s)) {
        arm_error(k, 400, "InvalidParameter",
                  "required %s subnet delegation to Microsoft.Databricks/workspaces on %.80s not "
                  "found",
                  which, name);
        return false;
    }
    if (nsg_of(s) == NULL) {
        arm_error(k, 400, "InvalidParameter",
                  "The %s subnet %.80s has no network security group; associate one with both "
                  "subnets.",
                  which, name);
        return false;
    }
    (void)ctl_store_arm_ref_each_to(k->c->store, json_string_value(json_object_get(s, "id")), false,
                                    NULL, subnet_user, &u);
    if (u.ws[0] || u.other[0]) {
        arm_error(k, 409, "Conflict",
                  "The %s subnet %.80s is in use by %.300s; subnets cannot be shared across "
                  "workspaces or hold other resources.",
                  which, name, u.ws[0] ? u.ws : u.other);
        return false;
    }
    nsg = net_body(k, nsg_of(s));
    want = ctl_net_dbx_rules(n->scc, n->all_rules, NULL);
    clash = nsg && rule_clash(k, nsg, want);
    json_decref(want);
    json_decref(nsg);
    return !clash;
}

static bool
vnet_check(struct arm_call *k, const json_t *vnet, const char *location, const struct ws_net *n)
{
    json_t *as = json_object_get(
                   json_object_get(json_object_get(vnet, "properties"), "addressSpace"),
                   "addressPrefixes"),
           *v;
    struct ctl_net_cidr c;
    size_t i;

    if (vnet == NULL) {
        arm_error(k, 400, "InvalidParameter",
                  "The virtual network %.300s (customVirtualNetworkId) does not exist in this "
                  "subscription.",
                  n->vnet);
        return false;
    }
    if (strcmp(json_string_value(json_object_get(vnet, "location")), location) != 0) {
        arm_error(k, 400, "InvalidParameter",
                  "The virtual network %.300s is in %s; it must be in the workspace's region %s.",
                  n->vnet, json_string_value(json_object_get(vnet, "location")), location);
        return false;
    }
    json_array_foreach(as, i, v)
    {
        if (ctl_net_cidr_parse(json_string_value(v), &c) < 0 || c.len < 16 || c.len > 24) {
            arm_error(k, 400, "InvalidParameter",
                      "The address space %.40s of virtual network %.80s must be between /16 and "
                      "/24 for Azure Databricks.",
                      json_string_value(v), ctl_arm_id_last(n->vnet));
            return false;
        }
    }
    if (strcasecmp(n->pub, n->priv) == 0) {
        arm_error(k, 400, "InvalidParameter",
                  "customPublicSubnetName and customPrivateSubnetName must name two different "
                  "subnets.");
        return false;
    }
    return true;
}

bool
ws_inject_check(struct arm_call *k, const char *ws_id, const char *location, const struct ws_net *n)
{
    char sub[64];
    json_t *vnet = NULL;
    const json_t *s;
    bool ok;

    snprintf(sub, sizeof(sub), "/subscriptions/%s/", k->t.sub);
    if (strncasecmp(n->vnet, sub, strlen(sub)) == 0)
        vnet = net_body(k, n->vnet);
    ok = vnet_check(k, vnet, location, n);
    if (ok && (s = subnet_named(vnet, n->pub)) != NULL)
        ok = subnet_check(k, ws_id, s, "public", n);
    if (ok && (s = subnet_named(vnet, n->priv)) != NULL)
        ok = subnet_check(k, ws_id, s, "private", n);
    json_decref(vnet);
    return ok;
}

bool
ws_subnets_exist(struct arm_call *k, const struct ws_net *n, struct ctl_arm_op *op)
{
    json_t *vnet;
    const char *cidr, *missing = NULL;

    if (n->vnet == NULL)
        return true;
    if ((vnet = net_body(k, n->vnet)) == NULL) {
        arm_op_set_error(op, "InvalidParameter", "The virtual network %.300s no longer exists.",
                         n->vnet);
        return false;
    }
    if (subnet_named(vnet, n->pub) == NULL)
        missing = n->pub;
    else if (subnet_named(vnet, n->priv) == NULL)
        missing = n->priv;
    cidr = json_string_value(json_array_get(
            json_object_get(json_object_get(json_object_get(vnet, "properties"), "addressSpace"),
                            "addressPrefixes"),
            0));
    if (missing)
        arm_op_set_error(op, "SubnetIsNotWithinVnetError",
                         "The subnet %.80s CIDR range '<null>' is not within the Virtual Network "
                         "CIDR range '%s'",
                         missing, cidr ? cidr : "");
    json_decref(vnet);
    return missing == NULL;
}

/* ---- rules in the user's NSGs ---- */

static int
other_owner(const char *owner, const char *kind, const char *src, const char *dst, void *arg)
{
    (void)kind, (void)src, (void)dst;
    return json_array_append_new(arg, json_string(owner)) ? SCC_ENOMEM : 0;
}

static void
union_in(json_t *keep, const json_t *rules)
{
    size_t i, j;
    json_t *r;

    json_array_foreach(rules, i, r)
    {
        for (j = 0; j < json_array_size(keep); j++) {
            if (strcmp(json_string_value(json_object_get(json_array_get(keep, j), "name")),
                       json_string_value(json_object_get(r, "name"))) == 0)
                break;
        }
        if (j == json_array_size(keep))
            json_array_append(keep, r);
    }
}

/* The rules other workspaces on nsg_id need. */
static json_t *
others_need(struct arm_call *k, const char *nsg_id, const char *ws_id)
{
    json_t *owners = json_array(), *keep = json_array(), *o;
    size_t i;

    (void)ctl_store_arm_ref_each_to(k->c->store, nsg_id, false, NET_REF_WS_NSG, other_owner,
                                    owners);
    json_array_foreach(owners, i, o)
    {
        struct ws_net n;
        json_t *ws, *rules;

        if (strcasecmp(json_string_value(o), ws_id) == 0 ||
            (ws = net_body(k, json_string_value(o))) == NULL)
            continue;
        ws_net_of(ws, &n);
        rules = ctl_net_dbx_rules(n.scc, n.all_rules, nsg_id);
        union_in(keep, rules);
        json_decref(rules);
        json_decref(ws);
    }
    json_decref(owners);
    return keep;
}

/* Rewrite nsg_id's rules: ours (want, may be NULL) plus what others need. */
static int
nsg_rules(struct arm_call *k, const char *nsg_id, const char *ws_id, const json_t *want,
          struct ctl_net_err *e)
{
    const struct ctl_net_type *ty = ctl_net_type_of("networkSecurityGroups");
    json_t *nsg = net_body(k, nsg_id), *keep = others_need(k, nsg_id, ws_id), *rules, *out = NULL;
    struct ctl_arm_target t;
    size_t i;
    bool created;
    int rc;

    if (nsg == NULL || keep == NULL || ctl_arm_id_split(nsg_id, &t) < 0) {
        json_decref(nsg);
        json_decref(keep);
        return nsg ? SCC_ENOMEM : 0; /* a deleted NSG needs no rules */
    }
    if (want)
        union_in(keep, want);
    rules = json_object_get(json_object_get(nsg, "properties"), "securityRules");
    for (i = json_array_size(rules); i-- > 0;) {
        const char *name = json_string_value(json_object_get(json_array_get(rules, i), "name"));

        if (strncmp(name, CTL_NET_DBX_PREFIX, strlen(CTL_NET_DBX_PREFIX)) == 0)
            json_array_remove(rules, i);
    }
    json_array_extend(rules, keep);
    rc = net_apply(k, ty, nsg_id, t.rg, nsg, &out, &created, e);
    json_decref(out);
    json_decref(keep);
    json_decref(nsg);
    return rc;
}

static int
inject_apply(struct arm_call *k, const char *ws_id, const struct ws_net *n, struct ctl_net_err *e)
{
    json_t *vnet = net_body(k, n->vnet), *want = ctl_net_dbx_rules(n->scc, n->all_rules, NULL);
    const json_t *s[2] = {subnet_named(vnet, n->pub), subnet_named(vnet, n->priv)};
    struct ctl_store *st = k->c->store;
    int rc = (vnet && s[0] && s[1]) ? ctl_store_arm_ref_del_owner(st, ws_id) : SCC_ENOTFOUND;

    for (int i = 0; rc == 0 && i < 2; i++) {
        const char *sid = json_string_value(json_object_get(s[i], "id"));

        if ((rc = ctl_store_arm_ref_add(st, ws_id, NET_REF_WS_SUBNET, ws_id, sid)) == 0 &&
            nsg_of(s[i]) && (i == 0 || strcasecmp(nsg_of(s[0]), nsg_of(s[1])) != 0))
            rc = ctl_store_arm_ref_add(st, ws_id, NET_REF_WS_NSG, ws_id, nsg_of(s[i]));
    }
    for (int i = 0; rc == 0 && i < 2; i++) {
        if (nsg_of(s[i]) && (i == 0 || strcasecmp(nsg_of(s[0]), nsg_of(s[1])) != 0))
            rc = nsg_rules(k, nsg_of(s[i]), ws_id, want, e);
    }
    json_decref(want);
    json_decref(vnet);
    return rc;
}

/* ---- the managed resource group ---- */

static json_t *
managed_rules(bool scc, bool all_rules)
{
    static const char *const rename[][2] = {
            {"databricks-control-plane-to-worker-ssh", "databricks-control-plane-ssh"},
            {"databricks-control-plane-to-worker-proxy", "databricks-control-plane-worker-proxy"},
            {"databricks-worker-to-databricks-webapp", "databricks-worker-to-webapp"},
    };
    json_t *rules = ctl_net_dbx_rules(scc, all_rules, NULL), *r, *out = json_array();
    size_t i;

    /* The same flows under the short names of managed workers-sg groups. */
    json_array_foreach(rules, i, r)
    {
        const char *name =
                json_string_value(json_object_get(r, "name")) + strlen(CTL_NET_DBX_PREFIX);

        for (size_t j = 0; j < 3; j++) {
            if (strcmp(name, rename[j][0]) == 0)
                name = rename[j][1];
        }
        json_array_append_new(out, json_pack("{s:s, s:O}", "name", name, "properties",
                                             json_object_get(r, "properties")));
    }
    json_decref(rules);
    return out;
}

static int
rp_put(struct arm_call *k, const char *mrg, const char *type, const char *name, json_t *req,
       struct ctl_net_err *e)
{
    const struct ctl_net_type *ty = ctl_net_type_of(type);
    struct ctl_arm_target t;
    char id[CTL_ARM_ID_MAX];
    json_t *out = NULL;
    bool created;
    int rc;

    if (req == NULL)
        return SCC_ENOMEM;
    snprintf(id, sizeof(id), "%s/providers/Microsoft.Network/%s/%s", mrg, ty->type, name);
    rc = ctl_arm_id_split(mrg, &t);
    if (rc == 0)
        rc = net_apply(k, ty, id, t.rg, req, &out, &created, e);
    json_decref(out);
    json_decref(req);
    return rc;
}

static int
generic_row(struct arm_call *k, const char *mrg, const char *type, const char *name,
            const char *loc, json_t *body)
{
    struct ctl_arm_target t;
    struct ctl_arm_row r;
    char id[CTL_ARM_ID_MAX];
    int rc;

    snprintf(id, sizeof(id), "%s/providers/%s/%s", mrg, type, name);
    if (body == NULL || ctl_arm_id_split(mrg, &t) < 0) {
        json_decref(body);
        return SCC_ENOMEM;
    }
    if (arm_row_get(k, id, &r) == 0) { /* keep its GUIDs stable */
        ctl_arm_row_fini(&r);
        json_decref(body);
        return 0;
    }
    json_object_set_new(body, "id", json_string(id));
    json_object_set_new(body, "name", json_string(name));
    json_object_set_new(body, "type", json_string(type));
    json_object_set_new(body, "location", json_string(loc));
    arm_row_init(&r, id, t.sub, t.rg, type, k->now_ms);
    rc = arm_row_put_json(k, &r, body);
    json_decref(body);
    return rc;
}

static int
managed_extras(struct arm_call *k, const json_t *ws, const char *mrg, const char *loc)
{
    const char *sa = json_string_value(ws_param(ws, "storageAccountName"));
    const char *sku = json_string_value(ws_param(ws, "storageAccountSkuName"));
    char g1[37], g2[37];
    int rc;

    if ((rc = ctl_arm_guid(g1)) < 0 || (rc = ctl_arm_guid(g2)) < 0)
        return rc;
    if ((rc = generic_row(k, mrg, "Microsoft.Storage/storageAccounts", sa ? sa : "dbstorage", loc,
                          json_pack("{s:{s:s}, s:s, s:{s:s, s:b, s:s}}", "sku", "name",
                                    sku ? sku : "Standard_GRS", "kind", "StorageV2", "properties",
                                    "provisioningState", "Succeeded", "isHnsEnabled", 1,
                                    "minimumTlsVersion", "TLS1_2"))) < 0)
        return rc;
    return generic_row(k, mrg, "Microsoft.ManagedIdentity/userAssignedIdentities",
                       "dbmanagedidentity", loc,
                       json_pack("{s:{s:s, s:s, s:s}}", "properties", "tenantId",
                                 k->c->cfg->tenant_id, "principalId", g1, "clientId", g2));
}

static int
managed_apply(struct arm_call *k, const char *ws_id, const json_t *ws, const struct ws_net *n,
              struct ctl_net_err *e)
{
    const char *loc = json_string_value(json_object_get(ws, "location"));
    char cidr[3][40], nsg[CTL_ARM_ID_MAX], nat[CTL_ARM_ID_MAX], pip[CTL_ARM_ID_MAX];
    json_t *subs;
    int rc;

    snprintf(cidr[0], sizeof(cidr[0]), "%s.0.0/16", n->vnet_prefix);
    snprintf(cidr[1], sizeof(cidr[1]), "%s.0.0/18", n->vnet_prefix);
    snprintf(cidr[2], sizeof(cidr[2]), "%s.64.0/18", n->vnet_prefix);
    snprintf(nsg, sizeof(nsg), "%s/providers/Microsoft.Network/networkSecurityGroups/workers-sg",
             n->mrg);
    snprintf(nat, sizeof(nat), "%s/providers/Microsoft.Network/natGateways/%s", n->mrg,
             n->nat_name);
    snprintf(pip, sizeof(pip), "%s/providers/Microsoft.Network/publicIPAddresses/%s", n->mrg,
             n->pip_name);
    if ((rc = arm_rg_create_locked(k, n->mrg, loc, ws_id)) < 0 ||
        (rc = rp_put(k, n->mrg, "networkSecurityGroups", "workers-sg",
                     json_pack("{s:s, s:{s:o}}", "location", loc, "properties", "securityRules",
                               managed_rules(n->scc, n->all_rules)),
                     e)) < 0)
        return rc;
    if (n->scc &&
        ((rc = rp_put(k, n->mrg, "publicIPAddresses", n->pip_name,
                      json_pack("{s:s, s:{s:s}, s:{s:s}}", "location", loc, "sku", "name",
                                "Standard", "properties", "publicIPAllocationMethod", "Static"),
                      e)) < 0 ||
         (rc = rp_put(k, n->mrg, "natGateways", n->nat_name,
                      json_pack("{s:s, s:{s:s}, s:{s:i, s:[{s:s}]}}", "location", loc, "sku",
                                "name", "Standard", "properties", "idleTimeoutInMinutes", 4,
                                "publicIpAddresses", "id", pip),
                      e)) < 0))
        return rc;
    subs = json_pack("[{s:s, s:{s:s, s:{s:s}}}, {s:s, s:{s:s, s:{s:s}}}]", "name", "public-subnet",
                     "properties", "addressPrefix", cidr[1], "networkSecurityGroup", "id", nsg,
                     "name", "private-subnet", "properties", "addressPrefix", cidr[2],
                     "networkSecurityGroup", "id", nsg);
    for (size_t i = 0; n->scc && subs && i < 2; i++)
        json_object_set_new(json_object_get(json_array_get(subs, i), "properties"), "natGateway",
                            json_pack("{s:s}", "id", nat));
    if ((rc = rp_put(k, n->mrg, "virtualNetworks", "workers-vnet",
                     json_pack("{s:s, s:{s:{s:[s]}, s:o}}", "location", loc, "properties",
                               "addressSpace", "addressPrefixes", cidr[0], "subnets", subs),
                     e)) < 0)
        return rc;
    return managed_extras(k, ws, n->mrg, loc);
}

int
ws_network_apply(struct arm_call *k, const char *ws_id, const json_t *body, struct ctl_arm_op *op)
{
    struct ctl_net_err e = {0};
    struct ws_net n;
    int rc;

    ws_net_of(body, &n);
    rc = n.vnet ? inject_apply(k, ws_id, &n, &e) : managed_apply(k, ws_id, body, &n, &e);
    if (rc < 0 && e.status)
        arm_op_set_error(op, e.code, "%s", e.message);
    else if (rc < 0)
        arm_op_set_error(op, "InternalServerError", "the workspace network could not be set up: %s",
                         scc_strerror(rc));
    return rc;
}

static int
collect_dst_id(const char *owner, const char *kind, const char *src, const char *dst, void *arg)
{
    (void)owner, (void)kind, (void)src;
    return json_array_append_new(arg, json_string(dst)) ? SCC_ENOMEM : 0;
}

int
ws_network_remove(struct arm_call *k, const char *ws_id, const json_t *body)
{
    struct ctl_net_err e = {0};
    struct ws_net n;
    json_t *nsgs = json_array(), *v;
    struct ctl_arm_row r;
    size_t i;
    int rc;

    ws_net_of(body, &n);
    (void)ctl_store_arm_ref_each_owner(k->c->store, ws_id, NET_REF_WS_NSG, collect_dst_id, nsgs);
    rc = ctl_store_arm_ref_del_owner(k->c->store, ws_id);
    json_array_foreach(nsgs, i, v)
    {
        if (rc == 0)
            rc = nsg_rules(k, json_string_value(v), ws_id, NULL, &e);
    }
    json_decref(nsgs);
    if (rc == 0 && n.mrg && arm_row_get(k, n.mrg, &r) == 0) {
        bool ours = r.locked_by && strcasecmp(r.locked_by, ws_id) == 0;

        ctl_arm_row_fini(&r);
        if (ours)
            rc = arm_rg_delete_all(k, n.mrg);
    }
    return rc;
}

/* ---- the steps ---- */

static bool
compute_idle(struct arm_call *k, const char *ws_id, const char *mrg, bool to, struct ctl_arm_op *op)
{
    struct ctl_arm_compute c;
    int64_t vms = 0;

    if (ctl_store_arm_compute_get(k->c->store, ws_id, &c) < 0)
        c.clusters = c.pools = c.warehouses = 0;
    /* Running VMs (ctl_compute.c) are running compute too. */
    if (mrg && ctl_compute_count(k->c->store, mrg, &vms) < 0)
        vms = 0;
    if (c.clusters + c.pools + c.warehouses + vms == 0)
        return true;
    arm_op_set_error(op, "WorkspaceUpdateFailed",
                     "Setting enableNoPublicIp to %s failed: compute is running in workspace "
                     "%.200s (%lld cluster(s), %lld pool(s), %lld SQL warehouse(s), %lld node "
                     "VM(s)). Stop all clusters, pools and classic SQL warehouses and delete the "
                     "nodes, then redo the update; the workspace stays Failed until an update "
                     "succeeds.",
                     to ? "true" : "false", ctl_arm_id_last(ws_id), (long long)c.clusters,
                     (long long)c.pools, (long long)c.warehouses, (long long)vms);
    return false;
}

static int
put_step0(struct arm_call *k, struct ctl_arm_op *op, json_t *cur, json_t *desired, bool create)
{
    struct ws_net n, o;

    ws_net_of(desired, &n);
    ws_net_of(cur, &o);
    if (!ws_subnets_exist(k, &n, op))
        return -1;
    /* The SCC upgrade (or its temporary rollback) needs every compute
     * resource stopped (secure-cluster-connectivity, "Step 1"). */
    if (!create && n.scc != o.scc && !compute_idle(k, op->resource_id, o.mrg, n.scc, op))
        return -1;
    if (create && ws_write(k, op->resource_id, cur, "Creating") < 0)
        return SCC_ESTORE;
    return 1;
}

int
arm_ws_put_step(struct arm_call *k, struct ctl_arm_op *op, json_t *payload)
{
    json_t *desired = json_deep_copy(json_object_get(payload, "desired"));
    json_t *cur = net_body(k, op->resource_id);
    bool create = json_is_true(json_object_get(payload, "create"));
    int rc;

    if (cur == NULL || desired == NULL) {
        arm_op_set_error(op, "ResourceNotFound",
                         "The workspace was deleted while the operation ran.");
        rc = -1;
    } else if (op->step == 0) {
        rc = put_step0(k, op, cur, desired, create);
    } else if (op->step == 1) {
        rc = ws_network_apply(k, op->resource_id, desired, op) < 0 ? -1 : 1;
    } else {
        rc = ws_write(k, op->resource_id, desired, "Succeeded");
    }
    json_decref(cur);
    json_decref(desired);
    return rc;
}

int
arm_ws_fail(struct arm_call *k, struct ctl_arm_op *op, json_t *payload)
{
    json_t *cur = net_body(k, op->resource_id), *body;
    bool create = json_is_true(json_object_get(payload, "create"));
    int rc = 0;

    /* A failed create shows what was asked; a failed update keeps the
     * workspace as it was (its enableNoPublicIp unchanged), marked Failed. */
    body = create ? json_deep_copy(json_object_get(payload, "desired")) : json_incref(cur);
    if (cur && body)
        rc = ws_write(k, op->resource_id, body, "Failed");
    json_decref(body);
    json_decref(cur);
    return rc;
}

int
arm_ws_delete_now(struct arm_call *k, const char *ws_id)
{
    json_t *body = net_body(k, ws_id);
    int rc = body ? ws_network_remove(k, ws_id, body) : 0;

    json_decref(body);
    return rc == 0 ? arm_row_del(k, ws_id) : rc;
}

int
arm_ws_del_step(struct arm_call *k, struct ctl_arm_op *op, json_t *payload)
{
    json_t *body = net_body(k, op->resource_id);
    int rc;

    (void)payload;
    if (body == NULL)
        return 0;
    if (op->step == 0) {
        rc = ws_network_remove(k, op->resource_id, body) < 0 ? SCC_ESTORE : 1;
    } else if ((rc = arm_row_del(k, op->resource_id) < 0 ? SCC_ESTORE : 0) == 0 && k->c->wire) {
        /* Gone from the store; with a provider, the delete ends only when
         * a round has removed the namespaces and agents it made for the
         * workspace, as an ARM delete ends when the resources are gone. */
        snprintf(op->kind, sizeof(op->kind), "%s", CTL_COMPUTE_OP_WS_DEL);
        ctl_wire_op_created(k->c, op->id);
        k->round = true;
        rc = 1;
    }
    json_decref(body);
    return rc;
}
