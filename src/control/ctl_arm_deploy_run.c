/*
 * ctl_arm_deploy_run.c - running a deployment.
 *
 * A run is a state machine on the loop, one per deployment.  Each resource
 * instance goes
 *
 *   WAIT --(every dependency Succeeded or skipped)--> BUSY: EVAL on the
 *   worker (its body; reference() reads the store) -> PUT through
 *   ctl_arm_request with the deployer's principal, so it meets exactly the
 *   checks, scopes, deny assignments and provider code of a direct PUT
 *   (an existing workspace is updated in place) -> following the
 *   resource's own operation the way an SDK client does -> OK or FAIL
 *
 * or SKIP when its condition is false.  Independent resources run side by
 * side (at most RUN_PARALLEL at once); a resource whose dependency failed
 * never starts.  When nothing is left to run, the outputs are evaluated
 * and the deployment ends Succeeded, or Failed with ARM's DeploymentFailed
 * naming each failed resource and why.
 *
 * Durability: every outcome is written to the deployment's rows (ctl_store
 * _deploy.h), together with the URL of each resource operation being
 * followed.  After a kill -9 the run is rebuilt from them: finished
 * resources stay finished, a followed operation is followed again, and a
 * resource whose PUT may or may not have happened is PUT again -- a PUT
 * is idempotent in ARM, and while the resource's own (resumed) operation
 * still runs the PUT gets 409 AnotherOperationInProgress and is retried.
 *
 * Threads: everything here runs on the loop except the *_work functions,
 * which run on the worker and are the only users of r->t.
 */
#include "ctl_arm_deploy.h"

#include "ctl_store_deploy.h"

#include "common/err.h"
#include "common/json.h"
#include "common/mem.h"
#include "common/time.h"

#include <ctype.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define RUN_PARALLEL 16   /* resources in flight at once in one deployment */
#define RETRY_MAX    3000 /* polls of waiting for a resource's own operation after a restart */

enum res_state { RS_WAIT, RS_BUSY, RS_OK, RS_SKIP, RS_FAIL };
enum res_next { NX_NONE, NX_EVAL, NX_PUT, NX_POLL };
enum poll_mode { PM_STATUS, PM_LOCATION, PM_BODY };

/* Stored with the operation's URL, so a restart follows it the same way. */
static const char *const poll_prefix[] = {"status:", "location:", "resource:"};

struct dep_res {
    struct dep_run *run;
    size_t idx;
    enum res_state state;
    enum res_next next; /* what the next tick does, while waiting */
    bool waiting;
    bool resumed; /* the PUT may have happened before a restart */
    char *type, *name, *id;
    size_t *deps;
    size_t ndeps;
    char op_id[40];
    json_t *op; /* its DeploymentOperation */
    char *path; /* the PUT path, percent-encoded */
    char *body; /* the PUT body, kept for a retry; may hold secure values: memory only */
    char *poll; /* path?query of the operation being followed */
    enum poll_mode mode;
    char api[64];
    int64_t start_ms;
    unsigned retries;
};

struct job;

struct dep_run {
    struct dep_run *next;
    struct ctl *c;
    char id[CTL_ARM_ID_MAX];
    char op_id[40];
    char host[256];
    struct ctl_principal who;
    struct ctl_tmpl *t; /* worker jobs only */
    json_t *doc;        /* the deployment's document */
    struct dep_res *res;
    size_t n;
    int64_t start_ms;
    unsigned busy;      /* callbacks still to come: jobs and calls */
    struct event *tick; /* polls and retries */
    struct job *retry;  /* saves to submit again at the next tick */
    bool outputs_again; /* the outputs job to submit again */
    bool canceled;      /* start nothing more */
    bool gone;          /* the row is no longer ours: replaced, canceled or deleted */
    bool done;
};

/* The runs of this process's ARM layer; loop thread only.  One ARM layer
 * per process, so a list here is simpler than a field in struct ctl_arm. */
static struct dep_run *runs;

static void advance(struct dep_run *r);
static void res_put(struct dep_res *s);
static void start_eval(struct dep_res *s);
static void start_outputs(struct dep_run *r);

/* ---- life ---- */

static void
res_fini(struct dep_res *s)
{
    scc_free(s->type);
    scc_free(s->name);
    scc_free(s->id);
    scc_free(s->deps);
    scc_free(s->path);
    scc_free(s->body);
    scc_free(s->poll);
    json_decref(s->op);
}

