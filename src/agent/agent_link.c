#include "agent_link.h"

#include "agent.h"
#include "agent_enroll.h"
#include "agent_proxy.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/mem.h"
#include "common/parse.h"
#include "common/time.h"
#include "common/tls.h"
#include "tunnel/h2io.h"
#include "tunnel/sock.h"
#include "tunnel/tio.h"

#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum link_state { L_IDLE, L_WAIT, L_RESOLVING, L_CONNECTING, L_PROXY, L_HANDSHAKE, L_UP };

static const char *const state_names[] = {"idle",  "waiting",   "resolving", "connecting",
                                          "proxy", "handshake", "up"};

struct agent_link {
    struct agent *a;
    char host[256];
    uint16_t port;
    bool use_proxy;
    struct agent_proxy proxy;
    enum link_state st;
    struct scc_backoff bo;
    struct event *timer;   /* back-off wait, or the current step's deadline */
    struct event *sock_ev; /* connect completion and proxy exchange */
    struct evdns_getaddrinfo_request *dnsreq;
    int fd;                 /* before the TLS transport owns it */
    struct scc_tio *hs_tio; /* during the TLS handshake */
    struct scc_buf proxy_in;
    size_t proxy_sent, proxy_len;
    char proxy_req[1024];
    struct scc_h2io *io; /* the live connection */
    bool enrolling;
    bool stopped;
    unsigned draining;    /* old tunnels finishing after a GOAWAY */
    SSL_SESSION *session; /* for resumption */
    struct scc_log_ctx log;
    uint64_t up_since_ms;
    uint64_t connects;
    bool resumed;
    char last_error[512];
};

static int ssl_link_index = -1;

static void link_fail(struct agent_link *l, const char *what, int rc);
static void schedule(struct agent_link *l, uint64_t delay_ms);

static void
set_timer(struct agent_link *l, uint64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

    evtimer_add(l->timer, &tv);
}

static void
reset_socket(struct agent_link *l)
{
    if (l->dnsreq) {
        evdns_getaddrinfo_cancel(l->dnsreq);
        l->dnsreq = NULL;
    }
    if (l->sock_ev) {
        event_free(l->sock_ev);
        l->sock_ev = NULL;
    }
    if (l->fd >= 0) {
        close(l->fd);
        l->fd = -1;
    }
    if (l->hs_tio) {
        scc_tio_free(l->hs_tio);
        l->hs_tio = NULL;
    }
    scc_buf_reset(&l->proxy_in);
    evtimer_del(l->timer);
}

/* ---- after the handshake ---- */

static void
on_conn_close(struct scc_h2io *io, int rc, void *arg)
{
    struct agent_link *l = arg;
    bool was_enrolling = l->enrolling;

    if (io != l->io) {
        l->draining--; /* an old tunnel that was draining after GOAWAY */
        return;
    }
    l->io = NULL;
    l->enrolling = false;
    if (l->stopped) {
        l->st = L_IDLE;
        return;
    }
    if (was_enrolling && l->a->enrolled) {
        if (agent_is_legacy(l->a)) {
            /* Legacy mode: the control plane dials us; our job is done. */
            l->stopped = true;
            l->st = L_IDLE;
            agent_legacy_start(l->a);
            return;
        }
        schedule(l, 0); /* certificate in hand: dial the tunnel at once */
        return;
    }
    if (l->st == L_UP) {
        scc_log_warn_rc(&l->log, rc, "tunnel down after %llus",
                        (unsigned long long)((scc_time_mono_ms() - l->up_since_ms) / 1000));
    }
    link_fail(l, was_enrolling ? "enrolment" : "tunnel", rc);
}

/* "retry-after=N" in a GOAWAY's debug data: the relay is shedding load. */
static uint64_t
retry_after_ms(const uint8_t *debug, size_t len)
{
    char text[64];
    uint64_t secs = 0;

    if (len >= sizeof(text) || len < 13 || memcmp(debug, "retry-after=", 12) != 0)
        return 0;
    memcpy(text, debug + 12, len - 12);
    text[len - 12] = '\0';
    return scc_parse_u64(text, 1, 86400, &secs) == 0 ? secs * 1000 : 0;
}

