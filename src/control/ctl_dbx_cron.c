/*
 * ctl_dbx_cron.c - Quartz cron expressions, TZif zones, and the next time
 * a job's schedule fires (ctl_dbx_cron.h).
 *
 * The next time is found in local time: day by day from `after`, each day
 * whose year, month and day (of month, or of week) match, then its hours,
 * minutes and seconds in order, each local time turned into UTC with the
 * zone's offsets on either side of it.  A local time the clocks skip has
 * no UTC time; one they repeat has two, and only the first counts, so a
 * schedule never fires twice for one local time.
 */
#include "ctl_dbx_cron.h"

#include "common/err.h"
#include "common/mem.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DAY     86400
#define OFF_MAX (26 * 3600) /* |UTC offset| */

/* ---- expressions ---- */

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const day_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

struct field {
    const char *name;
    int lo, hi;
    const char *const *names; /* names[i] is lo + i */
    size_t nnames;
};

static const struct field fields[] = {
        {"seconds", 0, 59, NULL, 0},
        {"minutes", 0, 59, NULL, 0},
        {"hours", 0, 23, NULL, 0},
        {"day-of-month", 1, 31, NULL, 0},
        {"month", 1, 12, month_names, 12},
        {"day-of-week", 1, 7, day_names, 7},
        {"year", CTL_DBX_YEAR_BASE, CTL_DBX_YEAR_BASE + CTL_DBX_YEARS - 1, NULL, 0},
};

static void
set_bit(uint64_t *bits, int n)
{
    bits[n / 64] |= (uint64_t)1 << (n % 64);
}

static bool
has_bit(const uint64_t *bits, int n)
{
    return (bits[n / 64] >> (n % 64) & 1) != 0;
}

/* A number (at most 4 digits) or a name of f at *p; *p moves past it. */
static bool
value(const char **p, const char *end, const struct field *f, int *out)
{
    const char *s = *p;
    int v = 0;

    if (s < end && isdigit((unsigned char)*s)) {
        for (; s < end && isdigit((unsigned char)*s) && s - *p < 4; s++)
            v = v * 10 + (*s - '0');
        if (s < end && isdigit((unsigned char)*s))
            return false;
    } else {
        size_t i;

        for (i = 0; i < f->nnames; i++)
            if (end - s >= 3 && strncasecmp(s, f->names[i], 3) == 0)
                break;
        if (i == f->nnames)
            return false;
        v = f->lo + (int)i;
        s += 3;
    }
    if (v < f->lo || v > f->hi)
        return false;
    *p = s;
    *out = v;
    return true;
}

/* One item of a list: *, ?, A, A-B, with an optional /STEP. */
static bool
item(const char *s, const char *end, const struct field *f, bool query_ok, uint64_t *bits)
{
    int a = f->lo, b = f->hi, step = 1;
    bool single = false;

    if (s < end && (*s == '*' || (*s == '?' && query_ok))) {
        s++;
    } else {
        if (!value(&s, end, f, &a))
            return false;
        b = a;
        single = true;
        if (s < end && *s == '-') {
            s++;
            single = false;
            if (!value(&s, end, f, &b) || b < a)
                return false;
        }
    }
    if (s < end && *s == '/') {
        const char *q = s + 1;
        struct field steps = {f->name, 1, f->hi, NULL, 0};

        if (!value(&q, end, &steps, &step))
            return false;
        if (single)
            b = f->hi; /* A/STEP: from A on */
        s = q;
    }
    if (s != end)
        return false;
    for (int v = a; v <= b; v += step)
        set_bit(bits, v - f->lo);
    return true;
}

static int
field_parse(const char *s, const char *end, const struct field *f, bool query_ok, uint64_t *bits,
            char *err, size_t cap)
{
    const char *bad = strpbrk(s, "LW#C");

    if (bad && bad < end && f->names == NULL) {
        snprintf(err, cap, "The %s field uses %c, which this control plane does not support",
                 f->name, *bad);
        return SCC_EINVAL;
    }
    for (const char *p = s; p < end;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;

        if (!item(p, stop, f, query_ok, bits)) {
            snprintf(err, cap,
                     "The %s field '%.*s' is not valid: it takes %d-%d, *, ranges A-B, "
                     "lists A,B and steps /N",
                     f->name, (int)(end - s > 40 ? 40 : end - s), s, f->lo, f->hi);
            return SCC_EINVAL;
        }
        p = comma ? comma + 1 : end;
        if (comma && p == end) { /* a trailing comma */
            snprintf(err, cap, "The %s field ends with a comma", f->name);
            return SCC_EINVAL;
        }
    }
    return 0;
}

