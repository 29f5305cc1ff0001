/*
 * relay_legacy.c - nodes in legacy (no SCC) mode: they have public IPs and
 * listen on a management port, and the relay dials *them*, presenting the
 * control plane's certificate.  Once connected, a legacy node is a tunnel
 * like any other: same registry, same HTTP/2 requests, same proxy.
 *
 * Admin routes:
 *   PUT    /v1/legacy-nodes/{ws}/{cluster}/{node}  {"address": "ip:port"}
 *   DELETE /v1/legacy-nodes/{ws}/{cluster}/{node}
 *   GET    /v1/legacy-nodes
 * The control plane (or its provider) registers each legacy VM; the relay
 * keeps a connection to it, redialling with back-off.
 */
#include "relay_int.h"

#include "common/backoff.h"
#include "common/err.h"
#include "common/json.h"
#include "common/mem.h"
#include "common/parse.h"
#include "tunnel/h2body.h"
#include "tunnel/tio.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct relay_dialer {
    struct relay *r;
    struct relay_dialer *next;
    char path[3 * SCC_IDENT_SEG_MAX + 3];
    char address[SCC_ADDR_STR_MAX];
    struct sockaddr_storage ss;
    socklen_t sslen;
    struct scc_backoff bo;
    struct event *timer, *conn_ev;
    int fd;
    struct scc_tio *tio; /* during the handshake */
    bool up, removed;
    uint64_t attempts;
    char last_error[200];
    struct scc_log_ctx log;
};

static void dial(struct relay_dialer *d);

static void
reset(struct relay_dialer *d)
{
    if (d->conn_ev) {
        event_free(d->conn_ev);
        d->conn_ev = NULL;
    }
    if (d->fd >= 0) {
        close(d->fd);
        d->fd = -1;
    }
    if (d->tio) {
        scc_tio_free(d->tio);
        d->tio = NULL;
    }
}

static void
dialer_free(struct relay_dialer *d)
{
    struct relay_dialer **pp;

    for (pp = &d->r->dialers; *pp; pp = &(*pp)->next) {
        if (*pp == d) {
            *pp = d->next;
            break;
        }
    }
    reset(d);
    if (d->timer)
        event_free(d->timer);
    scc_free(d);
}

static void
retry(struct relay_dialer *d, const char *what, int rc)
{
    uint64_t ms = scc_backoff_next(&d->bo);
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

    reset(d);
    snprintf(d->last_error, sizeof(d->last_error), "%s: %s", what, scc_strerror(rc));
    if (d->attempts <= 3 || d->attempts % 20 == 0)
        scc_log_warn(&d->log, "%s; redialling in %llums", d->last_error, (unsigned long long)ms);
    evtimer_add(d->timer, &tv);
}

int
relay_legacy_check(struct relay_dialer *d, const struct relay_tunnel *t, char *msg, size_t cap)
{
    if (strcmp(d->path, t->path) == 0)
        return 0;
    snprintf(msg, cap, "dialled %s for node %s, but its certificate names %s", d->address, d->path,
             t->path);
    return SCC_EAUTH;
}

void
relay_legacy_closed(struct relay_dialer *d, int rc)
{
    d->up = false;
    if (d->removed) {
        dialer_free(d);
        return;
    }
    retry(d, "connection ended", rc ? rc : SCC_ECLOSED);
}

static void
on_handshake(struct scc_tio *tio, int rc, void *arg)
{
    struct relay_dialer *d = arg;

    d->tio = NULL;
    if (rc < 0) {
        char why[160];

        snprintf(why, sizeof(why), "TLS handshake with %s failed (%s)", d->address,
                 scc_tio_tls_error(tio));
        scc_tio_free(tio);
        retry(d, why, rc);
        return;
    }
    scc_backoff_reset(&d->bo);
    d->last_error[0] = '\0';
    d->up = true; /* relay_tunnel_open calls relay_legacy_closed if not */
    relay_tunnel_open(d->r, tio, d->address, ++d->r->next_conn_id, d);
}

