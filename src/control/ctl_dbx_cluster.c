/*
 * ctl_dbx_cluster.c - clusters (databricks-compat.md §3) over the
 * workspace's VMs and their tunnels.
 *
 * A cluster of N workers is N + 1 VMs made by the workspace's createNodes
 * action (the driver is the first), each running scc-agent, which dials
 * the relay.  The cluster is RUNNING when every node's tunnel is up; it
 * is never told so by a node's address.  Everything happens in the tick,
 * from what the document says, so a restart of sccd picks up where it
 * stopped:
 *
 *   PENDING      no nodes yet: createNodes (retried while the workspace
 *                is busy with another operation); an operation: poll it
 *                (Failed ends the launch with its reason); nodes: wait for
 *                every tunnel, until the launch deadline
 *   RUNNING      a node whose tunnel stays away --cluster-node-grace ends it
 *                (COMMUNICATION_LOST); idle past autotermination_minutes
 *                ends it (INACTIVITY)
 *   TERMINATING  an operation: poll it; nodes: deleteNodes; none: TERMINATED
 */
#include "ctl_dbx_int.h"

#include "ctl_arm_int.h"

#include "common/encode.h"
#include "common/err.h"
#include "common/json.h"
#include "common/mem.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define EVENTS_MAX 500

/* ---- small helpers ---- */

static const char *
state_of(const json_t *doc)
{
    const char *s = dbx_str(doc, "state");

    return s ? s : "UNKNOWN";
}

static void
event(json_t *doc, const char *type, json_t *details)
{
    json_t *ev = json_object_get(dbx_priv(doc), "events");

    if (ev == NULL) {
        ev = json_array();
        json_object_set_new(dbx_priv(doc), "events", ev);
    }
    if (json_array_size(ev) >= EVENTS_MAX)
        json_array_remove(ev, 0);
    json_array_append_new(ev,
                          json_pack("{s:s, s:I, s:s, s:o}", "cluster_id",
                                    dbx_str(doc, "cluster_id"), "timestamp", (json_int_t)dbx_now(),
                                    "type", type, "details", details ? details : json_object()));
}

static void
set_state(json_t *doc, const char *state, const char *msg)
{
    json_object_set_new(doc, "state", json_string(state));
    json_object_set_new(doc, "state_message", json_string(msg ? msg : ""));
}

/* An enum as users read it: "RUNNING" -> "Running",
 * "NPIP_TUNNEL_SETUP_FAILURE" -> "Npip Tunnel Setup Failure". */
static void
title(const char *word, char *out, size_t cap)
{
    size_t i = 0;

    for (bool first = true; word[i] && i + 1 < cap; i++) {
        char ch = word[i] == '_' ? ' ' : word[i];

        out[i] = first || ch < 'A' || ch > 'Z' ? ch : (char)(ch + 32);
        first = ch == ' ';
    }
    out[i] = '\0';
}

/* A terminated cluster's state message: the reason as the UI shows it. */
static void
terminated(json_t *doc)
{
    const json_t *r = json_object_get(doc, "termination_reason");
    const char *code = dbx_str(r, "code");
    const char *msg = dbx_str(json_object_get(r, "parameters"), "databricks_error_message");
    char t[96], text[700];

    title(code ? code : "UNKNOWN", t, sizeof(t));
    snprintf(text, sizeof(text), "%s%s%.500s", t, msg ? ": " : "", msg ? msg : "");
    set_state(doc, "TERMINATED", text);
}

/* ---- ending a cluster ---- */

static void
terminate(struct dbx *d, const char *ws, const char *id, json_t *doc, const char *code,
          const char *type, json_t *params)
{
    json_t *reason = json_pack("{s:s, s:s, s:o}", "code", code, "type", type, "parameters",
                               params ? params : json_object());
    const char *msg = dbx_str(json_object_get(reason, "parameters"), "databricks_error_message");
    char sm[600], t[96];

    title(code, t, sizeof(t));
    snprintf(sm, sizeof(sm), "Terminating: %s%s%.400s", t, msg ? ": " : "", msg ? msg : "");
    set_state(doc, "TERMINATING", sm);
    event(doc, "TERMINATING", json_pack("{s:O}", "reason", reason));
    json_object_set_new(doc, "termination_reason", reason);
    json_object_del(dbx_priv(doc), "lost_since");
    json_object_del(dbx_priv(doc), "size");
    json_object_del(dbx_priv(doc), "edited");
    json_object_del(dbx_priv(doc), "had");
    json_object_del(dbx_priv(doc), "add_failed");
    dbx_save(d, ws, DBX_CLUSTER, id);
}

/* A resize could not get its new nodes: the cluster goes back to the size
 * it had (the tick deletes any that came), with the reason as an event, as
 * Databricks keeps a cluster whose upsize fails. */
static void
add_failed(struct dbx *d, const char *ws, const char *id, json_t *doc, const char *code,
           const char *msg)
{
    json_t *priv = dbx_priv(doc), *had = json_object_get(priv, "had");

    event(doc, "ADD_NODES_FAILED",
          json_pack("{s:{s:s, s:{s:s}}}", "reason", "code", code, "parameters",
                    "databricks_error_message", msg));
    json_object_set_new(
            priv, "size",
            had ? json_copy(had)
                : json_integer((json_int_t)json_array_size(json_object_get(priv, "nodes"))));
    json_object_set_new(priv, "add_failed", json_true());
    dbx_save(d, ws, DBX_CLUSTER, id);
}

/* More nodes of the cluster made (taken), after those it has (the driver
 * is the first): they have until the launch deadline to open their tunnels. */
static void
got_nodes(struct dbx *d, const char *ws, const char *id, json_t *doc, json_t *nodes)
{
    json_t *all = json_object_get(dbx_priv(doc), "nodes");

    json_array_extend(all, nodes);
    json_decref(nodes);
    json_object_set_new(dbx_priv(doc), "deadline",
                        json_integer(dbx_now() + DBX_LAUNCH_S(d) * 1000));
    event(doc, "CREATING",
          json_pack("{s:I}", "target_num_workers", (json_int_t)(json_array_size(all) - 1)));
    dbx_save(d, ws, DBX_CLUSTER, id);
}

