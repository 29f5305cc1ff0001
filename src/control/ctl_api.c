/*
 * ctl_api.c - HTTPS connections of the management API.
 *
 * One connection is a small state machine over a bufferevent_openssl:
 * HEAD (waiting for a complete request head), BODY (Content-Length or
 * chunked), BUSY (the ARM layer has the request; reading is paused, so a
 * pipelining client cannot queue unbounded work), CLOSING (the last reply
 * is being flushed).  A connection whose peer goes away while BUSY is
 * detached from its bufferevent and freed when the answer arrives.
 */
#include "ctl_api.h"

#include "ctl.h"
#include "ctl_api_http.h"
#include "ctl_arm.h"
#include "ctl_console.h"
#include "ctl_dbx.h"

#include "common/err.h"
#include "common/mem.h"
#include "common/time.h"
#include "common/tls.h"
#include "tunnel/sock.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define IDLE_S       60
#define WRITE_S      30
#define ACCEPT_BATCH 32

/* C_GONE: handed over to the driver proxy; freed when process() unwinds. */
enum conn_state { C_HEAD = 0, C_BODY, C_BUSY, C_DRAIN, C_CLOSING, C_GONE };

/* A refused body up to this size is read and dropped before closing, so
 * the client sees our 413 rather than a reset. */
#define DRAIN_MAX (64u << 20)

struct api_conn {
    struct ctl_api *api;
    struct api_conn *prev, *next;
    struct bufferevent *bev; /* NULL once detached */
    enum conn_state state;
    bool in_process;
    bool have_req;
    struct ctl_http_req req;
    struct scc_buf body;
    struct ctl_http_chunked ch;
    uint64_t drain_left;
    char *raw; /* the raw head of a driver-proxy request: its headers go on */
    size_t raw_len;
    char peer[64];
};

struct ctl_api {
    struct ctl *c;
    SSL_CTX *tls;
    int fd;
    struct event *accept_ev;
    char bound[96];
    int fd2; /* c->api_also: the API's public address (ctl_wire.c) */
    struct event *accept_ev2;
    struct api_conn *conns;
    size_t nconns;
    uint64_t served;
};

static void process(struct api_conn *k);
static void next_request(struct api_conn *k, bool close);

static void
conn_free(struct api_conn *k)
{
    struct ctl_api *api = k->api;

    if (k->bev)
        bufferevent_free(k->bev);
    if (k->prev)
        k->prev->next = k->next;
    else if (api->conns == k)
        api->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    api->nconns--;
    ctl_http_req_fini(&k->req);
    scc_buf_fini(&k->body);
    scc_free(k->raw);
    scc_free(k);
}

/* The peer is gone: drop the transport now, the rest when the answer comes. */
static void
conn_drop(struct api_conn *k)
{
    if (k->state != C_BUSY) {
        conn_free(k);
        return;
    }
    bufferevent_free(k->bev);
    k->bev = NULL;
}

/* Status line and framing headers; type is the body's, or NULL for none. */
static void
put_head(struct evbuffer *out, int status, size_t len, const char *type, bool close)
{
    evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", status, ctl_http_reason(status));
    if (type)
        evbuffer_add_printf(out, "Content-Type: %s\r\n", type);
    evbuffer_add_printf(out, "Content-Length: %zu\r\nCache-Control: no-cache\r\n%s", len,
                        close ? "Connection: close\r\n" : "");
}

static void
send_resp(struct api_conn *k, const struct ctl_arm_resp *resp, bool close)
{
    struct evbuffer *out = bufferevent_get_output(k->bev);
    bool head = strcmp(k->req.method, "HEAD") == 0;
    size_t len = resp->body ? resp->body_len : 0;

    put_head(out, resp->status, len, resp->body ? "application/json; charset=utf-8" : NULL, close);
    for (size_t i = 0; i < resp->nhdrs; i++)
        evbuffer_add_printf(out, "%s: %s\r\n", resp->hdrs[i].name, resp->hdrs[i].value);
    if (k->req.client_request_id && strlen(k->req.client_request_id) <= 64 &&
        strspn(k->req.client_request_id, "0123456789abcdefABCDEF-") ==
                strlen(k->req.client_request_id))
        evbuffer_add_printf(out, "x-ms-client-request-id: %s\r\n", k->req.client_request_id);
    evbuffer_add(out, "\r\n", 2);
    if (len && !head)
        evbuffer_add(out, resp->body, len);
}

/* Answer and then either read the next request or close. */
static void
finish(struct api_conn *k, const struct ctl_arm_resp *resp, bool close)
{
    close = close || !k->have_req || !k->req.keep_alive;
    send_resp(k, resp, close);
    next_request(k, close);
}

