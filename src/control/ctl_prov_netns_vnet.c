/*
 * ctl_prov_netns_vnet.c - a VNet as a namespace that routes: the "host
 * SDN" Azure runs under every VM, one per VNet.
 *
 * Each VM's NIC is a veth whose router end carries its subnet's gateway
 * address (.1) and answers ARP for every other address of the subnet
 * (proxy ARP), so all traffic, even between two VMs of one subnet, is
 * routed here and passes the NSGs: nft's inet family sees every packet
 * with conntrack, without br_netfilter (a host-wide switch that would
 * change every bridge on the machine).  That is why this is a router and
 * not a Linux bridge.
 *
 * Routing, by rule preference:
 *    900  from a VM's public IP       -> 4000 (replies leave by pub0)
 *   1000  from a subnet with a UDR    -> 1000+i: its routes, plus "throw"
 *                                        for the VNet's own prefixes
 *   1500  main, default suppressed    -> VNet-local /32s
 *   2000  from a VM with its own way  -> 4000 (public IP), 3000+k (LB)
 *   3000  from a subnet               -> 2000+k (NAT), 4000 (default)
 * Nothing else: no route means no egress, and the VM's status says why.
 */
#include "ctl_prov_netns.h"

#include "common/err.h"
#include "common/mem.h"

#include <stdio.h>
#include <string.h>

bool
ctl_np_subnet_ok(const struct ctl_prov_subnet *s)
{
    return s && !s->failed && !s->vnet->failed;
}

bool
ctl_np_vm_ok(const struct ctl_prov_vm *vm)
{
    return !vm->failed && ctl_np_subnet_ok(vm->subnet);
}

enum ctl_prov_egress
ctl_np_system_egress(const struct ctl_prov_vm *vm)
{
    const struct ctl_prov_subnet *s = vm->subnet;

    if (s->nat && !s->nat->failed)
        return CTL_PROV_EG_NAT;
    if (vm->pip)
        return CTL_PROV_EG_PIP;
    if (vm->lb && !vm->lb->failed)
        return CTL_PROV_EG_LB;
    if (s->default_outbound && s->vnet->default_outbound_ip)
        return CTL_PROV_EG_DEFAULT;
    return CTL_PROV_EG_NONE;
}

bool
ctl_np_serves_nat(const struct ctl_prov_model *m, const struct ctl_prov_nat *n,
                  const struct ctl_prov_vnet *v)
{
    (void)m;
    for (size_t i = 0; !n->failed && i < v->nsubnets; i++) {
        if (v->subnets[i].nat == n && ctl_np_subnet_ok(&v->subnets[i]))
            return true;
    }
    return false;
}

bool
ctl_np_serves_lb(const struct ctl_prov_model *m, const struct ctl_prov_lb *lb,
                 const struct ctl_prov_vnet *v)
{
    for (size_t i = 0; !lb->failed && i < m->nvms; i++) {
        if (m->vms[i].lb == lb && ctl_np_vm_ok(&m->vms[i]) && m->vms[i].subnet->vnet == v)
            return true;
    }
    return false;
}

bool
ctl_np_serves_fw(const struct ctl_prov_model *m, const struct ctl_prov_fw *fw,
                 const struct ctl_prov_vnet *v)
{
    if (fw->failed)
        return false;
    if (fw->subnet->vnet == v)
        return true;
    for (size_t i = 0; i < v->nsubnets; i++) {
        const struct ctl_prov_rt *rt = v->subnets[i].rt;

        for (size_t k = 0; rt && !rt->failed && k < rt->nroutes; k++) {
            if (rt->routes[k].fw == fw)
                return true;
        }
    }
    (void)m;
    return false;
}

static bool
needs_pub(const struct ctl_prov_model *m, const struct ctl_prov_vnet *v)
{
    for (size_t i = 0; i < m->nvms; i++) {
        if (m->vms[i].pip && ctl_np_vm_ok(&m->vms[i]) && m->vms[i].subnet->vnet == v)
            return true;
    }
    for (size_t i = 0; i < v->nsubnets; i++) {
        if (v->subnets[i].default_outbound && v->default_outbound_ip)
            return true;
    }
    return false;
}

