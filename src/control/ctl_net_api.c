/*
 * ctl_net_api.c - the Microsoft.Network resource provider.
 *
 * PUT builds the stored body (ctl_net_build*.c), checks references and
 * what other resources and workspaces hold, allocates addresses and
 * writes everything in one transaction.  The change is complete when the
 * transaction commits, so the answer is Azure's LRO shape (201/200 with
 * provisioningState Updating and Azure-AsyncOperation) whose operation
 * already reads Succeeded (network-compat.md §0.1, §1).  Child endpoints
 * (subnets, securityRules, routes) rewrite their parent through the same
 * path, so one set of checks guards both.
 */
#include "ctl_net_int.h"

#include "common/err.h"
#include "common/json.h"
#include "common/mem.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static void
reply_err(struct arm_call *k, const struct ctl_net_err *e, int rc)
{
    if (e->status)
        arm_error(k, e->status, e->code, "%s", e->message);
    else
        (void)arm_store_error(k, rc < 0 ? rc : SCC_ESTORE);
}

static bool
loc_norm(const char *in, char out[64])
{
    size_t o = 0;

    for (const char *p = in; in && *p && o < 63; p++) {
        if (!isalnum((unsigned char)*p) && *p != ' ')
            return false;
        if (*p != ' ')
            out[o++] = (char)tolower((unsigned char)*p);
    }
    out[o] = '\0';
    return o > 0;
}

/* ---- protections ---- */

struct use {
    int ws, other;
    char what[CTL_ARM_ID_MAX];
};

static int
count_use(const char *owner, const char *kind, const char *src, const char *dst, void *arg)
{
    struct use *u = arg;

    (void)dst;
    if (strcmp(kind, NET_REF_WS_SUBNET) == 0) {
        u->ws++;
        snprintf(u->what, sizeof(u->what), "%s", owner);
    } else if (strcmp(kind, NET_REF_NIC_SUBNET) == 0 || strcmp(kind, NET_REF_FW_SUBNET) == 0) {
        u->other++;
        snprintf(u->what, sizeof(u->what), "%s", src);
    }
    return 0;
}

static const json_t *
find_named(const json_t *arr, const char *name)
{
    size_t i;
    json_t *c;

    json_array_foreach(arr, i, c)
    {
        if (strcasecmp(json_string_value(json_object_get(c, "name")), name) == 0)
            return c;
    }
    return NULL;
}

static bool
delegated(const json_t *subnet)
{
    size_t i;
    json_t *d;

    json_array_foreach(json_object_get(json_object_get(subnet, "properties"), "delegations"), i, d)
    {
        if (strcasecmp(json_string_value(
                               json_object_get(json_object_get(d, "properties"), "serviceName")),
                       "Microsoft.Databricks/workspaces") == 0)
            return true;
    }
    return false;
}

static const char *
ref_of(const json_t *subnet, const char *key)
{
    return json_string_value(
            json_object_get(json_object_get(json_object_get(subnet, "properties"), key), "id"));
}

static const char *
prefix_of(const json_t *subnet)
{
    json_t *p = json_object_get(subnet, "properties");
    char *s =
            json_dumps(json_object_get(p, "addressPrefix") ? json_object_get(p, "addressPrefix")
                                                           : json_object_get(p, "addressPrefixes"),
                       JSON_COMPACT | JSON_ENCODE_ANY);
    static _Thread_local char buf[512];

    snprintf(buf, sizeof(buf), "%s", s ? s : "");
    free(s);
    return buf;
}

