/*
 * ctl_nodes.c - nodes' identities: join tokens, enrolment, revocation.
 *
 * A join token is minted for one node (workspace/cluster/node), expires,
 * and works once.  Redeeming it with a CSR yields a certificate for that
 * node's SPIFFE identity, whatever the CSR asked for.  A retry with the
 * same key (the reply was lost) gets the same certificate again; any other
 * second use is refused.  Revoking a node revokes every certificate it
 * ever got and drops its tunnel at once.
 *
 * Admin routes (on sccd.sock, via the relay's admin socket):
 *   POST /v1/join-tokens   {"workspace","cluster","node","ttl_seconds"?}
 *   POST /v1/revocations   {"node": "ws/cluster/node"}
 *   GET  /v1/info
 */
#include "ctl.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/map.h"
#include "common/mem.h"
#include "common/pki.h"
#include "common/time.h"
#include "common/token.h"
#include "common/worker.h"
#include "ctl_store.h"
#include "ctl_wire.h"
#include "tunnel/h2.h"
#include "tunnel/h2body.h"

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENROLL_MAX        (16u << 10)
#define ADMIN_BODY_MAX    (16u << 10)
#define REVOKE_REFRESH_MS 2000
/* Expired join tokens are forgotten an hour after they expire, checked
 * hourly, so that minting tokens (every VM boot mints one) never grows
 * the store without limit. */
#define TOKEN_PURGE_MS (3600 * 1000)

/* ---- enrolment (worker thread) ---- */

struct enroll_job {
    struct ctl *c;
    char *body;
    size_t len;
    char peer[64];
    void (*done)(void *, int, const char *);
    void *done_arg;
    int status;
    char *reply; /* JSON, owned */
    char log[300];
};

