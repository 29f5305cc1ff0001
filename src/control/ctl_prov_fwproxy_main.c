/*
 * ctl_prov_fwproxy_main.c - the proxy's event loop (libevent): accept a
 * redirected flow, read until the server name is known, decide, then
 * either relay bytes to the original destination with back-pressure or
 * close.  One process per firewall namespace; see ctl_prov_fwproxy.h.
 */
#include "ctl_prov_fwproxy.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/file.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/parse.h"
#include "ctl_prov_nft.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <linux/netfilter_ipv4.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define SNIFF_MAX      16384 /* a ClientHello or request head beyond this is refused */
#define SNIFF_TIMEOUT  10
#define RELAY_HIGH     (1u << 20)
#define RECENT_MAX     20
#define RULES_FILE_MAX (16u << 20)

struct fwp {
    struct event_base *base;
    json_t *rules, *tags, *recent;
    const char *stats;
    uint64_t allowed, denied;
    bool dirty;
    struct scc_log_ctx log;
};

struct flow {
    struct fwp *f;
    struct bufferevent *cl, *up;
    struct sockaddr_in src, dst;
    bool closing;
};

static void
flow_free(struct flow *fl)
{
    if (fl->cl)
        bufferevent_free(fl->cl);
    if (fl->up)
        bufferevent_free(fl->up);
    scc_free(fl);
}

static void
record(struct fwp *f, const struct flow *fl, const char *proto, const char *fqdn, bool allow,
       const char *rule)
{
    char src[16], dst[16];
    json_t *e;

    inet_ntop(AF_INET, &fl->src.sin_addr, src, sizeof(src));
    inet_ntop(AF_INET, &fl->dst.sin_addr, dst, sizeof(dst));
    scc_log_info(&f->log, "%s %s src=%s dst=%s:%u name=%s rule=%s", allow ? "allow" : "deny", proto,
                 src, dst, ntohs(fl->dst.sin_port), fqdn[0] ? fqdn : "-",
                 rule[0] ? rule : "(no rule matched)");
    *(allow ? &f->allowed : &f->denied) += 1;
    e = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "action", allow ? "Allow" : "Deny", "source",
                  src, "port", ntohs(fl->dst.sin_port), "destination", dst, "name", fqdn, "rule",
                  rule);
    if (e && json_array_append_new(f->recent, e) == 0 && json_array_size(f->recent) > RECENT_MAX)
        json_array_remove(f->recent, 0);
    f->dirty = true;
}

/* ---- relaying ---- */

static void relay_read(struct bufferevent *bev, void *arg);

static void
relay_drained(struct bufferevent *bev, void *arg)
{
    struct flow *fl = arg;
    struct bufferevent *peer = bev == fl->cl ? fl->up : fl->cl;

    if (fl->closing) {
        if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
            flow_free(fl);
        return;
    }
    bufferevent_enable(peer, EV_READ); /* back-pressure released */
}

static void
relay_read(struct bufferevent *bev, void *arg)
{
    struct flow *fl = arg;
    struct bufferevent *peer = bev == fl->cl ? fl->up : fl->cl;
    struct evbuffer *out = bufferevent_get_output(peer);

    evbuffer_add_buffer(out, bufferevent_get_input(bev));
    if (evbuffer_get_length(out) >= RELAY_HIGH)
        bufferevent_disable(bev, EV_READ);
}

static void
relay_event(struct bufferevent *bev, short what, void *arg)
{
    struct flow *fl = arg;
    struct bufferevent *peer = bev == fl->cl ? fl->up : fl->cl;

    if (what & BEV_EVENT_CONNECTED) {
        evbuffer_add_buffer(bufferevent_get_output(fl->up), bufferevent_get_input(fl->cl));
        bufferevent_setcb(fl->cl, relay_read, relay_drained, relay_event, fl);
        bufferevent_enable(fl->cl, EV_READ | EV_WRITE);
        bufferevent_enable(fl->up, EV_READ | EV_WRITE);
        return;
    }
    /* EOF or error on one side: flush what the other still owes, then go. */
    if (peer && !(what & BEV_EVENT_ERROR) &&
        evbuffer_get_length(bufferevent_get_input(bev)) +
                        evbuffer_get_length(bufferevent_get_output(peer)) >
                0) {
        evbuffer_add_buffer(bufferevent_get_output(peer), bufferevent_get_input(bev));
        fl->closing = true;
        bufferevent_disable(bev, EV_READ);
        bufferevent_setcb(peer, NULL, relay_drained, relay_event, fl);
        return;
    }
    flow_free(fl);
}

