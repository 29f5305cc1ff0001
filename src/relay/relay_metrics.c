#include "relay_int.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/map.h"
#include "common/mem.h"
#include "common/parse.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const double lat_bounds[RELAY_LAT_BUCKETS] = {
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

static const char *const refusal_names[REFUSE_N] = {"no_client_cert",   "bad_cert", "revoked",
                                                    "bad_identity",     "overload", "handshake",
                                                    "handshake_timeout"};

void
relay_metrics_observe(struct relay_metrics *m, uint64_t micros)
{
    double s = (double)micros / 1e6;
    size_t i = 0;

    while (i < RELAY_LAT_BUCKETS && s > lat_bounds[i])
        i++;
    m->lat_buckets[i]++;
    m->lat_count++;
    m->lat_sum += s;
}

struct live {
    uint64_t in, out, streams;
};

static int
sum_live(struct relay_tunnel *t, void *arg)
{
    struct live *l = arg;

    l->in += scc_h2io_payload_in(t->io);
    l->out += scc_h2io_payload_out(t->io);
    l->streams += scc_h2_stream_count(scc_h2io_session(t->io));
    return 0;
}

static void
counter(struct evbuffer *b, const char *name, const char *help, const char *type, uint64_t v)
{
    evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
                        (unsigned long long)v);
}

static void
histogram(struct evbuffer *b, const struct relay_metrics *m)
{
    const char *n = "scc_relay_request_duration_seconds";
    uint64_t cum = 0;

    evbuffer_add_printf(b,
                        "# HELP %s Time from a proxied request to the node's response head.\n"
                        "# TYPE %s histogram\n",
                        n, n);
    for (size_t i = 0; i < RELAY_LAT_BUCKETS; i++) {
        cum += m->lat_buckets[i];
        evbuffer_add_printf(b, "%s_bucket{le=\"%g\"} %llu\n", n, lat_bounds[i],
                            (unsigned long long)cum);
    }
    cum += m->lat_buckets[RELAY_LAT_BUCKETS];
    evbuffer_add_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", n,
                        (unsigned long long)cum, n, m->lat_sum, n,
                        (unsigned long long)m->lat_count);
}

static void
on_metrics(struct evhttp_request *req, void *arg)
{
    struct relay *r = arg;
    struct relay_metrics *m = r->metrics;
    struct evbuffer *b = evbuffer_new();
    struct live live = {0, 0, 0};

    if (b == NULL) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    relay_each(r, sum_live, &live);
    counter(b, "scc_relay_tunnels", "Tunnels connected now.", "gauge", r->ntunnels);
    counter(b, "scc_relay_tunnel_connects_total", "Tunnels established.", "counter",
            m->tunnel_connects);
    counter(b, "scc_relay_tunnel_disconnects_total", "Tunnels closed.", "counter",
            m->tunnel_disconnects);
    counter(b, "scc_relay_handshakes_total", "Completed TLS handshakes.", "counter",
            m->handshakes_ok);
    counter(b, "scc_relay_tls_resumed_total", "Handshakes that resumed a TLS session.", "counter",
            m->tls_resumed);
    counter(b, "scc_relay_handshakes_in_progress", "TLS handshakes under way.", "gauge",
            r->handshakes);
    evbuffer_add_printf(b, "# HELP scc_relay_refusals_total Connections refused, by reason.\n"
                           "# TYPE scc_relay_refusals_total counter\n");
    for (int i = 0; i < REFUSE_N; i++)
        evbuffer_add_printf(b, "scc_relay_refusals_total{reason=\"%s\"} %llu\n", refusal_names[i],
                            (unsigned long long)m->refused[i]);
    evbuffer_add_printf(b,
                        "# HELP scc_relay_enrollments_total Enrolment requests, by result.\n"
                        "# TYPE scc_relay_enrollments_total counter\n"
                        "scc_relay_enrollments_total{result=\"ok\"} %llu\n"
                        "scc_relay_enrollments_total{result=\"refused\"} %llu\n",
                        (unsigned long long)m->enroll_ok, (unsigned long long)m->enroll_refused);
    evbuffer_add_printf(b,
                        "# HELP scc_relay_cert_renewals_total Node certificates renewed over "
                        "their tunnels, by result.\n"
                        "# TYPE scc_relay_cert_renewals_total counter\n"
                        "scc_relay_cert_renewals_total{result=\"ok\"} %llu\n"
                        "scc_relay_cert_renewals_total{result=\"failed\"} %llu\n",
                        (unsigned long long)m->renew_ok, (unsigned long long)m->renew_failed);
    counter(b, "scc_relay_streams_active", "Proxied streams open now.", "gauge", m->streams_active);
    counter(b, "scc_relay_streams_total", "Proxied streams opened.", "counter", m->streams_total);
    evbuffer_add_printf(b,
                        "# HELP scc_relay_bytes_total Payload bytes through tunnels.\n"
                        "# TYPE scc_relay_bytes_total counter\n"
                        "scc_relay_bytes_total{direction=\"to_node\"} %llu\n"
                        "scc_relay_bytes_total{direction=\"from_node\"} %llu\n",
                        (unsigned long long)(m->bytes_to_node + live.out),
                        (unsigned long long)(m->bytes_from_node + live.in));
    histogram(b, m);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

static void
reply_text(struct evhttp_request *req, int code, const char *text)
{
    struct evbuffer *b = evbuffer_new();

    if (b)
        evbuffer_add_printf(b, "%s\n", text);
    evhttp_send_reply(req, code, code == 200 ? "OK" : "Service Unavailable", b);
    if (b)
        evbuffer_free(b);
}

static void
on_healthz(struct evhttp_request *req, void *arg)
{
    (void)arg;
    reply_text(req, 200, "ok"); /* answering at all proves the loop runs */
}

static void
on_readyz(struct evhttp_request *req, void *arg)
{
    struct relay *r = arg;

    if (r->draining || r->nlisteners == 0)
        reply_text(req, 503, "draining");
    else
        reply_text(req, 200, "ready");
}

int
relay_metrics_start(struct relay *r, const char *listen)
{
    struct relay_metrics *m = r->metrics;
    struct evhttp_bound_socket *bs;
    char host[256];
    uint16_t port;
    int fd, rc;

    if (listen == NULL || listen[0] == '\0')
        return 0;
    if ((rc = scc_sock_listen(listen, 64, &fd, m->bound, sizeof(m->bound))) < 0)
        return rc;
    if (scc_parse_hostport(listen, host, sizeof(host), &port, true) < 0 ||
        (m->http = evhttp_new(r->base)) == NULL ||
        (bs = evhttp_accept_socket_with_handle(m->http, fd)) == NULL) {
        close(fd);
        return SCC_ENOMEM;
    }
    (void)bs;
    evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_timeout(m->http, 10);
    evhttp_set_cb(m->http, "/metrics", on_metrics, r);
    evhttp_set_cb(m->http, "/healthz", on_healthz, r);
    evhttp_set_cb(m->http, "/readyz", on_readyz, r);
    return 0;
}

void
relay_metrics_stop(struct relay_metrics *m)
{
    if (m && m->http) {
        evhttp_free(m->http);
        m->http = NULL;
    }
}