static void fail(struct enroll_job *j, int status, const char *code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void
fail(struct enroll_job *j, int status, const char *code, const char *fmt, ...)
{
    char msg[300];
    json_t *o;
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    j->status = status;
    snprintf(j->log, sizeof(j->log), "%.60s: %.200s", code, msg);
    o = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
    j->reply = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
}

static int
key_hash(X509_REQ *csr, char out[SCC_TOKEN_HASH_LEN + 1])
{
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(X509_REQ_get0_pubkey(csr), &der);
    int rc = n > 0 ? scc_sha256_hex(der, (size_t)n, out) : SCC_ETLS;

    OPENSSL_free(der);
    return rc;
}

/* Everything about the token except its single use; on refusal, j says why. */
static int
token_check(struct enroll_job *j, const json_t *req, struct ctl_join_token *row,
            struct scc_token *t)
{
    const char *text = NULL, *node = NULL;
    char path[3 * SCC_IDENT_SEG_MAX + 3];
    int64_t now = (int64_t)scc_time_wall_ms();

    if (scc_json_get_str(req, "token", &text) < 0 || scc_token_parse(text, strlen(text), t) < 0 ||
        t->kind != SCC_TOKEN_JOIN) {
        fail(j, 401, "InvalidJoinToken", "the join token is malformed");
        return SCC_EAUTH;
    }
    if (ctl_store_join_token_get(j->c->store, t->id, row) < 0 ||
        !scc_token_hash_matches(row->hash, t->hash)) {
        fail(j, 401, "InvalidJoinToken", "the join token is not known");
        return SCC_EAUTH;
    }
    snprintf(path, sizeof(path), "%s/%s/%s", row->ws, row->cluster, row->node);
    if (scc_json_get_str(req, "node", &node) == 0 && strcmp(node, path) != 0) {
        fail(j, 403, "JoinTokenForAnotherNode", "the join token is for node %s, not %.200s", path,
             node);
        return SCC_EAUTH;
    }
    if (row->expires_ms <= now) {
        fail(j, 401, "JoinTokenExpired", "the join token for %s expired %llds ago", path,
             (long long)(now - row->expires_ms) / 1000);
        return SCC_EAUTH;
    }
    return 0;
}

int
ctl_nodes_issue(struct ctl *c, EVP_PKEY *pub, const char *ws, const char *cluster, const char *node,
                struct ctl_issued *out)
{
    char uri[SCC_IDENT_URI_MAX + 1];
    struct scc_buf pem;
    X509 *cert = NULL;
    int rc;

    if ((rc = scc_ident_node(&out->id, c->cfg->trust_domain, ws, cluster, node)) < 0 ||
        (rc = scc_ident_format(&out->id, uri, sizeof(uri))) < 0)
        return rc;
    /* Both usages: the same certificate serves the legacy inbound mode,
     * where the agent is the TLS server and the control plane dials in. */
    struct scc_pki_req req = {.cn = node,
                              .uri = uri,
                              .valid_secs = c->cfg->node_cert_ttl_s,
                              .server = true,
                              .client = true};
    if ((rc = scc_pki_issue(c->ca, c->ca_key, pub, &req, &cert)) < 0)
        return rc;
    scc_buf_init(&pem, sizeof(out->pem) - 1);
    if ((rc = scc_pki_cert_to_buf(cert, &pem)) == 0 &&
        (rc = scc_pki_cert_serial(cert, out->serial, sizeof(out->serial))) == 0)
        memcpy(out->pem, pem.data, pem.len + 1);
    scc_buf_fini(&pem);
    X509_free(cert);
    out->issued_ms = (int64_t)scc_time_wall_ms();
    out->expires_ms = out->issued_ms + (int64_t)c->cfg->node_cert_ttl_s * 1000;
    return rc;
}

/* Redeem: one transaction for "mark used" and "record the certificate". */
static void
redeem(struct enroll_job *j, X509_REQ *csr, const struct ctl_join_token *row, const char *khash)
{
    struct ctl_issued is;
    int64_t now = (int64_t)scc_time_wall_ms();
    int rc;

    if (ctl_nodes_issue(j->c, X509_REQ_get0_pubkey(csr), row->ws, row->cluster, row->node, &is) <
        0) {
        fail(j, 500, "InternalError", "could not issue a certificate");
        return;
    }
    if (ctl_store_begin(j->c->store) < 0) {
        fail(j, 503, "StoreBusy", "the state store is busy; retry");
        return;
    }
    rc = ctl_store_join_token_use(j->c->store, row->id, now, khash, is.pem);
    if (rc == 0)
        rc = ctl_store_cert_add(j->c->store, is.serial, &is.id, is.issued_ms, is.expires_ms);
    if (rc < 0 || ctl_store_commit(j->c->store) < 0) {
        ctl_store_rollback(j->c->store);
        if (rc == SCC_EUSED)
            fail(j, 401, "JoinTokenUsed", "the join token was already used");
        else
            fail(j, 503, "StoreError", "could not record the enrolment");
        return;
    }
    j->status = 200;
    snprintf(j->log, sizeof(j->log), "node=%s/%s/%s serial=%s", row->ws, row->cluster, row->node,
             is.serial);
    json_t *o = json_pack("{s:s, s:s}", "certificate", is.pem, "serial", is.serial);
    j->reply = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
}

static void
enroll_job(void *arg)
{
    struct enroll_job *j = arg;
    struct ctl_join_token row;
    struct scc_token t;
    const char *csr_pem = NULL;
    X509_REQ *csr = NULL;
    char khash[SCC_TOKEN_HASH_LEN + 1];
    json_t *req = NULL;

    if (scc_json_parse_object(j->body, j->len, ENROLL_MAX, &req, NULL, 0) < 0) {
        fail(j, 400, "InvalidRequestContent", "the enrolment request is not a JSON object");
        goto out;
    }
    if (token_check(j, req, &row, &t) < 0)
        goto out;
    if (scc_json_get_str(req, "csr", &csr_pem) < 0 ||
        scc_pki_csr_parse(csr_pem, strlen(csr_pem), &csr) < 0 || key_hash(csr, khash) < 0) {
        fail(j, 400, "InvalidCsr", "the CSR is not a valid, self-signed P-256 request");
        goto out;
    }
    if (row.used_ms != 0) {
        char *pem = strcmp(row.used_key, khash) == 0
                            ? ctl_store_join_token_cert(j->c->store, row.id)
                            : NULL;

        /* The same key again: the earlier reply was lost.  Same answer. */
        if (pem) {
            json_t *o = json_pack("{s:s}", "certificate", pem);

            j->status = 200;
            j->reply = o ? json_dumps(o, JSON_COMPACT) : NULL;
            snprintf(j->log, sizeof(j->log), "node=%s/%s/%s (repeated, same key)", row.ws,
                     row.cluster, row.node);
            json_decref(o);
            scc_free(pem);
        } else {
            fail(j, 401, "JoinTokenUsed", "the join token was already used");
        }
        goto out;
    }
    redeem(j, csr, &row, khash);
out:
    X509_REQ_free(csr);
    json_decref(req);
    OPENSSL_cleanse(j->body, j->len);
}

static void
enroll_done(void *arg)
{
    struct enroll_job *j = arg;

    if (j->status == 200)
        scc_log_info(&j->c->log, "enrolled peer=%s %s", j->peer, j->log);
    else
        scc_log_warn(&j->c->log, "enrolment refused peer=%s %s", j->peer, j->log);
    j->done(j->done_arg, j->status ? j->status : 500,
            j->reply ? j->reply : "{\"error\":{\"code\":\"InternalError\",\"message\":\"\"}}");
    free(j->reply);
    scc_free(j->body);
    scc_free(j);
}

void
ctl_nodes_enroll(void *arg, const char *body, size_t len, const char *peer,
                 void (*done)(void *done_arg, int status, const char *json), void *done_arg)
{
    struct ctl *c = arg;
    struct enroll_job *j = scc_calloc(1, sizeof(*j));

    if (j == NULL || (j->body = scc_malloc(len + 1)) == NULL) {
        scc_free(j);
        done(done_arg, 503, "{\"error\":{\"code\":\"Busy\",\"message\":\"out of memory\"}}");
        return;
    }
    memcpy(j->body, body, len);
    j->body[len] = '\0';
    j->len = len;
    j->c = c;
    j->done = done;
    j->done_arg = done_arg;
    snprintf(j->peer, sizeof(j->peer), "%s", peer);
    if (scc_worker_submit(c->worker, enroll_job, enroll_done, j) < 0) {
        scc_free(j->body);
        scc_free(j);
        done(done_arg, 503, "{\"error\":{\"code\":\"Busy\",\"message\":\"try again later\"}}");
    }
}

/* ---- revocations ---- */

bool
ctl_nodes_is_revoked(void *arg, const char *serial)
{
    struct ctl *c = arg;

    return scc_map_get(c->revoked, serial) != NULL;
}

struct refresh_job {
    struct ctl *c;
    int64_t since, started;
    char **serials;
    size_t n, cap;
    bool purge; /* also forget expired join tokens (TOKEN_PURGE_MS) */
    int purged;
};

static void
collect_serial(const char *serial, void *arg)
{
    struct refresh_job *j = arg;
    char **grown;

    if (j->n == j->cap) {
        size_t ncap = j->cap ? j->cap * 2 : 16;

        if ((grown = scc_realloc(j->serials, ncap * sizeof(*grown))) == NULL)
            return;
        j->serials = grown;
        j->cap = ncap;
    }
    if ((j->serials[j->n] = scc_strdup(serial)) != NULL)
        j->n++;
}

static void
refresh_job(void *arg)
{
    struct refresh_job *j = arg;

    (void)ctl_store_revoked_each(j->c->store, j->since, collect_serial, j);
    if (j->purge &&
        ctl_store_join_tokens_purge(j->c->store, j->started - TOKEN_PURGE_MS, &j->purged) < 0)
        j->purge = false;
}

static void
refresh_done(void *arg)
{
    struct refresh_job *j = arg;
    struct ctl *c = j->c;

    for (size_t i = 0; i < j->n; i++) {
        (void)scc_map_put(c->revoked, j->serials[i], c, NULL);
        scc_free(j->serials[i]);
    }
    /* Overlap by a second: a revocation committed by another process
     * while we read is picked up next time, never missed. */
    c->revoked_checked_ms = j->started - 1000;
    c->revoke_refreshing = false;
    if (j->purge) {
        c->tokens_purged_ms = j->started;
        if (j->purged > 0)
            scc_log_info(&c->log, "forgot %d join tokens expired over an hour ago", j->purged);
    }
    scc_free(j->serials);
    scc_free(j);
}

static void
refresh_revocations(struct ctl *c)
{
    struct refresh_job *j;

    if (c->revoke_refreshing || (j = scc_calloc(1, sizeof(*j))) == NULL)
        return;
    j->c = c;
    j->since = c->revoked_checked_ms;
    j->started = (int64_t)scc_time_wall_ms();
    j->purge = j->started - c->tokens_purged_ms >= TOKEN_PURGE_MS;
    c->revoke_refreshing = true;
    if (scc_worker_submit(c->worker, refresh_job, refresh_done, j) < 0) {
        c->revoke_refreshing = false;
        scc_free(j);
    }
}

static void
on_revoke_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    refresh_revocations(arg);
}

