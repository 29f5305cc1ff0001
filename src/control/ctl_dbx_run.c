/*
 * ctl_dbx_run.c - one-time runs (databricks-compat.md §7): runs/submit,
 * get, get-output, cancel, list.
 *
 * A task runs as a process on its cluster's driver: the agent's run API
 * (POST /v1/runs with an id of ours, so a retried start is the same run),
 * reached through the driver's tunnel.  The tick moves each task along:
 *
 *   PENDING   upstream tasks done?  the cluster RUNNING (a TERMINATED one
 *             is started once)?  then start it on the driver
 *   RUNNING   poll the agent; on a cancel or the timeout, cancel there;
 *             when it has ended, keep the last DBX_LOGS_MAX bytes of its
 *             output in the store (the node may go with its cluster),
 *             then TERMINATED with SUCCESS, FAILED, CANCELED or TIMEDOUT
 *
 * The run stays RUNNING through a dropped tunnel (the process goes on and
 * its output is spooled on the node); only a driver away for --cluster-node-grace
 * ends it, INTERNAL_ERROR with DRIVER_ERROR.
 */
#include "ctl_dbx_int.h"

#include "common/buf.h"
#include "common/encode.h"
#include "common/err.h"
#include "common/json.h"
#include "common/mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TASKS_MAX   100
#define POLL_MIN_MS 50
#define POLL_MAX_MS 1000
#define RUN_ID_BASE 100000000000000ll /* Databricks' run ids are about 1e15, below 2^53 */
#define RUN_ID_SPAN 8000000000000000ll

static const char *
life(const json_t *task)
{
    const char *s = dbx_str(json_object_get(task, "state"), "life_cycle_state");

    return s ? s : "PENDING";
}

static bool
terminal(const json_t *task)
{
    const char *s = life(task);

    return strcmp(s, "TERMINATED") == 0 || strcmp(s, "SKIPPED") == 0 ||
           strcmp(s, "INTERNAL_ERROR") == 0;
}

/* The private part of a task: priv.tasks[task_key]. */
static json_t *
tpriv(json_t *run, const json_t *task)
{
    json_t *all = json_object_get(dbx_priv(run), "tasks");
    const char *key = dbx_str(task, "task_key");
    json_t *t;

    if (all == NULL) {
        all = json_object();
        json_object_set_new(dbx_priv(run), "tasks", all);
    }
    if ((t = json_object_get(all, key)) == NULL) {
        t = json_object();
        json_object_set_new(all, key, t);
    }
    return t;
}

static void
set_task_state(json_t *task, const char *lcs, const char *result, const char *msg)
{
    json_object_set_new(task, "state",
                        json_pack("{s:s, s:s, s:b}", "life_cycle_state", lcs, "state_message",
                                  msg ? msg : "", "user_cancelled_or_timedout",
                                  result && (strcmp(result, "CANCELED") == 0 ||
                                             strcmp(result, "TIMEDOUT") == 0)));
    if (result)
        json_object_set_new(json_object_get(task, "state"), "result_state", json_string(result));
}

/* The 2.2 "status" object that goes with a state. */
static json_t *
status_of(const char *lcs, const char *result, const char *msg)
{
    static const struct {
        const char *result, *code, *type;
    } map[] = {{"SUCCESS", "SUCCESS", "SUCCESS"},
               {"FAILED", "RUN_EXECUTION_ERROR", "CLIENT_ERROR"},
               {"CANCELED", "USER_CANCELED", "SUCCESS"},
               {"TIMEDOUT", "RUN_EXECUTION_ERROR", "CLIENT_ERROR"},
               {"UPSTREAM_FAILED", "RUN_EXECUTION_ERROR", "CLIENT_ERROR"},
               {"MAXIMUM_CONCURRENT_RUNS_REACHED", "MAX_CONCURRENT_RUNS_EXCEEDED", "CLIENT_ERROR"},
               {"INTERNAL", "DRIVER_ERROR", "INTERNAL_ERROR"}};
    const char *st =
            strcmp(lcs, "INTERNAL_ERROR") == 0 || strcmp(lcs, "SKIPPED") == 0 ? "TERMINATED" : lcs;
    json_t *o = json_pack("{s:s}", "state", st);

    if (strcmp(st, "TERMINATED") != 0)
        return o;
    for (size_t i = 0; i < DBX_NELEM(map); i++) {
        if (strcmp(map[i].result, strcmp(lcs, "INTERNAL_ERROR") == 0 ? "INTERNAL"
                                  : result                           ? result
                                                                     : "FAILED") == 0) {
            json_object_set_new(o, "termination_details",
                                json_pack("{s:s, s:s, s:s}", "code", map[i].code, "type",
                                          map[i].type, "message", msg ? msg : ""));
            break;
        }
    }
    return o;
}

/* A task ends: its state, times, and (failures) its error. */
static void
task_end(json_t *run, json_t *task, const char *lcs, const char *result, const char *msg)
{
    int64_t now = dbx_now(), start = json_integer_value(json_object_get(task, "start_time"));

    set_task_state(task, lcs, result, msg);
    json_object_set_new(task, "status", status_of(lcs, result, msg));
    json_object_set_new(task, "end_time", json_integer(now));
    json_object_set_new(task, "execution_duration", json_integer(start ? now - start : 0));
    json_object_set_new(task, "run_duration", json_integer(start ? now - start : 0));
    if (msg && result && strcmp(result, "SUCCESS") != 0)
        json_object_set_new(tpriv(run, task), "error", json_string(msg));
}

#define QUEUED_MSG "Queued: the job has as many active runs as its max_concurrent_runs"

