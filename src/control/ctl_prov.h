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
 * The schema is docs/internals/provider.md.
 *
 * Providers:
 *   netns    (root) namespaces, bridges, veths and nftables: isolation is
 *            real and can be probed with ordinary tools;
 *   process  (anyone) VMs are plain local processes on loopback; nothing
 *            is isolated, and every status says so.
 *
 * Threads: every function blocks (it runs ip(8) and nft(8) or talks
 * netlink) and must be called from sccd's worker thread, never the loop.
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
    const char *prefix;    /* names of everything created start with this ("scc") */
};

/* ctl_prov_new - choose and initialise a provider.  err explains a failure
 * (e.g. "netns needs root").  Does not touch the network yet. */
int ctl_prov_new(const struct ctl_prov_cfg *cfg, struct ctl_prov **out, char *err, size_t cap);
void ctl_prov_free(struct ctl_prov *p);

/* ctl_prov_kind - "netns" or "process". */
const char *ctl_prov_kind(const struct ctl_prov *p);

/* ctl_prov_isolated - false for the process provider. */
bool ctl_prov_isolated(const struct ctl_prov *p);

/*
 * ctl_prov_apply - converge to desired (see provider.md).  On return,
 * *status (owned, may be set even on error) maps resource ids to
 * {"state": "Succeeded"|"Failed", "message": "...", plus facts such as
 * "pid" of a VM's agent or "egress": "none"}.  Returns 0 when everything
 * converged, SCC_EPROTO when the document is malformed (nothing changed),
 * or another error when some resources failed (their status says why;
 * the rest converged).
 */
int ctl_prov_apply(struct ctl_prov *p, const json_t *desired, json_t **status, char *err,
        size_t cap);

/*
 * ctl_prov_gc - remove everything carrying our prefix that the last
 * applied document did not want (namespaces, links, nft tables, VM
 * processes), including leftovers of a crashed run.  *removed (owned)
 * lists what went.
 */
int ctl_prov_gc(struct ctl_prov *p, json_t **removed, char *err, size_t cap);

/* ctl_prov_teardown - remove everything the provider ever created. */
int ctl_prov_teardown(struct ctl_prov *p, char *err, size_t cap);

#endif /* SCC_CONTROL_CTL_PROV_H */