struct job {
    struct dep_run *r;
    struct dep_res *s;
    void (*work)(struct job *j, struct arm_call *k); /* worker */
    void (*done)(struct job *j, int status);         /* loop */
    json_t *out;
    struct ctl_tmpl_error err;
    int rc;
    char *doc_text; /* a save: the deployment's new document and state, or NULL */
    char state[16];
    struct ctl_deploy_op_row op; /* a save: an operation row, when has_op */
    bool has_op;
    bool gone;
    struct job *next;
};

static void
job_free(struct job *j)
{
    if (j == NULL)
        return;
    json_decref(j->out);
    scc_free(j->doc_text);
    ctl_deploy_op_row_fini(&j->op);
    scc_free(j);
}

void
dep_run_free(struct dep_run *r)
{
    struct job *j;

    if (r == NULL)
        return;
    for (size_t i = 0; r->res != NULL && i < r->n; i++)
        res_fini(&r->res[i]);
    while ((j = r->retry) != NULL) {
        r->retry = j->next;
        job_free(j);
    }
    if (r->tick)
        event_free(r->tick);
    scc_free(r->res);
    ctl_tmpl_free(r->t);
    json_decref(r->doc);
    scc_free(r);
}

static bool
stopping(const struct dep_run *r)
{
    return r->c->arm == NULL || r->c->arm->stopping;
}

static void
unlink_run(struct dep_run *r)
{
    struct dep_run **pp = &runs;

    while (*pp != NULL && *pp != r)
        pp = &(*pp)->next;
    if (*pp == r)
        *pp = r->next;
}

/* Free the run once nothing more can call back into it. */
static void
run_check(struct dep_run *r)
{
    if (r->busy > 0 || r->retry != NULL || !(r->done || r->gone || stopping(r)))
        return;
    if (stopping(r))
        return; /* dep_run_stop_all frees it; the next start resumes it */
    unlink_run(r);
    dep_run_free(r);
}

/* ---- the template side (worker) ---- */

static json_t *
run_reference(void *arg, const char *id, const char *api_version)
{
    struct dep_run *r = arg;
    struct ctl_arm_row row;
    json_t *v;

    (void)api_version;
    if (ctl_store_arm_res_get(r->c->store, id, &row) < 0)
        return NULL;
    v = arm_loads(row.body);
    ctl_arm_row_fini(&row);
    return v;
}

/* The graph as the loop needs it, copied: the loop never touches r->t. */
static int
copy_graph(struct dep_run *r, struct ctl_tmpl_error *err)
{
    struct ctl_tmpl_res_info info;
    size_t *order;
    int rc;

    r->n = ctl_tmpl_resource_count(r->t);
    if ((r->res = scc_calloc(r->n + 1, sizeof(*r->res))) == NULL ||
        (order = scc_calloc(r->n + 1, sizeof(*order))) == NULL)
        return SCC_ENOMEM;
    rc = ctl_tmpl_resource_order(r->t, order, err); /* no cycles: checked again */
    scc_free(order);
    for (size_t i = 0; rc == 0 && i < r->n; i++) {
        struct dep_res *s = &r->res[i];

        s->run = r;
        s->idx = i;
        if ((rc = ctl_tmpl_resource_info(r->t, i, &info, err)) < 0)
            break;
        s->ndeps = info.ndeps;
        if ((s->type = scc_strdup(info.type)) == NULL ||
            (s->name = scc_strdup(info.name)) == NULL || (s->id = scc_strdup(info.id)) == NULL ||
            (s->deps = scc_calloc(info.ndeps + 1, sizeof(*s->deps))) == NULL)
            return SCC_ENOMEM;
        memcpy(s->deps, info.deps, info.ndeps * sizeof(*s->deps));
    }
    return rc;
}

int
dep_run_new(struct ctl *c, const struct dep_run_info *info, const json_t *tmpl,
            const json_t *params, const struct ctl_tmpl_scope *scope, json_t *doc,
            struct dep_run **out, struct ctl_tmpl_error *err)
{
    struct dep_run *r = scc_calloc(1, sizeof(*r));
    struct ctl_tmpl_scope sc = *scope;
    int rc = SCC_ENOMEM;

