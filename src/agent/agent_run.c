#define _GNU_SOURCE /* pipe2 */
#include "agent_run.h"

#include "agent.h"
#include "common/buf.h"
#include "common/encode.h"
#include "common/err.h"
#include "common/file.h"
#include "common/json.h"
#include "common/mem.h"
#include "common/time.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ARGS      4096
#define MAX_ENV       1024
#define KEPT_RUNS_MAX 1000 /* finished runs remembered before the oldest goes */
#define PIPE_GRACE_MS 2000 /* after exit, how long a grandchild may hold the pipes */
#define CHUNK         (64u << 10)

enum run_state { RUN_RUNNING, RUN_EXITED, RUN_KILLED, RUN_LOST };
static const char *const state_names[] = {"running", "exited", "killed", "lost"};

struct spool {
    struct agent_run *run;
    int pipe_fd; /* read end of the child's stdout/stderr, -1 at EOF */
    int file_fd; /* the spool file, append-only */
    struct event *ev;
    uint64_t size;    /* bytes in the file */
    uint64_t dropped; /* bytes past the cap, discarded */
};

struct agent_run {
    struct agent_runs *r;
    struct agent_run *prev, *next;
    char id[AGENT_RUN_ID_MAX + 1];
    char dir[4096];
    json_t *command; /* the argv array, kept for status */
    pid_t pid;
    enum run_state state;
    bool exited; /* waitpid has seen it */
    int exit_code, term_signal;
    bool cancelled;
    uint64_t started_ms, ended_ms; /* wall clock */
    struct spool sp[2];
    struct event *kill_timer, *grace_timer;
    struct agent_run_watch *watchers;
};

struct agent_runs {
    struct agent *a;
    struct agent_run *head, *tail; /* oldest first */
    size_t total, active;
    char dir[4096];
};

/* ---- watchers ---- */

static void
notify(struct agent_run *run)
{
    struct agent_run_watch *w = run->watchers, *next;

    /* A callback may remove itself; fetch next first. */
    for (; w; w = next) {
        next = w->next;
        w->cb(w->arg);
    }
}

void
agent_run_watch_add(struct agent_run *run, struct agent_run_watch *w)
{
    w->prev = NULL;
    w->next = run->watchers;
    if (run->watchers)
        run->watchers->prev = w;
    run->watchers = w;
}

void
agent_run_watch_del(struct agent_run *run, struct agent_run_watch *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else if (run->watchers == w)
        run->watchers = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
}

/* ---- status and persistence ---- */

static void
iso(uint64_t ms, char *out, size_t cap)
{
    if (ms == 0 || scc_time_format_rfc3339(ms, out, cap) < 0)
        out[0] = '\0';
}

json_t *
agent_run_json(const struct agent_run *run)
{
    char started[40], ended[40];
    json_t *o;

    iso(run->started_ms, started, sizeof(started));
    iso(run->ended_ms, ended, sizeof(ended));
    o = json_pack("{s:s, s:s, s:O, s:I, s:s, s:I, s:I}", "id", run->id, "state",
                  state_names[run->state], "command", run->command, "pid", (json_int_t)run->pid,
                  "started_at", started, "stdout_bytes",
                  (json_int_t)(run->sp[0].size + run->sp[0].dropped), "stderr_bytes",
                  (json_int_t)(run->sp[1].size + run->sp[1].dropped));
    if (o == NULL)
        return NULL;
    if (run->state != RUN_RUNNING) {
        json_object_set_new(o, "ended_at", json_string(ended));
        if (run->state == RUN_EXITED)
            json_object_set_new(o, "exit_code", json_integer(run->exit_code));
        if (run->term_signal)
            json_object_set_new(o, "signal", json_integer(run->term_signal));
    }
    if (run->cancelled)
        json_object_set_new(o, "cancelled", json_true());
    if (run->sp[0].dropped || run->sp[1].dropped)
        json_object_set_new(o, "truncated", json_true());
    return o;
}

