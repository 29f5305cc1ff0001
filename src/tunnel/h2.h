/*
 * h2.h - the HTTP/2 session both ends of a tunnel use, as a sans-IO core.
 *
 * Bytes in (scc_h2_recv), bytes out (scc_h2_send), callbacks for streams;
 * no sockets and no timers, so a client and a server can be wired together
 * in memory by tests and fuzzers.  nghttp2 does the framing; this layer
 * adds what the tunnel needs on top:
 *
 *  - per-stream send queues with a hard cap, sent with NO_COPY so payload
 *    moves from the queue straight into the output buffer, or, for a large
 *    frame, is not copied at all (scc_h2_send's bulk);
 *  - flow control against head-of-line blocking: the connection window is
 *    credited as soon as bytes arrive, a stream's window only when its
 *    consumer says it has taken them (scc_h2_stream_consume).  A stalled
 *    stream therefore holds at most its own window and never blocks its
 *    siblings;
 *  - bounded request heads: pseudo-headers plus a few extra headers, at
 *    most SCC_H2_HEAD_MAX bytes, else the stream is refused.
 *
 * Roles are ordinary HTTP/2 roles: in a tunnel the relay is the client even
 * though the agent dialled; on the admin socket sccctl is the client.
 *
 * Not thread-safe: one session belongs to one event loop.
 */
#ifndef SCC_TUNNEL_H2_H
#define SCC_TUNNEL_H2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/buf.h"

struct evbuffer;
struct scc_h2;
struct scc_h2_stream;

#define SCC_H2_HEAD_MAX   8192 /* bytes of header names+values per message */
#define SCC_H2_EXTRA_HDRS 16   /* non-pseudo headers kept per message */

enum scc_h2_role {
    SCC_H2_CLIENT = 1,
    SCC_H2_SERVER = 2,
};

struct scc_h2_settings {
    uint32_t max_concurrent_streams; /* streams the peer may open to us */
    uint32_t stream_window;          /* initial receive window per stream */
    uint32_t max_frame_size;         /* largest frame we accept */
    size_t stream_send_max;          /* cap on a stream's queued output */
};

struct scc_h2_hdr {
    const char *name;
    const char *value;
};

/* A received message head.  Strings are NUL-terminated and live as long
 * as the stream. */
struct scc_h2_head {
    const char *method;    /* requests */
    const char *path;      /* requests; NULL for CONNECT */
    const char *authority; /* requests */
    const char *scheme;
    int status;      /* responses */
    bool end_stream; /* the head came with END_STREAM: no body follows */
    struct scc_h2_hdr extra[SCC_H2_EXTRA_HDRS];
    size_t nextra;
};

struct scc_h2_stream_cbs {
    /* Client: the response head arrived. */
    void (*on_head)(struct scc_h2_stream *s, void *arg);
    /* Body bytes.  The consumer must eventually scc_h2_stream_consume()
     * them; until it does, the peer's window for this stream shrinks. */
    void (*on_data)(struct scc_h2_stream *s, const uint8_t *data, size_t len, void *arg);
    /* The peer ended its side (END_STREAM). */
    void (*on_end)(struct scc_h2_stream *s, void *arg);
    /* n queued bytes were framed for sending; the queue may have room now. */
    void (*on_drain)(struct scc_h2_stream *s, size_t n, void *arg);
    /* The stream is gone (error_code 0: both sides ended).  s is freed
     * right after this returns; drop every pointer to it. */
    void (*on_close)(struct scc_h2_stream *s, uint32_t error_code, void *arg);
    /* After scc_h2_stream_defer: the scc_h2_recv that delivered on_data is
     * about to return, and the bytes it passed are still valid until then.
     * Lets a consumer write a whole batch at once without copying it. */
    void (*on_recv_end)(struct scc_h2_stream *s, void *arg);
};

struct scc_h2_cbs {
    /* Server: a request head arrived.  Set the stream's handlers with
     * scc_h2_stream_set_cbs, or answer or reset it right away. */
    void (*on_request)(struct scc_h2 *h2, struct scc_h2_stream *s, void *arg);
    /* Something new may be ready for scc_h2_send. */
    void (*want_write)(struct scc_h2 *h2, void *arg);
    /* The peer sent GOAWAY; debug data may carry "retry-after=N". */
    void (*on_goaway)(struct scc_h2 *h2, uint32_t error_code, const uint8_t *debug, size_t len,
                      void *arg);
    /* An acknowledgement for our PING, rtt in microseconds. */
    void (*on_ping_ack)(struct scc_h2 *h2, uint64_t rtt_us, void *arg);
};

/* scc_h2_settings_default - what the tunnel uses unless configured. */
void scc_h2_settings_default(struct scc_h2_settings *s);

/*
 * scc_h2_new - a session in role with our settings.  cbs is copied; arg is
 * passed to every connection callback.  Queues our SETTINGS (and, as a
 * client, the connection preface).  Returns 0, SCC_ENOMEM or SCC_EH2.
 */
int scc_h2_new(enum scc_h2_role role, const struct scc_h2_settings *set,
               const struct scc_h2_cbs *cbs, void *arg, struct scc_h2 **out);

/* scc_h2_free - closes every stream (on_close with NGHTTP2_CANCEL... as
 * error code 8) and frees the session.  NULL-safe. */
