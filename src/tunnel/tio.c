#include "tio.h"

#include "common/err.h"
#include "common/mem.h"
#include "common/tls.h"

#include <errno.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
    bool rd_wants_write; /* SSL_read said WANT_WRITE */
    bool wr_wants_read;  /* SSL_write said WANT_READ */
    char tls_err[256];
};

static void
arm(struct scc_tio *t)
{
    bool rd = t->handshaking || !t->rd_paused || t->wr_wants_read;
    bool wr = t->want_wr || t->rd_wants_write;

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
    if (t->handshaking) {
        hs_step(t);
        return;
    }
    if (what & EV_READ) {
        if (!t->rd_paused)
            deliver |= SCC_TIO_READ;
        if (t->wr_wants_read) {
            t->wr_wants_read = false;
            deliver |= SCC_TIO_WRITE;
        }
    }
    if (what & EV_WRITE) {
        if (t->rd_wants_write) {
            t->rd_wants_write = false;
            deliver |= SCC_TIO_READ;
        }
        if (t->want_wr)
            deliver |= SCC_TIO_WRITE;
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
hs_step(struct scc_tio *t)
{
    int r, err;

    ERR_clear_error();
    r = t->server ? SSL_accept(t->ssl) : SSL_connect(t->ssl);
    if (r == 1) {
        hs_finish(t, 0);
        return;
    }
    err = SSL_get_error(t->ssl, r);
    if (err == SSL_ERROR_WANT_READ) {
        event_add(t->rd, NULL);
        event_del(t->wr);
        return;
    }
    if (err == SSL_ERROR_WANT_WRITE) {
        event_add(t->wr, NULL);
        return;
    }
    if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        snprintf(t->tls_err, sizeof(t->tls_err), "peer closed the connection during handshake");
        hs_finish(t, SCC_ECLOSED);
        return;
    }
    scc_tls_errors(t->tls_err, sizeof(t->tls_err));
    hs_finish(t, SCC_ETLS);
}

int
scc_tio_start_tls(struct scc_tio *t, SSL *ssl, bool server, uint32_t timeout_ms, scc_tio_hs_cb done,
                  void *arg)
{
    struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};

    if (t->ssl) {
        SSL_free(ssl);
        return SCC_EINVAL;
    }
    t->ssl = ssl;
    if (SSL_set_fd(ssl, t->fd) != 1)
        return SCC_ETLS;
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

static ssize_t
tls_result(struct scc_tio *t, int r, bool reading)
{
    int err = SSL_get_error(t->ssl, r);

    switch (err) {
    case SSL_ERROR_WANT_READ:
        if (!reading) {
            t->wr_wants_read = true;
            arm(t);
        }
        return 0;
    case SSL_ERROR_WANT_WRITE:
        if (reading) {
            t->rd_wants_write = true;
            arm(t);
        }
        return 0;
    case SSL_ERROR_ZERO_RETURN:
        return SCC_ECLOSED;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0)
            return errno ? -errno : SCC_ECLOSED;
        break;
    default:
        break;
    }
    scc_tls_errors(t->tls_err, sizeof(t->tls_err));
    return SCC_ETLS;
}

ssize_t
scc_tio_read(struct scc_tio *t, void *buf, size_t cap)
{
    ssize_t n;

    if (cap > INT32_MAX)
        cap = INT32_MAX;
    if (t->ssl) {
        int r;

        ERR_clear_error();
        errno = 0;
        if ((r = SSL_read(t->ssl, buf, (int)cap)) > 0)
            return r;
        return tls_result(t, r, true);
    }
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
    if (t->ssl) {
        int r;

        ERR_clear_error();
        errno = 0;
        if ((r = SSL_write(t->ssl, buf, (int)len)) > 0)
            return r;
        return tls_result(t, r, false);
    }
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
scc_tio_close_notify(struct scc_tio *t)
{
    if (t->ssl && !t->handshaking && SSL_is_init_finished(t->ssl)) {
        /* One attempt; a peer that never reads it is not our problem. */
        (void)SSL_shutdown(t->ssl);
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
