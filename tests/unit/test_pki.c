/* The CA, node certificates from CSRs, and the TLS contexts built on them. */
#include "test.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/mem.h"
#include "common/pki.h"
#include "common/tls.h"

struct fixture {
    EVP_PKEY *ca_key;
    X509 *ca;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL || scc_pki_key_new(&f->ca_key) < 0 ||
        scc_pki_ca_new(f->ca_key, "test CA", 3600, &f->ca) < 0)
        return -1;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    X509_free(f->ca);
    EVP_PKEY_free(f->ca_key);
    free(f);
    return 0;
}

static int
verify(X509 *ca, X509 *leaf)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int ok;

    X509_STORE_add_cert(store, ca);
    X509_STORE_CTX_init(ctx, store, leaf, NULL);
    ok = X509_verify_cert(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return ok;
}

static void
test_csr_signed_with_identity_of_the_ca_choice(void **state)
{
    struct fixture *f = *state;
    EVP_PKEY *node_key = NULL;
    X509_REQ *csr = NULL, *parsed = NULL;
    X509 *cert = NULL;
    struct scc_buf pem;
    char uri[400];
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long n;
    struct scc_pki_req req = {.cn = "n1",
                              .uri = "spiffe://td/ws/w/cluster/c/node/n1",
                              .valid_secs = 600,
                              .client = true};

    assert_int_equal(scc_pki_key_new(&node_key), 0);
    /* The CSR asks for another identity; the CA issues the one it chose. */
    assert_int_equal(scc_pki_csr_new(node_key, "spiffe://td/ws/w/cluster/c/node/evil", &csr), 0);
    PEM_write_bio_X509_REQ(bio, csr);
    n = BIO_get_mem_data(bio, &data);
    assert_int_equal(scc_pki_csr_parse(data, (size_t)n, &parsed), 0);
    assert_int_equal(scc_pki_csr_uri(parsed, uri, sizeof(uri)), 0);
    assert_string_equal(uri, "spiffe://td/ws/w/cluster/c/node/evil");
    assert_int_equal(scc_pki_issue(f->ca, f->ca_key, X509_REQ_get0_pubkey(parsed), &req, &cert), 0);
    assert_int_equal(scc_pki_cert_uri(cert, uri, sizeof(uri)), 0);
    assert_string_equal(uri, "spiffe://td/ws/w/cluster/c/node/n1");
    assert_int_equal(verify(f->ca, cert), 1);
    scc_buf_init(&pem, 65536);
    assert_int_equal(scc_pki_cert_to_buf(cert, &pem), 0);
    assert_non_null(strstr(scc_buf_str(&pem), "BEGIN CERTIFICATE"));
    scc_buf_fini(&pem);
    BIO_free(bio);
    X509_free(cert);
    X509_REQ_free(csr);
    X509_REQ_free(parsed);
    EVP_PKEY_free(node_key);
}

static void
test_csr_parse_rejects_garbage_and_tampering(void **state)
{
    EVP_PKEY *key = NULL;
    X509_REQ *csr = NULL, *parsed = NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, copy[4096];
    long n;

    (void)state;
    assert_int_equal(scc_pki_csr_parse("hello", 5, &parsed), SCC_EINVAL);
    assert_int_equal(scc_pki_csr_parse("", 0, &parsed), SCC_EINVAL);
    assert_int_equal(scc_pki_key_new(&key), 0);
    assert_int_equal(scc_pki_csr_new(key, NULL, &csr), 0);
    PEM_write_bio_X509_REQ(bio, csr);
    n = BIO_get_mem_data(bio, &data);
    assert_true(n < (long)sizeof(copy));
    memcpy(copy, data, (size_t)n);
    /* Flip a base64 character in the middle of the body: bad signature or DER. */
    copy[n / 2] = copy[n / 2] == 'A' ? 'B' : 'A';
    assert_int_equal(scc_pki_csr_parse(copy, (size_t)n, &parsed), SCC_EINVAL);
    assert_null(parsed);
    BIO_free(bio);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
}

