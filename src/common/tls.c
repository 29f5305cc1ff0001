#include "tls.h"

#include "err.h"
#include "pki.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#define ALPN_WIRE_MAX 128

int
scc_tls_init(void)
{
    uint64_t opts = OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ATEXIT;

    return OPENSSL_init_ssl(opts, NULL) == 1 ? 0 : SCC_ETLS;
}

const char *
scc_tls_errors(char *buf, size_t cap)
{
    unsigned long e;
    size_t off = 0;

    buf[0] = '\0';
    while ((e = ERR_get_error()) != 0) {
        char one[256];
        int n;

        ERR_error_string_n(e, one, sizeof(one));
        n = snprintf(buf + off, cap - off, "%s%s", off ? "; " : "", one);
        if (n < 0 || (size_t)n >= cap - off) {
            ERR_clear_error();
            break;
        }
        off += (size_t)n;
    }
    return buf;
}

/* ALPN names in wire format: each prefixed by its length byte. */
static int
alpn_wire(const struct scc_tls_cfg *cfg, unsigned char *out, size_t cap, size_t *len)
{
    size_t off = 0;

    for (size_t i = 0; i < cfg->nalpn; i++) {
        size_t n = strlen(cfg->alpn[i]);

        if (n == 0 || n > 255 || off + 1 + n > cap)
            return SCC_EINVAL;
        out[off++] = (unsigned char)n;
        memcpy(out + off, cfg->alpn[i], n);
        off += n;
    }
    *len = off;
    return 0;
}

static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
            unsigned int inlen, void *arg)
{
    const struct {
        unsigned char wire[ALPN_WIRE_MAX];
        size_t len;
    } *server = arg;
    unsigned char *sel = NULL;
    unsigned char sellen = 0;

    (void)ssl;
    /* Server preference order; no overlap is fatal: a peer that cannot
     * say which protocol it speaks gets nothing. */
    if (SSL_select_next_proto(&sel, &sellen, server->wire, (unsigned int)server->len, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = sel;
    *outlen = sellen;
    return SSL_TLSEXT_ERR_OK;
}

static int ctx_alpn_index = -1;

static void
alpn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    OPENSSL_free(ptr);
}

static int
load_identity(SSL_CTX *ctx, const struct scc_tls_cfg *cfg)
{
    if (cfg->cert && SSL_CTX_use_certificate(ctx, cfg->cert) != 1)
        return SCC_ETLS;
    if (cfg->key && SSL_CTX_use_PrivateKey(ctx, cfg->key) != 1)
        return SCC_ETLS;
    if (cfg->cert_file && SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1)
        return SCC_ETLS;
    if (cfg->key_file && SSL_CTX_use_PrivateKey_file(ctx, cfg->key_file, SSL_FILETYPE_PEM) != 1)
        return SCC_ETLS;
    if ((cfg->cert || cfg->cert_file) && SSL_CTX_check_private_key(ctx) != 1)
        return SCC_ETLS;
    return 0;
}

static int
load_trust(SSL_CTX *ctx, const struct scc_tls_cfg *cfg)
{
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);

    if (cfg->ca && X509_STORE_add_cert(store, cfg->ca) != 1)
        return SCC_ETLS;
    if (cfg->ca_file && SSL_CTX_load_verify_locations(ctx, cfg->ca_file, NULL) != 1)
        return SCC_ETLS;
    return 0;
}

static int
ctx_common(SSL_CTX *ctx, const struct scc_tls_cfg *cfg)
{
    int rc;

    if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
        return SCC_ETLS;
    if (SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
                                      "TLS_CHACHA20_POLY1305_SHA256") != 1 ||
        SSL_CTX_set1_groups_list(ctx, "X25519:P-256") != 1)
        return SCC_ETLS;
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* HTTP/2 frames its own ends, so a missing close_notify cannot truncate
     * a message unnoticed; treat it as an ordinary EOF. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    /* Not SSL_MODE_RELEASE_BUFFERS: it frees and allocates both record
     * buffers around every record.  A tunnel gives them back once it goes
     * quiet instead (scc_tio_trim). */
    if ((rc = load_identity(ctx, cfg)) < 0 || (rc = load_trust(ctx, cfg)) < 0)
        return rc;
    return 0;
}

