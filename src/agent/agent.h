/*
 * agent.h - scc-agent's shared state.
 *
 * The agent runs on a compute node.  In SCC mode it opens no listening
 * socket at all: it dials the relay, proves who it is with mutual TLS, and
 * then serves the control plane's HTTP/2 requests over its own outbound
 * connection (it is the HTTP/2 *server* on a connection it initiated).
 *
 *   agent_cfg.c     options table and validation
 *   agent_link.c    one relay: resolve, proxy CONNECT, TLS, back-off, reconnect
 *   agent_enroll.c  bootstrap: key, CSR, join token -> certificate
 *   agent_serve.c   request router for the tunnel
 *   agent_run.c     runs: spawn, spool, status, cancel
 *   agent_output.c  streaming a run's output from an offset
 *   agent_connect.c CONNECT streams to node-local services
 *   agent_legacy.c  legacy (no SCC) mode: listen, the control plane dials in
 */
#ifndef SCC_AGENT_AGENT_H
#define SCC_AGENT_AGENT_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/backoff.h"
#include "common/cfg.h"
#include "common/ident.h"
#include "common/log.h"
#include "tunnel/h2.h"
#include "tunnel/sock.h"

struct event_base;
struct evdns_base;
struct agent_runs;
struct agent_link;
struct agent_legacy;

struct agent_cfg {
    char *relay;      /* comma-separated HOST:PORT list */
    char *ca;         /* control plane CA certificate */
    char *join_token; /* secret; never logged */
    char *join_token_file;
    char *state_dir;
    char *proxy;         /* http://[user:pass@]host:port */
    char *no_proxy;      /* comma-separated host suffixes / IPs */
    char *node;          /* expected "ws/cluster/node", optional */
    char *allow_connect; /* CIDRs CONNECT may reach */
    char *mode;          /* "scc" (dial out, no listener) or "legacy" (listen) */
    char *listen;        /* legacy management port */
    char *log_level;
    char *config;
    uint32_t keepalive_ms;
    uint32_t dead_after_ms;
    uint32_t backoff_base_ms;
    uint32_t backoff_max_ms;
    uint32_t handshake_timeout_ms;
    uint32_t connect_timeout_ms;
    uint32_t request_timeout_ms;
    uint32_t kill_grace_ms;
    uint32_t max_runs;
    uint32_t spool_max_mb;
    uint32_t max_streams;
    uint32_t stream_window_kb;
    bool trim_memory;
};

struct agent {
    struct event_base *base;
    struct evdns_base *dns;
    const struct agent_cfg *cfg;
    struct scc_log_ctx log;
    EVP_PKEY *node_key; /* made here, never leaves the node */
    X509 *node_cert;
    SSL_CTX *tls_tunnel; /* with our certificate, once enrolled */
    SSL_CTX *tls_enroll; /* without one */
    bool enrolled;
    struct scc_ident ident;
    char ident_uri[SCC_IDENT_URI_MAX + 1];
    struct agent_runs *runs;
    struct agent_link **links;
    size_t nlinks;
    struct scc_h2_settings h2set;
    struct scc_keepalive tcp_ka;
    uint64_t started_ms;
    bool stopping;
    uint64_t stop_ms;
    struct event *stop_ev;
    struct agent_legacy *legacy; /* legacy mode's listener */
};

/* agent_cfg.c */
extern const struct scc_cfg_opt agent_cfg_opts[];
extern const size_t agent_cfg_nopts;
int agent_cfg_check(const struct agent_cfg *cfg, char *err, size_t cap);

/* agent_enroll.c */
int agent_identity_set(struct agent *a, X509 *cert);
int agent_tls_tunnel_ctx(struct agent *a);

/* main.c */
void agent_after_tunnel_up(struct agent *a);
void agent_fatal(struct agent *a, const char *why);

/* agent_serve.c: route one request on a tunnel stream (arg: the agent). */
void agent_serve_request(struct scc_h2 *h2, struct scc_h2_stream *s, void *arg);

/* agent_legacy.c: legacy (no SCC) mode, the control plane dials in. */
bool agent_is_legacy(const struct agent *a);
int agent_legacy_start(struct agent *a);
/* agent_legacy_stop - close the port and drain (GOAWAY) the connections
 * from the control plane; agent_legacy_free closes what is left. */
void agent_legacy_stop(struct agent *a);
void agent_legacy_free(struct agent *a);
/* agent_legacy_reload - present the current node certificate from the
 * next connection on (it was renewed). */
int agent_legacy_reload(struct agent *a);

#endif /* SCC_AGENT_AGENT_H */