/* ---- links to edges and to the internet ---- */

static int
transit_end(struct ctl_np_plan *pl, int ns, char kind, const char *h)
{
    int rc = ctl_np_item(pl, ns, "ip addr replace " NP_INNER_IP "/32 dev %c%s", kind, h);

    return rc ? rc : ctl_np_item(pl, ns, "ip link set dev %c%s up", kind, h);
}

static int
vnet_edges(struct ctl_np_plan *pl, struct ctl_prov_vnet *v, int ns)
{
    struct ctl_prov_model *m = pl->m;
    char a[16];
    int rc = 0;

    for (size_t k = 0; rc == 0 && k < m->nnats; k++) {
        if (!ctl_np_serves_nat(m, &m->nats[k], v))
            continue;
        if ((rc = transit_end(pl, ns, 'n', m->nats[k].h)) == 0)
            rc = ctl_np_item(pl, ns,
                             "ip route replace default via " NP_OUTER_IP " dev n%s onlink "
                             "table %zu",
                             m->nats[k].h, NP_TABLE_NAT + k);
    }
    for (size_t k = 0; rc == 0 && k < m->nlbs; k++) {
        if (!ctl_np_serves_lb(m, &m->lbs[k], v))
            continue;
        if ((rc = transit_end(pl, ns, 'l', m->lbs[k].h)) == 0)
            rc = ctl_np_item(pl, ns,
                             "ip route replace default via " NP_OUTER_IP " dev l%s onlink "
                             "table %zu",
                             m->lbs[k].h, NP_TABLE_LB + k);
    }
    for (size_t k = 0; rc == 0 && k < m->nfws; k++) {
        const struct ctl_prov_fw *fw = &m->fws[k];

        if (!ctl_np_serves_fw(m, fw, v))
            continue;
        if ((rc = transit_end(pl, ns, 'f', fw->h)) == 0 && fw->subnet->vnet == v)
            rc = ctl_np_item(pl, ns, "ip route replace %s/32 via " NP_OUTER_IP " dev f%s onlink",
                             ctl_np_ip(fw->private_ip, a), fw->h);
    }
    return rc;
}

static int
vnet_pub(struct ctl_np_plan *pl, struct ctl_prov_vnet *v, int ns)
{
    char port[NP_IFNAME_MAX], a[16];
    int rc;

    snprintf(port, sizeof(port), "v%s", v->h);
    if ((rc = ctl_np_link(pl, ns, "pub0", pl->inet, port)) < 0 ||
        (rc = ctl_np_item(pl, pl->inet, "ip link set dev %s master br0", port)) < 0 ||
        (rc = ctl_np_item(pl, pl->inet, "ip link set dev %s up", port)) < 0 ||
        (rc = ctl_np_item(pl, ns, "ip addr replace " NP_PUBLINK_IP "/32 dev pub0")) < 0)
        return rc;
    if (v->default_outbound_ip && (rc = ctl_np_item(pl, ns, "ip addr replace %s/32 dev pub0",
                                                    ctl_np_ip(v->default_outbound_ip, a))) < 0)
        return rc;
    if ((rc = ctl_np_item(pl, ns, "ip link set dev pub0 up")) < 0 ||
        (rc = ctl_np_item(pl, ns, "sysctl net/ipv4/neigh/pub0/proxy_delay 0")) < 0)
        return rc;
    return ctl_np_item(pl, ns, "ip route replace default via 203.0.113.1 dev pub0 onlink table %d",
                       NP_TABLE_PUB);
}

/* ---- subnets: UDR tables and outbound rules ---- */

static bool
udr_equals(const struct ctl_prov_rt *rt, uint32_t lo, uint32_t hi)
{
    for (size_t i = 0; i < rt->nroutes; i++) {
        for (size_t k = 0; k < rt->routes[i].dst.n; k++) {
            if (rt->routes[i].dst.v[k].lo == lo && rt->routes[i].dst.v[k].hi == hi)
                return true;
        }
    }
    return false;
}

