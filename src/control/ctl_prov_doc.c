/*
 * ctl_prov_doc.c - the desired-state document (docs/internals/provider.md)
 * parsed into the model both providers realise.
 *
 * Two kinds of problems: a malformed document (wrong types, missing ids,
 * unparsable addresses, duplicate ids) is refused whole with SCC_EPROTO,
 * so nothing changes; a problem confined to one resource (a dangling
 * reference, a subnet outside its VNet, a VM address outside its subnet)
 * marks that resource Failed and the rest still converges.
 */
#include "ctl_prov_int.h"

#include "common/err.h"
#include "common/json.h"
#include "common/mem.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define LB_PORT_FIRST 1024u

struct pctx {
    struct ctl_prov_model *m;
    bool isolated;
    json_t *seen; /* lower-cased ids, for duplicates */
    char *err;
    size_t cap;
};

static int bad(struct pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
bad(struct pctx *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->err, c->cap, fmt, ap);
    va_end(ap);
    return SCC_EPROTO;
}

void
ctl_prov_hash(const char *id, char out[CTL_PROV_HASH_LEN + 1])
{
    uint32_t h = 2166136261u;

    for (; *id; id++) {
        h ^= (uint8_t)tolower((unsigned char)*id);
        h *= 16777619u;
    }
    snprintf(out, CTL_PROV_HASH_LEN + 1, "%08x", h);
}

/* ---- typed access that refuses malformed documents ---- */

static int
get_array(struct pctx *c, const json_t *o, const char *key, const char *where, json_t **out)
{
    json_t *v = json_object_get(o, key);

    if (v == NULL || json_is_null(v)) {
        *out = NULL;
        return 0;
    }
    if (!json_is_array(v))
        return bad(c, "%s: '%s' must be an array", where, key);
    *out = v;
    return 0;
}

static int
get_id(struct pctx *c, const json_t *o, const char *what, size_t i, const char **id)
{
    char low[1024];
    size_t n;

    if (!json_is_object(o))
        return bad(c, "%s[%zu] must be an object", what, i);
    *id = json_string_value(json_object_get(o, "id"));
    if (*id == NULL || (n = strlen(*id)) == 0 || n >= sizeof(low))
        return bad(c, "%s[%zu] needs an 'id' string", what, i);
    for (size_t k = 0; k <= n; k++)
        low[k] = (char)tolower((unsigned char)(*id)[k]);
    if (json_object_get(c->seen, low))
        return bad(c, "duplicate id '%s'", *id);
    json_object_set_new(c->seen, low, json_true());
    ctl_prov_status_ok(c->m->status, *id, c->isolated);
    return 0;
}

/* An optional reference: a string id or null. */
static int
get_ref(struct pctx *c, const json_t *o, const char *key, const char *id, const char **out)
{
    json_t *v = json_object_get(o, key);

    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return bad(c, "%s: '%s' must be an id or null", id, key);
    *out = json_string_value(v);
    return 0;
}

static int
get_ip(struct pctx *c, const json_t *o, const char *key, const char *id, bool required,
       uint32_t *out)
{
    json_t *v = json_object_get(o, key);

    *out = 0;
    if ((v == NULL || json_is_null(v)) && !required)
        return 0;
    if (!json_is_string(v) || ctl_prov_ip_parse(json_string_value(v), out) < 0)
        return bad(c, "%s: '%s' must be an IPv4 address", id, key);
    return 0;
}

static int
get_uint(struct pctx *c, const json_t *o, const char *key, const char *id, json_int_t dflt,
         json_int_t *out)
{
    json_t *v = json_object_get(o, key);

    *out = dflt;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return bad(c, "%s: '%s' must be a non-negative integer", id, key);
    *out = json_integer_value(v);
    return 0;
}

static struct ctl_prov_nsg *
find_nsg(struct ctl_prov_model *m, const char *id)
{
    for (size_t i = 0; id && i < m->nnsgs; i++) {
        if (strcasecmp(m->nsgs[i].id, id) == 0)
            return &m->nsgs[i];
    }
    return NULL;
}

static struct ctl_prov_nat *
find_nat(struct ctl_prov_model *m, const char *id)
{
    for (size_t i = 0; id && i < m->nnats; i++) {
        if (strcasecmp(m->nats[i].id, id) == 0)
            return &m->nats[i];
    }
    return NULL;
}

static struct ctl_prov_rt *
find_rt(struct ctl_prov_model *m, const char *id)
{
    for (size_t i = 0; id && i < m->nrts; i++) {
        if (strcasecmp(m->rts[i].id, id) == 0)
            return &m->rts[i];
    }
    return NULL;
}

