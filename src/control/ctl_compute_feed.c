/*
 * ctl_compute_feed.c - an apply's outcome, back into the resources.
 *
 * Network resources keep provisioningState Succeeded unless the provider
 * could not realise them (an NSG that does not compile fails closed, a
 * subnet outside its VNet ...): then Failed, until a later apply works.
 * A VM goes from Creating to Succeeded, or to Failed with the reason in
 * its instanceView: the provider's own words, which for a node without a
 * way out name the subnet and every outbound method it lacks.  Writes
 * happen only when something changed, so a quiet round writes nothing.
 *
 * Node operations (createNodes, deleteNodes) end here too: each one that
 * was recorded before the applied document was built.
 */
#include "ctl_compute.h"
#include "ctl_wire_int.h"

#include "common/err.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

struct verdict {
    const char *state; /* provisioningState */
    const char *code, *level, *display, *power;
    const char *message; /* may be NULL */
};

/* ---- network resources ---- */

/* The object of id inside body: body itself, or a child (a subnet). */
static json_t *
find_part(json_t *body, const char *id)
{
    const char *key;
    json_t *arr, *c;
    size_t i;

    if (strcasecmp(json_string_value(json_object_get(body, "id")), id) == 0)
        return body;
    json_object_foreach(json_object_get(body, "properties"), key, arr)
    {
        json_array_foreach(json_is_array(arr) ? arr : NULL, i, c)
        {
            const char *cid = json_string_value(json_object_get(c, "id"));

            if (cid && strcasecmp(cid, id) == 0)
                return c;
        }
    }
    return NULL;
}

static int
net_state(struct arm_call *k, const char *id, bool failed)
{
    const char *want = failed ? "Failed" : "Succeeded", *cur;
    char top[CTL_ARM_ID_MAX];
    struct ctl_arm_row r;
    json_t *body, *part, *props;
    int rc = 0;

    if (ctl_arm_id_top(id, top, sizeof(top)) < 0 || arm_row_get(k, top, &r) < 0)
        return 0; /* deleted since the document was built */
    body = arm_loads(r.body);
    props = json_object_get((part = find_part(body, id)), "properties");
    cur = json_string_value(json_object_get(props, "provisioningState"));
    /* Only a settled state follows the provider (not Updating, Deleting). */
    if (cur && (strcmp(cur, "Succeeded") == 0 || strcmp(cur, "Failed") == 0) &&
        strcmp(cur, want) != 0) {
        json_object_set_new(props, "provisioningState", json_string(want));
        rc = arm_row_put_json(k, &r, body);
    }
    json_decref(body);
    ctl_arm_row_fini(&r);
    return rc;
}

static bool
is_vm(const char *id)
{
    return strstr(id, "/Microsoft.Compute/") != NULL || strstr(id, "/microsoft.compute/") != NULL;
}

/* ---- VMs ---- */

static void
verdict_of(const json_t *st, const char *err, struct verdict *v)
{
    const char *state = json_string_value(json_object_get(st, "state"));
    const char *relay = json_string_value(json_object_get(st, "relay_egress"));

    *v = (struct verdict){"Succeeded",
                          "ProvisioningState/succeeded",
                          "Info",
                          "Provisioning succeeded",
                          "PowerState/running",
                          json_string_value(json_object_get(st, "message"))};
    if (st == NULL || state == NULL || strcmp(state, "Failed") == 0) {
        *v = (struct verdict){"Failed",
                              "ProvisioningState/failed/ProviderError",
                              "Error",
                              "Provisioning failed",
                              "PowerState/stopped",
                              st ? v->message
                                 : (err && err[0] ? err : "the provider reported nothing for it")};
    } else if (relay && (strcmp(relay, "none") == 0 || strcmp(relay, "dropped") == 0)) {
        /* It boots, but its agent can never reach the relay. */
        v->state = "Failed";
        v->code = "ProvisioningState/failed/NoOutboundConnectivity";
        v->level = "Error";
        v->display = "Provisioning failed";
    }
}

static bool
same(const json_t *vm, const struct verdict *v)
{
    const json_t *p = json_object_get(vm, "properties");
    const json_t *s0 =
            json_array_get(json_object_get(json_object_get(p, "instanceView"), "statuses"), 0);
    const char *m = json_string_value(json_object_get(s0, "message"));
    const char *ps = json_string_value(json_object_get(p, "provisioningState"));
    const char *code = json_string_value(json_object_get(s0, "code"));

    return ps && code && strcmp(ps, v->state) == 0 && strcmp(code, v->code) == 0 &&
           (m == NULL) == (v->message == NULL) && (m == NULL || strcmp(m, v->message) == 0);
}

static json_t *
instance_view(struct arm_call *k, const json_t *vm, const struct verdict *v)
{
    json_t *s0;
    char now[40];

    arm_time(k->now_ms, now);
    s0 = json_pack("{s:s, s:s, s:s, s:s}", "code", v->code, "level", v->level, "displayStatus",
                   v->display, "time", now);
    if (s0 && v->message)
        json_object_set_new(s0, "message", json_string(v->message));
    return json_pack("{s:O, s:s, s:[o, {s:s, s:s, s:s}]}", "computerName",
                     json_object_get(vm, "name"), "osName", "ubuntu", "statuses",
                     s0 ? s0 : json_object(), "code", v->power, "level", "Info", "displayStatus",
                     strcmp(v->power, "PowerState/running") == 0 ? "VM running" : "VM stopped");
}

