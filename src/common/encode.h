/*
 * encode.h - hex and base64 codecs, and random bytes from OpenSSL's CSPRNG.
 */
#ifndef SCC_COMMON_ENCODE_H
#define SCC_COMMON_ENCODE_H

#include <stddef.h>
#include <stdint.h>

/* scc_hex_encode - 2n+1 bytes of lowercase hex into out (out_cap >= 2n+1). */
int scc_hex_encode(const uint8_t *in, size_t n, char *out, size_t out_cap);

/* scc_b64url_encode - unpadded base64url (RFC 4648 §5). */
int scc_b64url_encode(const uint8_t *in, size_t n, char *out, size_t out_cap);

/* scc_b64url_decode - strict: rejects padding, whitespace and bad chars.
 * Writes *out_len bytes; SCC_EINVAL or SCC_ETRUNC. */
int scc_b64url_decode(const char *in, size_t n, uint8_t *out, size_t out_cap, size_t *out_len);

/* scc_b64_encode - padded standard base64, as HTTP Basic auth wants. */
int scc_b64_encode(const uint8_t *in, size_t n, char *out, size_t out_cap);

/* scc_rand_bytes - n bytes from the CSPRNG.  SCC_ETLS if it is not seeded. */
int scc_rand_bytes(uint8_t *out, size_t n);

/* scc_rand_hex - nbytes random bytes as 2*nbytes hex chars into out. */
int scc_rand_hex(size_t nbytes, char *out, size_t out_cap);

/* scc_rand_below - uniform in [0, bound) (bound > 0), for jitter. */
uint64_t scc_rand_below(uint64_t bound);

/* scc_ct_equal - constant-time comparison of n bytes. */
int scc_ct_equal(const void *a, const void *b, size_t n);

#endif /* SCC_COMMON_ENCODE_H */
