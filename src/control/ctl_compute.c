/*
 * ctl_compute.c - the API of nodes: createNodes and deleteNodes on a
 * workspace, and reads of its VMs.
 *
 * A node is written in one transaction as Azure Databricks' managed
 * resource group shows one (network-compat.md §4): a VM, its two NICs in
 * the workspace's subnets (addresses allocated like any NIC's, so ARM and
 * the host agree on them) and, in legacy mode only, a public IP on the
 * host NIC.  Nothing runs yet: the commit starts a provider round
 * (ctl_wire.c) that boots the VM, and the operation ends with that round.
 *
 * The actions are on the workspace, not PUTs of VMs, because the managed
 * resource group is behind the workspace's deny assignment: users read
 * VMs there, the platform writes them.
 */
#include "ctl_compute.h"

#include "ctl_arm_ws.h"
#include "ctl_wire.h"

#include "common/encode.h"
#include "common/err.h"
#include "common/json.h"
#include "ctl_store.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define DELETE_MAX 1000 /* names in one deleteNodes */

/* Where a workspace's nodes go. */
struct node_plan {
    const char *ws_id, *ws_name, *loc, *cluster, *env;
    char mrg[CTL_ARM_ID_MAX / 2], mrg_rg[128];
    char host[CTL_ARM_ID_MAX];      /* host subnet ("public"): the NIC the provider realises */
    char container[CTL_ARM_ID_MAX]; /* container subnet ("private") */
    char pool[CTL_ARM_ID_MAX];      /* load balancer backend pool, or "" */
    bool legacy;                    /* enableNoPublicIp false: public IP, agent listens */
};

/* ---- the workspace ---- */

/* The workspace of k's path (its stored id into ws_id), or a 404. */
static json_t *
ws_load(struct arm_call *k, char *ws_id, size_t cap)
{
    const char *types[1] = {"workspaces"}, *names[1] = {k->t.names[0]};
    json_t *ws;

    (void)ctl_arm_res_id(ws_id, cap, k->t.sub, k->t.rg, ARM_NS_DATABRICKS, types, names, 1);
    if ((ws = net_body(k, ws_id)) == NULL) {
        arm_error(k, 404, "ResourceNotFound",
                  "The Resource 'Microsoft.Databricks/workspaces/%.64s' under resource group "
                  "'%.90s' was not found.",
                  k->t.names[0], k->t.rg);
        return NULL;
    }
    snprintf(ws_id, cap, "%s", json_string_value(json_object_get(ws, "id")));
    return ws;
}

static bool
subnet_of(struct arm_call *k, const char *vnet, const char *name, const char *which, char *out,
          size_t cap)
{
    char id[CTL_ARM_ID_MAX];
    json_t *s;

    snprintf(id, sizeof(id), "%s/subnets/%s", vnet, name ? name : "");
    if ((s = net_subnet(k, id, NULL)) == NULL) {
        arm_error(k, 409, "InvalidWorkspaceNetwork",
                  "The workspace's %s subnet %.300s does not exist; nodes cannot be placed.", which,
                  id);
        return false;
    }
    snprintf(out, cap, "%s", json_string_value(json_object_get(s, "id")));
    json_decref(s);
    return true;
}

/* Where the workspace's VMs live: its managed resource group. */
static bool
plan_group(struct arm_call *k, const json_t *ws, const char *ws_id, struct node_plan *p)
{
    struct ctl_arm_target t;
    struct ws_net n;

    ws_net_of(ws, &n);
    p->ws_id = ws_id;
    p->ws_name = ctl_arm_id_last(ws_id);
    p->loc = json_string_value(json_object_get(ws, "location"));
    p->legacy = !n.scc;
    if (n.mrg == NULL || ctl_arm_id_split(n.mrg, &t) < 0 || t.rg == NULL) {
        arm_error(k, 409, "InvalidWorkspaceNetwork",
                  "The workspace has no managed resource group.");
        return false;
    }
    snprintf(p->mrg, sizeof(p->mrg), "%s", n.mrg);
    snprintf(p->mrg_rg, sizeof(p->mrg_rg), "%s", t.rg);
    return true;
}