static void
test_server_cert_has_ip_and_dns_sans(void **state)
{
    struct fixture *f = *state;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    const char *dns[] = {"localhost", "*.scc.localhost"};
    const char *ips[] = {"127.0.0.1", "::1"};
    struct scc_pki_req req = {.cn = "sccd",
                              .dns = dns,
                              .ndns = 2,
                              .ips = ips,
                              .nips = 2,
                              .valid_secs = 600,
                              .server = true};

    assert_int_equal(scc_pki_key_new(&key), 0);
    assert_int_equal(scc_pki_issue(f->ca, f->ca_key, key, &req, &cert), 0);
    assert_int_equal(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
    assert_int_equal(X509_check_ip_asc(cert, "::1", 0), 1);
    assert_int_equal(X509_check_host(cert, "adb-1.scc.localhost", 0, 0, NULL), 1);
    assert_int_equal(X509_check_ip_asc(cert, "127.0.0.2", 0), 0);
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void
test_issue_rejects_bad_ip(void **state)
{
    struct fixture *f = *state;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    const char *ips[] = {"not-an-ip"};
    struct scc_pki_req req = {.cn = "x", .ips = ips, .nips = 1, .valid_secs = 60, .server = true};

    assert_int_equal(scc_pki_key_new(&key), 0);
    assert_int_equal(scc_pki_issue(f->ca, f->ca_key, key, &req, &cert), SCC_EINVAL);
    assert_null(cert);
    EVP_PKEY_free(key);
}

static void
test_tls_contexts_are_tls13_only(void **state)
{
    struct fixture *f = *state;
    const char *alpn[] = {SCC_ALPN_TUNNEL, SCC_ALPN_ENROLL};
    struct scc_tls_cfg cfg = {.ca = f->ca, .alpn = alpn, .nalpn = 2};
    SSL_CTX *ctx = NULL;

    assert_int_equal(scc_tls_ctx_client(&cfg, &ctx), 0);
    assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_3_VERSION);
    assert_int_equal(SSL_CTX_get_max_proto_version(ctx), TLS1_3_VERSION);
    SSL_CTX_free(ctx);
    assert_int_equal(scc_tls_ctx_server(&cfg, &ctx), 0);
    assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_3_VERSION);
    SSL_CTX_free(ctx);
}

static void
test_files_are_written_atomically_with_modes(void **state)
{
    struct fixture *f = *state;
    char dir[] = "/tmp/scc-pki-XXXXXX", path[256];
    EVP_PKEY *back = NULL;
    X509 *cert = NULL;
    struct stat st;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/ca.key", dir);
    assert_int_equal(scc_pki_key_write(path, f->ca_key), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(scc_pki_key_read(path, &back), 0);
    assert_int_equal(EVP_PKEY_eq(back, f->ca_key), 1);
    unlink(path);
    snprintf(path, sizeof(path), "%s/ca.crt", dir);
    assert_int_equal(scc_pki_cert_write(path, f->ca), 0);
    assert_int_equal(scc_pki_cert_read(path, &cert), 0);
    assert_int_equal(X509_cmp(cert, f->ca), 0);
    X509_free(cert);
    unlink(path);
    assert_int_equal(scc_pki_cert_read(path, &cert), -ENOENT);
    rmdir(dir);
    X509_free(cert);
    EVP_PKEY_free(back);
}

static void
test_issue_survives_allocation_failures(void **state)
{
    struct fixture *f = *state;
    EVP_PKEY *key = NULL;
    struct scc_pki_req req = {
            .cn = "x", .uri = "spiffe://td/control", .valid_secs = 60, .client = true};

    assert_int_equal(scc_pki_key_new(&key), 0);
    /* OpenSSL allocates through CRYPTO_set_mem_functions (set in main), so
     * each failure point is hit in turn; every one must fail cleanly. */
    for (unsigned long n = 1; n < 400; n++) {
        X509 *cert = NULL;
        int rc;

        scc_mem_fail_at(n);
        rc = scc_pki_issue(f->ca, f->ca_key, key, &req, &cert);
        scc_mem_fail_at(0);
        if (rc == 0) {
            X509_free(cert);
            if (!scc_mem_failed())
                break;
        } else {
            assert_null(cert);
        }
    }
    ERR_clear_error();
    EVP_PKEY_free(key);
}

static void *
crypto_malloc(size_t n, const char *file, int line)
{
    (void)file, (void)line;
    return scc_malloc(n);
}

static void *
crypto_realloc(void *p, size_t n, const char *file, int line)
{
    (void)file, (void)line;
    return scc_realloc(p, n);
}

static void
crypto_free(void *p, const char *file, int line)
{
    (void)file, (void)line;
    scc_free(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_csr_signed_with_identity_of_the_ca_choice),
            cmocka_unit_test(test_csr_parse_rejects_garbage_and_tampering),
            cmocka_unit_test(test_server_cert_has_ip_and_dns_sans),
            cmocka_unit_test(test_issue_rejects_bad_ip),
            cmocka_unit_test(test_tls_contexts_are_tls13_only),
            cmocka_unit_test(test_files_are_written_atomically_with_modes),
            cmocka_unit_test(test_issue_survives_allocation_failures),
    };

    CRYPTO_set_mem_functions(crypto_malloc, crypto_realloc, crypto_free);
    return cmocka_run_group_tests(tests, setup, teardown);
}
