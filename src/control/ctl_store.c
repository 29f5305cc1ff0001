#include "ctl_store.h"

#include "ctl_store_int.h"

#include "common/err.h"
#include "common/mem.h"

#include <stdio.h>
#include <string.h>

/*
 * The schema, one migration per entry.  Never edit a shipped entry: add a
 * new one.  Entry i moves the database from user_version i to i + 1.
 */
static const char *const migrations[] = {
        /* 1: nodes, join tokens, certificates, API tokens */
        "CREATE TABLE join_tokens ("
        "  id TEXT PRIMARY KEY, hash TEXT NOT NULL,"
        "  ws TEXT NOT NULL, cluster TEXT NOT NULL, node TEXT NOT NULL,"
        "  created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL,"
        "  used_ms INTEGER, used_key TEXT, cert_pem TEXT);"
        "CREATE TABLE node_certs ("
        "  serial TEXT PRIMARY KEY, ws TEXT NOT NULL, cluster TEXT NOT NULL, node TEXT NOT NULL,"
        "  issued_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, revoked_ms INTEGER);"
        "CREATE INDEX node_certs_node ON node_certs(ws, cluster, node);"
        "CREATE INDEX node_certs_revoked ON node_certs(revoked_ms) WHERE revoked_ms IS NOT NULL;"
        "CREATE TABLE api_tokens ("
        "  id TEXT PRIMARY KEY, hash TEXT NOT NULL, scope TEXT NOT NULL, name TEXT,"
        "  created_ms INTEGER NOT NULL, expires_ms INTEGER, revoked_ms INTEGER);",
        /* 2: the ARM layer (ctl_store_arm.c): every resource is one row whose
         * body is the JSON a GET returns; ids are matched through id_lc. */
        "CREATE TABLE arm_resources ("
        "  id_lc TEXT PRIMARY KEY, id TEXT NOT NULL, sub TEXT NOT NULL, rg TEXT, rg_lc TEXT,"
        "  type TEXT NOT NULL, type_lc TEXT NOT NULL, name TEXT NOT NULL, locked_by TEXT,"
        "  body TEXT NOT NULL,"
        "  created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);"
        "CREATE INDEX arm_resources_rg ON arm_resources(sub, rg_lc, type_lc);"
        "CREATE INDEX arm_resources_type ON arm_resources(sub, type_lc);"
        "CREATE TABLE arm_providers ("
        "  sub TEXT NOT NULL, ns_lc TEXT NOT NULL, state TEXT NOT NULL, PRIMARY KEY (sub, ns_lc));"
        "CREATE TABLE arm_refs ("
        "  owner_lc TEXT NOT NULL, kind TEXT NOT NULL, src TEXT NOT NULL,"
        "  dst_lc TEXT NOT NULL, dst TEXT NOT NULL);"
        "CREATE INDEX arm_refs_owner ON arm_refs(owner_lc);"
        "CREATE INDEX arm_refs_dst ON arm_refs(dst_lc);"
        "CREATE TABLE arm_ips ("
        "  pool_lc TEXT NOT NULL, ip TEXT NOT NULL, owner_lc TEXT NOT NULL,"
        "  PRIMARY KEY (pool_lc, ip));"
        "CREATE INDEX arm_ips_owner ON arm_ips(owner_lc);"
        "CREATE TABLE arm_ops ("
        "  id TEXT PRIMARY KEY, sub TEXT NOT NULL, ns TEXT NOT NULL, location TEXT NOT NULL,"
        "  kind TEXT NOT NULL, resource_id TEXT NOT NULL, resource_lc TEXT NOT NULL,"
        "  status TEXT NOT NULL, step INTEGER NOT NULL, error_code TEXT, error_message TEXT,"
        "  payload TEXT, start_ms INTEGER NOT NULL, end_ms INTEGER);"
        "CREATE INDEX arm_ops_active ON arm_ops(resource_lc) WHERE status = 'InProgress';"
        "CREATE TABLE arm_compute ("
        "  ws_lc TEXT PRIMARY KEY, clusters INTEGER NOT NULL, pools INTEGER NOT NULL,"
        "  warehouses INTEGER NOT NULL);",
        /* 3: template deployments (ctl_store_deploy.c); a resource group's
         * deployments go with its row. */
        "CREATE TABLE arm_deployments ("
        "  id_lc TEXT PRIMARY KEY, id TEXT NOT NULL, sub TEXT NOT NULL, rg_lc TEXT NOT NULL,"
        "  rg_id TEXT NOT NULL, name TEXT NOT NULL, op_id TEXT NOT NULL, state TEXT NOT NULL,"
        "  body TEXT NOT NULL, template TEXT NOT NULL, params TEXT, secure TEXT, run TEXT,"
        "  created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);"
        "CREATE INDEX arm_deployments_rg ON arm_deployments(rg_lc, created_ms);"
        "CREATE INDEX arm_deployments_active ON arm_deployments(state)"
        "  WHERE state IN ('Accepted', 'Running');"
        "CREATE TABLE arm_deployment_ops ("
        "  dep_lc TEXT NOT NULL, idx INTEGER NOT NULL, op_id TEXT NOT NULL, state TEXT NOT NULL,"
        "  poll TEXT, body TEXT NOT NULL, PRIMARY KEY (dep_lc, idx));"
        "CREATE TRIGGER arm_deployments_rg_gone AFTER DELETE ON arm_resources"
        "  WHEN old.type_lc = 'microsoft.resources/resourcegroups' BEGIN"
        "  DELETE FROM arm_deployment_ops WHERE dep_lc IN"
        "    (SELECT id_lc FROM arm_deployments WHERE rg_lc = old.id_lc);"
        "  DELETE FROM arm_deployments WHERE rg_lc = old.id_lc;"
        "  END;",
        /* 4: the workspace API's objects (ctl_store_dbx.c): clusters and
         * runs, one JSON document each, keyed by the numeric workspaceId. */
        "CREATE TABLE dbx_objects ("
        "  ws TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL,"
        "  updated_ms INTEGER NOT NULL, PRIMARY KEY (ws, kind, id));",
};

