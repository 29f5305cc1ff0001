#include "h2.h"

#include "common/err.h"
#include "common/mem.h"
#include "common/time.h"

#include <event2/buffer.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define CONN_WINDOW   (64u << 20) /* credited on arrival; see h2.h */
#define FRAME_HDR_LEN 9
/* Frames at least this big are moved to scc_h2_send's bulk rather than
 * copied: below it, the up to 16 KiB copied to fill a record (frame_bulk)
 * would be most of the frame. */
#define BULK_MIN (32u << 10)

struct scc_h2 {
    nghttp2_session *ng;
    enum scc_h2_role role;
    struct scc_h2_cbs cbs;
    void *arg;
    struct scc_h2_settings set;
    size_t nstreams;
    uint64_t bytes_in;
    uint64_t bytes_out;
    struct scc_buf *out;            /* target of send_data during scc_h2_send */
    struct evbuffer *bulk;          /* scc_h2_send's bulk, or NULL */
    bool paused;                    /* send_data framed one DATA frame and paused */
    bool goaway;                    /* the peer announced shutdown */
    struct scc_h2_stream *streams;  /* all live streams, for scc_h2_free */
    struct scc_h2_stream *deferred; /* on_recv_end due at the end of scc_h2_recv */
};

/* Offsets into hbuf, resolved to pointers once the head is complete,
 * because hbuf may move while it grows. */
struct head_offs {
    long method, path, authority, scheme, status;
    long extra[SCC_H2_EXTRA_HDRS][2];
};

struct scc_h2_stream {
    struct scc_h2 *h2;
    struct scc_h2_stream *prev, *next;
    struct scc_h2_stream *defer_next;
    bool deferred_recv;
    int32_t id;
    struct scc_h2_stream_cbs cbs;
    void *arg;
    struct evbuffer *q; /* queued body; created on first use */
    bool has_body;      /* a data provider is attached */
    bool deferred;      /* the provider returned DEFERRED */
    bool end_queued;    /* END_STREAM once q drains */
    bool head_too_big;
    struct scc_buf hbuf;
    struct head_offs offs;
    struct scc_h2_head head;
};

void
scc_h2_settings_default(struct scc_h2_settings *s)
{
    /* A 4 MiB window keeps a loopback-fast bulk stream from waiting for
     * credit (1 MiB: ~20% less throughput); it is also the most one
     * stream can make its receiver buffer. */
    s->max_concurrent_streams = 256;
    s->stream_window = 4u << 20;
    s->max_frame_size = 256u << 10; /* a whole bridge read: one bulk frame */
    s->stream_send_max = 4u << 20;
}

static void
want_write(struct scc_h2 *h2)
{
    if (h2->cbs.want_write)
        h2->cbs.want_write(h2, h2->arg);
}

static struct scc_h2_stream *
stream_new(struct scc_h2 *h2)
{
    struct scc_h2_stream *s = scc_calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->h2 = h2;
    s->offs = (struct head_offs){-1, -1, -1, -1, -1, {{0}}};
    scc_buf_init(&s->hbuf, SCC_H2_HEAD_MAX);
    s->next = h2->streams;
    if (h2->streams)
        h2->streams->prev = s;
    h2->streams = s;
    h2->nstreams++;
    return s;
}

static void
stream_free(struct scc_h2_stream *s)
{
    if (s == NULL)
        return;
    if (s->deferred_recv) {
        struct scc_h2_stream **pp = &s->h2->deferred;

        while (*pp && *pp != s)
            pp = &(*pp)->defer_next;
        if (*pp)
            *pp = s->defer_next;
    }
    if (s->prev)
        s->prev->next = s->next;
    else
        s->h2->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->h2->nstreams--;
    if (s->q)
        evbuffer_free(s->q);
    scc_buf_fini(&s->hbuf);
    scc_free(s);
}

/* ---- receiving heads ---- */

static long
store(struct scc_h2_stream *s, const uint8_t *p, size_t n)
{
    long off = (long)s->hbuf.len;

    if (scc_buf_put(&s->hbuf, p, n) < 0 || scc_buf_put(&s->hbuf, "", 1) < 0) {
        s->head_too_big = true;
        return -1;
    }
    return off;
}

