/*
 * ctl_wire.c - the provider in sccd: options, start-up, the rounds that
 * keep the host equal to the store, shutdown.
 *
 * A round is build -> apply -> feed.  Only one runs at a time; a change
 * that arrives meanwhile sets `dirty`, and the round that ends starts one
 * more, so a burst of writes costs two rounds, not one per write.  The
 * apply runs on the provider's own thread rather than the store's worker:
 * it can take seconds, and enrolments of the agents it just started must
 * not queue behind it.
 *
 * Why the default is --provider none: the provider changes the host (it
 * adds routes, namespaces and nft tables and binds the public addresses
 * on port 443), so an operator opts in; and two sccd on one host, as the
 * test suite runs them, must not fight over one prefix and one address.
 */
#include "ctl_wire_int.h"

#include "ctl_compute.h"
#include "ctl_net.h"
#include "ctl_prov.h"

#include "common/err.h"
#include "common/mem.h"
#include "common/worker.h"

#include <errno.h>
#include <event2/event.h>
#include <libgen.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define TICK_S     60          /* a round even without changes: restarts agents that died */
#define PROV_QUEUE 64          /* provider jobs waiting: rounds, status, gc */
#define DOC1       0xc6336400u /* 198.51.100.0/24 */
#define DOC3       0xcb007100u /* 203.0.113.0/24 */

/* ---- options ---- */

/* An address of net (a /24) other than .0, .1 (the simulated internet's
 * router) and .255. */
static int
doc_ip(const char *opt, const char *s, uint32_t net, uint32_t *out, char *err, size_t cap)
{
    char want[16];

    ctl_net_ip_format(net, want);
    if (s == NULL || ctl_net_ip_parse(s, out) < 0 || (*out & 0xffffff00u) != net ||
        (*out & 0xff) < 2 || (*out & 0xff) > 254) {
        snprintf(err, cap, "--%s: '%s' must be an address in %.*s2-254", opt, s ? s : "",
                 (int)(strrchr(want, '.') - want + 1), want);
        return SCC_EINVAL;
    }
    return 0;
}

/* "A-B", both inside 203.0.113.2-254, A <= B. */
static int
pool_check(const char *s, char *err, size_t cap)
{
    char lo[32], *dash;
    uint32_t a, b;

    if (s == NULL || strlen(s) >= sizeof(lo) || (dash = strchr(s, '-')) == NULL) {
        snprintf(err, cap, "--public-ip-range: '%s' is not FIRST-LAST", s ? s : "");
        return SCC_EINVAL;
    }
    snprintf(lo, sizeof(lo), "%.*s", (int)(dash - s), s);
    if (doc_ip("public-ip-range", lo, DOC3, &a, err, cap) < 0 ||
        doc_ip("public-ip-range", dash + 1, DOC3, &b, err, cap) < 0)
        return SCC_EINVAL;
    if (a > b) {
        snprintf(err, cap, "--public-ip-range: '%s' is empty (FIRST after LAST)", s);
        return SCC_EINVAL;
    }
    return 0;
}

int
ctl_wire_cfg_check(const struct ctl_cfg *cfg, char *err, size_t cap)
{
    static const char *const kinds[] = {"none", "auto", "netns", "process"};
    uint32_t api, relay;
    bool known = false;

    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        known |= strcmp(cfg->provider, kinds[i]) == 0;
    if (!known) {
        snprintf(err, cap, "--provider must be none, auto, netns or process, not '%s'",
                 cfg->provider);
        return SCC_EINVAL;
    }
    if (!ctl_prov_prefix_is_valid(cfg->provider_prefix)) {
        snprintf(err, cap, "--provider-prefix: '%s' must be [a-z][a-z0-9]*, at most 11 characters",
                 cfg->provider_prefix);
        return SCC_EINVAL;
    }
    if (doc_ip("public-api-ip", cfg->public_api_ip, DOC1, &api, err, cap) < 0 ||
        doc_ip("public-relay-ip", cfg->public_relay_ip, DOC1, &relay, err, cap) < 0 ||
        pool_check(cfg->public_ip_range, err, cap) < 0)
        return SCC_EINVAL;
    if (api == relay) {
        snprintf(err, cap,
                 "--public-api-ip and --public-relay-ip must differ (the relay has an "
                 "address of its own)");
        return SCC_EINVAL;
    }
    /* 198.51.100.20-22 are the Sql, Storage and EventHub stand-ins. */
    if (((api & 0xff) >= 20 && (api & 0xff) <= 22) ||
        ((relay & 0xff) >= 20 && (relay & 0xff) <= 22)) {
        snprintf(err, cap,
                 "--public-api-ip and --public-relay-ip cannot be 198.51.100.20-22 "
                 "(stand-in services)");
        return SCC_EINVAL;
    }
    return 0;
}

