/*
 * ctl_net_nsg.c - network security rules (network-compat.md §2.2, §3).
 */
#include "ctl_net.h"

#include "common/err.h"
#include "common/json.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RULE_TYPE "Microsoft.Network/networkSecurityGroups/securityRules"

/* The canonical spelling of v among allowed (case-insensitive), or NULL. */
static const char *
canon(const char *v, const char *const *allowed)
{
    for (; v && *allowed; allowed++) {
        if (strcasecmp(v, *allowed) == 0)
            return *allowed;
    }
    return NULL;
}

typedef bool (*valid_fn)(const char *s);

/* One of "x" or "xs" (network-compat: Azure echoes both, the unused one
 * as an empty array). */
static int
pair(const json_t *in, json_t *out, const char *one, const char *many, valid_fn ok,
     struct ctl_net_err *e, const char *rule)
{
    json_t *s = scc_json_iget(in, one), *m = scc_json_iget(in, many), *v;
    bool have_s = s && !json_is_null(s), have_m = json_is_array(m) && json_array_size(m) > 0;
    size_t i;

    if (have_s == have_m) {
        ctl_net_err_set(e, 400, "InvalidSecurityRule",
                        "Security rule '%.80s' must have exactly one of %s and %s.", rule, one,
                        many);
        return SCC_EINVAL;
    }
    if (have_s && (!json_is_string(s) || !ok(json_string_value(s))))
        goto bad;
    json_array_foreach(have_m ? m : NULL, i, v)
    {
        if (!json_is_string(v) || !ok(json_string_value(v)))
            goto bad;
    }
    if (have_s)
        json_object_set(out, one, s);
    json_object_set_new(out, many, have_m ? json_deep_copy(m) : json_array());
    return 0;
bad:
    ctl_net_err_set(e, 400, "SecurityRuleInvalidAddressPrefix",
                    "Security rule '%.80s' has an invalid %s: prefixes are *, an IP address, a "
                    "CIDR or a service tag; ports are *, N or N-M.",
                    rule, have_s ? one : many);
    return SCC_EINVAL;
}

static int
enums(const json_t *p, json_t *props, const char *name, struct ctl_net_err *e)
{
    static const char *const protos[] = {"Tcp", "Udp", "Icmp", "Esp", "Ah", "*", NULL};
    static const char *const access[] = {"Allow", "Deny", NULL};
    static const char *const dirs[] = {"Inbound", "Outbound", NULL};
    const char *pr = canon(json_string_value(scc_json_iget(p, "protocol")), protos);
    const char *ac = canon(json_string_value(scc_json_iget(p, "access")), access);
    const char *di = canon(json_string_value(scc_json_iget(p, "direction")), dirs);
    json_t *prio = scc_json_iget(p, "priority");

    if (pr == NULL || ac == NULL || di == NULL) {
        ctl_net_err_set(e, 400, "InvalidSecurityRule",
                        "Security rule '%.80s': protocol must be Tcp, Udp, Icmp, Esp, Ah or *; "
                        "access Allow or Deny; direction Inbound or Outbound.",
                        name);
        return SCC_EINVAL;
    }
    if (!json_is_integer(prio) || json_integer_value(prio) < 100 ||
        json_integer_value(prio) > 4096) {
        ctl_net_err_set(e, 400, "SecurityRuleInvalidPriority",
                        "Security rule '%.80s' has an invalid priority: it must be an integer "
                        "from 100 to 4096.",
                        name);
        return SCC_EINVAL;
    }
    json_object_set_new(props, "protocol", json_string(pr));
    json_object_set_new(props, "access", json_string(ac));
    json_object_set_new(props, "priority", json_integer(json_integer_value(prio)));
    json_object_set_new(props, "direction", json_string(di));
    return 0;
}

