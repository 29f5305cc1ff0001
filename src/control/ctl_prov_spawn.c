/*
 * ctl_prov_spawn.c - the long-running processes the provider starts: a
 * VM's scc-agent (as cloud-init would) and a firewall's proxy.
 *
 * They are detached (double fork, own session) so that they outlive the
 * provider, as VMs outlive a control-plane restart, and so that sccd never
 * has to reap them.  A pid file holds "pid starttime fingerprint": the
 * start time guards against pid reuse, the fingerprint (a hash of the
 * namespace and argv) tells whether the running process is the wanted
 * one or must be replaced.
 */
#define _GNU_SOURCE /* setns, pipe2, close_range */
#include "ctl_prov_int.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/file.h"
#include "common/json.h"
#include "common/time.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define STOP_GRACE_MS 3000

static const char *const proc_env[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL};

int
ctl_prov_path(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= cap ? SCC_ETRUNC : 0;
}

#define RECORD_MAX (16u << 20)

json_t *
ctl_prov_record_load(const struct ctl_prov *p, const char *name)
{
    char path[CTL_PROV_PATH_MAX];
    struct scc_buf b;
    json_t *o = NULL;

    scc_buf_init(&b, RECORD_MAX);
    if (ctl_prov_path(path, sizeof(path), "%s/%s", p->state_dir, name) == 0 &&
        scc_file_read(path, RECORD_MAX, &b) == 0)
        (void)scc_json_parse_object(b.data, b.len, RECORD_MAX, &o, NULL, 0);
    scc_buf_fini(&b);
    return o;
}

int
ctl_prov_record_save(const struct ctl_prov *p, const char *name, const json_t *o)
{
    char path[CTL_PROV_PATH_MAX];
    char *text = json_dumps(o, JSON_INDENT(1));
    int rc = text ? ctl_prov_path(path, sizeof(path), "%s/%s", p->state_dir, name) : SCC_ENOMEM;

    if (rc == 0)
        rc = scc_file_write_atomic(path, text, strlen(text), 0600);
    free(text);
    return rc;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT ? -1 : 0;
}

int
ctl_prov_rmtree(const char *path)
{
    struct stat st;

    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -errno;
}

/* ---- pid identity ---- */

/* Field 22 of /proc/PID/stat: start time in clock ticks since boot. */
static unsigned long long
pid_start(pid_t pid)
{
    char path[64], buf[1024], *p;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if ((f = fopen(path, "re")) == NULL)
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if ((p = strrchr(buf, ')')) == NULL || p[2] == 'Z' || p[2] == 'X')
        return 0;
    p += 2; /* at field 3 */
    for (int field = 3; field < 22 && p; field++)
        p = (p = strchr(p, ' ')) ? p + 1 : NULL;
    return p ? strtoull(p, NULL, 10) : 0;
}

struct pidrec {
    pid_t pid;
    unsigned long long start;
    char fp[32];
};

static bool
pidrec_read(const char *pidfile, struct pidrec *r)
{
    struct scc_buf b;
    int pid = 0;
    bool ok;

    memset(r, 0, sizeof(*r));
    scc_buf_init(&b, 256);
    ok = scc_file_read(pidfile, 256, &b) == 0 &&
         sscanf(scc_buf_str(&b), "%d %llu %31s", &pid, &r->start, r->fp) == 3 && pid > 1;
    scc_buf_fini(&b);
    r->pid = (pid_t)pid;
    return ok;
}

static bool
pidrec_alive(const struct pidrec *r)
{
    return r->pid > 1 && r->start != 0 && pid_start(r->pid) == r->start;
}

pid_t
ctl_prov_proc_pid(const char *pidfile)
{
    struct pidrec r;

    return pidrec_read(pidfile, &r) && pidrec_alive(&r) ? r.pid : 0;
}

int
ctl_prov_proc_stop(const char *pidfile, pid_t *was)
{
    struct pidrec r;

    if (was)
        *was = 0;
    if (pidrec_read(pidfile, &r) && pidrec_alive(&r)) {
        if (was)
            *was = r.pid;
        ctl_prov_kill_all(&r.pid, 1, STOP_GRACE_MS);
    }
    return unlink(pidfile) < 0 && errno != ENOENT ? -errno : 0;
}

/* ---- spawning ---- */

/* The grandchild: its own session, output to the log, then exec.  An
 * exec failure goes back to the provider as an errno on the pipe. */
static void __attribute__((noreturn))
grandchild(const char *const *argv, int logfd, int devnull, int report)
{
    int e;

    (void)setsid();
    if (dup2(devnull, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
        goto fail;
    (void)close_range(3, ~0u, CLOSE_RANGE_CLOEXEC);
    execve(argv[0], (char *const *)argv, (char *const *)proc_env);
fail:
    e = errno;
    (void)!write(report, &e, sizeof(e));
    _exit(127);
}

static void __attribute__((noreturn))
first_child(int nsfd, const char *const *argv, int logfd, int devnull, int report)
{
    sigset_t none;
    pid_t pid;

    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    (void)signal(SIGPIPE, SIG_DFL);
    if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) < 0) {
        int e = errno;

        (void)!write(report, &(pid_t){0}, sizeof(pid_t));
        (void)!write(report, &e, sizeof(e));
        _exit(1);
    }
    if ((pid = fork()) == 0)
        grandchild(argv, logfd, devnull, report);
    (void)!write(report, &pid, sizeof(pid));
    _exit(pid < 0 ? 1 : 0);
}