static void
allow(struct flow *fl)
{
    fl->up = bufferevent_socket_new(fl->f->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (fl->up == NULL) {
        flow_free(fl);
        return;
    }
    bufferevent_disable(fl->cl, EV_READ);
    bufferevent_set_timeouts(fl->cl, NULL, NULL);
    bufferevent_setcb(fl->up, relay_read, relay_drained, relay_event, fl);
    if (bufferevent_socket_connect(fl->up, (struct sockaddr *)&fl->dst, sizeof(fl->dst)) < 0)
        flow_free(fl);
}

/* Azure Firewall answers a denied HTTP request with status 470. */
static void
deny(struct flow *fl, bool http)
{
    static const char body[] = "HTTP/1.1 470 status code 470\r\nContent-Type: text/plain\r\n"
                               "Connection: close\r\nContent-Length: 38\r\n\r\n"
                               "Action: Deny. Reason: No rule matched.";

    if (!http) {
        flow_free(fl);
        return;
    }
    fl->closing = true;
    bufferevent_disable(fl->cl, EV_READ);
    bufferevent_setcb(fl->cl, NULL, relay_drained, relay_event, fl);
    bufferevent_write(fl->cl, body, sizeof(body) - 1);
}

static void
sniff(struct bufferevent *bev, void *arg)
{
    struct flow *fl = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n = evbuffer_get_length(in);
    const uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)(n < SNIFF_MAX ? n : SNIFF_MAX));
    bool tls = n > 0 && p[0] == 0x16;
    char name[256] = "", rule[256];
    int rc;

    rc = tls ? ctl_prov_tls_sni(p, n < SNIFF_MAX ? n : SNIFF_MAX, name, sizeof(name))
             : ctl_prov_http_host(p, n < SNIFF_MAX ? n : SNIFF_MAX, name, sizeof(name));
    if (rc == 0 && n < SNIFF_MAX)
        return; /* the name is still on its way */
    if (rc != 1)
        name[0] = '\0';
    rc = ctl_prov_app_decide(fl->f->rules, fl->f->tags, ntohl(fl->src.sin_addr.s_addr),
                             ntohs(fl->dst.sin_port), tls ? "Https" : "Http", name, rule,
                             sizeof(rule));
    record(fl->f, fl, tls ? "Https" : "Http", name, rc == 1, rule);
    if (rc == 1)
        allow(fl);
    else
        deny(fl, !tls);
}

static void
sniff_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    (void)what;
    flow_free(arg); /* closed or timed out before we knew its name */
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len, void *arg)
{
    struct fwp *f = arg;
    struct flow *fl = scc_calloc(1, sizeof(*fl));
    struct timeval tv = {SNIFF_TIMEOUT, 0};
    socklen_t dl = sizeof(struct sockaddr_in);

    (void)l;
    if (fl == NULL || len != (int)sizeof(fl->src) ||
        getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &fl->dst, &dl) < 0) {
        evutil_closesocket(fd); /* not a redirected flow: nothing to decide */
        scc_free(fl);
        return;
    }
    memcpy(&fl->src, sa, sizeof(fl->src));
    fl->f = f;
    if ((fl->cl = bufferevent_socket_new(f->base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
        evutil_closesocket(fd);
        scc_free(fl);
        return;
    }
    bufferevent_setcb(fl->cl, sniff, NULL, sniff_event, fl);
    bufferevent_set_timeouts(fl->cl, &tv, NULL);
    bufferevent_enable(fl->cl, EV_READ);
}

/* ---- set-up ---- */

static void
write_stats(evutil_socket_t fd, short what, void *arg)
{
    struct fwp *f = arg;
    json_t *o;
    char *text;

    (void)fd, (void)what;
    if (!f->dirty || f->stats == NULL)
        return;
    o = json_pack("{s:I, s:I, s:O}", "allowed", (json_int_t)f->allowed, "denied",
                  (json_int_t)f->denied, "recent", f->recent);
    text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (text && scc_file_write_atomic(f->stats, text, strlen(text), 0600) == 0)
        f->dirty = false;
    free(text);
    json_decref(o);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig, (void)what;
    event_base_loopexit(arg, NULL);
}

static int
load_rules(struct fwp *f, const char *path, char *err, size_t cap)
{
    struct scc_buf b;
    json_t *doc = NULL;
    int rc;

    scc_buf_init(&b, RULES_FILE_MAX);
    if ((rc = scc_file_read(path, RULES_FILE_MAX, &b)) == 0 &&
        (rc = scc_json_parse_object(b.data, b.len, RULES_FILE_MAX, &doc, err, cap)) == 0) {
        f->rules = ctl_prov_sorted_collections(json_object_get(doc, "collections"), err, cap);
        f->tags = json_incref(json_object_get(doc, "service_tags"));
        rc = f->rules ? 0 : SCC_EINVAL;
    } else if (rc < 0 && err[0] == '\0') {
        snprintf(err, cap, "%s: %s", path, scc_strerror(rc));
    }
    json_decref(doc);
    scc_buf_fini(&b);
    return rc;
}

struct args {
    const char *rules, *listen, *stats;
};

static int
parse_args(int argc, char **argv, struct args *a)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--rules") == 0)
            a->rules = argv[i + 1];
        else if (strcmp(argv[i], "--listen") == 0)
            a->listen = argv[i + 1];
        else if (strcmp(argv[i], "--stats") == 0)
            a->stats = argv[i + 1];
        else if (strcmp(argv[i], "--generation") != 0)
            return SCC_EINVAL;
    }
    return a->rules && a->listen ? 0 : SCC_EINVAL;
}

