/* The provider's pure parts: sets and tags, the nftables compilers (NSG
 * priorities, default rules, service tags, port ranges, deny rules, NAT,
 * load balancer and firewall tables), the document model's egress
 * analysis, and the firewall proxy's TLS SNI / HTTP Host parsers. */
#include "test.h"

#include "common/buf.h"
#include "common/err.h"
#include "control/ctl_prov_fwproxy.h"
#include "control/ctl_prov_int.h"
#include "control/ctl_prov_nft.h"

#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

static char err[512];

/* Compile one NSG direction from a JSON text. */
static char *
nsg(const char *rules_json, bool inbound, int *rc)
{
    json_t *tags =
            json_pack("{s:[s, s], s:[s], s:[s]}", "AzureDatabricks", "198.51.100.10/32",
                      "198.51.100.11/32", "Storage", "198.51.100.21/32", "Sql", "198.51.100.20/32");
    json_t *rules = rules_json ? json_loads(rules_json, 0, NULL) : NULL;
    struct ctl_prov_set vnet;
    struct ctl_prov_tags t = {.service_tags = tags, .vnet = &vnet};
    struct scc_buf out;

    ctl_prov_set_init(&vnet);
    ctl_prov_set_add(&vnet, 0x0ab30000, 0x0ab3ffff); /* 10.179.0.0/16 */
    scc_buf_init(&out, 1u << 20);
    err[0] = '\0';
    *rc = ctl_prov_nft_nsg_chain(&out, "c", rules, inbound, &t, err, sizeof(err));
    json_decref(rules);
    json_decref(tags);
    ctl_prov_set_fini(&vnet);
    if (out.len == 0)
        scc_buf_put_str(&out, "");
    return scc_buf_steal(&out, NULL);
}

/* ---- sets ---- */

static void
test_set_merges_and_prints_cidrs_and_ranges(void **state)
{
    struct ctl_prov_set s;
    struct scc_buf b;

    (void)state;
    ctl_prov_set_init(&s);
    scc_buf_init(&b, 4096);
    assert_int_equal(ctl_prov_addr_parse("10.0.0.0/9", &s), 0);
    assert_int_equal(ctl_prov_addr_parse("10.128.0.0/9", &s), 0); /* adjacent: one /8 */
    assert_int_equal(ctl_prov_addr_parse("10.1.2.3", &s), 0);     /* inside: absorbed */
    assert_int_equal(ctl_prov_addr_parse("192.0.2.1-192.0.2.5", &s), 0);
    assert_int_equal(ctl_prov_set_format(&s, true, &b), 0);
    assert_string_equal(scc_buf_str(&b), "{ 10.0.0.0/8, 192.0.2.1-192.0.2.5 }");
    assert_false(ctl_prov_set_is_all(&s, CTL_PROV_IP_MAX));
    assert_int_equal(ctl_prov_addr_parse("*", &s), 0);
    assert_true(ctl_prov_set_is_all(&s, CTL_PROV_IP_MAX));
    assert_int_equal(ctl_prov_addr_parse("10.0.0.0/33", &s), SCC_EINVAL);
    assert_int_equal(ctl_prov_addr_parse("10.0.0.9-10.0.0.1", &s), SCC_EINVAL);
    ctl_prov_set_fini(&s);
    scc_buf_fini(&b);
}

static void
test_cidr_strict_refuses_host_bits(void **state)
{
    uint32_t net;
    unsigned len;

    (void)state;
    assert_int_equal(ctl_prov_cidr_parse("10.179.0.1/16", true, &net, &len), SCC_EINVAL);
    assert_int_equal(ctl_prov_cidr_parse("10.179.0.1/16", false, &net, &len), 0);
    assert_int_equal(net, 0x0ab30000);
    assert_int_equal(len, 16);
    assert_int_equal(ctl_prov_cidr_parse("10.179.0.64", true, &net, &len), 0);
    assert_int_equal(len, 32);
    assert_int_equal(ctl_prov_cidr_parse("10.179.0.0/", true, &net, &len), SCC_EINVAL);
    assert_int_equal(ctl_prov_cidr_parse("010.1.1.0/24", true, &net, &len), SCC_EINVAL);
}

static void
test_ports_parse_ranges_and_star(void **state)
{
    struct ctl_prov_set s;
    struct scc_buf b;

    (void)state;
    ctl_prov_set_init(&s);
    scc_buf_init(&b, 4096);
    assert_int_equal(ctl_prov_ports_parse("8443-8451", &s), 0);
    assert_int_equal(ctl_prov_ports_parse("443", &s), 0);
    assert_int_equal(ctl_prov_ports_parse("3306", &s), 0);
    assert_int_equal(ctl_prov_set_format(&s, false, &b), 0);
    assert_string_equal(scc_buf_str(&b), "{ 443, 3306, 8443-8451 }");
    assert_int_equal(ctl_prov_ports_parse("70000", &s), SCC_EINVAL);
    assert_int_equal(ctl_prov_ports_parse("9-1", &s), SCC_EINVAL);
    assert_int_equal(ctl_prov_ports_parse("*", &s), 0);
    assert_true(ctl_prov_set_is_all(&s, CTL_PROV_PORT_MAX));
    ctl_prov_set_fini(&s);
    scc_buf_fini(&b);
}

/* ---- service tags ---- */

