/*
 * sccctl exec NODE -- CMD [ARGS...]
 *
 * Starts a run on the node and streams its stdout and stderr here, then
 * exits with the command's exit code (128+N if a signal N ended it; 255
 * for sccctl's own failures).  The run has a client-chosen id, so starting
 * it again after a lost reply is harmless, and output is read by offset:
 * if the tunnel or sccd goes away, sccctl reconnects and resumes exactly
 * where it stopped, and the output arrives byte for byte.
 * Ctrl-C cancels the run (SIGTERM, then SIGKILL); a second Ctrl-C leaves.
 */
#include "cli.h"

#include "common/backoff.h"
#include "common/encode.h"
#include "common/err.h"
#include "common/time.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define RETRY_FOR_MS 120000

struct exec;

struct follow {
    struct exec *x;
    int which; /* 0 stdout, 1 stderr */
    int fd;
    uint64_t off;
    int status;
    bool open, done;
};

struct exec {
    struct cli *c;
    char node[256];
    char id[40];
    struct follow f[2];
    struct scc_backoff bo;
    uint64_t give_up_ms;
    struct event *retry_ev, *sigint_ev;
    int interrupts;
    bool failed;
};

static void follow_start(struct follow *f);

static int
write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void
f_on_head(struct scc_h2_stream *s, void *arg)
{
    ((struct follow *)arg)->status = scc_h2_stream_head(s)->status;
}

static void
f_on_data(struct scc_h2_stream *s, const uint8_t *data, size_t len, void *arg)
{
    struct follow *f = arg;

    scc_h2_stream_consume(s, len);
    if (f->status != 200)
        return; /* an error body; the status says enough */
    if (write_all(f->fd, data, len) < 0) {
        f->x->failed = true; /* our stdout is gone; stop */
        scc_h2_stream_reset(s, 8);
        return;
    }
    f->off += len;
}

static void
schedule_retry(struct exec *x)
{
    uint64_t delay = scc_backoff_next(&x->bo);
    struct timeval tv = {(time_t)(delay / 1000), (suseconds_t)(delay % 1000) * 1000};

    if (scc_time_mono_ms() > x->give_up_ms) {
        fprintf(stderr, "sccctl: lost the node for %us; giving up (run %s continues there)\n",
                RETRY_FOR_MS / 1000, x->id);
        x->failed = true;
        return;
    }
    evtimer_add(x->retry_ev, &tv);
}

static void
f_on_close(struct scc_h2_stream *s, uint32_t code, void *arg)
{
    struct follow *f = arg;

    (void)s;
    f->open = false;
    if (code == 0 && f->status == 200) {
        f->done = true; /* the run ended and we have every byte */
        return;
    }
    if (f->status == 404 || f->status == 400 || f->status == 416) {
        fprintf(stderr, "sccctl: reading output failed (HTTP %d)\n", f->status);
        f->x->failed = true;
        return;
    }
    schedule_retry(f->x); /* tunnel or sccd went away: resume from f->off */
}

static void
follow_start(struct follow *f)
{
    static const struct scc_h2_stream_cbs cbs = {
            .on_head = f_on_head, .on_data = f_on_data, .on_close = f_on_close};
    struct scc_h2_hdr hdrs[] = {{"scc-node", f->x->node}};
    struct scc_h2_stream *s = NULL;
    char path[512];

    if (f->done || f->open)
        return;
    snprintf(path, sizeof(path), "/v1/runs/%s/output?stream=%s&offset=%" PRIu64 "&follow=1",
             f->x->id, f->which ? "stderr" : "stdout", f->off);
    f->status = 0;
    if (cli_connect(f->x->c) < 0 ||
        scc_h2_request(cli_session(f->x->c), "GET", path, "sccd", hdrs, 1, true, &cbs, f, &s) < 0) {
        schedule_retry(f->x);
        return;
    }
    f->open = true;
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
    struct exec *x = arg;

    (void)fd, (void)what;
    if (!cli_connected(x->c))
        cli_disconnect(x->c); /* forget the dead connection; follow_start dials */
    for (int i = 0; i < 2; i++)
        follow_start(&x->f[i]);
}

