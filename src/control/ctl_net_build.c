/*
 * ctl_net_build.c - request body -> stored body for virtual networks,
 * network security groups, NAT gateways, public IPs and route tables
 * (network-compat.md §2).  Inline children are authoritative: the stored
 * body holds exactly the children of the request.
 */
#include "ctl_net.h"

#include "ctl_arm_id.h"

#include "common/err.h"
#include "common/json.h"
#include "common/mem.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_PREFIXES 64

bool
ctl_net_name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > 80)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return s[n - 1] != '.' && s[0] != '-' && s[0] != '.';
}

json_t *
ctl_net_ref(const json_t *ref, const char *what, struct ctl_net_err *e)
{
    const char *id = json_string_value(scc_json_iget(ref, "id"));

    e->status = 0;
    if (ref == NULL || json_is_null(ref))
        return NULL;
    if (id == NULL || strncasecmp(id, "/subscriptions/", 15) != 0 || strlen(id) >= CTL_ARM_ID_MAX) {
        ctl_net_err_set(e, 400, "InvalidResourceReference",
                        "The reference %s must be an object {\"id\": \"/subscriptions/...\"}.",
                        what);
        return NULL;
    }
    return json_pack("{s:s}", "id", id);
}

json_t *
ctl_net_child(const char *parent_id, const char *coll, const char *type, const char *name,
              json_t *props)
{
    char id[CTL_ARM_ID_MAX];

    snprintf(id, sizeof(id), "%s/%s/%s", parent_id ? parent_id : "", coll, name);
    return json_pack("{s:s, s:s, s:s, s:s, s:o}", "name", name, "id", id, "etag", "", "type", type,
                     "properties", props);
}

static void
stamp_children(json_t *props, const char *etag, int depth)
{
    const char *key;
    json_t *v, *c;
    size_t i;

    json_object_foreach(props, key, v)
    {
        json_array_foreach(json_is_array(v) ? v : NULL, i, c)
        {
            if (!json_is_object(c) || !json_object_get(c, "etag"))
                continue;
            json_object_set_new(c, "etag", json_string(etag));
            if (depth < 2)
                stamp_children(json_object_get(c, "properties"), etag, depth + 1);
        }
    }
}

void
ctl_net_stamp(json_t *body)
{
    char g[37], etag[48];

    if (ctl_arm_guid(g) < 0)
        return;
    snprintf(etag, sizeof(etag), "W/\"%s\"", g);
    json_object_set_new(body, "etag", json_string(etag));
    stamp_children(json_object_get(body, "properties"), etag, 0);
}

json_t *
ctl_net_envelope(const struct ctl_net_ctx *x, const char *type, const json_t *req)
{
    const char *guid = json_string_value(
            json_object_get(json_object_get(x->old, "properties"), "resourceGuid"));
    json_t *tags = scc_json_iget(req, "tags"), *zones = scc_json_iget(req, "zones");
    char g[37];
    json_t *o;

    if (guid == NULL && ctl_arm_guid(g) == 0)
        guid = g;
    o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", x->id, "name", ctl_arm_id_last(x->id), "type",
                  type, "location", x->location, "etag", "");
    if (o == NULL)
        return NULL;
    if (json_is_object(tags) && json_object_size(tags))
        json_object_set(o, "tags", tags);
    if (json_is_array(zones))
        json_object_set(o, "zones", zones);
    json_object_set_new(o, "properties",
                        json_pack("{s:s, s:s}", "provisioningState", "Succeeded", "resourceGuid",
                                  guid ? guid : ""));
    return o;
}

/* ---- virtual networks ---- */

static int
cidr_err(struct ctl_net_err *e, int rc, const char *p, const char *id)
{
    if (rc == SCC_ERANGE)
        ctl_net_err_set(e, 400, "InvalidCIDRNotation",
                        "The address prefix %.64s in resource %.300s has an invalid CIDR "
                        "notation: for the given prefix length the host bits must be zero.",
                        p, id);
    else
        ctl_net_err_set(e, 400, "InvalidAddressPrefixFormat",
                        "The address prefix '%.64s' in resource %.300s is not a valid IPv4 "
                        "CIDR.",
                        p, id);
    return SCC_EINVAL;
}