    *out = NULL;
    memset(err, 0, sizeof(*err));
    if (r == NULL || doc == NULL) {
        json_decref(doc);
        goto out;
    }
    r->c = c;
    r->doc = doc;
    r->who = *info->who;
    r->start_ms = info->start_ms;
    snprintf(r->id, sizeof(r->id), "%s", info->id);
    snprintf(r->op_id, sizeof(r->op_id), "%s", info->op_id);
    snprintf(r->host, sizeof(r->host), "%s", info->host);
    sc.reference = run_reference;
    sc.reference_arg = r;
    if ((rc = ctl_tmpl_load(tmpl, params, &sc, &r->t, err)) < 0 || (rc = copy_graph(r, err)) < 0)
        goto out;
    *out = r;
    r = NULL;
out:
    if (rc == SCC_ENOMEM && err->code[0] == '\0') {
        snprintf(err->code, sizeof(err->code), "InternalServerError");
        snprintf(err->message, sizeof(err->message), "The control plane is out of memory.");
    }
    dep_run_free(r);
    return rc;
}

static int
restore_op(const struct ctl_deploy_op_row *row, void *arg)
{
    struct dep_run *r = arg;
    struct dep_res *s;

    if (row->idx < 0 || (size_t)row->idx >= r->n)
        return 0;
    s = &r->res[row->idx];
    snprintf(s->op_id, sizeof(s->op_id), "%s", row->op_id);
    json_decref(s->op);
    if ((s->op = arm_loads(row->body)) == NULL)
        return SCC_ENOMEM;
    if (strcmp(row->state, "Succeeded") == 0) {
        s->state = RS_OK;
    } else if (strcmp(row->state, "Failed") == 0) {
        s->state = RS_FAIL;
    } else {
        for (int m = PM_STATUS; row->poll != NULL && m <= PM_BODY; m++) {
            size_t n = strlen(poll_prefix[m]);

            if (strncmp(row->poll, poll_prefix[m], n) == 0 &&
                (s->poll = scc_strdup(row->poll + n)) != NULL)
                s->mode = (enum poll_mode)m;
        }
        if (s->poll != NULL) {
            s->start_ms = (int64_t)scc_time_wall_ms();
            s->state = RS_BUSY;
            s->next = NX_POLL;
            s->waiting = true;
        }
    }
    return 0;
}

int
dep_run_restore(struct dep_run *r, struct ctl_store *st)
{
    for (size_t i = 0; i < r->n; i++)
        r->res[i].resumed = true;
    return ctl_store_deploy_op_each(st, r->id, restore_op, r);
}

/* ---- worker jobs ---- */

static void
job_work(struct arm_call *k)
{
    struct job *j = k->ctx;

    j->work(j, k);
    if (!arm_replied(k))
        k->resp.status = 200; /* internal: the status only says whether it ran */
}

static void
job_done(void *arg, const struct ctl_arm_resp *resp)
{
    struct job *j = arg;

    j->r->busy--;
    j->done(j, resp->status);
}

static void
job_submit(struct job *j)
{
    struct dep_run *r = j->r;
    struct arm_call *k = arm_call_new(r->c, &r->who, job_done, j);
    struct ctl_arm_resp busy = {.status = 503};

    r->busy++;
    if (k == NULL) {
        job_done(j, &busy);
        return;
    }
    k->ctx = j;
    arm_submit(k, job_work); /* a refusal answers 503 at once */
}

static struct job *
job_new(struct dep_run *r, struct dep_res *s)
{
    struct job *j = scc_calloc(1, sizeof(*j));

    if (j != NULL) {
        j->r = r;
        j->s = s;
    }
    return j;
}

/* ---- saving outcomes ---- */

static void
save_work(struct job *j, struct arm_call *k)
{
    struct dep_run *r = j->r;
    int rc = 0;

    if (arm_tx_begin(k) < 0)
        return;
    if (j->has_op)
        rc = ctl_store_deploy_op_put(k->c->store, r->id, r->op_id, &j->op);
    if (rc == 0 && j->doc_text != NULL &&
        (rc = ctl_store_deploy_update(k->c->store, r->id, r->op_id, j->state, j->doc_text,
                                      k->now_ms)) == SCC_ENOTFOUND) {
        j->gone = true; /* canceled, replaced or deleted meanwhile */
        rc = 0;
    }
    (void)arm_tx_end(k, rc);
}

