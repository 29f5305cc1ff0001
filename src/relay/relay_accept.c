/*
 * relay_accept.c - from accept(2) to a registered tunnel.
 *
 * Every connection gets a TLS 1.3 handshake with a deadline.  ALPN then
 * says what it is:
 *   scc-tunnel/1  must present a client certificate from our CA, not
 *                 expired, not revoked, naming a node of our trust domain;
 *                 anything else is refused with one log line and closed;
 *   scc-enroll/1  no certificate; one POST /v1/enroll with a join token.
 * Garbage, plain HTTP, old TLS versions and handshakes that never finish
 * are refused the same way.
 */
#include "relay_int.h"

#include "common/err.h"
#include "common/map.h"
#include "common/mem.h"
#include "common/pki.h"
#include "common/time.h"
#include "common/tls.h"
#include "tunnel/tio.h"

#include <errno.h>
#include <event2/event.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ENROLL_BODY_MAX (16u << 10)

struct relay_pending {
    struct relay *r;
    LIST_ENTRY(relay_pending) link; /* in r->pending, so relay_free finds it */
    struct scc_tio *tio;
    char peer[SCC_ADDR_STR_MAX];
    uint64_t id;
};

struct relay_enroll {
    struct relay *r;               /* NULL once the relay is gone */
    LIST_ENTRY(relay_enroll) link; /* in r->enrolls while r is set */
    struct scc_h2io *io;           /* NULL once the connection closed */
    struct scc_h2_stream *s;       /* the one request, while open */
    struct scc_buf body;
    char peer[SCC_ADDR_STR_MAX];
    struct scc_log_ctx log;
    int refs;
    bool asked, replied;
};

