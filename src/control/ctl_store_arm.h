/*
 * ctl_store_arm.h - the ARM layer's part of the state store: subscriptions,
 * resource groups and resources (one row each, the rendered JSON body
 * kept whole), provider registrations, references between resources,
 * allocated addresses, long-running operations and the running-compute
 * counters the SCC upgrade checks.
 *
 * Ids are ARM resource ids.  They are matched case-insensitively (ARM
 * semantics) and stored with the casing of their first creation.  Every
 * function runs on sccd's worker thread, inside or outside a transaction
 * (ctl_store_begin/commit); none of them logs.  Like ctl_store.h, this
 * header is the whole interface, so a PostgreSQL backend can implement
 * it later.
 *
 * Returns: 0, SCC_ENOTFOUND (a get found nothing), SCC_ENOMEM, or
 * SCC_ESTORE with the reason in ctl_store_errmsg().
 */
#ifndef SCC_CONTROL_CTL_STORE_ARM_H
#define SCC_CONTROL_CTL_STORE_ARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl_store.h"

/* One resource (a subscription and a resource group are resources too). */
struct ctl_arm_row {
    char *id;        /* canonical casing */
    char *sub;       /* subscription GUID, lowercase */
    char *rg;        /* resource group name, or NULL for a subscription or a group itself */
    char *type;      /* "Microsoft.Network/virtualNetworks" */
    char *name;      /* last segment of id */
    char *locked_by; /* resource groups: the workspace whose deny assignment guards it */
    char *body;      /* the JSON a GET returns */
    int64_t created_ms, updated_ms;
};

/* ctl_arm_row_fini - free the strings of a row filled by the store. */
void ctl_arm_row_fini(struct ctl_arm_row *r);

/* Which rows ctl_store_arm_res_each visits: NULL members match anything.
 * rg matches the rows *inside* that group, not the group's own row. */
struct ctl_arm_filter {
    const char *sub;
    const char *rg;
    const char *type;
};

/* ctl_arm_row_cb - called per row (borrowed, valid during the call);
 * a non-zero return stops the walk and is returned. */
typedef int (*ctl_arm_row_cb)(const struct ctl_arm_row *r, void *arg);

/* ctl_store_arm_res_put - insert or replace the row of r->id (created_ms
 * of an existing row is kept). */
int ctl_store_arm_res_put(struct ctl_store *st, const struct ctl_arm_row *r);
/* ctl_store_arm_res_get - the row of id into out (owned strings). */
int ctl_store_arm_res_get(struct ctl_store *st, const char *id, struct ctl_arm_row *out);
/* ctl_store_arm_res_del - remove the row of id (absent is not an error). */
int ctl_store_arm_res_del(struct ctl_store *st, const char *id);
/* ctl_store_arm_res_each - rows matching f, ordered by name. */
int ctl_store_arm_res_each(struct ctl_store *st, const struct ctl_arm_filter *f, ctl_arm_row_cb fn,
                           void *arg);

/* ---- provider registration per subscription ---- */

/* ctl_store_arm_provider_get - "Registered", "NotRegistered", ... into
 * state (cap bytes); SCC_ENOTFOUND if never set. */
int ctl_store_arm_provider_get(struct ctl_store *st, const char *sub, const char *ns, char *state,
                               size_t cap);
int ctl_store_arm_provider_set(struct ctl_store *st, const char *sub, const char *ns,
                               const char *state);

/* ---- references between resources ----
 * A reference says that src (a resource or a child such as a subnet)
 * points at dst, with a kind ("subnet.nsg", "ws.subnet", ...).  Refs are
 * grouped by owner, the top-level resource whose body holds them, and are
 * replaced as a whole when the owner is written. */

typedef int (*ctl_arm_ref_cb)(const char *owner, const char *kind, const char *src, const char *dst,
                              void *arg);

int ctl_store_arm_ref_add(struct ctl_store *st, const char *owner, const char *kind,
                          const char *src, const char *dst);