static void
store_pseudo(struct scc_h2_stream *s, const uint8_t *name, size_t namelen, const uint8_t *value,
             size_t valuelen)
{
    static const struct {
        const char *name;
        size_t off;
    } pseudo[] = {
            {":method", offsetof(struct head_offs, method)},
            {":path", offsetof(struct head_offs, path)},
            {":authority", offsetof(struct head_offs, authority)},
            {":scheme", offsetof(struct head_offs, scheme)},
            {":status", offsetof(struct head_offs, status)},
    };

    for (size_t i = 0; i < sizeof(pseudo) / sizeof(pseudo[0]); i++) {
        if (strlen(pseudo[i].name) == namelen && memcmp(pseudo[i].name, name, namelen) == 0) {
            long *slot = (long *)(void *)((char *)&s->offs + pseudo[i].off);

            *slot = store(s, value, valuelen);
            return;
        }
    }
}

static int
on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
          const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
    struct scc_h2_stream *s = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);

    (void)flags, (void)user_data;
    /* Trailers and unknown streams are ignored; so is anything past the
     * head limit (the stream is refused when the head completes). */
    if (s == NULL || frame->headers.cat == NGHTTP2_HCAT_HEADERS || s->head_too_big)
        return 0;
    if (namelen > 0 && name[0] == ':') {
        store_pseudo(s, name, namelen, value, valuelen);
        return 0;
    }
    if (s->head.nextra < SCC_H2_EXTRA_HDRS) {
        long n = store(s, name, namelen), v = store(s, value, valuelen);

        s->offs.extra[s->head.nextra][0] = n;
        s->offs.extra[s->head.nextra][1] = v;
        if (n >= 0 && v >= 0)
            s->head.nextra++;
    }
    return 0;
}

static const char *
at(const struct scc_h2_stream *s, long off)
{
    return off < 0 ? NULL : (const char *)s->hbuf.data + off;
}

static void
head_finish(struct scc_h2_stream *s)
{
    struct scc_h2_head *h = &s->head;
    const char *status;

    h->method = at(s, s->offs.method);
    h->path = at(s, s->offs.path);
    h->authority = at(s, s->offs.authority);
    h->scheme = at(s, s->offs.scheme);
    status = at(s, s->offs.status);
    h->status = status ? (int)strtol(status, NULL, 10) : 0;
    for (size_t i = 0; i < h->nextra; i++) {
        h->extra[i].name = at(s, s->offs.extra[i][0]);
        h->extra[i].value = at(s, s->offs.extra[i][1]);
    }
}

static int
on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame, void *user_data)
{
    struct scc_h2 *h2 = user_data;
    struct scc_h2_stream *s;

    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    if ((s = stream_new(h2)) == NULL)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* refuse this stream only */
    s->id = frame->hd.stream_id;
    if (nghttp2_session_set_stream_user_data(ng, s->id, s) != 0) {
        stream_free(s);
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    return 0;
}

static void
on_request_head(struct scc_h2 *h2, struct scc_h2_stream *s)
{
    head_finish(s);
    if (s->head_too_big) {
        /* 431 says exactly what was wrong; the stream ends here. */
        (void)scc_h2_respond_json(s, 431,
                                  "{\"error\":{\"code\":\"HeadersTooLarge\","
                                  "\"message\":\"request header fields exceed 8192 bytes\"}}");
        return;
    }
    if (h2->cbs.on_request)
        h2->cbs.on_request(h2, s, h2->arg);
    else
        scc_h2_stream_reset(s, NGHTTP2_REFUSED_STREAM);
}

static void
on_response_head(struct scc_h2_stream *s)
{
    head_finish(s);
    if (s->head.status >= 100 && s->head.status < 200) {
        /* An interim response: forget it and wait for the final one. */
        scc_buf_reset(&s->hbuf);
        s->offs = (struct head_offs){-1, -1, -1, -1, -1, {{0}}};
        s->head.nextra = 0;
        return;
    }
    if (s->cbs.on_head)
        s->cbs.on_head(s, s->arg);
}

static void
on_ping(struct scc_h2 *h2, const nghttp2_frame *frame)
{
    uint64_t sent;

    if (!(frame->hd.flags & NGHTTP2_FLAG_ACK) || h2->cbs.on_ping_ack == NULL)
        return;
    memcpy(&sent, frame->ping.opaque_data, sizeof(sent));
    h2->cbs.on_ping_ack(h2, scc_time_mono_us() - sent, h2->arg);
}

static int
on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *user_data)
{
    struct scc_h2 *h2 = user_data;
    struct scc_h2_stream *s = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);

    switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
        if (s)
            s->head.end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
        if (s && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
            on_request_head(h2, s);
        else if (s && frame->headers.cat == NGHTTP2_HCAT_RESPONSE)
            on_response_head(s);
        break;
    case NGHTTP2_GOAWAY:
        h2->goaway = true;
        if (h2->cbs.on_goaway)
            h2->cbs.on_goaway(h2, frame->goaway.error_code, frame->goaway.opaque_data,
                              frame->goaway.opaque_data_len, h2->arg);
        return 0;
    case NGHTTP2_PING:
        on_ping(h2, frame);
        return 0;
    default:
        break;
    }
    /* The stream may have been closed by a handler above; look it up again. */
    s = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    if (s && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
        (frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) && s->cbs.on_end)
        s->cbs.on_end(s, s->arg);
    return 0;
}