static void
test_tags_resolve_document_regional_and_builtin(void **state)
{
    json_t *tags = json_pack("{s:[s]}", "Storage", "198.51.100.21/32");
    struct ctl_prov_set vnet, s;
    struct ctl_prov_tags t = {.service_tags = tags, .vnet = &vnet};

    (void)state;
    ctl_prov_set_init(&vnet);
    ctl_prov_set_init(&s);
    ctl_prov_set_add(&vnet, 0x0ab30000, 0x0ab3ffff);
    assert_int_equal(ctl_prov_tags_resolve(&t, "Storage.EastUS", &s, err, sizeof(err)), 0);
    assert_true(ctl_prov_set_has(&s, 0xc6336415));
    assert_int_equal(ctl_prov_tags_resolve(&t, "virtualnetwork", &s, err, sizeof(err)), 0);
    assert_true(ctl_prov_set_has(&s, 0x0ab30044));
    ctl_prov_set_fini(&s);
    ctl_prov_set_init(&s);
    assert_int_equal(ctl_prov_tags_resolve(&t, "AzureLoadBalancer", &s, err, sizeof(err)), 0);
    assert_int_equal(s.n, 0); /* matches nothing in the simulation */
    assert_int_equal(ctl_prov_tags_resolve(&t, "Internet", &s, err, sizeof(err)), 0);
    assert_true(ctl_prov_set_is_all(&s, CTL_PROV_IP_MAX));
    assert_int_equal(ctl_prov_tags_resolve(&t, "AzureCosmos", &s, err, sizeof(err)), SCC_EINVAL);
    assert_non_null(strstr(err, "unknown service tag 'AzureCosmos'"));
    ctl_prov_set_fini(&s);
    ctl_prov_set_fini(&vnet);
    json_decref(tags);
}

/* ---- NSGs ---- */

static const char *const databricks_rules =
        "[{\"name\": \"eventhub\", \"priority\": 104, \"direction\": \"Outbound\", "
        "\"access\": \"Allow\", \"protocol\": \"Tcp\", \"source\": [\"VirtualNetwork\"], "
        "\"destination\": [\"EventHub\"], \"destination_ports\": [\"9093\"]},"
        " {\"name\": \"webapp\", \"priority\": 100, \"direction\": \"Outbound\", "
        "\"access\": \"Allow\", \"protocol\": \"Tcp\", \"source\": [\"VirtualNetwork\"], "
        "\"destination\": [\"AzureDatabricks\"], "
        "\"destination_ports\": [\"443\", \"3306\", \"8443-8451\"]},"
        " {\"name\": \"w2w-in\", \"priority\": 100, \"direction\": \"Inbound\", "
        "\"access\": \"Allow\", \"protocol\": \"*\", \"source\": [\"VirtualNetwork\"], "
        "\"destination\": [\"VirtualNetwork\"], \"destination_ports\": [\"*\"]},"
        " {\"name\": \"storage\", \"priority\": 102, \"direction\": \"Outbound\", "
        "\"access\": \"Allow\", \"protocol\": \"Tcp\", \"source\": [\"VirtualNetwork\"], "
        "\"destination\": [\"Storage\"], \"destination_ports\": [\"443\"]}]";

static void
test_nsg_rules_in_priority_order_then_defaults(void **state)
{
    int rc;
    char *out = nsg("[{\"name\": \"eventhub\", \"priority\": 104, \"direction\": \"Outbound\", "
                    "\"access\": \"Allow\", \"protocol\": \"Tcp\", \"destination\": "
                    "[\"198.51.100.22\"], \"destination_ports\": [\"9093\"]},"
                    " {\"name\": \"webapp\", \"priority\": 100, \"direction\": \"Outbound\", "
                    "\"access\": \"Allow\", \"protocol\": \"Tcp\", \"source\": "
                    "[\"VirtualNetwork\"], \"destination\": [\"AzureDatabricks\"], "
                    "\"destination_ports\": [\"443\", \"3306\", \"8443-8451\"]}]",
                    false, &rc);
    const char *web, *eh, *vnet, *inet, *deny;

    (void)state;
    assert_int_equal(rc, 0);
    web = strstr(out, "\"webapp\"");
    eh = strstr(out, "\"eventhub\"");
    vnet = strstr(out, "\"AllowVnetOutBound\"");
    inet = strstr(out, "\"AllowInternetOutBound\"");
    deny = strstr(out, "\"DenyAllOutBound\"");
    assert_true(web && eh && vnet && inet && deny);
    assert_true(web < eh && eh < vnet && vnet < inet && inet < deny);
    assert_non_null(strstr(out, "meta l4proto tcp ip saddr 10.179.0.0/16 ip daddr "
                                "198.51.100.10/31 tcp dport { 443, 3306, 8443-8451 } counter "
                                "return comment \"webapp\""));
    assert_non_null(strstr(out, "counter drop comment \"DenyAllOutBound\""));
    assert_null(strstr(out, "Inbound"));
    free(out);
}

