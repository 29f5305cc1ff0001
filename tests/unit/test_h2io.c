/*
 * h2io on a real event loop and socketpair, against an HTTP/2 server in
 * memory that the test feeds by hand, so it decides how fast the socket
 * drains.  What is checked is the copy-free path for large frames (h2.h's
 * bulk): a payload that the socket takes a little at a time still arrives
 * whole and in order.
 */
#include "test.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "tunnel/h2.h"
#include "tunnel/h2io.h"
#include "tunnel/tio.h"

#define CHUNK  (256u << 10) /* one bridge read: one bulk frame */
#define CHUNKS 4

struct rig {
    struct event_base *base;
    struct scc_h2io *io;
    struct scc_h2 *srv;
    int peer; /* the server's end of the socketpair */
    struct scc_buf body, wire;
    int status;
};

static void
srv_data(struct scc_h2_stream *s, const uint8_t *data, size_t len, void *arg)
{
    assert_int_equal(scc_buf_put(&((struct rig *)arg)->body, data, len), 0);
    scc_h2_stream_consume(s, len);
}

static void
srv_request(struct scc_h2 *h2, struct scc_h2_stream *s, void *arg)
{
    static const struct scc_h2_stream_cbs cbs = {.on_data = srv_data};

    (void)h2;
    scc_h2_stream_set_cbs(s, &cbs, arg);
    assert_int_equal(scc_h2_respond(s, 200, NULL, 0, false), 0);
}

static void
cli_head(struct scc_h2_stream *s, void *arg)
{
    ((struct rig *)arg)->status = scc_h2_stream_head(s)->status;
}

static void
on_close(struct scc_h2io *io, int rc, void *arg)
{
    (void)io, (void)rc, (void)arg;
}

/* One turn: the client's loop runs, the server reads at most max bytes
 * of what it sent and answers (SETTINGS, WINDOW_UPDATE, the head). */
static void
turn(struct rig *r, size_t max)
{
    uint8_t buf[16384];
    ssize_t n;

    (void)event_base_loop(r->base, EVLOOP_NONBLOCK);
    n = read(r->peer, buf, max < sizeof(buf) ? max : sizeof(buf));
    if (n > 0)
        assert_int_equal(scc_h2_recv(r->srv, buf, (size_t)n), 0);
    else
        assert_true(n < 0 && errno == EAGAIN);
    scc_buf_reset(&r->wire);
    while (scc_h2_send(r->srv, &r->wire, NULL, 1 << 20) > 0)
        ;
    if (r->wire.len > 0)
        assert_int_equal(write(r->peer, r->wire.data, r->wire.len), (ssize_t)r->wire.len);
}

static void
rig_init(struct rig *r)
{
    struct scc_h2_settings set;
    struct scc_h2_cbs scb = {.on_request = srv_request}, ccb = {0};
    struct scc_h2io_cfg cfg = {0};
    struct scc_tio *tio;
    int sv[2], small = 8192;

    memset(r, 0, sizeof(*r));
    assert_non_null(r->base = event_base_new());
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
    /* The socket takes a few KiB at a time: h2io must resume the bulk
     * payload where the last partial write left it, many times over. */
    assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    r->peer = sv[1];
    scc_h2_settings_default(&set);
    assert_int_equal(scc_tio_new(r->base, sv[0], &tio), 0);
    assert_int_equal(
            scc_h2io_new(r->base, tio, SCC_H2_CLIENT, &set, &ccb, &cfg, on_close, r, &r->io), 0);
    assert_int_equal(scc_h2_new(SCC_H2_SERVER, &set, &scb, r, &r->srv), 0);
    scc_buf_init(&r->body, 2 * CHUNKS * CHUNK);
    scc_buf_init(&r->wire, 1 << 20);
}

static void
test_h2io_bulk_frames_survive_partial_writes(void **state)
{
    static const struct scc_h2_stream_cbs cbs = {.on_head = cli_head};
    struct rig r;
    struct scc_h2_stream *s = NULL;
    uint8_t *sent = malloc(CHUNKS * CHUNK);

    (void)state;
    rig_init(&r);
    assert_int_equal(scc_h2_request(scc_h2io_session(r.io), "CONNECT", NULL, "svc:1", NULL, 0,
                                    false, &cbs, &r, &s),
                     0);
    for (int i = 0; i < 100 && r.status == 0; i++)
        turn(&r, SIZE_MAX);
    assert_int_equal(r.status, 200);
    /* Whole chunks in the stream's queue, as the bridge reads them. */
    for (size_t i = 0; i < CHUNKS * CHUNK; i++)
        sent[i] = (uint8_t)(i * 31 + i / 4093);
    for (int c = 0; c < CHUNKS; c++) {
        struct evbuffer_iovec v;

        assert_int_equal(evbuffer_reserve_space(scc_h2_stream_queue(s), CHUNK, &v, 1), 1);
        memcpy(v.iov_base, sent + (size_t)c * CHUNK, CHUNK);
        v.iov_len = CHUNK;
        assert_int_equal(evbuffer_commit_space(scc_h2_stream_queue(s), &v, 1), 0);
    }
    scc_h2_stream_kick(s);
    /* A slow reader: 3,000 bytes a turn, so no write lines up with a
     * record or a frame. */
    for (int i = 0; i < 100000 && r.body.len < CHUNKS * CHUNK; i++)
        turn(&r, 3000);
    assert_int_equal(r.body.len, CHUNKS * CHUNK);
    assert_memory_equal(r.body.data, sent, CHUNKS * CHUNK);

    scc_h2io_close_now(r.io, 0);
    scc_h2_free(r.srv);
    close(r.peer);
    scc_buf_fini(&r.body);
    scc_buf_fini(&r.wire);
    event_base_free(r.base);
    free(sent);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_h2io_bulk_frames_survive_partial_writes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
