/*
 * backoff.h - capped exponential back-off with full jitter.
 *
 * Delay n is uniform in [0, min(cap, base * 2^n)]: the "full jitter" of
 * AWS's back-off study, which spreads a thundering herd of reconnecting
 * agents evenly instead of in synchronised waves.  A server's "retry after
 * N s" overrides the next delay (plus jitter of up to 10 % so that shed
 * agents do not return together).
 */
#ifndef SCC_COMMON_BACKOFF_H
#define SCC_COMMON_BACKOFF_H

#include <stdint.h>

typedef uint64_t (*scc_backoff_rand_cb)(uint64_t bound);

struct scc_backoff {
    uint64_t base_ms;
    uint64_t cap_ms;
    unsigned attempt;
    uint64_t retry_after_ms;        /* set by scc_backoff_retry_after, used once */
    scc_backoff_rand_cb rand_below; /* uniform in [0, bound); scc_rand_below by default */
};

void scc_backoff_init(struct scc_backoff *b, uint64_t base_ms, uint64_t cap_ms);

/* scc_backoff_next - the delay before the next attempt; advances attempt. */
uint64_t scc_backoff_next(struct scc_backoff *b);

/* scc_backoff_reset - after a connection that worked. */
void scc_backoff_reset(struct scc_backoff *b);

/* scc_backoff_retry_after - the peer asked us to wait ms before retrying. */
void scc_backoff_retry_after(struct scc_backoff *b, uint64_t ms);

#endif /* SCC_COMMON_BACKOFF_H */