static int
rule_props(const json_t *p, json_t *props, const char *name, struct ctl_net_err *e)
{
    json_t *desc = scc_json_iget(p, "description");
    int rc;

    if (desc && !json_is_null(desc) && (!json_is_string(desc) || json_string_length(desc) > 140)) {
        ctl_net_err_set(e, 400, "InvalidSecurityRule",
                        "Security rule '%.80s': description must be a string of at most 140 "
                        "characters.",
                        name);
        return SCC_EINVAL;
    }
    if (desc && json_is_string(desc))
        json_object_set(props, "description", desc);
    if ((rc = enums(p, props, name, e)) < 0 ||
        (rc = pair(p, props, "sourceAddressPrefix", "sourceAddressPrefixes", ctl_net_is_prefix, e,
                   name)) < 0 ||
        (rc = pair(p, props, "destinationAddressPrefix", "destinationAddressPrefixes",
                   ctl_net_is_prefix, e, name)) < 0 ||
        (rc = pair(p, props, "sourcePortRange", "sourcePortRanges", ctl_net_is_port_range, e,
                   name)) < 0)
        return rc;
    return pair(p, props, "destinationPortRange", "destinationPortRanges", ctl_net_is_port_range, e,
                name);
}

int
ctl_net_rule_build(const json_t *in, const char *nsg_id, json_t **out, struct ctl_net_err *e)
{
    const char *name = json_string_value(scc_json_iget(in, "name"));
    json_t *p = scc_json_iget(in, "properties"), *props;
    int rc;

    *out = NULL;
    if (!json_is_object(in) || name == NULL || !ctl_net_name_ok(name) || !json_is_object(p)) {
        ctl_net_err_set(e, 400, "InvalidSecurityRule",
                        "Each security rule needs a valid name (1-80 characters of letters, "
                        "digits, '_', '-', '.') and properties.");
        return SCC_EINVAL;
    }
    if ((props = json_pack("{s:s}", "provisioningState", "Succeeded")) == NULL)
        return SCC_ENOMEM;
    if ((rc = rule_props(p, props, name, e)) < 0) {
        json_decref(props);
        return rc;
    }
    *out = ctl_net_child(nsg_id, "securityRules", RULE_TYPE, name, props);
    return *out ? 0 : SCC_ENOMEM;
}

int
ctl_net_rules_check(const json_t *rules, struct ctl_net_err *e)
{
    size_t i, j;
    json_t *a, *b;

    json_array_foreach(rules, i, a)
    {
        json_t *pa = json_object_get(a, "properties");

        for (j = i + 1; j < json_array_size(rules); j++) {
            json_t *pb = json_object_get(b = json_array_get(rules, j), "properties");
            const char *na = json_string_value(json_object_get(a, "name"));
            const char *nb = json_string_value(json_object_get(b, "name"));

            if (strcasecmp(na, nb) == 0) {
                ctl_net_err_set(e, 400, "DuplicateResourceName",
                                "The security rule name '%.80s' is used twice.", na);
                return SCC_EINVAL;
            }
            if (json_integer_value(json_object_get(pa, "priority")) ==
                        json_integer_value(json_object_get(pb, "priority")) &&
                strcmp(json_string_value(json_object_get(pa, "direction")),
                       json_string_value(json_object_get(pb, "direction"))) == 0) {
                ctl_net_err_set(e, 400, "SecurityRuleConflict",
                                "Security rule %.80s conflicts with rule %.80s. Rules cannot have "
                                "the same Priority and Direction.",
                                nb, na);
                return SCC_EINVAL;
            }
        }
    }
    return 0;
}

static json_t *
simple_rule(const char *nsg_id, const char *coll, const char *name, const char *desc,
            const char *dir, int prio, const char *proto, const char *src, const char *dst,
            const char *ports, const char *access)
{
    json_t *props = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:[], s:[], s:[], "
                              "s:[]}",
                              "provisioningState", "Succeeded", "description", desc, "protocol",
                              proto, "sourcePortRange", "*", "sourceAddressPrefix", src,
                              "destinationAddressPrefix", dst, "access", access, "priority", prio,
                              "direction", dir, "sourcePortRanges", "destinationPortRanges",
                              "sourceAddressPrefixes", "destinationAddressPrefixes");
    char buf[32];
    const char *p = ports;

    if (props == NULL)
        return NULL;
    if (strchr(ports, ',') == NULL) {
        json_object_set_new(props, "destinationPortRange", json_string(ports));
    } else {
        json_t *arr = json_object_get(props, "destinationPortRanges");

        while (*p) {
            size_t n = strcspn(p, ",");

            snprintf(buf, sizeof(buf), "%.*s", (int)n, p);
            json_array_append_new(arr, json_string(buf));
            p += n + (p[n] == ',');
        }
    }
    return ctl_net_child(nsg_id, coll,
                         strcmp(coll, "securityRules") == 0
                                 ? RULE_TYPE
                                 : "Microsoft.Network/networkSecurityGroups/defaultSecurityRules",
                         name, props);
}

