#include "pki.h"

#include "buf.h"
#include "err.h"
#include "file.h"
#include "mem.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CSR_PEM_MAX 8192

int
scc_pki_key_new(EVP_PKEY **out)
{
    *out = EVP_EC_gen("P-256");
    return *out ? 0 : SCC_ETLS;
}

/* A random positive 127-bit serial: unique without coordination (RFC 5280
 * allows up to 20 octets; a cleared top bit keeps it positive). */
static int
set_serial(X509 *x)
{
    BIGNUM *bn = BN_new();
    int ok;

    ok = bn != NULL && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
         BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok ? 0 : SCC_ETLS;
}

static int
set_name(X509_NAME *name, const char *cn)
{
    return X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
                                      0) == 1
                   ? 0
                   : SCC_ETLS;
}

static int
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    int ok;

    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
        return SCC_ETLS;
    ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1 ? 0 : SCC_ETLS;
}

/* The skeleton every certificate shares: version, serial, validity, key. */
static int
cert_base(EVP_PKEY *pubkey, const char *cn, uint32_t valid_secs, X509 **out)
{
    X509 *x = X509_new();
    int rc = SCC_ETLS;

    *out = NULL;
    if (x == NULL || X509_set_version(x, 2) != 1 || set_serial(x) < 0)
        goto out;
    /* Backdate five minutes: peers with slightly slow clocks must not see
     * a certificate from the future. */
    if (X509_gmtime_adj(X509_getm_notBefore(x), -SCC_PKI_BACKDATE_S) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(x), (long)valid_secs) == NULL)
        goto out;
    if (X509_set_pubkey(x, pubkey) != 1 || set_name(X509_get_subject_name(x), cn) < 0)
        goto out;
    *out = x;
    x = NULL;
    rc = 0;
out:
    X509_free(x);
    return rc;
}

int
scc_pki_ca_new(EVP_PKEY *key, const char *cn, uint32_t valid_secs, X509 **out)
{
    X509 *x = NULL;
    int rc;

    *out = NULL;
    if ((rc = cert_base(key, cn, valid_secs, &x)) < 0)
        goto out;
    rc = SCC_ETLS;
    if (X509_set_issuer_name(x, X509_get_subject_name(x)) != 1)
        goto out;
    if (add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
        add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
        add_ext(x, x, NID_subject_key_identifier, "hash") < 0)
        goto out;
    if (X509_sign(x, key, EVP_sha256()) <= 0)
        goto out;
    *out = x;
    x = NULL;
    rc = 0;
out:
    X509_free(x);
    return rc;
}

static int
push_name(GENERAL_NAMES *gens, int type, const char *value)
{
    GENERAL_NAME *gen = NULL;
    ASN1_STRING *s = NULL;

    if (type == GEN_IPADD) {
        if ((s = a2i_IPADDRESS(value)) == NULL)
            return SCC_EINVAL;
    } else if ((s = ASN1_IA5STRING_new()) == NULL || ASN1_STRING_set(s, value, -1) != 1) {
        ASN1_STRING_free(s);
        return SCC_ETLS;
    }
    if ((gen = GENERAL_NAME_new()) == NULL) {
        ASN1_STRING_free(s);
        return SCC_ETLS;
    }
    GENERAL_NAME_set0_value(gen, type, s);
    if (sk_GENERAL_NAME_push(gens, gen) <= 0) {
        GENERAL_NAME_free(gen);
        return SCC_ETLS;
    }
    return 0;
}

/* Build the SAN programmatically rather than through a config string, so
 * that no name can smuggle in a ',' and a second entry. */
static int
add_san(X509 *x, const struct scc_pki_req *req)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    int rc = SCC_ETLS;

    if (gens == NULL)
        goto out;
    for (size_t i = 0; i < req->ndns; i++) {
        if ((rc = push_name(gens, GEN_DNS, req->dns[i])) < 0)
            goto out;
    }
    for (size_t i = 0; i < req->nips; i++) {
        if ((rc = push_name(gens, GEN_IPADD, req->ips[i])) < 0)
            goto out;
    }
    if (req->uri && (rc = push_name(gens, GEN_URI, req->uri)) < 0)
        goto out;
    rc = 0;
    if (sk_GENERAL_NAME_num(gens) > 0 &&
        X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) != 1)
        rc = SCC_ETLS;
