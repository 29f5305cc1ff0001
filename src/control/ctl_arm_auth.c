/*
 * ctl_arm_auth.c - who may do what.
 *
 * Bearer tokens are "scca1.<id>.<secret>" (common/token.h); the store
 * keeps SHA-256 of the secret.  Every token row is mirrored in a map on
 * the loop, so checking a request costs one hash and one lookup, never a
 * store round trip.  The map changes only through this file's admin
 * routes, whose done callbacks update it after the store committed.
 *
 * Scopes: "*" (the admin token, DIR/admin.token), "subscription/SUB"
 * (everything inside one subscription) and "workspace/WS" (one workspace:
 * its name, or its full resource id, and the operations on it).
 *
 * Admin-socket routes (owner-only Unix socket, admin scope):
 *   POST   /v1/api-tokens        {"scope", "name"?, "ttl_seconds"?}
 *   GET    /v1/api-tokens        ids, scopes, names, dates: never secrets
 *   DELETE /v1/api-tokens/{id}   revoke
 *   POST   /v1/running-compute   {"workspace", "clusters", "pools", "warehouses"}
 *          a stand-in until clusters exist: what an SCC upgrade checks
 *   GET    /v1/network/desired   the provider's desired-state document
 *          (docs/internals/provider.md) built from the network resources
 */
#include "ctl_arm_int.h"
#include "ctl_net.h"

#include "common/err.h"
#include "common/json.h"
#include "common/map.h"
#include "common/mem.h"
#include "common/time.h"
#include "common/token.h"
#include "common/worker.h"
#include "tunnel/h2.h"
#include "tunnel/h2body.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define ADMIN_BODY_MAX (16u << 10)

/* A stable GUID per token for createdBy and error texts. */
static void
token_oid(const char *id, char out[37])
{
    char h[SCC_TOKEN_HASH_LEN + 1];

    if (scc_sha256_hex(id, strlen(id), h) < 0)
        memset(h, '0', sizeof(h) - 1), h[sizeof(h) - 1] = '\0';
    snprintf(out, 37, "%.8s-%.4s-4%.3s-8%.3s-%.12s", h, h + 8, h + 12, h + 15, h + 18);
}

static int
token_put(struct ctl_arm *arm, const struct ctl_api_token *t)
{
    struct arm_token *v = scc_calloc(1, sizeof(*v));
    void *old = NULL;
    int rc;

    if (v == NULL)
        return SCC_ENOMEM;
    memcpy(v->hash, t->hash, sizeof(v->hash));
    snprintf(v->scope, sizeof(v->scope), "%s", t->scope);
    v->expires_ms = t->expires_ms;
    v->revoked_ms = t->revoked_ms;
    if ((rc = scc_map_put(arm->tokens, t->id, v, &old)) < 0)
        scc_free(v);
    scc_free(old);
    return rc;
}

struct load_job {
    struct ctl *c;
    struct ctl_api_token *rows;
    size_t n, cap;
    int rc;
};

static int
collect_token(const struct ctl_api_token *t, void *arg)
{
    struct load_job *j = arg;
    struct ctl_api_token *grown;

    if (j->n == j->cap) {
        size_t ncap = j->cap ? j->cap * 2 : 16;

        if ((grown = scc_realloc(j->rows, ncap * sizeof(*grown))) == NULL)
            return SCC_ENOMEM;
        j->rows = grown;
        j->cap = ncap;
    }
    j->rows[j->n++] = *t;
    return 0;
}

static void
load_tokens(void *arg)
{
    struct load_job *j = arg;

    j->rc = ctl_store_arm_api_token_each(j->c->store, collect_token, j);
}

int
arm_tokens_load(struct ctl *c)
{
    struct load_job j = {.c = c};
    int rc;

    if ((rc = scc_worker_run_sync(c->worker, load_tokens, &j)) == 0)
        rc = j.rc;
    for (size_t i = 0; rc == 0 && i < j.n; i++)
        rc = token_put(c->arm, &j.rows[i]);
    if (j.rows)
        OPENSSL_cleanse(j.rows, j.cap * sizeof(*j.rows));
    scc_free(j.rows);
    return rc;
}

static int
unauthorized(struct ctl_arm_resp *resp, const char *code, const char *msg)
{
    ctl_arm_resp_error(resp, 401, code, msg);
    if ((resp->hdrs[0].value = scc_strdup("Bearer realm=\"sccd\", error=\"invalid_token\"")))
        resp->hdrs[resp->nhdrs++].name = "WWW-Authenticate";
    return SCC_EAUTH;
}

