/*
 * ctl_dbx_job.c - jobs (api/2.1 and 2.2, jobs/...): create, get,
 * list, reset, update, delete and run-now.
 *
 * A job is kept settings: a name and tasks in runs/submit's shapes, checked
 * when they are written (so a job that exists can run).  run-now starts a
 * run of them (run_type JOB_RUN, job_id set) through the same code as
 * runs/submit; past max_concurrent_runs (default 1) the new run is skipped,
 * as Databricks does without a queue.  A schedule (a Quartz expression in
 * a time zone, not PAUSED) starts one the same way when it is due: the
 * private "next_at" (ms) is when, worked out whenever the settings are
 * written and after each start; times missed while sccd was stopped are
 * not made up, as Databricks does not.
 */
#include "ctl_dbx_int.h"

#include "ctl_dbx_cron.h"

#include "common/encode.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOB_ID_BASE 100000000000ll /* 12 digits and up, below 2^53 */
#define JOB_ID_SPAN 900000000000000ll

/* Settings a job keeps (the rest is ignored, as unknown fields are). */
static const char *const kept[] = {"name",
                                   "tasks",
                                   "job_clusters",
                                   "timeout_seconds",
                                   "max_concurrent_runs",
                                   "tags",
                                   "description",
                                   "email_notifications",
                                   "webhook_notifications",
                                   "notification_settings",
                                   "schedule",
                                   "queue",
                                   "parameters",
                                   "run_as"};

static json_t *
settings_of(const json_t *in)
{
    json_t *s = json_object();

    for (size_t i = 0; s && i < DBX_NELEM(kept); i++)
        if (json_object_get(in, kept[i]) && !json_is_null(json_object_get(in, kept[i])))
            json_object_set(s, kept[i], json_object_get(in, kept[i]));
    if (s && json_object_get(s, "name") == NULL)
        json_object_set_new(s, "name", json_string("Untitled"));
    if (s && json_object_get(s, "max_concurrent_runs") == NULL)
        json_object_set_new(s, "max_concurrent_runs", json_integer(1));
    return s;
}

/* The next time (ms) schedule fires after now_ms, or -1 (none, paused);
 * SCC_EINVAL etc. with the message in err if it cannot be read. */
static int
schedule_next(const json_t *schedule, int64_t now_ms, int64_t *next, char *err, size_t cap)
{
    const char *pause = dbx_str(schedule, "pause_status");
    struct ctl_dbx_cron c;
    struct ctl_dbx_tz tz;
    int rc;

    *next = -1;
    if (!json_is_object(schedule)) {
        snprintf(err, cap,
                 "schedule must be an object with quartz_cron_expression and "
                 "timezone_id");
        return SCC_EINVAL;
    }
    if (pause && strcmp(pause, "PAUSED") != 0 && strcmp(pause, "UNPAUSED") != 0) {
        snprintf(err, cap, "pause_status must be PAUSED or UNPAUSED");
        return SCC_EINVAL;
    }
    if ((rc = ctl_dbx_cron_parse(dbx_str(schedule, "quartz_cron_expression"), &c, err, cap)) < 0 ||
        (rc = ctl_dbx_tz_load(dbx_str(schedule, "timezone_id"), &tz, err, cap)) < 0)
        return rc;
    if (pause == NULL || strcmp(pause, "PAUSED") != 0) {
        int64_t t = ctl_dbx_cron_next(&c, &tz, now_ms / 1000);

        *next = t < 0 ? -1 : t * 1000;
    }
    ctl_dbx_tz_fini(&tz);
    return 0;
}

/* A job's private next_at from its schedule, as of now. */
static void
plan(json_t *job)
{
    json_t *sch = json_object_get(json_object_get(job, "settings"), "schedule");
    int64_t next = -1;
    char err[300];

    if (sch == NULL || schedule_next(sch, dbx_now(), &next, err, sizeof(err)) < 0 || next < 0)
        json_object_del(dbx_priv(job), "next_at");
    else
        json_object_set_new(dbx_priv(job), "next_at", json_integer(next));
}

