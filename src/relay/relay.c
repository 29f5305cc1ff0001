#include "relay_int.h"

#include "common/err.h"
#include "common/map.h"
#include "common/mem.h"
#include "common/parse.h"
#include "common/tls.h"

#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/*
 * The registry maps "ws/cluster/node" to that node's tunnels, newest
 * first.  A node normally has one; it briefly has two when it dials again
 * before its old path is declared dead, or when it reaches this relay on
 * two of its addresses.  Requests go to the newest; the others are kept,
 * not cut, and leave by themselves when their connection ends.
 */
int
relay_register(struct relay *r, struct relay_tunnel *t)
{
    struct relay_tunnel *head = scc_map_get(r->tunnels, t->path);
    int rc;

    if ((rc = scc_map_put(r->tunnels, t->path, t, NULL)) < 0)
        return rc;
    t->next_same = head;
    t->registered = true;
    r->ntunnels++;
    return 0;
}

void
relay_unregister(struct relay *r, struct relay_tunnel *t)
{
    struct relay_tunnel *head, **pp;

    if (!t->registered)
        return;
    t->registered = false;
    r->ntunnels--;
    head = scc_map_get(r->tunnels, t->path);
    if (head == t) {
        if (t->next_same)
            (void)scc_map_put(r->tunnels, t->path, t->next_same, NULL); /* replaces: no alloc */
        else
            scc_map_del(r->tunnels, t->path);
    } else {
        for (pp = &head; *pp; pp = &(*pp)->next_same) {
            if (*pp == t) {
                *pp = t->next_same;
                break;
            }
        }
    }
    t->next_same = NULL;
}

struct relay_tunnel *
relay_find(struct relay *r, const char *path)
{
    return scc_map_get(r->tunnels, path);
}

size_t
relay_tunnel_count(const struct relay *r)
{
    return r->ntunnels;
}

struct each_ctx {
    int (*fn)(struct relay_tunnel *t, void *arg);
    void *arg;
};

static int
each_list(const char *key, void *value, void *arg)
{
    struct each_ctx *c = arg;
    int rc = 0;

    (void)key;
    for (struct relay_tunnel *t = value, *next; t && rc == 0; t = next) {
        next = t->next_same;
        rc = c->fn(t, c->arg);
    }
    return rc;
}

int
relay_each(struct relay *r, int (*fn)(struct relay_tunnel *t, void *arg), void *arg)
{
    struct each_ctx c = {fn, arg};

    return scc_map_each(r->tunnels, each_list, &c);
}

void
relay_disconnect(struct relay *r, const struct scc_ident *id, const char *why)
{
    char path[sizeof(((struct relay_tunnel *)0)->path)];
    struct relay_tunnel *t;

    if (scc_ident_path(id, path, sizeof(path)) < 0)
        return;
    while ((t = relay_find(r, path)) != NULL) {
        scc_log_info(&t->log, "disconnecting: %s", why);
        relay_unregister(r, t);
        scc_h2io_close(t->io, SCC_EREVOKED);
    }
}

static int
drain_one(struct relay_tunnel *t, void *arg)
{
    (void)arg;
    scc_h2io_drain(t->io, 0, "relay shutting down");
    return 0;
}

void
relay_drain(struct relay *r)
{
    if (r->draining)
        return;
    r->draining = true;
    relay_accepting(r, false);
    relay_each(r, drain_one, NULL);
}

const char *
relay_bound(const struct relay *r)
{
    return r->bound;
}

const char *
relay_metrics_bound(const struct relay *r)
{
    return r->metrics->bound;
}

/* The client side, for dialling legacy nodes as the control plane. */
static int
tls_client_init(struct relay *r)
{
    const char *alpn[] = {SCC_ALPN_TUNNEL};
    struct scc_tls_cfg cfg = {.ca_file = r->cfg.ca_file,
                              .cert_file = r->cfg.control_cert_file,
                              .key_file = r->cfg.control_key_file,
                              .alpn = alpn,
                              .nalpn = 1};
    char why[256];
    int rc;

    if (r->cfg.control_cert_file == NULL)
        return 0;
    if ((rc = scc_tls_ctx_client(&cfg, &r->tls_client)) < 0)
        scc_log_error(&r->log, "control-plane TLS setup failed: %s",
                      scc_tls_errors(why, sizeof(why)));
    return rc;
}

static int
tls_init(struct relay *r)
{
    const char *alpn[] = {SCC_ALPN_TUNNEL, SCC_ALPN_ENROLL};
    struct scc_tls_cfg cfg = {.ca_file = r->cfg.ca_file,
                              .cert_file = r->cfg.cert_file,
                              .key_file = r->cfg.key_file,
                              .alpn = alpn,
                              .nalpn = 2};
    char why[256];
    int rc;

    /* Client certificates are requested but not required at the TLS
     * layer: an enrolment has none yet.  A tunnel without one is refused
     * right after the handshake, by ALPN. */
    if ((rc = scc_tls_ctx_server(&cfg, &r->tls)) < 0)
        scc_log_error(&r->log, "TLS setup failed: %s", scc_tls_errors(why, sizeof(why)));
    return rc;
}

