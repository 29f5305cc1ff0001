#include "bridge.h"

#include "common/err.h"
#include "common/mem.h"
#include "tunnel/h2.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_MAX   (256u << 10)
#define READ_BURST (1u << 20) /* per wake-up, then let others run */

struct scc_bridge {
    struct scc_h2_stream *s;
    int fd;
    struct event *rd, *wr;
    struct evbuffer *out; /* stream bytes the socket has not taken yet */
    bool established;     /* reading the socket is allowed */
    bool sock_eof;        /* the socket said EOF; the stream was ended */
    bool peer_ended;      /* END_STREAM received */
    bool shut_wr;
    bool flush_pending; /* the write event was activated by hand */
    uint64_t to_stream, to_socket;
    scc_bridge_done_cb done;
    void (*head_cb)(void *arg, int status);
    void *arg;
};

static void
set_reading(struct scc_bridge *b, bool on)
{
    if (on && b->established && !b->sock_eof)
        event_add(b->rd, NULL);
    else
        event_del(b->rd);
}

static void
maybe_shut_wr(struct scc_bridge *b)
{
    if (b->peer_ended && !b->shut_wr && evbuffer_get_length(b->out) == 0) {
        b->shut_wr = true;
        (void)shutdown(b->fd, SHUT_WR); /* the peer may already be gone */
    }
}

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
    struct evbuffer *q = scc_h2_stream_queue(b->s);
    size_t total = 0;
    ssize_t n = -EAGAIN;

    (void)what;
    if (q == NULL) {
        scc_h2_stream_reset(b->s, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    /* Take what the socket has, up to the queue's room: fewer, larger
     * frames and writes downstream than one read per wake-up. */
    while (total < READ_BURST) {
        size_t space = scc_h2_stream_space(b->s);

        if (space == 0) {
            set_reading(b, false); /* on_drain turns it back on */
            break;
        }
        if ((n = read_into(q, (int)fd, space < READ_MAX ? space : READ_MAX)) <= 0)
            break;
        total += (size_t)n;
        b->to_stream += (uint64_t)n;
        if ((size_t)n < (space < READ_MAX ? space : READ_MAX))
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

static void
on_sock_write(evutil_socket_t fd, short what, void *arg)
{
    struct scc_bridge *b = arg;
    int n = evbuffer_write(b->out, fd);

    (void)what;
    b->flush_pending = false;
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
        event_del(b->wr);
        scc_h2_stream_reset(b->s, NGHTTP2_CONNECT_ERROR);
        return;
    }
    if (n > 0) {
        b->to_socket += (uint64_t)n;
        scc_h2_stream_consume(b->s, (size_t)n);
    }
    if (evbuffer_get_length(b->out) == 0) {
        event_del(b->wr);
        maybe_shut_wr(b);
    } else {
        event_add(b->wr, NULL); /* the socket is full: wait for room */
    }
}

/* Stream bytes are queued and written once per loop iteration (the write
 * event is activated by hand): one writev(2) for everything that arrived
 * in a read of the tunnel, rather than a write(2) per TLS record. */
static void
on_data(struct scc_h2_stream *s, const uint8_t *data, size_t len, void *arg)
{
    struct scc_bridge *b = arg;

    if (evbuffer_add(b->out, data, len) != 0) {
        scc_h2_stream_reset(s, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    if (!b->flush_pending) {
        b->flush_pending = true;
        event_active(b->wr, EV_WRITE, 0);
    }
}

static void
on_end(struct scc_h2_stream *s, void *arg)
{
    struct scc_bridge *b = arg;

    (void)s;
    b->peer_ended = true;
    maybe_shut_wr(b);
}

static void
on_drain(struct scc_h2_stream *s, size_t n, void *arg)
{
    (void)s, (void)n;
    set_reading(arg, true);
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
bridge_free(struct scc_bridge *b)
{
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

static void
on_close(struct scc_h2_stream *s, uint32_t code, void *arg)
{
    struct scc_bridge *b = arg;

    (void)s;
    if (b->head_cb)
        b->head_cb(b->arg, 0);
    if (b->done)
        b->done(b->arg, b->to_stream, b->to_socket, code);
    bridge_free(b);
}

int
scc_bridge_new(struct event_base *base, int fd, struct scc_h2_stream *s, bool wait_for_head,
               scc_bridge_done_cb done, void *arg, struct scc_bridge **out)
{
    static const struct scc_h2_stream_cbs cbs = {.on_head = on_head,
                                                 .on_data = on_data,
                                                 .on_end = on_end,
                                                 .on_drain = on_drain,
                                                 .on_close = on_close};
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
scc_bridge_feed(struct scc_bridge *b, const uint8_t *data, size_t len)
{
    if (len > 0)
        on_data(b->s, data, len, b);
}

void
scc_bridge_on_head(struct scc_bridge *b, void (*cb)(void *arg, int status))
{
    b->head_cb = cb;
}
