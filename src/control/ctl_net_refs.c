/*
 * ctl_net_refs.c - what network resources point at, and what points at
 * them.  A body's references ({"id": ...} objects) are mirrored into
 * arm_refs; the read-only back-references Azure shows (an NSG's subnets,
 * a subnet's ipConfigurations, a public IP's ipConfiguration) are
 * computed from there and written into the target's stored body, so a
 * GET is still one cache lookup.
 */
#include "ctl_net_int.h"

#include "common/err.h"
#include "common/json.h"
#include "common/mem.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define PUBLIC_POOL "public"

json_t *
net_body(struct arm_call *k, const char *id)
{
    struct ctl_arm_row r;
    json_t *b;

    if (arm_row_get(k, id, &r) < 0)
        return NULL;
    b = arm_loads(r.body);
    ctl_arm_row_fini(&r);
    return b;
}

static void
add(json_t *refs, const char *kind, const char *src, const json_t *ref)
{
    const char *dst = json_string_value(json_object_get(ref, "id"));

    if (dst && src)
        json_array_append_new(refs, json_pack("[s, s, s]", kind, src, dst));
}

static void
conf_refs(json_t *refs, const json_t *confs, const char *subnet_kind, const char *pip_kind)
{
    size_t i, j;
    json_t *c, *pl;

    json_array_foreach(confs, i, c)
    {
        const char *src = json_string_value(json_object_get(c, "id"));
        json_t *p = json_object_get(c, "properties");

        if (subnet_kind)
            add(refs, subnet_kind, src, json_object_get(p, "subnet"));
        add(refs, pip_kind, src, json_object_get(p, "publicIPAddress"));
        json_array_foreach(json_object_get(p, "loadBalancerBackendAddressPools"), j, pl)
                add(refs, NET_REF_NIC_POOL, src, pl);
    }
}

json_t *
net_refs_of(const struct ctl_net_type *ty, const json_t *body)
{
    json_t *refs = json_array(), *p = json_object_get(body, "properties"), *c;
    const char *id = json_string_value(json_object_get(body, "id"));
    size_t i;

    if (strcmp(ty->type, "virtualNetworks") == 0) {
        json_array_foreach(json_object_get(p, "subnets"), i, c)
        {
            const char *src = json_string_value(json_object_get(c, "id"));
            json_t *sp = json_object_get(c, "properties");

            add(refs, NET_REF_SUBNET_NSG, src, json_object_get(sp, "networkSecurityGroup"));
            add(refs, NET_REF_SUBNET_RT, src, json_object_get(sp, "routeTable"));
            add(refs, NET_REF_SUBNET_NAT, src, json_object_get(sp, "natGateway"));
        }
    } else if (strcmp(ty->type, "natGateways") == 0) {
        json_array_foreach(json_object_get(p, "publicIpAddresses"), i, c)
                add(refs, NET_REF_NAT_PIP, id, c);
    } else if (strcmp(ty->type, "loadBalancers") == 0) {
        conf_refs(refs, json_object_get(p, "frontendIPConfigurations"), NULL, NET_REF_LB_PIP);
    } else if (strcmp(ty->type, "azureFirewalls") == 0) {
        conf_refs(refs, json_object_get(p, "ipConfigurations"), NET_REF_FW_SUBNET, NET_REF_FW_PIP);
    } else if (strcmp(ty->type, "networkInterfaces") == 0) {
        conf_refs(refs, json_object_get(p, "ipConfigurations"), NET_REF_NIC_SUBNET,
                  NET_REF_NIC_PIP);
        add(refs, NET_REF_NIC_NSG, id, json_object_get(p, "networkSecurityGroup"));
    }
    return refs;
}

