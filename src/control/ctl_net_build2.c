/*
 * ctl_net_build2.c - request body -> stored body for load balancers,
 * firewalls and network interfaces: the types with IP configurations,
 * whose private addresses the API layer allocates afterwards.
 */
#include "ctl_net.h"

#include "ctl_arm_id.h"

#include "common/err.h"
#include "common/json.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct ctl_net_type types[] = {
        {"virtualNetworks", "Microsoft.Network/virtualNetworks", "subnets",
         "Microsoft.Network/virtualNetworks/subnets", ctl_net_vnet_build},
        {"networkSecurityGroups", "Microsoft.Network/networkSecurityGroups", "securityRules",
         "Microsoft.Network/networkSecurityGroups/securityRules", ctl_net_nsg_build},
        {"natGateways", "Microsoft.Network/natGateways", NULL, NULL, ctl_net_nat_build},
        {"publicIPAddresses", "Microsoft.Network/publicIPAddresses", NULL, NULL, ctl_net_pip_build},
        {"routeTables", "Microsoft.Network/routeTables", "routes",
         "Microsoft.Network/routeTables/routes", ctl_net_rt_build},
        {"loadBalancers", "Microsoft.Network/loadBalancers", NULL, NULL, ctl_net_lb_build},
        {"azureFirewalls", "Microsoft.Network/azureFirewalls", NULL, NULL, ctl_net_fw_build},
        {"networkInterfaces", "Microsoft.Network/networkInterfaces", NULL, NULL, ctl_net_nic_build},
};

const struct ctl_net_type *
ctl_net_type_of(const char *type)
{
    for (size_t i = 0; type && i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcasecmp(types[i].type, type) == 0)
            return &types[i];
    }
    return NULL;
}

static int
bad(struct ctl_net_err *e, const char *code, const char *msg)
{
    if (e->status == 0)
        ctl_net_err_set(e, 400, code, "%s", msg);
    return SCC_EINVAL;
}

/* Children {name, properties} of coll, each through fn (NULL: copied). */
static int
children(const struct ctl_net_ctx *x, const json_t *in, json_t *props, const char *coll,
         const char *type,
         int (*fn)(const struct ctl_net_ctx *, const json_t *, json_t *, struct ctl_net_err *),
         struct ctl_net_err *e)
{
    json_t *out = json_array(), *c;
    size_t i;

    if (in && !json_is_null(in) && !json_is_array(in)) {
        json_decref(out);
        return bad(e, "InvalidRequestFormat", "a child collection must be an array");
    }
    json_array_foreach(json_is_array(in) ? in : NULL, i, c)
    {
        const char *name = json_string_value(scc_json_iget(c, "name"));
        json_t *p = scc_json_iget(c, "properties"),
               *cp = json_pack("{s:s}", "provisioningState", "Succeeded");

        if (!ctl_net_name_ok(name) || (p && !json_is_object(p)) ||
            (fn ? fn(x, p, cp, e) < 0 : json_object_update_missing(cp, p ? p : cp) < 0)) {
            json_decref(cp);
            json_decref(out);
            return bad(e, "InvalidRequestFormat", "each child needs a valid name and properties");
        }
        json_array_append_new(out, ctl_net_child(x->id, coll, type, name, cp));
    }
    json_object_set_new(props, coll, out);
    return 0;
}

static int
set_ref(const json_t *p, json_t *props, const char *key, bool required, struct ctl_net_err *e)
{
    json_t *r = ctl_net_ref(scc_json_iget(p, key), key, e);

    if (e->status)
        return SCC_EINVAL;
    if (r == NULL)
        return required ? bad(e, "InvalidRequestFormat", "a required reference is missing") : 0;
    json_object_set_new(props, key, r);
    return 0;
}

/* ---- load balancers ---- */

static int
lb_frontend(const struct ctl_net_ctx *x, const json_t *p, json_t *props, struct ctl_net_err *e)
{
    (void)x;
    return set_ref(p, props, "publicIPAddress", true, e);
}

static int
lb_pool(const struct ctl_net_ctx *x, const json_t *p, json_t *props, struct ctl_net_err *e)
{
    (void)x, (void)p, (void)e;
    json_object_set_new(props, "backendIPConfigurations", json_array());
    return 0;
}

/* An outbound rule's references must name parts of this load balancer. */
static bool
own_part(const struct ctl_net_ctx *x, const json_t *ref)
{
    const char *id = json_string_value(json_object_get(ref, "id"));
    size_t n = strlen(x->id);

    return id && strncasecmp(id, x->id, n) == 0 && id[n] == '/';
}