/* A subnet a workspace holds (its network intent policy) or that NICs use. */
static int
subnet_guard(const json_t *was, const json_t *now, const struct use *u, struct ctl_net_err *e)
{
    const char *sid = json_string_value(json_object_get(was, "id"));
    const char *nsg_was = ref_of(was, "networkSecurityGroup");
    const char *nsg_now = now ? ref_of(now, "networkSecurityGroup") : NULL;
    char pw[512];

    if (now == NULL) {
        ctl_net_err_set(e, 400, "InUseSubnetCannotBeDeleted",
                        "Subnet %.80s is in use by %.300s and cannot be deleted. In order to "
                        "delete the subnet, delete all the resources within the subnet.",
                        ctl_arm_id_last(sid), u->what);
        return SCC_EPERM;
    }
    if (u->ws == 0)
        return 0;
    snprintf(pw, sizeof(pw), "%s", prefix_of(was));
    if (strcmp(pw, prefix_of(now)) != 0) {
        ctl_net_err_set(e, 400, "InUseSubnetCannotBeUpdated",
                        "Subnet %.80s is in use by workspace %.300s; its address range cannot "
                        "change.",
                        ctl_arm_id_last(sid), u->what);
        return SCC_EPERM;
    }
    if (!delegated(now)) {
        ctl_net_err_set(e, 400, "SubnetMissingRequiredDelegation",
                        "Subnet %.300s requires any of the following delegation(s) "
                        "[Microsoft.Databricks/workspaces] to reference service association link "
                        "of workspace %.300s.",
                        sid, u->what);
        return SCC_EPERM;
    }
    if (nsg_was && (nsg_now == NULL || strcasecmp(nsg_was, nsg_now) != 0)) {
        ctl_net_err_set(e, 400, "NetworkSecurityGroupCannotBeRemovedDueToNipOnSubnet",
                        "Network security group %.300s cannot be removed from subnet %.300s "
                        "because it has network intent policy "
                        "/subscriptions/.../networkIntentPolicies/adb-%.64s applied.",
                        nsg_was, sid, ctl_arm_id_last(u->what));
        return SCC_EPERM;
    }
    return 0;
}

static int
vnet_guard(struct arm_call *k, const json_t *old, const json_t *body, struct ctl_net_err *e)
{
    json_t *now = json_object_get(json_object_get(body, "properties"), "subnets"), *s;
    size_t i;
    int rc;

    json_array_foreach(json_object_get(json_object_get(old, "properties"), "subnets"), i, s)
    {
        struct use u = {0, 0, ""};
        const json_t *n = find_named(now, json_string_value(json_object_get(s, "name")));

        if ((rc = ctl_store_arm_ref_each_to(k->c->store,
                                            json_string_value(json_object_get(s, "id")), false,
                                            NULL, count_use, &u)) < 0)
            return rc;
        if ((u.ws || u.other) && (rc = subnet_guard(s, n, &u, e)) < 0)
            return rc;
    }
    return 0;
}

/* A request rule at a required rule's priority and direction is the
 * intent policy's business (checked before the NSG's own
 * SecurityRuleConflict, which it would otherwise surface as). */
static int
nsg_preguard(struct arm_call *k, const char *id, const json_t *req, struct ctl_net_err *e)
{
    json_t *required = net_required_rules(k, id), *r, *q;
    json_t *rules = scc_json_iget(scc_json_iget(req, "properties"), "securityRules");
    size_t i, j;
    int rc = 0;

    json_array_foreach(json_array_size(required) ? rules : NULL, i, r)
    {
        json_t *p = scc_json_iget(r, "properties");
        const char *name = json_string_value(scc_json_iget(r, "name"));
        const char *dir = json_string_value(scc_json_iget(p, "direction"));

        json_array_foreach(required, j, q)
        {
            json_t *qp = json_object_get(q, "properties");

            if (rc == 0 && name && dir &&
                strcasecmp(name, json_string_value(json_object_get(q, "name"))) != 0 &&
                json_integer_value(scc_json_iget(p, "priority")) ==
                        json_integer_value(json_object_get(qp, "priority")) &&
                strcasecmp(dir, json_string_value(json_object_get(qp, "direction"))) == 0) {
                ctl_net_err_set(e, 400, "ConflictWithNetworkIntentPolicy",
                                "Found conflicts with NetworkIntentPolicy. Details: Network "
                                "Security Group cannot have resources which conflict with its "
                                "subnets' network intent policies. The rule '%.120s' takes the "
                                "priority and direction of %.120s.",
                                name, json_string_value(json_object_get(q, "name")));
                rc = SCC_EPERM;
            }
        }
    }
    json_decref(required);
    return rc;
}