json_t *
net_subnet(struct arm_call *k, const char *subnet_id, struct ctl_net_err *e)
{
    char top[CTL_ARM_ID_MAX];
    json_t *vnet = NULL, *s, *found = NULL;
    size_t i;

    if (ctl_arm_id_top(subnet_id, top, sizeof(top)) == 0)
        vnet = net_body(k, top);
    json_array_foreach(json_object_get(json_object_get(vnet, "properties"), "subnets"), i, s)
    {
        if (strcasecmp(json_string_value(json_object_get(s, "id")), subnet_id) == 0)
            found = json_incref(s);
    }
    json_decref(vnet);
    if (found == NULL && e)
        ctl_net_err_set(e, 400, "InvalidResourceReference",
                        "Subnet %.400s referenced by the request was not found.", subnet_id);
    return found;
}

/* ---- checking references ---- */

struct user_ctx {
    const char *owner;
    char other[CTL_ARM_ID_MAX];
};

static int
other_user(const char *owner, const char *kind, const char *src, const char *dst, void *arg)
{
    struct user_ctx *u = arg;

    (void)dst;
    if (strcasecmp(owner, u->owner) == 0 || strstr(kind, ".pip") == NULL)
        return 0;
    snprintf(u->other, sizeof(u->other), "%s", src);
    return 1;
}

/* The type a reference of kind must point at: {top type, child coll}. */
static void
expect(const char *kind, const char **type, const char **child)
{
    *child = NULL;
    if (strcmp(kind, NET_REF_SUBNET_NSG) == 0 || strcmp(kind, NET_REF_NIC_NSG) == 0)
        *type = "networkSecurityGroups";
    else if (strcmp(kind, NET_REF_SUBNET_RT) == 0)
        *type = "routeTables";
    else if (strcmp(kind, NET_REF_SUBNET_NAT) == 0)
        *type = "natGateways";
    else if (strstr(kind, ".pip"))
        *type = "publicIPAddresses";
    else if (strcmp(kind, NET_REF_NIC_POOL) == 0)
        *type = "loadBalancers", *child = "backendAddressPools";
    else
        *type = "virtualNetworks", *child = "subnets";
}

static bool
has_child(const json_t *body, const char *coll, const char *id)
{
    size_t i;
    json_t *c;

    json_array_foreach(json_object_get(json_object_get(body, "properties"), coll), i, c)
    {
        if (strcasecmp(json_string_value(json_object_get(c, "id")), id) == 0)
            return true;
    }
    return false;
}

static bool
ref_exists(struct arm_call *k, const char *kind, const char *owner, const char *dst)
{
    struct ctl_arm_target t, o;
    const char *type, *child;
    char top[CTL_ARM_ID_MAX];
    json_t *body;
    bool ok;

    expect(kind, &type, &child);
    if (ctl_arm_id_split(dst, &t) < 0 || ctl_arm_id_split(owner, &o) < 0 ||
        t.kind != CTL_ARM_T_RESOURCE || strcasecmp(t.sub, o.sub) != 0 ||
        strcasecmp(t.ns, ARM_NS_NETWORK) != 0 || strcasecmp(t.types[0], type) != 0 ||
        t.ntypes != (child ? 2u : 1u) || (child && strcasecmp(t.types[1], child) != 0) ||
        ctl_arm_id_top(dst, top, sizeof(top)) < 0)
        return false;
    if ((body = net_body(k, top)) == NULL)
        return false;
    ok = child == NULL || has_child(body, child, dst);
    json_decref(body);
    return ok;
}

int
net_refs_check(struct arm_call *k, const char *owner, const json_t *refs, struct ctl_net_err *e)
{
    struct user_ctx u = {owner, ""};
    size_t i;
    json_t *r;

    json_array_foreach(refs, i, r)
    {
        const char *kind = json_string_value(json_array_get(r, 0));
        const char *src = json_string_value(json_array_get(r, 1));
        const char *dst = json_string_value(json_array_get(r, 2));

        if (!ref_exists(k, kind, owner, dst)) {
            ctl_net_err_set(e, 400, "InvalidResourceReference",
                            "Resource %.300s referenced by resource %.300s was not found (or is "
                            "not of the right type, or is in another subscription).",
                            dst, src);
            return SCC_EINVAL;
        }
        if (strstr(kind, ".pip") &&
            ctl_store_arm_ref_each_to(k->c->store, dst, false, NULL, other_user, &u) > 0) {
            ctl_net_err_set(e, 400, "PublicIPAddressInUse",
                            "Public IP address %.300s is already used by %.300s.", dst, u.other);
            return SCC_EINVAL;
        }
    }
    return 0;
}