static void
schedule_tick(struct dep_run *r)
{
    uint32_t ms = r->c->cfg->lro_delay_ms / 10;
    struct timeval tv;

    ms = ms < 20 ? 20 : ms > 500 ? 500 : ms;
    tv = (struct timeval){ms / 1000, (suseconds_t)(ms % 1000) * 1000};
    if (r->tick != NULL && !evtimer_pending(r->tick, NULL))
        (void)evtimer_add(r->tick, &tv);
}

static void
save_done(struct job *j, int status)
{
    struct dep_run *r = j->r;

    if (status >= 500 && !stopping(r)) {
        j->next = r->retry; /* the store was busy: the outcome must still land */
        r->retry = j;
        schedule_tick(r);
        return;
    }
    if (j->gone && !r->gone) {
        r->gone = true;
        scc_log_info(&r->c->log, "deployment %s: no longer running here (canceled or removed)",
                     r->id);
    }
    job_free(j);
    run_check(r);
}

/* Record s's operation and/or the deployment's document (doc: the run's
 * state goes with it). */
static void
save(struct dep_run *r, struct dep_res *s, bool doc, const char *state)
{
    struct job *j = job_new(r, NULL);

    if (j == NULL || (doc && (j->doc_text = arm_dumps(r->doc, NULL)) == NULL) ||
        (s != NULL && (j->op.body = arm_dumps(s->op, NULL)) == NULL)) {
        scc_log_error(&r->c->log, "deployment %s: out of memory recording progress", r->id);
        job_free(j);
        return;
    }
    j->work = save_work;
    j->done = save_done;
    snprintf(j->state, sizeof(j->state), "%s", state ? state : "Running");
    if (s != NULL) {
        char poll[1100];

        j->has_op = true;
        j->op.idx = (int)s->idx;
        snprintf(j->op.op_id, sizeof(j->op.op_id), "%s", s->op_id);
        snprintf(j->op.state, sizeof(j->op.state), "%s",
                 s->state == RS_OK     ? "Succeeded"
                 : s->state == RS_FAIL ? "Failed"
                                       : "Running");
        if (s->state == RS_BUSY && s->poll != NULL &&
            snprintf(poll, sizeof(poll), "%s%s", poll_prefix[s->mode], s->poll) < (int)sizeof(poll))
            j->op.poll = scc_strdup(poll);
    }
    job_submit(j);
}

/* ---- resource outcomes ---- */

static void
wait_tick(struct dep_res *s, enum res_next next)
{
    s->next = next;
    s->waiting = true;
    schedule_tick(s->run);
}

/* The operation document, for a resource whose evaluation failed too. */
static void
ensure_op(struct dep_res *s, const json_t *inst)
{
    json_t *own = NULL;

    if (s->op != NULL)
        return;
    if (s->op_id[0] == '\0' && ctl_arm_guid(s->op_id) < 0)
        snprintf(s->op_id, sizeof(s->op_id), "%zu", s->idx);
    if (inst == NULL)
        inst = own = json_pack("{s:s, s:s, s:s}", "type", s->type, "name", s->name, "id", s->id);
    s->op = ctl_deploy_op_new(s->run->id, s->op_id, inst, (int64_t)scc_time_wall_ms());
    json_decref(own);
}

static void
res_ok(struct dep_res *s, int status)
{
    struct dep_run *r = s->run;
    json_t *props = json_object_get(r->doc, "properties");

    s->state = RS_OK;
    ensure_op(s, NULL);
    ctl_deploy_op_set(s->op, "Succeeded", status, NULL, s->start_ms, (int64_t)scc_time_wall_ms());
    if (json_object_get(props, "outputResources") == NULL)
        json_object_set_new(props, "outputResources", json_array());
    json_array_append_new(json_object_get(props, "outputResources"),
                          json_pack("{s:s}", "id", s->id));
    save(r, s, !r->canceled, NULL);
    advance(r);
}