/* The run's state from its tasks' (QUEUED while it waits for room). */
static void
run_state(json_t *run)
{
    const char *lcs = "TERMINATED", *result = "SUCCESS", *msg = "";
    bool any_running = false, all_done = true;
    size_t i;
    json_t *t;

    if (json_is_true(json_object_get(dbx_priv(run), "queued"))) {
        set_task_state(run, "QUEUED", NULL, QUEUED_MSG);
        json_object_set_new(run, "status",
                            json_pack("{s:s, s:{s:s, s:s}}", "state", "QUEUED", "queue_details",
                                      "code", "ACTIVE_RUNS_LIMIT_REACHED", "message", QUEUED_MSG));
        return;
    }
    json_array_foreach(json_object_get(run, "tasks"), i, t)
    {
        const char *r = dbx_str(json_object_get(t, "state"), "result_state");

        any_running |= strcmp(life(t), "RUNNING") == 0 || strcmp(life(t), "TERMINATING") == 0;
        if (!terminal(t)) {
            all_done = false;
            continue;
        }
        if (strcmp(life(t), "INTERNAL_ERROR") == 0) {
            lcs = "INTERNAL_ERROR", result = "FAILED";
            msg = dbx_str(json_object_get(t, "state"), "state_message");
        } else if (r && strcmp(r, "SUCCESS") != 0 && strcmp(result, "SUCCESS") == 0) {
            result = r;
            msg = dbx_str(json_object_get(t, "state"), "state_message");
        }
    }
    if (!all_done) {
        lcs = any_running ? "RUNNING" : "PENDING";
        set_task_state(run, lcs, NULL, any_running ? "" : "Waiting for cluster");
        json_object_set_new(run, "status", status_of(lcs, NULL, NULL));
        return;
    }
    if (strcmp(result, "UPSTREAM_FAILED") == 0)
        result = "FAILED";
    if (strcmp(result, "MAXIMUM_CONCURRENT_RUNS_REACHED") == 0)
        lcs = "SKIPPED";
    set_task_state(run, lcs, result, msg);
    json_object_set_new(run, "status", status_of(lcs, result, msg));
    if (json_integer_value(json_object_get(run, "end_time")) == 0) {
        int64_t now = dbx_now();

        json_object_set_new(run, "end_time", json_integer(now));
        json_object_set_new(
                run, "run_duration",
                json_integer(now - json_integer_value(json_object_get(run, "start_time"))));
    }
}

/* ---- calls to the driver ---- */

struct tctx {
    char ws[24], run[24], key[104];
    struct dbx_req *q;  /* get-output of a running task: answer it */
    struct scc_buf out; /* stdout, then stderr */
    int64_t sizes[2];
    bool truncated, exited;
    bool unknown; /* the driver has no such run (its state was lost) */
    int exit_code, sig;
    bool cancelled;
    int step; /* 0 status, 1 stdout, 2 stderr */
};

static struct tctx *
tctx_new(const char *ws, const json_t *run, const json_t *task)
{
    struct tctx *x = scc_calloc(1, sizeof(*x));

    if (x == NULL)
        return NULL;
    snprintf(x->ws, sizeof(x->ws), "%s", ws);
    snprintf(x->run, sizeof(x->run), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(run, "run_id")));
    snprintf(x->key, sizeof(x->key), "%s", dbx_str(task, "task_key"));
    scc_buf_init(&x->out, DBX_LOGS_MAX + 1);
    return x;
}

static void
tctx_free(struct tctx *x)
{
    scc_buf_fini(&x->out);
    scc_free(x);
}

/* The run and task of x, and the task's private part; false if gone. */
static bool
tctx_find(struct dbx *d, struct tctx *x, json_t **run, json_t **task)
{
    size_t i;
    json_t *t;

    if ((*run = dbx_get(d, x->ws, DBX_RUN, x->run)) == NULL)
        return false;
    json_array_foreach(json_object_get(*run, "tasks"), i, t)
    {
        if (strcmp(dbx_str(t, "task_key"), x->key) == 0) {
            *task = t;
            return true;
        }
    }
    return false;
}

/* The cluster a task runs on: its job cluster, or existing_cluster_id. */
static const char *
task_cluster(json_t *run, json_t *task)
{
    const char *jc = dbx_str(tpriv(run, task), "cluster");

    return jc ? jc : dbx_str(task, "existing_cluster_id");
}

static const char *
agent_id(json_t *run, json_t *task)
{
    return dbx_str(tpriv(run, task), "agent_id");
}

static json_t *
logs_doc(struct tctx *x)
{
    return json_pack("{s:o, s:b}", "logs", ctl_dbx_text((const char *)x->out.data, x->out.len),
                     "logs_truncated", x->truncated);
}

static void collect_next(struct dbx *d, struct tctx *x, const char *node);
static void collected(struct dbx *d, struct tctx *x, bool ok);

static void
on_collect(struct dbx *d, void *ctx, int status, const char *body, size_t len)
{
    struct tctx *x = ctx;
    json_t *run, *task, *o;

    if (status != 200 || d->stopping || !tctx_find(d, x, &run, &task)) {
        x->unknown = x->step == 0 && status == 404;
        collected(d, x, false);
        return;
    }
    if (x->step == 0) {
        if ((o = json_loadb(body, len, 0, NULL)) == NULL) {
            collected(d, x, false);
            return;
        }
        x->sizes[0] = json_integer_value(json_object_get(o, "stdout_bytes"));
        x->sizes[1] = json_integer_value(json_object_get(o, "stderr_bytes"));
        x->exited = dbx_str(o, "state") && strcmp(dbx_str(o, "state"), "running") != 0;
        x->exit_code = (int)json_integer_value(json_object_get(o, "exit_code"));
        x->sig = (int)json_integer_value(json_object_get(o, "signal"));
        x->cancelled = json_is_true(json_object_get(o, "cancelled"));
        x->truncated = json_is_true(json_object_get(o, "truncated"));
        json_decref(o);
        /* Polling a running task needs no output. */
        if (x->q == NULL && !x->exited) {
            collected(d, x, true);
            return;
        }
    } else if (scc_buf_put(&x->out, body, len) < 0) {
        collected(d, x, false);
        return;
    }
    if (++x->step == 3) {
        collected(d, x, true);
        return;
    }
    collect_next(d, x, dbx_str(tpriv(run, task), "node"));
}

/* Status, then the tails of stdout and stderr within DBX_LOGS_MAX. */
static void
collect_next(struct dbx *d, struct tctx *x, const char *node)
{
    json_t *run, *task;
    char path[256];
    int which = x->step - 1;
    int64_t room = (int64_t)DBX_LOGS_MAX - (int64_t)x->out.len;
    int64_t off = x->step == 0 ? 0 : x->sizes[which] > room ? x->sizes[which] - room : 0;

    if (!tctx_find(d, x, &run, &task) || node == NULL) {
        collected(d, x, false);
        return;
    }
    if (x->step == 0)
        snprintf(path, sizeof(path), "/v1/runs/%s", agent_id(run, task));
    else
        snprintf(path, sizeof(path), "/v1/runs/%s/output?stream=%s&offset=%" PRId64 "&follow=0",
                 agent_id(run, task), which ? "stderr" : "stdout", off);
    x->truncated |= off > 0;
    if (!dbx_node(d, node, "GET", path, NULL, DBX_LOGS_MAX + 4096, on_collect, x))
        collected(d, x, false);
}

static void reply_output(struct dbx *d, struct tctx *x, json_t *run, json_t *task, json_t *logs);