/* ---- admin routes ---- */

/* A request handled on the worker; s is NULL once the client is gone. */
struct admin_job {
    struct ctl *c;
    struct scc_h2_stream *s;
    json_t *req;
    int status;
    json_t *reply;
    struct scc_ident id;
    int revoked;
    bool is_revoke; /* a revocation that succeeded */
};

static void
admin_stream_closed(struct scc_h2_stream *s, uint32_t code, void *arg)
{
    (void)s, (void)code;
    ((struct admin_job *)arg)->s = NULL;
}

static void
admin_reply_error(struct admin_job *j, int status, const char *code, const char *msg)
{
    j->status = status;
    j->reply = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
}

static void
join_token_job(void *arg)
{
    struct admin_job *j = arg;
    struct ctl *c = j->c;
    const char *ws = NULL, *cl = NULL, *node = NULL;
    int64_t ttl = c->cfg->join_token_ttl_ms / 1000, now = (int64_t)scc_time_wall_ms();
    char text[SCC_TOKEN_MAX], uri[SCC_IDENT_URI_MAX + 1], exp[40];
    struct ctl_join_token row;
    struct scc_token t;
    int rc;

    if (scc_json_get_str(j->req, "workspace", &ws) < 0 ||
        scc_json_get_str(j->req, "cluster", &cl) < 0 ||
        scc_json_get_str(j->req, "node", &node) < 0 ||
        scc_ident_node(&j->id, c->cfg->trust_domain, ws, cl, node) < 0) {
        admin_reply_error(
                j, 400, "InvalidParameter",
                "workspace, cluster and node are required: 1-64 characters of [A-Za-z0-9._-]");
        return;
    }
    rc = scc_json_get_int(j->req, "ttl_seconds", 1, 7 * 86400, &ttl);
    if (rc == SCC_EINVAL || rc == SCC_ERANGE) {
        admin_reply_error(j, 400, "InvalidParameter", "ttl_seconds must be 1..604800");
        return;
    }
    memset(&row, 0, sizeof(row));
    if (scc_token_new(SCC_TOKEN_JOIN, text, &t) < 0) {
        admin_reply_error(j, 500, "InternalError", "no randomness");
        return;
    }
    memcpy(row.id, t.id, sizeof(row.id));
    memcpy(row.hash, t.hash, sizeof(row.hash));
    snprintf(row.ws, sizeof(row.ws), "%s", ws);
    snprintf(row.cluster, sizeof(row.cluster), "%s", cl);
    snprintf(row.node, sizeof(row.node), "%s", node);
    row.created_ms = now;
    row.expires_ms = now + ttl * 1000;
    if (ctl_store_join_token_add(c->store, &row) < 0) {
        admin_reply_error(j, 503, "StoreError", "could not store the token");
        OPENSSL_cleanse(text, sizeof(text));
        return;
    }
    (void)scc_ident_format(&j->id, uri, sizeof(uri));
    (void)scc_time_format_rfc3339((uint64_t)row.expires_ms, exp, sizeof(exp));
    j->status = 201;
    j->reply = json_pack("{s:s, s:s, s:s, s:s}", "token", text, "id", row.id, "identity", uri,
                         "expires_at", exp);
    OPENSSL_cleanse(text, sizeof(text));
}

