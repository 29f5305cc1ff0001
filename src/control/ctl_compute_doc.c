/*
 * ctl_compute_doc.c - the whole desired-state document: the network part
 * (ctl_net_desired) plus every VM, booted as cloud-init would boot it.
 *
 * A VM needs a join token until its node has a certificate.  The token is
 * minted here, when the document is built, kept in memory (the store
 * holds only its hash, like every join token) and given to the provider,
 * which writes it to a 0600 file for the agent.  Once the node has
 * enrolled the token is dropped; after a restart a VM that never enrolled
 * simply gets a new one.  The agent's command line does not depend on the
 * token, so none of this restarts a running agent.
 */
#include "ctl_compute.h"
#include "ctl_wire_int.h"

#include "common/err.h"
#include "common/ident.h"
#include "common/time.h"
#include "common/token.h"
#include "ctl_store.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define TOKEN_MARGIN_MS 60000 /* mint a new one when the old expires within a minute */

/* Stand-ins for the service tags Sql, Storage and EventHub (network-compat.md §5.3). */
static const char *const standins[] = {"198.51.100.20", "198.51.100.21", "198.51.100.22"};

struct vm_ctx {
    struct ctl_wire *w;
    json_t *doc;
    json_t *seen; /* VM ids (lower-case) in this document */
    int64_t now;
};

/* ---- join tokens ---- */

static void
token_drop(json_t *tokens, const char *key)
{
    json_t *t = json_object_get(json_object_get(tokens, key), "token");

    if (json_is_string(t))
        OPENSSL_cleanse((char *)json_string_value(t), json_string_length(t));
    json_object_del(tokens, key);
}

static const char *
token_mint(struct vm_ctx *x, const char *key, const struct scc_ident *id)
{
    const struct ctl_cfg *cfg = x->w->c->cfg;
    char text[SCC_TOKEN_MAX];
    struct ctl_join_token row;
    struct scc_token t;
    json_t *e;

    memset(&row, 0, sizeof(row));
    if (scc_token_new(SCC_TOKEN_JOIN, text, &t) < 0)
        return NULL;
    memcpy(row.id, t.id, sizeof(row.id));
    memcpy(row.hash, t.hash, sizeof(row.hash));
    snprintf(row.ws, sizeof(row.ws), "%s", id->ws);
    snprintf(row.cluster, sizeof(row.cluster), "%s", id->cluster);
    snprintf(row.node, sizeof(row.node), "%s", id->node);
    row.created_ms = x->now;
    row.expires_ms = x->now + cfg->join_token_ttl_ms;
    e = ctl_store_join_token_add(x->w->c->store, &row) == 0
                ? json_pack("{s:s, s:I}", "token", text, "expires_ms", (json_int_t)row.expires_ms)
                : NULL;
    OPENSSL_cleanse(text, sizeof(text));
    token_drop(x->w->tokens, key);
    if (e == NULL || json_object_set_new(x->w->tokens, key, e) < 0)
        return NULL;
    return json_string_value(json_object_get(e, "token"));
}

/* The VM's join token, or NULL when its node has enrolled (or on error:
 * the agent then has none, and the next round tries again). */
static const char *
vm_token(struct vm_ctx *x, const char *key, const char *node)
{
    struct scc_ident id;
    bool known = false;
    json_t *e;

    if (node == NULL || scc_ident_parse_path(node, x->w->c->cfg->trust_domain, &id) < 0 ||
        ctl_store_node_known(x->w->c->store, &id, &known) < 0)
        return NULL;
    if (known) {
        token_drop(x->w->tokens, key);
        return NULL;
    }
    e = json_object_get(x->w->tokens, key);
    if (json_integer_value(json_object_get(e, "expires_ms")) > x->now + TOKEN_MARGIN_MS)
        return json_string_value(json_object_get(e, "token"));
    return token_mint(x, key, &id);
}

/* ---- VMs ---- */