/* The end of a poll or a collection (ok: x says what the agent said). */
static void
collected(struct dbx *d, struct tctx *x, bool ok)
{
    json_t *run = NULL, *task = NULL, *tp, *logs;
    char msg[128];
    bool found = !d->stopping && tctx_find(d, x, &run, &task);

    if (x->q) { /* a get-output: answer with what there is */
        reply_output(d, x, found ? run : NULL, found ? task : NULL, ok ? logs_doc(x) : NULL);
        tctx_free(x);
        return;
    }
    if (!found) {
        tctx_free(x);
        return;
    }
    tp = tpriv(run, task);
    json_object_del(tp, "busy");
    if (x->unknown && !terminal(task)) {
        task_end(run, task, "INTERNAL_ERROR", NULL,
                 "The driver has no record of the task: its node lost its state");
        run_state(run);
        dbx_save(d, x->ws, DBX_RUN, x->run);
    } else if (ok && x->exited && !terminal(task)) {
        bool timed = json_is_true(json_object_get(tp, "timed_out"));
        bool cancel = x->cancelled || json_is_true(json_object_get(tp, "cancel"));

        if (x->exit_code == 0 && x->sig == 0 && !cancel)
            msg[0] = '\0';
        else if (x->sig)
            snprintf(msg, sizeof(msg), "the task was killed by signal %d", x->sig);
        else
            snprintf(msg, sizeof(msg), "the task exited with code %d", x->exit_code);
        logs = logs_doc(x);
        dbx_store_put(d, x->ws, DBX_LOG, dbx_str(tp, "task_run"),
                      logs ? scc_json_dumps(logs) : NULL);
        json_decref(logs);
        task_end(run, task, "TERMINATED",
                 timed    ? "TIMEDOUT"
                 : cancel ? "CANCELED"
                 : msg[0] ? "FAILED"
                          : "SUCCESS",
                 msg);
        run_state(run);
        dbx_save(d, x->ws, DBX_RUN, x->run);
    }
    tctx_free(x);
}

static void
started(struct dbx *d, void *ctx, int status, const char *body, size_t len)
{
    struct tctx *x = ctx;
    json_t *run, *task, *o;
    char msg[600];

    if (d->stopping || !tctx_find(d, x, &run, &task))
        goto out;
    json_object_del(tpriv(run, task), "busy");
    if (status == 200 || status == 201) {
        int64_t now = dbx_now();

        set_task_state(task, "RUNNING", NULL, "In run");
        json_object_set_new(task, "status", status_of("RUNNING", NULL, NULL));
        json_object_set_new(task, "start_time", json_integer(now));
        json_object_set_new(
                task, "setup_duration",
                json_integer(now - json_integer_value(json_object_get(run, "start_time"))));
    } else if (status >= 400 && status < 500) { /* the node refused the command */
        o = json_loadb(body, len, 0, NULL);
        snprintf(msg, sizeof(msg), "the driver could not start the task: %s",
                 dbx_str(json_object_get(o, "error"), "message")
                         ? dbx_str(json_object_get(o, "error"), "message")
                         : "no reason given");
        json_decref(o);
        task_end(run, task, "TERMINATED", "FAILED", msg);
    } else
        goto out; /* no answer: the next tick asks again, with the same id */
    run_state(run);
    dbx_save(d, x->ws, DBX_RUN, x->run);
out:
    tctx_free(x);
}

static void
cancelled_on_node(struct dbx *d, void *ctx, int status, const char *body, size_t len)
{
    struct tctx *x = ctx;
    json_t *run, *task;

    (void)body, (void)len;
    if (!d->stopping && tctx_find(d, x, &run, &task)) {
        json_object_del(tpriv(run, task), "busy");
        if (status == 202 || status == 200)
            json_object_set_new(tpriv(run, task), "cancel_sent", json_true());
    }
    tctx_free(x);
}

/* ---- the tick ---- */

static bool
upstream(json_t *run, json_t *task, bool *failed)
{
    size_t i, j;
    json_t *dep, *t;

    *failed = false;
    json_array_foreach(json_object_get(task, "depends_on"), i, dep)
    {
        json_array_foreach(json_object_get(run, "tasks"), j, t)
        {
            const char *r = dbx_str(json_object_get(t, "state"), "result_state");

            if (strcmp(dbx_str(t, "task_key"), dbx_str(dep, "task_key")) != 0)
                continue;
            if (!terminal(t))
                return false;
            *failed |= r == NULL || strcmp(r, "SUCCESS") != 0;
        }
    }
    return true;
}

static void
start_task(struct dbx *d, const char *ws, json_t *run, json_t *task, const char *driver)
{
    json_t *tp = tpriv(run, task);
    struct tctx *x = tctx_new(ws, run, task);
    json_t *spec = json_pack("{s:s, s:O, s:{s:O, s:s}}", "id", agent_id(run, task), "command",
                             json_object_get(tp, "argv"), "env", "DATABRICKS_RUN_ID",
                             json_object_get(run, "run_id"), "DATABRICKS_CLUSTER_ID",
                             task_cluster(run, task));
    char *body = NULL;

    /* The run id in the environment as text. */
    if (spec)
        json_object_set_new(json_object_get(spec, "env"), "DATABRICKS_RUN_ID",
                            json_sprintf("%" JSON_INTEGER_FORMAT,
                                         json_integer_value(json_object_get(run, "run_id"))));
    body = spec ? scc_json_dumps(spec) : NULL;
    json_decref(spec);
    json_object_set_new(tp, "node", json_string(driver));
    if (x && body && dbx_node(d, driver, "POST", "/v1/runs", body, 1u << 16, started, x))
        json_object_set_new(tp, "busy", json_true());
    else if (x)
        tctx_free(x);
    scc_free(body);
}

