/*
 * ctl_prov_netns.h - the netns provider's plan: the namespaces, links,
 * per-namespace configuration lines, nft tables and processes that the
 * model becomes.  Builders (topology, VNets, edges, VMs) fill a plan; the
 * engine (ctl_prov_netns.c) converges the host to it.
 *
 * A namespace's configuration is a list of lines, each one idempotent:
 * "ip <ip-batch command>" or "sysctl <path under /proc/sys> <value>".
 * The engine remembers which lines it applied (state_dir/ns/NAME), runs
 * only new ones, and undoes removed ones ("ip addr replace ..." becomes
 * "ip addr del ..."), so a re-apply changes nothing and a change touches
 * only what differs.
 *
 * Names (all derived, so a restart finds everything again):
 *   namespaces  <prefix>-inet, <prefix>-vnet-<h>, -nat-<h>, -lb-<h>,
 *               -fw-<h>, -vm-<h>  (h: 8 hex digits of the resource id)
 *   host        <prefix>-i (veth to the internet), nft table <prefix>_host
 *   internet    br0 (the public segment), host, and one port per public
 *               link: v<h> (a VNet), n<h>, l<h>, f<h>
 *   VNet router m<h> (a VM's port), n<h>/l<h>/f<h> (to an edge), pub0
 *   edge        v<h> (to a VNet), pub0 (to the internet)
 *   VM          eth0
 */
#ifndef SCC_CONTROL_CTL_PROV_NETNS_H
#define SCC_CONTROL_CTL_PROV_NETNS_H

#include "ctl_prov_int.h"

#define NP_IFNAME_MAX 16
#define NP_ARGV_MAX   24

/* Addresses of the plumbing (never visible outside our namespaces). */
#define NP_INNER_IP     "169.254.0.1" /* VNet end of a VNet-edge link */
#define NP_OUTER_IP     "169.254.0.2" /* edge end */
#define NP_PUBLINK_IP   "169.254.255.1"
#define NP_FW_PROXY     15001 /* application-rule proxy, inside a firewall */
#define NP_TABLE_SUBNET 1000  /* + subnet index: its UDRs */
#define NP_TABLE_NAT    2000  /* + NAT gateway index */
#define NP_TABLE_LB     3000  /* + load balancer index */
#define NP_TABLE_PUB    4000  /* instance public IPs, default outbound */

/* The internet bridge's own MAC address (topo.c says why it is fixed). */
#define NP_INET_MAC "02:53:43:43:00:01"

/* The host's rules: replies to the simulated internet go by source (topo.c). */
#define NP_HOST_RULE_PREF 2000

struct ctl_np_ns {
    char name[CTL_PROV_NS_MAX]; /* "" for the host */
    const char *owner;          /* status id its failures go to */
    struct scc_buf items;
    struct scc_buf nft; /* a ctl_prov_nft_replace text, or empty */
    /* filled by the engine */
    bool exists, created;
    struct scc_buf present; /* its links now, "name\n" */
    struct scc_buf remade;  /* links (re)created this run, "name\n" */
};

struct ctl_np_link {
    int a, b; /* namespaces; b < 0: a bridge in a */
    char an[NP_IFNAME_MAX], bn[NP_IFNAME_MAX];
};

struct ctl_np_proc {
    int ns;
    const char *owner;
    char pidfile[CTL_PROV_PATH_MAX];
    char log[CTL_PROV_PATH_MAX];
    struct scc_buf store; /* argv strings */
    const char *argv[NP_ARGV_MAX];
    struct scc_buf file; /* written to file_path (0600) before start */
    char file_path[CTL_PROV_PATH_MAX];
};

struct ctl_np_plan {
    struct ctl_prov *p;
    struct ctl_prov_model *m;
    struct ctl_np_ns *ns;
    size_t nns, capns;
    struct ctl_np_link *links;
    size_t nlinks, caplinks;
    struct ctl_np_proc *procs;
    size_t nprocs, capprocs;
    int host, inet;
};

/* ctl_np_ns_add - a namespace "<prefix>-<kind>[-<h>]"; returns its index. */
int ctl_np_ns_add(struct ctl_np_plan *pl, const char *kind, const char *h, const char *owner);
int ctl_np_ns_find(const struct ctl_np_plan *pl, const char *kind, const char *h);

