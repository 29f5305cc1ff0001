#include "tio.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/mem.h"
#include "common/tls.h"

#include <errno.h>
#include <event2/event.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/*
 * TLS runs over our own BIO.  One read(2) fills cin with up to CIN_CHUNK
 * bytes (many records), from which OpenSSL takes each record's header and
 * body; its ciphertext goes to cout, where many records collect and one
 * write(2) drains them.  With a socket BIO every 16 KiB record would cost
 * a write(2) and two read(2)s.  (OpenSSL's own read-ahead is no help: it
 * moves the unread rest of its buffer to the front for every record.)
 * These buffers and OpenSSL's own are given back when the connection goes
 * quiet (scc_tio_trim), not after every record: a round trip that frees
 * and allocates 80 KiB of them costs microseconds.
 */
#define CIN_MIN       (32u << 10)  /* a quiet connection reads this much at once */
#define CIN_CHUNK     (256u << 10) /* a busy one grows to this */
#define COUT_HIGH     (512u << 10) /* past this, SSL_write waits for the socket */
#define COUT_MAX      (COUT_HIGH + (64u << 10))
#define DRAINED_BELOW (4u << 10) /* a read this short ends a batch (fill_cin) */

struct scc_tio {
    struct event_base *base;
    int fd;
    SSL *ssl;
    struct event *rd, *wr, *hs_timer, *hs_done_ev;
    scc_tio_cb cb;
    void *arg;
    scc_tio_hs_cb hs_cb;
    void *hs_arg;
    int hs_rc;
    bool handshaking, server;
    bool want_wr, rd_paused;
    uint8_t *cin;        /* ciphertext read, not yet taken by OpenSSL; 64-aligned */
    size_t cin_len;      /* bytes in cin */
    size_t cin_cap;      /* its size */
    size_t cin_off;      /* taken by OpenSSL */
    size_t cin_want;     /* read size: doubles while reads fill it */
    struct scc_buf cout; /* ciphertext not yet written */
    size_t cout_off;
    bool drained; /* the last read(2) came back small: do not read again
                     until the loop says readable */
    bool eof;     /* the socket said EOF */
    int sock_err; /* a socket error seen by the BIO's user */
    char tls_err[256];
};

/* ---- the BIO ---- */

static int
bio_write_ex(BIO *b, const char *data, size_t len, size_t *written)
{
    struct scc_tio *t = BIO_get_data(b);

    BIO_clear_retry_flags(b);
    if (t->cout.len - t->cout_off >= COUT_HIGH || scc_buf_put(&t->cout, data, len) < 0) {
        BIO_set_retry_write(b);
        return 0;
    }
    *written = len;
    return 1;
}

static void
cin_fini(struct scc_tio *t)
{
    scc_free(t->cin);
    t->cin = NULL;
    t->cin_len = t->cin_cap = t->cin_off = 0;
}

/*
 * Room for want bytes in an empty cin.  Aligned to a cache line: the
 * kernel copies into it with "rep movsb", which on some processors runs
 * at half speed into a destination that starts mid-line (cputune.c).
 */
static int
cin_reserve(struct scc_tio *t, size_t want)
{
    t->cin_len = t->cin_off = 0;
    if (t->cin_cap >= want)
        return 0;
    cin_fini(t);
    if ((t->cin = scc_malloc_aligned(64, want)) == NULL)
        return SCC_ENOMEM;
    t->cin_cap = want;
    return 0;
}

/* One read(2) into cin: >0 bytes, 0 at EOF, -EAGAIN, or -errno. */
static ssize_t
fill_cin(struct scc_tio *t)
{
    ssize_t n;

    if (t->cin_want < CIN_MIN)
        t->cin_want = CIN_MIN;
    if (cin_reserve(t, t->cin_want) < 0)
        return -ENOMEM;
    do {
        n = read(t->fd, t->cin, t->cin_want);
    } while (n < 0 && errno == EINTR);
    if (n > 0)
        t->cin_len = (size_t)n;
    /* A short read empties the socket; after a small one (a request, an
     * answer) nothing more is likely soon, so the next read(2) would only
     * say EAGAIN.  After a large one more is usually on its way. */
    t->drained = n > 0 && (size_t)n < DRAINED_BELOW;
    /* Grow only for a connection that fills its reads. */
    if ((size_t)n == t->cin_want && t->cin_want < CIN_CHUNK)
        t->cin_want *= 2;
    else if (n == 0)
        t->eof = true;
    return n >= 0 ? n : (errno == EWOULDBLOCK ? -EAGAIN : -errno);
}

