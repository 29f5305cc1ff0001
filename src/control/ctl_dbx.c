/*
 * ctl_dbx.c - the workspace API's entry: which workspace a request is for,
 * who asks, errors in Databricks' shape, the documents and their store,
 * in-process calls to the ARM layer and to nodes, the 100 ms tick, and
 * the small endpoints clients call first (SCIM Me, the well-known config).
 */
#include "ctl_dbx_int.h"

#include "ctl_arm_int.h"
#include "ctl_store_dbx.h"

#include "common/err.h"
#include "common/json.h"
#include "common/map.h"
#include "common/mem.h"
#include "common/time.h"
#include "common/worker.h"
#include "relay/relay.h"

#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* What moves clusters and runs along: often enough that a state change is
 * seen within 100 ms; calls to nodes are paced per task (ctl_dbx_run.c). */
#define TICK_MS 100

/* ---- which workspace ---- */

bool
ctl_dbx_is_workspace_host(const struct ctl *c, const char *host)
{
    char id[24];

    return ctl_dbx_host_parse(c->cfg->workspace_domain, host, id, sizeof(id)) == 0;
}

struct ws_scan {
    const char *want;
    struct dbx_ws *out;
    bool found;
};

/* If cache entry (key, e) is the workspace of id s->want, fill s->out. */
static int
ws_scan_one(const char *key, void *value, void *arg)
{
    struct ws_scan *s = arg;
    const struct arm_entry *e = value;
    const char *t = strstr(key, "/providers/microsoft.databricks/workspaces/");
    json_t *b, *wsid;
    int hit = 0;

    if (t == NULL || strchr(t + 43, '/') != NULL)
        return 0;
    if ((b = json_loadb(e->text, e->len, 0, NULL)) == NULL)
        return 0;
    wsid = json_object_get(json_object_get(b, "properties"), "workspaceId");
    if (json_is_string(wsid) && strcmp(json_string_value(wsid), s->want) == 0) {
        snprintf(s->out->id, sizeof(s->out->id), "%s", s->want);
        snprintf(s->out->rid, sizeof(s->out->rid), "%s",
                 json_string_value(json_object_get(b, "id")));
        snprintf(s->out->name, sizeof(s->out->name), "%s",
                 json_string_value(json_object_get(b, "name")));
        s->found = true;
        hit = 1;
    }
    json_decref(b);
    return hit;
}

/* The workspace whose workspaceId is id, from the ARM layer's cache: the
 * entry remembered for id if it still says so, else a walk of the cache
 * (a request of a workspace API client costs one parse, not one per
 * workspace). */
static bool
ws_find(struct dbx *d, const char *id, struct dbx_ws *out)
{
    struct ws_scan s = {.want = id, .out = out};
    const char *key = dbx_str(d->ws_keys, id);
    char lc[CTL_ARM_ID_MAX];
    struct arm_entry *e = key ? scc_map_get(d->c->arm->cache, key) : NULL;

    if (e && ws_scan_one(key, e, &s))
        return true;
    (void)scc_map_each(d->c->arm->cache, ws_scan_one, &s);
    if (s.found && ctl_arm_lower(out->rid, lc, sizeof(lc)) == 0) /* the cache's key */
        json_object_set_new(d->ws_keys, id, json_string(lc));
    else
        json_object_del(d->ws_keys, id);
    return s.found;
}

/* May this principal use workspace ws?  The same scopes as the ARM API. */
static bool
ws_allowed(const struct ctl_principal *who, const struct dbx_ws *ws)
{
    const char *s = who->scope;
    size_t n;

    if (strcmp(s, "*") == 0)
        return true;
    if (strncmp(s, "subscription/", 13) == 0) {
        n = strlen(s + 13);
        return strncasecmp(ws->rid, "/subscriptions/", 15) == 0 &&
               strncasecmp(ws->rid + 15, s + 13, n) == 0 && ws->rid[15 + n] == '/';
    }
    if (strncmp(s, "workspace/", 10) == 0)
        return s[10] == '/' ? strcasecmp(s + 10, ws->rid) == 0 : strcasecmp(s + 10, ws->name) == 0;
    return false;
}

/* ---- answers ---- */

