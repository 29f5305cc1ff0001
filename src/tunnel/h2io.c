#include "h2io.h"

#include "common/err.h"
#include "common/mem.h"
#include "common/time.h"
#include "tunnel/tio.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <string.h>

#define OUT_BUDGET        (256u << 10) /* bytes framed per write burst */
#define OUT_MAX           (2u << 20)   /* budget + one max frame, with room to spare */
#define READ_BATCH        (256u << 10) /* plaintext handed to nghttp2 at once */
#define READ_MIN          (17u << 10)  /* room for one more TLS record */
#define BATCHES_PER_EVENT 4            /* then yield to other connections */
#define TICK_MS           5000u        /* how often the deadline is checked */
/* Quiet this long, a connection gives its buffers back (~80 KiB): a
 * keep-alive PING each way every 20 s holds them 1% of the time, one in
 * use keeps them instead of allocating them around every record. */
#define TRIM_MS 100u

struct scc_h2io {
    struct event_base *base;
    struct scc_tio *tio;
    struct scc_h2 *h2;
    struct scc_h2_cbs user; /* owner's on_request / on_goaway */
    void *arg;
    scc_h2io_close_cb on_close;
    struct scc_h2io_cfg cfg;
    struct scc_buf out;    /* framed, not yet written */
    size_t off;            /* written prefix of out */
    struct evbuffer *bulk; /* a bulk frame's payload, due after out (h2.h) */
    struct event *flush_ev, *tick_ev, *close_ev, *trim_ev;
    uint64_t last_rx_ms, last_ping_ms, last_tx_ms;
    bool trim_armed; /* trim_ev is pending */
    uint64_t rtt_us, wire_in, wire_out;
    uint64_t payload_in, payload_out; /* saved when the session goes */
    bool closing, draining;
    int close_rc;
};

/* One read buffer for the whole process: the loop is single-threaded and
 * every byte read is handed to nghttp2 before the next read.  A batch of
 * several TLS records goes to nghttp2 in one call, so consumers that defer
 * (scc_h2_stream_defer) can write a whole batch with one writev(2). */
static _Alignas(64) uint8_t read_buf[READ_BATCH]; /* see cin_reserve in tio.c */

static void
schedule_flush(struct scc_h2io *io)
{
    if (!io->closing)
        event_active(io->flush_ev, 0, 0);
}

static void
on_want_write(struct scc_h2 *h2, void *arg)
{
    (void)h2;
    schedule_flush(arg);
}

static void
on_ping_ack(struct scc_h2 *h2, uint64_t rtt_us, void *arg)
{
    struct scc_h2io *io = arg;

    (void)h2;
    io->rtt_us = rtt_us;
}

static void
on_request(struct scc_h2 *h2, struct scc_h2_stream *s, void *arg)
{
    struct scc_h2io *io = arg;

    if (io->user.on_request)
        io->user.on_request(h2, s, io->arg);
    else
        scc_h2_stream_reset(s, 7 /* REFUSED_STREAM */);
}

static void
on_goaway(struct scc_h2 *h2, uint32_t code, const uint8_t *debug, size_t len, void *arg)
{
    struct scc_h2io *io = arg;

    if (io->user.on_goaway)
        io->user.on_goaway(h2, code, debug, len, io->arg);
}

void
scc_h2io_close(struct scc_h2io *io, int rc)
{
    if (io->closing)
        return;
    io->closing = true;
    io->close_rc = rc;
    scc_tio_set_cb(io->tio, NULL, NULL);
    scc_tio_pause_read(io->tio, true);
    scc_tio_want_write(io->tio, false);
    event_del(io->tick_ev);
    event_del(io->flush_ev);
    event_del(io->trim_ev);
    /* Never free inside our own callbacks: finish from a fresh event. */
    event_active(io->close_ev, 0, 0);
}

static void
arm_trim(struct scc_h2io *io, uint64_t after_ms)
{
    struct timeval tv = {.tv_sec = 0, .tv_usec = (suseconds_t)(after_ms * 1000)};

    io->trim_armed = event_add(io->trim_ev, &tv) == 0;
}