static json_t *
body_of(struct ctl_store *st, const char *id)
{
    struct ctl_arm_row r;
    json_t *b;

    if (id == NULL || ctl_store_arm_res_get(st, id, &r) < 0)
        return NULL;
    b = json_loads(r.body, 0, NULL);
    ctl_arm_row_fini(&r);
    return b;
}

/* The host NIC: the one named <vm>-publicNIC. */
static const char *
host_nic(const json_t *vm)
{
    const json_t *nics =
            json_object_get(json_object_get(json_object_get(vm, "properties"), "networkProfile"),
                            "networkInterfaces");
    const char *id, *suffix = "-publicNIC";
    size_t i;
    json_t *n;

    json_array_foreach(nics, i, n)
    {
        id = json_string_value(json_object_get(n, "id"));
        if (id && strlen(id) > strlen(suffix) &&
            strcasecmp(id + strlen(id) - strlen(suffix), suffix) == 0)
            return id;
    }
    return NULL;
}

/* Outbound rules of the load balancer holding pool: the VM joins them. */
static void
lb_backend(struct vm_ctx *x, const char *pool, const char *vm_id)
{
    char lb_id[CTL_ARM_ID_MAX];
    json_t *lb, *rule, *d;
    size_t i, j, m;

    if (ctl_arm_id_top(pool, lb_id, sizeof(lb_id)) < 0 ||
        (lb = body_of(x->w->c->store, lb_id)) == NULL)
        return;
    json_array_foreach(json_object_get(x->doc, "load_balancers"), i, d)
    {
        if (strcasecmp(json_string_value(json_object_get(d, "id")), lb_id) != 0)
            continue;
        json_array_foreach(json_object_get(json_object_get(lb, "properties"), "outboundRules"), j,
                           rule)
        {
            const char *rp = json_string_value(json_object_get(
                    json_object_get(json_object_get(rule, "properties"), "backendAddressPool"),
                    "id"));
            json_t *o;

            if (rp == NULL || strcasecmp(rp, pool) != 0)
                continue;
            json_array_foreach(json_object_get(d, "outbound_rules"), m, o)
            {
                if (strcmp(json_string_value(json_object_get(o, "name")),
                           json_string_value(json_object_get(rule, "name"))) == 0)
                    json_array_append_new(json_object_get(o, "backend_vms"), json_string(vm_id));
            }
        }
    }
    json_decref(lb);
}

/* The document's entry for one VM, from its host NIC. */
static json_t *
vm_doc(struct vm_ctx *x, const char *id, const json_t *vm, const json_t *ipc, const char *token)
{
    struct ctl_store *st = x->w->c->store;
    const json_t *tags = json_object_get(vm, "tags");
    const char *mode = json_string_value(json_object_get(tags, CTL_COMPUTE_TAG_MODE));
    bool legacy = mode && strcmp(mode, "legacy") == 0;
    json_t *pip = legacy ? body_of(st, json_string_value(json_object_get(
                                               json_object_get(ipc, "publicIPAddress"), "id")))
                         : NULL;
    json_t *ip = json_object_get(json_object_get(pip, "properties"), "ipAddress");
    json_t *agent = json_pack("{s:s, s:i}", "relay", x->w->relay_public, "legacy_listen_port",
                              CTL_WIRE_LEGACY_PORT);
    json_t *d;

    if (agent && token)
        json_object_set_new(agent, "join_token", json_string(token));
    /* "node" is ours: the provider ignores it, the relay's legacy dialler
     * needs it (ctl_wire_admin.c). */
    d = json_pack("{s:s, s:O, s:O, s:O, s:s, s:O?, s:o}", "id", id, "subnet",
                  json_object_get(json_object_get(ipc, "subnet"), "id"), "private_ip",
                  json_object_get(ipc, "privateIPAddress"), "public_ip", ip ? ip : json_null(),
                  "mode", legacy ? "legacy" : "scc", "node",
                  json_object_get(tags, CTL_COMPUTE_TAG_NODE), "agent", agent);
    json_decref(pip);
    return d;
}