const char *
ctl_store_errmsg(struct ctl_store *st)
{
    return sqlite3_errmsg(st->db);
}

int
ctl_store_exec(struct ctl_store *st, const char *sql)
{
    char *msg = NULL;

    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(st->err, sizeof(st->err), "%s", msg ? msg : "unknown error");
        sqlite3_free(msg);
        return SCC_ESTORE;
    }
    return 0;
}

int
ctl_store_begin(struct ctl_store *st)
{
    return ctl_store_exec(st, "BEGIN IMMEDIATE");
}

int
ctl_store_commit(struct ctl_store *st)
{
    return ctl_store_exec(st, "COMMIT");
}

void
ctl_store_rollback(struct ctl_store *st)
{
    (void)ctl_store_exec(st, "ROLLBACK");
}

int
ctl_store_prepare(struct ctl_store *st, const char *sql, sqlite3_stmt **out)
{
    if (sqlite3_prepare_v2(st->db, sql, -1, out, NULL) != SQLITE_OK) {
        snprintf(st->err, sizeof(st->err), "%s", sqlite3_errmsg(st->db));
        return SCC_ESTORE;
    }
    return 0;
}

/* Copy a text column into a fixed buffer ("" for NULL). */
void
ctl_store_col_text(sqlite3_stmt *stmt, int col, char *out, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(stmt, col);

    snprintf(out, cap, "%s", t ? (const char *)t : "");
}

void
ctl_store_bind_text(sqlite3_stmt *stmt, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(stmt, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(stmt, i);
}

int
ctl_store_run(struct ctl_store *st, sqlite3_stmt *stmt)
{
    int rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : SCC_ESTORE;

    if (rc < 0)
        snprintf(st->err, sizeof(st->err), "%s", sqlite3_errmsg(st->db));
    sqlite3_finalize(stmt);
    return rc;
}

static int
user_version(struct ctl_store *st, int *v)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if ((rc = ctl_store_prepare(st, "PRAGMA user_version", &stmt)) < 0)
        return rc;
    rc = sqlite3_step(stmt) == SQLITE_ROW ? 0 : SCC_ESTORE;
    *v = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    return rc;
}

static int
migrate(struct ctl_store *st)
{
    int have = 0, want = (int)(sizeof(migrations) / sizeof(migrations[0])), rc;
    char sql[64];

    if ((rc = user_version(st, &have)) < 0)
        return rc;
    if (have > want) {
        snprintf(st->err, sizeof(st->err),
                 "database schema version %d is newer than this sccd (%d): refusing to run", have,
                 want);
        return SCC_ESTORE;
    }
    for (int v = have; v < want; v++) {
        if ((rc = ctl_store_begin(st)) < 0)
            return rc;
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
        if ((rc = ctl_store_exec(st, migrations[v])) < 0 || (rc = ctl_store_exec(st, sql)) < 0) {
            ctl_store_rollback(st);
            return rc;
        }
        if ((rc = ctl_store_commit(st)) < 0)
            return rc;
    }
    return 0;
}

int
ctl_store_open(const char *path, struct ctl_store **out, char *err, size_t cap)
{
    struct ctl_store *st = scc_calloc(1, sizeof(*st));
    int rc = SCC_ESTORE;

    *out = NULL;
    if (st == NULL)
        return SCC_ENOMEM;
    if (sqlite3_open_v2(path, &st->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(st->err, sizeof(st->err), "%s", st->db ? sqlite3_errmsg(st->db) : "no memory");
        goto out;
    }
    /* Other processes (relays) may hold the write lock briefly. */
    sqlite3_busy_timeout(st->db, 5000);
    if ((rc = ctl_store_exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                                 "PRAGMA foreign_keys=ON;")) < 0 ||
        (rc = migrate(st)) < 0)
        goto out;
    *out = st;
    st = NULL;
out:
    if (st) {
        snprintf(err, cap, "%s: %s", path, st->err);
        ctl_store_close(st);
    }
    return rc;
}

void
ctl_store_close(struct ctl_store *st)
{
    if (st == NULL)
        return;
    sqlite3_close(st->db);
    scc_free(st);
}