static struct ctl_prov_subnet *
find_subnet(struct ctl_prov_model *m, const char *id)
{
    for (size_t i = 0; id && i < m->nvnets; i++) {
        for (size_t j = 0; j < m->vnets[i].nsubnets; j++) {
            if (strcasecmp(m->vnets[i].subnets[j].id, id) == 0)
                return &m->vnets[i].subnets[j];
        }
    }
    return NULL;
}

static struct ctl_prov_vm *
find_vm(struct ctl_prov_model *m, const char *id)
{
    for (size_t i = 0; id && i < m->nvms; i++) {
        if (strcasecmp(m->vms[i].id, id) == 0)
            return &m->vms[i];
    }
    return NULL;
}

/* ---- top level ---- */

static int
parse_endpoint(struct pctx *c, const json_t *cp, const char *name, uint32_t *ip, uint16_t *port)
{
    json_t *e = json_object_get(cp, name);
    json_int_t p;
    int rc;

    if (!json_is_object(e))
        return bad(c, "control_plane.%s must be an object", name);
    if ((rc = get_ip(c, e, "public_ip", "control_plane", true, ip)) < 0 ||
        (rc = get_uint(c, e, "port", "control_plane", 443, &p)) < 0)
        return rc;
    if (p < 1 || p > 65535)
        return bad(c, "control_plane.%s.port must be 1-65535", name);
    *port = (uint16_t)p;
    return 0;
}

static int
parse_hosts(struct pctx *c, const json_t *doc)
{
    json_t *inet = json_object_get(doc, "internet"), *hosts = NULL, *h;
    size_t i;
    uint32_t ip;
    int rc;

    if (inet == NULL)
        return 0;
    if (!json_is_object(inet))
        return bad(c, "'internet' must be an object");
    if ((rc = get_array(c, inet, "hosts", "internet", &hosts)) < 0)
        return rc;
    json_array_foreach(hosts, i, h)
    {
        if (!json_is_string(h) || ctl_prov_ip_parse(json_string_value(h), &ip) < 0)
            return bad(c, "internet.hosts[%zu] must be an IPv4 address", i);
        if ((rc = ctl_prov_set_add(&c->m->hosts, ip, ip)) < 0)
            return rc;
    }
    return 0;
}

static int
parse_test(struct pctx *c, const json_t *doc, bool allowed)
{
    json_t *t = json_object_get(doc, "test");
    json_int_t s;
    int rc;

    if (t == NULL)
        return 0;
    if (!allowed)
        return bad(c, "the document has a 'test' section but the provider was not started with "
                      "test knobs allowed");
    if (!json_is_object(t))
        return bad(c, "'test' must be an object");
    if ((rc = get_uint(c, t, "nat_idle_timeout_seconds", "test", 0, &s)) < 0)
        return rc;
    if (s > 7200)
        return bad(c, "test.nat_idle_timeout_seconds must be at most 7200");
    c->m->test_idle_s = (unsigned)s;
    return 0;
}

static int
parse_top(struct pctx *c, const json_t *doc, bool knobs)
{
    struct ctl_prov_model *m = c->m;
    json_t *cp = json_object_get(doc, "control_plane"), *tags, *local;
    int rc;

    if (!json_is_object(doc))
        return bad(c, "the document must be a JSON object");
    if (json_integer_value(json_object_get(doc, "version")) != 1)
        return bad(c, "'version' must be 1");
    if (!json_is_object(cp))
        return bad(c, "'control_plane' is required");
    if ((rc = parse_endpoint(c, cp, "api", &m->api_ip, &m->api_port)) < 0 ||
        (rc = parse_endpoint(c, cp, "relay", &m->relay_ip, &m->relay_port)) < 0)
        return rc;
    if (m->api_ip == m->relay_ip)
        return bad(c, "control_plane: api and relay need distinct public IPs");
    local = json_object_get(json_object_get(cp, "relay"), "local");
    if (local && !json_is_string(local))
        return bad(c, "control_plane.relay.local must be HOST:PORT");
    m->relay_local = json_string_value(local);
    tags = json_object_get(doc, "service_tags");
    if (tags && !json_is_object(tags))
        return bad(c, "'service_tags' must be an object");
    m->service_tags = tags;
    if ((rc = parse_hosts(c, doc)) < 0)
        return rc;
    return parse_test(c, doc, knobs);
}

/* ---- NSGs, NAT gateways, route tables ---- */

