/*
 * ctl_arm_deploy.c - the routes of Microsoft.Resources/deployments at
 * resource-group scope (arm-compat.md §3.2).
 *
 * A PUT is checked in two stages.  On the loop, the body's shape (mode,
 * an inline template); then on the worker, everything about the template
 * that needs no deployed state (ctl_deploy_preflight), so a bad template
 * is a synchronous 400 with nothing recorded and nothing deployed.  Only
 * then is the deployment row written, in one transaction, and answered
 * 201 with Azure-AsyncOperation; the run (ctl_arm_deploy_run.c) starts
 * when the answer has gone out.  Every other route reads or edits rows.
 */
#include "ctl_arm_deploy.h"

#include "ctl_store_deploy.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/mem.h"
#include "common/time.h"
#include "common/worker.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define LIST_MAX (64u << 20)

/* Handler data; for PUT and cancel the answer also starts or stops a run. */
struct route_ctx {
    struct ctl *c;
    struct ctl_deploy_req req;
    struct dep_run *run; /* built by the PUT job, started once answered */
    bool cancel;         /* a cancel: stop the run once answered */
    char id[CTL_ARM_ID_MAX];
    ctl_arm_done_fn done; /* the transport's */
    void *done_arg;
};

static void
route_ctx_free(void *p)
{
    struct route_ctx *x = p;

    dep_run_free(x->run);
    scc_free(x);
}

static void
answered(void *arg, const struct ctl_arm_resp *resp)
{
    struct route_ctx *x = arg;

    if (x->done)
        x->done(x->done_arg, resp);
    if (x->run != NULL && resp->status < 300) {
        dep_run_start(x->run);
        x->run = NULL;
    }
    if (x->cancel && resp->status < 300)
        (void)dep_run_cancel(x->c, x->id);
}

/* Take over k's answer so that answered() runs after it. */
static struct route_ctx *
wrap(struct arm_call *k)
{
    struct route_ctx *x = scc_calloc(1, sizeof(*x));

    if (x == NULL)
        return NULL;
    x->c = k->c;
    x->done = k->done;
    x->done_arg = k->done_arg;
    k->done = answered;
    k->done_arg = x;
    k->ctx = x;
    k->ctx_free = route_ctx_free;
    return x;
}

/* ---- shared steps (worker) ---- */

static int
dep_id(const struct arm_call *k, const char *rg, char *out)
{
    const char *types[1] = {"deployments"}, *names[1] = {k->t.names[0]};

    return ctl_arm_res_id(out, CTL_ARM_ID_MAX, k->t.sub, rg, ARM_NS_RESOURCES, types, names, 1);
}

/* The group (404 ResourceGroupNotFound when absent) and the deployment's
 * id, both with the group's stored casing. */
static int
dep_where(struct arm_call *k, char *rg_id, char *id)
{
    struct ctl_arm_row rg;
    int rc;

    if (!arm_sub_exists(k, k->t.sub) || arm_rg_get(k, k->t.sub, k->t.rg, &rg) < 0)
        return -1;
    rc = ctl_arm_rg_id(rg_id, CTL_ARM_ID_MAX, k->t.sub, rg.name);
    if (rc == 0 && k->t.names[0] != NULL)
        rc = dep_id(k, rg.name, id);
    ctl_arm_row_fini(&rg);
    if (rc < 0)
        arm_error(k, 400, "InvalidRequestUri", "The deployment id is too long.");
    return rc;
}

static void
not_found(struct arm_call *k)
{
    arm_error(k, 404, "DeploymentNotFound", "Deployment '%.64s' could not be found.",
              k->t.names[0]);
}

/* The row of k's deployment; 404 or 503 answered when there is none. */
static int
dep_get(struct arm_call *k, bool with_run, struct ctl_deploy_row *row)
{
    char rg_id[CTL_ARM_ID_MAX], id[CTL_ARM_ID_MAX];
    int rc;

    if (dep_where(k, rg_id, id) < 0)
        return -1;
    if ((rc = ctl_store_deploy_get(k->c->store, id, with_run, row)) == SCC_ENOTFOUND)
        not_found(k);
    else if (rc < 0)
        (void)arm_store_error(k, rc);
    return rc;
}