/*
 * The console's files (ctl_console.h) need no token: they are the same for
 * everyone and hold no data.  The policy keeps the page to its own
 * scripts and to this origin, so nothing injected can run or send the
 * token elsewhere.
 */
#define CONSOLE_HEADERS                                                                            \
    "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "           \
    "img-src 'self' data:; connect-src 'self'; form-action 'none'; base-uri 'none'; "              \
    "frame-ancestors 'none'\r\n"                                                                   \
    "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n"

static bool
serve_console(struct api_conn *k)
{
    struct evbuffer *out = bufferevent_get_output(k->bev);
    bool head = strcmp(k->req.method, "HEAD") == 0, close = !k->req.keep_alive;
    const struct ctl_console_file *f;

    if ((!head && strcmp(k->req.method, "GET") != 0) || (f = ctl_console_find(k->req.path)) == NULL)
        return false;
    put_head(out, 200, f->len, f->type, close);
    evbuffer_add(out, CONSOLE_HEADERS "\r\n", sizeof(CONSOLE_HEADERS "\r\n") - 1);
    if (!head)
        evbuffer_add_reference(out, f->data, f->len, NULL, NULL);
    next_request(k, close);
    return true;
}

static void
next_request(struct api_conn *k, bool close)
{
    k->api->served++;
    ctl_http_req_fini(&k->req);
    scc_free(k->raw);
    k->raw = NULL;
    k->have_req = false;
    scc_buf_reset(&k->body);
    if (close) {
        k->state = C_CLOSING;
        bufferevent_disable(k->bev, EV_READ);
        return;
    }
    k->state = C_HEAD;
    bufferevent_enable(k->bev, EV_READ);
    if (!k->in_process)
        process(k);
}

static void
fail(struct api_conn *k, int status, const char *code, const char *msg)
{
    struct ctl_arm_resp resp = {0};

    ctl_arm_resp_error(&resp, status, code, msg);
    finish(k, &resp, true);
    ctl_arm_resp_fini(&resp);
}

static void
on_answer(void *arg, const struct ctl_arm_resp *resp)
{
    struct api_conn *k = arg;

    if (k->bev == NULL) {
        conn_free(k);
        return;
    }
    finish(k, resp, false);
}

/* A driver-proxy request: the connection becomes the proxy's, since what
 * follows (a response of any size, a WebSocket) is no longer ours to frame. */
static void
hand_over(struct api_conn *k)
{
    struct ctl_dbx_proxy_req req = {.method = k->req.method,
                                    .path = k->req.path,
                                    .query = k->req.query,
                                    .host = k->req.host,
                                    .authorization = k->req.authorization,
                                    .head = k->raw,
                                    .head_len = k->raw_len,
                                    .body = (const char *)k->body.data,
                                    .body_len = k->body.len,
                                    .peer = k->peer};
    struct bufferevent *bev = k->bev;

    k->bev = NULL;
    k->state = C_GONE;
    k->api->served++;
    ctl_dbx_proxy(k->api->c, bev, &req);
}

static void
dispatch(struct api_conn *k)
{
    struct ctl *c = k->api->c;
    struct ctl_principal who;
    struct ctl_arm_resp resp = {0};
    struct ctl_arm_req req = {.method = k->req.method,
                              .path = k->req.path,
                              .query = k->req.query,
                              .host = k->req.host ? k->req.host : k->api->bound,
                              .body = (const char *)k->body.data,
                              .body_len = k->body.len,
                              .who = &who,
                              .if_match = k->req.if_match,
                              .if_none_match = k->req.if_none_match};

    if (serve_console(k))
        return;
    k->state = C_BUSY;
    bufferevent_disable(k->bev, EV_READ);
    if (k->raw && ctl_dbx_is_workspace_host(c, k->req.host)) {
        hand_over(k);
        return;
    }
    if (ctl_dbx_is_workspace_host(c, k->req.host)) {
        ctl_dbx_request(c, &req, k->req.authorization, on_answer, k);
        return;
    }
    if (ctl_arm_authenticate(c, k->req.authorization, &who, &resp) < 0) {
        finish(k, &resp, false);
        ctl_arm_resp_fini(&resp);
        return;
    }
    ctl_arm_request(c, &req, on_answer, k);
}

static int
start_body(struct api_conn *k)
{
    int64_t len = k->req.content_length;
    bool expect = k->req.expect_continue;

    if (len > (int64_t)CTL_ARM_BODY_MAX) {
        fail(k, 413, "RequestEntityTooLarge",
             "The request body exceeds the limit of 4194304 bytes (4 MiB).");
        if (len <= (int64_t)DRAIN_MAX && !expect) {
            k->drain_left = (uint64_t)len;
            k->state = C_DRAIN;
            bufferevent_enable(k->bev, EV_READ);
            return 1;
        }
        return -1;
    }
    if (k->req.expect_continue && !k->req.http10)
        evbuffer_add_printf(bufferevent_get_output(k->bev), "HTTP/1.1 100 Continue\r\n\r\n");
    scc_buf_reset(&k->body);
    memset(&k->ch, 0, sizeof(k->ch));
    if (k->req.chunked || k->req.content_length > 0)
        k->state = C_BODY;
    else
        dispatch(k);
    return 1;
}

