/*
 * ctl_prov_nft_tables.c - one nftables table per kind of namespace: the
 * VNet router, NAT gateways, load balancers, firewalls and the host guard.
 *
 * Every table is loaded with ctl_prov_nft_replace, so a change swaps the
 * whole table atomically and conntrack state survives it.  Chain names
 * avoid nft keywords ("fwd" is one).
 */
#include "ctl_prov_nft.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/mem.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static int
ip_str(uint32_t ip, char out[16])
{
    ctl_prov_ip_format(ip, out, 16);
    return 0;
}

/* ---- the VNet router ---- */

static int
vnet_chains(struct scc_buf *out, struct ctl_prov_nft_vnet *v)
{
    char name[32];
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < v->nsubnets; i++) {
        struct ctl_prov_nft_subnet *s = &v->subnets[i];
        struct ctl_prov_tags tags = {.service_tags = v->service_tags, .vnet = &s->vnet};
        struct scc_buf tmp;

        if (!s->has_nsg)
            continue;
        scc_buf_init(&tmp, out->max);
        for (int in = 0; rc == 0 && in < 2; in++) {
            snprintf(name, sizeof(name), "nsg_%s_%zu", in ? "in" : "out", i);
            rc = ctl_prov_nft_nsg_chain(&tmp, name, s->nsg_rules, in != 0, &tags, s->err,
                                        sizeof(s->err));
        }
        if (rc == SCC_EINVAL) { /* fail closed, and say why */
            scc_buf_reset(&tmp);
            for (int in = 0; in < 2; in++) {
                snprintf(name, sizeof(name), "nsg_%s_%zu", in ? "in" : "out", i);
                rc = ctl_prov_nft_deny_chain(&tmp, name, "NSG failed closed");
            }
        }
        if (rc == 0)
            rc = scc_buf_put(out, tmp.data ? (const char *)tmp.data : "", tmp.len);
        scc_buf_fini(&tmp);
    }
    return rc;
}

/* "iifname vmap { "m1" : jump nsg_out_0, ... }" for ports whose subnet
 * has an NSG. */
static int
vnet_vmap(struct scc_buf *out, const struct ctl_prov_nft_vnet *v, bool inbound)
{
    int rc = 0, n = 0;

    for (size_t i = 0; rc == 0 && i < v->nports; i++) {
        const struct ctl_prov_nft_port *p = &v->ports[i];

        if (p->subnet < 0 || (size_t)p->subnet >= v->nsubnets || !v->subnets[p->subnet].has_nsg)
            continue;
        rc = scc_buf_printf(out, "%s\"%s\" : jump nsg_%s_%d",
                            n++ ? ", " : (inbound ? "\t\toifname vmap { " : "\t\tiifname vmap { "),
                            p->ifname, inbound ? "in" : "out", p->subnet);
    }
    return rc == 0 && n > 0 ? scc_buf_put_str(out, " }\n") : rc;
}

static int
vnet_snat(struct scc_buf *out, const struct ctl_prov_nft_vnet *v)
{
    char a[16], b[16];
    int rc = 0;

    if (v->pub_if == NULL)
        return 0;
    rc = scc_buf_put_str(out, "\tchain postrouting {\n\t\ttype nat hook postrouting priority "
                              "srcnat; policy accept;\n");
    for (size_t i = 0; rc == 0 && i < v->nsnat; i++) {
        ip_str(v->snat[i].net, a);
        ip_str(v->snat[i].to, b);
        rc = scc_buf_printf(out, "\t\toifname \"%s\" ip saddr %s/%u snat ip to %s\n", v->pub_if, a,
                            v->snat[i].len, b);
    }
    return rc ? rc : scc_buf_put_str(out, "\t}\n");
}

