#include "h2body.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/mem.h"
#include "tunnel/h2.h"

#include <event2/event.h>
#include <nghttp2/nghttp2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

struct body {
    struct scc_buf buf;
    struct event *timer;
    scc_h2_body_cb cb;
    void *arg;
    size_t max;
};

void
scc_h2_reply_json(struct scc_h2_stream *s, int status, json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

    if (text == NULL || scc_h2_respond_json(s, status, text) < 0)
        scc_h2_stream_reset(s, NGHTTP2_INTERNAL_ERROR);
    free(text);
    json_decref(o);
}

void
scc_h2_reply_error(struct scc_h2_stream *s, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    scc_h2_reply_json(s, status,
                      json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg));
}

static void
body_free(struct body *b)
{
    if (b->timer)
        event_free(b->timer);
    scc_buf_fini(&b->buf);
    scc_free(b);
}

/* Hand over: the stream gets no more callbacks from us. */
static void
finish(struct scc_h2_stream *s, struct body *b, json_t *o)
{
    scc_h2_body_cb cb = b->cb;
    void *arg = b->arg;

    scc_h2_stream_set_cbs(s, NULL, NULL);
    body_free(b);
    cb(s, o, arg);
}

static void
on_data(struct scc_h2_stream *s, const uint8_t *data, size_t len, void *arg)
{
    struct body *b = arg;

    scc_h2_stream_consume(s, len);
    if (scc_buf_put(&b->buf, data, len) < 0) {
        scc_h2_reply_error(s, 413, "RequestBodyTooLarge", "request bodies are limited to %zu bytes",
                           b->max);
        finish(s, b, NULL);
    }
}

static void
on_end(struct scc_h2_stream *s, void *arg)
{
    struct body *b = arg;
    json_t *o = NULL;
    char why[200];

    if (scc_json_parse_object(b->buf.data, b->buf.len, b->max, &o, why, sizeof(why)) < 0) {
        scc_h2_reply_error(s, 400, "InvalidRequestContent", "request body: %s", why);
        finish(s, b, NULL);
        return;
    }
    finish(s, b, o);
    json_decref(o);
}

static void
on_close(struct scc_h2_stream *s, uint32_t code, void *arg)
{
    struct body *b = arg;
    scc_h2_body_cb cb = b->cb;
    void *cbarg = b->arg;

    (void)code;
    body_free(b);
    cb(s, NULL, cbarg); /* s is about to go; the callback must not answer it */
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct scc_h2_stream *s = arg;

    (void)fd, (void)what;
    scc_h2_stream_reset(s, NGHTTP2_CANCEL); /* on_close frees and reports */
}

int
scc_h2_body_collect(struct event_base *base, struct scc_h2_stream *s, size_t max,
                    uint32_t timeout_ms, scc_h2_body_cb cb, void *arg)
{
    static const struct scc_h2_stream_cbs cbs = {
            .on_data = on_data, .on_end = on_end, .on_close = on_close};
    struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};
    struct body *b = scc_calloc(1, sizeof(*b));

    if (b == NULL || (b->timer = evtimer_new(base, on_timeout, s)) == NULL) {
        scc_free(b);
        return SCC_ENOMEM;
    }
    scc_buf_init(&b->buf, max);
    b->max = max;
    b->cb = cb;
    b->arg = arg;
    evtimer_add(b->timer, &tv);
    /* A head with END_STREAM gets on_end right after the request
     * callback returns: an empty body, which fails as invalid JSON. */
    scc_h2_stream_set_cbs(s, &cbs, b);
    return 0;
}
