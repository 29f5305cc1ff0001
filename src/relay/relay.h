/*
 * relay.h - the relay: where agents' tunnels arrive, and from where the
 * control plane reaches them.
 *
 *   relay.c         lifecycle, listeners, the tunnel registry
 *   relay_accept.c  TLS handshakes: mutual-TLS tunnels and enrolments
 *   relay_admin.c   the admin socket: list nodes, route requests to them
 *   relay_proxy.c   one admin stream spliced to one tunnel stream
 *   relay_renew.c   node certificates renewed over their own tunnels
 *   relay_metrics.c Prometheus metrics, /healthz and /readyz
 *
 * The relay is an HTTP/2 *client* on every tunnel (the agent dialled, but
 * the relay asks).  It never touches the state store: join tokens,
 * certificates and revocations come from the control plane through struct
 * relay_authority, which sccd wires in.
 */
#ifndef SCC_RELAY_RELAY_H
#define SCC_RELAY_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "common/ident.h"

struct event_base;
struct relay;
struct scc_h2_stream;
struct scc_h2_stream_cbs;

/* Reply to an enrolment: status and JSON body (copied). */
typedef void (*relay_enroll_done_cb)(void *done_arg, int status, const char *json);
/* A renewed certificate: rc 0 and its PEM (copied), or rc < 0 and NULL. */
typedef void (*relay_renew_done_cb)(void *done_arg, int rc, const char *pem);

struct relay_authority {
    /* Check a join token and sign the CSR in the JSON request body, on
     * the control plane's worker thread; done runs on the loop later. */
    void (*enroll)(void *arg, const char *body, size_t len, const char *peer,
                   relay_enroll_done_cb done, void *done_arg);
    /* A fresh certificate for the node whose current one (serial) has
     * authenticated a tunnel: the same identity and public key (the
     * handshake proved the node holds the key).  On the worker thread;
     * done runs on the loop later.  NULL: certificates are not renewed. */
    void (*renew)(void *arg, const struct scc_ident *id, const char *serial, X509 *cert,
                  relay_renew_done_cb done, void *done_arg);
    /* Is the certificate with this serial (lowercase hex) revoked?  Called
     * on the loop: answer from memory. */
    bool (*is_revoked)(void *arg, const char *serial);
    /* An admin-socket request the relay does not serve itself; the
     * callee answers on s.  NULL: 404. */
    void (*admin_request)(void *arg, struct scc_h2_stream *s);
    void *arg;
};

struct relay_cfg {
    const char *listen;         /* tunnel port, e.g. 127.0.0.2:8443 */
    const char *admin_socket;   /* Unix socket path for sccctl / the API */
    const char *metrics_listen; /* plain HTTP on loopback: /metrics, /healthz, /readyz */
    const char *cert_file, *key_file, *ca_file;
    const char *control_cert_file, *control_key_file; /* to dial legacy nodes; may be NULL */
    const char *trust_domain;
    uint32_t keepalive_ms;
    uint32_t dead_after_ms;
    uint32_t handshake_timeout_ms;
    uint32_t request_timeout_ms; /* response head deadline for proxied requests */
    uint32_t max_tunnels;        /* beyond: GOAWAY "retry-after" */
    uint32_t max_handshakes;     /* concurrent; beyond, stop accepting for a moment */
    uint32_t retry_after_s;
};

int relay_new(struct event_base *base, const struct relay_cfg *cfg,
              const struct relay_authority *auth, struct relay **out);
void relay_free(struct relay *r);

/* relay_bound - the addresses the tunnel listeners got, comma-separated
 * (port 0 resolved). */
const char *relay_bound(const struct relay *r);
const char *relay_metrics_bound(const struct relay *r);

/* relay_disconnect - drop the tunnel of id now (e.g. just revoked). */
void relay_disconnect(struct relay *r, const struct scc_ident *id, const char *why);

/* ---- the control plane's own requests to nodes (relay_call.c) ---- */

struct relay_call;

struct relay_call_req {
    const char *node;   /* "ws/cluster/node" */
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* with its query */
    const char *body;   /* JSON text, or NULL for none */
    size_t max_answer;  /* bytes of answer body kept; more ends the call */
    uint32_t timeout_ms;
};

/* The answer: status is the HTTP status with body (NUL-terminated, len
 * bytes; valid during the call), or a negative error with body NULL:
 * SCC_ETIMEOUT, SCC_ETOOBIG (past max_answer), SCC_ECLOSED (the tunnel
 * or the stream went away first). */
typedef void (*relay_call_cb)(void *arg, int status, const char *body, size_t len);

/*
 * relay_call - send req to its node over the node's tunnel; cb runs once,
 * later, on the loop (never from inside this call).  *out (may be NULL)
 * is valid until cb runs, for relay_call_cancel.  Returns 0,
 * SCC_ENOTFOUND (the node has no tunnel here), SCC_EBUSY (its stream
 * limit) or SCC_ENOMEM.
 */
int relay_call(struct relay *r, const struct relay_call_req *req, relay_call_cb cb, void *arg,
               struct relay_call **out);
/* relay_call_cancel - cb will not run; the stream is reset.  NULL-safe. */
void relay_call_cancel(struct relay_call *c);
/*
 * relay_connect - open a CONNECT stream to authority ("127.0.0.1:4040", as
 * the node sees it) on node's tunnel, with the caller's stream callbacks
 * (tunnel/h2.h): the response head says whether the node could dial.  The
 * stream is the caller's until its on_close.  Returns 0, SCC_ENOTFOUND (no
 * tunnel), SCC_EBUSY or SCC_ENOMEM.
 */
int relay_connect(struct relay *r, const char *node, const char *authority,
                  const struct scc_h2_stream_cbs *cbs, void *arg, struct scc_h2_stream **out);
/* relay_node_connected - does node ("ws/cluster/node") have a live tunnel? */
bool relay_node_connected(struct relay *r, const char *node);

/* relay_drain - GOAWAY to every tunnel; stop accepting. */
void relay_drain(struct relay *r);
size_t relay_tunnel_count(const struct relay *r);

#endif /* SCC_RELAY_RELAY_H */
