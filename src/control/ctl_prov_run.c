/*
 * ctl_prov_run.c - running ip(8) and nft(8), optionally inside a network
 * namespace, and the few things done in a forked child instead of a
 * command: listing links over netlink and writing sysctls.
 *
 * sccd calls this from its worker thread while the loop thread runs, so
 * between fork and exec the child uses only async-signal-safe calls (no
 * malloc, no stdio): setns, dup2, open, write, execve.  Commands get
 * argv, never a shell; stderr is captured so that a failure comes back
 * as ip's or nft's own words.
 */
#define _GNU_SOURCE /* setns, pipe2, close_range */
#include "ctl_prov_int.h"

#include "common/err.h"
#include "common/mem.h"
#include "common/time.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CMD_TIMEOUT_MS 30000
#define CHILD_TIMEOUT  30000
#define CAPTURE_MAX    (4u << 20)

static const char *const cmd_env[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL};

/* ---- async-signal-safe helpers for children ---- */

static size_t
cat(char *dst, size_t at, size_t cap, const char *s)
{
    while (*s && at + 1 < cap)
        dst[at++] = *s++;
    dst[at] = '\0';
    return at;
}

static void
put_str(int fd, const char *s)
{
    (void)!write(fd, s, strlen(s)); /* a short write only loses a diagnostic */
}

static void
put_int(int fd, int v)
{
    char b[16];
    int i = (int)sizeof(b);

    b[--i] = '\0';
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0 && i > 0);
    put_str(fd, b + i);
}

static int
open_ns_path(const char *name)
{
    char path[128];

    if (name == NULL || name[0] == '\0')
        return open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    cat(path, cat(path, 0, sizeof(path), "/run/netns/"), sizeof(path), name);
    return open(path, O_RDONLY | O_CLOEXEC);
}

static void
child_reset_signals(void)
{
    sigset_t none;

    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    (void)signal(SIGPIPE, SIG_DFL);
}

/* ---- commands ---- */

static void __attribute__((noreturn))
cmd_child(const struct ctl_prov_cmd *c, int nsfd, int in, int out, int err)
{
    child_reset_signals();
    if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) < 0) {
        put_str(err, "cannot enter network namespace ");
        put_str(err, c->netns);
        put_str(err, "\n");
        _exit(126);
    }
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        _exit(126);
    (void)close_range(3, ~0u, 0);
    execve(c->argv[0], (char *const *)c->argv, (char *const *)cmd_env);
    put_str(2, "cannot execute ");
    put_str(2, c->argv[0]);
    put_str(2, "\n");
    _exit(127);
}

static void
capture(int *fd, struct scc_buf *b)
{
    char chunk[16384];
    ssize_t n = read(*fd, chunk, sizeof(chunk));

    if (n > 0 && b && b->len + (size_t)n <= b->max)
        (void)scc_buf_put(b, chunk, (size_t)n); /* beyond max is dropped on purpose */
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
        close(*fd);
        *fd = -1;
    }
}

static void
feed(int *fd, const char **in, size_t *left)
{
    ssize_t n = write(*fd, *in, *left);

    if (n > 0) {
        *in += n;
        *left -= (size_t)n;
    }
    if (*left == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
        close(*fd);
        *fd = -1;
    }
}

/* Feed stdin and drain stdout/stderr until both close or time runs out. */
static int
pump(struct ctl_prov_cmd *c, int in, int out, int err)
{
    uint64_t deadline =
            scc_time_mono_ms() + (uint64_t)(c->timeout_ms ? c->timeout_ms : CMD_TIMEOUT_MS);
    const char *data = c->in;
    size_t left = c->in ? c->in_len : 0;

    if (left == 0 && in >= 0)
        close(in), in = -1;
    while (out >= 0 || err >= 0) {
        struct pollfd p[3] = {{in, POLLOUT, 0}, {out, POLLIN, 0}, {err, POLLIN, 0}};
        uint64_t now = scc_time_mono_ms();

        if (now >= deadline)
            break;
        if (poll(p, 3, (int)(deadline - now)) < 0 && errno != EINTR)
            break;
        if (in >= 0 && p[0].revents)
            feed(&in, &data, &left);
        if (out >= 0 && p[1].revents)
            capture(&out, c->out);
        if (err >= 0 && p[2].revents)
            capture(&err, c->err);
    }
    for (int *fd = (int[]){in, out, err}, i = 0; i < 3; i++)
        if (fd[i] >= 0)
            close(fd[i]);
    return out >= 0 || err >= 0 ? SCC_ETIMEOUT : 0;
}