int
ctl_dbx_cron_parse(const char *expr, struct ctl_dbx_cron *c, char *err, size_t cap)
{
    uint64_t *masks[] = {&c->sec, &c->min, &c->hour, &c->dom, &c->mon, &c->dow, c->years};
    const char *start[8], *stop[8], *p = expr;
    size_t n = 0;
    int rc;

    memset(c, 0, sizeof(*c));
    if (expr == NULL || strlen(expr) > CTL_DBX_CRON_MAX) {
        snprintf(err, cap, "quartz_cron_expression must be a string of at most %d characters",
                 CTL_DBX_CRON_MAX);
        return SCC_EINVAL;
    }
    while (*p && n < 8) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        start[n] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        stop[n++] = p;
    }
    if (n < 6 || n > 7) {
        snprintf(err, cap,
                 "A Quartz cron expression has 6 or 7 fields (seconds minutes hours "
                 "day-of-month month day-of-week [year]), not %zu",
                 n);
        return SCC_EINVAL;
    }
    for (size_t i = 0; i < 7; i++) {
        if (i == 6 && n == 6) {
            for (int y = 0; y < CTL_DBX_YEARS; y++)
                set_bit(c->years, y);
        } else if ((rc = field_parse(start[i], stop[i], &fields[i], i == 3 || i == 5, masks[i], err,
                                     cap)) < 0) {
            return rc;
        }
    }
    if ((*start[3] == '?') == (*start[5] == '?')) {
        snprintf(err, cap, "Give '?' in exactly one of day-of-month and day-of-week");
        return SCC_EINVAL;
    }
    c->by_dow = *start[3] == '?';
    return 0;
}

/* ---- zones ---- */