/* An array of CIDR strings into out; at least one. */
static int
cidrs(const json_t *arr, struct ctl_net_cidr *out, size_t *n, const char *id, struct ctl_net_err *e)
{
    size_t i;
    json_t *v;
    int rc;

    *n = 0;
    if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > MAX_PREFIXES) {
        ctl_net_err_set(e, 400, "InvalidAddressPrefixFormat",
                        "Resource %.300s needs between 1 and 64 address prefixes.", id);
        return SCC_EINVAL;
    }
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v))
            return cidr_err(e, SCC_EINVAL, "(not a string)", id);
        if ((rc = ctl_net_cidr_parse(json_string_value(v), &out[i])) < 0)
            return cidr_err(e, rc, json_string_value(v), id);
    }
    *n = json_array_size(arr);
    return 0;
}

static json_t *
delegations(const json_t *in, const char *subnet_id, struct ctl_net_err *e)
{
    json_t *out = json_array(), *d;
    size_t i;

    json_array_foreach(json_is_array(in) ? in : NULL, i, d)
    {
        const char *name = json_string_value(scc_json_iget(d, "name"));
        const char *svc =
                json_string_value(scc_json_iget(scc_json_iget(d, "properties"), "serviceName"));
        json_t *actions = json_array(), *props;

        if (!ctl_net_name_ok(name) || svc == NULL || strchr(svc, '/') == NULL) {
            ctl_net_err_set(e, 400, "InvalidRequestFormat",
                            "Each subnet delegation needs a name and properties.serviceName "
                            "(e.g. Microsoft.Databricks/workspaces).");
            json_decref(actions);
            json_decref(out);
            return NULL;
        }
        if (strcasecmp(svc, "Microsoft.Databricks/workspaces") == 0) {
            svc = "Microsoft.Databricks/workspaces";
            json_array_append_new(
                    actions, json_string("Microsoft.Network/virtualNetworks/subnets/join/action"));
            json_array_append_new(actions, json_string("Microsoft.Network/virtualNetworks/subnets/"
                                                       "prepareNetworkPolicies/action"));
            json_array_append_new(actions, json_string("Microsoft.Network/virtualNetworks/subnets/"
                                                       "unprepareNetworkPolicies/action"));
        }
        props = json_pack("{s:s, s:s, s:o}", "provisioningState", "Succeeded", "serviceName", svc,
                          "actions", actions);
        json_array_append_new(out, ctl_net_child(subnet_id, "delegations",
                                                 "Microsoft.Network/virtualNetworks/subnets/"
                                                 "delegations",
                                                 name, props));
    }
    return out;
}

struct subnet_in {
    struct ctl_net_cidr c[MAX_PREFIXES];
    size_t n;
};

static int
subnet_prefixes(const json_t *p, json_t *props, struct subnet_in *si, const char *sid,
                struct ctl_net_err *e)
{
    json_t *one = scc_json_iget(p, "addressPrefix"), *many = scc_json_iget(p, "addressPrefixes");
    json_t *arr;
    int rc;

    if ((one != NULL && !json_is_null(one)) == (json_is_array(many) && json_array_size(many))) {
        ctl_net_err_set(e, 400, "InvalidAddressPrefixFormat",
                        "Subnet %.300s needs exactly one of addressPrefix and addressPrefixes.",
                        sid);
        return SCC_EINVAL;
    }
    arr = one && !json_is_null(one) ? json_pack("[O]", one) : json_incref(many);
    rc = cidrs(arr, si->c, &si->n, sid, e);
    if (rc == 0)
        json_object_set(props, one && !json_is_null(one) ? "addressPrefix" : "addressPrefixes",
                        one && !json_is_null(one) ? one : many);
    json_decref(arr);
    for (size_t i = 0; rc == 0 && i < si->n; i++) {
        if (si->c[i].len > 29) {
            ctl_net_err_set(e, 400, "InvalidAddressPrefix",
                            "Subnet %.300s is smaller than /29, the smallest Azure allows.", sid);
            rc = SCC_EINVAL;
        }
    }
    return rc;
}

