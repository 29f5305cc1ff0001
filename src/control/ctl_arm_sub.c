/*
 * ctl_arm_sub.c - subscriptions and resource providers.
 *
 * The first start creates a default subscription (its id in
 * DIR/subscription).  Every new subscription starts with the providers a
 * fresh Azure subscription would have registered, except
 * Microsoft.ManagedIdentity: as in Azure, a user must register it once
 * per subscription before creating a workspace with secure cluster
 * connectivity (the seed's "Important" note).
 *
 * PUT /subscriptions/{guid} {"displayName"} creates one; that route is
 * ours (Azure creates subscriptions elsewhere) and needs the admin token.
 */
#include "ctl_arm_int.h"

#include "ctl_names.h"

#include "common/err.h"
#include "common/file.h"
#include "common/mem.h"
#include "common/worker.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define LOCATIONS                                                                                  \
    "[\"East US\", \"East US 2\", \"West US\", \"West US 2\", \"West Europe\", \"North Europe\","  \
    " \"UK South\", \"Southeast Asia\", \"Australia East\", \"Japan East\", \"Central US\"]"

static const struct provider {
    const char *ns;
    const char *types; /* resourceTypes, as JSON */
    bool registered;   /* in a new subscription */
} providers[] = {
        {ARM_NS_DATABRICKS,
         "[{\"resourceType\": \"workspaces\", \"apiVersions\": [\"2026-01-01\", "
         "\"2025-03-01-preview\","
         " \"2024-05-01\", \"2023-02-01\", \"2022-04-01-preview\", \"2021-04-01-preview\","
         " \"2018-04-01\"], \"capabilities\": \"SupportsTags, SupportsLocation\"},"
         " {\"resourceType\": \"operations\", \"apiVersions\": [\"2026-01-01\", \"2023-02-01\"]},"
         " {\"resourceType\": \"locations/operationStatuses\", \"apiVersions\": [\"2026-01-01\","
         " \"2023-02-01\"]}]",
         true},
        {ARM_NS_NETWORK,
         "[{\"resourceType\": \"virtualNetworks\"}, {\"resourceType\": \"networkSecurityGroups\"},"
         " {\"resourceType\": \"natGateways\"}, {\"resourceType\": \"publicIPAddresses\"},"
         " {\"resourceType\": \"routeTables\"}, {\"resourceType\": \"loadBalancers\"},"
         " {\"resourceType\": \"azureFirewalls\"}, {\"resourceType\": \"networkInterfaces\"},"
         " {\"resourceType\": \"locations/operations\"}]",
         true},
        {ARM_NS_RESOURCES,
         "[{\"resourceType\": \"resourceGroups\"}, {\"resourceType\": \"deployments\"},"
         " {\"resourceType\": \"subscriptions\"}]",
         true},
        {ARM_NS_IDENTITY, "[{\"resourceType\": \"userAssignedIdentities\"}]", false},
        {ARM_NS_COMPUTE, "[{\"resourceType\": \"virtualMachines\"}, {\"resourceType\": \"disks\"}]",
         true},
        {ARM_NS_STORAGE, "[{\"resourceType\": \"storageAccounts\"}]", true},
};

#define NPROVIDERS (sizeof(providers) / sizeof(providers[0]))

static const struct provider *
provider_of(const char *ns)
{
    for (size_t i = 0; ns && i < NPROVIDERS; i++) {
        if (strcasecmp(providers[i].ns, ns) == 0)
            return &providers[i];
    }
    return NULL;
}

const char *
arm_ns_canonical(const char *ns)
{
    const struct provider *p = provider_of(ns);

    return p ? p->ns : NULL;
}

/* The Provider object; sub NULL for the tenant-level form. */
static json_t *
provider_json(const struct provider *p, const char *sub, const char *state)
{
    json_t *types = json_loads(p->types, 0, NULL), *locs = json_loads(LOCATIONS, 0, NULL), *t;
    char id[256];
    size_t i;

    json_array_foreach(types, i, t)
    {
        if (json_object_get(t, "locations") == NULL)
            json_object_set(t, "locations", locs);
    }
    json_decref(locs);
    if (sub)
        snprintf(id, sizeof(id), "/subscriptions/%s/providers/%s", sub, p->ns);
    else
        snprintf(id, sizeof(id), "/providers/%s", p->ns);
    return json_pack("{s:s, s:s, s:s?, s:s, s:o}", "id", id, "namespace", p->ns,
                     "registrationState", state, "registrationPolicy", "RegistrationRequired",
                     "resourceTypes", types ? types : json_array());
}