int
ctl_prov_nft_vnet(struct scc_buf *out, struct ctl_prov_nft_vnet *v)
{
    int rc = scc_buf_printf(out,
                            "table inet %s {\n\tchain forward {\n\t\ttype filter hook forward "
                            "priority filter; policy accept;\n\t\tct state established,related "
                            "accept\n\t\tct state invalid counter drop\n",
                            v->table);

    if (rc == 0)
        rc = vnet_vmap(out, v, false);
    if (rc == 0)
        rc = vnet_vmap(out, v, true);
    if (rc == 0)
        rc = scc_buf_put_str(out, "\t}\n");
    if (rc == 0 && v->pub_if) /* nothing on the router itself answers the internet */
        rc = scc_buf_printf(out,
                            "\tchain input {\n\t\ttype filter hook input priority filter; policy "
                            "accept;\n\t\tiifname \"%s\" ct state new counter drop\n\t}\n",
                            v->pub_if);
    if (rc == 0)
        rc = vnet_chains(out, v);
    if (rc == 0)
        rc = vnet_snat(out, v);
    return rc ? rc : scc_buf_put_str(out, "}\n");
}

/* ---- NAT gateways and load balancers ---- */

/* The stateful edge both share: with nf_conntrack_tcp_loose=0 (set by the
 * provider) a segment of a flow that conntrack expired is "invalid"; the
 * inside gets a reset, as Azure's NAT gateway does after its idle
 * timeout, instead of a silent black hole. */
static int
edge_forward_head(struct scc_buf *out, const char *pub)
{
    return scc_buf_printf(out,
                          "\tcounter expired {\n\t}\n\tcounter inbound_denied {\n\t}\n"
                          "\tchain forward {\n\t\ttype filter hook forward priority filter; "
                          "policy accept;\n"
                          "\t\tct state invalid iifname != \"%s\" meta l4proto tcp counter name "
                          "\"expired\" reject with tcp reset\n"
                          "\t\tct state invalid counter drop\n"
                          "\t\tct state established,related accept\n"
                          "\t\tiifname \"%s\" counter name \"inbound_denied\" drop\n",
                          pub, pub);
}

static int
edge_input(struct scc_buf *out, const char *pub)
{
    return scc_buf_printf(out,
                          "\tchain input {\n\t\ttype filter hook input priority filter; policy "
                          "accept;\n\t\tiifname \"%s\" ct state established,related accept\n"
                          "\t\tiifname \"%s\" counter name \"inbound_denied\" drop\n\t}\n",
                          pub, pub);
}

static int
nat_snat_target(struct scc_buf *out, const struct ctl_prov_nft_nat *n)
{
    char a[16];
    int rc;

    if (n->nips == 1)
        return scc_buf_printf(out, "%s", (ip_str(n->ips[0], a), a));
    /* Several public IPs: a flow's source picks one, stable per VM. */
    rc = scc_buf_printf(out, "jhash ip saddr mod %zu map { ", n->nips);
    for (size_t i = 0; rc == 0 && i < n->nips; i++)
        rc = scc_buf_printf(out, "%s%zu : %s", i ? ", " : "", i, (ip_str(n->ips[i], a), a));
    return rc ? rc : scc_buf_put_str(out, " }");
}

int
ctl_prov_nft_nat(struct scc_buf *out, const struct ctl_prov_nft_nat *n)
{
    int rc;

    if (n->nips == 0)
        return SCC_EINVAL;
    rc = scc_buf_printf(out, "table inet %s {\n", n->table);
    if (rc == 0)
        rc = edge_forward_head(out, n->pub_if);
    if (rc == 0)
        rc = scc_buf_put_str(out, "\t}\n");
    if (rc == 0)
        rc = edge_input(out, n->pub_if);
    if (rc == 0)
        rc = scc_buf_printf(out,
                            "\tchain postrouting {\n\t\ttype nat hook postrouting priority "
                            "srcnat; policy accept;\n\t\toifname \"%s\" snat ip to ",
                            n->pub_if);
    if (rc == 0)
        rc = nat_snat_target(out, n);
    return rc ? rc : scc_buf_put_str(out, "\n\t}\n}\n");
}

