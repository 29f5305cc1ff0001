#include "agent_enroll.h"

#include "agent.h"
#include "agent_link.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/file.h"
#include "common/json.h"
#include "common/mem.h"
#include "common/pki.h"
#include "common/time.h"
#include "common/tls.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define ENROLL_BODY_MAX (64u << 10)
#define TOKEN_FILE_MAX  4096

struct enroll {
    struct agent *a;
    struct scc_buf resp;
    int status;
    agent_enroll_done_cb done;
    void *arg;
};

static int
path_in_state(const struct agent *a, const char *name, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s", a->cfg->state_dir, name);

    return n < 0 || (size_t)n >= cap ? SCC_ETRUNC : 0;
}

/* ---- the request ---- */

static int
read_token(const struct agent *a, char *out, size_t cap)
{
    struct scc_buf b;
    int rc = 0;

    if (a->cfg->join_token) {
        if (strlen(a->cfg->join_token) >= cap)
            return SCC_ETOOBIG;
        memcpy(out, a->cfg->join_token, strlen(a->cfg->join_token) + 1);
        return 0;
    }
    if (a->cfg->join_token_file == NULL)
        return SCC_ENOTFOUND;
    scc_buf_init(&b, TOKEN_FILE_MAX);
    if ((rc = scc_file_read(a->cfg->join_token_file, TOKEN_FILE_MAX, &b)) == 0) {
        while (b.len > 0 &&
               (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r' || b.data[b.len - 1] == ' '))
            b.len--;
        if (b.len >= cap)
            rc = SCC_ETOOBIG;
        else {
            memcpy(out, b.data, b.len);
            out[b.len] = '\0';
        }
    }
    OPENSSL_cleanse(b.data, b.cap);
    scc_buf_fini(&b);
    return rc;
}

/* The CSR carries only the public key: the identity is the one the join
 * token was minted for, which the CA decides (the "node" field of the
 * request only lets this node refuse a token meant for another). */
static int
csr_pem(struct agent *a, struct scc_buf *out)
{
    X509_REQ *csr = NULL;
    BIO *bio = NULL;
    char *data;
    long n;
    int rc;

    if ((rc = scc_pki_csr_new(a->node_key, NULL, &csr)) < 0)
        return rc;
    rc = SCC_ETLS;
    if ((bio = BIO_new(BIO_s_mem())) != NULL && PEM_write_bio_X509_REQ(bio, csr) == 1 &&
        (n = BIO_get_mem_data(bio, &data)) > 0)
        rc = scc_buf_put(out, data, (size_t)n);
    BIO_free(bio);
    X509_REQ_free(csr);
    return rc;
}

static char *
request_body(struct agent *a)
{
    char token[256];
    struct scc_buf csr;
    json_t *o = NULL;
    char *body = NULL;

    scc_buf_init(&csr, 8192);
    if (read_token(a, token, sizeof(token)) < 0 || csr_pem(a, &csr) < 0)
        goto out;
    o = json_pack("{s:s, s:s}", "token", token, "csr", scc_buf_str(&csr));
    if (o && a->cfg->node)
        json_object_set_new(o, "node", json_string(a->cfg->node));
    if (o)
        body = json_dumps(o, JSON_COMPACT);
out:
    OPENSSL_cleanse(token, sizeof(token));
    json_decref(o);
    scc_buf_fini(&csr);
    return body;
}

/* ---- the response ---- */

static int
cert_check(struct agent *a, X509 *cert)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509 *ca = NULL;
    int rc = SCC_EAUTH;

    if (store == NULL || ctx == NULL || scc_pki_cert_read(a->cfg->ca, &ca) < 0)
        goto out;
    if (X509_check_private_key(cert, a->node_key) != 1)
        goto out;
    if (X509_STORE_add_cert(store, ca) != 1 || X509_STORE_CTX_init(ctx, store, cert, NULL) != 1)
        goto out;
    if (X509_verify_cert(ctx) == 1)
        rc = 0;
out:
    ERR_clear_error();
    X509_free(ca);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return rc;
}

/* A checked certificate: on disk first (a failed write changes nothing),
 * then in use for the next dial. */
static int
keep_cert(struct agent *a, X509 *cert)
{
    char path[4096];
    int rc;

    if ((rc = path_in_state(a, "node.crt", path, sizeof(path))) < 0 ||
        (rc = scc_pki_cert_write(path, cert)) < 0 || (rc = agent_identity_set(a, cert)) < 0)
        return rc;
    return agent_tls_tunnel_ctx(a);
}

static int
accept_cert(struct agent *a, const char *pem)
{
    X509 *cert = NULL;
    int rc;

    if ((rc = scc_pki_cert_from_pem(pem, strlen(pem), &cert)) < 0)
        return rc;
    if ((rc = cert_check(a, cert)) == 0)
        rc = keep_cert(a, cert);
    X509_free(cert);
    return rc;
}

int
agent_cert_renewed(struct agent *a, const char *pem, char *err, size_t cap)
{
    char uri[SCC_IDENT_URI_MAX + 1], until[40] = "";
    int64_t ours = 0, theirs = 0;
    X509 *cert = NULL;
    int rc;

    if ((rc = scc_pki_cert_from_pem(pem, strlen(pem), &cert)) < 0) {
        snprintf(err, cap, "not a PEM certificate");
        goto out;
    }
    if ((rc = cert_check(a, cert)) < 0) {
        snprintf(err, cap, "not issued by our CA for this node's key");
        goto out;
    }
    rc = SCC_EINVAL;
    if (scc_pki_cert_uri(cert, uri, sizeof(uri)) < 0 || strcmp(uri, a->ident_uri) != 0) {
        snprintf(err, cap, "it names another identity than %s", a->ident_uri);
        goto out;
    }
    if (scc_pki_cert_not_after(a->node_cert, &ours) < 0 ||
        scc_pki_cert_not_after(cert, &theirs) < 0 || theirs <= ours) {
        snprintf(err, cap, "it does not outlast the certificate in use");
        goto out;
    }
    if ((rc = keep_cert(a, cert)) < 0) {
        snprintf(err, cap, "cannot keep it: %s", scc_strerror(rc));
        goto out;
    }
    for (size_t i = 0; i < a->nlinks; i++)
        agent_link_forget_session(a->links[i]);
    if ((rc = agent_legacy_reload(a)) < 0) {
        snprintf(err, cap, "cannot serve it in legacy mode: %s", scc_strerror(rc));
        goto out;
    }
    (void)scc_time_format_rfc3339((uint64_t)theirs * 1000, until, sizeof(until));
    scc_log_info(&a->log, "certificate renewed: valid until %s", until);
out:
    X509_free(cert);
    return rc;
}

static void
finish(struct enroll *e)
{
    json_t *o = NULL;
    const char *pem = NULL, *msg = "no message";
    json_t *err;
    int rc = SCC_EPROTO;

    if (scc_json_parse_object(e->resp.data, e->resp.len, ENROLL_BODY_MAX, &o, NULL, 0) == 0 &&
        (err = json_object_get(o, "error")) != NULL)
        msg = json_string_value(json_object_get(err, "message"))
                      ? json_string_value(json_object_get(err, "message"))
                      : msg;
    if (e->status == 200 && o && scc_json_get_str(o, "certificate", &pem) == 0) {
        rc = accept_cert(e->a, pem);
        if (rc == 0) {
            scc_log_info(&e->a->log, "enrolled identity=%s", e->a->ident_uri);
        } else {
            scc_log_error_rc(&e->a->log, rc, "the certificate we received is not usable");
        }
    } else if (e->status == 400 || e->status == 401 || e->status == 403) {
        scc_log_error(&e->a->log, "join token refused (HTTP %d): %s", e->status, msg);
        rc = SCC_EAUTH;
    } else {
        scc_log_warn(&e->a->log, "enrolment failed (HTTP %d): %s", e->status, msg);
    }
    json_decref(o);
    e->done(e->arg, rc);
}

static void
on_head(struct scc_h2_stream *s, void *arg)
{
    ((struct enroll *)arg)->status = scc_h2_stream_head(s)->status;
}

static void
on_data(struct scc_h2_stream *s, const uint8_t *data, size_t len, void *arg)
{
    struct enroll *e = arg;

    /* Past the limit the reply is truncated and will fail to parse. */
    (void)scc_buf_put(&e->resp, data, len);
    scc_h2_stream_consume(s, len);
}

static void
on_close(struct scc_h2_stream *s, uint32_t code, void *arg)
{
    struct enroll *e = arg;

    (void)s;
    if (code == 0)
        finish(e);
    else
        e->done(e->arg, SCC_ECLOSED);
    scc_buf_fini(&e->resp);
    scc_free(e);
}

int
agent_enroll_request(struct agent *a, struct scc_h2 *h2, const char *authority,
                     agent_enroll_done_cb done, void *arg)
{
    static const struct scc_h2_stream_cbs cbs = {
            .on_head = on_head, .on_data = on_data, .on_close = on_close};
    const struct scc_h2_hdr hdrs[] = {{"content-type", "application/json"}};
    struct enroll *e = NULL;
    struct scc_h2_stream *s = NULL;
    char *body = request_body(a);
    int rc = SCC_ENOTFOUND;

    if (body == NULL) {
        scc_log_error(&a->log, "cannot enrol: no usable join token (give --join-token or "
                               "--join-token-file)");
        goto out;
    }
    rc = SCC_ENOMEM;
    if ((e = scc_calloc(1, sizeof(*e))) == NULL)
        goto out;
    e->a = a;
    e->done = done;
    e->arg = arg;
    scc_buf_init(&e->resp, ENROLL_BODY_MAX);
    if ((rc = scc_h2_request(h2, "POST", "/v1/enroll", authority, hdrs, 1, false, &cbs, e, &s)) < 0)
        goto out;
    e = NULL; /* on_close frees it */
    if ((rc = scc_h2_stream_write(s, body, strlen(body))) == 0)
        rc = scc_h2_stream_end(s);
out:
    if (e)
        scc_buf_fini(&e->resp);
    scc_free(e);
    if (body) {
        OPENSSL_cleanse(body, strlen(body));
        free(body); /* from jansson's json_dumps */
    }
    return rc;
}

/* ---- at start-up ---- */

static int
load_or_make_key(struct agent *a)
{
    char path[4096];
    int rc;

    if ((rc = path_in_state(a, "node.key", path, sizeof(path))) < 0)
        return rc;
    rc = scc_pki_key_read(path, &a->node_key);
    if (rc == -ENOENT) {
        if ((rc = scc_pki_key_new(&a->node_key)) < 0 ||
            (rc = scc_pki_key_write(path, a->node_key)) < 0)
            return rc;
        scc_log_info(&a->log, "generated node key %s", path);
        return 0;
    }
    if (rc < 0)
        scc_log_error_rc(&a->log, rc, "cannot read node key %s", path);
    return rc;
}

static void
load_cert(struct agent *a)
{
    char path[4096];
    X509 *cert = NULL;
    int64_t not_after = 0;

    if (path_in_state(a, "node.crt", path, sizeof(path)) < 0 || scc_pki_cert_read(path, &cert) < 0)
        return;
    if (cert_check(a, cert) < 0 || scc_pki_cert_not_after(cert, &not_after) < 0 ||
        not_after <= (int64_t)time(NULL)) {
        scc_log_warn(&a->log, "ignoring %s: expired, or not ours, or not from this CA", path);
    } else if (agent_identity_set(a, cert) == 0 && agent_tls_tunnel_ctx(a) == 0) {
        scc_log_info(&a->log, "identity=%s (certificate valid for %lld h)", a->ident_uri,
                     (long long)(not_after - time(NULL)) / 3600);
    }
    X509_free(cert);
}

int
agent_identity_set(struct agent *a, X509 *cert)
{
    char uri[SCC_IDENT_URI_MAX + 1];
    struct scc_ident id;

    if (scc_pki_cert_uri(cert, uri, sizeof(uri)) < 0 ||
        scc_ident_parse(uri, strlen(uri), &id) < 0 || id.kind != SCC_IDENT_NODE)
        return SCC_EINVAL;
    a->ident = id;
    memcpy(a->ident_uri, uri, strlen(uri) + 1);
    X509_free(a->node_cert);
    X509_up_ref(cert);
    a->node_cert = cert;
    return 0;
}

int
agent_tls_tunnel_ctx(struct agent *a)
{
    const char *alpn[] = {SCC_ALPN_TUNNEL};
    struct scc_tls_cfg cfg = {.ca_file = a->cfg->ca,
                              .cert = a->node_cert,
                              .key = a->node_key,
                              .alpn = alpn,
                              .nalpn = 1};
    SSL_CTX *ctx = NULL;
    int rc;

    if ((rc = scc_tls_ctx_client(&cfg, &ctx)) < 0)
        return rc;
    SSL_CTX_sess_set_new_cb(ctx, agent_tls_new_session);
    SSL_CTX_free(a->tls_tunnel);
    a->tls_tunnel = ctx;
    a->enrolled = true;
    return 0;
}

int
agent_identity_load(struct agent *a)
{
    const char *alpn[] = {SCC_ALPN_ENROLL};
    struct scc_tls_cfg cfg = {.ca_file = a->cfg->ca, .alpn = alpn, .nalpn = 1};
    char why[256];
    int rc;

    if ((rc = scc_dir_ensure(a->cfg->state_dir, 0700)) < 0) {
        scc_log_error_rc(&a->log, rc, "cannot use state dir %s", a->cfg->state_dir);
        return rc;
    }
    if ((rc = load_or_make_key(a)) < 0)
        return rc;
    if ((rc = scc_tls_ctx_client(&cfg, &a->tls_enroll)) < 0) {
        scc_log_error(&a->log, "cannot load CA %s: %s", a->cfg->ca,
                      scc_tls_errors(why, sizeof(why)));
        return rc;
    }
    load_cert(a);
    if (!a->enrolled && a->cfg->join_token == NULL && a->cfg->join_token_file == NULL) {
        scc_log_error(&a->log, "this node is not enrolled yet: give --join-token");
        return SCC_EINVAL;
    }
    return 0;
}

void
agent_identity_free(struct agent *a)
{
    SSL_CTX_free(a->tls_tunnel);
    SSL_CTX_free(a->tls_enroll);
    X509_free(a->node_cert);
    EVP_PKEY_free(a->node_key);
    a->tls_tunnel = a->tls_enroll = NULL;
    a->node_cert = NULL;
    a->node_key = NULL;
}
