/*
 * ctl_store.h - the control plane's state store.
 *
 * SQLite in WAL mode with synchronous=FULL under the data dir: every
 * committed change survives kill -9 (and power loss), and several sccd
 * processes (a control plane and separate relays) may share one file.
 * The schema is versioned (PRAGMA user_version) and migrated forward at
 * open, each step in its own transaction.
 *
 * Only ctl_store*.c include sqlite3.h.  A store handle is used from one
 * thread at a time: sccd's worker thread (common/worker.h).  The functions
 * are the whole interface, so a PostgreSQL backend can implement the same
 * header later.
 */
#ifndef SCC_CONTROL_CTL_STORE_H
#define SCC_CONTROL_CTL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ident.h"
#include "common/token.h"

struct ctl_store;

/* ctl_store_open - open (creating) the database at path and migrate it.
 * On failure, err says why.  SCC_ESTORE. */
int ctl_store_open(const char *path, struct ctl_store **out, char *err, size_t cap);
void ctl_store_close(struct ctl_store *st);

/* ctl_store_errmsg - the last SQLite error, for logs. */
const char *ctl_store_errmsg(struct ctl_store *st);

/* Transactions for multi-step changes (BEGIN IMMEDIATE: writers queue). */
int ctl_store_begin(struct ctl_store *st);
int ctl_store_commit(struct ctl_store *st);
void ctl_store_rollback(struct ctl_store *st);

/* ---- join tokens and node certificates (ctl_store_nodes.c) ---- */

struct ctl_join_token {
    char id[SCC_TOKEN_ID_LEN + 1];
    char hash[SCC_TOKEN_HASH_LEN + 1];
    char ws[SCC_IDENT_SEG_MAX + 1], cluster[SCC_IDENT_SEG_MAX + 1], node[SCC_IDENT_SEG_MAX + 1];
    int64_t created_ms, expires_ms, used_ms; /* used_ms 0: unused */
    char used_key[SCC_TOKEN_HASH_LEN + 1];   /* SHA-256 of the key that redeemed it */
};

int ctl_store_join_token_add(struct ctl_store *st, const struct ctl_join_token *t);
/* SCC_ENOTFOUND if no such id. */
int ctl_store_join_token_get(struct ctl_store *st, const char *id, struct ctl_join_token *out);
/* ctl_store_join_token_use - mark used (only if still unused): SCC_EUSED otherwise. */
int ctl_store_join_token_use(struct ctl_store *st, const char *id, int64_t now_ms,
                             const char *key_hash, const char *cert_pem);
/* ctl_store_join_token_cert - the certificate issued on redemption (retries
 * with the same key get it again).  Returns an owned string or NULL. */
char *ctl_store_join_token_cert(struct ctl_store *st, const char *id);
/* ctl_store_join_tokens_purge - forget tokens that expired before
 * before_ms, used or not: they can no longer be redeemed, and a retried
 * enrolment cannot outlive them.  *n: how many went. */
int ctl_store_join_tokens_purge(struct ctl_store *st, int64_t before_ms, int *n);

int ctl_store_cert_add(struct ctl_store *st, const char *serial, const struct scc_ident *id,
                       int64_t issued_ms, int64_t expires_ms);
/* ctl_store_cert_usable - 0 when serial was issued to id and is not
 * revoked; SCC_EREVOKED, SCC_ENOTFOUND, SCC_ESTORE otherwise. */
int ctl_store_cert_usable(struct ctl_store *st, const char *serial, const struct scc_ident *id);
/* ctl_store_cert_revoke_node - revoke every certificate of a node; *n gets
 * how many were newly revoked. */
int ctl_store_cert_revoke_node(struct ctl_store *st, const struct scc_ident *id, int64_t now_ms,
                               int *n);
/* ctl_store_revoked_each - serials revoked at or after since_ms. */
int ctl_store_revoked_each(struct ctl_store *st, int64_t since_ms,
                           void (*fn)(const char *serial, void *arg), void *arg);
/* ctl_store_node_known - has any certificate been issued to this node? */
int ctl_store_node_known(struct ctl_store *st, const struct scc_ident *id, bool *known);

/* ---- API bearer tokens ---- */

struct ctl_api_token {
    char id[SCC_TOKEN_ID_LEN + 1];
    char hash[SCC_TOKEN_HASH_LEN + 1];
    char scope[SCC_TOKEN_SCOPE_MAX]; /* "*", "subscription/SUB", "workspace/<resource id>" */
    char name[128];
    int64_t created_ms, expires_ms, revoked_ms; /* 0: never / not */
};

int ctl_store_api_token_add(struct ctl_store *st, const struct ctl_api_token *t);
int ctl_store_api_token_get(struct ctl_store *st, const char *id, struct ctl_api_token *out);
int ctl_store_api_token_count(struct ctl_store *st, int *n);

#endif /* SCC_CONTROL_CTL_STORE_H */
