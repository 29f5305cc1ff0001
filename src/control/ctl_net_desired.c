/*
 * ctl_net_desired.c - the provider's desired-state document
 * (docs/internals/provider.md) from the stored network resources.
 *
 * Everything is resolved here so the provider needs no ARM knowledge:
 * public IP references become addresses, subnets carry their prefix and
 * associations, rules are flattened and sorted by priority.  Arrays are
 * sorted by id, so the same store always gives the same document and a
 * provider can diff documents byte for byte.
 */
#include "ctl_net.h"

#include "ctl_arm_id.h"
#include "ctl_store_arm.h"

#include "common/err.h"
#include "common/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static json_t *
id_or_null(const json_t *ref)
{
    const char *id = json_string_value(json_object_get(ref, "id"));

    return id ? json_string(id) : json_null();
}

/* The address of the public IP a reference names, or null. */
static json_t *
pip_addr(const json_t *pips, const json_t *ref)
{
    const char *id = json_string_value(json_object_get(ref, "id"));
    char lc[CTL_ARM_ID_MAX];
    const char *ip;

    if (id == NULL || ctl_arm_lower(id, lc, sizeof(lc)) < 0)
        return json_null();
    ip = json_string_value(
            json_object_get(json_object_get(json_object_get(pips, lc), "properties"), "ipAddress"));
    return ip ? json_string(ip) : json_null();
}

/* "x" and "xs" of a rule, merged into one array. */
static json_t *
both(const json_t *p, const char *one, const char *many)
{
    json_t *out = json_array(), *v = json_object_get(p, one);
    size_t i;

    if (json_is_string(v))
        json_array_append(out, v);
    json_array_foreach(json_object_get(p, many), i, v) json_array_append(out, v);
    return out;
}

static json_t *
vnet_doc(const json_t *b)
{
    json_t *p = json_object_get(b, "properties"), *subs = json_array(), *s;
    size_t i;

    json_array_foreach(json_object_get(p, "subnets"), i, s)
    {
        json_t *sp = json_object_get(s, "properties");
        json_t *pre = json_object_get(sp, "addressPrefix");

        if (pre == NULL)
            pre = json_array_get(json_object_get(sp, "addressPrefixes"), 0);
        /* Default outbound access was retired: only an explicit true gives it. */
        json_array_append_new(
                subs,
                json_pack("{s:O, s:O, s:o, s:o, s:o, s:b}", "id", json_object_get(s, "id"),
                          "prefix", pre ? pre : json_null(), "network_security_group",
                          id_or_null(json_object_get(sp, "networkSecurityGroup")), "nat_gateway",
                          id_or_null(json_object_get(sp, "natGateway")), "route_table",
                          id_or_null(json_object_get(sp, "routeTable")), "default_outbound_access",
                          json_is_true(json_object_get(sp, "defaultOutboundAccess"))));
    }
    return json_pack("{s:O, s:O, s:o}", "id", json_object_get(b, "id"), "address_prefixes",
                     json_object_get(json_object_get(p, "addressSpace"), "addressPrefixes"),
                     "subnets", subs);
}

static int
by_priority(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int dx = strcmp(json_string_value(json_object_get(x, "direction")), "Inbound") != 0;
    int dy = strcmp(json_string_value(json_object_get(y, "direction")), "Inbound") != 0;
    json_int_t px = json_integer_value(json_object_get(x, "priority"));
    json_int_t py = json_integer_value(json_object_get(y, "priority"));

    return dx != dy ? dx - dy : px < py ? -1 : px > py;
}

static json_t *
sorted(json_t *arr, int (*cmp)(const void *, const void *))
{
    size_t n = json_array_size(arr);
    json_t **items = calloc(n ? n : 1, sizeof(*items)), *out = json_array();

    for (size_t i = 0; items && i < n; i++)
        items[i] = json_array_get(arr, i);
    if (items)
        qsort(items, n, sizeof(*items), cmp);
    for (size_t i = 0; items && i < n; i++)
        json_array_append(out, items[i]);
    free(items);
    json_decref(arr);
    return out;
}