static int
lb_backends(struct scc_buf *out, const struct ctl_prov_nft_lb *lb)
{
    struct ctl_prov_set s;
    int rc = 0;

    ctl_prov_set_init(&s);
    for (size_t i = 0; rc == 0 && i < lb->nvms; i++)
        rc = ctl_prov_set_add(&s, lb->vms[i].ip, lb->vms[i].ip);
    if (rc == 0 && s.n > 0)
        rc = scc_buf_put_str(out, "\t\tip saddr != ");
    if (rc == 0 && s.n > 0)
        rc = ctl_prov_set_format(&s, true, out);
    if (rc == 0)
        rc = scc_buf_put_str(out, s.n > 0 ? " counter name \"not_backend\" drop\n"
                                          : "\t\tcounter name \"not_backend\" drop\n");
    ctl_prov_set_fini(&s);
    return rc;
}

/* A flow is (source, destination, protocol, destination port); the kernel
 * can give each VM's flows to one destination only hi-lo+1 distinct source
 * ports, so "ct count over N" on that key is exactly the moment SNAT runs
 * out.  Dropping there counts it per VM; the SNAT range is the real limit. */
static int
lb_vm_rules(struct scc_buf *out, const struct ctl_prov_nft_lb *lb, bool nat)
{
    char a[16], f[16];
    int rc = 0;

    ip_str(lb->frontend, f);
    for (size_t i = 0; rc == 0 && i < lb->nvms; i++) {
        const struct ctl_prov_nft_lbvm *vm = &lb->vms[i];

        ip_str(vm->ip, a);
        if (nat)
            rc = scc_buf_printf(out,
                                "\t\toifname \"%s\" ip saddr %s meta l4proto { tcp, udp } snat ip "
                                "to %s:%u-%u\n\t\toifname \"%s\" ip saddr %s snat ip to %s\n",
                                lb->pub_if, a, f, vm->lo, vm->hi, lb->pub_if, a, f);
        else
            rc = scc_buf_printf(out,
                                "\t\tip saddr %s meta l4proto { tcp, udp } add @flows { ip saddr "
                                ". ip daddr . meta l4proto . th dport ct count over %u } counter "
                                "name \"%s\" drop\n",
                                a, (unsigned)(vm->hi - vm->lo + 1), vm->counter);
    }
    return rc;
}

int
ctl_prov_nft_lb(struct scc_buf *out, const struct ctl_prov_nft_lb *lb)
{
    int rc = scc_buf_printf(out, "table inet %s {\n\tcounter not_backend {\n\t}\n", lb->table);

    for (size_t i = 0; rc == 0 && i < lb->nvms; i++)
        rc = scc_buf_printf(out, "\tcounter %s {\n\t}\n", lb->vms[i].counter);
    if (rc == 0)
        rc = scc_buf_put_str(out, "\tset flows {\n\t\ttype ipv4_addr . ipv4_addr . inet_proto . "
                                  "inet_service\n\t\tflags dynamic\n\t\tsize 262144\n\t}\n");
    if (rc == 0)
        rc = edge_forward_head(out, lb->pub_if);
    if (rc == 0)
        rc = lb_vm_rules(out, lb, false);
    if (rc == 0)
        rc = lb_backends(out, lb);
    if (rc == 0)
        rc = scc_buf_put_str(out, "\t}\n");
    if (rc == 0)
        rc = edge_input(out, lb->pub_if);
    if (rc == 0)
        rc = scc_buf_put_str(out, "\tchain postrouting {\n\t\ttype nat hook postrouting priority "
                                  "srcnat; policy accept;\n");
    if (rc == 0)
        rc = lb_vm_rules(out, lb, true);
    return rc ? rc : scc_buf_put_str(out, "\t}\n}\n");
}

/* ---- the host guard ---- */

int
ctl_prov_nft_host(struct scc_buf *out, const struct ctl_prov_nft_host *h)
{
    char api[16], relay[16];

    ip_str(h->api_ip, api);
    ip_str(h->relay_ip, relay);
    return scc_buf_printf(out,
                          "table inet %s {\n\tchain input {\n\t\ttype filter hook input priority "
                          "filter; policy accept;\n"
                          "\t\tiifname \"%s\" ct state established,related accept\n"
                          "\t\tiifname \"%s\" ip daddr %s tcp dport %u accept\n"
                          "\t\tiifname \"%s\" ip daddr %s tcp dport %u accept\n"
                          "\t\tiifname \"%s\" counter drop\n\t}\n}\n",
                          h->table, h->ifname, h->ifname, api, h->api_port, h->ifname, relay,
                          h->relay_port, h->ifname);
}