static int
reap(pid_t pid, bool kill_it, int *status)
{
    int st;

    if (kill_it)
        (void)kill(pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return 0;
}

/* Writing to a command that has already exited must not kill us with
 * SIGPIPE: block it on this thread and discard any pending one after. */
static void
sigpipe_block(sigset_t *old)
{
    sigset_t s;

    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &s, old);
}

static void
sigpipe_restore(const sigset_t *old)
{
    struct timespec zero = {0, 0};
    sigset_t s;

    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    while (sigtimedwait(&s, NULL, &zero) > 0)
        ;
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

int
ctl_prov_cmd_run(struct ctl_prov_cmd *c)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, nsfd = -1, rc = 0;
    sigset_t old;
    pid_t pid;

    c->status = -1;
    if (c->netns && (nsfd = open_ns_path(c->netns)) < 0)
        return -errno;
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
        rc = -errno;
        goto out;
    }
    if ((pid = fork()) < 0) {
        rc = -errno;
        goto out;
    }
    if (pid == 0)
        cmd_child(c, nsfd, in[0], out[1], err[1]);
    close(in[0]), close(out[1]), close(err[1]);
    in[0] = out[1] = err[1] = -1;
    sigpipe_block(&old);
    rc = pump(c, in[1], out[0], err[0]);
    sigpipe_restore(&old);
    in[1] = out[0] = err[0] = -1; /* pump closed them */
    if (reap(pid, rc == SCC_ETIMEOUT, &c->status) < 0 && rc == 0)
        rc = SCC_EUNAVAIL;
out:
    for (int *fds = (int[]){in[0], in[1], out[0], out[1], err[0], err[1], nsfd}, i = 0; i < 7; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return rc;
}

/* "Command failed -:N" lines from `ip -batch` mark line N as failed. */
static void
mark_failed(const struct scc_buf *err, bool *failed, size_t nlines)
{
    const char *s = scc_buf_str(err), *hit;

    while ((hit = strstr(s, "Command failed -:")) != NULL) {
        long n = strtol(hit + strlen("Command failed -:"), NULL, 10);

        if (failed && n >= 1 && (size_t)n <= nlines)
            failed[n - 1] = true;
        s = hit + 1;
    }
}

int
ctl_prov_ip(const struct ctl_prov *p, const char *netns, const char *lines, struct scc_buf *err,
            bool *failed, size_t nlines)
{
    const char *argv_ns[] = {p->ip_bin, "-n", netns, "-force", "-batch", "-", NULL};
    const char *argv_host[] = {p->ip_bin, "-force", "-batch", "-", NULL};
    struct ctl_prov_cmd c = {
            .argv = netns ? argv_ns : argv_host, .in = lines, .in_len = strlen(lines), .err = err};
    int rc;

    if (lines[0] == '\0')
        return 0;
    if ((rc = ctl_prov_cmd_run(&c)) < 0)
        return rc;
    mark_failed(err, failed, nlines);
    return c.status == 0 ? 0 : SCC_EUNAVAIL;
}

int
ctl_prov_nft(const struct ctl_prov *p, const char *netns, const char *text, struct scc_buf *out,
             struct scc_buf *err)
{
    const char *argv[] = {p->nft_bin, "-f", "-", NULL};
    struct ctl_prov_cmd c = {.netns = netns,
                             .argv = argv,
                             .in = text,
                             .in_len = strlen(text),
                             .out = out,
                             .err = err};
    int rc = ctl_prov_cmd_run(&c);

