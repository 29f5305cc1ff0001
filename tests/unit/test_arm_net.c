/* Microsoft.Network validation, the Databricks NSG rule sets per mode and
 * their protection, and the provider's desired-state document
 * (src/control/ctl_net*.c). */
#include "test.h"

#include "common/err.h"
#include "control/ctl_net.h"
#include "control/ctl_prov_int.h"

#include <jansson.h>
#include <string.h>

#define RG "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/"

static json_t *
J(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);

    if (v == NULL)
        fail_msg("bad test JSON: %s", e.text);
    return v;
}

/* ---- addresses ---- */

static void
test_cidr_parse_contains_overlap(void **state)
{
    struct ctl_net_cidr a, b, c;
    uint32_t ip;

    (void)state;
    assert_int_equal(ctl_net_cidr_parse("10.179.0.0/16", &a), 0);
    assert_int_equal(ctl_net_cidr_parse("10.179.64.0/18", &b), 0);
    assert_int_equal(ctl_net_cidr_parse("10.180.0.0/24", &c), 0);
    assert_true(ctl_net_cidr_contains(&a, &b));
    assert_false(ctl_net_cidr_contains(&b, &a));
    assert_true(ctl_net_cidr_overlap(&a, &b) && ctl_net_cidr_overlap(&b, &a));
    assert_false(ctl_net_cidr_overlap(&a, &c));
    assert_int_equal(ctl_net_cidr_parse("10.179.0.1/16", &a), SCC_ERANGE); /* host bits */
    assert_int_equal(ctl_net_cidr_parse("10.0.0.0/33", &a), SCC_EINVAL);
    assert_int_equal(ctl_net_cidr_parse("10.0.0/8", &a), SCC_EINVAL);
    assert_int_equal(ctl_net_cidr_parse("010.0.0.0/8", &a), SCC_EINVAL);
    assert_int_equal(ctl_net_cidr_parse("0.0.0.0/0", &a), 0);
    assert_int_equal(ctl_net_ip_parse("203.0.113.7", &ip), 0);
    assert_true(ctl_net_cidr_has_ip(&a, ip));
    assert_int_equal(ctl_net_ip_parse("256.0.0.1", &ip), SCC_EINVAL);
}

static void
test_prefixes_tags_and_ports(void **state)
{
    (void)state;
    assert_true(ctl_net_is_prefix("*"));
    assert_true(ctl_net_is_prefix("AzureDatabricks"));
    assert_true(ctl_net_is_prefix("virtualnetwork"));
    assert_true(ctl_net_is_prefix("Storage.EastUS"));
    assert_true(ctl_net_is_prefix("10.0.0.0/8"));
    assert_true(ctl_net_is_prefix("10.0.0.1"));
    assert_false(ctl_net_is_prefix("Bogus"));
    assert_false(ctl_net_is_prefix("Storage."));
    assert_true(ctl_net_is_port_range("*"));
    assert_true(ctl_net_is_port_range("8443-8451"));
    assert_true(ctl_net_is_port_range("0"));
    assert_false(ctl_net_is_port_range("65536"));
    assert_false(ctl_net_is_port_range("10-5"));
    assert_false(ctl_net_is_port_range("a"));
}

/* ---- rules ---- */

static bool
has_rule(const json_t *rules, const char *suffix)
{
    char name[200];
    size_t i;
    json_t *r;

    snprintf(name, sizeof(name), "%s%s", CTL_NET_DBX_PREFIX, suffix);
    json_array_foreach(rules, i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "name")), name) == 0)
            return true;
    }
    return false;
}

