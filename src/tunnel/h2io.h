/*
 * h2io.h - an HTTP/2 session (h2.h) bound to a transport (tio.h) on an
 * event loop: reads feed the session, output is coalesced into large
 * writes (one flush per loop iteration, however many streams wrote), PINGs
 * keep NAT mappings warm and measure the round trip, and a silent peer is
 * declared dead after dead_after_ms, so nothing waits on a black hole.
 */
#ifndef SCC_TUNNEL_H2IO_H
#define SCC_TUNNEL_H2IO_H

#include <stdbool.h>
#include <stdint.h>

#include "tunnel/h2.h"

struct event_base;
struct scc_tio;
struct scc_h2io;

struct scc_h2io_cfg {
    uint32_t ping_interval_ms; /* 0: no pings (e.g. a local socket) */
    uint32_t dead_after_ms;    /* silence that kills the connection; 0: never */
};

/*
 * Called once when the connection is over (rc 0: orderly; SCC_ETIMEOUT:
 * peer silent; SCC_ECLOSED: peer closed; SCC_EH2: protocol error; other
 * transport errors).  All streams were already closed.  io is freed
 * right after this returns.
 */
typedef void (*scc_h2io_close_cb)(struct scc_h2io *io, int rc, void *arg);

/*
 * scc_h2io_new - start serving.  Takes ownership of tio (handshake done).
 * cbs->on_request / on_goaway are forwarded with arg; want_write and
 * on_ping_ack are handled here.
 */
int scc_h2io_new(struct event_base *base, struct scc_tio *tio, enum scc_h2_role role,
                 const struct scc_h2_settings *set, const struct scc_h2_cbs *cbs,
                 const struct scc_h2io_cfg *cfg, scc_h2io_close_cb on_close, void *arg,
                 struct scc_h2io **out);

struct scc_h2 *scc_h2io_session(struct scc_h2io *io);
struct scc_tio *scc_h2io_tio(struct scc_h2io *io);

/* scc_h2io_close - end now; on_close follows from the loop. */
void scc_h2io_close(struct scc_h2io *io, int rc);
/* scc_h2io_close_now - end, run on_close and free before returning (also
 * one whose close is pending).  Teardown only, never from io's callbacks:
 * its owner is going and will not run the loop for it. */
void scc_h2io_close_now(struct scc_h2io *io, int rc);

/* scc_h2io_detach - forget the owner: no more callbacks to arg. */
void scc_h2io_detach(struct scc_h2io *io);

/* scc_h2io_drain - GOAWAY (with debug text), finish open streams, close. */
void scc_h2io_drain(struct scc_h2io *io, uint32_t error_code, const char *debug);

bool scc_h2io_is_closing(const struct scc_h2io *io);
uint64_t scc_h2io_rtt_us(const struct scc_h2io *io);  /* last PING round trip, 0 if none */
uint64_t scc_h2io_wire_in(const struct scc_h2io *io); /* bytes on the wire */
uint64_t scc_h2io_wire_out(const struct scc_h2io *io);
/* DATA payload bytes; still valid inside the close callback. */
uint64_t scc_h2io_payload_in(const struct scc_h2io *io);
uint64_t scc_h2io_payload_out(const struct scc_h2io *io);

#endif /* SCC_TUNNEL_H2IO_H */
