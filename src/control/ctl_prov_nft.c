/*
 * ctl_prov_nft.c - address sets, tag resolution and the NSG compiler.
 *
 * Sets are sorted, merged intervals rather than CIDR lists: firewall rules
 * take ranges ("10.0.0.1-10.0.0.9"), and merging intervals is the simplest
 * way to hand nft anonymous sets without overlaps.  The per-resource table
 * compilers live in ctl_prov_nft_tables.c.
 */
#include "ctl_prov_nft.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/mem.h"
#include "common/parse.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NSG_PRIO_MIN  100
#define NSG_PRIO_MAX  4096
#define NSG_RULES_MAX 1000
#define COMMENT_MAX   120 /* nft allows 128 bytes */

/* ---- sets ---- */

void
ctl_prov_set_init(struct ctl_prov_set *s)
{
    memset(s, 0, sizeof(*s));
}

void
ctl_prov_set_fini(struct ctl_prov_set *s)
{
    scc_free(s->v);
    memset(s, 0, sizeof(*s));
}

static int
ival_cmp(const void *a, const void *b)
{
    const struct ctl_prov_ival *x = a, *y = b;

    return x->lo < y->lo ? -1 : x->lo > y->lo ? 1 : 0;
}

/* Sort and merge overlapping or adjacent intervals in place. */
static void
set_normalise(struct ctl_prov_set *s)
{
    size_t w = 0;

    qsort(s->v, s->n, sizeof(s->v[0]), ival_cmp);
    for (size_t r = 1; r < s->n; r++) {
        struct ctl_prov_ival *cur = &s->v[w];

        if (cur->hi == UINT32_MAX || s->v[r].lo <= cur->hi + 1) {
            if (s->v[r].hi > cur->hi)
                cur->hi = s->v[r].hi;
            continue;
        }
        s->v[++w] = s->v[r];
    }
    if (s->n > 0)
        s->n = w + 1;
}

int
ctl_prov_set_add(struct ctl_prov_set *s, uint32_t lo, uint32_t hi)
{
    if (lo > hi)
        return SCC_EINVAL;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        struct ctl_prov_ival *v = scc_realloc(s->v, cap * sizeof(*v));

        if (v == NULL)
            return SCC_ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n].lo = lo;
    s->v[s->n].hi = hi;
    s->n++;
    set_normalise(s);
    return 0;
}

int
ctl_prov_set_add_set(struct ctl_prov_set *s, const struct ctl_prov_set *from)
{
    int rc;

    for (size_t i = 0; from && i < from->n; i++) {
        if ((rc = ctl_prov_set_add(s, from->v[i].lo, from->v[i].hi)) < 0)
            return rc;
    }
    return 0;
}

bool
ctl_prov_set_is_all(const struct ctl_prov_set *s, uint32_t max)
{
    return s->n == 1 && s->v[0].lo == 0 && s->v[0].hi == max;
}

bool
ctl_prov_set_has(const struct ctl_prov_set *s, uint32_t v)
{
    for (size_t i = 0; i < s->n; i++) {
        if (v >= s->v[i].lo && v <= s->v[i].hi)
            return true;
    }
    return false;
}

/* The prefix length if [lo, hi] is exactly one CIDR block, else -1. */
static int
exact_prefix(uint32_t lo, uint32_t hi)
{
    for (unsigned len = 0; len <= 32; len++) {
        uint32_t mask = len ? ~0u << (32 - len) : 0;

        if ((lo & ~mask) == 0 && (lo | ~mask) == hi)
            return (int)len;
    }
    return -1;
}

static int
format_ival(const struct ctl_prov_ival *iv, bool ip, struct scc_buf *out)
{
    char a[16], b[16];
    int len;

    if (!ip)
        return iv->lo == iv->hi ? scc_buf_printf(out, "%u", iv->lo)
                                : scc_buf_printf(out, "%u-%u", iv->lo, iv->hi);
    ctl_prov_ip_format(iv->lo, a, sizeof(a));
    len = exact_prefix(iv->lo, iv->hi);
    if (len == 32)
        return scc_buf_put_str(out, a);
    if (len >= 0)
        return scc_buf_printf(out, "%s/%d", a, len);
    ctl_prov_ip_format(iv->hi, b, sizeof(b));
    return scc_buf_printf(out, "%s-%s", a, b);
}

