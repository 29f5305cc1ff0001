/*
 * ctl_dbx_vm.c - a document's VMs: the workspace's createNodes and
 * deleteNodes actions and their operations, called in-process through the
 * ARM layer (so the workspace's NSGs, NAT gateway, firewall routes and SCC
 * mode apply to every VM), shared by clusters and instance pools.
 *
 * One call per document at a time: the document is "busy" until its
 * answer, which finds the document again by (workspace, kind, id), so an
 * answer for a document deleted meanwhile is dropped.
 *
 * A createNodes is marked "creating" in the store before it is made (the
 * store's queue is the ARM layer's too, so the mark is written first) and
 * unmarked with its answer: a document loaded with the mark may own VMs
 * it never heard of, and its owner looks for them (dbx_vm_recovering).
 */
#include "ctl_dbx_int.h"

#include "ctl_arm_int.h"

#include "common/mem.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

struct vm_ctx {
    char ws[24], kind[16], id[64];
    dbx_vm_cb cb;
};

static void
answered(struct dbx *d, void *ctx, const struct ctl_arm_resp *resp)
{
    struct vm_ctx *x = ctx;
    json_t *doc = dbx_get(d, x->ws, x->kind, x->id);

    if (doc) {
        json_object_del(dbx_priv(doc), "busy");
        json_object_del(dbx_priv(doc), "creating");
        x->cb(d, x->ws, x->id, doc, resp);
    }
    scc_free(x);
}

bool
dbx_vm_call(struct dbx *d, const char *ws, const char *kind, const char *id, json_t *doc,
            const char *method, const char *path, json_t *body, dbx_vm_cb cb)
{
    struct vm_ctx *x = scc_calloc(1, sizeof(*x));

    if (x == NULL) {
        json_decref(body);
        return false;
    }
    snprintf(x->ws, sizeof(x->ws), "%s", ws);
    snprintf(x->kind, sizeof(x->kind), "%s", kind);
    snprintf(x->id, sizeof(x->id), "%s", id);
    x->cb = cb;
    json_object_set_new(dbx_priv(doc), "busy", json_true());
    dbx_arm(d, method, path, body, answered, x);
    return true;
}

bool
dbx_vm_create(struct dbx *d, const char *ws, const char *kind, const char *id, json_t *doc,
              json_int_t count, const char *group, dbx_vm_cb cb)
{
    char path[CTL_ARM_ID_MAX + 64];

    snprintf(path, sizeof(path), "%s/createNodes?" DBX_ARM_API_VERSION,
             dbx_str(dbx_priv(doc), "ws_rid"));
    json_object_set_new(dbx_priv(doc), "creating", json_true());
    dbx_save(d, ws, kind, id);
    return dbx_vm_call(d, ws, kind, id, doc, "POST", path,
                       json_pack("{s:I, s:s}", "count", count, "clusterName", group), cb);
}

bool
dbx_vm_delete(struct dbx *d, const char *ws, const char *kind, const char *id, json_t *doc,
              json_t *what, dbx_vm_cb cb)
{
    char path[CTL_ARM_ID_MAX + 64];

    snprintf(path, sizeof(path), "%s/deleteNodes?" DBX_ARM_API_VERSION,
             dbx_str(dbx_priv(doc), "ws_rid"));
    return dbx_vm_call(d, ws, kind, id, doc, "POST", path, what, cb);
}

void
dbx_vm_err(const struct ctl_arm_resp *resp, char *code, size_t ccap, char *msg, size_t mcap)
{
    json_t *b = resp->body ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
    json_t *e = json_object_get(b, "error");

    snprintf(code, ccap, "%s", dbx_str(e, "code") ? dbx_str(e, "code") : "InternalError");
    snprintf(msg, mcap, "%s", dbx_str(e, "message") ? dbx_str(e, "message") : "no message");
    json_decref(b);
}

bool
dbx_vm_busy(const struct ctl_arm_resp *resp)
{
    return resp->status == 409 && resp->body && strstr(resp->body, "AnotherOperationInProgress");
}

