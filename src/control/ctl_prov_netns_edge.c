/*
 * ctl_prov_netns_edge.c - the namespaces between VNets and the internet:
 * NAT gateways, load balancers (outbound rules) and firewalls.
 *
 * Each is a namespace with one link per VNet it serves (v<h>, the VNet's
 * end is n<h>/l<h>/f<h>) and one public link (pub0) on the internet's
 * segment holding its public address.  What differs is the nft table
 * (ctl_prov_nft_tables.c), and for a firewall with application rules, the
 * proxy process that reads TLS SNI and HTTP Host (ctl_prov_fwproxy.c).
 */
#include "ctl_prov_netns.h"

#include "common/err.h"
#include "common/json.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The namespace, its forwarding, and its public link. */
static int
edge_base(struct ctl_np_plan *pl, const char *kind, const char *h, const char *owner,
          const uint32_t *ips, size_t nips)
{
    char port[NP_IFNAME_MAX], a[16];
    int ns = ctl_np_ns_add(pl, kind, h, owner), rc;

    if (ns < 0)
        return ns;
    snprintf(port, sizeof(port), "%c%s", kind[0], h);
    if ((rc = ctl_np_link(pl, ns, "pub0", pl->inet, port)) < 0 ||
        (rc = ctl_np_item(pl, pl->inet, "ip link set dev %s master br0", port)) < 0 ||
        (rc = ctl_np_item(pl, pl->inet, "ip link set dev %s up", port)) < 0 ||
        (rc = ctl_np_item(pl, ns, "ip link set dev lo up")) < 0 ||
        (rc = ctl_np_item(pl, ns, "sysctl net/ipv4/ip_forward 1")) < 0 ||
        (rc = ctl_np_item(pl, ns, "sysctl net/ipv4/conf/all/rp_filter 0")) < 0 ||
        (rc = ctl_np_item(pl, ns, "sysctl net/ipv4/conf/default/rp_filter 0")) < 0 ||
        (rc = ctl_np_no_ipv6(pl, ns)) < 0)
        return rc;
    for (size_t i = 0; rc == 0 && i < nips; i++)
        rc = ctl_np_item(pl, ns, "ip addr replace %s/%u dev pub0", ctl_np_ip(ips[i], a),
                         ctl_np_pub_len(ips[i]));
    if (rc == 0)
        rc = ctl_np_item(pl, ns, "ip link set dev pub0 up");
    if (rc == 0)
        rc = ctl_np_item(pl, ns, "ip route replace default via %s dev pub0",
                         ctl_np_ip(ctl_np_pub_router(ips[0]), a));
    return rc < 0 ? rc : ns;
}

/* One VNet's link: the VNet's address space routed back through it.  An
 * edge cannot serve two VNets whose spaces overlap: return traffic would
 * not know which one to go to. */
static int
edge_vnet(struct ctl_np_plan *pl, int ns, char kind, const char *h, const struct ctl_prov_vnet *v,
          struct ctl_prov_set *seen, const char *owner)
{
    char mine[NP_IFNAME_MAX], theirs[NP_IFNAME_MAX];
    int vns = ctl_np_ns_find(pl, "vnet", v->h), rc;

    for (size_t i = 0; i < v->space.n; i++) {
        for (size_t k = 0; k < seen->n; k++) {
            if (v->space.v[i].lo <= seen->v[k].hi && seen->v[k].lo <= v->space.v[i].hi) {
                ctl_prov_status_fail(pl->m->status, owner,
                                     "serves VNets with overlapping address spaces ('%s')", v->id);
                return 0;
            }
        }
    }
    if (vns < 0 || (rc = ctl_prov_set_add_set(seen, &v->space)) < 0)
        return vns < 0 ? 0 : rc;
    snprintf(mine, sizeof(mine), "v%s", v->h);
    snprintf(theirs, sizeof(theirs), "%c%s", kind, h);
    if ((rc = ctl_np_link(pl, vns, theirs, ns, mine)) < 0 ||
        (rc = ctl_np_item(pl, ns, "ip addr replace " NP_OUTER_IP "/32 dev %s", mine)) < 0 ||
        (rc = ctl_np_item(pl, ns, "ip link set dev %s up", mine)) < 0)
        return rc;
    return ctl_np_routes(pl, ns, &v->space, NULL, "via " NP_INNER_IP " dev %s onlink", mine);
}

/* Conntrack's established timeout is per namespace, so each gateway gets
 * its own idle timeout; tcp_loose=0 makes a segment of an expired flow
 * "invalid" (answered with a reset) instead of silently re-created. */