/* run.json is rewritten atomically at start and at the end, so after a
 * crash or restart the agent still knows every run and how it ended. */
static void
persist(struct agent_run *run)
{
    json_t *o = agent_run_json(run);
    char path[4200], *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

    if (text && snprintf(path, sizeof(path), "%s/run.json", run->dir) < (int)sizeof(path) &&
        scc_file_write_atomic(path, text, strlen(text), 0600) < 0)
        scc_log_warn(&run->r->a->log, "run=%s cannot save run.json", run->id);
    free(text);
    json_decref(o);
}

/* ---- lifecycle ---- */

static void
spool_close(struct spool *sp)
{
    if (sp->ev) {
        event_free(sp->ev);
        sp->ev = NULL;
    }
    if (sp->pipe_fd >= 0) {
        close(sp->pipe_fd);
        sp->pipe_fd = -1;
    }
}

static void
finish_if_done(struct agent_run *run)
{
    if (run->state != RUN_RUNNING || !run->exited || run->sp[0].pipe_fd >= 0 ||
        run->sp[1].pipe_fd >= 0)
        return;
    run->state = run->term_signal ? RUN_KILLED : RUN_EXITED;
    run->ended_ms = scc_time_wall_ms();
    run->r->active--;
    /* A cancelled run's kill timer stays: what it started may outlive it. */
    if (run->grace_timer)
        evtimer_del(run->grace_timer);
    persist(run);
    scc_log_info(&run->r->a->log, "run=%s %s code=%d signal=%d stdout=%llu stderr=%llu", run->id,
                 state_names[run->state], run->exit_code, run->term_signal,
                 (unsigned long long)run->sp[0].size, (unsigned long long)run->sp[1].size);
    notify(run);
}

static void
on_pipe(evutil_socket_t fd, short what, void *arg)
{
    struct spool *sp = arg;
    struct agent_run *run = sp->run;
    uint64_t cap = (uint64_t)run->r->a->cfg->spool_max_mb << 20;
    static uint8_t buf[CHUNK];
    ssize_t n;

    (void)what;
    do {
        n = read(fd, buf, sizeof(buf));
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        return;
    if (n <= 0) {
        spool_close(sp); /* EOF (or a broken pipe): this stream is complete */
        finish_if_done(run);
        return;
    }
    if (sp->size + (uint64_t)n > cap) {
        /* Past the cap we keep draining the pipe (the child must not
         * block) but keep only what fits, and say so in the status. */
        uint64_t keep = cap > sp->size ? cap - sp->size : 0;

        sp->dropped += (uint64_t)n - keep;
        n = (ssize_t)keep;
    }
    if (n > 0 && write(sp->file_fd, buf, (size_t)n) != n) {
        scc_log_error(&run->r->a->log, "run=%s spool write failed: %s", run->id, strerror(errno));
        sp->dropped += (uint64_t)n;
        return;
    }
    sp->size += (uint64_t)n;
    notify(run);
}

static void
on_grace(evutil_socket_t fd, short what, void *arg)
{
    struct agent_run *run = arg;

    (void)fd, (void)what;
    /* The run's process exited but something it started still holds the
     * output pipes: stop waiting for them. */
    spool_close(&run->sp[0]);
    spool_close(&run->sp[1]);
    finish_if_done(run);
}

static void
on_kill(evutil_socket_t fd, short what, void *arg)
{
    struct agent_run *run = arg;

    (void)fd, (void)what;
    /* Armed by a cancel only.  The group outlives its leader while any
     * member lives (the kernel reuses neither pid meanwhile), so this also
     * reaches a child that ignored SIGTERM after the leader obeyed it. */
    if (run->pid > 1 && kill(-run->pid, SIGKILL) == 0)
        scc_log_warn(&run->r->a->log, "run=%s: group %d outlived SIGTERM; sent SIGKILL", run->id,
                     (int)run->pid);
}

static void
reaped(struct agent_run *run, int status)
{
    struct timeval tv = {PIPE_GRACE_MS / 1000, (PIPE_GRACE_MS % 1000) * 1000};

    run->exited = true;
    if (WIFEXITED(status))
        run->exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        run->term_signal = WTERMSIG(status);
    evtimer_add(run->grace_timer, &tv);
    finish_if_done(run);
}

void
agent_runs_on_sigchld(struct agent_runs *r)
{
    pid_t pid;
    int status;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (struct agent_run *run = r->head; run; run = run->next) {
            if (run->pid == pid && !run->exited) {
                reaped(run, status);
                break;
            }
        }
    }
}