/* error: borrowed {"code", "message", ...}; its target becomes s's id. */
static void
res_fail(struct dep_res *s, int status, const json_t *error)
{
    struct dep_run *r = s->run;
    json_t *e = error ? json_deep_copy(error) : NULL;

    s->state = RS_FAIL;
    if (e == NULL)
        e = ctl_deploy_error("ResourceDeploymentFailure",
                             "The resource operation completed with terminal provisioning state "
                             "'Failed'.",
                             NULL);
    if (e != NULL)
        json_object_set_new(e, "target", json_string(s->id));
    ensure_op(s, NULL);
    ctl_deploy_op_set(s->op, "Failed", status, e, s->start_ms, (int64_t)scc_time_wall_ms());
    scc_log_info(&r->c->log, "deployment %s: resource %s Failed (%s)", r->id, s->id,
                 json_string_value(json_object_get(e, "code")));
    json_decref(e);
    save(r, s, false, NULL);
    advance(r);
}

/* ---- following a resource's own operation ---- */

static const char *
header(const struct ctl_arm_resp *resp, const char *name)
{
    for (size_t i = 0; i < resp->nhdrs; i++) {
        if (strcasecmp(resp->hdrs[i].name, name) == 0)
            return resp->hdrs[i].value;
    }
    return NULL;
}

/* path?query of an absolute URL (the authority is ours: we made it). */
static char *
url_path(const char *url)
{
    const char *p = strstr(url, "://");

    if (p != NULL)
        p = strchr(p + 3, '/');
    else if (url[0] == '/')
        p = url;
    return p != NULL ? scc_strdup(p) : NULL;
}

static json_t *
resp_json(const struct ctl_arm_resp *resp)
{
    json_t *v = NULL;

    if (resp->body != NULL)
        (void)scc_json_parse(resp->body, resp->body_len, CTL_ARM_BODY_MAX * 16u, &v, NULL, 0);
    return v;
}

static void
call(struct dep_res *s, const char *method, const char *path_query, const char *body,
     ctl_arm_done_fn cb)
{
    struct dep_run *r = s->run;
    char *copy = scc_strdup(path_query), *q;
    struct ctl_arm_req req = {0};
    struct ctl_arm_resp nomem = {.status = 503};

    r->busy++;
    if (copy == NULL) {
        cb(s, &nomem);
        return;
    }
    if ((q = strchr(copy, '?')) != NULL)
        *q++ = '\0';
    req = (struct ctl_arm_req){.method = method,
                               .path = copy,
                               .query = q,
                               .host = r->host,
                               .body = body,
                               .body_len = body ? strlen(body) : 0,
                               .who = &r->who};
    ctl_arm_request(r->c, &req, cb, s);
    scc_free(copy);
}

static bool
halted(const struct dep_run *r)
{
    return stopping(r) || r->gone;
}

static void
fail_resp(struct dep_res *s, const struct ctl_arm_resp *resp, json_t *body)
{
    json_t *e = json_object_get(body, "error");
    char msg[160];

    if (resp->status == 0 || e == NULL) {
        snprintf(msg, sizeof(msg), "The resource provider answered with HTTP status %d.",
                 resp->status);
        e = ctl_deploy_error("ResourceDeploymentFailure", msg, NULL);
        res_fail(s, resp->status, e);
        json_decref(e);
        return;
    }
    res_fail(s, resp->status, e);
}

static void
set_poll(struct dep_res *s, const char *url, enum poll_mode mode)
{
    scc_free(s->poll);
    s->poll = url_path(url);
    s->mode = mode;
}

static int
status_of(const char *st)
{
    if (st == NULL || strcasecmp(st, "Succeeded") == 0)
        return 0;
    if (strcasecmp(st, "Failed") == 0 || strcasecmp(st, "Canceled") == 0)
        return -1;
    return 1;
}

/* A terminal state ends the resource; any other waits for the next poll. */
static void
poll_state(struct dep_res *s, const char *state, const json_t *body)
{
    int st = status_of(state);

    if (st == 0)
        res_ok(s, 200);
    else if (st < 0)
        res_fail(s, 400, json_object_get(body, "error"));
    else
        wait_tick(s, NX_POLL);
}