static int
edge_idle(struct ctl_np_plan *pl, int ns, unsigned idle_s)
{
    unsigned t = pl->m->test_idle_s ? pl->m->test_idle_s : idle_s;
    int rc = ctl_np_item(pl, ns, "sysctl net/netfilter/nf_conntrack_tcp_timeout_established %u", t);

    return rc ? rc : ctl_np_item(pl, ns, "sysctl net/netfilter/nf_conntrack_tcp_loose 0");
}

static int
put_nft(struct ctl_np_plan *pl, int ns, const struct scc_buf *body)
{
    return ctl_prov_nft_replace(&pl->ns[ns].nft, "inet", pl->p->prefix, scc_buf_str(body));
}

static void
note_ns(struct ctl_np_plan *pl, const char *id, int ns)
{
    json_t *o = ctl_prov_status_ok(pl->m->status, id, true);

    if (o)
        json_object_set_new(o, "namespace", json_string(pl->ns[ns].name));
}

int
ctl_np_build_nat(struct ctl_np_plan *pl, struct ctl_prov_nat *n, size_t index)
{
    struct ctl_prov_nft_nat t = {
            .table = pl->p->prefix, .pub_if = "pub0", .ips = n->ips, .nips = n->nips};
    struct ctl_prov_set seen;
    struct scc_buf body;
    int ns = edge_base(pl, "nat", n->h, n->id, n->ips, n->nips), rc = 0;

    (void)index;
    if (ns < 0)
        return ns;
    note_ns(pl, n->id, ns);
    ctl_prov_set_init(&seen);
    scc_buf_init(&body, 1u << 20);
    for (size_t i = 0; rc == 0 && i < pl->m->nvnets; i++) {
        if (ctl_np_serves_nat(pl->m, n, &pl->m->vnets[i]))
            rc = edge_vnet(pl, ns, 'n', n->h, &pl->m->vnets[i], &seen, n->id);
    }
    if (rc == 0)
        rc = edge_idle(pl, ns, n->idle_s);
    if (rc == 0)
        rc = ctl_prov_nft_nat(&body, &t);
    if (rc == 0)
        rc = put_nft(pl, ns, &body);
    scc_buf_fini(&body);
    ctl_prov_set_fini(&seen);
    return rc;
}

/* The backends of lb, each with its port range and counter name. */
static int
lb_backends(struct ctl_np_plan *pl, const struct ctl_prov_lb *lb, struct ctl_prov_nft_lbvm *vms,
            char (*names)[32], size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < pl->m->nvms; i++) {
        const struct ctl_prov_vm *vm = &pl->m->vms[i];

        if (vm->lb != lb || !ctl_np_vm_ok(vm))
            continue;
        snprintf(names[*n], 32, "exhausted_%s", vm->h);
        vms[*n] = (struct ctl_prov_nft_lbvm){vm->ip, vm->lb_lo, vm->lb_hi, names[*n]};
        (*n)++;
    }
    return 0;
}

int
ctl_np_build_lb(struct ctl_np_plan *pl, struct ctl_prov_lb *lb, size_t index)
{
    struct ctl_prov_nft_lbvm *vms = scc_calloc(pl->m->nvms + 1, sizeof(*vms));
    char(*names)[32] = scc_calloc(pl->m->nvms + 1, sizeof(*names));
    struct ctl_prov_nft_lb t = {
            .table = pl->p->prefix, .pub_if = "pub0", .frontend = lb->frontend, .vms = vms};
    struct ctl_prov_set seen;
    struct scc_buf body;
    int ns = edge_base(pl, "lb", lb->h, lb->id, &lb->frontend, 1),
        rc = vms && names ? 0 : SCC_ENOMEM;

    (void)index;
    ctl_prov_set_init(&seen);
    scc_buf_init(&body, 4u << 20);
    if (ns < 0)
        rc = ns;
    else
        note_ns(pl, lb->id, ns);
    for (size_t i = 0; rc == 0 && i < pl->m->nvnets; i++) {
        if (ctl_np_serves_lb(pl->m, lb, &pl->m->vnets[i]))
            rc = edge_vnet(pl, ns, 'l', lb->h, &pl->m->vnets[i], &seen, lb->id);
    }
    if (rc == 0 && (rc = edge_idle(pl, ns, lb->idle_s ? lb->idle_s : 240)) == 0)
        rc = lb_backends(pl, lb, vms, names, &t.nvms);
    if (rc == 0 && (rc = ctl_prov_nft_lb(&body, &t)) == 0)
        rc = put_nft(pl, ns, &body);
    scc_buf_fini(&body);
    ctl_prov_set_fini(&seen);
    scc_free(vms);
    scc_free(names);
    return rc;
}

/* ---- firewalls ---- */

/* The proxy's command line.  The rules' hash is on it so that a change
 * of rules changes the fingerprint, and the proxy is restarted. */
