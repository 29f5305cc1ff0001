/* Join tokens, node certificates, revocations and API tokens. */
#include "ctl_store.h"

#include "ctl_store_int.h"

#include "common/err.h"
#include "common/mem.h"

#include <stdio.h>
#include <string.h>

int
ctl_store_join_token_add(struct ctl_store *st, const struct ctl_join_token *t)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(
                 st,
                 "INSERT INTO join_tokens (id, hash, ws, cluster, node, created_ms, expires_ms)"
                 " VALUES (?, ?, ?, ?, ?, ?, ?)",
                 &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, t->id);
    ctl_store_bind_text(stmt, 2, t->hash);
    ctl_store_bind_text(stmt, 3, t->ws);
    ctl_store_bind_text(stmt, 4, t->cluster);
    ctl_store_bind_text(stmt, 5, t->node);
    sqlite3_bind_int64(stmt, 6, t->created_ms);
    sqlite3_bind_int64(stmt, 7, t->expires_ms);
    return ctl_store_run(st, stmt);
}

int
ctl_store_join_token_get(struct ctl_store *st, const char *id, struct ctl_join_token *out)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(
                 st,
                 "SELECT id, hash, ws, cluster, node, created_ms, expires_ms, used_ms, used_key"
                 " FROM join_tokens WHERE id = ?",
                 &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, id);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof(*out));
        ctl_store_col_text(stmt, 0, out->id, sizeof(out->id));
        ctl_store_col_text(stmt, 1, out->hash, sizeof(out->hash));
        ctl_store_col_text(stmt, 2, out->ws, sizeof(out->ws));
        ctl_store_col_text(stmt, 3, out->cluster, sizeof(out->cluster));
        ctl_store_col_text(stmt, 4, out->node, sizeof(out->node));
        out->created_ms = sqlite3_column_int64(stmt, 5);
        out->expires_ms = sqlite3_column_int64(stmt, 6);
        out->used_ms = sqlite3_column_int64(stmt, 7);
        ctl_store_col_text(stmt, 8, out->used_key, sizeof(out->used_key));
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? SCC_ENOTFOUND : SCC_ESTORE;
    }
    sqlite3_finalize(stmt);
    return rc;
}

int
ctl_store_join_token_use(struct ctl_store *st, const char *id, int64_t now_ms, const char *key_hash,
                         const char *cert_pem)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    /* The WHERE clause makes "check unused, then mark used" one atomic
     * step: two concurrent redemptions cannot both succeed. */
    if ((rc = ctl_store_prepare(st,
                                "UPDATE join_tokens SET used_ms = ?, used_key = ?, cert_pem = ?"
                                " WHERE id = ? AND used_ms IS NULL",
                                &stmt)) < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, now_ms);
    ctl_store_bind_text(stmt, 2, key_hash);
    ctl_store_bind_text(stmt, 3, cert_pem);
    ctl_store_bind_text(stmt, 4, id);
    if ((rc = ctl_store_run(st, stmt)) < 0)
        return rc;
    return sqlite3_changes(st->db) == 1 ? 0 : SCC_EUSED;
}

int
ctl_store_join_tokens_purge(struct ctl_store *st, int64_t before_ms, int *n)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    *n = 0;
    if ((rc = ctl_store_prepare(st, "DELETE FROM join_tokens WHERE expires_ms < ?", &stmt)) < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, before_ms);
    if ((rc = ctl_store_run(st, stmt)) == 0)
        *n = sqlite3_changes(st->db);
    return rc;
}

char *
ctl_store_join_token_cert(struct ctl_store *st, const char *id)
{
    sqlite3_stmt *stmt = NULL;
    char *pem = NULL;

    if (ctl_store_prepare(st, "SELECT cert_pem FROM join_tokens WHERE id = ?", &stmt) < 0)
        return NULL;
    ctl_store_bind_text(stmt, 1, id);
    if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0))
        pem = scc_strdup((const char *)sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    return pem;
}

/* A node's three identity columns (ws, cluster, node) from parameter first on. */
static void
bind_node(sqlite3_stmt *stmt, int first, const struct scc_ident *id)
{
    ctl_store_bind_text(stmt, first, id->ws);
    ctl_store_bind_text(stmt, first + 1, id->cluster);
    ctl_store_bind_text(stmt, first + 2, id->node);
}

