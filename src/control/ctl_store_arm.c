/* The ARM layer's tables (schema: migration 2 in ctl_store.c). */
#include "ctl_store_arm.h"

#include "ctl_store_int.h"

#include "common/err.h"
#include "common/mem.h"

#include <stdio.h>
#include <string.h>

static int
fail(struct ctl_store *st, sqlite3_stmt *stmt)
{
    snprintf(st->err, sizeof(st->err), "%s", sqlite3_errmsg(st->db));
    sqlite3_finalize(stmt);
    return SCC_ESTORE;
}

/* A text column as an owned string (NULL for SQL NULL); *ok false on ENOMEM. */
static char *
col_dup(sqlite3_stmt *stmt, int col, bool *ok)
{
    const unsigned char *t = sqlite3_column_text(stmt, col);
    char *s;

    if (t == NULL)
        return NULL;
    if ((s = scc_strdup((const char *)t)) == NULL)
        *ok = false;
    return s;
}

char *
ctl_store_col_dup(sqlite3_stmt *stmt, int col, bool *ok)
{
    return col_dup(stmt, col, ok);
}

void
ctl_arm_row_fini(struct ctl_arm_row *r)
{
    scc_free(r->id);
    scc_free(r->sub);
    scc_free(r->rg);
    scc_free(r->type);
    scc_free(r->name);
    scc_free(r->locked_by);
    scc_free(r->body);
    memset(r, 0, sizeof(*r));
}

static int
row_read(sqlite3_stmt *stmt, struct ctl_arm_row *r)
{
    bool ok = true;

    memset(r, 0, sizeof(*r));
    r->id = col_dup(stmt, 0, &ok);
    r->sub = col_dup(stmt, 1, &ok);
    r->rg = col_dup(stmt, 2, &ok);
    r->type = col_dup(stmt, 3, &ok);
    r->name = col_dup(stmt, 4, &ok);
    r->locked_by = col_dup(stmt, 5, &ok);
    r->body = col_dup(stmt, 6, &ok);
    r->created_ms = sqlite3_column_int64(stmt, 7);
    r->updated_ms = sqlite3_column_int64(stmt, 8);
    if (!ok || r->id == NULL || r->body == NULL) {
        ctl_arm_row_fini(r);
        return SCC_ENOMEM;
    }
    return 0;
}

int
ctl_store_arm_res_put(struct ctl_store *st, const struct ctl_arm_row *r)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(
                 st,
                 "INSERT INTO arm_resources (id_lc, id, sub, rg, rg_lc, type, type_lc, name,"
                 " locked_by, body, created_ms, updated_ms) VALUES (lower(?1), ?1, lower(?2), ?3,"
                 " lower(?3), ?4, lower(?4), ?5, ?6, ?7, ?8, ?9)"
                 " ON CONFLICT(id_lc) DO UPDATE SET body = excluded.body,"
                 " locked_by = excluded.locked_by, updated_ms = excluded.updated_ms",
                 &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, r->id);
    ctl_store_bind_text(stmt, 2, r->sub);
    ctl_store_bind_text(stmt, 3, r->rg);
    ctl_store_bind_text(stmt, 4, r->type);
    ctl_store_bind_text(stmt, 5, r->name);
    ctl_store_bind_text(stmt, 6, r->locked_by);
    ctl_store_bind_text(stmt, 7, r->body);
    sqlite3_bind_int64(stmt, 8, r->created_ms);
    sqlite3_bind_int64(stmt, 9, r->updated_ms);
    return ctl_store_run(st, stmt);
}

#define ROW_SELECT                                                                                 \
    "SELECT id, sub, rg, type, name, locked_by, body, created_ms, updated_ms FROM arm_resources"

int
ctl_store_arm_res_get(struct ctl_store *st, const char *id, struct ctl_arm_row *out)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(st, ROW_SELECT " WHERE id_lc = lower(?)", &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, id);
    if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        rc = row_read(stmt, out);
    else
        rc = rc == SQLITE_DONE ? SCC_ENOTFOUND : SCC_ESTORE;
    sqlite3_finalize(stmt);
    return rc;
}

int
ctl_store_arm_res_del(struct ctl_store *st, const char *id)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(st, "DELETE FROM arm_resources WHERE id_lc = lower(?)", &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, id);
    return ctl_store_run(st, stmt);
}

