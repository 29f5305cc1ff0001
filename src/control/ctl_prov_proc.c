/*
 * ctl_prov_proc.c - the process provider: for anyone without root.  A VM
 * is scc-agent started as a plain process on this host, dialling the
 * relay's loopback address (control_plane.relay.local) when the document
 * gives one.  VNets, NSGs, NAT gateways, route tables, firewalls and load
 * balancers are recorded but have no data plane, and every status says
 * "isolated": false; isolation tests skip themselves on this provider.
 */
#include "ctl_prov_int.h"

#include "common/err.h"
#include "common/file.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARGV_MAX 24

static int
ensure_dirs(const struct ctl_prov *p)
{
    char path[CTL_PROV_PATH_MAX];
    int rc;

    if ((rc = scc_dir_ensure(p->state_dir, 0700)) < 0 ||
        (rc = ctl_prov_path(path, sizeof(path), "%s/proc", p->state_dir)) < 0 ||
        (rc = scc_dir_ensure(path, 0700)) < 0 ||
        (rc = ctl_prov_path(path, sizeof(path), "%s/vm", p->state_dir)) < 0)
        return rc;
    return scc_dir_ensure(path, 0700);
}

static int
vm_files(const struct ctl_prov *p, const struct ctl_prov_vm *vm, char *dir, size_t cap)
{
    char path[CTL_PROV_PATH_MAX + 16];
    int rc;

    if ((rc = ctl_prov_path(dir, cap, "%s/vm/%s", p->state_dir, vm->h)) < 0 ||
        (rc = scc_dir_ensure(dir, 0700)) < 0 ||
        (rc = ctl_prov_path(path, sizeof(path), "%s/agent", dir)) < 0 ||
        (rc = scc_dir_ensure(path, 0700)) < 0)
        return rc;
    if (vm->token == NULL)
        return 0;
    if ((rc = ctl_prov_path(path, sizeof(path), "%s/join-token", dir)) < 0)
        return rc;
    return scc_file_write_atomic(path, vm->token, strlen(vm->token), 0600);
}

static void
vm_start(struct ctl_prov *p, const struct ctl_prov_model *m, const struct ctl_prov_vm *vm)
{
    char dir[CTL_PROV_PATH_MAX], pidfile[CTL_PROV_PATH_MAX], log[CTL_PROV_PATH_MAX + 16], err[512];
    const char *argv[ARGV_MAX];
    json_t *o = ctl_prov_status_ok(m->status, vm->id, false);
    struct scc_buf store;
    bool started;
    pid_t pid;
    int rc;

    scc_buf_init(&store, 64u << 10);
    if ((rc = vm_files(p, vm, dir, sizeof(dir))) == 0 &&
        (rc = ctl_prov_path(pidfile, sizeof(pidfile), "%s/proc/vm-%s.pid", p->state_dir, vm->h)) ==
                0 &&
        (rc = ctl_prov_path(log, sizeof(log), "%s/agent.log", dir)) == 0)
        rc = ctl_prov_agent_argv(p, vm, dir, m->relay_local ? m->relay_local : vm->relay, false,
                                 &store, argv, ARGV_MAX);
    if (rc == 0 && (rc = ctl_prov_proc_ensure(p, NULL, pidfile, argv, log, &pid, &started, err,
                                              sizeof(err))) < 0)
        ctl_prov_status_fail(m->status, vm->id, "%s", err);
    else if (rc < 0)
        ctl_prov_status_fail(m->status, vm->id, "cannot prepare %s: %s", dir, scc_strerror(rc));
    if (rc == 0 && o) {
        json_object_set_new(o, "pid", json_integer(pid));
        json_object_set_new(o, "log", json_string(log));
        json_object_set_new(o, "pidfile", json_string(pidfile));
    }
    if (vm->legacy)
        ctl_prov_status_note(m->status, vm->id,
                             "legacy mode is not simulated by the process "
                             "provider: the agent dials out as in SCC mode");
    scc_buf_fini(&store);
}