int
ctl_arm_authenticate(struct ctl *c, const char *authorization, struct ctl_principal *who,
                     struct ctl_arm_resp *resp)
{
    const struct arm_token *v;
    const char *text;
    struct scc_token t;

    if (authorization == NULL)
        return unauthorized(resp, "AuthenticationFailed",
                            "Authentication failed. The 'Authorization' header is missing.");
    if (strncasecmp(authorization, "Bearer ", 7) != 0)
        return unauthorized(resp, "AuthenticationFailed",
                            "Authentication failed. The 'Authorization' header is provided in an "
                            "invalid format.");
    for (text = authorization + 7; *text == ' '; text++)
        ;
    if (scc_token_parse(text, strlen(text), &t) < 0 || t.kind != SCC_TOKEN_API ||
        (v = scc_map_get(c->arm->tokens, t.id)) == NULL || !scc_token_hash_matches(v->hash, t.hash))
        return unauthorized(resp, "InvalidAuthenticationToken", "The access token is invalid.");
    if (v->revoked_ms)
        return unauthorized(resp, "InvalidAuthenticationToken",
                            "The access token has been revoked.");
    if (v->expires_ms && v->expires_ms <= (int64_t)scc_time_wall_ms())
        return unauthorized(resp, "ExpiredAuthenticationToken",
                            "The access token has expired; get a new one.");
    memset(who, 0, sizeof(*who));
    memcpy(who->token_id, t.id, sizeof(who->token_id));
    snprintf(who->scope, sizeof(who->scope), "%s", v->scope);
    token_oid(t.id, who->oid);
    return 0;
}

/* ---- scopes ---- */

static bool
ws_in_scope(const struct arm_call *k, const char *ws)
{
    char id[CTL_ARM_PATH_MAX];

    if (k->t.kind != CTL_ARM_T_RESOURCE && k->t.kind != CTL_ARM_T_CHILD_LIST)
        return false;
    if (!k->t.rg || strcasecmp(k->t.ns, ARM_NS_DATABRICKS) != 0 ||
        strcasecmp(k->t.types[0], "workspaces") != 0)
        return false;
    if (ws[0] != '/') /* a token made before names were resolved to ids */
        return strcasecmp(ws, k->t.names[0]) == 0;
    if (ctl_arm_res_id(id, sizeof(id), k->t.sub, k->t.rg, ARM_NS_DATABRICKS, k->t.types, k->t.names,
                       1) < 0)
        return false;
    return strcasecmp(id, ws) == 0;
}

static bool
tenant_level(const struct arm_call *k)
{
    switch (k->t.kind) {
    case CTL_ARM_T_SUBS:
    case CTL_ARM_T_TENANT_PROVS:
    case CTL_ARM_T_TENANT_PROV:
    case CTL_ARM_T_OPERATIONS:
        return strcmp(k->method, "GET") == 0;
    default:
        return false;
    }
}

static bool
scope_ok(const struct arm_call *k)
{
    const char *s = k->who.scope;
    bool read = strcmp(k->method, "GET") == 0 || strcmp(k->method, "HEAD") == 0;

    if (k->who.internal || strcmp(s, "*") == 0 || tenant_level(k))
        return true;
    if (strncmp(s, "subscription/", 13) == 0)
        return k->t.sub && strcasecmp(k->t.sub, s + 13) == 0 &&
               !(k->t.kind == CTL_ARM_T_SUB && !read);
    if (strncmp(s, "workspace/", 10) == 0) {
        /* Operation ids are unguessable GUIDs handed out with the work. */
        if (read && (k->t.kind == CTL_ARM_T_OP_STATUS || k->t.kind == CTL_ARM_T_OP_RESULT))
            return true;
        return ws_in_scope(k, s + 10);
    }
    return false;
}

bool
arm_scope_allows(struct arm_call *k)
{
    const char *verb = strcmp(k->method, "GET") == 0      ? "read"
                       : strcmp(k->method, "DELETE") == 0 ? "delete"
                       : strcmp(k->method, "POST") == 0   ? "action"
                                                          : "write";

    if (scope_ok(k))
        return true;
    arm_error(k, 403, "AuthorizationFailed",
              "The client '%s' with object id '%s' does not have authorization to perform action "
              "'%s/%s' over scope '%s' or the scope is invalid. The token is scoped to '%s'.",
              k->who.oid, k->who.oid, k->t.ns ? k->t.ns : ARM_NS_RESOURCES, verb,
              k->t.sub ? k->t.sub : "/", k->who.scope);
    return false;
}