static int
nsg_guard(struct arm_call *k, const char *id, const json_t *body, struct ctl_net_err *e)
{
    json_t *required = net_required_rules(k, id);
    int rc = 0;

    if (json_array_size(required))
        rc = ctl_net_rules_protected(
                json_object_get(json_object_get(body, "properties"), "securityRules"), required, e);
    json_decref(required);
    return rc;
}

/* ---- create or replace ---- */

static int
build(struct arm_call *k, const struct ctl_net_type *ty, const char *id, const json_t *req,
      const json_t *old, json_t **body, struct ctl_net_err *e)
{
    const char *want = json_string_value(scc_json_iget(req, "location"));
    const char *have = json_string_value(json_object_get(old, "location"));
    struct ctl_net_ctx x = {id, NULL, k->api_version, old};
    char loc[64];

    if (want == NULL && have)
        snprintf(loc, sizeof(loc), "%s", have);
    else if (!loc_norm(want, loc)) {
        ctl_net_err_set(e, 400, "LocationRequired",
                        "The location property is required for this definition.");
        return SCC_EINVAL;
    }
    if (have && strcmp(have, loc) != 0) {
        ctl_net_err_set(e, 409, "InvalidResourceLocation",
                        "The resource '%.80s' already exists in location '%s'. A resource with "
                        "the same name cannot be created in location '%s'.",
                        ctl_arm_id_last(id), have, loc);
        return SCC_EINVAL;
    }
    x.location = loc;
    if (!json_is_object(scc_json_iget(req, "properties")) &&
        strcmp(ty->type, "networkSecurityGroups") != 0 && strcmp(ty->type, "routeTables") != 0 &&
        strcmp(ty->type, "publicIPAddresses") != 0 && strcmp(ty->type, "natGateways") != 0) {
        ctl_net_err_set(e, 400, "InvalidRequestFormat", "properties is required.");
        return SCC_EINVAL;
    }
    return ty->build(&x, req, body, e);
}

static int
guard(struct arm_call *k, const struct ctl_net_type *ty, const char *id, const json_t *old,
      const json_t *body, struct ctl_net_err *e)
{
    if (k->who.internal)
        return 0;
    if (old && strcmp(ty->type, "virtualNetworks") == 0)
        return vnet_guard(k, old, body, e);
    if (strcmp(ty->type, "networkSecurityGroups") == 0)
        return nsg_guard(k, id, body, e);
    return 0;
}

static int
write(struct arm_call *k, const struct ctl_net_type *ty, const char *id, const char *rg,
      json_t *body, const json_t *refs)
{
    struct ctl_arm_target t;
    struct ctl_arm_row r;
    int rc;

    if ((rc = ctl_arm_id_split(id, &t)) < 0)
        return rc;
    ctl_net_stamp(body);
    arm_row_init(&r, id, t.sub, rg, ty->full, k->now_ms);
    if ((rc = arm_row_put_json(k, &r, body)) < 0 || (rc = net_refs_write(k, id, refs)) < 0)
        return rc;
    return net_rerender(k, id);
}

int
net_apply(struct arm_call *k, const struct ctl_net_type *ty, const char *id, const char *rg,
          const json_t *req, json_t **out, bool *created, struct ctl_net_err *e)
{
    json_t *old = net_body(k, id), *body = NULL, *refs = NULL;
    int rc;

    *out = NULL;
    e->status = 0;
    *created = old == NULL;
    if (!arm_check_tags(k, scc_json_iget(req, "tags"))) {
        ctl_net_err_set(e, k->resp.status, "InvalidTag", "tags must be an object of strings.");
        k->resp.status = 0;
        rc = SCC_EINVAL;
        goto out;
    }
    if (!k->who.internal && strcmp(ty->type, "networkSecurityGroups") == 0 &&
        (rc = nsg_preguard(k, id, req, e)) < 0)
        goto out;
    if ((rc = build(k, ty, id, req, old, &body, e)) < 0 ||
        (rc = guard(k, ty, id, old, body, e)) < 0)
        goto out;
    if ((refs = net_refs_of(ty, body)) == NULL) {
        rc = SCC_ENOMEM;
        goto out;
    }
    if ((rc = net_refs_check(k, id, refs, e)) < 0 || (rc = net_allocate(k, ty, body, old, e)) < 0 ||
        (rc = write(k, ty, id, rg, body, refs)) < 0)
        goto out;
    *out = net_body(k, id);
    rc = *out ? 0 : SCC_ENOMEM;
out:
    json_decref(refs);
    json_decref(body);
    json_decref(old);
    return rc;
}