static int
fw_proxy_argv(struct ctl_np_plan *pl, struct ctl_np_proc *pr, const char *dir, const char *hash)
{
    char stats[CTL_PROV_PATH_MAX], listen[32];
    const char *argv[] = {pl->p->helper_bin, "fwproxy", "--rules", pr->file_path,
                          "--listen",        listen,    "--stats", stats,
                          "--generation",    hash,      NULL};
    int rc = ctl_prov_path(stats, sizeof(stats), "%s/stats.json", dir);

    snprintf(listen, sizeof(listen), "0.0.0.0:%d", NP_FW_PROXY);
    return rc ? rc : ctl_np_proc_argv(pr, argv);
}

/* The proxy's rules file: the application collections and the tags. */
static int
fw_proxy(struct ctl_np_plan *pl, const struct ctl_prov_fw *fw, int ns, const json_t *app)
{
    char dir[CTL_PROV_PATH_MAX], hash[CTL_PROV_HASH_LEN + 1];
    json_t *doc = json_pack("{s:O, s:o}", "collections", app, "service_tags",
                            pl->m->service_tags ? json_incref((json_t *)pl->m->service_tags)
                                                : json_object());
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    struct ctl_np_proc *pr = text ? ctl_np_proc_add(pl, ns, fw->id) : NULL;
    int rc = pr ? 0 : SCC_ENOMEM;

    if (rc == 0) {
        ctl_prov_hash(text, hash);
        rc = ctl_prov_path(dir, sizeof(dir), "%s/fw/%s", pl->p->state_dir, fw->h);
    }
    if (rc == 0)
        rc = scc_buf_put_str(&pr->file, text);
    if (rc == 0 &&
        (rc = ctl_prov_path(pr->file_path, sizeof(pr->file_path), "%s/rules.json", dir)) == 0 &&
        (rc = ctl_prov_path(pr->pidfile, sizeof(pr->pidfile), "%s/proc/fwproxy-%s.pid",
                            pl->p->state_dir, fw->h)) == 0 &&
        (rc = ctl_prov_path(pr->log, sizeof(pr->log), "%s/fwproxy.log", dir)) == 0)
        rc = fw_proxy_argv(pl, pr, dir, hash);
    free(text);
    json_decref(doc);
    return rc;
}

static int
fw_nft(struct ctl_np_plan *pl, struct ctl_prov_fw *fw, int ns)
{
    struct ctl_prov_tags tags = {.service_tags = pl->m->service_tags, .vnet = NULL};
    struct ctl_prov_nft_fw t = {.table = pl->p->prefix,
                                .pub_if = "pub0",
                                .public_ip = fw->public_ip,
                                .proxy_port = NP_FW_PROXY,
                                .net_collections = fw->net,
                                .app_collections = fw->app,
                                .tags = &tags};
    char err[512] = "";
    struct scc_buf body;
    int rc;

    scc_buf_init(&body, 4u << 20);
    rc = ctl_prov_nft_fw(&body, &t, err, sizeof(err));
    if (rc == SCC_EINVAL) { /* fail closed: the firewall forwards nothing */
        ctl_prov_status_fail(pl->m->status, fw->id, "%s; the firewall drops everything", err);
        fw->failed = true;
        scc_buf_reset(&body);
        t.net_collections = t.app_collections = NULL;
        rc = ctl_prov_nft_fw(&body, &t, err, sizeof(err));
    }
    if (rc == 0)
        rc = put_nft(pl, ns, &body);
    scc_buf_fini(&body);
    return rc;
}

int
ctl_np_build_fw(struct ctl_np_plan *pl, struct ctl_prov_fw *fw)
{
    struct ctl_prov_set seen;
    char a[16], own[NP_IFNAME_MAX];
    int ns = edge_base(pl, "fw", fw->h, fw->id, &fw->public_ip, 1), rc = 0;

    if (ns < 0)
        return ns;
    note_ns(pl, fw->id, ns);
    ctl_prov_set_init(&seen);
    for (size_t i = 0; rc == 0 && i < pl->m->nvnets; i++) {
        if (ctl_np_serves_fw(pl->m, fw, &pl->m->vnets[i]))
            rc = edge_vnet(pl, ns, 'f', fw->h, &pl->m->vnets[i], &seen, fw->id);
    }
    ctl_prov_set_fini(&seen);
    snprintf(own, sizeof(own), "v%s", fw->subnet->vnet->h);
    if (rc == 0) /* its private IP, on the link to its own VNet */
        rc = ctl_np_item(pl, ns, "ip addr replace %s/32 dev %s", ctl_np_ip(fw->private_ip, a), own);
    if (rc == 0)
        rc = fw_nft(pl, fw, ns);
    if (rc == 0 && !fw->failed && fw->app && json_array_size(fw->app) > 0)
        rc = fw_proxy(pl, fw, ns, fw->app);
    return rc;
}