/* ctl_np_item - append one configuration line to namespace ns. */
int ctl_np_item(struct ctl_np_plan *pl, int ns, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* ctl_np_link - a veth pair a:an <-> b:bn, or a bridge an in a when b < 0. */
int ctl_np_link(struct ctl_np_plan *pl, int a, const char *an, int b, const char *bn);

/* ctl_np_proc_add - a process to keep running in namespace ns. */
struct ctl_np_proc *ctl_np_proc_add(struct ctl_np_plan *pl, int ns, const char *owner);

/* ctl_np_proc_argv - copy argv (NULL-terminated) into pr. */
int ctl_np_proc_argv(struct ctl_np_proc *pr, const char *const *argv);

/* ctl_np_no_ipv6 - turn IPv6 off in namespace ns (routers; VMs keep ::1). */
int ctl_np_no_ipv6(struct ctl_np_plan *pl, int ns);

/* ctl_np_routes - one "ip route replace [type] <cidr> <rest>" per CIDR
 * block of s (type: NULL, "throw", "blackhole", ...). */
int ctl_np_routes(struct ctl_np_plan *pl, int ns, const struct ctl_prov_set *s, const char *type,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ctl_np_ip - the dotted quad of ip, written into out[16] and returned. */
const char *ctl_np_ip(uint32_t ip, char out[16]);

/* ctl_np_pub_len - the prefix length of the simulated public segment a
 * public address lives in (both documentation ranges are /24s). */
unsigned ctl_np_pub_len(uint32_t ip);
uint32_t ctl_np_pub_router(uint32_t ip);

/* Builders. */
int ctl_np_build_topology(struct ctl_np_plan *pl);
int ctl_np_build_vnet(struct ctl_np_plan *pl, struct ctl_prov_vnet *v);
int ctl_np_build_nat(struct ctl_np_plan *pl, struct ctl_prov_nat *n, size_t index);
int ctl_np_build_lb(struct ctl_np_plan *pl, struct ctl_prov_lb *lb, size_t index);
int ctl_np_build_fw(struct ctl_np_plan *pl, struct ctl_prov_fw *fw);
int ctl_np_build_vm(struct ctl_np_plan *pl, struct ctl_prov_vm *vm);

/* ctl_np_serves_* - whether an edge (NAT gateway, load balancer, firewall)
 * has a link to VNet v. */
bool ctl_np_serves_nat(const struct ctl_prov_model *m, const struct ctl_prov_nat *n,
                       const struct ctl_prov_vnet *v);
bool ctl_np_serves_lb(const struct ctl_prov_model *m, const struct ctl_prov_lb *lb,
                      const struct ctl_prov_vnet *v);
bool ctl_np_serves_fw(const struct ctl_prov_model *m, const struct ctl_prov_fw *fw,
                      const struct ctl_prov_vnet *v);

/* ctl_np_vm_ok / ctl_np_subnet_ok - usable: neither it nor what it needs failed. */
bool ctl_np_subnet_ok(const struct ctl_prov_subnet *s);
bool ctl_np_vm_ok(const struct ctl_prov_vm *vm);

/* ctl_np_system_egress - a VM's outbound method when no UDR intervenes. */
enum ctl_prov_egress ctl_np_system_egress(const struct ctl_prov_vm *vm);

/* The engine's steps (ctl_prov_netns.c), in order. */
int ctl_np_ns_step(struct ctl_np_plan *pl, const char *boot, char *err, size_t cap);
int ctl_np_links_step(struct ctl_np_plan *pl);
int ctl_np_config_ns(struct ctl_np_plan *pl, int i, const char *boot);

/* ctl_np_list_ours - our namespaces now, as "\nname\n..." . */
int ctl_np_list_ours(const struct ctl_prov *p, struct scc_buf *out);

/* ctl_np_boot_id - this boot's id (records from another boot are stale). */
void ctl_np_boot_id(char out[40]);

/* ctl_np_prune_state - stop pid files and remove VM/firewall directories
 * that plan pl (NULL: nothing) does not have; removed (optional) lists
 * them.  ctl_prov_netns_run.c */
int ctl_np_prune_state(const struct ctl_prov *p, const struct ctl_np_plan *pl, json_t *removed);

/* ctl_np_guard_metric - the metric of this prefix's unreachable routes. */
unsigned ctl_np_guard_metric(const char *prefix);

/* The other operations (ctl_prov_netns_gc.c). */
int ctl_np_netns_gc(struct ctl_prov *p, json_t *removed, char *err, size_t cap);
int ctl_np_netns_teardown(struct ctl_prov *p, char *err, size_t cap);
int ctl_np_netns_status(struct ctl_prov *p, json_t *status, char *err, size_t cap);

#endif /* SCC_CONTROL_CTL_PROV_NETNS_H */