/* ---- the VMs: createNodes (or a pool's), deleteNodes, operation status ---- */

static void
created(struct dbx *d, const char *ws, const char *id, json_t *doc, const struct ctl_arm_resp *resp)
{
    char code[64], msg[700];

    if (dbx_vm_busy(resp))
        return;
    if (resp->status != 202) {
        dbx_vm_err(resp, code, sizeof(code), msg, sizeof(msg));
        if (strcmp(state_of(doc), "RESIZING") == 0)
            add_failed(d, ws, id, doc, "CLOUD_PROVIDER_LAUNCH_FAILURE", msg);
        else
            terminate(d, ws, id, doc, "CLOUD_PROVIDER_LAUNCH_FAILURE", "CLOUD_FAILURE",
                      json_pack("{s:s, s:s, s:s}", "azure_error_code", code, "azure_error_message",
                                msg, "databricks_error_message", msg));
        return;
    }
    dbx_vm_keep_op(doc, resp);
    got_nodes(d, ws, id, doc, dbx_vm_list(resp));
}

/* Nodes from the cluster's pools once they have them idle, or its end
 * with the reason they cannot give them. */
static void
from_pools(struct dbx *d, const char *ws, const char *id, json_t *doc, json_int_t workers)
{
    char code[64], msg[600];
    json_t *nodes = NULL;
    const char *pool = dbx_str(doc, "instance_pool_id");
    const char *dpool = dbx_str(doc, "driver_instance_pool_id");
    int rc;

    /* The pools asked, so that an end withdraws the request (the spec may
     * be edited meanwhile). */
    json_object_set_new(dbx_priv(doc), "pools",
                        dpool && strcmp(dpool, pool) != 0 ? json_pack("[s, s]", dpool, pool)
                                                          : json_pack("[s]", pool));
    rc = dbx_pool_take(d, ws, id, dpool ? dpool : pool, pool, (size_t)workers, &nodes, code,
                       sizeof(code), msg, sizeof(msg));
    if (rc == 0)
        got_nodes(d, ws, id, doc, nodes);
    else if (rc != SCC_EBUSY)
        terminate(d, ws, id, doc, code, "CLIENT_ERROR",
                  json_pack("{s:s, s:s, s:s}", "databricks_error_message", msg, "instance_pool_id",
                            pool, "instance_pool_error_code", code));
}

static void
launch(struct dbx *d, const char *ws, const char *id, json_t *doc)
{
    json_int_t workers = json_integer_value(json_object_get(doc, "num_workers"));

    if (json_object_get(doc, "autoscale"))
        workers = json_integer_value(
                json_object_get(json_object_get(doc, "autoscale"), "min_workers"));
    if (dbx_str(doc, "instance_pool_id"))
        from_pools(d, ws, id, doc, workers);
    else
        (void)dbx_vm_create(d, ws, DBX_CLUSTER, id, doc, workers + 1, id, created);
}

static void
deleted(struct dbx *d, const char *ws, const char *id, json_t *doc, const struct ctl_arm_resp *resp)
{
    char code[64], msg[700];

    if (dbx_vm_busy(resp))
        return;
    if (resp->status == 202)
        dbx_vm_keep_op(doc, resp);
    else if (resp->status != 200) {
        dbx_vm_err(resp, code, sizeof(code), msg, sizeof(msg));
        if (strcmp(code, "NodeNotFound") != 0 && strcmp(code, "ResourceNotFound") != 0) {
            scc_log_warn(&d->c->log, "cluster %s: deleteNodes: %s: %s", id, code, msg);
            return; /* the tick tries again */
        }
    }
    json_object_set_new(dbx_priv(doc), "nodes", json_array());
    dbx_save(d, ws, DBX_CLUSTER, id);
}

static void
op_polled(struct dbx *d, const char *ws, const char *id, json_t *doc,
          const struct ctl_arm_resp *resp)
{
    char code[64], msg[700];
    int st = dbx_vm_op_status(resp, code, sizeof(code), msg, sizeof(msg));

    if (st == DBX_OP_RUNNING)
        return;
    json_object_del(dbx_priv(doc), "op");
    if (st == DBX_OP_FAILED && strcmp(state_of(doc), "RESIZING") == 0) {
        add_failed(d, ws, id, doc, code, msg);
    } else if (st == DBX_OP_FAILED && strcmp(state_of(doc), "PENDING") == 0) {
        bool net = strstr(code, "NoOutboundConnectivity") != NULL;

        terminate(d, ws, id, doc,
                  net ? "NPIP_TUNNEL_SETUP_FAILURE" : "CLOUD_PROVIDER_LAUNCH_FAILURE",
                  net ? "CLIENT_ERROR" : "CLOUD_FAILURE",
                  json_pack("{s:s, s:s, s:s}", "azure_error_code", code, "azure_error_message", msg,
                            "databricks_error_message", msg));
    }
    dbx_save(d, ws, DBX_CLUSTER, id);
}

static void
poll_op(struct dbx *d, const char *ws, const char *id, json_t *doc)
{
    (void)dbx_vm_call(d, ws, DBX_CLUSTER, id, doc, "GET", dbx_str(dbx_priv(doc), "op"), NULL,
                      op_polled);
}

/* ---- the tick ---- */

static bool
all_connected(struct dbx *d, json_t *nodes, const char **missing)
{
    size_t i;
    json_t *n;

    json_array_foreach(nodes, i, n)
    {
        if (!dbx_node_connected(d, dbx_str(n, "node"))) {
            *missing = dbx_str(n, "name");
            return false;
        }
    }
    return json_array_size(nodes) > 0;
}

/* The private address of a node's NIC ("nic": the container subnet's,
 * "host_nic": the host subnet's, where the agent runs), as ARM allocated it. */