/* ---- writing references and back-references ---- */

static int
collect_dst(const char *owner, const char *kind, const char *src, const char *dst, void *arg)
{
    char top[CTL_ARM_ID_MAX], lc[CTL_ARM_ID_MAX];

    (void)owner, (void)kind, (void)src;
    if (ctl_arm_id_top(dst, top, sizeof(top)) == 0 && ctl_arm_lower(top, lc, sizeof(lc)) == 0)
        json_object_set_new(arg, lc, json_string(top));
    return 0;
}

int
net_refs_write(struct arm_call *k, const char *owner, const json_t *refs)
{
    struct ctl_store *st = k->c->store;
    json_t *tops = json_object(), *r, *v;
    const char *key;
    size_t i;
    int rc;

    if (tops == NULL)
        return SCC_ENOMEM;
    if ((rc = ctl_store_arm_ref_each_owner(st, owner, NULL, collect_dst, tops)) < 0 ||
        (rc = ctl_store_arm_ref_del_owner(st, owner)) < 0)
        goto out;
    json_array_foreach(refs, i, r)
    {
        const char *kind = json_string_value(json_array_get(r, 0));
        const char *src = json_string_value(json_array_get(r, 1));
        const char *dst = json_string_value(json_array_get(r, 2));

        if ((rc = ctl_store_arm_ref_add(st, owner, kind, src, dst)) < 0)
            goto out;
        (void)collect_dst(owner, kind, src, dst, tops);
    }
    json_object_foreach(tops, key, v)
    {
        if ((rc = net_rerender(k, json_string_value(v))) < 0)
            goto out;
    }
out:
    json_decref(tops);
    return rc;
}

struct src_ctx {
    json_t *arr;
    const char *const *kinds;
};

static int
collect_src(const char *owner, const char *kind, const char *src, const char *dst, void *arg)
{
    struct src_ctx *s = arg;

    (void)owner, (void)dst;
    for (const char *const *k = s->kinds; *k; k++) {
        if (strcmp(*k, kind) == 0)
            return json_array_append_new(s->arr, json_pack("{s:s}", "id", src)) ? SCC_ENOMEM : 0;
    }
    return 0;
}

/* {"id": src} of every ref of one of kinds that points at dst. */
static json_t *
sources(struct arm_call *k, const char *dst, const char *const *kinds)
{
    struct src_ctx s = {json_array(), kinds};

    if (ctl_store_arm_ref_each_to(k->c->store, dst, false, NULL, collect_src, &s) < 0) {
        json_decref(s.arr);
        return NULL;
    }
    return s.arr;
}

static void
set_list(json_t *props, const char *key, json_t *list)
{
    if (json_array_size(list))
        json_object_set(props, key, list);
    else
        json_object_del(props, key);
    json_decref(list);
}

static void
set_one(json_t *props, const char *key, json_t *list)
{
    if (json_array_size(list))
        json_object_set(props, key, json_array_get(list, 0));
    else
        json_object_del(props, key);
    json_decref(list);
}