int
ctl_prov_set_format(const struct ctl_prov_set *s, bool ip, struct scc_buf *out)
{
    int rc = 0;

    if (s->n == 0)
        return SCC_EINVAL;
    if (s->n == 1 && (!ip || exact_prefix(s->v[0].lo, s->v[0].hi) >= 0))
        return format_ival(&s->v[0], ip, out);
    rc = scc_buf_put_str(out, "{ ");
    for (size_t i = 0; rc == 0 && i < s->n; i++) {
        if (i > 0)
            rc = scc_buf_put_str(out, ", ");
        if (rc == 0)
            rc = format_ival(&s->v[i], ip, out);
    }
    return rc ? rc : scc_buf_put_str(out, " }");
}

/* ---- parsing ---- */

int
ctl_prov_ip_parse(const char *s, uint32_t *out)
{
    struct in_addr a;

    if (s == NULL || inet_pton(AF_INET, s, &a) != 1)
        return SCC_EINVAL;
    *out = ntohl(a.s_addr);
    return 0;
}

void
ctl_prov_ip_format(uint32_t ip, char *out, size_t cap)
{
    snprintf(out, cap, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

uint32_t
ctl_prov_cidr_last(uint32_t net, unsigned len)
{
    return len == 0 ? UINT32_MAX : net | ~(~0u << (32 - len));
}

int
ctl_prov_cidr_parse(const char *s, bool strict, uint32_t *net, unsigned *len)
{
    char ip[16];
    const char *slash = s ? strchr(s, '/') : NULL;
    uint64_t n = 32;
    uint32_t a, mask;

    if (s == NULL)
        return SCC_EINVAL;
    if (slash == NULL)
        return ctl_prov_ip_parse(s, net) < 0 ? SCC_EINVAL : (*len = 32, 0);
    if ((size_t)(slash - s) >= sizeof(ip) || scc_parse_u64(slash + 1, 0, 32, &n) < 0)
        return SCC_EINVAL;
    memcpy(ip, s, (size_t)(slash - s));
    ip[slash - s] = '\0';
    if (ctl_prov_ip_parse(ip, &a) < 0)
        return SCC_EINVAL;
    mask = n ? ~0u << (32 - n) : 0;
    if (strict && (a & ~mask) != 0)
        return SCC_EINVAL;
    *net = a & mask;
    *len = (unsigned)n;
    return 0;
}

int
ctl_prov_addr_parse(const char *s, struct ctl_prov_set *out)
{
    const char *dash = strchr(s, '-');
    uint32_t lo, hi;
    unsigned len;
    char a[16];

    if (strcmp(s, "*") == 0)
        return ctl_prov_set_add(out, 0, CTL_PROV_IP_MAX);
    if (dash) {
        if ((size_t)(dash - s) >= sizeof(a))
            return SCC_EINVAL;
        memcpy(a, s, (size_t)(dash - s));
        a[dash - s] = '\0';
        if (ctl_prov_ip_parse(a, &lo) < 0 || ctl_prov_ip_parse(dash + 1, &hi) < 0 || lo > hi)
            return SCC_EINVAL;
        return ctl_prov_set_add(out, lo, hi);
    }
    if (ctl_prov_cidr_parse(s, false, &lo, &len) < 0)
        return SCC_EINVAL;
    return ctl_prov_set_add(out, lo, ctl_prov_cidr_last(lo, len));
}

int
ctl_prov_ports_parse(const char *s, struct ctl_prov_set *out)
{
    const char *dash = strchr(s, '-');
    uint64_t lo, hi;

    if (strcmp(s, "*") == 0)
        return ctl_prov_set_add(out, 0, CTL_PROV_PORT_MAX);
    if (dash == NULL) {
        if (scc_parse_u64(s, 0, CTL_PROV_PORT_MAX, &lo) < 0)
            return SCC_EINVAL;
        return ctl_prov_set_add(out, (uint32_t)lo, (uint32_t)lo);
    }
    if (scc_parse_u64n(s, (size_t)(dash - s), 0, CTL_PROV_PORT_MAX, &lo) < 0 ||
        scc_parse_u64(dash + 1, 0, CTL_PROV_PORT_MAX, &hi) < 0 || lo > hi)
        return SCC_EINVAL;
    return ctl_prov_set_add(out, (uint32_t)lo, (uint32_t)hi);
}

/* ---- service tags ---- */

static const json_t *
tag_lookup(const json_t *tags, const char *name)
{
    const json_t *v = scc_json_iget(tags, name);
    const char *dot = strchr(name, '.');
    char base[128];

    if (v || dot == NULL || (size_t)(dot - name) >= sizeof(base))
        return v;
    memcpy(base, name, (size_t)(dot - name));
    base[dot - name] = '\0';
    return scc_json_iget(tags, base);
}

static int
tag_values(const json_t *v, const char *name, struct ctl_prov_set *out, char *err, size_t cap)
{
    size_t i;
    json_t *e;

    if (!json_is_array(v)) {
        snprintf(err, cap, "service tag '%s' is not an array of prefixes", name);
        return SCC_EINVAL;
    }
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e) || ctl_prov_addr_parse(json_string_value(e), out) < 0) {
            snprintf(err, cap, "service tag '%s' has a malformed prefix", name);
            return SCC_EINVAL;
        }
    }
    return 0;
}