static int
subnet_refs(const json_t *p, json_t *props, struct ctl_net_err *e)
{
    static const char *const refs[] = {"networkSecurityGroup", "routeTable", "natGateway"};

    for (size_t i = 0; i < 3; i++) {
        json_t *r = ctl_net_ref(scc_json_iget(p, refs[i]), refs[i], e);

        if (e->status)
            return SCC_EINVAL;
        if (r)
            json_object_set_new(props, refs[i], r);
    }
    return 0;
}

static int
subnet_flags(const struct ctl_net_ctx *x, const json_t *p, json_t *props)
{
    json_t *doa = scc_json_iget(p, "defaultOutboundAccess"),
           *se = scc_json_iget(p, "serviceEndpoints");
    const char *pe = json_string_value(scc_json_iget(p, "privateEndpointNetworkPolicies"));
    const char *pls = json_string_value(scc_json_iget(p, "privateLinkServiceNetworkPolicies"));

    if (doa && !json_is_boolean(doa))
        return SCC_EINVAL;
    if (doa)
        json_object_set(props, "defaultOutboundAccess", doa);
    else if (x->old == NULL && x->api_version && strcmp(x->api_version, "2025-07-01") >= 0)
        json_object_set_new(props, "defaultOutboundAccess", json_false()); /* private by default */
    if (json_is_array(se))
        json_object_set(props, "serviceEndpoints", se);
    json_object_set_new(props, "privateEndpointNetworkPolicies", json_string(pe ? pe : "Disabled"));
    json_object_set_new(props, "privateLinkServiceNetworkPolicies",
                        json_string(pls ? pls : "Enabled"));
    json_object_set_new(props, "purpose", json_string(""));
    return 0;
}

static json_t *
subnet_build(const struct ctl_net_ctx *x, const json_t *in, struct subnet_in *si,
             struct ctl_net_err *e)
{
    const char *name = json_string_value(scc_json_iget(in, "name"));
    json_t *p = scc_json_iget(in, "properties"), *props = NULL, *dels;
    char sid[CTL_ARM_ID_MAX];

    if (!ctl_net_name_ok(name) || !json_is_object(p)) {
        ctl_net_err_set(e, 400, "InvalidRequestFormat",
                        "Each subnet needs a valid name and properties with an addressPrefix.");
        return NULL;
    }
    snprintf(sid, sizeof(sid), "%s/subnets/%s", x->id, name);
    props = json_pack("{s:s}", "provisioningState", "Succeeded");
    if (subnet_prefixes(p, props, si, sid, e) < 0 || subnet_refs(p, props, e) < 0 ||
        (dels = delegations(scc_json_iget(p, "delegations"), sid, e)) == NULL) {
        json_decref(props);
        return NULL;
    }
    json_object_set_new(props, "delegations", dels);
    if (subnet_flags(x, p, props) < 0) {
        ctl_net_err_set(e, 400, "InvalidRequestFormat",
                        "defaultOutboundAccess of subnet %.80s must be a boolean.", name);
        json_decref(props);
        return NULL;
    }
    return ctl_net_child(x->id, "subnets", "Microsoft.Network/virtualNetworks/subnets", name,
                         props);
}

static bool
within(const struct ctl_net_cidr *space, size_t nspace, const struct subnet_in *si)
{
    for (size_t i = 0; i < si->n; i++) {
        bool ok = false;

        for (size_t j = 0; j < nspace && !ok; j++)
            ok = ctl_net_cidr_contains(&space[j], &si->c[i]);
        if (!ok)
            return false;
    }
    return true;
}