int
scc_tls_ctx_server(const struct scc_tls_cfg *cfg, SSL_CTX **out)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    struct {
        unsigned char wire[ALPN_WIRE_MAX];
        size_t len;
    } *alpn = NULL;
    int rc = SCC_ETLS, mode;

    *out = NULL;
    if (ctx == NULL || (rc = ctx_common(ctx, cfg)) < 0)
        goto out;
    if (cfg->ca || cfg->ca_file) {
        mode = SSL_VERIFY_PEER | (cfg->require_peer_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
        SSL_CTX_set_verify(ctx, mode, NULL);
    }
    SSL_CTX_set_num_tickets(ctx, 1);
    /* Without a session id context, OpenSSL refuses to resume sessions
     * that carry a client certificate. */
    if (SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"scc", 3) != 1)
        goto out;
    if (cfg->nalpn > 0) {
        rc = SCC_ENOMEM;
        if (ctx_alpn_index < 0)
            ctx_alpn_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, alpn_free);
        if (ctx_alpn_index < 0 || (alpn = OPENSSL_zalloc(sizeof(*alpn))) == NULL)
            goto out;
        if ((rc = alpn_wire(cfg, alpn->wire, sizeof(alpn->wire), &alpn->len)) < 0)
            goto out;
        rc = SCC_ETLS;
        if (SSL_CTX_set_ex_data(ctx, ctx_alpn_index, alpn) != 1)
            goto out;
        SSL_CTX_set_alpn_select_cb(ctx, alpn_select, alpn);
        alpn = NULL; /* the context frees it */
    }
    *out = ctx;
    ctx = NULL;
    rc = 0;
out:
    OPENSSL_free(alpn);
    SSL_CTX_free(ctx);
    return rc;
}

int
scc_tls_ctx_client(const struct scc_tls_cfg *cfg, SSL_CTX **out)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    unsigned char wire[ALPN_WIRE_MAX];
    size_t wlen = 0;
    int rc = SCC_ETLS;

    *out = NULL;
    if (ctx == NULL || (rc = ctx_common(ctx, cfg)) < 0)
        goto out;
    if (cfg->ca || cfg->ca_file)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    /* Keep tickets for resumption: the caller stores them with a
     * new-session callback (SSL_CTX_sess_set_new_cb). */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    if (cfg->nalpn > 0) {
        if ((rc = alpn_wire(cfg, wire, sizeof(wire), &wlen)) < 0)
            goto out;
        rc = SCC_ETLS;
        /* Unlike most of OpenSSL, this returns 0 on success. */
        if (SSL_CTX_set_alpn_protos(ctx, wire, (unsigned int)wlen) != 0)
            goto out;
    }
    *out = ctx;
    ctx = NULL;
    rc = 0;
out:
    SSL_CTX_free(ctx);
    return rc;
}

int
scc_tls_set_peer_name(SSL *ssl, const char *host)
{
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    ASN1_OCTET_STRING *ip = a2i_IPADDRESS(host);

    if (ip) {
        ASN1_OCTET_STRING_free(ip);
        return X509_VERIFY_PARAM_set1_ip_asc(param, host) == 1 ? 0 : SCC_ETLS;
    }
    ERR_clear_error();
    if (SSL_set_tlsext_host_name(ssl, host) != 1 || SSL_set1_host(ssl, host) != 1)
        return SCC_ETLS;
    return 0;
}

int
scc_tls_peer_uri(SSL *ssl, char *out, size_t cap)
{
    X509 *peer = SSL_get0_peer_certificate(ssl);

    if (peer == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
        return SCC_EAUTH;
    return scc_pki_cert_uri(peer, out, cap);
}

void
scc_tls_alpn(SSL *ssl, char *out, size_t cap)
{
    const unsigned char *p = NULL;
    unsigned int n = 0;

    SSL_get0_alpn_selected(ssl, &p, &n);
    if (p == NULL || n >= cap)
        n = 0;
    if (n)
        memcpy(out, p, n);
    out[n] = '\0';
}