static void
answer(struct dbx_req *q, int status, json_t *body)
{
    struct ctl_arm_resp resp = {.status = status};

    resp.body = body ? arm_dumps(body, &resp.body_len) : NULL;
    if (body && resp.body == NULL) {
        resp.status = 500;
        resp.body = scc_strdup("{\"error_code\":\"INTERNAL_ERROR\",\"message\":\"out of memory\"}");
        resp.body_len = resp.body ? strlen(resp.body) : 0;
    }
    if (q->ws.id[0]) {
        resp.hdrs[0].name = "X-Databricks-Org-Id";
        resp.hdrs[0].value = scc_strdup(q->ws.id);
        resp.nhdrs = resp.hdrs[0].value ? 1 : 0;
    }
    q->done(q->arg, &resp);
    ctl_arm_resp_fini(&resp);
    json_decref(body);
    json_decref(q->body);
    scc_free(q->query);
    scc_free(q);
}

/* A worker job with no work: its completion comes after every save queued
 * before it, so the answer it carries follows them into the store. */
struct barrier {
    struct dbx_req *q;
    int status;
    json_t *body;
};

static void
barrier_nop(void *arg)
{
    (void)arg;
}

static void
barrier_done(void *arg)
{
    struct barrier *b = arg;

    answer(b->q, b->status, b->body);
    scc_free(b);
}

void
dbx_reply(struct dbx_req *q, int status, json_t *body)
{
    struct barrier *b = scc_calloc(1, sizeof(*b));

    if (body == NULL)
        body = json_object();
    if (b == NULL) {
        answer(q, status, body);
        return;
    }
    *b = (struct barrier){q, status, body};
    if (scc_worker_submit(q->d->c->worker, barrier_nop, barrier_done, b) < 0) {
        scc_free(b);
        answer(q, status, body);
    }
}

void
dbx_error(struct dbx_req *q, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    dbx_reply(q, status, json_pack("{s:s, s:s}", "error_code", code, "message", msg));
}

/* ---- parameters ---- */

bool
dbx_query(const struct dbx_req *q, const char *key, char *out, size_t cap)
{
    return ctl_dbx_query_get(q->query, key, out, cap);
}

const char *
dbx_param(struct dbx_req *q, const char *key, char *buf, size_t cap)
{
    json_t *v = json_object_get(q->body, key);

    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    return dbx_query(q, key, buf, cap) ? buf : NULL;
}

bool
dbx_param_id(struct dbx_req *q, const char *key, char *id, size_t cap)
{
    const char *v = dbx_param(q, key, id, cap);

    if (v == NULL) {
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE", "Missing required field: %s", key);
        return false;
    }
    if (v != id)
        snprintf(id, cap, "%s", v);
    return true;
}

bool
dbx_query_true(const struct dbx_req *q, const char *key)
{
    char buf[8];

    return dbx_query(q, key, buf, sizeof(buf)) && strcmp(buf, "true") == 0;
}

bool
dbx_page(struct dbx_req *q, long long max, long long *limit, long long *off)
{
    char buf[32];

    *limit = dbx_query(q, "limit", buf, sizeof(buf)) ? atoll(buf) : 20;
    *off = dbx_query(q, "page_token", buf, sizeof(buf)) || dbx_query(q, "offset", buf, sizeof(buf))
                   ? atoll(buf)
                   : 0;
    if (*limit >= 1 && *limit <= max && *off >= 0)
        return true;
    dbx_error(q, 400, "INVALID_PARAMETER_VALUE", "limit must be from 1 to %lld", max);
    return false;
}

void
dbx_reply_page(struct dbx_req *q, const char *key, json_t *items, long long next)
{
    char tok[24];

    /* A token only when there is more: SDK iterators follow one given
     * again for ever. */
    snprintf(tok, sizeof(tok), "%lld", next);
    dbx_reply(q, 200,
              next >= 0 ? json_pack("{s:o, s:b, s:s}", key, items, "has_more", 1, "next_page_token",
                                    tok)
                        : json_pack("{s:o, s:b}", key, items, "has_more", 0));
}

/* ---- documents ---- */

static void
obj_key(char *out, size_t cap, const char *ws, const char *kind, const char *id)
{
    snprintf(out, cap, "%s/%s/%s", ws, kind, id);
}

