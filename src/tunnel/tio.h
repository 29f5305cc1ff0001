/*
 * tio.h - one non-blocking stream socket, optionally with TLS on top, as
 * the h2 layer and the dialers see it: read and write calls that never
 * block, a handshake with a deadline, and a single event callback.
 *
 * Why not bufferevent_openssl: it calls SSL_write once per evbuffer chain,
 * so a 9-byte frame header in its own chain becomes its own TLS record
 * and its own write(2).  Here the caller hands over large contiguous
 * buffers, OpenSSL cuts them into full 16 KiB records, and our own BIO
 * batches those records into one write(2) (and one read(2) for many
 * incoming records).
 */
#ifndef SCC_TUNNEL_TIO_H
#define SCC_TUNNEL_TIO_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct scc_tio;

#define SCC_TIO_READ  0x01
#define SCC_TIO_WRITE 0x02

typedef void (*scc_tio_cb)(struct scc_tio *t, short what, void *arg);
/* Handshake outcome: rc 0, SCC_ETLS (reason via scc_tio_tls_error), SCC_ETIMEOUT, SCC_ECLOSED. */
typedef void (*scc_tio_hs_cb)(struct scc_tio *t, int rc, void *arg);

/* scc_tio_new - wrap fd (takes ownership; closed by scc_tio_free). */
int scc_tio_new(struct event_base *base, int fd, struct scc_tio **out);
void scc_tio_free(struct scc_tio *t);

/* scc_tio_set_cb - where readiness goes; reading is enabled at once. */
void scc_tio_set_cb(struct scc_tio *t, scc_tio_cb cb, void *arg);

/*
 * scc_tio_start_tls - take ownership of ssl and run the handshake (server
 * or client side) with a deadline.  done is called exactly once, on the
 * loop, never from inside this call.  Readiness callbacks are suspended
 * until then.
 */
int scc_tio_start_tls(struct scc_tio *t, SSL *ssl, bool server, uint32_t timeout_ms,
                      scc_tio_hs_cb done, void *arg);

/* >0 bytes, 0 would block (the right event is armed), <0: SCC_ECLOSED
 * (orderly end), SCC_ETLS, or -errno.  Over TLS, written records may wait
 * in the connection's buffer until scc_tio_flush. */
ssize_t scc_tio_read(struct scc_tio *t, void *buf, size_t cap);
ssize_t scc_tio_write(struct scc_tio *t, const void *buf, size_t len);

/* scc_tio_flush - write out the records scc_tio_write has collected (it
 * writes only when its buffer fills); 0, or <0 when the socket failed. */
int scc_tio_flush(struct scc_tio *t);

/* scc_tio_want_write - arm or disarm the writable callback. */
void scc_tio_want_write(struct scc_tio *t, bool on);
/* scc_tio_pause_read - stop or resume readable callbacks (back-pressure). */
void scc_tio_pause_read(struct scc_tio *t, bool paused);
/* scc_tio_read_again - deliver a readable callback soon even if the
 * socket is quiet (TLS may hold decrypted bytes the kernel cannot see). */
void scc_tio_read_again(struct scc_tio *t);

/* scc_tio_trim - give back idle buffers, ours and OpenSSL's: a quiet
 * connection costs little.  The owner calls it when the connection has
 * been quiet a while (h2io: TRIM_MS). */
void scc_tio_trim(struct scc_tio *t);

/* scc_tio_close_notify - best-effort TLS close_notify; never blocks. */
void scc_tio_close_notify(struct scc_tio *t);

int scc_tio_fd(const struct scc_tio *t);
SSL *scc_tio_ssl(const struct scc_tio *t);

/* scc_tio_tls_error - why the last TLS operation failed, for logs. */
const char *scc_tio_tls_error(const struct scc_tio *t);

#endif /* SCC_TUNNEL_TIO_H */