static bool
is_active(const char *state)
{
    return strcmp(state, "Accepted") == 0 || strcmp(state, "Running") == 0;
}

static void
active_conflict(struct arm_call *k, const struct ctl_deploy_row *row, const char *what)
{
    char since[40];

    arm_time(row->created_ms, since);
    arm_error(k, 409, "DeploymentActive",
              "Unable to %s deployment '%.64s': the deployment from '%s' is still active. Wait "
              "for it to finish or cancel it. Please see https://aka.ms/arm-deploy-resources for "
              "usage details.",
              what, row->name, since);
}

static void
tmpl_error(struct arm_call *k, int rc, const struct ctl_tmpl_error *err)
{
    json_t *e = ctl_deploy_error(err->code[0] ? err->code : "InvalidTemplate", err->message,
                                 err->target);

    arm_reply(k, rc == SCC_ENOMEM ? 503 : 400, json_pack("{s:o*}", "error", e));
}

static void
async_header(struct arm_call *k, const char *rg_id, const char *op_id)
{
    arm_header(k, "Azure-AsyncOperation",
               "https://%s%s/providers/%s/deployments/%s/operationStatuses/%s?api-version=%s",
               k->host, rg_id, ARM_NS_RESOURCES, k->t.names[0], op_id, k->api_version);
    if (k->c->cfg->lro_retry_after_s)
        arm_header(k, "Retry-After", "%u", k->c->cfg->lro_retry_after_s);
}

/* ---- PUT ---- */

static json_t *
run_json(const struct arm_call *k)
{
    return json_pack("{s:{s:s, s:s, s:s}, s:s, s:s}", "who", "tokenId", k->who.token_id, "scope",
                     k->who.scope, "oid", k->who.oid, "host", k->host, "apiVersion",
                     k->api_version);
}

/* The row: parameters without secure values, the secure ones by name only. */
static int
put_row(struct arm_call *k, const json_t *doc, const json_t *summary, const char *rg_id,
        const char *op_id)
{
    struct route_ctx *x = k->ctx;
    json_t *stored = NULL, *secure = NULL, *run = run_json(k);
    struct ctl_deploy_row row = {0};
    int rc = SCC_ENOMEM;

    if (run == NULL ||
        ctl_deploy_params_split(x->req.params, json_object_get(summary, "parameters"), &stored,
                                &secure) < 0)
        goto out;
    row.id = x->id;
    row.sub = (char *)k->t.sub;
    row.rg_id = (char *)rg_id;
    row.name = (char *)k->t.names[0];
    snprintf(row.op_id, sizeof(row.op_id), "%s", op_id);
    snprintf(row.state, sizeof(row.state), "Accepted");
    row.created_ms = row.updated_ms = k->now_ms;
    if ((row.body = arm_dumps(doc, NULL)) == NULL ||
        (row.tmpl = arm_dumps(x->req.tmpl, NULL)) == NULL ||
        (stored != NULL && (row.params = arm_dumps(stored, NULL)) == NULL) ||
        (row.secure = arm_dumps(secure, NULL)) == NULL || (row.run = arm_dumps(run, NULL)) == NULL)
        goto out;
    if ((rc = ctl_store_deploy_prune(k->c->store, rg_id, CTL_DEPLOY_KEEP - 1)) == 0)
        rc = ctl_store_deploy_put(k->c->store, &row);
out:
    scc_free(row.body);
    scc_free(row.tmpl);
    scc_free(row.params);
    scc_free(row.secure);
    scc_free(row.run);
    json_decref(stored);
    json_decref(secure);
    json_decref(run);
    return rc;
}

/* In one transaction: refuse to replace an active deployment, write ours. */
static int
put_record(struct arm_call *k, const json_t *doc, const json_t *summary, const char *rg_id,
           const char *op_id, bool *existed)
{
    struct route_ctx *x = k->ctx;
    struct ctl_deploy_row old;
    int rc = ctl_store_deploy_get(k->c->store, x->id, false, &old);

    *existed = rc == 0;
    if (rc == 0 && is_active(old.state)) {
        active_conflict(k, &old, "edit or replace");
        ctl_deploy_row_fini(&old);
        return -1;
    }
    if (rc == 0)
        ctl_deploy_row_fini(&old);
    else if (rc != SCC_ENOTFOUND)
        return rc;
    return put_row(k, doc, summary, rg_id, op_id);
}