/* ---- firewall collections ---- */

static json_int_t
coll_prio(const json_t *c)
{
    return json_integer_value(json_object_get(c, "priority"));
}

json_t *
ctl_prov_sorted_collections(const json_t *collections, char *err, size_t cap)
{
    json_t *out = json_array(), *c;
    size_t i;

    if (out == NULL || collections == NULL)
        return out;
    if (!json_is_array(collections)) {
        snprintf(err, cap, "rule collections must be an array");
        goto fail;
    }
    json_array_foreach(collections, i, c)
    {
        size_t j = json_array_size(out);

        if (!json_is_object(c) || !json_is_integer(json_object_get(c, "priority")) ||
            !json_is_array(json_object_get(c, "rules"))) {
            snprintf(err, cap, "a rule collection needs priority and rules");
            goto fail;
        }
        while (j > 0 && coll_prio(json_array_get(out, j - 1)) > coll_prio(c))
            j--;
        json_array_insert(out, j, c);
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}

static bool
coll_allows(const json_t *c)
{
    const char *a = json_string_value(json_object_get(c, "action"));

    return a && strcasecmp(a, "Allow") == 0;
}

/* Which of tcp/udp/icmp a network rule names ("Any" is all three). */
static int
fw_protos(const json_t *r, bool *tcp, bool *udp, bool *icmp, char *err, size_t cap)
{
    const json_t *p = json_object_get(r, "protocols"), *e;
    size_t i;

    *tcp = *udp = *icmp = false;
    if (!json_is_array(p) || json_array_size(p) == 0) {
        snprintf(err, cap, "a network rule needs protocols");
        return SCC_EINVAL;
    }
    json_array_foreach(p, i, e)
    {
        const char *s = json_string_value(e);
        bool any = s && strcasecmp(s, "Any") == 0;

        if (s == NULL ||
            (!any && strcasecmp(s, "TCP") && strcasecmp(s, "UDP") && strcasecmp(s, "ICMP"))) {
            snprintf(err, cap, "network rule protocol must be TCP, UDP, ICMP or Any");
            return SCC_EINVAL;
        }
        *tcp |= any || strcasecmp(s, "TCP") == 0;
        *udp |= any || strcasecmp(s, "UDP") == 0;
        *icmp |= any || strcasecmp(s, "ICMP") == 0;
    }
    return 0;
}

struct fw_match {
    bool tcp, udp, icmp;
    struct ctl_prov_set src, dst, dport;
};

static void
fw_match_fini(struct fw_match *m)
{
    ctl_prov_set_fini(&m->src);
    ctl_prov_set_fini(&m->dst);
    ctl_prov_set_fini(&m->dport);
}

static int
fw_ports(const json_t *v, struct ctl_prov_set *out, char *err, size_t cap)
{
    const json_t *e;
    size_t i;

    if (v == NULL)
        return ctl_prov_set_add(out, 0, CTL_PROV_PORT_MAX);
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e) || ctl_prov_ports_parse(json_string_value(e), out) < 0) {
            snprintf(err, cap, "malformed destination port");
            return SCC_EINVAL;
        }
    }
    return json_is_array(v) && i > 0 ? 0
                                     : (snprintf(err, cap, "bad destination_ports"), SCC_EINVAL);
}

static int
fw_match_parse(const json_t *r, const struct ctl_prov_tags *tags, struct fw_match *m, char *err,
               size_t cap)
{
    int rc;

    if (json_object_get(r, "destination_fqdns")) {
        snprintf(err, cap,
                 "network rule '%s': destination_fqdns need DNS, which the simulated "
                 "internet does not have; use destination_addresses",
                 json_string_value(json_object_get(r, "name")));
        return SCC_EINVAL;
    }
    if ((rc = fw_protos(r, &m->tcp, &m->udp, &m->icmp, err, cap)) < 0)
        return rc;
    if ((rc = ctl_prov_tags_resolve_list(tags, json_object_get(r, "source_addresses"), &m->src, err,
                                         cap)) < 0 ||
        (rc = ctl_prov_tags_resolve_list(tags, json_object_get(r, "destination_addresses"), &m->dst,
                                         err, cap)) < 0)
        return rc;
    return fw_ports(json_object_get(r, "destination_ports"), &m->dport, err, cap);
}