/* *slot = "*slot,item" (or item), in the cfg's own allocations. */
static int
list_append(char **slot, const char *item)
{
    size_t n = (*slot ? strlen(*slot) + 1 : 0) + strlen(item) + 1;
    char *s = scc_malloc(n);

    if (s == NULL)
        return SCC_ENOMEM;
    snprintf(s, n, "%s%s%s", *slot ? *slot : "", *slot ? "," : "", item);
    scc_free(*slot);
    *slot = s;
    return 0;
}

int
ctl_wire_cfg_resolve(struct ctl_cfg *cfg, char *err, size_t cap)
{
    char relay[64];
    char *kind;

    if (strcmp(cfg->provider, "none") == 0)
        return 0;
    if (strcmp(cfg->role, "all") != 0) {
        snprintf(err, cap, "--provider needs --role all (a relay alone has no resources)");
        return SCC_EINVAL;
    }
    if (strcmp(cfg->provider, "auto") == 0) {
        if ((kind = scc_strdup(geteuid() == 0 ? "netns" : "process")) == NULL) {
            snprintf(err, cap, "out of memory");
            return SCC_ENOMEM;
        }
        scc_free(cfg->provider);
        cfg->provider = kind;
    }
    if (strcmp(cfg->provider, "netns") != 0)
        return 0;
    snprintf(relay, sizeof(relay), "%s:%d", cfg->public_relay_ip, CTL_WIRE_PUBLIC_PORT);
    if (list_append(&cfg->relay_listen, relay) < 0 ||
        list_append(&cfg->san, cfg->public_api_ip) < 0 ||
        list_append(&cfg->san, cfg->public_relay_ip) < 0) {
        snprintf(err, cap, "out of memory");
        return SCC_ENOMEM;
    }
    return 0;
}

/* ---- start-up ---- */

/* scc-agent: the option, else next to sccd (installed), else the build
 * tree's src/agent next to src/control. */
static void
agent_path(const struct ctl_cfg *cfg, char *out, size_t cap)
{
    char self[4096];
    ssize_t n;

    if (cfg->provider_agent) {
        snprintf(out, cap, "%s", cfg->provider_agent);
        return;
    }
    snprintf(out, cap, "scc-agent");
    if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0)
        return;
    self[n] = '\0';
    snprintf(out, cap, "%s/scc-agent", dirname(self));
    if (access(out, X_OK) != 0)
        snprintf(out, cap, "%s/../agent/scc-agent", self);
}

static int
wire_new(struct ctl *c, struct ctl_wire **out)
{
    struct ctl_wire *w = scc_calloc(1, sizeof(*w));
    char *data = realpath(c->cfg->data_dir, NULL);
    int n = errno;

    *out = w;
    if (w == NULL || data == NULL) {
        free(data);
        return w ? -n : SCC_ENOMEM;
    }
    w->c = c;
    snprintf(w->kind, sizeof(w->kind), "%s", c->cfg->provider);
    n = snprintf(w->state_dir, sizeof(w->state_dir), "%s/provider", data);
    free(data);
    snprintf(w->relay_public, sizeof(w->relay_public), "%s:%d", c->cfg->public_relay_ip,
             CTL_WIRE_PUBLIC_PORT);
    scc_log_ctx_init(&w->log, "sccd", "provider=%s", w->kind);
    w->tokens = json_object();
    w->awaiting = json_object();
    w->legacy = json_object();
    if (n < 0 || (size_t)n >= sizeof(w->state_dir))
        return SCC_ETRUNC;
    return w->tokens && w->awaiting && w->legacy ? 0 : SCC_ENOMEM;
}