static void
test_dbx_rule_sets_per_mode(void **state)
{
    json_t *on = ctl_net_dbx_rules(true, true, RG "networkSecurityGroups/n");
    json_t *off = ctl_net_dbx_rules(false, true, NULL);
    json_t *pl = ctl_net_dbx_rules(true, false, NULL);
    json_t *web;

    (void)state;
    /* SCC on and off differ by exactly the two inbound rules. */
    assert_int_equal(json_array_size(on), 6);
    assert_int_equal(json_array_size(off), 8);
    assert_false(has_rule(on, "databricks-control-plane-to-worker-ssh"));
    assert_false(has_rule(on, "databricks-control-plane-to-worker-proxy"));
    assert_true(has_rule(off, "databricks-control-plane-to-worker-ssh"));
    assert_true(has_rule(off, "databricks-control-plane-to-worker-proxy"));
    /* NoAzureDatabricksRules drops rule 4 only. */
    assert_int_equal(json_array_size(pl), 5);
    assert_false(has_rule(pl, "databricks-worker-to-databricks-webapp"));
    assert_true(has_rule(pl, "databricks-worker-to-eventhub"));
    web = json_object_get(json_array_get(on, 1), "properties");
    assert_string_equal(json_string_value(json_object_get(web, "direction")), "Outbound");
    assert_int_equal(json_integer_value(json_object_get(web, "priority")), 100);
    assert_int_equal(json_array_size(json_object_get(web, "destinationPortRanges")), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(on, 0), "id")),
                        RG "networkSecurityGroups/n/securityRules/"
                           "Microsoft.Databricks-workspaces_UseOnly_databricks-worker-to-worker-"
                           "inbound");
    json_decref(on);
    json_decref(off);
    json_decref(pl);
}

static void
test_rule_build_canonicalises_and_echoes_both_forms(void **state)
{
    json_t *in =
            J("{\"name\": \"r\", \"properties\": {\"protocol\": \"tcp\", \"access\": \"allow\","
              " \"direction\": \"inbound\", \"priority\": 200, \"sourceAddressPrefixes\":"
              " [\"10.0.0.0/8\", \"Sql\"], \"destinationAddressPrefix\": \"*\","
              " \"sourcePortRange\": \"*\", \"destinationPortRanges\": [\"22\", \"80-90\"]}}");
    struct ctl_net_err e = {0};
    json_t *out = NULL, *p;

    (void)state;
    assert_int_equal(ctl_net_rule_build(in, RG "networkSecurityGroups/n", &out, &e), 0);
    p = json_object_get(out, "properties");
    assert_string_equal(json_string_value(json_object_get(p, "protocol")), "Tcp");
    assert_string_equal(json_string_value(json_object_get(p, "access")), "Allow");
    assert_string_equal(json_string_value(json_object_get(p, "direction")), "Inbound");
    assert_int_equal(json_array_size(json_object_get(p, "destinationAddressPrefixes")), 0);
    assert_int_equal(json_array_size(json_object_get(p, "sourceAddressPrefixes")), 2);
    assert_null(json_object_get(p, "sourceAddressPrefix"));
    assert_string_equal(json_string_value(json_object_get(out, "type")),
                        "Microsoft.Network/networkSecurityGroups/securityRules");
    json_decref(out);
    json_decref(in);
}