/* Settings that can be written: tasks that could run, sane limits. */
static bool
settings_ok(struct dbx_req *q, const json_t *s)
{
    const json_t *mcr = json_object_get(s, "max_concurrent_runs");
    const json_t *name = json_object_get(s, "name");
    const json_t *sch = json_object_get(s, "schedule");
    int64_t next;
    char err[300];

    if (!json_is_string(name) || json_string_length(name) > 4096) {
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE", "name must be a string");
        return false;
    }
    if (!json_is_integer(mcr) || json_integer_value(mcr) < 1 || json_integer_value(mcr) > 1000) {
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE",
                  "max_concurrent_runs must be an integer from 1 to 1000");
        return false;
    }
    if (sch && schedule_next(sch, dbx_now(), &next, err, sizeof(err)) < 0) {
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE", "schedule: %s", err);
        return false;
    }
    return dbx_runs_check(q, s);
}

/* The job named by job_id, or NULL after answering 400. */
static json_t *
find(struct dbx_req *q, char *id, size_t cap)
{
    const char *jid = dbx_param(q, "job_id", id, cap);
    json_t *job = jid ? dbx_get(q->d, q->ws.id, DBX_JOB, jid) : NULL;

    if (job == NULL)
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE", "Job %.40s does not exist.",
                  jid ? jid : "(no job_id given)");
    else if (jid != id)
        snprintf(id, cap, "%s", jid);
    return job;
}