static int
parse_nsgs(struct pctx *c, const json_t *doc)
{
    json_t *a, *o;
    size_t i;
    int rc;

    if ((rc = get_array(c, doc, "network_security_groups", "document", &a)) < 0)
        return rc;
    if (a && (c->m->nsgs = scc_calloc(json_array_size(a) + 1, sizeof(*c->m->nsgs))) == NULL)
        return SCC_ENOMEM;
    json_array_foreach(a, i, o)
    {
        struct ctl_prov_nsg *n = &c->m->nsgs[c->m->nnsgs++];
        json_t *rules = NULL;

        if ((rc = get_id(c, o, "network_security_groups", i, &n->id)) < 0 ||
            (rc = get_array(c, o, "rules", n->id, &rules)) < 0)
            return rc;
        n->rules = rules;
    }
    return 0;
}

static int
parse_nat(struct pctx *c, const json_t *o, size_t i, struct ctl_prov_nat *n)
{
    json_t *ips = NULL, *e;
    json_int_t idle;
    size_t k;
    int rc;

    if ((rc = get_id(c, o, "nat_gateways", i, &n->id)) < 0 ||
        (rc = get_array(c, o, "public_ips", n->id, &ips)) < 0 ||
        (rc = get_uint(c, o, "idle_timeout_minutes", n->id, 4, &idle)) < 0)
        return rc;
    ctl_prov_hash(n->id, n->h);
    if (ips == NULL || json_array_size(ips) == 0 || json_array_size(ips) > CTL_PROV_NAT_IPS)
        return bad(c, "%s: public_ips needs 1-%d addresses", n->id, CTL_PROV_NAT_IPS);
    json_array_foreach(ips, k, e)
    {
        if (!json_is_string(e) || ctl_prov_ip_parse(json_string_value(e), &n->ips[k]) < 0)
            return bad(c, "%s: public_ips[%zu] must be an IPv4 address", n->id, k);
    }
    n->nips = json_array_size(ips);
    if (idle < 4 || idle > 120) {
        ctl_prov_status_fail(c->m->status, n->id, "idle_timeout_minutes must be 4-120");
        n->failed = true;
    }
    n->idle_s = (unsigned)idle * 60;
    return 0;
}

static int
parse_nats(struct pctx *c, const json_t *doc)
{
    json_t *a, *o;
    size_t i;
    int rc;

    if ((rc = get_array(c, doc, "nat_gateways", "document", &a)) < 0)
        return rc;
    if (a && (c->m->nats = scc_calloc(json_array_size(a) + 1, sizeof(*c->m->nats))) == NULL)
        return SCC_ENOMEM;
    json_array_foreach(a, i, o)
    {
        if ((rc = parse_nat(c, o, i, &c->m->nats[c->m->nnats++])) < 0)
            return rc;
    }
    return 0;
}

static int
hop_parse(const char *s, enum ctl_prov_hop *out)
{
    static const struct {
        const char *name;
        enum ctl_prov_hop hop;
    } map[] = {{"VirtualAppliance", CTL_PROV_HOP_APPLIANCE},
               {"Internet", CTL_PROV_HOP_INTERNET},
               {"None", CTL_PROV_HOP_NONE},
               {"VnetLocal", CTL_PROV_HOP_VNETLOCAL},
               {"VirtualNetworkGateway", CTL_PROV_HOP_GATEWAY}};

    for (size_t i = 0; s && i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcasecmp(s, map[i].name) == 0) {
            *out = map[i].hop;
            return 0;
        }
    }
    return SCC_EINVAL;
}

static int
parse_route(struct pctx *c, struct ctl_prov_rt *rt, const json_t *o, struct ctl_prov_route *r)
{
    struct ctl_prov_tags tags = {.service_tags = c->m->service_tags, .vnet = NULL};
    const char *prefix = json_string_value(json_object_get(o, "prefix"));
    char why[256];
    int rc;

    r->name = json_string_value(json_object_get(o, "name"));
    if (r->name == NULL || prefix == NULL)
        return bad(c, "%s: every route needs 'name' and 'prefix'", rt->id);
    if (hop_parse(json_string_value(json_object_get(o, "next_hop_type")), &r->hop) < 0)
        return bad(c, "%s: route '%s' has an unknown next_hop_type", rt->id, r->name);
    if ((rc = get_ip(c, o, "next_hop_ip", rt->id, r->hop == CTL_PROV_HOP_APPLIANCE, &r->hop_ip)) <
        0)
        return rc;
    if (ctl_prov_tags_resolve(&tags, prefix, &r->dst, why, sizeof(why)) < 0) {
        ctl_prov_status_fail(c->m->status, rt->id, "route '%s': %s", r->name, why);
        rt->failed = true;
    }
    return 0;
}