static int
listen_addr(const char *s, struct sockaddr_in *sin)
{
    char host[64];
    uint16_t port;

    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    if (scc_parse_hostport(s, host, sizeof(host), &port, false) < 0 ||
        inet_pton(AF_INET, host, &sin->sin_addr) != 1)
        return SCC_EINVAL;
    sin->sin_port = htons(port);
    return 0;
}

static int
serve(struct fwp *f, const struct sockaddr_in *sin)
{
    struct evconnlistener *l = evconnlistener_new_bind(
            f->base, on_accept, f,
            LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 128,
            (const struct sockaddr *)sin, sizeof(*sin));
    struct timeval sec = {1, 0};
    struct event *tick = event_new(f->base, -1, EV_PERSIST, write_stats, f);
    struct event *term = evsignal_new(f->base, SIGTERM, on_signal, f->base);
    struct event *intr = evsignal_new(f->base, SIGINT, on_signal, f->base);
    int rc = l && tick && term && intr ? 0 : SCC_EUNAVAIL;

    if (rc == 0 &&
        (event_add(tick, &sec) < 0 || event_add(term, NULL) < 0 || event_add(intr, NULL) < 0))
        rc = SCC_EUNAVAIL;
    if (rc == 0) {
        scc_log_info(&f->log, "listening; %zu application rule collections",
                     json_array_size(f->rules));
        event_base_dispatch(f->base);
    } else {
        scc_log_error(&f->log, "cannot listen");
    }
    if (l)
        evconnlistener_free(l);
    if (tick)
        event_free(tick);
    if (term)
        event_free(term);
    if (intr)
        event_free(intr);
    return rc;
}

int
ctl_prov_fwproxy_main(int argc, char **argv)
{
    struct fwp f = {0};
    struct args a = {0};
    struct sockaddr_in sin;
    char err[512] = "";
    int rc;

    scc_log_ctx_init(&f.log, "fwproxy", NULL);
    if (parse_args(argc, argv, &a) < 0 || listen_addr(a.listen, &sin) < 0) {
        fprintf(stderr, "usage: scc-prov fwproxy --rules FILE --listen IP:PORT [--stats FILE]\n");
        return 2;
    }
    (void)signal(SIGPIPE, SIG_IGN);
    f.stats = a.stats;
    if ((rc = load_rules(&f, a.rules, err, sizeof(err))) < 0 || (f.recent = json_array()) == NULL ||
        (f.base = event_base_new()) == NULL) {
        scc_log_error(&f.log, "cannot start: %s", err[0] ? err : scc_strerror(rc));
        rc = 1;
        goto out;
    }
    f.dirty = true; /* a stats file from the start, even if all zero */
    rc = serve(&f, &sin) < 0 ? 1 : 0;
out:
    json_decref(f.rules);
    json_decref(f.tags);
    json_decref(f.recent);
    if (f.base)
        event_base_free(f.base);
    return rc;
}