    return rc < 0 ? rc : c.status == 0 ? 0 : SCC_EUNAVAIL;
}

/* ---- forked helpers: link lists and sysctls ---- */

/* IFLA_IFNAME of one RTM_NEWLINK message, as a line. */
static void
put_ifname(const struct nlmsghdr *h, int out)
{
    size_t at = NLMSG_LENGTH(sizeof(struct ifinfomsg));

    while (at + sizeof(struct rtattr) <= h->nlmsg_len) {
        const struct rtattr *a = (const struct rtattr *)(const void *)((const char *)h + at);

        if (a->rta_len < sizeof(*a) || at + a->rta_len > h->nlmsg_len)
            return;
        if (a->rta_type == IFLA_IFNAME) {
            put_str(out, (const char *)RTA_DATA(a));
            put_str(out, "\n");
            return;
        }
        at += RTA_ALIGN(a->rta_len);
    }
}

/* Dump the links of the namespace we are in: one name per line. */
static void
dump_links(int out)
{
    static char buf[65536];
    struct {
        struct nlmsghdr nh;
        struct ifinfomsg ifi;
    } req = {.nh = {.nlmsg_len = sizeof(req),
                    .nlmsg_type = RTM_GETLINK,
                    .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
                    .nlmsg_seq = 1},
             .ifi = {.ifi_family = AF_UNSPEC}};
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    ssize_t n;

    if (fd < 0 || send(fd, &req, sizeof(req), 0) < 0)
        goto out;
    while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
        for (size_t off = 0; off + sizeof(struct nlmsghdr) <= (size_t)n;) {
            struct nlmsghdr *h = (struct nlmsghdr *)(void *)(buf + off);

            if (h->nlmsg_len < sizeof(*h) || off + h->nlmsg_len > (size_t)n)
                break;
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR)
                goto out;
            put_ifname(h, out);
            off += NLMSG_ALIGN(h->nlmsg_len);
        }
    }
out:
    if (fd >= 0)
        close(fd);
}

static void __attribute__((noreturn)) links_child(const char *const *names, size_t n, int out)
{
    for (size_t i = 0; i < n; i++) {
        int fd = open_ns_path(names[i]);

        if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
            put_str(out, "!");
            put_str(out, names[i]);
            put_str(out, " ");
            put_int(out, errno);
            put_str(out, "\n");
        } else {
            put_str(out, "=");
            put_str(out, names[i]);
            put_str(out, "\n");
            dump_links(out);
        }
        if (fd >= 0)
            close(fd);
    }
    _exit(0);
}

/* Run fn in a forked child and collect what it writes to its pipe. */
static int
child_collect(void (*fn)(const void *arg, int out), const void *arg, struct scc_buf *out)
{
    struct ctl_prov_cmd c = {.out = out};
    int p[2];
    pid_t pid;
    int rc, st;

    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    if ((pid = fork()) < 0) {
        rc = -errno;
        close(p[0]), close(p[1]);
        return rc;
    }
    if (pid == 0) {
        close(p[0]);
        child_reset_signals();
        fn(arg, p[1]);
        _exit(0);
    }
    close(p[1]);
    c.timeout_ms = CHILD_TIMEOUT;
    rc = pump(&c, -1, p[0], -1);
    if (reap(pid, rc == SCC_ETIMEOUT, &st) < 0 && rc == 0)
        rc = SCC_EUNAVAIL;
    return rc;
}

struct links_arg {
    const char *const *names;
    size_t n;
};

static void
links_fn(const void *arg, int out)
{
    const struct links_arg *a = arg;

    links_child(a->names, a->n, out);
}

int
ctl_prov_ns_links(const char *const *names, size_t n, struct scc_buf *out)
{
    struct links_arg a = {names, n};

    return child_collect(links_fn, &a, out);
}

