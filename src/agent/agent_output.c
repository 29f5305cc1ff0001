/*
 * agent_output.c - GET /v1/runs/{id}/output?stream=stdout&offset=N&follow=1
 *
 * Streams a run's spooled output from byte offset N.  With follow, the
 * response stays open and carries new bytes as they are spooled, ending
 * when the run has ended and everything was sent.  A reader that lost its
 * tunnel asks again from the last offset it received: nothing is lost and
 * nothing is sent twice.  Bytes move from the spool file straight into the
 * stream's send queue (one copy), only while the queue has room.
 */
#include "agent.h"
#include "agent_run.h"
#include "agent_serve.h"
#include "common/err.h"
#include "common/mem.h"
#include "common/parse.h"
#include "tunnel/h2body.h"

#include <errno.h>
#include <event2/buffer.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PUMP_CHUNK (256u << 10)

struct follower {
    struct agent_run *run;
    struct scc_h2_stream *s;
    enum agent_stream which;
    uint64_t off;
    bool follow;
    bool ended;
    struct agent_run_watch w;
};

static void
finish(struct follower *f)
{
    if (f->ended)
        return;
    f->ended = true;
    if (f->run) {
        agent_run_watch_del(f->run, &f->w);
        f->run = NULL;
    }
    (void)scc_h2_stream_end(f->s);
}

static int
read_into_queue(struct follower *f, size_t want)
{
    struct evbuffer *q = scc_h2_stream_queue(f->s);
    struct evbuffer_iovec vec;
    ssize_t n;

    if (q == NULL || evbuffer_reserve_space(q, (ev_ssize_t)want, &vec, 1) < 1)
        return -ENOMEM;
    do {
        n = pread(agent_run_spool_fd(f->run, f->which), vec.iov_base, want, (off_t)f->off);
    } while (n < 0 && errno == EINTR);
    if (n <= 0)
        return n < 0 ? -errno : -EIO; /* the file is shorter than the size we track */
    vec.iov_len = (size_t)n;
    evbuffer_commit_space(q, &vec, 1);
    f->off += (uint64_t)n;
    return 0;
}

static void
pump(struct follower *f)
{
    bool moved = false;

    while (f->run && !f->ended) {
        uint64_t size = agent_run_spool_size(f->run, f->which);
        size_t space = scc_h2_stream_space(f->s), want;

        if (f->off >= size) {
            if (!f->follow || agent_run_spool_final(f->run, f->which))
                finish(f);
            break; /* wait: the watcher or on_drain calls again */
        }
        if (space == 0)
            break;
        want = space < PUMP_CHUNK ? space : PUMP_CHUNK;
        if ((uint64_t)want > size - f->off)
            want = (size_t)(size - f->off);
        if (read_into_queue(f, want) < 0) {
            scc_h2_stream_reset(f->s, 2 /* INTERNAL_ERROR */);
            break;
        }
        moved = true;
    }
    if (moved)
        scc_h2_stream_kick(f->s);
}

static void
on_watch(void *arg)
{
    pump(arg);
}

static void
on_gone(void *arg)
{
    struct follower *f = arg;

    f->run = NULL; /* already unlinked by the run */
    if (!f->ended) {
        f->ended = true;
        (void)scc_h2_stream_end(f->s);
    }
}

static void
on_drain(struct scc_h2_stream *s, size_t n, void *arg)
{
    (void)s, (void)n;
    pump(arg);
}

static void
on_close(struct scc_h2_stream *s, uint32_t code, void *arg)
{
    struct follower *f = arg;

    (void)s, (void)code;
    if (f->run)
        agent_run_watch_del(f->run, &f->w);
    scc_free(f);
}

static int
parse_query(const char *query, enum agent_stream *which, uint64_t *off, bool *follow)
{
    char stream[16] = "stdout", offset[32] = "0", fol[8] = "0";

    if (agent_query_get(query, "stream", stream, sizeof(stream)) == SCC_ETRUNC ||
        agent_query_get(query, "offset", offset, sizeof(offset)) == SCC_ETRUNC ||
        agent_query_get(query, "follow", fol, sizeof(fol)) == SCC_ETRUNC)
        return -1;
    if (strcmp(stream, "stdout") == 0)
        *which = AGENT_STDOUT;
    else if (strcmp(stream, "stderr") == 0)
        *which = AGENT_STDERR;
    else
        return -1;
    if (scc_parse_u64(offset, 0, UINT64_MAX / 2, off) < 0 || scc_parse_bool(fol, follow) < 0)
        return -1;
    return 0;
}

void
agent_output_get(struct agent *a, struct scc_h2_stream *s, struct agent_run *run, const char *query)
{
    static const struct scc_h2_stream_cbs cbs = {.on_drain = on_drain, .on_close = on_close};
    struct follower *f;
    char offs[24];
    const struct scc_h2_hdr hdrs[] = {{"content-type", "application/octet-stream"},
                                      {"scc-offset", offs}};
    enum agent_stream which;
    uint64_t off;
    bool follow;

    (void)a;
    if (parse_query(query, &which, &off, &follow) < 0) {
        scc_h2_reply_error(s, 400, "InvalidQuery",
                           "expected stream=stdout|stderr, offset=<bytes>, follow=0|1");
        return;
    }
    if (off > agent_run_spool_size(run, which)) {
        scc_h2_reply_error(s, 416, "OffsetBeyondEnd",
                           "offset %" PRIu64 " is past the %" PRIu64 " bytes spooled so far", off,
                           agent_run_spool_size(run, which));
        return;
    }
    if ((f = scc_calloc(1, sizeof(*f))) == NULL) {
        scc_h2_stream_reset(s, 2);
        return;
    }
    *f = (struct follower){.run = run,
                           .s = s,
                           .which = which,
                           .off = off,
                           .follow = follow,
                           .w = {.cb = on_watch, .gone = on_gone, .arg = f}};
    snprintf(offs, sizeof(offs), "%" PRIu64, off);
    scc_h2_stream_set_cbs(s, &cbs, f);
    if (scc_h2_respond(s, 200, hdrs, 2, false) < 0) {
        scc_h2_stream_reset(s, 2);
        return;
    }
    agent_run_watch_add(run, &f->w);
    pump(f);
}
