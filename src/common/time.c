#include "time.h"

#include "err.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static uint64_t
clock_ns(clockid_t id)
{
    struct timespec ts;

    /* clock_gettime cannot fail for these clock ids on Linux. */
    (void)clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t
scc_time_mono_ms(void)
{
    return clock_ns(CLOCK_MONOTONIC) / 1000000u;
}

uint64_t
scc_time_mono_us(void)
{
    return clock_ns(CLOCK_MONOTONIC) / 1000u;
}

uint64_t
scc_time_wall_ms(void)
{
    return clock_ns(CLOCK_REALTIME) / 1000000u;
}

static int
format(uint64_t wall_ms, char *buf, size_t cap, int digits7)
{
    time_t secs = (time_t)(wall_ms / 1000);
    struct tm tm;
    int n;

    if (gmtime_r(&secs, &tm) == NULL)
        return SCC_EINVAL;
    n = snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03u%sZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (unsigned)(wall_ms % 1000), digits7 ? "0000" : "");
    if (n < 0 || (size_t)n >= cap)
        return SCC_ETRUNC;
    return 0;
}

int
scc_time_format_rfc3339(uint64_t wall_ms, char *buf, size_t cap)
{
    return format(wall_ms, buf, cap, 0);
}

int
scc_time_format_arm(uint64_t wall_ms, char *buf, size_t cap)
{
    return format(wall_ms, buf, cap, 1);
}

int
scc_time_parse_rfc3339(const char *s, uint64_t *wall_ms)
{
    struct tm tm;
    unsigned ms = 0, scale = 100;
    int used = 0;
    time_t t;

    memset(&tm, 0, sizeof(tm));
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &used) != 6 ||
        used != 19)
        return SCC_EINVAL;
    s += used;
    if (*s == '.') {
        for (s++; *s >= '0' && *s <= '9'; s++) {
            ms += (unsigned)(*s - '0') * scale;
            scale /= 10;
        }
    }
    if (strcmp(s, "Z") != 0 || tm.tm_mon < 1 || tm.tm_mon > 12)
        return SCC_EINVAL;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    if ((t = timegm(&tm)) == (time_t)-1 || t < 0)
        return SCC_EINVAL;
    *wall_ms = (uint64_t)t * 1000u + ms;
    return 0;
}