static void
test_rule_build_refuses_bad_fields(void **state)
{
    static const char *const bad[][2] = {
            {"{\"name\":\"r\",\"properties\":{\"protocol\":\"Gre\",\"access\":\"Allow\","
             "\"direction\":"
             "\"Inbound\",\"priority\":100,\"sourceAddressPrefix\":\"*\","
             "\"destinationAddressPrefix\":"
             "\"*\",\"sourcePortRange\":\"*\",\"destinationPortRange\":\"*\"}}",
             "InvalidSecurityRule"},
            {"{\"name\":\"r\",\"properties\":{\"protocol\":\"Tcp\",\"access\":\"Allow\","
             "\"direction\":"
             "\"Inbound\",\"priority\":4097,\"sourceAddressPrefix\":\"*\","
             "\"destinationAddressPrefix\":"
             "\"*\",\"sourcePortRange\":\"*\",\"destinationPortRange\":\"*\"}}",
             "SecurityRuleInvalidPriority"},
            {"{\"name\":\"r\",\"properties\":{\"protocol\":\"Tcp\",\"access\":\"Allow\","
             "\"direction\":"
             "\"Inbound\",\"priority\":100,\"sourceAddressPrefix\":\"*\",\"sourceAddressPrefixes\":"
             "[\"Sql\"],\"destinationAddressPrefix\":\"*\",\"sourcePortRange\":\"*\","
             "\"destinationPortRange\":\"*\"}}",
             "InvalidSecurityRule"},
            {"{\"name\":\"r\",\"properties\":{\"protocol\":\"Tcp\",\"access\":\"Allow\","
             "\"direction\":"
             "\"Inbound\",\"priority\":100,\"sourceAddressPrefix\":\"Nope\","
             "\"destinationAddressPrefix"
             "\":\"*\",\"sourcePortRange\":\"*\",\"destinationPortRange\":\"*\"}}",
             "SecurityRuleInvalidAddressPrefix"},
            {"{\"name\":\"bad name\",\"properties\":{}}", "InvalidSecurityRule"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *in = J(bad[i][0]), *out = NULL;
        struct ctl_net_err e = {0};

        assert_int_equal(ctl_net_rule_build(in, "n", &out, &e), SCC_EINVAL);
        assert_null(out);
        assert_int_equal(e.status, 400);
        assert_string_equal(e.code, bad[i][1]);
        json_decref(in);
    }
}

static void
test_rules_check_priority_direction_conflict(void **state)
{
    json_t *rules = ctl_net_dbx_rules(false, true, "n"), *copy;
    struct ctl_net_err e = {0};

    (void)state;
    assert_int_equal(ctl_net_rules_check(rules, &e), 0);
    /* Same priority, other direction: fine (rule 1 in, rule 4 out at 100). */
    copy = json_deep_copy(json_array_get(rules, 1));
    json_object_set_new(copy, "name", json_string("mine"));
    json_array_append_new(rules, copy);
    assert_int_equal(ctl_net_rules_check(rules, &e), SCC_EINVAL);
    assert_string_equal(e.code, "SecurityRuleConflict");
    assert_non_null(strstr(e.message, "Rules cannot have the same Priority and Direction"));
    json_decref(rules);
}

static void
test_protection_of_required_rules(void **state)
{
    json_t *required = ctl_net_dbx_rules(true, true, "n");
    json_t *rules = json_deep_copy(required), *changed, *extra;
    struct ctl_net_err e = {0};

    (void)state;
    assert_int_equal(ctl_net_rules_protected(rules, required, &e), 0);
    /* A user rule elsewhere is fine. */
    extra = json_deep_copy(json_array_get(rules, 0));
    json_object_set_new(extra, "name", json_string("user"));
    json_object_set_new(json_object_get(extra, "properties"), "priority", json_integer(500));
    json_array_append(rules, extra);
    assert_int_equal(ctl_net_rules_protected(rules, required, &e), 0);
    /* ... but not at a required rule's priority and direction. */
    json_object_set_new(json_object_get(extra, "properties"), "priority", json_integer(100));
    assert_int_equal(ctl_net_rules_protected(rules, required, &e), SCC_EPERM);
    assert_string_equal(e.code, "ConflictWithNetworkIntentPolicy");
    json_array_remove(rules, json_array_size(rules) - 1);
    json_decref(extra);
    /* Changing one, or removing one, is refused. */
    changed = json_object_get(json_array_get(rules, 2), "properties");
    json_object_set_new(changed, "destinationPortRange", json_string("1433"));
    assert_int_equal(ctl_net_rules_protected(rules, required, &e), SCC_EPERM);
    json_array_remove(rules, 2);
    assert_int_equal(ctl_net_rules_protected(rules, required, &e), SCC_EPERM);
    assert_non_null(strstr(e.message, "cannot be removed"));
    json_decref(rules);
    json_decref(required);
}

static void
test_default_rules_are_azures_six(void **state)
{
    json_t *d = ctl_net_default_rules("n");
    static const char *const names[] = {"AllowVnetInBound",      "AllowAzureLoadBalancerInBound",
                                        "DenyAllInBound",        "AllowVnetOutBound",
                                        "AllowInternetOutBound", "DenyAllOutBound"};

    (void)state;
    assert_int_equal(json_array_size(d), 6);
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(d, i), "name")),
                            names[i]);
    assert_string_equal(json_string_value(json_object_get(json_array_get(d, 2), "id")),
                        "n/defaultSecurityRules/DenyAllInBound");
    json_decref(d);
}

