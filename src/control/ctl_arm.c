/*
 * ctl_arm.c - request dispatch: path, api-version, body, scope, deny
 * assignments, then the handler of the target's kind.  GETs of single
 * resources are answered from the read cache without leaving the loop,
 * which is what makes thousands of GETs per second cheap.
 */
#include "ctl_arm_deploy.h"
#include "ctl_arm_int.h"
#include "ctl_compute.h"

#include "common/err.h"
#include "common/json.h"
#include "common/map.h"
#include "common/mem.h"
#include "common/time.h"
#include "common/worker.h"

#include <ctype.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- responses ---- */

void
ctl_arm_resp_fini(struct ctl_arm_resp *resp)
{
    scc_free(resp->body);
    for (size_t i = 0; i < resp->nhdrs; i++)
        scc_free(resp->hdrs[i].value);
    memset(resp, 0, sizeof(*resp));
}

static char *
error_text(const char *code, const char *message, size_t *len)
{
    json_t *o = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message);
    char *text = o ? arm_dumps(o, len) : NULL;

    json_decref(o);
    return text;
}

void
ctl_arm_resp_error(struct ctl_arm_resp *resp, int status, const char *code, const char *message)
{
    scc_free(resp->body);
    resp->status = status;
    resp->body = error_text(code, message, &resp->body_len);
}

void
arm_error(struct arm_call *k, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ctl_arm_resp_error(&k->resp, status, code, msg);
}

void
arm_reply_text(struct arm_call *k, int status, char *text, size_t len)
{
    scc_free(k->resp.body);
    k->resp.status = status;
    k->resp.body = text;
    k->resp.body_len = len;
}

void
arm_reply(struct arm_call *k, int status, json_t *body)
{
    size_t len = 0;
    char *text = body ? arm_dumps(body, &len) : NULL;

    json_decref(body);
    if (body && text == NULL) {
        arm_error(k, 503, "ServerBusy", "out of memory");
        return;
    }
    arm_reply_text(k, status, text, len);
}

void
arm_header(struct arm_call *k, const char *name, const char *fmt, ...)
{
    char value[2048];
    va_list ap;

    if (k->resp.nhdrs == CTL_ARM_MAX_HDRS)
        return;
    va_start(ap, fmt);
    (void)vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    if ((k->resp.hdrs[k->resp.nhdrs].value = scc_strdup(value)) != NULL)
        k->resp.hdrs[k->resp.nhdrs++].name = name;
}

bool
arm_replied(const struct arm_call *k)
{
    return k->resp.status != 0;
}

/* ---- JSON helpers ---- */

char *
arm_dumps(const json_t *v, size_t *len)
{
    char *j = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY), *out;
    size_t n;

    if (j == NULL)
        return NULL;
    n = strlen(j);
    /* Re-home the text on our allocator: the answer is freed with scc_free. */
    if ((out = scc_malloc(n + 1)) != NULL)
        memcpy(out, j, n + 1);
    free(j);
    if (len)
        *len = n;
    return out;
}

json_t *
arm_loads(const char *text)
{
    return text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
}

const char *
arm_str(struct arm_call *k, const json_t *obj, const char *key, const char *what, bool *bad)
{
    json_t *v = scc_json_iget(obj, key);

    if (v == NULL || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        arm_error(k, 400, "InvalidRequestContent",
                  "The request content was invalid and could not be deserialized: '%s' must be a "
                  "string.",
                  what);
        *bad = true;
        return NULL;
    }
    return json_string_value(v);
}

bool
arm_check_tags(struct arm_call *k, const json_t *tags)
{
    const char *name;
    json_t *v;

    if (tags == NULL || json_is_null(tags))
        return true;
    if (!json_is_object(tags) || json_object_size(tags) > 50) {
        arm_error(k, 400, "InvalidTag",
                  "tags must be an object of at most 50 name/value pairs of strings.");
        return false;
    }
    json_object_foreach((json_t *)tags, name, v)
    {
        if (!json_is_string(v) || strlen(name) == 0 || strlen(name) > 512 ||
            strlen(json_string_value(v)) > 256 || strpbrk(name, "<>%&\\?/")) {
            arm_error(k, 400, "InvalidTag",
                      "The tag '%.100s' is invalid: names are 1-512 characters without <>%%&\\?/ "
                      "and values are strings of at most 256 characters.",
                      name);
            return false;
        }
    }
    return true;
}

