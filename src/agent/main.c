/*
 * scc-agent - the node side of secure cluster connectivity.
 *
 *   scc-agent --relay HOST:PORT --ca CA.crt --join-token TOKEN --state-dir DIR
 *
 * It opens no listening socket: everything the control plane asks of this
 * node arrives over the TLS connection the agent itself dialled.
 */
#define _GNU_SOURCE /* malloc_trim */
#include "agent.h"
#include "agent_enroll.h"
#include "agent_link.h"
#include "agent_run.h"
#include "common/cfg.h"
#include "common/cputune.h"
#include "common/err.h"
#include "common/mem.h"
#include "common/parse.h"
#include "common/time.h"
#include "common/tls.h"

#include <event2/dns.h>
#include <event2/event.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define STOP_GRACE_MS 5000

static int exit_code;

void
agent_fatal(struct agent *a, const char *why)
{
    scc_log_error(&a->log, "%s", why);
    exit_code = 2;
    event_base_loopbreak(a->base);
}

#define MAX_DROPS 64

struct span {
    unsigned long lo, hi;
};

/* The next smaps entry: its range, whether it is a read-only or
 * read-and-execute mapping of a file, and whether all its resident pages
 * are still the file's (none copied on write, none dirty). */
static bool
smaps_entry(FILE *f, struct span *sp, bool *clean_ro)
{
    char line[512], perms[8], path[256];
    unsigned long kb;
    bool file, pristine = true;

    if (fgets(line, sizeof(line), f) == NULL)
        return false;
    path[0] = '\0';
    if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %255s", &sp->lo, &sp->hi, perms, path) < 3)
        return false;
    file = path[0] == '/' && (strcmp(perms, "r--p") == 0 || strcmp(perms, "r-xp") == 0);
    while (fgets(line, sizeof(line), f) && strncmp(line, "VmFlags:", 8) != 0)
        if ((sscanf(line, "Private_Dirty: %lu", &kb) == 1 ||
             sscanf(line, "Anonymous: %lu", &kb) == 1 || sscanf(line, "Swap: %lu", &kb) == 1) &&
            kb != 0)
            pristine = false;
    *clean_ro = file && pristine;
    return true;
}

/*
 * Drop our page table entries for read-only and code mappings of files
 * whose resident pages are all the file's own.  Relocated read-only data
 * (RELRO: written once at start, then made read-only) has dirty pages and
 * is left alone, or its relocations would be lost.
 */
static void
drop_file_pages(void)
{
    struct span drop[MAX_DROPS], sp;
    size_t n = 0;
    bool clean;
    FILE *f;

    if ((f = fopen("/proc/self/smaps", "re")) == NULL)
        return;
    while (n < MAX_DROPS && smaps_entry(f, &sp, &clean))
        if (clean)
            drop[n++] = sp;
    fclose(f);
    /* After reading: madvise must not run under an open smaps walk. */
    for (size_t i = 0; i < n; i++)
        (void)madvise((void *)drop[i].lo, drop[i].hi - drop[i].lo, MADV_DONTNEED);
}

#define TRIM_DELAY_S 10 /* after the tunnel is up: past its first requests */

/* Resident memory in KiB, or 0 when /proc cannot say. */
static unsigned long
resident_kib(void)
{
    unsigned long size, pages = 0;
    FILE *f = fopen("/proc/self/statm", "re");

    if (f == NULL)
        return 0;
    if (fscanf(f, "%lu %lu", &size, &pages) != 2)
        pages = 0;
    fclose(f);
    return pages * (unsigned long)sysconf(_SC_PAGESIZE) / 1024;
}

static void
trim_now(evutil_socket_t fd, short what, void *arg)
{
    struct agent *a = arg;
    unsigned long before = resident_kib();

    (void)fd, (void)what;
    (void)malloc_trim(0);
    drop_file_pages();
    scc_log_info(&a->log, "idle: start-up memory given back (resident %lu KiB, was %lu)",
                 resident_kib(), before);
}

