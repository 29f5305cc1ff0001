/*
 * relay_handoff.c - "sccctl forward" hands the relay its listening socket.
 *
 * Rather than relaying bytes through its own process and over the admin
 * socket, sccctl passes the listener it bound (SCM_RIGHTS over the
 * owner-only admin socket) and the relay accepts on it directly, splicing
 * each connection into a CONNECT stream of the node's tunnel.  No process
 * hop and no extra round trip per connection or per byte.
 *
 * Wire: on a fresh admin-socket connection, one message
 *   "SCCLSN1 {\"node\":\"ws/cluster/node\",\"target\":\"host:port\"}\n" + listener fd
 * The relay answers "200 forwarding" (or an error status and reason) and
 * then one line per connection that fails ("503 node not connected").
 * When sccctl closes the admin connection, the relay stops accepting.
 */
#include "relay_int.h"

#include "common/err.h"
#include "common/json.h"
#include "common/mem.h"
#include "tunnel/bridge.h"

#include <errno.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HANDOFF_MAX 2048

struct relay_forwarder {
    struct relay *r;
    struct relay_forwarder *prev, *next; /* r->forwarders, while accepting */
    int ufd, lfd;                        /* sccctl's admin connection; the passed listener */
    struct event *uev, *lev;
    char node[3 * SCC_IDENT_SEG_MAX + 3];
    char target[300];
    unsigned refs; /* 1 + open connections */
};

struct fconn {
    struct relay_forwarder *f;
};

static void
say(int ufd, int status, const char *why)
{
    char line[400];
    int n = snprintf(line, sizeof(line), "%d %s\n", status, why);

    /* A short local line; if the requester is gone there is nobody to tell. */
    if (ufd >= 0 && n > 0)
        (void)!send(ufd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1,
                    MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void
unref(struct relay_forwarder *f)
{
    if (--f->refs > 0)
        return;
    scc_free(f);
}

static void
stop(struct relay_forwarder *f)
{
    if (f->uev == NULL)
        return;
    if (f->prev)
        f->prev->next = f->next;
    else
        f->r->forwarders = f->next;
    if (f->next)
        f->next->prev = f->prev;
    event_free(f->uev);
    event_free(f->lev);
    f->uev = f->lev = NULL;
    close(f->ufd);
    close(f->lfd);
    f->ufd = f->lfd = -1;
    unref(f);
}

static void
on_head(void *arg, int status)
{
    struct fconn *c = arg;

    if (status != 200 && c->f->ufd >= 0) {
        char why[128];

        snprintf(why, sizeof(why), "the node refused the connection to %.40s", c->f->target);
        say(c->f->ufd, status ? status : 502, why);
    }
}

static void
on_done(void *arg, uint64_t up, uint64_t down, uint32_t code)
{
    struct fconn *c = arg;

    (void)up, (void)down, (void)code;
    c->f->r->metrics->streams_active--;
    unref(c->f);
    scc_free(c);
}

/* One accepted connection into a new CONNECT stream.  Takes cfd. */
static void
splice_one(struct relay_forwarder *f, int cfd)
{
    struct relay_tunnel *t = relay_find(f->r, f->node);
    struct scc_h2_stream *s = NULL;
    struct scc_bridge *b = NULL;
    struct fconn *c = NULL;

    if (t == NULL) {
        close(cfd);
        say(f->ufd, 503, "node not connected");
        return;
    }
    if ((c = scc_calloc(1, sizeof(*c))) == NULL ||
        scc_h2_request(scc_h2io_session(t->io), "CONNECT", NULL, f->target, NULL, 0, false, NULL,
                       NULL, &s) < 0) {
        close(cfd);
        scc_free(c);
        say(f->ufd, 503, "cannot open a stream to the node");
        return;
    }
    c->f = f;
    (void)scc_sock_tune(cfd, NULL);
    /* Forward the client's first bytes with the CONNECT, not after its
     * answer: the node holds them until its dial completes. */
    if (scc_bridge_new(f->r->base, cfd, s, false, on_done, c, &b) < 0) {
        scc_h2_stream_reset(s, NGHTTP2_INTERNAL_ERROR);
        scc_free(c);
        return;
    }
    scc_bridge_on_head(b, on_head);
    scc_bridge_prefill(b);
    f->refs++;
    f->r->metrics->streams_active++;
    f->r->metrics->streams_total++;
}

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
    struct relay_forwarder *f = arg;

    (void)what;
    for (int i = 0; i < 64; i++) {
        int cfd;

        if (scc_sock_accept((int)lfd, &cfd, NULL, 0) < 0)
            return;
        splice_one(f, cfd);
    }
}

static void
on_requester(evutil_socket_t ufd, short what, void *arg)
{
    struct relay_forwarder *f = arg;
    char buf[64];
    ssize_t n = recv((int)ufd, buf, sizeof(buf), MSG_DONTWAIT);

    (void)what;
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        scc_log_info(&f->r->log, "forward of %s to %s ended", f->node, f->target);
        stop(f); /* sccctl went away: stop accepting for it */
    }
}

