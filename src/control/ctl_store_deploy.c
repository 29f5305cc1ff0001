/* Template deployments in the store (schema: migration 3 in ctl_store.c). */
#include "ctl_store_deploy.h"

#include "ctl_store_int.h"

#include "common/err.h"
#include "common/mem.h"

#include <stdio.h>
#include <string.h>

/* The end of a walk: fn's non-zero return, or whether the rows ran out. */
static int
walk_end(struct ctl_store *st, sqlite3_stmt *stmt, int rc, int stop)
{
    if (stop == 0 && rc != SQLITE_DONE)
        snprintf(st->err, sizeof(st->err), "%s", sqlite3_errmsg(st->db));
    sqlite3_finalize(stmt);
    if (stop)
        return stop;
    return rc == SQLITE_DONE ? 0 : SCC_ESTORE;
}

void
ctl_deploy_row_fini(struct ctl_deploy_row *r)
{
    scc_free(r->id);
    scc_free(r->sub);
    scc_free(r->rg_id);
    scc_free(r->name);
    scc_free(r->body);
    scc_free(r->tmpl);
    scc_free(r->params);
    scc_free(r->secure);
    scc_free(r->run);
    memset(r, 0, sizeof(*r));
}

void
ctl_deploy_op_row_fini(struct ctl_deploy_op_row *r)
{
    scc_free(r->poll);
    scc_free(r->body);
    memset(r, 0, sizeof(*r));
}

static int
exec_id(struct ctl_store *st, const char *sql, const char *id)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(st, sql, &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, id);
    return ctl_store_run(st, stmt);
}

int
ctl_store_deploy_put(struct ctl_store *st, const struct ctl_deploy_row *r)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = exec_id(st, "DELETE FROM arm_deployment_ops WHERE dep_lc = lower(?)", r->id)) < 0 ||
        (rc = ctl_store_prepare(
                 st,
                 "INSERT OR REPLACE INTO arm_deployments (id_lc, id, sub, rg_lc, rg_id, name,"
                 " op_id, state, body, template, params, secure, run, created_ms, updated_ms)"
                 " VALUES (lower(?1), ?1, lower(?2), lower(?3), ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
                 " ?11, ?12, ?13)",
                 &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, r->id);
    ctl_store_bind_text(stmt, 2, r->sub);
    ctl_store_bind_text(stmt, 3, r->rg_id);
    ctl_store_bind_text(stmt, 4, r->name);
    ctl_store_bind_text(stmt, 5, r->op_id);
    ctl_store_bind_text(stmt, 6, r->state);
    ctl_store_bind_text(stmt, 7, r->body);
    ctl_store_bind_text(stmt, 8, r->tmpl);
    ctl_store_bind_text(stmt, 9, r->params);
    ctl_store_bind_text(stmt, 10, r->secure);
    ctl_store_bind_text(stmt, 11, r->run);
    sqlite3_bind_int64(stmt, 12, r->created_ms);
    sqlite3_bind_int64(stmt, 13, r->updated_ms);
    return ctl_store_run(st, stmt);
}

int
ctl_store_deploy_update(struct ctl_store *st, const char *id, const char *op_id, const char *state,
                        const char *body, int64_t now_ms)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(st,
                                "UPDATE arm_deployments SET state = ?2, body = ?3, updated_ms = ?4"
                                " WHERE id_lc = lower(?1) AND op_id = ?5"
                                " AND state IN ('Accepted', 'Running')",
                                &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, id);
    ctl_store_bind_text(stmt, 2, state);
    ctl_store_bind_text(stmt, 3, body);
    sqlite3_bind_int64(stmt, 4, now_ms);
    ctl_store_bind_text(stmt, 5, op_id);
    if ((rc = ctl_store_run(st, stmt)) < 0)
        return rc;
    return sqlite3_changes(st->db) == 0 ? SCC_ENOTFOUND : 0;
}

#define DEP_COLS                                                                                   \
    "SELECT id, sub, rg_id, name, op_id, state, body, created_ms, updated_ms, template, params,"   \
    " secure, run FROM arm_deployments"
#define DEP_COLS_SHORT                                                                             \
    "SELECT id, sub, rg_id, name, op_id, state, body, created_ms, updated_ms FROM arm_deployments"

static int
dep_read(sqlite3_stmt *stmt, bool with_run, struct ctl_deploy_row *r)
{
    bool ok = true;

    memset(r, 0, sizeof(*r));
    r->id = ctl_store_col_dup(stmt, 0, &ok);
    r->sub = ctl_store_col_dup(stmt, 1, &ok);
    r->rg_id = ctl_store_col_dup(stmt, 2, &ok);
    r->name = ctl_store_col_dup(stmt, 3, &ok);
    ctl_store_col_text(stmt, 4, r->op_id, sizeof(r->op_id));
    ctl_store_col_text(stmt, 5, r->state, sizeof(r->state));
    r->body = ctl_store_col_dup(stmt, 6, &ok);
    r->created_ms = sqlite3_column_int64(stmt, 7);
    r->updated_ms = sqlite3_column_int64(stmt, 8);
    if (with_run) {
        r->tmpl = ctl_store_col_dup(stmt, 9, &ok);
        r->params = ctl_store_col_dup(stmt, 10, &ok);
        r->secure = ctl_store_col_dup(stmt, 11, &ok);
        r->run = ctl_store_col_dup(stmt, 12, &ok);
    }
    if (!ok || r->id == NULL || r->body == NULL || (with_run && r->tmpl == NULL)) {
        ctl_deploy_row_fini(r);
        return SCC_ENOMEM;
    }
    return 0;
}