bool
arm_location(struct arm_call *k, const char *in, char *out, size_t cap)
{
    size_t o = 0;

    for (const char *p = in; in && *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != ' ')
            break;
        if (*p != ' ' && o + 1 < cap)
            out[o++] = (char)tolower((unsigned char)*p);
    }
    out[o] = '\0';
    if (in == NULL || o == 0 || o + 1 >= cap || strspn(in, " ") == strlen(in) ||
        in[strspn(in, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ")]) {
        arm_error(k, 400, "LocationRequired",
                  in ? "The location '%.64s' is not valid."
                     : "The location property is required "
                       "for this definition.%s",
                  in ? in : "");
        return false;
    }
    return true;
}

void
arm_time(int64_t ms, char out[40])
{
    if (scc_time_format_arm((uint64_t)ms, out, 40) < 0)
        snprintf(out, 40, "1970-01-01T00:00:00.0000000Z");
}

void
arm_etag(char out[48])
{
    char g[37];

    if (ctl_arm_guid(g) < 0)
        snprintf(g, sizeof(g), "00000000-0000-0000-0000-000000000000");
    snprintf(out, 48, "W/\"%s\"", g);
}

json_t *
arm_system_data(struct arm_call *k, const json_t *old)
{
    char now[40];
    json_t *sd;

    arm_time(k->now_ms, now);
    sd = old && json_is_object(old) ? json_deep_copy(old) : json_object();
    if (sd == NULL)
        return NULL;
    if (json_object_get(sd, "createdAt") == NULL) {
        json_object_set_new(sd, "createdBy", json_string(k->who.oid));
        json_object_set_new(sd, "createdByType", json_string("Application"));
        json_object_set_new(sd, "createdAt", json_string(now));
    }
    json_object_set_new(sd, "lastModifiedBy", json_string(k->who.oid));
    json_object_set_new(sd, "lastModifiedByType", json_string("Application"));
    json_object_set_new(sd, "lastModifiedAt", json_string(now));
    return sd;
}

/* ---- the read cache ---- */

static void
entry_free(struct arm_entry *e)
{
    if (e == NULL)
        return;
    scc_free(e->text);
    scc_free(e->locked_by);
    scc_free(e);
}

const struct arm_entry *
arm_cache_get(struct ctl_arm *arm, const char *id)
{
    char lc[CTL_ARM_PATH_MAX];

    if (ctl_arm_lower(id, lc, sizeof(lc)) < 0)
        return NULL;
    return scc_map_get(arm->cache, lc);
}

static void
change_free(struct arm_change *ch)
{
    scc_free(ch->id_lc);
    scc_free(ch->text);
    scc_free(ch->locked_by);
    scc_free(ch);
}

void
arm_cache_apply(struct ctl_arm *arm, struct arm_change *changes)
{
    struct arm_change *ch, *next;
    struct arm_entry *e;
    void *old = NULL;

    for (ch = changes; ch; ch = next) {
        next = ch->next;
        if (ch->text == NULL) {
            entry_free(scc_map_del(arm->cache, ch->id_lc));
        } else if ((e = scc_calloc(1, sizeof(*e))) != NULL) {
            e->text = ch->text;
            e->len = strlen(ch->text);
            e->locked_by = ch->locked_by;
            ch->text = ch->locked_by = NULL;
            old = NULL;
            if (scc_map_put(arm->cache, ch->id_lc, e, &old) < 0)
                entry_free(e);
            entry_free(old);
        }
        change_free(ch);
    }
}

static int
load_row(const struct ctl_arm_row *r, void *arg)
{
    struct arm_change **head = arg, *ch = scc_calloc(1, sizeof(*ch));
    char lc[CTL_ARM_PATH_MAX];

    if (ch == NULL || ctl_arm_lower(r->id, lc, sizeof(lc)) < 0 ||
        (ch->id_lc = scc_strdup(lc)) == NULL || (ch->text = scc_strdup(r->body)) == NULL ||
        (r->locked_by && (ch->locked_by = scc_strdup(r->locked_by)) == NULL)) {
        if (ch)
            change_free(ch);
        return SCC_ENOMEM;
    }
    ch->next = *head;
    *head = ch;
    return 0;
}

int
arm_cache_load(struct ctl *c, struct arm_change **out)
{
    struct ctl_arm_filter all = {NULL, NULL, NULL};

    *out = NULL;
    return ctl_store_arm_res_each(c->store, &all, load_row, out);
}

/* ---- dispatch ---- */

static bool
query_param(const char *q, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name), o = 0;

    for (const char *p = q; p && *p; p += strcspn(p, "&"), p += *p == '&') {
        if (strncasecmp(p, name, n) != 0 || p[n] != '=')
            continue;
        for (p += n + 1; *p && *p != '&' && o + 1 < cap; p++) {
            int hi, lo;

            if (*p == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
                hi = isdigit((unsigned char)p[1]) ? p[1] - '0' : tolower(p[1]) - 'a' + 10;
                lo = isdigit((unsigned char)p[2]) ? p[2] - '0' : tolower(p[2]) - 'a' + 10;
                out[o++] = (char)(hi * 16 + lo);
                p += 2;
            } else {
                out[o++] = *p == '+' ? ' ' : *p;
            }
        }
        out[o] = '\0';
        return true;
    }
    return false;
}

