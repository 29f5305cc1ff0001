/*
 * ctl_arm_lro.c - long-running operations.
 *
 * An operation is a row (arm_ops) with a kind, a payload and the index of
 * its next step.  Each step runs on the worker in one transaction that
 * also advances the step or records the outcome, so a kill -9 leaves the
 * operation either before or after a whole step.  At start every
 * operation still InProgress is scheduled again from its recorded step:
 * it completes, or its step fails and it ends Failed with the reason;
 * it never stays InProgress.
 *
 * Steps are spaced by --lro-delay / steps, which stands for the time real
 * provisioning takes and makes the InProgress states observable.
 *
 * Wire (arm-compat.md §2): Azure-AsyncOperation points at
 * .../locations/{loc}/operationStatuses/{id} (Microsoft.Network:
 * .../operations/{id}), which answers 200 {"status": ...}; Location points
 * at .../operationResults/{id}, which answers 202 while running, then 200
 * (a PUT: the resource) or 204 (a DELETE), and never 404 for a known id.
 */
#include "ctl_arm_int.h"
#include "ctl_compute.h"

#include "common/err.h"
#include "common/mem.h"
#include "common/worker.h"

#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct arm_timer {
    struct arm_timer *next;
    struct ctl_arm *arm;
    struct event *ev;
    char op_id[40];
};

static const struct lro_kind {
    const char *kind;
    arm_step_fn fn;
    arm_step_fn fail; /* records the failure on the resource, in a fresh transaction */
    int nsteps;
} kinds[] = {
        {"ws.put", arm_ws_put_step, arm_ws_fail, 3},
        {"ws.delete", arm_ws_del_step, arm_ws_fail, 2},
        {"rg.delete", arm_rg_del_step, arm_rg_del_fail, 1},
        /* Node create and delete, and a workspace delete after its two
         * steps, end when the provider has applied them (ctl_wire.c,
         * ctl_compute_feed.c): no steps here. */
        {CTL_COMPUTE_OP_NEW, NULL, NULL, 1},
        {CTL_COMPUTE_OP_DEL, NULL, NULL, 1},
        {CTL_COMPUTE_OP_WS_DEL, NULL, NULL, 3},
};

static const struct lro_kind *
kind_of(const char *name)
{
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(kinds[i].kind, name) == 0)
            return &kinds[i];
    }
    return NULL;
}

void
arm_op_set_error(struct ctl_arm_op *op, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(op->error_code, sizeof(op->error_code), "%s", code);
    scc_free(op->error_message);
    op->error_message = scc_strdup(msg);
}

static int
op_new(struct arm_call *k, const char *ns, const char *loc, const char *kind, const char *res_id,
       const char *status, struct ctl_arm_op *op)
{
    int rc;

    memset(op, 0, sizeof(*op));
    if ((rc = ctl_arm_guid(op->id)) < 0)
        return rc;
    snprintf(op->sub, sizeof(op->sub), "%s", k->t.sub ? k->t.sub : "");
    snprintf(op->ns, sizeof(op->ns), "%s", ns);
    snprintf(op->location, sizeof(op->location), "%s", loc && *loc ? loc : "global");
    snprintf(op->kind, sizeof(op->kind), "%s", kind);
    snprintf(op->status, sizeof(op->status), "%s", status);
    op->resource_id = (char *)res_id;
    op->start_ms = k->now_ms;
    return 0;
}

int
arm_op_start(struct arm_call *k, const char *ns, const char *loc, const char *kind,
             const char *res_id, json_t *payload, char op_id[40])
{
    struct ctl_arm_op op;
    int rc;

    if ((rc = op_new(k, ns, loc, kind, res_id, "InProgress", &op)) < 0)
        return rc;
    if (payload && (op.payload = arm_dumps(payload, NULL)) == NULL)
        return SCC_ENOMEM;
    rc = ctl_store_arm_op_put(k->c->store, &op);
    scc_free(op.payload);
    if (rc == 0) {
        memcpy(op_id, op.id, 40);
        memcpy(k->run_op, op.id, sizeof(k->run_op));
    }
    return rc;
}

int
arm_op_done_now(struct arm_call *k, const char *ns, const char *loc, const char *kind,
                const char *res_id, char op_id[40])
{
    struct ctl_arm_op op;
    int rc;

    if ((rc = op_new(k, ns, loc, kind, res_id, "Succeeded", &op)) < 0)
        return rc;
    op.end_ms = k->now_ms;
    if ((rc = ctl_store_arm_op_put(k->c->store, &op)) == 0)
        memcpy(op_id, op.id, 40);
    return rc;
}