int
ctl_store_arm_res_each(struct ctl_store *st, const struct ctl_arm_filter *f, ctl_arm_row_cb fn,
                       void *arg)
{
    sqlite3_stmt *stmt = NULL;
    struct ctl_arm_row r;
    int rc, stop = 0;

    if ((rc = ctl_store_prepare(st,
                                ROW_SELECT " WHERE (?1 IS NULL OR sub = lower(?1))"
                                           " AND (?2 IS NULL OR rg_lc = lower(?2))"
                                           " AND (?3 IS NULL OR type_lc = lower(?3))"
                                           " ORDER BY name COLLATE NOCASE, id_lc",
                                &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, f->sub);
    ctl_store_bind_text(stmt, 2, f->rg);
    ctl_store_bind_text(stmt, 3, f->type);
    while (stop == 0 && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if ((rc = row_read(stmt, &r)) < 0)
            break;
        stop = fn(&r, arg);
        ctl_arm_row_fini(&r);
        rc = SQLITE_ROW;
    }
    sqlite3_finalize(stmt);
    if (stop)
        return stop;
    return rc == SQLITE_DONE ? 0 : rc < 0 ? rc : SCC_ESTORE;
}

/* ---- providers ---- */

/* The first column of the first row of sql, bound to a and b, into out. */
static int
one_text(struct ctl_store *st, const char *sql, const char *a, const char *b, char *out, size_t cap)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(st, sql, &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, a);
    ctl_store_bind_text(stmt, 2, b);
    if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        ctl_store_col_text(stmt, 0, out, cap);
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? SCC_ENOTFOUND : SCC_ESTORE;
    }
    sqlite3_finalize(stmt);
    return rc;
}

int
ctl_store_arm_provider_get(struct ctl_store *st, const char *sub, const char *ns, char *state,
                           size_t cap)
{
    return one_text(st, "SELECT state FROM arm_providers WHERE sub = lower(?) AND ns_lc = lower(?)",
                    sub, ns, state, cap);
}

int
ctl_store_arm_provider_set(struct ctl_store *st, const char *sub, const char *ns, const char *state)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(st,
                                "INSERT OR REPLACE INTO arm_providers (sub, ns_lc, state)"
                                " VALUES (lower(?), lower(?), ?)",
                                &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, sub);
    ctl_store_bind_text(stmt, 2, ns);
    ctl_store_bind_text(stmt, 3, state);
    return ctl_store_run(st, stmt);
}

/* ---- references ---- */

int
ctl_store_arm_ref_add(struct ctl_store *st, const char *owner, const char *kind, const char *src,
                      const char *dst)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(st,
                                "INSERT INTO arm_refs (owner_lc, kind, src, dst_lc, dst)"
                                " VALUES (lower(?), ?, ?, lower(?4), ?4)",
                                &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, owner);
    ctl_store_bind_text(stmt, 2, kind);
    ctl_store_bind_text(stmt, 3, src);
    ctl_store_bind_text(stmt, 4, dst);
    return ctl_store_run(st, stmt);
}

int
ctl_store_arm_ref_del_owner(struct ctl_store *st, const char *owner)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(st, "DELETE FROM arm_refs WHERE owner_lc = lower(?)", &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, owner);
    return ctl_store_run(st, stmt);
}

static int
ref_walk(struct ctl_store *st, sqlite3_stmt *stmt, ctl_arm_ref_cb fn, void *arg)
{
    int rc, stop = 0;

    /* Collected first would cost copies; callbacks must not write refs. */
    while (stop == 0 && (rc = sqlite3_step(stmt)) == SQLITE_ROW)
        stop = fn((const char *)sqlite3_column_text(stmt, 0),
                  (const char *)sqlite3_column_text(stmt, 1),
                  (const char *)sqlite3_column_text(stmt, 2),
                  (const char *)sqlite3_column_text(stmt, 3), arg);
    if (stop) {
        sqlite3_finalize(stmt);
        return stop;
    }
    if (rc != SQLITE_DONE)
        return fail(st, stmt);
    sqlite3_finalize(stmt);
    return 0;
}

int
ctl_store_arm_ref_each_owner(struct ctl_store *st, const char *owner, const char *kind,
                             ctl_arm_ref_cb fn, void *arg)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(st,
                                "SELECT owner_lc, kind, src, dst FROM arm_refs"
                                " WHERE owner_lc = lower(?) AND (?2 IS NULL OR kind = ?2)"
                                " ORDER BY rowid",
                                &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, owner);
    ctl_store_bind_text(stmt, 2, kind);
    return ref_walk(st, stmt, fn, arg);
}

int
ctl_store_arm_ref_each_to(struct ctl_store *st, const char *dst, bool prefix, const char *kind,
                          ctl_arm_ref_cb fn, void *arg)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    /* substr() rather than LIKE: ids may contain '_' and '%'. */
    if ((rc = ctl_store_prepare(
                 st,
                 "SELECT owner_lc, kind, src, dst FROM arm_refs WHERE (dst_lc = lower(?1) OR (?2"
                 " AND substr(dst_lc, 1, length(?1) + 1) = lower(?1) || '/'))"
                 " AND (?3 IS NULL OR kind = ?3) ORDER BY rowid",
                 &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, dst);
    sqlite3_bind_int(stmt, 2, prefix);
    ctl_store_bind_text(stmt, 3, kind);
    return ref_walk(st, stmt, fn, arg);
}

/* ---- addresses ---- */

int
ctl_store_arm_ip_add(struct ctl_store *st, const char *pool, const char *ip, const char *owner)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(st,
                                "INSERT INTO arm_ips (pool_lc, ip, owner_lc)"
                                " VALUES (lower(?), ?, lower(?))",
                                &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, pool);
    ctl_store_bind_text(stmt, 2, ip);
    ctl_store_bind_text(stmt, 3, owner);
    return ctl_store_run(st, stmt);
}

