/*
 * log.h - one line per event: "<time> <level> <comp> <func>: <ids> <msg>".
 *
 * Each connection keeps a struct scc_log_ctx holding its ids and peer so
 * that every line about it can be grepped by conn=N.  Never pass secrets.
 */
#ifndef SCC_COMMON_LOG_H
#define SCC_COMMON_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum scc_log_level {
    SCC_LOG_ERROR = 0, /* the operator must act */
    SCC_LOG_WARN = 1,  /* a peer misbehaved, or we are degraded */
    SCC_LOG_INFO = 2,  /* lifecycle */
    SCC_LOG_DEBUG = 3, /* per frame */
};

struct scc_log_ctx {
    const char *comp; /* borrowed, static: "relay", "agent", ... */
    char ids[128];    /* preformatted "conn=3 peer=1.2.3.4:5", may be empty */
};

/* scc_log_set_level / scc_log_get_level - process-wide threshold. */
void scc_log_set_level(enum scc_log_level level);
enum scc_log_level scc_log_get_level(void);

/* scc_log_level_parse - "error".."debug" to a level; SCC_EINVAL otherwise. */
int scc_log_level_parse(const char *s, enum scc_log_level *out);

/* scc_log_ctx_init - fill ctx; fmt may be NULL for no ids. */
void scc_log_ctx_init(struct scc_log_ctx *ctx, const char *comp, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/*
 * scc_log_write - format and write one line to stderr with a single
 * write(2), so lines from several threads never interleave.  rc != 0
 * appends ": <scc_strerror(rc)>".  ctx may be NULL.
 */
void scc_log_write(enum scc_log_level level, const struct scc_log_ctx *ctx, const char *func,
                   int rc, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define scc_log_error(ctx, ...) scc_log_write(SCC_LOG_ERROR, ctx, __func__, 0, __VA_ARGS__)
#define scc_log_warn(ctx, ...)  scc_log_write(SCC_LOG_WARN, ctx, __func__, 0, __VA_ARGS__)
#define scc_log_info(ctx, ...)  scc_log_write(SCC_LOG_INFO, ctx, __func__, 0, __VA_ARGS__)
#define scc_log_debug(ctx, ...)                                                                    \
    do {                                                                                           \
        if (scc_log_get_level() >= SCC_LOG_DEBUG)                                                  \
            scc_log_write(SCC_LOG_DEBUG, ctx, __func__, 0, __VA_ARGS__);                           \
    } while (0)
#define scc_log_error_rc(ctx, rc, ...) scc_log_write(SCC_LOG_ERROR, ctx, __func__, rc, __VA_ARGS__)
#define scc_log_warn_rc(ctx, rc, ...)  scc_log_write(SCC_LOG_WARN, ctx, __func__, rc, __VA_ARGS__)
#define scc_log_info_rc(ctx, rc, ...)  scc_log_write(SCC_LOG_INFO, ctx, __func__, rc, __VA_ARGS__)

/*
 * A token bucket for per-peer warnings: at most `burst` lines, refilled at
 * one per `interval_ms`.  scc_ratelimit_allow returns true if a line may be
 * written now; the caller counts what it suppressed.
 */
struct scc_ratelimit {
    uint64_t last_ms;
    uint32_t tokens;
    uint32_t burst;
    uint32_t interval_ms;
    uint32_t suppressed;
};

void scc_ratelimit_init(struct scc_ratelimit *rl, uint32_t burst, uint32_t interval_ms);
bool scc_ratelimit_allow(struct scc_ratelimit *rl, uint64_t now_ms);

#endif /* SCC_COMMON_LOG_H */
