/*
 * ctl_arm_ws.c - Microsoft.Databricks/workspaces.
 *
 * PUT validates on the loop what needs no store (types, enums, the
 * parameter wrappers), then on the worker what does (group, providers,
 * VNet injection, the managed resource group), records the workspace and
 * an operation, and answers 201 (create) or 200 (update) with
 * Azure-AsyncOperation, Location and Retry-After (arm-compat.md §2.5).
 * The operation's three steps (ctl_arm_ws_net.c) check the subnets and
 * the compute an SCC upgrade forbids, make the network, and publish the
 * desired body.  A failed step leaves the workspace Failed with the
 * operation's error saying what to fix; the same PUT again recovers it.
 *
 * On an update, parameters the body leaves out keep their values: the
 * seed's upgrade template sends only enableNoPublicIp, and must not read
 * as "drop VNet injection".
 */
#include "ctl_arm_ws.h"

#include "ctl_compute.h"
#include "ctl_names.h"
#include "ctl_tmpl.h"

#include "common/encode.h"
#include "common/err.h"
#include "common/json.h"
#include "common/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define DBX_APP_ID    "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d" /* AzureDatabricks' first-party app */
#define DBX_PRINCIPAL "9a74af6f-d153-4348-988a-e2672920bee9"
#define OWNER_ROLE    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"

static const struct param {
    const char *name;
    const char *type; /* "Bool", "String", "Object" */
} params[] = {
        {"enableNoPublicIp", "Bool"},
        {"customVirtualNetworkId", "String"},
        {"customPublicSubnetName", "String"},
        {"customPrivateSubnetName", "String"},
        {"amlWorkspaceId", "String"},
        {"loadBalancerId", "String"},
        {"loadBalancerBackendPoolName", "String"},
        {"natGatewayName", "String"},
        {"publicIpName", "String"},
        {"prepareEncryption", "Bool"},
        {"encryption", "Object"},
        {"requireInfrastructureEncryption", "Bool"},
        {"storageAccountName", "String"},
        {"storageAccountSkuName", "String"},
        {"vnetAddressPrefix", "String"},
        {"resourceTags", "Object"},
        {"relayNamespaceName", "String"},
        {"enableFedRampCertification", "Bool"},
};

#define NPARAMS (sizeof(params) / sizeof(params[0]))

const json_t *
ws_param(const json_t *body, const char *name)
{
    return json_object_get(
            json_object_get(json_object_get(json_object_get(body, "properties"), "parameters"),
                            name),
            "value");
}

void
ws_net_of(const json_t *body, struct ws_net *n)
{
    const json_t *p = json_object_get(body, "properties");
    const char *rules = json_string_value(json_object_get(p, "requiredNsgRules"));

    memset(n, 0, sizeof(*n));
    n->scc = json_is_true(ws_param(body, "enableNoPublicIp"));
    n->all_rules = rules == NULL || strcmp(rules, "AllRules") == 0;
    n->vnet = json_string_value(ws_param(body, "customVirtualNetworkId"));
    n->pub = json_string_value(ws_param(body, "customPublicSubnetName"));
    n->priv = json_string_value(ws_param(body, "customPrivateSubnetName"));
    n->mrg = json_string_value(json_object_get(p, "managedResourceGroupId"));
    n->vnet_prefix = json_string_value(ws_param(body, "vnetAddressPrefix"));
    n->nat_name = json_string_value(ws_param(body, "natGatewayName"));
    n->pip_name = json_string_value(ws_param(body, "publicIpName"));
    if (n->vnet && *n->vnet == '\0')
        n->vnet = NULL;
}

/* ---- parsing the request (loop) ---- */

