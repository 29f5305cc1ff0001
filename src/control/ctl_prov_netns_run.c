/*
 * ctl_prov_netns_run.c - the netns provider's apply from end to end:
 * plan, namespaces, links, configuration, processes, and the record of
 * what the plan wanted (state_dir/netns.json) that gc works from.
 */
#include "ctl_prov_netns.h"

#include "common/err.h"
#include "common/file.h"
#include "common/mem.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the plan ---- */

static void
plan_free(struct ctl_np_plan *pl)
{
    for (size_t i = 0; i < pl->nns; i++) {
        scc_buf_fini(&pl->ns[i].items);
        scc_buf_fini(&pl->ns[i].nft);
        scc_buf_fini(&pl->ns[i].present);
        scc_buf_fini(&pl->ns[i].remade);
    }
    for (size_t i = 0; i < pl->nprocs; i++) {
        scc_buf_fini(&pl->procs[i].store);
        scc_buf_fini(&pl->procs[i].file);
    }
    scc_free(pl->ns);
    scc_free(pl->links);
    scc_free(pl->procs);
}

static void
fail_dependants(struct ctl_prov_model *m)
{
    for (size_t i = 0; i < m->nvms; i++) {
        struct ctl_prov_vm *vm = &m->vms[i];

        if (!vm->failed && vm->subnet && !ctl_np_subnet_ok(vm->subnet)) {
            ctl_prov_status_fail(m->status, vm->id, "its subnet '%s' failed", vm->subnet->id);
            vm->failed = true;
        }
    }
    for (size_t i = 0; i < m->nfws; i++) {
        struct ctl_prov_fw *fw = &m->fws[i];

        if (!fw->failed && !ctl_np_subnet_ok(fw->subnet)) {
            ctl_prov_status_fail(m->status, fw->id, "its subnet '%s' failed", fw->subnet->id);
            fw->failed = true;
        }
    }
}

static int
collided(int rc, bool *failed)
{
    if (rc != SCC_EEXIST)
        return rc;
    *failed = true;
    return 0;
}

static int
plan_build(struct ctl_np_plan *pl)
{
    struct ctl_prov_model *m = pl->m;
    int rc;

    fail_dependants(m);
    if ((rc = ctl_np_build_topology(pl)) < 0)
        return rc;
    /* A name collision (SCC_EEXIST) fails that resource only. */
    for (size_t i = 0; rc == 0 && i < m->nvnets; i++)
        rc = m->vnets[i].failed
                     ? 0
                     : collided(ctl_np_build_vnet(pl, &m->vnets[i]), &m->vnets[i].failed);
    for (size_t i = 0; rc == 0 && i < m->nnats; i++)
        rc = m->nats[i].failed ? 0
                               : collided(ctl_np_build_nat(pl, &m->nats[i], i), &m->nats[i].failed);
    for (size_t i = 0; rc == 0 && i < m->nlbs; i++)
        rc = m->lbs[i].failed ? 0 : collided(ctl_np_build_lb(pl, &m->lbs[i], i), &m->lbs[i].failed);
    for (size_t i = 0; rc == 0 && i < m->nfws; i++)
        rc = m->fws[i].failed ? 0 : collided(ctl_np_build_fw(pl, &m->fws[i]), &m->fws[i].failed);
    for (size_t i = 0; rc == 0 && i < m->nvms; i++)
        rc = ctl_np_vm_ok(&m->vms[i]) ? collided(ctl_np_build_vm(pl, &m->vms[i]), &m->vms[i].failed)
                                      : 0;
    return rc;
}

/* ---- step 4: processes ---- */

static int
write_if_changed(const char *path, const struct scc_buf *content)
{
    struct scc_buf old;
    bool same;

    scc_buf_init(&old, content->len + 1);
    same = scc_file_read(path, content->len + 1, &old) == 0 && old.len == content->len &&
           (content->len == 0 || memcmp(old.data, content->data, content->len) == 0);
    scc_buf_fini(&old);
    return same ? 0 : scc_file_write_atomic(path, content->data, content->len, 0600);
}

static int
proc_dirs(const struct ctl_np_proc *pr)
{
    char tmp[CTL_PROV_PATH_MAX], sub[CTL_PROV_PATH_MAX + 8];
    int rc;

    snprintf(tmp, sizeof(tmp), "%s", pr->log);
    if ((rc = scc_dir_ensure(dirname(tmp), 0700)) < 0)
        return rc;
    /* A VM's agent keeps its key and certificate in DIR/agent. */
    for (size_t i = 0; pr->argv[i] && pr->argv[i + 1]; i++) {
        if (strcmp(pr->argv[i], "--state-dir") == 0) {
            snprintf(sub, sizeof(sub), "%s", pr->argv[i + 1]);
            return scc_dir_ensure(sub, 0700);
        }
    }
    return 0;
}

static void
proc_one(struct ctl_np_plan *pl, struct ctl_np_proc *pr)
{
    char err[512];
    json_t *o = ctl_prov_status_ok(pl->m->status, pr->owner, true);
    bool started = false;
    pid_t pid = 0;
    int rc;

    if ((rc = proc_dirs(pr)) == 0 && pr->file_path[0])
        rc = write_if_changed(pr->file_path, &pr->file);
    if (rc < 0) {
        ctl_prov_status_fail(pl->m->status, pr->owner, "cannot prepare %s: %s", pr->log,
                             scc_strerror(rc));
        return;
    }
    if ((rc = ctl_prov_proc_ensure(pl->p, pl->ns[pr->ns].name, pr->pidfile, pr->argv, pr->log, &pid,
                                   &started, err, sizeof(err))) < 0) {
        ctl_prov_status_fail(pl->m->status, pr->owner, "%s", err);
        return;
    }
    if (o && strcmp(pr->argv[1], "fwproxy") == 0) {
        json_object_set_new(o, "proxy_pid", json_integer(pid));
        return;
    }
    if (o) {
        json_object_set_new(o, "pid", json_integer(pid));
        json_object_set_new(o, "log", json_string(pr->log));
        json_object_set_new(o, "pidfile", json_string(pr->pidfile));
    }
}