/* ---- starting ---- */

struct spec {
    char *argv[MAX_ARGS + 1];
    size_t argc;
    const char *env_k[MAX_ENV], *env_v[MAX_ENV];
    size_t nenv;
    const char *cwd;
};

static bool
valid_id(const char *id)
{
    size_t n = strlen(id);

    if (n == 0 || n > AGENT_RUN_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

static int
parse_env(const json_t *env, struct spec *sp, char *err, size_t cap)
{
    const char *k;
    json_t *v;

    if (env == NULL)
        return 0;
    if (!json_is_object(env)) {
        snprintf(err, cap, "'env' must be an object of strings");
        return SCC_EINVAL;
    }
    json_object_foreach((json_t *)env, k, v)
    {
        if (!json_is_string(v) || k[0] == '\0' || strchr(k, '=') || sp->nenv == MAX_ENV) {
            snprintf(err, cap, "'env' entry '%.40s' is not a valid NAME: \"value\" pair", k);
            return SCC_EINVAL;
        }
        sp->env_k[sp->nenv] = k;
        sp->env_v[sp->nenv++] = json_string_value(v);
    }
    return 0;
}

static int
parse_spec(const json_t *o, struct spec *sp, char *err, size_t cap)
{
    const json_t *cmd = json_object_get(o, "command"), *cwd = json_object_get(o, "cwd");
    const char *key;
    json_t *v;

    memset(sp, 0, sizeof(*sp));
    json_object_foreach((json_t *)o, key, v)
    {
        if (strcmp(key, "command") && strcmp(key, "env") && strcmp(key, "cwd") &&
            strcmp(key, "id")) {
            snprintf(err, cap, "unknown field '%.40s'", key);
            return SCC_EINVAL;
        }
    }
    if (!json_is_array(cmd) || json_array_size(cmd) == 0 || json_array_size(cmd) > MAX_ARGS) {
        snprintf(err, cap, "'command' must be a non-empty array of at most %d strings", MAX_ARGS);
        return SCC_EINVAL;
    }
    for (size_t i = 0; i < json_array_size(cmd); i++) {
        const json_t *arg = json_array_get(cmd, i);

        if (!json_is_string(arg) || (i == 0 && json_string_length(arg) == 0)) {
            snprintf(err, cap, "'command[%zu]' must be a string", i);
            return SCC_EINVAL;
        }
        sp->argv[sp->argc++] = (char *)json_string_value(arg);
    }
    if (cwd && !json_is_string(cwd)) {
        snprintf(err, cap, "'cwd' must be a string");
        return SCC_EINVAL;
    }
    sp->cwd = cwd ? json_string_value(cwd) : NULL;
    return parse_env(json_object_get(o, "env"), sp, err, cap);
}

/* In the child, between fork and exec: only async-signal-safe calls, and
 * any failure is reported through errfd as an errno. */
static void __attribute__((noreturn)) child(const struct spec *sp, int out_w, int err_w, int errfd)
{
    sigset_t none;
    int e, devnull = open("/dev/null", O_RDONLY);

    (void)setpgid(0, 0); /* its own group: cancel signals the whole tree */
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    (void)signal(SIGPIPE, SIG_DFL); /* ignored in the agent, not in jobs */
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0)
        goto fail;
    if (sp->cwd && chdir(sp->cwd) != 0)
        goto fail;
    for (size_t i = 0; i < sp->nenv; i++) {
        if (setenv(sp->env_k[i], sp->env_v[i], 1) != 0)
            goto fail;
    }
    execvp(sp->argv[0], sp->argv);
fail:
    e = errno;
    (void)!write(errfd, &e, sizeof(e));
    _exit(127);
}

static int
spawn(struct agent_run *run, const struct spec *sp, char *err, size_t cap)
{
    int outp[2] = {-1, -1}, errp[2] = {-1, -1}, execp[2] = {-1, -1};
    int e = 0, rc = 0;
    ssize_t n;

    if (pipe2(outp, O_CLOEXEC) || pipe2(errp, O_CLOEXEC) || pipe2(execp, O_CLOEXEC)) {
        rc = -errno;
        snprintf(err, cap, "cannot create pipes: %s", strerror(errno));
        goto out;
    }
    if ((run->pid = fork()) < 0) {
        rc = -errno;
        snprintf(err, cap, "fork failed: %s", strerror(errno));
        goto out;
    }
    if (run->pid == 0)
        child(sp, outp[1], errp[1], execp[1]);
    (void)setpgid(run->pid, run->pid); /* also here: no race with an early cancel */
    close(execp[1]);
    execp[1] = -1;
    /* EOF means exec succeeded (the pipe is close-on-exec); 4 bytes are the
     * child's errno.  This read waits only as long as fork to exec. */
    do {
        n = read(execp[0], &e, sizeof(e));
    } while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof(e)) {
        (void)waitpid(run->pid, NULL, 0);
        snprintf(err, cap, "cannot run '%.200s'%s%.200s: %s", sp->argv[0], sp->cwd ? " in " : "",
                 sp->cwd ? sp->cwd : "", strerror(e));
        rc = -e;
        goto out;
    }
    run->sp[0].pipe_fd = outp[0];
    run->sp[1].pipe_fd = errp[0];
    outp[0] = errp[0] = -1;
out:
    for (int i = 0; i < 2; i++) {
        if (outp[i] >= 0)
            close(outp[i]);
        if (errp[i] >= 0)
            close(errp[i]);
        if (execp[i] >= 0)
            close(execp[i]);
    }
    return rc;
}