static int
fw_addr_matches(struct scc_buf *out, const struct fw_match *m)
{
    int rc = 0;

    if (!ctl_prov_set_is_all(&m->src, CTL_PROV_IP_MAX) &&
        (rc = scc_buf_put_str(out, " ip saddr ")) == 0)
        rc = ctl_prov_set_format(&m->src, true, out);
    if (rc == 0 && !ctl_prov_set_is_all(&m->dst, CTL_PROV_IP_MAX) &&
        (rc = scc_buf_put_str(out, " ip daddr ")) == 0)
        rc = ctl_prov_set_format(&m->dst, true, out);
    return rc;
}

/* One network rule as up to two nft rules: TCP/UDP with the ports, and
 * ICMP without (Azure ignores ports for ICMP). */
static int
fw_rule_put(struct scc_buf *out, const json_t *r, const char *coll, const char *verdict,
            const struct fw_match *m)
{
    const char *name = json_string_value(json_object_get(r, "name"));
    bool ports = !ctl_prov_set_is_all(&m->dport, CTL_PROV_PORT_MAX);
    int rc = 0;

    for (int pass = 0; rc == 0 && pass < 2; pass++) {
        if (pass == 0 && !m->tcp && !m->udp)
            continue;
        if (pass == 1 && !m->icmp)
            continue;
        rc = scc_buf_put_str(out, "\t\t");
        if (rc == 0 && pass == 0)
            rc = scc_buf_printf(out, "meta l4proto %s",
                                m->tcp && m->udp ? "{ tcp, udp }"
                                : m->tcp         ? "tcp"
                                                 : "udp");
        if (rc == 0 && pass == 1)
            rc = scc_buf_put_str(out, "meta l4proto icmp");
        if (rc == 0)
            rc = fw_addr_matches(out, m);
        if (rc == 0 && pass == 0 && ports && (rc = scc_buf_put_str(out, " th dport ")) == 0)
            rc = ctl_prov_set_format(&m->dport, false, out);
        if (rc == 0)
            rc = scc_buf_printf(out, " %s comment \"%.50s/%.50s\"\n", verdict, coll ? coll : "",
                                name ? name : "");
    }
    return rc;
}

/* Network rules in evaluation order.  match_only: the prerouting copy,
 * where any match (allow or deny) means "not for the proxy". */
static int
fw_net_chain(struct scc_buf *out, const json_t *colls, const struct ctl_prov_tags *tags,
             bool match_only, char *err, size_t cap)
{
    const json_t *c, *r;
    size_t i, j;
    int rc = scc_buf_printf(out, "\tchain %s {\n", match_only ? "net_match" : "net_rules");

    json_array_foreach(colls, i, c)
    {
        const char *coll = json_string_value(json_object_get(c, "name"));
        const char *verdict = match_only       ? "accept"
                              : coll_allows(c) ? "counter accept"
                                               : "counter drop";
        json_array_foreach(json_object_get(c, "rules"), j, r)
        {
            struct fw_match m = {0};

            if (rc == 0)
                rc = fw_match_parse(r, tags, &m, err, cap);
            if (rc == 0 && m.src.n > 0 && m.dst.n > 0)
                rc = fw_rule_put(out, r, coll, verdict, &m);
            fw_match_fini(&m);
        }
    }
    return rc ? rc : scc_buf_put_str(out, "\t}\n");
}

