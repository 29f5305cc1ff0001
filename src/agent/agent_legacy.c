/*
 * agent_legacy.c - legacy (no SCC) mode: the node listens on its
 * management port and the control plane connects in, as workspaces did
 * before secure cluster connectivity.  The same HTTP/2 service runs over
 * the connection; only the direction of the dial differs.
 *
 * Only a client presenting the control plane's certificate
 * (spiffe://<trust-domain>/control, from our CA) gets past the handshake;
 * the NSG in front of the port admits only the control plane's addresses
 * as a second fence.
 */
#include "agent.h"

#include "common/err.h"
#include "common/mem.h"
#include "common/tls.h"
#include "tunnel/h2io.h"
#include "tunnel/sock.h"
#include "tunnel/tio.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

/* One connection from the control plane, from accept to close: listed so
 * that stopping drains it and the agent's end closes it. */
struct conn {
    LIST_ENTRY(conn) link;
    struct agent *a;
    struct scc_tio *hs;  /* while in its handshake */
    struct scc_h2io *io; /* after */
    char peer[SCC_ADDR_STR_MAX];
};

struct agent_legacy {
    struct agent *a;
    SSL_CTX *tls;
    int fd;
    struct event *ev;
    char bound[SCC_ADDR_STR_MAX];
    LIST_HEAD(, conn) conns;
};

static void
conn_free(struct conn *p)
{
    LIST_REMOVE(p, link);
    scc_free(p);
}

bool
agent_is_legacy(const struct agent *a)
{
    return strcmp(a->cfg->mode, "legacy") == 0;
}

static void
on_conn_close(struct scc_h2io *io, int rc, void *arg)
{
    struct conn *p = arg;

    (void)io;
    scc_log_info_rc(&p->a->log, rc, "control plane connection from %s closed", p->peer);
    conn_free(p);
}

/* The peer must be the control plane of our own trust domain. */
static bool
peer_is_control(struct agent *a, SSL *ssl)
{
    char uri[SCC_IDENT_URI_MAX + 1];
    struct scc_ident id;

    return scc_tls_peer_uri(ssl, uri, sizeof(uri)) == 0 &&
           scc_ident_parse(uri, strlen(uri), &id) == 0 && id.kind == SCC_IDENT_CONTROL &&
           strcmp(id.td, a->ident.td) == 0;
}

static void
on_request(struct scc_h2 *h2, struct scc_h2_stream *s, void *arg)
{
    agent_serve_request(h2, s, ((struct conn *)arg)->a);
}

static void
on_handshake(struct scc_tio *tio, int rc, void *arg)
{
    static const struct scc_h2_cbs cbs = {.on_request = on_request};
    struct conn *p = arg;
    struct agent *a = p->a;
    struct scc_h2io_cfg iocfg = {.ping_interval_ms = a->cfg->keepalive_ms,
                                 .dead_after_ms = a->cfg->dead_after_ms};

    p->hs = NULL;
    if (rc < 0 || !peer_is_control(a, scc_tio_ssl(tio))) {
        scc_log_warn(&a->log, "refused management connection from %s: %s", p->peer,
                     rc < 0 ? scc_tio_tls_error(tio) : "not the control plane's certificate");
        scc_tio_free(tio);
        conn_free(p);
        return;
    }
    if (scc_h2io_new(a->base, tio, SCC_H2_SERVER, &a->h2set, &cbs, &iocfg, on_conn_close, p,
                     &p->io) < 0) {
        conn_free(p);
        return;
    }
    scc_log_info(&a->log, "control plane connected from %s", p->peer);
}

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
    struct agent_legacy *l = arg;

    (void)what;
    for (int i = 0; i < 16; i++) {
        struct conn *p = NULL;
        struct scc_tio *tio = NULL;
        SSL *ssl = NULL;
        char peer[SCC_ADDR_STR_MAX];
        int fd;

        if (scc_sock_accept(lfd, &fd, peer, sizeof(peer)) < 0)
            return;
        if ((p = scc_calloc(1, sizeof(*p))) == NULL || scc_tio_new(l->a->base, fd, &tio) < 0 ||
            (ssl = SSL_new(l->tls)) == NULL) {
            if (tio == NULL && p)
                close(fd);
            scc_tio_free(tio);
            scc_free(p);
            continue;
        }
        p->a = l->a;
        p->hs = tio;
        snprintf(p->peer, sizeof(p->peer), "%s", peer);
        LIST_INSERT_HEAD(&l->conns, p, link);
        (void)scc_sock_tune(fd, &l->a->tcp_ka);
        if (scc_tio_start_tls(tio, ssl, true, l->a->cfg->handshake_timeout_ms, on_handshake, p) <
            0) {
            scc_tio_free(tio);
            conn_free(p);
        }
    }
}