int
ctl_store_arm_ip_owner(struct ctl_store *st, const char *pool, const char *ip, char *owner,
                       size_t cap)
{
    return one_text(st, "SELECT owner_lc FROM arm_ips WHERE pool_lc = lower(?) AND ip = ?", pool,
                    ip, owner, cap);
}

int
ctl_store_arm_ip_get(struct ctl_store *st, const char *pool, const char *owner, char *ip,
                     size_t cap)
{
    return one_text(st,
                    "SELECT ip FROM arm_ips WHERE pool_lc = lower(?) AND owner_lc = lower(?)"
                    " LIMIT 1",
                    pool, owner, ip, cap);
}

int
ctl_store_arm_ip_del_owner(struct ctl_store *st, const char *pool, const char *owner)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(st,
                                "DELETE FROM arm_ips WHERE owner_lc = lower(?2)"
                                " AND (?1 IS NULL OR pool_lc = lower(?1))",
                                &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, pool);
    ctl_store_bind_text(stmt, 2, owner);
    return ctl_store_run(st, stmt);
}

/* ---- operations ---- */

void
ctl_arm_op_fini(struct ctl_arm_op *op)
{
    scc_free(op->error_message);
    scc_free(op->resource_id);
    scc_free(op->payload);
    op->error_message = op->resource_id = op->payload = NULL;
}

int
ctl_store_arm_op_put(struct ctl_store *st, const struct ctl_arm_op *op)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(
                 st,
                 "INSERT OR REPLACE INTO arm_ops (id, sub, ns, location, kind, resource_id,"
                 " resource_lc, status, step, error_code, error_message, payload, start_ms,"
                 " end_ms) VALUES (?1, lower(?2), ?3, ?4, ?5, ?6, lower(?6), ?7, ?8, ?9, ?10, ?11,"
                 " ?12, ?13)",
                 &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, op->id);
    ctl_store_bind_text(stmt, 2, op->sub);
    ctl_store_bind_text(stmt, 3, op->ns);
    ctl_store_bind_text(stmt, 4, op->location);
    ctl_store_bind_text(stmt, 5, op->kind);
    ctl_store_bind_text(stmt, 6, op->resource_id);
    ctl_store_bind_text(stmt, 7, op->status);
    sqlite3_bind_int(stmt, 8, op->step);
    ctl_store_bind_text(stmt, 9, op->error_code[0] ? op->error_code : NULL);
    ctl_store_bind_text(stmt, 10, op->error_message);
    ctl_store_bind_text(stmt, 11, op->payload);
    sqlite3_bind_int64(stmt, 12, op->start_ms);
    if (op->end_ms)
        sqlite3_bind_int64(stmt, 13, op->end_ms);
    return ctl_store_run(st, stmt);
}

#define OP_COLS                                                                                    \
    "SELECT id, sub, ns, location, kind, resource_id, status, step, error_code, error_message,"    \
    " payload, start_ms, end_ms FROM arm_ops"

static int
op_read(sqlite3_stmt *stmt, struct ctl_arm_op *op)
{
    bool ok = true;

    memset(op, 0, sizeof(*op));
    ctl_store_col_text(stmt, 0, op->id, sizeof(op->id));
    ctl_store_col_text(stmt, 1, op->sub, sizeof(op->sub));
    ctl_store_col_text(stmt, 2, op->ns, sizeof(op->ns));
    ctl_store_col_text(stmt, 3, op->location, sizeof(op->location));
    ctl_store_col_text(stmt, 4, op->kind, sizeof(op->kind));
    op->resource_id = col_dup(stmt, 5, &ok);
    ctl_store_col_text(stmt, 6, op->status, sizeof(op->status));
    op->step = sqlite3_column_int(stmt, 7);
    ctl_store_col_text(stmt, 8, op->error_code, sizeof(op->error_code));
    op->error_message = col_dup(stmt, 9, &ok);
    op->payload = col_dup(stmt, 10, &ok);
    op->start_ms = sqlite3_column_int64(stmt, 11);
    op->end_ms = sqlite3_column_int64(stmt, 12);
    if (!ok || op->resource_id == NULL) {
        ctl_arm_op_fini(op);
        return SCC_ENOMEM;
    }
    return 0;
}