/* Pre-flight, then the run's own template, before any transaction: the
 * worker is the only writer, so nothing moves in between. */
static int
put_prepare(struct arm_call *k, const char *rg_id, const char *op_id, json_t **summary,
            json_t **doc)
{
    struct route_ctx *x = k->ctx;
    struct dep_scope sc;
    struct ctl_tmpl_error err;
    struct dep_run_info info = {x->id, op_id, k->host, &k->who, k->now_ms};
    char corr[37];
    int rc;

    if ((rc = dep_scope_load(k->c, rg_id, k->t.names[0], &sc)) < 0) {
        dep_scope_fini(&sc);
        return arm_store_error(k, rc);
    }
    if ((rc = ctl_deploy_preflight(x->req.tmpl, x->req.params, &sc.scope, summary, &err)) < 0) {
        tmpl_error(k, rc, &err);
        goto out;
    }
    if ((rc = ctl_arm_guid(corr)) < 0 ||
        (*doc = ctl_deploy_doc_new(x->id, *summary, x->req.tags, corr, k->now_ms, false)) == NULL) {
        rc = arm_store_error(k, SCC_ENOMEM);
        goto out;
    }
    /* The same template again, now with reference() reading the store. */
    if ((rc = dep_run_new(k->c, &info, x->req.tmpl, x->req.params, &sc.scope, json_deep_copy(*doc),
                          &x->run, &err)) < 0)
        tmpl_error(k, rc, &err);
out:
    dep_scope_fini(&sc);
    return rc;
}

static void
put_job(struct arm_call *k)
{
    struct route_ctx *x = k->ctx;
    char rg_id[CTL_ARM_ID_MAX], op_id[37];
    json_t *summary = NULL, *doc = NULL;
    bool existed = false;

    if (dep_where(k, rg_id, x->id) < 0)
        return;
    if (ctl_arm_guid(op_id) < 0) {
        (void)arm_store_error(k, SCC_ENOMEM);
        return;
    }
    if (put_prepare(k, rg_id, op_id, &summary, &doc) == 0 && arm_tx_begin(k) == 0 &&
        arm_tx_end(k, put_record(k, doc, summary, rg_id, op_id, &existed)) == 0) {
        arm_reply(k, existed ? 200 : 201, json_incref(doc));
        async_header(k, rg_id, op_id);
        scc_log_info(&k->c->log, "deployment %s accepted (operation %s)", x->id, op_id);
    }
    json_decref(summary);
    json_decref(doc);
}

/* ---- validate, export ---- */

static void
validate_job(struct arm_call *k)
{
    struct route_ctx *x = k->ctx;
    char rg_id[CTL_ARM_ID_MAX], corr[37];
    struct ctl_tmpl_error err;
    struct dep_scope sc;
    json_t *summary = NULL;
    int rc;

    if (dep_where(k, rg_id, x->id) < 0)
        return;
    if ((rc = dep_scope_load(k->c, rg_id, k->t.names[0], &sc)) < 0)
        (void)arm_store_error(k, rc);
    else if ((rc = ctl_deploy_preflight(x->req.tmpl, x->req.params, &sc.scope, &summary, &err)) < 0)
        tmpl_error(k, rc, &err);
    else if (ctl_arm_guid(corr) < 0)
        (void)arm_store_error(k, SCC_ENOMEM);
    else
        arm_reply(k, 200, ctl_deploy_doc_new(x->id, summary, x->req.tags, corr, k->now_ms, true));
    dep_scope_fini(&sc);
    json_decref(summary);
}

static void
export_job(struct arm_call *k)
{
    struct ctl_deploy_row row;

    if (dep_get(k, true, &row) < 0)
        return;
    arm_reply(k, 200, json_pack("{s:o*}", "template", arm_loads(row.tmpl)));
    ctl_deploy_row_fini(&row);
}

/* ---- reads ---- */

static void
get_job(struct arm_call *k)
{
    struct ctl_deploy_row row;

    if (dep_get(k, false, &row) < 0)
        return;
    if (strcmp(k->method, "HEAD") == 0) {
        arm_reply(k, 204, NULL);
    } else {
        arm_reply_text(k, 200, row.body, strlen(row.body));
        row.body = NULL;
    }
    ctl_deploy_row_fini(&row);
}