/* ---- resource bodies ---- */

static int
build(ctl_net_build_fn fn, const char *id, const char *req, json_t **out, struct ctl_net_err *e)
{
    struct ctl_net_ctx x = {id, "eastus", "2024-07-01", NULL};
    json_t *r = J(req);
    int rc;

    memset(e, 0, sizeof(*e));
    rc = fn(&x, r, out, e);
    json_decref(r);
    return rc;
}

static void
test_vnet_build_codes(void **state)
{
    static const char *const cases[][2] = {
            {"{\"properties\":{\"addressSpace\":{\"addressPrefixes\":[\"10.0.0.1/16\"]}}}",
             "InvalidCIDRNotation"},
            {"{\"properties\":{\"addressSpace\":{\"addressPrefixes\":[]}}}",
             "InvalidAddressPrefixFormat"},
            {"{\"properties\":{\"addressSpace\":{\"addressPrefixes\":[\"10.0.0.0/"
             "16\"]},\"subnets\":"
             "[{\"name\":\"a\",\"properties\":{\"addressPrefix\":\"10.1.0.0/24\"}}]}}",
             "NetcfgSubnetRangeOutsideVnet"},
            {"{\"properties\":{\"addressSpace\":{\"addressPrefixes\":[\"10.0.0.0/"
             "16\"]},\"subnets\":"
             "[{\"name\":\"a\",\"properties\":{\"addressPrefix\":\"10.0.0.0/24\"}},{\"name\":\"b\","
             "\"properties\":{\"addressPrefixes\":[\"10.0.0.0/25\"]}}]}}",
             "NetcfgSubnetRangesOverlap"},
            {"{\"properties\":{\"addressSpace\":{\"addressPrefixes\":[\"10.0.0.0/"
             "16\"]},\"subnets\":"
             "[{\"name\":\"a\",\"properties\":{\"addressPrefix\":\"10.0.0.0/30\"}}]}}",
             "InvalidAddressPrefix"},
            {"{\"properties\":{\"addressSpace\":{\"addressPrefixes\":[\"10.0.0.0/"
             "16\"]},\"subnets\":"
             "[{\"name\":\"a\",\"properties\":{\"addressPrefix\":\"10.0.0.0/24\","
             "\"networkSecurityGroup\":{\"id\":\"x\"}}}]}}",
             "InvalidResourceReference"},
    };
    struct ctl_net_err e;
    json_t *out;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        out = NULL;
        assert_int_equal(build(ctl_net_vnet_build, RG "virtualNetworks/v", cases[i][0], &out, &e),
                         SCC_EINVAL);
        if (strcmp(e.code, cases[i][1]) != 0)
            fail_msg("case %zu: %s (%s), want %s", i, e.code, e.message, cases[i][1]);
        assert_null(out);
    }
}

static void
test_vnet_build_shapes_subnets_and_delegations(void **state)
{
    struct ctl_net_err e;
    json_t *out = NULL, *s, *d;

    (void)state;
    assert_int_equal(
            build(ctl_net_vnet_build, RG "virtualNetworks/v",
                  "{\"tags\":{\"a\":\"b\"},\"properties\":{\"addressSpace\":{\"addressPrefixes\":"
                  "[\"10.179.0.0/16\"]},\"subnets\":[{\"name\":\"pub\",\"properties\":"
                  "{\"addressPrefix\":\"10.179.0.0/26\",\"delegations\":[{\"name\":\"d\","
                  "\"properties\":{\"serviceName\":\"microsoft.databricks/workspaces\"}}]}}]}}",
                  &out, &e),
            0);
    assert_string_equal(json_string_value(json_object_get(out, "type")),
                        "Microsoft.Network/virtualNetworks");
    assert_string_equal(json_string_value(json_object_get(out, "location")), "eastus");
    s = json_array_get(json_object_get(json_object_get(out, "properties"), "subnets"), 0);
    assert_string_equal(json_string_value(json_object_get(s, "id")),
                        RG "virtualNetworks/v/subnets/pub");
    d = json_array_get(json_object_get(json_object_get(s, "properties"), "delegations"), 0);
    assert_string_equal(
            json_string_value(json_object_get(json_object_get(d, "properties"), "serviceName")),
            "Microsoft.Databricks/workspaces");
    assert_int_equal(json_array_size(json_object_get(json_object_get(d, "properties"), "actions")),
                     3);
    ctl_net_stamp(out);
    assert_string_equal(json_string_value(json_object_get(out, "etag")),
                        json_string_value(json_object_get(s, "etag")));
    json_decref(out);
}