static int
lb_outbound(const struct ctl_net_ctx *x, const json_t *p, json_t *props, struct ctl_net_err *e)
{
    static const char *const protos[] = {"All", "Tcp", "Udp"};
    json_t *fes = scc_json_iget(p, "frontendIPConfigurations"), *fe, *ports, *idle;
    const char *proto = json_string_value(scc_json_iget(p, "protocol"));
    size_t i;

    if (set_ref(p, props, "backendAddressPool", true, e) < 0 ||
        !own_part(x, json_object_get(props, "backendAddressPool")) || !json_is_array(fes) ||
        json_array_size(fes) == 0)
        return bad(e, "InvalidOutboundRule",
                   "an outbound rule needs frontendIPConfigurations and a backendAddressPool of "
                   "the same load balancer");
    json_object_set_new(props, "frontendIPConfigurations", json_array());
    json_array_foreach(fes, i, fe)
    {
        json_t *r = ctl_net_ref(fe, "frontendIPConfigurations", e);

        if (r == NULL || !own_part(x, r)) {
            json_decref(r);
            return bad(e, "InvalidOutboundRule", "a frontend must be one of this load balancer's");
        }
        json_array_append_new(json_object_get(props, "frontendIPConfigurations"), r);
    }
    for (i = 0; i < 3 && proto && strcasecmp(proto, protos[i]) != 0; i++)
        ;
    ports = scc_json_iget(p, "allocatedOutboundPorts");
    idle = scc_json_iget(p, "idleTimeoutInMinutes");
    if (i == 3 ||
        (ports && (!json_is_integer(ports) || json_integer_value(ports) < 0 ||
                   json_integer_value(ports) > 64000 || json_integer_value(ports) % 8)) ||
        (idle && (!json_is_integer(idle) || json_integer_value(idle) < 4 ||
                  json_integer_value(idle) > 120)))
        return bad(e, "InvalidOutboundRule",
                   "protocol is All, Tcp or Udp; allocatedOutboundPorts a multiple of 8 up to "
                   "64000; idleTimeoutInMinutes 4-120");
    json_object_set_new(props, "protocol", json_string(proto ? protos[i] : "All"));
    json_object_set_new(props, "allocatedOutboundPorts",
                        json_integer(ports ? json_integer_value(ports) : 0));
    json_object_set_new(props, "idleTimeoutInMinutes",
                        json_integer(idle ? json_integer_value(idle) : 4));
    json_object_set_new(props, "enableTcpReset",
                        json_boolean(json_is_true(scc_json_iget(p, "enableTcpReset"))));
    return 0;
}

int
ctl_net_lb_build(const struct ctl_net_ctx *x, const json_t *req, json_t **out,
                 struct ctl_net_err *e)
{
    const char *lb = "Microsoft.Network/loadBalancers/";
    json_t *p = scc_json_iget(req, "properties");
    json_t *body = ctl_net_envelope(x, "Microsoft.Network/loadBalancers", req);
    json_t *props = json_object_get(body, "properties");
    const char *sku = json_string_value(scc_json_iget(scc_json_iget(req, "sku"), "name"));
    char t[4][96];

    *out = NULL;
    if (body == NULL)
        return SCC_ENOMEM;
    snprintf(t[0], sizeof(t[0]), "%sfrontendIPConfigurations", lb);
    snprintf(t[1], sizeof(t[1]), "%sbackendAddressPools", lb);
    snprintf(t[2], sizeof(t[2]), "%soutboundRules", lb);
    snprintf(t[3], sizeof(t[3]), "%sloadBalancingRules", lb);
    if ((sku && strcasecmp(sku, "Standard") != 0) ||
        children(x, scc_json_iget(p, "frontendIPConfigurations"), props, "frontendIPConfigurations",
                 t[0], lb_frontend, e) < 0 ||
        children(x, scc_json_iget(p, "backendAddressPools"), props, "backendAddressPools", t[1],
                 lb_pool, e) < 0 ||
        children(x, scc_json_iget(p, "outboundRules"), props, "outboundRules", t[2], lb_outbound,
                 e) < 0 ||
        children(x, scc_json_iget(p, "loadBalancingRules"), props, "loadBalancingRules", t[3], NULL,
                 e) < 0) {
        (void)bad(e, "InvalidSku", "load balancers here are Standard SKU only");
        json_decref(body);
        return SCC_EINVAL;
    }
    json_object_set_new(body, "sku",
                        json_pack("{s:s, s:s}", "name", "Standard", "tier", "Regional"));
    json_object_set_new(props, "probes", json_array());
    json_object_set_new(props, "inboundNatRules", json_array());
    *out = body;
    return 0;
}

/* ---- firewalls (classic rule collections) ---- */

