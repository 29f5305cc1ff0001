/*
 * agent_run.h - runs: a command started by the control plane, its output
 * spooled to disk, its exit status kept.
 *
 * A run belongs to the node, not to a tunnel: it keeps running when the
 * tunnel drops, and its output stays readable by offset, so the control
 * plane resumes where it stopped and loses nothing.  Each run lives in
 * state-dir/runs/<id>/ (stdout, stderr, run.json).
 */
#ifndef SCC_AGENT_AGENT_RUN_H
#define SCC_AGENT_AGENT_RUN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agent;
struct agent_runs;
struct agent_run;

#define AGENT_RUN_ID_MAX 64

enum agent_stream { AGENT_STDOUT = 0, AGENT_STDERR = 1 };

/* A follower of a run's output: notified when bytes arrive or it ends. */
struct agent_run_watch {
    void (*cb)(void *arg);   /* more output, or the run ended */
    void (*gone)(void *arg); /* the run was deleted: drop every pointer to it */
    void *arg;
    struct agent_run_watch *prev, *next;
};

int agent_runs_new(struct agent *a, struct agent_runs **out);
void agent_runs_free(struct agent_runs *r);

/* agent_runs_on_sigchld - reap children; called from the SIGCHLD event. */
void agent_runs_on_sigchld(struct agent_runs *r);

size_t agent_runs_active(const struct agent_runs *r);
size_t agent_runs_total(const struct agent_runs *r);

/* agent_runs_list - JSON array of every run's status (new reference). */
json_t *agent_runs_list(const struct agent_runs *r);

/*
 * agent_run_start - start spec {"command": [argv...], "env": {k: v},
 * "cwd": "dir", "id": "optional client-chosen id"}.  On failure *status
 * is the HTTP status to answer and err says why (400 bad spec, 409 limit,
 * 422 the command could not be executed).  *created is false when a run
 * with the given id already existed (idempotent retry).
 */
int agent_run_start(struct agent_runs *r, const json_t *spec, struct agent_run **out, bool *created,
                    int *status, char *err, size_t cap);

/* agent_run_spec_check - validate a run spec without starting anything
 * (the same checks agent_run_start makes).  0 or SCC_EINVAL with err. */
int agent_run_spec_check(const json_t *spec, char *err, size_t cap);

struct agent_run *agent_run_find(struct agent_runs *r, const char *id);
json_t *agent_run_json(const struct agent_run *run);
const char *agent_run_id(const struct agent_run *run);

/* agent_run_cancel - SIGTERM to the run's process group, SIGKILL after
 * the grace period.  Idempotent; 0, or SCC_ECLOSED if it already ended. */
int agent_run_cancel(struct agent_run *run);

/* agent_run_delete - forget a finished run and its spool.  SCC_EBUSY
 * while it runs. */
int agent_run_delete(struct agent_runs *r, struct agent_run *run);

/* Output access for followers.  A spool is final once nothing more will
 * be written to it and the run's end is recorded. */
int agent_run_spool_fd(const struct agent_run *run, enum agent_stream which);
uint64_t agent_run_spool_size(const struct agent_run *run, enum agent_stream which);
bool agent_run_spool_final(const struct agent_run *run, enum agent_stream which);
void agent_run_watch_add(struct agent_run *run, struct agent_run_watch *w);
void agent_run_watch_del(struct agent_run *run, struct agent_run_watch *w);

#endif /* SCC_AGENT_AGENT_RUN_H */
