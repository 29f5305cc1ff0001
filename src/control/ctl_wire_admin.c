/*
 * ctl_wire_admin.c - the provider on the admin socket, and the relay's
 * legacy-node registrations.
 *
 * Routes (sccd.sock, admin only):
 *   GET  /v1/provider/status   {"provider", "isolated", "prefix", "state_dir",
 *                               "resources": the provider's statuses with live
 *                               facts (agents running, firewall, LB and NAT counters)}
 *   POST /v1/provider/gc       {"removed": ["netns NAME", "link NAME", ...]}
 * Both run on the provider's thread, after any apply in flight.
 *
 * A legacy VM listens, and the relay dials it (relay_legacy.c).  The relay
 * learns where through its own admin route, PUT /v1/legacy-nodes/{node}
 * {"address": "ip:port"}; the provider's thread makes that request over
 * sccd.sock with a small blocking HTTP/2 client, so the relay keeps one
 * interface for the provider and for operators.
 */
#include "ctl_wire_int.h"

#include "ctl_prov.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/mem.h"
#include "common/time.h"
#include "common/worker.h"
#include "tunnel/h2.h"
#include "tunnel/h2body.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CALL_TIMEOUT_MS 5000
#define CALL_OUT_MAX    (64u << 10)

/* ---- a blocking admin request (provider thread) ---- */

struct call {
    int status;
    bool done;
};

static void
call_head(struct scc_h2_stream *s, void *arg)
{
    struct call *c = arg;

    c->status = scc_h2_stream_head(s)->status;
    c->done = c->done || scc_h2_stream_head(s)->end_stream;
}

static void
call_data(struct scc_h2_stream *s, const uint8_t *data, size_t len, void *arg)
{
    (void)data, (void)arg;
    scc_h2_stream_consume(s, len);
}

static void
call_end(struct scc_h2_stream *s, void *arg)
{
    (void)s;
    ((struct call *)arg)->done = true;
}

static void
call_close(struct scc_h2_stream *s, uint32_t code, void *arg)
{
    (void)s, (void)code;
    ((struct call *)arg)->done = true;
}

static int
unix_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd, rc;

    if (strlen(path) >= sizeof(sa.sun_path))
        return SCC_ETRUNC;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

/* Send what the session has, then wait for bytes (until the deadline). */
static int
pump(struct scc_h2 *h2, int fd, struct scc_buf *out, uint64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    uint8_t in[16384];
    ssize_t n;
    uint64_t now;

    scc_buf_reset(out);
    if (scc_h2_send(h2, out, NULL, CALL_OUT_MAX) < 0)
        return SCC_EH2;
    for (size_t off = 0; off < out->len; off += (size_t)n) {
        if ((n = write(fd, out->data + off, out->len - off)) < 0 && errno != EINTR)
            return -errno;
        n = n < 0 ? 0 : n;
    }
    if ((now = scc_time_mono_ms()) >= deadline)
        return SCC_ETIMEOUT;
    if (poll(&p, 1, (int)(deadline - now)) <= 0)
        return SCC_ETIMEOUT;
    if ((n = read(fd, in, sizeof(in))) <= 0)
        return n == 0 ? SCC_ECLOSED : -errno;
    return scc_h2_recv(h2, in, (size_t)n);
}

/* method path with an optional JSON body; the answer's status or an error. */
static int
admin_call(const char *sock, const char *method, const char *path, const char *json)
{
    static const struct scc_h2_stream_cbs cbs = {
            .on_head = call_head, .on_data = call_data, .on_end = call_end, .on_close = call_close};
    const struct scc_h2_hdr hdr = {"content-type", "application/json"};
    struct scc_h2_settings set;
    struct scc_h2_stream *s = NULL;
    struct scc_h2 *h2 = NULL;
    struct call c = {0, false};
    struct scc_buf out;
    uint64_t deadline = scc_time_mono_ms() + CALL_TIMEOUT_MS;
    int fd, rc;

    if ((fd = unix_connect(sock)) < 0)
        return fd;
    scc_buf_init(&out, CALL_OUT_MAX * 2);
    scc_h2_settings_default(&set);
    if ((rc = scc_h2_new(SCC_H2_CLIENT, &set, &(struct scc_h2_cbs){0}, NULL, &h2)) == 0 &&
        (rc = scc_h2_request(h2, method, path, "sccd", &hdr, 1, json == NULL, &cbs, &c, &s)) == 0 &&
        json && (rc = scc_h2_stream_write(s, json, strlen(json))) == 0)
        rc = scc_h2_stream_end(s);
    while (rc == 0 && !c.done)
        rc = pump(h2, fd, &out, deadline);
    scc_h2_free(h2);
    scc_buf_fini(&out);
    close(fd);
    return rc < 0 ? rc : c.status;
}

/* ---- legacy nodes (provider thread) ---- */

static json_t *
legacy_wanted(const json_t *doc, const json_t *status)
{
    json_t *want = json_object(), *vm;
    size_t i;

    json_array_foreach(json_object_get(doc, "vms"), i, vm)
    {
        const char *id = json_string_value(json_object_get(vm, "id"));
        const char *pip = json_string_value(json_object_get(vm, "public_ip"));
        const char *node = json_string_value(json_object_get(vm, "node"));
        const char *state =
                json_string_value(json_object_get(json_object_get(status, id), "state"));

        if (pip && node && state && strcmp(state, "Succeeded") == 0 &&
            strcmp(json_string_value(json_object_get(vm, "mode")), "legacy") == 0)
            json_object_set_new(want, node, json_sprintf("%s:%d", pip, CTL_WIRE_LEGACY_PORT));
    }
    return want;
}

