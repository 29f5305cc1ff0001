/*
 * ctl_arm_deploy_doc.c - deployment request bodies, pre-flight, and the
 * documents of the deployment API, in the shapes of arm-compat.md §3.2.
 *
 * Pre-flight is what lets a bad template be answered with a synchronous
 * 400 and nothing deployed: every check that does not need deployed state
 * runs here, on a template loaded without a reference() callback, so a
 * resource body that calls reference() is the only thing left unchecked
 * until the deployment reaches it.
 */
#include "ctl_arm_deploy_doc.h"

#include "ctl_arm_id.h"

#include "common/err.h"
#include "common/json.h"
#include "common/mem.h"
#include "common/time.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define TAGS_MAX 50

static int __attribute__((format(printf, 4, 5)))
fail(struct ctl_tmpl_error *err, const char *code, const char *target, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return SCC_EINVAL;
    memset(err, 0, sizeof(*err));
    snprintf(err->code, sizeof(err->code), "%s", code);
    snprintf(err->target, sizeof(err->target), "%s", target ? target : "");
    va_start(ap, fmt);
    (void)vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return SCC_EINVAL;
}

static int
oom(struct ctl_tmpl_error *err)
{
    (void)fail(err, "InternalServerError", NULL, "The control plane is out of memory.");
    return SCC_ENOMEM;
}

int
ctl_deploy_name_check(const char *name, struct ctl_tmpl_error *err)
{
    size_t n = strlen(name);

    if (n == 0 || n > CTL_DEPLOY_NAME_MAX)
        return fail(err, "DeploymentNameLengthLimitExceeded", NULL,
                    "The provided deployment name '%.80s' has a length of '%zu' which exceeds the "
                    "maximum length of '%d'. Please see https://aka.ms/arm-deploy for usage "
                    "details.",
                    name, n, CTL_DEPLOY_NAME_MAX);
    for (const char *p = name; *p; p++) {
        if (!isalnum((unsigned char)*p) && strchr("-_.()", *p) == NULL)
            return fail(err, "DeploymentNameInvalidCharacters", NULL,
                        "The provided deployment name '%s' has these invalid characters: '%c'. "
                        "The name can only be a letter, digit, '-', '.', '_', '(' or ')'. Please "
                        "see https://aka.ms/arm-deploy for usage details.",
                        name, *p);
    }
    return 0;
}

/* ---- the request body ---- */

static int
bad_content(struct ctl_tmpl_error *err, const char *target, const char *why)
{
    return fail(err, "InvalidRequestContent", target,
                "The request content was invalid and could not be deserialized: '%s'.", why);
}

static int
unsupported(struct ctl_tmpl_error *err, const char *target, const char *what)
{
    return fail(err, "InvalidTemplateDeployment", target,
                "The template deployment is not valid: %s is not supported by this control "
                "plane.",
                what);
}

static int
check_mode(const json_t *props, struct ctl_tmpl_error *err)
{
    const json_t *mode = scc_json_iget(props, "mode");
    const char *m = json_string_value(mode);

    if (mode == NULL || json_is_null(mode))
        return bad_content(err, "properties.mode", "Required property 'mode' not found in JSON");
    if (m == NULL)
        return bad_content(err, "properties.mode", "The property 'mode' must be a string");
    if (strcasecmp(m, "Incremental") == 0)
        return 0;
    if (strcasecmp(m, "Complete") == 0)
        return fail(err, "InvalidTemplateDeployment", "properties.mode",
                    "The deployment mode 'Complete' is not supported by this control plane: "
                    "only 'Incremental' deployments are, which create or update the template's "
                    "resources and leave the other resources of the resource group alone. Deploy "
                    "with mode 'Incremental' and delete unwanted resources explicitly.");
    return bad_content(err, "properties.mode",
                       "Error converting value to type 'DeploymentMode': the value must be "
                       "'Incremental' or 'Complete'");
}

static bool
tags_valid(const json_t *tags)
{
    const char *k;
    json_t *v;

    if (!json_is_object(tags) || json_object_size(tags) > TAGS_MAX)
        return false;
    json_object_foreach((json_t *)tags, k, v)
    {
        if (!json_is_string(v) || strlen(k) == 0 || strlen(k) > 512 || json_string_length(v) > 256)
            return false;
    }
    return true;
}