static void
nic_ip(struct dbx *d, const json_t *node, const char *which, char *ip, size_t cap)
{
    const char *nic = dbx_str(node, which);
    const struct arm_entry *e = nic ? arm_cache_get(d->c->arm, nic) : NULL;
    json_t *b = e ? json_loadb(e->text, e->len, 0, NULL) : NULL;
    json_t *cfg = json_array_get(
            json_object_get(json_object_get(b, "properties"), "ipConfigurations"), 0);
    const char *v = dbx_str(json_object_get(cfg, "properties"), "privateIPAddress");

    snprintf(ip, cap, "%s", v ? v : "");
    json_decref(b);
}

static json_t *
spark_node(struct dbx *d, const json_t *node, int64_t now)
{
    char ip[64], host[64];

    nic_ip(d, node, "nic", ip, sizeof(ip));
    nic_ip(d, node, "host_nic", host, sizeof(host));
    return json_pack("{s:s, s:s, s:s, s:s, s:I}", "node_id", dbx_str(node, "name"), "instance_id",
                     dbx_str(node, "name"), "private_ip", ip, "host_private_ip", host,
                     "start_timestamp", (json_int_t)now);
}

/* driver, executors and the cluster's size from its nodes. */
static void
show_nodes(struct dbx *d, json_t *doc, int64_t now)
{
    json_t *nodes = json_object_get(dbx_priv(doc), "nodes"), *ex = json_array();
    int ti = ctl_dbx_node_type(dbx_str(doc, "node_type_id"));
    size_t n = json_array_size(nodes);

    for (size_t i = 1; i < n; i++)
        json_array_append_new(ex, spark_node(d, json_array_get(nodes, i), now));
    json_object_set_new(doc, "driver", spark_node(d, json_array_get(nodes, 0), now));
    json_object_set_new(doc, "executors", ex);
    json_object_set_new(doc, "cluster_cores",
                        json_real(ti < 0 ? 0.0 : (double)n * ctl_dbx_node_types[ti].cores));
    json_object_set_new(
            doc, "cluster_memory_mb",
            json_integer(ti < 0 ? 0 : (json_int_t)n * ctl_dbx_node_types[ti].memory_mb));
}

static void
running(struct dbx *d, const char *ws, const char *id, json_t *doc)
{
    int64_t now = dbx_now();
    size_t n = json_array_size(json_object_get(dbx_priv(doc), "nodes"));
    bool restart = strcmp(state_of(doc), "RESTARTING") == 0;

    show_nodes(d, doc, now);
    json_object_set_new(doc, restart ? "last_restarted_time" : "start_time", json_integer(now));
    json_object_set_new(doc, "last_activity_time", json_integer(now));
    json_object_set_new(doc, "spark_context_id", json_integer((json_int_t)(now % 9007199254740ll)));
    set_state(doc, "RUNNING", "");
    event(doc, "RUNNING", json_pack("{s:I}", "current_num_workers", (json_int_t)(n - 1)));
    event(doc, "DRIVER_HEALTHY",
          json_pack("{s:s}", "driver_state_message",
                    "every node's agent holds a mutual-TLS tunnel to the relay"));
    dbx_save(d, ws, DBX_CLUSTER, id);
}

/* A resize is done: every node there has its tunnel (an edit's resize
 * goes on as the restart an edit is). */
static void
resized(struct dbx *d, const char *ws, const char *id, json_t *doc)
{
    json_t *priv = dbx_priv(doc);
    json_int_t workers = (json_int_t)json_array_size(json_object_get(priv, "nodes")) - 1;

    if (!json_is_true(json_object_get(priv, "add_failed")))
        event(doc, "UPSIZE_COMPLETED",
              json_pack("{s:I, s:I}", "current_num_workers", workers, "target_num_workers",
                        workers));
    else if (json_object_get(doc, "num_workers")) { /* the size it has */
        json_object_set_new(doc, "num_workers", json_integer(workers));
        json_object_set_new(json_object_get(doc, "spec"), "num_workers", json_integer(workers));
    }
    json_object_del(priv, "size");
    json_object_del(priv, "had");
    json_object_del(priv, "add_failed");
    if (json_is_true(json_object_get(priv, "edited"))) {
        json_object_del(priv, "edited");
        set_state(doc, "RESTARTING", "Restarting the driver with the new configuration");
        running(d, ws, id, doc);
        return;
    }
    show_nodes(d, doc, dbx_now());
    set_state(doc, "RUNNING", "");
    dbx_save(d, ws, DBX_CLUSTER, id);
}

static void
shrunk(struct dbx *d, const char *ws, const char *id, json_t *doc, const struct ctl_arm_resp *resp)
{
    json_t *nodes = json_object_get(dbx_priv(doc), "nodes");
    size_t want = (size_t)json_integer_value(json_object_get(dbx_priv(doc), "size"));
    char code[64], msg[700];

    if (dbx_vm_busy(resp))
        return;
    if (resp->status != 200 && resp->status != 202) {
        dbx_vm_err(resp, code, sizeof(code), msg, sizeof(msg));
        if (strcmp(code, "NodeNotFound") != 0) {
            scc_log_warn(&d->c->log, "cluster %s: deleteNodes of surplus workers: %s: %s", id, code,
                         msg);
            return; /* the tick tries again */
        }
    }
    if (resp->status == 202) /* RUNNING again once the VMs are gone */
        dbx_vm_keep_op(doc, resp);
    while (json_array_size(nodes) > want && want > 0)
        json_array_remove(nodes, json_array_size(nodes) - 1);
    dbx_save(d, ws, DBX_CLUSTER, id);
}

/* A RESIZING cluster's nodes to its new size: more made (or taken from
 * its pool), or the last workers deleted (or given back to it). */