int
ctl_store_arm_op_get(struct ctl_store *st, const char *id, struct ctl_arm_op *out)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(st, OP_COLS " WHERE id = lower(?)", &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, id);
    if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        rc = op_read(stmt, out);
    else
        rc = rc == SQLITE_DONE ? SCC_ENOTFOUND : SCC_ESTORE;
    sqlite3_finalize(stmt);
    return rc;
}

int
ctl_store_arm_op_each_active(struct ctl_store *st,
                             int (*fn)(const struct ctl_arm_op *op, void *arg), void *arg)
{
    sqlite3_stmt *stmt = NULL;
    struct ctl_arm_op op;
    int rc, stop = 0;

    if ((rc = ctl_store_prepare(st, OP_COLS " WHERE status = 'InProgress' ORDER BY start_ms",
                                &stmt)) < 0)
        return rc;
    while (stop == 0 && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if ((rc = op_read(stmt, &op)) < 0)
            break;
        stop = fn(&op, arg);
        ctl_arm_op_fini(&op);
        rc = SQLITE_ROW;
    }
    sqlite3_finalize(stmt);
    if (stop)
        return stop;
    return rc == SQLITE_DONE ? 0 : rc < 0 ? rc : SCC_ESTORE;
}

int
ctl_store_arm_op_active_for(struct ctl_store *st, const char *resource_id, char *op_id, size_t cap)
{
    return one_text(st,
                    "SELECT id FROM arm_ops WHERE resource_lc = lower(?) AND status = 'InProgress'"
                    " AND ?2 IS NULL LIMIT 1",
                    resource_id, NULL, op_id, cap);
}

/* ---- compute counters ---- */

int
ctl_store_arm_compute_get(struct ctl_store *st, const char *ws_id, struct ctl_arm_compute *out)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = ctl_store_prepare(st,
                                "SELECT clusters, pools, warehouses FROM arm_compute"
                                " WHERE ws_lc = lower(?)",
                                &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, ws_id);
    if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        out->clusters = sqlite3_column_int64(stmt, 0);
        out->pools = sqlite3_column_int64(stmt, 1);
        out->warehouses = sqlite3_column_int64(stmt, 2);
    }
    sqlite3_finalize(stmt);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : SCC_ESTORE;
}

int
ctl_store_arm_compute_set(struct ctl_store *st, const char *ws_id, const struct ctl_arm_compute *in)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(st,
                                "INSERT OR REPLACE INTO arm_compute (ws_lc, clusters, pools,"
                                " warehouses) VALUES (lower(?), ?, ?, ?)",
                                &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, ws_id);
    sqlite3_bind_int64(stmt, 2, in->clusters);
    sqlite3_bind_int64(stmt, 3, in->pools);
    sqlite3_bind_int64(stmt, 4, in->warehouses);
    return ctl_store_run(st, stmt);
}

/* ---- API tokens ---- */

int
ctl_store_arm_api_token_each(struct ctl_store *st,
                             int (*fn)(const struct ctl_api_token *t, void *arg), void *arg)
{
    sqlite3_stmt *stmt = NULL;
    struct ctl_api_token t;
    int rc, stop = 0;

    if ((rc = ctl_store_prepare(st,
                                "SELECT id, hash, scope, name, created_ms, expires_ms, revoked_ms"
                                " FROM api_tokens ORDER BY created_ms",
                                &stmt)) < 0)
        return rc;
    while (stop == 0 && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        memset(&t, 0, sizeof(t));
        ctl_store_col_text(stmt, 0, t.id, sizeof(t.id));
        ctl_store_col_text(stmt, 1, t.hash, sizeof(t.hash));
        ctl_store_col_text(stmt, 2, t.scope, sizeof(t.scope));
        ctl_store_col_text(stmt, 3, t.name, sizeof(t.name));
        t.created_ms = sqlite3_column_int64(stmt, 4);
        t.expires_ms = sqlite3_column_int64(stmt, 5);
        t.revoked_ms = sqlite3_column_int64(stmt, 6);
        stop = fn(&t, arg);
    }
    sqlite3_finalize(stmt);
    if (stop)
        return stop;
    return rc == SQLITE_DONE ? 0 : SCC_ESTORE;
}

int
ctl_store_arm_api_token_revoke(struct ctl_store *st, const char *id, int64_t now_ms)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(st,
                                "UPDATE api_tokens SET revoked_ms = ? WHERE id = ?"
                                " AND revoked_ms IS NULL",
                                &stmt)) < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, now_ms);
    ctl_store_bind_text(stmt, 2, id);
    if ((rc = ctl_store_run(st, stmt)) < 0)
        return rc;
    return sqlite3_changes(st->db) == 1 ? 0 : SCC_ENOTFOUND;
}