/* ---- admin-socket routes ---- */

struct admin_job {
    struct ctl *c;
    struct scc_h2_stream *s;
    json_t *req;
    char path[256];
    int status;
    json_t *reply;
    struct ctl_api_token row; /* a token to mirror in the map on success */
    bool mirror;
};

static void
admin_closed(struct scc_h2_stream *s, uint32_t code, void *arg)
{
    (void)s, (void)code;
    ((struct admin_job *)arg)->s = NULL;
}

static void
admin_error(struct admin_job *j, int status, const char *code, const char *msg)
{
    j->status = status;
    j->reply = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
}

struct ws_find {
    const char *ws; /* a name or an id */
    char id[CTL_ARM_ID_MAX];
    int n; /* workspaces that match */
};

static int
find_ws(const struct ctl_arm_row *r, void *arg)
{
    struct ws_find *f = arg;

    if (strcasecmp(r->name, f->ws) == 0 || strcasecmp(r->id, f->ws) == 0) {
        if (f->n++ == 0)
            snprintf(f->id, sizeof(f->id), "%s", r->id);
    }
    return 0;
}

/* The one workspace named or identified by ws, into wf; else an error. */
static bool
ws_lookup(struct admin_job *j, const char *ws, struct ws_find *wf)
{
    struct ctl_arm_filter f = {NULL, NULL, ARM_T_WS};

    wf->ws = ws;
    wf->n = 0;
    if (ctl_store_arm_res_each(j->c->store, &f, find_ws, wf) < 0 || wf->n == 0) {
        admin_error(j, 404, "ResourceNotFound", "no workspace has that name or id");
        return false;
    }
    if (wf->n > 1) {
        admin_error(j, 409, "AmbiguousName",
                    "more than one workspace has that name: give its resource id "
                    "(/subscriptions/.../workspaces/NAME)");
        return false;
    }
    return true;
}

/*
 * The token's scope, as stored, into j->row.scope, if scope names
 * something that exists (a scope for nothing is a typo).  A workspace
 * named rather than given by id is stored as its id: the name alone
 * would also match a workspace of that name created later in any other
 * resource group or subscription.
 */
static bool
scope_resolve(struct admin_job *j, const char *scope)
{
    struct ws_find wf;
    struct ctl_arm_row row;
    char id[128];

    if (strncmp(scope, "subscription/", 13) == 0) {
        snprintf(id, sizeof(id), "/subscriptions/%.64s", scope + 13);
        if (ctl_store_arm_res_get(j->c->store, id, &row) != 0) {
            admin_error(j, 404, "SubscriptionNotFound", "no such subscription");
            return false;
        }
        ctl_arm_row_fini(&row);
        snprintf(j->row.scope, sizeof(j->row.scope), "%s", scope);
        return true;
    }
    if (strncmp(scope, "workspace/", 10) != 0 || scope[10] == '\0') {
        admin_error(j, 400, "InvalidParameter",
                    "scope must be subscription/SUB or workspace/WS (a name or a resource id)");
        return false;
    }
    if (!ws_lookup(j, scope + 10, &wf))
        return false;
    if (snprintf(j->row.scope, sizeof(j->row.scope), "workspace/%s", wf.id) >=
        (int)sizeof(j->row.scope)) {
        admin_error(j, 400, "InvalidParameter", "the workspace's resource id is too long");
        return false;
    }
    return true;
}