json_t *
dbx_get(struct dbx *d, const char *ws, const char *kind, const char *id)
{
    char key[160];

    obj_key(key, sizeof(key), ws, kind, id);
    return json_object_get(d->objs, key);
}

void
dbx_put(struct dbx *d, const char *ws, const char *kind, const char *id, json_t *doc)
{
    char key[160];

    obj_key(key, sizeof(key), ws, kind, id);
    json_object_set_new(d->objs, key, doc);
    dbx_save(d, ws, kind, id);
}

struct save_job {
    struct ctl *c;
    char ws[24], kind[16], id[64];
    char *text; /* NULL: delete */
    int64_t now;
    int rc;
};

static void
save_run(void *arg)
{
    struct save_job *j = arg;

    j->rc = j->text ? ctl_store_dbx_put(j->c->store, j->ws, j->kind, j->id, j->text, j->now)
                    : ctl_store_dbx_del(j->c->store, j->ws, j->kind, j->id);
}

static void
save_done(void *arg)
{
    struct save_job *j = arg;

    if (j->rc < 0)
        scc_log_error(&j->c->log, "workspace %s: cannot store %s %s: %s", j->ws, j->kind, j->id,
                      ctl_store_errmsg(j->c->store));
    scc_free(j->text);
    scc_free(j);
}

static void
save_queue(struct dbx *d, const char *ws, const char *kind, const char *id, char *text)
{
    struct save_job *j = scc_calloc(1, sizeof(*j));

    if (j == NULL) {
        scc_free(text);
        scc_log_error(&d->c->log, "workspace %s: out of memory storing %s %s", ws, kind, id);
        return;
    }
    *j = (struct save_job){.c = d->c, .text = text, .now = dbx_now()};
    snprintf(j->ws, sizeof(j->ws), "%s", ws);
    snprintf(j->kind, sizeof(j->kind), "%s", kind);
    snprintf(j->id, sizeof(j->id), "%s", id);
    if (scc_worker_submit(d->c->worker, save_run, save_done, j) < 0) {
        scc_log_error(&d->c->log, "workspace %s: store queue full, %s %s not stored", ws, kind, id);
        scc_free(j->text);
        scc_free(j);
    }
}

void
dbx_save(struct dbx *d, const char *ws, const char *kind, const char *id)
{
    json_t *doc = dbx_get(d, ws, kind, id);
    char *text = doc ? scc_json_dumps(doc) : NULL;

    if (doc && text == NULL) {
        scc_log_error(&d->c->log, "workspace %s: out of memory storing %s %s", ws, kind, id);
        return;
    }
    save_queue(d, ws, kind, id, text);
}

void
dbx_store_put(struct dbx *d, const char *ws, const char *kind, const char *id, char *text)
{
    save_queue(d, ws, kind, id, text);
}

void
dbx_del(struct dbx *d, const char *ws, const char *kind, const char *id)
{
    char key[160];

    /* id may point into the document: the store's copy is made first. */
    obj_key(key, sizeof(key), ws, kind, id);
    save_queue(d, ws, kind, id, NULL);
    json_object_del(d->objs, key);
}

void
dbx_each(struct dbx *d, const char *ws, const char *kind,
         void (*fn)(struct dbx *d, const char *id, json_t *doc, void *arg), void *arg)
{
    char prefix[64];
    size_t plen = (size_t)snprintf(prefix, sizeof(prefix), "%s/%s/", ws, kind);
    const char *key;
    json_t *doc;
    void *tmp;

    json_object_foreach_safe(d->objs, tmp, key, doc)
    {
        if (strncmp(key, prefix, plen) == 0)
            fn(d, key + plen, doc, arg);
    }
}

static void
sorted_one(struct dbx *d, const char *id, json_t *doc, void *arg)
{
    (void)d, (void)id;
    json_array_append(arg, doc);
}

json_t **
dbx_sorted(struct dbx *d, const char *ws, const char *kind, int (*cmp)(const void *, const void *),
           size_t *n)
{
    json_t *all = json_array(), **v;
    size_t i;

    dbx_each(d, ws, kind, sorted_one, all);
    *n = json_array_size(all);
    if ((v = scc_calloc(*n ? *n : 1, sizeof(*v))) != NULL) {
        for (i = 0; i < *n; i++)
            v[i] = json_array_get(all, i); /* d->objs keeps them alive */
        qsort(v, *n, sizeof(*v), cmp);
    }
    json_decref(all);
    return v;
}