static void
run_free(struct agent_run *run)
{
    if (run == NULL)
        return;
    for (int i = 0; i < 2; i++) {
        spool_close(&run->sp[i]);
        if (run->sp[i].file_fd >= 0)
            close(run->sp[i].file_fd);
    }
    if (run->kill_timer)
        event_free(run->kill_timer);
    if (run->grace_timer)
        event_free(run->grace_timer);
    json_decref(run->command);
    scc_free(run);
}

static void
link_run(struct agent_runs *r, struct agent_run *run)
{
    run->prev = r->tail;
    if (r->tail)
        r->tail->next = run;
    else
        r->head = run;
    r->tail = run;
    r->total++;
}

static void
unlink_run(struct agent_runs *r, struct agent_run *run)
{
    if (run->prev)
        run->prev->next = run->next;
    else
        r->head = run->next;
    if (run->next)
        run->next->prev = run->prev;
    else
        r->tail = run->prev;
    r->total--;
}

static int
run_alloc(struct agent_runs *r, const char *id, struct agent_run **out)
{
    struct agent_run *run = scc_calloc(1, sizeof(*run));
    int n;

    *out = NULL;
    if (run == NULL)
        return SCC_ENOMEM;
    run->r = r;
    for (int i = 0; i < 2; i++) {
        run->sp[i].run = run;
        run->sp[i].pipe_fd = run->sp[i].file_fd = -1;
    }
    memcpy(run->id, id, strlen(id) + 1);
    n = snprintf(run->dir, sizeof(run->dir), "%s/%s", r->dir, id);
    run->kill_timer = evtimer_new(r->a->base, on_kill, run);
    run->grace_timer = evtimer_new(r->a->base, on_grace, run);
    if (n < 0 || (size_t)n >= sizeof(run->dir) || !run->kill_timer || !run->grace_timer) {
        run_free(run);
        return SCC_ENOMEM;
    }
    *out = run;
    return 0;
}