static bool
vm_wanted(const json_t *wanted, const char *h)
{
    size_t i;
    json_t *v;

    json_array_foreach(json_object_get(wanted, "vms"), i, v)
    {
        if (strcmp(json_string_value(v), h) == 0)
            return true;
    }
    return false;
}

/* "vm-<h>.pid" in proc/, "<h>" in vm/: kept while wanted has VM h. */
static bool
vm_keeps(const char *dir, const char *name, const char *path, void *arg)
{
    char h[CTL_PROV_HASH_LEN + 1];

    (void)path;
    if (strcmp(dir, "proc") == 0)
        name = strncmp(name, "vm-", 3) == 0 ? name + 3 : "";
    snprintf(h, sizeof(h), "%s", name);
    return vm_wanted(arg, h);
}

/* Pid files and VM directories of VMs that wanted (NULL: none) lacks. */
static void
prune(const struct ctl_prov *p, const json_t *wanted, json_t *removed)
{
    static const char *const dirs[] = {"proc", "vm"};

    ctl_prov_prune(p, dirs, 2, vm_keeps, (void *)wanted, removed);
}

static int
proc_apply(struct ctl_prov *p, struct ctl_prov_model *m, char *err, size_t cap)
{
    json_t *wanted = json_pack("{s:[]}", "vms"), *o;
    int rc;

    if (wanted == NULL)
        return SCC_ENOMEM;
    if ((rc = ensure_dirs(p)) < 0) {
        snprintf(err, cap, "cannot create %s: %s", p->state_dir, scc_strerror(rc));
        goto out;
    }
    for (size_t i = 0; i < m->nvms; i++) {
        const struct ctl_prov_vm *vm = &m->vms[i];

        if (vm->failed || vm->subnet == NULL || vm->subnet->failed)
            continue;
        json_array_append_new(json_object_get(wanted, "vms"), json_string(vm->h));
        if (p->ca_file[0] == '\0')
            ctl_prov_status_fail(m->status, vm->id, "no CA certificate for agents (--ca)");
        else
            vm_start(p, m, vm);
    }
    prune(p, wanted, NULL);
    rc = ctl_prov_record_save(p, "process.json", wanted);
    if ((o = ctl_prov_status_ok(m->status, "provider", false)) != NULL) {
        json_object_set_new(o, "kind", json_string("process"));
        json_object_set_new(o, "prefix", json_string(p->prefix));
    }
out:
    json_decref(wanted);
    return rc;
}

static int
proc_status(struct ctl_prov *p, json_t *status, char *err, size_t cap)
{
    const char *id;
    json_t *o;

    (void)p, (void)err, (void)cap;
    json_object_foreach(status, id, o)
    {
        const char *pidfile = json_string_value(json_object_get(o, "pidfile"));
        pid_t pid = pidfile ? ctl_prov_proc_pid(pidfile) : 0;

        if (pidfile) {
            json_object_set_new(o, "agent_running", json_boolean(pid > 0));
            json_object_set_new(o, "pid", pid > 0 ? json_integer(pid) : json_null());
        }
    }
    return 0;
}

static int
proc_gc(struct ctl_prov *p, json_t *removed, char *err, size_t cap)
{
    json_t *wanted = ctl_prov_record_load(p, "process.json");

    (void)err, (void)cap;
    prune(p, wanted, removed);
    json_decref(wanted);
    return 0;
}

static int
proc_teardown(struct ctl_prov *p, char *err, size_t cap)
{
    static const char *const state[] = {"proc", "vm", "process.json", "status.json"};
    char path[CTL_PROV_PATH_MAX];

    (void)err, (void)cap;
    prune(p, NULL, NULL);
    for (size_t i = 0; i < sizeof(state) / sizeof(state[0]); i++) {
        if (ctl_prov_path(path, sizeof(path), "%s/%s", p->state_dir, state[i]) == 0)
            (void)ctl_prov_rmtree(path);
    }
    return 0;
}

const struct ctl_prov_ops ctl_prov_process_ops = {
        .kind = "process",
        .isolated = false,
        .apply = proc_apply,
        .status = proc_status,
        .gc = proc_gc,
        .teardown = proc_teardown,
};
