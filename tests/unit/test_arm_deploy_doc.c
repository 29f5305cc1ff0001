/* Unit tests for the pure half of template deployments
 * (src/control/ctl_arm_deploy_doc.c): request bodies, names, pre-flight,
 * what may be stored of the parameters, and the documents. */
#include "test.h"
#include "test_json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "control/ctl_arm_deploy_doc.h"

#define SUB   "11111111-1111-1111-1111-111111111111"
#define RGID  "/subscriptions/" SUB "/resourceGroups/rg1"
#define DEPID RGID "/providers/Microsoft.Resources/deployments/d1"

static const struct ctl_tmpl_scope scope = {
        .subscription_id = SUB,
        .tenant_id = "22222222-2222-2222-2222-222222222222",
        .rg_name = "rg1",
        .rg_location = "eastus",
        .deployment_name = "d1",
};

static json_t *
seed_body(const char *params)
{
    json_error_t e;
    json_t *tmpl = json_load_file(SCC_TMPL_FIXTURE, 0, &e), *body;

    assert_non_null(tmpl);
    body = json_pack("{s:{s:s, s:o, s:o}}", "properties", "mode", "Incremental", "template", tmpl,
                     "parameters", J(params));
    assert_non_null(body);
    return body;
}

static void
assert_json(const json_t *got, const char *want_text)
{
    json_t *want = J(want_text);
    char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);

    if (!json_equal(got, want))
        fprintf(stderr, "got  %s\nwant %s\n", g, want_text);
    assert_true(json_equal(got, want));
    scc_free(g);
    json_decref(want);
}

static const char *
prop(const json_t *doc, const char *key)
{
    return json_string_value(json_object_get(json_object_get(doc, "properties"), key));
}

static void
expect_req_error(const char *body_text, const char *code, const char *needle)
{
    struct ctl_tmpl_error err;
    struct ctl_deploy_req req;
    json_t *body = body_text ? J(body_text) : NULL;

    assert_int_equal(ctl_deploy_req_parse(body, &req, &err), SCC_EINVAL);
    if (strcmp(err.code, code) != 0 || strstr(err.message, needle) == NULL)
        fprintf(stderr, "%s: %s %s\n", body_text ? body_text : "(none)", err.code, err.message);
    assert_string_equal(err.code, code);
    assert_non_null(strstr(err.message, needle));
    json_decref(body);
}

static void
test_deploy_names_follow_arm_rules(void **state)
{
    struct ctl_tmpl_error err;
    char long_name[80];

    (void)state;
    assert_int_equal(ctl_deploy_name_check("dep-1_(x).y", &err), 0);
    assert_int_equal(ctl_deploy_name_check("bad name", &err), SCC_EINVAL);
    assert_string_equal(err.code, "DeploymentNameInvalidCharacters");
    assert_int_equal(ctl_deploy_name_check("", &err), SCC_EINVAL);
    assert_string_equal(err.code, "DeploymentNameLengthLimitExceeded");
    memset(long_name, 'a', 65);
    long_name[65] = '\0';
    assert_int_equal(ctl_deploy_name_check(long_name, &err), SCC_EINVAL);
    long_name[64] = '\0';
    assert_int_equal(ctl_deploy_name_check(long_name, &err), 0);
}