struct list_out {
    struct scc_buf b;
    bool first;
};

static int
list_put(struct list_out *l, const char *text)
{
    int rc;

    if (!l->first && (rc = scc_buf_put(&l->b, ",", 1)) < 0)
        return rc;
    l->first = false;
    return scc_buf_put_str(&l->b, text);
}

static int
list_dep(const struct ctl_deploy_row *r, void *arg)
{
    return list_put(arg, r->body);
}

static int
list_op(const struct ctl_deploy_op_row *r, void *arg)
{
    return list_put(arg, r->body);
}

/* {"value": [...]} from a walk of rows. */
static void
list_reply(struct arm_call *k, const char *id, bool ops)
{
    struct list_out l = {.first = true};
    int rc;

    scc_buf_init(&l.b, LIST_MAX);
    if ((rc = scc_buf_put_str(&l.b, "{\"value\":[")) == 0)
        rc = ops ? ctl_store_deploy_op_each(k->c->store, id, list_op, &l)
                 : ctl_store_deploy_each(k->c->store, id, list_dep, &l);
    if (rc == 0)
        rc = scc_buf_put_str(&l.b, "]}");
    if (rc < 0) {
        scc_buf_fini(&l.b);
        (void)arm_store_error(k, rc);
        return;
    }
    arm_reply_text(k, 200, scc_buf_steal(&l.b, NULL), l.b.len);
}

static void
list_job(struct arm_call *k)
{
    char rg_id[CTL_ARM_ID_MAX], unused[CTL_ARM_ID_MAX];

    if (dep_where(k, rg_id, unused) == 0)
        list_reply(k, rg_id, false);
}

static void
ops_job(struct arm_call *k)
{
    struct ctl_deploy_row row;

    if (dep_get(k, false, &row) < 0)
        return;
    list_reply(k, row.id, true);
    ctl_deploy_row_fini(&row);
}

struct op_find {
    const char *op_id;
    char *body;
};

static int
find_op(const struct ctl_deploy_op_row *r, void *arg)
{
    struct op_find *f = arg;

    if (strcasecmp(r->op_id, f->op_id) != 0)
        return 0;
    return (f->body = scc_strdup(r->body)) != NULL ? 1 : SCC_ENOMEM;
}

static void
op_job(struct arm_call *k)
{
    struct op_find f = {k->t.names[1], NULL};
    struct ctl_deploy_row row;
    int rc;

    if (dep_get(k, false, &row) < 0)
        return;
    if ((rc = ctl_store_deploy_op_each(k->c->store, row.id, find_op, &f)) < 0)
        (void)arm_store_error(k, rc);
    else if (f.body == NULL)
        arm_error(k, 404, "DeploymentOperationNotFound",
                  "The operation '%.64s' of deployment '%.64s' could not be found.", f.op_id,
                  row.name);
    else
        arm_reply_text(k, 200, f.body, strlen(f.body));
    ctl_deploy_row_fini(&row);
}

/* The operation status resource: the deployment's state and error. */
static json_t *
status_doc(struct arm_call *k, const struct ctl_deploy_row *row)
{
    json_t *doc = arm_loads(row->body), *o, *err;
    char path[CTL_ARM_ID_MAX + 96], start[40];

    snprintf(path, sizeof(path), "%s/operationStatuses/%s", row->id, row->op_id);
    arm_time(row->created_ms, start);
    o = json_pack("{s:s, s:s, s:s, s:s}", "id", path, "name", row->op_id, "status", row->state,
                  "startTime", start);
    err = json_object_get(json_object_get(doc, "properties"), "error");
    if (o != NULL && err != NULL)
        json_object_set(o, "error", err);
    else if (o != NULL && strcmp(row->state, "Canceled") == 0)
        json_object_set_new(
                o, "error",
                ctl_deploy_error("DeploymentCanceled", "The deployment was canceled.", NULL));
    if (o != NULL && is_active(row->state) && k->c->cfg->lro_retry_after_s)
        arm_header(k, "Retry-After", "%u", k->c->cfg->lro_retry_after_s);
    json_decref(doc);
    return o;
}