static void
test_other_builders_validate(void **state)
{
    static const struct {
        ctl_net_build_fn fn;
        const char *req, *code; /* code NULL: accepted */
    } cases[] = {
            {ctl_net_pip_build, "{}", NULL},
            {ctl_net_pip_build, "{\"properties\":{\"publicIPAllocationMethod\":\"Dynamic\"}}",
             "StandardSkuPublicIPAddressesMustBeStatic"},
            {ctl_net_pip_build, "{\"sku\":{\"name\":\"Basic\"}}", "InvalidSku"},
            {ctl_net_nat_build, "{\"properties\":{\"idleTimeoutInMinutes\":3}}",
             "InvalidParameter"},
            {ctl_net_nat_build,
             "{\"properties\":{\"publicIpAddresses\":[{\"id\":\"/subscriptions/s/x\"}]}}", NULL},
            {ctl_net_rt_build,
             "{\"properties\":{\"routes\":[{\"name\":\"r\",\"properties\":{\"addressPrefix\":"
             "\"0.0.0.0/0\",\"nextHopType\":\"Internet\",\"nextHopIpAddress\":\"1.2.3.4\"}}]}}",
             "InvalidNextHopIpAddress"},
            {ctl_net_rt_build,
             "{\"properties\":{\"routes\":[{\"name\":\"r\",\"properties\":{\"addressPrefix\":"
             "\"Storage\",\"nextHopType\":\"Internet\"}}]}}",
             NULL},
            {ctl_net_fw_build, "{\"properties\":{\"firewallPolicy\":{\"id\":\"p\"}}}",
             "FirewallPolicyNotSupported"},
            {ctl_net_fw_build,
             "{\"properties\":{\"ipConfigurations\":[{\"name\":\"c\",\"properties\":{\"subnet\":"
             "{\"id\":\"/subscriptions/s/v/subnets/other\"},\"publicIPAddress\":{\"id\":"
             "\"/subscriptions/s/p\"}}}]}}",
             "AzureFirewallSubnetRequired"},
            {ctl_net_fw_build,
             "{\"properties\":{\"ipConfigurations\":[{\"name\":\"c\",\"properties\":{\"subnet\":"
             "{\"id\":\"/subscriptions/s/v/subnets/AzureFirewallSubnet\"}}}]}}",
             "AzureFirewallPublicIpAddressRequired"},
            {ctl_net_nic_build, "{\"properties\":{\"ipConfigurations\":[]}}",
             "InvalidRequestFormat"},
            {ctl_net_nic_build,
             "{\"properties\":{\"ipConfigurations\":[{\"name\":\"c\",\"properties\":{\"subnet\":"
             "{\"id\":\"/subscriptions/s/v/subnets/"
             "a\"},\"privateIPAllocationMethod\":\"Static\"}}]}}",
             "InvalidParameter"},
            {ctl_net_lb_build, "{\"sku\":{\"name\":\"Basic\"},\"properties\":{}}", "InvalidSku"},
    };
    struct ctl_net_err e;
    json_t *out;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc;

        out = NULL;
        rc = build(cases[i].fn, RG "x/y", cases[i].req, &out, &e);
        if (cases[i].code == NULL && rc != 0)
            fail_msg("case %zu refused: %s %s", i, e.code, e.message);
        if (cases[i].code && (rc == 0 || strcmp(e.code, cases[i].code) != 0))
            fail_msg("case %zu: rc %d code %s, want %s", i, rc, e.code, cases[i].code);
        json_decref(out);
    }
}

/* ---- desired state ---- */

