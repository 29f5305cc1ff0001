/*
 * ctl_dbx_proxy.c - the driver proxy (databricks-compat.md §8):
 *
 *   https://<workspace>/driver-proxy-api/o/<org-id>/<cluster-id>/<port>/<path>
 *   (and /driver-proxy/..., with the same bearer token)
 *
 * reaches 127.0.0.1:<port> on the cluster's driver, a service that listens
 * only on the node's loopback, through a CONNECT stream of the driver's
 * own tunnel.  The API listener hands the whole connection over: the
 * request goes on with its path, query and headers (never the control
 * plane's Authorization, and Connection: close unless it is a WebSocket
 * upgrade), and from then on bytes flow both ways until either side ends,
 * so responses of any size and WebSockets pass.  Each direction holds at
 * most one stream window or PROXY_HIGH bytes: the driver's bytes are
 * credited back only once the client has taken them.
 */
#include "ctl_dbx_int.h"

#include "ctl_api_http.h"

#include "common/err.h"
#include "common/mem.h"
#include "relay/relay.h"
#include "tunnel/h2.h"

#include <ctype.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PROXY_HIGH    (256u << 10) /* client output held before the driver waits */
#define PROXY_IDLE_S  600          /* a quiet connection (a WebSocket) lives this long */
#define PROXY_WRITE_S 60

struct dbx_proxy {
    struct dbx *d;
    LIST_ENTRY(dbx_proxy) link; /* in d->proxies */
    struct bufferevent *bev;
    struct scc_h2_stream *s;
    struct event *timer; /* the driver's answer to CONNECT */
    char ws[24];
    bool connected; /* the driver dialled the port: bytes flow */
    bool ended;     /* the driver's side ended: close once flushed */
    bool failed;    /* an error answer is on its way out: close once flushed */
    size_t owed;    /* driver bytes in the client's output, not yet credited */
    char what[160]; /* "port 8765 of the driver of cluster X", for messages */
};

static void
proxy_free(struct dbx_proxy *p)
{
    struct dbx *d = p->d;

    if (p->s) {
        scc_h2_stream_set_cbs(p->s, NULL, NULL);
        scc_h2_stream_reset(p->s, NGHTTP2_CANCEL);
    }
    if (p->bev)
        bufferevent_free(p->bev);
    if (p->timer)
        event_free(p->timer);
    LIST_REMOVE(p, link);
    d->nproxies--;
    scc_free(p);
}