static int
subnets_check(const struct ctl_net_ctx *x, const struct ctl_net_cidr *space, size_t nspace,
              struct subnet_in *si, json_t *subnets, struct ctl_net_err *e)
{
    size_t n = json_array_size(subnets);

    for (size_t i = 0; i < n; i++) {
        const char *a = json_string_value(json_object_get(json_array_get(subnets, i), "name"));

        if (!within(space, nspace, &si[i])) {
            ctl_net_err_set(e, 400, "NetcfgSubnetRangeOutsideVnet",
                            "Subnet '%.80s' is not valid because its IP address range is outside "
                            "the IP address range of virtual network '%.80s'.",
                            a, ctl_arm_id_last(x->id));
            return SCC_EINVAL;
        }
        for (size_t j = 0; j < i; j++) {
            const char *b = json_string_value(json_object_get(json_array_get(subnets, j), "name"));
            bool clash = strcasecmp(a, b) == 0;

            for (size_t p = 0; p < si[i].n && !clash; p++)
                for (size_t q = 0; q < si[j].n && !clash; q++)
                    clash = ctl_net_cidr_overlap(&si[i].c[p], &si[j].c[q]);
            if (clash) {
                ctl_net_err_set(e, 400,
                                strcasecmp(a, b) == 0 ? "DuplicateResourceName"
                                                      : "NetcfgSubnetRangesOverlap",
                                "Subnet '%.80s' is not valid because its IP address range "
                                "overlaps with that of an existing subnet '%.80s' in virtual "
                                "network '%.80s' (or has the same name).",
                                a, b, ctl_arm_id_last(x->id));
                return SCC_EINVAL;
            }
        }
    }
    return 0;
}

static int
vnet_space(const struct ctl_net_ctx *x, const json_t *p, json_t *props, struct ctl_net_cidr *space,
           size_t *n, struct ctl_net_err *e)
{
    json_t *as = scc_json_iget(scc_json_iget(p, "addressSpace"), "addressPrefixes");
    json_t *dhcp = scc_json_iget(p, "dhcpOptions");

    if (cidrs(as, space, n, x->id, e) < 0)
        return SCC_EINVAL;
    for (size_t i = 0; i < *n; i++) {
        for (size_t j = 0; j < i; j++) {
            if (ctl_net_cidr_overlap(&space[i], &space[j])) {
                ctl_net_err_set(e, 400, "VnetAddressSpacesOverlap",
                                "The address prefixes of virtual network %.80s overlap.",
                                ctl_arm_id_last(x->id));
                return SCC_EINVAL;
            }
        }
    }
    json_object_set_new(props, "addressSpace", json_pack("{s:O}", "addressPrefixes", as));
    if (json_is_object(dhcp))
        json_object_set(props, "dhcpOptions", dhcp);
    return 0;
}

int
ctl_net_vnet_build(const struct ctl_net_ctx *x, const json_t *req, json_t **out,
                   struct ctl_net_err *e)
{
    json_t *p = scc_json_iget(req, "properties"), *in = scc_json_iget(p, "subnets"), *s;
    json_t *body = ctl_net_envelope(x, "Microsoft.Network/virtualNetworks", req), *props, *subs;
    struct ctl_net_cidr space[MAX_PREFIXES];
    struct subnet_in *si = NULL;
    size_t nspace = 0, i;
    int rc = SCC_EINVAL;