static void
status_job(struct arm_call *k)
{
    struct ctl_deploy_row row;

    if (dep_get(k, false, &row) < 0)
        return;
    if (strcasecmp(row.op_id, k->t.names[1]) != 0)
        arm_error(k, 404, "OperationNotFound", "The operation '%.64s' could not be found.",
                  k->t.names[1]);
    else
        arm_reply(k, 200, status_doc(k, &row));
    ctl_deploy_row_fini(&row);
}

/* ---- DELETE, cancel ---- */

static int
delete_tx(struct arm_call *k, const struct ctl_deploy_row *row)
{
    char op_id[40];
    int rc;

    if ((rc = ctl_store_deploy_del(k->c->store, row->id)) < 0 ||
        (rc = arm_op_done_now(k, ARM_NS_RESOURCES, NULL, "deploy.delete", row->id, op_id)) < 0)
        return rc;
    /* Deleting a deployment forgets its history; its resources stay. */
    arm_reply(k, 202, NULL);
    arm_lro_headers(k, ARM_NS_RESOURCES, NULL, op_id, false, true);
    return 0;
}

static void
delete_job(struct arm_call *k)
{
    char rg_id[CTL_ARM_ID_MAX], id[CTL_ARM_ID_MAX];
    struct ctl_deploy_row row;
    int rc;

    if (dep_where(k, rg_id, id) < 0)
        return;
    if ((rc = ctl_store_deploy_get(k->c->store, id, false, &row)) == SCC_ENOTFOUND) {
        arm_reply(k, 204, NULL);
        return;
    }
    if (rc < 0) {
        (void)arm_store_error(k, rc);
        return;
    }
    if (is_active(row.state))
        active_conflict(k, &row, "delete");
    else if (arm_tx_begin(k) == 0)
        (void)arm_tx_end(k, delete_tx(k, &row));
    ctl_deploy_row_fini(&row);
}

static int
cancel_tx(struct arm_call *k, const struct ctl_deploy_row *row)
{
    json_t *doc = arm_loads(row->body);
    char *text;
    int rc;

    if (doc == NULL)
        return SCC_ENOMEM;
    ctl_deploy_doc_finish(doc, "Canceled", row->created_ms, k->now_ms, NULL);
    if ((text = arm_dumps(doc, NULL)) == NULL)
        rc = SCC_ENOMEM;
    else
        rc = ctl_store_deploy_update(k->c->store, row->id, row->op_id, "Canceled", text, k->now_ms);
    scc_free(text);
    json_decref(doc);
    return rc;
}

static void
cancel_job(struct arm_call *k)
{
    struct route_ctx *x = k->ctx;
    struct ctl_deploy_row row;

    if (dep_get(k, false, &row) < 0)
        return;
    snprintf(x->id, sizeof(x->id), "%s", row.id);
    if (!is_active(row.state))
        arm_error(k, 409, "DeploymentNotActive",
                  "The deployment '%.64s' cannot be canceled: it is %s, and only an Accepted or "
                  "Running deployment can be.",
                  row.name, row.state);
    else if (arm_tx_begin(k) == 0 && arm_tx_end(k, cancel_tx(k, &row)) == 0)
        arm_reply(k, 204, NULL);
    ctl_deploy_row_fini(&row);
}

/* ---- dispatch ---- */

bool
arm_deploy_path_alias(const char *path, char *out, size_t cap)
{
    static const char *const lit[] = {"subscriptions", NULL, "resourcegroups", NULL, "deployments"};
    const char *p = path, *seg[5];
    size_t len[5];
    int n;

    for (size_t i = 0; i < 5; i++) {
        if (*p != '/')
            return false;
        seg[i] = ++p;
        len[i] = strcspn(p, "/");
        p += len[i];
        if (len[i] == 0 || (lit[i] != NULL &&
                            (len[i] != strlen(lit[i]) || strncasecmp(seg[i], lit[i], len[i]) != 0)))
            return false;
    }
    n = snprintf(out, cap, "%.*s/providers/%s%s", (int)(seg[4] - 1 - path), path, ARM_NS_RESOURCES,
                 seg[4] - 1);
    return n > 0 && (size_t)n < cap;
}