void scc_h2_free(struct scc_h2 *h2);

/*
 * scc_h2_recv - feed len bytes read from the peer.  Returns 0, or SCC_EH2
 * when the peer broke the protocol: the session then only has a GOAWAY
 * left to send, and the caller should flush and close.
 */
int scc_h2_recv(struct scc_h2 *h2, const uint8_t *data, size_t len);

/* Plaintext per TLS record (tio's SSL_write cuts at 16 KiB): bulk frames
 * are laid out so that every record leaves full. */
#define SCC_H2_BULK_ALIGN 16384

/*
 * scc_h2_send - append frames to out until out holds at least budget bytes
 * or nothing is ready.  Returns the number of bytes framed (0: idle), or
 * SCC_EH2 / SCC_ENOMEM on a fatal error.
 *
 * bulk (NULL, or an empty evbuffer) lets a large DATA frame go without a
 * copy: its header and just enough payload to end out on a multiple of
 * SCC_H2_BULK_ALIGN are appended to out, and the rest of the payload (a
 * whole chunk of the stream's queue) is moved into bulk.  The call then
 * returns at once; the bytes on the wire are out followed by bulk, and
 * both must be written before the next call.
 */
ssize_t scc_h2_send(struct scc_h2 *h2, struct scc_buf *out, struct evbuffer *bulk, size_t budget);

/* scc_h2_is_done - true when neither side has anything left to say
 * (GOAWAY exchanged, or a fatal error), so the transport can close. */
bool scc_h2_is_done(const struct scc_h2 *h2);

/* scc_h2_ping - send a PING carrying the current time. */
int scc_h2_ping(struct scc_h2 *h2);

/* scc_h2_goaway - announce shutdown; debug (may be NULL) goes into the
 * frame's opaque data.  Streams in flight continue. */
int scc_h2_goaway(struct scc_h2 *h2, uint32_t error_code, const char *debug);

/* scc_h2_stream_count - open streams. */
size_t scc_h2_stream_count(const struct scc_h2 *h2);

/*
 * scc_h2_request - (client) open a stream.  For CONNECT pass method
 * "CONNECT", path NULL and authority "host:port".  end_stream: the request
 * has no body.  The stream is returned (borrowed; valid until on_close).
 * Returns 0, SCC_EINVAL, SCC_EBUSY (peer's stream limit or GOAWAY), SCC_EH2.
 */
int scc_h2_request(struct scc_h2 *h2, const char *method, const char *path, const char *authority,
                   const struct scc_h2_hdr *hdrs, size_t nhdrs, bool end_stream,
                   const struct scc_h2_stream_cbs *cbs, void *arg, struct scc_h2_stream **out);

/* scc_h2_respond - (server) send the response head; end_stream: no body. */
int scc_h2_respond(struct scc_h2_stream *s, int status, const struct scc_h2_hdr *hdrs, size_t nhdrs,
                   bool end_stream);

/* scc_h2_respond_json - status plus a small complete JSON body. */
int scc_h2_respond_json(struct scc_h2_stream *s, int status, const char *json);

void scc_h2_stream_set_cbs(struct scc_h2_stream *s, const struct scc_h2_stream_cbs *cbs, void *arg);

/* scc_h2_stream_write - queue len bytes of body.  SCC_ETOOBIG past the
 * stream's send cap (nothing queued), SCC_ECLOSED if the stream ended. */
int scc_h2_stream_write(struct scc_h2_stream *s, const void *data, size_t len);

/* scc_h2_stream_queue - the stream's send queue, for producers that read
 * a socket straight into it (evbuffer_read); call scc_h2_stream_kick after. */
struct evbuffer *scc_h2_stream_queue(struct scc_h2_stream *s);
void scc_h2_stream_kick(struct scc_h2_stream *s);

/* scc_h2_stream_space - bytes the send queue can still take. */
size_t scc_h2_stream_space(const struct scc_h2_stream *s);

/* scc_h2_stream_end - END_STREAM once the queue has drained. */
int scc_h2_stream_end(struct scc_h2_stream *s);

/* scc_h2_stream_defer - call on_recv_end once at the end of the current
 * scc_h2_recv (only from inside on_data). */
void scc_h2_stream_defer(struct scc_h2_stream *s);

/* scc_h2_stream_consume - credit n received bytes back to the peer. */
void scc_h2_stream_consume(struct scc_h2_stream *s, size_t n);

/* scc_h2_stream_reset - RST_STREAM with an HTTP/2 error code. */
void scc_h2_stream_reset(struct scc_h2_stream *s, uint32_t error_code);

const struct scc_h2_head *scc_h2_stream_head(const struct scc_h2_stream *s);
const char *scc_h2_stream_header(const struct scc_h2_stream *s, const char *name);
int32_t scc_h2_stream_id(const struct scc_h2_stream *s);
struct scc_h2 *scc_h2_stream_session(const struct scc_h2_stream *s);

/* Byte counters of DATA payload, both directions. */
uint64_t scc_h2_bytes_in(const struct scc_h2 *h2);
uint64_t scc_h2_bytes_out(const struct scc_h2 *h2);

#endif /* SCC_TUNNEL_H2_H */