static int
on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t stream_id, const uint8_t *data,
              size_t len, void *user_data)
{
    struct scc_h2 *h2 = user_data;
    struct scc_h2_stream *s = nghttp2_session_get_stream_user_data(ng, stream_id);

    (void)flags;
    h2->bytes_in += len;
    /* Connection-level credit right away: only stream windows may hold
     * data back, so one stalled stream cannot starve the others. */
    (void)nghttp2_session_consume_connection(ng, len);
    if (s && s->cbs.on_data)
        s->cbs.on_data(s, data, len, s->arg);
    else
        (void)nghttp2_session_consume_stream(ng, stream_id, len);
    return 0;
}

static int
on_stream_close(nghttp2_session *ng, int32_t stream_id, uint32_t error_code, void *user_data)
{
    struct scc_h2_stream *s = nghttp2_session_get_stream_user_data(ng, stream_id);

    (void)user_data;
    if (s == NULL)
        return 0;
    (void)nghttp2_session_set_stream_user_data(ng, stream_id, NULL);
    if (s->cbs.on_close)
        s->cbs.on_close(s, error_code, s->arg);
    stream_free(s);
    return 0;
}

/* ---- sending bodies ---- */

/* Bytes in the first chunk of a queue: what can be moved without a copy. */
static size_t
first_chunk(struct evbuffer *q)
{
    struct evbuffer_iovec v;

    return evbuffer_peek(q, -1, NULL, &v, 1) > 0 ? v.iov_len : 0;
}

static ssize_t
read_length(nghttp2_session *ng, uint8_t frame_type, int32_t stream_id, int32_t conn_window,
            int32_t stream_window, uint32_t remote_max_frame, void *user_data)
{
    int32_t w = conn_window < stream_window ? conn_window : stream_window;

    (void)ng, (void)frame_type, (void)stream_id, (void)user_data;
    if (w <= 0)
        return 1;
    return (ssize_t)((uint32_t)w < remote_max_frame ? (uint32_t)w : remote_max_frame);
}

static ssize_t
data_read(nghttp2_session *ng, int32_t stream_id, uint8_t *buf, size_t length, uint32_t *data_flags,
          nghttp2_data_source *source, void *user_data)
{
    struct scc_h2_stream *s = source->ptr;
    size_t avail = s->q ? evbuffer_get_length(s->q) : 0;

    (void)ng, (void)stream_id, (void)buf, (void)user_data;
    if (avail == 0) {
        if (s->end_queued) {
            *data_flags |= NGHTTP2_DATA_FLAG_EOF;
            return 0;
        }
        s->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    if (length > avail)
        length = avail;
    if (s->h2->bulk) { /* end the frame with the chunk, so it can be moved */
        size_t first = first_chunk(s->q);

        if (first >= BULK_MIN && first < length)
            length = first;
    }
    *data_flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (s->end_queued && length == avail)
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)length;
}

/* Header and payload, copied to out: 0 or an nghttp2 error. */
static int
frame_copy(struct scc_buf *out, struct evbuffer *q, const uint8_t *framehd, size_t length)
{
    if (scc_buf_reserve(out, FRAME_HDR_LEN + length) < 0)
        return NGHTTP2_ERR_WOULDBLOCK; /* retried on the next send */
    memcpy(out->data + out->len, framehd, FRAME_HDR_LEN);
    if (evbuffer_remove(q, out->data + out->len + FRAME_HDR_LEN, length) != (int)length)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    out->len += FRAME_HDR_LEN + length;
    return 0;
}