static void
op_url(struct arm_call *k, char *out, size_t cap, const char *sub, const char *ns, const char *loc,
       const char *what, const char *op_id)
{
    if (strcmp(ns, ARM_NS_RESOURCES) == 0)
        snprintf(out, cap, "https://%s/subscriptions/%s/operationresults/%s?api-version=%s",
                 k->host, sub, op_id, k->api_version);
    else
        snprintf(out, cap,
                 "https://%s/subscriptions/%s/providers/%s/locations/%s/%s/%s?api-version=%s",
                 k->host, sub, ns, loc, what, op_id, k->api_version);
}

void
arm_lro_headers(struct arm_call *k, const char *ns, const char *loc, const char *op_id, bool async,
                bool location)
{
    char url[1024];
    bool net = strcmp(ns, ARM_NS_NETWORK) == 0;

    if (async) {
        op_url(k, url, sizeof(url), k->t.sub, ns, loc, net ? "operations" : "operationStatuses",
               op_id);
        arm_header(k, "Azure-AsyncOperation", "%s", url);
    }
    if (location) {
        op_url(k, url, sizeof(url), k->t.sub, ns, loc, "operationResults", op_id);
        arm_header(k, "Location", "%s", url);
    }
    if (k->c->cfg->lro_retry_after_s)
        arm_header(k, "Retry-After", "%u", k->c->cfg->lro_retry_after_s);
}

/* ---- running steps ---- */

static void step_job(struct arm_call *k);

static void
timer_free(struct ctl_arm *arm, struct arm_timer *t)
{
    struct arm_timer **pp = &arm->timers;

    while (*pp && *pp != t)
        pp = &(*pp)->next;
    if (*pp)
        *pp = t->next;
    if (t->ev)
        event_free(t->ev);
    scc_free(t);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct arm_timer *t = arg;
    struct ctl_arm *arm = t->arm;
    struct ctl_principal rp = {
            .scope = "*", .oid = "00000000-0000-0000-0000-00000000rp00", .internal = true};
    struct arm_call *k = arm_call_new(arm->c, &rp, NULL, NULL);
    char *id = scc_strdup(t->op_id);

    (void)fd, (void)what;
    timer_free(arm, t);
    if (k == NULL || id == NULL) {
        /* Nothing lost: the operation is still InProgress in the store and
         * the next start resumes it. */
        scc_log_error(&arm->c->log, "out of memory running an operation step");
        scc_free(id);
        scc_free(k);
        return;
    }
    k->ctx = id;
    k->ctx_free = scc_free;
    arm_submit(k, step_job);
}

void
arm_lro_schedule(struct ctl_arm *arm, const char *op_id, bool first)
{
    uint32_t ms = arm->c->cfg->lro_delay_ms / 3;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    struct arm_timer *t = scc_calloc(1, sizeof(*t));

    (void)first;
    if (t == NULL || (t->ev = evtimer_new(arm->c->base, on_timer, t)) == NULL ||
        evtimer_add(t->ev, &tv) != 0) {
        if (t && t->ev)
            event_free(t->ev);
        scc_free(t);
        scc_log_error(&arm->c->log, "cannot schedule operation %s; it resumes at restart", op_id);
        return;
    }
    t->arm = arm;
    snprintf(t->op_id, sizeof(t->op_id), "%s", op_id);
    t->next = arm->timers;
    arm->timers = t;
}

void
arm_lro_stop(struct ctl_arm *arm)
{
    while (arm->timers)
        timer_free(arm, arm->timers);
}

/* Run the operation's step; on success, say what the op row says next. */
static int
step_run(struct arm_call *k, struct ctl_arm_op *op, const struct lro_kind *kd)
{
    json_t *payload = arm_loads(op->payload);
    int rc;

    if (kd == NULL) {
        arm_op_set_error(op, "InternalServerError", "unknown operation kind '%s'", op->kind);
        rc = -1;
    } else {
        rc = kd->fn(k, op, payload);
    }
    json_decref(payload);
    if (rc > 0) {
        op->step++;
        memcpy(k->run_op, op->id, sizeof(k->run_op));
    } else if (rc == 0) {
        snprintf(op->status, sizeof(op->status), "Succeeded");
        op->end_ms = k->now_ms;
    }
    return rc;
}

/* A failed step's writes were rolled back; a fresh transaction records
 * the failure on the resource and the operation, so it always ends. */
static void
step_fail(struct arm_call *k, struct ctl_arm_op *op, const struct lro_kind *kd, int rc)
{
    json_t *payload = arm_loads(op->payload);

    if (op->error_code[0] == '\0')
        arm_op_set_error(op, "InternalServerError", "the operation could not be completed: %s",
                         rc == SCC_ESTORE ? ctl_store_errmsg(k->c->store) : scc_strerror(rc));
    snprintf(op->status, sizeof(op->status), "Failed");
    op->end_ms = k->now_ms;
    k->resp.status = 0;
    if (arm_tx_begin(k) == 0) {
        rc = kd ? kd->fail(k, op, payload) : 0;
        if (arm_tx_end(k, rc < 0 ? rc : ctl_store_arm_op_put(k->c->store, op)) < 0)
            scc_log_error(&k->c->log,
                          "operation %s: cannot record its failure (%s); it is "
                          "retried at the next start",
                          op->id, ctl_store_errmsg(k->c->store));
    }
    json_decref(payload);
}

