#include "encode.h"

#include "err.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

static const char b64url_alpha[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int
scc_hex_encode(const uint8_t *in, size_t n, char *out, size_t out_cap)
{
    static const char digits[] = "0123456789abcdef";

    if (out_cap < 2 * n + 1)
        return SCC_ETRUNC;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
    return 0;
}

int
scc_b64url_encode(const uint8_t *in, size_t n, char *out, size_t out_cap)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;

    if (out_cap < (n * 4 + 2) / 3 + 1)
        return SCC_ETRUNC;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = b64url_alpha[(acc >> bits) & 63];
        }
    }
    if (bits > 0)
        out[o++] = b64url_alpha[(acc << (6 - bits)) & 63];
    out[o] = '\0';
    return 0;
}

static int
b64url_value(char c)
{
    const char *p = c ? strchr(b64url_alpha, c) : NULL;

    return p ? (int)(p - b64url_alpha) : -1;
}

int
scc_b64url_decode(const char *in, size_t n, uint8_t *out, size_t out_cap, size_t *out_len)
{
    uint32_t acc = 0;
    size_t o = 0;
    int bits = 0;

    if (n % 4 == 1)
        return SCC_EINVAL;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value(in[i]);

        if (v < 0)
            return SCC_EINVAL;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= out_cap)
                return SCC_ETRUNC;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* Non-canonical encodings leave set bits behind; refuse them so that
     * one value has exactly one spelling. */
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return SCC_EINVAL;
    *out_len = o;
    return 0;
}

int
scc_b64_encode(const uint8_t *in, size_t n, char *out, size_t out_cap)
{
    if (n > (size_t)INT32_MAX / 2 || out_cap < 4 * ((n + 2) / 3) + 1)
        return SCC_ETRUNC;
    (void)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    return 0;
}

int
scc_rand_bytes(uint8_t *out, size_t n)
{
    if (n > (size_t)INT32_MAX || RAND_bytes(out, (int)n) != 1)
        return SCC_ETLS;
    return 0;
}

int
scc_rand_hex(size_t nbytes, char *out, size_t out_cap)
{
    uint8_t raw[64];
    int rc;

    if (nbytes > sizeof(raw))
        return SCC_EINVAL;
    if ((rc = scc_rand_bytes(raw, nbytes)) < 0)
        return rc;
    return scc_hex_encode(raw, nbytes, out, out_cap);
}

uint64_t
scc_rand_below(uint64_t bound)
{
    uint64_t v = 0, limit;

    if (bound <= 1)
        return 0;
    /* Rejection sampling: no modulo bias. */
    limit = UINT64_MAX - UINT64_MAX % bound;
    do {
        if (scc_rand_bytes((uint8_t *)&v, sizeof(v)) < 0)
            return bound / 2;
    } while (v >= limit);
    return v % bound;
}

int
scc_ct_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}