static void
tick_pending(struct dbx *d, const char *ws, json_t *run, json_t *task)
{
    const char *cid = task_cluster(run, task), *driver;
    json_t *cl = cid ? dbx_get(d, ws, DBX_CLUSTER, cid) : NULL, *tp = tpriv(run, task);
    const char *cst = cl ? dbx_str(cl, "state") : NULL;
    char msg[700];
    bool failed;

    if (json_is_true(json_object_get(tp, "cancel"))) {
        task_end(run, task, "TERMINATED", "CANCELED", "The run was cancelled before it started");
    } else if (!upstream(run, task, &failed)) {
        return;
    } else if (failed) {
        task_end(run, task, "TERMINATED", "UPSTREAM_FAILED", "An upstream task did not succeed");
    } else if (cl == NULL || json_object_get(dbx_priv(cl), "permanent")) {
        snprintf(msg, sizeof(msg), "Cluster %s does not exist", cid ? cid : "");
        task_end(run, task, "INTERNAL_ERROR", NULL, msg);
    } else if ((driver = dbx_cluster_driver(cl)) != NULL) {
        start_task(d, ws, run, task, driver);
        return;
    } else if (strcmp(cst, "TERMINATED") == 0 && !json_is_true(json_object_get(tp, "woke")) &&
               dbx_str(tp, "cluster") == NULL) { /* a job cluster that ended is not restarted */
        json_object_set_new(tp, "woke", json_true());
        dbx_cluster_wake(d, ws, cid, cl, dbx_str(run, "creator_user_name"));
        set_task_state(task, "PENDING", NULL, "Waiting for cluster");
        return;
    } else if (strcmp(cst, "TERMINATED") == 0) {
        snprintf(msg, sizeof(msg), "Cluster %s terminated: %s %s", cid,
                 dbx_str(json_object_get(cl, "termination_reason"), "code"),
                 dbx_str(cl, "state_message") ? dbx_str(cl, "state_message") : "");
        task_end(run, task, "INTERNAL_ERROR", NULL, msg);
    } else {
        return; /* the cluster is on its way */
    }
    run_state(run);
    dbx_save(d, ws, DBX_RUN, dbx_str(dbx_priv(run), "id"));
}

/* Is it time to ask the driver about a running task?  Soon after it
 * started (a short task is seen ending within ~100 ms), then less and less
 * often, up to once a second (a long task costs one small call a second). */
static bool
poll_due(json_t *tp, int64_t now)
{
    json_int_t gap = json_integer_value(json_object_get(tp, "poll_gap"));

    if (now < json_integer_value(json_object_get(tp, "next_poll")))
        return false;
    gap = gap ? (gap * 2 < POLL_MAX_MS ? gap * 2 : POLL_MAX_MS) : POLL_MIN_MS;
    json_object_set_new(tp, "poll_gap", json_integer(gap));
    json_object_set_new(tp, "next_poll", json_integer(now + gap));
    return true;
}

static void
tick_running(struct dbx *d, const char *ws, json_t *run, json_t *task)
{
    json_t *tp = tpriv(run, task), *lost = json_object_get(tp, "lost_since");
    const char *node = dbx_str(tp, "node"), *cid = task_cluster(run, task);
    json_t *cl = dbx_get(d, ws, DBX_CLUSTER, cid);
    int64_t now = dbx_now(), deadline = json_integer_value(json_object_get(tp, "deadline"));
    struct tctx *x;
    char path[160], msg[600];
    bool cancel;

    if (dbx_cluster_driver(cl) == NULL) { /* terminated under the task, or gone */
        const char *why = dbx_str(json_object_get(cl, "termination_reason"), "code");

        snprintf(msg, sizeof(msg), "Cluster %s was terminated during the run%s%.100s", cid,
                 why ? ": " : "", why ? why : "");
        task_end(run, task, "INTERNAL_ERROR", NULL, msg);
        run_state(run);
        dbx_save(d, ws, DBX_RUN, dbx_str(dbx_priv(run), "id"));
        return;
    }
    dbx_cluster_touch(cl); /* activity: no autotermination */
    if (!dbx_node_connected(d, node)) {
        if (lost == NULL)
            json_object_set_new(tp, "lost_since", json_integer(now));
        else if (now - json_integer_value(lost) > DBX_LOST_S(d) * 1000) {
            snprintf(msg, sizeof(msg), "Could not reach driver of cluster %s", cid);
            task_end(run, task, "INTERNAL_ERROR", NULL, msg);
            run_state(run);
            dbx_save(d, ws, DBX_RUN, dbx_str(dbx_priv(run), "id"));
        }
        return;
    }
    json_object_del(tp, "lost_since");
    if (deadline && now > deadline && !json_is_true(json_object_get(tp, "timed_out"))) {
        json_object_set_new(tp, "timed_out", json_true());
        json_object_set_new(tp, "cancel", json_true());
    }
    cancel = json_is_true(json_object_get(tp, "cancel")) &&
             !json_is_true(json_object_get(tp, "cancel_sent"));
    /* A cancel goes at once; a poll only when due (most ticks cost nothing). */
    if ((!cancel && !poll_due(tp, now)) || (x = tctx_new(ws, run, task)) == NULL)
        return;
    json_object_set_new(tp, "busy", json_true());
    if (!cancel) {
        collect_next(d, x, node);
        return;
    }
    snprintf(path, sizeof(path), "/v1/runs/%s/cancel", agent_id(run, task));
    if (!dbx_node(d, node, "POST", path, NULL, 1u << 16, cancelled_on_node, x)) {
        json_object_del(tp, "busy");
        tctx_free(x);
    }
}

/* Is cluster cid still in use by a task of run that has not ended? */
static bool
cluster_busy(json_t *run, const char *cid)
{
    size_t i;
    json_t *t;
    const char *c;

    json_array_foreach(json_object_get(run, "tasks"), i, t)
    {
        if (!terminal(t) && (c = dbx_str(tpriv(run, t), "cluster")) && strcmp(c, cid) == 0)
            return true;
    }
    return false;
}

/* A job cluster ends with the last of its tasks, whatever their ends. */
static void
end_job_clusters(struct dbx *d, const char *ws, json_t *run)
{
    size_t i, j;
    json_t *t, *tp, *u;
    const char *cid, *c;

    json_array_foreach(json_object_get(run, "tasks"), i, t)
    {
        tp = tpriv(run, t);
        cid = dbx_str(tp, "cluster");
        if (!terminal(t) || cid == NULL || json_is_true(json_object_get(tp, "cluster_ended")) ||
            cluster_busy(run, cid))
            continue;
        dbx_cluster_end(d, ws, cid, "JOB_FINISHED");
        json_array_foreach(json_object_get(run, "tasks"), j, u)
        {
            if ((c = dbx_str(tpriv(run, u), "cluster")) && strcmp(c, cid) == 0)
                json_object_set_new(tpriv(run, u), "cluster_ended", json_true());
        }
        dbx_save(d, ws, DBX_RUN, dbx_str(dbx_priv(run), "id"));
    }
}

static int make_clusters(struct dbx *d, const struct dbx_ws *ws, const char *user, json_t *run,
                         json_t *tasks); /* with the requests, below */

bool
dbx_run_queued(const json_t *run)
{
    return json_is_true(json_object_get(json_object_get(run, DBX_PRIV), "queued"));
}

/* Is run still waiting in its job's queue?  When the job has room (or
 * the run was cancelled, or its job deleted) it leaves the queue: its job
 * clusters are made and its tasks go on as any run's. */
