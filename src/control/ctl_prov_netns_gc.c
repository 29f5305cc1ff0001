/*
 * ctl_prov_netns_gc.c - garbage collection, teardown and live status of
 * the netns provider.
 *
 * Both gc and teardown find things by name, not by memory: namespaces in
 * /run/netns and links on the host that start with "<prefix>-", the nft
 * table "<prefix>_host", pid files under state_dir.  So they clean up
 * after a crashed run as well as after a clean one.  gc keeps what the
 * last apply wanted (state_dir/netns.json); teardown keeps nothing.
 */
#include "ctl_prov_netns.h"

#include "common/err.h"
#include "common/file.h"
#include "common/json.h"
#include "common/mem.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool
json_list_has(const json_t *list, const char *s)
{
    size_t i;
    json_t *v;

    json_array_foreach(list, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

/* Our namespaces that wanted (NULL: none) does not list. */
static int
gc_namespaces(const struct ctl_prov *p, const json_t *wanted, json_t *removed)
{
    struct ctl_prov_reap reap;
    struct scc_buf have, del, ipe;
    int rc;

    ctl_prov_reap_init(&reap);
    scc_buf_init(&have, 4u << 20);
    scc_buf_init(&del, 4u << 20);
    scc_buf_init(&ipe, 1u << 20);
    rc = ctl_np_list_ours(p, &have);
    for (const char *s = scc_buf_str(&have), *nl; rc == 0 && *s; s = nl + 1) {
        char name[CTL_PROV_NS_MAX];

        if ((nl = strchr(s, '\n')) == NULL)
            break;
        if (nl == s || (size_t)(nl - s) >= sizeof(name))
            continue;
        snprintf(name, sizeof(name), "%.*s", (int)(nl - s), s);
        if (json_list_has(json_object_get(wanted, "namespaces"), name))
            continue;
        if ((rc = ctl_prov_reap_ns(&reap, name)) == 0)
            rc = scc_buf_printf(&del, "netns del %s\n", name);
        if (removed)
            json_array_append_new(removed, json_sprintf("netns %s", name));
    }
    ctl_prov_reap_run(&reap, 2000);
    if (rc == 0)
        (void)ctl_prov_ip(p, NULL, scc_buf_str(&del), &ipe, NULL, 0);
    scc_buf_fini(&have);
    scc_buf_fini(&del);
    scc_buf_fini(&ipe);
    return rc;
}

/* Host links named "<prefix>-..." that wanted does not list. */
static int
gc_host_links(const struct ctl_prov *p, const json_t *wanted, json_t *removed)
{
    const char *names[] = {""};
    char mine[CTL_PROV_PREFIX_MAX + 2];
    struct scc_buf out, del, ipe;
    int rc;

    snprintf(mine, sizeof(mine), "%s-", p->prefix);
    scc_buf_init(&out, 4u << 20);
    scc_buf_init(&del, 1u << 20);
    scc_buf_init(&ipe, 1u << 20);
    rc = ctl_prov_ns_links(names, 1, &out);
    for (const char *s = scc_buf_str(&out), *nl; rc == 0 && *s; s = nl + 1) {
        char name[NP_IFNAME_MAX + 1];

        if ((nl = strchr(s, '\n')) == NULL)
            break;
        if ((size_t)(nl - s) >= sizeof(name) || strncmp(s, mine, strlen(mine)) != 0)
            continue;
        snprintf(name, sizeof(name), "%.*s", (int)(nl - s), s);
        if (json_list_has(json_object_get(wanted, "host_links"), name))
            continue;
        rc = scc_buf_printf(&del, "link del %s\n", name);
        if (removed)
            json_array_append_new(removed, json_sprintf("link %s", name));
    }
    if (rc == 0)
        (void)ctl_prov_ip(p, NULL, scc_buf_str(&del), &ipe, NULL, 0);
    scc_buf_fini(&out);
    scc_buf_fini(&del);
    scc_buf_fini(&ipe);
    return rc;
}

/* The host's guard: the nft table and the unreachable routes. */
static void
remove_guard(const struct ctl_prov *p, json_t *removed)
{
    char nft[64], ip[256];
    struct scc_buf ipe;
    unsigned metric = ctl_np_guard_metric(p->prefix);

    scc_buf_init(&ipe, 1u << 20);
    snprintf(nft, sizeof(nft), "delete table inet %s_host\n", p->prefix);
    if (ctl_prov_nft(p, NULL, nft, NULL, &ipe) == 0 && removed)
        json_array_append_new(removed, json_sprintf("nft table inet %s_host", p->prefix));
    /* And the rules into the prefix's table (two, a few more if a crash
     * ever added them twice; the rest fail quietly). */
    snprintf(ip, sizeof(ip),
             "route del unreachable 198.51.100.0/24 metric %u\n"
             "route del unreachable 203.0.113.0/24 metric %u\n"
             "rule del lookup %u\nrule del lookup %u\nrule del lookup %u\nrule del lookup %u\n",
             metric, metric, metric, metric, metric, metric);
    (void)ctl_prov_ip(p, NULL, ip, &ipe, NULL, 0);
    scc_buf_fini(&ipe);
}

/* State records of namespaces that are gone (all of them, and the
 * host's, when nothing is wanted). */
static void
gc_records(const struct ctl_prov *p, const json_t *wanted)
{
    char dir[CTL_PROV_PATH_MAX], path[CTL_PROV_PATH_MAX * 2];
    struct dirent *e;
    DIR *d;

    if (ctl_prov_path(dir, sizeof(dir), "%s/ns", p->state_dir) < 0)
        return;
    if (wanted == NULL) {
        (void)ctl_prov_rmtree(dir);
        return;
    }
    if ((d = opendir(dir)) == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "host") == 0 ||
            json_list_has(json_object_get(wanted, "namespaces"), e->d_name))
            continue;
        if (ctl_prov_path(path, sizeof(path), "%s/%s", dir, e->d_name) == 0)
            (void)unlink(path);
    }
    closedir(d);
}