/* Links to templates elsewhere, and rollback on error, need a fetcher and
 * a deployment history we do not have: refuse them by name. */
static int
check_unsupported(const json_t *props, struct ctl_tmpl_error *err)
{
    static const struct {
        const char *key;
        const char *what;
    } no[] = {
            {"templateLink", "'templateLink' (a template fetched from a URI or template spec); "
                             "send the template inline in 'properties.template'"},
            {"parametersLink", "'parametersLink'; send the parameters inline in "
                               "'properties.parameters'"},
            {"onErrorDeployment", "'onErrorDeployment' (redeploying an earlier deployment on "
                                  "failure)"},
    };
    const json_t *v;

    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        v = scc_json_iget(props, no[i].key);
        if (v != NULL && !json_is_null(v))
            return unsupported(err, no[i].key, no[i].what);
    }
    return 0;
}

int
ctl_deploy_req_parse(const json_t *body, struct ctl_deploy_req *out, struct ctl_tmpl_error *err)
{
    const json_t *props = scc_json_iget(body, "properties"), *v;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(props))
        return bad_content(err, "properties",
                           props ? "The property 'properties' must be an object"
                                 : "Required property 'properties' not found in JSON");
    if ((rc = check_mode(props, err)) < 0 || (rc = check_unsupported(props, err)) < 0)
        return rc;
    v = scc_json_iget(props, "template");
    if (!json_is_object(v))
        return bad_content(err, "properties.template",
                           v && !json_is_null(v)
                                   ? "The property 'template' must be a JSON object"
                                   : "Required property 'template' not found in JSON");
    out->tmpl = v;
    v = scc_json_iget(props, "parameters");
    if (v != NULL && !json_is_null(v) && !json_is_object(v))
        return bad_content(err, "properties.parameters",
                           "The property 'parameters' must be a JSON object");
    out->params = json_is_object(v) ? v : NULL;
    v = scc_json_iget(body, "tags");
    if (v != NULL && !json_is_null(v) && !tags_valid(v))
        return fail(err, "InvalidTag", "tags",
                    "The tags are invalid: at most %d name/value pairs of strings, names of 1-512 "
                    "characters, values of at most 256.",
                    TAGS_MAX);
    out->tags = json_is_object(v) ? v : NULL;
    return 0;
}

/* ---- pre-flight ---- */

struct plan {
    json_t *providers; /* namespace -> resource type -> location -> true, while building */
    json_t *deps;
    json_t *validated;
};

static int
note_provider(json_t *map, const char *type, const char *loc)
{
    const char *slash = strchr(type, '/');
    json_t *ns, *rt;
    char nsname[128];

    if (slash == NULL || (size_t)(slash - type) >= sizeof(nsname))
        return 0;
    snprintf(nsname, sizeof(nsname), "%.*s", (int)(slash - type), type);
    if ((ns = json_object_get(map, nsname)) == NULL &&
        json_object_set_new(map, nsname, ns = json_object()) != 0)
        return SCC_ENOMEM;
    if ((rt = json_object_get(ns, slash + 1)) == NULL &&
        json_object_set_new(ns, slash + 1, rt = json_object()) != 0)
        return SCC_ENOMEM;
    if (loc != NULL && *loc != '\0' && json_object_set_new(rt, loc, json_true()) != 0)
        return SCC_ENOMEM;
    return 0;
}