static bool
queued(struct dbx *d, const char *ws, json_t *run)
{
    json_t *priv = dbx_priv(run), *tasks = json_object_get(run, "tasks"), *t, *job;
    bool cancel = false;
    struct dbx_ws w;
    char jid[24];
    size_t i;
    int rc = 0;

    if (!json_is_true(json_object_get(priv, "queued")))
        return false;
    snprintf(jid, sizeof(jid), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(run, "job_id")));
    json_array_foreach(tasks, i, t) cancel =
            cancel || json_is_true(json_object_get(tpriv(run, t), "cancel"));
    job = dbx_get(d, ws, DBX_JOB, jid);
    if (!cancel && job && !dbx_job_has_room(d, ws, job, run))
        return true;
    if (!cancel && job)
        rc = dbx_ws_get(d, ws, &w)
                     ? make_clusters(d, &w, dbx_str(run, "creator_user_name"), run, tasks)
                     : SCC_ENOTFOUND;
    json_array_foreach(tasks, i, t)
    {
        set_task_state(t, "PENDING", NULL, "Waiting for cluster");
        json_object_set_new(t, "status", status_of("PENDING", NULL, NULL));
        if (job == NULL) /* ends CANCELED in the pass that follows */
            json_object_set_new(tpriv(run, t), "cancel", json_true());
        else if (rc < 0)
            task_end(run, t, "INTERNAL_ERROR", NULL,
                     rc == SCC_EBUSY ? "The workspace has as many clusters as it may have"
                                     : "Its job clusters could not be made");
    }
    json_object_del(priv, "queued");
    run_state(run);
    dbx_save(d, ws, DBX_RUN, dbx_str(priv, "id"));
    return false;
}

void
dbx_runs_tick(struct dbx *d, const char *ws, json_t *run)
{
    json_t *priv = dbx_priv(run), *t;
    size_t i;

    /* Most runs have ended: a flag keeps the tick's visit to them at one
     * lookup instead of a walk of their tasks ten times a second. */
    if (json_is_true(json_object_get(priv, "settled")))
        return;
    if (queued(d, ws, run))
        return;
    end_job_clusters(d, ws, run);
    if (terminal(run)) {
        json_object_set_new(priv, "settled", json_true()); /* its job clusters ended too */
        return;
    }
    json_array_foreach(json_object_get(run, "tasks"), i, t)
    {
        const char *lcs = life(t);

        if (json_is_true(json_object_get(tpriv(run, t), "busy")) || terminal(t))
            continue;
        if (strcmp(lcs, "PENDING") == 0)
            tick_pending(d, ws, run, t);
        else
            tick_running(d, ws, run, t);
    }
}

/* ---- requests ---- */

/* Where task key runs: exactly one of existing_cluster_id (a cluster that
 * exists), new_cluster (a spec that could run) and job_cluster_key (one of
 * shared); false after answering 400. */
static bool
task_cluster_ok(struct dbx_req *q, const json_t *t, const char *key, const json_t *shared)
{
    const char *cid = dbx_str(t, "existing_cluster_id"), *jck = dbx_str(t, "job_cluster_key");
    const json_t *nc = json_object_get(t, "new_cluster"),
                 *jv = json_object_get(t, "job_cluster_key");
    char err[400], what[160];

    if (json_is_null(jv))
        jv = NULL;
    snprintf(what, sizeof(what), "Task %s: new_cluster: ", key);
    if (json_object_get(t, "environment_key"))
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE",
                  "Task %s: serverless environments do not run in the workspace's network; give "
                  "existing_cluster_id, new_cluster or job_cluster_key",
                  key);
    else if ((nc != NULL) + (cid != NULL) + (jv != NULL) > 1)
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE",
                  "Task %s: give one of existing_cluster_id, new_cluster and job_cluster_key", key);
    else if (jv && json_object_get(shared, jck ? jck : "") == NULL)
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE",
                  "Task %s: job_cluster_key %.100s is not the key of one of the job_clusters", key,
                  jck ? jck : "(not a string)");
    else if (nc && ctl_dbx_spec_check(nc, err, sizeof(err)) < 0)
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE", "%s%s", what, err);
    else if (nc)
        return dbx_pool_spec_ok(q, nc, what);
    else if (jck == NULL &&
             !dbx_cluster_visible(cid ? dbx_get(q->d, q->ws.id, DBX_CLUSTER, cid) : NULL))
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE", "Cluster %s does not exist",
                  cid ? cid : "(no existing_cluster_id given)");
    else
        return true;
    return false;
}

/* One task of a submit, checked and shaped; NULL after answering 400. */
static json_t *
task_new(struct dbx_req *q, const json_t *t, const json_t *shared, json_t *seen, json_int_t trid,
         json_t **argv)
{
    const char *key = dbx_str(t, "task_key"), *cid = dbx_str(t, "existing_cluster_id");
    json_t *task;
    char err[400];
    static const char *const keep[] = {
            "task_key",          "existing_cluster_id", "new_cluster",     "depends_on",
            "spark_python_task", "scc_command_task",    "timeout_seconds", "run_if",
            "libraries",         "description",         "job_cluster_key"};

    if (!ctl_dbx_task_key_ok(key)) {
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE",
                  "Every task needs a task_key of 1-100 characters of [A-Za-z0-9_.-]");
        return NULL;
    }
    if (json_object_get(seen, key)) {
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE", "Task key %s is used twice", key);
        return NULL;
    }
    if (!task_cluster_ok(q, t, key, shared))
        return NULL;
    if ((*argv = ctl_dbx_task_argv(t, err, sizeof(err))) == NULL) {
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE", "%s", err);
        return NULL;
    }
    task = json_object();
    for (size_t i = 0; i < DBX_NELEM(keep); i++)
        if (json_object_get(t, keep[i]))
            json_object_set(task, keep[i], json_object_get(t, keep[i]));
    json_object_set_new(task, "run_id", json_integer(trid));
    json_object_set_new(task, "attempt_number", json_integer(0));
    json_object_set_new(
            task, "cluster_instance",
            json_pack("{s:s, s:s}", "cluster_id", cid ? cid : "", "spark_context_id", "0"));
    set_task_state(task, "PENDING", NULL, "Waiting for cluster");
    json_object_set_new(task, "status", status_of("PENDING", NULL, NULL));
    json_object_set_new(seen, key, json_true());
    return task;
}

