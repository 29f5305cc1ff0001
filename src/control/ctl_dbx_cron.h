/*
 * ctl_dbx_cron.h - job schedules: Quartz cron expressions (as Databricks
 * takes them in settings.schedule) and time zones from TZif files, and the
 * next time a schedule fires.  Pure: no clock, no I/O but
 * ctl_dbx_tz_load's read of one zone file.
 */
#ifndef SCC_CONTROL_CTL_DBX_CRON_H
#define SCC_CONTROL_CTL_DBX_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_DBX_CRON_MAX  256   /* bytes of an expression */
#define CTL_DBX_TZ_MAX    65536 /* bytes of a zone file */
#define CTL_DBX_TZ_TRANS  4096  /* transitions of a zone */
#define CTL_DBX_YEAR_BASE 1970
#define CTL_DBX_YEARS     256 /* 1970-2225 */

/* Bit n of each mask: value n matches.  dom 1-31, mon 1-12, dow 1-7
 * (Sunday is 1, as in Quartz). */
struct ctl_dbx_cron {
    uint64_t sec, min, hour, dom, mon, dow;
    bool by_dow; /* day-of-month is '?': the day is chosen by dow */
    uint64_t years[CTL_DBX_YEARS / 64];
};

/* ctl_dbx_cron_parse - "SEC MIN HOUR DOM MON DOW [YEAR]" with *, ?, ranges,
 * lists, steps and JAN-DEC/SUN-SAT; exactly one of DOM and DOW is '?'.
 * L, W and # are refused.  0, or SCC_EINVAL with the message in err. */
int ctl_dbx_cron_parse(const char *expr, struct ctl_dbx_cron *c, char *err, size_t cap);

/* A zone: its UTC offsets (seconds east) from each transition on. */
struct ctl_dbx_tz {
    size_t n;
    int64_t *at;  /* UTC seconds, increasing */
    int32_t *off; /* in effect from at[i] */
    int32_t off0; /* before the first (and the only one when n == 0) */
};

/* ctl_dbx_tz_parse - a TZif file (RFC 8536, versions 1-4; the 64-bit data
 * of v2+).  Times past the last transition keep its offset (Debian's files
 * list transitions to 2037).  0, SCC_EINVAL or SCC_ENOMEM. */
int ctl_dbx_tz_parse(const uint8_t *buf, size_t len, struct ctl_dbx_tz *tz);
/* ctl_dbx_tz_load - the zone of an IANA id: "UTC" and "GMT" (with or
 * without "Etc/") are built in, others come from /usr/share/zoneinfo.  0,
 * or SCC_EINVAL / SCC_ENOTFOUND / SCC_ENOMEM with the message in err. */
int ctl_dbx_tz_load(const char *id, struct ctl_dbx_tz *tz, char *err, size_t cap);
void ctl_dbx_tz_fini(struct ctl_dbx_tz *tz);
/* ctl_dbx_tz_offset - the offset in effect at UTC second t. */
int32_t ctl_dbx_tz_offset(const struct ctl_dbx_tz *tz, int64_t t);

/* ctl_dbx_cron_next - the first UTC second after `after` whose local time
 * in tz matches c (a local time skipped by a clock change never does; one
 * repeated fires at its first occurrence); -1 if none before 2226.  Years
 * and months that do not match are skipped whole, so a schedule that
 * never fires costs some 200 x 31 days. */
int64_t ctl_dbx_cron_next(const struct ctl_dbx_cron *c, const struct ctl_dbx_tz *tz, int64_t after);

#endif /* SCC_CONTROL_CTL_DBX_CRON_H */