static void
test_desired_state_document(void **state)
{
    json_t *res =
            J("[{\"id\":\"" RG
              "publicIPAddresses/p\",\"type\":\"Microsoft.Network/publicIPAddresses\","
              "\"properties\":{\"ipAddress\":\"203.0.113.5\"}},"
              "{\"id\":\"" RG "natGateways/nat\",\"type\":\"Microsoft.Network/natGateways\","
              "\"properties\":{\"idleTimeoutInMinutes\":4,\"publicIpAddresses\":[{\"id\":\"" RG
              "publicIPAddresses/P\"}]}},"
              "{\"id\":\"" RG "virtualNetworks/v\",\"type\":\"Microsoft.Network/virtualNetworks\","
              "\"properties\":{\"addressSpace\":{\"addressPrefixes\":[\"10.179.0.0/"
              "16\"]},\"subnets\":"
              "[{\"id\":\"" RG "virtualNetworks/v/subnets/a\",\"properties\":{\"addressPrefixes\":"
              "[\"10.179.0.0/26\"],\"natGateway\":{\"id\":\"" RG "natGateways/nat\"},"
              "\"defaultOutboundAccess\":true}},{\"id\":\"" RG "virtualNetworks/v/subnets/b\","
              "\"properties\":{\"addressPrefix\":\"10.179.1.0/26\"}}]}},"
              "{\"id\":\"" RG "networkSecurityGroups/n\",\"type\":\"Microsoft.Network/"
              "networkSecurityGroups\",\"properties\":{\"securityRules\":[]}},"
              "{\"id\":\"" RG "routeTables/rt\",\"type\":\"Microsoft.Network/routeTables\","
              "\"properties\":{\"routes\":[{\"name\":\"fw\",\"properties\":{\"addressPrefix\":"
              "\"0.0.0.0/0\",\"nextHopType\":\"VirtualAppliance\",\"nextHopIpAddress\":"
              "\"10.100.1.4\"}}]}},"
              "{\"id\":\"/subscriptions/s/x\",\"type\":\"Microsoft.Databricks/workspaces\"}]");
    struct ctl_net_env env = {"198.51.100.10", "198.51.100.11", 443, 443};
    json_t *rules = ctl_net_dbx_rules(false, true, NULL), *doc = NULL, *v, *s, *nsg;

    (void)state;
    /* Out of priority order on purpose: the document sorts them. */
    json_array_insert(rules, 0, json_array_get(rules, 4));
    json_array_remove(rules, 5);
    json_object_set(json_object_get(json_array_get(res, 3), "properties"), "securityRules", rules);
    assert_int_equal(ctl_net_desired_build(res, &env, &doc), 0);
    assert_int_equal(json_integer_value(json_object_get(doc, "version")), 1);
    assert_string_equal(
            json_string_value(json_array_get(
                    json_object_get(json_object_get(doc, "service_tags"), "AzureDatabricks"), 1)),
            "198.51.100.11/32");
    v = json_array_get(json_object_get(doc, "vnets"), 0);
    s = json_array_get(json_object_get(v, "subnets"), 0);
    assert_string_equal(json_string_value(json_object_get(s, "prefix")), "10.179.0.0/26");
    assert_string_equal(json_string_value(json_object_get(s, "nat_gateway")), RG "natGateways/nat");
    assert_true(json_is_null(json_object_get(s, "network_security_group")));
    assert_true(json_is_true(json_object_get(s, "default_outbound_access")));
    s = json_array_get(json_object_get(v, "subnets"), 1);
    assert_true(json_is_false(json_object_get(s, "default_outbound_access")));
    /* The NAT gateway's IP reference resolved case-insensitively. */
    assert_string_equal(
            json_string_value(json_array_get(
                    json_object_get(json_array_get(json_object_get(doc, "nat_gateways"), 0),
                                    "public_ips"),
                    0)),
            "203.0.113.5");
    nsg = json_object_get(json_array_get(json_object_get(doc, "network_security_groups"), 0),
                          "rules");
    assert_int_equal(json_array_size(nsg), 8);
    for (size_t i = 1; i < json_array_size(nsg); i++) {
        json_t *a = json_array_get(nsg, i - 1), *b = json_array_get(nsg, i);
        bool same = strcmp(json_string_value(json_object_get(a, "direction")),
                           json_string_value(json_object_get(b, "direction"))) == 0;

        if (same)
            assert_true(json_integer_value(json_object_get(a, "priority")) <
                        json_integer_value(json_object_get(b, "priority")));
    }
    assert_string_equal(json_string_value(json_array_get(
                                json_object_get(json_array_get(nsg, 0), "source_ports"), 0)),
                        "*");
    assert_string_equal(
            json_string_value(json_object_get(
                    json_array_get(
                            json_object_get(json_array_get(json_object_get(doc, "route_tables"), 0),
                                            "routes"),
                            0),
                    "next_hop_ip")),
            "10.100.1.4");
    assert_int_equal(json_array_size(json_object_get(doc, "vms")), 0);
    json_decref(rules);
    json_decref(doc);
    json_decref(res);
}

