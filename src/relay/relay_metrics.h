/*
 * relay_metrics.h - what the relay counts, exposed in Prometheus' text
 * format on a loopback HTTP address with /healthz and /readyz beside it.
 */
#ifndef SCC_RELAY_RELAY_METRICS_H
#define SCC_RELAY_RELAY_METRICS_H

#include <stdint.h>

struct relay;
struct event_base;

enum relay_refusal {
    REFUSE_NO_CERT,  /* tunnel ALPN without a client certificate */
    REFUSE_BAD_CERT, /* verification failed: other CA, expired, ... */
    REFUSE_REVOKED,
    REFUSE_IDENTITY,  /* a certificate without a node identity of our trust domain */
    REFUSE_OVERLOAD,  /* shed with retry-after */
    REFUSE_HANDSHAKE, /* not TLS, wrong version, no shared ALPN, ... */
    REFUSE_TIMEOUT,   /* handshake not finished in time */
    REFUSE_N
};

#define RELAY_LAT_BUCKETS 14

struct relay_metrics {
    uint64_t tunnel_connects, tunnel_disconnects;
    uint64_t handshakes_ok, tls_resumed;
    uint64_t refused[REFUSE_N];
    uint64_t enroll_ok, enroll_refused;
    uint64_t renew_ok, renew_failed; /* node certificates renewed over tunnels */
    uint64_t streams_total, streams_active;
    uint64_t bytes_to_node, bytes_from_node; /* of closed tunnels; live ones are summed at scrape */
    uint64_t lat_buckets[RELAY_LAT_BUCKETS + 1];
    uint64_t lat_count;
    double lat_sum;
    struct evhttp *http;
    char bound[64];
};

int relay_metrics_start(struct relay *r, const char *listen);
void relay_metrics_stop(struct relay_metrics *m);

/* relay_metrics_observe - one proxied request's time to response head. */
void relay_metrics_observe(struct relay_metrics *m, uint64_t micros);

#endif /* SCC_RELAY_RELAY_METRICS_H */