static int
vm_state(struct arm_call *k, const char *id, const json_t *st, const char *err)
{
    struct ctl_arm_row r;
    struct verdict v;
    json_t *vm, *props;
    int rc = 0;

    if (arm_row_get(k, id, &r) < 0)
        return 0; /* deleted since */
    verdict_of(st, err, &v);
    vm = arm_loads(r.body);
    props = json_object_get(vm, "properties");
    if (props && !same(vm, &v)) {
        json_object_set_new(props, "provisioningState", json_string(v.state));
        json_object_set_new(props, "instanceView", instance_view(k, vm, &v));
        rc = arm_row_put_json(k, &r, vm);
        if (rc == 0 && strcmp(v.state, "Failed") == 0)
            scc_log_warn(&k->c->log, "node VM %s failed: %s", r.name,
                         v.message ? v.message : v.code);
    }
    json_decref(vm);
    ctl_arm_row_fini(&r);
    return rc;
}

int
ctl_compute_vms_fail(struct arm_call *k, const char *payload, const char *why)
{
    json_t *p = arm_loads(payload), *v;
    size_t i;
    int rc = 0;

    json_array_foreach(json_object_get(p, "vms"), i, v)
    {
        if (rc == 0 && json_is_string(v))
            rc = vm_state(k, json_string_value(v), NULL, why);
    }
    json_decref(p);
    return rc;
}

/* ---- node operations ---- */

struct pending {
    json_t *ids;
    const json_t *awaiting;
};

static int
collect_op(const struct ctl_arm_op *op, void *arg)
{
    struct pending *p = arg;

    if ((strcmp(op->kind, CTL_COMPUTE_OP_NEW) == 0 || strcmp(op->kind, CTL_COMPUTE_OP_DEL) == 0 ||
         strcmp(op->kind, CTL_COMPUTE_OP_WS_DEL) == 0) &&
        json_object_get(p->awaiting, op->id) == NULL)
        return json_array_append_new(p->ids, json_string(op->id)) ? SCC_ENOMEM : 0;
    return 0;
}

/* A create succeeds when all its VMs did; else it fails with the first
 * failure's words and how many failed. */
static void
create_outcome(struct arm_call *k, struct ctl_arm_op *op)
{
    json_t *payload = arm_loads(op->payload), *v;
    char first[900] = "", code[64] = "";
    size_t i, failed = 0, n = 0;

    json_array_foreach(json_object_get(payload, "vms"), i, v)
    {
        json_t *vm = net_body(k, json_string_value(v)), *p = json_object_get(vm, "properties");
        const char *ps = json_string_value(json_object_get(p, "provisioningState"));
        const json_t *s0 =
                json_array_get(json_object_get(json_object_get(p, "instanceView"), "statuses"), 0);
        const char *msg = json_string_value(json_object_get(s0, "message"));
        const char *sc = json_string_value(json_object_get(s0, "code"));

        n += vm != NULL;
        if (ps && strcmp(ps, "Succeeded") != 0 && failed++ == 0) {
            snprintf(code, sizeof(code), "%s",
                     sc && strstr(sc, "NoOutboundConnectivity") ? "NoOutboundConnectivity"
                                                                : "VMProvisioningFailed");
            snprintf(first, sizeof(first), "VM %s: %s",
                     json_string_value(json_object_get(vm, "name")),
                     strcmp(ps, "Creating") == 0
                             ? "it could not be placed (its host network interface is missing)"
                     : msg ? msg
                           : "provisioning failed");
        }
        json_decref(vm);
    }
    json_decref(payload);
    snprintf(op->status, sizeof(op->status), "%s", failed ? "Failed" : "Succeeded");
    if (failed)
        arm_op_set_error(op, code, "%zu of %zu node(s) failed. %s", failed, n, first);
}

static int
ops_end(struct arm_call *k, const json_t *awaiting)
{
    struct pending p = {json_array(), awaiting};
    struct ctl_arm_op op;
    size_t i;
    json_t *id;
    int rc = p.ids ? ctl_store_arm_op_each_active(k->c->store, collect_op, &p) : SCC_ENOMEM;

    json_array_foreach(rc == 0 ? p.ids : NULL, i, id)
    {
        if (rc < 0 || ctl_store_arm_op_get(k->c->store, json_string_value(id), &op) < 0)
            continue;
        if (strcmp(op.kind, CTL_COMPUTE_OP_NEW) == 0)
            create_outcome(k, &op);
        else
            snprintf(op.status, sizeof(op.status), "Succeeded");
        op.end_ms = k->now_ms;
        rc = ctl_store_arm_op_put(k->c->store, &op);
        scc_log_info(&k->c->log, "operation %s %s %s: %s%s%s", op.id, op.kind, op.resource_id,
                     op.status, op.error_message ? " " : "",
                     op.error_message ? op.error_message : "");
        ctl_arm_op_fini(&op);
    }
    json_decref(p.ids);
    return rc;
}

int
ctl_compute_feed(struct arm_call *k, const json_t *doc, const json_t *status, const char *err,
                 const json_t *awaiting)
{
    const char *id;
    json_t *st, *vm;
    size_t i;
    int rc = 0;

    json_object_foreach((json_t *)status, id, st)
    {
        const char *state = json_string_value(json_object_get(st, "state"));

        if (rc == 0 && id[0] == '/' && state && !is_vm(id))
            rc = net_state(k, id, strcmp(state, "Failed") == 0);
    }
    json_array_foreach(json_object_get(doc, "vms"), i, vm)
    {
        const char *vid = json_string_value(json_object_get(vm, "id"));

        if (rc == 0)
            rc = vm_state(k, vid, status ? json_object_get(status, vid) : NULL, err);
    }
    return rc == 0 ? ops_end(k, awaiting) : rc;
}