static bool bad_param(struct arm_call *k, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static bool
bad_param(struct arm_call *k, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    arm_error(k, 400, "InvalidParameter", "%s", msg);
    return false;
}

static const char *
one_of(const char *v, const char *const *allowed)
{
    for (; v && *allowed; allowed++) {
        if (strcasecmp(v, *allowed) == 0)
            return *allowed;
    }
    return NULL;
}

static bool
value_typed(const json_t *v, const char *type)
{
    if (strcmp(type, "Bool") == 0)
        return json_is_boolean(v);
    if (strcmp(type, "String") == 0)
        return json_is_string(v);
    return json_is_object(v) || json_is_null(v);
}

/* parameters: {"name": {"value": v, "type"?}} bound case-insensitively. */
static bool
parse_params(struct arm_call *k, const json_t *in, json_t *out)
{
    if (in == NULL || json_is_null(in))
        return true;
    if (!json_is_object(in))
        return bad_param(k, "properties.parameters must be an object%s%s.", "", "");
    for (size_t i = 0; i < NPARAMS; i++) {
        json_t *w = scc_json_iget(in, params[i].name), *v;

        if (w == NULL || json_is_null(w))
            continue;
        v = scc_json_iget(w, "value");
        if (!json_is_object(w) || v == NULL)
            return bad_param(k, "The parameter '%s' must be an object {\"value\": ...}%s.",
                             params[i].name, "");
        if (!value_typed(v, params[i].type))
            return bad_param(k, "The value of parameter '%s' must be of type %s.", params[i].name,
                             params[i].type);
        if (strcmp(params[i].name, "resourceTags") == 0)
            continue; /* read-only: the RP sets it */
        json_object_set_new(out, params[i].name,
                            json_pack("{s:s, s:O}", "type", params[i].type, "value", v));
    }
    return true;
}

static bool
parse_enums(struct arm_call *k, const json_t *p, json_t *spec)
{
    static const char *const pna[] = {"Enabled", "Disabled", NULL};
    static const char *const rules[] = {"AllRules", "NoAzureDatabricksRules", "NoAzureServiceRules",
                                        NULL};
    json_t *a = scc_json_iget(p, "publicNetworkAccess"), *r = scc_json_iget(p, "requiredNsgRules");
    const char *av = json_string_value(a), *rv = json_string_value(r);

    static const char *const modes[] = {"Hybrid", "Serverless", NULL};
    const char *cm = json_string_value(scc_json_iget(p, "computeMode"));

    /* 2026-01-01's computeMode: classic compute in the customer's network
     * is Hybrid; serverless compute is not something this control plane runs. */
    if (scc_json_iget(p, "computeMode") && one_of(cm, modes) == NULL)
        return bad_param(k, "computeMode '%.40s' is not valid: use Hybrid.", cm ? cm : "?");
    if (cm && strcmp(one_of(cm, modes), "Serverless") == 0)
        return bad_param(k, "computeMode Serverless is not supported here; use Hybrid (classic "
                            "compute in your network).");
    if (cm)
        json_object_set_new(spec, "computeMode", json_string("Hybrid"));
    if (a && !json_is_null(a) && one_of(av, pna) == NULL)
        return bad_param(k, "publicNetworkAccess '%.40s' is not valid: use Enabled or Disabled%s.",
                         av ? av : "(not a string)", "");
    if (r && !json_is_null(r) && one_of(rv, rules) == NULL)
        return bad_param(k,
                         "requiredNsgRules '%.40s' is not valid: use AllRules or "
                         "NoAzureDatabricksRules%s.",
                         rv ? rv : "(not a string)", "");
    if (av)
        json_object_set_new(spec, "publicNetworkAccess", json_string(one_of(av, pna)));
    if (rv)
        json_object_set_new(spec, "requiredNsgRules", json_string(one_of(rv, rules)));
    return true;
}

static bool
parse_sku(struct arm_call *k, json_t *spec)
{
    static const char *const skus[] = {"premium", "standard", "trial", NULL};
    json_t *sku = scc_json_iget(k->body, "sku");
    const char *name = json_string_value(scc_json_iget(sku, "name"));
    const char *tier = json_string_value(scc_json_iget(sku, "tier"));

    if (sku == NULL || json_is_null(sku))
        return true;
    if (!json_is_object(sku) || one_of(name, skus) == NULL)
        return bad_param(k, "sku.name '%.40s' is not valid: use premium, standard or trial%s.",
                         name ? name : "(missing)", "");
    json_object_set_new(spec, "sku",
                        tier ? json_pack("{s:s, s:s}", "name", one_of(name, skus), "tier", tier)
                             : json_pack("{s:s}", "name", one_of(name, skus)));
    return true;
}

/* managedResourceGroupId in its group-id form, our subscription. */
static bool
parse_mrg(struct arm_call *k, const char *v, json_t *spec)
{
    struct ctl_arm_target t;
    char id[CTL_ARM_PATH_MAX], sub[40];
    const char *name = NULL;

    if (v == NULL)
        return true;
    if (ctl_arm_target_parse(v, &t) == 0 && t.sub) {
        if (t.kind == CTL_ARM_T_RG)
            name = t.rg;
        else if (t.kind == CTL_ARM_T_RESOURCE && t.ntypes == 1 && t.rg == NULL &&
                 strcasecmp(t.ns, ARM_NS_RESOURCES) == 0 &&
                 strcasecmp(t.types[0], "resourceGroups") == 0)
            name = t.names[0];
    }
    if (name == NULL || !ctl_name_is_resource_group(name))
        return bad_param(k,
                         "managedResourceGroupId '%.200s' is not a resource group id "
                         "(/subscriptions/{subscription}/resourceGroups/{name})%s.",
                         v, "");
    (void)ctl_arm_lower(t.sub, sub, sizeof(sub));
    if (strcmp(sub, k->t.sub) != 0)
        return bad_param(k,
                         "The managed resource group must be in the workspace's subscription "
                         "%.64s%s.",
                         k->t.sub, "");
    (void)ctl_arm_rg_id(id, sizeof(id), sub, name);
    json_object_set_new(spec, "managedResourceGroupId", json_string(id));
    return true;
}

static bool
parse_misc(struct arm_call *k, const json_t *p, json_t *spec)
{
    json_t *ui = scc_json_iget(p, "uiDefinitionUri"), *auth = scc_json_iget(p, "authorizations");
    json_t *enc = scc_json_iget(p, "encryption"), *a;
    size_t i;

    if (ui && !json_is_null(ui) && !json_is_string(ui))
        return bad_param(k, "uiDefinitionUri must be a string%s%s.", "", "");
    if (ui && json_is_string(ui))
        json_object_set(spec, "uiDefinitionUri", ui);
    if (auth && !json_is_null(auth) && !json_is_array(auth))
        return bad_param(k, "authorizations must be an array%s%s.", "", "");
    json_array_foreach(json_is_array(auth) ? auth : NULL, i, a)
    {
        const char *pid = json_string_value(scc_json_iget(a, "principalId"));
        const char *rid = json_string_value(scc_json_iget(a, "roleDefinitionId"));

        if (pid == NULL || rid == NULL || !ctl_name_is_guid(pid) || !ctl_name_is_guid(rid))
            return bad_param(k,
                             "each authorization needs principalId and roleDefinitionId "
                             "GUIDs%s%s.",
                             "", "");
    }
    if (json_is_array(auth))
        json_object_set(spec, "authorizations", auth);
    if (enc && !json_is_null(enc) &&
        (!json_is_object(enc) || !json_is_object(scc_json_iget(enc, "entities"))))
        return bad_param(k, "encryption must be an object with entities%s%s.", "", "");
    if (json_is_object(enc))
        json_object_set(spec, "encryption", enc);
    return true;
}

/* The request, checked and normalised into a spec (k->ctx). */
static bool
ws_parse(struct arm_call *k)
{
    json_t *p = scc_json_iget(k->body, "properties"), *spec, *tags = scc_json_iget(k->body, "tags");
    bool bad = false;
    char loc[64];
    const char *mrg;

    if (k->body == NULL || !json_is_object(p)) {
        arm_error(k, 400, "InvalidRequestContent",
                  "The request content was invalid: properties (with managedResourceGroupId) is "
                  "required.");
        return false;
    }
    if (!ctl_name_is_workspace(k->t.names[0])) {
        arm_error(k, 400, "InvalidResourceName",
                  "The workspace name '%.80s' is invalid: 3-64 characters of letters, digits, "
                  "'_' and '-'.",
                  k->t.names[0]);
        return false;
    }
    mrg = arm_str(k, k->body, "location", "location", &bad);
    if (bad || !arm_location(k, mrg, loc, sizeof(loc)) || !arm_check_tags(k, tags))
        return false;
    mrg = arm_str(k, p, "managedResourceGroupId", "properties.managedResourceGroupId", &bad);
    if (bad || (spec = json_pack("{s:s, s:{}}", "location", loc, "parameters")) == NULL)
        return false;
    if (json_is_object(tags))
        json_object_set(spec, "tags", tags);
    k->ctx = spec;
    k->ctx_free = (void (*)(void *))json_decref;
    return parse_sku(k, spec) && parse_mrg(k, mrg, spec) && parse_enums(k, p, spec) &&
           parse_misc(k, p, spec) &&
           parse_params(k, scc_json_iget(p, "parameters"), json_object_get(spec, "parameters"));
}

/* ---- the desired body (worker) ---- */

static void
who_json(struct arm_call *k, json_t *props, const char *key)
{
    char puid[17];

    snprintf(puid, sizeof(puid), "%.8s%.4s%.4s", k->who.oid, k->who.oid + 9, k->who.oid + 14);
    for (char *p = puid; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
    json_object_set_new(props, key,
                        json_pack("{s:s, s:s, s:s}", "oid", k->who.oid, "puid", puid,
                                  "applicationId", k->who.oid));
}

static int
new_ids(struct arm_call *k, json_t *props)
{
    uint8_t r[8];
    uint64_t v = 0;
    char id[24], url[256];
    int rc;

    if ((rc = scc_rand_bytes(r, sizeof(r))) < 0)
        return rc;
    for (size_t i = 0; i < 8; i++)
        v = v << 8 | r[i];
    /* 16 digits, like Azure's, never starting with 0. */
    v = 1000000000000000ull + v % 9000000000000000ull;
    snprintf(id, sizeof(id), "%llu", (unsigned long long)v);
    snprintf(url, sizeof(url), "adb-%s.%u.%s", id, (unsigned)(v % 20 + 1),
             k->c->cfg->workspace_domain);
    json_object_set_new(props, "workspaceId", json_string(id));
    json_object_set_new(props, "workspaceUrl", json_string(url));
    return 0;
}

static void
param_default(json_t *ps, const char *name, const char *type, json_t *v)
{
    if (json_object_get(ps, name) == NULL)
        json_object_set_new(ps, name, json_pack("{s:s, s:o}", "type", type, "value", v));
    else
        json_decref(v);
}

/* Old parameters, overlaid with the given ones, then the defaults. */
static json_t *
merged_params(struct arm_call *k, const char *id, const json_t *spec, const json_t *old)
{
    json_t *ps = json_deep_copy(json_object_get(json_object_get(old, "properties"), "parameters"));
    const char *args[1] = {id};
    char sa[14] = "", name[32];

    if (!json_is_object(ps)) {
        json_decref(ps);
        ps = json_object();
    }
    json_object_update(ps, json_object_get(spec, "parameters"));
    /* 2024-05-01 made enableNoPublicIp default to true. */
    param_default(ps, "enableNoPublicIp", "Bool",
                  json_boolean(strcmp(k->api_version, "2024-05-01") >= 0));
    param_default(ps, "natGatewayName", "String", json_string("nat-gateway"));
    param_default(ps, "publicIpName", "String", json_string("nat-gw-public-ip"));
    param_default(ps, "prepareEncryption", "Bool", json_false());
    param_default(ps, "requireInfrastructureEncryption", "Bool", json_false());
    (void)ctl_tmpl_unique_string(args, 1, sa);
    snprintf(name, sizeof(name), "dbstorage%s", sa);
    param_default(ps, "storageAccountName", "String", json_string(name));
    param_default(ps, "storageAccountSkuName", "String", json_string("Standard_GRS"));
    param_default(ps, "vnetAddressPrefix", "String", json_string("10.139"));
    json_object_set_new(ps, "resourceTags",
                        json_pack("{s:s, s:{s:s, s:s}}", "type", "Object", "value", "application",
                                  "databricks", "databricks-environment", "true"));
    return ps;
}

static void
keep_or(json_t *props, const json_t *spec, const json_t *oldp, const char *key, const char *def)
{
    json_t *v = json_object_get(spec, key);

    if (v == NULL)
        v = json_object_get(oldp, key);
    if (v)
        json_object_set(props, key, v);
    else if (def)
        json_object_set_new(props, key, json_string(def));
}

static json_t *
ws_desired(struct arm_call *k, const char *id, const char *mrg, const json_t *spec,
           const json_t *old)
{
    json_t *oldp = json_object_get(old, "properties"), *props, *body;
    char now[40];

    body = json_pack("{s:s, s:s, s:s, s:O}", "id", id, "name", ctl_arm_id_last(id), "type",
                     ARM_T_WS, "location", json_object_get(spec, "location"));
    if (body == NULL)
        return NULL;
    keep_or(body, spec, old, "tags", NULL);
    keep_or(body, spec, old, "sku", NULL);
    if (json_object_get(body, "sku") == NULL)
        json_object_set_new(body, "sku", json_pack("{s:s}", "name", "premium"));
    json_object_set_new(body, "systemData", arm_system_data(k, json_object_get(old, "systemData")));
    props = json_pack("{s:s, s:o, s:s}", "managedResourceGroupId", mrg, "parameters",
                      merged_params(k, id, spec, old), "provisioningState", "Succeeded");
    json_object_set_new(body, "properties", props);
    keep_or(props, spec, oldp, "uiDefinitionUri", NULL);
    if (json_object_get(spec, "authorizations") || json_object_get(oldp, "authorizations"))
        keep_or(props, spec, oldp, "authorizations", NULL);
    else
        json_object_set_new(props, "authorizations",
                            json_pack("[{s:s, s:s}]", "principalId", DBX_PRINCIPAL,
                                      "roleDefinitionId", OWNER_ROLE));
    if (json_object_get(oldp, "createdBy"))
        json_object_set(props, "createdBy", json_object_get(oldp, "createdBy"));
    else
        who_json(k, props, "createdBy");
    who_json(k, props, "updatedBy");
    arm_time(k->now_ms, now);
    keep_or(props, NULL, oldp, "createdDateTime", now);
    if (json_object_get(oldp, "workspaceId")) {
        keep_or(props, NULL, oldp, "workspaceId", NULL);
        keep_or(props, NULL, oldp, "workspaceUrl", NULL);
    } else if (new_ids(k, props) < 0) {
        json_decref(body);
        return NULL;
    }
    json_object_set_new(props, "privateEndpointConnections", json_array());
    keep_or(props, spec, oldp, "publicNetworkAccess", "Enabled");
    keep_or(props, spec, oldp, "requiredNsgRules", "AllRules");
    keep_or(props, spec, oldp, "encryption", NULL);
    keep_or(props, spec, oldp, "computeMode", NULL);
    if (json_is_true(ws_param(body, "prepareEncryption")))
        keep_or(props, NULL, oldp, "storageAccountIdentity", NULL);
    return body;
}

/* ---- PUT (worker) ---- */

int
ws_write(struct arm_call *k, const char *ws_id, json_t *body, const char *state)
{
    struct ctl_arm_target t;
    struct ctl_arm_row r;

    if (ctl_arm_id_split(ws_id, &t) < 0)
        return SCC_EINVAL;
    json_object_set_new(json_object_get(body, "properties"), "provisioningState",
                        json_string(state));
    arm_row_init(&r, ws_id, t.sub, t.rg, ARM_T_WS, k->now_ms);
    return arm_row_put_json(k, &r, body);
}

static bool
mode_checks(struct arm_call *k, const json_t *desired)
{
    struct ws_net n;
    const json_t *p = json_object_get(desired, "properties");
    bool disabled =
            strcmp(json_string_value(json_object_get(p, "publicNetworkAccess")), "Disabled") == 0;

    ws_net_of(desired, &n);
    if ((n.vnet != NULL) != (n.pub != NULL) || (n.vnet != NULL) != (n.priv != NULL))
        return bad_param(k,
                         "customVirtualNetworkId, customPublicSubnetName and "
                         "customPrivateSubnetName must all be set, or none of them%s%s.",
                         "", "");
    if (disabled && n.all_rules)
        return bad_param(k,
                         "publicNetworkAccess Disabled requires requiredNsgRules "
                         "NoAzureDatabricksRules (back-end Private Link); AllRules keeps the "
                         "outbound AzureDatabricks rule%s%s.",
                         "", "");
    if (disabled && ws_param(desired, "loadBalancerId"))
        return bad_param(k,
                         "publicNetworkAccess Disabled cannot be combined with "
                         "loadBalancerId%s%s.",
                         "", "");
    return true;
}

static bool
update_checks(struct arm_call *k, const json_t *old, const json_t *desired)
{
    struct ws_net o, n;
    const char *lo = json_string_value(json_object_get(old, "location"));
    const char *ln = json_string_value(json_object_get(desired, "location"));

    ws_net_of(old, &o);
    ws_net_of(desired, &n);
    if (strcmp(lo, ln) != 0) {
        arm_error(k, 409, "InvalidResourceLocation",
                  "The workspace '%.64s' already exists in location '%s'; it cannot move to "
                  "'%s'.",
                  ctl_arm_id_last(json_string_value(json_object_get(old, "id"))), lo, ln);
        return false;
    }
    if (strcasecmp(o.mrg, n.mrg) != 0)
        return bad_param(k, "managedResourceGroupId cannot change (it is %.200s)%s.", o.mrg, "");
    if ((o.vnet || n.vnet) && (!o.vnet || !n.vnet || strcasecmp(o.vnet, n.vnet) != 0)) {
        arm_error(k, 400, "VirtualNetworkIdChangeNotAllowed",
                  "Updating required Virtual Network from %.300s to %.300s is not allowed for an "
                  "existing workspace.",
                  o.vnet ? o.vnet : "(managed)", n.vnet ? n.vnet : "(managed)");
        return false;
    }
    if (o.vnet && (strcmp(o.pub, n.pub) != 0 || strcmp(o.priv, n.priv) != 0))
        return bad_param(k, "The subnets of a VNet-injected workspace cannot change (%.80s)%s.",
                         o.pub, "");
    if (o.scc != n.scc && o.vnet == NULL)
        return bad_param(k,
                         "Changing enableNoPublicIp on an existing workspace (the secure cluster "
                         "connectivity upgrade) requires VNet injection; workspace %.64s uses a "
                         "managed virtual network%s.",
                         ctl_arm_id_last(json_string_value(json_object_get(old, "id"))), "");
    return true;
}

/* The managed group must be new (or already this workspace's). */
static bool
mrg_check(struct arm_call *k, const char *ws_id, const char *mrg, const char *rg_id)
{
    struct ctl_arm_row r;

    if (strcasecmp(mrg, rg_id) == 0)
        return bad_param(k,
                         "The managed resource group %.200s cannot be the workspace's own "
                         "resource group%s.",
                         mrg, "");
    if (arm_row_get(k, mrg, &r) < 0)
        return true;
    if (r.locked_by && strcasecmp(r.locked_by, ws_id) == 0) {
        ctl_arm_row_fini(&r);
        return true;
    }
    ctl_arm_row_fini(&r);
    arm_error(k, 409, "Conflict",
              "The managed resource group '%.200s' already exists. Azure Databricks creates it "
              "with the workspace: choose a name that does not exist.",
              mrg);
    return false;
}

static const char *
gen_mrg(struct arm_call *k, const char *rg_id, char *out, size_t cap)
{
    const char *args[2] = {k->t.names[0], rg_id};
    const char *given = json_string_value(json_object_get(k->ctx, "managedResourceGroupId"));
    char u[14] = "", name[128];

    if (given)
        return given;
    /* What the seed's template computes: databricks-rg-<name>-<uniqueString(name, rg id)>. */
    (void)ctl_tmpl_unique_string(args, 2, u);
    snprintf(name, sizeof(name), "databricks-rg-%.60s-%s", k->t.names[0], u);
    (void)ctl_arm_rg_id(out, cap, k->t.sub, name);
    return out;
}

static void
answer(struct arm_call *k, const json_t *shown, bool created, const char *op,
       const struct ws_net *n)
{
    const char *loc = json_string_value(json_object_get(shown, "location"));

    arm_reply(k, created ? 201 : 200, json_incref((json_t *)shown));
    arm_lro_headers(k, ARM_NS_DATABRICKS, loc, op, true, true);
    if (created && n->vnet == NULL && n->scc)
        arm_header(k, "Warning",
                   "299 sccd \"secure cluster connectivity with a managed VNet: a NAT gateway "
                   "(%s) with public IP %s is created in %s for stable egress; the NAT gateway "
                   "incurs additional cost\"",
                   n->nat_name, n->pip_name, n->mrg);
}

static int
ws_record(struct arm_call *k, const char *id, json_t *desired, const json_t *old)
{
    struct ws_net n;
    json_t *shown = json_deep_copy(old ? old : desired), *payload;
    char op[40];
    int rc;

    ws_net_of(desired, &n);
    payload = json_pack("{s:O, s:b}", "desired", desired, "create", old == NULL);
    if (shown == NULL || payload == NULL)
        rc = SCC_ENOMEM;
    else if (old == NULL &&
             (rc = arm_rg_create_locked(
                      k, n.mrg, json_string_value(json_object_get(desired, "location")), id)) < 0)
        ;
    else if ((rc = ws_write(k, id, shown, old ? "Updating" : "Accepted")) == 0 &&
             (rc = arm_op_start(k, ARM_NS_DATABRICKS,
                                json_string_value(json_object_get(desired, "location")), "ws.put",
                                id, payload, op)) == 0)
        answer(k, shown, old == NULL, op, &n);
    json_decref(payload);
    json_decref(shown);
    return rc;
}

static bool
prereqs(struct arm_call *k, const json_t *desired, const json_t *old)
{
    struct ws_net n, o;

    ws_net_of(desired, &n);
    if (old)
        ws_net_of(old, &o);
    if (n.scc && (old == NULL || !o.scc) &&
        !arm_ns_registered(k, k->t.sub, ARM_NS_IDENTITY,
                           "Secure cluster connectivity (No Public IP, enableNoPublicIp: true) "
                           "needs the Microsoft.ManagedIdentity resource provider registered in "
                           "the subscription that launches the workspace; this is a one-time "
                           "operation per subscription."))
        return false;
    if (!mode_checks(k, desired) || (old && !update_checks(k, old, desired)))
        return false;
    return n.vnet == NULL ||
           ws_inject_check(k, json_string_value(json_object_get(desired, "id")),
                           json_string_value(json_object_get(desired, "location")), &n);
}

static int
ws_put_tx(struct arm_call *k)
{
    const char *types[1] = {"workspaces"}, *names[1] = {k->t.names[0]}, *mrg;
    char id[CTL_ARM_ID_MAX], rg_id[CTL_ARM_ID_MAX], gen[CTL_ARM_ID_MAX];
    struct ctl_arm_row rg, cur;
    json_t *old = NULL, *desired = NULL;
    int rc = -1;

    if (!arm_sub_exists(k, k->t.sub) || arm_rg_get(k, k->t.sub, k->t.rg, &rg) < 0)
        return -1;
    (void)ctl_arm_rg_id(rg_id, sizeof(rg_id), k->t.sub, rg.name);
    (void)ctl_arm_res_id(id, sizeof(id), k->t.sub, rg.name, ARM_NS_DATABRICKS, types, names, 1);
    ctl_arm_row_fini(&rg);
    if (arm_row_get(k, id, &cur) == 0) {
        snprintf(id, sizeof(id), "%s", cur.id);
        old = arm_loads(cur.body);
        ctl_arm_row_fini(&cur);
    }
    if (!arm_ns_registered(k, k->t.sub, ARM_NS_DATABRICKS, NULL) || (old && arm_op_busy(k, id)))
        goto out;
    mrg = old ? json_string_value(json_object_get(json_object_get(old, "properties"),
                                                  "managedResourceGroupId"))
              : gen_mrg(k, rg_id, gen, sizeof(gen));
    if (old && json_object_get(k->ctx, "managedResourceGroupId"))
        mrg = json_string_value(json_object_get(k->ctx, "managedResourceGroupId"));
    if ((desired = ws_desired(k, id, mrg, k->ctx, old)) == NULL) {
        rc = SCC_ENOMEM;
        goto out;
    }
    if (!prereqs(k, desired, old) || (old == NULL && !mrg_check(k, id, mrg, rg_id)))
        goto out;
    rc = ws_record(k, id, desired, old);
out:
    json_decref(desired);
    json_decref(old);
    return rc;
}

static void
ws_put_job(struct arm_call *k)
{
    if (arm_tx_begin(k) == 0)
        (void)arm_tx_end(k, ws_put_tx(k));
}

/* ---- PATCH: tags, synchronously (arm-compat.md finding 5) ---- */

static void
ws_patch_job(struct arm_call *k)
{
    const char *types[1] = {"workspaces"}, *names[1] = {k->t.names[0]};
    json_t *tags = json_object_get(k->body, "tags"), *body = NULL;
    char id[CTL_ARM_ID_MAX];
    struct ctl_arm_row r;
    int rc = -1;

    if (arm_tx_begin(k) < 0)
        return;
    (void)ctl_arm_res_id(id, sizeof(id), k->t.sub, k->t.rg, ARM_NS_DATABRICKS, types, names, 1);
    if (arm_row_get(k, id, &r) < 0) {
        arm_error(k, 404, "ResourceNotFound",
                  "The Resource 'Microsoft.Databricks/workspaces/%.64s' under resource group "
                  "'%.90s' was not found.",
                  k->t.names[0], k->t.rg);
    } else {
        body = arm_loads(r.body);
        if (json_object_size(tags))
            json_object_set(body, "tags", tags);
        else if (tags)
            json_object_del(body, "tags");
        json_object_set_new(body, "systemData",
                            arm_system_data(k, json_object_get(body, "systemData")));
        who_json(k, json_object_get(body, "properties"), "updatedBy");
        if ((rc = arm_row_put_json(k, &r, body)) == 0)
            arm_reply(k, 200, json_incref(body));
        ctl_arm_row_fini(&r);
    }
    (void)arm_tx_end(k, rc);
    json_decref(body);
}

/* ---- DELETE ---- */

static void
ws_delete_job(struct arm_call *k)
{
    const char *types[1] = {"workspaces"}, *names[1] = {k->t.names[0]};
    char id[CTL_ARM_ID_MAX], op[40];
    json_t *body;
    int rc = -1;

    if (arm_tx_begin(k) < 0)
        return;
    (void)ctl_arm_res_id(id, sizeof(id), k->t.sub, k->t.rg, ARM_NS_DATABRICKS, types, names, 1);
    if ((body = net_body(k, id)) == NULL) {
        arm_reply(k, 204, NULL);
        rc = 0;
    } else if (!arm_op_busy(k, id)) {
        snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(body, "id")));
        if ((rc = ws_write(k, id, body, "Deleting")) == 0 &&
            (rc = arm_op_start(k, ARM_NS_DATABRICKS,
                               json_string_value(json_object_get(body, "location")), "ws.delete",
                               id, NULL, op)) == 0) {
            arm_reply(k, 202, NULL);
            arm_lro_headers(k, ARM_NS_DATABRICKS,
                            json_string_value(json_object_get(body, "location")), op, false, true);
        }
    }
    (void)arm_tx_end(k, rc);
    json_decref(body);
}

