/*
 * ctl_prov_netns_topo.c - the plan's building blocks, and the part of the
 * topology every document has: the host's guard and veth, and the
 * namespace that stands for the internet.
 *
 * Safety first: before anything is routed, the host gets `unreachable`
 * routes for both documentation ranges (with a metric of its own per
 * prefix, so two providers never remove each other's guard).  The host
 * then reaches exactly the /32s of public IPs in the document, through
 * its own veth; it never gets a route into a VNet, and its nft table
 * refuses to forward anything to or from that veth even if the host has
 * ip_forward on.  The internet namespace has no default route: it is
 * closed.
 */
#include "ctl_prov_netns.h"

#include "common/err.h"
#include "common/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DOC1_NET 0xc6336400u /* 198.51.100.0/24: the control plane's side */
#define DOC3_NET 0xcb007100u /* 203.0.113.0/24: public IPs */

/* ---- plan helpers ---- */

static void *
grow(void *v, size_t *cap, size_t n, size_t size)
{
    size_t c = *cap ? *cap * 2 : 16;
    void *nv;

    if (n < *cap)
        return v;
    if ((nv = scc_realloc(v, c * size)) == NULL)
        return NULL;
    memset((char *)nv + *cap * size, 0, (c - *cap) * size);
    *cap = c;
    return nv;
}

int
ctl_np_ns_add(struct ctl_np_plan *pl, const char *kind, const char *h, const char *owner)
{
    struct ctl_np_ns *ns;
    void *v = grow(pl->ns, &pl->capns, pl->nns, sizeof(*pl->ns));

    if (v == NULL)
        return SCC_ENOMEM;
    pl->ns = v;
    ns = &pl->ns[pl->nns];
    if (kind && ctl_prov_path(ns->name, sizeof(ns->name), "%s-%s%s%s", pl->p->prefix, kind,
                              h ? "-" : "", h ? h : "") < 0)
        return SCC_ETRUNC;
    for (size_t i = 0; i < pl->nns; i++) {
        if (strcmp(pl->ns[i].name, ns->name) == 0) {
            /* Two ids with the same 8-digit hash: refuse the second. */
            ctl_prov_status_fail(pl->m->status, owner,
                                 "its name %s collides with '%s'; rename one of them", ns->name,
                                 pl->ns[i].owner);
            memset(ns, 0, sizeof(*ns));
            return SCC_EEXIST;
        }
    }
    ns->owner = owner;
    scc_buf_init(&ns->items, 16u << 20);
    scc_buf_init(&ns->nft, 16u << 20);
    scc_buf_init(&ns->present, 1u << 20);
    scc_buf_init(&ns->remade, 1u << 20);
    return (int)pl->nns++;
}

