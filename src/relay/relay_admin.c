/*
 * relay_admin.c - the admin socket: HTTP/2 over a Unix socket that only
 * its owner can open (mode 0600).  sccctl and the control plane's API use
 * it to list connected nodes and to reach them:
 *
 *   GET /v1/nodes                  connected tunnels (optionally ?workspace=WS)
 *   <any request> + scc-node: ws/cluster/node
 *                                  forwarded to that node's tunnel
 *
 * A request may carry "scc-scope: ws/WS" (the API sets it for tokens
 * scoped to one workspace): nodes of other workspaces are then invisible.
 * Everything else goes to the control plane's handler.
 */
#include "relay_int.h"

#include "common/err.h"
#include "common/map.h"
#include "common/mem.h"
#include "common/time.h"
#include "tunnel/tio.h"

#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct list_ctx {
    json_t *arr;
    const char *ws; /* only this workspace, or NULL */
};

static void
reply_error(struct scc_h2_stream *s, int status, const char *code, const char *msg)
{
    json_t *o = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

    if (text == NULL || scc_h2_respond_json(s, status, text) < 0)
        scc_h2_stream_reset(s, 2);
    free(text);
    json_decref(o);
}

/* The workspace a request may see: NULL for all. */
static const char *
scope_ws(struct scc_h2_stream *s)
{
    const char *scope = scc_h2_stream_header(s, "scc-scope");

    if (scope == NULL || strcmp(scope, "*") == 0)
        return NULL;
    return strncmp(scope, "ws/", 3) == 0 ? scope + 3 : "";
}

static int
list_one(const char *key, void *value, void *arg)
{
    struct relay_tunnel *t = value;
    struct list_ctx *c = arg;
    struct scc_h2 *h2 = scc_h2io_session(t->io);
    char since[40], until[40], serial[64];
    int64_t expires = 0;
    size_t count = 0;
    json_t *o;

    (void)key;
    if (c->ws && strcmp(c->ws, t->id.ws) != 0)
        return 0;
    for (struct relay_tunnel *x = t; x; x = x->next_same)
        count++;
    (void)scc_time_format_rfc3339(t->since_ms, since, sizeof(since));
    o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:b}", "name", t->path,
                  "identity", t->uri, "workspace", t->id.ws, "cluster", t->id.cluster, "node",
                  t->id.node, "remote_address", t->peer, "connected_since", since, "bytes_to_node",
                  (json_int_t)scc_h2_bytes_out(h2), "bytes_from_node",
                  (json_int_t)scc_h2_bytes_in(h2), "rtt_us", (json_int_t)scc_h2io_rtt_us(t->io),
                  "streams", (json_int_t)scc_h2_stream_count(h2), "tls_resumed", t->resumed);
    if (o && count > 1) /* it dialled again; the newest one carries requests */
        json_object_set_new(o, "tunnels", json_integer((json_int_t)count));
    if (o && relay_renew_current(t, serial, sizeof(serial), &expires) == 0 &&
        scc_time_format_rfc3339((uint64_t)expires * 1000, until, sizeof(until)) == 0) {
        json_object_set_new(o, "certificate_serial", json_string(serial));
        json_object_set_new(o, "certificate_expires", json_string(until));
    }
    if (o)
        json_array_append_new(c->arr, o);
    return 0;
}

static int
by_name(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "name"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "name"));

    return strcmp(x ? x : "", y ? y : "");
}

static void
nodes_list(struct relay *r, struct scc_h2_stream *s, const char *query)
{
    struct list_ctx c = {json_array(), scope_ws(s)};
    char wsq[SCC_IDENT_SEG_MAX + 1];
    json_t **items, *sorted, *o;
    size_t n;
    char *text;

    if (query && strncmp(query, "workspace=", 10) == 0 && strlen(query + 10) < sizeof(wsq)) {
        memcpy(wsq, query + 10, strlen(query + 10) + 1);
        if (c.ws && strcmp(c.ws, wsq) != 0)
            wsq[0] = '\0'; /* out of scope: list nothing */
        c.ws = wsq;
    }
    scc_map_each(r->tunnels, list_one, &c);
    /* Stable order for people and scripts. */
    n = json_array_size(c.arr);
    items = scc_calloc(n ? n : 1, sizeof(*items));
    sorted = json_array();
    for (size_t i = 0; items && i < n; i++)
        items[i] = json_array_get(c.arr, i);
    if (items)
        qsort(items, n, sizeof(*items), by_name);
    for (size_t i = 0; items && sorted && i < n; i++)
        json_array_append(sorted, items[i]);
    o = json_pack("{s:o, s:s}", "nodes", sorted, "relay", r->bound);
    text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (text == NULL || scc_h2_respond_json(s, 200, text) < 0)
        scc_h2_stream_reset(s, 2);
    free(text);
    json_decref(o);
    json_decref(c.arr);
    scc_free(items);
}