    *out = NULL;
    props = json_object_get(body, "properties");
    subs = json_array();
    if (body == NULL || subs == NULL || vnet_space(x, p, props, space, &nspace, e) < 0)
        goto out;
    if ((in && !json_is_null(in) && !json_is_array(in)) || json_array_size(in) > 256) {
        ctl_net_err_set(e, 400, "InvalidRequestFormat", "subnets must be an array (at most 256).");
        goto out;
    }
    if ((si = scc_calloc(json_array_size(in) + 1, sizeof(*si))) == NULL) {
        rc = SCC_ENOMEM;
        goto out;
    }
    json_array_foreach(json_is_array(in) ? in : NULL, i, s)
    {
        json_t *sub = subnet_build(x, s, &si[i], e);

        if (sub == NULL)
            goto out;
        json_array_append_new(subs, sub);
    }
    if (subnets_check(x, space, nspace, si, subs, e) < 0)
        goto out;
    json_object_set(props, "subnets", subs);
    json_object_set_new(props, "virtualNetworkPeerings", json_array());
    json_object_set_new(props, "enableDdosProtection", json_false());
    *out = json_incref(body);
    rc = 0;
out:
    scc_free(si);
    json_decref(subs);
    json_decref(body);
    return rc;
}

/* ---- network security groups ---- */

int
ctl_net_nsg_build(const struct ctl_net_ctx *x, const json_t *req, json_t **out,
                  struct ctl_net_err *e)
{
    json_t *p = scc_json_iget(req, "properties"), *in = scc_json_iget(p, "securityRules"), *r;
    json_t *body = ctl_net_envelope(x, "Microsoft.Network/networkSecurityGroups", req);
    json_t *rules = json_array(), *built;
    size_t i;
    int rc = SCC_EINVAL;

    *out = NULL;
    if (body == NULL || rules == NULL)
        goto out;
    if ((in && !json_is_null(in) && !json_is_array(in)) || json_array_size(in) > 1000) {
        ctl_net_err_set(e, 400, "InvalidRequestFormat",
                        "securityRules must be an array (at most 1000 rules).");
        goto out;
    }
    json_array_foreach(json_is_array(in) ? in : NULL, i, r)
    {
        if ((rc = ctl_net_rule_build(r, x->id, &built, e)) < 0)
            goto out;
        json_array_append_new(rules, built);
    }
    if ((rc = ctl_net_rules_check(rules, e)) < 0)
        goto out;
    json_object_set(json_object_get(body, "properties"), "securityRules", rules);
    json_object_set_new(json_object_get(body, "properties"), "defaultSecurityRules",
                        ctl_net_default_rules(x->id));
    *out = json_incref(body);
    rc = 0;
out:
    json_decref(rules);
    json_decref(body);
    return rc;
}

/* ---- NAT gateways ---- */

static int
sku(const json_t *req, json_t *body, const char *const *allowed, const char *what,
    struct ctl_net_err *e)
{
    json_t *s = scc_json_iget(req, "sku");
    const char *name = json_string_value(scc_json_iget(s, "name"));
    const char *tier = json_string_value(scc_json_iget(s, "tier"));

    if (name == NULL)
        name = allowed[0];
    for (; *allowed; allowed++) {
        if (strcasecmp(*allowed, name) == 0) {
            json_object_set_new(body, "sku",
                                tier ? json_pack("{s:s, s:s}", "name", *allowed, "tier", tier)
                                     : json_pack("{s:s}", "name", *allowed));
            return 0;
        }
    }
    ctl_net_err_set(e, 400, "InvalidSku", "The SKU '%.40s' is not supported for %s.", name, what);
    return SCC_EINVAL;
}

static int
int_prop(const json_t *p, json_t *props, const char *key, int64_t def, int64_t lo, int64_t hi,
         struct ctl_net_err *e)
{
    json_t *v = scc_json_iget(p, key);

    if (v && !json_is_null(v) &&
        (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)) {
        ctl_net_err_set(e, 400, "InvalidParameter", "%s must be an integer from %lld to %lld.", key,
                        (long long)lo, (long long)hi);
        return SCC_EINVAL;
    }
    json_object_set_new(props, key,
                        json_integer(v && json_is_integer(v) ? json_integer_value(v) : def));
    return 0;
}