static void
count_one(struct dbx *d, const char *id, json_t *doc, void *arg)
{
    (void)d, (void)id, (void)doc;
    (*(size_t *)arg)++;
}

size_t
dbx_count(struct dbx *d, const char *ws, const char *kind)
{
    size_t n = 0;

    dbx_each(d, ws, kind, count_one, &n);
    return n;
}

json_t *
dbx_public(const json_t *doc)
{
    json_t *o = json_copy((json_t *)doc);

    json_object_del(o, DBX_PRIV);
    return o;
}

json_t *
dbx_priv(json_t *doc)
{
    json_t *p = json_object_get(doc, DBX_PRIV);

    if (p == NULL) {
        p = json_object();
        json_object_set_new(doc, DBX_PRIV, p);
    }
    return p;
}

int64_t
dbx_now(void)
{
    return (int64_t)scc_time_wall_ms();
}

/* ---- store reads ---- */

struct get_job {
    struct dbx *d;
    char ws[24], kind[16], id[64];
    char *text;
    void (*cb)(struct dbx *d, void *ctx, const char *text);
    void *ctx;
};

static void
get_run(void *arg)
{
    struct get_job *j = arg;

    (void)ctl_store_dbx_get(j->d->c->store, j->ws, j->kind, j->id, &j->text);
}

static void
get_done(void *arg)
{
    struct get_job *j = arg;

    j->cb(j->d, j->ctx, j->text);
    scc_free(j->text);
    scc_free(j);
}

void
dbx_store_get(struct dbx *d, const char *ws, const char *kind, const char *id,
              void (*cb)(struct dbx *d, void *ctx, const char *text), void *ctx)
{
    struct get_job *j = scc_calloc(1, sizeof(*j));

    if (j == NULL) {
        cb(d, ctx, NULL);
        return;
    }
    *j = (struct get_job){.d = d, .cb = cb, .ctx = ctx};
    snprintf(j->ws, sizeof(j->ws), "%s", ws);
    snprintf(j->kind, sizeof(j->kind), "%s", kind);
    snprintf(j->id, sizeof(j->id), "%s", id);
    if (scc_worker_submit(d->c->worker, get_run, get_done, j) < 0) {
        scc_free(j);
        cb(d, ctx, NULL);
    }
}

/* ---- calls in flight ---- */

struct dbx_pending {
    struct dbx *d;
    LIST_ENTRY(dbx_pending) link; /* in d->pending */
    struct relay_call *call;      /* node calls */
    void *ctx;
    dbx_arm_cb arm_cb;
    dbx_node_cb node_cb;
};

static struct dbx_pending *
pending_new(struct dbx *d, void *ctx)
{
    struct dbx_pending *p = scc_calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    p->d = d;
    p->ctx = ctx;
    LIST_INSERT_HEAD(&d->pending, p, link);
    return p;
}

static void
pending_free(struct dbx_pending *p)
{
    LIST_REMOVE(p, link);
    scc_free(p);
}

static void
arm_done(void *arg, const struct ctl_arm_resp *resp)
{
    struct dbx_pending *p = arg;

    if (!p->d->stopping)
        p->arm_cb(p->d, p->ctx, resp);
    else
        scc_free(p->ctx);
    pending_free(p);
}