int
ctl_store_cert_add(struct ctl_store *st, const char *serial, const struct scc_ident *id,
                   int64_t issued_ms, int64_t expires_ms)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(
                 st,
                 "INSERT INTO node_certs (serial, ws, cluster, node, issued_ms, expires_ms)"
                 " VALUES (?, ?, ?, ?, ?, ?)",
                 &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, serial);
    bind_node(stmt, 2, id);
    sqlite3_bind_int64(stmt, 5, issued_ms);
    sqlite3_bind_int64(stmt, 6, expires_ms);
    return ctl_store_run(st, stmt);
}

int
ctl_store_cert_usable(struct ctl_store *st, const char *serial, const struct scc_ident *id)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(st,
                                "SELECT revoked_ms IS NULL FROM node_certs"
                                " WHERE serial = ? AND ws = ? AND cluster = ? AND node = ?",
                                &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, serial);
    bind_node(stmt, 2, id);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        rc = sqlite3_column_int(stmt, 0) ? 0 : SCC_EREVOKED;
    else
        rc = rc == SQLITE_DONE ? SCC_ENOTFOUND : SCC_ESTORE;
    sqlite3_finalize(stmt);
    return rc;
}

int
ctl_store_cert_revoke_node(struct ctl_store *st, const struct scc_ident *id, int64_t now_ms, int *n)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    *n = 0;
    if ((rc = ctl_store_prepare(st,
                                "UPDATE node_certs SET revoked_ms = ?"
                                " WHERE ws = ? AND cluster = ? AND node = ? AND revoked_ms IS NULL",
                                &stmt)) < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, now_ms);
    bind_node(stmt, 2, id);
    if ((rc = ctl_store_run(st, stmt)) == 0)
        *n = sqlite3_changes(st->db);
    return rc;
}

int
ctl_store_revoked_each(struct ctl_store *st, int64_t since_ms,
                       void (*fn)(const char *serial, void *arg), void *arg)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(
                 st,
                 "SELECT serial FROM node_certs WHERE revoked_ms IS NOT NULL AND revoked_ms >= ?",
                 &stmt)) < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, since_ms);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        fn((const char *)sqlite3_column_text(stmt, 0), arg);
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? 0 : SCC_ESTORE;
}

int
ctl_store_node_known(struct ctl_store *st, const struct scc_ident *id, bool *known)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(
                 st, "SELECT 1 FROM node_certs WHERE ws = ? AND cluster = ? AND node = ? LIMIT 1",
                 &stmt)) < 0)
        return rc;
    bind_node(stmt, 1, id);
    rc = sqlite3_step(stmt);
    *known = rc == SQLITE_ROW;
    sqlite3_finalize(stmt);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : SCC_ESTORE;
}

int
ctl_store_api_token_add(struct ctl_store *st, const struct ctl_api_token *t)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(
                 st,
                 "INSERT INTO api_tokens (id, hash, scope, name, created_ms, expires_ms)"
                 " VALUES (?, ?, ?, ?, ?, ?)",
                 &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, t->id);
    ctl_store_bind_text(stmt, 2, t->hash);
    ctl_store_bind_text(stmt, 3, t->scope);
    ctl_store_bind_text(stmt, 4, t->name);
    sqlite3_bind_int64(stmt, 5, t->created_ms);
    if (t->expires_ms)
        sqlite3_bind_int64(stmt, 6, t->expires_ms);
    return ctl_store_run(st, stmt);
}

int
ctl_store_api_token_get(struct ctl_store *st, const char *id, struct ctl_api_token *out)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(st,
                                "SELECT id, hash, scope, name, created_ms, expires_ms, revoked_ms"
                                " FROM api_tokens WHERE id = ?",
                                &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, id);
    if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        memset(out, 0, sizeof(*out));
        ctl_store_col_text(stmt, 0, out->id, sizeof(out->id));
        ctl_store_col_text(stmt, 1, out->hash, sizeof(out->hash));
        ctl_store_col_text(stmt, 2, out->scope, sizeof(out->scope));
        ctl_store_col_text(stmt, 3, out->name, sizeof(out->name));
        out->created_ms = sqlite3_column_int64(stmt, 4);
        out->expires_ms = sqlite3_column_int64(stmt, 5);
        out->revoked_ms = sqlite3_column_int64(stmt, 6);
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? SCC_ENOTFOUND : SCC_ESTORE;
    }
    sqlite3_finalize(stmt);
    return rc;
}

int
ctl_store_api_token_count(struct ctl_store *st, int *n)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(st, "SELECT count(*) FROM api_tokens", &stmt)) < 0)
        return rc;
    rc = sqlite3_step(stmt) == SQLITE_ROW ? 0 : SCC_ESTORE;
    *n = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    return rc;
}