static void
test_deploy_request_shapes(void **state)
{
    struct ctl_tmpl_error err;
    struct ctl_deploy_req req;
    json_t *body = seed_body("{`workspaceName`: {`value`: `ws1`}}");

    (void)state;
    assert_int_equal(ctl_deploy_req_parse(body, &req, &err), 0);
    assert_true(json_is_object(req.tmpl));
    assert_int_equal(json_object_size(req.params), 1);
    assert_null(req.tags);
    json_decref(body);
    body = J("{`properties`: {`mode`: `incremental`, `template`: {}, `parameters`: null},"
             " `tags`: {`a`: `b`}}");
    assert_int_equal(ctl_deploy_req_parse(body, &req, &err), 0);
    assert_null(req.params);
    assert_non_null(req.tags);
    json_decref(body);
    expect_req_error(NULL, "InvalidRequestContent", "'properties' not found");
    expect_req_error("{`properties`: []}", "InvalidRequestContent", "must be an object");
    expect_req_error("{`properties`: {`template`: {}}}", "InvalidRequestContent",
                     "'mode' not found");
    expect_req_error("{`properties`: {`mode`: 1, `template`: {}}}", "InvalidRequestContent",
                     "must be a string");
    expect_req_error("{`properties`: {`mode`: `Sometimes`, `template`: {}}}",
                     "InvalidRequestContent", "DeploymentMode");
    expect_req_error("{`properties`: {`mode`: `Complete`, `template`: {}}}",
                     "InvalidTemplateDeployment", "'Complete' is not supported");
    expect_req_error("{`properties`: {`mode`: `Incremental`, `templateLink`: {`uri`: `x`}}}",
                     "InvalidTemplateDeployment", "templateLink");
    expect_req_error("{`properties`: {`mode`: `Incremental`, `template`: {},"
                     " `parametersLink`: {`uri`: `x`}}}",
                     "InvalidTemplateDeployment", "parametersLink");
    expect_req_error("{`properties`: {`mode`: `Incremental`}}", "InvalidRequestContent",
                     "'template' not found");
    expect_req_error("{`properties`: {`mode`: `Incremental`, `template`: `x`}}",
                     "InvalidRequestContent", "must be a JSON object");
    expect_req_error("{`properties`: {`mode`: `Incremental`, `template`: {}, `parameters`: []}}",
                     "InvalidRequestContent", "'parameters' must be");
    expect_req_error("{`properties`: {`mode`: `Incremental`, `template`: {}}, `tags`: {`a`: 1}}",
                     "InvalidTag", "tags");
}

static void
test_deploy_preflight_of_the_seed_template(void **state)
{
    struct ctl_tmpl_error err;
    struct ctl_deploy_req req;
    json_t *body = seed_body("{`workspaceName`: {`value`: `ws1`}}"), *summary = NULL, *doc;

    (void)state;
    assert_int_equal(ctl_deploy_req_parse(body, &req, &err), 0);
    assert_int_equal(ctl_deploy_preflight(req.tmpl, req.params, &scope, &summary, &err), 0);
    assert_json(json_object_get(summary, "providers"),
                "[{`namespace`: `Microsoft.Databricks`,"
                "  `resourceTypes`: [{`resourceType`: `workspaces`, `locations`: [`eastus`]}]}]");
    assert_json(json_object_get(summary, "validatedResources"),
                "[{`id`: `" RGID "/providers/Microsoft.Databricks/workspaces/ws1`}]");
    assert_json(json_object_get(summary, "dependencies"), "[]");
    assert_json(json_object_get(json_object_get(summary, "parameters"), "enableNoPublicIp"),
                "{`type`: `Bool`, `value`: true}");
    doc = ctl_deploy_doc_new(DEPID, summary, NULL, "c0", 0, false);
    assert_string_equal(json_string_value(json_object_get(doc, "name")), "d1");
    assert_string_equal(prop(doc, "provisioningState"), "Accepted");
    assert_string_equal(prop(doc, "mode"), "Incremental");
    assert_string_equal(prop(doc, "duration"), "PT0S");
    assert_non_null(json_object_get(json_object_get(doc, "properties"), "outputResources"));
    assert_null(json_object_get(json_object_get(doc, "properties"), "validatedResources"));
    json_decref(doc);
    json_decref(summary);
    json_decref(body);
}