void
dbx_arm(struct dbx *d, const char *method, const char *path, json_t *body, dbx_arm_cb cb, void *ctx)
{
    static const struct ctl_principal platform = {.token_id = "scc-workspace-api",
                                                  .scope = "*",
                                                  .oid = "00000000-0000-4000-8000-0000000000db",
                                                  .internal = true};
    struct dbx_pending *p = pending_new(d, ctx);
    size_t len = 0;
    char *text = body ? arm_dumps(body, &len) : NULL;
    const char *q = strchr(path, '?');
    char base[CTL_ARM_PATH_MAX];
    struct ctl_arm_req req = {.method = method,
                              .path = base,
                              .query = q ? q + 1 : NULL,
                              .host = "localhost",
                              .body = text,
                              .body_len = len,
                              .who = &platform};
    struct ctl_arm_resp resp = {0};

    json_decref(body);
    snprintf(base, sizeof(base), "%.*s", q ? (int)(q - path) : (int)strlen(path), path);
    if (p == NULL) {
        ctl_arm_resp_error(&resp, 500, "InternalError", "out of memory");
        cb(d, ctx, &resp);
        ctl_arm_resp_fini(&resp);
    } else {
        p->arm_cb = cb;
        ctl_arm_request(d->c, &req, arm_done, p);
    }
    scc_free(text);
}

static void
node_done(void *arg, int status, const char *body, size_t len)
{
    struct dbx_pending *p = arg;

    p->node_cb(p->d, p->ctx, status, body, len);
    pending_free(p);
}

bool
dbx_node(struct dbx *d, const char *node, const char *method, const char *path, const char *body,
         size_t max, dbx_node_cb cb, void *ctx)
{
    struct relay_call_req req = {.node = node,
                                 .method = method,
                                 .path = path,
                                 .body = body,
                                 .max_answer = max,
                                 .timeout_ms = DBX_NODE_CALL_MS};
    struct dbx_pending *p;

    if (d->relay == NULL || d->stopping || (p = pending_new(d, ctx)) == NULL)
        return false;
    p->node_cb = cb;
    if (relay_call(d->relay, &req, node_done, p, &p->call) < 0) {
        pending_free(p);
        return false;
    }
    return true;
}

bool
dbx_node_connected(struct dbx *d, const char *node)
{
    return d->relay && relay_node_connected(d->relay, node);
}

/* ---- small endpoints ---- */

static void
me(struct dbx_req *q)
{
    dbx_reply(q, 200,
              json_pack("{s:s, s:s, s:s, s:b, s:[{s:s, s:b}]}", "id", q->user, "userName", q->user,
                        "displayName", q->user, "active", 1, "emails", "value", q->user, "primary",
                        1));
}

static void
well_known(struct dbx_req *q)
{
    dbx_reply(q, 200,
              json_pack("{s:s, s:s, s:s}", "workspace_id", q->ws.id, "cloud", "Azure", "host_type",
                        "WORKSPACE_HOST"));
}

static void
library_status(struct dbx_req *q)
{
    char id[64];
    const char *cid = dbx_param(q, "cluster_id", id, sizeof(id));

    if (cid == NULL || dbx_get(q->d, q->ws.id, DBX_CLUSTER, cid) == NULL) {
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE", "Cluster %s does not exist",
                  cid ? cid : "(none)");
        return;
    }
    dbx_reply(q, 200, json_pack("{s:s, s:[]}", "cluster_id", cid, "library_statuses"));
}

/* "/api/2.0/clusters/list" -> area "clusters", op "list" (versions 2.0-2.2). */
static bool
api_path(const char *path, const char *area, char *op, size_t cap)
{
    size_t alen = strlen(area);

    if (strncmp(path, "/api/2.", 7) != 0 || path[7] < '0' || path[7] > '2' || path[8] != '/' ||
        strncmp(path + 9, area, alen) != 0 || (path[9 + alen] != '/' && path[9 + alen] != '\0'))
        return false;
    snprintf(op, cap, "%s", path[9 + alen] ? path + 10 + alen : "");
    return true;
}

static void
route(struct dbx_req *q, const char *path)
{
    if (api_path(path, "clusters", q->op, sizeof(q->op)) && path[7] != '2')
        dbx_clusters_route(q);
    else if (api_path(path, "jobs/runs", q->op, sizeof(q->op)) && path[7] != '0')
        dbx_runs_route(q);
    else if (api_path(path, "jobs", q->op, sizeof(q->op)) && path[7] != '0')
        dbx_jobs_route(q); /* after jobs/runs */
    else if (api_path(path, "sql/warehouses", q->op, sizeof(q->op)) && path[7] == '0')
        dbx_warehouses_route(q);
    else if (api_path(path, "instance-pools", q->op, sizeof(q->op)) && path[7] == '0')
        dbx_pools_route(q);
    else if (strcmp(path, "/api/2.0/preview/scim/v2/Me") == 0 && strcmp(q->method, "GET") == 0)
        me(q);
    else if (strcmp(path, "/.well-known/databricks-config") == 0)
        well_known(q);
    else if (strcmp(path, "/api/2.0/libraries/cluster-status") == 0)
        library_status(q);
    else
        dbx_error(q, 404, "ENDPOINT_NOT_FOUND", "No API found for '%s %s'", q->method, path);
}