/* The plan's network: VNet injection or the managed workers-vnet. */
static bool
plan_of(struct arm_call *k, const json_t *ws, const char *ws_id, struct node_plan *p)
{
    const char *lb = json_string_value(ws_param(ws, "loadBalancerId"));
    const char *pool = json_string_value(ws_param(ws, "loadBalancerBackendPoolName"));
    char vnet[CTL_ARM_ID_MAX];
    struct ws_net n;

    if (!plan_group(k, ws, ws_id, p))
        return false;
    ws_net_of(ws, &n);
    if (n.vnet)
        snprintf(vnet, sizeof(vnet), "%s", n.vnet);
    else
        snprintf(vnet, sizeof(vnet), "%s/providers/Microsoft.Network/virtualNetworks/workers-vnet",
                 n.mrg);
    p->pool[0] = '\0';
    if (lb && pool && *lb && *pool)
        snprintf(p->pool, sizeof(p->pool), "%s/backendAddressPools/%s", lb, pool);
    return subnet_of(k, vnet, n.vnet ? n.pub : "public-subnet", "host (public)", p->host,
                     sizeof(p->host)) &&
           subnet_of(k, vnet, n.vnet ? n.priv : "private-subnet", "container (private)",
                     p->container, sizeof(p->container));
}

/* ---- bodies ---- */

static int
net_put(struct arm_call *k, const char *type, const char *id, const char *rg, json_t *req,
        struct ctl_net_err *e)
{
    json_t *out = NULL;
    bool created;
    int rc = req ? net_apply(k, ctl_net_type_of(type), id, rg, req, &out, &created, e) : SCC_ENOMEM;

    json_decref(out);
    json_decref(req);
    return rc;
}

static json_t *
nic_req(const char *loc, const char *subnet, const char *pip, const char *pool)
{
    json_t *ipc = json_pack("{s:{s:s}, s:s}", "subnet", "id", subnet, "privateIPAllocationMethod",
                            "Dynamic");

    if (ipc && pip)
        json_object_set_new(ipc, "publicIPAddress", json_pack("{s:s}", "id", pip));
    if (ipc && pool)
        json_object_set_new(ipc, "loadBalancerBackendAddressPools",
                            json_pack("[{s:s}]", "id", pool));
    return ipc ? json_pack("{s:s, s:{s:[{s:s, s:o}]}}", "location", loc, "properties",
                           "ipConfigurations", "name", "ipConfig", "properties", ipc)
               : NULL;
}

/* The NIC's read-only virtualMachine reference, and which one is primary. */
static int
nic_attach(struct arm_call *k, const char *nic_id, const char *vm_id, bool primary)
{
    struct ctl_arm_row r;
    json_t *body, *props;
    int rc;

    if ((rc = arm_row_get(k, nic_id, &r)) < 0)
        return rc;
    body = arm_loads(r.body);
    props = json_object_get(body, "properties");
    json_object_set_new(props, "virtualMachine", json_pack("{s:s}", "id", vm_id));
    json_object_set_new(props, "primary", json_boolean(primary));
    rc = props ? arm_row_put_json(k, &r, body) : SCC_ENOMEM;
    json_decref(body);
    ctl_arm_row_fini(&r);
    return rc;
}

static json_t *
vm_tags(const struct node_plan *p, const char *name)
{
    char node[3 * 65 + 3];

    snprintf(node, sizeof(node), "%s/%s/%s", p->ws_name, p->cluster, name);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Vendor", "Databricks", "ClusterName",
                     p->cluster, "databricks-instance-name", name, "DatabricksEnvironment", p->env,
                     "management_service", "instance_manager_service", CTL_COMPUTE_TAG_NODE, node,
                     CTL_COMPUTE_TAG_MODE, p->legacy ? "legacy" : "scc");
}