void
dbx_vm_keep_op(json_t *doc, const struct ctl_arm_resp *resp)
{
    for (size_t i = 0; i < resp->nhdrs; i++) {
        const char *v = resp->hdrs[i].value, *p;

        if (strcasecmp(resp->hdrs[i].name, "Azure-AsyncOperation") != 0 || v == NULL)
            continue;
        p = strstr(v, "://");
        p = p ? strchr(p + 3, '/') : v;
        if (p)
            json_object_set_new(dbx_priv(doc), "op", json_string(p));
    }
}

json_t *
dbx_vm_list(const struct ctl_arm_resp *resp)
{
    json_t *b = json_loadb(resp->body, resp->body_len, 0, NULL), *nodes = json_array(), *vm;
    size_t i;

    json_array_foreach(json_object_get(b, "value"), i, vm)
    {
        json_t *nics = json_object_get(
                json_object_get(json_object_get(vm, "properties"), "networkProfile"),
                "networkInterfaces");

        json_array_append_new(
                nodes, json_pack("{s:O, s:O, s:O, s:O?, s:O?}", "vm", json_object_get(vm, "id"),
                                 "name", json_object_get(vm, "name"), "node",
                                 json_object_get(json_object_get(vm, "tags"), "scc-node"), "nic",
                                 json_object_get(json_array_get(nics, 0), "id"), "host_nic",
                                 json_object_get(json_array_get(nics, 1), "id")));
    }
    json_decref(b);
    return nodes;
}

int
dbx_vm_op_status(const struct ctl_arm_resp *resp, char *code, size_t ccap, char *msg, size_t mcap)
{
    json_t *b = resp->status == 200 ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
    json_t *e = json_object_get(b, "error");
    const char *st = dbx_str(b, "status");
    int rc = DBX_OP_FAILED;

    if (resp->status == 404)
        rc = DBX_OP_GONE;
    else if (resp->status != 200 || st == NULL || strcmp(st, "InProgress") == 0)
        rc = DBX_OP_RUNNING; /* asked again at the next tick */
    else if (strcmp(st, "Succeeded") == 0)
        rc = DBX_OP_DONE;
    snprintf(code, ccap, "%s", dbx_str(e, "code") ? dbx_str(e, "code") : "");
    snprintf(msg, mcap, "%s", dbx_str(e, "message") ? dbx_str(e, "message") : (st ? st : ""));
    json_decref(b);
    return rc;
}

bool
dbx_vm_recovering(json_t *doc)
{
    json_t *priv = dbx_priv(doc);

    return json_is_true(json_object_get(priv, "creating")) &&
           !json_is_true(json_object_get(priv, "busy"));
}

bool
dbx_vm_find(struct dbx *d, const char *ws, const char *kind, const char *id, json_t *doc,
            dbx_vm_cb cb)
{
    const struct arm_entry *e = arm_cache_get(d->c->arm, dbx_str(dbx_priv(doc), "ws_rid"));
    json_t *w = e ? json_loadb(e->text, e->len, 0, NULL) : NULL;
    const char *mrg = dbx_str(json_object_get(w, "properties"), "managedResourceGroupId");
    char path[CTL_ARM_ID_MAX + 96];
    bool ok = false;

    if (mrg) {
        snprintf(path, sizeof(path),
                 "%s/providers/Microsoft.Compute/virtualMachines?api-version=2024-07-01", mrg);
        ok = dbx_vm_call(d, ws, kind, id, doc, "GET", path, NULL, cb);
    }
    json_decref(w);
    return ok;
}

json_t *
dbx_vm_unknown(const struct ctl_arm_resp *resp, const char *group, const json_t *known)
{
    json_t *b = resp->status == 200 ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
    json_t *names = json_array(), *vm, *k;
    const char *g, *name, *kn;
    size_t i, j;
    bool seen;

    json_array_foreach(json_object_get(b, "value"), i, vm)
    {
        g = dbx_str(json_object_get(vm, "tags"), "ClusterName");
        if (g == NULL || strcmp(g, group) != 0 || (name = dbx_str(vm, "name")) == NULL)
            continue;
        seen = false;
        json_array_foreach(known, j, k) seen =
                seen || ((kn = dbx_str(k, "name")) && strcmp(kn, name) == 0);
        if (!seen)
            json_array_append_new(names, json_string(name));
    }
    json_decref(b);
    return names;
}