/* The header and enough payload to fill out's last record are copied;
 * the rest of the chunk (length >= BULK_MIN > the fill) is moved to bulk
 * with its memory, so most of the payload is never copied here. */
static int
frame_bulk(struct scc_buf *out, struct evbuffer *q, struct evbuffer *bulk, const uint8_t *framehd,
           size_t length)
{
    size_t fill = (out->len + FRAME_HDR_LEN) % SCC_H2_BULK_ALIGN;

    fill = fill ? SCC_H2_BULK_ALIGN - fill : 0;
    if (scc_buf_reserve(out, FRAME_HDR_LEN + fill) < 0)
        return NGHTTP2_ERR_WOULDBLOCK;
    memcpy(out->data + out->len, framehd, FRAME_HDR_LEN);
    if (evbuffer_remove(q, out->data + out->len + FRAME_HDR_LEN, fill) != (int)fill)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    out->len += FRAME_HDR_LEN + fill;
    if (evbuffer_remove_buffer(q, bulk, length - fill) != (int)(length - fill))
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return 0;
}

static int
send_data(nghttp2_session *ng, nghttp2_frame *frame, const uint8_t *framehd, size_t length,
          nghttp2_data_source *source, void *user_data)
{
    struct scc_h2 *h2 = user_data;
    struct scc_h2_stream *s = source->ptr;
    int rc;

    (void)ng, (void)frame;
    if (h2->bulk && length >= BULK_MIN && first_chunk(s->q) == length)
        rc = frame_bulk(h2->out, s->q, h2->bulk, framehd, length);
    else
        rc = frame_copy(h2->out, s->q, framehd, length);
    if (rc != 0)
        return rc;
    h2->bytes_out += length;
    if (s->cbs.on_drain)
        s->cbs.on_drain(s, length, s->arg);
    /* One frame per scc_h2_send round, so the budget is honoured. */
    h2->paused = true;
    return NGHTTP2_ERR_PAUSE;
}

/* ---- session ---- */

static int
callbacks_new(nghttp2_session_callbacks **out)
{
    nghttp2_session_callbacks *cb;

    if (nghttp2_session_callbacks_new(&cb) != 0)
        return SCC_ENOMEM;
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_session_callbacks_set_send_data_callback(cb, send_data);
    nghttp2_session_callbacks_set_data_source_read_length_callback(cb, read_length);
    *out = cb;
    return 0;
}

static void *
ng_malloc(size_t size, void *ud)
{
    (void)ud;
    return scc_malloc(size);
}

static void
ng_free(void *ptr, void *ud)
{
    (void)ud;
    scc_free(ptr);
}

static void *
ng_calloc(size_t nmemb, size_t size, void *ud)
{
    (void)ud;
    return scc_calloc(nmemb, size);
}

static void *
ng_realloc(void *ptr, size_t size, void *ud)
{
    (void)ud;
    return scc_realloc(ptr, size);
}

static int
session_new(struct scc_h2 *h2)
{
    nghttp2_mem mem = {NULL, ng_malloc, ng_free, ng_calloc, ng_realloc};
    nghttp2_session_callbacks *cb = NULL;
    nghttp2_option *opt = NULL;
    int rc, nrc;

    if ((rc = callbacks_new(&cb)) < 0)
        return rc;
    rc = SCC_ENOMEM;
    if (nghttp2_option_new(&opt) != 0)
        goto out;
    nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_option_set_max_send_header_block_length(opt, SCC_H2_HEAD_MAX * 2);
    if (h2->role == SCC_H2_CLIENT)
        nrc = nghttp2_session_client_new3(&h2->ng, cb, h2, opt, &mem);
    else
        nrc = nghttp2_session_server_new3(&h2->ng, cb, h2, opt, &mem);
    rc = nrc == 0 ? 0 : nrc == NGHTTP2_ERR_NOMEM ? SCC_ENOMEM : SCC_EH2;
out:
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    return rc;
}