/* ---- outboundNetworkDependenciesEndpoints (network-compat.md §5.3) ---- */

static json_t *
endpoints(const struct ctl_cfg *cfg)
{
    char api[24], relay[24];

    snprintf(api, sizeof(api), "%s/32", cfg->public_api_ip);
    snprintf(relay, sizeof(relay), "%s/32", cfg->public_relay_ip);
    return json_pack("[{s:s, s:[{s:s, s:[{s:s, s:i}]}]}, {s:s, s:[{s:s, s:[{s:s, s:i}]}]},"
                     " {s:s, s:[{s:s, s:[{s:i}]}]}, {s:s, s:[{s:s, s:[{s:i}]}]},"
                     " {s:s, s:[{s:s, s:[{s:i}]}]}]",
                     "category", "Webapp", "endpoints", "domainName", "eastus.scc.localhost",
                     "endpointDetails", "ipAddress", api, "port", 443, "category", "SCC relay",
                     "endpoints", "domainName", "tunnel.eastus.scc.localhost", "endpointDetails",
                     "ipAddress", relay, "port", 443, "category", "Azure Storage", "endpoints",
                     "domainName", "dbartifactsprodeastus.blob.core.windows.net", "endpointDetails",
                     "port", 443, "category", "Azure My SQL", "endpoints", "domainName",
                     "consolidated-eastus-prod-metastore.mysql.database.azure.com",
                     "endpointDetails", "port", 3306, "category", "Azure Servicebus", "endpoints",
                     "domainName", "prod-eastus-observabilityeventhubs.servicebus.windows.net",
                     "endpointDetails", "port", 9093);
}