out:
    GENERAL_NAMES_free(gens);
    return rc;
}

static const char *
eku_value(const struct scc_pki_req *req)
{
    if (req->server && req->client)
        return "serverAuth,clientAuth";
    return req->server ? "serverAuth" : "clientAuth";
}

int
scc_pki_issue(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *pubkey, const struct scc_pki_req *req,
              X509 **out)
{
    X509 *x = NULL;
    int rc;

    *out = NULL;
    if (!req->server && !req->client)
        return SCC_EINVAL;
    if ((rc = cert_base(pubkey, req->cn, req->valid_secs, &x)) < 0)
        goto out;
    rc = SCC_ETLS;
    if (X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1)
        goto out;
    if (add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
        add_ext(x, ca, NID_key_usage, "critical,digitalSignature") < 0 ||
        add_ext(x, ca, NID_ext_key_usage, eku_value(req)) < 0 ||
        add_ext(x, ca, NID_authority_key_identifier, "keyid:always") < 0)
        goto out;
    if ((rc = add_san(x, req)) < 0)
        goto out;
    rc = SCC_ETLS;
    if (X509_sign(x, ca_key, EVP_sha256()) <= 0)
        goto out;
    *out = x;
    x = NULL;
    rc = 0;
out:
    X509_free(x);
    return rc;
}

int
scc_pki_csr_new(EVP_PKEY *key, const char *uri, X509_REQ **out)
{
    X509_REQ *req = X509_REQ_new();
    STACK_OF(X509_EXTENSION) *exts = NULL;
    GENERAL_NAMES *gens = NULL;
    int rc = SCC_ETLS;

    *out = NULL;
    if (req == NULL || X509_REQ_set_version(req, 0) != 1 || X509_REQ_set_pubkey(req, key) != 1)
        goto out;
    if (set_name(X509_REQ_get_subject_name(req), "scc-agent") < 0)
        goto out;
    if (uri) {
        if ((gens = sk_GENERAL_NAME_new_null()) == NULL || push_name(gens, GEN_URI, uri) < 0)
            goto out;
        if ((exts = sk_X509_EXTENSION_new_null()) == NULL ||
            X509V3_add1_i2d(&exts, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) != 1 ||
            X509_REQ_add_extensions(req, exts) != 1)
            goto out;
    }
    if (X509_REQ_sign(req, key, EVP_sha256()) <= 0)
        goto out;
    *out = req;
    req = NULL;
    rc = 0;
out:
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    GENERAL_NAMES_free(gens);
    X509_REQ_free(req);
    return rc;
}

static bool
key_is_p256(EVP_PKEY *pk)
{
    char group[32];
    size_t glen = 0;

    if (pk == NULL || !EVP_PKEY_is_a(pk, "EC"))
        return false;
    if (EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen) != 1)
        return false;
    return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
}

int
scc_pki_csr_parse(const char *pem, size_t len, X509_REQ **out)
{
    BIO *bio = NULL;
    X509_REQ *req = NULL;
    int rc = SCC_EINVAL;

    *out = NULL;
    if (len == 0 || len > CSR_PEM_MAX)
        return SCC_EINVAL;
    if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
        return SCC_ENOMEM;
    if ((req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL)) == NULL)
        goto out;
    if (!key_is_p256(X509_REQ_get0_pubkey(req)) ||
        X509_REQ_verify(req, X509_REQ_get0_pubkey(req)) != 1)
        goto out;
    *out = req;
    req = NULL;
    rc = 0;
out:
    /* A bad CSR is peer input: drop OpenSSL's queued errors so they are not
     * misattributed to the next operation. */
    ERR_clear_error();
    X509_REQ_free(req);
    BIO_free(bio);
    return rc;
}