static json_t *
vm_body(struct arm_call *k, const struct node_plan *p, const char *name, const char *vm_id,
        const char *priv, const char *pub)
{
    char guid[37], now[40], disk[64];
    json_t *props, *iv;

    if (ctl_arm_guid(guid) < 0)
        return NULL;
    arm_time(k->now_ms, now);
    snprintf(disk, sizeof(disk), "%s-osDisk", name);
    iv = json_pack("{s:s, s:s, s:[{s:s, s:s, s:s, s:s}]}", "computerName", name, "osName", "ubuntu",
                   "statuses", "code", "ProvisioningState/creating", "level", "Info",
                   "displayStatus", "Creating", "time", now);
    props = json_pack(
            "{s:s, s:{s:s}, s:{s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:i, s:{s:s}}, s:[]}, "
            "s:{s:s, s:s, s:{s:b}, s:b}, s:{s:[{s:s, s:{s:b}}, {s:s, s:{s:b}}]}, s:s, s:s, s:o}",
            "vmId", guid, "hardwareProfile", "vmSize", "Standard_DS3_v2", "storageProfile",
            "imageReference", "publisher", "AzureDatabricks", "offer", "Databricks", "sku",
            "DatabricksWorker", "version", "latest", "osDisk", "osType", "Linux", "name", disk,
            "createOption", "FromImage", "diskSizeGB", 30, "managedDisk", "storageAccountType",
            "Premium_LRS", "dataDisks", "osProfile", "computerName", name, "adminUsername",
            "ubuntu", "linuxConfiguration", "disablePasswordAuthentication", 1,
            "allowExtensionOperations", 1, "networkProfile", "networkInterfaces", "id", priv,
            "properties", "primary", 1, "id", pub, "properties", "primary", 0, "provisioningState",
            "Creating", "timeCreated", now, "instanceView", iv ? iv : json_object());
    return props ? json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "id", vm_id, "name", name, "type",
                             CTL_COMPUTE_T_VM, "location", p->loc, "tags", vm_tags(p, name),
                             "properties", props)
                 : NULL;
}

/* One node: public IP (legacy), two NICs, the VM.  Its body goes to vms. */
static int
node_new(struct arm_call *k, const struct node_plan *p, json_t *vms, json_t *ids,
         struct ctl_net_err *e)
{
    char name[33], vm[CTL_ARM_ID_MAX], pub[CTL_ARM_ID_MAX], priv[CTL_ARM_ID_MAX];
    char pip[CTL_ARM_ID_MAX];
    struct ctl_arm_row r;
    uint8_t rnd[16];
    json_t *body;
    int rc;

    if ((rc = scc_rand_bytes(rnd, sizeof(rnd))) < 0 ||
        (rc = scc_hex_encode(rnd, sizeof(rnd), name, sizeof(name))) < 0)
        return rc;
    snprintf(vm, sizeof(vm), "%s/providers/%s/%s", p->mrg, CTL_COMPUTE_T_VM, name);
    snprintf(pub, sizeof(pub), "%s/providers/Microsoft.Network/networkInterfaces/%s-publicNIC",
             p->mrg, name);
    snprintf(priv, sizeof(priv), "%s/providers/Microsoft.Network/networkInterfaces/%s-privateNIC",
             p->mrg, name);
    snprintf(pip, sizeof(pip), "%s/providers/Microsoft.Network/publicIPAddresses/%s-publicIP",
             p->mrg, name);
    if (p->legacy &&
        (rc = net_put(k, "publicIPAddresses", pip, p->mrg_rg,
                      json_pack("{s:s, s:{s:s}, s:{s:s}}", "location", p->loc, "sku", "name",
                                "Standard", "properties", "publicIPAllocationMethod", "Static"),
                      e)) < 0)
        return rc;
    if ((rc = net_put(k, "networkInterfaces", pub, p->mrg_rg,
                      nic_req(p->loc, p->host, p->legacy ? pip : NULL, p->pool[0] ? p->pool : NULL),
                      e)) < 0 ||
        (rc = net_put(k, "networkInterfaces", priv, p->mrg_rg,
                      nic_req(p->loc, p->container, NULL, NULL), e)) < 0 ||
        (rc = nic_attach(k, pub, vm, false)) < 0 || (rc = nic_attach(k, priv, vm, true)) < 0)
        return rc;
    if ((body = vm_body(k, p, name, vm, priv, pub)) == NULL)
        return SCC_ENOMEM;
    arm_row_init(&r, vm, k->t.sub, p->mrg_rg, CTL_COMPUTE_T_VM, k->now_ms);
    if ((rc = arm_row_put_json(k, &r, body)) == 0) {
        json_array_append(vms, body);
        json_array_append_new(ids, json_string(vm));
    }
    json_decref(body);
    return rc;
}

/* ---- the operation both actions end with ---- */

static int
answer_op(struct arm_call *k, const char *kind, const struct node_plan *p, json_t *ids,
          json_t *shown)
{
    json_t *payload = json_pack("{s:O}", "vms", ids);
    char op[40];
    int rc;

    if (payload == NULL)
        return SCC_ENOMEM;
    rc = arm_op_start(k, ARM_NS_DATABRICKS, p->loc, kind, p->ws_id, payload, op);
    json_decref(payload);
    if (rc < 0)
        return rc;
    k->run_op[0] = '\0'; /* no steps: the provider's round ends it */
    ctl_wire_op_created(k->c, op);
    arm_reply(k, 202, json_pack("{s:O}", "value", shown));
    arm_lro_headers(k, ARM_NS_DATABRICKS, p->loc, op, true, true);
    return 0;
}