static void
token_create_job(void *arg)
{
    struct admin_job *j = arg;
    const char *scope = NULL, *name = NULL;
    int64_t ttl = 0, now = (int64_t)scc_time_wall_ms();
    char text[SCC_TOKEN_MAX], exp[40] = "";
    struct scc_token t;
    int rc;

    if (scc_json_get_str(j->req, "scope", &scope) < 0 || strlen(scope) >= sizeof(j->row.scope)) {
        admin_error(j, 400, "InvalidParameter", "scope is required, at most 319 bytes");
        return;
    }
    rc = scc_json_get_int(j->req, "ttl_seconds", 1, 10 * 365 * 86400LL, &ttl);
    if (rc == SCC_EINVAL || rc == SCC_ERANGE ||
        (scc_json_get_str(j->req, "name", &name) == SCC_EINVAL)) {
        admin_error(j, 400, "InvalidParameter", "ttl_seconds must be 1..315360000, name a string");
        return;
    }
    if (!scope_resolve(j, scope))
        return;
    if (scc_token_new(SCC_TOKEN_API, text, &t) < 0) {
        admin_error(j, 500, "InternalError", "no randomness");
        return;
    }
    memcpy(j->row.id, t.id, sizeof(j->row.id));
    memcpy(j->row.hash, t.hash, sizeof(j->row.hash));
    snprintf(j->row.name, sizeof(j->row.name), "%s", name ? name : "");
    j->row.created_ms = now;
    j->row.expires_ms = ttl ? now + ttl * 1000 : 0;
    if (ctl_store_api_token_add(j->c->store, &j->row) < 0) {
        admin_error(j, 503, "StoreError", "could not store the token");
    } else {
        if (j->row.expires_ms)
            arm_time(j->row.expires_ms, exp);
        j->status = 201;
        j->mirror = true;
        j->reply = json_pack("{s:s, s:s, s:s, s:s, s:s?}", "token", text, "id", j->row.id, "scope",
                             j->row.scope, "name", j->row.name, "expires_at", exp[0] ? exp : NULL);
    }
    OPENSSL_cleanse(text, sizeof(text));
}

static int
list_one(const struct ctl_api_token *t, void *arg)
{
    json_t *arr = arg;
    char created[40], expires[40] = "";

    arm_time(t->created_ms, created);
    if (t->expires_ms)
        arm_time(t->expires_ms, expires);
    json_array_append_new(arr,
                          json_pack("{s:s, s:s, s:s, s:s, s:s?, s:b}", "id", t->id, "scope",
                                    t->scope, "name", t->name, "created_at", created, "expires_at",
                                    expires[0] ? expires : NULL, "revoked", t->revoked_ms != 0));
    return 0;
}

static void
token_list_job(void *arg)
{
    struct admin_job *j = arg;
    json_t *arr = json_array();

    if (ctl_store_arm_api_token_each(j->c->store, list_one, arr) < 0) {
        json_decref(arr);
        admin_error(j, 503, "StoreError", "could not read the tokens");
        return;
    }
    j->status = 200;
    j->reply = json_pack("{s:o}", "value", arr);
}

static void
token_revoke_job(void *arg)
{
    struct admin_job *j = arg;
    const char *id = j->path + strlen("/v1/api-tokens/");
    struct ctl_api_token row;

    if (ctl_store_api_token_get(j->c->store, id, &row) < 0 ||
        ctl_store_arm_api_token_revoke(j->c->store, id, (int64_t)scc_time_wall_ms()) < 0) {
        admin_error(j, 404, "NotFound", "no live API token has that id");
        return;
    }
    if (strcmp(row.scope, "*") == 0) {
        admin_error(j, 400, "InvalidParameter", "the admin token cannot be revoked here");
        return;
    }
    row.revoked_ms = (int64_t)scc_time_wall_ms();
    j->row = row;
    j->mirror = true;
    j->status = 200;
    j->reply = json_pack("{s:s, s:b}", "id", id, "revoked", 1);
}

static void
compute_job(void *arg)
{
    struct admin_job *j = arg;
    struct ctl_arm_compute n = {0, 0, 0};
    struct ws_find wf;
    const char *ws = NULL;
    int64_t v[3] = {0, 0, 0};
    const char *keys[3] = {"clusters", "pools", "warehouses"};

    if (scc_json_get_str(j->req, "workspace", &ws) < 0) {
        admin_error(j, 400, "InvalidParameter", "workspace (name or resource id) is required");
        return;
    }
    for (int i = 0; i < 3; i++) {
        if (scc_json_get_int(j->req, keys[i], 0, 1000000, &v[i]) == SCC_EINVAL) {
            admin_error(j, 400, "InvalidParameter", "counts must be integers 0..1000000");
            return;
        }
    }
    n.clusters = v[0];
    n.pools = v[1];
    n.warehouses = v[2];
    if (!ws_lookup(j, ws, &wf))
        return;
    if (ctl_store_arm_compute_set(j->c->store, wf.id, &n) < 0) {
        admin_error(j, 503, "StoreError", "could not record the counters");
        return;
    }
    j->status = 200;
    j->reply = json_pack("{s:s, s:I, s:I, s:I}", "workspace", wf.id, "clusters", (json_int_t)v[0],
                         "pools", (json_int_t)v[1], "warehouses", (json_int_t)v[2]);
}

