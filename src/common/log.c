#include "log.h"

#include "err.h"
#include "time.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static atomic_int log_level = SCC_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void
scc_log_set_level(enum scc_log_level level)
{
    atomic_store(&log_level, (int)level);
}

enum scc_log_level
scc_log_get_level(void)
{
    return (enum scc_log_level)atomic_load(&log_level);
}

int
scc_log_level_parse(const char *s, enum scc_log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (enum scc_log_level)i;
            return 0;
        }
    }
    return SCC_EINVAL;
}

void
scc_log_ctx_init(struct scc_log_ctx *ctx, const char *comp, const char *fmt, ...)
{
    va_list ap;

    ctx->comp = comp;
    ctx->ids[0] = '\0';
    if (fmt == NULL)
        return;
    va_start(ap, fmt);
    /* Truncation only shortens the ids; the line stays well formed. */
    (void)vsnprintf(ctx->ids, sizeof(ctx->ids), fmt, ap);
    va_end(ap);
}

/* Append to line at *off, never past cap; returns false once full. */
static bool append(char *line, size_t cap, size_t *off, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static bool
append(char *line, size_t cap, size_t *off, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*off >= cap)
        return false;
    va_start(ap, fmt);
    n = vsnprintf(line + *off, cap - *off, fmt, ap);
    va_end(ap);
    if (n < 0)
        return false;
    *off += (size_t)n < cap - *off ? (size_t)n : cap - *off - 1;
    return true;
}

void
scc_log_write(enum scc_log_level level, const struct scc_log_ctx *ctx, const char *func, int rc,
              const char *fmt, ...)
{
    char line[2048];
    char ts[40];
    size_t off = 0;
    va_list ap;
    int n;

    if ((int)level > atomic_load(&log_level))
        return;
    scc_time_format_rfc3339(scc_time_wall_ms(), ts, sizeof(ts));
    append(line, sizeof(line), &off, "%s %s %s %s: ", ts, level_names[level],
           ctx && ctx->comp ? ctx->comp : "scc", func);
    if (ctx && ctx->ids[0])
        append(line, sizeof(line), &off, "%s ", ctx->ids);
    va_start(ap, fmt);
    n = vsnprintf(line + off, sizeof(line) - off, fmt, ap);
    va_end(ap);
    if (n > 0)
        off += (size_t)n < sizeof(line) - off ? (size_t)n : sizeof(line) - off - 1;
    if (rc != 0)
        append(line, sizeof(line), &off, ": %s", scc_strerror(rc));
    if (off >= sizeof(line) - 1)
        off = sizeof(line) - 2;
    line[off++] = '\n';
    /* One write per line; a short write to stderr is not worth a retry loop
     * that could block the event loop. */
    (void)!write(STDERR_FILENO, line, off);
}

void
scc_ratelimit_init(struct scc_ratelimit *rl, uint32_t burst, uint32_t interval_ms)
{
    memset(rl, 0, sizeof(*rl));
    rl->burst = burst;
    rl->tokens = burst;
    rl->interval_ms = interval_ms ? interval_ms : 1;
}

bool
scc_ratelimit_allow(struct scc_ratelimit *rl, uint64_t now_ms)
{
    uint64_t refill;

    if (now_ms > rl->last_ms) {
        refill = (now_ms - rl->last_ms) / rl->interval_ms;
        if (refill > 0) {
            rl->tokens =
                    (uint32_t)(refill + rl->tokens > rl->burst ? rl->burst : refill + rl->tokens);
            rl->last_ms = now_ms;
        }
    }
    if (rl->tokens == 0) {
        rl->suppressed++;
        return false;
    }
    rl->tokens--;
    return true;
}
