/*
 * ctl_arm_deploy.h - template deployments: Microsoft.Resources/deployments
 * at resource-group scope (arm-compat.md §3.2, docs/templates.md).
 *
 *   ctl_arm_deploy.c       the routes: PUT (pre-flight, then a long-running
 *                          deployment), GET, HEAD, DELETE, list, validate,
 *                          cancel, exportTemplate, operations, status
 *   ctl_arm_deploy_run.c   running one: resources in dependency order, each
 *                          PUT through ctl_arm_request with the deployer's
 *                          principal, exactly as a direct API call, then
 *                          waiting on the resource's own operation; outputs;
 *                          resuming after a restart
 *   ctl_arm_deploy_doc.c   pure: request parsing, pre-flight, documents
 *   ctl_store_deploy.c     the rows
 *
 * Shared by ctl_arm*.c only.  Threads: the loop, except where a function
 * says "worker".
 */
#ifndef SCC_CONTROL_CTL_ARM_DEPLOY_H
#define SCC_CONTROL_CTL_ARM_DEPLOY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "ctl_arm_deploy_doc.h"
#include "ctl_arm_int.h"
#include "ctl_tmpl.h"

/* arm_deploy_route - every request under .../providers/Microsoft.Resources/deployments. */
void arm_deploy_route(struct arm_call *k);

/* arm_deploy_path_alias - ARM also serves a deployment's operations at
 * /subscriptions/{s}/resourcegroups/{rg}/deployments/{name}/operations,
 * without the providers segment, and that is the path the SDKs use: true,
 * and the canonical path in out, for a path of that form. */
bool arm_deploy_path_alias(const char *path, char *out, size_t cap);

/* arm_deploy_resume - start-up, after the store is open and the resource
 * operations are resumed: run on every deployment a crash interrupted, or
 * fail it when it cannot resume (secure parameters are never stored). */
int arm_deploy_resume(struct ctl *c);

/* arm_deploy_stop - shutdown, after the ARM layer's jobs have drained:
 * drop every run (the store still says Running; the next start resumes). */
void arm_deploy_stop(struct ctl *c);

/* ---- ctl_arm_deploy_run.c ---- */

struct dep_run;

/* What a run needs to know about its deployment. */
struct dep_run_info {
    const char *id;    /* the deployment's id */
    const char *op_id; /* its operation, the last segment of the status URL */
    const char *host;  /* API authority for the resources' operation URLs */
    const struct ctl_principal *who;
    int64_t start_ms;
};

/*
 * dep_run_new - worker: a run for a deployment whose row is (being)
 * written: the template is loaded again with reference() reading the
 * store, and every instance's identity and dependencies are copied for
 * the loop.  @doc: the deployment's document, taken over.
 * Returns 0, or the template's error (err filled) or SCC_ENOMEM.
 */
int dep_run_new(struct ctl *c, const struct dep_run_info *info, const json_t *tmpl,
                const json_t *params, const struct ctl_tmpl_scope *scope, json_t *doc,
                struct dep_run **out, struct ctl_tmpl_error *err);

/* dep_run_restore - worker: the states a previous run recorded (resume). */
int dep_run_restore(struct dep_run *r, struct ctl_store *st);

/* dep_run_start - loop: register the run and start deploying. */
void dep_run_start(struct dep_run *r);

/* dep_run_free - a run that was never started (NULL-safe). */
void dep_run_free(struct dep_run *r);

/* dep_run_cancel - loop: stop starting resources in deployment id; true
 * if it was running here. */
bool dep_run_cancel(struct ctl *c, const char *id);

/* dep_run_stop_all - loop, shutdown: free every run. */
void dep_run_stop_all(struct ctl *c);

/* The template scope of a resource group, with what its strings point into. */
struct dep_scope {
    struct ctl_arm_row rg; /* the group's row: stored name casing, body */
    json_t *rg_body;
    json_t *sub_body;
    struct ctl_tmpl_scope scope; /* reference() not set */
};

/* dep_scope_load - worker: the scope of deployment dep_name in group
 * rg_id (any casing).  Returns 0, SCC_ENOTFOUND (no such group), SCC_ENOMEM
 * or SCC_ESTORE; fini d either way. */
int dep_scope_load(struct ctl *c, const char *rg_id, const char *dep_name, struct dep_scope *d);
void dep_scope_fini(struct dep_scope *d);

#endif /* SCC_CONTROL_CTL_ARM_DEPLOY_H */