static void
on_connected(evutil_socket_t fd, short what, void *arg)
{
    struct relay_dialer *d = arg;
    int rc = (what & EV_TIMEOUT) ? SCC_ETIMEOUT : scc_sock_error(fd);
    SSL *ssl;

    if (rc < 0) {
        retry(d, "connect", rc);
        return;
    }
    event_free(d->conn_ev);
    d->conn_ev = NULL;
    (void)scc_sock_tune(fd, &d->r->tcp_ka);
    rc = scc_tio_new(d->r->base, d->fd, &d->tio);
    d->fd = -1;
    if (rc < 0 || (ssl = SSL_new(d->r->tls_client)) == NULL) {
        retry(d, "TLS setup", rc < 0 ? rc : SCC_ENOMEM);
        return;
    }
    if ((rc = scc_tio_start_tls(d->tio, ssl, false, d->r->cfg.handshake_timeout_ms, on_handshake,
                                d)) < 0)
        retry(d, "TLS setup", rc);
}

static void
dial(struct relay_dialer *d)
{
    uint32_t ms = d->r->cfg.handshake_timeout_ms;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    int rc;

    d->attempts++;
    if ((rc = scc_sock_connect((struct sockaddr *)&d->ss, d->sslen, &d->fd)) < 0) {
        retry(d, "connect", rc);
        return;
    }
    d->conn_ev = event_new(d->r->base, d->fd, EV_WRITE, on_connected, d);
    if (d->conn_ev == NULL || event_add(d->conn_ev, &tv) != 0)
        retry(d, "connect", SCC_ENOMEM);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    dial(arg);
}

static struct relay_dialer *
find(struct relay *r, const char *path)
{
    for (struct relay_dialer *d = r->dialers; d; d = d->next) {
        if (strcmp(d->path, path) == 0 && !d->removed)
            return d;
    }
    return NULL;
}

/* Stop dialling; an established connection is closed and takes the
 * dialer with it (relay_legacy_closed). */
static void
remove_dialer(struct relay *r, struct relay_dialer *d)
{
    struct relay_tunnel *t = relay_find(r, d->path);

    d->removed = true;
    for (; t; t = t->next_same) {
        if (t->dialer == d) {
            relay_unregister(r, t);
            scc_h2io_close(t->io, 0);
            return;
        }
    }
    dialer_free(d);
}

static int
put(struct relay *r, const char *path, const char *address, char *err, size_t cap)
{
    struct relay_dialer *d = find(r, path);
    char host[256];
    uint16_t port;

    if (scc_parse_hostport(address, host, sizeof(host), &port, false) < 0) {
        snprintf(err, cap, "address must be a numeric IP:port");
        return SCC_EINVAL;
    }
    if (d && strcmp(d->address, address) == 0)
        return 0; /* idempotent */
    if (d)
        remove_dialer(r, d);
    if ((d = scc_calloc(1, sizeof(*d))) == NULL)
        return SCC_ENOMEM;
    d->r = r;
    d->fd = -1;
    snprintf(d->path, sizeof(d->path), "%s", path);
    snprintf(d->address, sizeof(d->address), "%s", address);
    scc_backoff_init(&d->bo, 500, 30000);
    scc_log_ctx_init(&d->log, "relay", "legacy node=%s address=%s", path, address);
    if (scc_sock_resolve_numeric(host, port, &d->ss, &d->sslen) < 0 ||
        (d->timer = evtimer_new(r->base, on_timer, d)) == NULL) {
        snprintf(err, cap, "address must be a numeric IP:port");
        scc_free(d);
        return SCC_EINVAL;
    }
    d->next = r->dialers;
    r->dialers = d;
    dial(d);
    return 0;
}

/* ---- admin routes ---- */