static void
resize_nodes(struct dbx *d, const char *ws, const char *id, json_t *doc, size_t have, size_t want)
{
    json_t *priv = dbx_priv(doc), *nodes = json_object_get(priv, "nodes"), *names, *more = NULL;
    json_t *pools = json_object_get(priv, "pools");
    const char *pool = json_string_value(json_array_get(pools, json_array_size(pools) - 1));
    char code[64], msg[600];
    int rc;

    if (have < want) {
        if (json_object_get(priv, "had") == NULL)
            json_object_set_new(priv, "had", json_integer((json_int_t)have));
        if (pool == NULL) {
            (void)dbx_vm_create(d, ws, DBX_CLUSTER, id, doc, (json_int_t)(want - have), id,
                                created);
        } else if ((rc = dbx_pool_take(d, ws, id, NULL, pool, want - have, &more, code,
                                       sizeof(code), msg, sizeof(msg))) == 0) {
            got_nodes(d, ws, id, doc, more);
        } else if (rc != SCC_EBUSY) {
            add_failed(d, ws, id, doc, code, msg);
        }
        return;
    }
    names = json_array();
    for (size_t i = want; i < have; i++)
        json_array_append(names, json_object_get(json_array_get(nodes, i), "name"));
    if (pool == NULL) {
        (void)dbx_vm_delete(d, ws, DBX_CLUSTER, id, doc, json_pack("{s:o}", "nodes", names),
                            shrunk);
        return;
    }
    dbx_pool_drop(d, ws, pool, id, names); /* the pool deletes them */
    json_decref(names);
    while (json_array_size(nodes) > want)
        json_array_remove(nodes, json_array_size(nodes) - 1);
    dbx_save(d, ws, DBX_CLUSTER, id);
}

static void
tick_pending(struct dbx *d, const char *ws, const char *id, json_t *doc)
{
    json_t *priv = dbx_priv(doc), *nodes = json_object_get(priv, "nodes");
    size_t n = json_array_size(nodes);
    size_t want = (size_t)json_integer_value(json_object_get(priv, "size")); /* RESIZING */
    const char *missing = NULL;
    char msg[400];

    if (n == 0) {
        launch(d, ws, id, doc);
    } else if (dbx_str(priv, "op")) {
        poll_op(d, ws, id, doc);
    } else if (want > 0 && n != want) {
        resize_nodes(d, ws, id, doc, n, want);
    } else if (all_connected(d, nodes, &missing)) {
        if (want > 0)
            resized(d, ws, id, doc);
        else
            running(d, ws, id, doc);
    } else if (dbx_now() > json_integer_value(json_object_get(priv, "deadline"))) {
        snprintf(msg, sizeof(msg),
                 "node %s did not open its tunnel to the relay within %d s of its launch; check "
                 "the route, NSG and firewall rules from its subnet to the relay",
                 missing, (int)DBX_LAUNCH_S(d));
        if (want > 0) {
            add_failed(d, ws, id, doc, "NPIP_TUNNEL_SETUP_FAILURE", msg);
            return;
        }
        terminate(d, ws, id, doc, "NPIP_TUNNEL_SETUP_FAILURE", "CLIENT_ERROR",
                  json_pack("{s:s, s:s}", "databricks_error_message", msg, "instance_id", missing));
    }
}

static void
tick_running(struct dbx *d, const char *ws, const char *id, json_t *doc)
{
    json_t *priv = dbx_priv(doc), *lost = json_object_get(priv, "lost_since");
    const char *missing = NULL;
    int64_t now = dbx_now(),
            idle_min = json_integer_value(json_object_get(doc, "autotermination_minutes"));
    char msg[300];

    if (!all_connected(d, json_object_get(priv, "nodes"), &missing)) {
        if (lost == NULL) {
            json_object_set_new(priv, "lost_since", json_integer(now));
            event(doc, "NODES_LOST", json_pack("{s:s}", "instance_id", missing));
            dbx_save(d, ws, DBX_CLUSTER, id);
        } else if (now - json_integer_value(lost) > DBX_LOST_S(d) * 1000) {
            snprintf(msg, sizeof(msg), "the tunnel of node %s has been down for over %d s", missing,
                     (int)DBX_LOST_S(d));
            terminate(d, ws, id, doc, "COMMUNICATION_LOST", "CLOUD_FAILURE",
                      json_pack("{s:s, s:s}", "databricks_error_message", msg, "instance_id",
                                missing));
        }
        return;
    }
    if (lost) {
        json_object_del(priv, "lost_since");
        event(doc, "DRIVER_HEALTHY", NULL);
        dbx_save(d, ws, DBX_CLUSTER, id);
    }
    if (strcmp(state_of(doc), "RESTARTING") == 0)
        running(d, ws, id, doc);
    else if (idle_min > 0 && now - json_integer_value(json_object_get(doc, "last_activity_time")) >
                                     idle_min * 60000) {
        snprintf(msg, sizeof(msg), "%lld", (long long)idle_min);
        terminate(d, ws, id, doc, "INACTIVITY", "SUCCESS",
                  json_pack("{s:s}", "inactivity_duration_min", msg));
    }
}

/* No VMs left: TERMINATED, or gone for good. */
static void
finish(struct dbx *d, const char *ws, const char *id, json_t *doc)
{
    if (json_is_true(json_object_get(dbx_priv(doc), "permanent"))) {
        dbx_del(d, ws, DBX_CLUSTER, id);
    } else {
        terminated(doc);
        json_object_set_new(doc, "terminated_time", json_integer(dbx_now()));
        json_object_del(doc, "driver");
        json_object_del(doc, "executors");
        dbx_save(d, ws, DBX_CLUSTER, id);
    }
}

static void
tick_terminating(struct dbx *d, const char *ws, const char *id, json_t *doc)
{
    json_t *priv = dbx_priv(doc);
    json_t *pools = json_object_get(priv, "pools"), *p;
    size_t i;

    if (dbx_str(priv, "op")) {
        poll_op(d, ws, id, doc);
    } else if (pools) {
        /* A pool's VMs go back to it (which deletes them: an instance
         * serves one cluster), or its request for them is withdrawn. */
        json_array_foreach(pools, i, p) dbx_pool_release(d, ws, json_string_value(p), id);
        json_object_del(priv, "pools");
        json_object_set_new(priv, "nodes", json_array());
        finish(d, ws, id, doc);
    } else if (json_array_size(json_object_get(priv, "nodes")) > 0) {
        (void)dbx_vm_delete(d, ws, DBX_CLUSTER, id, doc, json_pack("{s:s}", "clusterName", id),
                            deleted);
    } else {
        finish(d, ws, id, doc);
    }
}

