/*
 * ctl_pki.c - the control plane's certificate authority and its own
 * server certificate, created on first start under DIR/pki/:
 *
 *   ca.key (0600), ca.crt      signs node certificates (P-256, 10 years)
 *   server.key (0600), server.crt  the API and the relay (1 year, reissued
 *                              when it nears expiry or lacks a needed name)
 *   trust-domain               fixed at first start: identities depend on it
 *
 * and the first admin bearer token, written to DIR/admin.token (0600) and
 * stored only as a hash.
 */
#include "ctl.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/file.h"
#include "common/parse.h"
#include "common/pki.h"
#include "common/token.h"
#include "common/worker.h"
#include "ctl_store.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define CA_SECS     (10u * 365 * 86400)
#define SERVER_SECS (365u * 86400)
#define RENEW_SECS  (30 * 86400)
#define MAX_NAMES   64
#define WS_SHARDS   20

static int
ca_load_or_create(struct ctl *c)
{
    char cn[128];
    int rc;

    if (scc_pki_key_read(c->paths.ca_key, &c->ca_key) == 0 &&
        scc_pki_cert_read(c->paths.ca_crt, &c->ca) == 0) {
        if (X509_check_private_key(c->ca, c->ca_key) != 1) {
            scc_log_error(&c->log, "%s does not match %s", c->paths.ca_crt, c->paths.ca_key);
            return SCC_EINVAL;
        }
        return 0;
    }
    snprintf(cn, sizeof(cn), "scc CA %s", c->cfg->trust_domain);
    if ((rc = scc_pki_key_new(&c->ca_key)) < 0 ||
        (rc = scc_pki_ca_new(c->ca_key, cn, CA_SECS, &c->ca)) < 0 ||
        (rc = scc_pki_key_write(c->paths.ca_key, c->ca_key)) < 0 ||
        (rc = scc_pki_cert_write(c->paths.ca_crt, c->ca)) < 0) {
        scc_log_error_rc(&c->log, rc, "cannot create the CA in %s", c->paths.pki);
        return rc;
    }
    scc_log_info(&c->log, "created CA %s", c->paths.ca_crt);
    return 0;
}

/* Add the hosts of a comma-separated HOST:PORT list (not wildcards). */
static size_t
listen_names(const char *list, char names[][256], size_t n, size_t cap)
{
    char item[300];

    for (const char *p = list; n < cap && scc_list_next(&p, item, sizeof(item));) {
        uint16_t port;

        if (scc_parse_hostport(item, names[n], 256, &port, true) == 0 &&
            strcmp(names[n], "0.0.0.0") != 0 && strcmp(names[n], "::") != 0)
            n++;
    }
    return n;
}

/* Collect the names the server certificate must carry. */
static size_t
server_names(const struct ctl_cfg *cfg, char names[][256], size_t cap)
{
    const char *fixed[] = {"localhost", "127.0.0.1", "::1"};
    size_t n = 0;

    for (size_t i = 0; i < 3 && n < cap; i++)
        snprintf(names[n++], 256, "%s", fixed[i]);
    n = listen_names(cfg->api_listen, names, n, cap);
    n = listen_names(cfg->relay_listen, names, n, cap);
    /* Workspace origins, adb-<id>.<shard>.<domain>: one wildcard per
     * shard, since a wildcard covers one label (ctl_arm_ws.c picks 1-20). */
    for (unsigned s = 1; s <= WS_SHARDS && n < cap; s++)
        snprintf(names[n++], 256, "*.%u.%.200s", s, cfg->workspace_domain);
    for (const char *p = cfg->san; n < cap && scc_list_next(&p, names[n], 256);) {
        if (names[n][0])
            n++;
    }
    return n;
}

static bool
is_ip(const char *s)
{
    ASN1_OCTET_STRING *ip = a2i_IPADDRESS(s);

    ASN1_OCTET_STRING_free(ip);
    return ip != NULL;
}

static bool
server_cert_ok(X509 *cert, X509 *ca, char names[][256], size_t n)
{
    int64_t not_after = 0;

    if (X509_check_issued(ca, cert) != X509_V_OK || scc_pki_cert_not_after(cert, &not_after) < 0 ||
        not_after - (int64_t)time(NULL) < RENEW_SECS)
        return false;
    for (size_t i = 0; i < n; i++) {
        char host[270];
        int ok;

        /* A wildcard is checked with a name it must cover. */
        snprintf(host, sizeof(host), "%s%s", names[i][0] == '*' ? "adb-1" : "",
                 names[i] + (names[i][0] == '*'));
        ok = is_ip(host) ? X509_check_ip_asc(cert, host, 0)
                         : X509_check_host(cert, host, 0, 0, NULL);

        if (ok != 1)
            return false;
    }
    return true;
}