static bool
check_api_version(struct arm_call *k)
{
    if (!query_param(k->query, "api-version", k->api_version, sizeof(k->api_version))) {
        arm_error(k, 400, "MissingApiVersionParameter",
                  "The api-version query parameter (?api-version=) is required for all "
                  "requests.");
        return false;
    }
    if (!ctl_arm_is_api_version(k->api_version)) {
        arm_error(k, 400, "InvalidApiVersionParameter",
                  "The api-version '%.40s' is invalid. The supported versions are "
                  "'2026-01-01,2025-03-01,2024-05-01,2023-02-01,2022-04-01-preview,2020-02-15,"
                  "2018-04-01'.",
                  k->api_version);
        return false;
    }
    return true;
}

static bool
parse_body(struct arm_call *k, const struct ctl_arm_req *req)
{
    char why[256];
    size_t i = 0;

    while (i < req->body_len && strchr(" \t\r\n", req->body[i]))
        i++;
    if (i == req->body_len)
        return true; /* empty: the handler decides whether it needs one */
    if (scc_json_parse_object(req->body, req->body_len, CTL_ARM_BODY_MAX, &k->body, why,
                              sizeof(why)) == 0)
        return true;
    arm_error(k, 400, "InvalidRequestContent",
              "The request content was invalid and could not be deserialized: %s.", why);
    return false;
}

static void
cond_copy(char *out, size_t cap, const char *v)
{
    if (v == NULL)
        out[0] = '\0';
    else if ((size_t)snprintf(out, cap, "%s", v) >= cap)
        snprintf(out, cap, "\n");
}

/* Whether the comma-separated list of etags has etag, or is "*". */
static bool
etag_listed(const char *list, const char *etag)
{
    size_t n = etag ? strlen(etag) : 0;

    for (const char *p = list; *p;) {
        size_t len;

        p += strspn(p, " \t,");
        len = strcspn(p, ",");
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if ((len == 1 && p[0] == '*') || (n > 0 && len == n && strncmp(p, etag, n) == 0))
            return true;
        p += strcspn(p, ",");
    }
    return false;
}

bool
arm_precondition(struct arm_call *k, const json_t *body)
{
    const char *etag = json_string_value(json_object_get(body, "etag"));
    bool ok = true;

    if (k->if_match[0] != '\0')
        ok = body != NULL && etag_listed(k->if_match, etag);
    if (ok && k->if_none_match[0] != '\0' && body != NULL)
        ok = !etag_listed(k->if_none_match, etag);
    if (!ok)
        arm_error(k, 412, "PreconditionFailed",
                  "The condition specified using HTTP conditional header(s) is not met.");
    return ok;
}

