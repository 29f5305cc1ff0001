#include "token.h"

#include "encode.h"
#include "err.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

static const char *
kind_prefix(enum scc_token_kind kind)
{
    return kind == SCC_TOKEN_JOIN ? "sccj1" : kind == SCC_TOKEN_API ? "scca1" : NULL;
}

int
scc_sha256_hex(const void *data, size_t len, char out[SCC_TOKEN_HASH_LEN + 1])
{
    unsigned char md[32];
    unsigned int mdlen = 0;

    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return SCC_ETLS;
    return scc_hex_encode(md, 32, out, SCC_TOKEN_HASH_LEN + 1);
}

int
scc_token_new(enum scc_token_kind kind, char text[SCC_TOKEN_MAX], struct scc_token *out)
{
    const char *prefix = kind_prefix(kind);
    uint8_t id[16], secret[32];
    char id64[SCC_TOKEN_ID_LEN + 1], sec64[SCC_TOKEN_SECRET_LEN + 1];
    int rc, n;

    if (prefix == NULL)
        return SCC_EINVAL;
    if ((rc = scc_rand_bytes(id, sizeof(id))) < 0 ||
        (rc = scc_rand_bytes(secret, sizeof(secret))) < 0)
        return rc;
    if ((rc = scc_b64url_encode(id, sizeof(id), id64, sizeof(id64))) < 0 ||
        (rc = scc_b64url_encode(secret, sizeof(secret), sec64, sizeof(sec64))) < 0)
        goto out;
    n = snprintf(text, SCC_TOKEN_MAX, "%s.%s.%s", prefix, id64, sec64);
    if (n < 0 || n >= SCC_TOKEN_MAX) {
        rc = SCC_ETRUNC;
        goto out;
    }
    rc = scc_token_parse(text, (size_t)n, out);
out:
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(sec64, sizeof(sec64));
    return rc;
}

int
scc_token_parse(const char *text, size_t len, struct scc_token *out)
{
    const size_t plen = 5, want = plen + 1 + SCC_TOKEN_ID_LEN + 1 + SCC_TOKEN_SECRET_LEN;
    struct scc_token t;
    uint8_t raw[33];
    size_t rawlen;
    const char *id, *sec;
    int rc;

    memset(&t, 0, sizeof(t));
    if (len != want || text[plen] != '.' || text[plen + 1 + SCC_TOKEN_ID_LEN] != '.')
        return SCC_EINVAL;
    if (memcmp(text, "sccj1", plen) == 0)
        t.kind = SCC_TOKEN_JOIN;
    else if (memcmp(text, "scca1", plen) == 0)
        t.kind = SCC_TOKEN_API;
    else
        return SCC_EINVAL;
    id = text + plen + 1;
    sec = id + SCC_TOKEN_ID_LEN + 1;
    /* Decoding both parts proves they are canonical base64url of the
     * right lengths, so one token has exactly one spelling. */
    if (scc_b64url_decode(id, SCC_TOKEN_ID_LEN, raw, sizeof(raw), &rawlen) < 0 || rawlen != 16)
        return SCC_EINVAL;
    if (scc_b64url_decode(sec, SCC_TOKEN_SECRET_LEN, raw, sizeof(raw), &rawlen) < 0 ||
        rawlen != 32) {
        OPENSSL_cleanse(raw, sizeof(raw));
        return SCC_EINVAL;
    }
    memcpy(t.id, id, SCC_TOKEN_ID_LEN);
    rc = scc_sha256_hex(raw, 32, t.hash);
    OPENSSL_cleanse(raw, sizeof(raw));
    if (rc < 0)
        return rc;
    *out = t;
    return 0;
}

int
scc_token_hash_matches(const char *stored_hash, const char *presented_hash)
{
    if (strlen(stored_hash) != SCC_TOKEN_HASH_LEN || strlen(presented_hash) != SCC_TOKEN_HASH_LEN)
        return 0;
    return CRYPTO_memcmp(stored_hash, presented_hash, SCC_TOKEN_HASH_LEN) == 0;
}