/* After a restart that lost a createNodes' answer: the VMs tagged with
 * the cluster's id that it does not know become "orphans", deleted first. */
static void
found(struct dbx *d, const char *ws, const char *id, json_t *doc, const struct ctl_arm_resp *resp)
{
    json_t *priv = dbx_priv(doc);

    if (resp->status != 200)
        scc_log_warn(&d->c->log,
                     "cluster %s: cannot list the workspace's VMs (HTTP %d): any made by a "
                     "createNodes whose answer was lost stay",
                     id, resp->status);
    json_object_set_new(priv, "orphans", dbx_vm_unknown(resp, id, json_object_get(priv, "nodes")));
    dbx_save(d, ws, DBX_CLUSTER, id);
}

static void
orphans_gone(struct dbx *d, const char *ws, const char *id, json_t *doc,
             const struct ctl_arm_resp *resp)
{
    char code[64], msg[700];

    if (dbx_vm_busy(resp))
        return;
    if (resp->status != 200 && resp->status != 202) {
        dbx_vm_err(resp, code, sizeof(code), msg, sizeof(msg));
        scc_log_warn(&d->c->log, "cluster %s: deleting VMs it did not know: %s: %s", id, code, msg);
    }
    json_object_del(dbx_priv(doc), "orphans");
    dbx_save(d, ws, DBX_CLUSTER, id);
}

/* Before anything else: VMs of the cluster it may not know of. */
static bool
recover(struct dbx *d, const char *ws, const char *id, json_t *doc)
{
    json_t *priv = dbx_priv(doc), *orphans = json_object_get(priv, "orphans");

    if (dbx_vm_recovering(doc)) {
        if (!dbx_vm_find(d, ws, DBX_CLUSTER, id, doc, found))
            json_object_del(priv, "creating"); /* no workspace to look in */
        return true;
    }
    if (json_array_size(orphans) == 0)
        return false;
    (void)dbx_vm_delete(d, ws, DBX_CLUSTER, id, doc, json_pack("{s:O}", "nodes", orphans),
                        orphans_gone);
    return true;
}

void
dbx_clusters_tick(struct dbx *d, const char *ws, const char *id, json_t *doc)
{
    const char *st = state_of(doc);

    if (json_is_true(json_object_get(dbx_priv(doc), "busy")))
        return;
    if (recover(d, ws, id, doc))
        return;
    if (strcmp(st, "PENDING") == 0 || strcmp(st, "RESIZING") == 0)
        tick_pending(d, ws, id, doc);
    else if (strcmp(st, "RUNNING") == 0 || strcmp(st, "RESTARTING") == 0)
        tick_running(d, ws, id, doc);
    else if (strcmp(st, "TERMINATING") == 0)
        tick_terminating(d, ws, id, doc);
}

const char *
dbx_cluster_driver(json_t *cluster)
{
    if (cluster == NULL ||
        (strcmp(state_of(cluster), "RUNNING") != 0 && strcmp(state_of(cluster), "RESIZING") != 0))
        return NULL;
    return dbx_str(json_array_get(json_object_get(dbx_priv(cluster), "nodes"), 0), "node");
}

static void
begin(json_t *doc, const char *msg)
{
    json_t *priv = dbx_priv(doc);

    set_state(doc, "PENDING", msg);
    json_object_del(doc, "termination_reason");
    json_object_del(doc, "terminated_time");
    json_object_set_new(priv, "nodes", json_array());
}

bool
dbx_cluster_visible(json_t *doc)
{
    json_t *priv = doc ? dbx_priv(doc) : NULL;

    return doc && !json_is_true(json_object_get(priv, "permanent")) &&
           !json_is_true(json_object_get(priv, "hidden"));
}

void
dbx_cluster_touch(json_t *doc)
{
    json_object_set_new(doc, "last_activity_time", json_integer(dbx_now()));
}

void
dbx_cluster_wake(struct dbx *d, const char *ws, const char *id, json_t *doc, const char *user)
{
    dbx_cluster_touch(doc);
    if (strcmp(state_of(doc), "TERMINATED") != 0)
        return;
    begin(doc, "Starting the cluster for a run");
    event(doc, "STARTING", json_pack("{s:s, s:s}", "user", user, "cause", "JOB_RUN"));
    dbx_save(d, ws, DBX_CLUSTER, id);
}

/* ---- the requests ---- */

/* Check a ClusterSpec; false after answering 400. */
static bool
spec_ok(struct dbx_req *q, const json_t *b)
{
    char err[400];

    if (ctl_dbx_spec_check(b, err, sizeof(err)) == 0)
        return dbx_pool_spec_ok(q, b, "");
    dbx_error(q, 400, "INVALID_PARAMETER_VALUE", "%s", err);
    return false;
}

static void
apply_spec(struct dbx *d, const char *ws, json_t *doc, const json_t *b)
{
    json_t *spec = json_object();
    const char *pt = dbx_pool_node_type(d, ws, dbx_str(b, "instance_pool_id"));
    const char *dpt = dbx_pool_node_type(d, ws, dbx_str(b, "driver_instance_pool_id"));

    for (size_t i = 0; i < ctl_dbx_nspec_keys; i++) {
        json_t *v = json_object_get(b, ctl_dbx_spec_keys[i]);

        json_object_del(doc, ctl_dbx_spec_keys[i]);
        if (v && !json_is_null(v)) {
            json_object_set(doc, ctl_dbx_spec_keys[i], v);
            json_object_set(spec, ctl_dbx_spec_keys[i], v);
        }
    }
    if (json_object_get(doc, "num_workers") == NULL && json_object_get(doc, "autoscale") == NULL)
        json_object_set_new(doc, "num_workers", json_integer(0));
    if (pt) { /* a pool's nodes are of its type */
        json_object_set_new(doc, "node_type_id", json_string(pt));
        json_object_set_new(doc, "driver_node_type_id", json_string(dpt ? dpt : pt));
    }
    if (json_object_get(doc, "node_type_id") == NULL)
        json_object_set_new(doc, "node_type_id", json_string(ctl_dbx_node_types[0].id));
    if (json_object_get(doc, "driver_node_type_id") == NULL)
        json_object_set(doc, "driver_node_type_id", json_object_get(doc, "node_type_id"));
    if (json_object_get(doc, "autotermination_minutes") == NULL)
        json_object_set_new(doc, "autotermination_minutes", json_integer(120));
    json_object_set_new(doc, "spec", spec);
}