static void
test_nsg_inbound_allows_accept_and_denies_drop(void **state)
{
    int rc;
    char *out = nsg("[{\"name\": \"no-ssh\", \"priority\": 200, \"direction\": \"Inbound\", "
                    "\"access\": \"Deny\", \"protocol\": \"Tcp\", \"source\": [\"*\"], "
                    "\"destination\": [\"*\"], \"destination_ports\": [\"22\"]},"
                    " {\"name\": \"mgmt\", \"priority\": 102, \"direction\": \"inbound\", "
                    "\"access\": \"allow\", \"protocol\": \"tcp\", \"source\": "
                    "[\"AzureDatabricks\"], \"destination\": [\"VirtualNetwork\"], "
                    "\"destination_ports\": [\"5557\"]}]",
                    true, &rc);

    (void)state;
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "meta l4proto tcp ip saddr 198.51.100.10/31 ip daddr "
                                "10.179.0.0/16 tcp dport 5557 counter accept comment \"mgmt\""));
    assert_non_null(strstr(out, "meta l4proto tcp tcp dport 22 counter drop comment \"no-ssh\""));
    assert_true(strstr(out, "\"mgmt\"") < strstr(out, "\"no-ssh\""));
    assert_non_null(strstr(out, "ip saddr 10.179.0.0/16 ip daddr 10.179.0.0/16 counter accept "
                                "comment \"AllowVnetInBound\""));
    /* AzureLoadBalancer resolves to nothing here: shown, never matches. */
    assert_non_null(strstr(out, "# AllowAzureLoadBalancerInBound: an empty service tag"));
    assert_non_null(strstr(out, "counter drop comment \"DenyAllInBound\""));
    free(out);
}

static void
test_nsg_any_protocol_with_ports_matches_tcp_and_udp(void **state)
{
    int rc;
    char *out = nsg("[{\"name\": \"dns\", \"priority\": 300, \"direction\": \"Outbound\", "
                    "\"access\": \"Allow\", \"protocol\": \"*\", \"destination\": "
                    "\"198.51.100.53\", \"destination_ports\": \"53\"}]",
                    false, &rc);

    (void)state;
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "ip daddr 198.51.100.53 meta l4proto { tcp, udp } th dport 53 "
                                "counter return comment \"dns\""));
    free(out);
}

static void
test_nsg_duplicate_priority_is_a_conflict(void **state)
{
    int rc;
    char *out = nsg("[{\"name\": \"a\", \"priority\": 100, \"direction\": \"Outbound\", "
                    "\"access\": \"Allow\", \"protocol\": \"*\"},"
                    " {\"name\": \"b\", \"priority\": 100, \"direction\": \"Outbound\", "
                    "\"access\": \"Deny\", \"protocol\": \"*\"},"
                    " {\"name\": \"c\", \"priority\": 100, \"direction\": \"Inbound\", "
                    "\"access\": \"Deny\", \"protocol\": \"*\"}]",
                    false, &rc);

    (void)state;
    assert_int_equal(rc, SCC_EINVAL);
    assert_string_equal(err, "Security rule b conflicts with rule a. Rules cannot have the same "
                             "Priority and Direction.");
    free(out);
}

static void
test_nsg_refuses_bad_priority_protocol_and_tag(void **state)
{
    int rc;

    (void)state;
    free(nsg("[{\"name\": \"a\", \"priority\": 99, \"direction\": \"Inbound\", \"access\": "
             "\"Allow\", \"protocol\": \"*\"}]",
             true, &rc));
    assert_int_equal(rc, SCC_EINVAL);
    assert_non_null(strstr(err, "priority 99 is outside 100-4096"));
    free(nsg("[{\"name\": \"a\", \"priority\": 100, \"direction\": \"Inbound\", \"access\": "
             "\"Allow\", \"protocol\": \"Gre\"}]",
             true, &rc));
    assert_int_equal(rc, SCC_EINVAL);
    free(nsg("[{\"name\": \"a\", \"priority\": 100, \"direction\": \"Inbound\", \"access\": "
             "\"Allow\", \"protocol\": \"*\", \"source\": [\"NoSuchTag\"]}]",
             true, &rc));
    assert_int_equal(rc, SCC_EINVAL);
    assert_non_null(strstr(err, "NoSuchTag"));
}

static void
test_nsg_without_rules_is_just_the_defaults(void **state)
{
    int rc;
    char *out = nsg(NULL, true, &rc);

    (void)state;
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "chain c {"));
    assert_non_null(strstr(out, "\"AllowVnetInBound\""));
    assert_non_null(strstr(out, "\"DenyAllInBound\""));
    free(out);
}

static void
test_deny_chain_drops_everything(void **state)
{
    struct scc_buf b;

    (void)state;
    scc_buf_init(&b, 4096);
    assert_int_equal(ctl_prov_nft_deny_chain(&b, "nsg_in_0", "bad \"NSG\""), 0);
    assert_string_equal(scc_buf_str(&b),
                        "\tchain nsg_in_0 {\n\t\tcounter drop comment \"bad NSG\"\n\t}\n");
    scc_buf_fini(&b);
}

/* ---- tables ---- */

