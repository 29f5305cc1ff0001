/*
 * pki.h - the control plane's certificate authority and the agents' CSRs.
 *
 * Keys are ECDSA P-256: fast handshakes (~1 ms of server CPU) and small
 * certificates.  Node certificates carry their identity as a URI SAN
 * (ident.h); the CA ignores whatever extensions a CSR asks for and issues
 * exactly the identity the join token was bound to.
 */
#ifndef SCC_COMMON_PKI_H
#define SCC_COMMON_PKI_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct scc_buf;

/* Certificates start this long before they are issued, so that a peer
 * whose clock is a little behind accepts them at once. */
#define SCC_PKI_BACKDATE_S 300

struct scc_pki_req {
    const char *cn;         /* subject CN */
    const char *const *dns; /* DNS SANs */
    size_t ndns;
    const char *const *ips; /* IP SANs (v4 or v6 text) */
    size_t nips;
    const char *uri;     /* URI SAN (SPIFFE id), or NULL */
    uint32_t valid_secs; /* lifetime from now; notBefore is SCC_PKI_BACKDATE_S earlier */
    bool server;         /* EKU serverAuth */
    bool client;         /* EKU clientAuth */
};

/* scc_pki_key_new - a fresh P-256 key.  Returns owned *out. */
int scc_pki_key_new(EVP_PKEY **out);

/* scc_pki_ca_new - self-signed CA certificate for key. */
int scc_pki_ca_new(EVP_PKEY *key, const char *cn, uint32_t valid_secs, X509 **out);

/* scc_pki_issue - certificate for pubkey, signed by ca/ca_key. */
int scc_pki_issue(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *pubkey, const struct scc_pki_req *req,
                  X509 **out);

/* scc_pki_csr_new - CSR signed by key, optionally requesting uri. */
int scc_pki_csr_new(EVP_PKEY *key, const char *uri, X509_REQ **out);

/* scc_pki_csr_parse - parse PEM (len bytes, at most 8 KiB) and verify its
 * self-signature and key type (P-256 only).  SCC_EINVAL on any failure. */
int scc_pki_csr_parse(const char *pem, size_t len, X509_REQ **out);

/* scc_pki_csr_uri - the URI SAN a CSR requests, or SCC_ENOTFOUND. */
int scc_pki_csr_uri(X509_REQ *csr, char *out, size_t cap);

/* scc_pki_cert_uri - the first URI SAN of cert, or SCC_ENOTFOUND. */
int scc_pki_cert_uri(X509 *cert, char *out, size_t cap);

/* scc_pki_cert_serial - the serial as lowercase hex. */
int scc_pki_cert_serial(X509 *cert, char *out, size_t cap);

/* scc_pki_cert_not_after, _not_before - validity bounds as Unix seconds. */
int scc_pki_cert_not_after(X509 *cert, int64_t *out);
int scc_pki_cert_not_before(X509 *cert, int64_t *out);

/* PEM (de)serialisation.  *_to_buf appends to b. */
int scc_pki_cert_to_buf(X509 *cert, struct scc_buf *b);
int scc_pki_cert_from_pem(const char *pem, size_t len, X509 **out);

/* Files: keys are written 0600 and certificates 0644, atomically (write
 * to a temporary name, fsync, rename), so a crash never leaves half a key. */
int scc_pki_key_write(const char *path, EVP_PKEY *key);
int scc_pki_key_read(const char *path, EVP_PKEY **out);
int scc_pki_cert_write(const char *path, X509 *cert);
int scc_pki_cert_read(const char *path, X509 **out);

#endif /* SCC_COMMON_PKI_H */