/* An operation the provider's rounds complete, found by an sccd that now
 * runs without a provider (it restarted with --provider none): nothing
 * else would end it.  Deletes are done (their rows are gone); creates
 * fail, saying why. */
static int
end_without_provider(struct arm_call *k, struct ctl_arm_op *op)
{
    static const char why[] = "sccd restarted without a provider (--provider none), so these "
                              "nodes cannot be booted.";
    int rc;

    if (strcmp(op->kind, CTL_COMPUTE_OP_NEW) == 0) {
        if ((rc = ctl_compute_vms_fail(k, op->payload, why)) < 0)
            return rc;
        arm_op_set_error(op, "ProviderNotConfigured", "%s", why);
    }
    snprintf(op->status, sizeof(op->status), "%s", op->error_code[0] ? "Failed" : "Succeeded");
    op->end_ms = k->now_ms;
    scc_log_info(&k->c->log, "operation %s %s %s: %s without a provider", op->id, op->kind,
                 op->resource_id, op->status);
    return ctl_store_arm_op_put(k->c->store, op);
}

static void
step_job(struct arm_call *k)
{
    const struct lro_kind *kd;
    struct ctl_arm_op op;
    int rc;

    memset(&op, 0, sizeof(op));
    if (arm_tx_begin(k) < 0)
        return;
    if ((rc = ctl_store_arm_op_get(k->c->store, k->ctx, &op)) < 0 ||
        strcmp(op.status, "InProgress") != 0) {
        (void)arm_tx_end(k, rc);
        ctl_arm_op_fini(&op);
        k->resp.status = 200;
        return;
    }
    kd = kind_of(op.kind);
    if (kd && kd->fn == NULL) { /* completed elsewhere; stays InProgress until then */
        (void)arm_tx_end(k, k->c->wire ? 0 : end_without_provider(k, &op));
        ctl_arm_op_fini(&op);
        k->resp.status = 200;
        return;
    }
    if ((rc = step_run(k, &op, kd)) >= 0 &&
        (rc = arm_tx_end(k, ctl_store_arm_op_put(k->c->store, &op))) == 0) {
        if (strcmp(op.status, "InProgress") != 0)
            scc_log_info(&k->c->log, "operation %s %s %s: %s", op.id, op.kind, op.resource_id,
                         op.status);
    } else {
        if (rc > 0 || op.error_code[0] == '\0')
            (void)arm_tx_end(k, SCC_ESTORE);
        else
            (void)arm_tx_end(k, -1);
        step_fail(k, &op, kd, rc);
        scc_log_info(&k->c->log, "operation %s %s %s: Failed %s", op.id, op.kind, op.resource_id,
                     op.error_code);
    }
    k->resp.status = 200; /* internal: nobody waits for an answer */
    ctl_arm_op_fini(&op);
}

/* ---- restart ---- */

struct resume_job {
    struct ctl *c;
    char (*ids)[40];
    size_t n, cap;
    int rc;
};

static int
resume_one(const struct ctl_arm_op *op, void *arg)
{
    struct resume_job *j = arg;
    char(*grown)[40];

    if (j->n == j->cap) {
        size_t ncap = j->cap ? j->cap * 2 : 8;

        if ((grown = scc_realloc(j->ids, ncap * sizeof(*grown))) == NULL)
            return SCC_ENOMEM;
        j->ids = grown;
        j->cap = ncap;
    }
    memcpy(j->ids[j->n++], op->id, 40);
    scc_log_info(&j->c->log, "resuming operation %s (%s on %s) at step %d after a restart", op->id,
                 op->kind, op->resource_id, op->step);
    return 0;
}

static void
resume_list(void *arg)
{
    struct resume_job *j = arg;

    j->rc = ctl_store_arm_op_each_active(j->c->store, resume_one, j);
}

int
arm_lro_resume(struct ctl *c)
{
    struct resume_job j = {.c = c};
    int rc;

    if ((rc = scc_worker_run_sync(c->worker, resume_list, &j)) == 0)
        rc = j.rc;
    for (size_t i = 0; rc == 0 && i < j.n; i++)
        arm_lro_schedule(c->arm, j.ids[i], false);
    scc_free(j.ids);
    return rc;
}

/* ---- status and result endpoints ---- */