static int
sub_row(struct arm_call *k, const char *guid, const char *name, const json_t *old)
{
    char id[64];
    struct ctl_arm_row r;
    json_t *body;
    int rc;

    snprintf(id, sizeof(id), "/subscriptions/%s", guid);
    arm_row_init(&r, id, guid, NULL, ARM_T_SUB, k->now_ms);
    body = json_pack("{s:s, s:s, s:[], s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}}", "id", id,
                     "authorizationSource", "RoleBased", "managedByTenants", "subscriptionId", guid,
                     "tenantId", k->c->cfg->tenant_id, "displayName", name, "state", "Enabled",
                     "subscriptionPolicies", "locationPlacementId", "Public_2014-09-01", "quotaId",
                     "PayAsYouGo_2014-09-01", "spendingLimit", "Off");
    (void)old;
    if (body == NULL)
        return SCC_ENOMEM;
    rc = arm_row_put_json(k, &r, body);
    json_decref(body);
    return rc;
}

/* A subscription with its initial provider registrations (worker, in a
 * transaction). */
static int
sub_create(struct arm_call *k, const char *guid, const char *name)
{
    int rc = sub_row(k, guid, name, NULL);

    for (size_t i = 0; rc == 0 && i < NPROVIDERS; i++)
        rc = ctl_store_arm_provider_set(k->c->store, guid, providers[i].ns,
                                        providers[i].registered ? "Registered" : "NotRegistered");
    return rc;
}

/* ---- start-up ---- */

struct init_job {
    struct arm_call *k;
    char sub[37];
    int rc;
};

static int
first_sub(const struct ctl_arm_row *r, void *arg)
{
    struct init_job *j = arg;

    if (j->sub[0] == '\0')
        snprintf(j->sub, sizeof(j->sub), "%s", r->sub);
    return 0;
}

static void
init_job(void *arg)
{
    struct init_job *j = arg;
    struct ctl_arm_filter f = {NULL, NULL, ARM_T_SUB};
    char guid[37];

    if ((j->rc = ctl_store_arm_res_each(j->k->c->store, &f, first_sub, j)) < 0 || j->sub[0])
        return;
    if ((j->rc = ctl_arm_guid(guid)) < 0 || (j->rc = arm_tx_begin(j->k)) < 0)
        return;
    j->rc = arm_tx_end(j->k, sub_create(j->k, guid, "default"));
    if (j->rc == 0)
        memcpy(j->sub, guid, sizeof(j->sub));
}

int
arm_subs_init(struct ctl *c)
{
    struct ctl_principal rp = {.scope = "*", .internal = true};
    struct init_job j = {.k = arm_call_new(c, &rp, NULL, NULL)};
    char path[4200], line[40];
    int rc;

    if (j.k == NULL)
        return SCC_ENOMEM;
    if ((rc = scc_worker_run_sync(c->worker, init_job, &j)) == 0)
        rc = j.rc;
    /* The cache is loaded after this, so these changes are dropped. */
    arm_finish(j.k);
    if (rc < 0) {
        scc_log_error_rc(&c->log, rc, "cannot create the default subscription");
        return rc;
    }
    memcpy(c->arm->default_sub, j.sub, sizeof(j.sub));
    snprintf(path, sizeof(path), "%s/subscription", c->cfg->data_dir);
    snprintf(line, sizeof(line), "%s\n", j.sub);
    if ((rc = scc_file_write_atomic(path, line, strlen(line), 0644)) < 0)
        scc_log_warn_rc(&c->log, rc, "cannot write %s", path);
    return 0;
}

/* ---- subscriptions ---- */

static int
list_sub(const struct ctl_arm_row *r, void *arg)
{
    struct arm_call *k = arg;
    const char *s = k->who.scope;

    if (strcmp(s, "*") != 0 &&
        !(strncmp(s, "subscription/", 13) == 0 && strcasecmp(s + 13, r->sub) == 0))
        return 0;
    return json_array_append_new(k->ctx, arm_loads(r->body)) == 0 ? 0 : SCC_ENOMEM;
}

static void
subs_list_job(struct arm_call *k)
{
    struct ctl_arm_filter f = {NULL, NULL, ARM_T_SUB};
    json_t *arr = json_array();
    int rc;

    k->ctx = arr;
    rc = ctl_store_arm_res_each(k->c->store, &f, list_sub, k);
    k->ctx = NULL;
    if (rc < 0) {
        json_decref(arr);
        (void)arm_store_error(k, rc);
        return;
    }
    arm_reply(k, 200, json_pack("{s:o}", "value", arr));
}