static int
submit_settings(struct scc_h2 *h2)
{
    nghttp2_settings_entry iv[] = {
            {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, h2->set.max_concurrent_streams},
            {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, h2->set.stream_window},
            {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, h2->set.max_frame_size},
            {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, SCC_H2_HEAD_MAX * 2},
            {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
    };
    size_t n = sizeof(iv) / sizeof(iv[0]);

    /* Servers must not send ENABLE_PUSH (RFC 9113 §6.5.2). */
    if (h2->role == SCC_H2_SERVER)
        n--;
    if (nghttp2_submit_settings(h2->ng, NGHTTP2_FLAG_NONE, iv, n) != 0)
        return SCC_EH2;
    if (nghttp2_session_set_local_window_size(h2->ng, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW) != 0)
        return SCC_EH2;
    return 0;
}

int
scc_h2_new(enum scc_h2_role role, const struct scc_h2_settings *set, const struct scc_h2_cbs *cbs,
           void *arg, struct scc_h2 **out)
{
    struct scc_h2 *h2 = NULL;
    int rc = SCC_ENOMEM;

    *out = NULL;
    if (set->max_frame_size < 16384 || set->max_frame_size > 16777215 ||
        set->stream_window > 0x7fffffff)
        return SCC_EINVAL;
    if ((h2 = scc_calloc(1, sizeof(*h2))) == NULL)
        goto out;
    h2->role = role;
    h2->set = *set;
    h2->cbs = *cbs;
    h2->arg = arg;
    if ((rc = session_new(h2)) < 0 || (rc = submit_settings(h2)) < 0)
        goto out;
    *out = h2;
    h2 = NULL;
out:
    scc_h2_free(h2);
    return rc;
}

void
scc_h2_free(struct scc_h2 *h2)
{
    if (h2 == NULL)
        return;
    /* nghttp2_session_del frees streams without on_stream_close, so tell
     * each stream's owner here, exactly once. */
    while (h2->streams) {
        struct scc_h2_stream *s = h2->streams;

        if (h2->ng && s->id > 0)
            (void)nghttp2_session_set_stream_user_data(h2->ng, s->id, NULL);
        if (s->cbs.on_close)
            s->cbs.on_close(s, NGHTTP2_CANCEL, s->arg);
        stream_free(s);
    }
    nghttp2_session_del(h2->ng);
    scc_free(h2);
}

int
scc_h2_recv(struct scc_h2 *h2, const uint8_t *data, size_t len)
{
    ssize_t n = nghttp2_session_mem_recv(h2->ng, data, len);

    /* Streams that held on to data now write it out, while it is valid. */
    while (h2->deferred) {
        struct scc_h2_stream *s = h2->deferred;

        h2->deferred = s->defer_next;
        s->deferred_recv = false;
        if (s->cbs.on_recv_end)
            s->cbs.on_recv_end(s, s->arg);
    }
    if (n < 0)
        return n == NGHTTP2_ERR_NOMEM ? SCC_ENOMEM : SCC_EH2;
    return 0;
}

ssize_t
scc_h2_send(struct scc_h2 *h2, struct scc_buf *out, struct evbuffer *bulk, size_t budget)
{
    size_t start = out->len;
    ssize_t rc = 0;

    if (bulk && evbuffer_get_length(bulk) > 0)
        return SCC_EINVAL; /* its bytes would go out after frames framed now */
    h2->out = out;
    h2->bulk = bulk;
    while (out->len - start < budget) {
        const uint8_t *data = NULL;
        ssize_t n;

        h2->paused = false;
        n = nghttp2_session_mem_send(h2->ng, &data);
        if (n < 0) {
            rc = n == NGHTTP2_ERR_NOMEM ? SCC_ENOMEM : SCC_EH2;
            goto out;
        }
        if (n > 0 && scc_buf_put(out, data, (size_t)n) < 0) {
            /* nghttp2 already considers these bytes sent; losing them
             * would corrupt the stream, so the caller must size out for
             * budget plus one frame.  Treat a violation as fatal. */
            rc = SCC_ETOOBIG;
            goto out;
        }
        if (bulk && evbuffer_get_length(bulk) > 0)
            break; /* the caller writes out and bulk before anything else */
        if (n == 0 && !h2->paused)
            break;
    }
    rc = (ssize_t)(out->len - start + (bulk ? evbuffer_get_length(bulk) : 0));
out:
    h2->out = NULL;
    h2->bulk = NULL;
    return rc;
}

bool
scc_h2_is_done(const struct scc_h2 *h2)
{
    return !nghttp2_session_want_read(h2->ng) && !nghttp2_session_want_write(h2->ng);
}

int
scc_h2_ping(struct scc_h2 *h2)
{
    uint64_t now = scc_time_mono_us();
    uint8_t opaque[8];

    memcpy(opaque, &now, sizeof(opaque));
    if (nghttp2_submit_ping(h2->ng, NGHTTP2_FLAG_NONE, opaque) != 0)
        return SCC_EH2;
    want_write(h2);
    return 0;
}

int
scc_h2_goaway(struct scc_h2 *h2, uint32_t error_code, const char *debug)
{
    int32_t last = nghttp2_session_get_last_proc_stream_id(h2->ng);

    if (nghttp2_submit_goaway(h2->ng, NGHTTP2_FLAG_NONE, last, error_code, (const uint8_t *)debug,
                              debug ? strlen(debug) : 0) != 0)
        return SCC_EH2;
    want_write(h2);
    return 0;
}

size_t
scc_h2_stream_count(const struct scc_h2 *h2)
{
    return h2->nstreams;
}

uint64_t
scc_h2_bytes_in(const struct scc_h2 *h2)
{
    return h2->bytes_in;
}

uint64_t
scc_h2_bytes_out(const struct scc_h2 *h2)
{
    return h2->bytes_out;
}

/* ---- streams ---- */

#define NV(n, v)                                                                                   \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE                 \
    }