int
ctl_prov_tags_resolve(const struct ctl_prov_tags *t, const char *name, struct ctl_prov_set *out,
                      char *err, size_t cap)
{
    const json_t *v;

    if (strcmp(name, "*") == 0 || (name[0] >= '0' && name[0] <= '9')) {
        if (ctl_prov_addr_parse(name, out) == 0)
            return 0;
        snprintf(err, cap, "malformed address prefix '%s'", name);
        return SCC_EINVAL;
    }
    if (strcasecmp(name, "VirtualNetwork") == 0)
        return ctl_prov_set_add_set(out, t->vnet);
    if ((v = tag_lookup(t->service_tags, name)) != NULL)
        return tag_values(v, name, out, err, cap);
    if (strcasecmp(name, "Internet") == 0)
        return ctl_prov_set_add(out, 0, CTL_PROV_IP_MAX);
    if (strcasecmp(name, "AzureLoadBalancer") == 0)
        return 0; /* no load balancer probes in the simulation: matches nothing */
    snprintf(err, cap, "unknown service tag '%s'", name);
    return SCC_EINVAL;
}

int
ctl_prov_tags_resolve_list(const struct ctl_prov_tags *t, const json_t *v, struct ctl_prov_set *out,
                           char *err, size_t cap)
{
    size_t i;
    json_t *e;
    int rc;

    if (v == NULL || json_is_null(v))
        return ctl_prov_set_add(out, 0, CTL_PROV_IP_MAX);
    if (json_is_string(v))
        return ctl_prov_tags_resolve(t, json_string_value(v), out, err, cap);
    if (!json_is_array(v) || json_array_size(v) == 0) {
        snprintf(err, cap, "an address list must be a string or a non-empty array");
        return SCC_EINVAL;
    }
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e)) {
            snprintf(err, cap, "an address list holds a non-string");
            return SCC_EINVAL;
        }
        if ((rc = ctl_prov_tags_resolve(t, json_string_value(e), out, err, cap)) < 0)
            return rc;
    }
    return 0;
}

/* ---- NSG rules ---- */

/* A port list: string or array of "*", "443", "8443-8451". */
static int
ports_list(const json_t *v, struct ctl_prov_set *out)
{
    size_t i;
    json_t *e;

    if (v == NULL || json_is_null(v))
        return ctl_prov_set_add(out, 0, CTL_PROV_PORT_MAX);
    if (json_is_string(v))
        return ctl_prov_ports_parse(json_string_value(v), out);
    if (!json_is_array(v) || json_array_size(v) == 0)
        return SCC_EINVAL;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e) || ctl_prov_ports_parse(json_string_value(e), out) < 0)
            return SCC_EINVAL;
    }
    return 0;
}