static void
build_job(void *arg)
{
    struct wire_round *r = arg;

    r->rc = ctl_compute_desired(r->w, &r->doc);
    /* Every operation recorded so far is in this document. */
    if (r->rc == 0)
        json_object_clear(r->w->awaiting);
}

/* Remove the entry with id from the document's arrays (and VNets'
 * subnets); false if there is none. */
static bool
drop_entry(json_t *doc, const char *id)
{
    const char *key;
    json_t *arr, *e;
    size_t i;

    json_object_foreach(doc, key, arr)
    {
        json_array_foreach(json_is_array(arr) ? arr : NULL, i, e)
        {
            const char *eid = json_string_value(json_object_get(e, "id"));

            if (eid && strcasecmp(eid, id) == 0)
                return json_array_remove(arr, i) == 0;
            if (strcmp(key, "vnets") == 0 && drop_entry(e, id))
                return true;
        }
    }
    return false;
}

/*
 * The provider refuses a whole document for one resource it cannot take
 * (a VNet in public address space, say), and says which: "<id>: why".  One
 * resource must not stop every other, so that one leaves the document and
 * is reported Failed, and the rest is applied; what referenced it fails on
 * its own ("a reference ... not in the document").  Bounded retries.
 */
static void
apply_job(void *arg)
{
    struct wire_round *r = arg;
    json_t *refused = json_object();
    const char *id, *colon;
    char rid[1024];
    json_t *why;

    for (int tries = 0; tries < 16; tries++) {
        r->rc = ctl_prov_apply(r->w->prov, r->doc, &r->status, r->err, sizeof(r->err));
        if (r->rc != SCC_EPROTO || r->err[0] != '/' || (colon = strstr(r->err, ": ")) == NULL)
            break;
        snprintf(rid, sizeof(rid), "%.*s", (int)(colon - r->err), r->err);
        if (refused == NULL || !drop_entry(r->doc, rid))
            break;
        scc_log_warn(&r->w->log, "the provider refuses %s", r->err);
        json_object_set_new(refused, rid,
                            json_pack("{s:s, s:s}", "state", "Failed", "message", colon + 2));
        json_decref(r->status);
        r->status = NULL;
    }
    json_object_foreach(r->status ? refused : NULL, id, why) json_object_set(r->status, id, why);
    json_decref(r->w->refused); /* what provider status shows next to the provider's own */
    r->w->refused = refused;
    if (r->legacy && r->status)
        wire_legacy_sync(r->w, r->doc, r->status);
}

static void
round_free(struct wire_round *r)
{
    json_decref(r->doc);
    json_decref(r->status);
    scc_free(r);
}

/* Apply once, synchronously: the relay binds the public address next. */
static int
first_apply(struct ctl_wire *w)
{
    struct wire_round *r = scc_calloc(1, sizeof(*r));
    int rc;

    if (r == NULL)
        return SCC_ENOMEM;
    r->w = w;
    if ((rc = scc_worker_run_sync(w->c->worker, build_job, r)) == 0 && (rc = r->rc) == 0 &&
        (rc = scc_worker_run_sync(w->pw, apply_job, r)) == 0)
        rc = r->rc;
    if (rc == SCC_EUNAVAIL) /* some resources failed: their statuses say why */
        rc = 0;
    if (rc < 0)
        scc_log_error(&w->log, "cannot set up the network: %s",
                      r->err[0] ? r->err : scc_strerror(rc));
    round_free(r);
    return rc;
}

