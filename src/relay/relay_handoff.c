/*
 * relay_handoff.c - a local client hands the relay one of its accepted
 * TCP connections, to be spliced straight into a node's CONNECT stream.
 *
 * This is how "sccctl forward" carries bytes: rather than relaying them
 * through its own process and over the admin socket, sccctl passes the
 * accepted socket to sccd (SCM_RIGHTS over the owner-only admin socket),
 * and the relay bridges that socket with the tunnel itself.  One process
 * hop fewer for every byte.
 *
 * Wire: on a fresh admin-socket connection, one message
 *   "SCCFWD1 {\"node\":\"ws/cluster/node\",\"target\":\"host:port\"}\n" + fd
 * and the relay answers one line: the node's HTTP status for the CONNECT
 * ("200"), or an error status with a reason, then closes.
 */
#include "relay_int.h"

#include "common/err.h"
#include "common/json.h"
#include "common/mem.h"
#include "tunnel/bridge.h"

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HANDOFF_MAX 2048

struct handoff {
    struct relay *r;
    int ufd; /* the requester's admin connection, until answered */
};

static void
answer(int ufd, int status, const char *why)
{
    char line[400];
    int n = snprintf(line, sizeof(line), "%d %s\n", status, why);

    /* A short local line into an empty socket buffer; if the requester
     * is gone there is nobody to tell. */
    if (n > 0)
        (void)!write(ufd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
    close(ufd);
}

static void
on_head(void *arg, int status)
{
    struct handoff *h = arg;

    if (h->ufd >= 0) {
        answer(h->ufd, status ? status : 502, status == 200 ? "connected" : "node refused");
        h->ufd = -1;
    }
}

static void
on_done(void *arg, uint64_t up, uint64_t down, uint32_t code)
{
    struct handoff *h = arg;

    (void)up, (void)down, (void)code;
    if (h->ufd >= 0)
        answer(h->ufd, 502, "stream closed");
    h->r->metrics->streams_active--;
    scc_free(h);
}

static int
parse(const char *buf, size_t n, char *node, size_t ncap, char *target, size_t tcap)
{
    const char *nv = NULL, *tv = NULL;
    json_t *o = NULL;
    int rc = SCC_EINVAL;

    if (n < 9 || memcmp(buf, "SCCFWD1 ", 8) != 0 || buf[n - 1] != '\n')
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

static int
splice_to(struct relay *r, struct relay_tunnel *t, const char *target, int cfd, int ufd)
{
    struct scc_h2_stream *s = NULL;
    struct scc_bridge *b = NULL;
    struct handoff *h = scc_calloc(1, sizeof(*h));
    int rc;

    /* cfd is ours from here on, whatever happens. */
    if (h == NULL) {
        close(cfd);
        return SCC_ENOMEM;
    }
    if ((rc = scc_h2_request(scc_h2io_session(t->io), "CONNECT", NULL, target, NULL, 0, false, NULL,
                             NULL, &s)) < 0) {
        close(cfd);
        scc_free(h);
        return rc;
    }
    h->r = r;
    h->ufd = ufd;
    (void)scc_sock_tune(cfd, NULL);
    if ((rc = scc_bridge_new(r->base, cfd, s, true, on_done, h, &b)) < 0) {
        scc_h2_stream_reset(s, NGHTTP2_INTERNAL_ERROR);
        scc_free(h);
        return rc; /* scc_bridge_new closed cfd */
    }
    scc_bridge_on_head(b, on_head);
    r->metrics->streams_active++;
    r->metrics->streams_total++;
    return 0;
}

void
relay_handoff(struct relay *r, int ufd)
{
    char buf[HANDOFF_MAX], node[256], target[300];
    struct relay_tunnel *t;
    ssize_t n;
    int cfd = -1, rc;

    n = scc_sock_recv_fd(ufd, buf, sizeof(buf), &cfd);
    if (n <= 0 || cfd < 0 ||
        parse(buf, (size_t)n, node, sizeof(node), target, sizeof(target)) < 0) {
        if (cfd >= 0)
            close(cfd);
        answer(ufd, 400, "malformed handoff");
        return;
    }
    if ((t = relay_find(r, node)) == NULL) {
        close(cfd);
        answer(ufd, 503, "node not connected");
        return;
    }
    if ((rc = splice_to(r, t, target, cfd, ufd)) < 0)
        answer(ufd, 503, scc_strerror(rc));
}
