/*
 * agent_connect.c - CONNECT host:port: a TCP stream to a service on the
 * node (the driver UI on 127.0.0.1:4040, say), through the tunnel.
 *
 * Only addresses in --allow-connect (loopback by default) may be reached:
 * the tunnel must not turn a node into a pivot into the customer's network.
 * Names other than "localhost" are refused rather than resolved, so the
 * check is on the address actually dialled.
 */
#include "agent.h"
#include "agent_serve.h"
#include "common/err.h"
#include "common/mem.h"
#include "common/parse.h"
#include "tunnel/bridge.h"
#include "tunnel/h2body.h"
#include "tunnel/sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct dial {
    struct agent *a;
    struct scc_h2_stream *s;
    char target[300];
    int fd;
    struct event *ev;
    struct evbuffer *early; /* DATA that came before we answered */
};

static bool
prefix_match(const uint8_t *addr, const uint8_t *net, unsigned bits)
{
    unsigned full = bits / 8, rest = bits % 8;

    if (memcmp(addr, net, full) != 0)
        return false;
    return rest == 0 || ((addr[full] ^ net[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static bool
cidr_covers(const char *cidr, const struct sockaddr_storage *ss)
{
    char one[64], *slash;
    uint8_t net[16];
    uint64_t bits;
    int fam;
    const uint8_t *addr = ss->ss_family == AF_INET
                                  ? (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr
                                  : (const uint8_t *)&((const struct sockaddr_in6 *)ss)->sin6_addr;

    snprintf(one, sizeof(one), "%s", cidr);
    if ((slash = strchr(one, '/')) == NULL)
        return false;
    *slash = '\0';
    fam = strchr(one, ':') ? AF_INET6 : AF_INET;
    if (fam != ss->ss_family || inet_pton(fam, one, net) != 1 ||
        scc_parse_u64(slash + 1, 0, fam == AF_INET ? 32 : 128, &bits) < 0)
        return false;
    return prefix_match(addr, net, (unsigned)bits);
}

/* Is the address in ss covered by one of the comma-separated CIDRs? */
static bool
allowed(const char *cidrs, const struct sockaddr_storage *ss)
{
    char item[64];

    for (const char *p = cidrs; scc_list_next(&p, item, sizeof(item));) {
        if (cidr_covers(item, ss))
            return true;
    }
    return false;
}

static void
dial_free(struct dial *d)
{
    if (d->ev)
        event_free(d->ev);
    if (d->early)
        evbuffer_free(d->early);
    if (d->fd >= 0)
        close(d->fd);
    scc_free(d);
}

static void
dial_fail(struct dial *d, int status, const char *code, int rc)
{
    struct scc_h2_stream *s = d->s;

    scc_h2_stream_set_cbs(s, NULL, NULL);
    scc_log_info(&d->a->log, "stream=%d CONNECT %s failed: %s", scc_h2_stream_id(s), d->target,
                 scc_strerror(rc));
    scc_h2_reply_error(s, status, code, "%s: %s", d->target, scc_strerror(rc));
    dial_free(d);
}

static void
dial_done(struct dial *d)
{
    struct scc_bridge *b = NULL;
    size_t n = evbuffer_get_length(d->early);
    int fd = d->fd;

    d->fd = -1;
    (void)scc_sock_tune(fd, NULL);
    scc_h2_stream_set_cbs(d->s, NULL, NULL);
    if (scc_h2_respond(d->s, 200, NULL, 0, false) < 0) {
        close(fd);
        scc_h2_stream_reset(d->s, 2);
    } else if (scc_bridge_new(d->a->base, fd, d->s, false, NULL, NULL, &b) < 0) {
        scc_h2_stream_reset(d->s, 2); /* scc_bridge_new closed fd */
    } else if (n > 0) {
        scc_bridge_feed(b, evbuffer_pullup(d->early, (ev_ssize_t)n), n);
    }
    dial_free(d);
}

static void
on_connected(evutil_socket_t fd, short what, void *arg)
{
    struct dial *d = arg;
    int rc = (what & EV_TIMEOUT) ? SCC_ETIMEOUT : scc_sock_error(fd);

    if (rc < 0)
        dial_fail(d, rc == SCC_ETIMEOUT ? 504 : 502, "ConnectFailed", rc);
    else
        dial_done(d);
}

static void
on_early_data(struct scc_h2_stream *s, const uint8_t *data, size_t len, void *arg)
{
    struct dial *d = arg;

    (void)s;
    /* Not credited yet: the bridge credits it once the socket takes it. */
    if (evbuffer_add(d->early, data, len) != 0)
        scc_h2_stream_reset(s, 2);
}

static void
on_close_while_dialing(struct scc_h2_stream *s, uint32_t code, void *arg)
{
    (void)s, (void)code;
    dial_free(arg);
}

static int
target_addr(const char *authority, char *host, size_t cap, struct sockaddr_storage *ss,
            socklen_t *len)
{
    uint16_t port;
    int rc;

    if ((rc = scc_parse_hostport(authority, host, cap, &port, false)) < 0)
        return rc;
    if (strcmp(host, "localhost") == 0)
        return scc_sock_resolve_numeric("127.0.0.1", port, ss, len);
    return scc_sock_resolve_numeric(host, port, ss, len);
}

void
agent_connect_start(struct agent *a, struct scc_h2_stream *s)
{
    static const struct scc_h2_stream_cbs cbs = {.on_data = on_early_data,
                                                 .on_close = on_close_while_dialing};
    const char *authority = scc_h2_stream_head(s)->authority;
    uint32_t ms = a->cfg->connect_timeout_ms;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    struct sockaddr_storage ss;
    struct dial *d = NULL;
    char host[256];
    socklen_t len;
    int rc;

    if (authority == NULL || target_addr(authority, host, sizeof(host), &ss, &len) < 0) {
        scc_h2_reply_error(s, 400, "InvalidTarget",
                           "CONNECT needs a numeric address or localhost with a port, got '%.100s'",
                           authority ? authority : "");
        return;
    }
    if (!allowed(a->cfg->allow_connect, &ss)) {
        scc_h2_reply_error(s, 403, "TargetNotAllowed",
                           "%.100s is outside the node's allowed CONNECT ranges (%.100s)",
                           authority, a->cfg->allow_connect);
        return;
    }
    if ((d = scc_calloc(1, sizeof(*d))) == NULL || (d->early = evbuffer_new()) == NULL) {
        scc_free(d);
        scc_h2_stream_reset(s, 2);
        return;
    }
    d->a = a;
    d->s = s;
    d->fd = -1;
    snprintf(d->target, sizeof(d->target), "%s", authority);
    if ((rc = scc_sock_connect((struct sockaddr *)&ss, len, &d->fd)) < 0) {
        dial_fail(d, 502, "ConnectFailed", rc);
        return;
    }
    /* A node-local service has usually accepted inside connect(2): answer
     * now, so the 200 leaves with this batch rather than a loop pass later. */
    if (scc_sock_connect_settled(d->fd)) {
        on_connected(d->fd, EV_WRITE, d);
        return;
    }
    d->ev = event_new(a->base, d->fd, EV_WRITE, on_connected, d);
    if (d->ev == NULL || event_add(d->ev, &tv) != 0) {
        dial_fail(d, 500, "InternalError", SCC_ENOMEM);
        return;
    }
    scc_h2_stream_set_cbs(s, &cbs, d);
}