static void
test_desired_state_is_deterministic(void **state)
{
    json_t *a = J("[{\"id\":\"" RG "routeTables/b\",\"type\":\"Microsoft.Network/routeTables\","
                  "\"properties\":{\"routes\":[]}},{\"id\":\"" RG "routeTables/a\",\"type\":"
                  "\"Microsoft.Network/routeTables\",\"properties\":{\"routes\":[]}}]");
    json_t *b = json_array(), *da = NULL, *db = NULL;
    struct ctl_net_env env = {"198.51.100.10", "198.51.100.11", 443, 443};

    (void)state;
    json_array_append(b, json_array_get(a, 1));
    json_array_append(b, json_array_get(a, 0));
    assert_int_equal(ctl_net_desired_build(a, &env, &da), 0);
    assert_int_equal(ctl_net_desired_build(b, &env, &db), 0);
    assert_true(json_equal(da, db));
    assert_string_equal(json_string_value(json_object_get(
                                json_array_get(json_object_get(da, "route_tables"), 0), "id")),
                        RG "routeTables/a");
    json_decref(da);
    json_decref(db);
    json_decref(a);
    json_decref(b);
}

static json_t *
built(ctl_net_build_fn fn, const char *id, const char *req)
{
    struct ctl_net_err e;
    json_t *out = NULL;

    if (build(fn, id, req, &out, &e) < 0)
        fail_msg("%s: %s %s", id, e.code, e.message);
    return out;
}

/* What the ARM layer builds must be what the provider (issue 4) parses:
 * the stored bodies of a full VNet-injection topology, through
 * ctl_net_desired_build, into the provider's own model parser. */