static void
sub_put_job(struct arm_call *k)
{
    const char *name = json_string_value(json_object_get(k->body, "displayName"));
    struct ctl_arm_row old;
    char id[64], lc[40];
    bool exists;
    int rc;

    (void)ctl_arm_lower(k->t.sub, lc, sizeof(lc));
    snprintf(id, sizeof(id), "/subscriptions/%s", lc);
    if (arm_tx_begin(k) < 0)
        return;
    exists = arm_row_get(k, id, &old) == 0;
    if (exists)
        ctl_arm_row_fini(&old);
    rc = exists ? sub_row(k, lc, name ? name : "subscription", NULL)
                : sub_create(k, lc, name ? name : "subscription");
    if (arm_tx_end(k, rc) < 0)
        return;
    if ((rc = arm_row_get(k, id, &old)) < 0) {
        (void)arm_store_error(k, rc);
        return;
    }
    arm_reply_text(k, exists ? 200 : 201, old.body, strlen(old.body));
    old.body = NULL;
    ctl_arm_row_fini(&old);
}

static void
sub_put(struct arm_call *k)
{
    const json_t *dn = json_object_get(k->body, "displayName");

    if (strcmp(k->who.scope, "*") != 0) {
        arm_error(k, 403, "AuthorizationFailed",
                  "Creating a subscription needs the administrator token.");
    } else if (!ctl_name_is_guid(k->t.sub)) {
        arm_error(k, 400, "InvalidSubscriptionId", "The subscription id '%.64s' is not a GUID.",
                  k->t.sub);
    } else if (dn && (!json_is_string(dn) || json_string_length(dn) > 64)) {
        arm_error(k, 400, "InvalidRequestContent",
                  "displayName must be a string of at most 64 characters.");
    } else {
        arm_submit(k, sub_put_job);
        return;
    }
    arm_finish(k);
}

static void
sub_get(struct arm_call *k)
{
    char id[CTL_ARM_PATH_MAX];
    const struct arm_entry *e;
    char *text;

    snprintf(id, sizeof(id), "/subscriptions/%s", k->t.sub);
    if ((e = arm_cache_get(k->arm, id)) == NULL || (text = scc_strdup(e->text)) == NULL)
        arm_error(k, 404, "SubscriptionNotFound", "The subscription '%.64s' could not be found.",
                  k->t.sub);
    else
        arm_reply_text(k, 200, text, e->len);
    arm_finish(k);
}

void
arm_sub_route(struct arm_call *k)
{
    if (k->t.kind == CTL_ARM_T_SUBS && strcmp(k->method, "GET") == 0) {
        arm_submit(k, subs_list_job);
    } else if (k->t.kind == CTL_ARM_T_SUB && strcmp(k->method, "GET") == 0) {
        sub_get(k);
    } else if (k->t.kind == CTL_ARM_T_SUB && strcmp(k->method, "PUT") == 0) {
        sub_put(k);
    } else {
        arm_error(k, 405, "MethodNotAllowed", "%s is not supported on this path.", k->method);
        arm_finish(k);
    }
}

/* ---- providers ---- */

bool
arm_sub_exists(struct arm_call *k, const char *sub)
{
    struct ctl_arm_row r;
    char id[CTL_ARM_PATH_MAX];

    snprintf(id, sizeof(id), "/subscriptions/%s", sub);
    if (arm_row_get(k, id, &r) == 0) {
        ctl_arm_row_fini(&r);
        return true;
    }
    arm_error(k, 404, "SubscriptionNotFound", "The subscription '%.64s' could not be found.", sub);
    return false;
}

bool
arm_ns_registered(struct arm_call *k, const char *sub, const char *ns, const char *why)
{
    char state[32];

    if (ctl_store_arm_provider_get(k->c->store, sub, ns, state, sizeof(state)) == 0 &&
        strcmp(state, "Registered") == 0)
        return true;
    arm_error(k, 409, "MissingSubscriptionRegistration",
              "The subscription is not registered to use namespace '%s'.%s%s Register it once per "
              "subscription: POST /subscriptions/%.64s/providers/%s/register (sccctl provider "
              "register %s). See https://aka.ms/rps-not-found for how to register subscriptions.",
              ns, why ? " " : "", why ? why : "", sub, ns, ns);
    return false;
}

static const char *
state_of(struct arm_call *k, const struct provider *p)
{
    static const char *const states[] = {"Registered", "NotRegistered", "Registering",
                                         "Unregistering"};
    char state[32];

    if (strcmp(p->ns, ARM_NS_RESOURCES) == 0)
        return states[0]; /* always on, as in Azure */
    if (ctl_store_arm_provider_get(k->c->store, k->t.sub, p->ns, state, sizeof(state)) < 0)
        return states[p->registered ? 0 : 1];
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(states[i], state) == 0)
            return states[i];
    }
    return states[1];
}