static void
test_vnet_table_jumps_only_for_ports_with_an_nsg(void **state)
{
    json_t *rules = json_loads(databricks_rules, 0, NULL);
    struct ctl_prov_nft_subnet subnets[2] = {{.nsg_rules = rules, .has_nsg = true},
                                             {.has_nsg = false}};
    struct ctl_prov_nft_port ports[] = {{"m1", 0}, {"m2", 1}, {"m3", 0}};
    struct ctl_prov_nft_snat snat[] = {{0x0ab30046, 32, 0xcb007132}};
    json_t *tags = json_pack("{s:[s], s:[s], s:[s], s:[s]}", "AzureDatabricks", "198.51.100.10",
                             "EventHub", "198.51.100.22", "Storage", "198.51.100.21", "Sql",
                             "198.51.100.20");
    struct ctl_prov_nft_vnet v = {.table = "scc",
                                  .pub_if = "pub0",
                                  .service_tags = tags,
                                  .subnets = subnets,
                                  .nsubnets = 2,
                                  .ports = ports,
                                  .nports = 3,
                                  .snat = snat,
                                  .nsnat = 1};
    struct scc_buf b;

    (void)state;
    scc_buf_init(&b, 1u << 20);
    ctl_prov_set_init(&subnets[0].vnet);
    ctl_prov_set_init(&subnets[1].vnet);
    assert_int_equal(ctl_prov_nft_vnet(&b, &v), 0);
    assert_non_null(strstr(scc_buf_str(&b), "iifname vmap { \"m1\" : jump nsg_out_0, \"m3\" : "
                                            "jump nsg_out_0 }"));
    assert_non_null(strstr(scc_buf_str(&b), "oifname vmap { \"m1\" : jump nsg_in_0, \"m3\" : "
                                            "jump nsg_in_0 }"));
    assert_null(strstr(scc_buf_str(&b), "\"m2\""));
    assert_null(strstr(scc_buf_str(&b), "nsg_out_1"));
    assert_non_null(strstr(scc_buf_str(&b), "oifname \"pub0\" ip saddr 10.179.0.70/32 snat ip "
                                            "to 203.0.113.50"));
    assert_string_equal(subnets[0].err, "");
    json_decref(tags);
    json_decref(rules);
    scc_buf_fini(&b);
}

static void
test_vnet_table_fails_closed_on_a_bad_nsg(void **state)
{
    json_t *rules = json_loads("[{\"name\": \"x\", \"priority\": 5000, \"direction\": "
                               "\"Inbound\", \"access\": \"Allow\", \"protocol\": \"*\"}]",
                               0, NULL);
    struct ctl_prov_nft_subnet subnets[1] = {{.nsg_rules = rules, .has_nsg = true}};
    struct ctl_prov_nft_port ports[] = {{"m1", 0}};
    struct ctl_prov_nft_vnet v = {
            .table = "scc", .subnets = subnets, .nsubnets = 1, .ports = ports, .nports = 1};
    struct scc_buf b;

    (void)state;
    scc_buf_init(&b, 1u << 20);
    ctl_prov_set_init(&subnets[0].vnet);
    assert_int_equal(ctl_prov_nft_vnet(&b, &v), 0);
    assert_non_null(strstr(subnets[0].err, "priority 5000"));
    assert_non_null(strstr(scc_buf_str(&b), "chain nsg_in_0 {\n\t\tcounter drop"));
    assert_non_null(strstr(scc_buf_str(&b), "chain nsg_out_0 {\n\t\tcounter drop"));
    json_decref(rules);
    scc_buf_fini(&b);
}

static void
test_nat_table_snats_and_resets_expired_flows(void **state)
{
    uint32_t one[] = {0xcb007105}, two[] = {0xcb007105, 0xcb007106};
    struct ctl_prov_nft_nat n = {.table = "scc", .pub_if = "pub0", .ips = one, .nips = 1};
    struct scc_buf b;

    (void)state;
    scc_buf_init(&b, 1u << 20);
    assert_int_equal(ctl_prov_nft_nat(&b, &n), 0);
    assert_non_null(strstr(scc_buf_str(&b), "oifname \"pub0\" snat ip to 203.0.113.5\n"));
    assert_non_null(strstr(scc_buf_str(&b), "ct state invalid iifname != \"pub0\" meta l4proto "
                                            "tcp counter name \"expired\" reject with tcp reset"));
    assert_non_null(strstr(scc_buf_str(&b), "iifname \"pub0\" counter name \"inbound_denied\" "
                                            "drop"));
    scc_buf_reset(&b);
    n.ips = two;
    n.nips = 2;
    assert_int_equal(ctl_prov_nft_nat(&b, &n), 0);
    assert_non_null(strstr(scc_buf_str(&b), "snat ip to jhash ip saddr mod 2 map { 0 : "
                                            "203.0.113.5, 1 : 203.0.113.6 }"));
    n.nips = 0;
    assert_int_equal(ctl_prov_nft_nat(&b, &n), SCC_EINVAL);
    scc_buf_fini(&b);
}