static int
parse_rt(struct pctx *c, const json_t *o, size_t i, struct ctl_prov_rt *rt)
{
    json_t *routes = NULL, *e;
    size_t k;
    int rc;

    if ((rc = get_id(c, o, "route_tables", i, &rt->id)) < 0 ||
        (rc = get_array(c, o, "routes", rt->id, &routes)) < 0)
        return rc;
    if (routes &&
        (rt->routes = scc_calloc(json_array_size(routes) + 1, sizeof(*rt->routes))) == NULL)
        return SCC_ENOMEM;
    json_array_foreach(routes, k, e)
    {
        struct ctl_prov_route *r = &rt->routes[rt->nroutes++];

        ctl_prov_set_init(&r->dst);
        if (!json_is_object(e))
            return bad(c, "%s: routes[%zu] must be an object", rt->id, k);
        if ((rc = parse_route(c, rt, e, r)) < 0)
            return rc;
    }
    return 0;
}

static int
parse_rts(struct pctx *c, const json_t *doc)
{
    json_t *a, *o;
    size_t i;
    int rc;

    if ((rc = get_array(c, doc, "route_tables", "document", &a)) < 0)
        return rc;
    if (a && (c->m->rts = scc_calloc(json_array_size(a) + 1, sizeof(*c->m->rts))) == NULL)
        return SCC_ENOMEM;
    json_array_foreach(a, i, o)
    {
        if ((rc = parse_rt(c, o, i, &c->m->rts[c->m->nrts++])) < 0)
            return rc;
    }
    return 0;
}

/* ---- VNets and subnets ---- */

static bool
set_covers(const struct ctl_prov_set *s, uint32_t lo, uint32_t hi)
{
    for (size_t i = 0; i < s->n; i++) {
        if (lo >= s->v[i].lo && hi <= s->v[i].hi)
            return true;
    }
    return false;
}

static void
subnet_fail(struct pctx *c, struct ctl_prov_subnet *s, const char *what, const char *ref)
{
    ctl_prov_status_fail(c->m->status, s->id, "%s '%s' is not in the document", what, ref);
    s->failed = true;
}

static int
subnet_refs(struct pctx *c, const json_t *o, struct ctl_prov_subnet *s)
{
    const char *nsg, *nat, *rt;
    int rc;

    if ((rc = get_ref(c, o, "network_security_group", s->id, &nsg)) < 0 ||
        (rc = get_ref(c, o, "nat_gateway", s->id, &nat)) < 0 ||
        (rc = get_ref(c, o, "route_table", s->id, &rt)) < 0)
        return rc;
    if (nsg && (s->nsg = find_nsg(c->m, nsg)) == NULL)
        subnet_fail(c, s, "network_security_group", nsg);
    if (nat && (s->nat = find_nat(c->m, nat)) == NULL)
        subnet_fail(c, s, "nat_gateway", nat);
    if (rt && (s->rt = find_rt(c->m, rt)) == NULL)
        subnet_fail(c, s, "route_table", rt);
    return 0;
}

static int
parse_subnet(struct pctx *c, struct ctl_prov_vnet *v, const json_t *o, size_t k,
             struct ctl_prov_subnet *s)
{
    const char *prefix;
    json_t *dob;
    int rc;

    if ((rc = get_id(c, o, "subnets", k, &s->id)) < 0)
        return rc;
    s->vnet = v;
    s->index = k;
    prefix = json_string_value(json_object_get(o, "prefix"));
    if (ctl_prov_cidr_parse(prefix, true, &s->net, &s->len) < 0)
        return bad(c, "%s: 'prefix' must be a CIDR without host bits", s->id);
    if (s->len > 29)
        return bad(c, "%s: a subnet must be /29 or larger (Azure reserves 5 addresses)", s->id);
    dob = json_object_get(o, "default_outbound_access");
    if (dob && !json_is_boolean(dob) && !json_is_null(dob))
        return bad(c, "%s: default_outbound_access must be a boolean", s->id);
    s->default_outbound = json_is_true(dob);
    if ((rc = subnet_refs(c, o, s)) < 0)
        return rc;
    if (!set_covers(&v->space, s->net, ctl_prov_cidr_last(s->net, s->len))) {
        ctl_prov_status_fail(c->m->status, s->id,
                             "Subnet '%s' is not valid because its IP address range is outside "
                             "the IP address range of virtual network '%s'.",
                             s->id, v->id);
        s->failed = true;
    }
    return 0;
}

