/* Job schedules (src/control/ctl_dbx_cron.c): Quartz expressions, TZif
 * zones, and the next time a schedule fires, across clock changes. */
#define _GNU_SOURCE /* timegm */
#include "test.h"

#include "common/err.h"
#include "common/mem.h"
#include "control/ctl_dbx_cron.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define ZONES    "/usr/share/zoneinfo/"

/* A UTC time as seconds. */
static int64_t
utc(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};

    return (int64_t)timegm(&tm);
}

/* A zone file of tzdata, whole, into buf (CTL_DBX_TZ_MAX bytes); its size. */
static size_t
read_zone(const char *name, uint8_t *buf)
{
    char path[128];
    FILE *f;
    size_t len;

    snprintf(path, sizeof(path), ZONES "%s", name);
    f = fopen(path, "rb");
    assert_non_null(f);
    len = fread(buf, 1, CTL_DBX_TZ_MAX, f);
    fclose(f);
    return len;
}

static int64_t
next_of(const char *expr, const char *zone, int64_t after)
{
    struct ctl_dbx_cron c;
    struct ctl_dbx_tz tz;
    char err[256];
    int64_t t;

    if (ctl_dbx_cron_parse(expr, &c, err, sizeof(err)) != 0)
        fail_msg("'%s' refused: %s", expr, err);
    if (ctl_dbx_tz_load(zone, &tz, err, sizeof(err)) != 0)
        fail_msg("zone %s: %s", zone, err);
    t = ctl_dbx_cron_next(&c, &tz, after);
    ctl_dbx_tz_fini(&tz);
    return t;
}

static void
test_parse_accepts_quartz_forms(void **state)
{
    static const char *const good[] = {
            "0 0 12 * * ?",           "0 15 10 ? * MON-FRI",
            "0 0/5 14,18 * * ?",      "0 0 0 1 1 ? 2030",
            "*/10 * * * * ?",         "0 0 12 ? JAN,jul sun",
            "0 0 9-17/2 * * ?",       "0 30 1 ? * 1-7",
            "  0\t0 12   * * ?  ",    "0 0 12 1-31/2 * ? 2026-2030/2",
            "59 59 23 31 DEC ? 2225",
    };
    struct ctl_dbx_cron c;
    char err[256];

    (void)state;
    for (size_t i = 0; i < NELEM(good); i++)
        if (ctl_dbx_cron_parse(good[i], &c, err, sizeof(err)) != 0)
            fail_msg("'%s' refused: %s", good[i], err);
    assert_int_equal(ctl_dbx_cron_parse("0 0/5 14,18 * * ?", &c, err, sizeof(err)), 0);
    assert_true(c.min == 0x84210842108421ull && c.hour == (1u << 14 | 1u << 18) && c.sec == 1);
    assert_false(c.by_dow);
    assert_int_equal(ctl_dbx_cron_parse("0 15 10 ? * MON-FRI", &c, err, sizeof(err)), 0);
    assert_true(c.by_dow && c.dow == 0x3e); /* MON (2) to FRI (6) */
}

static void
test_parse_refusals_say_why(void **state)
{
    static const struct {
        const char *expr, *want;
    } bad[] = {
            {"", "6 or 7 fields"},
            {"0 0 12 * *", "not 5"},
            {"0 0 12 * * ? 2030 x", "not 8"},
            {"60 0 12 * * ?", "seconds field '60'"},
            {"0 0 24 * * ?", "hours field"},
            {"0 0 12 32 * ?", "day-of-month field"},
            {"0 0 12 * 13 ?", "month field"},
            {"0 0 12 ? * 8", "day-of-week field"},
            {"0 0 12 ? * ?", "exactly one"},
            {"0 0 12 * * *", "exactly one"},
            {"0 0 12 * * MON", "exactly one"},
            {"0 0 12 L * ?", "uses L"},
            {"0 0 12 15W * ?", "uses W"},
            {"0 0 12 ? * MON#2", "day-of-week field"},
            {"0 0/0 12 * * ?", "minutes field"},
            {"0 5-1 * * * ?", "minutes field"},
            {"0 0 12 1, * ?", "ends with a comma"},
            {"0 0 12 ,1 * ?", "day-of-month field"},
            {"0 0 12 * * ? 1969", "year field"},
            {"0 0 12 * * ? 2226", "year field"},
            {"a b c d e f", "seconds field"},
            {"00000 0 12 * * ?", "seconds field"},
            {"0 0 12 * FOO ?", "month field"},
            {"0 0 12 * JA ?", "month field"},
            {"0 -1 12 * * ?", "minutes field"},
            {"0 0 12 * * ?/", "day-of-week field"},
    };
    struct ctl_dbx_cron c;
    char err[256], big[CTL_DBX_CRON_MAX + 2];

    (void)state;
    for (size_t i = 0; i < NELEM(bad); i++) {
        err[0] = '\0';
        if (ctl_dbx_cron_parse(bad[i].expr, &c, err, sizeof(err)) != SCC_EINVAL)
            fail_msg("'%s' accepted", bad[i].expr);
        if (strstr(err, bad[i].want) == NULL)
            fail_msg("'%s': '%s' has no '%s'", bad[i].expr, err, bad[i].want);
    }
    assert_int_equal(ctl_dbx_cron_parse(NULL, &c, err, sizeof(err)), SCC_EINVAL);
    memset(big, ' ', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big, "0 0 12 * * ?", 12);
    assert_int_equal(ctl_dbx_cron_parse(big, &c, err, sizeof(err)), SCC_EINVAL);
    assert_non_null(strstr(err, "at most"));
    assert_int_equal(ctl_dbx_cron_parse("0 0 12 * * ? 1969", &c, err, 8), SCC_EINVAL);
    assert_int_equal(strlen(err), 7); /* cut to the buffer */
}