static int
open_spools(struct agent_run *run, int flags)
{
    static const char *const names[] = {"stdout", "stderr"};
    char path[4200];
    struct stat st;

    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/%s", run->dir, names[i]);
        run->sp[i].file_fd = open(path, flags | O_CLOEXEC, 0600);
        if (run->sp[i].file_fd < 0 || fstat(run->sp[i].file_fd, &st) != 0)
            return -errno;
        run->sp[i].size = (uint64_t)st.st_size;
    }
    return 0;
}

static int
watch_pipes(struct agent_run *run)
{
    for (int i = 0; i < 2; i++) {
        int fd = run->sp[i].pipe_fd;

        if (fcntl(fd, F_SETFL, O_NONBLOCK) != 0)
            return -errno;
        run->sp[i].ev = event_new(run->r->a->base, fd, EV_READ | EV_PERSIST, on_pipe, &run->sp[i]);
        if (run->sp[i].ev == NULL || event_add(run->sp[i].ev, NULL) != 0)
            return SCC_ENOMEM;
    }
    return 0;
}

/* Forget the oldest finished runs nobody is reading, past the cap. */
static void
evict(struct agent_runs *r)
{
    struct agent_run *run = r->head, *next;

    for (; run && r->total >= KEPT_RUNS_MAX; run = next) {
        next = run->next;
        if (run->state != RUN_RUNNING && run->watchers == NULL)
            (void)agent_run_delete(r, run);
    }
}

static int
prepare(struct agent_runs *r, const json_t *spec, struct spec *sp, char *id, int *status, char *err,
        size_t cap)
{
    const json_t *jid = json_object_get(spec, "id");

    *status = 400;
    if (parse_spec(spec, sp, err, cap) < 0)
        return SCC_EINVAL;
    if (jid && (!json_is_string(jid) || !valid_id(json_string_value(jid)))) {
        snprintf(err, cap, "'id' must be 1-%d characters of [A-Za-z0-9_-]", AGENT_RUN_ID_MAX);
        return SCC_EINVAL;
    }
    if (jid)
        snprintf(id, AGENT_RUN_ID_MAX + 1, "%s", json_string_value(jid));
    else if (scc_rand_hex(12, id, AGENT_RUN_ID_MAX + 1) < 0)
        return SCC_ETLS;
    if (r->active >= r->a->cfg->max_runs) {
        *status = 429;
        snprintf(err, cap, "%zu runs are active; the limit is %u", r->active, r->a->cfg->max_runs);
        return SCC_EBUSY;
    }
    return 0;
}