static void
subnets_overlap(struct pctx *c, struct ctl_prov_vnet *v)
{
    for (size_t i = 0; i < v->nsubnets; i++) {
        for (size_t j = i + 1; j < v->nsubnets; j++) {
            struct ctl_prov_subnet *a = &v->subnets[i], *b = &v->subnets[j];

            if (a->net <= ctl_prov_cidr_last(b->net, b->len) &&
                b->net <= ctl_prov_cidr_last(a->net, a->len)) {
                ctl_prov_status_fail(c->m->status, b->id, "overlaps subnet '%s'", a->id);
                b->failed = true;
            }
        }
    }
}

static int
vnet_space(struct pctx *c, const json_t *o, struct ctl_prov_vnet *v)
{
    json_t *a = NULL, *e;
    uint32_t net;
    unsigned len;
    size_t i;
    int rc;

    if ((rc = get_array(c, o, "address_prefixes", v->id, &a)) < 0)
        return rc;
    if (a == NULL || json_array_size(a) == 0)
        return bad(c, "%s: address_prefixes must not be empty", v->id);
    json_array_foreach(a, i, e)
    {
        if (ctl_prov_cidr_parse(json_string_value(e), true, &net, &len) < 0)
            return bad(c, "%s: address_prefixes[%zu] must be a CIDR without host bits", v->id, i);
        if ((rc = ctl_prov_set_add(&v->space, net, ctl_prov_cidr_last(net, len))) < 0)
            return rc;
    }
    return 0;
}

static int
parse_vnet(struct pctx *c, const json_t *o, size_t i, struct ctl_prov_vnet *v)
{
    json_t *subnets = NULL, *e;
    size_t k;
    int rc;

    if ((rc = get_id(c, o, "vnets", i, &v->id)) < 0 || (rc = vnet_space(c, o, v)) < 0 ||
        (rc = get_ip(c, o, "default_outbound_ip", v->id, false, &v->default_outbound_ip)) < 0 ||
        (rc = get_array(c, o, "subnets", v->id, &subnets)) < 0)
        return rc;
    ctl_prov_hash(v->id, v->h);
    if (subnets &&
        (v->subnets = scc_calloc(json_array_size(subnets) + 1, sizeof(*v->subnets))) == NULL)
        return SCC_ENOMEM;
    json_array_foreach(subnets, k, e)
    {
        if ((rc = parse_subnet(c, v, e, k, &v->subnets[v->nsubnets++])) < 0)
            return rc;
    }
    subnets_overlap(c, v);
    return 0;
}

static int
parse_vnets(struct pctx *c, const json_t *doc)
{
    json_t *a, *o;
    size_t i;
    int rc;

    if ((rc = get_array(c, doc, "vnets", "document", &a)) < 0)
        return rc;
    if (a && (c->m->vnets = scc_calloc(json_array_size(a) + 1, sizeof(*c->m->vnets))) == NULL)
        return SCC_ENOMEM;
    json_array_foreach(a, i, o)
    {
        struct ctl_prov_vnet *v = &c->m->vnets[c->m->nvnets++];

        ctl_prov_set_init(&v->space);
        if ((rc = parse_vnet(c, o, i, v)) < 0)
            return rc;
    }
    return 0;
}

/* ---- firewalls, VMs, load balancers ---- */

static bool
in_subnet(const struct ctl_prov_subnet *s, uint32_t ip)
{
    uint32_t last = ctl_prov_cidr_last(s->net, s->len);

    /* Azure reserves the network address, .1 (gateway), .2 and .3 (DNS)
     * and the broadcast address of every subnet. */
    return ip >= s->net + 4 && ip < last;
}

static int
parse_fw(struct pctx *c, const json_t *o, size_t i, struct ctl_prov_fw *f)
{
    const char *subnet;
    json_t *net = NULL, *app = NULL;
    int rc;

    if ((rc = get_id(c, o, "firewalls", i, &f->id)) < 0 ||
        (rc = get_ref(c, o, "subnet", f->id, &subnet)) < 0 ||
        (rc = get_ip(c, o, "private_ip", f->id, true, &f->private_ip)) < 0 ||
        (rc = get_ip(c, o, "public_ip", f->id, true, &f->public_ip)) < 0 ||
        (rc = get_array(c, o, "network_rule_collections", f->id, &net)) < 0 ||
        (rc = get_array(c, o, "application_rule_collections", f->id, &app)) < 0)
        return rc;
    ctl_prov_hash(f->id, f->h);
    f->net = net;
    f->app = app;
    if ((f->subnet = find_subnet(c->m, subnet)) == NULL) {
        ctl_prov_status_fail(c->m->status, f->id, "subnet '%s' is not in the document",
                             subnet ? subnet : "(none)");
        f->failed = true;
    } else if (!in_subnet(f->subnet, f->private_ip)) {
        ctl_prov_status_fail(c->m->status, f->id, "private_ip is not a usable address of '%s'",
                             f->subnet->id);
        f->failed = true;
    }
    return 0;
}