static uint32_t
be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t
be64(const uint8_t *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct counts {
    size_t isut, isstd, leap, time, type, chars;
};

static struct counts
counts_of(const uint8_t *hdr)
{
    return (struct counts){be32(hdr + 20), be32(hdr + 24), be32(hdr + 28),
                           be32(hdr + 32), be32(hdr + 36), be32(hdr + 40)};
}

/* The size of a data block, or 0 if its counts are out of bounds. */
static size_t
block_size(const struct counts *c, size_t tsize)
{
    if (c->time > CTL_DBX_TZ_TRANS || c->type == 0 || c->type > 256 || c->chars > 4096 ||
        c->leap > 1024 || (c->isstd != 0 && c->isstd != c->type) ||
        (c->isut != 0 && c->isut != c->type))
        return 0;
    return c->time * (tsize + 1) + c->type * 6 + c->chars + c->leap * (tsize + 4) + c->isstd +
           c->isut;
}

static int
tz_fill(const uint8_t *data, const struct counts *c, size_t tsize, struct ctl_dbx_tz *tz)
{
    const uint8_t *idx = data + c->time * tsize, *types = idx + c->time;

    for (size_t i = 0; i < c->type; i++) {
        int32_t off = (int32_t)be32(types + i * 6);

        if (off < -OFF_MAX || off > OFF_MAX || types[i * 6 + 4] > 1)
            return SCC_EINVAL;
    }
    tz->off0 = (int32_t)be32(types);
    if (c->time == 0)
        return 0;
    tz->at = scc_calloc(c->time, sizeof(*tz->at));
    tz->off = scc_calloc(c->time, sizeof(*tz->off));
    if (tz->at == NULL || tz->off == NULL)
        return SCC_ENOMEM;
    for (size_t i = 0; i < c->time; i++) {
        tz->at[i] = tsize == 8 ? be64(data + i * 8) : (int32_t)be32(data + i * 4);
        if (idx[i] >= c->type || (i > 0 && tz->at[i] <= tz->at[i - 1]))
            return SCC_EINVAL;
        tz->off[i] = (int32_t)be32(types + idx[i] * 6);
        tz->n = i + 1;
    }
    return 0;
}

int
ctl_dbx_tz_parse(const uint8_t *buf, size_t len, struct ctl_dbx_tz *tz)
{
    struct counts c;
    size_t v1, need, tsize = 4;
    const uint8_t *hdr = buf;
    int rc;

    memset(tz, 0, sizeof(*tz));
    if (len < 44 || memcmp(buf, "TZif", 4) != 0 || (buf[4] != 0 && (buf[4] < '2' || buf[4] > '4')))
        return SCC_EINVAL;
    c = counts_of(buf);
    if ((v1 = block_size(&c, 4)) == 0 || v1 > len - 44)
        return SCC_EINVAL;
    if (buf[4] != 0) { /* v2+: a second header, then the 64-bit data */
        hdr = buf + 44 + v1;
        if ((size_t)(hdr - buf) > len - 44 || memcmp(hdr, "TZif", 4) != 0)
            return SCC_EINVAL;
        c = counts_of(hdr);
        tsize = 8;
    }
    need = block_size(&c, tsize);
    if (need == 0 || need > len - (size_t)(hdr - buf) - 44)
        return SCC_EINVAL;
    if ((rc = tz_fill(hdr + 44, &c, tsize, tz)) < 0)
        ctl_dbx_tz_fini(tz);
    return rc;
}

void
ctl_dbx_tz_fini(struct ctl_dbx_tz *tz)
{
    scc_free(tz->at);
    scc_free(tz->off);
    memset(tz, 0, sizeof(*tz));
}

int32_t
ctl_dbx_tz_offset(const struct ctl_dbx_tz *tz, int64_t t)
{
    size_t lo = 0, hi = tz->n;

    if (tz->n == 0 || t < tz->at[0])
        return tz->off0;
    while (hi - lo > 1) { /* at[lo] <= t < at[hi] */
        size_t mid = lo + (hi - lo) / 2;

        if (tz->at[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return tz->off[lo];
}

/* An IANA id as a path below the zoneinfo directory: letters, digits,
 * _+-, and / between parts that do not start with a dot. */
static bool
id_ok(const char *id)
{
    size_t n = strlen(id);

    if (n == 0 || n > 64 || id[0] == '/' || id[n - 1] == '/')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)id[i]) && !strchr("_+-/", id[i]))
            return false;
        if (id[i] == '/' && id[i + 1] == '/')
            return false;
    }
    return true;
}

int
ctl_dbx_tz_load(const char *id, struct ctl_dbx_tz *tz, char *err, size_t cap)
{
    static const char *const utc[] = {"UTC", "Etc/UTC", "GMT", "Etc/GMT", "Z", "Zulu"};
    char path[128];
    uint8_t *buf = NULL;
    size_t len;
    FILE *f;
    int rc = SCC_ENOTFOUND;

    memset(tz, 0, sizeof(*tz));
    for (size_t i = 0; id && i < sizeof(utc) / sizeof(utc[0]); i++)
        if (strcmp(id, utc[i]) == 0)
            return 0;
    if (id == NULL || !id_ok(id)) {
        snprintf(err, cap, "timezone_id must be an IANA time zone id such as Europe/Berlin");
        return SCC_EINVAL;
    }
    snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", id);
    if ((f = fopen(path, "rb")) != NULL) {
        if ((buf = scc_malloc(CTL_DBX_TZ_MAX + 1)) == NULL)
            rc = SCC_ENOMEM;
        else if ((len = fread(buf, 1, CTL_DBX_TZ_MAX + 1, f)) <= CTL_DBX_TZ_MAX)
            rc = ctl_dbx_tz_parse(buf, len, tz);
        else
            rc = SCC_EINVAL;
        fclose(f);
    }
    scc_free(buf);
    if (rc < 0)
        snprintf(err, cap, "Time zone %s is %s", id,
                 rc == SCC_ENOTFOUND ? "not known here (is tzdata installed?)"
                 : rc == SCC_ENOMEM  ? "not readable now: out of memory"
                                     : "not a valid TZif file");
    return rc;
}