/* nft's name for an NSG protocol; "" for "*", NULL if unknown. */
static const char *
nsg_proto(const char *p)
{
    static const char *const map[][2] = {{"Tcp", "tcp"}, {"Udp", "udp"}, {"Icmp", "icmp"},
                                         {"Esp", "esp"}, {"Ah", "ah"},   {"*", ""}};

    for (size_t i = 0; p && i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcasecmp(p, map[i][0]) == 0)
            return map[i][1];
    }
    return NULL;
}

static int
put_comment(struct scc_buf *out, const char *s)
{
    char c[COMMENT_MAX + 1];
    size_t n = 0;

    for (; s && *s && n < COMMENT_MAX; s++) {
        if (*s >= 0x20 && *s < 0x7f && *s != '"' && *s != '\\')
            c[n++] = *s;
    }
    c[n] = '\0';
    return scc_buf_printf(out, " comment \"%s\"", c);
}

/* " ip saddr X" unless the set is everything. */
static int
put_addr_match(struct scc_buf *out, const char *what, const struct ctl_prov_set *s)
{
    int rc;

    if (ctl_prov_set_is_all(s, CTL_PROV_IP_MAX))
        return 0;
    if ((rc = scc_buf_printf(out, " ip %s ", what)) < 0)
        return rc;
    return ctl_prov_set_format(s, true, out);
}

/* " tcp dport X", or " th dport X" after an l4proto match. */
static int
put_port_match(struct scc_buf *out, const char *l4, const char *what, const struct ctl_prov_set *s)
{
    int rc;

    if (ctl_prov_set_is_all(s, CTL_PROV_PORT_MAX))
        return 0;
    if ((rc = scc_buf_printf(out, " %s %s ", l4, what)) < 0)
        return rc;
    return ctl_prov_set_format(s, false, out);
}

struct nsg_match {
    const char *proto; /* nft name, "" for any */
    struct ctl_prov_set src, dst, sport, dport;
};

static void
nsg_match_fini(struct nsg_match *m)
{
    ctl_prov_set_fini(&m->src);
    ctl_prov_set_fini(&m->dst);
    ctl_prov_set_fini(&m->sport);
    ctl_prov_set_fini(&m->dport);
}

static int
nsg_match_parse(const json_t *r, const struct ctl_prov_tags *tags, struct nsg_match *m, char *err,
                size_t cap)
{
    const char *name = json_string_value(json_object_get(r, "name"));
    int rc;

    if ((m->proto = nsg_proto(json_string_value(json_object_get(r, "protocol")))) == NULL) {
        snprintf(err, cap, "rule '%s': protocol must be Tcp, Udp, Icmp, Esp, Ah or *", name);
        return SCC_EINVAL;
    }
    if ((rc = ctl_prov_tags_resolve_list(tags, json_object_get(r, "source"), &m->src, err, cap)) <
                0 ||
        (rc = ctl_prov_tags_resolve_list(tags, json_object_get(r, "destination"), &m->dst, err,
                                         cap)) < 0)
        return rc;
    if (ports_list(json_object_get(r, "source_ports"), &m->sport) < 0 ||
        ports_list(json_object_get(r, "destination_ports"), &m->dport) < 0) {
        snprintf(err, cap, "rule '%s': malformed port range", name);
        return SCC_EINVAL;
    }
    return 0;
}

static int
nsg_match_put(struct scc_buf *out, const struct nsg_match *m)
{
    bool ports = !ctl_prov_set_is_all(&m->sport, CTL_PROV_PORT_MAX) ||
                 !ctl_prov_set_is_all(&m->dport, CTL_PROV_PORT_MAX);
    const char *l4 = m->proto;
    int rc = 0;

    if (m->proto[0])
        rc = scc_buf_printf(out, " meta l4proto %s", m->proto);
    if (rc == 0)
        rc = put_addr_match(out, "saddr", &m->src);
    if (rc == 0)
        rc = put_addr_match(out, "daddr", &m->dst);
    /* Azure applies port ranges to TCP and UDP only. */
    if (rc < 0 || !ports || (m->proto[0] && strcmp(l4, "tcp") != 0 && strcmp(l4, "udp") != 0))
        return rc;
    if (m->proto[0] == '\0') {
        rc = scc_buf_put_str(out, " meta l4proto { tcp, udp }");
        l4 = "th";
    }
    if (rc == 0)
        rc = put_port_match(out, l4, "sport", &m->sport);
    return rc ? rc : put_port_match(out, l4, "dport", &m->dport);
}