static void
test_next_in_utc(void **state)
{
    int64_t now = utc(2026, 12, 7, 23, 0, 0);

    (void)state;
    assert_int_equal(next_of("0 0 12 * * ?", "UTC", now), utc(2026, 12, 8, 12, 0, 0));
    assert_int_equal(next_of("0 0 12 * * ?", "Etc/UTC", utc(2026, 12, 8, 11, 59, 59)),
                     utc(2026, 12, 8, 12, 0, 0));
    assert_int_equal(next_of("0 0 12 * * ?", "UTC", utc(2026, 12, 8, 12, 0, 0)),
                     utc(2026, 12, 9, 12, 0, 0)); /* strictly after */
    /* Friday 10:15 -> Monday 10:15 */
    assert_int_equal(next_of("0 15 10 ? * MON-FRI", "UTC", utc(2026, 12, 11, 10, 15, 0)),
                     utc(2026, 12, 14, 10, 15, 0));
    assert_int_equal(next_of("*/10 * * * * ?", "UTC", utc(2026, 12, 8, 12, 0, 5)),
                     utc(2026, 12, 8, 12, 0, 10));
    assert_int_equal(next_of("0 0 0 29 2 ?", "UTC", utc(2026, 3, 1, 0, 0, 0)),
                     utc(2028, 2, 29, 0, 0, 0));
    assert_int_equal(next_of("0 0 0 1 1 ? 2030", "UTC", now), utc(2030, 1, 1, 0, 0, 0));
    assert_int_equal(next_of("0 0 0 31 DEC ? 2031", "UTC", now), utc(2031, 12, 31, 0, 0, 0));
    assert_int_equal(next_of("0 0 0 31 2 ?", "UTC", now), -1);     /* never */
    assert_int_equal(next_of("0 0 0 1 1 ? 2020", "UTC", now), -1); /* passed */
    assert_int_equal(next_of("0 0 0 1 1 ? 2040", "UTC", now), utc(2040, 1, 1, 0, 0, 0));
    assert_int_equal(next_of("0 0 0 1 1 ? 2225", "UTC", now), utc(2225, 1, 1, 0, 0, 0));
    assert_int_equal(next_of("0 0 0 1 1 ? *", "UTC", utc(2225, 1, 1, 0, 0, 0)), -1); /* the end */
    assert_int_equal(next_of("59 59 23 31 12 ? *", "UTC", utc(2026, 12, 31, 23, 59, 58)),
                     utc(2026, 12, 31, 23, 59, 59));
}

static void
test_next_across_clock_changes(void **state)
{
    (void)state;
    /* New York, 2027-03-14 02:00 EST -> 03:00 EDT: 02:30 does not exist
     * that day, so a daily 02:30 skips it. */
    assert_int_equal(next_of("0 30 2 * * ?", "America/New_York", utc(2027, 3, 13, 7, 30, 0)),
                     utc(2027, 3, 15, 6, 30, 0));
    assert_int_equal(next_of("0 0 9 * * ?", "America/New_York", utc(2027, 3, 13, 14, 0, 0)),
                     utc(2027, 3, 14, 13, 0, 0)); /* 09:00 EDT */
    /* 2027-11-07 02:00 EDT -> 01:00 EST: 01:30 happens twice and fires once,
     * at the first. */
    assert_int_equal(next_of("0 30 1 * * ?", "America/New_York", utc(2027, 11, 6, 5, 30, 0)),
                     utc(2027, 11, 7, 5, 30, 0));
    assert_int_equal(next_of("0 30 1 * * ?", "America/New_York", utc(2027, 11, 7, 5, 30, 0)),
                     utc(2027, 11, 8, 6, 30, 0));
    /* Berlin in winter (+1) and summer (+2). */
    assert_int_equal(next_of("0 0 9 * * ?", "Europe/Berlin", utc(2026, 12, 7, 0, 0, 0)),
                     utc(2026, 12, 7, 8, 0, 0));
    assert_int_equal(next_of("0 0 9 * * ?", "Europe/Berlin", utc(2027, 7, 1, 0, 0, 0)),
                     utc(2027, 7, 1, 7, 0, 0));
    /* Kolkata, +05:30 without DST. */
    assert_int_equal(next_of("0 0 0 * * ?", "Asia/Kolkata", utc(2026, 12, 7, 0, 0, 0)),
                     utc(2026, 12, 7, 18, 30, 0));
}

