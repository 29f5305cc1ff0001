/* A renewed certificate from the relay: the agent keeps only one of its
 * own (our CA, its key, its identity, a later end) and changes nothing
 * for any other. */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/agent_enroll.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/pki.h"

#define NODE_URI  "spiffe://scc.local/ws/w/cluster/c/node/n1"
#define OTHER_URI "spiffe://scc.local/ws/w/cluster/c/node/n2"

/* main.c's, which agent_link.c refers to; never called here. */
void
agent_after_tunnel_up(struct agent *a)
{
    (void)a;
}

void
agent_fatal(struct agent *a, const char *why)
{
    (void)a, (void)why;
    abort();
}

struct fixture {
    char dir[64];
    struct agent_cfg cfg;
    struct agent a;
    EVP_PKEY *ca_key, *other_key;
    X509 *ca;
};

static char *
issue_pem(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *key, const char *uri, uint32_t secs)
{
    struct scc_pki_req req = {.cn = "n", .uri = uri, .valid_secs = secs, .client = true};
    struct scc_buf b;
    X509 *cert = NULL;
    char *pem;

    assert_int_equal(scc_pki_issue(ca, ca_key, key, &req, &cert), 0);
    scc_buf_init(&b, 1u << 16);
    assert_int_equal(scc_pki_cert_to_buf(cert, &b), 0);
    pem = strdup(scc_buf_str(&b));
    scc_buf_fini(&b);
    X509_free(cert);
    return pem;
}

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char path[128];
    char *pem;
    X509 *cert = NULL;

    snprintf(f->dir, sizeof(f->dir), "/tmp/scc-agent-cert-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(path, sizeof(path), "%s/ca.crt", f->dir);
    assert_int_equal(scc_pki_key_new(&f->ca_key), 0);
    assert_int_equal(scc_pki_key_new(&f->other_key), 0);
    assert_int_equal(scc_pki_ca_new(f->ca_key, "test CA", 86400, &f->ca), 0);
    assert_int_equal(scc_pki_cert_write(path, f->ca), 0);
    f->cfg.ca = strdup(path);
    f->cfg.state_dir = f->dir;
    f->a.cfg = &f->cfg;
    scc_log_ctx_init(&f->a.log, "test", NULL);
    assert_int_equal(scc_pki_key_new(&f->a.node_key), 0);
    pem = issue_pem(f->ca, f->ca_key, f->a.node_key, NODE_URI, 3600);
    assert_int_equal(scc_pki_cert_from_pem(pem, strlen(pem), &cert), 0);
    assert_int_equal(agent_identity_set(&f->a, cert), 0);
    X509_free(cert);
    free(pem);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    char path[128];

    agent_identity_free(&f->a);
    snprintf(path, sizeof(path), "%s/ca.crt", f->dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/node.crt", f->dir);
    unlink(path);
    rmdir(f->dir);
    EVP_PKEY_free(f->ca_key);
    EVP_PKEY_free(f->other_key);
    X509_free(f->ca);
    free(f->cfg.ca);
    free(f);
    return 0;
}

static void
refused(struct fixture *f, char *pem, const char *why)
{
    X509 *before = f->a.node_cert;
    char err[256] = "", path[128];

    assert_true(agent_cert_renewed(&f->a, pem, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, why));
    assert_ptr_equal(f->a.node_cert, before); /* nothing changed */
    snprintf(path, sizeof(path), "%s/node.crt", f->dir);
    assert_int_not_equal(access(path, F_OK), 0);
    free(pem);
}

static void
test_renewal_refuses_what_is_not_ours(void **state)
{
    struct fixture *f = *state;
    EVP_PKEY *ca2_key = NULL;
    X509 *ca2 = NULL;

    assert_int_equal(scc_pki_key_new(&ca2_key), 0);
    assert_int_equal(scc_pki_ca_new(ca2_key, "another CA", 86400, &ca2), 0);
    refused(f, strdup("-----BEGIN CERTIFICATE-----\nnot base64\n"), "not a PEM certificate");
    refused(f, issue_pem(ca2, ca2_key, f->a.node_key, NODE_URI, 7200), "not issued by our CA");
    refused(f, issue_pem(f->ca, f->ca_key, f->other_key, NODE_URI, 7200), "this node's key");
    refused(f, issue_pem(f->ca, f->ca_key, f->a.node_key, OTHER_URI, 7200), "another identity");
    refused(f, issue_pem(f->ca, f->ca_key, f->a.node_key, NODE_URI, 1800), "does not outlast");
    EVP_PKEY_free(ca2_key);
    X509_free(ca2);
}

static void
test_renewal_keeps_ours_on_disk_and_in_use(void **state)
{
    struct fixture *f = *state;
    char *pem = issue_pem(f->ca, f->ca_key, f->a.node_key, NODE_URI, 7200);
    char err[256] = "", path[128], want[64], got[64];
    X509 *fresh = NULL, *stored = NULL;

    assert_int_equal(scc_pki_cert_from_pem(pem, strlen(pem), &fresh), 0);
    assert_int_equal(agent_cert_renewed(&f->a, pem, err, sizeof(err)), 0);
    snprintf(path, sizeof(path), "%s/node.crt", f->dir);
    assert_int_equal(scc_pki_cert_read(path, &stored), 0);
    assert_int_equal(scc_pki_cert_serial(fresh, want, sizeof(want)), 0);
    assert_int_equal(scc_pki_cert_serial(stored, got, sizeof(got)), 0);
    assert_string_equal(got, want);
    assert_int_equal(scc_pki_cert_serial(f->a.node_cert, got, sizeof(got)), 0);
    assert_string_equal(got, want);
    assert_non_null(f->a.tls_tunnel); /* the next dial presents it */
    X509_free(fresh);
    X509_free(stored);
    free(pem);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_renewal_refuses_what_is_not_ours, setup, teardown),
            cmocka_unit_test_setup_teardown(test_renewal_keeps_ours_on_disk_and_in_use, setup,
                                            teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