/* ---- createNodes ---- */

static int
create_tx(struct arm_call *k)
{
    const json_t *spec = k->ctx;
    struct ctl_net_err e = {0};
    struct node_plan p = {.cluster = json_string_value(json_object_get(spec, "cluster"))};
    char ws_id[CTL_ARM_ID_MAX], env[64];
    json_t *ws, *vms = json_array(), *ids = json_array();
    const char *state;
    int rc = -1;

    if ((ws = ws_load(k, ws_id, sizeof(ws_id))) == NULL || arm_op_busy(k, ws_id))
        goto out;
    state = json_string_value(
            json_object_get(json_object_get(ws, "properties"), "provisioningState"));
    if (state == NULL || strcmp(state, "Succeeded") != 0) {
        arm_error(k, 409, "InvalidWorkspaceState",
                  "Workspace %.64s is %s: nodes start only in a workspace whose provisioningState "
                  "is Succeeded.",
                  ctl_arm_id_last(ws_id), state ? state : "in an unknown state");
        goto out;
    }
    snprintf(env, sizeof(env), "workerenv-%s",
             json_string_value(json_object_get(json_object_get(ws, "properties"), "workspaceId")));
    p.env = env;
    if (!plan_of(k, ws, ws_id, &p))
        goto out;
    rc = vms && ids ? 0 : SCC_ENOMEM;
    for (json_int_t i = 0; rc == 0 && i < json_integer_value(json_object_get(spec, "count")); i++)
        rc = node_new(k, &p, vms, ids, &e);
    if (rc < 0 && e.status)
        arm_error(k, e.status, e.code, "%s", e.message);
    else if (rc == 0)
        rc = answer_op(k, CTL_COMPUTE_OP_NEW, &p, ids, vms);
out:
    json_decref(ws);
    json_decref(vms);
    json_decref(ids);
    return rc;
}

static void
create_job(struct arm_call *k)
{
    if (arm_tx_begin(k) == 0)
        (void)arm_tx_end(k, create_tx(k));
}

static bool
create_parse(struct arm_call *k)
{
    json_t *count = scc_json_iget(k->body, "count"), *cl = scc_json_iget(k->body, "clusterName");
    const char *cluster = json_is_string(cl) ? json_string_value(cl) : "default";

    if ((count && (!json_is_integer(count) || json_integer_value(count) < 1 ||
                   json_integer_value(count) > CTL_COMPUTE_MAX_NEW)) ||
        (cl && !json_is_string(cl)) || !scc_ident_seg_is_valid(cluster, strlen(cluster))) {
        arm_error(k, 400, "InvalidParameter",
                  "createNodes takes {\"count\": 1-%d, \"clusterName\": 1-64 characters of "
                  "[A-Za-z0-9._-]}.",
                  CTL_COMPUTE_MAX_NEW);
        return false;
    }
    k->ctx = json_pack("{s:I, s:s}", "count", count ? json_integer_value(count) : 1, "cluster",
                       cluster);
    k->ctx_free = (void (*)(void *))json_decref;
    return k->ctx != NULL;
}

/* ---- deleteNodes ---- */

static bool
selected(const json_t *spec, const json_t *vm)
{
    const char *name = json_string_value(json_object_get(vm, "name"));
    const json_t *tags = json_object_get(vm, "tags");
    const char *node = json_string_value(json_object_get(tags, CTL_COMPUTE_TAG_NODE));
    const char *cl = json_string_value(json_object_get(tags, "ClusterName"));
    const char *want = json_string_value(json_object_get(spec, "cluster"));
    size_t i;
    json_t *n;

    if (json_is_true(json_object_get(spec, "all")))
        return true;
    if (want)
        return cl && strcmp(cl, want) == 0;
    json_array_foreach(json_object_get(spec, "nodes"), i, n)
    {
        if (strcasecmp(json_string_value(n), name) == 0 ||
            (node && strcmp(json_string_value(n), node) == 0))
            return true;
    }
    return false;
}

static int
collect_vm(const struct ctl_arm_row *r, void *arg)
{
    json_t *b = arm_loads(r->body);

    return b && json_array_append_new(arg, b) == 0 ? 0 : SCC_ENOMEM;
}