json_t *
ctl_net_default_rules(const char *nsg_id)
{
    static const struct {
        const char *name, *desc, *dir, *src, *dst, *access;
        int prio;
    } d[] = {
            {"AllowVnetInBound", "Allow inbound traffic from all VMs in VNET", "Inbound",
             "VirtualNetwork", "VirtualNetwork", "Allow", 65000},
            {"AllowAzureLoadBalancerInBound", "Allow inbound traffic from azure load balancer",
             "Inbound", "AzureLoadBalancer", "*", "Allow", 65001},
            {"DenyAllInBound", "Deny all inbound traffic", "Inbound", "*", "*", "Deny", 65500},
            {"AllowVnetOutBound", "Allow outbound traffic from all VMs to all VMs in VNET",
             "Outbound", "VirtualNetwork", "VirtualNetwork", "Allow", 65000},
            {"AllowInternetOutBound", "Allow outbound traffic from all VMs to Internet", "Outbound",
             "*", "Internet", "Allow", 65001},
            {"DenyAllOutBound", "Deny all outbound traffic", "Outbound", "*", "*", "Deny", 65500},
    };
    json_t *arr = json_array();

    for (size_t i = 0; arr && i < sizeof(d) / sizeof(d[0]); i++)
        json_array_append_new(arr, simple_rule(nsg_id, "defaultSecurityRules", d[i].name, d[i].desc,
                                               d[i].dir, d[i].prio, "*", d[i].src, d[i].dst, "*",
                                               d[i].access));
    return arr;
}

static const struct dbx_rule {
    int n;
    const char *suffix, *dir;
    int prio;
    const char *proto, *src, *dst, *ports, *desc;
} dbx[] = {
        {1, "databricks-worker-to-worker-inbound", "Inbound", 100, "*", "VirtualNetwork",
         "VirtualNetwork", "*", "Required for worker nodes communication within a cluster."},
        {2, "databricks-control-plane-to-worker-ssh", "Inbound", 101, "Tcp", "AzureDatabricks",
         "VirtualNetwork", "22",
         "Required for Databricks control plane management of worker nodes."},
        {3, "databricks-control-plane-to-worker-proxy", "Inbound", 102, "Tcp", "AzureDatabricks",
         "VirtualNetwork", "5557",
         "Required for Databricks control plane communication with worker nodes."},
        {4, "databricks-worker-to-databricks-webapp", "Outbound", 100, "Tcp", "VirtualNetwork",
         "AzureDatabricks", "443,3306,8443-8451",
         "Required for workers communication with Databricks Webapp."},
        {5, "databricks-worker-to-sql", "Outbound", 101, "Tcp", "VirtualNetwork", "Sql", "3306",
         "Required for workers communication with Azure SQL services."},
        {6, "databricks-worker-to-storage", "Outbound", 102, "Tcp", "VirtualNetwork", "Storage",
         "443", "Required for workers communication with Azure Storage services."},
        {7, "databricks-worker-to-worker-outbound", "Outbound", 103, "*", "VirtualNetwork",
         "VirtualNetwork", "*", "Required for worker nodes communication within a cluster."},
        {8, "databricks-worker-to-eventhub", "Outbound", 104, "Tcp", "VirtualNetwork", "EventHub",
         "9093", "Required for worker communication with Azure Eventhub services."},
};