/* reference() is left for the deployment; everything else is checked. */
static void
test_deploy_preflight_checks_all_but_reference(void **state)
{
    static const char *ok =
            "{`$schema`: `x`, `contentVersion`: `1.0.0.0`, `resources`: ["
            " {`type`: `Microsoft.Network/routeTables`, `apiVersion`: `2024-07-01`, `name`: `rt`,"
            "  `location`: `westus`, `tags`: {`s`: `[reference('nsg').provisioningState]`}},"
            " {`type`: `Microsoft.Network/networkSecurityGroups`, `apiVersion`: `2024-07-01`,"
            "  `name`: `nsg`, `location`: `eastus`},"
            " {`type`: `Microsoft.Network/networkSecurityGroups`, `apiVersion`: `bad`,"
            "  `name`: `off`, `condition`: false}],"
            " `outputs`: {`o`: {`type`: `string`, `value`: `[reference('rt').x]`}}}";
    struct ctl_tmpl_error err;
    json_t *tmpl = J(ok), *summary = NULL;

    (void)state;
    assert_int_equal(ctl_deploy_preflight(tmpl, NULL, &scope, &summary, &err), 0);
    assert_json(json_object_get(summary, "dependencies"),
                "[{`id`: `" RGID "/providers/Microsoft.Network/routeTables/rt`,"
                "  `resourceType`: `Microsoft.Network/routeTables`, `resourceName`: `rt`,"
                "  `dependsOn`: [{`id`: `" RGID
                "/providers/Microsoft.Network/networkSecurityGroups/nsg`,"
                "   `resourceType`: `Microsoft.Network/networkSecurityGroups`, `resourceName`: "
                "`nsg`}]}]");
    assert_int_equal(json_array_size(json_object_get(summary, "validatedResources")), 2);
    json_decref(summary);
    json_decref(tmpl);
    /* A bad api-version of a deployed resource, and a missing variable. */
    tmpl = J("{`contentVersion`: `1.0.0.0`, `resources`: [{`type`: `A.B/c`, `apiVersion`: `v1`,"
             " `name`: `x`}]}");
    assert_int_equal(ctl_deploy_preflight(tmpl, NULL, &scope, &summary, &err), SCC_EINVAL);
    assert_null(summary);
    assert_string_equal(err.code, "InvalidTemplate");
    assert_non_null(strstr(err.message, "api-version 'v1'"));
    json_decref(tmpl);
    tmpl = J("{`contentVersion`: `1.0.0.0`, `resources`: [{`type`: `A.B/c`,"
             " `apiVersion`: `2020-01-01`, `name`: `x`, `properties`: {`v`: "
             "`[variables('no')]`}}]}");
    assert_int_equal(ctl_deploy_preflight(tmpl, NULL, &scope, &summary, &err), SCC_EINVAL);
    assert_non_null(strstr(err.message, "The template variable 'no' is not found"));
    assert_string_equal(err.target, "resources[0].properties.v");
    json_decref(tmpl);
}

static void
test_deploy_secure_parameters_are_not_stored(void **state)
{
    json_t *params = J("{`pw`: {`value`: `s3cret`}, `n`: {`value`: 1}, `OBJ`: {`value`: {}}}");
    json_t *echo = J("{`pw`: {`type`: `SecureString`}, `n`: {`type`: `Int`, `value`: 1},"
                     " `obj`: {`type`: `SecureObject`}}");
    json_t *stored = NULL, *secure = NULL;

    (void)state;
    assert_int_equal(ctl_deploy_params_split(params, echo, &stored, &secure), 0);
    assert_json(stored, "{`n`: {`value`: 1}}");
    assert_json(secure, "[`pw`, `OBJ`]");
    json_decref(stored);
    json_decref(secure);
    assert_int_equal(ctl_deploy_params_split(NULL, echo, &stored, &secure), 0);
    assert_null(stored);
    assert_json(secure, "[]");
    json_decref(secure);
    json_decref(params);
    json_decref(echo);
}