static int
parse_fws(struct pctx *c, const json_t *doc)
{
    json_t *a, *o;
    size_t i;
    int rc;

    if ((rc = get_array(c, doc, "firewalls", "document", &a)) < 0)
        return rc;
    if (a && (c->m->fws = scc_calloc(json_array_size(a) + 1, sizeof(*c->m->fws))) == NULL)
        return SCC_ENOMEM;
    json_array_foreach(a, i, o)
    {
        if ((rc = parse_fw(c, o, i, &c->m->fws[c->m->nfws++])) < 0)
            return rc;
    }
    return 0;
}

static int
parse_agent(struct pctx *c, const json_t *o, struct ctl_prov_vm *vm)
{
    json_t *a = json_object_get(o, "agent");
    json_int_t port;
    int rc;

    if (!json_is_object(a))
        return bad(c, "%s: 'agent' must be an object", vm->id);
    vm->relay = json_string_value(json_object_get(a, "relay"));
    if (vm->relay == NULL)
        return bad(c, "%s: agent.relay must be HOST:PORT", vm->id);
    vm->token = json_string_value(json_object_get(a, "join_token"));
    if ((rc = get_uint(c, a, "legacy_listen_port", vm->id, 5557, &port)) < 0)
        return rc;
    if (port < 1 || port > 65535)
        return bad(c, "%s: agent.legacy_listen_port must be 1-65535", vm->id);
    vm->legacy_port = (uint16_t)port;
    return 0;
}

static void
vm_place(struct pctx *c, struct ctl_prov_vm *vm, const char *subnet)
{
    if ((vm->subnet = find_subnet(c->m, subnet)) == NULL) {
        ctl_prov_status_fail(c->m->status, vm->id, "subnet '%s' is not in the document",
                             subnet ? subnet : "(none)");
        vm->failed = true;
    } else if (!in_subnet(vm->subnet, vm->ip)) {
        ctl_prov_status_fail(c->m->status, vm->id,
                             "private_ip is not a usable address of subnet '%s' (Azure reserves "
                             "the first four and the last)",
                             vm->subnet->id);
        vm->failed = true;
    }
}

static int
parse_vm(struct pctx *c, const json_t *o, size_t i, struct ctl_prov_vm *vm)
{
    const char *subnet, *mode;
    int rc;

    if ((rc = get_id(c, o, "vms", i, &vm->id)) < 0 ||
        (rc = get_ref(c, o, "subnet", vm->id, &subnet)) < 0 ||
        (rc = get_ip(c, o, "private_ip", vm->id, true, &vm->ip)) < 0 ||
        (rc = get_ip(c, o, "public_ip", vm->id, false, &vm->pip)) < 0 ||
        (rc = parse_agent(c, o, vm)) < 0)
        return rc;
    ctl_prov_hash(vm->id, vm->h);
    mode = json_string_value(json_object_get(o, "mode"));
    if (mode && strcasecmp(mode, "legacy") != 0 && strcasecmp(mode, "scc") != 0)
        return bad(c, "%s: mode must be \"scc\" or \"legacy\"", vm->id);
    vm->legacy = mode && strcasecmp(mode, "legacy") == 0;
    vm_place(c, vm, subnet);
    return 0;
}

static int
parse_vms(struct pctx *c, const json_t *doc)
{
    json_t *a, *o;
    size_t i;
    int rc;

    if ((rc = get_array(c, doc, "vms", "document", &a)) < 0)
        return rc;
    if (a && (c->m->vms = scc_calloc(json_array_size(a) + 1, sizeof(*c->m->vms))) == NULL)
        return SCC_ENOMEM;
    json_array_foreach(a, i, o)
    {
        if ((rc = parse_vm(c, o, i, &c->m->vms[c->m->nvms++])) < 0)
            return rc;
    }
    return 0;
}

/* Give a VM its fixed share of the frontend's ports, in backend order. */
static void
lb_allocate(struct pctx *c, struct ctl_prov_lb *lb, struct ctl_prov_vm *vm, json_int_t ports)
{
    if (vm->lb) {
        ctl_prov_status_note(c->m->status, vm->id,
                             "outbound rules of '%s' already give this VM its SNAT ports; '%s' "
                             "is ignored",
                             vm->lb->id, lb->id);
        return;
    }
    if (lb->next_port + (uint32_t)ports - 1 > 65535) {
        ctl_prov_status_fail(c->m->status, lb->id,
                             "the frontend has no SNAT ports left for '%s' (64512 in all)", vm->id);
        lb->failed = true;
        return;
    }
    vm->lb = lb;
    vm->lb_lo = (uint16_t)lb->next_port;
    vm->lb_hi = (uint16_t)(lb->next_port + (uint32_t)ports - 1);
    lb->next_port += (uint32_t)ports;
}

