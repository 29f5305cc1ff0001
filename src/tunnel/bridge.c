#include "bridge.h"

#include "common/err.h"
#include "common/mem.h"
#include "tunnel/h2.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <limits.h>
#include <nghttp2/nghttp2.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define READ_MAX   (256u << 10)
#define READ_BURST (1u << 20) /* per wake-up, then let others run */
#define BATCH_IOV  64         /* stream chunks written by one writev(2) */

struct scc_bridge {
    struct scc_h2_stream *s; /* NULL once the stream closed */
    int fd;
    struct event *rd, *wr;
    struct evbuffer *out;        /* stream bytes the socket has not taken yet */
    struct iovec iov[BATCH_IOV]; /* this recv batch's chunks, not copied */
    size_t niov;
    bool established; /* reading the socket is allowed */
    bool sock_eof;    /* the socket said EOF; the stream was ended */
    bool peer_ended;  /* END_STREAM received */
    bool shut_wr;
    bool flush_pending; /* the write event was activated by hand */
    uint64_t to_stream, to_socket;
    uint32_t close_code;
    scc_bridge_done_cb done;
    void (*head_cb)(void *arg, int status);
    void *arg;
};

static void
set_reading(struct scc_bridge *b, bool on)
{
    if (on && b->established && !b->sock_eof && b->s)
        event_add(b->rd, NULL);
    else
        event_del(b->rd);
}

static void
bridge_free(struct scc_bridge *b)
{
    if (b->done)
        b->done(b->arg, b->to_stream, b->to_socket, b->close_code);
    if (b->rd)
        event_free(b->rd);
    if (b->wr)
        event_free(b->wr);
    if (b->out)
        evbuffer_free(b->out);
    if (b->fd >= 0)
        close(b->fd);
    scc_free(b);
}

/* Everything the peer sent has reached the socket: pass its END_STREAM
 * on as a half-close, and once the stream is gone too, finish. */
static void
settle(struct scc_bridge *b)
{
    if (b->niov > 0 || evbuffer_get_length(b->out) > 0)
        return;
    if (b->peer_ended && !b->shut_wr) {
        b->shut_wr = true;
        (void)shutdown(b->fd, SHUT_WR); /* the peer may already be gone */
    }
    if (b->s == NULL)
        bridge_free(b);
}

/* ---- socket to stream ---- */

/* Read straight into the stream's queue, without evbuffer_read's
 * FIONREAD ioctl: >0 bytes, 0 at EOF, -EAGAIN, or -errno. */
static ssize_t
read_into(struct evbuffer *q, int fd, size_t want)
{
    struct evbuffer_iovec vec;
    ssize_t n;

    if (evbuffer_reserve_space(q, (ev_ssize_t)want, &vec, 1) < 1)
        return -ENOMEM;
    do {
        n = read(fd, vec.iov_base, want);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        vec.iov_len = 0;
        evbuffer_commit_space(q, &vec, 1);
        return n < 0 ? (errno == EWOULDBLOCK ? -EAGAIN : -errno) : 0;
    }
    vec.iov_len = (size_t)n;
    evbuffer_commit_space(q, &vec, 1);
    return n;
}