void
wire_legacy_sync(struct ctl_wire *w, const json_t *doc, const json_t *status)
{
    const char *sock = w->c->cfg->admin_socket, *node;
    json_t *want = legacy_wanted(doc, status), *addr, *tmp;
    char path[512], body[128];
    int rc;

    json_object_foreach(want, node, addr)
    {
        const char *a = json_string_value(addr);

        if (json_equal(json_object_get(w->legacy, node), addr))
            continue;
        snprintf(path, sizeof(path), "/v1/legacy-nodes/%s", node);
        snprintf(body, sizeof(body), "{\"address\":\"%s\"}", a);
        if ((rc = admin_call(sock, "PUT", path, body)) == 200)
            json_object_set(w->legacy, node, addr);
        else
            scc_log_warn(&w->log,
                         "cannot register legacy node %s at %s with the relay (%s); next "
                         "round",
                         node, a, rc < 0 ? scc_strerror(rc) : "refused");
    }
    json_object_foreach_safe(w->legacy, tmp, node, addr)
    {
        if (json_object_get(want, node))
            continue;
        snprintf(path, sizeof(path), "/v1/legacy-nodes/%s", node);
        if ((rc = admin_call(sock, "DELETE", path, NULL)) == 204 || rc == 404)
            json_object_del(w->legacy, node);
    }
    json_decref(want);
}

/* ---- admin routes ---- */

struct admin_job {
    struct ctl_wire *w;
    struct scc_h2_stream *s; /* NULL once the client is gone */
    bool gc;
    int status;
    json_t *reply;
};

static void
admin_closed(struct scc_h2_stream *s, uint32_t code, void *arg)
{
    (void)s, (void)code;
    ((struct admin_job *)arg)->s = NULL;
}

static void
admin_run(void *arg)
{
    struct admin_job *j = arg;
    struct ctl_wire *w = j->w;
    char err[512] = "";
    json_t *v = NULL;
    int rc;

    rc = j->gc ? ctl_prov_gc(w->prov, &v, err, sizeof(err))
               : ctl_prov_status(w->prov, &v, err, sizeof(err));
    if (rc == SCC_ENOTFOUND && !j->gc) { /* nothing applied yet */
        json_decref(v);
        v = json_object();
        rc = 0;
    }
    if (rc == 0 && !j->gc && w->refused)
        json_object_update(v, w->refused);
    if (rc < 0) {
        j->status = 503;
        j->reply = json_pack("{s:{s:s, s:s}}", "error", "code", "ProviderFailed", "message",
                             err[0] ? err : scc_strerror(rc));
        json_decref(v);
        return;
    }
    j->status = 200;
    j->reply = j->gc ? json_pack("{s:o}", "removed", v)
                     : json_pack("{s:s, s:b, s:s, s:s, s:o}", "provider", w->kind, "isolated",
                                 ctl_prov_isolated(w->prov), "prefix", w->c->cfg->provider_prefix,
                                 "state_dir", w->state_dir, "resources", v);
}

static void
admin_done(void *arg)
{
    struct admin_job *j = arg;

    if (j->s) {
        scc_h2_stream_set_cbs(j->s, NULL, NULL);
        scc_h2_reply_json(j->s, j->status ? j->status : 500, j->reply);
    } else {
        json_decref(j->reply);
    }
    scc_free(j);
}

bool
ctl_wire_admin_request(struct ctl *c, struct scc_h2_stream *s)
{
    static const struct scc_h2_stream_cbs cbs = {.on_close = admin_closed};
    const struct scc_h2_head *h = scc_h2_stream_head(s);
    bool status =
            h->path && strcmp(h->method, "GET") == 0 && strcmp(h->path, "/v1/provider/status") == 0;
    bool gc = h->path && strcmp(h->method, "POST") == 0 && strcmp(h->path, "/v1/provider/gc") == 0;
    struct admin_job *j;

    if (!status && !gc)
        return false;
    if (c->wire == NULL) {
        scc_h2_reply_error(s, 409, "ProviderNotConfigured",
                           "sccd runs without a provider (--provider none)");
        return true;
    }
    if (ctl_wire_stopping(c)) {
        scc_h2_reply_error(s, 503, "Stopping", "sccd is stopping");
        return true;
    }
    if ((j = scc_calloc(1, sizeof(*j))) == NULL) {
        scc_h2_reply_error(s, 503, "Busy", "out of memory");
        return true;
    }
    j->w = c->wire;
    j->s = s;
    j->gc = gc;
    scc_h2_stream_set_cbs(s, &cbs, j);
    if (scc_worker_submit(c->wire->pw, admin_run, admin_done, j) < 0) {
        scc_h2_stream_set_cbs(s, NULL, NULL);
        scc_h2_reply_error(s, 503, "Busy", "the provider is busy; retry");
        scc_free(j);
    }
    return true;
}
