/*
 * ctl_prov_model.c - the model's life cycle, the status helpers, and the
 * egress analysis: which outbound method each VM actually has, in Azure's
 * order of precedence (network-compat.md §5.2), so the status can say
 * plainly why a node cannot reach the relay.
 */
#include "ctl_prov_int.h"

#include "common/err.h"
#include "common/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- status ---- */

json_t *
ctl_prov_status_ok(json_t *status, const char *id, bool isolated)
{
    json_t *o = json_object_get(status, id);

    if (o == NULL) {
        o = json_pack("{s:s, s:b}", "state", "Succeeded", "isolated", isolated);
        if (o == NULL || json_object_set_new(status, id, o) < 0)
            return NULL;
    }
    return o;
}

static void __attribute__((format(printf, 2, 0)))
append_message(json_t *o, const char *fmt, va_list ap)
{
    const char *old = json_string_value(json_object_get(o, "message"));
    char msg[1024], both[2048];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (old && strstr(old, msg)) /* the same reason twice says nothing new */
        return;
    snprintf(both, sizeof(both), "%s%s%s", old ? old : "", old ? "; " : "", msg);
    json_object_set_new(o, "message", json_string(both));
}

void
ctl_prov_status_fail(json_t *status, const char *id, const char *fmt, ...)
{
    json_t *o = ctl_prov_status_ok(status, id, true);
    va_list ap;

    if (o == NULL)
        return;
    json_object_set_new(o, "state", json_string("Failed"));
    va_start(ap, fmt);
    append_message(o, fmt, ap);
    va_end(ap);
}

void
ctl_prov_status_note(json_t *status, const char *id, const char *fmt, ...)
{
    json_t *o = ctl_prov_status_ok(status, id, true);
    va_list ap;

    if (o == NULL)
        return;
    va_start(ap, fmt);
    append_message(o, fmt, ap);
    va_end(ap);
}

bool
ctl_prov_status_failed(const json_t *status)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)status, k, v)
    {
        const char *s = json_string_value(json_object_get(v, "state"));

        if (s && strcmp(s, "Failed") == 0)
            return true;
    }
    return false;
}

/* ---- egress ---- */

const char *
ctl_prov_egress_name(enum ctl_prov_egress e)
{
    static const char *const names[] = {
            [CTL_PROV_EG_NONE] = "none",           [CTL_PROV_EG_DROP] = "dropped",
            [CTL_PROV_EG_NAT] = "nat_gateway",     [CTL_PROV_EG_FIREWALL] = "firewall",
            [CTL_PROV_EG_APPLIANCE] = "appliance", [CTL_PROV_EG_PIP] = "public_ip",
            [CTL_PROV_EG_LB] = "load_balancer",    [CTL_PROV_EG_DEFAULT] = "default_outbound",
    };

    return (size_t)e < sizeof(names) / sizeof(names[0]) ? names[e] : "none";
}

/* The most specific UDR for dst; only a 0.0.0.0/0 route when dst is 0
 * and whole is set (the question "where does the default route go?"). */
static const struct ctl_prov_route *
udr_lookup(const struct ctl_prov_rt *rt, uint32_t dst, bool whole)
{
    const struct ctl_prov_route *best = NULL;
    uint32_t best_size = UINT32_MAX;

    for (size_t i = 0; rt && !rt->failed && i < rt->nroutes; i++) {
        const struct ctl_prov_route *r = &rt->routes[i];

        for (size_t k = 0; k < r->dst.n; k++) {
            const struct ctl_prov_ival *iv = &r->dst.v[k];
            bool hit = whole ? iv->lo == 0 && iv->hi == UINT32_MAX : dst >= iv->lo && dst <= iv->hi;

            if (hit && (best == NULL || iv->hi - iv->lo < best_size)) {
                best = r;
                best_size = iv->hi - iv->lo;
            }
        }
    }
    return best;
}

/* Without a UDR in the way: NAT gateway, then instance public IP, then a
 * load balancer outbound rule, then default outbound access. */
static enum ctl_prov_egress
system_egress(struct ctl_prov_vm *vm, uint32_t *ip)
{
    const struct ctl_prov_subnet *s = vm->subnet;

    if (s->nat && !s->nat->failed)
        return *ip = s->nat->ips[0], CTL_PROV_EG_NAT;
    if (vm->pip)
        return *ip = vm->pip, CTL_PROV_EG_PIP;
    if (vm->lb && !vm->lb->failed)
        return *ip = vm->lb->frontend, CTL_PROV_EG_LB;
    if (s->default_outbound && s->vnet->default_outbound_ip)
        return *ip = s->vnet->default_outbound_ip, CTL_PROV_EG_DEFAULT;
    if (s->default_outbound)
        snprintf(vm->why, sizeof(vm->why),
                 "subnet '%s' has default_outbound_access but its VNet has no "
                 "default_outbound_ip",
                 s->id);
    else
        snprintf(vm->why, sizeof(vm->why),
                 "subnet '%s' has no outbound method: no NAT gateway, no route table sending "
                 "0.0.0.0/0 to a firewall (VirtualAppliance), no public IP on the VM, no load "
                 "balancer outbound rule, and default outbound access is off (retired for VMs "
                 "on 2025-09-30)",
                 s->id);
    return CTL_PROV_EG_NONE;
}

