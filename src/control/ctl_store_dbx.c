/*
 * ctl_store_dbx.c - the queries of ctl_store_dbx.h.
 */
#include "ctl_store_dbx.h"

#include "ctl_store_int.h"

#include "common/err.h"

int
ctl_store_dbx_put(struct ctl_store *st, const char *ws, const char *kind, const char *id,
                  const char *body, int64_t now_ms)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(
                 st,
                 "INSERT OR REPLACE INTO dbx_objects (ws, kind, id, body, updated_ms)"
                 " VALUES (?, ?, ?, ?, ?)",
                 &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, ws);
    ctl_store_bind_text(stmt, 2, kind);
    ctl_store_bind_text(stmt, 3, id);
    ctl_store_bind_text(stmt, 4, body);
    sqlite3_bind_int64(stmt, 5, now_ms);
    return ctl_store_run(st, stmt);
}

int
ctl_store_dbx_del(struct ctl_store *st, const char *ws, const char *kind, const char *id)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(st, "DELETE FROM dbx_objects WHERE ws = ? AND kind = ? AND id = ?",
                                &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, ws);
    ctl_store_bind_text(stmt, 2, kind);
    ctl_store_bind_text(stmt, 3, id);
    return ctl_store_run(st, stmt);
}

int
ctl_store_dbx_del_ws(struct ctl_store *st, const char *ws)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(st, "DELETE FROM dbx_objects WHERE ws = ?", &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, ws);
    return ctl_store_run(st, stmt);
}

int
ctl_store_dbx_get(struct ctl_store *st, const char *ws, const char *kind, const char *id,
                  char **out)
{
    sqlite3_stmt *stmt = NULL;
    bool ok = true;
    int rc;

    *out = NULL;
    if ((rc = ctl_store_prepare(st,
                                "SELECT body FROM dbx_objects WHERE ws = ? AND kind = ? AND id = ?",
                                &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, ws);
    ctl_store_bind_text(stmt, 2, kind);
    ctl_store_bind_text(stmt, 3, id);
    if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        *out = ctl_store_col_dup(stmt, 0, &ok);
    sqlite3_finalize(stmt);
    if (rc == SQLITE_ROW)
        return ok ? 0 : SCC_ENOMEM;
    return rc == SQLITE_DONE ? SCC_ENOTFOUND : SCC_ESTORE;
}

int
ctl_store_dbx_each(struct ctl_store *st, const char *skip,
                   int (*fn)(const char *ws, const char *kind, const char *id, const char *body,
                             void *arg),
                   void *arg)
{
    sqlite3_stmt *stmt = NULL;
    int rc, stop = 0;

    if ((rc = ctl_store_prepare(st,
                                "SELECT ws, kind, id, body FROM dbx_objects WHERE kind != ?"
                                " ORDER BY updated_ms",
                                &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, skip);
    while (stop == 0 && (rc = sqlite3_step(stmt)) == SQLITE_ROW)
        stop = fn((const char *)sqlite3_column_text(stmt, 0),
                  (const char *)sqlite3_column_text(stmt, 1),
                  (const char *)sqlite3_column_text(stmt, 2),
                  (const char *)sqlite3_column_text(stmt, 3), arg);
    sqlite3_finalize(stmt);
    if (stop)
        return stop;
    return rc == SQLITE_DONE ? 0 : SCC_ESTORE;
}