static void
on_sock_read(evutil_socket_t fd, short what, void *arg)
{
    struct scc_bridge *b = arg;
    struct evbuffer *q = b->s ? scc_h2_stream_queue(b->s) : NULL;
    size_t total = 0;
    ssize_t n = -EAGAIN;

    (void)what;
    if (q == NULL) {
        set_reading(b, false);
        if (b->s)
            scc_h2_stream_reset(b->s, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    /* Take what the socket has, up to the queue's room: fewer, larger
     * frames and writes downstream than one read per wake-up. */
    while (total < READ_BURST) {
        size_t space = scc_h2_stream_space(b->s), want = space < READ_MAX ? space : READ_MAX;

        if (space == 0) {
            set_reading(b, false); /* on_drain turns it back on */
            break;
        }
        if ((n = read_into(q, (int)fd, want)) <= 0)
            break;
        total += (size_t)n;
        b->to_stream += (uint64_t)n;
        if ((size_t)n < want)
            break; /* the socket is drained */
    }
    if (total > 0)
        scc_h2_stream_kick(b->s);
    if (n == 0) {
        b->sock_eof = true;
        set_reading(b, false);
        (void)scc_h2_stream_end(b->s);
    } else if (n < 0 && n != -EAGAIN) {
        scc_h2_stream_reset(b->s, NGHTTP2_CONNECT_ERROR);
        set_reading(b, false);
    }
}

/*
 * A client usually speaks right after its connect() returns, before we
 * get to open its stream: take those bytes now so they leave with the
 * stream's HEADERS in one TLS record, and the node gets request and
 * first data in one wake-up.  EOF and errors are left to the read event,
 * which reports them again, so nothing here can end the stream under
 * the caller.
 */
void
scc_bridge_prefill(struct scc_bridge *b)
{
    struct evbuffer *q = scc_h2_stream_queue(b->s);
    size_t space = scc_h2_stream_space(b->s);
    ssize_t n;

    if (!b->established || q == NULL || space == 0)
        return;
    if ((n = read_into(q, b->fd, space < READ_MAX ? space : READ_MAX)) > 0) {
        b->to_stream += (uint64_t)n;
        scc_h2_stream_kick(b->s);
    }
}

static void
on_drain(struct scc_h2_stream *s, size_t n, void *arg)
{
    (void)s, (void)n;
    set_reading(arg, true);
}

/* ---- stream to socket ---- */

/* Credit the peer for bytes the socket has taken. */
static void
delivered(struct scc_bridge *b, size_t n)
{
    b->to_socket += n;
    if (b->s)
        scc_h2_stream_consume(b->s, n);
}

static void
on_sock_write(evutil_socket_t fd, short what, void *arg)
{
    struct scc_bridge *b = arg;
    int n = evbuffer_write(b->out, fd);

    (void)what;
    b->flush_pending = false;
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
        event_del(b->wr);
        evbuffer_drain(b->out, evbuffer_get_length(b->out)); /* nobody to deliver to */
        if (b->s)
            scc_h2_stream_reset(b->s, NGHTTP2_CONNECT_ERROR);
        settle(b);
        return;
    }
    if (n > 0)
        delivered(b, (size_t)n);
    if (evbuffer_get_length(b->out) == 0) {
        event_del(b->wr);
        settle(b);
    } else {
        event_add(b->wr, NULL); /* the socket is full: wait for room */
    }
}

static void flush_batch(struct scc_bridge *b);

/*
 * Stream bytes are collected while one scc_h2_recv runs (they point into
 * the tunnel's read buffer, no copy) and written with one writev(2) when
 * it ends: one system call for many TLS records.  What the socket does
 * not take is copied to out and written when it has room.  Bytes that
 * arrive while out holds older ones are queued behind them.
 */
static void
on_data(struct scc_h2_stream *s, const uint8_t *data, size_t len, void *arg)
{
    struct scc_bridge *b = arg;

    /* A full batch is written (or kept) first: bytes added to out now
     * would otherwise go ahead of the batch's unwritten rest. */
    if (b->niov == BATCH_IOV)
        flush_batch(b);
    if (evbuffer_get_length(b->out) == 0 && b->niov < BATCH_IOV) {
        b->iov[b->niov].iov_base = (void *)(uintptr_t)data;
        b->iov[b->niov++].iov_len = len;
        scc_h2_stream_defer(s);
        return;
    }
    if (evbuffer_add(b->out, data, len) != 0) {
        scc_h2_stream_reset(s, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    if (!b->flush_pending) {
        b->flush_pending = true;
        event_active(b->wr, EV_WRITE, 0);
    }
}

/* Write the batch; keep (copy) the part the socket did not take. */
static void
flush_batch(struct scc_bridge *b)
{
    ssize_t n = 0;
    size_t i;

    if (b->niov == 0)
        return;
    do {
        n = writev(b->fd, b->iov, (int)b->niov);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN)
        n = -1;
    else if (n < 0)
        n = 0;
    if (n > 0)
        delivered(b, (size_t)n);
    for (i = 0; i < b->niov && n >= 0; i++) {
        size_t skip = (size_t)n < b->iov[i].iov_len ? (size_t)n : b->iov[i].iov_len;

        n -= (ssize_t)skip;
        if (skip < b->iov[i].iov_len)
            (void)evbuffer_add(b->out, (uint8_t *)b->iov[i].iov_base + skip,
                               b->iov[i].iov_len - skip);
    }
    b->niov = 0;
    if (n < 0 && b->s) /* the socket failed */
        scc_h2_stream_reset(b->s, NGHTTP2_CONNECT_ERROR);
    if (evbuffer_get_length(b->out) > 0)
        event_add(b->wr, NULL);
}

static void
on_recv_end(struct scc_h2_stream *s, void *arg)
{
    struct scc_bridge *b = arg;

    (void)s;
    flush_batch(b);
    settle(b);
}

static void
on_end(struct scc_h2_stream *s, void *arg)
{
    struct scc_bridge *b = arg;

    (void)s;
    b->peer_ended = true;
    settle(b);
}

static void
on_head(struct scc_h2_stream *s, void *arg)
{
    struct scc_bridge *b = arg;
    int status = scc_h2_stream_head(s)->status;

    if (b->head_cb) {
        b->head_cb(b->arg, status);
        b->head_cb = NULL;
    }
    if (status < 200 || status > 299) {
        scc_h2_stream_reset(s, NGHTTP2_CONNECT_ERROR);
        return;
    }
    b->established = true;
    set_reading(b, true);
}

static void
on_close(struct scc_h2_stream *s, uint32_t code, void *arg)
{
    struct scc_bridge *b = arg;

    (void)s;
    if (b->head_cb)
        b->head_cb(b->arg, 0);
    b->head_cb = NULL;
    b->s = NULL;
    b->close_code = code;
    set_reading(b, false);
    /* Bytes of this batch are valid only until the recv returns: keep
     * them now.  After an orderly end, the socket still gets everything;
     * after a reset, what is left is dropped. */
    flush_batch(b);
    if (code != 0)
        evbuffer_drain(b->out, evbuffer_get_length(b->out));
    settle(b);
}

int
scc_bridge_new(struct event_base *base, int fd, struct scc_h2_stream *s, bool wait_for_head,
               scc_bridge_done_cb done, void *arg, struct scc_bridge **out)
{
    static const struct scc_h2_stream_cbs cbs = {.on_head = on_head,
                                                 .on_data = on_data,
                                                 .on_end = on_end,
                                                 .on_drain = on_drain,
                                                 .on_close = on_close,
                                                 .on_recv_end = on_recv_end};
    struct scc_bridge *b = scc_calloc(1, sizeof(*b));

    if (out)
        *out = NULL;
    if (b == NULL) {
        close(fd);
        return SCC_ENOMEM;
    }
    b->s = s;
    b->fd = fd;
    b->done = done;
    b->arg = arg;
    b->rd = event_new(base, fd, EV_READ | EV_PERSIST, on_sock_read, b);
    b->wr = event_new(base, fd, EV_WRITE | EV_PERSIST, on_sock_write, b);
    b->out = evbuffer_new();
    if (b->rd == NULL || b->wr == NULL || b->out == NULL) {
        b->done = NULL;
        bridge_free(b);
        return SCC_ENOMEM;
    }
    scc_h2_stream_set_cbs(s, &cbs, b);
    b->established = !wait_for_head;
    set_reading(b, true);
    if (out)
        *out = b;
    return 0;
}

void
scc_bridge_on_head(struct scc_bridge *b, void (*cb)(void *arg, int status))
{
    b->head_cb = cb;
}

void
scc_bridge_feed(struct scc_bridge *b, const uint8_t *data, size_t len)
{
    if (len == 0)
        return;
    /* Not inside a recv: nothing to batch with, and data is the caller's. */
    if (evbuffer_add(b->out, data, len) == 0 && !b->flush_pending) {
        b->flush_pending = true;
        event_active(b->wr, EV_WRITE, 0);
    }
}