static void
host_copy(struct arm_call *k, const char *host)
{
    size_t n = host ? strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "0123456789.-:[]")
                    : 0;

    /* Only a plain authority goes into the URLs we hand out. */
    if (n == 0 || host[n] != '\0' || n >= sizeof(k->host))
        snprintf(k->host, sizeof(k->host), "%s", k->c->cfg->api_listen);
    else
        memcpy(k->host, host, n + 1);
}

static bool
prepare(struct arm_call *k, const struct ctl_arm_req *req)
{
    char alias[CTL_ARM_PATH_MAX];
    int rc;

    host_copy(k, req->host);
    cond_copy(k->if_match, sizeof(k->if_match), req->if_match);
    cond_copy(k->if_none_match, sizeof(k->if_none_match), req->if_none_match);
    snprintf(k->query, sizeof(k->query), "%s", req->query ? req->query : "");
    if (strlen(req->method) >= sizeof(k->method)) {
        arm_error(k, 405, "MethodNotAllowed", "The HTTP method is not supported.");
        return false;
    }
    snprintf(k->method, sizeof(k->method), "%s", req->method);
    if ((rc = ctl_arm_target_parse(
                 arm_deploy_path_alias(req->path, alias, sizeof(alias)) ? alias : req->path,
                 &k->t)) < 0) {
        arm_error(k, rc == SCC_ETOOBIG ? 414 : 400, "InvalidRequestUri",
                  "The request URI '%.200s' is not valid.", req->path);
        return false;
    }
    if (k->t.sub) /* GUIDs are case-insensitive; ids carry them lowercase */
        (void)ctl_arm_lower(k->t.sub, (char *)k->t.sub, strlen(k->t.sub) + 1);
    if (k->t.kind == CTL_ARM_T_NONE) {
        arm_error(k, 404, "NotFound", "No route matches '%.200s'.", req->path);
        return false;
    }
    return check_api_version(k) && parse_body(k, req) && arm_scope_allows(k);
}

static bool
is_write(const struct arm_call *k)
{
    return strcmp(k->method, "GET") != 0 && strcmp(k->method, "HEAD") != 0;
}

/* Writes inside a workspace's managed resource group meet its deny
 * assignment (network-compat.md §4), whoever asks, except the RP itself. */