/* Read the grandchild's pid, then either EOF (it exec'd) or an errno. */
static int
spawn_result(int rd, pid_t *out, char *err, size_t cap, const char *what)
{
    pid_t pid = 0;
    int e = 0;

    if (read(rd, &pid, sizeof(pid)) != (ssize_t)sizeof(pid))
        pid = 0;
    if (read(rd, &e, sizeof(e)) == (ssize_t)sizeof(e) || pid <= 0) {
        snprintf(err, cap, "cannot start %s: %s", what, strerror(e ? e : ECHILD));
        return e ? -e : SCC_EUNAVAIL;
    }
    *out = pid;
    return 0;
}

static int
spawn(const char *netns, const char *const *argv, const char *log, pid_t *out, char *err,
      size_t cap)
{
    int nsfd = -1, logfd = -1, devnull = -1, p[2] = {-1, -1}, rc = 0, st;
    pid_t child;

    if ((netns && (nsfd = open(netns, O_RDONLY | O_CLOEXEC)) < 0) ||
        (logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0 ||
        (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 || pipe2(p, O_CLOEXEC) < 0) {
        rc = -errno;
        snprintf(err, cap, "cannot start %s: %s", argv[0], strerror(errno));
        goto out;
    }
    if ((child = fork()) < 0) {
        rc = -errno;
        snprintf(err, cap, "fork: %s", strerror(errno));
        goto out;
    }
    if (child == 0)
        first_child(nsfd, argv, logfd, devnull, p[1]);
    close(p[1]);
    p[1] = -1;
    while (waitpid(child, &st, 0) < 0 && errno == EINTR)
        ;
    rc = spawn_result(p[0], out, err, cap, argv[0]);
out:
    for (int *fds = (int[]){nsfd, logfd, devnull, p[0], p[1]}, i = 0; i < 5; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return rc;
}

static void
fingerprint(const char *netns, const char *const *argv, char out[32])
{
    uint64_t h = 14695981039346656037ull;

    for (const char *s = netns ? netns : ""; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    for (size_t i = 0; argv[i]; i++) {
        for (const char *s = argv[i]; *s; s++)
            h = (h ^ (uint8_t)*s) * 1099511628211ull;
        h = (h ^ 0xff) * 1099511628211ull;
    }
    snprintf(out, 32, "%016llx", (unsigned long long)h);
}

static bool
in_netns(pid_t pid, const char *netns)
{
    char path[64], link[64];
    struct stat st;
    ssize_t n;

    if (netns == NULL)
        return true;
    snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
    if ((n = readlink(path, link, sizeof(link) - 1)) <= 0 || stat(netns, &st) < 0)
        return false;
    link[n] = '\0';
    return strncmp(link, "net:[", 5) == 0 && strtoul(link + 5, NULL, 10) == st.st_ino;
}

int
ctl_prov_proc_ensure(const struct ctl_prov *p, const char *netns, const char *pidfile,
                     const char *const *argv, const char *log, pid_t *pid, bool *started, char *err,
                     size_t cap)
{
    char fp[32], nspath[128], rec[128];
    const char *nsp = NULL;
    struct pidrec r;
    int rc;

    (void)p;
    *started = false;
    if (netns && (rc = ctl_prov_path(nspath, sizeof(nspath), "/run/netns/%s", netns)) < 0)
        return rc;
    nsp = netns ? nspath : NULL;
    fingerprint(nsp, argv, fp);
    if (pidrec_read(pidfile, &r) && pidrec_alive(&r) && in_netns(r.pid, nsp) &&
        strcmp(r.fp, fp) == 0) {
        *pid = r.pid;
        return 0;
    }
    (void)ctl_prov_proc_stop(pidfile, NULL); /* an outdated one goes first */
    if ((rc = spawn(nsp, argv, log, pid, err, cap)) < 0)
        return rc;
    snprintf(rec, sizeof(rec), "%d %llu %s\n", (int)*pid, pid_start(*pid), fp);
    *started = true;
    return scc_file_write_atomic(pidfile, rec, strlen(rec), 0600);
}

int
ctl_prov_agent_argv(const struct ctl_prov *p, const struct ctl_prov_vm *vm, const char *dir,
                    const char *relay, bool legacy_listen, struct scc_buf *storage,
                    const char **argv, size_t cap)
{
    size_t offs[16], n = 0, k = 0;
    int rc = 0;

    /* Offsets first: storage may move while it grows. */
#define ADD(...)                                                                                   \
    (offs[n++] = storage->len, rc = rc ? rc : scc_buf_printf(storage, __VA_ARGS__),                \
     rc = rc ? rc : scc_buf_put(storage, "", 1))
    ADD("%s", p->agent_bin);
    ADD("--relay");
    ADD("%s", relay);
    ADD("--ca");
    ADD("%s", p->ca_file);
    ADD("--state-dir");
    ADD("%s/agent", dir);
    /* Always, token or not: the command line (the process's fingerprint)
     * must not change when the token goes after enrolment, or the agent
     * would be restarted for nothing.  It reads the file only to enrol. */
    ADD("--join-token-file");
    ADD("%s/join-token", dir);
    if (legacy_listen) { /* the control plane connects in (agent --mode legacy) */
        ADD("--mode");
        ADD("legacy");
        ADD("--listen");
        ADD("0.0.0.0:%u", vm->legacy_port);
    }
#undef ADD
    if (rc < 0 || n + 1 > cap)
        return rc < 0 ? rc : SCC_ETOOBIG;
    for (k = 0; k < n; k++)
        argv[k] = (const char *)storage->data + offs[k];
    argv[k] = NULL;
    return 0;
}