static void
create(struct dbx_req *q)
{
    json_t *s = settings_of(q->body), *job;
    size_t n = 0;
    uint8_t r[8];
    uint64_t v = 0;
    char id[24];

    if (s == NULL || !settings_ok(q, s)) {
        if (s == NULL)
            dbx_error(q, 500, "INTERNAL_ERROR", "out of memory");
        json_decref(s);
        return;
    }
    n = dbx_count(q->d, q->ws.id, DBX_JOB);
    if (n >= DBX_JOBS_MAX || scc_rand_bytes(r, sizeof(r)) < 0) {
        json_decref(s);
        if (n >= DBX_JOBS_MAX)
            dbx_error(q, 400, "QUOTA_EXCEEDED", "The workspace has %zu jobs, the most it may have",
                      n);
        else
            dbx_error(q, 500, "INTERNAL_ERROR", "no random bytes for a job id");
        return;
    }
    for (size_t i = 0; i < sizeof(r); i++)
        v = v << 8 | r[i];
    v = (uint64_t)JOB_ID_BASE + v % (uint64_t)JOB_ID_SPAN;
    snprintf(id, sizeof(id), "%" PRIu64, v);
    job = json_pack("{s:I, s:s, s:I, s:o}", "job_id", (json_int_t)v, "creator_user_name", q->user,
                    "created_time", (json_int_t)dbx_now(), "settings", s);
    if (job == NULL) {
        dbx_error(q, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    plan(job);
    dbx_put(q->d, q->ws.id, DBX_JOB, id, job);
    dbx_reply(q, 200, json_pack("{s:I}", "job_id", (json_int_t)v));
}

/* reset: the new settings whole; update: merged, fields_to_remove gone. */
static void
rewrite(struct dbx_req *q, bool whole)
{
    json_t *in = json_object_get(q->body, "new_settings"), *job, *s, *f;
    char id[24];
    size_t i;

    if ((job = find(q, id, sizeof(id))) == NULL)
        return;
    if (whole && !json_is_object(in)) {
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE", "Missing required field: new_settings");
        return;
    }
    s = json_deep_copy(json_object_get(job, "settings"));
    if (whole)
        json_object_clear(s);
    if (json_is_object(in))
        json_object_update(s, in);
    json_array_foreach(json_object_get(q->body, "fields_to_remove"), i, f)
    {
        if (json_is_string(f))
            json_object_del(s, json_string_value(f));
    }
    in = s;
    s = settings_of(in);
    json_decref(in);
    if (s == NULL || !settings_ok(q, s)) {
        if (s == NULL)
            dbx_error(q, 500, "INTERNAL_ERROR", "out of memory");
        json_decref(s);
        return;
    }
    json_object_set_new(job, "settings", s);
    plan(job);
    dbx_save(q->d, q->ws.id, DBX_JOB, id);
    dbx_reply(q, 200, NULL);
}

struct active {
    json_int_t job;
    size_t n;
};

struct scheduled {
    struct dbx *d;
    char id[24];
};

static void
active_one(struct dbx *d, const char *id, json_t *run, void *arg)
{
    struct active *a = arg;
    const char *lcs = dbx_str(json_object_get(run, "state"), "life_cycle_state");

    (void)d, (void)id;
    if (json_integer_value(json_object_get(run, "job_id")) == a->job && lcs &&
        strcmp(lcs, "TERMINATED") != 0 && strcmp(lcs, "SKIPPED") != 0 &&
        strcmp(lcs, "INTERNAL_ERROR") != 0)
        a->n++;
}

/* python_params replace every spark_python_task's parameters. */
static void
override(json_t *s, const json_t *python_params)
{
    size_t i;
    json_t *t;

    json_array_foreach(json_object_get(s, "tasks"), i, t)
    {
        json_t *py = json_object_get(t, "spark_python_task");

        if (py && json_is_array(python_params))
            json_object_set(py, "parameters", (json_t *)python_params);
    }
}

/* A run of job's settings (python_params and idempotency_token of q's body
 * applied), its trigger noted; false after answering. */
static bool
start(struct dbx_req *q, json_t *job, const char *trigger, json_int_t *rid)
{
    struct active a = {.job = json_integer_value(json_object_get(job, "job_id"))};
    json_t *s = json_deep_copy(json_object_get(job, "settings")), *run;
    enum dbx_admit admit;
    char id[24];
    bool ok;

    if (s == NULL) {
        dbx_error(q, 500, "INTERNAL_ERROR", "out of memory");
        return false;
    }
    dbx_each(q->d, q->ws.id, DBX_RUN, active_one, &a);
    override(s, json_object_get(q->body, "python_params"));
    if (json_object_get(q->body, "idempotency_token"))
        json_object_set(s, "idempotency_token", json_object_get(q->body, "idempotency_token"));
    /* Past max_concurrent_runs a run is queued if the job's queue is
     * enabled, else skipped, as Databricks does. */
    if (a.n < (size_t)json_integer_value(json_object_get(s, "max_concurrent_runs")))
        admit = DBX_RUN_NOW;
    else if (json_is_true(json_object_get(json_object_get(s, "queue"), "enabled")))
        admit = DBX_RUN_QUEUE;
    else
        admit = DBX_RUN_SKIP;
    ok = dbx_run_start(q, s, a.job, admit, rid);
    json_decref(s);
    if (ok)
        snprintf(id, sizeof(id), "%" JSON_INTEGER_FORMAT, *rid);
    if (ok && (run = dbx_get(q->d, q->ws.id, DBX_RUN, id)) != NULL &&
        json_object_get(run, "trigger") == NULL) {
        json_object_set_new(run, "trigger", json_string(trigger));
        dbx_save(q->d, q->ws.id, DBX_RUN, id);
    }
    return ok;
}

static void
run_now(struct dbx_req *q)
{
    char id[24];
    json_t *job = find(q, id, sizeof(id));
    json_int_t rid;

    if (job && start(q, job, "ONE_TIME", &rid))
        dbx_reply(q, 200, json_pack("{s:I, s:I}", "run_id", rid, "number_in_job", rid));
}

/* The answer to a schedule's start, for the log only. */
static void
scheduled(void *arg, const struct ctl_arm_resp *resp)
{
    struct scheduled *x = arg;
    json_t *b = resp->body ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;

    if (resp->status == 200)
        scc_log_info(&x->d->c->log, "job %s: its schedule started run %" JSON_INTEGER_FORMAT, x->id,
                     json_integer_value(json_object_get(b, "run_id")));
    else
        scc_log_warn(&x->d->c->log, "job %s: its schedule could not start a run: %s", x->id,
                     dbx_str(b, "message") ? dbx_str(b, "message") : "(no message)");
    json_decref(b);
    scc_free(x);
}

struct room {
    json_int_t job;
    const json_t *run;
    size_t active;
    bool older; /* a queued run of the job before run */
};

static void
room_one(struct dbx *d, const char *id, json_t *r, void *arg)
{
    struct room *m = arg;
    const char *lcs = dbx_str(json_object_get(r, "state"), "life_cycle_state");
    json_int_t t = json_integer_value(json_object_get(r, "start_time")),
               mine = json_integer_value(json_object_get(m->run, "start_time"));

    (void)d, (void)id;
    if (r == m->run || json_integer_value(json_object_get(r, "job_id")) != m->job || lcs == NULL)
        return;
    if (strcmp(lcs, "QUEUED") == 0)
        m->older = m->older || t < mine ||
                   (t == mine && json_integer_value(json_object_get(r, "run_id")) <
                                         json_integer_value(json_object_get(m->run, "run_id")));
    else if (strcmp(lcs, "TERMINATED") != 0 && strcmp(lcs, "SKIPPED") != 0 &&
             strcmp(lcs, "INTERNAL_ERROR") != 0)
        m->active++;
}

bool
dbx_job_has_room(struct dbx *d, const char *ws, const json_t *job, const json_t *run)
{
    struct room m = {.job = json_integer_value(json_object_get(job, "job_id")), .run = run};
    json_int_t max = json_integer_value(
            json_object_get(json_object_get(job, "settings"), "max_concurrent_runs"));

    dbx_each(d, ws, DBX_RUN, room_one, &m);
    return !m.older && (json_int_t)m.active < max;
}

bool
dbx_job_due(const json_t *job)
{
    const json_t *at = json_object_get(json_object_get(job, DBX_PRIV), "next_at");

    return at != NULL && dbx_now() >= json_integer_value(at);
}

void
dbx_jobs_tick(struct dbx *d, const char *ws, const char *id, json_t *job)
{
    const char *user = dbx_str(job, "creator_user_name");
    struct scheduled *x;
    struct dbx_req *q;
    json_int_t rid;

    if (!dbx_job_due(job))
        return;
    plan(job); /* the time after this one */
    dbx_save(d, ws, DBX_JOB, id);
    if ((x = scc_calloc(1, sizeof(*x))) == NULL ||
        (q = dbx_req_internal(d, ws, user ? user : "admin", scheduled, x)) == NULL) {
        scc_log_warn(&d->c->log,
                     "job %s: its schedule could not start a run: no workspace, or out of memory",
                     id);
        scc_free(x);
        return;
    }
    x->d = d;
    snprintf(x->id, sizeof(x->id), "%s", id);
    if (start(q, job, "PERIODIC", &rid))
        dbx_reply(q, 200, json_pack("{s:I}", "run_id", rid));
}

static int
by_id(const void *x, const void *y)
{
    json_int_t a = json_integer_value(json_object_get(*(json_t *const *)x, "job_id"));
    json_int_t b = json_integer_value(json_object_get(*(json_t *const *)y, "job_id"));

    return a < b ? -1 : a > b;
}

/* jobs/list: by id, limit (1-100, default 20) from offset or page_token. */
static void
list(struct dbx_req *q)
{
    bool expand = dbx_query_true(q, "expand_tasks");
    long long limit, off;
    size_t n, i;
    json_t *out, **v;

    if (!dbx_page(q, 100, &limit, &off))
        return;
    if ((v = dbx_sorted(q->d, q->ws.id, DBX_JOB, by_id, &n)) == NULL ||
        (out = json_array()) == NULL) {
        scc_free(v);
        dbx_error(q, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    for (i = (size_t)off; i < n && json_array_size(out) < (size_t)limit; i++) {
        json_t *j = dbx_public(v[i]);

        if (!expand) { /* settings without their tasks and clusters */
            json_object_set_new(j, "settings", json_deep_copy(json_object_get(j, "settings")));
            json_object_del(json_object_get(j, "settings"), "tasks");
            json_object_del(json_object_get(j, "settings"), "job_clusters");
        }
        json_array_append_new(out, j);
    }
    scc_free(v);
    dbx_reply_page(q, "jobs", out, i < n ? (long long)i : -1);
}

void
dbx_jobs_route(struct dbx_req *q)
{
    bool get = strcmp(q->method, "GET") == 0, post = strcmp(q->method, "POST") == 0;
    char id[24];
    json_t *job;

    if (post && strcmp(q->op, "create") == 0)
        create(q);
    else if (get && strcmp(q->op, "get") == 0) {
        if ((job = find(q, id, sizeof(id))) != NULL)
            dbx_reply(q, 200, dbx_public(job));
    } else if (get && strcmp(q->op, "list") == 0)
        list(q);
    else if (post && (strcmp(q->op, "reset") == 0 || strcmp(q->op, "update") == 0))
        rewrite(q, q->op[0] == 'r');
    else if (post && strcmp(q->op, "delete") == 0) {
        if (find(q, id, sizeof(id)) != NULL) {
            dbx_del(q->d, q->ws.id, DBX_JOB, id); /* its runs stay */
            dbx_reply(q, 200, NULL);
        }
    } else if (post && strcmp(q->op, "run-now") == 0)
        run_now(q);
    else
        dbx_error(q, 404, "ENDPOINT_NOT_FOUND", "No API found for '%s /jobs/%s'", q->method, q->op);
}