int
dbx_new_id(char *out, size_t cap)
{
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    uint8_t r[8];
    char tail[9];
    time_t now = time(NULL);
    struct tm tm;
    int rc;

    if ((rc = scc_rand_bytes(r, sizeof(r))) < 0)
        return rc;
    for (size_t i = 0; i < 8; i++)
        tail[i] = alnum[r[i] % 36];
    tail[8] = '\0';
    gmtime_r(&now, &tm);
    snprintf(out, cap, "%02d%02d-%02d%02d%02d-%s", tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
             tm.tm_sec, tail);
    return 0;
}

int
dbx_cluster_new(struct dbx *d, const struct dbx_ws *ws, const json_t *spec, const char *user,
                const char *source, char *id, size_t cap)
{
    size_t n = 0;
    json_t *doc;

    n = dbx_count(d, ws->id, DBX_CLUSTER);
    if (n >= DBX_CLUSTERS_MAX)
        return SCC_EBUSY;
    if (dbx_new_id(id, cap) < 0 || (doc = json_object()) == NULL)
        return SCC_ENOMEM;
    json_object_set_new(doc, "cluster_id", json_string(id));
    apply_spec(d, ws->id, doc, spec);
    json_object_set_new(doc, "creator_user_name", json_string(user));
    json_object_set_new(doc, "cluster_source", json_string(source));
    json_object_set_new(doc, "jdbc_port", json_integer(10000));
    json_object_set_new(doc, "spark_context_id", json_integer(0));
    json_object_set_new(doc, "default_tags",
                        json_pack("{s:s, s:s, s:s, s:s}", "Vendor", "Databricks", "Creator", user,
                                  "ClusterName",
                                  dbx_str(doc, "cluster_name") ? dbx_str(doc, "cluster_name") : "",
                                  "ClusterId", id));
    json_object_set_new(dbx_priv(doc), "ws_rid", json_string(ws->rid));
    begin(doc, "Finding instances for new nodes");
    event(doc, "CREATING", json_pack("{s:s}", "user", user));
    dbx_put(d, ws->id, DBX_CLUSTER, id, doc);
    return 0;
}

void
dbx_cluster_end(struct dbx *d, const char *ws, const char *id, const char *code)
{
    json_t *doc = dbx_get(d, ws, DBX_CLUSTER, id);
    const char *st = doc ? state_of(doc) : "TERMINATED";

    if (strcmp(st, "TERMINATED") != 0 && strcmp(st, "TERMINATING") != 0)
        terminate(d, ws, id, doc, code, "SUCCESS", NULL);
}

struct token_scan {
    const char *tok, *hit;
};

static void
token_one(struct dbx *d, const char *id, json_t *doc, void *arg)
{
    struct token_scan *t = arg;
    const char *tok = dbx_str(dbx_priv(doc), "idempotency_token");

    (void)d;
    if (tok && strcmp(tok, t->tok) == 0 && dbx_cluster_visible(doc) &&
        strcmp(state_of(doc), "TERMINATED") != 0)
        t->hit = id;
}

static void
create(struct dbx_req *q)
{
    const json_t *tok = json_object_get(q->body, "idempotency_token");
    struct token_scan t = {.tok = json_string_value(tok)};
    char id[32];
    int rc;

    if (tok && !json_is_null(tok) && (!json_is_string(tok) || json_string_length(tok) > 64)) {
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE",
                  "idempotency_token must be a string of at most 64 characters");
        return;
    }
    if (!spec_ok(q, q->body))
        return;
    if (t.tok) /* a cluster of this token not terminated: it is the answer */
        dbx_each(q->d, q->ws.id, DBX_CLUSTER, token_one, &t);
    if (t.hit) {
        dbx_reply(q, 200, json_pack("{s:s}", "cluster_id", t.hit));
        return;
    }
    if ((rc = dbx_cluster_new(q->d, &q->ws, q->body, q->user, "API", id, sizeof(id))) == 0) {
        if (t.tok) {
            json_object_set_new(dbx_priv(dbx_get(q->d, q->ws.id, DBX_CLUSTER, id)),
                                "idempotency_token", json_string(t.tok));
            dbx_save(q->d, q->ws.id, DBX_CLUSTER, id);
        }
        dbx_reply(q, 200, json_pack("{s:s}", "cluster_id", id));
    } else if (rc == SCC_EBUSY)
        dbx_error(q, 400, "QUOTA_EXCEEDED", "The workspace has %d clusters, the most it may have",
                  DBX_CLUSTERS_MAX);
    else
        dbx_error(q, 500, "INTERNAL_ERROR", "out of memory");
}

/* The cluster named by cluster_id, or NULL after answering 400. */
static json_t *
find(struct dbx_req *q, char *id, size_t cap)
{
    json_t *doc;

    if (!dbx_param_id(q, "cluster_id", id, cap))
        return NULL;
    if (!dbx_cluster_visible(doc = dbx_get(q->d, q->ws.id, DBX_CLUSTER, id))) {
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE", "Cluster %s does not exist", id);
        return NULL;
    }
    return doc;
}

static void
wrong_state(struct dbx_req *q, const char *id, json_t *doc)
{
    char t[32];

    title(state_of(doc), t, sizeof(t));
    dbx_error(q, 400, "INVALID_STATE", "Cluster %s is in unexpected state %s.", id, t);
}