void
relay_accepting(struct relay *r, bool on)
{
    for (size_t i = 0; i < r->nlisteners; i++) {
        if (on)
            event_add(r->listeners[i].ev, NULL);
        else
            event_del(r->listeners[i].ev);
    }
}

/* One listener per address in the comma-separated cfg.listen: loopback
 * for local agents, and e.g. a public address of the simulated internet. */
static int
tunnel_listeners_init(struct relay *r)
{
    char addr[300];
    size_t off = 0;
    int rc;

    for (const char *p = r->cfg.listen; scc_list_next(&p, addr, sizeof(addr));) {
        struct relay_listener *l = &r->listeners[r->nlisteners];

        if (r->nlisteners == RELAY_LISTENERS_MAX)
            return SCC_EINVAL;
        if ((rc = scc_sock_listen(addr, 1024, &l->fd, l->bound, sizeof(l->bound))) < 0) {
            scc_log_error_rc(&r->log, rc, "cannot listen on '%s'", addr);
            return rc;
        }
        r->nlisteners++;
        l->ev = event_new(r->base, l->fd, EV_READ | EV_PERSIST, relay_on_accept, r);
        if (l->ev == NULL || event_add(l->ev, NULL) != 0)
            return SCC_ENOMEM;
        off += (size_t)snprintf(r->bound + off, sizeof(r->bound) - off, "%s%s", off ? "," : "",
                                l->bound);
    }
    return r->nlisteners ? 0 : SCC_EINVAL;
}

static int
listeners_init(struct relay *r)
{
    int rc;

    if ((rc = tunnel_listeners_init(r)) < 0)
        return rc;
    if (r->cfg.admin_socket) {
        if ((rc = scc_sock_listen_unix(r->cfg.admin_socket, 0600, &r->afd)) < 0) {
            scc_log_error_rc(&r->log, rc, "cannot create admin socket %s", r->cfg.admin_socket);
            return rc;
        }
        r->admin_ev = event_new(r->base, r->afd, EV_READ | EV_PERSIST, relay_on_admin_accept, r);
        if (r->admin_ev == NULL || event_add(r->admin_ev, NULL) != 0)
            return SCC_ENOMEM;
    }
    if ((rc = relay_metrics_start(r, r->cfg.metrics_listen)) < 0)
        scc_log_error_rc(&r->log, rc, "cannot serve metrics on %s", r->cfg.metrics_listen);
    return rc;
}

int
relay_new(struct event_base *base, const struct relay_cfg *cfg, const struct relay_authority *auth,
          struct relay **out)
{
    struct relay *r = scc_calloc(1, sizeof(*r));
    int rc = SCC_ENOMEM;

    *out = NULL;
    if (r == NULL)
        return rc;
    r->base = base;
    r->cfg = *cfg;
    r->auth = *auth;
    r->afd = -1;
    scc_log_ctx_init(&r->log, "relay", NULL);
    scc_ratelimit_init(&r->refuse_rl, 20, 1000);
    scc_h2_settings_default(&r->h2set);
    r->tcp_ka = (struct scc_keepalive){.idle_s = (cfg->keepalive_ms + 999) / 1000,
                                       .interval_s = 5,
                                       .count = 3,
                                       .user_timeout_ms = cfg->dead_after_ms};
    if ((r->metrics = scc_calloc(1, sizeof(*r->metrics))) == NULL ||
        (rc = scc_map_new(&r->tunnels)) < 0)
        goto fail;
    if ((rc = tls_init(r)) < 0 || (rc = tls_client_init(r)) < 0 || (rc = listeners_init(r)) < 0)
        goto fail;
    scc_log_info(&r->log, "relay listening on %s (tunnels)%s%s%s%s", r->bound,
                 cfg->admin_socket ? ", admin socket " : "",
                 cfg->admin_socket ? cfg->admin_socket : "",
                 r->metrics->bound[0] ? ", metrics on " : "", r->metrics->bound);
    *out = r;
    return 0;
fail:
    relay_free(r);
    return rc;
}

void
relay_free(struct relay *r)
{
    if (r == NULL)
        return;
    relay_accept_free_all(r);
    relay_legacy_free_all(r);
    relay_handoff_free_all(r);
    relay_admin_free_all(r);
    /* Close every tunnel now, registered or not (one that sent GOAWAY,
     * one already closing): their streams' owners still count in r. */
    while (!LIST_EMPTY(&r->all))
        scc_h2io_close_now(LIST_FIRST(&r->all)->io, 0);
    relay_renew_free_all(r);
    scc_map_free(r->tunnels);
    for (size_t i = 0; i < r->nlisteners; i++) {
        if (r->listeners[i].ev)
            event_free(r->listeners[i].ev);
        close(r->listeners[i].fd);
    }
    if (r->admin_ev)
        event_free(r->admin_ev);
    if (r->afd >= 0) {
        close(r->afd);
        if (r->cfg.admin_socket)
            (void)unlink(r->cfg.admin_socket);
    }
    relay_metrics_stop(r->metrics);
    scc_free(r->metrics);
    SSL_CTX_free(r->tls);
    SSL_CTX_free(r->tls_client);
    scc_free(r);
}