static json_int_t
new_run_id(struct dbx *d, const char *ws)
{
    uint8_t r[8];
    uint64_t v = 0;
    char id[24];

    for (int tries = 0; tries < 8; tries++) {
        if (scc_rand_bytes(r, sizeof(r)) < 0)
            return 0;
        for (size_t i = 0; i < 8; i++)
            v = v << 8 | r[i];
        v = (uint64_t)RUN_ID_BASE + v % (uint64_t)RUN_ID_SPAN;
        snprintf(id, sizeof(id), "%" PRIu64, v);
        if (dbx_get(d, ws, DBX_RUN, id) == NULL)
            return (json_int_t)v;
    }
    return 0;
}

struct find_tok {
    const char *tok;
    json_t *hit;
    size_t n;
    json_t *oldest;
};

static void
scan_runs(struct dbx *d, const char *id, json_t *run, void *arg)
{
    struct find_tok *f = arg;
    const char *t = dbx_str(dbx_priv(run), "idempotency_token");

    (void)d, (void)id;
    f->n++;
    if (f->tok && t && strcmp(t, f->tok) == 0)
        f->hit = run;
    if (terminal(run) &&
        (f->oldest == NULL || json_integer_value(json_object_get(run, "start_time")) <
                                      json_integer_value(json_object_get(f->oldest, "start_time"))))
        f->oldest = run;
}

/* job_clusters: [{job_cluster_key, new_cluster}], checked, as an object
 * key -> new_cluster (borrowed from spec); NULL after answering 400. */
static json_t *
shared_clusters(struct dbx_req *q, const json_t *spec)
{
    const json_t *all = json_object_get(spec, "job_clusters");
    json_t *out = json_object(), *jc;
    char err[400], what[160];
    const char *key;
    size_t i;

    if (out == NULL) {
        dbx_error(q, 500, "INTERNAL_ERROR", "out of memory");
        return NULL;
    }
    if (all && !json_is_null(all) && (!json_is_array(all) || json_array_size(all) > TASKS_MAX)) {
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE",
                  "job_clusters must be a list of at most %d job clusters", TASKS_MAX);
        json_decref(out);
        return NULL;
    }
    json_array_foreach(all, i, jc)
    {
        key = dbx_str(jc, "job_cluster_key");
        snprintf(what, sizeof(what), "Job cluster %.100s: new_cluster: ", key ? key : "");
        if (!ctl_dbx_task_key_ok(key) || json_object_get(out, key)) {
            dbx_error(q, 400, "INVALID_PARAMETER_VALUE",
                      "Every job cluster needs its own job_cluster_key of 1-100 characters of "
                      "[A-Za-z0-9_.-]");
        } else if (ctl_dbx_spec_check(json_object_get(jc, "new_cluster"), err, sizeof(err)) < 0) {
            dbx_error(q, 400, "INVALID_PARAMETER_VALUE", "%s%s", what, err);
        } else if (dbx_pool_spec_ok(q, json_object_get(jc, "new_cluster"), what)) {
            json_object_set(out, key, json_object_get(jc, "new_cluster"));
            continue;
        }
        json_decref(out);
        return NULL;
    }
    return out;
}

static json_t *
submit_tasks(struct dbx_req *q, const json_t *spec, json_t *run, json_int_t rid)
{
    json_t *tasks = json_object_get(spec, "tasks"), *out = json_array(), *seen = json_object();
    json_t *t, *task, *argv = NULL, *shared = shared_clusters(q, spec);
    json_int_t run_timeout = json_integer_value(json_object_get(spec, "timeout_seconds"));
    size_t i;

    if (shared == NULL) {
        json_decref(out);
        json_decref(seen);
        return NULL;
    }
    if (json_object_size(shared) > 0)
        json_object_set(run, "job_clusters", json_object_get(spec, "job_clusters"));
    json_array_foreach(tasks, i, t)
    {
        json_int_t trid = rid + 1 + (json_int_t)i, timeout = run_timeout;
        json_t *tp;

        if ((task = task_new(q, t, shared, seen, trid, &argv)) == NULL) {
            json_decref(out);
            out = NULL;
            break;
        }
        json_array_append_new(out, task);
        tp = tpriv(run, task);
        json_object_set_new(tp, "argv", argv);
        json_object_set_new(tp, "agent_id", json_sprintf("dbx-%" JSON_INTEGER_FORMAT, trid));
        json_object_set_new(tp, "task_run", json_sprintf("%" JSON_INTEGER_FORMAT, trid));
        if (json_integer_value(json_object_get(t, "timeout_seconds")) > 0)
            timeout = json_integer_value(json_object_get(t, "timeout_seconds"));
        if (timeout > 0)
            json_object_set_new(tp, "deadline", json_integer(dbx_now() + timeout * 1000));
    }
    json_decref(seen);
    json_decref(shared);
    return out;
}

/* A run goes, with the output its tasks left in the store. */
static void
run_forget(struct dbx *d, const char *ws, json_t *run)
{
    size_t i;
    json_t *t;

    json_array_foreach(json_object_get(run, "tasks"), i, t)
    {
        if (dbx_str(tpriv(run, t), "task_run"))
            dbx_store_put(d, ws, DBX_LOG, dbx_str(tpriv(run, t), "task_run"), NULL);
    }
    dbx_del(d, ws, DBX_RUN, dbx_str(dbx_priv(run), "id"));
}

/* The spec of a job cluster of the run, by its key. */
static const json_t *
shared_spec(const json_t *run, const char *key)
{
    const char *k;
    size_t i;
    json_t *jc;

    json_array_foreach(json_object_get(run, "job_clusters"), i, jc)
    {
        if ((k = dbx_str(jc, "job_cluster_key")) && strcmp(k, key) == 0)
            return json_object_get(jc, "new_cluster");
    }
    return NULL;
}

/* Every task with new_cluster gets a cluster of its own, and the tasks of
 * one job_cluster_key share one (cluster_source JOB), ended when the last
 * task on it ends.  0, or what dbx_cluster_new said, none made then. */
static int
make_clusters(struct dbx *d, const struct dbx_ws *ws, const char *user, json_t *run, json_t *tasks)
{
    json_t *made = json_object(), *t;
    const char *key, *cid;
    char id[32];
    size_t i;
    int rc = made ? 0 : SCC_ENOMEM;

    json_array_foreach(rc == 0 ? tasks : NULL, i, t)
    {
        key = dbx_str(t, "job_cluster_key");
        if ((cid = key ? dbx_str(made, key) : NULL) != NULL) {
            snprintf(id, sizeof(id), "%s", cid);
        } else if (key || json_object_get(t, "new_cluster")) {
            if ((rc = dbx_cluster_new(
                         d, ws, key ? shared_spec(run, key) : json_object_get(t, "new_cluster"),
                         user, "JOB", id, sizeof(id))) < 0)
                break;
            if (key)
                json_object_set_new(made, key, json_string(id));
        } else {
            continue;
        }
        json_object_set_new(tpriv(run, t), "cluster", json_string(id));
        json_object_set_new(json_object_get(t, "cluster_instance"), "cluster_id", json_string(id));
    }
    json_decref(made);
    if (rc == 0)
        return 0;
    json_array_foreach(tasks, i, t) /* the ones made before: gone again */
    {
        if (dbx_str(tpriv(run, t), "cluster"))
            dbx_del(d, ws->id, DBX_CLUSTER, dbx_str(tpriv(run, t), "cluster"));
        json_object_del(tpriv(run, t), "cluster");
    }
    return rc;
}