static void
test_lb_table_gives_each_vm_its_port_range(void **state)
{
    struct ctl_prov_nft_lbvm vms[] = {{0x0ab30044, 1024, 1027, "exhausted_a"},
                                      {0x0ab30045, 1028, 1031, "exhausted_b"}};
    struct ctl_prov_nft_lb lb = {
            .table = "scc", .pub_if = "pub0", .frontend = 0xcb007114, .vms = vms, .nvms = 2};
    struct scc_buf b;

    (void)state;
    scc_buf_init(&b, 1u << 20);
    assert_int_equal(ctl_prov_nft_lb(&b, &lb), 0);
    assert_non_null(strstr(scc_buf_str(&b), "ip saddr 10.179.0.68 meta l4proto { tcp, udp } snat "
                                            "ip to 203.0.113.20:1024-1027"));
    assert_non_null(strstr(scc_buf_str(&b), "ip saddr 10.179.0.69 meta l4proto { tcp, udp } snat "
                                            "ip to 203.0.113.20:1028-1031"));
    assert_non_null(strstr(scc_buf_str(&b), "ct count over 4 } counter name \"exhausted_b\" "
                                            "drop"));
    assert_non_null(strstr(scc_buf_str(&b), "counter exhausted_a {"));
    assert_non_null(strstr(scc_buf_str(&b), "ip saddr != 10.179.0.68/31 counter name "
                                            "\"not_backend\" drop"));
    scc_buf_fini(&b);
}

static char *
fw(const char *net, const char *app, int *rc)
{
    json_t *tags =
            json_pack("{s:[s, s]}", "AzureDatabricks", "198.51.100.10/32", "198.51.100.11/32");
    json_t *n = net ? json_loads(net, 0, NULL) : NULL, *a = app ? json_loads(app, 0, NULL) : NULL;
    struct ctl_prov_tags t = {.service_tags = tags};
    struct ctl_prov_nft_fw f = {.table = "scc",
                                .pub_if = "pub0",
                                .public_ip = 0xcb007109,
                                .proxy_port = 15001,
                                .net_collections = n,
                                .app_collections = a,
                                .tags = &t};
    struct scc_buf b;

    scc_buf_init(&b, 1u << 20);
    err[0] = '\0';
    *rc = ctl_prov_nft_fw(&b, &f, err, sizeof(err));
    json_decref(n);
    json_decref(a);
    json_decref(tags);
    if (b.len == 0)
        scc_buf_put_str(&b, "");
    return scc_buf_steal(&b, NULL);
}

static void
test_firewall_network_rules_by_collection_priority(void **state)
{
    int rc;
    char *out = fw("[{\"name\": \"late\", \"priority\": 300, \"action\": \"Allow\", \"rules\": "
                   "[{\"name\": \"web\", \"protocols\": [\"TCP\"], \"source_addresses\": [\"*\"],"
                   " \"destination_addresses\": [\"198.51.100.30\"], \"destination_ports\": "
                   "[\"80\"]}]},"
                   " {\"name\": \"block\", \"priority\": 100, \"action\": \"Deny\", \"rules\": "
                   "[{\"name\": \"nope\", \"protocols\": [\"Any\"], \"source_addresses\": "
                   "[\"10.179.0.0/16\"], \"destination_addresses\": [\"198.51.100.30\"], "
                   "\"destination_ports\": [\"80-81\"]}]},"
                   " {\"name\": \"adb\", \"priority\": 200, \"action\": \"Allow\", \"rules\": "
                   "[{\"name\": \"relay\", \"protocols\": [\"TCP\"], \"source_addresses\": "
                   "[\"10.179.0.0/16\"], \"destination_addresses\": [\"AzureDatabricks\"], "
                   "\"destination_ports\": [\"443\"]}]}]",
                   NULL, &rc);
    const char *rules = strstr(out, "chain net_rules");

    (void)state;
    assert_int_equal(rc, 0);
    assert_non_null(rules);
    assert_true(strstr(rules, "block/nope") < strstr(rules, "adb/relay"));
    assert_true(strstr(rules, "adb/relay") < strstr(rules, "late/web"));
    assert_non_null(strstr(rules, "meta l4proto { tcp, udp } ip saddr 10.179.0.0/16 ip daddr "
                                  "198.51.100.30 th dport 80-81 counter drop"));
    assert_non_null(strstr(rules, "meta l4proto icmp ip saddr 10.179.0.0/16 ip daddr "
                                  "198.51.100.30 counter drop"));
    assert_non_null(strstr(rules, "ip daddr 198.51.100.10/31 th dport 443 counter accept"));
    assert_non_null(strstr(out, "jump net_rules\n\t\tcounter name \"denied\" drop"));
    assert_non_null(strstr(out, "oifname \"pub0\" snat ip to 203.0.113.9"));
    assert_null(strstr(out, "redirect")); /* no application rules, no proxy */
    free(out);
}

static void
test_firewall_application_rules_go_to_the_proxy(void **state)
{
    int rc;
    char *out = fw(NULL,
                   "[{\"name\": \"app\", \"priority\": 200, \"action\": \"Allow\", \"rules\": "
                   "[{\"name\": \"r\", \"source_addresses\": [\"*\"], \"protocols\": "
                   "[{\"type\": \"Https\", \"port\": 443}, {\"type\": \"Http\"}], "
                   "\"target_fqdns\": [\"*.example\"]}]}]",
                   &rc);

    (void)state;
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "meta l4proto tcp tcp dport { 80, 443 } counter name "
                                "\"to_proxy\" redirect to :15001"));
    assert_non_null(strstr(out, "ct status dnat meta l4proto tcp th dport 15001 accept"));
    free(out);
}

static void
test_firewall_refuses_fqdn_network_rules(void **state)
{
    int rc;

    (void)state;
    free(fw("[{\"name\": \"c\", \"priority\": 100, \"action\": \"Allow\", \"rules\": "
            "[{\"name\": \"dns\", \"protocols\": [\"TCP\"], \"destination_fqdns\": "
            "[\"x.example\"], \"destination_ports\": [\"443\"]}]}]",
            NULL, &rc));
    assert_int_equal(rc, SCC_EINVAL);
    assert_non_null(strstr(err, "destination_fqdns"));
}

