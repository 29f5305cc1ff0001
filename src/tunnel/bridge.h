/*
 * bridge.h - splice a TCP (or Unix) socket and an HTTP/2 stream, both ways,
 * with back-pressure end to end: the socket is read only while the stream's
 * send queue has room, and received stream bytes are credited back to the
 * peer only once the socket has taken them.  A slow socket therefore
 * holds at most one stream window and stalls nothing else on the tunnel.
 *
 * Half-close follows RFC 9113 §8.5: EOF on the socket ends the stream;
 * END_STREAM from the peer shuts down the socket's write side.
 */
#ifndef SCC_TUNNEL_BRIDGE_H
#define SCC_TUNNEL_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct scc_h2_stream;
struct scc_bridge;

/* Called once when the bridge is done (the stream closed and, after an
 * orderly end, everything was written to the socket), with byte counts. */
typedef void (*scc_bridge_done_cb)(void *arg, uint64_t to_stream, uint64_t to_socket,
                                   uint32_t error_code);

/*
 * scc_bridge_new - take ownership of fd and attach to s (its callbacks are
 * replaced).  wait_for_head: a client that sent CONNECT reads the socket
 * only after a 2xx response; a non-2xx response resets the stream.
 * The bridge frees itself when the stream closes.
 */
int scc_bridge_new(struct event_base *base, int fd, struct scc_h2_stream *s, bool wait_for_head,
                   scc_bridge_done_cb done, void *arg, struct scc_bridge **out);

/* scc_bridge_prefill - read what a just-accepted client has already sent
 * (one read, no wait), so it leaves with the stream's request. */
void scc_bridge_prefill(struct scc_bridge *b);

/* scc_bridge_on_head - be told the status of the peer's response head
 * (wait_for_head bridges); also called with 0 if the stream closes first. */
void scc_bridge_on_head(struct scc_bridge *b, void (*cb)(void *arg, int status));

/* scc_bridge_feed - bytes that arrived on the stream before the bridge
 * existed (a client may send DATA right after CONNECT); they are written to
 * the socket first and credited like any other. */
void scc_bridge_feed(struct scc_bridge *b, const uint8_t *data, size_t len);

#endif /* SCC_TUNNEL_BRIDGE_H */