json_t *
ctl_net_dbx_rules(bool scc, bool all_rules, const char *nsg_id)
{
    json_t *arr = json_array();
    char name[128];

    for (size_t i = 0; arr && i < sizeof(dbx) / sizeof(dbx[0]); i++) {
        if ((scc && (dbx[i].n == 2 || dbx[i].n == 3)) || (!all_rules && dbx[i].n == 4))
            continue;
        snprintf(name, sizeof(name), "%s%s", CTL_NET_DBX_PREFIX, dbx[i].suffix);
        json_array_append_new(arr, simple_rule(nsg_id, "securityRules", name, dbx[i].desc,
                                               dbx[i].dir, dbx[i].prio, dbx[i].proto, dbx[i].src,
                                               dbx[i].dst, dbx[i].ports, "Allow"));
    }
    return arr;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

/* The union of "x" and "xs" as a sorted, comma-joined string. */
static void
set_of(const json_t *p, const char *one, const char *many, char *out, size_t cap)
{
    const char *items[64];
    size_t n = 0, i, o = 0;
    json_t *v;

    if (json_is_string(json_object_get(p, one)))
        items[n++] = json_string_value(json_object_get(p, one));
    json_array_foreach(json_object_get(p, many), i, v)
    {
        if (json_is_string(v) && n < 64)
            items[n++] = json_string_value(v);
    }
    qsort(items, n, sizeof(items[0]), cmp_str);
    out[0] = '\0';
    for (i = 0; i < n && o < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s,", items[i]);
}

bool
ctl_net_rule_same(const json_t *a, const json_t *b)
{
    static const char *const sets[][2] = {
            {"sourceAddressPrefix", "sourceAddressPrefixes"},
            {"destinationAddressPrefix", "destinationAddressPrefixes"},
            {"sourcePortRange", "sourcePortRanges"},
            {"destinationPortRange", "destinationPortRanges"}};
    static const char *const scalars[] = {"protocol", "access", "direction"};
    json_t *pa = json_object_get(a, "properties"), *pb = json_object_get(b, "properties");
    char sa[512], sb[512];

    if (strcasecmp(json_string_value(json_object_get(a, "name")),
                   json_string_value(json_object_get(b, "name"))) != 0 ||
        json_integer_value(json_object_get(pa, "priority")) !=
                json_integer_value(json_object_get(pb, "priority")))
        return false;
    for (size_t i = 0; i < 3; i++) {
        const char *x = json_string_value(json_object_get(pa, scalars[i]));
        const char *y = json_string_value(json_object_get(pb, scalars[i]));

        if (x == NULL || y == NULL || strcasecmp(x, y) != 0)
            return false;
    }
    for (size_t i = 0; i < 4; i++) {
        set_of(pa, sets[i][0], sets[i][1], sa, sizeof(sa));
        set_of(pb, sets[i][0], sets[i][1], sb, sizeof(sb));
        if (strcasecmp(sa, sb) != 0)
            return false;
    }
    return true;
}

static const json_t *
find_rule(const json_t *rules, const char *name)
{
    size_t i;
    json_t *r;

    json_array_foreach(rules, i, r)
    {
        if (strcasecmp(json_string_value(json_object_get(r, "name")), name) == 0)
            return r;
    }
    return NULL;
}

static int
conflict(struct ctl_net_err *e, const char *name, const char *what)
{
    ctl_net_err_set(e, 400, "ConflictWithNetworkIntentPolicy",
                    "Found conflicts with NetworkIntentPolicy. Details: Network Security Group "
                    "cannot have resources which conflict with its subnets' network intent "
                    "policies. The rule '%.120s' %s; Azure Databricks owns the '%s*' rules of "
                    "this group.",
                    name, what, CTL_NET_DBX_PREFIX);
    return SCC_EPERM;
}

int
ctl_net_rules_protected(const json_t *rules, const json_t *required, struct ctl_net_err *e)
{
    size_t i, j;
    json_t *q, *r;

    json_array_foreach(required, i, q)
    {
        const char *name = json_string_value(json_object_get(q, "name"));
        const json_t *have = find_rule(rules, name);

        if (have == NULL)
            return conflict(e, name, "cannot be removed");
        if (!ctl_net_rule_same(have, q))
            return conflict(e, name, "cannot be changed");
    }
    json_array_foreach(rules, i, r)
    {
        json_t *pr = json_object_get(r, "properties");
        const char *name = json_string_value(json_object_get(r, "name"));

        if (find_rule(required, name))
            continue;
        json_array_foreach(required, j, q)
        {
            json_t *pq = json_object_get(q, "properties");

            if (json_integer_value(json_object_get(pr, "priority")) ==
                        json_integer_value(json_object_get(pq, "priority")) &&
                strcmp(json_string_value(json_object_get(pr, "direction")),
                       json_string_value(json_object_get(pq, "direction"))) == 0)
                return conflict(e, name, "takes the priority and direction of a required rule");
        }
    }
    return 0;
}