static void
start(struct dbx_req *q, json_t *doc, const char *id)
{
    if (strcmp(state_of(doc), "TERMINATED") != 0) {
        wrong_state(q, id, doc);
        return;
    }
    begin(doc, "Starting the cluster");
    event(doc, "STARTING", json_pack("{s:s}", "user", q->user));
    dbx_save(q->d, q->ws.id, DBX_CLUSTER, id);
    dbx_reply(q, 200, NULL);
}

static void
stop(struct dbx_req *q, json_t *doc, const char *id, bool permanent)
{
    const char *st = state_of(doc);

    if (permanent)
        json_object_set_new(dbx_priv(doc), "permanent", json_true());
    if (strcmp(st, "TERMINATED") == 0 && permanent)
        dbx_del(q->d, q->ws.id, DBX_CLUSTER, id);
    else if (strcmp(st, "TERMINATED") != 0 && strcmp(st, "TERMINATING") != 0)
        terminate(q->d, q->ws.id, id, doc, "USER_REQUEST", "SUCCESS",
                  json_pack("{s:s}", "username", q->user));
    else
        dbx_save(q->d, q->ws.id, DBX_CLUSTER, id);
    dbx_reply(q, 200, NULL);
}

static void
restart(struct dbx_req *q, json_t *doc, const char *id)
{
    if (strcmp(state_of(doc), "RUNNING") != 0) {
        wrong_state(q, id, doc);
        return;
    }
    set_state(doc, "RESTARTING", "Restarting the driver");
    event(doc, "RESTARTING", json_pack("{s:s}", "user", q->user));
    dbx_save(q->d, q->ws.id, DBX_CLUSTER, id);
    dbx_reply(q, 200, NULL);
}

/* The node count of a spec: the driver and num_workers (autoscale:
 * min_workers). */
static size_t
size_of(const json_t *spec)
{
    const json_t *as = json_object_get(spec, "autoscale");

    return 1 + (size_t)json_integer_value(as ? json_object_get(as, "min_workers")
                                             : json_object_get(spec, "num_workers"));
}

/* A RUNNING cluster to size nodes: RESIZING, the tick does it. */
static void
begin_resize(struct dbx_req *q, json_t *doc, size_t size)
{
    json_object_set_new(dbx_priv(doc), "size", json_integer((json_int_t)size));
    set_state(doc, "RESIZING", "Resizing the cluster");
    event(doc, "RESIZING",
          json_pack("{s:I, s:s}", "target_num_workers", (json_int_t)size - 1, "user", q->user));
}

