/*
 * tls.h - OpenSSL contexts the way scc uses them: TLS 1.3 only, ECDSA
 * P-256 certificates from our own CA, AES-128-GCM first (the fastest suite
 * with AES-NI), X25519 key exchange, and ALPN chosen by the server from a
 * fixed list so that a tunnel and an enrolment can share one port.
 */
#ifndef SCC_COMMON_TLS_H
#define SCC_COMMON_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

#define SCC_ALPN_TUNNEL "scc-tunnel/1" /* agent -> relay, mutual TLS, HTTP/2 framing */
#define SCC_ALPN_ENROLL "scc-enroll/1" /* agent -> relay, join token, HTTP/2 framing */
#define SCC_ALPN_HTTP11 "http/1.1"

struct scc_tls_cfg {
    const char *ca_file;   /* trust anchor for the peer; NULL: do not verify */
    const char *cert_file; /* our certificate; NULL for none */
    const char *key_file;
    X509 *ca; /* in-memory alternatives to the files (borrowed) */
    X509 *cert;
    EVP_PKEY *key;
    bool require_peer_cert;  /* server: fail the handshake without one */
    const char *const *alpn; /* protocol names, most preferred first */
    size_t nalpn;
};

/* scc_tls_ctx_server / scc_tls_ctx_client - owned *out, or SCC_ETLS with
 * the reason left in OpenSSL's error queue (see scc_tls_errors). */
int scc_tls_ctx_server(const struct scc_tls_cfg *cfg, SSL_CTX **out);
int scc_tls_ctx_client(const struct scc_tls_cfg *cfg, SSL_CTX **out);

/* scc_tls_errors - drain OpenSSL's error queue into buf as one line
 * ("reason; reason"); "" if it was empty.  Returns buf. */
const char *scc_tls_errors(char *buf, size_t cap);

/* scc_tls_set_peer_name - what the client expects the server's
 * certificate to name: an IP literal or a DNS name; sets SNI for names. */
int scc_tls_set_peer_name(SSL *ssl, const char *host);

/* scc_tls_peer_uri - the URI SAN of the verified peer certificate.
 * SCC_EAUTH if there is no verified certificate, SCC_ENOTFOUND if it has no URI. */
int scc_tls_peer_uri(SSL *ssl, char *out, size_t cap);

/* scc_tls_alpn - the negotiated ALPN protocol as a C string into out ("" if none). */
void scc_tls_alpn(SSL *ssl, char *out, size_t cap);

/* scc_tls_init - process-wide OpenSSL initialisation without reading
 * openssl.cnf (a node's config must not change our TLS policy). */
int scc_tls_init(void);

#endif /* SCC_COMMON_TLS_H */
