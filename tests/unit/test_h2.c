/*
 * The sans-IO HTTP/2 core: a client and a server session wired together in
 * memory, so every test is deterministic and needs no sockets.
 */
#include "test.h"

#include <event2/buffer.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "tunnel/h2.h"

struct side {
    struct scc_h2 *h2;
    struct scc_buf body; /* what arrived on the last stream we watched */
    int status;
    bool ended;
    bool closed;
    uint32_t close_code;
    bool consume; /* credit received bytes at once */
    size_t requests;
};

struct pair {
    struct side c, s;
    struct scc_buf wire;
};

static size_t
pump(struct pair *p)
{
    size_t moved = 0;

    for (int round = 0; round < 10000; round++) {
        ssize_t a, b;

        scc_buf_reset(&p->wire);
        a = scc_h2_send(p->c.h2, &p->wire, NULL, 1 << 20);
        assert_true(a >= 0);
        if (a > 0)
            assert_int_equal(scc_h2_recv(p->s.h2, p->wire.data, p->wire.len), 0);
        scc_buf_reset(&p->wire);
        b = scc_h2_send(p->s.h2, &p->wire, NULL, 1 << 20);
        assert_true(b >= 0);
        if (b > 0)
            assert_int_equal(scc_h2_recv(p->c.h2, p->wire.data, p->wire.len), 0);
        moved += (size_t)(a + b);
        if (a == 0 && b == 0)
            break;
    }
    return moved;
}

static void
on_data(struct scc_h2_stream *st, const uint8_t *d, size_t n, void *arg)
{
    struct side *sd = arg;

    assert_int_equal(scc_buf_put(&sd->body, d, n), 0);
    if (sd->consume)
        scc_h2_stream_consume(st, n);
}

static void
on_end(struct scc_h2_stream *st, void *arg)
{
    (void)st;
    ((struct side *)arg)->ended = true;
}

static void
on_close(struct scc_h2_stream *st, uint32_t code, void *arg)
{
    struct side *sd = arg;

    (void)st;
    sd->closed = true;
    sd->close_code = code;
}

static void
on_head(struct scc_h2_stream *st, void *arg)
{
    ((struct side *)arg)->status = scc_h2_stream_head(st)->status;
}

static const struct scc_h2_stream_cbs watch = {
        .on_head = on_head, .on_data = on_data, .on_end = on_end, .on_close = on_close};

/* Server: echo "path method authority x-test" as JSON-ish text. */
static void
on_request(struct scc_h2 *h2, struct scc_h2_stream *st, void *arg)
{
    struct side *sd = arg;
    const struct scc_h2_head *h = scc_h2_stream_head(st);
    char text[512];

    (void)h2;
    sd->requests++;
    if (strcmp(h->method, "CONNECT") == 0) {
        scc_h2_stream_set_cbs(st, &watch, sd);
        assert_int_equal(scc_h2_respond(st, 200, NULL, 0, false), 0);
        return;
    }
    snprintf(text, sizeof(text), "%s %s %s %s", h->path, h->method, h->authority,
             scc_h2_stream_header(st, "x-test") ? scc_h2_stream_header(st, "x-test") : "-");
    assert_int_equal(scc_h2_respond_json(st, 200, text), 0);
}

static void
pair_init_with(struct pair *p, const struct scc_h2_settings *set)
{
    struct scc_h2_cbs scb = {.on_request = on_request};
    struct scc_h2_cbs ccb = {0};

    memset(p, 0, sizeof(*p));
    assert_int_equal(scc_h2_new(SCC_H2_CLIENT, set, &ccb, &p->c, &p->c.h2), 0);
    assert_int_equal(scc_h2_new(SCC_H2_SERVER, set, &scb, &p->s, &p->s.h2), 0);
    scc_buf_init(&p->wire, 4 << 20);
    scc_buf_init(&p->c.body, 16 << 20);
    scc_buf_init(&p->s.body, 16 << 20);
    p->c.consume = p->s.consume = true;
    pump(p);
}

static void
pair_init(struct pair *p)
{
    struct scc_h2_settings set;

    scc_h2_settings_default(&set);
    set.stream_window = 65536;
    set.stream_send_max = 256 << 10;
    pair_init_with(p, &set);
}

static void
pair_fini(struct pair *p)
{
    scc_h2_free(p->c.h2);
    scc_h2_free(p->s.h2);
    scc_buf_fini(&p->wire);
    scc_buf_fini(&p->c.body);
    scc_buf_fini(&p->s.body);
}

static void
test_h2_request_response_roundtrip(void **state)
{
    struct pair p;
    struct scc_h2_stream *st = NULL;
    const struct scc_h2_hdr hdrs[] = {{"x-test", "yes"}};

    (void)state;
    pair_init(&p);
    assert_int_equal(
            scc_h2_request(p.c.h2, "GET", "/v1/status", "node", hdrs, 1, true, &watch, &p.c, &st),
            0);
    pump(&p);
    assert_int_equal(p.c.status, 200);
    assert_true(p.c.ended);
    assert_true(p.c.closed);
    assert_int_equal(p.c.close_code, 0);
    assert_string_equal(scc_buf_str(&p.c.body), "/v1/status GET node yes");
    assert_int_equal(scc_h2_stream_count(p.c.h2), 0);
    assert_int_equal(scc_h2_stream_count(p.s.h2), 0);
    pair_fini(&p);
}