static enum ctl_prov_egress
route_egress(struct ctl_prov_vm *vm, const struct ctl_prov_route *r, uint32_t *ip)
{
    const char *rt = vm->subnet->rt->id;

    switch (r->hop) {
    case CTL_PROV_HOP_INTERNET:
        return system_egress(vm, ip);
    case CTL_PROV_HOP_APPLIANCE:
        if (r->fw && !r->fw->failed)
            return vm->fw = r->fw, *ip = r->fw->public_ip, CTL_PROV_EG_FIREWALL;
        if (r->vm)
            return vm->nva = r->vm, CTL_PROV_EG_APPLIANCE;
        snprintf(vm->why, sizeof(vm->why),
                 "route '%s' of '%s' points at a missing or failed "
                 "appliance",
                 r->name, rt);
        return CTL_PROV_EG_DROP;
    default:
        snprintf(vm->why, sizeof(vm->why), "route '%s' of '%s' sends it to next hop %s", r->name,
                 rt,
                 r->hop == CTL_PROV_HOP_NONE      ? "None (dropped)"
                 : r->hop == CTL_PROV_HOP_GATEWAY ? "VirtualNetworkGateway, which is not simulated"
                                                  : "VnetLocal");
        return CTL_PROV_EG_DROP;
    }
}

static enum ctl_prov_egress
egress_to(struct ctl_prov_vm *vm, uint32_t dst, bool whole, uint32_t *ip)
{
    const struct ctl_prov_route *r = udr_lookup(vm->subnet->rt, dst, whole);

    *ip = 0;
    return r ? route_egress(vm, r, ip) : system_egress(vm, ip);
}

static void
put_ip(json_t *o, const char *key, uint32_t ip)
{
    char s[16];

    ctl_prov_ip_format(ip, s, sizeof(s));
    json_object_set_new(o, key, ip ? json_string(s) : json_null());
}

/* The facts a VM's status carries, and the plain reason when its agent
 * cannot reach the relay. */
static void
vm_egress(struct ctl_prov_model *m, struct ctl_prov_vm *vm)
{
    json_t *o = ctl_prov_status_ok(m->status, vm->id, true);
    uint32_t relay_ip;

    if (o == NULL || vm->failed || vm->subnet == NULL)
        return;
    vm->relay_egress = egress_to(vm, m->relay_ip, false, &relay_ip);
    if (vm->relay_egress == CTL_PROV_EG_NONE || vm->relay_egress == CTL_PROV_EG_DROP)
        ctl_prov_status_note(m->status, vm->id, "cannot reach the relay: %s", vm->why);
    vm->egress = egress_to(vm, 0, true, &vm->egress_ip);
    json_object_set_new(o, "egress", json_string(ctl_prov_egress_name(vm->egress)));
    put_ip(o, "egress_ip", vm->egress_ip);
    json_object_set_new(o, "relay_egress", json_string(ctl_prov_egress_name(vm->relay_egress)));
    put_ip(o, "relay_egress_ip", relay_ip);
    put_ip(o, "private_ip", vm->ip);
    put_ip(o, "public_ip", vm->pip);
    json_object_set_new(o, "mode", json_string(vm->legacy ? "legacy" : "scc"));
    json_object_set_new(o, "subnet", json_string(vm->subnet->id));
    if (vm->lb && vm->lb_hi)
        json_object_set_new(o, "snat_ports",
                            json_pack("{s:s, s:i, s:i}", "load_balancer", vm->lb->id, "first",
                                      (int)vm->lb_lo, "last", (int)vm->lb_hi));
}

int
ctl_prov_vnet_set(const struct ctl_prov_model *m, const struct ctl_prov_subnet *s,
                  struct ctl_prov_set *out)
{
    int rc = ctl_prov_set_add_set(out, &s->vnet->space);

    for (size_t i = 0; rc == 0 && i < m->nvms; i++) {
        const struct ctl_prov_vm *vm = &m->vms[i];

        if (vm->pip && vm->subnet && vm->subnet->vnet == s->vnet)
            rc = ctl_prov_set_add(out, vm->pip, vm->pip);
    }
    /* Azure counts the prefixes of user-defined routes in the tag, which
     * is why a 0.0.0.0/0 UDR famously widens it to everything. */
    for (size_t i = 0; rc == 0 && s->rt && i < s->rt->nroutes; i++) {
        if (s->rt->routes[i].hop == CTL_PROV_HOP_APPLIANCE)
            rc = ctl_prov_set_add_set(out, &s->rt->routes[i].dst);
    }
    return rc;
}

/* ---- life cycle ---- */

void
ctl_prov_model_free(struct ctl_prov_model *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->nvnets; i++) {
        ctl_prov_set_fini(&m->vnets[i].space);
        scc_free(m->vnets[i].subnets);
    }
    for (size_t i = 0; i < m->nrts; i++) {
        for (size_t k = 0; k < m->rts[i].nroutes; k++)
            ctl_prov_set_fini(&m->rts[i].routes[k].dst);
        scc_free(m->rts[i].routes);
    }
    scc_free(m->vnets);
    scc_free(m->nsgs);
    scc_free(m->nats);
    scc_free(m->rts);
    scc_free(m->fws);
    scc_free(m->lbs);
    scc_free(m->vms);
    ctl_prov_set_fini(&m->hosts);
    json_decref(m->status);
    json_decref(m->doc);
    scc_free(m);
}

int
ctl_prov_model_new(const json_t *desired, bool isolated, bool knobs, struct ctl_prov_model **out,
                   char *err, size_t cap)
{
    struct ctl_prov_model *m = scc_calloc(1, sizeof(*m));
    int rc = SCC_ENOMEM;

    *out = NULL;
    if (m == NULL || (m->status = json_object()) == NULL)
        goto out;
    ctl_prov_set_init(&m->hosts);
    m->doc = json_incref((json_t *)desired);
    if ((rc = ctl_prov_model_parse(m, desired, isolated, knobs, err, cap)) < 0)
        goto out;
    for (size_t i = 0; i < m->nvms; i++)
        vm_egress(m, &m->vms[i]);
    *out = m;
    m = NULL;
out:
    ctl_prov_model_free(m);
    return rc;
}