static void
backrefs(struct arm_call *k, const char *type, json_t *body)
{
    static const char *const k_nsg_sub[] = {NET_REF_SUBNET_NSG, NULL};
    static const char *const k_nsg_nic[] = {NET_REF_NIC_NSG, NULL};
    static const char *const k_rt[] = {NET_REF_SUBNET_RT, NULL};
    static const char *const k_nat[] = {NET_REF_SUBNET_NAT, NULL};
    static const char *const k_pip[] = {NET_REF_NIC_PIP, NET_REF_LB_PIP, NET_REF_FW_PIP, NULL};
    static const char *const k_pipnat[] = {NET_REF_NAT_PIP, NULL};
    static const char *const k_ipc[] = {NET_REF_NIC_SUBNET, NET_REF_FW_SUBNET, NULL};
    static const char *const k_pool[] = {NET_REF_NIC_POOL, NULL};
    json_t *p = json_object_get(body, "properties"), *c;
    const char *id = json_string_value(json_object_get(body, "id"));
    size_t i;

    if (strcasecmp(type, "Microsoft.Network/networkSecurityGroups") == 0) {
        set_list(p, "subnets", sources(k, id, k_nsg_sub));
        set_list(p, "networkInterfaces", sources(k, id, k_nsg_nic));
    } else if (strcasecmp(type, "Microsoft.Network/routeTables") == 0) {
        set_list(p, "subnets", sources(k, id, k_rt));
    } else if (strcasecmp(type, "Microsoft.Network/natGateways") == 0) {
        set_list(p, "subnets", sources(k, id, k_nat));
    } else if (strcasecmp(type, "Microsoft.Network/publicIPAddresses") == 0) {
        set_one(p, "ipConfiguration", sources(k, id, k_pip));
        set_one(p, "natGateway", sources(k, id, k_pipnat));
    } else if (strcasecmp(type, "Microsoft.Network/virtualNetworks") == 0) {
        json_array_foreach(json_object_get(p, "subnets"), i, c)
                set_list(json_object_get(c, "properties"), "ipConfigurations",
                         sources(k, json_string_value(json_object_get(c, "id")), k_ipc));
    } else if (strcasecmp(type, "Microsoft.Network/loadBalancers") == 0) {
        json_array_foreach(json_object_get(p, "backendAddressPools"), i, c)
        {
            json_t *l = sources(k, json_string_value(json_object_get(c, "id")), k_pool);

            json_object_set_new(json_object_get(c, "properties"), "backendIPConfigurations",
                                l ? l : json_array());
        }
    }
}