static int
bio_read_ex(BIO *b, char *out, size_t len, size_t *readbytes)
{
    struct scc_tio *t = BIO_get_data(b);
    size_t avail = t->cin_len - t->cin_off;

    BIO_clear_retry_flags(b);
    *readbytes = 0;
    if (avail == 0 && t->drained) {
        /* Level-triggered readiness brings us back when more arrives. */
        BIO_set_retry_read(b);
        return 0;
    }
    if (avail == 0) {
        ssize_t n = fill_cin(t);

        if (n == -EAGAIN)
            BIO_set_retry_read(b);
        else if (n < 0)
            t->sock_err = (int)n;
        if (n <= 0)
            return 0; /* without the retry flag: end of stream or error */
        avail = (size_t)n;
    }
    if (len > avail)
        len = avail;
    memcpy(out, t->cin + t->cin_off, len);
    t->cin_off += len;
    *readbytes = len;
    return 1;
}

static long
bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    struct scc_tio *t = BIO_get_data(b);

    (void)num, (void)ptr;
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_PENDING:
        return (long)(t->cin_len - t->cin_off);
    case BIO_CTRL_WPENDING:
        return (long)(t->cout.len - t->cout_off);
    default:
        return 0;
    }
}

static int
bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *
bio_method(void)
{
    static BIO_METHOD *m;

    if (m == NULL && (m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "scc-tio")) &&
        (!BIO_meth_set_write_ex(m, bio_write_ex) || !BIO_meth_set_read_ex(m, bio_read_ex) ||
         !BIO_meth_set_ctrl(m, bio_ctrl) || !BIO_meth_set_create(m, bio_create))) {
        BIO_meth_free(m);
        m = NULL;
    }
    return m;
}

/* ---- socket side of the buffers ---- */

/* Write out cout: 0 when empty, -EAGAIN when the socket is full, -errno. */
static int
flush_cout(struct scc_tio *t)
{
    while (t->cout_off < t->cout.len) {
        ssize_t n = write(t->fd, t->cout.data + t->cout_off, t->cout.len - t->cout_off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        t->cout_off += (size_t)n;
    }
    scc_buf_reset(&t->cout);
    t->cout_off = 0;
    return 0;
}

static bool
cout_pending(const struct scc_tio *t)
{
    return t->cout_off < t->cout.len;
}

static void
arm(struct scc_tio *t)
{
    bool rd = t->handshaking || !t->rd_paused;
    bool wr = t->want_wr || cout_pending(t);

    if (rd)
        event_add(t->rd, NULL);
    else
        event_del(t->rd);
    if (wr)
        event_add(t->wr, NULL);
    else
        event_del(t->wr);
}

static void hs_step(struct scc_tio *t);

static void
on_ready(evutil_socket_t fd, short what, void *arg)
{
    struct scc_tio *t = arg;
    short deliver = 0;

    (void)fd;
    if (what & EV_READ)
        t->drained = false;
    if (t->handshaking) {
        hs_step(t);
        return;
    }
    if ((what & EV_READ) && !t->rd_paused)
        deliver |= SCC_TIO_READ;
    if (what & EV_WRITE) {
        int rc = flush_cout(t);

        if (rc < 0 && rc != -EAGAIN) {
            t->sock_err = rc;
            deliver |= SCC_TIO_READ; /* the owner's next read reports it */
        } else if (rc == 0 && t->want_wr) {
            deliver |= SCC_TIO_WRITE;
        }
    }
    arm(t);
    if (deliver && t->cb)
        t->cb(t, deliver, t->arg);
}

int
scc_tio_new(struct event_base *base, int fd, struct scc_tio **out)
{
    struct scc_tio *t = scc_calloc(1, sizeof(*t));

    *out = NULL;
    if (t == NULL) {
        close(fd);
        return SCC_ENOMEM;
    }
    t->base = base;
    t->fd = fd;
    scc_buf_init(&t->cout, COUT_MAX);
    t->rd = event_new(base, fd, EV_READ | EV_PERSIST, on_ready, t);
    t->wr = event_new(base, fd, EV_WRITE | EV_PERSIST, on_ready, t);
    if (t->rd == NULL || t->wr == NULL) {
        scc_tio_free(t);
        return SCC_ENOMEM;
    }
    *out = t;
    return 0;
}

void
scc_tio_free(struct scc_tio *t)
{
    if (t == NULL)
        return;
    if (t->rd)
        event_free(t->rd);
    if (t->wr)
        event_free(t->wr);
    if (t->hs_timer)
        event_free(t->hs_timer);
    if (t->hs_done_ev)
        event_free(t->hs_done_ev);
    SSL_free(t->ssl);
    if (t->fd >= 0)
        close(t->fd);
    cin_fini(t);
    scc_buf_fini(&t->cout);
    scc_free(t);
}

void
scc_tio_set_cb(struct scc_tio *t, scc_tio_cb cb, void *arg)
{
    t->cb = cb;
    t->arg = arg;
    arm(t);
}

/* ---- handshake ---- */

static void
hs_finish(struct scc_tio *t, int rc)
{
    t->handshaking = false;
    t->hs_rc = rc;
    event_del(t->rd);
    event_del(t->wr);
    if (t->hs_timer)
        event_del(t->hs_timer);
    /* Report from a fresh event so the callback may free t. */
    event_active(t->hs_done_ev, 0, 0);
}

static void
hs_done(evutil_socket_t fd, short what, void *arg)
{
    struct scc_tio *t = arg;

    (void)fd, (void)what;
    if (t->hs_rc == 0)
        arm(t);
    t->hs_cb(t, t->hs_rc, t->hs_arg);
}

static void
hs_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct scc_tio *t = arg;

    (void)fd, (void)what;
    if (t->handshaking) {
        snprintf(t->tls_err, sizeof(t->tls_err), "handshake not finished in time");
        hs_finish(t, SCC_ETIMEOUT);
    }
}