static bool
deny_assignment(struct arm_call *k)
{
    char rg_id[CTL_ARM_PATH_MAX], action[512], h[SCC_TOKEN_HASH_LEN + 1], da[40];
    const struct arm_entry *rg;
    size_t n;

    if (!k->t.rg || !is_write(k) || k->who.internal ||
        ctl_arm_rg_id(rg_id, sizeof(rg_id), k->t.sub, k->t.rg) < 0 ||
        (rg = arm_cache_get(k->arm, rg_id)) == NULL || rg->locked_by == NULL)
        return false;
    /* The deny assignment's id: stable per workspace, GUID-shaped. */
    if (scc_sha256_hex(rg->locked_by, strlen(rg->locked_by), h) < 0)
        memset(h, '0', sizeof(h) - 1);
    snprintf(da, sizeof(da), "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
    n = (size_t)snprintf(action, sizeof(action), "%s", k->t.ns ? k->t.ns : ARM_T_RG);
    for (size_t i = 0; k->t.ns && i < k->t.ntypes && n < sizeof(action); i++)
        n += (size_t)snprintf(action + n, sizeof(action) - n, "/%s", k->t.types[i]);
    if (n < sizeof(action))
        snprintf(action + n, sizeof(action) - n, "/%s",
                 strcmp(k->method, "DELETE") == 0 ? "delete"
                 : strcmp(k->method, "POST") == 0 ? "action"
                                                  : "write");
    arm_error(k, 403, "DenyAssignmentAuthorizationFailed",
              "The client '%s' with object id '%s' has permission to perform action '%s' on scope "
              "'%.300s'; however, the access is denied because of the deny assignment with name "
              "'System deny assignment created by Azure Databricks %.300s' and Id '%.36s' at scope "
              "'%.300s'.",
              k->who.oid, k->who.oid, action, rg_id, rg->locked_by, da, rg_id);
    return true;
}

/* A GET of one resource: the cache, or the most specific 404. */
void
arm_get_cached(struct arm_call *k)
{
    const struct arm_entry *e;
    char id[CTL_ARM_PATH_MAX];
    char *text;

    if (ctl_arm_res_id(id, sizeof(id), k->t.sub, k->t.rg, k->t.ns ? k->t.ns : "", k->t.types,
                       k->t.names, k->t.ntypes) < 0)
        id[0] = '\0';
    e = arm_cache_get(k->arm, id);
    if (e && (text = scc_malloc(e->len + 1)) != NULL) {
        memcpy(text, e->text, e->len + 1);
        arm_reply_text(k, 200, text, e->len);
        return;
    }
    snprintf(id, sizeof(id), "/subscriptions/%s", k->t.sub);
    if (arm_cache_get(k->arm, id) == NULL) {
        arm_error(k, 404, "SubscriptionNotFound", "The subscription '%.64s' could not be found.",
                  k->t.sub);
        return;
    }
    if (k->t.rg && ctl_arm_rg_id(id, sizeof(id), k->t.sub, k->t.rg) == 0 &&
        arm_cache_get(k->arm, id) == NULL) {
        arm_error(k, 404, "ResourceGroupNotFound", "Resource group '%.90s' could not be found.",
                  k->t.rg);
        return;
    }
    arm_error(k, 404, "ResourceNotFound",
              "The Resource '%.64s/%.64s/%.80s' under resource group '%.90s' was not found. For "
              "more details please go to https://aka.ms/ARMResourceNotFoundFix",
              k->t.ns, k->t.types[0], k->t.names[0], k->t.rg ? k->t.rg : "");
}

static void
resource_route(struct arm_call *k)
{
    const char *ns = arm_ns_canonical(k->t.ns);

    if (ns == NULL) {
        arm_error(k, 404, "InvalidResourceNamespace", "The resource namespace '%.64s' is invalid.",
                  k->t.ns);
    } else if (strcmp(ns, ARM_NS_DATABRICKS) == 0) {
        arm_ws_route(k);
        return;
    } else if (strcmp(ns, ARM_NS_NETWORK) == 0) {
        arm_net_route(k);
        return;
    } else if (strcmp(ns, ARM_NS_COMPUTE) == 0) {
        arm_compute_route(k); /* VMs (ctl_compute.c) */
        return;
    } else if (strcmp(ns, ARM_NS_RESOURCES) == 0 && strcasecmp(k->t.types[0], "deployments") == 0) {
        arm_deploy_route(k); /* template deployments (ctl_arm_deploy.c) */
        return;
    } else if (strcmp(k->method, "GET") == 0 && k->t.kind == CTL_ARM_T_RESOURCE) {
        arm_get_cached(k); /* what a managed resource group holds */
    } else if (k->t.kind == CTL_ARM_T_LIST_RG || k->t.kind == CTL_ARM_T_LIST_SUB) {
        arm_list_route(k);
        return;
    } else {
        arm_error(k, 405, "MethodNotAllowed",
                  "The resource type '%.64s/%.64s' is read-only here: its resources are created "
                  "by the platform.",
                  ns, k->t.types[0]);
    }
    arm_finish(k);
}

static void
route(struct arm_call *k)
{
    switch (k->t.kind) {
    case CTL_ARM_T_SUBS:
    case CTL_ARM_T_SUB:
        arm_sub_route(k);
        return;
    case CTL_ARM_T_TENANT_PROVS:
    case CTL_ARM_T_TENANT_PROV:
    case CTL_ARM_T_OPERATIONS:
    case CTL_ARM_T_PROVS:
    case CTL_ARM_T_PROV:
    case CTL_ARM_T_PROV_ACTION:
        arm_prov_route(k);
        return;
    case CTL_ARM_T_RGS:
    case CTL_ARM_T_RG:
        arm_rg_route(k);
        return;
    case CTL_ARM_T_RG_RESOURCES:
    case CTL_ARM_T_SUB_RESOURCES:
        arm_list_route(k);
        return;
    case CTL_ARM_T_OP_STATUS:
        arm_op_status(k);
        return;
    case CTL_ARM_T_OP_RESULT:
    case CTL_ARM_T_SUB_OP_RESULT:
        arm_op_result(k);
        return;
    default:
        resource_route(k);
        return;
    }
}

/* A GET of a tracked resource needs nothing but the cache. */
static bool
fast_get(struct arm_call *k)
{
    if (k->t.kind != CTL_ARM_T_RESOURCE || k->t.ntypes != 1 || strcmp(k->method, "GET") != 0 ||
        strcasecmp(k->t.ns, ARM_NS_DATABRICKS) != 0 || k->t.rg == NULL ||
        strcasecmp(k->t.types[0], "workspaces") != 0)
        return false;
    arm_get_cached(k);
    arm_finish(k);
    return true;
}

void
ctl_arm_request(struct ctl *c, const struct ctl_arm_req *req, ctl_arm_done_fn done, void *arg)
{
    struct arm_call *k = arm_call_new(c, req->who, done, arg);
    struct ctl_arm_resp busy = {0};

    if (k == NULL) {
        ctl_arm_resp_error(&busy, 503, "ServerBusy", "out of memory; retry");
        done(arg, &busy);
        ctl_arm_resp_fini(&busy);
        return;
    }
    if (!prepare(k, req) || deny_assignment(k)) {
        arm_finish(k);
        return;
    }
    if (!fast_get(k))
        route(k);
}

/* ---- lifecycle ---- */

struct start_job {
    struct ctl *c;
    struct arm_change *changes;
    int rc;
};

static void
start_load(void *arg)
{
    struct start_job *j = arg;

    j->rc = arm_cache_load(j->c, &j->changes);
}

int
ctl_arm_start(struct ctl *c)
{
    struct ctl_arm *arm = scc_calloc(1, sizeof(*arm));
    struct start_job j = {.c = c};
    int rc;

    if (arm == NULL)
        return SCC_ENOMEM;
    arm->c = c;
    c->arm = arm;
    if ((rc = scc_map_new(&arm->cache)) < 0 || (rc = scc_map_new(&arm->tokens)) < 0)
        return rc;
    if ((rc = arm_subs_init(c)) < 0 || (rc = arm_tokens_load(c)) < 0)
        return rc;
    if ((rc = scc_worker_run_sync(c->worker, start_load, &j)) < 0 || (rc = j.rc) < 0) {
        scc_log_error_rc(&c->log, rc, "cannot load resources from the store");
        arm_cache_apply(arm, j.changes);
        return rc;
    }
    arm_cache_apply(arm, j.changes);
    c->admin_hook = ctl_arm_admin_request;
    c->admin_hook_arg = c;
    scc_log_info(&c->log, "ARM layer: %zu resources, default subscription %s",
                 scc_map_count(arm->cache), arm->default_sub);
    if ((rc = arm_lro_resume(c)) < 0)
        return rc;
    return arm_deploy_resume(c); /* after the resources' own operations */
}

static int
free_entry(const char *key, void *value, void *arg)
{
    (void)key, (void)arg;
    entry_free(value);
    return 0;
}

static int
free_token(const char *key, void *value, void *arg)
{
    (void)key, (void)arg;
    scc_free(value);
    return 0;
}

void
ctl_arm_stop(struct ctl *c)
{
    struct ctl_arm *arm = c->arm;

    if (arm == NULL)
        return;
    arm->stopping = true;
    arm_lro_stop(arm);
    /* Let the jobs in flight finish and answer: their done callbacks use
     * the cache and the connections waiting for them. */
    while (arm->inflight > 0)
        if (event_base_loop(c->base, EVLOOP_ONCE) != 0)
            break;
    arm_deploy_stop(c);
    c->admin_hook = NULL;
    if (arm->cache)
        scc_map_each(arm->cache, free_entry, NULL);
    if (arm->tokens)
        scc_map_each(arm->tokens, free_token, NULL);
    scc_map_free(arm->cache);
    scc_map_free(arm->tokens);
    scc_free(arm);
    c->arm = NULL;
}