static void
on_goaway(struct scc_h2 *h2, uint32_t code, const uint8_t *debug, size_t len, void *arg)
{
    struct agent_link *l = arg;
    uint64_t wait = retry_after_ms(debug, len);

    (void)h2;
    scc_log_info(&l->log, "relay sent GOAWAY code=%u%s%.*s", code, len ? " debug=" : "",
                 (int)(len < 80 ? len : 80), (const char *)debug);
    if (l->io == NULL || l->enrolling)
        return;
    /* Let the old connection finish its streams on its own, and dial a
     * fresh one: no request in flight is cut, no new one waits. */
    scc_h2io_drain(l->io, 0, NULL);
    l->io = NULL;
    l->draining++;
    l->st = L_WAIT;
    if (wait)
        scc_backoff_retry_after(&l->bo, wait);
    schedule(l, scc_backoff_next(&l->bo));
}

static void
on_request(struct scc_h2 *h2, struct scc_h2_stream *s, void *arg)
{
    agent_serve_request(h2, s, ((struct agent_link *)arg)->a);
}

static void
tunnel_up(struct agent_link *l)
{
    static const struct scc_h2_cbs cbs = {.on_request = on_request, .on_goaway = on_goaway};
    struct scc_h2io_cfg iocfg = {.ping_interval_ms = l->a->cfg->keepalive_ms,
                                 .dead_after_ms = l->a->cfg->dead_after_ms};
    struct scc_tio *tio = l->hs_tio;
    int rc;

    l->hs_tio = NULL;
    rc = scc_h2io_new(l->a->base, tio, SCC_H2_SERVER, &l->a->h2set, &cbs, &iocfg, on_conn_close, l,
                      &l->io);
    if (rc < 0) {
        link_fail(l, "tunnel setup", rc);
        return;
    }
    l->st = L_UP;
    l->up_since_ms = scc_time_mono_ms();
    scc_backoff_reset(&l->bo);
    l->last_error[0] = '\0';
    scc_log_info(&l->log, "tunnel up identity=%s resumed=%s", l->a->ident_uri,
                 l->resumed ? "yes" : "no");
    agent_after_tunnel_up(l->a);
}

static void
enroll_done(void *arg, int rc)
{
    struct agent_link *l = arg;

    if (rc == SCC_EAUTH) {
        /* The token was refused for good (used, expired, other node):
         * retrying cannot help; the operator needs a new token. */
        agent_fatal(l->a, "enrolment refused; start the agent with a new join token");
        return;
    }
    if (l->io)
        scc_h2io_drain(l->io, 0, NULL);
}

static void
enroll_start(struct agent_link *l)
{
    static const struct scc_h2_cbs cbs = {0};
    struct scc_h2io_cfg iocfg = {.ping_interval_ms = 0,
                                 .dead_after_ms = l->a->cfg->request_timeout_ms};
    struct scc_tio *tio = l->hs_tio;
    int rc;

    l->hs_tio = NULL;
    rc = scc_h2io_new(l->a->base, tio, SCC_H2_CLIENT, &l->a->h2set, &cbs, &iocfg, on_conn_close, l,
                      &l->io);
    if (rc < 0) {
        link_fail(l, "enrolment setup", rc);
        return;
    }
    l->enrolling = true;
    l->st = L_UP;
    if ((rc = agent_enroll_request(l->a, scc_h2io_session(l->io), l->host, enroll_done, l)) < 0)
        scc_h2io_close(l->io, rc);
}

static void
on_handshake(struct scc_tio *t, int rc, void *arg)
{
    struct agent_link *l = arg;
    char alpn[32];
    const char *want = l->a->enrolled ? SCC_ALPN_TUNNEL : SCC_ALPN_ENROLL;
    long vr;

    if (rc < 0) {
        vr = SSL_get_verify_result(scc_tio_ssl(t));
        if (vr != X509_V_OK)
            snprintf(l->last_error, sizeof(l->last_error), "relay certificate: %s",
                     X509_verify_cert_error_string(vr));
        else
            snprintf(l->last_error, sizeof(l->last_error), "%s", scc_tio_tls_error(t));
        link_fail(l, "TLS handshake", rc);
        return;
    }
    evtimer_del(l->timer);
    scc_tls_alpn(scc_tio_ssl(t), alpn, sizeof(alpn));
    if (strcmp(alpn, want) != 0) {
        snprintf(l->last_error, sizeof(l->last_error), "relay chose ALPN '%s', wanted '%s'", alpn,
                 want);
        link_fail(l, "TLS handshake", SCC_EPROTO);
        return;
    }
    l->resumed = SSL_session_reused(scc_tio_ssl(t)) == 1;
    if (l->a->enrolled)
        tunnel_up(l);
    else
        enroll_start(l);
}