static int
tls_ctx(struct agent *a, SSL_CTX **out)
{
    const char *alpn[] = {SCC_ALPN_TUNNEL};
    struct scc_tls_cfg cfg = {.ca_file = a->cfg->ca,
                              .cert = a->node_cert,
                              .key = a->node_key,
                              .require_peer_cert = true,
                              .alpn = alpn,
                              .nalpn = 1};

    return scc_tls_ctx_server(&cfg, out);
}

int
agent_legacy_reload(struct agent *a)
{
    SSL_CTX *ctx = NULL;
    int rc;

    if (a->legacy == NULL)
        return 0;
    if ((rc = tls_ctx(a, &ctx)) < 0)
        return rc;
    SSL_CTX_free(a->legacy->tls); /* connections up keep theirs */
    a->legacy->tls = ctx;
    return 0;
}

int
agent_legacy_start(struct agent *a)
{
    struct agent_legacy *l;
    int rc;

    if (a->legacy)
        return 0;
    if ((l = scc_calloc(1, sizeof(*l))) == NULL)
        return SCC_ENOMEM;
    l->a = a;
    l->fd = -1;
    if ((rc = tls_ctx(a, &l->tls)) < 0 ||
        (rc = scc_sock_listen(a->cfg->listen, 64, &l->fd, l->bound, sizeof(l->bound))) < 0)
        goto fail;
    rc = SCC_ENOMEM;
    if ((l->ev = event_new(a->base, l->fd, EV_READ | EV_PERSIST, on_accept, l)) == NULL ||
        event_add(l->ev, NULL) != 0)
        goto fail;
    a->legacy = l;
    scc_log_info(&a->log, "legacy mode: listening on %s for the control plane (identity=%s)",
                 l->bound, a->ident_uri);
    return 0;
fail:
    scc_log_error_rc(&a->log, rc, "legacy mode: cannot listen on %s", a->cfg->listen);
    a->legacy = l;
    agent_legacy_free(a);
    agent_fatal(a, "legacy listener failed");
    return rc;
}

void
agent_legacy_stop(struct agent *a)
{
    struct agent_legacy *l = a->legacy;

    if (l == NULL)
        return;
    if (l->ev)
        event_free(l->ev);
    if (l->fd >= 0)
        close(l->fd);
    l->ev = NULL;
    l->fd = -1;
    for (struct conn *p = LIST_FIRST(&l->conns), *next; p; p = next) {
        next = LIST_NEXT(p, link);
        if (p->io)
            scc_h2io_drain(p->io, 0, "agent stopping");
        else {
            scc_tio_free(p->hs);
            conn_free(p);
        }
    }
}

void
agent_legacy_free(struct agent *a)
{
    struct agent_legacy *l = a->legacy;

    if (l == NULL)
        return;
    agent_legacy_stop(a);
    while (!LIST_EMPTY(&l->conns))
        scc_h2io_close_now(LIST_FIRST(&l->conns)->io, 0);
    SSL_CTX_free(l->tls);
    scc_free(l);
    a->legacy = NULL;
}