/* An answer of our own (the driver never answered): JSON, then close. */
static void fail(struct dbx_proxy *p, int status, const char *code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void
fail(struct dbx_proxy *p, int status, const char *code, const char *fmt, ...)
{
    struct evbuffer *out = bufferevent_get_output(p->bev);
    char msg[512];
    json_t *o;
    char *text;
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    o = json_pack("{s:s, s:s}", "error_code", code, "message", msg);
    text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    evbuffer_add_printf(out,
                        "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: "
                        "%zu\r\nConnection: close\r\n%s%s%s\r\n%s",
                        status, ctl_http_reason(status), text ? strlen(text) : 0,
                        p->ws[0] ? "X-Databricks-Org-Id: " : "", p->ws, p->ws[0] ? "\r\n" : "",
                        text ? text : "");
    free(text); /* jansson's */
    p->failed = true;
    bufferevent_disable(p->bev, EV_READ);
    if (p->s) {
        scc_h2_stream_set_cbs(p->s, NULL, NULL);
        scc_h2_stream_reset(p->s, NGHTTP2_CANCEL);
        p->s = NULL;
    }
}

/* ---- the driver's side ---- */

static void
on_head(struct scc_h2_stream *s, void *arg)
{
    struct dbx_proxy *p = arg;
    int status = scc_h2_stream_head(s)->status;

    evtimer_del(p->timer);
    if (status == 200) {
        p->connected = true;
        return;
    }
    /* The agent's answer says why: nothing listens, or not allowed. */
    if (status == 403)
        fail(p, 403, "PERMISSION_DENIED", "The driver does not allow %s.", p->what);
    else
        fail(p, 502, "BAD_GATEWAY", "Nothing answers on %s.", p->what);
}

static void
on_data(struct scc_h2_stream *s, const uint8_t *data, size_t len, void *arg)
{
    struct dbx_proxy *p = arg;
    struct evbuffer *out = bufferevent_get_output(p->bev);

    if (!p->connected || evbuffer_add(out, data, len) < 0) {
        scc_h2_stream_consume(s, len);
        return;
    }
    if (evbuffer_get_length(out) <= PROXY_HIGH)
        scc_h2_stream_consume(s, len);
    else
        p->owed += len; /* credited when the client has taken it: on_write */
}

static void
on_end(struct scc_h2_stream *s, void *arg)
{
    struct dbx_proxy *p = arg;

    (void)s;
    p->ended = true;
    if (evbuffer_get_length(bufferevent_get_output(p->bev)) == 0)
        proxy_free(p);
}

static void
on_drain(struct scc_h2_stream *s, size_t n, void *arg)
{
    struct dbx_proxy *p = arg;

    (void)s, (void)n;
    if (!p->failed)
        bufferevent_enable(p->bev, EV_READ);
}

static void
on_close(struct scc_h2_stream *s, uint32_t code, void *arg)
{
    struct dbx_proxy *p = arg;

    (void)s;
    p->s = NULL;
    if (!p->connected && !p->failed)
        fail(p, 502, "BAD_GATEWAY", "The driver's tunnel closed before it reached %s.", p->what);
    else if (code != 0 && !p->ended)
        proxy_free(p); /* cut mid-answer: the client must see it was cut */
    else if (code == 0 && !p->ended)
        on_end(NULL, p);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct dbx_proxy *p = arg;

    (void)fd, (void)what;
    fail(p, 504, "TEMPORARILY_UNAVAILABLE", "The driver did not answer for %s in time.", p->what);
}

/* ---- the client's side ---- */

static void
on_read(struct bufferevent *bev, void *arg)
{
    struct dbx_proxy *p = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t room;

    if (p->s == NULL || p->failed) {
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    room = scc_h2_stream_space(p->s);
    if (room > 0) {
        (void)evbuffer_remove_buffer(in, scc_h2_stream_queue(p->s), room);
        scc_h2_stream_kick(p->s);
    }
    if (evbuffer_get_length(in) > 0)
        bufferevent_disable(bev, EV_READ); /* on_drain resumes */
}

static void
on_write(struct bufferevent *bev, void *arg)
{
    struct dbx_proxy *p = arg;

    if (p->owed && p->s) {
        scc_h2_stream_consume(p->s, p->owed);
        p->owed = 0;
    }
    if ((p->ended || p->failed) && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        proxy_free(p);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
    struct dbx_proxy *p = arg;

    (void)bev;
    if ((what & BEV_EVENT_EOF) && p->s && !p->failed && !(what & BEV_EVENT_ERROR)) {
        /* The client is done sending; the answer may still come. */
        (void)scc_h2_stream_end(p->s);
        bufferevent_disable(p->bev, EV_READ);
        return;
    }
    proxy_free(p);
}

/* ---- the request ---- */

bool
ctl_dbx_is_proxy_path(const char *path)
{
    return path && (strncmp(path, "/driver-proxy-api/o/", 20) == 0 ||
                    strncmp(path, "/driver-proxy/o/", 16) == 0);
}

/* Is header line [p, p+n) the named header? */
static bool
is_header(const char *p, size_t n, const char *name)
{
    size_t len = strlen(name);

    return n > len && p[len] == ':' && strncasecmp(p, name, len) == 0;
}

/* Headers that describe this hop, not the request: never forwarded. */
static bool
hop_header(const char *p, size_t n)
{
    static const char *const drop[] = {
            "authorization",    "host",   "connection", "keep-alive",        "proxy-authorization",
            "proxy-connection", "te",     "trailer",    "transfer-encoding", "content-length",
            "expect",           "upgrade"};

    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
        if (is_header(p, n, drop[i]))
            return true;
    return false;
}

/* The value of header name in the raw head (into out), or false. */
static bool
header_value(const char *head, size_t len, const char *name, char *out, size_t cap)
{
    for (const char *p = head, *end = head + len; p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p), nl = strlen(name);

        if (is_header(p, n, name)) {
            const char *v = p + nl + 1;

            while (v < p + n && (*v == ' ' || *v == '\t'))
                v++;
            n = (size_t)(p + n - v);
            while (n && (v[n - 1] == '\r' || v[n - 1] == ' '))
                n--;
            snprintf(out, cap, "%.*s", (int)n, v);
            return true;
        }
        p = eol ? eol + 1 : end;
    }
    return false;
}

/* Does a comma-separated header value hold token (any case)? */
static bool
has_token(const char *value, const char *token)
{
    size_t n = strlen(token);

    for (const char *p = value; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (strncasecmp(p, token, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
            return true;
        while (*p && *p != ',')
            p++;
    }
    return false;
}

/* The request as the driver's service sees it: its own Host, no hop
 * headers, the body with a Content-Length. */
static int
forward_head(struct evbuffer *q, const struct ctl_dbx_proxy_req *req, const char *rest,
             unsigned port)
{
    const char *head = req->head, *end = req->head + req->head_len;
    char upgrade[64] = "", conn[128] = "";
    bool ws = header_value(head, req->head_len, "upgrade", upgrade, sizeof(upgrade)) &&
              header_value(head, req->head_len, "connection", conn, sizeof(conn)) &&
              has_token(conn, "upgrade");
    const char *p = memchr(head, '\n', req->head_len);

    evbuffer_add_printf(q, "%s /%s%s%s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n", req->method, rest,
                        req->query ? "?" : "", req->query ? req->query : "", port);
    for (p = p ? p + 1 : end; p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t n = eol ? (size_t)(eol + 1 - p) : (size_t)(end - p);

        if (n > 2 && !hop_header(p, n))
            evbuffer_add(q, p, n);
        p += n;
    }
    if (ws)
        evbuffer_add_printf(q, "Connection: Upgrade\r\nUpgrade: %s\r\n", upgrade);
    else
        evbuffer_add_printf(q, "Connection: close\r\n");
    if (req->body_len || (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")))
        evbuffer_add_printf(q, "Content-Length: %zu\r\n", req->body_len);
    evbuffer_add_printf(q, "X-Forwarded-Proto: https\r\nX-Forwarded-Host: %s\r\n\r\n", req->host);
    return req->body_len ? evbuffer_add(q, req->body, req->body_len) : 0;
}

/* /driver-proxy[-api]/o/<org>/<cluster>/<port>[/<rest>]: the parts. */
static bool
parse_path(const char *path, char *org, char *cluster, unsigned *port, const char **rest)
{
    const char *p = strchr(path + 1, '/') + 3; /* past "/o/" */
    char portbuf[8];
    char *endp;
    long v;

    if (sscanf(p, "%23[0-9]/%63[A-Za-z0-9._-]/%7[0-9]", org, cluster, portbuf) != 3)
        return false;
    v = strtol(portbuf, &endp, 10);
    if (*endp || v < 1 || v > 65535)
        return false;
    *port = (unsigned)v;
    p += strlen(org) + strlen(cluster) + strlen(portbuf) + 2;
    if (*p != '\0' && *p != '/')
        return false;
    *rest = *p ? p + 1 : "";
    return true;
}

static struct dbx_proxy *
proxy_new(struct dbx *d, struct bufferevent *bev)
{
    struct timeval idle = {PROXY_IDLE_S, 0}, wr = {PROXY_WRITE_S, 0};
    struct dbx_proxy *p = scc_calloc(1, sizeof(*p));

    if (p == NULL || (p->timer = evtimer_new(d->c->base, on_timeout, p)) == NULL) {
        scc_free(p);
        bufferevent_free(bev);
        return NULL;
    }
    p->d = d;
    p->bev = bev;
    LIST_INSERT_HEAD(&d->proxies, p, link);
    d->nproxies++;
    bufferevent_setcb(bev, on_read, on_write, on_event, p);
    bufferevent_setwatermark(bev, EV_WRITE, PROXY_HIGH / 2, 0);
    bufferevent_set_timeouts(bev, &idle, &wr);
    bufferevent_disable(bev, EV_READ);
    return p;
}

/* Checks, then the CONNECT; false after answering. */
static bool
proxy_open(struct dbx_proxy *p, const struct ctl_dbx_proxy_req *req)
{
    static const struct scc_h2_stream_cbs cbs = {.on_head = on_head,
                                                 .on_data = on_data,
                                                 .on_end = on_end,
                                                 .on_drain = on_drain,
                                                 .on_close = on_close};
    struct timeval tv = {DBX_NODE_CALL_MS / 1000, 0};
    char org[24], cid[64], user[64], target[32];
    const char *rest = "", *driver;
    struct dbx_ws ws;
    unsigned port = 0;
    json_t *cl;

    if (dbx_authorize(p->d, req->host, req->authorization, false, &ws, user, sizeof(user)) < 0) {
        fail(p, 401, "UNAUTHENTICATED", "Invalid access token.");
        return false;
    }
    snprintf(p->ws, sizeof(p->ws), "%s", ws.id);
    if (!parse_path(req->path, org, cid, &port, &rest) ||
        (strcmp(org, "0") != 0 && strcmp(org, ws.id) != 0)) {
        fail(p, 404, "ENDPOINT_NOT_FOUND",
             "No API found for '%s %.200s': the driver proxy is "
             "/driver-proxy-api/o/<0 or %s>/<cluster id>/<port>/<path>",
             req->method, req->path, ws.id);
        return false;
    }
    snprintf(p->what, sizeof(p->what), "port %u of the driver of cluster %s", port, cid);
    if (!dbx_cluster_visible(cl = dbx_get(p->d, ws.id, DBX_CLUSTER, cid))) {
        fail(p, 400, "INVALID_PARAMETER_VALUE", "Cluster %s does not exist", cid);
        return false;
    }
    if ((driver = dbx_cluster_driver(cl)) == NULL) {
        fail(p, 400, "INVALID_STATE", "Cluster %s is not running (its state is %s).", cid,
             json_string_value(json_object_get(cl, "state")));
        return false;
    }
    snprintf(target, sizeof(target), "127.0.0.1:%u", port);
    if (p->d->relay == NULL || relay_connect(p->d->relay, driver, target, &cbs, p, &p->s) < 0) {
        fail(p, 502, "BAD_GATEWAY", "The driver of cluster %s has no tunnel to this relay now.",
             cid);
        return false;
    }
    /* The request goes out with the CONNECT: the agent keeps early bytes. */
    if (forward_head(scc_h2_stream_queue(p->s), req, rest, port) < 0) {
        fail(p, 500, "INTERNAL_ERROR", "out of memory");
        return false;
    }
    scc_h2_stream_kick(p->s);
    evtimer_add(p->timer, &tv);
    bufferevent_enable(p->bev, EV_READ);
    if (evbuffer_get_length(bufferevent_get_input(p->bev)) > 0)
        on_read(p->bev, p); /* what came after the head (a WebSocket's first frames) */
    return true;
}

void
ctl_dbx_proxy(struct ctl *c, struct bufferevent *bev, const struct ctl_dbx_proxy_req *req)
{
    struct dbx *d = c->dbx;
    struct dbx_proxy *p;

    if (d == NULL || d->stopping) {
        bufferevent_free(bev);
        return;
    }
    if ((p = proxy_new(d, bev)) == NULL)
        return;
    if (d->nproxies > DBX_PROXIES_MAX)
        fail(p, 429, "REQUEST_LIMIT_EXCEEDED",
             "The driver proxy carries %d connections at most; retry in a moment.",
             DBX_PROXIES_MAX);
    else
        (void)proxy_open(p, req);
}

void
dbx_proxies_close(struct dbx *d)
{
    while (!LIST_EMPTY(&d->proxies))
        proxy_free(LIST_FIRST(&d->proxies));
}