static void
hs_fail(struct scc_tio *t, int rc)
{
    if (rc == SCC_ECLOSED)
        snprintf(t->tls_err, sizeof(t->tls_err), "peer closed the connection during handshake");
    else if (rc == SCC_ETLS)
        scc_tls_errors(t->tls_err, sizeof(t->tls_err));
    else
        snprintf(t->tls_err, sizeof(t->tls_err), "%s", scc_strerror(rc));
    hs_finish(t, rc);
}

static void
hs_step(struct scc_tio *t)
{
    for (;;) {
        int r, err, frc;

        ERR_clear_error();
        r = SSL_do_handshake(t->ssl);
        err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(t->ssl, r);
        /* Our records go out whatever happened: a failed handshake still
         * owes the peer its alert. */
        frc = flush_cout(t);
        if (frc < 0 && frc != -EAGAIN) {
            hs_fail(t, frc);
            return;
        }
        if (err == SSL_ERROR_NONE) {
            hs_finish(t, 0);
            return;
        }
        if (err == SSL_ERROR_SYSCALL || err == SSL_ERROR_ZERO_RETURN) {
            hs_fail(t, t->sock_err ? t->sock_err : SCC_ECLOSED);
            return;
        }
        if (err == SSL_ERROR_WANT_READ) {
            if (t->eof || t->sock_err) {
                hs_fail(t, t->sock_err ? t->sock_err : SCC_ECLOSED);
                return;
            }
        } else if (err != SSL_ERROR_WANT_WRITE) {
            hs_fail(t, SCC_ETLS);
            return;
        }
        event_add(t->rd, NULL);
        if (cout_pending(t))
            event_add(t->wr, NULL);
        else
            event_del(t->wr);
        return;
    }
}

int
scc_tio_start_tls(struct scc_tio *t, SSL *ssl, bool server, uint32_t timeout_ms, scc_tio_hs_cb done,
                  void *arg)
{
    struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};
    BIO_METHOD *m = bio_method();
    BIO *bio;

    if (t->ssl) {
        SSL_free(ssl);
        return SCC_EINVAL;
    }
    t->ssl = ssl;
    if (m == NULL || (bio = BIO_new(m)) == NULL)
        return SCC_ENOMEM;
    BIO_set_data(bio, t);
    SSL_set_bio(ssl, bio, bio); /* ssl owns the one BIO, both ways */
    if (server)
        SSL_set_accept_state(ssl);
    else
        SSL_set_connect_state(ssl);
    t->server = server;
    t->hs_cb = done;
    t->hs_arg = arg;
    t->hs_timer = evtimer_new(t->base, hs_timeout, t);
    t->hs_done_ev = event_new(t->base, -1, 0, hs_done, t);
    if (t->hs_timer == NULL || t->hs_done_ev == NULL)
        return SCC_ENOMEM;
    t->handshaking = true;
    evtimer_add(t->hs_timer, &tv);
    /* Start from the loop rather than here, so done never runs inside
     * this call. */
    event_active(t->server ? t->rd : t->wr, t->server ? EV_READ : EV_WRITE, 0);
    return 0;
}

/* ---- data ---- */

/* SSL_get_error needs an empty error queue before the call it explains.
 * It is almost always empty already, and looking is much cheaper than
 * ERR_clear_error's sweep of every slot, once per 16 KiB record. */
static void
errq_empty(void)
{
    if (ERR_peek_error() != 0)
        ERR_clear_error();
}

static ssize_t
tls_error(struct scc_tio *t, int err)
{
    if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0))
        return t->sock_err ? t->sock_err : SCC_ECLOSED;
    scc_tls_errors(t->tls_err, sizeof(t->tls_err));
    return SCC_ETLS;
}

/* After OpenSSL produced records, push them out; a full socket arms the
 * write event (arm() sees cout pending). */
