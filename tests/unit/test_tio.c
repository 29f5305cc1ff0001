/*
 * tio over real TLS 1.3 on a socketpair: a tio server on one end, a plain
 * OpenSSL client on the other whose records the test writes out by hand,
 * so a record can be cut in two.  What is checked is the idle trim
 * (scc_tio_trim, called by h2io 100 ms after a connection's last byte):
 * it must never lose bytes, not even those of a record half received.
 */
#include "test.h"

#include <event2/event.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "common/pki.h"
#include "common/tls.h"
#include "tunnel/tio.h"

struct rig {
    struct event_base *base;
    struct scc_tio *srv;
    SSL_CTX *sctx, *cctx;
    SSL *cli;
    BIO *cli_out; /* the client's records, before the test writes them */
    int cfd;
    int hs_rc;
    bool hs_done;
};

static void
on_hs(struct scc_tio *t, int rc, void *arg)
{
    struct rig *r = arg;

    (void)t;
    r->hs_rc = rc;
    r->hs_done = true;
}

/* The client encrypts all of buf (its context allows partial writes:
 * one record per SSL_write); the records wait in cli_out. */
static void
client_write(struct rig *r, const void *buf, size_t len)
{
    for (size_t off = 0; off < len;) {
        int n = SSL_write(r->cli, (const char *)buf + off, (int)(len - off));

        assert_true(n > 0);
        off += (size_t)n;
    }
}

/* Write len bytes of the client's pending records to the socket. */
static void
send_records(struct rig *r, size_t len)
{
    char buf[64 << 10];

    assert_true(len <= sizeof(buf));
    assert_int_equal(BIO_read(r->cli_out, buf, (int)len), (int)len);
    assert_int_equal(write(r->cfd, buf, len), (ssize_t)len);
}

/* One round of the loop: the handshake runs from it.  Once: the socket
 * stays readable while the test, not a callback, reads it. */
static void
turn(struct rig *r)
{
    (void)event_base_loop(r->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

/* Both ends with the contexts the tunnel uses (TLS 1.3 only, its record
 * settings); the client does not check the server's certificate: a
 * self-signed CA certificate is no server certificate. */
static void
contexts(struct rig *r)
{
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;

    assert_int_equal(scc_pki_key_new(&key), 0);
    assert_int_equal(scc_pki_ca_new(key, "tio test", 3600, &cert), 0);
    assert_int_equal(scc_tls_ctx_server(&(struct scc_tls_cfg){.cert = cert, .key = key}, &r->sctx),
                     0);
    assert_int_equal(scc_tls_ctx_client(&(struct scc_tls_cfg){0}, &r->cctx), 0);
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void
rig_up(struct rig *r)
{
    int sv[2];

    memset(r, 0, sizeof(*r));
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
    r->cfd = sv[1];
    assert_non_null(r->base = event_base_new());
    contexts(r);
    assert_int_equal(scc_tio_new(r->base, sv[0], &r->srv), 0);
    assert_int_equal(scc_tio_start_tls(r->srv, SSL_new(r->sctx), true, 5000, on_hs, r), 0);

    assert_non_null(r->cli = SSL_new(r->cctx));
    assert_non_null(r->cli_out = BIO_new(BIO_s_mem()));
    SSL_set_bio(r->cli, BIO_new_socket(r->cfd, BIO_NOCLOSE), r->cli_out);
    SSL_set_connect_state(r->cli);
    for (int i = 0; i < 1000 && !(r->hs_done && SSL_is_init_finished(r->cli)); i++) {
        (void)SSL_do_handshake(r->cli);
        if (BIO_pending(r->cli_out) > 0)
            send_records(r, (size_t)BIO_pending(r->cli_out));
        turn(r);
        usleep(1000);
    }
    assert_true(r->hs_done);
    assert_int_equal(r->hs_rc, 0);
    assert_true(SSL_is_init_finished(r->cli));
}

static void
rig_down(struct rig *r)
{
    scc_tio_free(r->srv);
    SSL_free(r->cli);
    SSL_CTX_free(r->cctx);
    SSL_CTX_free(r->sctx);
    close(r->cfd);
    event_base_free(r->base);
}

/* Read from the server until want bytes arrived or nothing more comes. */
static size_t
server_read(struct rig *r, char *buf, size_t want)
{
    size_t got = 0;

    for (int i = 0; i < 200 && got < want; i++) {
        ssize_t n = scc_tio_read(r->srv, buf + got, want - got);

        assert_true(n >= 0);
        got += (size_t)n;
        if (n == 0) {
            turn(r);
            usleep(1000);
        }
    }
    return got;
}

static void
test_tio_trim_keeps_a_half_received_record(void **state)
{
    static const char msg[] = "one record, cut in two by the network";
    struct rig r;
    char got[sizeof(msg)];
    size_t len;

    (void)state;
    rig_up(&r);
    client_write(&r, msg, sizeof(msg));
    len = (size_t)BIO_pending(r.cli_out);
    send_records(&r, len / 2);
    /* The first half is all there is: nothing to read yet. */
    assert_int_equal(server_read(&r, got, sizeof(got)), 0);
    scc_tio_trim(r.srv); /* quiet 100 ms with half a record in hand */
    send_records(&r, len - len / 2);
    assert_int_equal(server_read(&r, got, sizeof(got)), sizeof(msg));
    assert_memory_equal(got, msg, sizeof(msg));
    rig_down(&r);
}

static void
test_tio_trim_between_records_and_writes(void **state)
{
    struct rig r;
    char got[4096], big[40000];

    (void)state;
    rig_up(&r);
    for (int round = 0; round < 3; round++) {
        memset(big, 'a' + round, sizeof(big)); /* three records each way */
        client_write(&r, big, sizeof(big));
        send_records(&r, (size_t)BIO_pending(r.cli_out));
        for (size_t seen = 0; seen < sizeof(big);) {
            size_t n = server_read(
                    &r, got, sizeof(got) < sizeof(big) - seen ? sizeof(got) : sizeof(big) - seen);

            assert_true(n > 0);
            for (size_t i = 0; i < n; i++)
                assert_int_equal(got[i], 'a' + round);
            seen += n;
        }
        /* And the other way, through the trimmed write side. */
        assert_int_equal(scc_tio_write(r.srv, big, sizeof(big)), (ssize_t)sizeof(big));
        assert_int_equal(scc_tio_flush(r.srv), 0);
        for (size_t seen = 0, waits = 0; seen < sizeof(big);) {
            int n = SSL_read(r.cli, got, sizeof(got));

            if (n <= 0) {
                assert_int_equal(SSL_get_error(r.cli, n), SSL_ERROR_WANT_READ);
                assert_true(++waits < 1000);
                usleep(1000);
                continue;
            }
            for (int i = 0; i < n; i++)
                assert_int_equal(got[i], 'a' + round);
            seen += (size_t)n;
        }
        scc_tio_trim(r.srv); /* every buffer, ours and OpenSSL's, goes */
    }
    rig_down(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_tio_trim_keeps_a_half_received_record),
            cmocka_unit_test(test_tio_trim_between_records_and_writes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