static void
start_tls(struct agent_link *l)
{
    SSL_CTX *ctx = l->a->enrolled ? l->a->tls_tunnel : l->a->tls_enroll;
    SSL *ssl = NULL;
    int rc, fd = l->fd;

    l->fd = -1;
    if (l->sock_ev) {
        event_free(l->sock_ev);
        l->sock_ev = NULL;
    }
    if ((rc = scc_tio_new(l->a->base, fd, &l->hs_tio)) < 0) {
        link_fail(l, "TLS setup", rc); /* scc_tio_new closed fd */
        return;
    }
    rc = SCC_ENOMEM;
    if ((ssl = SSL_new(ctx)) == NULL)
        goto fail;
    SSL_set_ex_data(ssl, ssl_link_index, l);
    if (l->session && l->a->enrolled)
        (void)SSL_set_session(ssl, l->session);
    if ((rc = scc_tls_set_peer_name(ssl, l->host)) < 0)
        goto fail;
    l->st = L_HANDSHAKE;
    rc = scc_tio_start_tls(l->hs_tio, ssl, false, l->a->cfg->handshake_timeout_ms, on_handshake, l);
    ssl = NULL; /* the transport owns it, even on failure */
    if (rc == 0)
        return;
fail:
    SSL_free(ssl);
    link_fail(l, "TLS setup", rc);
}

/* ---- the proxy exchange ---- */

static void
on_proxy_io(evutil_socket_t fd, short what, void *arg)
{
    struct agent_link *l = arg;
    char buf[2048];
    size_t head = 0;
    ssize_t n;
    int status = 0, rc;

    if (what & EV_WRITE) {
        n = write(fd, l->proxy_req + l->proxy_sent, l->proxy_len - l->proxy_sent);
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            link_fail(l, "proxy write", -errno);
            return;
        }
        if (n > 0)
            l->proxy_sent += (size_t)n;
        if (l->proxy_sent == l->proxy_len) {
            event_del(l->sock_ev);
            event_assign(l->sock_ev, l->a->base, fd, EV_READ | EV_PERSIST, on_proxy_io, l);
            event_add(l->sock_ev, NULL);
        }
        return;
    }
    /* Read at most to the end of the head: the first TLS bytes are ours. */
    n = read(fd, buf,
             sizeof(buf) < AGENT_PROXY_HEAD_MAX - l->proxy_in.len
                     ? sizeof(buf)
                     : AGENT_PROXY_HEAD_MAX - l->proxy_in.len);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        snprintf(l->last_error, sizeof(l->last_error), "proxy %.200s:%u closed the connection",
                 l->proxy.host, l->proxy.port);
        link_fail(l, "proxy", n == 0 ? SCC_ECLOSED : -errno);
        return;
    }
    if (n < 0 || scc_buf_put(&l->proxy_in, buf, (size_t)n) < 0)
        return;
    rc = agent_proxy_parse_response((const char *)l->proxy_in.data, l->proxy_in.len, &status,
                                    &head);
    if (rc == 0)
        return;
    if (rc < 0 || status != 200 || head != l->proxy_in.len) {
        snprintf(l->last_error, sizeof(l->last_error), "proxy refused CONNECT: %.60s",
                 rc < 0 ? "malformed response" : (const char *)l->proxy_in.data);
        for (char *p = l->last_error; *p; p++) {
            if (*p == '\r' || *p == '\n')
                *p = ' ';
        }
        link_fail(l, "proxy", SCC_EPROTO);
        return;
    }
    start_tls(l);
}