/* PUT and validate: the body's shape on the loop, the rest on the worker. */
static void
submit_with_body(struct arm_call *k, arm_job_fn fn)
{
    struct ctl_tmpl_error err;
    struct route_ctx *x = wrap(k);
    int rc;

    if (x == NULL) {
        arm_error(k, 503, "ServerBusy", "out of memory; retry");
    } else if ((rc = ctl_deploy_req_parse(k->body, &x->req, &err)) < 0) {
        tmpl_error(k, rc, &err);
    } else {
        arm_submit(k, fn);
        return;
    }
    arm_finish(k);
}

static void
submit_wrapped(struct arm_call *k, arm_job_fn fn, bool cancel)
{
    struct route_ctx *x = wrap(k);

    if (x == NULL) {
        arm_error(k, 503, "ServerBusy", "out of memory; retry");
        arm_finish(k);
        return;
    }
    x->cancel = cancel;
    arm_submit(k, fn);
}

static arm_job_fn
deployment_verb(struct arm_call *k)
{
    const char *m = k->method;

    if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
        return get_job;
    if (strcmp(m, "DELETE") == 0)
        return delete_job;
    return NULL;
}

/* .../deployments/{name}/{action} and .../{name}/{what}/{id}. */
static arm_job_fn
child_job(struct arm_call *k, bool *post, bool *body)
{
    const char *what = k->t.types[1];
    bool list = k->t.kind == CTL_ARM_T_CHILD_LIST;

    *body = false;
    *post = true;
    if (list && strcasecmp(what, "validate") == 0)
        return *body = true, validate_job;
    if (list && strcasecmp(what, "cancel") == 0)
        return cancel_job;
    if (list && strcasecmp(what, "exportTemplate") == 0)
        return export_job;
    *post = false;
    if (list && strcasecmp(what, "operations") == 0)
        return ops_job;
    if (!list && strcasecmp(what, "operations") == 0)
        return op_job;
    if (!list && strcasecmp(what, "operationStatuses") == 0)
        return status_job;
    return NULL;
}

static void
child_route(struct arm_call *k)
{
    bool post, body;
    arm_job_fn fn = child_job(k, &post, &body);

    if (fn == NULL) {
        arm_error(k, 404, "NotFound", "No route matches '.../deployments/%.64s/%.64s'.",
                  k->t.names[0], k->t.types[1]);
    } else if (strcmp(k->method, post ? "POST" : "GET") != 0) {
        arm_error(k, 405, "MethodNotAllowed", "%s is not supported on '%.64s'.", k->method,
                  k->t.types[1]);
    } else if (body) {
        submit_with_body(k, fn);
        return;
    } else {
        submit_wrapped(k, fn, fn == cancel_job);
        return;
    }
    arm_finish(k);
}

static void
deployment_route(struct arm_call *k)
{
    struct ctl_tmpl_error err;
    arm_job_fn fn;
    int rc;

    if ((rc = ctl_deploy_name_check(k->t.names[0], &err)) < 0) {
        tmpl_error(k, rc, &err);
    } else if (k->t.ntypes == 2) {
        child_route(k);
        return;
    } else if (k->t.ntypes != 1) {
        arm_error(k, 404, "NotFound", "No route matches this deployment path.");
    } else if (strcmp(k->method, "PUT") == 0) {
        submit_with_body(k, put_job);
        return;
    } else if ((fn = deployment_verb(k)) != NULL) {
        arm_submit(k, fn);
        return;
    } else {
        arm_error(k, 405, "MethodNotAllowed", "%s is not supported on a deployment.", k->method);
    }
    arm_finish(k);
}

void
arm_deploy_route(struct arm_call *k)
{
    if (k->t.rg == NULL) {
        arm_error(k, 400, "InvalidDeploymentScope",
                  "Only resource group deployments are supported: "
                  "/subscriptions/{sub}/resourcegroups/{group}/providers/Microsoft.Resources/"
                  "deployments/{name}.");
    } else if (k->t.kind == CTL_ARM_T_LIST_RG) {
        if (strcmp(k->method, "GET") == 0) {
            arm_submit(k, list_job);
            return;
        }
        arm_error(k, 405, "MethodNotAllowed", "%s is not supported on a list.", k->method);
    } else if (k->t.kind == CTL_ARM_T_RESOURCE || k->t.kind == CTL_ARM_T_CHILD_LIST) {
        deployment_route(k);
        return;
    } else {
        arm_error(k, 404, "NotFound", "No route matches this deployment path.");
    }
    arm_finish(k);
}