/* Bytes moved just now: keep the buffers at least TRIM_MS more.  One
 * timer per TRIM_MS, not one per record (on_trim re-arms it). */
static void
touch(struct scc_h2io *io, uint64_t *last_ms)
{
    *last_ms = scc_time_mono_ms();
    if (!io->trim_armed)
        arm_trim(io, TRIM_MS);
}

static void
on_trim(evutil_socket_t fd, short what, void *arg)
{
    struct scc_h2io *io = arg;
    uint64_t last = io->last_rx_ms > io->last_tx_ms ? io->last_rx_ms : io->last_tx_ms;
    uint64_t quiet = scc_time_mono_ms() - last;

    (void)fd, (void)what;
    io->trim_armed = false;
    if (quiet < TRIM_MS) {
        arm_trim(io, TRIM_MS - quiet);
        return;
    }
    if (io->out.len == 0)
        scc_buf_fini(&io->out);
    scc_tio_trim(io->tio);
}

/* Hand len bytes to the transport: how many it took (fewer than len when
 * the socket is full; the write event is then armed), or <0 once closed. */
static ssize_t
write_some(struct scc_h2io *io, const uint8_t *p, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = scc_tio_write(io->tio, p + done, len - done);

        if (n < 0) {
            scc_h2io_close(io, (int)n);
            return n;
        }
        if (n == 0) {
            scc_tio_want_write(io->tio, true);
            break;
        }
        done += (size_t)n;
    }
    if (done > 0) {
        io->wire_out += done;
        touch(io, &io->last_tx_ms);
    }
    return (ssize_t)done;
}

static bool
write_pending(struct scc_h2io *io)
{
    ssize_t n;

    if (io->off == io->out.len) /* nothing, and out.data may be NULL */
        return true;
    n = write_some(io, io->out.data + io->off, io->out.len - io->off);
    if (n < 0 || (io->off += (size_t)n) < io->out.len)
        return false;
    scc_buf_reset(&io->out);
    io->off = 0;
    return true;
}

/* A bulk payload goes straight from its chunk, in whole records (out is
 * empty by now); what is left of a record moves to out, to share that
 * record with whatever is framed next. */
static bool
write_bulk(struct scc_h2io *io)
{
    size_t len;

    while ((len = evbuffer_get_length(io->bulk)) >= SCC_H2_BULK_ALIGN) {
        size_t whole = len - len % SCC_H2_BULK_ALIGN;
        struct evbuffer_iovec v;
        ssize_t n;

        (void)evbuffer_peek(io->bulk, -1, NULL, &v, 1);
        if (v.iov_len > whole)
            v.iov_len = whole;
        if ((n = write_some(io, v.iov_base, v.iov_len)) < 0)
            return false;
        (void)evbuffer_drain(io->bulk, (size_t)n);
        if ((size_t)n < v.iov_len)
            return false;
    }
    if (len > 0) {
        if (scc_buf_reserve(&io->out, len) < 0) {
            scc_h2io_close(io, SCC_ENOMEM);
            return false;
        }
        io->out.len = (size_t)evbuffer_remove(io->bulk, io->out.data, len);
    }
    return true;
}

static void
flush(struct scc_h2io *io)
{
    int rc;

    if (io->closing)
        return;
    for (;;) {
        ssize_t n;

        if (!write_pending(io) || !write_bulk(io))
            return;
        n = scc_h2_send(io->h2, &io->out, io->bulk, OUT_BUDGET);
        if (n < 0) {
            scc_h2io_close(io, (int)n);
            return;
        }
        if (n == 0) {
            if (!write_pending(io)) /* a bulk payload's last bytes */
                return;
            break;
        }
    }
    if ((rc = scc_tio_flush(io->tio)) < 0) {
        scc_h2io_close(io, rc);
        return;
    }
    scc_tio_want_write(io->tio, false);
    if (scc_h2_is_done(io->h2) || (io->draining && scc_h2_stream_count(io->h2) == 0))
        scc_h2io_close(io, 0);
}