/* ctl_store_arm_ref_del_owner - drop every ref held by owner. */
int ctl_store_arm_ref_del_owner(struct ctl_store *st, const char *owner);
/* ctl_store_arm_ref_each_owner - refs held by owner (kind NULL: any kind). */
int ctl_store_arm_ref_each_owner(struct ctl_store *st, const char *owner, const char *kind,
                                 ctl_arm_ref_cb fn, void *arg);
/* ctl_store_arm_ref_each_to - refs pointing at dst, or (prefix true) at
 * dst or anything under it, of kind (NULL: any). */
int ctl_store_arm_ref_each_to(struct ctl_store *st, const char *dst, bool prefix, const char *kind,
                              ctl_arm_ref_cb fn, void *arg);

/* ---- allocated addresses ----
 * pool is "public" for public IPs, or a subnet id for private ones. */

int ctl_store_arm_ip_add(struct ctl_store *st, const char *pool, const char *ip, const char *owner);
/* ctl_store_arm_ip_owner - who holds ip in pool (SCC_ENOTFOUND: free). */
int ctl_store_arm_ip_owner(struct ctl_store *st, const char *pool, const char *ip, char *owner,
                           size_t cap);
/* ctl_store_arm_ip_get - the address owner holds in pool. */
int ctl_store_arm_ip_get(struct ctl_store *st, const char *pool, const char *owner, char *ip,
                         size_t cap);
/* ctl_store_arm_ip_del_owner - release everything owner holds (any pool
 * when pool is NULL). */
int ctl_store_arm_ip_del_owner(struct ctl_store *st, const char *pool, const char *owner);

/* ---- long-running operations ---- */

struct ctl_arm_op {
    char id[40];       /* GUID, the last segment of its status URL */
    char sub[40];      /* lowercase */
    char ns[64];       /* "Microsoft.Databricks", "Microsoft.Network", "Microsoft.Resources" */
    char location[64]; /* as in the status URL */
    char kind[32];     /* "ws.put", "ws.delete", "rg.delete", "net.put", ... */
    char status[16];   /* "InProgress", "Succeeded", "Failed", "Canceled" */
    int step;          /* next step to run; steps commit with their increment */
    char error_code[64];
    char *error_message; /* owned, may be NULL */
    char *resource_id;   /* owned */
    char *payload;       /* owned JSON text, may be NULL */
    int64_t start_ms, end_ms;
};

void ctl_arm_op_fini(struct ctl_arm_op *op);

int ctl_store_arm_op_put(struct ctl_store *st, const struct ctl_arm_op *op);
int ctl_store_arm_op_get(struct ctl_store *st, const char *id, struct ctl_arm_op *out);
/* ctl_store_arm_op_each_active - every op still InProgress (restart). */
int ctl_store_arm_op_each_active(struct ctl_store *st,
                                 int (*fn)(const struct ctl_arm_op *op, void *arg), void *arg);
/* ctl_store_arm_op_active_for - the InProgress op on resource_id, if any:
 * its id into op_id (SCC_ENOTFOUND: none). */
int ctl_store_arm_op_active_for(struct ctl_store *st, const char *resource_id, char *op_id,
                                size_t cap);

/* ---- compute that blocks an SCC upgrade ----
 * Clusters, pools and warehouses of a workspace that are running.  Until
 * the compute issues land, an operator route sets these counters. */

struct ctl_arm_compute {
    int64_t clusters, pools, warehouses;
};

int ctl_store_arm_compute_get(struct ctl_store *st, const char *ws_id, struct ctl_arm_compute *out);
int ctl_store_arm_compute_set(struct ctl_store *st, const char *ws_id,
                              const struct ctl_arm_compute *in);

/* ---- API tokens (the rows of ctl_store.h's api_tokens) ---- */

int ctl_store_arm_api_token_each(struct ctl_store *st,
                                 int (*fn)(const struct ctl_api_token *t, void *arg), void *arg);
/* ctl_store_arm_api_token_revoke - SCC_ENOTFOUND if no live token has id. */
int ctl_store_arm_api_token_revoke(struct ctl_store *st, const char *id, int64_t now_ms);

#endif /* SCC_CONTROL_CTL_STORE_ARM_H */