int
net_rerender(struct arm_call *k, const char *top)
{
    struct ctl_arm_row r;
    json_t *body;
    char *before = NULL, *after = NULL;
    int rc;

    if ((rc = arm_row_get(k, top, &r)) == SCC_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    if ((body = arm_loads(r.body)) == NULL) {
        ctl_arm_row_fini(&r);
        return SCC_ENOMEM;
    }
    before = arm_dumps(body, NULL);
    backrefs(k, r.type, body);
    after = arm_dumps(body, NULL);
    rc = before && after ? 0 : SCC_ENOMEM;
    if (rc == 0 && strcmp(before, after) != 0)
        rc = arm_row_put_json(k, &r, body);
    scc_free(before);
    scc_free(after);
    json_decref(body);
    ctl_arm_row_fini(&r);
    return rc;
}

/* ---- addresses ---- */

static int
alloc_public(struct arm_call *k, const char *owner, char ip[16])
{
    struct ctl_store *st = k->c->store;
    const char *range = k->c->cfg->public_ip_range, *dash = strchr(range, '-');
    char who[CTL_ARM_ID_MAX], first[16];
    uint32_t lo, hi;
    int rc;

    if ((rc = ctl_store_arm_ip_get(st, PUBLIC_POOL, owner, ip, 16)) != SCC_ENOTFOUND)
        return rc;
    /* --public-ip-range, inside 203.0.113.2-254 (TEST-NET-3: documentation
     * space, never routed; .1 is the simulated internet's router). */
    snprintf(first, sizeof(first), "%.*s", dash ? (int)(dash - range) : 0, range);
    if (dash == NULL || ctl_net_ip_parse(first, &lo) < 0 || ctl_net_ip_parse(dash + 1, &hi) < 0)
        return SCC_EINVAL; /* ctl_cfg_check refused it already */
    for (uint32_t a = lo; a <= hi; a++) {
        ctl_net_ip_format(a, ip);
        if ((rc = ctl_store_arm_ip_owner(st, PUBLIC_POOL, ip, who, sizeof(who))) == SCC_ENOTFOUND)
            return ctl_store_arm_ip_add(st, PUBLIC_POOL, ip, owner);
        if (rc < 0)
            return rc;
    }
    return SCC_ETOOBIG;
}

static int
subnet_cidr(struct arm_call *k, const char *subnet_id, struct ctl_net_cidr *c)
{
    json_t *s = net_subnet(k, subnet_id, NULL), *p = json_object_get(s, "properties");
    const char *pre = json_string_value(json_object_get(p, "addressPrefix"));
    int rc;

    if (pre == NULL)
        pre = json_string_value(json_array_get(json_object_get(p, "addressPrefixes"), 0));
    rc = pre ? ctl_net_cidr_parse(pre, c) : SCC_ENOTFOUND;
    json_decref(s);
    return rc;
}

/* Azure reserves the first four addresses of a subnet and its last. */
static bool
usable(const struct ctl_net_cidr *c, uint32_t ip)
{
    uint32_t size = c->len >= 32 ? 1 : 1u << (32 - c->len);

    return ctl_net_cidr_has_ip(c, ip) && ip - c->addr >= 4 && ip - c->addr < size - 1;
}

static int
alloc_private(struct arm_call *k, const char *subnet, const char *owner, const char *want,
              char ip[16], struct ctl_net_err *e)
{
    struct ctl_store *st = k->c->store;
    struct ctl_net_cidr c;
    char who[CTL_ARM_ID_MAX], lc[CTL_ARM_ID_MAX];
    uint32_t a, size;
    int rc;

    if ((rc = subnet_cidr(k, subnet, &c)) < 0)
        return rc;
    (void)ctl_arm_lower(owner, lc, sizeof(lc));
    if (want) {
        if (ctl_net_ip_parse(want, &a) < 0 || !usable(&c, a)) {
            ctl_net_err_set(e, 400, "PrivateIPAddressNotInSubnet",
                            "Private IP address %.20s is not a usable address of subnet %.300s "
                            "(Azure reserves the first four and the last).",
                            want, subnet);
            return SCC_EINVAL;
        }
        snprintf(ip, 16, "%s", want);
        rc = ctl_store_arm_ip_owner(st, subnet, ip, who, sizeof(who));
        if (rc == 0 && strcmp(who, lc) != 0) {
            ctl_net_err_set(e, 400, "PrivateIPAddressInUse",
                            "Private IP address %.20s is already in use in subnet %.300s.", want,
                            subnet);
            return SCC_EINVAL;
        }
        return rc == SCC_ENOTFOUND ? ctl_store_arm_ip_add(st, subnet, ip, owner) : rc;
    }
    if ((rc = ctl_store_arm_ip_get(st, subnet, owner, ip, 16)) != SCC_ENOTFOUND)
        return rc;
    size = c.len >= 32 ? 1 : 1u << (32 - c.len);
    for (a = c.addr + 4; a < c.addr + size - 1; a++) {
        ctl_net_ip_format(a, ip);
        if ((rc = ctl_store_arm_ip_owner(st, subnet, ip, who, sizeof(who))) == SCC_ENOTFOUND)
            return ctl_store_arm_ip_add(st, subnet, ip, owner);
        if (rc < 0)
            return rc;
    }
    ctl_net_err_set(e, 400, "SubnetIsFull", "Subnet %.300s has no free address left.", subnet);
    return SCC_EINVAL;
}

static int
alloc_confs(struct arm_call *k, json_t *confs, bool firewall, struct ctl_net_err *e)
{
    size_t i;
    json_t *c;
    int rc;

    json_array_foreach(confs, i, c)
    {
        json_t *p = json_object_get(c, "properties");
        const char *id = json_string_value(json_object_get(c, "id"));
        const char *sub = json_string_value(json_object_get(json_object_get(p, "subnet"), "id"));
        const char *want = json_string_value(json_object_get(p, "privateIPAddress"));
        struct ctl_net_cidr cidr;
        char ip[16], have[16];

        if (firewall && subnet_cidr(k, sub, &cidr) == 0 && cidr.len > 26) {
            ctl_net_err_set(e, 400, "AzureFirewallSubnetTooSmall",
                            "AzureFirewallSubnet must be at least /26.");
            return SCC_EINVAL;
        }
        /* Moved to another subnet: the old address goes back first. */
        if (ctl_store_arm_ip_get(k->c->store, sub, id, have, sizeof(have)) == SCC_ENOTFOUND &&
            (rc = ctl_store_arm_ip_del_owner(k->c->store, NULL, id)) < 0)
            return rc;
        if ((rc = alloc_private(k, sub, id, firewall ? NULL : want, ip, e)) < 0)
            return rc;
        json_object_set_new(p, "privateIPAddress", json_string(ip));
    }
    return 0;
}

static int
release_confs(struct arm_call *k, const json_t *confs, const json_t *keep)
{
    size_t i;
    json_t *c;
    int rc;

    json_array_foreach(confs, i, c)
    {
        const char *id = json_string_value(json_object_get(c, "id"));

        if (keep && has_child(keep, "ipConfigurations", id))
            continue;
        if ((rc = ctl_store_arm_ip_del_owner(k->c->store, NULL, id)) < 0)
            return rc;
    }
    return 0;
}

int
net_allocate(struct arm_call *k, const struct ctl_net_type *ty, json_t *body, const json_t *old,
             struct ctl_net_err *e)
{
    json_t *p = json_object_get(body, "properties");
    const char *id = json_string_value(json_object_get(body, "id"));
    bool fw = strcmp(ty->type, "azureFirewalls") == 0;
    char ip[16];
    int rc;

    if (strcmp(ty->type, "publicIPAddresses") == 0) {
        if ((rc = alloc_public(k, id, ip)) == SCC_ETOOBIG)
            ctl_net_err_set(e, 400, "PublicIPCountLimitReached",
                            "All public addresses of %s are in use.", k->c->cfg->public_ip_range);
        if (rc == 0)
            json_object_set_new(p, "ipAddress", json_string(ip));
        return rc;
    }
    if (!fw && strcmp(ty->type, "networkInterfaces") != 0)
        return 0;
    if (old && (rc = release_confs(
                        k, json_object_get(json_object_get(old, "properties"), "ipConfigurations"),
                        p)) < 0)
        return rc;
    return alloc_confs(k, json_object_get(p, "ipConfigurations"), fw, e);
}

int
net_release(struct arm_call *k, const json_t *body)
{
    const char *id = json_string_value(json_object_get(body, "id"));
    int rc;

    if ((rc = ctl_store_arm_ip_del_owner(k->c->store, NULL, id)) < 0)
        return rc;
    return release_confs(
            k, json_object_get(json_object_get(body, "properties"), "ipConfigurations"), NULL);
}

/* ---- the rules workspaces need ---- */

static int
collect_owner(const char *owner, const char *kind, const char *src, const char *dst, void *arg)
{
    (void)kind, (void)src, (void)dst;
    return json_array_append_new(arg, json_string(owner)) ? SCC_ENOMEM : 0;
}

json_t *
net_required_rules(struct arm_call *k, const char *nsg_id)
{
    json_t *owners = json_array(), *out = json_array(), *o, *r;
    size_t i, j, m;

    (void)ctl_store_arm_ref_each_to(k->c->store, nsg_id, false, NET_REF_WS_NSG, collect_owner,
                                    owners);
    json_array_foreach(owners, i, o)
    {
        json_t *ws = net_body(k, json_string_value(o)), *p = json_object_get(ws, "properties");
        bool scc = json_is_true(json_object_get(
                json_object_get(json_object_get(p, "parameters"), "enableNoPublicIp"), "value"));
        const char *req = json_string_value(json_object_get(p, "requiredNsgRules"));
        json_t *rules = ctl_net_dbx_rules(scc, req == NULL || strcmp(req, "AllRules") == 0, nsg_id);

        json_array_foreach(rules, j, r)
        {
            for (m = 0; m < json_array_size(out); m++) {
                if (strcmp(json_string_value(json_object_get(json_array_get(out, m), "name")),
                           json_string_value(json_object_get(r, "name"))) == 0)
                    break;
            }
            if (m == json_array_size(out))
                json_array_append(out, r);
        }
        json_decref(rules);
        json_decref(ws);
    }
    json_decref(owners);
    return out;
}