static bool
plan_has_pidfile(const struct ctl_np_plan *pl, const char *path)
{
    for (size_t i = 0; i < pl->nprocs; i++) {
        if (strcmp(pl->procs[i].pidfile, path) == 0)
            return true;
    }
    return false;
}

static bool
plan_keeps(const char *dir, const char *name, const char *path, void *arg)
{
    const struct ctl_np_plan *pl = arg;

    if (pl == NULL)
        return false;
    return strcmp(dir, "proc") == 0 ? plan_has_pidfile(pl, path)
                                    : ctl_np_ns_find(pl, dir, name) >= 0;
}

/* Pid files, VM and firewall directories that the plan no longer has:
 * the processes are stopped together, then the directories go. */
int
ctl_np_prune_state(const struct ctl_prov *p, const struct ctl_np_plan *pl, json_t *removed)
{
    static const char *const dirs[] = {"proc", "vm", "fw"};

    ctl_prov_prune(p, dirs, 3, plan_keeps, (void *)pl, removed);
    return 0;
}

static void
procs_step(struct ctl_np_plan *pl)
{
    for (size_t i = 0; i < pl->nprocs; i++)
        proc_one(pl, &pl->procs[i]);
    (void)ctl_np_prune_state(pl->p, pl, NULL);
}

/* ---- the record gc works from ---- */

static int
save_wanted(const struct ctl_np_plan *pl)
{
    char dev[NP_IFNAME_MAX];
    json_t *o = json_pack("{s:[], s:[], s:[]}", "namespaces", "host_links", "pidfiles");
    int rc;

    if (o == NULL)
        return SCC_ENOMEM;
    for (size_t i = 0; i < pl->nns; i++) {
        if ((int)i != pl->host)
            json_array_append_new(json_object_get(o, "namespaces"), json_string(pl->ns[i].name));
    }
    snprintf(dev, sizeof(dev), "%s-i", pl->p->prefix);
    json_array_append_new(json_object_get(o, "host_links"), json_string(dev));
    for (size_t i = 0; i < pl->nprocs; i++)
        json_array_append_new(json_object_get(o, "pidfiles"), json_string(pl->procs[i].pidfile));
    rc = ctl_prov_record_save(pl->p, "netns.json", o);
    json_decref(o);
    return rc;
}

/* ---- apply ---- */

static int
ensure_dirs(const struct ctl_prov *p, char *err, size_t cap)
{
    static const char *const subs[] = {"", "/ns", "/proc", "/vm", "/fw"};
    char path[CTL_PROV_PATH_MAX];
    int rc;

    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        if ((rc = ctl_prov_path(path, sizeof(path), "%s%s", p->state_dir, subs[i])) < 0 ||
            (rc = scc_dir_ensure(path, 0700)) < 0) {
            snprintf(err, cap, "cannot create %s: %s", path, scc_strerror(rc));
            return rc;
        }
    }
    return 0;
}

static void
provider_facts(const struct ctl_np_plan *pl)
{
    json_t *o = ctl_prov_status_ok(pl->m->status, "provider", true);
    char dev[NP_IFNAME_MAX], table[32];

    if (o == NULL)
        return;
    snprintf(dev, sizeof(dev), "%s-i", pl->p->prefix);
    snprintf(table, sizeof(table), "%s_host", pl->p->prefix);
    json_object_set_new(o, "kind", json_string("netns"));
    json_object_set_new(o, "prefix", json_string(pl->p->prefix));
    json_object_set_new(o, "internet_namespace", json_string(pl->ns[pl->inet].name));
    json_object_set_new(o, "host_link", json_string(dev));
    json_object_set_new(o, "host_nft_table", json_string(table));
    json_object_set_new(o, "namespaces", json_integer((json_int_t)pl->nns - 1));
}

static int
netns_apply(struct ctl_prov *p, struct ctl_prov_model *m, char *err, size_t cap)
{
    struct ctl_np_plan pl = {.p = p, .m = m, .host = -1, .inet = -1};
    char boot[40];
    int rc;

    ctl_np_boot_id(boot);
    if ((rc = ensure_dirs(p, err, cap)) < 0)
        return rc;
    if ((rc = plan_build(&pl)) < 0) {
        snprintf(err, cap, "cannot plan the topology: %s", scc_strerror(rc));
        goto out;
    }
    if ((rc = ctl_np_ns_step(&pl, boot, err, cap)) < 0)
        goto out;
    if ((rc = ctl_np_links_step(&pl)) < 0) {
        snprintf(err, cap, "cannot list or create links: %s", scc_strerror(rc));
        goto out;
    }
    for (size_t i = 0; rc == 0 && i < pl.nns; i++)
        rc = ctl_np_config_ns(&pl, (int)i, boot);
    if (rc < 0) {
        snprintf(err, cap, "cannot configure namespaces: %s", scc_strerror(rc));
        goto out;
    }
    procs_step(&pl);
    provider_facts(&pl);
    rc = save_wanted(&pl);
out:
    plan_free(&pl);
    return rc;
}

const struct ctl_prov_ops ctl_prov_netns_ops = {
        .kind = "netns",
        .isolated = true,
        .apply = netns_apply,
        .status = ctl_np_netns_status,
        .gc = ctl_np_netns_gc,
        .teardown = ctl_np_netns_teardown,
};