static int
read_head(struct api_conn *k, struct evbuffer *in)
{
    size_t avail = evbuffer_get_length(in), n, end;
    const char *why = NULL;
    char *p;
    int rc;

    n = avail < CTL_HTTP_HEAD_MAX ? avail : CTL_HTTP_HEAD_MAX;
    if (n == 0 || (p = (char *)evbuffer_pullup(in, (ev_ssize_t)n)) == NULL)
        return 0;
    if ((end = ctl_http_head_end(p, n)) == 0) {
        if (n == CTL_HTTP_HEAD_MAX)
            fail(k, 431, "RequestHeaderFieldsTooLarge",
                 "The request line and headers exceed 65536 bytes.");
        return n == CTL_HTTP_HEAD_MAX ? -1 : 0;
    }
    rc = ctl_http_head_parse(p, end, &k->req, &why);
    if (rc == 0 && ctl_dbx_is_proxy_path(k->req.path) && (k->raw = scc_malloc(end)) != NULL) {
        memcpy(k->raw, p, end);
        k->raw_len = end;
    }
    evbuffer_drain(in, end);
    if (rc < 0) {
        fail(k,
             rc == SCC_ETOOBIG  ? 431
             : rc == SCC_ENOSYS ? 501
                                : 400,
             rc == SCC_ENOSYS ? "NotImplemented" : "BadRequest", why);
        return -1;
    }
    k->have_req = true;
    return start_body(k);
}

static int
read_body(struct api_conn *k, struct evbuffer *in)
{
    size_t avail = evbuffer_get_length(in), want;
    ssize_t used;

    if (!k->req.chunked) {
        want = (size_t)k->req.content_length - k->body.len;
        want = avail < want ? avail : want;
        if (want && scc_buf_reserve(&k->body, want) == 0) {
            evbuffer_remove(in, k->body.data + k->body.len, want);
            k->body.len += want;
            k->body.data[k->body.len] = '\0';
        }
        if (k->body.len < (size_t)k->req.content_length)
            return 0;
        dispatch(k);
        return 1;
    }
    used = avail ? ctl_http_chunked_feed(&k->ch, evbuffer_pullup(in, (ev_ssize_t)avail), avail,
                                         &k->body)
                 : 0;
    if (used < 0) {
        fail(k, used == SCC_ETOOBIG ? 413 : 400,
             used == SCC_ETOOBIG ? "RequestEntityTooLarge" : "BadRequest",
             used == SCC_ETOOBIG ? "The request body exceeds the limit of 4194304 bytes (4 MiB)."
                                 : "Malformed chunked request body.");
        return -1;
    }
    evbuffer_drain(in, (size_t)used);
    if (!k->ch.done)
        return 0;
    dispatch(k);
    return 1;
}

static void
drain(struct api_conn *k, struct evbuffer *in)
{
    size_t n = evbuffer_get_length(in);

    n = n < k->drain_left ? n : (size_t)k->drain_left;
    evbuffer_drain(in, n);
    if ((k->drain_left -= n) > 0)
        return;
    k->state = C_CLOSING;
    bufferevent_disable(k->bev, EV_READ);
    if (evbuffer_get_length(bufferevent_get_output(k->bev)) == 0)
        conn_free(k);
}

static void
process(struct api_conn *k)
{
    struct evbuffer *in = bufferevent_get_input(k->bev);
    int r = 1;

    if (k->state == C_DRAIN) {
        drain(k, in);
        return;
    }
    k->in_process = true;
    while (r > 0 && (k->state == C_HEAD || k->state == C_BODY))
        r = k->state == C_HEAD ? read_head(k, in) : read_body(k, in);
    k->in_process = false;
    if (k->state == C_GONE) {
        conn_free(k);
        return;
    }
    if (k->state == C_DRAIN)
        drain(k, in); /* may free k: the last thing done here */
}

static void
on_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    process(arg);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
    struct api_conn *k = arg;

    if (k->state == C_CLOSING && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        conn_free(k);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        conn_drop(arg);
}