static void
test_desired_state_parses_in_the_provider(void **state)
{
    struct ctl_net_env env = {"198.51.100.10", "198.51.100.11", 443, 443};
    json_t *res = json_array(), *doc = NULL, *nsg, *pip, *fw, *v;
    struct ctl_prov_model *m = NULL;
    const char *key;
    char err[512];

    (void)state;
    nsg = built(ctl_net_nsg_build, RG "networkSecurityGroups/n", "{}");
    json_object_set_new(json_object_get(nsg, "properties"), "securityRules",
                        ctl_net_dbx_rules(true, true, RG "networkSecurityGroups/n"));
    json_array_append_new(res, nsg);
    pip = built(ctl_net_pip_build, RG "publicIPAddresses/p", "{}");
    json_object_set_new(json_object_get(pip, "properties"), "ipAddress",
                        json_string("203.0.113.5"));
    json_array_append_new(res, pip);
    pip = built(ctl_net_pip_build, RG "publicIPAddresses/fwp", "{}");
    json_object_set_new(json_object_get(pip, "properties"), "ipAddress",
                        json_string("203.0.113.9"));
    json_array_append_new(res, pip);
    json_array_append_new(res, built(ctl_net_nat_build, RG "natGateways/nat",
                                     "{\"properties\":{\"publicIpAddresses\":[{\"id\":\"" RG
                                     "publicIPAddresses/p\"}]}}"));
    json_array_append_new(
            res, built(ctl_net_rt_build, RG "routeTables/rt",
                       "{\"properties\":{\"routes\":[{\"name\":\"fw\",\"properties\":{"
                       "\"addressPrefix\":\"0.0.0.0/0\",\"nextHopType\":\"VirtualAppliance\","
                       "\"nextHopIpAddress\":\"10.100.1.4\"}}]}}"));
    json_array_append_new(
            res, built(ctl_net_vnet_build, RG "virtualNetworks/v",
                       "{\"properties\":{\"addressSpace\":{\"addressPrefixes\":[\"10.179.0.0/"
                       "16\"]},\"subnets\":[{\"name\":\"pub\",\"properties\":{\"addressPrefix\":"
                       "\"10.179.0.0/26\",\"networkSecurityGroup\":{\"id\":\"" RG
                       "networkSecurityGroups/n\"},\"natGateway\":{\"id\":\"" RG
                       "natGateways/nat\"}}},{\"name\":\"priv\",\"properties\":{\"addressPrefix\""
                       ":\"10.179.0.64/26\",\"networkSecurityGroup\":{\"id\":\"" RG
                       "networkSecurityGroups/n\"},\"routeTable\":{\"id\":\"" RG
                       "routeTables/rt\"}}}]}}"));
    json_array_append_new(
            res, built(ctl_net_vnet_build, RG "virtualNetworks/hub",
                       "{\"properties\":{\"addressSpace\":{\"addressPrefixes\":[\"10.100.0.0/"
                       "16\"]},\"subnets\":[{\"name\":\"AzureFirewallSubnet\",\"properties\":{"
                       "\"addressPrefix\":\"10.100.1.0/26\"}}]}}"));
    fw = built(ctl_net_fw_build, RG "azureFirewalls/fw",
               "{\"properties\":{\"ipConfigurations\":[{\"name\":\"c\",\"properties\":{"
               "\"subnet\":{\"id\":\"" RG "virtualNetworks/hub/subnets/AzureFirewallSubnet\"},"
               "\"publicIPAddress\":{\"id\":\"" RG "publicIPAddresses/fwp\"}}}],"
               "\"networkRuleCollections\":[{\"name\":\"net\",\"properties\":{\"priority\":100,"
               "\"action\":{\"type\":\"Allow\"},\"rules\":[{\"name\":\"relay\",\"protocols\":"
               "[\"TCP\"],\"sourceAddresses\":[\"10.179.0.0/16\"],\"destinationAddresses\":"
               "[\"AzureDatabricks\"],\"destinationPorts\":[\"443\"]}]}}]}}");
    json_object_set_new(
            json_object_get(json_array_get(json_object_get(json_object_get(fw, "properties"),
                                                           "ipConfigurations"),
                                           0),
                            "properties"),
            "privateIPAddress", json_string("10.100.1.4"));
    json_array_append_new(res, fw);
    assert_int_equal(ctl_net_desired_build(res, &env, &doc), 0);
    if (ctl_prov_model_new(doc, true, false, &m, err, sizeof(err)) < 0)
        fail_msg("the provider refused the document: %s", err);
    json_object_foreach(m->status, key, v)
    {
        const char *st = json_string_value(json_object_get(v, "state"));

        if (st && strcmp(st, "Failed") == 0)
            fail_msg("%s: %s", key, json_string_value(json_object_get(v, "message")));
    }
    ctl_prov_model_free(m);
    json_decref(doc);
    json_decref(res);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_cidr_parse_contains_overlap),
            cmocka_unit_test(test_prefixes_tags_and_ports),
            cmocka_unit_test(test_dbx_rule_sets_per_mode),
            cmocka_unit_test(test_rule_build_canonicalises_and_echoes_both_forms),
            cmocka_unit_test(test_rule_build_refuses_bad_fields),
            cmocka_unit_test(test_rules_check_priority_direction_conflict),
            cmocka_unit_test(test_protection_of_required_rules),
            cmocka_unit_test(test_default_rules_are_azures_six),
            cmocka_unit_test(test_vnet_build_codes),
            cmocka_unit_test(test_vnet_build_shapes_subnets_and_delegations),
            cmocka_unit_test(test_other_builders_validate),
            cmocka_unit_test(test_desired_state_document),
            cmocka_unit_test(test_desired_state_is_deterministic),
            cmocka_unit_test(test_desired_state_parses_in_the_provider),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