static int
gc_pidfiles(const struct ctl_prov *p, const json_t *wanted, json_t *removed)
{
    struct ctl_np_plan pl = {.p = (struct ctl_prov *)p, .host = -1, .inet = -1};
    const json_t *pids = json_object_get(wanted, "pidfiles");
    const json_t *nss = json_object_get(wanted, "namespaces");
    int rc = 0;

    /* A minimal plan holding only names: what ctl_np_prune_state compares. */
    pl.procs = scc_calloc(json_array_size(pids) + 1, sizeof(*pl.procs));
    pl.ns = scc_calloc(json_array_size(nss) + 1, sizeof(*pl.ns));
    if (pl.procs == NULL || pl.ns == NULL)
        rc = SCC_ENOMEM;
    for (size_t i = 0; rc == 0 && i < json_array_size(pids); i++)
        snprintf(pl.procs[pl.nprocs++].pidfile, CTL_PROV_PATH_MAX, "%s",
                 json_string_value(json_array_get(pids, i)));
    for (size_t i = 0; rc == 0 && i < json_array_size(nss); i++)
        snprintf(pl.ns[pl.nns++].name, CTL_PROV_NS_MAX, "%s",
                 json_string_value(json_array_get(nss, i)));
    if (rc == 0)
        rc = ctl_np_prune_state(p, wanted ? &pl : NULL, removed);
    scc_free(pl.procs);
    scc_free(pl.ns);
    return rc;
}

int
ctl_np_netns_gc(struct ctl_prov *p, json_t *removed, char *err, size_t cap)
{
    json_t *wanted = ctl_prov_record_load(p, "netns.json");
    int rc;

    if ((rc = gc_pidfiles(p, wanted, removed)) == 0 &&
        (rc = gc_namespaces(p, wanted, removed)) == 0)
        rc = gc_host_links(p, wanted, removed);
    if (rc == 0 && wanted == NULL)
        remove_guard(p, removed);
    if (rc == 0)
        gc_records(p, wanted);
    if (rc < 0)
        snprintf(err, cap, "gc: %s", scc_strerror(rc));
    json_decref(wanted);
    return rc;
}