static void
ws_child(struct arm_call *k)
{
    char id[CTL_ARM_ID_MAX];
    const char *types[1] = {"workspaces"}, *names[1] = {k->t.names[0]};

    (void)ctl_arm_res_id(id, sizeof(id), k->t.sub, k->t.rg, ARM_NS_DATABRICKS, types, names, 1);
    if (k->t.kind == CTL_ARM_T_CHILD_LIST && k->t.ntypes == 2 &&
        (strcasecmp(k->t.types[1], "createNodes") == 0 ||
         strcasecmp(k->t.types[1], "deleteNodes") == 0)) {
        arm_compute_ws_action(k); /* nodes in the workspace's network (ctl_compute.c) */
        return;
    }
    if (k->t.kind != CTL_ARM_T_CHILD_LIST || k->t.ntypes != 2 ||
        strcasecmp(k->t.types[1], "outboundNetworkDependenciesEndpoints") != 0)
        arm_error(k, 404, "InvalidResourceType",
                  "The resource type could not be found in the namespace 'Microsoft.Databricks'.");
    else if (strcmp(k->method, "GET") != 0)
        arm_error(k, 405, "MethodNotAllowed", "Only GET is supported here.");
    else if (arm_cache_get(k->arm, id) == NULL)
        arm_get_cached(k); /* the right 404 */
    else
        arm_reply(k, 200, endpoints(k->c->cfg));
    arm_finish(k);
}

