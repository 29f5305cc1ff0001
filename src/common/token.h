/*
 * token.h - bearer and join tokens.
 *
 * A token is "<prefix>.<id>.<secret>": the id (16 random bytes, base64url)
 * names the stored row, the secret (32 random bytes, base64url) proves
 * possession.  Only SHA-256(secret) is ever stored, so a copy of the
 * database grants nothing; comparisons are constant-time.
 *
 *   sccj1.<id>.<secret>  join token: single use, expiring, bound to a node
 *   scca1.<id>.<secret>  API bearer token, scoped
 */
#ifndef SCC_COMMON_TOKEN_H
#define SCC_COMMON_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define SCC_TOKEN_ID_LEN     22 /* base64url of 16 bytes */
#define SCC_TOKEN_SECRET_LEN 43 /* base64url of 32 bytes */
#define SCC_TOKEN_HASH_LEN   64 /* hex SHA-256 */
#define SCC_TOKEN_MAX        80 /* whole token incl. NUL */

/* An API token's scope: "*", "subscription/SUB" or "workspace/" and a
 * workspace's resource id (at most 274 bytes with Azure's name limits). */
#define SCC_TOKEN_SCOPE_MAX 320

enum scc_token_kind {
    SCC_TOKEN_JOIN = 1,
    SCC_TOKEN_API = 2,
};

struct scc_token {
    enum scc_token_kind kind;
    char id[SCC_TOKEN_ID_LEN + 1];
    char hash[SCC_TOKEN_HASH_LEN + 1]; /* hex SHA-256 of the secret */
};

/* scc_token_new - mint a token of kind: the full token text (a secret:
 * show once, never log) into text, and its storable form into out. */
int scc_token_new(enum scc_token_kind kind, char text[SCC_TOKEN_MAX], struct scc_token *out);

/* scc_token_parse - strictly parse token text of length len and hash its
 * secret.  SCC_EINVAL on anything malformed; out untouched then. */
int scc_token_parse(const char *text, size_t len, struct scc_token *out);

/* scc_token_hash_matches - constant-time compare of two hex hashes. */
int scc_token_hash_matches(const char *stored_hash, const char *presented_hash);

/* scc_sha256_hex - hex SHA-256 of data into out (65 bytes). */
int scc_sha256_hex(const void *data, size_t len, char out[SCC_TOKEN_HASH_LEN + 1]);

#endif /* SCC_COMMON_TOKEN_H */