int
ctl_np_ns_find(const struct ctl_np_plan *pl, const char *kind, const char *h)
{
    char name[CTL_PROV_NS_MAX];

    if (ctl_prov_path(name, sizeof(name), "%s-%s%s%s", pl->p->prefix, kind, h ? "-" : "",
                      h ? h : "") < 0)
        return -1;
    for (size_t i = 0; i < pl->nns; i++) {
        if (strcmp(pl->ns[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

int
ctl_np_item(struct ctl_np_plan *pl, int ns, const char *fmt, ...)
{
    va_list ap;
    int rc;

    if (ns < 0)
        return SCC_EINVAL;
    va_start(ap, fmt);
    rc = scc_buf_vprintf(&pl->ns[ns].items, fmt, ap);
    va_end(ap);
    return rc ? rc : scc_buf_put_str(&pl->ns[ns].items, "\n");
}

int
ctl_np_link(struct ctl_np_plan *pl, int a, const char *an, int b, const char *bn)
{
    void *v = grow(pl->links, &pl->caplinks, pl->nlinks, sizeof(*pl->links));
    struct ctl_np_link *l;

    if (v == NULL)
        return SCC_ENOMEM;
    pl->links = v;
    l = &pl->links[pl->nlinks++];
    l->a = a;
    l->b = b;
    snprintf(l->an, sizeof(l->an), "%s", an);
    snprintf(l->bn, sizeof(l->bn), "%s", bn ? bn : "");
    return 0;
}

struct ctl_np_proc *
ctl_np_proc_add(struct ctl_np_plan *pl, int ns, const char *owner)
{
    void *v = grow(pl->procs, &pl->capprocs, pl->nprocs, sizeof(*pl->procs));
    struct ctl_np_proc *pr;

    if (v == NULL)
        return NULL;
    pl->procs = v;
    pr = &pl->procs[pl->nprocs++];
    pr->ns = ns;
    pr->owner = owner;
    scc_buf_init(&pr->store, 64u << 10);
    scc_buf_init(&pr->file, 4u << 20);
    return pr;
}

int
ctl_np_proc_argv(struct ctl_np_proc *pr, const char *const *argv)
{
    size_t offs[NP_ARGV_MAX], n = 0;
    int rc = 0;

    /* Offsets first: the storage may move while it grows. */
    for (; argv[n] && rc == 0; n++) {
        if (n + 1 >= NP_ARGV_MAX)
            return SCC_ETOOBIG;
        offs[n] = pr->store.len;
        rc = scc_buf_put(&pr->store, argv[n], strlen(argv[n]) + 1);
    }
    for (size_t i = 0; rc == 0 && i < n; i++)
        pr->argv[i] = (const char *)pr->store.data + offs[i];
    pr->argv[n] = NULL;
    return rc;
}

const char *
ctl_np_ip(uint32_t ip, char out[16])
{
    ctl_prov_ip_format(ip, out, 16);
    return out;
}

unsigned
ctl_np_pub_len(uint32_t ip)
{
    (void)ip;
    return 24;
}

uint32_t
ctl_np_pub_router(uint32_t ip)
{
    return (ip & 0xffffff00u) == DOC1_NET ? DOC1_NET + 1 : DOC3_NET + 1;
}

int
ctl_np_routes(struct ctl_np_plan *pl, int ns, const struct ctl_prov_set *s, const char *type,
              const char *fmt, ...)
{
    char rest[256], a[16];
    va_list ap;
    int rc = 0;

    va_start(ap, fmt);
    vsnprintf(rest, sizeof(rest), fmt, ap);
    va_end(ap);
    for (size_t i = 0; rc == 0 && i < s->n; i++) {
        /* An interval is emitted as the fewest aligned CIDR blocks. */
        for (uint64_t lo = s->v[i].lo; rc == 0 && lo <= s->v[i].hi;) {
            unsigned len = 32;

            while (len > 0) {
                uint64_t size = 1ull << (33 - len);

                if ((lo & (size - 1)) != 0 || lo + size - 1 > s->v[i].hi)
                    break;
                len--;
            }
            rc = ctl_np_item(pl, ns, "ip route replace %s%s%s/%u %s", type ? type : "",
                             type ? " " : "", ctl_np_ip((uint32_t)lo, a), len, rest);
            lo += 1ull << (32 - len);
        }
    }
    return rc;
}

/* The simulation is IPv4 only: no IPv6 link-local chatter on our links. */
int
ctl_np_no_ipv6(struct ctl_np_plan *pl, int ns)
{
    int rc = ctl_np_item(pl, ns, "sysctl net/ipv6/conf/all/disable_ipv6 1");

    return rc ? rc : ctl_np_item(pl, ns, "sysctl net/ipv6/conf/default/disable_ipv6 1");
}

/* ---- the host ---- */

unsigned
ctl_np_guard_metric(const char *prefix)
{
    uint32_t h = 2166136261u;

    for (; *prefix; prefix++)
        h = (h ^ (uint8_t)*prefix) * 16777619u;
    return 3000 + h % 20000;
}

/* Every public address the document uses gets a /32 through our veth,
 * onlink: the router's address (.1) is the same behind every prefix's
 * veth, so the host cannot have one route to it.  Replies to the
 * internet's router go by source instead: from the API's or the relay's
 * address (unique to a prefix), through a table of the prefix's own
 * (numbered like its guard metric) whose default route is that router
 * behind our veth.  So two providers on one host (tests in parallel) never
 * answer into each other's internet, even when their documents use the
 * same public address: the /32s below are in the main table, where the
 * last one written wins, and serve only what the host itself dials. */
static int
host_public_routes(struct ctl_np_plan *pl, const char *dev, const char *via, const char *src)
{
    const struct ctl_prov_model *m = pl->m;
    struct ctl_prov_set pub;
    int rc = 0;

    ctl_prov_set_init(&pub);
    for (size_t i = 0; rc == 0 && i < m->nnats; i++)
        for (size_t k = 0; rc == 0 && k < m->nats[i].nips; k++)
            rc = ctl_prov_set_add(&pub, m->nats[i].ips[k], m->nats[i].ips[k]);
    for (size_t i = 0; rc == 0 && i < m->nlbs; i++)
        rc = ctl_prov_set_add(&pub, m->lbs[i].frontend, m->lbs[i].frontend);
    for (size_t i = 0; rc == 0 && i < m->nfws; i++)
        rc = ctl_prov_set_add(&pub, m->fws[i].public_ip, m->fws[i].public_ip);
    for (size_t i = 0; rc == 0 && i < m->nvms; i++)
        rc = m->vms[i].pip ? ctl_prov_set_add(&pub, m->vms[i].pip, m->vms[i].pip) : 0;
    for (size_t i = 0; rc == 0 && i < m->nvnets; i++) {
        uint32_t d = m->vnets[i].default_outbound_ip;

        rc = d ? ctl_prov_set_add(&pub, d, d) : 0;
    }
    if (rc == 0)
        rc = ctl_np_routes(pl, pl->host, &pub, NULL, "via %s dev %s onlink src %s", via, dev, src);
    ctl_prov_set_fini(&pub);
    return rc;
}

static int
host_items(struct ctl_np_plan *pl, const char *dev)
{
    const struct ctl_prov_model *m = pl->m;
    unsigned metric = ctl_np_guard_metric(pl->p->prefix);
    char api[16], relay[16], router[16];
    int rc;

    ctl_np_ip(m->api_ip, api);
    ctl_np_ip(m->relay_ip, relay);
    ctl_np_ip(DOC1_NET + 1, router);
    if ((rc = ctl_np_item(pl, pl->host, "ip route replace unreachable 198.51.100.0/24 metric %u",
                          metric)) < 0 ||
        (rc = ctl_np_item(pl, pl->host, "ip route replace unreachable 203.0.113.0/24 metric %u",
                          metric)) < 0 ||
        (rc = ctl_np_item(pl, pl->host, "ip addr replace %s/32 dev %s", api, dev)) < 0 ||
        (rc = ctl_np_item(pl, pl->host, "ip addr replace %s/32 dev %s", relay, dev)) < 0 ||
        (rc = ctl_np_item(pl, pl->host, "ip link set dev %s up", dev)) < 0 ||
        (rc = ctl_np_item(pl, pl->host, "sysctl net/ipv6/conf/%s/disable_ipv6 1", dev)) < 0 ||
        (rc = ctl_np_item(pl, pl->host, "ip route replace %s/32 dev %s table %u", router, dev,
                          metric)) < 0 ||
        (rc = ctl_np_item(pl, pl->host, "ip route replace default via %s dev %s onlink table %u",
                          router, dev, metric)) < 0 ||
        (rc = ctl_np_item(pl, pl->host, "ip rule add pref %d from %s/32 lookup %u",
                          NP_HOST_RULE_PREF, api, metric)) < 0 ||
        (rc = ctl_np_item(pl, pl->host, "ip rule add pref %d from %s/32 lookup %u",
                          NP_HOST_RULE_PREF, relay, metric)) < 0)
        return rc;
    return host_public_routes(pl, dev, router, api);
}

static int
host_nft(struct ctl_np_plan *pl, const char *dev)
{
    char table[32], fwd[512];
    struct ctl_prov_nft_host h = {.table = table,
                                  .ifname = dev,
                                  .api_ip = pl->m->api_ip,
                                  .relay_ip = pl->m->relay_ip,
                                  .api_port = pl->m->api_port,
                                  .relay_port = pl->m->relay_port};
    struct scc_buf body;
    int rc;

    snprintf(table, sizeof(table), "%s_host", pl->p->prefix);
    scc_buf_init(&body, 1u << 20);
    rc = ctl_prov_nft_host(&body, &h);
    /* The same table again: nft merges it, adding the forward guard. */
    snprintf(fwd, sizeof(fwd),
             "table inet %s {\n\tchain forward {\n\t\ttype filter hook forward priority filter; "
             "policy accept;\n\t\tiifname \"%s\" counter drop\n\t\toifname \"%s\" counter "
             "drop\n\t}\n}\n",
             table, dev, dev);
    if (rc == 0)
        rc = scc_buf_put_str(&body, fwd);
    if (rc == 0)
        rc = ctl_prov_nft_replace(&pl->ns[pl->host].nft, "inet", table, scc_buf_str(&body));
    scc_buf_fini(&body);
    return rc;
}

/* ---- the internet ---- */

static int
inet_items(struct ctl_np_plan *pl)
{
    const struct ctl_prov_model *m = pl->m;
    char a[16];
    int i = pl->inet, rc;

    /* A bridge without an address of its own takes the lowest of its
     * ports' and changes it when that port goes (a legacy VM's public
     * link, say): every neighbour that cached the old one (the NAT
     * gateway's default router) then sends into the void until its ARP
     * entry is probed again, a minute or more.  A fixed one never moves. */
    if ((rc = ctl_np_item(pl, i, "ip link set dev lo up")) < 0 ||
        (rc = ctl_np_item(pl, i, "ip link set dev br0 address %s", NP_INET_MAC)) < 0 ||
        (rc = ctl_np_item(pl, i, "ip link set dev br0 up")) < 0 ||
        (rc = ctl_np_item(pl, i, "ip addr replace 198.51.100.1/24 dev br0")) < 0 ||
        (rc = ctl_np_item(pl, i, "ip addr replace 203.0.113.1/24 dev br0")) < 0 ||
        (rc = ctl_np_item(pl, i, "ip link set dev host up")) < 0 ||
        (rc = ctl_np_item(pl, i, "ip route replace %s/32 dev host", ctl_np_ip(m->api_ip, a))) < 0 ||
        (rc = ctl_np_item(pl, i, "ip route replace %s/32 dev host", ctl_np_ip(m->relay_ip, a))) <
                0 ||
        (rc = ctl_np_item(pl, i, "sysctl net/ipv4/ip_forward 1")) < 0 ||
        (rc = ctl_np_item(pl, i, "sysctl net/ipv4/conf/all/rp_filter 0")) < 0 ||
        (rc = ctl_np_no_ipv6(pl, i)) < 0)
        return rc;
    for (size_t k = 0; rc == 0 && k < m->hosts.n; k++) {
        for (uint64_t ip = m->hosts.v[k].lo; rc == 0 && ip <= m->hosts.v[k].hi; ip++)
            rc = ctl_np_item(pl, i, "ip addr replace %s/32 dev br0", ctl_np_ip((uint32_t)ip, a));
    }
    return rc;
}

int
ctl_np_build_topology(struct ctl_np_plan *pl)
{
    char dev[NP_IFNAME_MAX];
    int rc;

    snprintf(dev, sizeof(dev), "%s-i", pl->p->prefix);
    if ((pl->host = ctl_np_ns_add(pl, NULL, NULL, "provider")) < 0)
        return pl->host;
    if ((pl->inet = ctl_np_ns_add(pl, "inet", NULL, "provider")) < 0)
        return pl->inet;
    if ((rc = ctl_np_link(pl, pl->host, dev, pl->inet, "host")) < 0 ||
        (rc = ctl_np_link(pl, pl->inet, "br0", -1, NULL)) < 0)
        return rc;
    if ((rc = host_items(pl, dev)) < 0 || (rc = host_nft(pl, dev)) < 0)
        return rc;
    return inet_items(pl);
}
