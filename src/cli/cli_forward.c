/*
 * sccctl forward NODE LOCALPORT:HOST:PORT [--bind ADDR]
 *
 * Listens on ADDR:LOCALPORT (127.0.0.1 by default) and carries each
 * connection through its own CONNECT stream to HOST:PORT as seen from the
 * node, e.g. a driver UI listening only on the node's loopback.
 */
#include "cli.h"

#include "common/err.h"
#include "common/parse.h"
#include "tunnel/bridge.h"
#include "tunnel/sock.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct fwd {
    struct cli *c;
    char node[256];
    char target[300];
    int lfd;
    unsigned active;
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
    fprintf(stderr, "usage: sccctl forward NODE LOCALPORT:HOST:PORT [--bind ADDR]\n");
    return CLI_USAGE;
}

int
cli_cmd_forward(struct cli *c, int argc, char **argv)
{
    struct fwd f;
    const char *bind_addr = "127.0.0.1";
    char listen[300], host[256], bound[SCC_ADDR_STR_MAX];
    struct event *acc, *sig;
    uint16_t tport;
    uint64_t lport;
    const char *colon;

    if (argc == 5 && strcmp(argv[3], "--bind") == 0)
        bind_addr = argv[4];
    else if (argc != 3)
        return fwd_usage();
    memset(&f, 0, sizeof(f));
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
    acc = event_new(c->base, f.lfd, EV_READ | EV_PERSIST, on_accept, &f);
    sig = evsignal_new(c->base, SIGINT, on_sigint, c->base);
    if (acc == NULL || sig == NULL || event_add(acc, NULL) || event_add(sig, NULL))
        return CLI_ERR;
    fprintf(stderr, "sccctl: forwarding %s -> %s on %s (Ctrl-C to stop)\n", bound, f.target,
            f.node);
    event_base_dispatch(c->base);
    event_free(acc);
    event_free(sig);
    close(f.lfd);
    return CLI_OK;
}