/* ---- resolving the request's ids ---- */

struct net_req {
    const struct ctl_net_type *ty;
    char rg[128];            /* stored casing */
    char id[CTL_ARM_ID_MAX]; /* the top-level resource, stored casing when it exists */
};

static int
resolve(struct arm_call *k, struct net_req *q)
{
    const char *types[1] = {q->ty->type};
    const char *names[1] = {k->t.names[0]};
    struct ctl_arm_row rg, cur;
    int rc;

    if (!arm_sub_exists(k, k->t.sub) || (rc = arm_rg_get(k, k->t.sub, k->t.rg, &rg)) < 0)
        return -1;
    snprintf(q->rg, sizeof(q->rg), "%s", rg.name);
    ctl_arm_row_fini(&rg);
    if (ctl_arm_res_id(q->id, sizeof(q->id), k->t.sub, q->rg, ARM_NS_NETWORK, types, names, 1) <
        0) {
        arm_error(k, 400, "InvalidResourceName", "The resource name is too long.");
        return -1;
    }
    if (arm_row_get(k, q->id, &cur) == 0) {
        snprintf(q->id, sizeof(q->id), "%s", cur.id);
        ctl_arm_row_fini(&cur);
    }
    return 0;
}

/* If-Match / If-None-Match against id's stored etag (arm_precondition). */
static bool
cond_ok(struct arm_call *k, const char *id)
{
    json_t *body;
    bool ok;

    if (k->if_match[0] == '\0' && k->if_none_match[0] == '\0')
        return true;
    body = net_body(k, id);
    ok = arm_precondition(k, body);
    json_decref(body);
    return ok;
}

static void
answer_put(struct arm_call *k, json_t *shown, bool created, const char *loc)
{
    char op[40];

    if (arm_op_done_now(k, ARM_NS_NETWORK, loc, "net.put",
                        json_string_value(json_object_get(shown, "id")), op) < 0) {
        (void)arm_store_error(k, SCC_ESTORE);
        return;
    }
    json_object_set_new(json_object_get(shown, "properties"), "provisioningState",
                        json_string("Updating"));
    arm_reply(k, created ? 201 : 200, json_incref(shown));
    arm_lro_headers(k, ARM_NS_NETWORK, loc, op, true, false);
}

static void
put_job(struct arm_call *k)
{
    struct net_req *q = k->ctx;
    struct ctl_net_err e = {0};
    json_t *out = NULL;
    bool created;
    int rc = -1;

    if (arm_tx_begin(k) < 0)
        return;
    if (resolve(k, q) == 0 && arm_ns_registered(k, k->t.sub, ARM_NS_NETWORK, NULL) &&
        cond_ok(k, q->id)) {
        if ((rc = net_apply(k, q->ty, q->id, q->rg, k->body, &out, &created, &e)) < 0)
            reply_err(k, &e, rc);
        else
            answer_put(k, out, created, json_string_value(json_object_get(out, "location")));
    }
    (void)arm_tx_end(k, rc);
    json_decref(out);
}

