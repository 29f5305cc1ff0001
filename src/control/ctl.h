/*
 * ctl.h - sccd's control plane: state shared by its modules.
 *
 *   ctl_cfg.c        options table
 *   ctl_pki.c        the CA and server certificate under DIR/pki/
 *   ctl_store*.c     SQLite (worker thread only)
 *   ctl_nodes.c      join tokens, enrolment, revocation, the admin routes
 *   main.c           wires control plane and relay together
 *
 * Threads: everything here runs on the event loop except the functions
 * passed to scc_worker_submit, which own the store and the CA key.
 */
#ifndef SCC_CONTROL_CTL_H
#define SCC_CONTROL_CTL_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/cfg.h"
#include "common/ident.h"
#include "common/log.h"

struct event;
struct event_base;
struct scc_map;
struct scc_worker;
struct ctl_store;
struct scc_h2_stream;
struct ctl_api;
struct ctl_arm;
struct ctl_wire;
struct dbx;

struct ctl_cfg {
    char *data_dir;
    char *role; /* "all" or "relay" */
    char *api_listen;
    char *relay_listen;
    char *metrics_listen;
    char *admin_socket; /* default DIR/sccd.sock, or DIR/relay.sock for --role relay */
    char *trust_domain;
    char *san; /* extra DNS names / IPs for the server certificate */
    char *log_level;
    char *config;
    uint32_t node_cert_ttl_s;
    uint32_t join_token_ttl_ms; /* default for new join tokens */
    uint32_t keepalive_ms;
    uint32_t dead_after_ms;
    uint32_t handshake_timeout_ms;
    uint32_t request_timeout_ms;
    uint32_t max_tunnels;
    uint32_t max_handshakes;
    uint32_t retry_after_s;
    /* the management API (ctl_api.c, ctl_arm*.c) */
    uint32_t api_max_conns;
    uint32_t lro_delay_ms;      /* how long a workspace operation takes */
    uint32_t lro_retry_after_s; /* Retry-After on operation responses; 0: none */
    char *workspace_domain;     /* workspaceUrl: adb-<id>.<shard>.<domain> */
    uint32_t cluster_launch_s;  /* workspace API: nodes' time to connect after launch */
    uint32_t cluster_grace_s;   /* workspace API: a node's time away from the relay */
    char *tenant_id;            /* reported in subscriptions */
    /* the provider (ctl_wire.c): networks and VMs made real on this host */
    char *provider;        /* "none", "auto", "netns" or "process" ("auto" is resolved at start) */
    char *provider_prefix; /* names of namespaces, links and nft tables */
    char *provider_agent;  /* scc-agent booted inside VMs */
    bool provider_cleanup; /* remove everything of the prefix when sccd stops */
    char *public_api_ip;   /* the control plane's addresses on the simulated internet */
    char *public_relay_ip;
    char *public_ip_range; /* "203.0.113.2-203.0.113.254": public IP resources */
};

struct ctl_paths {
    char db[4096];
    char pki[4096];
    char ca_crt[4096], ca_key[4096];
    char server_crt[4096], server_key[4096];
    char control_crt[4096], control_key[4096]; /* the control plane as a TLS client */
    char admin_token[4096];
    char admin_socket[4096];
    char endpoints[4096];
};

struct ctl {
    struct event_base *base;
    const struct ctl_cfg *cfg;
    struct ctl_paths paths;
    struct scc_log_ctx log;
    struct scc_worker *worker;
    struct ctl_store *store; /* worker thread only */
    EVP_PKEY *ca_key;        /* worker thread only */
    X509 *ca;
    struct scc_map *revoked; /* serial -> non-NULL; loop thread */
    int64_t revoked_checked_ms;
    bool revoke_refreshing;
    int64_t tokens_purged_ms; /* last purge of expired join tokens (ctl_nodes.c) */
    struct event *revoke_timer;
    /* Set by main: drop a node's tunnel (the relay's business). */
    void (*disconnect)(void *arg, const struct scc_ident *id);
    void *disconnect_arg;
    /* The management API and its ARM layer (loop thread). */
    struct ctl_api *api;
    struct ctl_arm *arm;
    /* Admin-socket routes ctl_nodes.c does not serve itself: true if the
     * hook answered s. */
    bool (*admin_hook)(void *arg, struct scc_h2_stream *s);
    void *admin_hook_arg;
    /* The provider's wiring (ctl_wire.c), NULL with --provider none; and a
     * second API listener it asks for (the API's public address). */
    struct ctl_wire *wire;
    /* The workspace API (ctl_dbx.c), NULL until started (loop thread). */
    struct dbx *dbx;
    char api_also[64];
};

/* ctl_cfg.c */
extern const struct scc_cfg_opt ctl_cfg_opts[];
extern const size_t ctl_cfg_nopts;
int ctl_cfg_check(const struct ctl_cfg *cfg, char *err, size_t cap);
int ctl_paths_init(struct ctl_paths *p, const char *data_dir);

/* ctl_pki.c: load or create the CA, the server certificate and the admin
 * token; on the calling thread, at start-up only. */
int ctl_pki_init(struct ctl *c);
int ctl_admin_token_init(struct ctl *c);

/* ctl_nodes.c */
struct ctl_issued {
    struct scc_ident id;
    char pem[8192];
    char serial[64];
    int64_t issued_ms, expires_ms;
};
/* ctl_nodes_issue - a node certificate for pub (worker thread: the CA key);
 * the caller records it in the store. */
int ctl_nodes_issue(struct ctl *c, EVP_PKEY *pub, const char *ws, const char *cluster,
                    const char *node, struct ctl_issued *out);
int ctl_nodes_start(struct ctl *c);
void ctl_nodes_stop(struct ctl *c);
void ctl_nodes_enroll(void *arg, const char *body, size_t len, const char *peer,
                      void (*done)(void *done_arg, int status, const char *json), void *done_arg);
bool ctl_nodes_is_revoked(void *arg, const char *serial);
/* ctl_renew.c: struct relay_authority's renew. */
void ctl_nodes_renew(void *arg, const struct scc_ident *id, const char *serial, X509 *cert,
                     void (*done)(void *done_arg, int rc, const char *pem), void *done_arg);
void ctl_nodes_admin_request(void *arg, struct scc_h2_stream *s);

#endif /* SCC_CONTROL_CTL_H */