static size_t
add_extra(nghttp2_nv *nva, size_t n, size_t cap, const struct scc_h2_hdr *hdrs, size_t nhdrs)
{
    for (size_t i = 0; i < nhdrs && n < cap; i++)
        nva[n++] = (nghttp2_nv)NV(hdrs[i].name, hdrs[i].value);
    return n;
}

static bool
hdrs_fit(const struct scc_h2_hdr *hdrs, size_t nhdrs)
{
    size_t bytes = 0;

    if (nhdrs > SCC_H2_EXTRA_HDRS)
        return false;
    for (size_t i = 0; i < nhdrs; i++)
        bytes += strlen(hdrs[i].name) + strlen(hdrs[i].value);
    return bytes <= SCC_H2_HEAD_MAX;
}

int
scc_h2_request(struct scc_h2 *h2, const char *method, const char *path, const char *authority,
               const struct scc_h2_hdr *hdrs, size_t nhdrs, bool end_stream,
               const struct scc_h2_stream_cbs *cbs, void *arg, struct scc_h2_stream **out)
{
    nghttp2_nv nva[4 + SCC_H2_EXTRA_HDRS];
    nghttp2_data_provider prd;
    struct scc_h2_stream *s;
    bool connect = strcmp(method, "CONNECT") == 0;
    size_t n = 0;
    int32_t id;

    *out = NULL;
    if (h2->role != SCC_H2_CLIENT || authority == NULL || (!connect && path == NULL) ||
        !hdrs_fit(hdrs, nhdrs))
        return SCC_EINVAL;
    if (nghttp2_session_get_remote_settings(h2->ng, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS) <=
                h2->nstreams ||
        h2->goaway || !nghttp2_session_want_read(h2->ng))
        return SCC_EBUSY;
    nva[n++] = (nghttp2_nv)NV(":method", method);
    if (!connect) {
        nva[n++] = (nghttp2_nv)NV(":scheme", "https");
        nva[n++] = (nghttp2_nv)NV(":path", path);
    }
    nva[n++] = (nghttp2_nv)NV(":authority", authority);
    n = add_extra(nva, n, sizeof(nva) / sizeof(nva[0]), hdrs, nhdrs);
    if ((s = stream_new(h2)) == NULL)
        return SCC_ENOMEM;
    prd.source.ptr = s;
    prd.read_callback = data_read;
    s->has_body = !end_stream;
    id = nghttp2_submit_request(h2->ng, NULL, nva, n, end_stream ? NULL : &prd, s);
    if (id < 0) {
        stream_free(s);
        return id == NGHTTP2_ERR_NOMEM ? SCC_ENOMEM : SCC_EH2;
    }
    s->id = id;
    scc_h2_stream_set_cbs(s, cbs, arg);
    want_write(h2);
    *out = s;
    return 0;
}

