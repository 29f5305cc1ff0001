#include "relay_int.h"

#include "common/err.h"
#include "common/map.h"
#include "common/mem.h"
#include "common/tls.h"

#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
relay_register(struct relay *r, struct relay_tunnel *t)
{
    void *old = NULL;
    int rc;

    if ((rc = scc_map_put(r->tunnels, t->path, t, &old)) < 0)
        return rc;
    t->registered = true;
    if (old) {
        struct relay_tunnel *prev = old;

        /* The same node dialled again (a new process, or its old path
         * died unnoticed): the newest tunnel wins, the old one drains. */
        prev->registered = false;
        scc_log_info(&prev->log, "superseded by a new tunnel from %s; draining", t->peer);
        scc_h2io_drain(prev->io, 0, "superseded");
    }
    return 0;
}

void
relay_unregister(struct relay *r, struct relay_tunnel *t)
{
    if (t->registered && scc_map_get(r->tunnels, t->path) == t)
        scc_map_del(r->tunnels, t->path);
    t->registered = false;
}

struct relay_tunnel *
relay_find(struct relay *r, const char *path)
{
    return scc_map_get(r->tunnels, path);
}

size_t
relay_tunnel_count(const struct relay *r)
{
    return scc_map_count(r->tunnels);
}

void
relay_disconnect(struct relay *r, const struct scc_ident *id, const char *why)
{
    char path[sizeof(((struct relay_tunnel *)0)->path)];
    struct relay_tunnel *t;

    if (scc_ident_path(id, path, sizeof(path)) < 0 || (t = relay_find(r, path)) == NULL)
        return;
    scc_log_info(&t->log, "disconnecting: %s", why);
    relay_unregister(r, t);
    scc_h2io_close(t->io, SCC_EREVOKED);
}

static int
drain_one(const char *key, void *value, void *arg)
{
    struct relay_tunnel *t = value;

    (void)key, (void)arg;
    scc_h2io_drain(t->io, 0, "relay shutting down");
    return 0;
}

void
relay_drain(struct relay *r)
{
    if (r->draining)
        return;
    r->draining = true;
    if (r->accept_ev)
        event_del(r->accept_ev);
    scc_map_each(r->tunnels, drain_one, NULL);
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

static int
tls_init(struct relay *r)
{
    const char *alpn[] = {SCC_ALPN_TUNNEL, SCC_ALPN_ENROLL};
    struct scc_tls_cfg cfg = {.ca_file = r->cfg.ca_file,
                              .cert_file = r->cfg.cert_file,
                              .key_file = r->cfg.key_file,
                              .alpn = alpn,
                              .nalpn = 2,
                              .release_buffers = true};
    char why[256];
    int rc;

    /* Client certificates are requested but not required at the TLS
     * layer: an enrolment has none yet.  A tunnel without one is refused
     * right after the handshake, by ALPN. */
    if ((rc = scc_tls_ctx_server(&cfg, &r->tls)) < 0)
        scc_log_error(&r->log, "TLS setup failed: %s", scc_tls_errors(why, sizeof(why)));
    return rc;
}

static int
listeners_init(struct relay *r)
{
    int rc;

    if ((rc = scc_sock_listen(r->cfg.listen, 1024, &r->lfd, r->bound, sizeof(r->bound))) < 0) {
        scc_log_error_rc(&r->log, rc, "cannot listen on %s", r->cfg.listen);
        return rc;
    }
    r->accept_ev = event_new(r->base, r->lfd, EV_READ | EV_PERSIST, relay_on_accept, r);
    if (r->accept_ev == NULL || event_add(r->accept_ev, NULL) != 0)
        return SCC_ENOMEM;
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
    r->lfd = r->afd = -1;
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
    if ((rc = tls_init(r)) < 0 || (rc = listeners_init(r)) < 0)
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

static int
close_one(const char *key, void *value, void *arg)
{
    struct relay_tunnel *t = value;

    (void)key, (void)arg;
    t->registered = false;
    scc_h2io_close(t->io, 0);
    return 0;
}

void
relay_free(struct relay *r)
{
    if (r == NULL)
        return;
    if (r->tunnels) {
        /* Closing is deferred to the loop; tunnels unregister themselves
         * when their close event runs, which the caller lets happen. */
        scc_map_each(r->tunnels, close_one, NULL);
        scc_map_free(r->tunnels);
    }
    if (r->accept_ev)
        event_free(r->accept_ev);
    if (r->admin_ev)
        event_free(r->admin_ev);
    if (r->resume_ev)
        event_free(r->resume_ev);
    if (r->lfd >= 0)
        close(r->lfd);
    if (r->afd >= 0) {
        close(r->afd);
        if (r->cfg.admin_socket)
            (void)unlink(r->cfg.admin_socket);
    }
    relay_metrics_stop(r->metrics);
    scc_free(r->metrics);
    SSL_CTX_free(r->tls);
    scc_free(r);
}