static int
parse(const char *buf, size_t n, char *node, size_t ncap, char *target, size_t tcap)
{
    const char *nv = NULL, *tv = NULL;
    json_t *o = NULL;
    int rc = SCC_EINVAL;

    if (n < 9 || memcmp(buf, "SCCLSN1 ", 8) != 0 || buf[n - 1] != '\n')
        return SCC_EINVAL;
    if (scc_json_parse_object(buf + 8, n - 9, HANDOFF_MAX, &o, NULL, 0) == 0 &&
        scc_json_get_str(o, "node", &nv) == 0 && scc_json_get_str(o, "target", &tv) == 0 &&
        strlen(nv) < ncap && strlen(tv) < tcap) {
        memcpy(node, nv, strlen(nv) + 1);
        memcpy(target, tv, strlen(tv) + 1);
        rc = 0;
    }
    json_decref(o);
    return rc;
}

static bool
is_listener(int fd)
{
    int on = 0;
    socklen_t len = sizeof(on);

    return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on;
}

void
relay_handoff(struct relay *r, int ufd)
{
    char buf[HANDOFF_MAX];
    struct relay_forwarder *f = NULL;
    ssize_t n;
    int lfd = -1;

    n = scc_sock_recv_fd(ufd, buf, sizeof(buf), &lfd);
    if (n <= 0 || lfd < 0 || !is_listener(lfd) || (f = scc_calloc(1, sizeof(*f))) == NULL ||
        parse(buf, (size_t)n, f->node, sizeof(f->node), f->target, sizeof(f->target)) < 0) {
        say(ufd, 400, "malformed forward request");
        goto fail;
    }
    f->r = r;
    f->ufd = ufd;
    f->lfd = lfd;
    f->refs = 1;
    f->uev = event_new(r->base, ufd, EV_READ | EV_PERSIST, on_requester, f);
    f->lev = event_new(r->base, lfd, EV_READ | EV_PERSIST, on_accept, f);
    if (f->uev == NULL || f->lev == NULL || event_add(f->uev, NULL) || event_add(f->lev, NULL)) {
        if (f->uev)
            event_free(f->uev);
        if (f->lev)
            event_free(f->lev);
        say(ufd, 503, "out of memory");
        goto fail;
    }
    f->next = r->forwarders;
    if (f->next)
        f->next->prev = f;
    r->forwarders = f;
    scc_log_info(&r->log, "forwarding to %s on %s for a local client", f->target, f->node);
    say(ufd, 200, "forwarding");
    return;
fail:
    scc_free(f);
    if (lfd >= 0)
        close(lfd);
    close(ufd);
}

void
relay_handoff_free_all(struct relay *r)
{
    while (r->forwarders)
        stop(r->forwarders); /* open connections keep their forwarder until done */
}
