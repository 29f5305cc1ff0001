/*
 * ctl_wire.h - the provider (ctl_prov.h) wired into sccd.
 *
 * With --provider auto|netns|process, every change to a network or
 * compute resource makes the control plane build the whole desired-state
 * document from the store and apply it: builds run on the store's worker,
 * applies on a thread of their own (they run ip(8) and nft(8) and start
 * agents, for seconds with a hundred VMs), and the statuses come back to
 * the store as provisioningState.  Rounds are serialised and coalesced: a
 * change during a round asks for exactly one more.  Start-up applies the
 * document once before the relay binds its public address (a restart
 * adopts what runs), and a round every minute restarts what died.
 *
 *   ctl_wire.c        options, lifecycle, the rounds
 *   ctl_wire_admin.c  admin routes (provider status, gc) and the relay's
 *                     legacy-node registrations
 *   ctl_compute*.c    VMs and NICs: the API, the VMs' part of the
 *                     document, statuses back to the resources
 *
 * Threads: ctl_wire_op_created runs on the store's worker; everything
 * else on the loop (start-up and shutdown included).
 */
#ifndef SCC_CONTROL_CTL_WIRE_H
#define SCC_CONTROL_CTL_WIRE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct ctl;
struct ctl_cfg;
struct scc_h2_stream;

#define CTL_WIRE_PUBLIC_PORT 443  /* the API's and the relay's public port */
#define CTL_WIRE_LEGACY_PORT 5557 /* legacy nodes' management port */

/* ctl_wire_cfg_check - the provider options are well formed (a provider
 * kind, a prefix, public addresses in 198.51.100.2-254 that differ, a
 * public IP range inside 203.0.113.2-254).  SCC_EINVAL with err set. */
int ctl_wire_cfg_check(const struct ctl_cfg *cfg, char *err, size_t cap);

/*
 * ctl_wire_cfg_resolve - settle --provider auto (netns as root, process
 * otherwise) and, for netns, add the relay's public address to
 * --relay-listen and both public addresses to --san, so that the server
 * certificate covers them.  Before ctl_pki_init.  SCC_EINVAL, SCC_ENOMEM.
 */
int ctl_wire_cfg_resolve(struct ctl_cfg *cfg, char *err, size_t cap);

/*
 * ctl_wire_start - with a provider configured: create it (state in
 * DIR/provider) and its thread, and for netns apply the document now, so
 * the public addresses exist before the relay and the API bind them.
 * After the store is open, before the relay starts.  Logs why it failed.
 */
int ctl_wire_start(struct ctl *c);

/* ctl_wire_run - the relay and the API are up (relay_bound: what the
 * relay's listeners got); start the first round. */
void ctl_wire_run(struct ctl *c, const char *relay_bound);

/* ctl_wire_stop - let a round in flight finish, tear everything down if
 * --provider-cleanup, stop the provider's thread; nothing new starts.
 * Before the API stops (a round writes through it). */
void ctl_wire_stop(struct ctl *c);

/* ctl_wire_stopping - true once ctl_wire_stop has begun. */
bool ctl_wire_stopping(const struct ctl *c);

/* ctl_wire_free - after the API stopped (its jobs use the wiring's
 * state) and before the store's worker does. */
void ctl_wire_free(struct ctl *c);

/* ctl_wire_concerns - whether a change to resource id_lc (lower-case)
 * matters to the provider: network and compute resources. */
bool ctl_wire_concerns(const char *id_lc);

/* ctl_wire_changed - such a change committed: start a round, or ask the
 * one in flight for another. */
void ctl_wire_changed(struct ctl *c);

/* ctl_wire_op_created - (store worker) an operation that completes when
 * the next document built is applied (node create and delete). */
void ctl_wire_op_created(struct ctl *c, const char *op_id);

/*
 * ctl_wire_admin_request - the admin-socket routes of the provider:
 *   GET  /v1/provider/status   the last apply's statuses, with live facts
 *   POST /v1/provider/gc       remove orphaned namespaces, links, rules
 * Returns false when the path is not one of them.
 */
bool ctl_wire_admin_request(struct ctl *c, struct scc_h2_stream *s);

/* ctl_wire_endpoints - the provider's facts for endpoints.json. */
void ctl_wire_endpoints(const struct ctl *c, json_t *o);

#endif /* SCC_CONTROL_CTL_WIRE_H */
