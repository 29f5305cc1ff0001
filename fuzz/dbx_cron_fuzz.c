/*
 * Fuzz job schedules (ctl_dbx_cron.c): what clients write in a job's
 * settings.schedule.  The first byte chooses: even, the rest is a Quartz
 * expression, and a parsed one is asked for its next time in UTC (every
 * answer must lie after the time asked from and be reached in bounded
 * time); odd, the rest is a TZif file, and a parsed zone is asked for
 * offsets and for the next noon in it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "control/ctl_dbx_cron.h"

#define AFTER 1796000000 /* 2026-12-01 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
expression(const uint8_t *p, size_t n)
{
    char text[CTL_DBX_CRON_MAX + 2], err[160];
    struct ctl_dbx_cron c;
    struct ctl_dbx_tz utc = {0};
    int64_t t;

    if (n > CTL_DBX_CRON_MAX + 1)
        n = CTL_DBX_CRON_MAX + 1;
    memcpy(text, p, n);
    text[n] = '\0';
    err[0] = '\0';
    switch (ctl_dbx_cron_parse(text, &c, err, sizeof(err))) {
    case 0:
        t = ctl_dbx_cron_next(&c, &utc, AFTER);
        if (t != -1 && t <= AFTER)
            __builtin_trap();
        break;
    case SCC_EINVAL:
        if (err[0] == '\0')
            __builtin_trap();
        break;
    default:
        __builtin_trap();
    }
}

static void
zone(const uint8_t *p, size_t n)
{
    struct ctl_dbx_tz tz;
    struct ctl_dbx_cron noon;
    char err[160];
    int64_t t;

    if (ctl_dbx_tz_parse(p, n, &tz) != 0)
        return;
    for (size_t i = 1; i < tz.n; i++)
        if (tz.at[i] <= tz.at[i - 1])
            __builtin_trap();
    (void)ctl_dbx_tz_offset(&tz, INT64_MIN / 2);
    (void)ctl_dbx_tz_offset(&tz, INT64_MAX / 2);
    if (ctl_dbx_cron_parse("0 0 12 * * ?", &noon, err, sizeof(err)) != 0)
        __builtin_trap();
    t = ctl_dbx_cron_next(&noon, &tz, AFTER);
    if (t != -1 && t <= AFTER)
        __builtin_trap();
    ctl_dbx_tz_fini(&tz);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] % 2 == 0)
        expression(data + 1, size - 1);
    else
        zone(data + 1, size - 1);
    return 0;
}