int
agent_run_start(struct agent_runs *r, const json_t *spec, struct agent_run **out, bool *created,
                int *status, char *err, size_t cap)
{
    struct spec *sp = scc_calloc(1, sizeof(*sp));
    char id[AGENT_RUN_ID_MAX + 1];
    struct agent_run *run = NULL;
    int rc = SCC_ENOMEM;

    *out = NULL;
    *created = false;
    *status = 500;
    if (sp == NULL)
        goto out;
    if ((rc = prepare(r, spec, sp, id, status, err, cap)) < 0)
        goto out;
    if ((*out = agent_run_find(r, id)) != NULL) {
        rc = 0; /* the same id again: a retry after a lost reply */
        goto out;
    }
    evict(r);
    *status = 500;
    if ((rc = run_alloc(r, id, &run)) < 0)
        goto out;
    if ((rc = scc_dir_ensure(run->dir, 0700)) < 0 ||
        (rc = open_spools(run, O_RDWR | O_CREAT | O_TRUNC | O_APPEND)) < 0) {
        snprintf(err, cap, "cannot create spool %s: %s", run->dir, scc_strerror(rc));
        goto out;
    }
    run->command = json_deep_copy(json_object_get(spec, "command"));
    run->started_ms = scc_time_wall_ms();
    if ((rc = spawn(run, sp, err, cap)) < 0) {
        *status = rc == -ENOENT || rc == -EACCES || rc == -ENOTDIR ? 422 : 500;
        goto out;
    }
    if ((rc = watch_pipes(run)) < 0) {
        /* The child runs but we cannot read it: stop it rather than lose
         * its output silently. */
        (void)kill(-run->pid, SIGKILL);
        snprintf(err, cap, "cannot watch the run's output: %s", scc_strerror(rc));
        goto out;
    }
    r->active++;
    link_run(r, run);
    persist(run);
    scc_log_info(&r->a->log, "run=%s started pid=%d argv0=%s", run->id, (int)run->pid, sp->argv[0]);
    *out = run;
    *created = true;
    run = NULL;
out:
    if (run) {
        /* Never started: remove what we created for it. */
        char path[4200];

        for (int i = 0; i < 2; i++) {
            snprintf(path, sizeof(path), "%s/%s", run->dir, i ? "stderr" : "stdout");
            (void)unlink(path);
        }
        (void)rmdir(run->dir);
        run_free(run);
    }
    scc_free(sp);
    return rc;
}

int
agent_run_cancel(struct agent_run *run)
{
    uint32_t grace = run->r->a->cfg->kill_grace_ms;
    struct timeval tv = {(time_t)(grace / 1000), (suseconds_t)(grace % 1000) * 1000};

    if (run->state != RUN_RUNNING) /* a reaped leader whose group still writes is running */
        return SCC_ECLOSED;
    if (!run->cancelled) {
        run->cancelled = true;
        scc_log_info(&run->r->a->log, "run=%s cancel: SIGTERM to group %d", run->id, (int)run->pid);
        (void)kill(-run->pid, SIGTERM);
        evtimer_add(run->kill_timer, &tv);
    }
    return 0;
}

static void
remove_dir(const char *dir)
{
    static const char *const names[] = {"stdout", "stderr", "run.json"};
    char path[4200];

    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        (void)unlink(path);
    }
    (void)rmdir(dir);
}

int
agent_run_delete(struct agent_runs *r, struct agent_run *run)
{
    if (run->state == RUN_RUNNING)
        return SCC_EBUSY;
    if (evtimer_pending(run->kill_timer, NULL)) /* a cancel's SIGKILL is still due */
        on_kill(-1, 0, run);
    /* Followers end their streams when told the run is gone. */
    while (run->watchers) {
        struct agent_run_watch *w = run->watchers;

        agent_run_watch_del(run, w);
        w->gone(w->arg);
    }
    unlink_run(r, run);
    remove_dir(run->dir);
    run_free(run);
    return 0;
}

int
agent_run_spec_check(const json_t *spec, char *err, size_t cap)
{
    struct spec *sp = scc_calloc(1, sizeof(*sp));
    const json_t *jid = json_object_get(spec, "id");
    int rc;

    if (sp == NULL)
        return SCC_ENOMEM;
    rc = parse_spec(spec, sp, err, cap);
    if (rc == 0 && jid && (!json_is_string(jid) || !valid_id(json_string_value(jid)))) {
        snprintf(err, cap, "'id' must be 1-%d characters of [A-Za-z0-9_-]", AGENT_RUN_ID_MAX);
        rc = SCC_EINVAL;
    }
    scc_free(sp);
    return rc;
}

/* ---- lookups ---- */

struct agent_run *
agent_run_find(struct agent_runs *r, const char *id)
{
    for (struct agent_run *run = r->tail; run; run = run->prev) {
        if (strcmp(run->id, id) == 0)
            return run;
    }
    return NULL;
}

const char *
agent_run_id(const struct agent_run *run)
{
    return run->id;
}