struct sysctl_arg {
    const char *netns;
    const char *lines;
};

/* One "path value" line: write value to /proc/sys/path. */
static void
sysctl_line(const char *line, size_t len, int out)
{
    char path[256], val[64];
    const char *sp = memchr(line, ' ', len);
    size_t at, vlen;
    int fd;

    if (sp == NULL || (size_t)(sp - line) + 11 >= sizeof(path) ||
        (vlen = len - (size_t)(sp - line) - 1) >= sizeof(val))
        return;
    at = cat(path, 0, sizeof(path), "/proc/sys/");
    memcpy(path + at, line, (size_t)(sp - line));
    path[at + (size_t)(sp - line)] = '\0';
    memcpy(val, sp + 1, vlen);
    val[vlen] = '\n';
    if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0 || write(fd, val, vlen + 1) < 0) {
        put_str(out, path);
        put_str(out, ": errno ");
        put_int(out, errno);
        put_str(out, "\n");
    }
    if (fd >= 0)
        close(fd);
}

static void
sysctl_fn(const void *arg, int out)
{
    const struct sysctl_arg *a = arg;
    int fd = open_ns_path(a->netns);

    if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
        put_str(out, "cannot enter the namespace\n");
        _exit(1);
    }
    for (const char *s = a->lines; *s;) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);

        sysctl_line(s, len, out);
        s += len + (nl ? 1 : 0);
    }
    _exit(0);
}

int
ctl_prov_ns_sysctl(const char *netns, const char *lines, struct scc_buf *err)
{
    struct sysctl_arg a = {netns, lines};
    int rc;

    if (lines[0] == '\0')
        return 0;
    if ((rc = child_collect(sysctl_fn, &a, err)) < 0)
        return rc;
    return err->len > 0 ? SCC_EUNAVAIL : 0;
}

/* ---- namespaces and their processes ---- */

unsigned long
ctl_prov_ns_ino(const char *name)
{
    char path[128];
    struct stat st;

    if (name == NULL || name[0] == '\0')
        snprintf(path, sizeof(path), "/proc/self/ns/net");
    else if (ctl_prov_path(path, sizeof(path), "/run/netns/%s", name) < 0)
        return 0;
    return stat(path, &st) == 0 ? (unsigned long)st.st_ino : 0;
}

static unsigned long
pid_ns_ino(const char *pid)
{
    char path[300], link[64];
    ssize_t n;

    snprintf(path, sizeof(path), "/proc/%.255s/ns/net", pid);
    if ((n = readlink(path, link, sizeof(link) - 1)) <= 0)
        return 0;
    link[n] = '\0';
    return strncmp(link, "net:[", 5) == 0 ? strtoul(link + 5, NULL, 10) : 0;
}

int
ctl_prov_pids_in_ns(unsigned long ino, pid_t *pids, size_t cap, size_t *n)
{
    DIR *d = opendir("/proc");
    struct dirent *e;

    *n = 0;
    if (d == NULL)
        return -errno;
    while ((e = readdir(d)) != NULL && *n < cap) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        if (ino != 0 && pid_ns_ino(e->d_name) == ino)
            pids[(*n)++] = (pid_t)strtol(e->d_name, NULL, 10);
    }
    closedir(d);
    return 0;
}