static int
parse_outbound_rule(struct pctx *c, struct ctl_prov_lb *lb, const json_t *r)
{
    json_int_t ports, idle;
    json_t *vms = NULL, *e;
    size_t k;
    int rc;

    if (!json_is_object(r))
        return bad(c, "%s: outbound_rules must hold objects", lb->id);
    if ((rc = get_uint(c, r, "allocated_outbound_ports", lb->id, 1024, &ports)) < 0 ||
        (rc = get_uint(c, r, "idle_timeout_minutes", lb->id, 4, &idle)) < 0 ||
        (rc = get_array(c, r, "backend_vms", lb->id, &vms)) < 0)
        return rc;
    if (ports == 0) /* 0 means "automatic"; Azure's example answers 1024 */
        ports = 1024;
    if (ports > 64512 || idle < 4 || idle > 120)
        return bad(c,
                   "%s: allocated_outbound_ports must be at most 64512 and "
                   "idle_timeout_minutes 4-120",
                   lb->id);
    if ((unsigned)idle * 60 > lb->idle_s)
        lb->idle_s = (unsigned)idle * 60;
    json_array_foreach(vms, k, e)
    {
        struct ctl_prov_vm *vm = find_vm(c->m, json_string_value(e));

        if (vm == NULL) {
            ctl_prov_status_fail(c->m->status, lb->id, "backend VM '%s' is not in the document",
                                 json_is_string(e) ? json_string_value(e) : "?");
            lb->failed = true;
            continue;
        }
        lb_allocate(c, lb, vm, ports);
    }
    return 0;
}

static int
parse_lb(struct pctx *c, const json_t *o, size_t i, struct ctl_prov_lb *lb)
{
    json_t *fe = NULL, *rules = NULL, *r;
    size_t k;
    int rc;

    if ((rc = get_id(c, o, "load_balancers", i, &lb->id)) < 0 ||
        (rc = get_array(c, o, "frontend_ips", lb->id, &fe)) < 0 ||
        (rc = get_array(c, o, "outbound_rules", lb->id, &rules)) < 0)
        return rc;
    ctl_prov_hash(lb->id, lb->h);
    if (fe == NULL || json_array_size(fe) == 0 ||
        ctl_prov_ip_parse(json_string_value(json_array_get(fe, 0)), &lb->frontend) < 0)
        return bad(c, "%s: frontend_ips must hold an IPv4 address", lb->id);
    if (json_array_size(fe) > 1)
        ctl_prov_status_note(c->m->status, lb->id, "outbound rules use the first frontend IP only");
    lb->next_port = LB_PORT_FIRST;
    json_array_foreach(rules, k, r)
    {
        if ((rc = parse_outbound_rule(c, lb, r)) < 0)
            return rc;
    }
    return 0;
}

static int
parse_lbs(struct pctx *c, const json_t *doc)
{
    json_t *a, *o;
    size_t i;
    int rc;

    if ((rc = get_array(c, doc, "load_balancers", "document", &a)) < 0)
        return rc;
    if (a && (c->m->lbs = scc_calloc(json_array_size(a) + 1, sizeof(*c->m->lbs))) == NULL)
        return SCC_ENOMEM;
    json_array_foreach(a, i, o)
    {
        if ((rc = parse_lb(c, o, i, &c->m->lbs[c->m->nlbs++])) < 0)
            return rc;
    }
    return 0;
}

/* Route next hops name a firewall's or a VM's private IP. */
static void
resolve_hops(struct pctx *c)
{
    for (size_t i = 0; i < c->m->nrts; i++) {
        struct ctl_prov_rt *rt = &c->m->rts[i];

        for (size_t k = 0; k < rt->nroutes; k++) {
            struct ctl_prov_route *r = &rt->routes[k];

            if (r->hop != CTL_PROV_HOP_APPLIANCE)
                continue;
            for (size_t f = 0; f < c->m->nfws && !r->fw; f++)
                r->fw = c->m->fws[f].private_ip == r->hop_ip ? &c->m->fws[f] : NULL;
            for (size_t v = 0; v < c->m->nvms && !r->fw && !r->vm; v++)
                r->vm = c->m->vms[v].ip == r->hop_ip ? &c->m->vms[v] : NULL;
            if (r->fw == NULL && r->vm == NULL) {
                ctl_prov_status_fail(c->m->status, rt->id,
                                     "route '%s': next hop is neither a firewall's nor a VM's "
                                     "private IP",
                                     r->name);
                rt->failed = true;
            }
        }
    }
}