struct put_req {
    struct relay *r;
    char path[3 * SCC_IDENT_SEG_MAX + 3];
};

static void
put_body(struct scc_h2_stream *s, json_t *body, void *arg)
{
    struct put_req *q = arg;
    const char *address = NULL;
    char err[200] = "";
    int rc;

    if (body == NULL) {
        scc_free(q);
        return;
    }
    if (scc_json_get_str(body, "address", &address) < 0) {
        scc_h2_reply_error(s, 400, "InvalidParameter", "body needs {\"address\": \"ip:port\"}");
    } else if ((rc = put(q->r, q->path, address, err, sizeof(err))) < 0) {
        scc_h2_reply_error(s, rc == SCC_EINVAL ? 400 : 500, "InvalidParameter", "%s",
                           err[0] ? err : scc_strerror(rc));
    } else {
        scc_log_info(&q->r->log, "legacy node %s registered at %s", q->path, address);
        scc_h2_reply_json(s, 200, json_pack("{s:s, s:s}", "node", q->path, "address", address));
    }
    scc_free(q);
}

static json_t *
list(struct relay *r)
{
    json_t *arr = json_array();

    for (struct relay_dialer *d = r->dialers; arr && d; d = d->next) {
        if (d->removed)
            continue;
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:I, s:s}", "node", d->path,
                                             "address", d->address, "state",
                                             d->up ? "connected" : "dialling", "attempts",
                                             (json_int_t)d->attempts, "last_error", d->last_error));
    }
    return json_pack("{s:o}", "legacy_nodes", arr);
}

static bool
valid_path(const char *path, const struct relay *r)
{
    struct scc_ident id;

    return scc_ident_parse_path(path, r->cfg.trust_domain, &id) == 0;
}

bool
relay_legacy_route(struct relay *r, struct scc_h2_stream *s)
{
    const struct scc_h2_head *h = scc_h2_stream_head(s);
    const char *prefix = "/v1/legacy-nodes";
    size_t n = strlen(prefix);
    const char *rest;
    struct put_req *q;

    if (h->path == NULL || strncmp(h->path, prefix, n) != 0 ||
        (h->path[n] != '\0' && h->path[n] != '/'))
        return false;
    rest = h->path[n] == '/' ? h->path + n + 1 : "";
    if (r->tls_client == NULL) {
        scc_h2_reply_error(s, 501, "NotConfigured", "this relay has no control-plane certificate");
    } else if (strcmp(h->method, "GET") == 0 && *rest == '\0') {
        scc_h2_reply_json(s, 200, list(r));
    } else if (!valid_path(rest, r)) {
        scc_h2_reply_error(s, 400, "InvalidParameter", "expected /v1/legacy-nodes/ws/cluster/node");
    } else if (strcmp(h->method, "DELETE") == 0) {
        struct relay_dialer *d = find(r, rest);

        if (d)
            remove_dialer(r, d);
        (void)scc_h2_respond(s, d ? 204 : 404, NULL, 0, true);
    } else if (strcmp(h->method, "PUT") == 0 && (q = scc_calloc(1, sizeof(*q))) != NULL) {
        q->r = r;
        snprintf(q->path, sizeof(q->path), "%s", rest);
        if (scc_h2_body_collect(r->base, s, 4096, r->cfg.request_timeout_ms, put_body, q) < 0) {
            scc_free(q);
            scc_h2_stream_reset(s, 2);
        }
    } else {
        scc_h2_reply_error(s, 405, "MethodNotAllowed", "use GET, PUT or DELETE");
    }
    return true;
}

void
relay_legacy_free_all(struct relay *r)
{
    while (r->dialers) {
        struct relay_dialer *d = r->dialers;

        /* Tunnels are closed by relay_free; detach them from d first. */
        for (struct relay_tunnel *t = relay_find(r, d->path); t; t = t->next_same) {
            if (t->dialer == d)
                t->dialer = NULL;
        }
        dialer_free(d);
    }
}