static bool
appliance_ok(const struct ctl_prov_subnet *s, const struct ctl_prov_route *r)
{
    if (r->hop != CTL_PROV_HOP_APPLIANCE)
        return false;
    if (r->fw)
        return !r->fw->failed;
    return r->vm && ctl_np_vm_ok(r->vm) && r->vm->subnet->vnet == s->vnet;
}

/* One UDR: to a firewall or an appliance VM, to the system routes
 * ("throw": Internet and VnetLocal continue with the rules below), or
 * dropped (None, VirtualNetworkGateway, a missing appliance). */
static int
udr_route(struct ctl_np_plan *pl, int ns, const struct ctl_prov_subnet *s,
          const struct ctl_prov_route *r, size_t table)
{
    char a[16];

    if (appliance_ok(s, r) && r->fw)
        return ctl_np_routes(pl, ns, &r->dst, NULL, "via " NP_OUTER_IP " dev f%s onlink table %zu",
                             r->fw->h, table);
    if (appliance_ok(s, r))
        return ctl_np_routes(pl, ns, &r->dst, NULL, "via %s dev m%s onlink table %zu",
                             ctl_np_ip(r->vm->ip, a), r->vm->h, table);
    if (r->hop == CTL_PROV_HOP_INTERNET || r->hop == CTL_PROV_HOP_VNETLOCAL)
        return ctl_np_routes(pl, ns, &r->dst, "throw", "table %zu", table);
    return ctl_np_routes(pl, ns, &r->dst, "blackhole", "table %zu", table);
}

static int
subnet_udrs(struct ctl_np_plan *pl, int ns, const struct ctl_prov_subnet *s)
{
    const struct ctl_prov_rt *rt = s->rt;
    size_t table = NP_TABLE_SUBNET + s->index;
    struct ctl_prov_set own;
    int rc = 0;

    ctl_prov_set_init(&own);
    for (size_t i = 0; rc == 0 && i < s->vnet->space.n; i++) {
        const struct ctl_prov_ival *iv = &s->vnet->space.v[i];

        if (!udr_equals(rt, iv->lo, iv->hi)) /* a UDR for the same prefix wins */
            rc = ctl_prov_set_add(&own, iv->lo, iv->hi);
    }
    if (rc == 0)
        rc = ctl_np_routes(pl, ns, &own, "throw", "table %zu", table);
    for (size_t i = 0; rc == 0 && i < rt->nroutes; i++)
        rc = udr_route(pl, ns, s, &rt->routes[i], table);
    ctl_prov_set_fini(&own);
    return rc;
}

static int
subnet_rules(struct ctl_np_plan *pl, int ns, const struct ctl_prov_subnet *s)
{
    const struct ctl_prov_model *m = pl->m;
    char a[16];
    int rc = 0;

    ctl_np_ip(s->net, a);
    if (s->rt && !s->rt->failed && (rc = subnet_udrs(pl, ns, s)) == 0)
        rc = ctl_np_item(pl, ns, "ip rule add pref 1000 from %s/%u lookup %zu", a, s->len,
                         NP_TABLE_SUBNET + s->index);
    if (rc == 0 && s->nat && !s->nat->failed)
        rc = ctl_np_item(pl, ns, "ip rule add pref 3000 from %s/%u lookup %zu", a, s->len,
                         NP_TABLE_NAT + (size_t)(s->nat - m->nats));
    else if (rc == 0 && s->default_outbound && s->vnet->default_outbound_ip)
        rc = ctl_np_item(pl, ns, "ip rule add pref 3000 from %s/%u lookup %d", a, s->len,
                         NP_TABLE_PUB);
    return rc;
}

/* ---- VM ports ---- */