int
ctl_prov_nft_app_ports(const json_t *app, struct ctl_prov_set *out, char *err, size_t cap)
{
    const json_t *c, *r, *p;
    size_t i, j, k;

    json_array_foreach(app, i, c)
    {
        json_array_foreach(json_object_get(c, "rules"), j, r)
        {
            json_array_foreach(json_object_get(r, "protocols"), k, p)
            {
                const char *t = json_string_value(json_object_get(p, "type"));
                json_int_t port = json_integer_value(json_object_get(p, "port"));

                if (t == NULL || (strcasecmp(t, "Http") && strcasecmp(t, "Https"))) {
                    snprintf(err, cap, "application rule protocol must be Http or Https");
                    return SCC_EINVAL;
                }
                if (port == 0)
                    port = strcasecmp(t, "Http") == 0 ? 80 : 443;
                if (port < 1 || port > 65535 ||
                    ctl_prov_set_add(out, (uint32_t)port, (uint32_t)port) < 0) {
                    snprintf(err, cap, "application rule port out of range");
                    return SCC_EINVAL;
                }
            }
        }
    }
    return 0;
}

static int
fw_prerouting(struct scc_buf *out, const struct ctl_prov_nft_fw *fw, const struct ctl_prov_set *ap)
{
    int rc = scc_buf_printf(out,
                            "\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; "
                            "policy accept;\n\t\tiifname \"%s\" return\n\t\tjump net_match\n",
                            fw->pub_if);

    if (rc == 0 && ap->n > 0 && (rc = scc_buf_put_str(out, "\t\tmeta l4proto tcp tcp dport ")) == 0)
        rc = ctl_prov_set_format(ap, false, out);
    if (rc == 0 && ap->n > 0)
        rc = scc_buf_printf(out, " counter name \"to_proxy\" redirect to :%u\n", fw->proxy_port);
    return rc ? rc : scc_buf_put_str(out, "\t}\n");
}

static int
fw_fixed(struct scc_buf *out, const struct ctl_prov_nft_fw *fw)
{
    char pub[16];

    ip_str(fw->public_ip, pub);
    return scc_buf_printf(
            out,
            "\tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n"
            "\t\tct state established,related accept\n"
            "\t\tiifname \"%s\" counter name \"inbound_denied\" drop\n"
            "\t\tjump net_rules\n\t\tcounter name \"denied\" drop\n\t}\n"
            "\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n"
            "\t\tiif \"lo\" accept\n\t\tct state established,related accept\n"
            "\t\tiifname != \"%s\" ct status dnat meta l4proto tcp th dport %u accept\n"
            "\t\tiifname != \"%s\" icmp type echo-request accept\n"
            "\t\tcounter name \"inbound_denied\" drop\n\t}\n"
            "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy "
            "accept;\n\t\toifname \"%s\" snat ip to %s\n\t}\n",
            fw->pub_if, fw->pub_if, fw->proxy_port, fw->pub_if, fw->pub_if, pub);
}

int
ctl_prov_nft_fw(struct scc_buf *out, const struct ctl_prov_nft_fw *fw, char *err, size_t cap)
{
    json_t *net = ctl_prov_sorted_collections(fw->net_collections, err, cap);
    json_t *app = ctl_prov_sorted_collections(fw->app_collections, err, cap);
    struct ctl_prov_set ap;
    int rc = net && app ? 0 : SCC_EINVAL;

    ctl_prov_set_init(&ap);
    if (rc == 0)
        rc = ctl_prov_nft_app_ports(app, &ap, err, cap);
    if (rc == 0)
        rc = scc_buf_printf(out,
                            "table inet %s {\n\tcounter denied {\n\t}\n\tcounter inbound_denied "
                            "{\n\t}\n\tcounter to_proxy {\n\t}\n",
                            fw->table);
    if (rc == 0)
        rc = fw_net_chain(out, net, fw->tags, true, err, cap);
    if (rc == 0)
        rc = fw_net_chain(out, net, fw->tags, false, err, cap);
    if (rc == 0)
        rc = fw_prerouting(out, fw, &ap);
    if (rc == 0)
        rc = fw_fixed(out, fw);
    if (rc == 0)
        rc = scc_buf_put_str(out, "}\n");
    ctl_prov_set_fini(&ap);
    json_decref(net);
    json_decref(app);
    return rc;
}