static void
conn_new(struct ctl_api *api, int fd, const char *peer)
{
    struct timeval idle = {IDLE_S, 0}, wr = {WRITE_S, 0};
    struct api_conn *k = NULL;
    SSL *ssl = NULL;
    int one = 1;

    if (api->nconns >= api->c->cfg->api_max_conns || (k = scc_calloc(1, sizeof(*k))) == NULL ||
        (ssl = SSL_new(api->tls)) == NULL) {
        scc_free(k);
        close(fd);
        return;
    }
    k->bev = bufferevent_openssl_socket_new(api->c->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                            BEV_OPT_CLOSE_ON_FREE);
    if (k->bev == NULL) {
        SSL_free(ssl);
        scc_free(k);
        close(fd);
        return;
    }
    /* Replies are small and written at once: Nagle would hold the TLS
     * record's tail for the peer's delayed ACK (40 ms per request). */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    k->api = api;
    snprintf(k->peer, sizeof(k->peer), "%s", peer);
    scc_buf_init(&k->body, CTL_ARM_BODY_MAX);
    bufferevent_setcb(k->bev, on_read, on_write, on_event, k);
    bufferevent_set_timeouts(k->bev, &idle, &wr);
    bufferevent_enable(k->bev, EV_READ | EV_WRITE);
    k->next = api->conns;
    if (api->conns)
        api->conns->prev = k;
    api->conns = k;
    api->nconns++;
}

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
    struct ctl_api *api = arg;
    char peer[64];
    int fd;

    (void)what;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        if (scc_sock_accept((int)lfd, &fd, peer, sizeof(peer)) < 0)
            return;
        conn_new(api, fd, peer);
    }
}

static int
tls_init(struct ctl_api *api)
{
    static const char *const alpn[] = {SCC_ALPN_HTTP11};
    struct scc_tls_cfg cfg = {.cert_file = api->c->paths.server_crt,
                              .key_file = api->c->paths.server_key,
                              .alpn = alpn,
                              .nalpn = 1};
    char why[256];

    if (scc_tls_ctx_server(&cfg, &api->tls) < 0) {
        scc_log_error(&api->c->log, "API TLS context: %s", scc_tls_errors(why, sizeof(why)));
        return SCC_ETLS;
    }
    return 0;
}

/* A second address, same service: the provider's public API address. */
static int
listen_also(struct ctl_api *api)
{
    struct ctl *c = api->c;
    char bound[96];
    int rc;

    if (c->api_also[0] == '\0')
        return 0;
    if ((rc = scc_sock_listen(c->api_also, 1024, &api->fd2, bound, sizeof(bound))) < 0) {
        scc_log_error_rc(&c->log, rc, "cannot listen on the API's public address %s", c->api_also);
        return rc;
    }
    api->accept_ev2 = event_new(c->base, api->fd2, EV_READ | EV_PERSIST, on_accept, api);
    if (api->accept_ev2 == NULL || event_add(api->accept_ev2, NULL) != 0)
        return SCC_ENOMEM;
    scc_log_info(&c->log, "management API also listening on https://%s", bound);
    return 0;
}

int
ctl_api_start(struct ctl *c)
{
    struct ctl_api *api;
    int rc;

    if ((api = scc_calloc(1, sizeof(*api))) == NULL)
        return SCC_ENOMEM;
    api->c = c;
    api->fd = -1;
    api->fd2 = -1;
    c->api = api;
    if ((rc = ctl_arm_start(c)) < 0 || (rc = tls_init(api)) < 0)
        return rc;
    if ((rc = scc_sock_listen(c->cfg->api_listen, 1024, &api->fd, api->bound, sizeof(api->bound))) <
        0) {
        scc_log_error_rc(&c->log, rc, "cannot listen on --api-listen %s", c->cfg->api_listen);
        return rc;
    }
    api->accept_ev = event_new(c->base, api->fd, EV_READ | EV_PERSIST, on_accept, api);
    if (api->accept_ev == NULL || event_add(api->accept_ev, NULL) != 0)
        return SCC_ENOMEM;
    scc_log_info(&c->log, "management API listening on https://%s", api->bound);
    return listen_also(api);
}

void
ctl_api_stop(struct ctl *c)
{
    struct ctl_api *api = c->api;

    if (api == NULL)
        return;
    if (api->accept_ev)
        event_free(api->accept_ev);
    if (api->fd >= 0)
        close(api->fd);
    if (api->accept_ev2)
        event_free(api->accept_ev2);
    if (api->fd2 >= 0)
        close(api->fd2);
    for (struct api_conn *k = api->conns, *next; k; k = next) {
        next = k->next;
        if (k->bev)
            conn_drop(k); /* a BUSY one stays listed until its answer frees it */
    }
    ctl_arm_stop(c); /* runs the answers still due, which free the rest */
    while (api->conns)
        conn_free(api->conns);
    SSL_CTX_free(api->tls);
    scc_free(api);
    c->api = NULL;
}

const char *
ctl_api_bound(const struct ctl *c)
{
    return c->api && c->api->bound[0] ? c->api->bound : c->cfg->api_listen;
}