/* One rule: matches, counter, verdict, comment.  A rule whose address
 * sets are empty (a tag with no prefixes) can never match: it becomes a
 * comment line so that `nft list` still shows it was considered. */
static int
nsg_rule_put(struct scc_buf *out, const json_t *r, bool inbound, const struct ctl_prov_tags *tags,
             char *err, size_t cap)
{
    struct nsg_match m = {0};
    const char *name = json_string_value(json_object_get(r, "name"));
    const char *access = json_string_value(json_object_get(r, "access"));
    bool allow = access && strcasecmp(access, "Allow") == 0;
    int rc;

    if ((rc = nsg_match_parse(r, tags, &m, err, cap)) < 0)
        goto out;
    if (m.src.n == 0 || m.dst.n == 0) {
        rc = scc_buf_printf(out, "\t\t# %s: an empty service tag, never matches\n", name);
        goto out;
    }
    if ((rc = scc_buf_put_str(out, "\t\t")) == 0 && (rc = nsg_match_put(out, &m)) == 0)
        rc = scc_buf_printf(out, " counter %s", allow ? (inbound ? "accept" : "return") : "drop");
    if (rc == 0)
        rc = put_comment(out, name);
    if (rc == 0)
        rc = scc_buf_put_str(out, "\n");
out:
    nsg_match_fini(&m);
    return rc;
}

static bool
is_direction(const json_t *r, bool inbound)
{
    const char *d = json_string_value(json_object_get(r, "direction"));

    return d && strcasecmp(d, inbound ? "Inbound" : "Outbound") == 0;
}

static int
nsg_rule_check(const json_t *r, char *err, size_t cap)
{
    const char *name = json_string_value(json_object_get(r, "name"));
    const char *access = json_string_value(json_object_get(r, "access"));
    const char *dir = json_string_value(json_object_get(r, "direction"));
    json_int_t prio = json_integer_value(json_object_get(r, "priority"));

    if (name == NULL || access == NULL || dir == NULL ||
        !json_is_integer(json_object_get(r, "priority"))) {
        snprintf(err, cap, "a security rule needs name, priority, direction and access");
        return SCC_EINVAL;
    }
    if (prio < NSG_PRIO_MIN || prio > NSG_PRIO_MAX) {
        snprintf(err, cap, "rule '%s': priority %lld is outside %d-%d", name, (long long)prio,
                 NSG_PRIO_MIN, NSG_PRIO_MAX);
        return SCC_EINVAL;
    }
    if (strcasecmp(access, "Allow") != 0 && strcasecmp(access, "Deny") != 0) {
        snprintf(err, cap, "rule '%s': access must be Allow or Deny", name);
        return SCC_EINVAL;
    }
    if (strcasecmp(dir, "Inbound") != 0 && strcasecmp(dir, "Outbound") != 0) {
        snprintf(err, cap, "rule '%s': direction must be Inbound or Outbound", name);
        return SCC_EINVAL;
    }
    return 0;
}

static json_int_t
prio_of(const json_t *r)
{
    return json_integer_value(json_object_get(r, "priority"));
}

/* The rules of one direction, sorted by priority; Azure refuses two rules
 * with the same priority and direction (SecurityRuleConflict). */