static void refuse(struct relay *r, enum relay_refusal why, const char *peer, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void
refuse(struct relay *r, enum relay_refusal why, const char *peer, const char *fmt, ...)
{
    char msg[400];
    va_list ap;

    r->metrics->refused[why]++;
    if (!scc_ratelimit_allow(&r->refuse_rl, scc_time_mono_ms()))
        return;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    scc_log_warn(&r->log, "refused peer=%s: %s", peer, msg);
}

/* ---- tunnels ---- */

static void
on_tunnel_close(struct scc_h2io *io, int rc, void *arg)
{
    struct relay_tunnel *t = arg;
    struct relay *r = t->r;

    (void)io;
    LIST_REMOVE(t, all);
    relay_renew_forget(t);
    r->metrics->tunnel_disconnects++;
    r->metrics->bytes_to_node += scc_h2io_payload_out(t->io);
    r->metrics->bytes_from_node += scc_h2io_payload_in(t->io);
    relay_unregister(r, t);
    scc_log_info_rc(&t->log, rc, "tunnel closed");
    if (t->dialer)
        relay_legacy_closed(t->dialer, rc);
    scc_free(t);
}

/* Register a tunnel, or shed it when the relay is full or leaving. */
static void
tunnel_admit(struct relay *r, struct relay_tunnel *t)
{
    if (r->ntunnels >= r->cfg.max_tunnels || r->draining) {
        char debug[40];

        snprintf(debug, sizeof(debug), "retry-after=%u", r->cfg.retry_after_s);
        refuse(r, REFUSE_OVERLOAD, t->peer, "%zu tunnels (limit %u): shed with %s", r->ntunnels,
               r->cfg.max_tunnels, debug);
        scc_h2io_drain(t->io, 11 /* ENHANCE_YOUR_CALM */, debug);
        return;
    }
    if (relay_register(r, t) < 0) {
        scc_h2io_close(t->io, SCC_ENOMEM);
        return;
    }
    scc_log_info(&t->log, "tunnel up identity=%s serial=%s resumed=%s", t->uri, t->serial,
                 t->resumed ? "yes" : "no");
    relay_renew_watch(r, t, SSL_get0_peer_certificate(scc_tio_ssl(scc_h2io_tio(t->io))));
}

static void
on_tunnel_goaway(struct scc_h2 *h2, uint32_t code, const uint8_t *debug, size_t len, void *arg)
{
    struct relay_tunnel *t = arg;

    (void)h2;
    /* The agent is leaving: route nothing new to it. */
    scc_log_info(&t->log, "agent sent GOAWAY code=%u %.*s", code, (int)(len < 80 ? len : 80),
                 (const char *)debug);
    relay_unregister(t->r, t);
}

static int
peer_identity(struct relay *r, SSL *ssl, struct relay_tunnel *t, enum relay_refusal *why, char *msg,
              size_t cap)
{
    X509 *cert = SSL_get0_peer_certificate(ssl);
    long vr = SSL_get_verify_result(ssl);

    if (cert == NULL) {
        *why = REFUSE_NO_CERT;
        snprintf(msg, cap, "tunnel without a client certificate");
        return SCC_EAUTH;
    }
    if (vr != X509_V_OK) {
        *why = REFUSE_BAD_CERT;
        snprintf(msg, cap, "client certificate rejected: %s", X509_verify_cert_error_string(vr));
        return SCC_EAUTH;
    }
    *why = REFUSE_IDENTITY;
    if (scc_pki_cert_uri(cert, t->uri, sizeof(t->uri)) < 0 ||
        scc_ident_parse(t->uri, strlen(t->uri), &t->id) < 0 || t->id.kind != SCC_IDENT_NODE ||
        strcmp(t->id.td, r->cfg.trust_domain) != 0) {
        snprintf(msg, cap, "certificate names no node of trust domain %s", r->cfg.trust_domain);
        return SCC_EAUTH;
    }
    (void)scc_ident_path(&t->id, t->path, sizeof(t->path));
    (void)scc_pki_cert_serial(cert, t->serial, sizeof(t->serial));
    if (r->auth.is_revoked && r->auth.is_revoked(r->auth.arg, t->serial)) {
        *why = REFUSE_REVOKED;
        snprintf(msg, cap, "certificate %s of %s is revoked", t->serial, t->uri);
        return SCC_EREVOKED;
    }
    return 0;
}

/*
 * relay_tunnel_open - a TLS connection is up (accepted, or dialled by a
 * legacy dialer d): check the node's certificate and make it a tunnel.
 * Takes tio.
 */
void
relay_tunnel_open(struct relay *r, struct scc_tio *tio, const char *peer, uint64_t conn,
                  struct relay_dialer *d)
{
    static const struct scc_h2_cbs cbs = {.on_goaway = on_tunnel_goaway};
    struct scc_h2io_cfg iocfg = {.ping_interval_ms = r->cfg.keepalive_ms,
                                 .dead_after_ms = r->cfg.dead_after_ms};
    struct relay_tunnel *t = scc_calloc(1, sizeof(*t));
    enum relay_refusal why;
    char msg[300];

    if (t == NULL) {
        scc_tio_free(tio);
        return;
    }
    t->r = r;
    t->dialer = d;
    snprintf(t->peer, sizeof(t->peer), "%s", peer);
    if (peer_identity(r, scc_tio_ssl(tio), t, &why, msg, sizeof(msg)) < 0 ||
        (d && relay_legacy_check(d, t, msg, sizeof(msg)) < 0)) {
        refuse(r, d ? REFUSE_IDENTITY : why, peer, "%s", msg);
        scc_tio_free(tio);
        scc_free(t);
        if (d)
            relay_legacy_closed(d, SCC_EAUTH);
        return;
    }
    t->resumed = SSL_session_reused(scc_tio_ssl(tio)) == 1;
    t->since_ms = scc_time_wall_ms();
    scc_log_ctx_init(&t->log, "relay", "conn=%llu node=%s peer=%s%s", (unsigned long long)conn,
                     t->path, t->peer, d ? " legacy" : "");
    if (scc_h2io_new(r->base, tio, SCC_H2_CLIENT, &r->h2set, &cbs, &iocfg, on_tunnel_close, t,
                     &t->io) < 0) {
        scc_free(t);
        if (d)
            relay_legacy_closed(d, SCC_ENOMEM);
        return;
    }
    LIST_INSERT_HEAD(&r->all, t, all);
    r->metrics->tunnel_connects++;
    r->metrics->tls_resumed += t->resumed;
    tunnel_admit(r, t);
}

/* ---- enrolment ---- */

/* Two owners: the connection, and the authority while it works on the
 * request.  Whoever lets go last frees it. */
static void
enroll_unref(struct relay_enroll *e)
{
    if (--e->refs > 0)
        return;
    if (e->r)
        LIST_REMOVE(e, link);
    scc_buf_fini(&e->body);
    scc_free(e);
}

static void
enroll_reply(struct relay_enroll *e, int status, const char *json)
{
    e->replied = true;
    if (status == 200)
        e->r->metrics->enroll_ok++;
    else
        e->r->metrics->enroll_refused++;
    scc_log_info(&e->log, "enrolment %s (HTTP %d)", status == 200 ? "accepted" : "refused", status);
    if (e->s && scc_h2_respond_json(e->s, status, json) < 0)
        scc_h2_stream_reset(e->s, 2);
    scc_h2io_drain(e->io, 0, NULL);
}

static void
authority_reply(void *arg, int status, const char *json)
{
    struct relay_enroll *e = arg;

    if (e->io && e->r) /* else the agent, or the relay, went away meanwhile */
        enroll_reply(e, status, json);
    enroll_unref(e); /* the authority's reference */
}

static void
enroll_on_data(struct scc_h2_stream *s, const uint8_t *data, size_t len, void *arg)
{
    struct relay_enroll *e = arg;

    scc_h2_stream_consume(s, len);
    if (scc_buf_put(&e->body, data, len) < 0 && !e->replied)
        enroll_reply(e, 413,
                     "{\"error\":{\"code\":\"BodyTooLarge\","
                     "\"message\":\"enrolment requests are limited to 16 KiB\"}}");
}

static void
enroll_on_end(struct scc_h2_stream *s, void *arg)
{
    struct relay_enroll *e = arg;

    (void)s;
    if (e->replied || e->asked)
        return;
    e->asked = true;
    e->refs++; /* the authority's reference, dropped in authority_reply */
    e->r->auth.enroll(e->r->auth.arg, (const char *)e->body.data, e->body.len, e->peer,
                      authority_reply, e);
}

static void
enroll_on_close(struct scc_h2_stream *s, uint32_t code, void *arg)
{
    struct relay_enroll *e = arg;

    (void)s, (void)code;
    e->s = NULL;
}

static void
enroll_on_request(struct scc_h2 *h2, struct scc_h2_stream *s, void *arg)
{
    static const struct scc_h2_stream_cbs cbs = {
            .on_data = enroll_on_data, .on_end = enroll_on_end, .on_close = enroll_on_close};
    struct relay_enroll *e = arg;
    const struct scc_h2_head *h = scc_h2_stream_head(s);

    (void)h2;
    if (e->s != NULL || e->asked || strcmp(h->method, "POST") != 0 || h->path == NULL ||
        strcmp(h->path, "/v1/enroll") != 0 || e->r->auth.enroll == NULL) {
        (void)scc_h2_respond_json(s, 404,
                                  "{\"error\":{\"code\":\"NotFound\","
                                  "\"message\":\"only POST /v1/enroll is served here\"}}");
        return;
    }
    e->s = s;
    scc_h2_stream_set_cbs(s, &cbs, e);
}

static void
enroll_on_conn_close(struct scc_h2io *io, int rc, void *arg)
{
    struct relay_enroll *e = arg;

    (void)io, (void)rc;
    e->io = NULL;
    e->s = NULL;
    enroll_unref(e);
}

static void
enroll_open(struct relay_pending *p)
{
    static const struct scc_h2_cbs cbs = {.on_request = enroll_on_request};
    struct relay *r = p->r;
    /* One request, then done: the connection may not linger. */
    struct scc_h2io_cfg iocfg = {.ping_interval_ms = 0, .dead_after_ms = r->cfg.request_timeout_ms};
    struct relay_enroll *e = scc_calloc(1, sizeof(*e));

    if (e == NULL) {
        scc_tio_free(p->tio);
        return;
    }
    e->r = r;
    e->refs = 1;
    LIST_INSERT_HEAD(&r->enrolls, e, link);
    memcpy(e->peer, p->peer, sizeof(e->peer));
    scc_buf_init(&e->body, ENROLL_BODY_MAX);
    scc_log_ctx_init(&e->log, "relay", "conn=%llu peer=%s", (unsigned long long)p->id, p->peer);
    if (scc_h2io_new(r->base, p->tio, SCC_H2_SERVER, &r->h2set, &cbs, &iocfg, enroll_on_conn_close,
                     e, &e->io) < 0)
        enroll_unref(e);
}

/* ---- handshakes ---- */

static void resume_accepting(struct relay *r);

static void
on_handshake(struct scc_tio *tio, int rc, void *arg)
{
    struct relay_pending *p = arg;
    struct relay *r = p->r;
    char alpn[32] = "";

    LIST_REMOVE(p, link);
    r->handshakes--;
    resume_accepting(r);
    if (rc == SCC_ETLS && SSL_get_verify_result(scc_tio_ssl(tio)) != X509_V_OK) {
        /* The certificate was the problem: say which way it was bad. */
        refuse(r, REFUSE_BAD_CERT, p->peer, "client certificate rejected: %s",
               X509_verify_cert_error_string(SSL_get_verify_result(scc_tio_ssl(tio))));
        scc_tio_free(tio);
        scc_free(p);
        return;
    }
    if (rc < 0) {
        refuse(r, rc == SCC_ETIMEOUT ? REFUSE_TIMEOUT : REFUSE_HANDSHAKE, p->peer,
               "TLS handshake failed: %s",
               scc_tio_tls_error(tio)[0] ? scc_tio_tls_error(tio) : scc_strerror(rc));
        scc_tio_free(tio);
        scc_free(p);
        return;
    }
    r->metrics->handshakes_ok++;
    scc_tls_alpn(scc_tio_ssl(tio), alpn, sizeof(alpn));
    if (strcmp(alpn, SCC_ALPN_TUNNEL) == 0)
        relay_tunnel_open(r, tio, p->peer, p->id, NULL);
    else
        enroll_open(p); /* the only other protocol the TLS context accepts */
    scc_free(p);
}

static void
resume_accepting(struct relay *r)
{
    if (!r->draining && r->handshakes < r->cfg.max_handshakes)
        relay_accepting(r, true);
}

static void
accept_one(struct relay *r, int fd, const char *peer)
{
    struct relay_pending *p = scc_calloc(1, sizeof(*p));
    SSL *ssl = NULL;

    if (p == NULL || (ssl = SSL_new(r->tls)) == NULL || scc_tio_new(r->base, fd, &p->tio) < 0) {
        if (p && p->tio == NULL)
            close(fd);
        SSL_free(ssl);
        scc_free(p);
        return;
    }
    p->r = r;
    p->id = ++r->next_conn_id;
    snprintf(p->peer, sizeof(p->peer), "%s", peer);
    (void)scc_sock_tune(fd, &r->tcp_ka);
    if (scc_tio_start_tls(p->tio, ssl, true, r->cfg.handshake_timeout_ms, on_handshake, p) < 0) {
        scc_tio_free(p->tio);
        scc_free(p);
        return;
    }
    LIST_INSERT_HEAD(&r->pending, p, link);
    r->handshakes++;
}

void
relay_accept_free_all(struct relay *r)
{
    struct relay_pending *p;
    struct relay_enroll *e;

    while ((p = LIST_FIRST(&r->pending)) != NULL) {
        LIST_REMOVE(p, link);
        scc_tio_free(p->tio);
        scc_free(p);
    }
    r->handshakes = 0;
    while ((e = LIST_FIRST(&r->enrolls)) != NULL) {
        LIST_REMOVE(e, link);
        e->r = NULL;
        if (e->io)
            scc_h2io_close(e->io, SCC_ECLOSED);
    }
}

void
relay_on_accept(evutil_socket_t lfd, short what, void *arg)
{
    struct relay *r = arg;

    (void)what;
    /* Accept a bounded batch per wake-up so one listener cannot starve
     * the loop, and stop while too many handshakes are in flight: a flood
     * of connections then queues in the kernel, not in our memory. */
    for (int i = 0; i < 64 && r->handshakes < r->cfg.max_handshakes; i++) {
        char peer[SCC_ADDR_STR_MAX];
        int fd, rc;

        if ((rc = scc_sock_accept(lfd, &fd, peer, sizeof(peer))) < 0) {
            if (rc != -EAGAIN && rc != -EINTR)
                scc_log_warn_rc(&r->log, rc, "accept");
            return;
        }
        accept_one(r, fd, peer);
    }
    if (r->handshakes >= r->cfg.max_handshakes)
        relay_accepting(r, false);
}
