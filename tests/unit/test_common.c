/* Unit tests for the small modules of src/common: parse, buf, encode, time, log. */
#include "test.h"

#include <string.h>

#include "common/buf.h"
#include "common/encode.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/parse.h"
#include "common/time.h"
#include "common/worker.h"

#include <event2/event.h>
#include <event2/thread.h>

static void
test_parse_u64_rejects_garbage_and_overflow(void **state)
{
    uint64_t v = 0;

    (void)state;
    assert_int_equal(scc_parse_u64("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(scc_parse_u64("", 0, 100, &v), SCC_EINVAL);
    assert_int_equal(scc_parse_u64("-1", 0, 100, &v), SCC_EINVAL);
    assert_int_equal(scc_parse_u64("4x", 0, 100, &v), SCC_EINVAL);
    assert_int_equal(scc_parse_u64("101", 0, 100, &v), SCC_ERANGE);
    assert_int_equal(scc_parse_u64("18446744073709551616", 0, UINT64_MAX, &v), SCC_ERANGE);
    assert_int_equal(scc_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
    assert_true(v == UINT64_MAX);
}

static void
test_parse_duration_units(void **state)
{
    uint64_t ms = 0;

    (void)state;
    assert_int_equal(scc_parse_duration_ms("250ms", &ms), 0);
    assert_int_equal(ms, 250);
    assert_int_equal(scc_parse_duration_ms("20s", &ms), 0);
    assert_int_equal(ms, 20000);
    assert_int_equal(scc_parse_duration_ms("10m", &ms), 0);
    assert_int_equal(ms, 600000);
    assert_int_equal(scc_parse_duration_ms("7", &ms), 0);
    assert_int_equal(ms, 7000);
    assert_int_equal(scc_parse_duration_ms("1w", &ms), SCC_EINVAL);
    assert_int_equal(scc_parse_duration_ms("m", &ms), SCC_EINVAL);
    assert_int_equal(scc_parse_duration_ms("99999999999999d", &ms), SCC_ERANGE);
}

static void
test_parse_hostport_forms(void **state)
{
    char host[64];
    uint16_t port = 0;

    (void)state;
    assert_int_equal(scc_parse_hostport("127.0.0.2:8443", host, sizeof(host), &port, false), 0);
    assert_string_equal(host, "127.0.0.2");
    assert_int_equal(port, 8443);
    assert_int_equal(scc_parse_hostport("[::1]:443", host, sizeof(host), &port, false), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(scc_parse_hostport("::1:443", host, sizeof(host), &port, false), SCC_EINVAL);
    assert_int_equal(scc_parse_hostport("h:0", host, sizeof(host), &port, false), SCC_ERANGE);
    assert_int_equal(scc_parse_hostport("h:0", host, sizeof(host), &port, true), 0);
    assert_int_equal(scc_parse_hostport(":80", host, sizeof(host), &port, false), SCC_EINVAL);
    assert_int_equal(scc_parse_hostport("h:65536", host, sizeof(host), &port, false), SCC_ERANGE);
    assert_int_equal(scc_parse_hostport("averyveryverylonghostname:1", host, 8, &port, false),
                     SCC_ETRUNC);
}

static void
test_buf_enforces_max(void **state)
{
    struct scc_buf b;

    (void)state;
    scc_buf_init(&b, 8);
    assert_int_equal(scc_buf_put_str(&b, "12345678"), 0);
    assert_int_equal(scc_buf_put(&b, "9", 1), SCC_ETOOBIG);
    assert_int_equal(b.len, 8);
    assert_string_equal(scc_buf_str(&b), "12345678");
    scc_buf_consume(&b, 3);
    assert_string_equal(scc_buf_str(&b), "45678");
    assert_int_equal(scc_buf_printf(&b, "%d", 123), 0);
    assert_string_equal(scc_buf_str(&b), "45678123");
    assert_int_equal(scc_buf_printf(&b, "x"), SCC_ETOOBIG);
    scc_buf_fini(&b);
}

static void
test_buf_allocation_failure_leaves_buffer_unchanged(void **state)
{
    struct scc_buf b;

    (void)state;
    scc_buf_init(&b, 1024);
    scc_mem_fail_at(1);
    assert_int_equal(scc_buf_put_str(&b, "abc"), SCC_ENOMEM);
    assert_true(scc_mem_failed());
    assert_int_equal(b.len, 0);
    assert_int_equal(scc_buf_put_str(&b, "abc"), 0);
    scc_buf_fini(&b);
}

static void
test_b64url_roundtrip_and_strictness(void **state)
{
    uint8_t raw[32], back[32];
    char enc[64];
    size_t n = 0;

    (void)state;
    for (size_t len = 0; len <= sizeof(raw); len++) {
        assert_int_equal(scc_rand_bytes(raw, len), 0);
        assert_int_equal(scc_b64url_encode(raw, len, enc, sizeof(enc)), 0);
        assert_int_equal(scc_b64url_decode(enc, strlen(enc), back, sizeof(back), &n), 0);
        assert_int_equal(n, len);
        assert_memory_equal(raw, back, len);
    }
    assert_int_equal(scc_b64url_decode("ab=c", 4, back, sizeof(back), &n), SCC_EINVAL);
    assert_int_equal(scc_b64url_decode("a", 1, back, sizeof(back), &n), SCC_EINVAL);
    /* "AB" decodes to one byte with leftover set bits: not canonical. */
    assert_int_equal(scc_b64url_decode("AB", 2, back, sizeof(back), &n), SCC_EINVAL);
    assert_int_equal(scc_b64url_decode("AA", 2, back, sizeof(back), &n), 0);
}

static void
test_b64_matches_rfc4648(void **state)
{
    char out[16];

    (void)state;
    assert_int_equal(scc_b64_encode((const uint8_t *)"foobar", 6, out, sizeof(out)), 0);
    assert_string_equal(out, "Zm9vYmFy");
    assert_int_equal(scc_b64_encode((const uint8_t *)"fo", 2, out, sizeof(out)), 0);
    assert_string_equal(out, "Zm8=");
}

static void
test_time_roundtrip(void **state)
{
    char s[40];
    uint64_t back = 0;

    (void)state;
    assert_int_equal(scc_time_format_rfc3339(1764345600123ull, s, sizeof(s)), 0);
    assert_string_equal(s, "2025-11-28T16:00:00.123Z");
    assert_int_equal(scc_time_parse_rfc3339(s, &back), 0);
    assert_true(back == 1764345600123ull);
    assert_int_equal(scc_time_format_arm(1764345600123ull, s, sizeof(s)), 0);
    assert_string_equal(s, "2025-11-28T16:00:00.1230000Z");
    assert_int_equal(scc_time_parse_rfc3339("2025-13-01T00:00:00Z", &back), SCC_EINVAL);
    assert_int_equal(scc_time_format_rfc3339(0, s, 10), SCC_ETRUNC);
}

static void
test_ratelimit_bursts_then_refills(void **state)
{
    struct scc_ratelimit rl;

    (void)state;
    scc_ratelimit_init(&rl, 2, 1000);
    assert_true(scc_ratelimit_allow(&rl, 5000));
    assert_true(scc_ratelimit_allow(&rl, 5000));
    assert_false(scc_ratelimit_allow(&rl, 5500));
    assert_int_equal(rl.suppressed, 1);
    assert_true(scc_ratelimit_allow(&rl, 6100));
}

static void
test_list_next_walks_items_and_trims(void **state)
{
    const char *p = " a, bb ,,ccc";
    char item[3];

    (void)state;
    assert_true(scc_list_next(&p, item, sizeof(item)));
    assert_string_equal(item, "a");
    assert_true(scc_list_next(&p, item, sizeof(item)));
    assert_string_equal(item, "bb");
    assert_true(scc_list_next(&p, item, sizeof(item)));
    assert_string_equal(item, "");
    /* Too long for the buffer: comes back empty, never truncated. */
    assert_true(scc_list_next(&p, item, sizeof(item)));
    assert_string_equal(item, "");
    assert_false(scc_list_next(&p, item, sizeof(item)));
    p = NULL;
    assert_false(scc_list_next(&p, item, sizeof(item)));
}

static void
test_strerror_covers_both_spaces(void **state)
{
    (void)state;
    assert_string_equal(scc_strerror(SCC_ETOOBIG), "too large");
    assert_string_equal(scc_strerror(-2), "No such file or directory");
    assert_string_equal(scc_strerror(0), "success");
}

struct chain {
    struct scc_worker *w;
    int ran, done, left;
};

static void
chain_job(void *arg)
{
    ((struct chain *)arg)->ran++;
}

static void
chain_done(void *arg)
{
    struct chain *c = arg;

    c->done++;
    if (c->left-- > 0) /* a callback that queues more work, like a revocation */
        assert_int_equal(scc_worker_submit(c->w, chain_job, chain_done, c), 0);
}

static void
test_worker_drain_runs_callbacks_and_the_jobs_they_queue(void **state)
{
    struct event_base *base;
    struct chain c = {.left = 2};

    (void)state;
    assert_int_equal(evthread_use_pthreads(), 0);
    assert_non_null(base = event_base_new());
    assert_int_equal(scc_worker_new(base, 16, &c.w), 0);
    assert_int_equal(scc_worker_submit(c.w, chain_job, chain_done, &c), 0);
    scc_worker_drain(c.w); /* the loop never runs: drain alone delivers */
    assert_int_equal(c.ran, 3);
    assert_int_equal(c.done, 3);
    scc_worker_free(c.w);
    event_base_free(base);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_parse_u64_rejects_garbage_and_overflow),
            cmocka_unit_test(test_parse_duration_units),
            cmocka_unit_test(test_parse_hostport_forms),
            cmocka_unit_test(test_buf_enforces_max),
            cmocka_unit_test(test_buf_allocation_failure_leaves_buffer_unchanged),
            cmocka_unit_test(test_b64url_roundtrip_and_strictness),
            cmocka_unit_test(test_b64_matches_rfc4648),
            cmocka_unit_test(test_time_roundtrip),
            cmocka_unit_test(test_ratelimit_bursts_then_refills),
            cmocka_unit_test(test_list_next_walks_items_and_trims),
            cmocka_unit_test(test_strerror_covers_both_spaces),
            cmocka_unit_test(test_worker_drain_runs_callbacks_and_the_jobs_they_queue),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
