/*
 * ctl_prov_netns_vm.c - a VM: a namespace with one NIC (eth0, its private
 * IP, and its public IP in legacy mode only), default route to the
 * subnet's gateway, and scc-agent started inside with its join token, as
 * cloud-init would.
 *
 * The token goes to the agent in a file (state_dir/vm/<h>/join-token,
 * 0600), never on the command line where ps would show it.  The agent's
 * state (key, certificate, run spools) and its log live next to it.
 */
#include "ctl_prov_netns.h"

#include "common/err.h"
#include "common/json.h"

#include <stdio.h>
#include <string.h>

/* Whether this scc-agent has the legacy inbound mode, asked once. */
static bool
agent_has_legacy(struct ctl_prov *p)
{
    const char *argv[] = {p->agent_bin, "--help", NULL};
    struct scc_buf out;
    struct ctl_prov_cmd c = {.argv = argv, .out = &out, .err = &out, .timeout_ms = 5000};

    if (p->agent_legacy >= 0)
        return p->agent_legacy == 1;
    scc_buf_init(&out, 1u << 20);
    p->agent_legacy = ctl_prov_cmd_run(&c) == 0 && strstr(scc_buf_str(&out), "--mode") &&
                      strstr(scc_buf_str(&out), "--listen") && strstr(scc_buf_str(&out), "legacy");
    scc_buf_fini(&out);
    return p->agent_legacy == 1;
}

static int
vm_nic(struct ctl_np_plan *pl, int ns, const struct ctl_prov_vm *vm)
{
    char ip[16], gw[16], pip[16];
    int rc;

    ctl_np_ip(vm->ip, ip);
    ctl_np_ip(vm->subnet->net + 1, gw);
    if ((rc = ctl_np_item(pl, ns, "ip link set dev lo up")) < 0 ||
        (rc = ctl_np_item(pl, ns, "ip addr replace %s/%u dev eth0", ip, vm->subnet->len)) < 0)
        return rc;
    if (vm->legacy && vm->pip &&
        (rc = ctl_np_item(pl, ns, "ip addr replace %s/32 dev eth0", ctl_np_ip(vm->pip, pip))) < 0)
        return rc;
    if ((rc = ctl_np_item(pl, ns, "ip link set dev eth0 up")) < 0 ||
        (rc = ctl_np_item(pl, ns, "sysctl net/ipv6/conf/eth0/disable_ipv6 1")) < 0)
        return rc;
    /* src: replies and new flows leave from the private address; only a
     * socket bound to the public IP (legacy inbound) uses that one. */
    return ctl_np_item(pl, ns, "ip route replace default via %s dev eth0 src %s", gw, ip);
}

static int
vm_agent(struct ctl_np_plan *pl, int ns, const struct ctl_prov_vm *vm, bool legacy_listen)
{
    char dir[CTL_PROV_PATH_MAX];
    const char *argv[NP_ARGV_MAX];
    struct ctl_np_proc *pr = ctl_np_proc_add(pl, ns, vm->id);
    struct scc_buf store;
    int rc = pr ? 0 : SCC_ENOMEM;

    scc_buf_init(&store, 64u << 10);
    if (rc == 0)
        rc = ctl_prov_path(dir, sizeof(dir), "%s/vm/%s", pl->p->state_dir, vm->h);
    if (rc == 0)
        rc = ctl_prov_agent_argv(pl->p, vm, dir, vm->relay, legacy_listen, &store, argv,
                                 NP_ARGV_MAX);
    if (rc == 0)
        rc = ctl_np_proc_argv(pr, argv);
    if (rc == 0)
        rc = ctl_prov_path(pr->pidfile, sizeof(pr->pidfile), "%s/proc/vm-%s.pid", pl->p->state_dir,
                           vm->h);
    if (rc == 0)
        rc = ctl_prov_path(pr->log, sizeof(pr->log), "%s/agent.log", dir);
    if (rc == 0 && vm->token &&
        (rc = ctl_prov_path(pr->file_path, sizeof(pr->file_path), "%s/join-token", dir)) == 0)
        rc = scc_buf_put_str(&pr->file, vm->token);
    scc_buf_fini(&store);
    return rc;
}

static void
vm_facts(struct ctl_np_plan *pl, const struct ctl_prov_vm *vm, int ns, bool legacy_listen)
{
    json_t *o = ctl_prov_status_ok(pl->m->status, vm->id, true);

    if (o == NULL)
        return;
    json_object_set_new(o, "namespace", json_string(pl->ns[ns].name));
    if (vm->legacy)
        json_object_set_new(o, "legacy_listener", json_boolean(legacy_listen));
    if (vm->legacy && !legacy_listen)
        ctl_prov_status_note(pl->m->status, vm->id,
                             "this scc-agent has no legacy mode (--mode legacy --listen), so the "
                             "management port "
                             "%u stays closed; the public IP and NSG are in place",
                             vm->legacy_port);
    if (!vm->legacy && vm->pip)
        ctl_prov_status_note(pl->m->status, vm->id,
                             "an SCC node with a public IP: it is used for egress only; nothing "
                             "listens on it");
}

int
ctl_np_build_vm(struct ctl_np_plan *pl, struct ctl_prov_vm *vm)
{
    int ns = ctl_np_ns_add(pl, "vm", vm->h, vm->id);
    int vns = ctl_np_ns_find(pl, "vnet", vm->subnet->vnet->h);
    bool legacy_listen = vm->legacy && agent_has_legacy(pl->p);
    char port[NP_IFNAME_MAX];
    int rc;

    if (ns < 0)
        return ns;
    if (vns < 0) {
        ctl_prov_status_fail(pl->m->status, vm->id, "its VNet '%s' failed", vm->subnet->vnet->id);
        return 0;
    }
    snprintf(port, sizeof(port), "m%s", vm->h);
    if ((rc = ctl_np_link(pl, ns, "eth0", vns, port)) < 0 || (rc = vm_nic(pl, ns, vm)) < 0)
        return rc;
    if (pl->p->ca_file[0] == '\0') /* the VM exists, but its agent could not trust anyone */
        ctl_prov_status_fail(pl->m->status, vm->id, "no CA certificate for agents (--ca)");
    else if ((rc = vm_agent(pl, ns, vm, legacy_listen)) < 0)
        return rc;
    vm_facts(pl, vm, ns, legacy_listen);
    return 0;
}
