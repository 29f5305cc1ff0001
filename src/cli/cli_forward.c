/*
 * sccctl forward NODE LOCALPORT:HOST:PORT [--bind ADDR]
 *
 * Listens on ADDR:LOCALPORT (127.0.0.1 by default) and carries each
 * connection through its own CONNECT stream to HOST:PORT as seen from the
 * node, e.g. a driver UI listening only on the node's loopback.
 *
 * sccctl does not copy the bytes itself: it hands each accepted socket to
 * sccd over the admin socket (relay_handoff.c), and the relay splices it
 * into the tunnel.  --via-stream keeps the bytes in sccctl instead (an
 * HTTP/2 CONNECT stream over the admin socket), as a client on another
 * host would have to.
 */
#include "cli.h"

#include "common/err.h"
#include "common/parse.h"
#include "tunnel/bridge.h"
#include "tunnel/sock.h"

#include <errno.h>
#include <event2/event.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fwd {
    struct cli *c;
    char node[256];
    char target[300];
    int lfd;
    unsigned active;
    bool via_stream;
    int status;
    char *save; /* strtok_r state across reads */
};

static void
on_bridge_done(void *arg, uint64_t up, uint64_t down, uint32_t code)
{
    struct fwd *f = arg;

    f->active--;
    if (code != 0)
        fprintf(stderr,
                "sccctl: connection to %s via %s ended with error %u (after %llu bytes "
                "up, %llu down)\n",
                f->target, f->node, code, (unsigned long long)up, (unsigned long long)down);
}

/* The relay's lines: "200 forwarding" first, then one per failed connection. */
static void
on_relay_line(evutil_socket_t ufd, short what, void *arg)
{
    struct fwd *f = arg;
    char buf[1024];
    ssize_t n = read(ufd, buf, sizeof(buf) - 1);

    (void)what;
    if (n <= 0) {
        fprintf(stderr, "sccctl: sccd closed the forward (restarted?); stopping\n");
        f->status = CLI_UNAVAILABLE;
        event_base_loopbreak(f->c->base);
        return;
    }
    buf[n] = '\0';
    for (char *line = strtok_r(buf, "\n", &f->save); line; line = strtok_r(NULL, "\n", &f->save)) {
        if (strncmp(line, "200", 3) != 0)
            fprintf(stderr, "sccctl: connection to %s via %s: %s\n", f->target, f->node, line);
    }
}

/* Hand the listener to sccd; afterwards sccd accepts on it directly. */
static int
handoff(struct fwd *f)
{
    json_t *o = json_pack("{s:s, s:s}", "node", f->node, "target", f->target);
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL, msg[800], line[256];
    int ufd = -1, n = -1;
    ssize_t got;

    if (body)
        n = snprintf(msg, sizeof(msg), "SCCLSN1 %s\n", body);
    free(body);
    json_decref(o);
    if (n < 0 || (size_t)n >= sizeof(msg) || scc_sock_connect_unix(f->c->admin_socket, &ufd) < 0 ||
        scc_sock_send_fd(ufd, msg, (size_t)n, f->lfd) < 0) {
        fprintf(stderr, "sccctl: cannot hand the listener to sccd at %s: %s\n", f->c->admin_socket,
                strerror(errno));
        if (ufd >= 0)
            close(ufd);
        return -1;
    }
    /* The first answer is quick and local: wait for it here (the socket
     * is non-blocking). */
    struct pollfd pfd = {.fd = ufd, .events = POLLIN};
    got = poll(&pfd, 1, 5000) == 1 ? recv(ufd, line, sizeof(line) - 1, 0) : -1;
    if (got <= 0 || strncmp(line, "200", 3) != 0) {
        line[got > 0 ? got : 0] = '\0';
        fprintf(stderr, "sccctl: sccd refused the forward: %s\n", got > 0 ? line : "no answer");
        close(ufd);
        return -1;
    }
    return ufd;
}