/* resize: num_workers or autoscale of a RUNNING cluster. */
static void
resize(struct dbx_req *q, json_t *doc, const char *id)
{
    json_t *nw = json_object_get(q->body, "num_workers"),
           *as = json_object_get(q->body, "autoscale");
    const char *key = nw && !json_is_null(nw) ? "num_workers" : "autoscale";
    json_t *v = json_object_get(q->body, key), *b;

    if (strcmp(state_of(doc), "RUNNING") != 0) {
        wrong_state(q, id, doc);
        return;
    }
    if (v == NULL || json_is_null(v) || (key[0] == 'n' && as && !json_is_null(as))) {
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE", "Give num_workers or autoscale");
        return;
    }
    if ((b = json_pack("{s:O, s:O}", "spark_version", json_object_get(doc, "spark_version"), key,
                       v)) == NULL) {
        dbx_error(q, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    if (spec_ok(q, b)) {
        begin_resize(q, doc, size_of(b));
        json_object_del(doc, "num_workers");
        json_object_del(doc, "autoscale");
        json_object_set(doc, key, v);
        json_object_del(json_object_get(doc, "spec"), "num_workers");
        json_object_del(json_object_get(doc, "spec"), "autoscale");
        json_object_set(json_object_get(doc, "spec"), key, v);
        dbx_save(q->d, q->ws.id, DBX_CLUSTER, id);
        dbx_reply(q, 200, NULL);
    }
    json_decref(b);
}

/* edit (spec: the body), update (spec: the old one with the fields of its
 * mask changed): a TERMINATED cluster takes the new spec; a RUNNING one
 * too, and restarts (resized first if its size changed). */
static void
edit(struct dbx_req *q, json_t *doc, const char *id, const json_t *spec)
{
    const char *st = state_of(doc);
    bool run = strcmp(st, "RUNNING") == 0;
    size_t was = size_of(doc);

    if (!run && strcmp(st, "TERMINATED") != 0) {
        wrong_state(q, id, doc);
        return;
    }
    if (!spec_ok(q, spec))
        return;
    if (run && size_of(spec) != was)
        begin_resize(q, doc, size_of(spec));
    apply_spec(q->d, q->ws.id, doc, spec);
    event(doc, "EDITED", json_pack("{s:s}", "user", q->user));
    if (run && size_of(spec) != was)
        json_object_set_new(dbx_priv(doc), "edited", json_true());
    else if (run)
        set_state(doc, "RESTARTING", "Restarting the driver with the new configuration");
    dbx_save(q->d, q->ws.id, DBX_CLUSTER, id);
    dbx_reply(q, 200, NULL);
}

/* update (2.1): cluster's fields named in update_mask (comma-separated;
 * one named but absent is removed) over the cluster's spec, then as edit. */
static void
update(struct dbx_req *q, json_t *doc, const char *id)
{
    json_t *spec = json_deep_copy(json_object_get(doc, "spec"));
    char err[300];

    if (spec == NULL)
        dbx_error(q, 500, "INTERNAL_ERROR", "out of memory");
    else if (ctl_dbx_mask_apply(spec, dbx_str(q->body, "update_mask"),
                                json_object_get(q->body, "cluster"), err, sizeof(err)) < 0)
        dbx_error(q, 400, "INVALID_PARAMETER_VALUE", "%s", err);
    else
        edit(q, doc, id, spec);
    json_decref(spec);
}

static int
newest_first(const void *a, const void *b)
{
    const char *x = dbx_str(*(json_t *const *)a, "cluster_id");
    const char *y = dbx_str(*(json_t *const *)b, "cluster_id");

    return strcmp(y ? y : "", x ? x : "");
}

/* clusters/list: one page (no next_page_token: iterators stop at its
 * absence), filter_by.cluster_states honoured. */
static void
list(struct dbx_req *q)
{
    char want[256] = "";
    json_t *out, **v;
    size_t i, n;

    (void)dbx_query(q, "filter_by.cluster_states", want, sizeof(want));
    if ((v = dbx_sorted(q->d, q->ws.id, DBX_CLUSTER, newest_first, &n)) == NULL ||
        (out = json_array()) == NULL) {
        scc_free(v);
        dbx_error(q, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    for (i = 0; i < n; i++)
        if (dbx_cluster_visible(v[i]) && (want[0] == '\0' || strstr(want, state_of(v[i]))))
            json_array_append_new(out, dbx_public(v[i]));
    scc_free(v);
    dbx_reply(q, 200,
              json_array_size(out) ? json_pack("{s:o}", "clusters", out)
                                   : (json_decref(out), json_object()));
}

static void
events(struct dbx_req *q, json_t *doc)
{
    json_t *all = json_object_get(dbx_priv(doc), "events"), *out = json_array(), *e;
    json_int_t lim = json_integer_value(json_object_get(q->body, "limit"));
    json_int_t off = json_integer_value(json_object_get(q->body, "offset"));
    bool asc = dbx_str(q->body, "order") && strcmp(dbx_str(q->body, "order"), "ASC") == 0;
    size_t n = json_array_size(all);

    if (lim <= 0 || lim > 500)
        lim = 50;
    for (json_int_t i = off; i >= 0 && i < (json_int_t)n && i < off + lim; i++) {
        e = json_array_get(all, asc ? (size_t)i : n - 1 - (size_t)i);
        json_array_append(out, e);
    }
    /* next_page only when there is more: clients follow it blindly. */
    dbx_reply(q, 200,
              off + lim < (json_int_t)n
                      ? json_pack("{s:o, s:I, s:{s:O, s:I, s:I, s:s}}", "events", out,
                                  "total_count", (json_int_t)n, "next_page", "cluster_id",
                                  json_object_get(doc, "cluster_id"), "offset", off + lim, "limit",
                                  lim, "order", asc ? "ASC" : "DESC")
                      : json_pack("{s:o, s:I}", "events", out, "total_count", (json_int_t)n));
}

static void
catalogue(struct dbx_req *q)
{
    json_t *a = json_array();

    if (strcmp(q->op, "spark-versions") == 0) {
        for (size_t i = 0; i < ctl_dbx_nversions; i++)
            json_array_append_new(a, json_pack("{s:s, s:s}", "key", ctl_dbx_versions[i].key, "name",
                                               ctl_dbx_versions[i].name));
        dbx_reply(q, 200, json_pack("{s:o}", "versions", a));
        return;
    }
    for (size_t i = 0; i < ctl_dbx_node_ntypes; i++) {
        const struct ctl_dbx_node_type *t = &ctl_dbx_node_types[i];

        json_array_append_new(a, json_pack("{s:s, s:s, s:i, s:i, s:s, s:s, s:b, s:b, s:b, s:{s:s}}",
                                           "node_type_id", t->id, "instance_type_id", t->id,
                                           "memory_mb", t->memory_mb, "num_cores", t->cores,
                                           "description", t->id, "category", "General Purpose",
                                           "is_deprecated", 0, "photon_worker_capable", 0,
                                           "support_port_forwarding", 1, "node_instance_type",
                                           "instance_type_id", t->id));
    }
    dbx_reply(q, 200, json_pack("{s:o}", "node_types", a));
}

void
dbx_clusters_route(struct dbx_req *q)
{
    bool get = strcmp(q->method, "GET") == 0, post = strcmp(q->method, "POST") == 0;
    const char *op = q->op;
    char id[64];
    json_t *doc;

    if (get && (strcmp(op, "spark-versions") == 0 || strcmp(op, "list-node-types") == 0))
        catalogue(q);
    else if (get && strcmp(op, "list-zones") == 0)
        dbx_reply(q, 200, json_pack("{s:[sss], s:s}", "zones", "1", "2", "3", "default_zone", "1"));
    else if (get && strcmp(op, "list") == 0)
        list(q);
    else if (post && strcmp(op, "create") == 0)
        create(q);
    else if (!(get && strcmp(op, "get") == 0) &&
             !(post &&
               (strcmp(op, "start") == 0 || strcmp(op, "delete") == 0 ||
                strcmp(op, "permanent-delete") == 0 || strcmp(op, "restart") == 0 ||
                strcmp(op, "edit") == 0 || strcmp(op, "update") == 0 || strcmp(op, "events") == 0 ||
                strcmp(op, "resize") == 0 || strcmp(op, "pin") == 0 || strcmp(op, "unpin") == 0)))
        dbx_error(q, 404, "ENDPOINT_NOT_FOUND", "No API found for '%s /clusters/%s'", q->method,
                  op);
    else if ((doc = find(q, id, sizeof(id))) == NULL)
        return;
    else if (strcmp(op, "get") == 0)
        dbx_reply(q, 200, dbx_public(doc));
    else if (strcmp(op, "start") == 0)
        start(q, doc, id);
    else if (strcmp(op, "delete") == 0 || strcmp(op, "permanent-delete") == 0)
        stop(q, doc, id, op[0] == 'p');
    else if (strcmp(op, "restart") == 0)
        restart(q, doc, id);
    else if (strcmp(op, "edit") == 0)
        edit(q, doc, id, q->body);
    else if (strcmp(op, "update") == 0)
        update(q, doc, id);
    else if (strcmp(op, "events") == 0)
        events(q, doc);
    else if (strcmp(op, "resize") == 0)
        resize(q, doc, id);
    else
        dbx_reply(q, 200, NULL); /* pin, unpin: nothing to keep */
}