static void
test_host_guard_admits_only_the_two_listeners(void **state)
{
    struct ctl_prov_nft_host h = {.table = "scc_host",
                                  .ifname = "scc-i",
                                  .api_ip = 0xc633640a,
                                  .relay_ip = 0xc633640b,
                                  .api_port = 443,
                                  .relay_port = 443};
    struct scc_buf b;

    (void)state;
    scc_buf_init(&b, 4096);
    assert_int_equal(ctl_prov_nft_host(&b, &h), 0);
    assert_non_null(strstr(scc_buf_str(&b), "iifname \"scc-i\" ip daddr 198.51.100.11 tcp dport "
                                            "443 accept"));
    assert_non_null(strstr(scc_buf_str(&b), "iifname \"scc-i\" counter drop"));
    scc_buf_reset(&b);
    assert_int_equal(ctl_prov_nft_replace(&b, "inet", "t", "BODY"), 0);
    assert_string_equal(scc_buf_str(&b), "table inet t {}\ndelete table inet t\nBODY");
    scc_buf_fini(&b);
}

/* ---- the model ---- */

static const char *const doc_head =
        "{\"version\": 1, \"control_plane\": {\"api\": {\"public_ip\": \"198.51.100.10\"}, "
        "\"relay\": {\"public_ip\": \"198.51.100.11\"}},";

static struct ctl_prov_model *
model(const char *rest, int *rc)
{
    char text[8192];
    json_t *doc;
    struct ctl_prov_model *m = NULL;

    snprintf(text, sizeof(text), "%s%s", doc_head, rest);
    doc = json_loads(text, 0, NULL);
    assert_non_null(doc);
    err[0] = '\0';
    *rc = ctl_prov_model_new(doc, true, false, &m, err, sizeof(err));
    json_decref(doc);
    return m;
}

#define VNET(subnet_extra)                                                                         \
    "\"vnets\": [{\"id\": \"v\", \"address_prefixes\": [\"10.179.0.0/16\"], \"subnets\": "         \
    "[{\"id\": \"v/s\", \"prefix\": \"10.179.0.64/26\"" subnet_extra "}]}],"
#define VM(extra)                                                                                  \
    "\"vms\": [{\"id\": \"vm1\", \"subnet\": \"v/s\", \"private_ip\": \"10.179.0.68\", "           \
    "\"agent\": {\"relay\": \"198.51.100.11:443\"}" extra "}]"

static void
test_model_without_outbound_method_names_the_subnet(void **state)
{
    int rc;
    struct ctl_prov_model *m = model(VNET("") VM("") "}", &rc);
    const char *msg;

    (void)state;
    assert_int_equal(rc, 0);
    assert_int_equal(m->vms[0].egress, CTL_PROV_EG_NONE);
    msg = json_string_value(json_object_get(json_object_get(m->status, "vm1"), "message"));
    assert_non_null(msg);
    assert_non_null(strstr(msg, "cannot reach the relay: subnet 'v/s' has no outbound method"));
    assert_string_equal(
            json_string_value(json_object_get(json_object_get(m->status, "vm1"), "egress")),
            "none");
    ctl_prov_model_free(m);
}