int
ctl_wire_start(struct ctl *c)
{
    const struct ctl_cfg *cfg = c->cfg;
    struct ctl_prov_cfg pc = {
            .kind = cfg->provider, .ca_file = c->paths.ca_crt, .prefix = cfg->provider_prefix};
    struct ctl_wire *w = NULL;
    char agent[4200], err[512] = "";
    int rc;

    if (strcmp(cfg->provider, "none") == 0)
        return 0;
    rc = wire_new(c, &w);
    c->wire = w;
    if (rc < 0) {
        scc_log_error_rc(&c->log, rc, "provider: cannot prepare %s/provider", cfg->data_dir);
        return rc;
    }
    agent_path(cfg, agent, sizeof(agent));
    pc.state_dir = w->state_dir;
    pc.agent_bin = agent;
    if ((rc = ctl_prov_new(&pc, &w->prov, err, sizeof(err))) < 0) {
        scc_log_error(&w->log, "%s", err);
        return rc;
    }
    if ((rc = scc_worker_new(c->base, PROV_QUEUE, &w->pw)) < 0)
        return rc;
    scc_log_info(&w->log, "provider %s, prefix %s, state %s, agent %s%s", ctl_prov_kind(w->prov),
                 cfg->provider_prefix, w->state_dir, agent,
                 ctl_prov_isolated(w->prov) ? "" : ": nothing is isolated");
    if (strcmp(w->kind, "netns") != 0)
        return 0;
    snprintf(c->api_also, sizeof(c->api_also), "%s:%d", cfg->public_api_ip, CTL_WIRE_PUBLIC_PORT);
    return first_apply(w);
}

/* ---- rounds (loop) ---- */

static void round_start(struct ctl_wire *w);

static void
round_end(struct wire_round *r)
{
    struct ctl_wire *w = r->w;

    round_free(r);
    w->busy = false;
    if (w->dirty && !w->stopping)
        round_start(w);
}

static void
feed_job(struct arm_call *k)
{
    struct wire_round *r = k->ctx;

    if (arm_tx_begin(k) < 0)
        return;
    if (arm_tx_end(k, ctl_compute_feed(k, r->doc, r->status, r->err, r->w->awaiting)) == 0)
        arm_reply(k, 200, NULL);
}

static void
feed_answered(void *arg, const struct ctl_arm_resp *resp)
{
    struct wire_round *r = arg;

    if (resp->status != 200)
        scc_log_warn(&r->w->log, "cannot record the provider's statuses (%d %.*s); next round",
                     resp->status, (int)resp->body_len, resp->body ? resp->body : "");
    round_end(r);
}

static void
apply_done(void *arg)
{
    static const struct ctl_principal rp = {
            .scope = "*", .oid = "00000000-0000-0000-0000-00000000rp00", .internal = true};
    struct wire_round *r = arg;
    struct ctl_wire *w = r->w;
    struct arm_call *k;

    if (r->rc < 0 && r->rc != SCC_EUNAVAIL)
        scc_log_error(&w->log, "apply failed: %s", r->err[0] ? r->err : scc_strerror(r->rc));
    if (w->stopping || (k = arm_call_new(w->c, &rp, feed_answered, r)) == NULL) {
        round_end(r);
        return;
    }
    k->quiet = true; /* its writes are statuses, not changes to apply */
    k->ctx = r;
    arm_submit(k, feed_job); /* answers (feed_answered) even when it cannot run */
}

static void
build_done(void *arg)
{
    struct wire_round *r = arg;
    struct ctl_wire *w = r->w;

    if (r->rc < 0)
        scc_log_error_rc(&w->log, r->rc, "cannot build the desired document; next round");
    if (r->rc < 0 || w->stopping || scc_worker_submit(w->pw, apply_job, apply_done, r) < 0) {
        if (r->rc == 0)
            w->dirty = true;
        round_end(r);
    }
}

static void
round_start(struct ctl_wire *w)
{
    struct wire_round *r;

    if (w->busy || w->stopping || !w->running)
        return;
    w->dirty = false;
    if ((r = scc_calloc(1, sizeof(*r))) == NULL) {
        w->dirty = true; /* the tick retries */
        return;
    }
    r->w = w;
    /* Only where public IPs exist: the relay must never dial an address
     * of the documentation ranges on the real network. */
    r->legacy = strcmp(w->kind, "netns") == 0;
    w->busy = true;
    if (scc_worker_submit(w->c->worker, build_job, build_done, r) < 0) {
        w->busy = false;
        w->dirty = true;
        scc_free(r);
    }
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct ctl_wire *w = arg;

    (void)fd, (void)what;
    w->dirty = true;
    round_start(w);
}