static void
one(struct fwd *f, int fd)
{
    struct scc_h2_hdr hdrs[] = {{"scc-node", f->node}};
    struct scc_h2_stream *s = NULL;
    int rc;

    if (!cli_connected(f->c))
        cli_disconnect(f->c);
    if ((rc = cli_connect(f->c)) < 0 ||
        (rc = scc_h2_request(cli_session(f->c), "CONNECT", NULL, f->target, hdrs, 1, false, NULL,
                             NULL, &s)) < 0) {
        fprintf(stderr, "sccctl: cannot open a stream to %s: %s\n", f->node, scc_strerror(rc));
        close(fd);
        return;
    }
    (void)scc_sock_tune(fd, NULL);
    /* Read the local socket only once the node says it is connected. */
    if (scc_bridge_new(f->c->base, fd, s, true, on_bridge_done, f, NULL) == 0)
        f->active++;
    else
        scc_h2_stream_reset(s, 2);
}

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
    struct fwd *f = arg;

    (void)what;
    for (int i = 0; i < 32; i++) {
        int fd;

        if (scc_sock_accept(lfd, &fd, NULL, 0) < 0)
            return;
        one(f, fd);
    }
}

static void
on_sigint(evutil_socket_t sig, short what, void *arg)
{
    (void)sig, (void)what;
    event_base_loopbreak(arg);
}

static int
fwd_usage(void)
{
    fprintf(stderr,
            "usage: sccctl forward NODE LOCALPORT:HOST:PORT [--bind ADDR] [--via-stream]\n");
    return CLI_USAGE;
}

int
cli_cmd_forward(struct cli *c, int argc, char **argv)
{
    struct fwd f;
    const char *bind_addr = "127.0.0.1";
    char listen[300], host[256], bound[SCC_ADDR_STR_MAX];
    struct event *acc, *sig;
    int ufd = -1;
    uint16_t tport;
    uint64_t lport;
    const char *colon;

    memset(&f, 0, sizeof(f));
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--bind") == 0 && i + 1 < argc)
            bind_addr = argv[++i];
        else if (strcmp(argv[i], "--via-stream") == 0)
            f.via_stream = true;
        else
            return fwd_usage();
    }
    if (argc < 3)
        return fwd_usage();
    f.c = c;
    colon = strchr(argv[2], ':');
    if (colon == NULL || scc_parse_u64n(argv[2], (size_t)(colon - argv[2]), 0, 65535, &lport) < 0 ||
        scc_parse_hostport(colon + 1, host, sizeof(host), &tport, false) < 0)
        return fwd_usage();
    snprintf(f.target, sizeof(f.target), "%s", colon + 1);
    if (cli_resolve_node(c, argv[1], f.node, sizeof(f.node)) < 0)
        return CLI_NOT_FOUND;
    snprintf(listen, sizeof(listen), strchr(bind_addr, ':') ? "[%s]:%u" : "%s:%u", bind_addr,
             (unsigned)lport);
    if (scc_sock_listen(listen, 128, &f.lfd, bound, sizeof(bound)) < 0) {
        fprintf(stderr, "sccctl: cannot listen on %s: %s\n", listen, strerror(errno));
        return CLI_ERR;
    }
    if (f.via_stream) {
        acc = event_new(c->base, f.lfd, EV_READ | EV_PERSIST, on_accept, &f);
    } else {
        /* sccd accepts from now on; we only listen for its error lines. */
        if ((ufd = handoff(&f)) < 0) {
            close(f.lfd);
            return CLI_UNAVAILABLE;
        }
        acc = event_new(c->base, ufd, EV_READ | EV_PERSIST, on_relay_line, &f);
    }
    sig = evsignal_new(c->base, SIGINT, on_sigint, c->base);
    if (acc == NULL || sig == NULL || event_add(acc, NULL) || event_add(sig, NULL))
        return CLI_ERR;
    fprintf(stderr, "sccctl: forwarding %s -> %s on %s (Ctrl-C to stop)\n", bound, f.target,
            f.node);
    event_base_dispatch(c->base);
    event_free(acc);
    event_free(sig);
    close(f.lfd);
    if (ufd >= 0)
        close(ufd);
    return f.status;
}