static int
server_cert(struct ctl *c)
{
    char names[MAX_NAMES][256];
    const char *dns[MAX_NAMES], *ips[MAX_NAMES];
    size_t n = server_names(c->cfg, names, MAX_NAMES), ndns = 0, nips = 0;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    int rc;

    if (scc_pki_cert_read(c->paths.server_crt, &cert) == 0 &&
        server_cert_ok(cert, c->ca, names, n)) {
        X509_free(cert);
        return 0;
    }
    X509_free(cert);
    cert = NULL;
    for (size_t i = 0; i < n; i++) {
        if (is_ip(names[i]))
            ips[nips++] = names[i];
        else
            dns[ndns++] = names[i];
    }
    struct scc_pki_req req = {.cn = "sccd",
                              .dns = dns,
                              .ndns = ndns,
                              .ips = ips,
                              .nips = nips,
                              .valid_secs = SERVER_SECS,
                              .server = true,
                              .client = true};
    if ((rc = scc_pki_key_new(&key)) < 0 ||
        (rc = scc_pki_issue(c->ca, c->ca_key, key, &req, &cert)) < 0 ||
        (rc = scc_pki_key_write(c->paths.server_key, key)) < 0 ||
        (rc = scc_pki_cert_write(c->paths.server_crt, cert)) < 0)
        scc_log_error_rc(&c->log, rc, "cannot issue the server certificate");
    else
        scc_log_info(&c->log, "issued server certificate %s for %zu names", c->paths.server_crt, n);
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

/* The control plane's own client identity, spiffe://<td>/control: what the
 * relay presents when it dials a legacy node. */
static int
control_cert(struct ctl *c)
{
    char uri[SCC_IDENT_URI_MAX + 1];
    struct scc_ident id = {.kind = SCC_IDENT_CONTROL};
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    int64_t not_after = 0;
    int rc;

    if (scc_pki_cert_read(c->paths.control_crt, &cert) == 0 &&
        X509_check_issued(c->ca, cert) == X509_V_OK &&
        scc_pki_cert_not_after(cert, &not_after) == 0 &&
        not_after - (int64_t)time(NULL) > RENEW_SECS) {
        X509_free(cert);
        return 0;
    }
    X509_free(cert);
    cert = NULL;
    snprintf(id.td, sizeof(id.td), "%s", c->cfg->trust_domain);
    if ((rc = scc_ident_format(&id, uri, sizeof(uri))) < 0)
        return rc;
    struct scc_pki_req req = {
            .cn = "sccd control plane", .uri = uri, .valid_secs = SERVER_SECS, .client = true};
    if ((rc = scc_pki_key_new(&key)) < 0 ||
        (rc = scc_pki_issue(c->ca, c->ca_key, key, &req, &cert)) < 0 ||
        (rc = scc_pki_key_write(c->paths.control_key, key)) < 0 ||
        (rc = scc_pki_cert_write(c->paths.control_crt, cert)) < 0)
        scc_log_error_rc(&c->log, rc, "cannot issue the control-plane client certificate");
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

static int
trust_domain_check(struct ctl *c)
{
    char path[4200];
    struct scc_buf b;
    int rc;

    snprintf(path, sizeof(path), "%s/trust-domain", c->paths.pki);
    scc_buf_init(&b, 256);
    rc = scc_file_read(path, 256, &b);
    if (rc == -ENOENT) {
        rc = scc_file_write_atomic(path, c->cfg->trust_domain, strlen(c->cfg->trust_domain), 0644);
    } else if (rc == 0 && strcmp(scc_buf_str(&b), c->cfg->trust_domain) != 0) {
        scc_log_error(&c->log, "this data dir belongs to trust domain '%s', not '%s'",
                      scc_buf_str(&b), c->cfg->trust_domain);
        rc = SCC_EINVAL;
    }
    scc_buf_fini(&b);
    return rc;
}

int
ctl_pki_init(struct ctl *c)
{
    int rc;

    if ((rc = scc_dir_ensure(c->cfg->data_dir, 0700)) < 0 ||
        (rc = scc_dir_ensure(c->paths.pki, 0700)) < 0) {
        scc_log_error_rc(&c->log, rc, "cannot create %s", c->paths.pki);
        return rc;
    }
    if ((rc = trust_domain_check(c)) < 0 || (rc = ca_load_or_create(c)) < 0 ||
        (rc = server_cert(c)) < 0)
        return rc;
    return control_cert(c);
}

/* ---- the first admin token ---- */

struct admin_job {
    struct ctl *c;
    int rc;
};

static bool
token_file_valid(struct ctl *c)
{
    struct scc_buf b;
    struct scc_token t;
    struct ctl_api_token row;
    bool ok = false;

    scc_buf_init(&b, 256);
    if (scc_file_read(c->paths.admin_token, 256, &b) == 0) {
        while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
            b.len--;
        ok = scc_token_parse((const char *)b.data, b.len, &t) == 0 &&
             ctl_store_api_token_get(c->store, t.id, &row) == 0 &&
             scc_token_hash_matches(row.hash, t.hash) && row.revoked_ms == 0;
    }
    if (b.data)
        OPENSSL_cleanse(b.data, b.cap);
    scc_buf_fini(&b);
    return ok;
}

static void
admin_token_job(void *arg)
{
    struct admin_job *j = arg;
    struct ctl *c = j->c;
    char text[SCC_TOKEN_MAX + 1];
    struct scc_token t;
    struct ctl_api_token row;

    if (token_file_valid(c)) {
        j->rc = 0;
        return;
    }
    memset(&row, 0, sizeof(row));
    if ((j->rc = scc_token_new(SCC_TOKEN_API, text, &t)) < 0)
        return;
    memcpy(row.id, t.id, sizeof(row.id));
    memcpy(row.hash, t.hash, sizeof(row.hash));
    snprintf(row.scope, sizeof(row.scope), "*");
    snprintf(row.name, sizeof(row.name), "admin");
    row.created_ms = (int64_t)time(NULL) * 1000;
    if ((j->rc = ctl_store_api_token_add(c->store, &row)) == 0) {
        size_t n = strlen(text);

        text[n] = '\n';
        j->rc = scc_file_write_atomic(c->paths.admin_token, text, n + 1, 0600);
    }
    OPENSSL_cleanse(text, sizeof(text));
}

int
ctl_admin_token_init(struct ctl *c)
{
    struct admin_job j = {c, 0};
    int rc;

    if ((rc = scc_worker_run_sync(c->worker, admin_token_job, &j)) < 0 || (rc = j.rc) < 0)
        scc_log_error_rc(&c->log, rc, "cannot create the admin token %s", c->paths.admin_token);
    return rc;
}