/* ---- scope, restart, shutdown ---- */

void
dep_scope_fini(struct dep_scope *d)
{
    ctl_arm_row_fini(&d->rg);
    json_decref(d->rg_body);
    json_decref(d->sub_body);
    memset(d, 0, sizeof(*d));
}

int
dep_scope_load(struct ctl *c, const char *rg_id, const char *dep_name, struct dep_scope *d)
{
    struct ctl_arm_row sub;
    char sub_id[96];
    const char *tenant;
    int rc;

    memset(d, 0, sizeof(*d));
    if ((rc = ctl_store_arm_res_get(c->store, rg_id, &d->rg)) < 0)
        return rc;
    if ((d->rg_body = arm_loads(d->rg.body)) == NULL)
        return SCC_ENOMEM;
    snprintf(sub_id, sizeof(sub_id), "/subscriptions/%s", d->rg.sub);
    if ((rc = ctl_store_arm_res_get(c->store, sub_id, &sub)) == 0) {
        d->sub_body = arm_loads(sub.body);
        ctl_arm_row_fini(&sub);
    } else if (rc != SCC_ENOTFOUND) {
        return rc;
    }
    tenant = json_string_value(json_object_get(d->sub_body, "tenantId"));
    d->scope = (struct ctl_tmpl_scope){
            .subscription_id = d->rg.sub,
            .tenant_id = tenant ? tenant : c->cfg->tenant_id,
            .subscription_name = json_string_value(json_object_get(d->sub_body, "displayName")),
            .rg_name = d->rg.name,
            .rg_location = json_string_value(json_object_get(d->rg_body, "location")),
            .rg_tags = json_object_get(d->rg_body, "tags"),
            .deployment_name = dep_name,
    };
    return 0;
}

struct resume {
    struct ctl *c;
    char **ids;
    size_t nids, cap;
    struct dep_run **runs;
    size_t nruns;
    int rc;
};

static int
resume_collect(const struct ctl_deploy_row *row, void *arg)
{
    struct resume *j = arg;
    char **grown;

    if (j->nids == j->cap) {
        j->cap = j->cap ? 2 * j->cap : 8;
        if ((grown = scc_realloc(j->ids, j->cap * sizeof(*grown))) == NULL)
            return SCC_ENOMEM;
        j->ids = grown;
    }
    return (j->ids[j->nids++] = scc_strdup(row->id)) != NULL ? 0 : SCC_ENOMEM;
}

/* A deployment that cannot go on ends Failed, saying why. */
static int
resume_fail(struct ctl *c, const struct ctl_deploy_row *row, const char *code, const char *why)
{
    json_t *doc = arm_loads(row->body), *err;
    int64_t now = (int64_t)scc_time_wall_ms();
    char msg[1400], *text = NULL;
    int rc = SCC_ENOMEM;

    snprintf(msg, sizeof(msg),
             "The deployment was interrupted by a restart of the control plane and cannot "
             "resume: %s",
             why);
    err = json_pack("{s:s, s:s, s:[o*]}", "code", "DeploymentFailed", "message", msg, "details",
                    ctl_deploy_error(code, why, NULL));
    if (doc != NULL && err != NULL) {
        ctl_deploy_doc_finish(doc, "Failed", row->created_ms, now, err);
        if ((text = arm_dumps(doc, NULL)) != NULL)
            rc = ctl_store_deploy_update(c->store, row->id, row->op_id, "Failed", text, now);
    }
    scc_log_info(&c->log, "deployment %s: Failed at restart (%s)", row->id, code);
    scc_free(text);
    json_decref(doc);
    json_decref(err);
    return rc == SCC_ENOTFOUND ? 0 : rc;
}

static int
resume_secure(struct ctl *c, const struct ctl_deploy_row *row, const json_t *secure)
{
    char why[1024], *names = arm_dumps(secure, NULL);

    snprintf(why, sizeof(why),
             "the values of its secure parameters %.600s are never stored. Deploy it again; the "
             "resources it already deployed are updated in place.",
             names ? names : "");
    scc_free(names);
    return resume_fail(c, row, "DeploymentInterrupted", why);
}