void
ctl_wire_run(struct ctl *c, const char *relay_bound)
{
    struct ctl_wire *w = c->wire;
    struct timeval tv = {TICK_S, 0};

    if (w == NULL)
        return;
    snprintf(w->relay_local, sizeof(w->relay_local), "%.*s", (int)strcspn(relay_bound, ","),
             relay_bound);
    w->running = true;
    if ((w->tick = event_new(c->base, -1, EV_PERSIST, on_tick, w)) == NULL ||
        event_add(w->tick, &tv) != 0)
        scc_log_warn(&w->log, "no periodic rounds (out of memory): dead agents stay dead "
                              "until the next change");
    w->dirty = true;
    round_start(w);
}

bool
ctl_wire_concerns(const char *id_lc)
{
    return strstr(id_lc, "/providers/microsoft.network/") != NULL ||
           strstr(id_lc, "/providers/microsoft.compute/") != NULL;
}

void
ctl_wire_changed(struct ctl *c)
{
    if (c->wire == NULL)
        return;
    c->wire->dirty = true;
    round_start(c->wire);
}

void
ctl_wire_op_created(struct ctl *c, const char *op_id)
{
    if (c->wire)
        (void)json_object_set_new(c->wire->awaiting, op_id, json_true());
}

void
ctl_wire_endpoints(const struct ctl *c, json_t *o)
{
    const struct ctl_wire *w = c->wire;
    char a[64];

    if (w == NULL)
        return;
    json_object_set_new(o, "provider", json_string(w->kind));
    json_object_set_new(o, "provider_prefix", json_string(c->cfg->provider_prefix));
    json_object_set_new(o, "provider_state_dir", json_string(w->state_dir));
    if (strcmp(w->kind, "netns") != 0)
        return;
    snprintf(a, sizeof(a), "%s:%d", c->cfg->public_api_ip, CTL_WIRE_PUBLIC_PORT);
    json_object_set_new(o, "public_api", json_string(a));
    json_object_set_new(o, "public_relay", json_string(w->relay_public));
}

/* ---- shutdown ---- */

static void
teardown_job(void *arg)
{
    struct ctl_wire *w = arg;
    char err[512] = "";

    if (ctl_prov_teardown(w->prov, err, sizeof(err)) < 0)
        scc_log_error(&w->log, "cleanup: %s", err);
}

static void
tokens_forget(json_t *tokens)
{
    const char *key;
    json_t *v;

    json_object_foreach(tokens, key, v)
    {
        json_t *t = json_object_get(v, "token");

        if (json_is_string(t)) /* jansson owns the bytes; wipe them in place */
            OPENSSL_cleanse((char *)json_string_value(t), json_string_length(t));
    }
    json_decref(tokens);
}

void
ctl_wire_stop(struct ctl *c)
{
    struct ctl_wire *w = c->wire;

    if (w == NULL)
        return;
    w->stopping = true;
    if (w->tick)
        event_free(w->tick);
    w->tick = NULL;
    while (w->busy)
        if (event_base_loop(c->base, EVLOOP_ONCE) != 0)
            break;
    if (w->pw && w->prov && c->cfg->provider_cleanup &&
        scc_worker_run_sync(w->pw, teardown_job, w) == 0)
        scc_log_info(&w->log, "cleanup: every VM, namespace, link and rule of prefix %s removed",
                     c->cfg->provider_prefix);
    if (w->pw)
        scc_worker_free(w->pw);
    w->pw = NULL;
    ctl_prov_free(w->prov);
    w->prov = NULL;
}

bool
ctl_wire_stopping(const struct ctl *c)
{
    return c->wire && c->wire->stopping;
}

void
ctl_wire_free(struct ctl *c)
{
    struct ctl_wire *w = c->wire;

    if (w == NULL)
        return;
    tokens_forget(w->tokens);
    json_decref(w->awaiting);
    json_decref(w->legacy);
    json_decref(w->refused);
    scc_free(w);
    c->wire = NULL;
}