/* ---- the simulation's address rules ---- */

/* Public addresses exist only on the simulated internet: the two
 * documentation ranges, minus .0, .1 (its router) and .255.  Anything
 * else would put a route to a real address on the host. */
static int
check_public(struct pctx *c, uint32_t ip, const char *id, const char *what)
{
    uint32_t net = ip & 0xffffff00u, host = ip & 0xffu;
    char a[16];

    if ((net == 0xc6336400u || net == 0xcb007100u) && host > 1 && host < 255)
        return 0;
    ctl_prov_ip_format(ip, a, sizeof(a));
    return bad(c,
               "%s: %s %s is not a simulated public address (198.51.100.2-254 or "
               "203.0.113.2-254)",
               id, what, a);
}

/* VNets use private space only (RFC 1918), which never leaves our
 * namespaces: the host has no route into a VNet. */
static int
check_private(struct pctx *c, const struct ctl_prov_vnet *v)
{
    static const uint32_t nets[][2] = {
            {0x0a000000u, 0x0affffffu}, {0xac100000u, 0xac1fffffu}, {0xc0a80000u, 0xc0a8ffffu}};

    for (size_t i = 0; i < v->space.n; i++) {
        bool ok = false;

        for (size_t k = 0; k < 3; k++)
            ok |= v->space.v[i].lo >= nets[k][0] && v->space.v[i].hi <= nets[k][1];
        if (!ok)
            return bad(c,
                       "%s: address_prefixes must be private (10.0.0.0/8, 172.16.0.0/12 or "
                       "192.168.0.0/16)",
                       v->id);
    }
    return 0;
}

static int
check_addresses(struct pctx *c)
{
    const struct ctl_prov_model *m = c->m;
    int rc = check_public(c, m->api_ip, "control_plane", "api.public_ip");

    if (rc == 0)
        rc = check_public(c, m->relay_ip, "control_plane", "relay.public_ip");
    for (size_t i = 0; rc == 0 && i < m->hosts.n; i++)
        for (uint64_t ip = m->hosts.v[i].lo; rc == 0 && ip <= m->hosts.v[i].hi; ip++)
            rc = check_public(c, (uint32_t)ip, "internet", "host");
    for (size_t i = 0; rc == 0 && i < m->nnats; i++)
        for (size_t k = 0; rc == 0 && k < m->nats[i].nips; k++)
            rc = check_public(c, m->nats[i].ips[k], m->nats[i].id, "public IP");
    for (size_t i = 0; rc == 0 && i < m->nlbs; i++)
        rc = check_public(c, m->lbs[i].frontend, m->lbs[i].id, "frontend IP");
    for (size_t i = 0; rc == 0 && i < m->nfws; i++)
        rc = check_public(c, m->fws[i].public_ip, m->fws[i].id, "public_ip");
    for (size_t i = 0; rc == 0 && i < m->nvms; i++)
        rc = m->vms[i].pip ? check_public(c, m->vms[i].pip, m->vms[i].id, "public_ip") : 0;
    for (size_t i = 0; rc == 0 && i < m->nvnets; i++) {
        if ((rc = check_private(c, &m->vnets[i])) == 0 && m->vnets[i].default_outbound_ip)
            rc = check_public(c, m->vnets[i].default_outbound_ip, m->vnets[i].id,
                              "default_outbound_ip");
    }
    return rc;
}

int
ctl_prov_model_parse(struct ctl_prov_model *m, const json_t *doc, bool isolated, bool knobs,
                     char *err, size_t cap)
{
    struct pctx c = {.m = m, .isolated = isolated, .seen = json_object(), .err = err, .cap = cap};
    int rc = c.seen ? 0 : SCC_ENOMEM;

    if (rc == 0)
        rc = parse_top(&c, doc, knobs);
    if (rc == 0)
        rc = parse_nsgs(&c, doc);
    if (rc == 0)
        rc = parse_nats(&c, doc);
    if (rc == 0)
        rc = parse_rts(&c, doc);
    if (rc == 0)
        rc = parse_vnets(&c, doc);
    if (rc == 0)
        rc = parse_fws(&c, doc);
    if (rc == 0)
        rc = parse_vms(&c, doc);
    if (rc == 0)
        rc = parse_lbs(&c, doc);
    if (rc == 0)
        rc = check_addresses(&c);
    if (rc == 0)
        resolve_hops(&c);
    json_decref(c.seen);
    return rc;
}