static void
on_sigint(evutil_socket_t sig, short what, void *arg)
{
    struct exec *x = arg;
    char path[512];

    (void)sig, (void)what;
    if (++x->interrupts > 1) {
        x->failed = true;
        event_base_loopbreak(x->c->base);
        return;
    }
    fprintf(stderr, "sccctl: cancelling run %s (Ctrl-C again to leave it running)\n", x->id);
    snprintf(path, sizeof(path), "/v1/runs/%s/cancel", x->id);
    (void)cli_request(x->c, "POST", path, x->node, NULL, NULL, NULL);
}

static int
start_run(struct exec *x, int argc, char **argv)
{
    json_t *cmd = json_array(), *req, *body = NULL;
    int status;

    for (int i = 0; i < argc; i++)
        json_array_append_new(cmd, json_string(argv[i]));
    req = json_pack("{s:s, s:o}", "id", x->id, "command", cmd);
    for (int tries = 0;; tries++) {
        status = cli_call(x->c, "POST", "/v1/runs", x->node, req, &body);
        if (status == 200 || status == 201 || (status != 0 && status < 500) ||
            scc_time_mono_ms() > x->give_up_ms)
            break;
        if (tries == 0) { /* a node that does not answer: say so, once */
            (void)cli_print_error(status, body, "starting the run");
            fprintf(stderr, "sccctl: retrying for up to %us (Ctrl-C to stop)\n",
                    RETRY_FOR_MS / 1000);
        }
        json_decref(body);
        cli_disconnect(x->c);
        usleep((useconds_t)scc_backoff_next(&x->bo) * 1000);
    }
    json_decref(req);
    if (status != 200 && status != 201) {
        (void)cli_print_error(status, body, "starting the run");
        json_decref(body);
        return CLI_EXEC_FAILED;
    }
    json_decref(body);
    scc_backoff_reset(&x->bo);
    return 0;
}

static int
final_status(struct exec *x)
{
    char path[512];
    json_t *body = NULL;
    const char *state;
    int status, rc = CLI_EXEC_FAILED;

    snprintf(path, sizeof(path), "/v1/runs/%s", x->id);
    status = cli_call(x->c, "GET", path, x->node, NULL, &body);
    state = json_string_value(json_object_get(body, "state"));
    if (status != 200 || state == NULL)
        cli_print_error(status, body, "reading the run's status");
    else if (strcmp(state, "exited") == 0)
        rc = (int)json_integer_value(json_object_get(body, "exit_code"));
    else if (strcmp(state, "killed") == 0)
        rc = 128 + (int)json_integer_value(json_object_get(body, "signal"));
    json_decref(body);
    return rc;
}

static int
exec_usage(void)
{
    fprintf(stderr, "usage: sccctl exec NODE -- CMD [ARGS...]\n");
    return CLI_USAGE;
}

int
cli_cmd_exec(struct cli *c, int argc, char **argv)
{
    struct exec x;
    int first = 2, rc;

    if (argc < 3)
        return exec_usage();
    if (strcmp(argv[2], "--") == 0)
        first = 3;
    if (first >= argc)
        return exec_usage();
    memset(&x, 0, sizeof(x));
    x.c = c;
    scc_backoff_init(&x.bo, 200, 5000);
    x.give_up_ms = scc_time_mono_ms() + RETRY_FOR_MS;
    if (cli_resolve_node(c, argv[1], x.node, sizeof(x.node)) < 0)
        return CLI_EXEC_FAILED;
    (void)scc_rand_hex(12, x.id, sizeof(x.id));
    if ((rc = start_run(&x, argc - first, argv + first)) != 0)
        return rc;
    /* From here on stderr carries the command's bytes: retries are silent
     * until sccctl gives up. */
    c->quiet_connect = true;
    x.retry_ev = evtimer_new(c->base, on_retry, &x);
    x.sigint_ev = evsignal_new(c->base, SIGINT, on_sigint, &x);
    if (x.retry_ev == NULL || x.sigint_ev == NULL || event_add(x.sigint_ev, NULL) != 0)
        return CLI_EXEC_FAILED;
    for (int i = 0; i < 2; i++) {
        x.f[i] = (struct follow){.x = &x, .which = i, .fd = i ? STDERR_FILENO : STDOUT_FILENO};
        follow_start(&x.f[i]);
    }
    while (!(x.f[0].done && x.f[1].done) && !x.failed)
        if (event_base_loop(c->base, EVLOOP_ONCE) != 0)
            break;
    rc = x.failed ? CLI_EXEC_FAILED : final_status(&x);
    event_free(x.retry_ev);
    event_free(x.sigint_ev);
    return rc;
}