static void
test_deploy_documents(void **state)
{
    json_t *inst = J("{`type`: `A.B/c`, `name`: `x`, `id`: `" RGID "/providers/A.B/c/x`,"
                     " `apiVersion`: `2020-01-01`}");
    json_t *op = ctl_deploy_op_new(DEPID, "op1", inst, 1000), *e, *details, *failed;
    char d[32];

    (void)state;
    assert_string_equal(json_string_value(json_object_get(op, "id")), DEPID "/operations/op1");
    assert_string_equal(prop(op, "provisioningState"), "Running");
    e = ctl_deploy_error("Conflict", "busy", RGID "/providers/A.B/c/x");
    ctl_deploy_op_set(op, "Failed", 409, e, 1000, 2234);
    assert_string_equal(prop(op, "statusCode"), "Conflict");
    assert_string_equal(prop(op, "duration"), "PT1.234S");
    assert_json(json_object_get(json_object_get(op, "properties"), "statusMessage"),
                "{`status`: `Failed`, `error`: {`code`: `Conflict`, `message`: `busy`,"
                " `target`: `" RGID "/providers/A.B/c/x`}}");
    details = json_pack("[O]", e);
    failed = ctl_deploy_failed(details);
    assert_string_equal(json_string_value(json_object_get(failed, "code")), "DeploymentFailed");
    assert_non_null(strstr(json_string_value(json_object_get(failed, "message")),
                           "Failed: 'A.B/c/x' (Conflict)."));
    assert_int_equal(json_array_size(json_object_get(failed, "details")), 1);
    ctl_deploy_duration(61005, d);
    assert_string_equal(d, "PT61.005S");
    ctl_deploy_duration(-5, d);
    assert_string_equal(d, "PT0.000S");
    json_decref(failed);
    json_decref(details);
    json_decref(e);
    json_decref(op);
    json_decref(inst);
}

/* Everything a PUT does before the store, under allocation failure. */
static int
run_all(const json_t *body)
{
    struct ctl_tmpl_error err;
    struct ctl_deploy_req req;
    json_t *summary = NULL, *doc = NULL, *stored = NULL, *secure = NULL;
    int rc;

    if ((rc = ctl_deploy_req_parse(body, &req, &err)) < 0 ||
        (rc = ctl_deploy_preflight(req.tmpl, req.params, &scope, &summary, &err)) < 0)
        return rc;
    if ((doc = ctl_deploy_doc_new(DEPID, summary, req.tags, "c", 0, false)) == NULL ||
        ctl_deploy_params_split(req.params, json_object_get(summary, "parameters"), &stored,
                                &secure) < 0)
        rc = SCC_ENOMEM;
    json_decref(doc);
    json_decref(stored);
    json_decref(secure);
    json_decref(summary);
    return rc;
}

static void
test_deploy_allocation_failures_are_clean(void **state)
{
    json_t *body =
            seed_body("{`workspaceName`: {`value`: `ws1`}, `pricingTier`: {`value`: `trial`}}");
    unsigned long n;
    int rc, failed;

    (void)state;
    for (n = 1;; n++) {
        scc_mem_fail_at(n);
        rc = run_all(body);
        failed = scc_mem_failed();
        scc_mem_fail_at(0);
        if (!failed) {
            assert_int_equal(rc, 0);
            break;
        }
        assert_true(rc == 0 || rc == SCC_ENOMEM || rc == SCC_EINVAL);
    }
    assert_true(n > 20);
    json_decref(body);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_deploy_names_follow_arm_rules),
            cmocka_unit_test(test_deploy_request_shapes),
            cmocka_unit_test(test_deploy_preflight_of_the_seed_template),
            cmocka_unit_test(test_deploy_preflight_checks_all_but_reference),
            cmocka_unit_test(test_deploy_secure_parameters_are_not_stored),
            cmocka_unit_test(test_deploy_documents),
            cmocka_unit_test(test_deploy_allocation_failures_are_clean),
    };

    return cmocka_run_group_tests(tests, json_alloc_setup, NULL);
}
