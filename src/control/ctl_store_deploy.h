/*
 * ctl_store_deploy.h - template deployments in the state store (schema:
 * migration 3 in ctl_store.c): one row per deployment and one per
 * resource operation of a deployment.
 *
 * A deployment row keeps what a GET returns (body) and what a restart
 * needs to resume the deployment: the template as submitted, its
 * parameters without the values of secure ones, the names of the secure
 * parameters that were given values (a deployment with any cannot be
 * resumed, since their values are never stored), and the run data (who
 * deployed, the API authority).  Deleting a resource group row deletes its
 * deployments (a trigger), so they never outlive the group.
 *
 * Ids are matched case-insensitively and stored with their first casing.
 * Worker thread only, inside or outside a transaction; nothing here logs.
 * Returns 0, SCC_ENOTFOUND (a get found nothing), SCC_ENOMEM, or
 * SCC_ESTORE with the reason in ctl_store_errmsg().
 */
#ifndef SCC_CONTROL_CTL_STORE_DEPLOY_H
#define SCC_CONTROL_CTL_STORE_DEPLOY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl_store.h"

struct ctl_deploy_row {
    char *id;    /* canonical casing */
    char *sub;   /* lowercase */
    char *rg_id; /* the resource group's id */
    char *name;  /* last segment of id */
    char op_id[40];
    char state[16]; /* provisioningState: Accepted, Running, Succeeded, Failed, Canceled */
    char *body;     /* the JSON a GET returns */
    char *tmpl;     /* the template as submitted (NULL unless asked for) */
    char *params;   /* the parameters without secure values, or NULL */
    char *secure;   /* JSON array: secure parameters that were given values */
    char *run;      /* JSON: who deployed, the API authority */
    int64_t created_ms, updated_ms;
};

void ctl_deploy_row_fini(struct ctl_deploy_row *r);

/* ctl_store_deploy_put - insert or replace the whole row of r->id; the
 * operations of a replaced deployment are dropped. */
int ctl_store_deploy_put(struct ctl_store *st, const struct ctl_deploy_row *r);
/* ctl_store_deploy_update - a new state and body for deployment id while
 * it is still the run op_id and still Accepted or Running; SCC_ENOTFOUND
 * when it is not (canceled, replaced, or gone with its resource group). */
int ctl_store_deploy_update(struct ctl_store *st, const char *id, const char *op_id,
                            const char *state, const char *body, int64_t now_ms);
/* ctl_store_deploy_get - the row of id; with_run also fills tmpl, params,
 * secure and run (they can be large). */
int ctl_store_deploy_get(struct ctl_store *st, const char *id, bool with_run,
                         struct ctl_deploy_row *out);
/* ctl_store_deploy_del - remove id and its operations (absent: 0). */
int ctl_store_deploy_del(struct ctl_store *st, const char *id);

typedef int (*ctl_deploy_row_cb)(const struct ctl_deploy_row *r, void *arg);

/* ctl_store_deploy_each - the deployments of a resource group, oldest
 * first (body only); a non-zero return of fn stops the walk and is
 * returned. */
int ctl_store_deploy_each(struct ctl_store *st, const char *rg_id, ctl_deploy_row_cb fn, void *arg);
/* ctl_store_deploy_each_active - every Accepted or Running deployment,
 * with its run data (restart). */
int ctl_store_deploy_each_active(struct ctl_store *st, ctl_deploy_row_cb fn, void *arg);
/* ctl_store_deploy_prune - delete the oldest finished deployments of
 * rg_id until at most keep remain. */
int ctl_store_deploy_prune(struct ctl_store *st, const char *rg_id, int keep);

/* One resource operation of a deployment. */
struct ctl_deploy_op_row {
    int idx;        /* the resource instance */
    char op_id[40]; /* the last segment of the operation's id */
    char state[16]; /* Running, Succeeded, Failed */
    char *poll;     /* the resource's own operation URL (path?query) while it runs */
    char *body;     /* the JSON the operations list shows */
};

void ctl_deploy_op_row_fini(struct ctl_deploy_op_row *r);

/* ctl_store_deploy_op_put - insert or replace operation r of deployment
 * dep_id, only while dep_id is still the run dep_op_id (otherwise 0 and
 * nothing written: a canceled run's late outcome never lands in a newer
 * deployment of the same name). */
int ctl_store_deploy_op_put(struct ctl_store *st, const char *dep_id, const char *dep_op_id,
                            const struct ctl_deploy_op_row *r);
typedef int (*ctl_deploy_op_cb)(const struct ctl_deploy_op_row *r, void *arg);
/* ctl_store_deploy_op_each - the operations of dep_id by instance index. */
int ctl_store_deploy_op_each(struct ctl_store *st, const char *dep_id, ctl_deploy_op_cb fn,
                             void *arg);

#endif /* SCC_CONTROL_CTL_STORE_DEPLOY_H */
