/*
 * The bridge between a stream and a socket: a real event loop and a real
 * socketpair on one side, an HTTP/2 client in memory (the sans-IO core) on
 * the other, so the test decides exactly which frames arrive in one batch.
 */
#include "test.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "tunnel/bridge.h"
#include "tunnel/h2.h"

struct rig {
    struct event_base *base;
    struct scc_h2 *c, *s;
    struct scc_buf wire;
    int sock[2]; /* [0] the bridge's, [1] the service's */
};

static void
on_request(struct scc_h2 *h2, struct scc_h2_stream *st, void *arg)
{
    struct rig *r = arg;

    (void)h2;
    assert_int_equal(scc_bridge_new(r->base, r->sock[0], st, false, NULL, NULL, NULL), 0);
    assert_int_equal(scc_h2_respond(st, 200, NULL, 0, false), 0);
}

/* What from has framed goes to to in one scc_h2_recv. */
static void
deliver(struct rig *r, struct scc_h2 *from, struct scc_h2 *to)
{
    scc_buf_reset(&r->wire);
    while (scc_h2_send(from, &r->wire, NULL, 1 << 20) > 0)
        ;
    if (r->wire.len > 0)
        assert_int_equal(scc_h2_recv(to, r->wire.data, r->wire.len), 0);
}

static void
rig_init(struct rig *r)
{
    struct scc_h2_settings set;
    struct scc_h2_cbs scb = {.on_request = on_request}, ccb = {0};
    int small = 4096;

    memset(r, 0, sizeof(*r));
    assert_non_null(r->base = event_base_new());
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, r->sock), 0);
    assert_int_equal(fcntl(r->sock[0], F_SETFL, O_NONBLOCK), 0);
    assert_int_equal(fcntl(r->sock[1], F_SETFL, O_NONBLOCK), 0);
    /* A small socket buffer: a batch's writev(2) cannot take it all. */
    assert_int_equal(setsockopt(r->sock[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    scc_h2_settings_default(&set);
    assert_int_equal(scc_h2_new(SCC_H2_CLIENT, &set, &ccb, r, &r->c), 0);
    assert_int_equal(scc_h2_new(SCC_H2_SERVER, &set, &scb, r, &r->s), 0);
    scc_buf_init(&r->wire, 8 << 20);
    deliver(r, r->c, r->s);
    deliver(r, r->s, r->c);
}

/*
 * More DATA frames in one batch than the bridge gathers for one writev(2)
 * (64), while the socket is full: every byte still reaches the service
 * once and in order.  (The 65th frame used to be queued ahead of what the
 * socket had not yet taken of the first 64.)
 */
static void
test_bridge_many_frames_in_one_batch_keep_their_order(void **state)
{
    enum { FRAMES = 150, LEN = 1000 };
    static uint8_t sent[FRAMES * LEN], got[FRAMES * LEN];
    struct rig r;
    struct scc_h2_stream *cs = NULL;
    size_t have = 0;

    (void)state;
    rig_init(&r);
    assert_int_equal(scc_h2_request(r.c, "CONNECT", NULL, "svc:1", NULL, 0, false, NULL, NULL, &cs),
                     0);
    deliver(&r, r.c, r.s);
    deliver(&r, r.s, r.c);
    for (size_t i = 0; i < sizeof(sent); i++)
        sent[i] = (uint8_t)(i / LEN + i * 13);
    /* One frame per write: framed one by one, delivered all at once. */
    scc_buf_reset(&r.wire);
    for (int f = 0; f < FRAMES; f++) {
        assert_int_equal(scc_h2_stream_write(cs, sent + f * LEN, LEN), 0);
        while (scc_h2_send(r.c, &r.wire, NULL, 1 << 20) > 0)
            ;
    }
    assert_int_equal(scc_h2_recv(r.s, r.wire.data, r.wire.len), 0);

    for (int spins = 0; have < sizeof(got) && spins < 100000; spins++) {
        ssize_t n = read(r.sock[1], got + have, sizeof(got) - have);

        if (n > 0)
            have += (size_t)n;
        else
            assert_true(n < 0 && errno == EAGAIN);
        (void)event_base_loop(r.base, EVLOOP_NONBLOCK);
    }
    assert_int_equal(have, sizeof(sent));
    assert_memory_equal(got, sent, sizeof(sent));

    scc_h2_free(r.c);
    scc_h2_free(r.s); /* closes the stream: the bridge goes, with its socket */
    (void)event_base_loop(r.base, EVLOOP_NONBLOCK);
    close(r.sock[1]);
    scc_buf_fini(&r.wire);
    event_base_free(r.base);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_bridge_many_frames_in_one_batch_keep_their_order),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