static json_t *
nsg_doc(const json_t *b)
{
    json_t *rules = json_array(), *r;
    size_t i;

    json_array_foreach(json_object_get(json_object_get(b, "properties"), "securityRules"), i, r)
    {
        json_t *p = json_object_get(r, "properties");

        json_array_append_new(
                rules,
                json_pack("{s:O, s:O, s:O, s:O, s:O, s:o, s:o, s:o, s:o}", "name",
                          json_object_get(r, "name"), "priority", json_object_get(p, "priority"),
                          "direction", json_object_get(p, "direction"), "access",
                          json_object_get(p, "access"), "protocol", json_object_get(p, "protocol"),
                          "source", both(p, "sourceAddressPrefix", "sourceAddressPrefixes"),
                          "source_ports", both(p, "sourcePortRange", "sourcePortRanges"),
                          "destination",
                          both(p, "destinationAddressPrefix", "destinationAddressPrefixes"),
                          "destination_ports",
                          both(p, "destinationPortRange", "destinationPortRanges")));
    }
    return json_pack("{s:O, s:o}", "id", json_object_get(b, "id"), "rules",
                     sorted(rules, by_priority));
}

static json_t *
nat_doc(const json_t *b, const json_t *pips)
{
    json_t *p = json_object_get(b, "properties"), *ips = json_array(), *r;
    size_t i;

    json_array_foreach(json_object_get(p, "publicIpAddresses"), i, r)
            json_array_append_new(ips, pip_addr(pips, r));
    return json_pack("{s:O, s:o, s:O}", "id", json_object_get(b, "id"), "public_ips", ips,
                     "idle_timeout_minutes", json_object_get(p, "idleTimeoutInMinutes"));
}

static json_t *
rt_doc(const json_t *b)
{
    json_t *routes = json_array(), *r;
    size_t i;

    json_array_foreach(json_object_get(json_object_get(b, "properties"), "routes"), i, r)
    {
        json_t *p = json_object_get(r, "properties"), *ip = json_object_get(p, "nextHopIpAddress");

        json_array_append_new(routes,
                              json_pack("{s:O, s:O, s:O, s:O}", "name", json_object_get(r, "name"),
                                        "prefix", json_object_get(p, "addressPrefix"),
                                        "next_hop_type", json_object_get(p, "nextHopType"),
                                        "next_hop_ip", ip ? ip : json_null()));
    }
    return json_pack("{s:O, s:o}", "id", json_object_get(b, "id"), "routes", routes);
}

static json_t *
fw_collections(const json_t *colls, bool app)
{
    json_t *out = json_array(), *c, *r;
    size_t i, j;

    json_array_foreach(colls, i, c)
    {
        json_t *p = json_object_get(c, "properties"), *rules = json_array();

        json_array_foreach(json_object_get(p, "rules"), j, r)
        {
            json_t *o = json_pack(
                    "{s:O, s:O}", "name", json_object_get(r, "name"), "source_addresses",
                    json_object_get(r, "sourceAddresses") ? json_object_get(r, "sourceAddresses")
                                                          : json_array());
            json_t *protos = json_array(), *pr;
            size_t m;

            json_array_foreach(json_object_get(r, "protocols"), m, pr) json_array_append_new(
                    protos,
                    app ? json_pack("{s:O, s:O}", "type", json_object_get(pr, "protocolType"),
                                    "port", json_object_get(pr, "port"))
                        : json_incref(pr));
            json_object_set_new(o, "protocols", protos);
            if (app)
                json_object_set(o, "target_fqdns",
                                json_object_get(r, "targetFqdns")
                                        ? json_object_get(r, "targetFqdns")
                                        : json_array());
            else {
                json_object_set(o, "destination_addresses",
                                json_object_get(r, "destinationAddresses")
                                        ? json_object_get(r, "destinationAddresses")
                                        : json_array());
                json_object_set(o, "destination_ports",
                                json_object_get(r, "destinationPorts")
                                        ? json_object_get(r, "destinationPorts")
                                        : json_array());
            }
            json_array_append_new(rules, o);
        }
        json_array_append_new(out,
                              json_pack("{s:O, s:O, s:O, s:o}", "name", json_object_get(c, "name"),
                                        "priority", json_object_get(p, "priority"), "action",
                                        json_object_get(json_object_get(p, "action"), "type"),
                                        "rules", rules));
    }
    return out;
}