static int
fw_ipconf(const struct ctl_net_ctx *x, const json_t *p, json_t *props, struct ctl_net_err *e)
{
    const char *sub;

    (void)x;
    if (set_ref(p, props, "subnet", true, e) < 0)
        return SCC_EINVAL;
    /* A classic (AZFW_VNet) firewall always has a public IP: its SNAT
     * address, which the provider gives the firewall namespace. */
    if (set_ref(p, props, "publicIPAddress", false, e) < 0)
        return SCC_EINVAL;
    if (json_object_get(props, "publicIPAddress") == NULL)
        return bad(e, "AzureFirewallPublicIpAddressRequired",
                   "An Azure Firewall ipConfiguration needs a publicIPAddress.");
    sub = json_string_value(json_object_get(json_object_get(props, "subnet"), "id"));
    if (strcmp(ctl_arm_id_last(sub), "AzureFirewallSubnet") != 0)
        return bad(e, "AzureFirewallSubnetRequired",
                   "An Azure Firewall must be in a subnet named AzureFirewallSubnet.");
    return 0;
}

static bool
strings(const json_t *a, bool need)
{
    size_t i;
    json_t *v;

    if (a == NULL || json_is_null(a))
        return !need;
    if (!json_is_array(a) || (need && json_array_size(a) == 0))
        return false;
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v))
            return false;
    }
    return true;
}

static int
fw_collection(const struct ctl_net_ctx *x, const json_t *p, json_t *props, struct ctl_net_err *e)
{
    json_t *prio = scc_json_iget(p, "priority"), *rules = scc_json_iget(p, "rules"), *r;
    const char *action = json_string_value(scc_json_iget(scc_json_iget(p, "action"), "type"));
    size_t i;

    (void)x;
    if (!json_is_integer(prio) || json_integer_value(prio) < 100 ||
        json_integer_value(prio) > 65000 || action == NULL ||
        (strcasecmp(action, "Allow") != 0 && strcasecmp(action, "Deny") != 0 &&
         strcasecmp(action, "Dnat") != 0) ||
        !json_is_array(rules))
        return bad(e, "InvalidFirewallRuleCollection",
                   "a rule collection needs a priority from 100 to 65000, action.type Allow or "
                   "Deny (Dnat for NAT) and a rules array");
    json_array_foreach(rules, i, r)
    {
        if (!json_is_string(scc_json_iget(r, "name")) ||
            !strings(scc_json_iget(r, "sourceAddresses"), false) ||
            !strings(scc_json_iget(r, "destinationAddresses"), false) ||
            !strings(scc_json_iget(r, "destinationPorts"), false) ||
            !strings(scc_json_iget(r, "targetFqdns"), false))
            return bad(e, "InvalidFirewallRule",
                       "each firewall rule needs a name; addresses, ports and FQDNs are arrays "
                       "of strings");
    }
    json_object_set_new(props, "priority", json_integer(json_integer_value(prio)));
    json_object_set_new(props, "action", json_pack("{s:s}", "type", action));
    json_object_set(props, "rules", rules);
    return 0;
}

int
ctl_net_fw_build(const struct ctl_net_ctx *x, const json_t *req, json_t **out,
                 struct ctl_net_err *e)
{
    static const char *const colls[] = {"applicationRuleCollections", "networkRuleCollections",
                                        "natRuleCollections"};
    json_t *p = scc_json_iget(req, "properties");
    json_t *body = ctl_net_envelope(x, "Microsoft.Network/azureFirewalls", req);
    json_t *props = json_object_get(body, "properties");
    const char *tim = json_string_value(scc_json_iget(p, "threatIntelMode"));
    char t[96];

    *out = NULL;
    if (body == NULL)
        return SCC_ENOMEM;
    if (scc_json_iget(p, "firewallPolicy") && !json_is_null(scc_json_iget(p, "firewallPolicy"))) {
        ctl_net_err_set(e, 400, "FirewallPolicyNotSupported",
                        "Firewall policies are not supported here; use the classic rule "
                        "collections (networkRuleCollections, applicationRuleCollections).");
        goto bad;
    }
    if (children(x, scc_json_iget(p, "ipConfigurations"), props, "ipConfigurations",
                 "Microsoft.Network/azureFirewalls/azureFirewallIpConfigurations", fw_ipconf,
                 e) < 0)
        goto bad;
    for (size_t i = 0; i < 3; i++) {
        snprintf(t, sizeof(t), "Microsoft.Network/azureFirewalls/%s", colls[i]);
        if (children(x, scc_json_iget(p, colls[i]), props, colls[i], t, fw_collection, e) < 0)
            goto bad;
    }
    json_object_set_new(props, "sku",
                        json_pack("{s:s, s:s}", "name", "AZFW_VNet", "tier", "Standard"));
    json_object_set_new(props, "threatIntelMode", json_string(tim ? tim : "Alert"));
    json_object_set_new(props, "ipGroups", json_array());
    json_object_set_new(props, "additionalProperties", json_object());
    *out = body;
    return 0;
bad:
    json_decref(body);
    return SCC_EINVAL;
}