static void
on_poll(void *arg, const struct ctl_arm_resp *resp)
{
    struct dep_res *s = arg;
    json_t *body = resp_json(resp), *props;

    s->run->busy--;
    if (halted(s->run)) {
        run_check(s->run);
    } else if (s->mode == PM_STATUS && resp->status == 200) {
        poll_state(s, json_string_value(json_object_get(body, "status")), body);
    } else if (s->mode == PM_LOCATION && resp->status == 202) {
        if (header(resp, "Location") != NULL)
            set_poll(s, header(resp, "Location"), PM_LOCATION);
        wait_tick(s, NX_POLL);
    } else if (s->mode == PM_LOCATION && resp->status >= 200 && resp->status < 300) {
        res_ok(s, resp->status);
    } else if (s->mode == PM_BODY && resp->status == 200) {
        props = json_object_get(body, "properties");
        poll_state(s, json_string_value(json_object_get(props, "provisioningState")), body);
    } else {
        fail_resp(s, resp, body);
    }
    json_decref(body);
}

static void
res_poll(struct dep_res *s)
{
    if (s->poll == NULL) {
        res_fail(s, 500, NULL);
        return;
    }
    call(s, "GET", s->poll, NULL, on_poll);
}

/* After a 2xx to the PUT: follow its operation like an SDK client would
 * (arm-compat.md §2.1): Azure-AsyncOperation, else a 202's Location, else
 * the resource's own provisioningState. */
static void
follow(struct dep_res *s, const struct ctl_arm_resp *resp, const json_t *body)
{
    const char *aso = header(resp, "Azure-AsyncOperation"), *loc = header(resp, "Location");
    const char *ps = json_string_value(
            json_object_get(json_object_get(body, "properties"), "provisioningState"));
    char self[CTL_ARM_ID_MAX + 96];
    int st;

    if (aso != NULL) {
        set_poll(s, aso, PM_STATUS);
    } else if (resp->status == 202 && loc != NULL) {
        set_poll(s, loc, PM_LOCATION);
    } else if ((st = status_of(ps)) <= 0) {
        if (st == 0)
            res_ok(s, resp->status);
        else
            res_fail(s, resp->status, json_object_get(body, "error"));
        return;
    } else {
        snprintf(self, sizeof(self), "%s?api-version=%s", s->path, s->api);
        set_poll(s, self, PM_BODY);
    }
    ctl_deploy_op_set(s->op, "Running", resp->status, NULL, s->start_ms,
                      (int64_t)scc_time_wall_ms());
    save(s->run, s, false, NULL);
    wait_tick(s, NX_POLL);
}

static bool
is_busy_conflict(const struct ctl_arm_resp *resp, const json_t *body)
{
    const char *code = json_string_value(json_object_get(json_object_get(body, "error"), "code"));

    return resp->status == 409 && code != NULL && strcmp(code, "AnotherOperationInProgress") == 0;
}

static void
on_put(void *arg, const struct ctl_arm_resp *resp)
{
    struct dep_res *s = arg;
    json_t *body = resp_json(resp);

    s->run->busy--;
    if (halted(s->run)) {
        run_check(s->run);
    } else if (is_busy_conflict(resp, body) && s->resumed && s->retries++ < RETRY_MAX) {
        /* Our own PUT from before the restart is still running: wait for it. */
        if (s->retries == 1)
            scc_log_info(&s->run->c->log,
                         "deployment %s: %s is busy with its own operation; PUT again when it "
                         "ends",
                         s->run->id, s->id);
        wait_tick(s, NX_PUT);
    } else if (resp->status < 200 || resp->status >= 300) {
        fail_resp(s, resp, body);
    } else {
        follow(s, resp, body);
    }
    json_decref(body);
}

static void
res_put(struct dep_res *s)
{
    char path[CTL_ARM_PATH_MAX + 96];

    if (snprintf(path, sizeof(path), "%s?api-version=%s", s->path, s->api) >= (int)sizeof(path)) {
        res_fail(s, 400, NULL);
        return;
    }
    call(s, "PUT", path, s->body, on_put);
}

/* ---- evaluating a resource ---- */

static void
eval_work(struct job *j, struct arm_call *k)
{
    (void)k;
    j->rc = ctl_tmpl_resource_eval(j->r->t, j->s->idx, &j->out, &j->err);
}

/* Percent-encode what would change a path's meaning; names keep their case. */
static char *
path_encode(const char *id)
{
    size_t n = strlen(id), o = 0;
    char *out = scc_malloc(3 * n + 1);

    for (size_t i = 0; out != NULL && i < n; i++) {
        unsigned char ch = (unsigned char)id[i];

        if (isalnum(ch) || strchr("/-._~()!$&'*+,;=:@", ch) != NULL) {
            out[o++] = (char)ch;
        } else {
            snprintf(out + o, 4, "%%%02X", ch);
            o += 3;
        }
    }
    if (out != NULL)
        out[o] = '\0';
    return out;
}

