/*
 * relay_proxy.c - one request from the admin socket, forwarded to a node.
 *
 * The admin-side stream ("down") and the tunnel-side stream ("up") are
 * spliced: heads are copied across, bodies flow both ways, and each side's
 * bytes are credited back to their sender only when the other side has
 * sent them on.  Buffering is therefore bounded by one stream window per
 * direction, whatever the speeds at either end.
 */
#include "relay_int.h"

#include "common/err.h"
#include "common/mem.h"
#include "common/time.h"

#include <event2/event.h>
#include <nghttp2/nghttp2.h>
#include <string.h>
#include <strings.h>

struct proxy {
    struct relay *r;
    struct scc_h2_stream *down, *up;
    struct event *timer; /* deadline for the node's response head */
    uint64_t start_us;
    bool responded;
    struct scc_log_ctx log;
};

static void
maybe_free(struct proxy *p)
{
    if (p->down || p->up)
        return;
    p->r->metrics->streams_active--;
    if (p->timer)
        event_free(p->timer);
    scc_free(p);
}

static void
respond_error(struct proxy *p, int status, const char *code, const char *msg)
{
    char body[512];

    if (p->down == NULL || p->responded)
        return;
    p->responded = true;
    snprintf(body, sizeof(body), "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code, msg);
    if (scc_h2_respond_json(p->down, status, body) < 0)
        scc_h2_stream_reset(p->down, NGHTTP2_INTERNAL_ERROR);
}

/* Headers worth carrying across: content type and our own scc-*, never
 * the routing headers that only mean something to the relay. */
static size_t
copy_headers(const struct scc_h2_head *h, struct scc_h2_hdr *out, size_t cap)
{
    size_t n = 0;

    for (size_t i = 0; i < h->nextra && n < cap; i++) {
        const char *name = h->extra[i].name;

        if (strcasecmp(name, "scc-node") == 0 || strcasecmp(name, "scc-scope") == 0)
            continue;
        if (strcasecmp(name, "content-type") == 0 || strncasecmp(name, "scc-", 4) == 0 ||
            strcasecmp(name, "accept") == 0)
            out[n++] = h->extra[i];
    }
    return n;
}

/* ---- the tunnel side ---- */

static void
up_on_head(struct scc_h2_stream *s, void *arg)
{
    struct proxy *p = arg;
    const struct scc_h2_head *h = scc_h2_stream_head(s);
    struct scc_h2_hdr hdrs[SCC_H2_EXTRA_HDRS];
    size_t n = copy_headers(h, hdrs, SCC_H2_EXTRA_HDRS);

    evtimer_del(p->timer);
    relay_metrics_observe(p->r->metrics, scc_time_mono_us() - p->start_us);
    if (p->down == NULL || p->responded)
        return;
    p->responded = true;
    if (scc_h2_respond(p->down, h->status, hdrs, n, h->end_stream) < 0)
        scc_h2_stream_reset(p->down, NGHTTP2_INTERNAL_ERROR);
}

static void
up_on_data(struct scc_h2_stream *s, const uint8_t *data, size_t len, void *arg)
{
    struct proxy *p = arg;

    if (p->down == NULL || scc_h2_stream_write(p->down, data, len) < 0) {
        /* Nobody to deliver to: credit it so the tunnel is not held up. */
        scc_h2_stream_consume(s, len);
        if (p->down)
            scc_h2_stream_reset(p->down, NGHTTP2_INTERNAL_ERROR);
    }
}

static void
up_on_end(struct scc_h2_stream *s, void *arg)
{
    struct proxy *p = arg;

    (void)s;
    if (p->down && p->responded)
        (void)scc_h2_stream_end(p->down);
}

static void
up_on_drain(struct scc_h2_stream *s, size_t n, void *arg)
{
    struct proxy *p = arg;

    (void)s;
    if (p->down)
        scc_h2_stream_consume(p->down, n);
}

static void
up_on_close(struct scc_h2_stream *s, uint32_t code, void *arg)
{
    struct proxy *p = arg;

    (void)s;
    p->up = NULL;
    if (code != 0 && p->down) {
        if (!p->responded)
            respond_error(p, 502, "NodeUnavailable", "the node's tunnel closed before it answered");
        else
            scc_h2_stream_reset(p->down, code);
    }
    maybe_free(p);
}

/* ---- the admin side ---- */

static void
down_on_data(struct scc_h2_stream *s, const uint8_t *data, size_t len, void *arg)
{
    struct proxy *p = arg;

    if (p->up == NULL || scc_h2_stream_write(p->up, data, len) < 0) {
        scc_h2_stream_consume(s, len);
        if (p->up)
            scc_h2_stream_reset(p->up, NGHTTP2_INTERNAL_ERROR);
    }
}

static void
down_on_end(struct scc_h2_stream *s, void *arg)
{
    struct proxy *p = arg;

    (void)s;
    if (p->up)
        (void)scc_h2_stream_end(p->up);
}

static void
down_on_drain(struct scc_h2_stream *s, size_t n, void *arg)
{
    struct proxy *p = arg;

    (void)s;
    if (p->up)
        scc_h2_stream_consume(p->up, n);
}

static void
down_on_close(struct scc_h2_stream *s, uint32_t code, void *arg)
{
    struct proxy *p = arg;

    (void)s;
    p->down = NULL;
    if (p->up && code != 0)
        scc_h2_stream_reset(p->up, NGHTTP2_CANCEL);
    maybe_free(p);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct proxy *p = arg;

    (void)fd, (void)what;
    scc_log_warn(&p->log, "no answer from the node in %ums", p->r->cfg.request_timeout_ms);
    respond_error(p, 504, "NodeTimeout", "the node did not answer in time");
    if (p->up)
        scc_h2_stream_reset(p->up, NGHTTP2_CANCEL);
}

void
relay_proxy_start(struct relay *r, struct relay_tunnel *t, struct scc_h2_stream *s)
{
    static const struct scc_h2_stream_cbs up_cbs = {.on_head = up_on_head,
                                                    .on_data = up_on_data,
                                                    .on_end = up_on_end,
                                                    .on_drain = up_on_drain,
                                                    .on_close = up_on_close};
    static const struct scc_h2_stream_cbs down_cbs = {.on_data = down_on_data,
                                                      .on_end = down_on_end,
                                                      .on_drain = down_on_drain,
                                                      .on_close = down_on_close};
    const struct scc_h2_head *h = scc_h2_stream_head(s);
    struct scc_h2_hdr hdrs[SCC_H2_EXTRA_HDRS];
    size_t n = copy_headers(h, hdrs, SCC_H2_EXTRA_HDRS);
    uint32_t ms = r->cfg.request_timeout_ms;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    bool connect = strcmp(h->method, "CONNECT") == 0;
    struct proxy *p = scc_calloc(1, sizeof(*p));
    int rc;

    if (p == NULL || (p->timer = evtimer_new(r->base, on_timeout, p)) == NULL) {
        scc_free(p);
        scc_h2_stream_reset(s, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    p->r = r;
    p->down = s;
    p->start_us = scc_time_mono_us();
    p->log = t->log;
    r->metrics->streams_active++;
    r->metrics->streams_total++;
    scc_h2_stream_set_cbs(s, &down_cbs, p);
    rc = scc_h2_request(scc_h2io_session(t->io), h->method, connect ? NULL : h->path,
                        connect ? h->authority : t->id.node, hdrs, n, h->end_stream, &up_cbs, p,
                        &p->up);
    if (rc < 0) {
        respond_error(p, 503, "NodeBusy",
                      rc == SCC_EBUSY ? "the node's tunnel is at its stream limit or closing"
                                      : "cannot open a stream to the node");
        return;
    }
    evtimer_add(p->timer, &tv);
}