static void
test_zone_ids_are_checked(void **state)
{
    static const struct {
        const char *id;
        int rc;
    } ids[] = {
            {"../../etc/passwd", SCC_EINVAL}, {"", SCC_EINVAL},
            {"/etc/localtime", SCC_EINVAL},   {"Europe//Berlin", SCC_EINVAL},
            {"Europe/Berlin/", SCC_EINVAL},   {"Europe/.Berlin", SCC_EINVAL},
            {"Europe/Ber lin", SCC_EINVAL},   {"Nowhere/Atlantis", SCC_ENOTFOUND},
            {"Europe", SCC_EINVAL}, /* a directory, not a TZif file */
    };
    struct ctl_dbx_tz tz;
    char err[256], big[80];

    (void)state;
    for (size_t i = 0; i < NELEM(ids); i++) {
        err[0] = '\0';
        if (ctl_dbx_tz_load(ids[i].id, &tz, err, sizeof(err)) != ids[i].rc)
            fail_msg("zone '%s': not %d (%s)", ids[i].id, ids[i].rc, err);
        assert_true(err[0] != '\0');
        assert_int_equal(tz.n, 0);
    }
    assert_int_equal(ctl_dbx_tz_load(NULL, &tz, err, sizeof(err)), SCC_EINVAL);
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(ctl_dbx_tz_load(big, &tz, err, sizeof(err)), SCC_EINVAL);
    assert_int_equal(ctl_dbx_tz_load("UTC", &tz, err, sizeof(err)), 0);
    assert_int_equal(ctl_dbx_tz_offset(&tz, 0), 0);
    assert_int_equal(ctl_dbx_tz_load("America/New_York", &tz, err, sizeof(err)), 0);
    assert_int_equal(ctl_dbx_tz_offset(&tz, utc(2027, 1, 15, 0, 0, 0)), -5 * 3600);
    assert_int_equal(ctl_dbx_tz_offset(&tz, utc(2027, 7, 15, 0, 0, 0)), -4 * 3600);
    ctl_dbx_tz_fini(&tz);
}

/* The New York file, cut short at every length and with bytes changed:
 * refused or read, never read past its end (ASan in CI). */
static void
test_tz_parse_of_damaged_files(void **state)
{
    uint8_t buf[CTL_DBX_TZ_MAX];
    struct ctl_dbx_tz tz;
    size_t len = read_zone("America/New_York", buf);

    (void)state;
    assert_int_equal(ctl_dbx_tz_parse(buf, len, &tz), 0);
    assert_true(tz.n > 100);
    ctl_dbx_tz_fini(&tz);
    for (size_t n = 0; n < len; n++) {
        uint8_t *cut = malloc(n ? n : 1);

        memcpy(cut, buf, n);
        if (ctl_dbx_tz_parse(cut, n, &tz) == 0)
            ctl_dbx_tz_fini(&tz);
        free(cut);
    }
    srand(7);
    for (int round = 0; round < 2000; round++) {
        uint8_t copy[CTL_DBX_TZ_MAX];

        memcpy(copy, buf, len);
        for (int k = 0; k < 4; k++)
            copy[(size_t)rand() % len] = (uint8_t)rand();
        if (ctl_dbx_tz_parse(copy, len, &tz) == 0) {
            for (size_t i = 1; i < tz.n; i++)
                assert_true(tz.at[i] > tz.at[i - 1]);
            ctl_dbx_tz_fini(&tz);
        }
    }
    assert_int_equal(ctl_dbx_tz_parse((const uint8_t *)"TZif", 4, &tz), SCC_EINVAL);
    assert_int_equal(ctl_dbx_tz_parse((const uint8_t *)"garbage", 7, &tz), SCC_EINVAL);
}

static void
test_tz_parse_allocation_failures_are_clean(void **state)
{
    uint8_t buf[CTL_DBX_TZ_MAX];
    struct ctl_dbx_tz tz;
    size_t len = read_zone("Europe/Berlin", buf);
    int rc, failed;

    (void)state;
    for (unsigned long n = 1;; n++) {
        scc_mem_fail_at(n);
        rc = ctl_dbx_tz_parse(buf, len, &tz);
        failed = scc_mem_failed();
        scc_mem_fail_at(0);
        assert_true(rc == 0 || rc == SCC_ENOMEM);
        if (rc == 0)
            ctl_dbx_tz_fini(&tz);
        else
            assert_null(tz.at);
        if (!failed)
            break;
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_parse_accepts_quartz_forms),
            cmocka_unit_test(test_parse_refusals_say_why),
            cmocka_unit_test(test_next_in_utc),
            cmocka_unit_test(test_next_across_clock_changes),
            cmocka_unit_test(test_zone_ids_are_checked),
            cmocka_unit_test(test_tz_parse_of_damaged_files),
            cmocka_unit_test(test_tz_parse_allocation_failures_are_clean),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