static void
patch_job(struct arm_call *k)
{
    struct net_req *q = k->ctx;
    json_t *body = NULL, *tags = json_object_get(k->body, "tags");
    struct ctl_arm_row r;
    int rc = -1;

    if (arm_tx_begin(k) < 0)
        return;
    if (resolve(k, q) == 0 && arm_check_tags(k, tags) && cond_ok(k, q->id)) {
        if (arm_row_get(k, q->id, &r) < 0) {
            arm_error(k, 404, "ResourceNotFound", "The Resource '%.300s' was not found.", q->id);
        } else {
            body = arm_loads(r.body);
            if (json_object_size(tags))
                json_object_set(body, "tags", tags);
            else
                json_object_del(body, "tags");
            ctl_net_stamp(body);
            if ((rc = arm_row_put_json(k, &r, body)) == 0)
                arm_reply(k, 200, json_incref(body));
            ctl_arm_row_fini(&r);
        }
    }
    (void)arm_tx_end(k, rc);
    json_decref(body);
}

/* ---- delete ---- */

struct holder {
    const char *self;
    char src[CTL_ARM_ID_MAX];
};

static int
held(const char *owner, const char *kind, const char *src, const char *dst, void *arg)
{
    struct holder *h = arg;
    size_t n = strlen(h->self);

    (void)kind, (void)dst;
    /* Its own refs (a VNet's subnets pointing at each other) do not count. */
    if (strncasecmp(owner, h->self, n) == 0 && (owner[n] == '\0' || owner[n] == '/'))
        return 0;
    snprintf(h->src, sizeof(h->src), "%s", strcmp(kind, NET_REF_WS_SUBNET) == 0 ? owner : src);
    return 1;
}

static const char *
in_use_code(const struct ctl_net_type *ty)
{
    static const char *const codes[][2] = {
            {"virtualNetworks", "InUseSubnetCannotBeDeleted"},
            {"networkSecurityGroups", "InUseNetworkSecurityGroupCannotBeDeleted"},
            {"routeTables", "InUseRouteTableCannotBeDeleted"},
            {"natGateways", "InUseNatGatewayCannotBeDeleted"},
            {"publicIPAddresses", "PublicIPAddressInUse"},
            {"loadBalancers", "InUseLoadBalancerCannotBeDeleted"},
            {"networkInterfaces", "NicInUse"},
    };

    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        if (strcmp(codes[i][0], ty->type) == 0)
            return codes[i][1];
    }
    return "InUseResourceCannotBeDeleted";
}

int
arm_net_delete_now(struct arm_call *k, const char *id)
{
    json_t *body = net_body(k, id), *none = json_array();
    int rc;

    if (body == NULL || none == NULL) {
        json_decref(none);
        json_decref(body);
        return body ? SCC_ENOMEM : 0;
    }
    if ((rc = net_release(k, body)) == 0 && (rc = net_refs_write(k, id, none)) == 0)
        rc = arm_row_del(k, id);
    json_decref(none);
    json_decref(body);
    return rc;
}

static void
delete_job(struct arm_call *k)
{
    struct net_req *q = k->ctx;
    struct holder h = {q->id, ""};
    char op[40];
    json_t *body;
    int rc = -1;

    if (arm_tx_begin(k) < 0)
        return;
    if (resolve(k, q) == 0) {
        h.self = q->id;
        body = net_body(k, q->id);
        if (!arm_precondition(k, body)) {
            rc = -1;
        } else if (body == NULL) {
            arm_reply(k, 204, NULL);
            rc = 0;
        } else if ((rc = ctl_store_arm_ref_each_to(k->c->store, q->id, true, NULL, held, &h)) !=
                   0) {
            arm_error(k, 400, in_use_code(q->ty),
                      "%.300s is in use by %.300s and cannot be deleted.", q->id, h.src);
            rc = -1;
        } else if ((rc = arm_net_delete_now(k, q->id)) == 0 &&
                   (rc = arm_op_done_now(k, ARM_NS_NETWORK,
                                         json_string_value(json_object_get(body, "location")),
                                         "net.delete", q->id, op)) == 0) {
            arm_reply(k, 202, NULL);
            arm_lro_headers(k, ARM_NS_NETWORK, json_string_value(json_object_get(body, "location")),
                            op, true, true);
        }
        json_decref(body);
    }
    (void)arm_tx_end(k, rc);
}

/* ---- child endpoints ---- */

