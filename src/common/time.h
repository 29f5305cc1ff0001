/*
 * time.h - clocks and timestamps.  Monotonic time for timeouts and
 * intervals, wall time only for what people and peers read.
 */
#ifndef SCC_COMMON_TIME_H
#define SCC_COMMON_TIME_H

#include <stddef.h>
#include <stdint.h>

uint64_t scc_time_mono_ms(void);
uint64_t scc_time_mono_us(void);
uint64_t scc_time_wall_ms(void);

/*
 * scc_time_format_rfc3339 - "2026-11-28T16:00:00.123Z" (UTC) into buf of
 * cap bytes (>= 25).  Returns 0, or SCC_ETRUNC if cap is too small.
 */
int scc_time_format_rfc3339(uint64_t wall_ms, char *buf, size_t cap);

/*
 * scc_time_format_arm - ARM's 7-digit form "2026-11-28T16:00:00.1230000Z",
 * which .NET-based clients round-trip exactly.  Same returns.
 */
int scc_time_format_arm(uint64_t wall_ms, char *buf, size_t cap);

/*
 * scc_time_parse_rfc3339 - the inverse, accepting 0-9 fractional digits
 * and a trailing 'Z'.  Returns 0 or SCC_EINVAL.
 */
int scc_time_parse_rfc3339(const char *s, uint64_t *wall_ms);

#endif /* SCC_COMMON_TIME_H */
