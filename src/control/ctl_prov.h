/*
 * ctl_prov.h - the provider: what makes the control plane's network and
 * compute resources real on this host.
 *
 * The interface is declarative.  The ARM layer computes the *whole*
 * desired topology from the store (every VNet, subnet, NSG, NAT gateway,
 * route table, firewall, load balancer, public IP and VM, with addresses
 * already allocated) as one JSON document, and ctl_prov_apply converges
 * the host to it: creating what is missing, changing what differs,
 * removing what is no longer wanted.  Applying the same document twice
 * changes nothing; after a restart, applying it again finds what exists.
 * The schema is docs/internals/provider.md; docs/provider.md is the
 * operator's guide (what each resource becomes, how to inspect it).
 *
 * Providers:
 *   netns    (root) namespaces, veths and nftables: isolation is real and
 *            can be probed with ordinary tools (ip, nft, nmap);
 *   process  (anyone) VMs are plain local processes on loopback; nothing
 *            is isolated, and every status says so ("isolated": false).
 *
 * Threads: every function blocks (it runs ip(8) and nft(8) and forks)
 * and must be called from sccd's worker thread, never the loop.  One
 * struct ctl_prov must not be used from two threads at once.  Nothing
 * here exits or prints; errors come back as codes and messages.
 */
#ifndef SCC_CONTROL_CTL_PROV_H
#define SCC_CONTROL_CTL_PROV_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct ctl_prov;

struct ctl_prov_cfg {
    const char *kind;      /* "netns", "process", or "auto" (netns as root) */
    const char *state_dir; /* DIR/provider: VM state dirs, logs, pid files */
    const char *agent_bin; /* path of scc-agent to boot inside VMs */
    const char *ca_file;   /* given to agents (--ca) */
    const char *prefix;    /* names of everything created start with this ("scc");
                            * [a-z][a-z0-9]*, at most 11 characters */
    /* Optional (zero values are the defaults): */
    const char *helper_bin; /* scc-prov, whose "fwproxy" mode runs in firewall
                             * namespaces; NULL: scc-prov next to this executable */
    bool allow_test_knobs;  /* honour the document's "test" section (shorter
                             * NAT idle timeouts); never set by sccd */
};

/* ctl_prov_new - choose and initialise a provider.  err explains a failure
 * (e.g. "netns needs root", a malformed prefix).  Does not touch the
 * network yet.  Returns 0, SCC_EINVAL, SCC_EPERM or SCC_ENOMEM; *out is
 * owned by the caller. */
int ctl_prov_new(const struct ctl_prov_cfg *cfg, struct ctl_prov **out, char *err, size_t cap);
void ctl_prov_free(struct ctl_prov *p);

/* ctl_prov_prefix_is_valid - [a-z][a-z0-9]*, at most 11 characters. */
bool ctl_prov_prefix_is_valid(const char *s);

/* ctl_prov_kind - "netns" or "process". */
const char *ctl_prov_kind(const struct ctl_prov *p);

/* ctl_prov_isolated - false for the process provider. */
bool ctl_prov_isolated(const struct ctl_prov *p);

/*
 * ctl_prov_apply - converge to desired (see provider.md).  On return,
 * *status (owned, may be set even on error) maps resource ids to
 * {"state": "Succeeded"|"Failed", "message": "...", "isolated": bool,
 * plus facts such as "pid" of a VM's agent, "egress" and "egress_ip"},
 * and the reserved key "provider" (not an ARM id) describes the provider
 * itself.  Returns 0 when everything converged, SCC_EPROTO when the
 * document is malformed (nothing changed; err says where), SCC_EUNAVAIL
 * when some resources failed (their status says why; the rest converged),
 * or the error that stopped it (SCC_ENOMEM, ip(8) missing, ...).  A VM
 * without egress is not a failure: its status carries "egress": "none"
 * and a message naming the subnet and what is missing.
 */
int ctl_prov_apply(struct ctl_prov *p, const json_t *desired, json_t **status, char *err,
                   size_t cap);

/*
 * ctl_prov_status - the status of the last apply (also after a restart),
 * refreshed with live facts: whether each VM's agent still runs, and the
 * counters of firewalls (denied), load balancers (SNAT exhaustion per VM)
 * and NAT gateways (expired flows).  *status is owned.  SCC_ENOTFOUND
 * before the first apply.
 */
int ctl_prov_status(struct ctl_prov *p, json_t **status, char *err, size_t cap);

/*
 * ctl_prov_gc - remove everything carrying our prefix that the last
 * applied document did not want (namespaces and the processes inside them,
 * host links, nft tables, VM processes, state directories),
 * including leftovers of a crashed run.  *removed (owned) lists what went,
 * as strings "netns NAME", "link NAME", "pidfile PATH" (its process was
 * stopped), "dir PATH", "nft table inet NAME".  Processes inside wanted
 * namespaces are left alone (a VM's jobs are its own business).
 */
int ctl_prov_gc(struct ctl_prov *p, json_t **removed, char *err, size_t cap);

/* ctl_prov_teardown - remove everything the provider ever created with
 * its prefix: processes, namespaces, host links, routes, nft tables and
 * the state under state_dir (the directory itself stays). */
int ctl_prov_teardown(struct ctl_prov *p, char *err, size_t cap);

#endif /* SCC_CONTROL_CTL_PROV_H */