static json_t *
with_child(json_t *parent, const char *coll, const char *name, const json_t *child_req,
           bool *existed)
{
    json_t *p = json_object_get(parent, "properties");
    json_t *arr = json_object_get(p, coll), *c, *props;
    size_t i;

    *existed = false;
    if (arr == NULL)
        json_object_set_new(p, coll, arr = json_array());
    json_array_foreach(arr, i, c)
    {
        if (strcasecmp(json_string_value(json_object_get(c, "name")), name) == 0) {
            *existed = true;
            name = json_string_value(json_object_get(c, "name"));
            break;
        }
    }
    if (child_req == NULL) {
        if (*existed)
            json_array_remove(arr, i);
        return parent;
    }
    props = scc_json_iget(child_req, "properties");
    c = json_pack("{s:s, s:o}", "name", name, "properties",
                  json_is_object(props) ? json_deep_copy(props) : json_object());
    if (*existed)
        json_array_set_new(arr, i, c);
    else
        json_array_append_new(arr, c);
    return parent;
}

/* If-Match / If-None-Match against the child's own etag. */
static bool
child_cond_ok(struct arm_call *k, const json_t *parent, const struct net_req *q)
{
    const json_t *kids = json_object_get(json_object_get(parent, "properties"), q->ty->children);

    return arm_precondition(k, find_named(kids, k->t.names[1]));
}

static void
child_job(struct arm_call *k)
{
    struct net_req *q = k->ctx;
    bool del = strcmp(k->method, "DELETE") == 0, existed = false, created;
    struct ctl_net_err e = {0};
    json_t *parent = NULL, *out = NULL, *child;
    const char *loc;
    char op[40];
    int rc = -1;

    if (arm_tx_begin(k) < 0)
        return;
    if (resolve(k, q) == 0 && (parent = net_body(k, q->id)) == NULL) {
        arm_error(k, 404, "ResourceNotFound", "The Resource '%.300s' was not found.", q->id);
    } else if (parent && !child_cond_ok(k, parent, q)) {
        rc = -1;
    } else if (parent) {
        with_child(parent, q->ty->children, k->t.names[1], del ? NULL : k->body, &existed);
        if (del && !existed) {
            arm_reply(k, 204, NULL);
            rc = 0;
        } else if ((rc = net_apply(k, q->ty, q->id, q->rg, parent, &out, &created, &e)) < 0) {
            reply_err(k, &e, rc);
        } else if ((rc = arm_op_done_now(k, ARM_NS_NETWORK,
                                         loc = json_string_value(json_object_get(out, "location")),
                                         "net.put", q->id, op)) == 0) {
            child = (json_t *)find_named(
                    json_object_get(json_object_get(out, "properties"), q->ty->children),
                    k->t.names[1]);
            if (!del)
                json_object_set_new(json_object_get(child, "properties"), "provisioningState",
                                    json_string("Updating"));
            arm_reply(k, del ? 202 : existed ? 200 : 201, del ? NULL : json_incref(child));
            arm_lro_headers(k, ARM_NS_NETWORK, loc, op, true, del);
        }
    }
    (void)arm_tx_end(k, rc);
    json_decref(parent);
    json_decref(out);
}

/* GET of a child or a child list, from the parent's cached body. */
static void
child_get(struct arm_call *k, const char *coll)
{
    const char *types[1] = {k->t.types[0]}, *names[1] = {k->t.names[0]};
    char id[CTL_ARM_ID_MAX];
    const struct arm_entry *e;
    json_t *parent, *arr;
    const json_t *c;

    (void)ctl_arm_res_id(id, sizeof(id), k->t.sub, k->t.rg, k->t.ns, types, names, 1);
    if ((e = arm_cache_get(k->arm, id)) == NULL || (parent = arm_loads(e->text)) == NULL) {
        arm_error(k, 404, "ResourceNotFound", "The Resource '%.300s' was not found.", id);
        return;
    }
    arr = json_object_get(json_object_get(parent, "properties"), coll);
    if (k->t.kind == CTL_ARM_T_CHILD_LIST)
        arm_reply(k, 200, json_pack("{s:O}", "value", arr ? arr : json_array()));
    else if ((c = find_named(arr, k->t.names[1])) != NULL)
        arm_reply(k, 200, json_incref((json_t *)c));
    else
        arm_error(k, 404, "NotFound", "Resource %.300s/%s/%.80s not found.", id, coll,
                  k->t.names[1]);
    json_decref(parent);
}

