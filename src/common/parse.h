/*
 * parse.h - bounded parsers for numbers, durations and addresses.  Every
 * function rejects trailing garbage, signs, overflow and empty input.
 */
#ifndef SCC_COMMON_PARSE_H
#define SCC_COMMON_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* scc_parse_u64 - decimal in [min, max].  SCC_EINVAL or SCC_ERANGE. */
int scc_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* scc_parse_u64n - the same on a (s, len) slice that need not be NUL-terminated. */
int scc_parse_u64n(const char *s, size_t len, uint64_t min, uint64_t max, uint64_t *out);

/*
 * scc_parse_duration_ms - "250ms", "20s", "10m", "2h", "7d", or a bare
 * number of seconds.  Result in milliseconds, at most 100 years.
 */
int scc_parse_duration_ms(const char *s, uint64_t *out_ms);

/* scc_parse_bool - true/false/yes/no/on/off/1/0, case-insensitive. */
int scc_parse_bool(const char *s, bool *out);

/*
 * scc_parse_hostport - "host:port", "1.2.3.4:port" or "[v6]:port" into
 * host (NUL-terminated, without brackets) and port (1-65535, or 0 when
 * allow_zero).  SCC_EINVAL on malformed input, SCC_ETRUNC if host_cap is
 * too small.
 */
int scc_parse_hostport(const char *s, char *host, size_t host_cap, uint16_t *port, bool allow_zero);

/*
 * scc_list_next - walk a comma-separated list: copy the next item into
 * item (cap bytes, NUL-terminated, surrounding blanks removed) and advance
 * *p.  Returns false at the end of the list; an item longer than cap-1
 * is returned truncated to "" so callers reject it like any bad item.
 *
 *     for (const char *p = list; scc_list_next(&p, item, sizeof(item));) ...
 */
bool scc_list_next(const char **p, char *item, size_t cap);

#endif /* SCC_COMMON_PARSE_H */