void
arm_ws_route(struct arm_call *k)
{
    const char *m = k->method;

    if (strcasecmp(k->t.types[0], "workspaces") != 0) {
        arm_error(k, 404, "InvalidResourceType",
                  "The resource type '%.64s' could not be found in the namespace "
                  "'Microsoft.Databricks' for api version '%s'.",
                  k->t.types[0], k->api_version);
    } else if (k->t.kind == CTL_ARM_T_LIST_RG || k->t.kind == CTL_ARM_T_LIST_SUB) {
        arm_list_route(k);
        return;
    } else if (k->t.ntypes != 1 || k->t.rg == NULL) {
        ws_child(k);
        return;
    } else if (strcmp(m, "GET") == 0) {
        arm_get_cached(k);
    } else if (strcmp(m, "PUT") == 0) {
        if (ws_parse(k)) {
            arm_submit(k, ws_put_job);
            return;
        }
    } else if (strcmp(m, "PATCH") == 0) {
        if (k->body && arm_check_tags(k, json_object_get(k->body, "tags"))) {
            arm_submit(k, ws_patch_job);
            return;
        }
        if (!arm_replied(k))
            arm_error(k, 400, "InvalidRequestContent", "PATCH takes {\"tags\": {...}}.");
    } else if (strcmp(m, "DELETE") == 0) {
        arm_submit(k, ws_delete_job);
        return;
    } else {
        arm_error(k, 405, "MethodNotAllowed", "%s is not supported on a workspace.", m);
    }
    arm_finish(k);
}