static int
who_of(const json_t *run, struct ctl_principal *who)
{
    const json_t *w = json_object_get(run, "who");
    const char *tid = json_string_value(json_object_get(w, "tokenId"));
    const char *scope = json_string_value(json_object_get(w, "scope"));
    const char *oid = json_string_value(json_object_get(w, "oid"));

    memset(who, 0, sizeof(*who));
    if (tid == NULL || scope == NULL || oid == NULL)
        return SCC_EINVAL;
    snprintf(who->token_id, sizeof(who->token_id), "%s", tid);
    snprintf(who->scope, sizeof(who->scope), "%s", scope);
    snprintf(who->oid, sizeof(who->oid), "%s", oid);
    return 0;
}

/* Rebuild the run of one row, or fail the row. */
static int
resume_row(struct resume *j, const struct ctl_deploy_row *row)
{
    json_t *run = arm_loads(row->run), *secure = arm_loads(row->secure),
           *tmpl = arm_loads(row->tmpl);
    json_t *params = row->params ? arm_loads(row->params) : NULL, *doc = arm_loads(row->body);
    struct ctl_principal who;
    struct ctl_tmpl_error err;
    struct dep_scope sc = {0};
    struct dep_run *r = NULL;
    int rc;

    if (json_array_size(secure) > 0) {
        rc = resume_secure(j->c, row, secure);
    } else if (tmpl == NULL || doc == NULL || who_of(run, &who) < 0) {
        rc = resume_fail(j->c, row, "DeploymentInterrupted", "its stored state is unreadable.");
    } else if ((rc = dep_scope_load(j->c, row->rg_id, row->name, &sc)) == SCC_ENOTFOUND) {
        rc = 0; /* the group is gone, and the deployment with it */
    } else if (rc == 0) {
        struct dep_run_info info = {row->id, row->op_id,
                                    json_string_value(json_object_get(run, "host")), &who,
                                    row->created_ms};

        if (info.host == NULL)
            info.host = j->c->cfg->api_listen;
        if ((rc = dep_run_new(j->c, &info, tmpl, params, &sc.scope, json_incref(doc), &r, &err)) <
            0)
            rc = resume_fail(j->c, row, err.code, err.message);
        else if ((rc = dep_run_restore(r, j->c->store)) == 0) {
            scc_log_info(&j->c->log, "resuming deployment %s after a restart", row->id);
            j->runs[j->nruns++] = r;
            r = NULL;
        }
    }
    dep_run_free(r);
    dep_scope_fini(&sc);
    json_decref(run);
    json_decref(secure);
    json_decref(tmpl);
    json_decref(params);
    json_decref(doc);
    return rc;
}

static void
resume_sync(void *arg)
{
    struct resume *j = arg;
    struct ctl_deploy_row row;

    if ((j->rc = ctl_store_deploy_each_active(j->c->store, resume_collect, j)) < 0)
        return;
    if ((j->runs = scc_calloc(j->nids + 1, sizeof(*j->runs))) == NULL) {
        j->rc = SCC_ENOMEM;
        return;
    }
    for (size_t i = 0; j->rc == 0 && i < j->nids; i++) {
        if ((j->rc = ctl_store_deploy_get(j->c->store, j->ids[i], true, &row)) == SCC_ENOTFOUND) {
            j->rc = 0;
            continue;
        }
        if (j->rc == 0)
            j->rc = resume_row(j, &row);
        ctl_deploy_row_fini(&row);
    }
}

int
arm_deploy_resume(struct ctl *c)
{
    struct resume j = {.c = c};
    int rc;

    if ((rc = scc_worker_run_sync(c->worker, resume_sync, &j)) == 0)
        rc = j.rc;
    for (size_t i = 0; i < j.nruns; i++) {
        if (rc == 0)
            dep_run_start(j.runs[i]);
        else
            dep_run_free(j.runs[i]);
    }
    for (size_t i = 0; i < j.nids; i++)
        scc_free(j.ids[i]);
    scc_free(j.ids);
    scc_free(j.runs);
    if (rc < 0)
        scc_log_error_rc(&c->log, rc, "cannot resume deployments");
    return rc;
}

void
arm_deploy_stop(struct ctl *c)
{
    dep_run_stop_all(c);
}