static int
nsg_select(const json_t *rules, bool inbound, const json_t **sel, size_t *n, char *err, size_t cap)
{
    size_t i, k = 0;
    json_t *r;
    int rc;

    json_array_foreach(rules, i, r)
    {
        if (!json_is_object(r) || (rc = nsg_rule_check(r, err, cap)) < 0)
            return json_is_object(r) ? rc
                                     : (snprintf(err, cap, "a rule is not an object"), SCC_EINVAL);
        if (!is_direction(r, inbound))
            continue;
        size_t j = k++;
        for (; j > 0 && prio_of(sel[j - 1]) > prio_of(r); j--)
            sel[j] = sel[j - 1];
        if (j > 0 && prio_of(sel[j - 1]) == prio_of(r)) {
            snprintf(err, cap,
                     "Security rule %s conflicts with rule %s. Rules cannot have the "
                     "same Priority and Direction.",
                     json_string_value(json_object_get(r, "name")),
                     json_string_value(json_object_get(sel[j - 1], "name")));
            return SCC_EINVAL;
        }
        sel[j] = r;
    }
    *n = k;
    return 0;
}

static json_t *
default_rules(bool inbound)
{
    if (inbound)
        return json_pack("[{s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}]",
                         "name", "AllowVnetInBound", "access", "Allow", "protocol", "*", "source",
                         "VirtualNetwork", "name", "AllowAzureLoadBalancerInBound", "access",
                         "Allow", "protocol", "*", "source", "AzureLoadBalancer", "name",
                         "DenyAllInBound", "access", "Deny", "protocol", "*", "source", "*");
    return json_pack("[{s:s, s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}]",
                     "name", "AllowVnetOutBound", "access", "Allow", "protocol", "*", "source",
                     "VirtualNetwork", "destination", "VirtualNetwork", "name",
                     "AllowInternetOutBound", "access", "Allow", "protocol", "*", "destination",
                     "Internet", "name", "DenyAllOutBound", "access", "Deny", "protocol", "*",
                     "source", "*");
}

static int
nsg_defaults_put(struct scc_buf *out, bool inbound, const struct ctl_prov_tags *tags, char *err,
                 size_t cap)
{
    json_t *d = default_rules(inbound), *r;
    size_t i;
    int rc = d ? 0 : SCC_ENOMEM;

    /* AllowVnetInBound also needs destination VirtualNetwork. */
    if (d && inbound)
        json_object_set_new(json_array_get(d, 0), "destination", json_string("VirtualNetwork"));
    json_array_foreach(d, i, r)
    {
        if (rc == 0)
            rc = nsg_rule_put(out, r, inbound, tags, err, cap);
    }
    json_decref(d);
    return rc;
}

int
ctl_prov_nft_nsg_chain(struct scc_buf *out, const char *chain, const json_t *rules, bool inbound,
                       const struct ctl_prov_tags *tags, char *err, size_t cap)
{
    const json_t **sel = NULL;
    size_t n = 0;
    int rc = SCC_ENOMEM;

    if (rules && (!json_is_array(rules) || json_array_size(rules) > NSG_RULES_MAX)) {
        snprintf(err, cap, "rules must be an array of at most %d rules", NSG_RULES_MAX);
        return SCC_EINVAL;
    }
    if (rules && (sel = scc_calloc(json_array_size(rules) + 1, sizeof(*sel))) == NULL)
        goto out;
    if (rules && (rc = nsg_select(rules, inbound, sel, &n, err, cap)) < 0)
        goto out;
    if ((rc = scc_buf_printf(out, "\tchain %s {\n", chain)) < 0)
        goto out;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = nsg_rule_put(out, sel[i], inbound, tags, err, cap);
    if (rc == 0)
        rc = nsg_defaults_put(out, inbound, tags, err, cap);
    if (rc == 0)
        rc = scc_buf_put_str(out, "\t}\n");
out:
    scc_free(sel);
    return rc;
}

int
ctl_prov_nft_deny_chain(struct scc_buf *out, const char *chain, const char *why)
{
    int rc = scc_buf_printf(out, "\tchain %s {\n\t\tcounter drop", chain);

    if (rc == 0)
        rc = put_comment(out, why);
    return rc ? rc : scc_buf_put_str(out, "\n\t}\n");
}

int
ctl_prov_nft_replace(struct scc_buf *out, const char *family, const char *table, const char *body)
{
    int rc = scc_buf_printf(out, "table %s %s {}\ndelete table %s %s\n", family, table, family,
                            table);

    return rc ? rc : scc_buf_put_str(out, body);
}