static int
prepare_put(struct dep_res *s, const json_t *inst)
{
    const char *api = json_string_value(json_object_get(inst, "apiVersion"));

    snprintf(s->api, sizeof(s->api), "%s", api ? api : "");
    scc_free(s->path);
    scc_free(s->body);
    s->path = path_encode(s->id);
    s->body = arm_dumps(json_object_get(inst, "body"), NULL);
    json_decref(s->op);
    s->op = NULL;
    if (ctl_arm_guid(s->op_id) < 0)
        return SCC_ENOMEM;
    ensure_op(s, inst);
    return s->path != NULL && s->body != NULL && s->op != NULL ? 0 : SCC_ENOMEM;
}

static void
eval_done(struct job *j, int status)
{
    struct dep_res *s = j->s;
    struct dep_run *r = j->r;
    json_t *e;

    if (halted(r)) {
        run_check(r);
    } else if (r->canceled) {
        s->state = RS_WAIT; /* nothing new reaches a provider after a cancel */
        advance(r);
    } else if (status >= 500) {
        wait_tick(s, NX_EVAL); /* the worker queue was full: try again */
    } else if (j->rc < 0) {
        e = ctl_deploy_error(j->err.code[0] ? j->err.code : "InvalidTemplate", j->err.message,
                             NULL);
        res_fail(s, 400, e);
        json_decref(e);
    } else if (json_is_false(json_object_get(j->out, "condition"))) {
        s->state = RS_SKIP;
        advance(r);
    } else if (prepare_put(s, j->out) < 0) {
        res_fail(s, 500, NULL);
    } else {
        s->start_ms = (int64_t)scc_time_wall_ms();
        res_put(s);
    }
    job_free(j);
}

static void
start_eval(struct dep_res *s)
{
    struct job *j = job_new(s->run, s);

    s->state = RS_BUSY;
    if (j == NULL) {
        wait_tick(s, NX_EVAL);
        return;
    }
    j->work = eval_work;
    j->done = eval_done;
    job_submit(j);
}

/* ---- the deployment as a whole ---- */

static void
finish(struct dep_run *r, const char *state, const json_t *error)
{
    ctl_deploy_doc_finish(r->doc, state, r->start_ms, (int64_t)scc_time_wall_ms(), error);
    r->done = true;
    scc_log_info(&r->c->log, "deployment %s: %s%s%s", r->id, state, error ? " " : "",
                 error ? json_string_value(json_object_get(error, "code")) : "");
    save(r, NULL, true, state);
    run_check(r);
}

static void
finish_failed(struct dep_run *r)
{
    json_t *details = json_array(), *err;

    for (size_t i = 0; details != NULL && i < r->n; i++) {
        json_t *e = json_object_get(
                json_object_get(json_object_get(r->res[i].op, "properties"), "statusMessage"),
                "error");

        if (r->res[i].state == RS_FAIL && e != NULL)
            json_array_append(details, e);
    }
    err = ctl_deploy_failed(details);
    finish(r, "Failed", err);
    json_decref(err);
    json_decref(details);
}

static void
outputs_work(struct job *j, struct arm_call *k)
{
    (void)k;
    j->rc = ctl_tmpl_outputs_eval(j->r->t, &j->out, &j->err);
}

static void
outputs_done(struct job *j, int status)
{
    struct dep_run *r = j->r;
    json_t *e, *err;

    if (halted(r)) {
        run_check(r);
    } else if (status >= 500) {
        r->outputs_again = true;
        schedule_tick(r);
    } else if (j->rc < 0) {
        e = json_pack("[o*]", ctl_deploy_error(j->err.code[0] ? j->err.code : "InvalidTemplate",
                                               j->err.message, j->err.target));
        err = json_pack("{s:s, s:s, s:o*}", "code", "DeploymentOutputEvaluationFailed", "message",
                        "Unable to evaluate template outputs. Please see error details and "
                        "deployment operations. Please see https://aka.ms/arm-common-errors for "
                        "usage details.",
                        "details", e);
        finish(r, "Failed", err);
        json_decref(err);
    } else {
        if (json_object_size(j->out) > 0)
            json_object_set(json_object_get(r->doc, "properties"), "outputs", j->out);
        finish(r, "Succeeded", NULL);
    }
    job_free(j);
}