static void
prov_job(struct arm_call *k)
{
    const struct provider *p = provider_of(k->t.ns);
    json_t *arr;

    if (!arm_sub_exists(k, k->t.sub))
        return;
    if (k->t.kind == CTL_ARM_T_PROV) {
        arm_reply(k, 200, provider_json(p, k->t.sub, state_of(k, p)));
        return;
    }
    arr = json_array();
    for (size_t i = 0; i < NPROVIDERS; i++)
        json_array_append_new(arr,
                              provider_json(&providers[i], k->t.sub, state_of(k, &providers[i])));
    arm_reply(k, 200, json_pack("{s:o}", "value", arr));
}

static void
prov_action_job(struct arm_call *k)
{
    const struct provider *p = provider_of(k->t.ns);
    bool reg = strcasecmp(k->t.action, "register") == 0;
    int rc;

    if (!arm_sub_exists(k, k->t.sub) || arm_tx_begin(k) < 0)
        return;
    if (!reg && strcmp(p->ns, ARM_NS_RESOURCES) == 0) {
        arm_error(k, 409, "Conflict", "Microsoft.Resources cannot be unregistered.");
        rc = -1;
    } else {
        rc = ctl_store_arm_provider_set(k->c->store, k->t.sub, p->ns,
                                        reg ? "Registered" : "NotRegistered");
    }
    if (arm_tx_end(k, rc) == 0)
        arm_reply(k, 200, provider_json(p, k->t.sub, reg ? "Registered" : "NotRegistered"));
}

static json_t *
operations_json(const char *ns)
{
    static const char *const ops[][3] = {
            {"workspaces/read", "Workspace", "Retrieves a workspace."},
            {"workspaces/write", "Workspace", "Creates or updates a workspace."},
            {"workspaces/delete", "Workspace", "Deletes a workspace."},
            {"register/action", "Microsoft.Databricks", "Registers the subscription."},
    };
    json_t *arr = json_array();
    char name[128];

    for (size_t i = 0; strcmp(ns, ARM_NS_DATABRICKS) == 0 && i < 4; i++) {
        snprintf(name, sizeof(name), "%s/%s", ns, ops[i][0]);
        json_array_append_new(arr, json_pack("{s:s, s:{s:s, s:s, s:s, s:s}}", "name", name,
                                             "display", "provider", ns, "resource", ops[i][1],
                                             "operation", ops[i][2], "description", ops[i][2]));
    }
    return json_pack("{s:o}", "value", arr);
}

static void
tenant_prov(struct arm_call *k)
{
    const struct provider *p = provider_of(k->t.ns);
    json_t *arr;

    if (k->t.kind == CTL_ARM_T_TENANT_PROV) {
        arm_reply(k, 200, provider_json(p, NULL, NULL));
    } else if (k->t.kind == CTL_ARM_T_OPERATIONS) {
        arm_reply(k, 200, operations_json(p->ns));
    } else {
        arr = json_array();
        for (size_t i = 0; i < NPROVIDERS; i++)
            json_array_append_new(arr, provider_json(&providers[i], NULL, NULL));
        arm_reply(k, 200, json_pack("{s:o}", "value", arr));
    }
    arm_finish(k);
}

void
arm_prov_route(struct arm_call *k)
{
    bool get = strcmp(k->method, "GET") == 0;

    if (k->t.ns && k->t.kind != CTL_ARM_T_PROVS && k->t.kind != CTL_ARM_T_TENANT_PROVS &&
        provider_of(k->t.ns) == NULL) {
        arm_error(k, 404, "InvalidResourceNamespace", "The resource namespace '%.64s' is invalid.",
                  k->t.ns);
    } else if (k->t.kind == CTL_ARM_T_PROV_ACTION && strcmp(k->method, "POST") == 0) {
        arm_submit(k, prov_action_job);
        return;
    } else if ((k->t.kind == CTL_ARM_T_PROV || k->t.kind == CTL_ARM_T_PROVS) && get) {
        arm_submit(k, prov_job);
        return;
    } else if (get && k->t.kind != CTL_ARM_T_PROV_ACTION && k->t.kind != CTL_ARM_T_PROV &&
               k->t.kind != CTL_ARM_T_PROVS) {
        tenant_prov(k);
        return;
    } else {
        arm_error(k, 405, "MethodNotAllowed", "%s is not supported on this path.", k->method);
    }
    arm_finish(k);
}