static void
route_to_node(struct relay *r, struct scc_h2_stream *s, const char *node)
{
    const char *ws = scope_ws(s);
    const struct scc_h2_head *h = scc_h2_stream_head(s);
    struct relay_tunnel *t = relay_find(r, node);
    char msg[300];

    /* Out of scope looks exactly like absent: a scoped caller learns
     * nothing about other workspaces' nodes.  503, not 404: a node that
     * is reconnecting is back in a moment, and clients retry. */
    if (t == NULL || (ws && strcmp(ws, t->id.ws) != 0)) {
        snprintf(msg, sizeof(msg), "node '%.200s' is not connected to this relay", node);
        reply_error(s, 503, "NodeNotConnected", msg);
        return;
    }
    if (h->path && strncmp(h->path, "/v1/certificate", 15) == 0) {
        /* Only the relay renews a node's certificate (relay_renew.c). */
        reply_error(s, 403, "Forbidden", "a node's certificate is not managed through here");
        return;
    }
    relay_proxy_start(r, t, s);
}

/* POST /v1/nodes/{ws}/{cluster}/{node}/disconnect: make a node dial
 * again (it resumes its TLS session; nothing else is lost). */
static bool
disconnect_route(struct relay *r, struct scc_h2_stream *s, const char *path)
{
    char node[3 * SCC_IDENT_SEG_MAX + 3];
    const char *ws = scope_ws(s), *rest = path + 10, *end;
    struct relay_tunnel *t;
    size_t n;

    if (strncmp(path, "/v1/nodes/", 10) != 0 || (end = strstr(rest, "/disconnect")) == NULL ||
        strcmp(end, "/disconnect") != 0 || (n = (size_t)(end - rest)) >= sizeof(node))
        return false;
    memcpy(node, rest, n);
    node[n] = '\0';
    if ((t = relay_find(r, node)) == NULL || (ws && strcmp(ws, t->id.ws) != 0)) {
        reply_error(s, 404, "NodeNotConnected", "that node is not connected to this relay");
        return true;
    }
    scc_log_info(&t->log, "disconnecting on request");
    relay_unregister(r, t);
    scc_h2io_close(t->io, 0);
    (void)scc_h2_respond(s, 204, NULL, 0, true);
    return true;
}

/* Admin connections and sniffs are listed on the relay, so that
 * relay_free closes what is still open while the relay can serve their
 * last callbacks. */
struct relay_admin_conn {
    LIST_ENTRY(relay_admin_conn) link;
    struct relay *r;
    struct scc_h2io *io;
};

static void
on_admin_request(struct scc_h2 *h2, struct scc_h2_stream *s, void *arg)
{
    struct relay *r = ((struct relay_admin_conn *)arg)->r;
    const struct scc_h2_head *h = scc_h2_stream_head(s);
    const char *node = scc_h2_stream_header(s, "scc-node");
    const char *q = h->path ? strchr(h->path, '?') : NULL;

    (void)h2;
    if (node) {
        route_to_node(r, s, node);
        return;
    }
    if (h->path && strcmp(h->method, "GET") == 0 && strncmp(h->path, "/v1/nodes", 9) == 0 &&
        (h->path[9] == '\0' || h->path[9] == '?')) {
        nodes_list(r, s, q ? q + 1 : NULL);
        return;
    }
    if (h->path && strcmp(h->method, "POST") == 0 && disconnect_route(r, s, h->path))
        return;
    if (relay_legacy_route(r, s))
        return;
    if (r->auth.admin_request)
        r->auth.admin_request(r->auth.arg, s);
    else
        reply_error(s, 404, "NotFound", "no such admin route");
}