static void
on_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    flush(arg);
}

/* Fill read_buf with as many records as are at hand: >0 bytes, 0 when
 * nothing was there, <0 when the connection failed (after what was read). */
static ssize_t
read_batch(struct scc_h2io *io, int *err)
{
    size_t len = 0;

    *err = 0;
    while (sizeof(read_buf) - len >= READ_MIN) {
        ssize_t n = scc_tio_read(io->tio, read_buf + len, sizeof(read_buf) - len);

        if (n <= 0) {
            *err = (int)n;
            break;
        }
        len += (size_t)n;
    }
    return (ssize_t)len;
}

static void
do_read(struct scc_h2io *io)
{
    for (int i = 0; i < BATCHES_PER_EVENT; i++) {
        int err, rc;
        ssize_t n = read_batch(io, &err);

        if (n > 0) {
            io->wire_in += (uint64_t)n;
            touch(io, &io->last_rx_ms);
            if ((rc = scc_h2_recv(io->h2, read_buf, (size_t)n)) < 0) {
                /* nghttp2 has queued a GOAWAY saying why; send it, then go. */
                flush(io);
                scc_h2io_close(io, rc);
                return;
            }
        }
        if (err < 0) {
            scc_h2io_close(io, err);
            return;
        }
        if (io->closing || n == 0 || (size_t)n < sizeof(read_buf) - READ_MIN)
            return; /* drained (err 0 with a short batch means would-block) */
    }
    scc_tio_read_again(io->tio);
}

static void
on_io(struct scc_tio *t, short what, void *arg)
{
    struct scc_h2io *io = arg;

    (void)t;
    if (what & SCC_TIO_READ)
        do_read(io);
    if (!io->closing)
        flush(io);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct scc_h2io *io = arg;
    uint64_t now = scc_time_mono_ms();

    (void)fd, (void)what;
    if (io->cfg.dead_after_ms && now - io->last_rx_ms > io->cfg.dead_after_ms) {
        scc_h2io_close(io, SCC_ETIMEOUT);
        return;
    }
    if (io->cfg.ping_interval_ms && now - io->last_ping_ms >= io->cfg.ping_interval_ms) {
        io->last_ping_ms = now;
        (void)scc_h2_ping(io->h2);
    }
}

static void
on_close_ev(evutil_socket_t fd, short what, void *arg)
{
    struct scc_h2io *io = arg;

    (void)fd, (void)what;
    /* Streams first, while their owners and ours are still alive. */
    io->payload_in = scc_h2_bytes_in(io->h2);
    io->payload_out = scc_h2_bytes_out(io->h2);
    scc_h2_free(io->h2);
    io->h2 = NULL;
    if (io->close_rc == 0 || io->close_rc == SCC_ECLOSED)
        scc_tio_close_notify(io->tio);
    if (io->on_close)
        io->on_close(io, io->close_rc, io->arg);
    event_free(io->flush_ev);
    event_free(io->tick_ev);
    event_free(io->close_ev);
    event_free(io->trim_ev);
    scc_tio_free(io->tio);
    scc_buf_fini(&io->out);
    evbuffer_free(io->bulk);
    scc_free(io);
}

void
scc_h2io_close_now(struct scc_h2io *io, int rc)
{
    scc_h2io_close(io, rc);
    event_del(io->close_ev);
    on_close_ev(-1, 0, io);
}