static void
unauthenticated(const struct ctl_arm_req *req, ctl_arm_done_fn done, void *arg, const char *msg)
{
    struct ctl_arm_resp resp = {.status = 401};
    json_t *o = json_pack("{s:s, s:s}", "error_code", "UNAUTHENTICATED", "message", msg);

    (void)req;
    resp.body = o ? arm_dumps(o, &resp.body_len) : NULL;
    json_decref(o);
    done(arg, &resp);
    ctl_arm_resp_fini(&resp);
}

static bool
parse_body(struct dbx_req *q, const struct ctl_arm_req *req)
{
    char err[128];

    if (req->body_len == 0 || strcmp(q->method, "GET") == 0 || strcmp(q->method, "DELETE") == 0) {
        q->body = json_object();
        return q->body != NULL;
    }
    if (scc_json_parse_object(req->body, req->body_len, CTL_ARM_BODY_MAX, &q->body, err,
                              sizeof(err)) < 0) {
        q->body = json_object();
        dbx_error(q, 400, "MALFORMED_REQUEST", "Invalid JSON given in the body of the request: %s",
                  err);
        return false;
    }
    return true;
}

int
dbx_authorize(struct dbx *d, const char *host, const char *authorization, bool public,
              struct dbx_ws *ws, char *user, size_t ucap)
{
    struct ctl_principal who = {0};
    struct ctl_arm_resp bad = {0};
    char wsid[24];
    int rc;

    if (public)
        who = (struct ctl_principal){.scope = "*"};
    /* No workspace, a bad token, or a token for another workspace: one
     * answer, so a token cannot be used to learn which workspaces exist. */
    if (d == NULL || d->stopping ||
        ctl_dbx_host_parse(d->c->cfg->workspace_domain, host, wsid, sizeof(wsid)) < 0)
        return SCC_EAUTH;
    if (!public && (rc = ctl_arm_authenticate(d->c, authorization, &who, &bad)) < 0) {
        ctl_arm_resp_fini(&bad);
        return rc;
    }
    if (!ws_find(d, wsid, ws) || !ws_allowed(&who, ws))
        return SCC_EAUTH;
    snprintf(user, ucap, "%s", who.token_id[0] ? who.token_id : "admin");
    return 0;
}

void
ctl_dbx_request(struct ctl *c, const struct ctl_arm_req *req, const char *authorization,
                ctl_arm_done_fn done, void *arg)
{
    struct dbx_req *q = scc_calloc(1, sizeof(*q));

    /* The discovery document is public: clients fetch it before they
     * present credentials, and it says no more than the host name. */
    if (q == NULL || dbx_authorize(c->dbx, req->host, authorization,
                                   strcmp(req->path, "/.well-known/databricks-config") == 0, &q->ws,
                                   q->user, sizeof(q->user)) < 0) {
        scc_free(q);
        unauthenticated(req, done, arg, "Invalid access token.");
        return;
    }
    q->d = c->dbx;
    q->method = req->method;
    q->done = done;
    q->arg = arg;
    q->query = req->query ? scc_strdup(req->query) : NULL;
    snprintf(q->host, sizeof(q->host), "%.*s", (int)strcspn(req->host, ":"), req->host);
    if (parse_body(q, req))
        route(q, req->path);
}

bool
dbx_ws_get(struct dbx *d, const char *wsid, struct dbx_ws *out)
{
    return ws_find(d, wsid, out);
}

struct dbx_req *
dbx_req_internal(struct dbx *d, const char *wsid, const char *user, ctl_arm_done_fn done, void *arg)
{
    struct dbx_req *q = scc_calloc(1, sizeof(*q));

    if (q == NULL || (q->body = json_object()) == NULL || !ws_find(d, wsid, &q->ws)) {
        if (q)
            json_decref(q->body);
        scc_free(q);
        return NULL;
    }
    q->d = d;
    q->method = "POST";
    q->done = done;
    q->arg = arg;
    snprintf(q->user, sizeof(q->user), "%s", user);
    return q;
}