static void
on_admin_close(struct scc_h2io *io, int rc, void *arg)
{
    struct relay_admin_conn *ac = arg;

    (void)io, (void)rc;
    LIST_REMOVE(ac, link);
    scc_free(ac);
}

/* A new admin connection: HTTP/2 (sccctl, the API) or a handoff (one
 * message with a passed socket, see relay_handoff.c).  The first bytes say
 * which; a client that sends nothing within the deadline is dropped. */
struct relay_sniff {
    LIST_ENTRY(relay_sniff) link;
    struct relay *r;
    struct event *ev;
};

static void
h2_serve(struct relay *r, int fd)
{
    static const struct scc_h2_cbs cbs = {.on_request = on_admin_request};
    /* Local and trusted by file permission: no pings, no idle deadline
     * (a follow of a long run may be silent for hours). */
    struct scc_h2io_cfg iocfg = {0, 0};
    struct relay_admin_conn *ac = scc_calloc(1, sizeof(*ac));
    struct scc_tio *tio = NULL;

    if (ac == NULL) {
        close(fd);
        return;
    }
    if (scc_tio_new(r->base, fd, &tio) < 0) {
        scc_free(ac);
        return;
    }
    ac->r = r;
    if (scc_h2io_new(r->base, tio, SCC_H2_SERVER, &r->h2set, &cbs, &iocfg, on_admin_close, ac,
                     &ac->io) < 0) {
        scc_log_warn(&r->log, "admin connection setup failed");
        scc_free(ac);
        return;
    }
    LIST_INSERT_HEAD(&r->admin_conns, ac, link);
}

static void
sniff_free(struct relay_sniff *sn)
{
    LIST_REMOVE(sn, link);
    event_free(sn->ev);
    scc_free(sn);
}

static void
on_sniff(evutil_socket_t fd, short what, void *arg)
{
    struct relay_sniff *sn = arg;
    struct relay *r = sn->r;
    char head[7];
    ssize_t n = (what & EV_TIMEOUT) ? -1 : recv(fd, head, sizeof(head), MSG_PEEK);

    if (n < 0 && (errno == EAGAIN || errno == EINTR) && !(what & EV_TIMEOUT))
        return;
    if (n > 0 && (size_t)n < sizeof(head) && memcmp(head, "SCCLSN1", (size_t)n) == 0 &&
        !(what & EV_TIMEOUT))
        return; /* a handoff still arriving */
    sniff_free(sn);
    if (n == (ssize_t)sizeof(head) && memcmp(head, "SCCLSN1", sizeof(head)) == 0)
        relay_handoff(r, (int)fd);
    else if (n > 0)
        h2_serve(r, (int)fd);
    else
        close((int)fd);
}

void
relay_on_admin_accept(evutil_socket_t lfd, short what, void *arg)
{
    struct relay *r = arg;
    struct timeval tv = {10, 0};

    (void)what;
    for (int i = 0; i < 16; i++) {
        struct relay_sniff *sn;
        int fd, rc;

        if ((rc = scc_sock_accept(lfd, &fd, NULL, 0)) < 0) {
            if (rc != -EAGAIN)
                scc_log_warn_rc(&r->log, rc, "admin accept");
            return;
        }
        if ((sn = scc_calloc(1, sizeof(*sn))) == NULL ||
            (sn->ev = event_new(r->base, fd, EV_READ | EV_PERSIST, on_sniff, sn)) == NULL ||
            event_add(sn->ev, &tv) != 0) {
            if (sn && sn->ev)
                event_free(sn->ev);
            scc_free(sn);
            close(fd);
            continue;
        }
        sn->r = r;
        LIST_INSERT_HEAD(&r->sniffs, sn, link);
    }
}

void
relay_admin_free_all(struct relay *r)
{
    while (!LIST_EMPTY(&r->sniffs)) {
        struct relay_sniff *sn = LIST_FIRST(&r->sniffs);

        close((int)event_get_fd(sn->ev));
        sniff_free(sn);
    }
    while (!LIST_EMPTY(&r->admin_conns))
        scc_h2io_close_now(LIST_FIRST(&r->admin_conns)->io, 0);
}