/* A name given that matches no VM: nothing is deleted. */
static bool
all_found(struct arm_call *k, const json_t *spec, const json_t *vms, const char *ws_id)
{
    size_t i, j;
    json_t *n, *vm;

    json_array_foreach(json_object_get(spec, "nodes"), i, n)
    {
        json_t *one = json_pack("{s:[O]}", "nodes", n);
        bool hit = false;

        json_array_foreach(vms, j, vm) hit = hit || selected(one, vm);
        json_decref(one);
        if (!hit) {
            arm_error(k, 404, "NodeNotFound", "Workspace %.64s has no node named '%.100s'.",
                      ctl_arm_id_last(ws_id), json_string_value(n));
            return false;
        }
    }
    return true;
}

int
ctl_compute_vm_delete(struct arm_call *k, const char *vm_id)
{
    json_t *vm = net_body(k, vm_id);
    const char *node =
            json_string_value(json_object_get(json_object_get(vm, "tags"), CTL_COMPUTE_TAG_NODE));
    struct scc_ident ident;
    int revoked = 0, rc;

    /* Its certificates go too, so a copy of its key is worth nothing. */
    if ((rc = arm_row_del(k, vm_id)) == 0 && node &&
        scc_ident_parse_path(node, k->c->cfg->trust_domain, &ident) == 0)
        rc = ctl_store_cert_revoke_node(k->c->store, &ident, k->now_ms, &revoked);
    json_decref(vm);
    return rc;
}

/* The VM, its NICs and public IP. */
static int
node_delete(struct arm_call *k, const char *mrg, const json_t *vm)
{
    const char *id = json_string_value(json_object_get(vm, "id"));
    static const char *const parts[][2] = {{"networkInterfaces", "publicNIC"},
                                           {"networkInterfaces", "privateNIC"},
                                           {"publicIPAddresses", "publicIP"}};
    char rid[CTL_ARM_ID_MAX];
    int rc;

    if ((rc = ctl_compute_vm_delete(k, id)) < 0)
        return rc;
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        snprintf(rid, sizeof(rid), "%.500s/providers/Microsoft.Network/%s/%.100s-%s", mrg,
                 parts[i][0], ctl_arm_id_last(id), parts[i][1]);
        if ((rc = arm_net_delete_now(k, rid)) < 0)
            return rc;
    }
    return 0;
}

static int
delete_tx(struct arm_call *k)
{
    struct node_plan p = {.cluster = ""};
    char ws_id[CTL_ARM_ID_MAX];
    json_t *ws, *vms = json_array(), *ids = json_array(), *shown = json_array(), *vm;
    struct ctl_arm_filter f;
    size_t i;
    int rc = -1;

    if ((ws = ws_load(k, ws_id, sizeof(ws_id))) == NULL || arm_op_busy(k, ws_id) ||
        !plan_group(k, ws, ws_id, &p))
        goto out;
    f = (struct ctl_arm_filter){k->t.sub, p.mrg_rg, CTL_COMPUTE_T_VM};
    if ((rc = ctl_store_arm_res_each(k->c->store, &f, collect_vm, vms)) < 0 ||
        !all_found(k, k->ctx, vms, ws_id)) {
        rc = rc < 0 ? arm_store_error(k, rc) : -1;
        goto out;
    }
    json_array_foreach(vms, i, vm)
    {
        if (rc < 0 || !selected(k->ctx, vm))
            continue;
        rc = node_delete(k, p.mrg, vm);
        json_array_append(ids, json_object_get(vm, "id"));
        json_array_append_new(shown, json_pack("{s:O, s:O}", "id", json_object_get(vm, "id"),
                                               "name", json_object_get(vm, "name")));
    }
    if (rc == 0 && json_array_size(ids) == 0)
        arm_reply(k, 200, json_pack("{s:[]}", "value"));
    else if (rc == 0)
        rc = answer_op(k, CTL_COMPUTE_OP_DEL, &p, ids, shown);
out:
    json_decref(ws);
    json_decref(vms);
    json_decref(ids);
    json_decref(shown);
    return rc;
}

static void
delete_job(struct arm_call *k)
{
    if (arm_tx_begin(k) == 0)
        (void)arm_tx_end(k, delete_tx(k));
}