int
ctl_store_deploy_get(struct ctl_store *st, const char *id, bool with_run,
                     struct ctl_deploy_row *out)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(st,
                                with_run ? DEP_COLS " WHERE id_lc = lower(?)"
                                         : DEP_COLS_SHORT " WHERE id_lc = lower(?)",
                                &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, id);
    if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        rc = dep_read(stmt, with_run, out);
    else
        rc = rc == SQLITE_DONE ? SCC_ENOTFOUND : SCC_ESTORE;
    sqlite3_finalize(stmt);
    return rc;
}

int
ctl_store_deploy_del(struct ctl_store *st, const char *id)
{
    int rc = exec_id(st, "DELETE FROM arm_deployment_ops WHERE dep_lc = lower(?)", id);

    return rc < 0 ? rc : exec_id(st, "DELETE FROM arm_deployments WHERE id_lc = lower(?)", id);
}

static int
dep_walk(struct ctl_store *st, sqlite3_stmt *stmt, bool with_run, ctl_deploy_row_cb fn, void *arg)
{
    struct ctl_deploy_row r;
    int rc, stop = 0;

    while (stop == 0 && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if ((rc = dep_read(stmt, with_run, &r)) < 0) {
            sqlite3_finalize(stmt);
            return rc;
        }
        stop = fn(&r, arg);
        ctl_deploy_row_fini(&r);
    }
    return walk_end(st, stmt, rc, stop);
}

int
ctl_store_deploy_each(struct ctl_store *st, const char *rg_id, ctl_deploy_row_cb fn, void *arg)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(st,
                                DEP_COLS_SHORT " WHERE rg_lc = lower(?) ORDER BY created_ms, id_lc",
                                &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, rg_id);
    return dep_walk(st, stmt, false, fn, arg);
}

int
ctl_store_deploy_each_active(struct ctl_store *st, ctl_deploy_row_cb fn, void *arg)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(st,
                                DEP_COLS " WHERE state IN ('Accepted', 'Running')"
                                         " ORDER BY created_ms",
                                &stmt)) < 0)
        return rc;
    return dep_walk(st, stmt, true, fn, arg);
}

int
ctl_store_deploy_prune(struct ctl_store *st, const char *rg_id, int keep)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(
                 st,
                 "DELETE FROM arm_deployments WHERE id_lc IN (SELECT id_lc FROM arm_deployments"
                 " WHERE rg_lc = lower(?1) AND state NOT IN ('Accepted', 'Running')"
                 " ORDER BY created_ms LIMIT max(0, (SELECT count(*) FROM arm_deployments"
                 " WHERE rg_lc = lower(?1)) - ?2))",
                 &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, rg_id);
    sqlite3_bind_int(stmt, 2, keep);
    if ((rc = ctl_store_run(st, stmt)) < 0)
        return rc;
    /* Operations of deployments that are gone. */
    return ctl_store_exec(st, "DELETE FROM arm_deployment_ops WHERE dep_lc NOT IN"
                              " (SELECT id_lc FROM arm_deployments)");
}

int
ctl_store_deploy_op_put(struct ctl_store *st, const char *dep_id, const char *dep_op_id,
                        const struct ctl_deploy_op_row *r)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(st,
                                "INSERT OR REPLACE INTO arm_deployment_ops (dep_lc, idx, op_id,"
                                " state, poll, body) SELECT lower(?1), ?2, ?3, ?4, ?5, ?6"
                                " WHERE EXISTS (SELECT 1 FROM arm_deployments"
                                " WHERE id_lc = lower(?1) AND op_id = ?7)",
                                &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, dep_id);
    ctl_store_bind_text(stmt, 7, dep_op_id);
    sqlite3_bind_int(stmt, 2, r->idx);
    ctl_store_bind_text(stmt, 3, r->op_id);
    ctl_store_bind_text(stmt, 4, r->state);
    ctl_store_bind_text(stmt, 5, r->poll);
    ctl_store_bind_text(stmt, 6, r->body);
    return ctl_store_run(st, stmt);
}

static int
op_read(sqlite3_stmt *stmt, struct ctl_deploy_op_row *r)
{
    bool ok = true;

    memset(r, 0, sizeof(*r));
    r->idx = sqlite3_column_int(stmt, 0);
    ctl_store_col_text(stmt, 1, r->op_id, sizeof(r->op_id));
    ctl_store_col_text(stmt, 2, r->state, sizeof(r->state));
    r->poll = ctl_store_col_dup(stmt, 3, &ok);
    r->body = ctl_store_col_dup(stmt, 4, &ok);
    if (!ok || r->body == NULL) {
        ctl_deploy_op_row_fini(r);
        return SCC_ENOMEM;
    }
    return 0;
}

int
ctl_store_deploy_op_each(struct ctl_store *st, const char *dep_id, ctl_deploy_op_cb fn, void *arg)
{
    struct ctl_deploy_op_row r;
    sqlite3_stmt *stmt = NULL;
    int rc, stop = 0;

    if ((rc = ctl_store_prepare(st,
                                "SELECT idx, op_id, state, poll, body FROM arm_deployment_ops"
                                " WHERE dep_lc = lower(?) ORDER BY idx",
                                &stmt)) < 0)
        return rc;
    ctl_store_bind_text(stmt, 1, dep_id);
    while (stop == 0 && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if ((rc = op_read(stmt, &r)) < 0) {
            sqlite3_finalize(stmt);
            return rc;
        }
        stop = fn(&r, arg);
        ctl_deploy_op_row_fini(&r);
    }
    return walk_end(st, stmt, rc, stop);
}
