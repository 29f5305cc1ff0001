/* Back-off: exponential ceilings, the cap, full jitter, and retry-after. */
#include "test.h"

#include "common/backoff.h"

/* A "random" source that always returns its maximum shows the ceilings. */
static uint64_t
max_of(uint64_t bound)
{
    return bound - 1;
}

static uint64_t
zero_of(uint64_t bound)
{
    (void)bound;
    return 0;
}

static void
test_backoff_doubles_to_the_cap(void **state)
{
    struct scc_backoff b;
    const uint64_t want[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000};

    (void)state;
    scc_backoff_init(&b, 100, 5000);
    b.rand_below = max_of;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_int_equal(scc_backoff_next(&b), want[i]);
    for (int i = 0; i < 100; i++)
        assert_int_equal(scc_backoff_next(&b), 5000);
    scc_backoff_reset(&b);
    assert_int_equal(scc_backoff_next(&b), 100);
}

static void
test_backoff_full_jitter_reaches_zero(void **state)
{
    struct scc_backoff b;

    (void)state;
    scc_backoff_init(&b, 100, 5000);
    b.rand_below = zero_of;
    assert_int_equal(scc_backoff_next(&b), 0);
}

static void
test_backoff_real_jitter_stays_in_range(void **state)
{
    struct scc_backoff b;
    uint64_t seen_low = 0;

    (void)state;
    scc_backoff_init(&b, 1000, 30000);
    for (int i = 0; i < 200; i++) {
        uint64_t d;

        scc_backoff_reset(&b);
        d = scc_backoff_next(&b);
        assert_true(d <= 1000);
        seen_low += d < 500;
    }
    /* 200 uniform draws all above the middle would be a broken source. */
    assert_true(seen_low > 0 && seen_low < 200);
}

static void
test_backoff_honours_retry_after_once(void **state)
{
    struct scc_backoff b;

    (void)state;
    scc_backoff_init(&b, 100, 5000);
    b.rand_below = max_of;
    scc_backoff_retry_after(&b, 30000);
    /* The server's 30 s, plus at most 10 % spread, even above the cap. */
    assert_int_equal(scc_backoff_next(&b), 33000);
    assert_int_equal(scc_backoff_next(&b), 200);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_backoff_doubles_to_the_cap),
            cmocka_unit_test(test_backoff_full_jitter_reaches_zero),
            cmocka_unit_test(test_backoff_real_jitter_stays_in_range),
            cmocka_unit_test(test_backoff_honours_retry_after_once),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