static bool
child_route(struct arm_call *k, const struct ctl_net_type *ty)
{
    const char *coll = k->t.types[1];
    bool get = strcmp(k->method, "GET") == 0;

    if (ty->children && strcasecmp(coll, ty->children) == 0) {
        coll = ty->children;
    } else if (get && strcmp(ty->type, "networkSecurityGroups") == 0 &&
               strcasecmp(coll, "defaultSecurityRules") == 0) {
        coll = "defaultSecurityRules";
    } else {
        arm_error(k, 404, "InvalidResourceType",
                  "The resource type '%.64s/%.64s' could not be found in the namespace "
                  "'Microsoft.Network'.",
                  ty->type, coll);
        return false;
    }
    if (get) {
        child_get(k, coll);
        return false;
    }
    if (k->t.kind == CTL_ARM_T_RESOURCE &&
        (strcmp(k->method, "PUT") == 0 || strcmp(k->method, "DELETE") == 0)) {
        if (strcmp(k->method, "PUT") == 0 && k->body == NULL) {
            arm_error(k, 400, "InvalidRequestContent", "The request content is empty.");
            return false;
        }
        return true;
    }
    arm_error(k, 405, "MethodNotAllowed", "%s is not supported on %s.", k->method, coll);
    return false;
}

static arm_job_fn
top_route(struct arm_call *k)
{
    if (strcmp(k->method, "GET") == 0) {
        arm_get_cached(k);
        return NULL;
    }
    if (strcmp(k->method, "PUT") == 0 || strcmp(k->method, "PATCH") == 0) {
        if (k->body == NULL) {
            arm_error(k, 400, "InvalidRequestContent", "The request content is empty.");
            return NULL;
        }
        if (!ctl_net_name_ok(k->t.names[0])) {
            arm_error(k, 400, "InvalidResourceName",
                      "Resource name %.80s is invalid. The name can be up to 80 characters "
                      "long. It must begin with a word character, and it must end with a word "
                      "character or with '_'. The name may contain word characters or '.', "
                      "'-', '_'.",
                      k->t.names[0]);
            return NULL;
        }
        return strcmp(k->method, "PUT") == 0 ? put_job : patch_job;
    }
    if (strcmp(k->method, "DELETE") == 0)
        return delete_job;
    arm_error(k, 405, "MethodNotAllowed", "%s is not supported on this resource.", k->method);
    return NULL;
}

void
arm_net_route(struct arm_call *k)
{
    const struct ctl_net_type *ty = ctl_net_type_of(k->t.types[0]);
    struct net_req *q;
    arm_job_fn fn = NULL;

    if (ty == NULL) {
        arm_error(k, 404, "InvalidResourceType",
                  "The resource type '%.64s' could not be found in the namespace "
                  "'Microsoft.Network' for api version '%s'.",
                  k->t.types[0], k->api_version);
    } else if (k->t.kind == CTL_ARM_T_LIST_RG || k->t.kind == CTL_ARM_T_LIST_SUB) {
        arm_list_route(k);
        return;
    } else if (k->t.rg == NULL || k->t.ntypes > 2) {
        arm_error(k, 404, "NotFound", "No route matches this path.");
    } else if (k->t.ntypes == 2 || k->t.kind == CTL_ARM_T_CHILD_LIST) {
        fn = child_route(k, ty) ? child_job : NULL;
    } else {
        fn = top_route(k);
    }
    if (fn && (q = scc_calloc(1, sizeof(*q))) != NULL) {
        q->ty = ty;
        k->ctx = q;
        k->ctx_free = scc_free;
        arm_submit(k, fn);
        return;
    }
    if (fn)
        arm_error(k, 503, "ServerBusy", "out of memory");
    if (!arm_replied(k))
        arm_error(k, 500, "InternalServerError", "unanswered");
    arm_finish(k);
}