static void
start_outputs(struct dep_run *r)
{
    struct job *j = job_new(r, NULL);

    if (j == NULL) {
        r->outputs_again = true;
        schedule_tick(r);
        return;
    }
    j->work = outputs_work;
    j->done = outputs_done;
    job_submit(j);
}

static bool
deps_ok(const struct dep_run *r, const struct dep_res *s)
{
    for (size_t j = 0; j < s->ndeps; j++) {
        enum res_state st = r->res[s->deps[j]].state;

        if (st != RS_OK && st != RS_SKIP)
            return false;
    }
    return true;
}

static void
advance(struct dep_run *r)
{
    size_t busy = 0, failed = 0;

    if (halted(r) || r->done) {
        run_check(r);
        return;
    }
    for (size_t i = 0; i < r->n; i++) {
        busy += r->res[i].state == RS_BUSY;
        failed += r->res[i].state == RS_FAIL;
    }
    for (size_t i = 0; !r->canceled && i < r->n && busy < RUN_PARALLEL; i++) {
        if (r->res[i].state == RS_WAIT && deps_ok(r, &r->res[i])) {
            busy++;
            start_eval(&r->res[i]);
        }
    }
    if (busy > 0 || r->done)
        return;
    if (r->canceled) {
        r->done = true; /* the cancel itself recorded the state */
        run_check(r);
    } else if (failed > 0) {
        finish_failed(r); /* what failed, and what never started because of it */
    } else if (!r->outputs_again) {
        start_outputs(r);
    }
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct dep_run *r = arg;
    struct job *j, *retry = r->retry;

    (void)fd, (void)what;
    if (halted(r) && !r->retry) {
        run_check(r);
        return;
    }
    r->busy++; /* held: an answer given at once must not free r under this loop */
    r->retry = NULL;
    while ((j = retry) != NULL) {
        retry = j->next;
        job_submit(j);
    }
    for (size_t i = 0; !halted(r) && i < r->n; i++) {
        struct dep_res *s = &r->res[i];

        if (!s->waiting)
            continue;
        s->waiting = false;
        if (s->next == NX_EVAL && r->canceled)
            s->state = RS_WAIT;
        else if (s->next == NX_POLL)
            res_poll(s);
        else if (s->next == NX_PUT)
            res_put(s);
        else if (s->next == NX_EVAL)
            start_eval(s);
    }
    if (r->outputs_again && !halted(r)) {
        r->outputs_again = false;
        start_outputs(r);
    }
    r->busy--;
    if (r->canceled)
        advance(r);
    else
        run_check(r);
}

void
dep_run_start(struct dep_run *r)
{
    json_t *props = json_object_get(r->doc, "properties");
    bool waiting = false;

    r->next = runs;
    runs = r;
    if ((r->tick = evtimer_new(r->c->base, on_tick, r)) == NULL) {
        scc_log_error(&r->c->log, "deployment %s: cannot create a timer; it resumes at restart",
                      r->id);
        r->gone = true;
        run_check(r);
        return;
    }
    scc_log_info(&r->c->log, "deployment %s: running %zu resources", r->id, r->n);
    json_object_set_new(props, "provisioningState", json_string("Running"));
    save(r, NULL, true, "Running");
    for (size_t i = 0; i < r->n; i++)
        waiting |= r->res[i].waiting;
    if (waiting)
        schedule_tick(r);
    advance(r);
}

bool
dep_run_cancel(struct ctl *c, const char *id)
{
    for (struct dep_run *r = runs; r != NULL; r = r->next) {
        if (strcasecmp(r->id, id) == 0 && !r->done && !r->canceled) {
            r->canceled = true;
            scc_log_info(&c->log, "deployment %s: canceled", r->id);
            advance(r);
            return true;
        }
    }
    return false;
}

void
dep_run_stop_all(struct ctl *c)
{
    struct dep_run *r;

    (void)c;
    while ((r = runs) != NULL) {
        runs = r->next;
        dep_run_free(r);
    }
}