static int
add_vm(const struct ctl_arm_row *r, void *arg)
{
    struct vm_ctx *x = arg;
    json_t *vm = json_loads(r->body, 0, NULL), *nic = NULL, *ipc, *d = NULL, *pl;
    char key[CTL_ARM_ID_MAX];
    size_t i;
    int rc = SCC_ENOMEM;

    if (vm == NULL || ctl_arm_lower(r->id, key, sizeof(key)) < 0)
        goto out;
    rc = 0;
    /* A VM without its NIC cannot be placed: left out, it stays Creating
     * and its operation fails saying so (ctl_compute_feed.c). */
    if ((nic = body_of(x->w->c->store, host_nic(vm))) == NULL)
        goto out;
    ipc = json_object_get(
            json_array_get(json_object_get(json_object_get(nic, "properties"), "ipConfigurations"),
                           0),
            "properties");
    if (!json_is_string(json_object_get(json_object_get(ipc, "subnet"), "id")) ||
        !json_is_string(json_object_get(ipc, "privateIPAddress")))
        goto out;
    d = vm_doc(x, r->id, vm, ipc,
               vm_token(x, key,
                        json_string_value(json_object_get(json_object_get(vm, "tags"),
                                                          CTL_COMPUTE_TAG_NODE))));
    if (d == NULL || json_array_append_new(json_object_get(x->doc, "vms"), d) < 0 ||
        json_object_set_new(x->seen, key, json_true()) < 0) {
        rc = SCC_ENOMEM;
        goto out;
    }
    json_array_foreach(json_object_get(ipc, "loadBalancerBackendAddressPools"), i, pl)
            lb_backend(x, json_string_value(json_object_get(pl, "id")), r->id);
out:
    json_decref(nic);
    json_decref(vm);
    return rc;
}

/* Tokens of VMs that are gone. */
static void
tokens_prune(struct vm_ctx *x)
{
    const char *key;
    json_t *v, *tmp;

    json_object_foreach_safe(x->w->tokens, tmp, key, v)
    {
        if (json_object_get(x->seen, key) == NULL)
            token_drop(x->w->tokens, key);
    }
}

static int
extras(struct ctl_wire *w, json_t *doc)
{
    json_t *hosts = json_array();

    for (size_t i = 0; hosts && i < sizeof(standins) / sizeof(standins[0]); i++)
        json_array_append_new(hosts, json_string(standins[i]));
    if (hosts == NULL || json_object_set_new(doc, "internet", json_pack("{s:o}", "hosts", hosts)))
        return SCC_ENOMEM;
    /* The process provider's agents dial the relay's loopback listener. */
    if (strcmp(w->kind, "process") == 0 && w->relay_local[0] &&
        json_object_set_new(json_object_get(json_object_get(doc, "control_plane"), "relay"),
                            "local", json_string(w->relay_local)) < 0)
        return SCC_ENOMEM;
    return 0;
}

int
ctl_compute_desired(struct ctl_wire *w, json_t **out)
{
    const struct ctl_cfg *cfg = w->c->cfg;
    struct ctl_net_env env = {cfg->public_api_ip, cfg->public_relay_ip, CTL_WIRE_PUBLIC_PORT,
                              CTL_WIRE_PUBLIC_PORT};
    struct ctl_arm_filter f = {NULL, NULL, CTL_COMPUTE_T_VM};
    struct vm_ctx x = {w, NULL, json_object(), (int64_t)scc_time_wall_ms()};
    int rc;

    *out = NULL;
    if (x.seen == NULL)
        return SCC_ENOMEM;
    if ((rc = ctl_net_desired(w->c->store, &env, &x.doc)) == 0 && (rc = extras(w, x.doc)) == 0)
        rc = ctl_store_arm_res_each(w->c->store, &f, add_vm, &x);
    if (rc == 0) {
        tokens_prune(&x);
        *out = x.doc;
        x.doc = NULL;
    }
    json_decref(x.doc);
    json_decref(x.seen);
    return rc;
}