static int
refs(const json_t *arr, json_t *props, const char *key, struct ctl_net_err *e)
{
    json_t *out = json_array(), *v, *r;
    size_t i;

    if (arr && !json_is_null(arr) && !json_is_array(arr)) {
        ctl_net_err_set(e, 400, "InvalidRequestFormat", "%s must be an array of references.", key);
        json_decref(out);
        return SCC_EINVAL;
    }
    json_array_foreach(json_is_array(arr) ? arr : NULL, i, v)
    {
        if ((r = ctl_net_ref(v, key, e)) == NULL) {
            if (e->status == 0)
                ctl_net_err_set(e, 400, "InvalidResourceReference", "%s has an empty entry.", key);
            json_decref(out);
            return SCC_EINVAL;
        }
        json_array_append_new(out, r);
    }
    json_object_set_new(props, key, out);
    return 0;
}

int
ctl_net_nat_build(const struct ctl_net_ctx *x, const json_t *req, json_t **out,
                  struct ctl_net_err *e)
{
    static const char *const skus[] = {"Standard", "StandardV2", NULL};
    json_t *p = scc_json_iget(req, "properties");
    json_t *body = ctl_net_envelope(x, "Microsoft.Network/natGateways", req);
    json_t *props = json_object_get(body, "properties");

    *out = NULL;
    if (body == NULL)
        return SCC_ENOMEM;
    if (sku(req, body, skus, "NAT gateways", e) < 0 ||
        int_prop(p, props, "idleTimeoutInMinutes", 4, 4, 120, e) < 0 ||
        refs(scc_json_iget(p, "publicIpAddresses"), props, "publicIpAddresses", e) < 0 ||
        refs(scc_json_iget(p, "publicIpPrefixes"), props, "publicIpPrefixes", e) < 0) {
        json_decref(body);
        return SCC_EINVAL;
    }
    *out = body;
    return 0;
}

/* ---- public IP addresses ---- */

static const char *
enum_prop(const json_t *p, const char *key, const char *const *allowed)
{
    const char *v = json_string_value(scc_json_iget(p, key));

    if (v == NULL)
        return allowed[0];
    for (; *allowed; allowed++) {
        if (strcasecmp(*allowed, v) == 0)
            return *allowed;
    }
    return NULL;
}

int
ctl_net_pip_build(const struct ctl_net_ctx *x, const json_t *req, json_t **out,
                  struct ctl_net_err *e)
{
    static const char *const skus[] = {"Standard", NULL};
    static const char *const methods[] = {"Static", "Dynamic", NULL};
    static const char *const versions[] = {"IPv4", NULL};
    json_t *p = scc_json_iget(req, "properties");
    json_t *body = ctl_net_envelope(x, "Microsoft.Network/publicIPAddresses", req);
    json_t *props = json_object_get(body, "properties");
    const char *m = enum_prop(p, "publicIPAllocationMethod", methods);
    const char *v = enum_prop(p, "publicIPAddressVersion", versions);

    *out = NULL;
    if (body == NULL)
        return SCC_ENOMEM;
    if (sku(req, body, skus, "public IP addresses (Basic was retired on 2025-09-30)", e) < 0 ||
        int_prop(p, props, "idleTimeoutInMinutes", 4, 4, 30, e) < 0)
        goto bad;
    if (m == NULL || strcmp(m, "Dynamic") == 0 || v == NULL) {
        ctl_net_err_set(e, 400, "StandardSkuPublicIPAddressesMustBeStatic",
                        "Standard SKU public IP addresses must use the Static allocation method "
                        "and IPv4.");
        goto bad;
    }
    json_object_set_new(props, "publicIPAllocationMethod", json_string(m));
    json_object_set_new(props, "publicIPAddressVersion", json_string(v));
    json_object_set_new(props, "ipTags", json_array());
    *out = body;
    return 0;
bad:
    json_decref(body);
    return SCC_EINVAL;
}

/* ---- route tables ---- */