/* ---- the next time ---- */

/* The civil date of day z (days since 1970-01-01), after H. Hinnant. */
static void
civil(int64_t z, int *y, int *m, int *d)
{
    int64_t era, yy;
    unsigned doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    yy = (int64_t)yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

/* Day z's civil date counts from 1970-01-01, after H. Hinnant. */
static int64_t
days_of(int y, int m, int d)
{
    int64_t era, yy = y - (m <= 2);
    unsigned yoe, doy, doe;

    era = (yy >= 0 ? yy : yy - 399) / 400;
    yoe = (unsigned)(yy - era * 400);
    doy = (unsigned)((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1);
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* Does day match?  If not, *skip is the next day that might: the first of
 * the next year or month when those do not match. */
static bool
day_matches(const struct ctl_dbx_cron *c, int64_t day, int64_t *skip)
{
    int y, m, d;
    int dow = (int)(((day + 4) % 7 + 7) % 7) + 1; /* 1970-01-01 was a Thursday (5) */

    civil(day, &y, &m, &d);
    *skip = day + 1;
    if (y >= CTL_DBX_YEAR_BASE + CTL_DBX_YEARS) {
        *skip = INT64_MAX;
        return false;
    }
    if (y < CTL_DBX_YEAR_BASE || !has_bit(c->years, y - CTL_DBX_YEAR_BASE)) {
        *skip = days_of(y + 1, 1, 1);
        return false;
    }
    if (!(c->mon >> (m - 1) & 1)) {
        *skip = m == 12 ? days_of(y + 1, 1, 1) : days_of(y, m + 1, 1);
        return false;
    }
    return c->by_dow ? (c->dow >> (dow - 1) & 1) != 0 : (c->dom >> (d - 1) & 1) != 0;
}

/* The first UTC second whose local time is local, or INT64_MIN if the
 * clocks skip it: of the offsets in effect a day either side, those that
 * give back local. */
static int64_t
to_utc(const struct ctl_dbx_tz *tz, int64_t local)
{
    int32_t offs[2] = {ctl_dbx_tz_offset(tz, local - DAY), ctl_dbx_tz_offset(tz, local + DAY)};
    int64_t best = INT64_MIN;

    for (int i = 0; i < 2; i++) {
        int64_t u = local - offs[i];

        if (ctl_dbx_tz_offset(tz, u) == offs[i] && (best == INT64_MIN || u < best))
            best = u;
    }
    return best;
}

/* The first matching time of day `day` at or after local second-of-day
 * from whose first UTC second is after `after`; -1 if none. */
static int64_t
in_day(const struct ctl_dbx_cron *c, const struct ctl_dbx_tz *tz, int64_t day, int64_t from,
       int64_t after)
{
    for (int h = 0; h < 24; h++) {
        if (!(c->hour >> h & 1) || h * 3600 + 3599 < from)
            continue;
        for (int mi = 0; mi < 60; mi++) {
            if (!(c->min >> mi & 1) || h * 3600 + mi * 60 + 59 < from)
                continue;
            for (int s = 0; s < 60; s++) {
                int64_t sod = h * 3600 + mi * 60 + s, u;

                if (!(c->sec >> s & 1) || sod < from)
                    continue;
                u = to_utc(tz, day * DAY + sod);
                if (u != INT64_MIN && u > after)
                    return u;
            }
        }
    }
    return -1;
}

int64_t
ctl_dbx_cron_next(const struct ctl_dbx_cron *c, const struct ctl_dbx_tz *tz, int64_t after)
{
    int64_t l0 = after + 1 + ctl_dbx_tz_offset(tz, after + 1), u, next;
    int64_t day0 = l0 >= 0 ? l0 / DAY : -((-l0 + DAY - 1) / DAY);

    for (int64_t day = day0; day != INT64_MAX; day = next) {
        if (day_matches(c, day, &next) &&
            (u = in_day(c, tz, day, day == day0 ? l0 - day0 * DAY : 0, after)) >= 0)
            return u;
    }
    return -1;
}