/* ---- the tick ---- */

#define GC_TICKS    100 /* every 10 s: documents of deleted workspaces */
#define QUEUE_TICKS 10  /* every second: queued runs */

struct gc_job {
    struct ctl *c;
    char ws[24];
};

static void
gc_run(void *arg)
{
    struct gc_job *j = arg;

    if (ctl_store_dbx_del_ws(j->c->store, j->ws) < 0)
        scc_log_error(&j->c->log, "workspace %s: cannot remove its documents: %s", j->ws,
                      ctl_store_errmsg(j->c->store));
}

/* A workspace deleted through ARM leaves clusters, runs and warehouses
 * nobody can reach (its VMs went with its managed resource group): they go. */
static void
gc(struct dbx *d, json_t *keys)
{
    json_t *alive = json_object(), *k;
    struct dbx_ws ws;
    struct gc_job *j;
    char id[24];
    size_t i;

    json_array_foreach(keys, i, k)
    {
        if (sscanf(json_string_value(k), "%23[0-9]/", id) != 1 || json_object_get(alive, id))
            continue;
        json_object_set_new(alive, id, json_boolean(ws_find(d, id, &ws)));
        if (json_is_true(json_object_get(alive, id)) || (j = scc_calloc(1, sizeof(*j))) == NULL)
            continue;
        scc_log_info(&d->c->log, "workspace %s is gone: its clusters, runs and warehouses go too",
                     id);
        j->c = d->c;
        snprintf(j->ws, sizeof(j->ws), "%s", id);
        if (scc_worker_submit(d->c->worker, gc_run, scc_free, j) < 0)
            scc_free(j);
    }
    json_array_foreach(keys, i, k)
    {
        if (sscanf(json_string_value(k), "%23[0-9]/", id) == 1 &&
            json_is_false(json_object_get(alive, id)))
            json_object_del(d->objs, json_string_value(k));
    }
    json_decref(alive);
}

/* Key "ws/kind/id" (obj_key) into ws, *kind ("kind/id") and *id. */
static bool
split_key(const char *key, char *ws, size_t cap, const char **kind, const char **id)
{
    size_t wl = strcspn(key, "/");

    if (key[wl] != '/' || wl >= cap || (*id = strchr(*kind = key + wl + 1, '/')) == NULL)
        return false;
    memcpy(ws, key, wl);
    ws[wl] = '\0';
    (*id)++;
    return true;
}

static bool
is_kind(const char *kind, const char *want)
{
    size_t n = strlen(want);

    return strncmp(kind, want, n) == 0 && kind[n] == '/';
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct dbx *d = arg;
    const char *key, *kind, *id;
    json_t *doc, *keys, *due = NULL, *k;
    char ws[24];
    void *tmp;
    size_t i;

    (void)fd, (void)what;
    /* A tick changes documents and may delete the one it is given (a
     * cluster permanently deleted), never another one, and adds none while
     * the walk goes on: due jobs (which add runs) and queued runs (which
     * add clusters when they leave the queue) are seen to after it; the
     * queue once a second, as each look walks the workspace's runs. */
    json_object_foreach_safe(d->objs, tmp, key, doc)
    {
        if (!split_key(key, ws, sizeof(ws), &kind, &id))
            continue;
        if (is_kind(kind, DBX_CLUSTER))
            dbx_clusters_tick(d, ws, id, doc);
        else if (is_kind(kind, DBX_RUN) && !dbx_run_queued(doc))
            dbx_runs_tick(d, ws, doc);
        else if (is_kind(kind, DBX_POOL))
            dbx_pools_tick(d, ws, id, doc);
        else if (((is_kind(kind, DBX_JOB) && dbx_job_due(doc)) ||
                  (is_kind(kind, DBX_RUN) && d->ticks % QUEUE_TICKS == 0)) &&
                 (due || (due = json_array())))
            json_array_append_new(due, json_string(key));
    }
    json_array_foreach(due, i, k)
    {
        if ((doc = json_object_get(d->objs, json_string_value(k))) == NULL ||
            !split_key(json_string_value(k), ws, sizeof(ws), &kind, &id))
            continue;
        if (is_kind(kind, DBX_JOB))
            dbx_jobs_tick(d, ws, id, doc);
        else
            dbx_runs_tick(d, ws, doc);
    }
    json_decref(due);
    if (++d->ticks % GC_TICKS == 0 && (keys = json_array()) != NULL) {
        json_object_foreach(d->objs, key, doc) json_array_append_new(keys, json_string(key));
        gc(d, keys);
        json_decref(keys);
    }
}