static bool
delete_parse(struct arm_call *k)
{
    json_t *nodes = scc_json_iget(k->body, "nodes"), *cl = scc_json_iget(k->body, "clusterName");
    json_t *all = scc_json_iget(k->body, "all"), *n;
    bool ok = (nodes != NULL) + (cl != NULL) + json_is_true(all) == 1;
    size_t i;

    ok = ok && (cl == NULL || json_is_string(cl)) &&
         (nodes == NULL || (json_is_array(nodes) && json_array_size(nodes) > 0 &&
                            json_array_size(nodes) <= DELETE_MAX));
    json_array_foreach(ok ? nodes : NULL, i, n) ok = ok && json_is_string(n);
    if (!ok) {
        arm_error(k, 400, "InvalidParameter",
                  "deleteNodes takes one of {\"nodes\": [NAME, ...]} (VM names or "
                  "ws/cluster/node), {\"clusterName\": C} or {\"all\": true}.");
        return false;
    }
    k->ctx =
            json_pack("{s:O?, s:O?, s:b}", "nodes", nodes, "cluster", cl, "all", json_is_true(all));
    k->ctx_free = (void (*)(void *))json_decref;
    return k->ctx != NULL;
}

void
arm_compute_ws_action(struct arm_call *k)
{
    bool create = strcasecmp(k->t.types[1], "createNodes") == 0;

    if (strcmp(k->method, "POST") != 0) {
        arm_error(k, 405, "MethodNotAllowed", "%s is an action: use POST.", k->t.types[1]);
    } else if (k->c->wire == NULL) {
        arm_error(k, 409, "ProviderNotConfigured",
                  "This control plane runs without a provider (sccd --provider none), so it "
                  "cannot boot nodes; start sccd with --provider auto.");
    } else if (ctl_wire_stopping(k->c)) {
        arm_error(k, 503, "ServerBusy", "The control plane is stopping; retry later.");
    } else if (create ? create_parse(k) : delete_parse(k)) {
        arm_submit(k, create ? create_job : delete_job);
        return;
    }
    if (!arm_replied(k))
        arm_error(k, 503, "ServerBusy", "out of memory");
    arm_finish(k);
}

/* ---- reads ---- */

static void
instance_view(struct arm_call *k)
{
    const char *types[1] = {k->t.types[0]}, *names[1] = {k->t.names[0]};
    char id[CTL_ARM_ID_MAX];
    const struct arm_entry *e;
    json_t *vm;

    (void)ctl_arm_res_id(id, sizeof(id), k->t.sub, k->t.rg, "Microsoft.Compute", types, names, 1);
    if ((e = arm_cache_get(k->arm, id)) == NULL || (vm = arm_loads(e->text)) == NULL) {
        arm_error(k, 404, "ResourceNotFound",
                  "The Resource 'Microsoft.Compute/virtualMachines/%.64s' under resource group "
                  "'%.90s' was not found.",
                  k->t.names[0], k->t.rg ? k->t.rg : "");
        return;
    }
    arm_reply(k, 200,
              json_incref(json_object_get(json_object_get(vm, "properties"), "instanceView")));
    json_decref(vm);
}

void
arm_compute_route(struct arm_call *k)
{
    bool get = strcmp(k->method, "GET") == 0;

    if (k->t.kind == CTL_ARM_T_LIST_RG || k->t.kind == CTL_ARM_T_LIST_SUB) {
        arm_list_route(k);
        return;
    }
    if (get && k->t.kind == CTL_ARM_T_RESOURCE && k->t.ntypes == 1)
        arm_get_cached(k); /* the stored body carries its instanceView */
    else if (get && k->t.kind == CTL_ARM_T_CHILD_LIST && k->t.ntypes == 2 &&
             strcasecmp(k->t.types[0], "virtualMachines") == 0 &&
             strcasecmp(k->t.types[1], "instanceView") == 0)
        instance_view(k);
    else
        arm_error(k, 405, "MethodNotAllowed",
                  "Virtual machines here are a workspace's nodes: create and delete them with "
                  "POST .../Microsoft.Databricks/workspaces/{ws}/createNodes and deleteNodes.");
    arm_finish(k);
}

static int
count_one(const struct ctl_arm_row *r, void *arg)
{
    (void)r;
    ++*(int64_t *)arg;
    return 0;
}

int
ctl_compute_count(struct ctl_store *st, const char *mrg_id, int64_t *n)
{
    struct ctl_arm_target t;
    struct ctl_arm_filter f;

    *n = 0;
    if (ctl_arm_id_split(mrg_id, &t) < 0 || t.rg == NULL)
        return 0;
    f = (struct ctl_arm_filter){t.sub, t.rg, CTL_COMPUTE_T_VM};
    return ctl_store_arm_res_each(st, &f, count_one, n);
}