int
agent_run_spool_fd(const struct agent_run *run, enum agent_stream which)
{
    return run->sp[which].file_fd;
}

uint64_t
agent_run_spool_size(const struct agent_run *run, enum agent_stream which)
{
    return run->sp[which].size;
}

bool
agent_run_spool_final(const struct agent_run *run, enum agent_stream which)
{
    /* The run's end too, not only the pipe's: a reader who saw the last
     * byte then asks for the status, and must find it final (the pipe can
     * close before the process is reaped). */
    return run->state != RUN_RUNNING && run->sp[which].pipe_fd < 0 && run->sp[which].ev == NULL;
}

size_t
agent_runs_active(const struct agent_runs *r)
{
    return r->active;
}

size_t
agent_runs_total(const struct agent_runs *r)
{
    return r->total;
}

json_t *
agent_runs_list(const struct agent_runs *r)
{
    json_t *arr = json_array();

    for (struct agent_run *run = r->head; arr && run; run = run->next)
        json_array_append_new(arr, agent_run_json(run));
    return arr;
}

/* ---- start-up: runs from before a restart ---- */

static void
load_one(struct agent_runs *r, const char *id)
{
    struct agent_run *run = NULL;
    struct scc_buf b;
    json_t *o = NULL;
    const char *state = NULL;
    char path[4200];

    scc_buf_init(&b, 1u << 20);
    if (!valid_id(id) || run_alloc(r, id, &run) < 0)
        goto out;
    snprintf(path, sizeof(path), "%s/run.json", run->dir);
    if (scc_file_read(path, 1u << 20, &b) < 0 ||
        scc_json_parse_object(b.data, b.len, 1u << 20, &o, NULL, 0) < 0 ||
        open_spools(run, O_RDONLY) < 0)
        goto out;
    run->command = json_incref(json_object_get(o, "command"));
    (void)scc_json_get_str(o, "state", &state);
    run->state = RUN_LOST; /* a run the agent did not see end */
    for (int s = RUN_EXITED; state && s <= RUN_KILLED; s++) {
        if (strcmp(state, state_names[s]) == 0)
            run->state = (enum run_state)s;
    }
    run->exit_code = (int)json_integer_value(json_object_get(o, "exit_code"));
    run->term_signal = (int)json_integer_value(json_object_get(o, "signal"));
    run->pid = (pid_t)json_integer_value(json_object_get(o, "pid"));
    (void)scc_time_parse_rfc3339(json_string_value(json_object_get(o, "started_at"))
                                         ? json_string_value(json_object_get(o, "started_at"))
                                         : "",
                                 &run->started_ms);
    (void)scc_time_parse_rfc3339(json_string_value(json_object_get(o, "ended_at"))
                                         ? json_string_value(json_object_get(o, "ended_at"))
                                         : "",
                                 &run->ended_ms);
    link_run(r, run);
    run = NULL;
out:
    run_free(run);
    json_decref(o);
    scc_buf_fini(&b);
}

int
agent_runs_new(struct agent *a, struct agent_runs **out)
{
    struct agent_runs *r = scc_calloc(1, sizeof(*r));
    struct dirent *de;
    DIR *d;
    int rc;

    *out = NULL;
    if (r == NULL)
        return SCC_ENOMEM;
    r->a = a;
    snprintf(r->dir, sizeof(r->dir), "%s/runs", a->cfg->state_dir);
    if ((rc = scc_dir_ensure(r->dir, 0700)) < 0) {
        scc_free(r);
        return rc;
    }
    if ((d = opendir(r->dir)) != NULL) {
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] != '.')
                load_one(r, de->d_name);
        }
        closedir(d);
    }
    *out = r;
    return 0;
}

void
agent_runs_free(struct agent_runs *r)
{
    if (r == NULL)
        return;
    while (r->head) {
        struct agent_run *run = r->head;

        unlink_run(r, run);
        run_free(run);
    }
    scc_free(r);
}