/* ---- network interfaces ---- */

static int
nic_ipconf(const struct ctl_net_ctx *x, const json_t *p, json_t *props, struct ctl_net_err *e)
{
    const char *m = json_string_value(scc_json_iget(p, "privateIPAllocationMethod"));
    const char *ip = json_string_value(scc_json_iget(p, "privateIPAddress"));
    json_t *pools = scc_json_iget(p, "loadBalancerBackendAddressPools"), *pl, *r;
    uint32_t a;
    size_t i;

    (void)x;
    if (set_ref(p, props, "subnet", true, e) < 0 ||
        set_ref(p, props, "publicIPAddress", false, e) < 0)
        return SCC_EINVAL;
    if (m && strcasecmp(m, "Static") != 0 && strcasecmp(m, "Dynamic") != 0)
        return bad(e, "InvalidParameter", "privateIPAllocationMethod is Static or Dynamic");
    m = m && strcasecmp(m, "Static") == 0 ? "Static" : "Dynamic";
    if (strcmp(m, "Static") == 0 && (ip == NULL || ctl_net_ip_parse(ip, &a) < 0))
        return bad(e, "InvalidParameter", "a Static ipConfiguration needs a privateIPAddress");
    json_object_set_new(props, "privateIPAllocationMethod", json_string(m));
    if (strcmp(m, "Static") == 0)
        json_object_set_new(props, "privateIPAddress", json_string(ip));
    json_object_set_new(props, "privateIPAddressVersion", json_string("IPv4"));
    json_object_set_new(props, "primary", json_boolean(json_is_true(scc_json_iget(p, "primary"))));
    json_object_set_new(props, "loadBalancerBackendAddressPools", json_array());
    json_array_foreach(json_is_array(pools) ? pools : NULL, i, pl)
    {
        if ((r = ctl_net_ref(pl, "loadBalancerBackendAddressPools", e)) == NULL)
            return bad(e, "InvalidResourceReference", "a backend pool reference is empty");
        json_array_append_new(json_object_get(props, "loadBalancerBackendAddressPools"), r);
    }
    return 0;
}

int
ctl_net_nic_build(const struct ctl_net_ctx *x, const json_t *req, json_t **out,
                  struct ctl_net_err *e)
{
    json_t *p = scc_json_iget(req, "properties"), *confs;
    json_t *body = ctl_net_envelope(x, "Microsoft.Network/networkInterfaces", req);
    json_t *props = json_object_get(body, "properties");
    const char *guid = json_string_value(json_object_get(props, "resourceGuid"));
    char mac[18];

    *out = NULL;
    if (body == NULL)
        return SCC_ENOMEM;
    if (children(x, scc_json_iget(p, "ipConfigurations"), props, "ipConfigurations",
                 "Microsoft.Network/networkInterfaces/ipConfigurations", nic_ipconf, e) < 0 ||
        set_ref(p, props, "networkSecurityGroup", false, e) < 0)
        goto bad;
    confs = json_object_get(props, "ipConfigurations");
    if (json_array_size(confs) == 0) {
        ctl_net_err_set(e, 400, "InvalidRequestFormat",
                        "A network interface needs at least one ipConfiguration.");
        goto bad;
    }
    /* The first configuration is primary unless one says so. */
    json_object_set_new(json_object_get(json_array_get(confs, 0), "properties"), "primary",
                        json_true());
    /* Azure's MACs start 00-0D-3A; the rest is stable per resource. */
    snprintf(mac, sizeof(mac), "00-0D-3A-%.2s-%.2s-%.2s", guid, guid + 2, guid + 4);
    json_object_set_new(props, "macAddress", json_string(mac));
    json_object_set_new(
            props, "enableAcceleratedNetworking",
            json_boolean(json_is_true(scc_json_iget(p, "enableAcceleratedNetworking"))));
    json_object_set_new(props, "enableIPForwarding",
                        json_boolean(json_is_true(scc_json_iget(p, "enableIPForwarding"))));
    json_object_set_new(props, "primary", json_true());
    json_object_set_new(props, "dnsSettings",
                        json_pack("{s:[], s:[]}", "dnsServers", "appliedDnsServers"));
    *out = body;
    return 0;
bad:
    json_decref(body);
    return SCC_EINVAL;
}