/* A large frame's payload is moved, not copied: out ends with its header
 * and enough payload to fill a whole record, bulk holds the rest of the
 * very chunk the producer filled, and the bytes arrive intact. */
static void
test_h2_large_frame_goes_to_bulk_without_copy(void **state)
{
    const size_t len = 200000;
    struct scc_h2_settings set;
    struct pair p;
    struct scc_h2_stream *st = NULL;
    struct evbuffer *q, *bulk = evbuffer_new();
    struct evbuffer_iovec v, b;
    size_t fill;

    (void)state;
    scc_h2_settings_default(&set);
    pair_init_with(&p, &set);
    assert_int_equal(
            scc_h2_request(p.c.h2, "CONNECT", NULL, "svc:1", NULL, 0, false, &watch, &p.c, &st), 0);
    pump(&p);
    assert_int_equal(p.c.status, 200);

    q = scc_h2_stream_queue(st);
    assert_int_equal(evbuffer_reserve_space(q, (ev_ssize_t)len, &v, 1), 1);
    for (size_t i = 0; i < len; i++)
        ((uint8_t *)v.iov_base)[i] = (uint8_t)(i * 7 + i / 251);
    v.iov_len = len;
    assert_int_equal(evbuffer_commit_space(q, &v, 1), 0);
    scc_h2_stream_kick(st);

    scc_buf_reset(&p.wire);
    assert_int_equal(scc_h2_send(p.c.h2, &p.wire, bulk, 1 << 20), (ssize_t)(9 + len));
    assert_int_equal(p.wire.len, SCC_H2_BULK_ALIGN);
    fill = SCC_H2_BULK_ALIGN - 9;
    assert_int_equal(evbuffer_get_length(bulk), len - fill);
    assert_int_equal(evbuffer_peek(bulk, -1, NULL, &b, 1), 1);
    assert_ptr_equal(b.iov_base, (uint8_t *)v.iov_base + fill);
    /* Until bulk is written, nothing more may be framed behind it. */
    assert_int_equal(scc_h2_send(p.c.h2, &p.wire, bulk, 1 << 20), SCC_EINVAL);

    assert_int_equal(scc_h2_recv(p.s.h2, p.wire.data, p.wire.len), 0);
    assert_int_equal(scc_h2_recv(p.s.h2, b.iov_base, b.iov_len), 0);
    evbuffer_drain(bulk, b.iov_len);
    pump(&p);
    assert_int_equal(p.s.body.len, len);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(p.s.body.data[i], (uint8_t)(i * 7 + i / 251));
    evbuffer_free(bulk);
    pair_fini(&p);
}

/* Fill a stream's queue until it refuses more; return bytes queued. */
static size_t
fill(struct scc_h2_stream *st, char c)
{
    static char chunk[4096];
    size_t total = 0;

    memset(chunk, c, sizeof(chunk));
    while (scc_h2_stream_write(st, chunk, sizeof(chunk)) == 0)
        total += sizeof(chunk);
    return total;
}

/* The receiving side withholds credit on one stream only. */
struct stall_srv {
    struct scc_h2_stream *streams[2];
    size_t got[2];
    size_t n;
};

static void
stall_on_data(struct scc_h2_stream *st, const uint8_t *d, size_t len, void *arg)
{
    struct stall_srv *sv = arg;

    (void)d;
    for (size_t i = 0; i < sv->n; i++) {
        if (sv->streams[i] == st) {
            sv->got[i] += len;
            if (i == 1) /* only the second stream is consumed */
                scc_h2_stream_consume(st, len);
        }
    }
}

static void
stall_on_close(struct scc_h2_stream *st, uint32_t code, void *arg)
{
    struct stall_srv *sv = arg;

    (void)code;
    for (size_t i = 0; i < sv->n; i++) {
        if (sv->streams[i] == st)
            sv->streams[i] = NULL;
    }
}

static void
stall_on_request(struct scc_h2 *h2, struct scc_h2_stream *st, void *arg)
{
    static const struct scc_h2_stream_cbs cbs = {.on_data = stall_on_data,
                                                 .on_close = stall_on_close};
    struct stall_srv *sv = arg;

    (void)h2;
    sv->streams[sv->n++] = st;
    scc_h2_stream_set_cbs(st, &cbs, sv);
    assert_int_equal(scc_h2_respond(st, 200, NULL, 0, false), 0);
}