static json_t *
route_build(const char *rt_id, const json_t *in, struct ctl_net_err *e)
{
    static const char *const hops[] = {"VirtualNetworkGateway", "VnetLocal", "Internet",
                                       "VirtualAppliance",      "None",      NULL};
    const char *name = json_string_value(scc_json_iget(in, "name"));
    json_t *p = scc_json_iget(in, "properties");
    const char *prefix = json_string_value(scc_json_iget(p, "addressPrefix"));
    const char *hop = json_string_value(scc_json_iget(p, "nextHopType"));
    const char *ip = json_string_value(scc_json_iget(p, "nextHopIpAddress"));
    struct ctl_net_cidr c;
    uint32_t a;
    json_t *props;

    hop = hop ? enum_prop(p, "nextHopType", hops) : NULL;
    if (!ctl_net_name_ok(name) || prefix == NULL ||
        (ctl_net_cidr_parse(prefix, &c) < 0 && !ctl_net_is_service_tag(prefix)) || hop == NULL) {
        ctl_net_err_set(e, 400, "InvalidRoute",
                        "Route '%.80s' needs a name, an addressPrefix (a CIDR or a service tag) "
                        "and a nextHopType (VirtualNetworkGateway, VnetLocal, Internet, "
                        "VirtualAppliance or None).",
                        name ? name : "");
        return NULL;
    }
    if ((strcmp(hop, "VirtualAppliance") == 0) != (ip != NULL) ||
        (ip && ctl_net_ip_parse(ip, &a) < 0)) {
        ctl_net_err_set(e, 400, "InvalidNextHopIpAddress",
                        "Route '%.80s': nextHopIpAddress is required with, and only allowed "
                        "with, nextHopType VirtualAppliance, and must be an IPv4 address.",
                        name);
        return NULL;
    }
    props = json_pack("{s:s, s:s, s:s, s:b}", "provisioningState", "Succeeded", "addressPrefix",
                      prefix, "nextHopType", hop, "hasBgpOverride", 0);
    if (ip)
        json_object_set_new(props, "nextHopIpAddress", json_string(ip));
    return ctl_net_child(rt_id, "routes", "Microsoft.Network/routeTables/routes", name, props);
}

int
ctl_net_rt_build(const struct ctl_net_ctx *x, const json_t *req, json_t **out,
                 struct ctl_net_err *e)
{
    json_t *p = scc_json_iget(req, "properties"), *in = scc_json_iget(p, "routes"), *r;
    json_t *body = ctl_net_envelope(x, "Microsoft.Network/routeTables", req);
    json_t *routes = json_array(), *bgp = scc_json_iget(p, "disableBgpRoutePropagation");
    size_t i, j;

    *out = NULL;
    if (body == NULL || routes == NULL || (bgp && !json_is_boolean(bgp)) ||
        (in && !json_is_null(in) && !json_is_array(in))) {
        ctl_net_err_set(e, 400, "InvalidRequestFormat",
                        "routes must be an array, disableBgpRoutePropagation a boolean.");
        goto bad;
    }
    json_array_foreach(json_is_array(in) ? in : NULL, i, r)
    {
        json_t *built = route_build(x->id, r, e);

        if (built == NULL)
            goto bad;
        for (j = 0; j < json_array_size(routes); j++) {
            if (strcasecmp(json_string_value(json_object_get(json_array_get(routes, j), "name")),
                           json_string_value(json_object_get(built, "name"))) == 0) {
                ctl_net_err_set(e, 400, "DuplicateResourceName", "Two routes have one name.");
                json_decref(built);
                goto bad;
            }
        }
        json_array_append_new(routes, built);
    }
    json_object_set_new(json_object_get(body, "properties"), "routes", routes);
    json_object_set_new(json_object_get(body, "properties"), "disableBgpRoutePropagation",
                        json_boolean(json_is_true(bgp)));
    *out = body;
    return 0;
bad:
    json_decref(routes);
    json_decref(body);
    return SCC_EINVAL;
}