static void
test_model_egress_precedence(void **state)
{
    int rc;
    struct ctl_prov_model *m;

    (void)state;
    /* A NAT gateway wins over the VM's own public IP. */
    m = model("\"nat_gateways\": [{\"id\": \"nat\", \"public_ips\": [\"203.0.113.5\"]}]," VNET(
                      ", \"nat_gateway\": \"nat\"") VM(", \"public_ip\": \"203.0.113.50\"") "}",
              &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(m->vms[0].egress, CTL_PROV_EG_NAT);
    assert_int_equal(m->vms[0].egress_ip, 0xcb007105);
    assert_int_equal(m->nats[0].idle_s, 240); /* 4 minutes by default */
    ctl_prov_model_free(m);
    /* A 0.0.0.0/0 UDR to a firewall wins over the NAT gateway. */
    m = model("\"nat_gateways\": [{\"id\": \"nat\", \"public_ips\": [\"203.0.113.5\"]}],"
              "\"route_tables\": [{\"id\": \"rt\", \"routes\": [{\"name\": \"fw\", \"prefix\": "
              "\"0.0.0.0/0\", \"next_hop_type\": \"VirtualAppliance\", \"next_hop_ip\": "
              "\"10.179.0.4\"}]}],"
              "\"firewalls\": [{\"id\": \"fw\", \"subnet\": \"v/f\", \"private_ip\": "
              "\"10.179.0.4\", \"public_ip\": \"203.0.113.9\"}],"
              "\"vnets\": [{\"id\": \"v\", \"address_prefixes\": [\"10.179.0.0/16\"], "
              "\"subnets\": [{\"id\": \"v/f\", \"prefix\": \"10.179.0.0/26\"}, {\"id\": \"v/s\", "
              "\"prefix\": \"10.179.0.64/26\", \"nat_gateway\": \"nat\", \"route_table\": "
              "\"rt\"}]}]," VM("") "}",
              &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(m->vms[0].egress, CTL_PROV_EG_FIREWALL);
    assert_int_equal(m->vms[0].egress_ip, 0xcb007109);
    ctl_prov_model_free(m);
}

static void
test_model_allocates_lb_ports_in_backend_order(void **state)
{
    int rc;
    struct ctl_prov_model *m = model(
            "\"vnets\": [{\"id\": \"v\", \"address_prefixes\": [\"10.179.0.0/16\"], \"subnets\": "
            "[{\"id\": \"v/s\", \"prefix\": \"10.179.0.64/26\"}]}],"
            "\"vms\": [{\"id\": \"a\", \"subnet\": \"v/s\", \"private_ip\": \"10.179.0.68\", "
            "\"agent\": {\"relay\": \"r:1\"}}, {\"id\": \"b\", \"subnet\": \"v/s\", "
            "\"private_ip\": \"10.179.0.69\", \"agent\": {\"relay\": \"r:1\"}}],"
            "\"load_balancers\": [{\"id\": \"lb\", \"frontend_ips\": [\"203.0.113.20\"], "
            "\"outbound_rules\": [{\"name\": \"o\", \"allocated_outbound_ports\": 8, "
            "\"backend_vms\": [\"b\", \"a\"]}]}]}",
            &rc);

    (void)state;
    assert_int_equal(rc, 0);
    assert_int_equal(m->vms[1].lb_lo, 1024);
    assert_int_equal(m->vms[1].lb_hi, 1031);
    assert_int_equal(m->vms[0].lb_lo, 1032);
    assert_int_equal(m->vms[0].egress, CTL_PROV_EG_LB);
    ctl_prov_model_free(m);
}

static void
test_model_refuses_malformed_and_fails_dangling(void **state)
{
    int rc;
    struct ctl_prov_model *m;

    (void)state;
    m = model("\"vnets\": [{\"id\": \"v\", \"address_prefixes\": [\"10.179.0.1/16\"]}]}", &rc);
    assert_int_equal(rc, SCC_EPROTO);
    assert_null(m);
    assert_non_null(strstr(err, "address_prefixes[0]"));
    m = model("\"vnets\": [{\"id\": \"v\", \"address_prefixes\": [\"10.0.0.0/16\"]}, {\"id\": "
              "\"V\", \"address_prefixes\": [\"10.1.0.0/16\"]}]}",
              &rc);
    assert_int_equal(rc, SCC_EPROTO); /* ARM ids are case-insensitive */
    assert_non_null(strstr(err, "duplicate id"));
    m = model(VNET(", \"network_security_group\": \"gone\"") VM(", \"private_ip\": \"x\"") "}",
              &rc);
    assert_int_equal(rc, SCC_EPROTO); /* a private_ip that is no address */
    m = model(VNET(", \"network_security_group\": \"gone\"") "\"vms\": []}", &rc);
    assert_int_equal(rc, 0);
    assert_true(m->vnets[0].subnets[0].failed);
    assert_string_equal(
            json_string_value(json_object_get(json_object_get(m->status, "v/s"), "state")),
            "Failed");
    ctl_prov_model_free(m);
    m = model("\"test\": {\"nat_idle_timeout_seconds\": 3}}", &rc);
    assert_int_equal(rc, SCC_EPROTO); /* test knobs need the provider's consent */
    /* Real addresses never: they would get host routes into the simulation. */
    m = model("\"nat_gateways\": [{\"id\": \"n\", \"public_ips\": [\"8.8.8.8\"]}]}", &rc);
    assert_int_equal(rc, SCC_EPROTO);
    assert_non_null(strstr(err, "8.8.8.8 is not a simulated public address"));
    m = model("\"vnets\": [{\"id\": \"v\", \"address_prefixes\": [\"100.64.0.0/16\"]}]}", &rc);
    assert_int_equal(rc, SCC_EPROTO);
    assert_non_null(strstr(err, "must be private"));
}

/* ---- the firewall proxy's parsers ---- */

/* A real ClientHello from OpenSSL, with or without a server name. */
static size_t
client_hello(const char *name, uint8_t *out, size_t cap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = SSL_new(ctx);
    BIO *rd = BIO_new(BIO_s_mem()), *wr = BIO_new(BIO_s_mem());
    int n;

    SSL_set_bio(ssl, rd, wr);
    if (name)
        SSL_set_tlsext_host_name(ssl, name);
    SSL_set_connect_state(ssl);
    (void)SSL_do_handshake(ssl); /* wants to read: the hello is in wr */
    n = BIO_read(wr, out, (int)cap);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    return n > 0 ? (size_t)n : 0;
}

static void
test_sni_from_a_real_client_hello(void **state)
{
    uint8_t hello[4096];
    size_t n = client_hello("Tunnel.EastUS.azuredatabricks.net", hello, sizeof(hello));
    char name[256];

    (void)state;
    assert_true(n > 100);
    assert_int_equal(ctl_prov_tls_sni(hello, n, name, sizeof(name)), 1);
    assert_string_equal(name, "tunnel.eastus.azuredatabricks.net");
    for (size_t cut = 0; cut < n; cut += 37) /* any prefix: "need more" */
        assert_int_equal(ctl_prov_tls_sni(hello, cut, name, sizeof(name)), 0);
    n = client_hello(NULL, hello, sizeof(hello));
    assert_int_equal(ctl_prov_tls_sni(hello, n, name, sizeof(name)), SCC_ENOTFOUND);
    assert_int_equal(
            ctl_prov_tls_sni((const uint8_t *)"GET / HTTP/1.1\r\n", 16, name, sizeof(name)),
            SCC_EPROTO);
}

static void
test_http_host_without_port(void **state)
{
    const char *req = "GET / HTTP/1.1\r\nUser-Agent: x\r\nHost: Web.Example:8080\r\n\r\n";
    char name[256];

    (void)state;
    assert_int_equal(ctl_prov_http_host((const uint8_t *)req, strlen(req), name, sizeof(name)), 1);
    assert_string_equal(name, "web.example");
    assert_int_equal(ctl_prov_http_host((const uint8_t *)req, 20, name, sizeof(name)), 0);
    req = "GET / HTTP/1.0\r\nAccept: */*\r\n\r\n";
    assert_int_equal(ctl_prov_http_host((const uint8_t *)req, strlen(req), name, sizeof(name)),
                     SCC_ENOTFOUND);
}

static void
test_fqdn_match_and_app_decisions(void **state)
{
    json_t *colls = json_loads(
            "[{\"name\": \"deny\", \"priority\": 100, \"action\": \"Deny\", \"rules\": [{\"name\": "
            "\"bad\", \"source_addresses\": [\"*\"], \"protocols\": [{\"type\": \"Https\", "
            "\"port\": 443}], \"target_fqdns\": [\"bad.example\"]}]},"
            " {\"name\": \"allow\", \"priority\": 200, \"action\": \"Allow\", \"rules\": "
            "[{\"name\": \"any\", \"source_addresses\": [\"10.179.0.0/16\"], \"protocols\": "
            "[{\"type\": \"Https\"}], \"target_fqdns\": [\"*.example\"]}]}]",
            0, NULL);
    char rule[128];

    (void)state;
    assert_true(ctl_prov_fqdn_match("*.example.com", "a.b.example.com"));
    assert_false(ctl_prov_fqdn_match("*.example.com", "example.com"));
    assert_false(ctl_prov_fqdn_match("*.example.com", "badexample.com"));
    assert_true(ctl_prov_fqdn_match("X.Example", "x.example"));
    assert_true(ctl_prov_fqdn_match("*", "anything"));
    assert_int_equal(ctl_prov_app_decide(colls, NULL, 0x0ab30044, 443, "Https", "ok.example", rule,
                                         sizeof(rule)),
                     1);
    assert_string_equal(rule, "allow/any");
    assert_int_equal(ctl_prov_app_decide(colls, NULL, 0x0ab30044, 443, "Https", "bad.example", rule,
                                         sizeof(rule)),
                     0);
    assert_string_equal(rule, "deny/bad");
    assert_int_equal(ctl_prov_app_decide(colls, NULL, 0x0a000001, 443, "Https", "ok.example", rule,
                                         sizeof(rule)),
                     0); /* source outside the rule */
    assert_int_equal(ctl_prov_app_decide(colls, NULL, 0x0ab30044, 80, "Http", "ok.example", rule,
                                         sizeof(rule)),
                     0);
    assert_string_equal(rule, "");
    json_decref(colls);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_set_merges_and_prints_cidrs_and_ranges),
            cmocka_unit_test(test_cidr_strict_refuses_host_bits),
            cmocka_unit_test(test_ports_parse_ranges_and_star),
            cmocka_unit_test(test_tags_resolve_document_regional_and_builtin),
            cmocka_unit_test(test_nsg_rules_in_priority_order_then_defaults),
            cmocka_unit_test(test_nsg_inbound_allows_accept_and_denies_drop),
            cmocka_unit_test(test_nsg_any_protocol_with_ports_matches_tcp_and_udp),
            cmocka_unit_test(test_nsg_duplicate_priority_is_a_conflict),
            cmocka_unit_test(test_nsg_refuses_bad_priority_protocol_and_tag),
            cmocka_unit_test(test_nsg_without_rules_is_just_the_defaults),
            cmocka_unit_test(test_deny_chain_drops_everything),
            cmocka_unit_test(test_vnet_table_jumps_only_for_ports_with_an_nsg),
            cmocka_unit_test(test_vnet_table_fails_closed_on_a_bad_nsg),
            cmocka_unit_test(test_nat_table_snats_and_resets_expired_flows),
            cmocka_unit_test(test_lb_table_gives_each_vm_its_port_range),
            cmocka_unit_test(test_firewall_network_rules_by_collection_priority),
            cmocka_unit_test(test_firewall_application_rules_go_to_the_proxy),
            cmocka_unit_test(test_firewall_refuses_fqdn_network_rules),
            cmocka_unit_test(test_host_guard_admits_only_the_two_listeners),
            cmocka_unit_test(test_model_without_outbound_method_names_the_subnet),
            cmocka_unit_test(test_model_egress_precedence),
            cmocka_unit_test(test_model_allocates_lb_ports_in_backend_order),
            cmocka_unit_test(test_model_refuses_malformed_and_fails_dangling),
            cmocka_unit_test(test_sni_from_a_real_client_hello),
            cmocka_unit_test(test_http_host_without_port),
            cmocka_unit_test(test_fqdn_match_and_app_decisions),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