/* make_clusters for a submit (only after every task was checked, so a
 * refused submit makes none); false after answering. */
static bool
job_clusters(struct dbx_req *q, json_t *run, json_t *tasks)
{
    int rc = make_clusters(q->d, &q->ws, q->user, run, tasks);

    if (rc == 0)
        return true;
    dbx_error(q, rc == SCC_EBUSY ? 400 : 500, rc == SCC_EBUSY ? "QUOTA_EXCEEDED" : "INTERNAL_ERROR",
              rc == SCC_EBUSY ? "The workspace has %d clusters, the most it may have"
                              : "out of memory (%d)",
              rc == SCC_EBUSY ? DBX_CLUSTERS_MAX : rc);
    return false;
}

/* tasks: 1 to TASKS_MAX; false after answering 400. */
static bool
tasks_sized(struct dbx_req *q, const json_t *spec)
{
    const json_t *tasks = json_object_get(spec, "tasks");

    if (json_is_array(tasks) && json_array_size(tasks) > 0 && json_array_size(tasks) <= TASKS_MAX)
        return true;
    dbx_error(q, 400, "INVALID_PARAMETER_VALUE", "tasks must be a list of 1 to %d tasks",
              TASKS_MAX);
    return false;
}

bool
dbx_runs_check(struct dbx_req *q, const json_t *spec)
{
    json_t *scratch, *tasks;

    if (!tasks_sized(q, spec))
        return false;
    if ((scratch = json_object()) == NULL) {
        dbx_error(q, 500, "INTERNAL_ERROR", "out of memory");
        return false;
    }
    tasks = submit_tasks(q, spec, scratch, 1); /* NULL: it answered why */
    json_decref(tasks);
    json_decref(scratch);
    return tasks != NULL;
}

/* The run's own fields: a one-time run's, or a job's. */
static void
run_fields(json_t *run, struct dbx_req *q, const json_t *spec, json_int_t rid, json_int_t job_id)
{
    const char *name = dbx_str(spec, job_id ? "name" : "run_name");

    json_object_set_new(run, "run_id", json_integer(rid));
    json_object_set_new(run, "number_in_job", json_integer(rid));
    json_object_set_new(run, "run_name", json_string(name ? name : "Untitled"));
    json_object_set_new(run, "run_type", json_string(job_id ? "JOB_RUN" : "SUBMIT_RUN"));
    if (job_id)
        json_object_set_new(run, "job_id", json_integer(job_id));
    json_object_set_new(run, "creator_user_name", json_string(q->user));
    json_object_set_new(run, "start_time", json_integer(dbx_now()));
    json_object_set_new(run, "end_time", json_integer(0));
    json_object_set_new(run, "attempt_number", json_integer(0));
}

/* A job's run past its max_concurrent_runs: skipped whole, no cluster made. */
static void
skip_all(json_t *run, json_t *tasks)
{
    size_t i;
    json_t *t;

    json_array_foreach(tasks, i, t)
    {
        task_end(run, t, "SKIPPED", "MAXIMUM_CONCURRENT_RUNS_REACHED",
                 "The job has as many active runs as its max_concurrent_runs");
    }
}

/* A job's run past its max_concurrent_runs with the queue on: it waits,
 * its job clusters not made yet (dequeue makes them). */
static void
queue_all(json_t *run, json_t *tasks)
{
    size_t i;
    json_t *t;

    json_object_set_new(dbx_priv(run), "queued", json_true());
    json_array_foreach(tasks, i, t)
    {
        set_task_state(t, "QUEUED", NULL, QUEUED_MSG);
        json_object_set_new(t, "status", json_pack("{s:s}", "state", "QUEUED"));
    }
}

bool
dbx_run_start(struct dbx_req *q, const json_t *spec, json_int_t job_id, enum dbx_admit admit,
              json_int_t *rid)
{
    struct find_tok f = {.tok = dbx_str(spec, "idempotency_token")};
    json_t *run, *shaped;
    char id[24];

    if (!tasks_sized(q, spec))
        return false;
    dbx_each(q->d, q->ws.id, DBX_RUN, scan_runs, &f);
    if (f.hit) {
        *rid = json_integer_value(json_object_get(f.hit, "run_id"));
        return true;
    }
    if ((*rid = new_run_id(q->d, q->ws.id)) == 0 || (run = json_object()) == NULL) {
        dbx_error(q, 500, "INTERNAL_ERROR", "out of memory");
        return false;
    }
    shaped = submit_tasks(q, spec, run, *rid); /* NULL: it answered why */
    if (shaped && admit == DBX_RUN_SKIP)
        skip_all(run, shaped);
    else if (shaped && admit == DBX_RUN_QUEUE)
        queue_all(run, shaped);
    else if (shaped == NULL || !job_clusters(q, run, shaped)) {
        json_decref(shaped);
        json_decref(run);
        return false;
    }
    if (f.n >= DBX_RUNS_MAX && f.oldest)
        run_forget(q->d, q->ws.id, f.oldest); /* the oldest finished run makes room */
    snprintf(id, sizeof(id), "%" JSON_INTEGER_FORMAT, *rid);
    run_fields(run, q, spec, *rid, job_id);
    json_object_set_new(run, "tasks", shaped);
    json_object_set_new(dbx_priv(run), "id", json_string(id));
    if (f.tok)
        json_object_set_new(dbx_priv(run), "idempotency_token", json_string(f.tok));
    run_state(run);
    dbx_put(q->d, q->ws.id, DBX_RUN, id, run);
    return true;
}

static void
submit(struct dbx_req *q)
{
    json_int_t rid;

    if (dbx_run_start(q, q->body, 0, DBX_RUN_NOW, &rid))
        dbx_reply(q, 200, json_pack("{s:I}", "run_id", rid));
}

