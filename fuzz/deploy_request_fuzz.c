/*
 * Fuzz the deployment API's request handling short of the store: the
 * request path alias, the body of a deployment PUT or validate
 * (ctl_deploy_req_parse), and everything pre-flight does with it -- the
 * template loaded and checked, every resource and output evaluated, the
 * summary, the deployment document and the split of what may be stored.
 * The input is a deployment body as a client sends it; its first line is
 * also tried as a request path.
 */
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "common/json.h"
#include "control/ctl_arm_deploy.h"
#include "control/ctl_arm_deploy_doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
path_alias(const uint8_t *data, size_t size)
{
    char path[512], out[CTL_ARM_PATH_MAX];
    size_t n = 0;

    while (n < size && n + 1 < sizeof(path) && data[n] != '\n' && data[n] != '\0')
        n++;
    memcpy(path, data, n);
    path[n] = '\0';
    if (arm_deploy_path_alias(path, out, sizeof(out)) && strstr(out, "/providers/") == NULL)
        __builtin_trap();
}

static void
documents(const struct ctl_deploy_req *req, const json_t *summary)
{
    json_t *doc, *stored = NULL, *secure = NULL;

    doc = ctl_deploy_doc_new("/subscriptions/s/resourceGroups/rg1/providers/"
                             "Microsoft.Resources/deployments/d",
                             summary, req->tags, "00000000-0000-0000-0000-000000000000", 0, false);
    if (doc != NULL)
        ctl_deploy_doc_finish(doc, "Succeeded", 0, 1234, NULL);
    if (ctl_deploy_params_split(req->params, json_object_get(summary, "parameters"), &stored,
                                &secure) == 0 &&
        json_object_size(stored) + json_array_size(secure) != json_object_size(req->params))
        __builtin_trap(); /* every supplied parameter is kept or named secure */
    json_decref(doc);
    json_decref(stored);
    json_decref(secure);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ctl_tmpl_scope scope = {
            .subscription_id = "11111111-1111-1111-1111-111111111111",
            .tenant_id = "22222222-2222-2222-2222-222222222222",
            .rg_name = "rg1",
            .rg_location = "eastus",
            .deployment_name = "fuzz",
    };
    struct ctl_deploy_req req;
    struct ctl_tmpl_error err;
    json_t *body = NULL, *summary = NULL;
    int rc;

    path_alias(data, size);
    if (scc_json_parse_object(data, size, 1u << 20, &body, NULL, 0) != 0)
        return 0;
    rc = ctl_deploy_req_parse(body, &req, &err);
    if (rc < 0 && err.code[0] == '\0')
        __builtin_trap();
    if (rc == 0) {
        rc = ctl_deploy_preflight(req.tmpl, req.params, &scope, &summary, &err);
        if ((rc == 0) != (summary != NULL) || (rc < 0 && err.code[0] == '\0'))
            __builtin_trap();
        if (rc == 0)
            documents(&req, summary);
    }
    json_decref(summary);
    json_decref(body);
    return 0;
}