/* ---- start and stop ---- */

struct load_job {
    json_t *objs;
    struct ctl *c;
    int rc;
};

/* A call in flight when sccd stopped (or was killed) will never answer:
 * its document must not wait for it. */
static void
unbusy(json_t *doc)
{
    json_t *priv = json_object_get(doc, DBX_PRIV), *t;
    const char *key;

    json_object_del(priv, "busy");
    json_object_foreach(json_object_get(priv, "tasks"), key, t) json_object_del(t, "busy");
}

static int
load_one(const char *ws, const char *kind, const char *id, const char *body, void *arg)
{
    struct load_job *j = arg;
    char key[160];
    json_t *doc;

    if ((doc = json_loads(body, 0, NULL)) == NULL)
        return 0; /* cannot happen: we wrote it */
    unbusy(doc);
    obj_key(key, sizeof(key), ws, kind, id);
    return json_object_set_new(j->objs, key, doc) == 0 ? 0 : SCC_ENOMEM;
}

static void
load_run(void *arg)
{
    struct load_job *j = arg;

    /* Everything but stored output, which stays in the store. */
    j->rc = ctl_store_dbx_each(j->c->store, DBX_LOG, load_one, j);
}

int
ctl_dbx_start(struct ctl *c, struct relay *relay)
{
    struct timeval tv = {TICK_MS / 1000, (TICK_MS % 1000) * 1000};
    struct dbx *d = scc_calloc(1, sizeof(*d));
    struct load_job j = {.c = c};
    int rc;

    if (d == NULL || (d->objs = json_object()) == NULL || (d->ws_keys = json_object()) == NULL) {
        if (d)
            json_decref(d->objs);
        scc_free(d);
        return SCC_ENOMEM;
    }
    d->c = c;
    d->relay = relay;
    j.objs = d->objs;
    if ((rc = scc_worker_run_sync(c->worker, load_run, &j)) < 0 || (rc = j.rc) < 0 ||
        (d->tick = event_new(c->base, -1, EV_PERSIST, on_tick, d)) == NULL) {
        json_decref(d->objs);
        json_decref(d->ws_keys);
        scc_free(d);
        return rc < 0 ? rc : SCC_ENOMEM;
    }
    event_add(d->tick, &tv);
    c->dbx = d;
    scc_log_info(&c->log, "workspace API: %zu cluster and run document(s) loaded",
                 json_object_size(d->objs));
    return 0;
}

void
ctl_dbx_stop(struct ctl *c)
{
    struct dbx *d = c->dbx;

    if (d == NULL)
        return;
    d->stopping = true;
    event_del(d->tick);
    dbx_proxies_close(d);
    /* Node calls end now (their callbacks see SCC_ECLOSED and let go of
     * what they hold); ARM answers still due find d stopping. */
    for (struct dbx_pending *p = LIST_FIRST(&d->pending), *next; p; p = next) {
        next = LIST_NEXT(p, link);
        if (p->call) {
            relay_call_cancel(p->call);
            p->node_cb(d, p->ctx, SCC_ECLOSED, NULL, 0);
            pending_free(p);
        }
    }
}

void
ctl_dbx_free(struct ctl *c)
{
    struct dbx *d = c->dbx;

    if (d == NULL)
        return;
    while (!LIST_EMPTY(&d->pending)) {
        scc_free(LIST_FIRST(&d->pending)->ctx);
        pending_free(LIST_FIRST(&d->pending));
    }
    event_free(d->tick);
    json_decref(d->objs);
    json_decref(d->ws_keys);
    scc_free(d);
    c->dbx = NULL;
}