/* ARM's providers list: [{namespace, resourceTypes: [{resourceType, locations}]}]. */
static json_t *
providers_doc(const json_t *map)
{
    json_t *out = json_array(), *ns, *rt, *types, *locs;
    const char *nsname, *tname, *loc;
    void *unused;

    json_object_foreach((json_t *)map, nsname, ns)
    {
        types = json_array();
        json_object_foreach(ns, tname, rt)
        {
            locs = json_array();
            json_object_foreach(rt, loc, unused) json_array_append_new(locs, json_string(loc));
            json_array_append_new(
                    types, json_pack("{s:s, s:o*}", "resourceType", tname, "locations", locs));
        }
        /* append_new takes the packed value even when out is NULL or full. */
        if (json_array_append_new(out, json_pack("{s:s, s:o*}", "namespace", nsname,
                                                 "resourceTypes", types)) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static json_t *
basic_dep(const char *id, const char *type, const char *name)
{
    return json_pack("{s:s, s:s, s:s}", "id", id, "resourceType", type, "resourceName", name);
}

/* ARM's dependencies entry: {id, resourceType, resourceName, dependsOn: [...]}. */
static int
note_dependencies(struct ctl_tmpl *t, const struct ctl_tmpl_res_info *info, json_t *deps)
{
    struct ctl_tmpl_res_info d;
    json_t *entry, *on;

    if (info->ndeps == 0)
        return 0;
    if ((entry = basic_dep(info->id, info->type, info->name)) == NULL ||
        json_object_set_new(entry, "dependsOn", on = json_array()) != 0 ||
        json_array_append_new(deps, entry) != 0)
        return SCC_ENOMEM;
    for (size_t j = 0; j < info->ndeps; j++) {
        if (ctl_tmpl_resource_info(t, info->deps[j], &d, NULL) < 0 ||
            json_array_append_new(on, basic_dep(d.id, d.type, d.name)) != 0)
            return SCC_ENOMEM;
    }
    return 0;
}

static int
bad_api_version(const char *api, const struct ctl_tmpl_res_info *info, struct ctl_tmpl_error *err)
{
    return fail(err, "InvalidTemplate", "apiVersion",
                "Deployment template validation failed: 'The api-version '%.64s' of the resource "
                "'%.300s' is not valid: it must look like 'YYYY-MM-DD' with an optional suffix "
                "such as '-preview'.'.",
                api, info->id);
}

/* One instance: its body must evaluate unless it needs reference(). */
static int
preflight_one(struct ctl_tmpl *t, size_t i, struct plan *p, struct ctl_tmpl_error *err)
{
    struct ctl_tmpl_res_info info;
    const char *api, *loc;
    json_t *r = NULL, *body;
    int rc = ctl_tmpl_resource_eval(t, i, &r, err);

    if (rc < 0 && rc != SCC_EUNAVAIL)
        return rc;
    if ((rc = ctl_tmpl_resource_info(t, i, &info, err)) < 0)
        goto out;
    if (r != NULL && json_is_false(json_object_get(r, "condition")))
        goto out; /* not deployed: nothing to validate or list */
    api = json_string_value(json_object_get(r, "apiVersion"));
    if (api != NULL && !ctl_arm_is_api_version(api)) {
        rc = bad_api_version(api, &info, err);
        goto out;
    }
    body = json_object_get(r, "body");
    loc = json_string_value(scc_json_iget(body, "location"));
    rc = SCC_ENOMEM;
    if (note_provider(p->providers, info.type, loc) < 0 ||
        json_array_append_new(p->validated, json_pack("{s:s}", "id", info.id)) != 0 ||
        note_dependencies(t, &info, p->deps) < 0) {
        (void)oom(err);
        goto out;
    }
    rc = 0;
out:
    json_decref(r);
    return rc;
}

static int
preflight_all(struct ctl_tmpl *t, struct plan *p, struct ctl_tmpl_error *err)
{
    size_t n = ctl_tmpl_resource_count(t), *order = scc_calloc(n + 1, sizeof(*order));
    json_t *outputs = NULL;
    int rc;

    if (order == NULL)
        return oom(err);
    rc = ctl_tmpl_resource_order(t, order, err);
    scc_free(order);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = preflight_one(t, i, p, err);
    if (rc == 0 && (rc = ctl_tmpl_outputs_eval(t, &outputs, err)) == SCC_EUNAVAIL)
        rc = 0;
    json_decref(outputs);
    return rc;
}

static json_t *
summary_new(const json_t *tmpl, struct ctl_tmpl *t, struct plan *p)
{
    json_t *s, *provs = providers_doc(p->providers);
    char hash[21];

    if (provs == NULL || ctl_tmpl_hash(tmpl, hash) < 0) {
        json_decref(provs);
        return NULL;
    }
    s = json_pack("{s:s, s:o*, s:o, s:O, s:O}", "templateHash", hash, "parameters",
                  ctl_tmpl_parameters_echo(t), "providers", provs, "dependencies", p->deps,
                  "validatedResources", p->validated);
    if (s != NULL && json_object_get(s, "parameters") == NULL) {
        json_decref(s);
        return NULL;
    }
    return s;
}

int
ctl_deploy_preflight(const json_t *tmpl, const json_t *params, const struct ctl_tmpl_scope *scope,
                     json_t **summary, struct ctl_tmpl_error *err)
{
    struct ctl_tmpl_scope sc = *scope;
    struct plan p = {json_object(), json_array(), json_array()};
    struct ctl_tmpl *t = NULL;
    int rc;

    *summary = NULL;
    sc.reference = NULL; /* reference() waits for the deployment */
    sc.reference_arg = NULL;
    if (p.providers == NULL || p.deps == NULL || p.validated == NULL) {
        rc = oom(err);
        goto out;
    }
    if ((rc = ctl_tmpl_load(tmpl, params, &sc, &t, err)) < 0 ||
        (rc = preflight_all(t, &p, err)) < 0)
        goto out;
    if ((*summary = summary_new(tmpl, t, &p)) == NULL)
        rc = oom(err);
out:
    ctl_tmpl_free(t);
    json_decref(p.providers);
    json_decref(p.deps);
    json_decref(p.validated);
    return rc;
}

int
ctl_deploy_params_split(const json_t *params, const json_t *echo, json_t **stored, json_t **secure)
{
    const char *name, *type;
    json_t *v;

    *stored = NULL;
    if ((*secure = json_array()) == NULL)
        return SCC_ENOMEM;
    if (params == NULL)
        return 0;
    if ((*stored = json_object()) == NULL)
        goto nomem;
    json_object_foreach((json_t *)params, name, v)
    {
        type = json_string_value(json_object_get(scc_json_iget(echo, name), "type"));
        if (type != NULL && strncmp(type, "Secure", 6) == 0) {
            if (json_array_append_new(*secure, json_string(name)) != 0)
                goto nomem;
        } else if (json_object_set(*stored, name, v) != 0) {
            goto nomem;
        }
    }
    return 0;
nomem:
    json_decref(*stored);
    json_decref(*secure);
    *stored = *secure = NULL;
    return SCC_ENOMEM;
}

/* ---- documents ---- */

void
ctl_deploy_duration(int64_t ms, char out[32])
{
    if (ms < 0)
        ms = 0;
    snprintf(out, 32, "PT%" PRId64 ".%03" PRId64 "S", ms / 1000, ms % 1000);
}

static json_t *
time_str(int64_t ms)
{
    char buf[40];

    if (scc_time_format_arm((uint64_t)ms, buf, sizeof(buf)) < 0)
        snprintf(buf, sizeof(buf), "1970-01-01T00:00:00.0000000Z");
    return json_string(buf);
}

json_t *
ctl_deploy_doc_new(const char *id, const json_t *summary, const json_t *tags,
                   const char *correlation_id, int64_t now_ms, bool validated)
{
    json_t *doc, *props;

    props = json_pack("{s:O, s:O, s:s, s:s, s:o, s:s, s:s, s:O, s:O}", "templateHash",
                      json_object_get(summary, "templateHash"), "parameters",
                      json_object_get(summary, "parameters"), "mode", "Incremental",
                      "provisioningState", validated ? "Succeeded" : "Accepted", "timestamp",
                      time_str(now_ms), "duration", "PT0S", "correlationId", correlation_id,
                      "providers", json_object_get(summary, "providers"), "dependencies",
                      json_object_get(summary, "dependencies"));
    if (props != NULL && validated)
        json_object_set(props, "validatedResources",
                        json_object_get(summary, "validatedResources"));
    else if (props != NULL)
        json_object_set_new(props, "outputResources", json_array());
    doc = json_pack("{s:s, s:s, s:s, s:o*}", "id", id, "name", ctl_arm_id_last(id), "type",
                    "Microsoft.Resources/deployments", "properties", props);
    if (doc != NULL && tags != NULL &&
        json_object_set_new(doc, "tags", json_deep_copy(tags)) != 0) {
        json_decref(doc);
        return NULL;
    }
    if (doc != NULL && json_object_get(doc, "properties") == NULL) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

void
ctl_deploy_doc_finish(json_t *doc, const char *state, int64_t start_ms, int64_t now_ms,
                      const json_t *error)
{
    json_t *props = json_object_get(doc, "properties");
    char d[32];

    ctl_deploy_duration(now_ms - start_ms, d);
    json_object_set_new(props, "provisioningState", json_string(state));
    json_object_set_new(props, "timestamp", time_str(now_ms));
    json_object_set_new(props, "duration", json_string(d));
    if (error != NULL)
        json_object_set(props, "error", (json_t *)error);
}

json_t *
ctl_deploy_op_new(const char *dep_id, const char *op_id, const json_t *inst, int64_t now_ms)
{
    const char *type = json_string_value(json_object_get(inst, "type"));
    const char *name = json_string_value(json_object_get(inst, "name"));
    const char *id = json_string_value(json_object_get(inst, "id"));
    const char *api = json_string_value(json_object_get(inst, "apiVersion"));
    char op_path[CTL_ARM_ID_MAX + 64];

    snprintf(op_path, sizeof(op_path), "%s/operations/%s", dep_id, op_id);
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:o, s:s, s:s, s:{s:s*, s:s*, s:s*, s:s*}}}", "id",
                     op_path, "operationId", op_id, "properties", "provisioningOperation", "Create",
                     "provisioningState", "Running", "timestamp", time_str(now_ms), "duration",
                     "PT0S", "trackingId", op_id, "targetResource", "id", id, "resourceType", type,
                     "resourceName", name, "apiVersion", api);
}

static const char *
status_name(int status)
{
    static const struct {
        int status;
        const char *name;
    } names[] = {
            {200, "OK"},
            {201, "Created"},
            {202, "Accepted"},
            {204, "NoContent"},
            {400, "BadRequest"},
            {401, "Unauthorized"},
            {403, "Forbidden"},
            {404, "NotFound"},
            {405, "MethodNotAllowed"},
            {409, "Conflict"},
            {413, "RequestEntityTooLarge"},
            {429, "TooManyRequests"},
            {500, "InternalServerError"},
            {503, "ServiceUnavailable"},
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (names[i].status == status)
            return names[i].name;
    }
    return status >= 400 ? "BadRequest" : "OK";
}

void
ctl_deploy_op_set(json_t *op, const char *state, int http_status, const json_t *error,
                  int64_t start_ms, int64_t now_ms)
{
    json_t *props = json_object_get(op, "properties"), *msg;
    char d[32];

    ctl_deploy_duration(now_ms - start_ms, d);
    json_object_set_new(props, "provisioningState", json_string(state));
    json_object_set_new(props, "timestamp", time_str(now_ms));
    json_object_set_new(props, "duration", json_string(d));
    if (http_status > 0)
        json_object_set_new(props, "statusCode", json_string(status_name(http_status)));
    msg = json_pack("{s:s}", "status", state);
    if (msg != NULL && error != NULL)
        json_object_set(msg, "error", (json_t *)error);
    json_object_set_new(props, "statusMessage", msg);
}

json_t *
ctl_deploy_error(const char *code, const char *message, const char *target)
{
    json_t *e = json_pack("{s:s, s:s}", "code", code, "message", message);

    if (e != NULL && target != NULL && *target != '\0' &&
        json_object_set_new(e, "target", json_string(target)) != 0) {
        json_decref(e);
        return NULL;
    }
    return e;
}

json_t *
ctl_deploy_failed(const json_t *details)
{
    char msg[2048];
    size_t n, i;
    const json_t *d;
    const char *target, *code, *p;

    n = (size_t)snprintf(msg, sizeof(msg),
                         "At least one resource deployment operation failed. Please list "
                         "deployment operations for details. Please see "
                         "https://aka.ms/arm-deployment-operations for usage details.");
    json_array_foreach(details, i, d)
    {
        target = json_string_value(json_object_get(d, "target"));
        code = json_string_value(json_object_get(d, "code"));
        if (target == NULL || n >= sizeof(msg) - 1)
            continue;
        p = strstr(target, "/providers/");
        n += (size_t)snprintf(msg + n, sizeof(msg) - n, " Failed: '%.300s' (%.64s).",
                              p ? p + strlen("/providers/") : target, code ? code : "error");
    }
    return json_pack("{s:s, s:s, s:O}", "code", "DeploymentFailed", "message", msg, "details",
                     details);
}
