#include "backoff.h"

#include "encode.h"

void
scc_backoff_init(struct scc_backoff *b, uint64_t base_ms, uint64_t cap_ms)
{
    b->base_ms = base_ms ? base_ms : 1;
    b->cap_ms = cap_ms < b->base_ms ? b->base_ms : cap_ms;
    b->attempt = 0;
    b->retry_after_ms = 0;
    b->rand_below = scc_rand_below;
}

uint64_t
scc_backoff_next(struct scc_backoff *b)
{
    uint64_t ceiling = b->base_ms;

    if (b->retry_after_ms) {
        uint64_t ms = b->retry_after_ms;

        b->retry_after_ms = 0;
        b->attempt++;
        return ms + b->rand_below(ms / 10 + 1);
    }
    /* Doubling stops at the cap, so no shift can overflow. */
    for (unsigned i = 0; i < b->attempt && ceiling < b->cap_ms; i++)
        ceiling *= 2;
    if (ceiling > b->cap_ms)
        ceiling = b->cap_ms;
    if (b->attempt < 64)
        b->attempt++;
    return b->rand_below(ceiling + 1);
}

void
scc_backoff_reset(struct scc_backoff *b)
{
    b->attempt = 0;
    b->retry_after_ms = 0;
}

void
scc_backoff_retry_after(struct scc_backoff *b, uint64_t ms)
{
    b->retry_after_ms = ms;
}