/*
 * Once the tunnel is up the agent is, for most of its life, idle: a PING
 * every few seconds.  Start-up touched far more than that (config parsing,
 * key generation, the CSR, certificate checks, OpenSSL's algorithm
 * tables), so a little later, when the tunnel's first exchanges are over,
 * give those pages back: free heap to the kernel, and drop our mappings
 * of code and read-only data whose pages are still the file's.  Those are
 * never written, so MADV_DONTNEED only removes page table entries: the
 * pages stay in the page cache and fault back in when used.  (Writable
 * mappings and relocated ones are left alone: they hold our own changes.)
 * Only the first time: after that, the resident set reflects real use.
 */
void
agent_after_tunnel_up(struct agent *a)
{
    static bool done;
    struct timeval tv = {TRIM_DELAY_S, 0};

    if (done || !a->cfg->trim_memory)
        return;
    done = true;
    (void)event_base_once(a->base, -1, EV_TIMEOUT, trim_now, a, &tv);
}

static void
on_sigchld(evutil_socket_t sig, short what, void *arg)
{
    struct agent *a = arg;

    (void)sig, (void)what;
    agent_runs_on_sigchld(a->runs);
}

static void
check_stopped(evutil_socket_t fd, short what, void *arg)
{
    struct agent *a = arg;
    bool idle = true;

    (void)fd, (void)what;
    for (size_t i = 0; i < a->nlinks; i++)
        idle = idle && agent_link_is_idle(a->links[i]);
    if (idle || scc_time_mono_ms() - a->stop_ms > STOP_GRACE_MS)
        event_base_loopbreak(a->base);
}

static void
on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
    struct agent *a = arg;
    struct timeval tv = {0, 100000};

    (void)what;
    if (a->stopping) {
        event_base_loopbreak(a->base); /* a second signal: now */
        return;
    }
    a->stopping = true;
    a->stop_ms = scc_time_mono_ms();
    scc_log_info(&a->log, "signal %d: draining tunnels", (int)sig);
    for (size_t i = 0; i < a->nlinks; i++)
        agent_link_stop(a->links[i]);
    agent_legacy_stop(a);
    a->stop_ev = event_new(a->base, -1, EV_PERSIST, check_stopped, a);
    if (a->stop_ev)
        event_add(a->stop_ev, &tv);
}

static int
links_create(struct agent *a)
{
    char relay[300];

    for (const char *p = a->cfg->relay; scc_list_next(&p, relay, sizeof(relay));) {
        struct agent_link **grown, *l = NULL;
        int rc;

        if ((rc = agent_link_new(a, relay, &l)) < 0) {
            scc_log_error_rc(&a->log, rc, "bad --relay '%s' or --proxy", relay);
            return rc;
        }
        if ((grown = scc_realloc(a->links, (a->nlinks + 1) * sizeof(*grown))) == NULL) {
            agent_link_free(l);
            return SCC_ENOMEM;
        }
        a->links = grown;
        a->links[a->nlinks++] = l;
    }
    return 0;
}

static int
agent_init(struct agent *a, const struct agent_cfg *cfg)
{
    int rc;

    a->cfg = cfg;
    a->started_ms = scc_time_mono_ms();
    scc_log_ctx_init(&a->log, "agent", NULL);
    scc_h2_settings_default(&a->h2set);
    a->h2set.max_concurrent_streams = cfg->max_streams;
    a->h2set.stream_window = cfg->stream_window_kb * 1024;
    a->h2set.stream_send_max = cfg->stream_window_kb * 1024;
    /* Keep-alive and TCP_USER_TIMEOUT in step with the PING deadline, so
     * whichever notices a dead path first, it is within dead_after. */
    a->tcp_ka = (struct scc_keepalive){.idle_s = (cfg->keepalive_ms + 999) / 1000,
                                       .interval_s = 5,
                                       .count = 3,
                                       .user_timeout_ms = cfg->dead_after_ms};
    if ((a->base = event_base_new()) == NULL ||
        (a->dns = evdns_base_new(a->base, EVDNS_BASE_INITIALIZE_NAMESERVERS)) == NULL)
        return SCC_ENOMEM;
    if ((rc = agent_identity_load(a)) < 0 || (rc = agent_runs_new(a, &a->runs)) < 0)
        return rc;
    return links_create(a);
}