static json_t *
fw_doc(const json_t *b, const json_t *pips)
{
    json_t *p = json_object_get(b, "properties");
    json_t *ic = json_object_get(json_array_get(json_object_get(p, "ipConfigurations"), 0),
                                 "properties");
    json_t *priv = json_object_get(ic, "privateIPAddress");

    return json_pack("{s:O, s:o, s:O, s:o, s:o, s:o}", "id", json_object_get(b, "id"), "subnet",
                     id_or_null(json_object_get(ic, "subnet")), "private_ip",
                     priv ? priv : json_null(), "public_ip",
                     pip_addr(pips, json_object_get(ic, "publicIPAddress")),
                     "network_rule_collections",
                     fw_collections(json_object_get(p, "networkRuleCollections"), false),
                     "application_rule_collections",
                     fw_collections(json_object_get(p, "applicationRuleCollections"), true));
}

static json_t *
lb_doc(const json_t *b, const json_t *pips)
{
    json_t *p = json_object_get(b, "properties"), *fes = json_array(), *outs = json_array(), *c;
    size_t i;

    json_array_foreach(json_object_get(p, "frontendIPConfigurations"), i, c) json_array_append_new(
            fes,
            pip_addr(pips, json_object_get(json_object_get(c, "properties"), "publicIPAddress")));
    json_array_foreach(json_object_get(p, "outboundRules"), i, c)
    {
        json_t *op = json_object_get(c, "properties");
        json_int_t ports = json_integer_value(json_object_get(op, "allocatedOutboundPorts"));

        /* 0 means "automatic"; Azure's example answers 1024. */
        json_array_append_new(
                outs, json_pack("{s:O, s:I, s:O, s:[]}", "name", json_object_get(c, "name"),
                                "allocated_outbound_ports", (json_int_t)(ports ? ports : 1024),
                                "idle_timeout_minutes", json_object_get(op, "idleTimeoutInMinutes"),
                                "backend_vms"));
    }
    return json_pack("{s:O, s:o, s:o}", "id", json_object_get(b, "id"), "frontend_ips", fes,
                     "outbound_rules", outs);
}

static int
by_id(const void *a, const void *b)
{
    return strcasecmp(json_string_value(json_object_get(*(json_t *const *)a, "id")),
                      json_string_value(json_object_get(*(json_t *const *)b, "id")));
}

static json_t *
skeleton(const struct ctl_net_env *env)
{
    char api[24], relay[24];

    snprintf(api, sizeof(api), "%s/32", env->api_ip);
    snprintf(relay, sizeof(relay), "%s/32", env->relay_ip);
    return json_pack("{s:i, s:{s:{s:s, s:i}, s:{s:s, s:i}}, s:{s:[s, s], s:[s], s:[s], s:[s], "
                     "s:[s]}, s:[], s:[], s:[], s:[], s:[], s:[], s:[]}",
                     "version", 1, "control_plane", "api", "public_ip", env->api_ip, "port",
                     env->api_port, "relay", "public_ip", env->relay_ip, "port", env->relay_port,
                     "service_tags", "AzureDatabricks", api, relay, "Sql", "198.51.100.20/32",
                     "Storage", "198.51.100.21/32", "EventHub", "198.51.100.22/32", "Internet",
                     "0.0.0.0/0", "vnets", "network_security_groups", "nat_gateways",
                     "route_tables", "firewalls", "load_balancers", "vms");
}