static void
proxy_start(struct agent_link *l)
{
    int rc = agent_proxy_request(&l->proxy, l->host, l->port, l->proxy_req, sizeof(l->proxy_req),
                                 &l->proxy_len);

    if (rc < 0) {
        link_fail(l, "proxy", rc);
        return;
    }
    l->proxy_sent = 0;
    l->st = L_PROXY;
    event_del(l->sock_ev);
    event_assign(l->sock_ev, l->a->base, l->fd, EV_WRITE | EV_PERSIST, on_proxy_io, l);
    event_add(l->sock_ev, NULL);
}

/* ---- TCP ---- */

static void
on_connected(evutil_socket_t fd, short what, void *arg)
{
    struct agent_link *l = arg;
    int rc = scc_sock_error(fd);

    (void)what;
    if (rc < 0) {
        snprintf(l->last_error, sizeof(l->last_error), "%.200s:%u: %.200s",
                 l->use_proxy ? l->proxy.host : l->host, l->use_proxy ? l->proxy.port : l->port,
                 scc_strerror(rc));
        link_fail(l, "connect", rc);
        return;
    }
    (void)scc_sock_tune(fd, &l->a->tcp_ka);
    if (l->use_proxy)
        proxy_start(l);
    else
        start_tls(l);
}

static void
connect_to(struct agent_link *l, const struct sockaddr *sa, socklen_t len)
{
    int rc;

    if ((rc = scc_sock_connect(sa, len, &l->fd)) < 0) {
        link_fail(l, "connect", rc);
        return;
    }
    l->st = L_CONNECTING;
    l->connects++;
    l->sock_ev = event_new(l->a->base, l->fd, EV_WRITE, on_connected, l);
    if (l->sock_ev == NULL) {
        link_fail(l, "connect", SCC_ENOMEM);
        return;
    }
    event_add(l->sock_ev, NULL);
    set_timer(l, l->a->cfg->connect_timeout_ms);
}

static void
on_resolved(int err, struct evutil_addrinfo *res, void *arg)
{
    struct agent_link *l = arg;

    l->dnsreq = NULL;
    if (err != 0 || res == NULL) {
        snprintf(l->last_error, sizeof(l->last_error), "cannot resolve %.200s: %.200s",
                 l->use_proxy ? l->proxy.host : l->host, evutil_gai_strerror(err));
        if (res)
            evutil_freeaddrinfo(res);
        if (err != EVUTIL_EAI_CANCEL)
            link_fail(l, "resolve", SCC_ENOTFOUND);
        return;
    }
    connect_to(l, res->ai_addr, (socklen_t)res->ai_addrlen);
    evutil_freeaddrinfo(res);
}

static void
resolve(struct agent_link *l)
{
    const char *host = l->use_proxy ? l->proxy.host : l->host;
    uint16_t port = l->use_proxy ? l->proxy.port : l->port;
    struct evutil_addrinfo hints;
    struct sockaddr_storage ss;
    socklen_t len;
    char service[8];

    if (scc_sock_resolve_numeric(host, port, &ss, &len) == 0) {
        connect_to(l, (struct sockaddr *)&ss, len);
        return;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(service, sizeof(service), "%u", port);
    l->st = L_RESOLVING;
    set_timer(l, l->a->cfg->connect_timeout_ms);
    /* The request may complete before this returns (cached or failing
     * at once), in which case it returns NULL and on_resolved has run. */
    l->dnsreq = evdns_getaddrinfo(l->a->dns, host, service, &hints, on_resolved, l);
}

/* ---- the state machine's edges ---- */

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct agent_link *l = arg;

    (void)fd, (void)what;
    if (l->st == L_WAIT || l->st == L_IDLE) {
        resolve(l);
        return;
    }
    snprintf(l->last_error, sizeof(l->last_error), "%s did not finish within %ums",
             state_names[l->st], l->a->cfg->connect_timeout_ms);
    link_fail(l, state_names[l->st], SCC_ETIMEOUT);
}

static void
schedule(struct agent_link *l, uint64_t delay_ms)
{
    reset_socket(l);
    l->st = L_WAIT;
    if (!l->stopped)
        set_timer(l, delay_ms);
}