int
scc_h2_respond(struct scc_h2_stream *s, int status, const struct scc_h2_hdr *hdrs, size_t nhdrs,
               bool end_stream)
{
    nghttp2_nv nva[1 + SCC_H2_EXTRA_HDRS];
    nghttp2_data_provider prd;
    char code[8];
    size_t n = 0;
    int rv;

    if (s->h2->role != SCC_H2_SERVER || status < 200 || status > 599 || !hdrs_fit(hdrs, nhdrs))
        return SCC_EINVAL;
    snprintf(code, sizeof(code), "%d", status);
    nva[n++] = (nghttp2_nv)NV(":status", code);
    n = add_extra(nva, n, sizeof(nva) / sizeof(nva[0]), hdrs, nhdrs);
    prd.source.ptr = s;
    prd.read_callback = data_read;
    s->has_body = !end_stream;
    rv = nghttp2_submit_response(s->h2->ng, s->id, nva, n, end_stream ? NULL : &prd);
    if (rv != 0)
        return rv == NGHTTP2_ERR_NOMEM ? SCC_ENOMEM : SCC_EH2;
    want_write(s->h2);
    return 0;
}

int
scc_h2_respond_json(struct scc_h2_stream *s, int status, const char *json)
{
    const struct scc_h2_hdr hdrs[] = {{"content-type", "application/json"}};
    int rc;

    if ((rc = scc_h2_respond(s, status, hdrs, 1, false)) < 0)
        return rc;
    if ((rc = scc_h2_stream_write(s, json, strlen(json))) < 0)
        return rc;
    return scc_h2_stream_end(s);
}

void
scc_h2_stream_set_cbs(struct scc_h2_stream *s, const struct scc_h2_stream_cbs *cbs, void *arg)
{
    if (cbs)
        s->cbs = *cbs;
    else
        memset(&s->cbs, 0, sizeof(s->cbs));
    s->arg = arg;
}

static int
ensure_queue(struct scc_h2_stream *s)
{
    if (s->q == NULL && (s->q = evbuffer_new()) == NULL)
        return SCC_ENOMEM;
    return 0;
}

void
scc_h2_stream_kick(struct scc_h2_stream *s)
{
    if (s->deferred) {
        s->deferred = false;
        (void)nghttp2_session_resume_data(s->h2->ng, s->id);
    }
    want_write(s->h2);
}

int
scc_h2_stream_write(struct scc_h2_stream *s, const void *data, size_t len)
{
    int rc;

    if (!s->has_body || s->end_queued)
        return SCC_ECLOSED;
    if (len > scc_h2_stream_space(s))
        return SCC_ETOOBIG;
    if ((rc = ensure_queue(s)) < 0)
        return rc;
    if (evbuffer_add(s->q, data, len) != 0)
        return SCC_ENOMEM;
    scc_h2_stream_kick(s);
    return 0;
}

struct evbuffer *
scc_h2_stream_queue(struct scc_h2_stream *s)
{
    return ensure_queue(s) == 0 ? s->q : NULL;
}

size_t
scc_h2_stream_space(const struct scc_h2_stream *s)
{
    size_t used = s->q ? evbuffer_get_length(s->q) : 0;
    size_t max = s->h2->set.stream_send_max;

    return used >= max ? 0 : max - used;
}

int
scc_h2_stream_end(struct scc_h2_stream *s)
{
    if (!s->has_body || s->end_queued)
        return SCC_ECLOSED;
    s->end_queued = true;
    scc_h2_stream_kick(s);
    return 0;
}

void
scc_h2_stream_defer(struct scc_h2_stream *s)
{
    if (s->deferred_recv)
        return;
    s->deferred_recv = true;
    s->defer_next = s->h2->deferred;
    s->h2->deferred = s;
}

void
scc_h2_stream_consume(struct scc_h2_stream *s, size_t n)
{
    if (n == 0)
        return;
    (void)nghttp2_session_consume_stream(s->h2->ng, s->id, n);
    want_write(s->h2);
}

void
scc_h2_stream_reset(struct scc_h2_stream *s, uint32_t error_code)
{
    (void)nghttp2_submit_rst_stream(s->h2->ng, NGHTTP2_FLAG_NONE, s->id, error_code);
    want_write(s->h2);
}

const struct scc_h2_head *
scc_h2_stream_head(const struct scc_h2_stream *s)
{
    return &s->head;
}

const char *
scc_h2_stream_header(const struct scc_h2_stream *s, const char *name)
{
    for (size_t i = 0; i < s->head.nextra; i++) {
        if (strcasecmp(s->head.extra[i].name, name) == 0)
            return s->head.extra[i].value;
    }
    return NULL;
}

int32_t
scc_h2_stream_id(const struct scc_h2_stream *s)
{
    return s->id;
}

struct scc_h2 *
scc_h2_stream_session(const struct scc_h2_stream *s)
{
    return s->h2;
}