static int
push(struct scc_tio *t)
{
    int rc = flush_cout(t);

    if (rc == -EAGAIN) {
        arm(t);
        return 0;
    }
    return rc;
}

static ssize_t
tls_read(struct scc_tio *t, void *buf, size_t cap)
{
    int r, err, rc;

    errq_empty();
    if ((r = SSL_read(t->ssl, buf, (int)cap)) > 0) {
        /* Reading may have produced records too (key updates, tickets). */
        rc = push(t);
        return rc < 0 ? rc : r;
    }
    err = SSL_get_error(t->ssl, r);
    if (err == SSL_ERROR_WANT_READ)
        return t->sock_err ? t->sock_err : 0;
    if (err == SSL_ERROR_WANT_WRITE) {
        rc = push(t);
        return rc < 0 ? rc : 0;
    }
    return tls_error(t, err);
}

/*
 * With SSL_MODE_ENABLE_PARTIAL_WRITE each SSL_write returns after one
 * record; keep going until the buffer is in.  cout is written out only
 * when it fills or the caller says scc_tio_flush, so a burst framed in
 * several calls still becomes one write(2) of up to COUT_HIGH.
 */
static ssize_t
tls_write(struct scc_tio *t, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    size_t done = 0;
    int rc;

    while (done < len) {
        int r, err;

        errq_empty();
        if ((r = SSL_write(t->ssl, p + done, (int)(len - done))) > 0) {
            done += (size_t)r;
            continue;
        }
        err = SSL_get_error(t->ssl, r);
        if (err != SSL_ERROR_WANT_WRITE)
            return done ? (ssize_t)done : tls_error(t, err);
        /* cout is full: drain it; if the socket took everything, OpenSSL
         * can go on at once, else wait for room. */
        rc = flush_cout(t);
        if (rc == -EAGAIN) {
            arm(t);
            return (ssize_t)done;
        }
        if (rc < 0)
            return done ? (ssize_t)done : rc;
    }
    return (ssize_t)done;
}

int
scc_tio_flush(struct scc_tio *t)
{
    return t->ssl ? push(t) : 0;
}

ssize_t
scc_tio_read(struct scc_tio *t, void *buf, size_t cap)
{
    ssize_t n;

    if (cap > INT32_MAX)
        cap = INT32_MAX;
    if (t->ssl)
        return tls_read(t, buf, cap);
    do {
        n = read(t->fd, buf, cap);
    } while (n < 0 && errno == EINTR);
    if (n > 0)
        return n;
    if (n == 0)
        return SCC_ECLOSED;
    return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
}

ssize_t
scc_tio_write(struct scc_tio *t, const void *buf, size_t len)
{
    ssize_t n;

    if (len > INT32_MAX)
        len = INT32_MAX;
    if (t->ssl)
        return tls_write(t, buf, len);
    do {
        n = write(t->fd, buf, len);
    } while (n < 0 && errno == EINTR);
    if (n >= 0)
        return n;
    return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
}

void
scc_tio_want_write(struct scc_tio *t, bool on)
{
    if (t->want_wr == on)
        return;
    t->want_wr = on;
    if (!t->handshaking)
        arm(t);
}

void
scc_tio_pause_read(struct scc_tio *t, bool paused)
{
    if (t->rd_paused == paused)
        return;
    t->rd_paused = paused;
    if (!t->handshaking)
        arm(t);
}

void
scc_tio_read_again(struct scc_tio *t)
{
    if (!t->handshaking && !t->rd_paused)
        event_active(t->rd, EV_READ, 0);
}

void
scc_tio_trim(struct scc_tio *t)
{
    if (t->cin_len == t->cin_off) {
        cin_fini(t);
        t->cin_want = CIN_MIN;
    }
    if (t->cout.len == t->cout_off) {
        scc_buf_fini(&t->cout);
        t->cout_off = 0;
    }
    /* OpenSSL's record buffers; it frees nothing while a record is half
     * read or written, and allocates them again when needed. */
    if (t->ssl && !t->handshaking)
        (void)SSL_free_buffers(t->ssl);
}

void
scc_tio_close_notify(struct scc_tio *t)
{
    if (t->ssl && !t->handshaking && SSL_is_init_finished(t->ssl)) {
        /* One attempt; a peer that never reads it is not our problem. */
        (void)SSL_shutdown(t->ssl);
        (void)flush_cout(t);
        ERR_clear_error();
    }
}

int
scc_tio_fd(const struct scc_tio *t)
{
    return t->fd;
}

SSL *
scc_tio_ssl(const struct scc_tio *t)
{
    return t->ssl;
}

const char *
scc_tio_tls_error(const struct scc_tio *t)
{
    return t->tls_err;
}