static const char *
kind_of(const json_t *b)
{
    static const char *const map[][2] = {
            {"Microsoft.Network/virtualNetworks", "vnets"},
            {"Microsoft.Network/networkSecurityGroups", "network_security_groups"},
            {"Microsoft.Network/natGateways", "nat_gateways"},
            {"Microsoft.Network/routeTables", "route_tables"},
            {"Microsoft.Network/azureFirewalls", "firewalls"},
            {"Microsoft.Network/loadBalancers", "load_balancers"},
    };
    const char *type = json_string_value(json_object_get(b, "type"));

    for (size_t i = 0; type && i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcasecmp(type, map[i][0]) == 0)
            return map[i][1];
    }
    return NULL;
}

int
ctl_net_desired_build(const json_t *resources, const struct ctl_net_env *env, json_t **out)
{
    json_t *doc = skeleton(env), *pips = json_object(), *b;
    char lc[CTL_ARM_ID_MAX];
    const char *key;
    size_t i;

    *out = NULL;
    if (doc == NULL || pips == NULL) {
        json_decref(doc);
        json_decref(pips);
        return SCC_ENOMEM;
    }
    json_array_foreach(resources, i, b)
    {
        const char *type = json_string_value(json_object_get(b, "type"));

        if (type && strcasecmp(type, "Microsoft.Network/publicIPAddresses") == 0 &&
            ctl_arm_lower(json_string_value(json_object_get(b, "id")), lc, sizeof(lc)) == 0)
            json_object_set(pips, lc, b);
    }
    json_array_foreach(resources, i, b)
    {
        const char *kind = kind_of(b);
        json_t *d = NULL;

        if (kind == NULL)
            continue;
        if (strcmp(kind, "vnets") == 0)
            d = vnet_doc(b);
        else if (strcmp(kind, "network_security_groups") == 0)
            d = nsg_doc(b);
        else if (strcmp(kind, "nat_gateways") == 0)
            d = nat_doc(b, pips);
        else if (strcmp(kind, "route_tables") == 0)
            d = rt_doc(b);
        else if (strcmp(kind, "firewalls") == 0)
            d = fw_doc(b, pips);
        else
            d = lb_doc(b, pips);
        if (d)
            json_array_append_new(json_object_get(doc, kind), d);
    }
    json_object_foreach(doc, key, b)
    {
        if (json_is_array(b))
            json_object_set_new(doc, key, sorted(json_incref(b), by_id));
    }
    json_decref(pips);
    *out = doc;
    return 0;
}

static int
collect(const struct ctl_arm_row *r, void *arg)
{
    json_t *b = json_loads(r->body, 0, NULL);

    if (b == NULL)
        return SCC_ENOMEM;
    return json_array_append_new(arg, b) == 0 ? 0 : SCC_ENOMEM;
}

int
ctl_net_desired(struct ctl_store *st, const struct ctl_net_env *env, json_t **out)
{
    static const char *const types[] = {
            "Microsoft.Network/virtualNetworks", "Microsoft.Network/networkSecurityGroups",
            "Microsoft.Network/natGateways",     "Microsoft.Network/publicIPAddresses",
            "Microsoft.Network/routeTables",     "Microsoft.Network/azureFirewalls",
            "Microsoft.Network/loadBalancers",
    };
    json_t *all = json_array();
    int rc = all ? 0 : SCC_ENOMEM;

    *out = NULL;
    for (size_t i = 0; rc == 0 && i < sizeof(types) / sizeof(types[0]); i++) {
        struct ctl_arm_filter f = {NULL, NULL, types[i]};

        rc = ctl_store_arm_res_each(st, &f, collect, all);
    }
    if (rc == 0)
        rc = ctl_net_desired_build(all, env, out);
    json_decref(all);
    return rc;
}