/* Alive and not a zombie waiting for a parent that does not reap. */
static bool
pid_alive(pid_t pid)
{
    char path[64], buf[512], *rp;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if ((f = fopen(path, "re")) == NULL)
        return false;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

void
ctl_prov_kill_all(const pid_t *pids, size_t n, int grace_ms)
{
    uint64_t deadline = scc_time_mono_ms() + (uint64_t)grace_ms;
    bool any = true;

    for (size_t i = 0; i < n; i++)
        (void)kill(pids[i], SIGTERM);
    while (any && scc_time_mono_ms() < deadline) {
        any = false;
        for (size_t i = 0; i < n && !any; i++)
            any = pid_alive(pids[i]);
        if (any)
            usleep(10000);
    }
    for (size_t i = 0; i < n; i++) {
        if (pid_alive(pids[i]))
            (void)kill(pids[i], SIGKILL);
    }
}

/* ---- stopping many processes at once ---- */

void
ctl_prov_reap_init(struct ctl_prov_reap *r)
{
    memset(r, 0, sizeof(*r));
}

static int
push(void **v, size_t *n, size_t *cap, size_t size, const void *item)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        void *nv = scc_realloc(*v, c * size);

        if (nv == NULL)
            return SCC_ENOMEM;
        *v = nv;
        *cap = c;
    }
    memcpy((char *)*v + *n * size, item, size);
    (*n)++;
    return 0;
}

int
ctl_prov_reap_ns(struct ctl_prov_reap *r, const char *netns)
{
    unsigned long ino = ctl_prov_ns_ino(netns);

    return ino ? push((void **)&r->inos, &r->ninos, &r->capinos, sizeof(ino), &ino) : 0;
}

int
ctl_prov_reap_pidfile(struct ctl_prov_reap *r, const char *pidfile)
{
    pid_t pid = ctl_prov_proc_pid(pidfile);
    int rc = pid > 0 ? push((void **)&r->pids, &r->npids, &r->cappids, sizeof(pid), &pid) : 0;

    if (rc == 0 && unlink(pidfile) < 0 && errno != ENOENT)
        rc = -errno;
    return rc;
}

/* One pass over /proc for every namespace of the batch. */
static void
reap_scan(struct ctl_prov_reap *r)
{
    DIR *d = r->ninos ? opendir("/proc") : NULL;
    struct dirent *e;

    while (d && (e = readdir(d)) != NULL) {
        unsigned long ino;

        if (e->d_name[0] < '1' || e->d_name[0] > '9' || (ino = pid_ns_ino(e->d_name)) == 0)
            continue;
        for (size_t i = 0; i < r->ninos; i++) {
            pid_t pid = (pid_t)strtol(e->d_name, NULL, 10);

            if (r->inos[i] == ino) {
                (void)push((void **)&r->pids, &r->npids, &r->cappids, sizeof(pid), &pid);
                break;
            }
        }
    }
    if (d)
        closedir(d);
}

void
ctl_prov_reap_run(struct ctl_prov_reap *r, int grace_ms)
{
    reap_scan(r);
    if (r->npids > 0)
        ctl_prov_kill_all(r->pids, r->npids, grace_ms);
    scc_free(r->pids);
    scc_free(r->inos);
    ctl_prov_reap_init(r);
}

void
ctl_prov_prune(const struct ctl_prov *p, const char *const *dirs, size_t n, ctl_prov_keep_fn keep,
               void *arg, json_t *removed)
{
    char dir[CTL_PROV_PATH_MAX], path[CTL_PROV_PATH_MAX * 2];
    struct ctl_prov_reap reap;
    struct dirent *e;
    DIR *d;

    ctl_prov_reap_init(&reap);
    for (size_t k = 0; k < n; k++) {
        if (k == 1) /* the processes stop together, before their directories go */
            ctl_prov_reap_run(&reap, 3000);
        if (ctl_prov_path(dir, sizeof(dir), "%s/%s", p->state_dir, dirs[k]) < 0 ||
            (d = opendir(dir)) == NULL)
            continue;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.' ||
                ctl_prov_path(path, sizeof(path), "%s/%s", dir, e->d_name) < 0 ||
                keep(dirs[k], e->d_name, path, arg))
                continue;
            if (k == 0)
                (void)ctl_prov_reap_pidfile(&reap, path);
            else
                (void)ctl_prov_rmtree(path);
            if (removed)
                json_array_append_new(removed, json_sprintf("%s %s", k ? "dir" : "pidfile", path));
        }
        closedir(d);
    }
    if (n == 1)
        ctl_prov_reap_run(&reap, 3000);
}