static int
events_new(struct scc_h2io *io)
{
    uint32_t tick = TICK_MS;
    struct timeval tv;

    io->flush_ev = event_new(io->base, -1, 0, on_flush, io);
    io->close_ev = event_new(io->base, -1, 0, on_close_ev, io);
    io->tick_ev = event_new(io->base, -1, EV_PERSIST, on_tick, io);
    io->trim_ev = event_new(io->base, -1, 0, on_trim, io);
    if (io->flush_ev == NULL || io->close_ev == NULL || io->tick_ev == NULL || io->trim_ev == NULL)
        return SCC_ENOMEM;
    if (io->cfg.ping_interval_ms && io->cfg.ping_interval_ms < tick)
        tick = io->cfg.ping_interval_ms;
    if (io->cfg.dead_after_ms && io->cfg.dead_after_ms / 4 < tick)
        tick = io->cfg.dead_after_ms / 4 ? io->cfg.dead_after_ms / 4 : 1;
    tv.tv_sec = (time_t)(tick / 1000);
    tv.tv_usec = (suseconds_t)(tick % 1000) * 1000;
    return event_add(io->tick_ev, &tv) == 0 ? 0 : SCC_ENOMEM;
}

int
scc_h2io_new(struct event_base *base, struct scc_tio *tio, enum scc_h2_role role,
             const struct scc_h2_settings *set, const struct scc_h2_cbs *cbs,
             const struct scc_h2io_cfg *cfg, scc_h2io_close_cb on_close, void *arg,
             struct scc_h2io **out)
{
    struct scc_h2_cbs mine = {.on_request = on_request,
                              .want_write = on_want_write,
                              .on_goaway = on_goaway,
                              .on_ping_ack = on_ping_ack};
    struct scc_h2io *io = scc_calloc(1, sizeof(*io));
    int rc = SCC_ENOMEM;

    *out = NULL;
    if (io == NULL) {
        scc_tio_free(tio);
        return rc;
    }
    io->base = base;
    io->tio = tio;
    io->user = *cbs;
    io->arg = arg;
    io->cfg = *cfg;
    io->on_close = on_close;
    io->last_rx_ms = io->last_ping_ms = io->last_tx_ms = scc_time_mono_ms();
    scc_buf_init(&io->out, OUT_MAX);
    if ((io->bulk = evbuffer_new()) == NULL || (rc = events_new(io)) < 0 ||
        (rc = scc_h2_new(role, set, &mine, io, &io->h2)) < 0)
        goto fail;
    scc_tio_set_cb(tio, on_io, io);
    schedule_flush(io); /* our SETTINGS (and preface) go out at once */
    *out = io;
    return 0;
fail:
    if (io->flush_ev)
        event_free(io->flush_ev);
    if (io->tick_ev)
        event_free(io->tick_ev);
    if (io->close_ev)
        event_free(io->close_ev);
    if (io->trim_ev)
        event_free(io->trim_ev);
    if (io->bulk)
        evbuffer_free(io->bulk);
    scc_tio_free(io->tio);
    scc_free(io);
    return rc;
}

void
scc_h2io_drain(struct scc_h2io *io, uint32_t error_code, const char *debug)
{
    if (io->closing || io->draining)
        return;
    io->draining = true;
    (void)scc_h2_goaway(io->h2, error_code, debug);
}

void
scc_h2io_detach(struct scc_h2io *io)
{
    memset(&io->user, 0, sizeof(io->user));
    io->on_close = NULL;
    io->arg = NULL;
}

struct scc_h2 *
scc_h2io_session(struct scc_h2io *io)
{
    return io->h2;
}

struct scc_tio *
scc_h2io_tio(struct scc_h2io *io)
{
    return io->tio;
}

bool
scc_h2io_is_closing(const struct scc_h2io *io)
{
    return io->closing;
}

uint64_t
scc_h2io_rtt_us(const struct scc_h2io *io)
{
    return io->rtt_us;
}

uint64_t
scc_h2io_wire_in(const struct scc_h2io *io)
{
    return io->wire_in;
}

uint64_t
scc_h2io_wire_out(const struct scc_h2io *io)
{
    return io->wire_out;
}

uint64_t
scc_h2io_payload_in(const struct scc_h2io *io)
{
    return io->h2 ? scc_h2_bytes_in(io->h2) : io->payload_in;
}

uint64_t
scc_h2io_payload_out(const struct scc_h2io *io)
{
    return io->h2 ? scc_h2_bytes_out(io->h2) : io->payload_out;
}