int
ctl_np_netns_teardown(struct ctl_prov *p, char *err, size_t cap)
{
    static const char *const state[] = {"ns", "proc", "vm", "fw", "netns.json", "status.json"};
    char path[CTL_PROV_PATH_MAX];
    int rc;

    /* Everything goes: what gc does with an empty wish list, plus the
     * records. */
    if ((rc = gc_pidfiles(p, NULL, NULL)) == 0 && (rc = gc_namespaces(p, NULL, NULL)) == 0)
        rc = gc_host_links(p, NULL, NULL);
    remove_guard(p, NULL);
    for (size_t i = 0; i < sizeof(state) / sizeof(state[0]); i++) {
        if (ctl_prov_path(path, sizeof(path), "%s/%s", p->state_dir, state[i]) == 0)
            (void)ctl_prov_rmtree(path);
    }
    if (rc < 0)
        snprintf(err, cap, "teardown: %s", scc_strerror(rc));
    return rc;
}

/* ---- live status ---- */

/* The named counters of our table in namespace ns: {name: packets}. */
static json_t *
read_counters(const struct ctl_prov *p, const char *ns)
{
    const char *argv[] = {p->nft_bin, "-j", "list", "counters", "table", "inet", p->prefix, NULL};
    struct scc_buf out, err;
    struct ctl_prov_cmd c = {.netns = ns, .argv = argv, .out = &out, .err = &err};
    json_t *doc = NULL, *res = json_object(), *e;
    size_t i;

    scc_buf_init(&out, 4u << 20);
    scc_buf_init(&err, 1u << 20);
    if (ctl_prov_cmd_run(&c) == 0 && c.status == 0)
        (void)scc_json_parse(out.data, out.len, 4u << 20, &doc, NULL, 0);
    json_array_foreach(json_object_get(doc, "nftables"), i, e)
    {
        json_t *ctr = json_object_get(e, "counter");

        if (ctr && json_is_string(json_object_get(ctr, "name")))
            json_object_set(res, json_string_value(json_object_get(ctr, "name")),
                            json_object_get(ctr, "packets"));
    }
    json_decref(doc);
    scc_buf_fini(&out);
    scc_buf_fini(&err);
    return res;
}

static void
proxy_stats(const struct ctl_prov *p, const char *ns, json_t *o)
{
    const char *h = strrchr(ns, '-');
    char path[CTL_PROV_PATH_MAX];
    struct scc_buf b;
    json_t *st = NULL;

    scc_buf_init(&b, 1u << 20);
    if (h && ctl_prov_path(path, sizeof(path), "%s/fw/%s/stats.json", p->state_dir, h + 1) == 0 &&
        scc_file_read(path, 1u << 20, &b) == 0 &&
        scc_json_parse_object(b.data, b.len, 1u << 20, &st, NULL, 0) == 0)
        json_object_set_new(o, "application_rules", st);
    scc_buf_fini(&b);
}

int
ctl_np_netns_status(struct ctl_prov *p, json_t *status, char *err, size_t cap)
{
    const char *id;
    json_t *o;

    (void)err;
    (void)cap;
    json_object_foreach(status, id, o)
    {
        const char *pidfile = json_string_value(json_object_get(o, "pidfile"));
        const char *ns = json_string_value(json_object_get(o, "namespace"));

        if (pidfile) {
            pid_t pid = ctl_prov_proc_pid(pidfile);

            json_object_set_new(o, "agent_running", json_boolean(pid > 0));
            json_object_set_new(o, "pid", pid > 0 ? json_integer(pid) : json_null());
        }
        if (ns && !pidfile && ctl_prov_ns_ino(ns) != 0) {
            json_object_set_new(o, "counters", read_counters(p, ns));
            if (strstr(ns, "-fw-"))
                proxy_stats(p, ns, o);
        }
    }
    return 0;
}