static void
revoke_job(void *arg)
{
    struct admin_job *j = arg;
    const char *node = NULL;
    bool known = false;

    if (scc_json_get_str(j->req, "node", &node) < 0 ||
        scc_ident_parse_path(node, j->c->cfg->trust_domain, &j->id) < 0) {
        admin_reply_error(j, 400, "InvalidParameter", "node must be ws/cluster/node");
        return;
    }
    if (ctl_store_node_known(j->c->store, &j->id, &known) < 0 || !known) {
        admin_reply_error(j, 404, "NodeNotFound", "no certificate was ever issued to that node");
        return;
    }
    if (ctl_store_cert_revoke_node(j->c->store, &j->id, (int64_t)scc_time_wall_ms(), &j->revoked) <
        0) {
        admin_reply_error(j, 503, "StoreError", "could not record the revocation");
        return;
    }
    j->status = 200;
    j->is_revoke = true;
    j->reply = json_pack("{s:s, s:i}", "node", node, "revoked_certificates", j->revoked);
}

static void
admin_done(void *arg)
{
    struct admin_job *j = arg;

    if (j->s) {
        scc_h2_stream_set_cbs(j->s, NULL, NULL);
        scc_h2_reply_json(j->s, j->status, j->reply);
    } else {
        json_decref(j->reply);
    }
    if (j->is_revoke) {
        /* A revocation: the relay learns the serials now, and the tunnel
         * goes at once rather than at its next reconnect. */
        refresh_revocations(j->c);
        if (j->c->disconnect)
            j->c->disconnect(j->c->disconnect_arg, &j->id);
        scc_log_info(&j->c->log, "revoked node=%s/%s/%s certificates=%d", j->id.ws, j->id.cluster,
                     j->id.node, j->revoked);
    }
    json_decref(j->req);
    scc_free(j);
}