/* The run of run_id (a parent) or the task run of it; NULL after a 400. */
static json_t *
find(struct dbx_req *q, json_t **task)
{
    char buf[32], want[32];
    const char *rid = dbx_param(q, "run_id", buf, sizeof(buf));
    json_t *run = NULL, *t;
    size_t i;

    *task = NULL;
    if (rid == NULL) {
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE", "Missing required field: run_id");
        return NULL;
    }
    snprintf(want, sizeof(want), "%s", rid);
    if ((run = dbx_get(q->d, q->ws.id, DBX_RUN, want)) != NULL)
        return run;
    /* A task run: its id follows its parent's, within TASKS_MAX. */
    for (long long back = 1, v = atoll(want); back <= TASKS_MAX && v > back; back++) {
        snprintf(buf, sizeof(buf), "%lld", v - back);
        if ((run = dbx_get(q->d, q->ws.id, DBX_RUN, buf)) == NULL)
            continue;
        json_array_foreach(json_object_get(run, "tasks"), i, t)
        {
            if (json_integer_value(json_object_get(t, "run_id")) == v) {
                *task = t;
                return run;
            }
        }
    }
    dbx_error(q, 400, "INVALID_PARAMETER_VALUE", "Run %s does not exist.", want);
    return NULL;
}

static void
reply_output(struct dbx *d, struct tctx *x, json_t *run, json_t *task, json_t *logs)
{
    json_t *o = json_object(), *meta;
    const char *err;

    (void)d;
    if (run && task) {
        /* The task run, in the shape of a run: its own id, state and times. */
        meta = dbx_public(run);
        json_object_update(meta, task);
        json_object_del(meta, "task_key");
        json_object_set_new(meta, "tasks", json_pack("[O]", task));
        json_object_set_new(o, "metadata", meta);
        if ((err = dbx_str(tpriv(run, task), "error")) != NULL)
            json_object_set_new(o, "error", json_string(err));
    }
    if (logs)
        json_object_update(o, logs);
    json_decref(logs);
    dbx_reply(x->q, 200, o);
}

static void
stored_logs(struct dbx *d, void *ctx, const char *text)
{
    struct tctx *x = ctx;
    json_t *run = NULL, *task = NULL, *logs = text ? json_loads(text, 0, NULL) : NULL;

    if (!tctx_find(d, x, &run, &task))
        run = task = NULL;
    reply_output(d, x, run, task, logs);
    tctx_free(x);
}

static void
get_output(struct dbx_req *q)
{
    json_t *task, *run = find(q, &task);
    struct tctx *x;

    if (run == NULL)
        return;
    if (task == NULL && json_array_size(json_object_get(run, "tasks")) != 1)
        task = NULL;
    if (task == NULL) {
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE",
                  "Retrieving the output of runs with multiple tasks is not supported. Please "
                  "retrieve the output of each individual task run instead.");
        return;
    }
    if ((x = tctx_new(q->ws.id, run, task)) == NULL) {
        dbx_error(q, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    x->q = q;
    if (terminal(task))
        dbx_store_get(q->d, q->ws.id, DBX_LOG, dbx_str(tpriv(run, task), "task_run"), stored_logs,
                      x);
    else if (strcmp(life(task), "PENDING") == 0 ||
             !dbx_node_connected(q->d, dbx_str(tpriv(run, task), "node")))
        stored_logs(q->d, x, NULL); /* nothing yet, or the driver is away: metadata only */
    else
        collect_next(q->d, x, dbx_str(tpriv(run, task), "node"));
}

static void
cancel(struct dbx_req *q)
{
    json_t *task, *run = find(q, &task), *t;
    size_t i;

    if (run == NULL)
        return;
    json_array_foreach(json_object_get(run, "tasks"), i, t)
    {
        if ((task == NULL || task == t) && !terminal(t))
            json_object_set_new(tpriv(run, t), "cancel", json_true());
    }
    if (!terminal(run) && strcmp(life(run), "PENDING") != 0)
        set_task_state(run, "TERMINATING", NULL, "Cancelling");
    dbx_save(q->d, q->ws.id, DBX_RUN, dbx_str(dbx_priv(run), "id"));
    dbx_reply(q, 200, NULL);
}

static int
by_start_desc(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "start_time"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "start_time"));

    return x < y ? 1 : x > y ? -1 : 0;
}

struct run_filter {
    bool active, done;
    long long job;
};

static bool
listed(const struct run_filter *f, const json_t *run)
{
    return !(f->active && terminal(run)) && !(f->done && !terminal(run)) &&
           (f->job == 0 || json_integer_value(json_object_get(run, "job_id")) == f->job);
}

/* runs/list: newest first; the page after page_token (or offset). */
static void
list(struct dbx_req *q)
{
    char buf[32];
    struct run_filter f = {dbx_query_true(q, "active_only"), dbx_query_true(q, "completed_only"),
                           dbx_query(q, "job_id", buf, sizeof(buf)) ? atoll(buf) : 0};
    bool expand = dbx_query_true(q, "expand_tasks"), more = false;
    long long limit, off;
    size_t n, i, kept = 0;
    json_t *out, **v;

    if (!dbx_page(q, 25, &limit, &off))
        return;
    if ((v = dbx_sorted(q->d, q->ws.id, DBX_RUN, by_start_desc, &n)) == NULL ||
        (out = json_array()) == NULL) {
        scc_free(v);
        dbx_error(q, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    for (i = 0; i < n && json_array_size(out) < (size_t)limit; i++) {
        json_t *r;

        if (!listed(&f, v[i]) || kept++ < (size_t)off)
            continue;
        r = dbx_public(v[i]);
        if (!expand)
            json_object_del(r, "tasks");
        json_array_append_new(out, r);
    }
    for (; i < n && !more; i++)
        more = listed(&f, v[i]);
    scc_free(v);
    dbx_reply_page(q, "runs", out, more ? off + (long long)json_array_size(out) : -1);
}

void
dbx_runs_route(struct dbx_req *q)
{
    bool get = strcmp(q->method, "GET") == 0, post = strcmp(q->method, "POST") == 0;
    json_t *task, *run;

    if (post && strcmp(q->op, "submit") == 0)
        submit(q);
    else if (get && strcmp(q->op, "get") == 0) {
        if ((run = find(q, &task)) != NULL) {
            json_t *o = dbx_public(task ? task : run);

            dbx_reply(q, 200, o);
        }
    } else if (get && strcmp(q->op, "get-output") == 0)
        get_output(q);
    else if (post && strcmp(q->op, "cancel") == 0)
        cancel(q);
    else if (get && strcmp(q->op, "list") == 0)
        list(q);
    else
        dbx_error(q, 404, "ENDPOINT_NOT_FOUND", "No API found for '%s /jobs/runs/%s'", q->method,
                  q->op);
}