static int
first_uri(GENERAL_NAMES *gens, char *out, size_t cap)
{
    int rc = SCC_ENOTFOUND;

    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        const ASN1_IA5STRING *s;
        int n;

        if (g->type != GEN_URI)
            continue;
        s = g->d.uniformResourceIdentifier;
        n = ASN1_STRING_length(s);
        if (n < 0 || (size_t)n >= cap || memchr(ASN1_STRING_get0_data(s), '\0', (size_t)n)) {
            rc = SCC_EINVAL;
            break;
        }
        memcpy(out, ASN1_STRING_get0_data(s), (size_t)n);
        out[n] = '\0';
        rc = 0;
        break;
    }
    return rc;
}

int
scc_pki_csr_uri(X509_REQ *csr, char *out, size_t cap)
{
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
    GENERAL_NAMES *gens = NULL;
    int rc;

    if (exts)
        gens = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
    rc = first_uri(gens, out, cap);
    GENERAL_NAMES_free(gens);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return rc;
}

int
scc_pki_cert_uri(X509 *cert, char *out, size_t cap)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    int rc = first_uri(gens, out, cap);

    GENERAL_NAMES_free(gens);
    return rc;
}

int
scc_pki_cert_serial(X509 *cert, char *out, size_t cap)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    int rc = SCC_ETLS;

    if (hex) {
        size_t n = strlen(hex);

        rc = SCC_ETRUNC;
        if (n < cap) {
            for (size_t i = 0; i <= n; i++)
                out[i] = (char)(hex[i] >= 'A' && hex[i] <= 'F' ? hex[i] + 32 : hex[i]);
            rc = 0;
        }
    }
    OPENSSL_free(hex);
    BN_free(bn);
    return rc;
}

static int
asn1_unix(const ASN1_TIME *t, int64_t *out)
{
    struct tm tm;

    if (ASN1_TIME_to_tm(t, &tm) != 1)
        return SCC_ETLS;
    *out = (int64_t)timegm(&tm);
    return 0;
}

int
scc_pki_cert_not_after(X509 *cert, int64_t *out)
{
    return asn1_unix(X509_get0_notAfter(cert), out);
}

int
scc_pki_cert_not_before(X509 *cert, int64_t *out)
{
    return asn1_unix(X509_get0_notBefore(cert), out);
}

int
scc_pki_cert_to_buf(X509 *cert, struct scc_buf *b)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n;
    int rc = SCC_ETLS;

    if (bio && PEM_write_bio_X509(bio, cert) == 1 && (n = BIO_get_mem_data(bio, &data)) > 0)
        rc = scc_buf_put(b, data, (size_t)n);
    BIO_free(bio);
    return rc;
}

int
scc_pki_cert_from_pem(const char *pem, size_t len, X509 **out)
{
    BIO *bio;

    *out = NULL;
    if (len > INT32_MAX || (bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
        return SCC_EINVAL;
    *out = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    ERR_clear_error();
    return *out ? 0 : SCC_EINVAL;
}

static int
bio_to_file(BIO *bio, const char *path, unsigned mode)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);

    if (n <= 0)
        return SCC_ETLS;
    return scc_file_write_atomic(path, data, (size_t)n, mode);
}

int
scc_pki_key_write(const char *path, EVP_PKEY *key)
{
    /* secmem BIO: the PEM copy of the key is wiped when freed. */
    BIO *bio = BIO_new(BIO_s_secmem());
    int rc = SCC_ETLS;

    if (bio && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1)
        rc = bio_to_file(bio, path, 0600);
    BIO_free(bio);
    return rc;
}

int
scc_pki_cert_write(const char *path, X509 *cert)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int rc = SCC_ETLS;

    if (bio && PEM_write_bio_X509(bio, cert) == 1)
        rc = bio_to_file(bio, path, 0644);
    BIO_free(bio);
    return rc;
}

int
scc_pki_key_read(const char *path, EVP_PKEY **out)
{
    BIO *bio = BIO_new_file(path, "r");

    *out = NULL;
    if (bio == NULL) {
        ERR_clear_error();
        return -ENOENT;
    }
    *out = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    ERR_clear_error();
    return *out ? 0 : SCC_EINVAL;
}

int
scc_pki_cert_read(const char *path, X509 **out)
{
    BIO *bio = BIO_new_file(path, "r");

    *out = NULL;
    if (bio == NULL) {
        ERR_clear_error();
        return -ENOENT;
    }
    *out = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    ERR_clear_error();
    return *out ? 0 : SCC_EINVAL;
}
