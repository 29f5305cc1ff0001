/*
 * ctl_wire_int.h - shared by ctl_wire*.c and ctl_compute*.c.
 *
 * Each member belongs to one thread: the loop (round bookkeeping), the
 * store's worker (tokens, awaiting) or the provider's thread (prov,
 * legacy).  Data crosses threads only inside a struct wire_round, handed
 * from one job to the next through the workers' queues.
 */
#ifndef SCC_CONTROL_CTL_WIRE_INT_H
#define SCC_CONTROL_CTL_WIRE_INT_H

#include "ctl.h"
#include "ctl_wire.h"

#include "common/log.h"

#include <jansson.h>
#include <stdbool.h>

struct ctl_prov;
struct event;
struct scc_worker;

struct ctl_wire {
    struct ctl *c;
    struct scc_log_ctx log;
    char kind[16];         /* "netns" or "process" */
    char state_dir[4200];  /* DIR/provider */
    char relay_local[64];  /* the relay's first (loopback) listener */
    char relay_public[64]; /* "198.51.100.11:443": what agents in VNets dial */
    /* loop */
    bool busy, dirty, stopping, running;
    struct event *tick; /* the periodic round */
    /* provider thread */
    struct scc_worker *pw;
    struct ctl_prov *prov;
    json_t *legacy;  /* node path -> address registered with the relay */
    json_t *refused; /* id -> status of what the last apply had to leave out */
    /* store worker */
    json_t *tokens;   /* VM id (lower-case) -> {"token", "expires_ms"} */
    json_t *awaiting; /* op ids created since the last build -> true */
};

/* One round: build (store worker), apply (provider thread), feed
 * (store worker, an ARM job so the read cache follows). */
struct wire_round {
    struct ctl_wire *w;
    json_t *doc;    /* what was applied */
    json_t *status; /* what the provider said, or NULL */
    int rc;
    char err[512];
    bool legacy; /* register legacy VMs with the relay (it is up) */
};

/* ---- ctl_wire_admin.c ---- */

/* wire_legacy_sync - (provider thread) register every legacy VM of doc
 * that its status says runs with the relay, and withdraw the ones that
 * went; failures are logged and retried next round. */
void wire_legacy_sync(struct ctl_wire *w, const json_t *doc, const json_t *status);

/* ---- ctl_compute_doc.c (store worker) ---- */

/* ctl_compute_desired - the whole desired document: the network part
 * (ctl_net_desired), every VM with its join token (minted while its node
 * has no certificate, kept in w->tokens), load balancer backends, the
 * stand-in hosts and, for the process provider, the relay's loopback
 * address.  Returns 0 and an owned *out, or SCC_ENOMEM / SCC_ESTORE. */
int ctl_compute_desired(struct ctl_wire *w, json_t **out);

#endif /* SCC_CONTROL_CTL_WIRE_INT_H */