static int
vm_port(struct ctl_np_plan *pl, int ns, const struct ctl_prov_vm *vm)
{
    const struct ctl_prov_model *m = pl->m;
    char gw[16], ip[16], pip[16];
    enum ctl_prov_egress eg = ctl_np_system_egress(vm);
    int rc;

    ctl_np_ip(vm->subnet->net + 1, gw);
    ctl_np_ip(vm->ip, ip);
    ctl_np_ip(vm->pip, pip);
    if ((rc = ctl_np_item(pl, ns, "ip addr replace %s/32 dev m%s", gw, vm->h)) < 0 ||
        (rc = ctl_np_item(pl, ns, "ip link set dev m%s up", vm->h)) < 0 ||
        (rc = ctl_np_item(pl, ns, "ip route replace %s/32 dev m%s", ip, vm->h)) < 0 ||
        (rc = ctl_np_item(pl, ns, "sysctl net/ipv4/conf/m%s/proxy_arp 1", vm->h)) < 0 ||
        (rc = ctl_np_item(pl, ns, "sysctl net/ipv4/neigh/m%s/proxy_delay 0", vm->h)) < 0)
        return rc;
    if (vm->pip && ((rc = ctl_np_item(pl, ns, "ip route replace %s/32 dev m%s", pip, vm->h)) < 0 ||
                    (rc = ctl_np_item(pl, ns, "ip neigh replace proxy %s dev pub0", pip)) < 0 ||
                    (rc = ctl_np_item(pl, ns, "ip rule add pref 900 from %s lookup %d", pip,
                                      NP_TABLE_PUB)) < 0))
        return rc;
    if (eg == CTL_PROV_EG_PIP)
        return ctl_np_item(pl, ns, "ip rule add pref 2000 from %s lookup %d", ip, NP_TABLE_PUB);
    if (eg == CTL_PROV_EG_LB)
        return ctl_np_item(pl, ns, "ip rule add pref 2000 from %s lookup %zu", ip,
                           NP_TABLE_LB + (size_t)(vm->lb - m->lbs));
    return 0;
}

/* ---- the router's nft table ---- */

struct vnet_nft {
    struct ctl_prov_nft_subnet *subnets;
    struct ctl_prov_nft_port *ports;
    struct ctl_prov_nft_snat *snat;
    size_t nports, nsnat;
    char (*names)[NP_IFNAME_MAX];
};

static int
vnet_nft_collect(struct ctl_np_plan *pl, const struct ctl_prov_vnet *v, struct vnet_nft *x)
{
    const struct ctl_prov_model *m = pl->m;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < v->nsubnets; i++) {
        const struct ctl_prov_subnet *s = &v->subnets[i];

        ctl_prov_set_init(&x->subnets[i].vnet);
        x->subnets[i].has_nsg = s->nsg != NULL;
        x->subnets[i].nsg_rules = s->nsg ? s->nsg->rules : NULL;
        rc = ctl_prov_vnet_set(m, s, &x->subnets[i].vnet);
    }
    for (size_t i = 0; rc == 0 && i < m->nvms; i++) {
        const struct ctl_prov_vm *vm = &m->vms[i];

        if (!ctl_np_vm_ok(vm) || vm->subnet->vnet != v)
            continue;
        snprintf(x->names[x->nports], NP_IFNAME_MAX, "m%s", vm->h);
        x->ports[x->nports].ifname = x->names[x->nports];
        x->ports[x->nports++].subnet = (int)vm->subnet->index;
        if (vm->pip && ctl_np_system_egress(vm) == CTL_PROV_EG_PIP)
            x->snat[x->nsnat++] = (struct ctl_prov_nft_snat){vm->ip, 32, vm->pip};
    }
    for (size_t i = 0; rc == 0 && i < v->nsubnets; i++) {
        const struct ctl_prov_subnet *s = &v->subnets[i];

        if (s->default_outbound && v->default_outbound_ip && !(s->nat && !s->nat->failed))
            x->snat[x->nsnat++] =
                    (struct ctl_prov_nft_snat){s->net, s->len, v->default_outbound_ip};
    }
    return rc;
}