static void
agent_fini(struct agent *a)
{
    agent_legacy_free(a);
    for (size_t i = 0; i < a->nlinks; i++)
        agent_link_free(a->links[i]);
    scc_free(a->links);
    if (a->base)
        event_base_loop(a->base, EVLOOP_NONBLOCK); /* deferred closes of the links */
    agent_runs_free(a->runs);
    agent_identity_free(a);
    if (a->stop_ev)
        event_free(a->stop_ev);
    if (a->dns)
        evdns_base_free(a->dns, 0);
    if (a->base)
        event_base_free(a->base);
}

static void
usage(FILE *out)
{
    fprintf(out, "usage: scc-agent --relay HOST:PORT --ca CA.crt --state-dir DIR "
                 "[--join-token TOKEN] [--proxy http://HOST:PORT] [options]\n\n");
    scc_cfg_help(agent_cfg_opts, agent_cfg_nopts, out);
}

int
main(int argc, char **argv)
{
    struct agent_cfg cfg;
    struct agent a;
    struct event *ev[4] = {NULL, NULL, NULL, NULL};
    enum scc_log_level level;
    char err[512];
    int rc;

    if ((rc = scc_cputune_apply(argv)) < 0)
        fprintf(stderr, "scc-agent: warning: running without the memcpy tuning: %s\n",
                scc_strerror(rc));
    memset(&cfg, 0, sizeof(cfg));
    memset(&a, 0, sizeof(a));
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
    }
    if (scc_cfg_parse(agent_cfg_opts, agent_cfg_nopts, &cfg, argc, argv, NULL, NULL, err,
                      sizeof(err)) < 0 ||
        agent_cfg_check(&cfg, err, sizeof(err)) < 0 ||
        (scc_log_level_parse(cfg.log_level, &level) < 0 &&
         snprintf(err, sizeof(err), "--log-level: unknown level '%s'", cfg.log_level))) {
        fprintf(stderr, "scc-agent: %s\n", err);
        scc_cfg_free(agent_cfg_opts, agent_cfg_nopts, &cfg);
        return 2;
    }
    scc_log_set_level(level);
    signal(SIGPIPE, SIG_IGN);
    scc_mem_tune();
    if (scc_tls_init() < 0 || (rc = agent_init(&a, &cfg)) < 0) {
        exit_code = 1;
        goto out;
    }
    ev[0] = evsignal_new(a.base, SIGCHLD, on_sigchld, &a);
    ev[1] = evsignal_new(a.base, SIGTERM, on_stop_signal, &a);
    ev[2] = evsignal_new(a.base, SIGINT, on_stop_signal, &a);
    for (int i = 0; i < 3; i++)
        if (ev[i] == NULL || event_add(ev[i], NULL) != 0) {
            exit_code = 1;
            goto out;
        }
    if (agent_is_legacy(&a) && a.enrolled) {
        if (agent_legacy_start(&a) < 0) {
            exit_code = 1;
            goto out;
        }
    } else {
        /* SCC mode, or a legacy node that still has to enrol (outbound,
         * once), after which agent_link.c starts the listener. */
        scc_log_info(&a.log, "scc-agent %s starting: %zu relay(s)%s", SCC_VERSION, a.nlinks,
                     agent_is_legacy(&a) ? ", legacy mode" : ", no listening sockets");
        for (size_t i = 0; i < a.nlinks; i++)
            agent_link_start(a.links[i]);
    }
    event_base_dispatch(a.base);
    scc_log_info(&a.log, "stopped");
out:
    for (int i = 0; i < 4; i++)
        if (ev[i])
            event_free(ev[i]);
    agent_fini(&a);
    scc_cfg_free(agent_cfg_opts, agent_cfg_nopts, &cfg);
    return exit_code;
}