static int
op_percent(const struct ctl_arm_op *op)
{
    const struct lro_kind *kd = kind_of(op->kind);

    if (strcmp(op->status, "InProgress") != 0)
        return 100;
    return kd ? op->step * 100 / kd->nsteps : 0;
}

static json_t *
status_body(struct arm_call *k, const struct ctl_arm_op *op)
{
    char start[40], end[40], path[1024];
    json_t *o;

    arm_time(op->start_ms, start);
    snprintf(path, sizeof(path), "/subscriptions/%s/providers/%s/locations/%s/%s/%s", op->sub,
             op->ns, op->location,
             k->t.kind == CTL_ARM_T_OP_STATUS ? "operationStatuses" : "operationResults", op->id);
    o = json_pack("{s:s, s:s, s:s, s:s, s:i}", "id", path, "name", op->id, "status", op->status,
                  "startTime", start, "percentComplete", op_percent(op));
    if (o && op->end_ms) {
        arm_time(op->end_ms, end);
        json_object_set_new(o, "endTime", json_string(end));
    }
    if (o && op->error_code[0])
        json_object_set_new(o, "error",
                            json_pack("{s:s, s:s}", "code", op->error_code, "message",
                                      op->error_message ? op->error_message : op->error_code));
    return o;
}

/* The op of k's URL, or a 404 (an unknown id, or another subscription's). */
static int
op_load(struct arm_call *k, struct ctl_arm_op *op)
{
    int rc = ctl_store_arm_op_get(k->c->store, k->t.op, op);

    if (rc == 0 && strcasecmp(op->sub, k->t.sub) != 0) {
        ctl_arm_op_fini(op);
        rc = SCC_ENOTFOUND;
    }
    if (rc == SCC_ENOTFOUND)
        arm_error(k, 404, "OperationNotFound", "The operation '%.64s' could not be found.",
                  k->t.op);
    else if (rc < 0)
        (void)arm_store_error(k, rc);
    return rc;
}

static void
status_job(struct arm_call *k)
{
    struct ctl_arm_op op;

    if (op_load(k, &op) < 0)
        return;
    arm_reply(k, 200, status_body(k, &op));
    if (strcmp(op.status, "InProgress") == 0 && k->c->cfg->lro_retry_after_s)
        arm_header(k, "Retry-After", "%u", k->c->cfg->lro_retry_after_s);
    ctl_arm_op_fini(&op);
}

static void
result_done(struct arm_call *k, struct ctl_arm_op *op)
{
    struct ctl_arm_row row;
    bool put = strcmp(op->kind, "ws.put") == 0 || strcmp(op->kind, "net.put") == 0;

    if (strcmp(op->status, "Succeeded") != 0) {
        arm_error(k, strcmp(op->error_code, "Conflict") == 0 ? 409 : 400,
                  op->error_code[0] ? op->error_code : "OperationCanceled", "%s",
                  op->error_message ? op->error_message : "The operation did not succeed.");
        return;
    }
    if (put && arm_row_get(k, op->resource_id, &row) == 0) {
        arm_reply_text(k, 200, row.body, strlen(row.body));
        row.body = NULL;
        ctl_arm_row_fini(&row);
        return;
    }
    arm_reply(k, 204, NULL);
}

static void
result_job(struct arm_call *k)
{
    struct ctl_arm_op op;
    char url[1024];

    if (op_load(k, &op) < 0)
        return;
    if (strcmp(op.status, "InProgress") == 0) {
        arm_reply(k, 202, NULL);
        op_url(k, url, sizeof(url), op.sub, op.ns, op.location, "operationResults", op.id);
        arm_header(k, "Location", "%s", url);
        if (k->c->cfg->lro_retry_after_s)
            arm_header(k, "Retry-After", "%u", k->c->cfg->lro_retry_after_s);
    } else {
        result_done(k, &op);
    }
    ctl_arm_op_fini(&op);
}

static bool
get_only(struct arm_call *k)
{
    if (strcmp(k->method, "GET") == 0)
        return true;
    arm_error(k, 405, "MethodNotAllowed", "Operations are read with GET.");
    arm_finish(k);
    return false;
}

void
arm_op_status(struct arm_call *k)
{
    if (get_only(k))
        arm_submit(k, status_job);
}

void
arm_op_result(struct arm_call *k)
{
    if (get_only(k))
        arm_submit(k, result_job);
}

bool
arm_op_busy(struct arm_call *k, const char *res_id)
{
    char op_id[40];

    if (ctl_store_arm_op_active_for(k->c->store, res_id, op_id, sizeof(op_id)) != 0)
        return false;
    arm_error(k, 409, "AnotherOperationInProgress",
              "Another operation (%s) is in progress on '%.300s'; retry when it has finished.",
              op_id, res_id);
    return true;
}