struct route_ctx {
    struct ctl *c;
    scc_worker_fn job;
};

static void
body_ready(struct scc_h2_stream *s, json_t *body, void *arg)
{
    static const struct scc_h2_stream_cbs cbs = {.on_close = admin_stream_closed};
    struct route_ctx *rc = arg;
    struct admin_job *j;

    if (body == NULL) {
        scc_free(rc);
        return;
    }
    if ((j = scc_calloc(1, sizeof(*j))) == NULL) {
        scc_h2_reply_error(s, 503, "Busy", "out of memory");
        scc_free(rc);
        return;
    }
    j->c = rc->c;
    j->s = s;
    j->req = json_incref(body);
    scc_h2_stream_set_cbs(s, &cbs, j);
    if (scc_worker_submit(rc->c->worker, rc->job, admin_done, j) < 0) {
        scc_h2_stream_set_cbs(s, NULL, NULL);
        scc_h2_reply_error(s, 503, "Busy", "the control plane is busy; retry");
        json_decref(j->req);
        scc_free(j);
    }
    scc_free(rc);
}

static void
with_body(struct ctl *c, struct scc_h2_stream *s, scc_worker_fn job)
{
    struct route_ctx *rc = scc_calloc(1, sizeof(*rc));

    if (rc == NULL) {
        scc_h2_stream_reset(s, 2);
        return;
    }
    rc->c = c;
    rc->job = job;
    if (scc_h2_body_collect(c->base, s, ADMIN_BODY_MAX, c->cfg->request_timeout_ms, body_ready,
                            rc) < 0) {
        scc_free(rc);
        scc_h2_stream_reset(s, 2);
    }
}

void
ctl_nodes_admin_request(void *arg, struct scc_h2_stream *s)
{
    struct ctl *c = arg;
    const struct scc_h2_head *h = scc_h2_stream_head(s);
    const char *scope = scc_h2_stream_header(s, "scc-scope");

    if (scope && strcmp(scope, "*") != 0) {
        scc_h2_reply_error(s, 403, "AuthorizationFailed",
                           "this operation needs an administrator token");
        return;
    }
    if (h->path && strcmp(h->method, "POST") == 0 && strcmp(h->path, "/v1/join-tokens") == 0)
        with_body(c, s, join_token_job);
    else if (h->path && strcmp(h->method, "POST") == 0 && strcmp(h->path, "/v1/revocations") == 0)
        with_body(c, s, revoke_job);
    else if (h->path && strcmp(h->method, "GET") == 0 && strcmp(h->path, "/v1/info") == 0)
        scc_h2_reply_json(s, 200,
                          json_pack("{s:s, s:s, s:s, s:s}", "version", SCC_VERSION, "trust_domain",
                                    c->cfg->trust_domain, "relay", c->cfg->relay_listen, "api",
                                    c->cfg->api_listen));
    else if (ctl_wire_admin_request(c, s))
        return; /* the provider's status and gc */
    else if (c->admin_hook && c->admin_hook(c->admin_hook_arg, s))
        return; /* the management API's routes (API tokens, ...) */
    else
        scc_h2_reply_error(s, 404, "NotFound", "no admin route %s %.200s", h->method,
                           h->path ? h->path : h->authority);
}

int
ctl_nodes_start(struct ctl *c)
{
    struct timeval tv = {REVOKE_REFRESH_MS / 1000, (REVOKE_REFRESH_MS % 1000) * 1000};
    struct refresh_job j = {.c = c, .since = 0, .started = (int64_t)scc_time_wall_ms()};
    int rc;

    if ((rc = scc_map_new(&c->revoked)) < 0)
        return rc;
    /* Load every revocation before the relay accepts its first tunnel. */
    if ((rc = scc_worker_run_sync(c->worker, refresh_job, &j)) < 0)
        return rc;
    for (size_t i = 0; i < j.n; i++) {
        (void)scc_map_put(c->revoked, j.serials[i], c, NULL);
        scc_free(j.serials[i]);
    }
    scc_free(j.serials);
    c->revoked_checked_ms = j.started - 1000;
    if ((c->revoke_timer = event_new(c->base, -1, EV_PERSIST, on_revoke_timer, c)) == NULL)
        return SCC_ENOMEM;
    return event_add(c->revoke_timer, &tv) == 0 ? 0 : SCC_ENOMEM;
}

void
ctl_nodes_stop(struct ctl *c)
{
    if (c->revoke_timer)
        event_free(c->revoke_timer);
    c->revoke_timer = NULL;
    scc_map_free(c->revoked);
    c->revoked = NULL;
}
