/*
 * ctl_arm_deploy_doc.h - the pure half of template deployments
 * (Microsoft.Resources/deployments): the request body, pre-flight
 * validation, and the JSON documents the API returns (arm-compat.md §3.2).
 * No I/O, no store, no event loop: the deployment API (ctl_arm_deploy*.c)
 * drives it, and fuzz/deploy_request_fuzz.c feeds it untrusted bodies.
 *
 * Errors are reported in ARM's terms through struct ctl_tmpl_error (code,
 * message, target).  Functions returning int give 0 or a negative SCC_E*;
 * functions returning json_t * give an owned value or NULL when out of
 * memory.  Any thread.
 */
#ifndef SCC_CONTROL_CTL_ARM_DEPLOY_DOC_H
#define SCC_CONTROL_CTL_ARM_DEPLOY_DOC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "ctl_tmpl.h"

#define CTL_DEPLOY_NAME_MAX 64  /* ARM's limit on a deployment name */
#define CTL_DEPLOY_KEEP     800 /* deployments kept per resource group, as in ARM */

/* A deployment PUT or validate body, parsed; every pointer borrows from it. */
struct ctl_deploy_req {
    const json_t *tmpl;   /* properties.template, an object */
    const json_t *params; /* properties.parameters, an object, or NULL */
    const json_t *tags;   /* tags, or NULL */
};

/*
 * ctl_deploy_name_check - 1 to 64 characters of letters, digits, '-',
 * '_', '.', '(' and ')' (ARM's rule).  Returns 0, or SCC_EINVAL with
 * DeploymentNameLengthLimitExceeded or DeploymentNameInvalidCharacters.
 */
int ctl_deploy_name_check(const char *name, struct ctl_tmpl_error *err);

/*
 * ctl_deploy_req_parse - check the shape of a deployment body: properties
 * with mode "Incremental" (any casing) and an inline template; parameters
 * an object if present; tags an object of strings.  Complete mode,
 * templateLink, parametersLink and onErrorDeployment are refused.
 * @body: borrowed, may be NULL (no body).
 * Returns 0, or SCC_EINVAL with InvalidRequestContent (malformed) or
 * InvalidTemplateDeployment (valid but unsupported).
 */
int ctl_deploy_req_parse(const json_t *body, struct ctl_deploy_req *out,
                         struct ctl_tmpl_error *err);

/*
 * ctl_deploy_preflight - everything about a deployment that needs no
 * deployed state: the template loads (structure, expression syntax,
 * functions, parameters), resources have an order (no cycles, every
 * dependency exists), every resource and output evaluates (those that
 * need reference() are left to the deployment itself) and every resource
 * has a well-formed api-version.
 * @scope: its reference callback is ignored.
 * @summary: receives {"templateHash", "parameters" (echoed, secure values
 * left out), "providers", "dependencies", "validatedResources"}.
 * Returns 0 or the error of ctl_tmpl_load and friends.
 */
int ctl_deploy_preflight(const json_t *tmpl, const json_t *params,
                         const struct ctl_tmpl_scope *scope, json_t **summary,
                         struct ctl_tmpl_error *err);

/*
 * ctl_deploy_params_split - what may be stored of the supplied parameters:
 * entries of parameters that @echo (ctl_tmpl_parameters_echo) types as
 * secure are left out.  @stored receives the rest (NULL when params is
 * NULL); @secure receives the names of the secure parameters given values.
 * Returns 0 or SCC_ENOMEM.
 */
int ctl_deploy_params_split(const json_t *params, const json_t *echo, json_t **stored,
                            json_t **secure);

/*
 * ctl_deploy_doc_new - a DeploymentExtended in provisioningState
 * "Accepted": id, name, type, tags, and properties from summary (borrowed)
 * plus mode, timestamp, duration, correlationId and outputResources.
 * validated true gives the DeploymentValidateResult shape instead
 * (provisioningState "Succeeded", validatedResources kept).
 */
json_t *ctl_deploy_doc_new(const char *id, const json_t *summary, const json_t *tags,
                           const char *correlation_id, int64_t now_ms, bool validated);

/*
 * ctl_deploy_doc_finish - set provisioningState, timestamp and duration
 * (from the doc's start, start_ms) and, when error is not NULL, the error
 * (borrowed).
 */
void ctl_deploy_doc_finish(json_t *doc, const char *state, int64_t start_ms, int64_t now_ms,
                           const json_t *error);

/*
 * ctl_deploy_op_new - a DeploymentOperation for one resource, Running:
 * @inst: the instance as ctl_tmpl_resource_eval gives it (type, name, id,
 * apiVersion).
 */
json_t *ctl_deploy_op_new(const char *dep_id, const char *op_id, const json_t *inst,
                          int64_t now_ms);

/*
 * ctl_deploy_op_set - the outcome of an operation: provisioningState,
 * timestamp, duration since start_ms, statusCode (the HTTP status's name)
 * and statusMessage ({"status", "error"?}; error borrowed).
 */
void ctl_deploy_op_set(json_t *op, const char *state, int http_status, const json_t *error,
                       int64_t start_ms, int64_t now_ms);

/* ctl_deploy_error - {"code", "message", "target"?}; target may be NULL. */
json_t *ctl_deploy_error(const char *code, const char *message, const char *target);

/*
 * ctl_deploy_failed - ARM's DeploymentFailed error over details (an array
 * of errors whose target names the failed resource; borrowed); the message
 * names the failed resources.
 */
json_t *ctl_deploy_failed(const json_t *details);

/* ctl_deploy_duration - ISO 8601 "PT1.234S" of ms into out. */
void ctl_deploy_duration(int64_t ms, char out[32]);

#endif /* SCC_CONTROL_CTL_ARM_DEPLOY_DOC_H */
