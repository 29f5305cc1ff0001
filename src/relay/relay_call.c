/*
 * relay_call.c - the control plane's own requests to a node.
 *
 * The workspace API starts runs, polls them and reads their output over
 * the node's tunnel, in-process: one stream per call, the answer collected
 * up to a bound, one callback with its status and body.  Its driver proxy
 * opens CONNECT streams here too (relay_connect).  A call that the
 * tunnel loses, that outgrows its bound or outlives its deadline ends with
 * a negative error instead, so its caller never waits on a black hole.
 */
#include "relay_int.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/mem.h"

#include <event2/event.h>
#include <nghttp2/nghttp2.h>
#include <string.h>

struct relay_call {
    struct scc_h2_stream *s; /* NULL once closed */
    struct event *timer;
    relay_call_cb cb; /* NULL once reported (or cancelled) */
    void *arg;
    int status;
    struct scc_buf body;
};

static void
call_free(struct relay_call *c)
{
    event_free(c->timer);
    scc_buf_fini(&c->body);
    scc_free(c);
}

/* Report once; the struct lives on until its stream has closed. */
static void
report(struct relay_call *c, int status)
{
    relay_call_cb cb = c->cb;

    if (cb == NULL)
        return;
    c->cb = NULL;
    evtimer_del(c->timer);
    cb(c->arg, status, status > 0 ? scc_buf_str(&c->body) : NULL, status > 0 ? c->body.len : 0);
}

static void
on_head(struct scc_h2_stream *s, void *arg)
{
    struct relay_call *c = arg;

    c->status = scc_h2_stream_head(s)->status;
}

static void
on_data(struct scc_h2_stream *s, const uint8_t *data, size_t len, void *arg)
{
    struct relay_call *c = arg;

    scc_h2_stream_consume(s, len);
    if (c->cb && scc_buf_put(&c->body, data, len) < 0) {
        report(c, SCC_ETOOBIG);
        scc_h2_stream_reset(s, NGHTTP2_CANCEL);
    }
}

static void
on_end(struct scc_h2_stream *s, void *arg)
{
    struct relay_call *c = arg;

    (void)s;
    report(c, c->status > 0 ? c->status : SCC_EPROTO);
}

static void
on_close(struct scc_h2_stream *s, uint32_t code, void *arg)
{
    struct relay_call *c = arg;

    (void)s, (void)code;
    c->s = NULL;
    report(c, SCC_ECLOSED);
    call_free(c);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct relay_call *c = arg;

    (void)fd, (void)what;
    report(c, SCC_ETIMEOUT);
    if (c->s)
        scc_h2_stream_reset(c->s, NGHTTP2_CANCEL);
}

int
relay_connect(struct relay *r, const char *node, const char *authority,
              const struct scc_h2_stream_cbs *cbs, void *arg, struct scc_h2_stream **out)
{
    struct relay_tunnel *t = relay_find(r, node);

    if (t == NULL || scc_h2io_is_closing(t->io))
        return SCC_ENOTFOUND;
    return scc_h2_request(scc_h2io_session(t->io), "CONNECT", NULL, authority, NULL, 0, false, cbs,
                          arg, out);
}

bool
relay_node_connected(struct relay *r, const char *node)
{
    struct relay_tunnel *t = relay_find(r, node);

    return t != NULL && !scc_h2io_is_closing(t->io);
}

int
relay_call(struct relay *r, const struct relay_call_req *req, relay_call_cb cb, void *arg,
           struct relay_call **out)
{
    static const struct scc_h2_stream_cbs cbs = {
            .on_head = on_head, .on_data = on_data, .on_end = on_end, .on_close = on_close};
    const struct scc_h2_hdr hdrs[] = {{"content-type", "application/json"}};
    struct relay_tunnel *t = relay_find(r, req->node);
    struct timeval tv = {req->timeout_ms / 1000, (req->timeout_ms % 1000) * 1000};
    size_t blen = req->body ? strlen(req->body) : 0;
    struct relay_call *c;
    int rc;

    if (t == NULL || scc_h2io_is_closing(t->io))
        return SCC_ENOTFOUND;
    if ((c = scc_calloc(1, sizeof(*c))) == NULL)
        return SCC_ENOMEM;
    scc_buf_init(&c->body, req->max_answer);
    if ((c->timer = evtimer_new(r->base, on_timeout, c)) == NULL) {
        call_free(c);
        return SCC_ENOMEM;
    }
    if ((rc = scc_h2_request(scc_h2io_session(t->io), req->method, req->path, t->id.node, hdrs, 1,
                             blen == 0, &cbs, c, &c->s)) < 0) {
        call_free(c);
        return rc;
    }
    c->cb = cb;
    c->arg = arg;
    if (blen && ((rc = scc_h2_stream_write(c->s, req->body, blen)) < 0 ||
                 (rc = scc_h2_stream_end(c->s)) < 0)) {
        c->cb = NULL;
        scc_h2_stream_reset(c->s, NGHTTP2_INTERNAL_ERROR); /* on_close frees c */
        return rc;
    }
    evtimer_add(c->timer, &tv);
    if (out)
        *out = c;
    return 0;
}

void
relay_call_cancel(struct relay_call *c)
{
    if (c == NULL || c->cb == NULL)
        return;
    c->cb = NULL;
    evtimer_del(c->timer);
    if (c->s)
        scc_h2_stream_reset(c->s, NGHTTP2_CANCEL);
}