static void
link_fail(struct agent_link *l, const char *what, int rc)
{
    uint64_t delay;

    reset_socket(l);
    if (l->stopped) {
        l->st = L_IDLE;
        return;
    }
    delay = scc_backoff_next(&l->bo);
    scc_log_warn(&l->log, "%s failed: %s%s%s; retrying in %llums", what, scc_strerror(rc),
                 l->last_error[0] ? ": " : "", l->last_error, (unsigned long long)delay);
    schedule(l, delay);
}

void
agent_link_start(struct agent_link *l)
{
    l->stopped = false;
    schedule(l, 0);
}

void
agent_link_stop(struct agent_link *l)
{
    l->stopped = true;
    reset_socket(l);
    if (l->io)
        scc_h2io_drain(l->io, 0, "agent stopping");
    else
        l->st = L_IDLE;
}

struct agent *
agent_link_agent(struct agent_link *l)
{
    return l->a;
}

bool
agent_link_is_up(const struct agent_link *l)
{
    return l->st == L_UP && l->io && !l->enrolling;
}

bool
agent_link_is_idle(const struct agent_link *l)
{
    return l->draining == 0 && (l->st == L_IDLE || (l->stopped && l->io == NULL));
}

void
agent_link_forget_session(struct agent_link *l)
{
    SSL_SESSION_free(l->session);
    l->session = NULL;
}

int
agent_tls_new_session(SSL *ssl, SSL_SESSION *sess)
{
    struct agent_link *l = SSL_get_ex_data(ssl, ssl_link_index);

    if (l == NULL)
        return 0;
    SSL_SESSION_free(l->session);
    l->session = sess;
    return 1; /* we keep the reference */
}

int
agent_link_status(const struct agent_link *l, struct scc_buf *b)
{
    return scc_buf_printf(
            b,
            "{\"relay\":\"%s:%u\",\"state\":\"%s\",\"connects\":%llu,\"up_seconds\":%llu,"
            "\"rtt_us\":%llu,\"resumed\":%s,\"proxy\":%s}",
            l->host, l->port, state_names[l->st], (unsigned long long)l->connects,
            l->st == L_UP ? (unsigned long long)((scc_time_mono_ms() - l->up_since_ms) / 1000)
                          : 0ull,
            l->io ? (unsigned long long)scc_h2io_rtt_us(l->io) : 0ull,
            l->resumed ? "true" : "false", l->use_proxy ? "true" : "false");
}

int
agent_link_new(struct agent *a, const char *relay, struct agent_link **out)
{
    struct agent_link *l = scc_calloc(1, sizeof(*l));
    int rc = SCC_ENOMEM;

    *out = NULL;
    if (l == NULL)
        return rc;
    l->a = a;
    l->fd = -1;
    l->st = L_IDLE;
    l->stopped = true;
    scc_buf_init(&l->proxy_in, AGENT_PROXY_HEAD_MAX);
    scc_backoff_init(&l->bo, a->cfg->backoff_base_ms, a->cfg->backoff_max_ms);
    if (ssl_link_index < 0)
        ssl_link_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    if ((rc = scc_parse_hostport(relay, l->host, sizeof(l->host), &l->port, false)) < 0)
        goto fail;
    if (a->cfg->proxy && a->cfg->proxy[0] && !agent_proxy_bypass(a->cfg->no_proxy, l->host)) {
        if ((rc = agent_proxy_parse_url(a->cfg->proxy, &l->proxy)) < 0)
            goto fail;
        l->use_proxy = true;
    }
    rc = SCC_ENOMEM;
    if ((l->timer = evtimer_new(a->base, on_timer, l)) == NULL)
        goto fail;
    scc_log_ctx_init(&l->log, "agent", "relay=%s%s%s", relay, l->use_proxy ? " proxy=" : "",
                     l->use_proxy ? l->proxy.host : "");
    *out = l;
    return 0;
fail:
    agent_link_free(l);
    return rc;
}

void
agent_link_free(struct agent_link *l)
{
    if (l == NULL)
        return;
    reset_socket(l);
    if (l->io) {
        scc_h2io_detach(l->io);
        scc_h2io_close(l->io, 0);
    }
    if (l->timer)
        event_free(l->timer);
    SSL_SESSION_free(l->session);
    scc_buf_fini(&l->proxy_in);
    scc_free(l);
}