static void
vnet_nft_report(struct ctl_np_plan *pl, const struct ctl_prov_vnet *v, const struct vnet_nft *x)
{
    for (size_t i = 0; i < v->nsubnets; i++) {
        if (x->subnets[i].err[0] == '\0')
            continue;
        ctl_prov_status_fail(pl->m->status, v->subnets[i].nsg->id, "%s", x->subnets[i].err);
        ctl_prov_status_fail(pl->m->status, v->subnets[i].id,
                             "its NSG does not compile, so the subnet fails closed: %s",
                             x->subnets[i].err);
    }
}

static int
vnet_nft(struct ctl_np_plan *pl, const struct ctl_prov_vnet *v, int ns, bool pub)
{
    size_t cap = pl->m->nvms + v->nsubnets + 1;
    struct vnet_nft x = {.subnets = scc_calloc(v->nsubnets + 1, sizeof(*x.subnets)),
                         .ports = scc_calloc(cap, sizeof(*x.ports)),
                         .snat = scc_calloc(cap, sizeof(*x.snat)),
                         .names = scc_calloc(cap, sizeof(*x.names))};
    struct ctl_prov_nft_vnet t = {.table = pl->p->prefix,
                                  .pub_if = pub ? "pub0" : NULL,
                                  .service_tags = pl->m->service_tags,
                                  .subnets = x.subnets,
                                  .nsubnets = v->nsubnets};
    struct scc_buf body;
    int rc = x.subnets && x.ports && x.snat && x.names ? 0 : SCC_ENOMEM;

    scc_buf_init(&body, 16u << 20);
    if (rc == 0)
        rc = vnet_nft_collect(pl, v, &x);
    t.ports = x.ports, t.nports = x.nports, t.snat = x.snat, t.nsnat = x.nsnat;
    if (rc == 0)
        rc = ctl_prov_nft_vnet(&body, &t);
    if (rc == 0)
        rc = ctl_prov_nft_replace(&pl->ns[ns].nft, "inet", pl->p->prefix, scc_buf_str(&body));
    if (rc == 0)
        vnet_nft_report(pl, v, &x);
    for (size_t i = 0; x.subnets && i < v->nsubnets; i++)
        ctl_prov_set_fini(&x.subnets[i].vnet);
    scc_free(x.subnets), scc_free(x.ports), scc_free(x.snat), scc_free(x.names);
    scc_buf_fini(&body);
    return rc;
}

int
ctl_np_build_vnet(struct ctl_np_plan *pl, struct ctl_prov_vnet *v)
{
    bool pub = needs_pub(pl->m, v);
    int ns = ctl_np_ns_add(pl, "vnet", v->h, v->id), rc;

    if (ns < 0)
        return ns;
    if ((rc = ctl_np_item(pl, ns, "ip link set dev lo up")) < 0 ||
        (rc = ctl_np_item(pl, ns, "sysctl net/ipv4/ip_forward 1")) < 0 ||
        (rc = ctl_np_item(pl, ns, "sysctl net/ipv4/conf/all/rp_filter 0")) < 0 ||
        (rc = ctl_np_item(pl, ns, "sysctl net/ipv4/conf/default/rp_filter 0")) < 0 ||
        (rc = ctl_np_no_ipv6(pl, ns)) < 0 ||
        (rc = ctl_np_item(pl, ns, "ip rule add pref 1500 lookup main suppress_prefixlength 0")) < 0)
        return rc;
    if (pub && (rc = vnet_pub(pl, v, ns)) < 0)
        return rc;
    if ((rc = vnet_edges(pl, v, ns)) < 0)
        return rc;
    for (size_t i = 0; rc == 0 && i < v->nsubnets; i++)
        rc = ctl_np_subnet_ok(&v->subnets[i]) ? subnet_rules(pl, ns, &v->subnets[i]) : 0;
    for (size_t i = 0; rc == 0 && i < pl->m->nvms; i++) {
        const struct ctl_prov_vm *vm = &pl->m->vms[i];

        rc = ctl_np_vm_ok(vm) && vm->subnet->vnet == v ? vm_port(pl, ns, vm) : 0;
    }
    return rc ? rc : vnet_nft(pl, v, ns, pub);
}