static void
desired_job(void *arg)
{
    struct admin_job *j = arg;
    /* The control plane's simulated public addresses (network-compat.md
     * §5.3), as the provider is configured. */
    struct ctl_net_env env = {j->c->cfg->public_api_ip, j->c->cfg->public_relay_ip, 443, 443};

    if (ctl_net_desired(j->c->store, &env, &j->reply) < 0) {
        admin_error(j, 503, "StoreError", "could not read the network resources");
        return;
    }
    j->status = 200;
}

static void
admin_done(void *arg)
{
    struct admin_job *j = arg;

    if (j->mirror && j->c->arm)
        (void)token_put(j->c->arm, &j->row);
    OPENSSL_cleanse(&j->row, sizeof(j->row));
    if (j->s) {
        scc_h2_stream_set_cbs(j->s, NULL, NULL);
        scc_h2_reply_json(j->s, j->status ? j->status : 500, j->reply);
    } else {
        json_decref(j->reply);
    }
    json_decref(j->req);
    scc_free(j);
}

static void
admin_submit(struct ctl *c, struct scc_h2_stream *s, json_t *req, scc_worker_fn fn)
{
    static const struct scc_h2_stream_cbs cbs = {.on_close = admin_closed};
    const char *path = scc_h2_stream_head(s)->path;
    struct admin_job *j = scc_calloc(1, sizeof(*j));

    if (j == NULL) {
        scc_h2_reply_error(s, 503, "Busy", "out of memory");
        return;
    }
    j->c = c;
    j->s = s;
    j->req = json_incref(req);
    snprintf(j->path, sizeof(j->path), "%s", path);
    scc_h2_stream_set_cbs(s, &cbs, j);
    if (scc_worker_submit(c->worker, fn, admin_done, j) < 0) {
        scc_h2_stream_set_cbs(s, NULL, NULL);
        scc_h2_reply_error(s, 503, "Busy", "the control plane is busy; retry");
        json_decref(j->req);
        scc_free(j);
    }
}

struct body_ctx {
    struct ctl *c;
    scc_worker_fn fn;
};

static void
body_ready(struct scc_h2_stream *s, json_t *body, void *arg)
{
    struct body_ctx *b = arg;

    if (body)
        admin_submit(b->c, s, body, b->fn);
    scc_free(b);
}

static void
with_body(struct ctl *c, struct scc_h2_stream *s, scc_worker_fn fn)
{
    struct body_ctx *b = scc_calloc(1, sizeof(*b));

    if (b == NULL) {
        scc_h2_stream_reset(s, 2);
        return;
    }
    b->c = c;
    b->fn = fn;
    if (scc_h2_body_collect(c->base, s, ADMIN_BODY_MAX, c->cfg->request_timeout_ms, body_ready, b) <
        0) {
        scc_free(b);
        scc_h2_stream_reset(s, 2);
    }
}

bool
ctl_arm_admin_request(void *arg, struct scc_h2_stream *s)
{
    struct ctl *c = arg;
    const struct scc_h2_head *h = scc_h2_stream_head(s);

    if (h->path == NULL)
        return false;
    if (strcmp(h->method, "POST") == 0 && strcmp(h->path, "/v1/api-tokens") == 0)
        with_body(c, s, token_create_job);
    else if (strcmp(h->method, "GET") == 0 && strcmp(h->path, "/v1/api-tokens") == 0)
        admin_submit(c, s, NULL, token_list_job);
    else if (strcmp(h->method, "DELETE") == 0 && strncmp(h->path, "/v1/api-tokens/", 15) == 0 &&
             strlen(h->path + 15) == SCC_TOKEN_ID_LEN)
        admin_submit(c, s, NULL, token_revoke_job);
    else if (strcmp(h->method, "POST") == 0 && strcmp(h->path, "/v1/running-compute") == 0)
        with_body(c, s, compute_job);
    else if (strcmp(h->method, "GET") == 0 && strcmp(h->path, "/v1/network/desired") == 0)
        admin_submit(c, s, NULL, desired_job);
    else
        return false;
    return true;
}