static void
test_h2_unconsumed_stream_holds_only_its_window(void **state)
{
    struct scc_h2_settings set;
    struct scc_h2_cbs scb = {.on_request = stall_on_request}, ccb = {0};
    struct stall_srv sv = {0};
    struct pair p;
    struct scc_h2_stream *a = NULL, *b = NULL;
    size_t b_sent = 0;

    (void)state;
    memset(&p, 0, sizeof(p));
    scc_h2_settings_default(&set);
    set.stream_window = 65536;
    set.stream_send_max = 256 << 10;
    assert_int_equal(scc_h2_new(SCC_H2_CLIENT, &set, &ccb, &p.c, &p.c.h2), 0);
    assert_int_equal(scc_h2_new(SCC_H2_SERVER, &set, &scb, &sv, &p.s.h2), 0);
    scc_buf_init(&p.wire, 4 << 20);
    scc_buf_init(&p.c.body, 1 << 20);
    scc_buf_init(&p.s.body, 1 << 20);
    assert_int_equal(scc_h2_request(p.c.h2, "CONNECT", NULL, "a:1", NULL, 0, false, NULL, NULL, &a),
                     0);
    assert_int_equal(scc_h2_request(p.c.h2, "CONNECT", NULL, "b:1", NULL, 0, false, NULL, NULL, &b),
                     0);
    pump(&p);
    assert_int_equal(sv.n, 2);
    for (int i = 0; i < 20; i++) {
        fill(a, 'a');
        b_sent += fill(b, 'b');
        pump(&p);
    }
    /* a is stuck at exactly its 64 KiB window; b moved 20 full queues. */
    assert_int_equal(sv.got[0], 65536);
    assert_int_equal(sv.got[1], b_sent);
    assert_true(b_sent >= 20 * (256u << 10) - 4096 * 20);
    pair_fini(&p);
}

static void
test_h2_oversized_head_gets_431(void **state)
{
    struct pair p;
    struct scc_h2_stream *st = NULL;
    static char big[4091];
    struct scc_h2_hdr hdrs[3];

    (void)state;
    memset(big, 'x', sizeof(big) - 1);
    for (size_t i = 0; i < 3; i++)
        hdrs[i] = (struct scc_h2_hdr){"x-big", big};
    pair_init(&p);
    /* Our own client refuses to send more than the limit... */
    assert_int_equal(scc_h2_request(p.c.h2, "GET", "/", "n", hdrs, 3, true, &watch, &p.c, &st),
                     SCC_EINVAL);
    /* ...and a head that only crosses it with the pseudo-headers is
     * answered 431 by the server, not dropped. */
    assert_int_equal(scc_h2_request(p.c.h2, "GET", "/", "n", hdrs, 2, true, &watch, &p.c, &st), 0);
    pump(&p);
    assert_int_equal(p.c.status, 431);
    assert_non_null(strstr(scc_buf_str(&p.c.body), "HeadersTooLarge"));
    assert_int_equal(p.s.requests, 0);
    pair_fini(&p);
}

static void
test_h2_garbage_is_a_protocol_error(void **state)
{
    struct scc_h2_settings set;
    struct scc_h2_cbs cbs = {0};
    struct scc_h2 *srv = NULL;
    const char *junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

    (void)state;
    scc_h2_settings_default(&set);
    assert_int_equal(scc_h2_new(SCC_H2_SERVER, &set, &cbs, NULL, &srv), 0);
    assert_int_equal(scc_h2_recv(srv, (const uint8_t *)junk, strlen(junk)), SCC_EH2);
    scc_h2_free(srv);
}

static void
test_h2_free_closes_open_streams_once(void **state)
{
    struct pair p;
    struct scc_h2_stream *st = NULL;

    (void)state;
    pair_init(&p);
    assert_int_equal(
            scc_h2_request(p.c.h2, "CONNECT", NULL, "x:1", NULL, 0, false, &watch, &p.c, &st), 0);
    pump(&p);
    assert_false(p.c.closed);
    scc_h2_free(p.c.h2);
    p.c.h2 = NULL;
    assert_true(p.c.closed);
    assert_int_equal(p.c.close_code, NGHTTP2_CANCEL);
    scc_h2_free(p.s.h2);
    p.s.h2 = NULL;
    pair_fini(&p);
}

static void
test_h2_goaway_refuses_new_requests(void **state)
{
    struct pair p;
    struct scc_h2_stream *st = NULL;

    (void)state;
    pair_init(&p);
    assert_int_equal(scc_h2_goaway(p.s.h2, 0, "retry-after=5"), 0);
    pump(&p);
    assert_int_equal(scc_h2_request(p.c.h2, "GET", "/", "n", NULL, 0, true, &watch, &p.c, &st),
                     SCC_EBUSY);
    pair_fini(&p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_h2_request_response_roundtrip),
            cmocka_unit_test(test_h2_large_frame_goes_to_bulk_without_copy),
            cmocka_unit_test(test_h2_unconsumed_stream_holds_only_its_window),
            cmocka_unit_test(test_h2_oversized_head_gets_431),
            cmocka_unit_test(test_h2_garbage_is_a_protocol_error),
            cmocka_unit_test(test_h2_free_closes_open_streams_once),
            cmocka_unit_test(test_h2_goaway_refuses_new_requests),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
