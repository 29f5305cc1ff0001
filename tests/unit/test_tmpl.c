/* Unit tests for the template engine (src/control/ctl_tmpl*.c): loading,
 * parameters, variables, resources, ordering, outputs, limits, and the
 * target NPIP template (arm-compat.md §1.7, §4.5, §4.7). */
#include "test.h"
#include "test_json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/mem.h"
#include "control/ctl_tmpl.h"

#define SUB  "11111111-1111-1111-1111-111111111111"
#define RGID "/subscriptions/" SUB "/resourceGroups/rg1"
/* Test templates are written with ` for JSON's double quote. */
#define HDR                                                                                        \
    "`$schema`: "                                                                                  \
    "`https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#`,"           \
    "`contentVersion`: `1.0.0.0`,"

static struct ctl_tmpl_scope scope = {
        .subscription_id = SUB,
        .tenant_id = "22222222-2222-2222-2222-222222222222",
        .subscription_name = "Test subscription",
        .rg_name = "rg1",
        .rg_location = "eastus",
        .rg_tags = NULL,
        .deployment_name = "dep1",
        .reference = NULL,
        .reference_arg = NULL,
};

static json_t *
fixture(void)
{
    json_error_t e;
    json_t *v = json_load_file(SCC_TMPL_FIXTURE, 0, &e);

    if (v == NULL)
        fprintf(stderr, "%s: %s\n", SCC_TMPL_FIXTURE, e.text);
    assert_non_null(v);
    return v;
}

static int
load(json_t *tmpl, const char *params, struct ctl_tmpl **t, struct ctl_tmpl_error *err)
{
    json_t *p = params != NULL ? J(params) : NULL;
    int rc = ctl_tmpl_load(tmpl, p, &scope, t, err);

    json_decref(p);
    json_decref(tmpl);
    return rc;
}

static struct ctl_tmpl *
load_ok(json_t *tmpl, const char *params)
{
    struct ctl_tmpl_error err;
    struct ctl_tmpl *t = NULL;
    int rc = load(tmpl, params, &t, &err);

    if (rc != 0)
        fprintf(stderr, "load: %d %s [%s]: %s\n", rc, err.code, err.target, err.message);
    assert_int_equal(rc, 0);
    assert_non_null(t);
    return t;
}

static void
load_err(json_t *tmpl, const char *params, int want_rc, const char *needle)
{
    struct ctl_tmpl_error err;
    struct ctl_tmpl *t = (struct ctl_tmpl *)&err; /* must come back NULL */
    int rc = load(tmpl, params, &t, &err);

    if (rc != want_rc || strstr(err.message, needle) == NULL)
        fprintf(stderr, "load: rc %d (want %d) %s [%s]: %s\n", rc, want_rc, err.code, err.target,
                err.message);
    assert_int_equal(rc, want_rc);
    assert_null(t);
    assert_non_null(strstr(err.message, needle));
}

static json_t *
eval_res(struct ctl_tmpl *t, size_t i)
{
    struct ctl_tmpl_error err;
    json_t *v = NULL;
    int rc = ctl_tmpl_resource_eval(t, i, &v, &err);

    if (rc != 0)
        fprintf(stderr, "eval %zu: %d %s [%s]: %s\n", i, rc, err.code, err.target, err.message);
    assert_int_equal(rc, 0);
    return v;
}

static void
assert_json(const json_t *got, const char *want_text)
{
    json_t *want = J(want_text);
    char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    char *w = json_dumps(want, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);

    if (!json_equal(got, want))
        fprintf(stderr, "got  %s\nwant %s\n", g, w);
    assert_true(json_equal(got, want));
    scc_free(g);
    scc_free(w);
    json_decref(want);
}

static void
assert_eval_str(struct ctl_tmpl *t, const char *expr, const char *want)
{
    struct ctl_tmpl_error err;
    json_t *v = NULL;
    int rc = ctl_tmpl_eval_string(t, expr, &v, &err);

    if (rc != 0)
        fprintf(stderr, "%s: %s\n", expr, err.message);
    assert_int_equal(rc, 0);
    assert_true(json_is_string(v));
    assert_string_equal(json_string_value(v), want);
    json_decref(v);
}

/* --- the target template ------------------------------------------------ */

static void
test_seed_template_defaults_match_arm_body(void **state)
{
    struct ctl_tmpl *t = load_ok(fixture(), "{`workspaceName`: {`value`: `ws1`}}");
    size_t order[1] = {99};
    struct ctl_tmpl_error err;
    json_t *r = eval_res(t, 0), *out = NULL, *echo;

    (void)state;
    assert_int_equal(ctl_tmpl_resource_count(t), 1);
    assert_int_equal(ctl_tmpl_resource_order(t, order, &err), 0);
    assert_int_equal(order[0], 0);
    assert_json(r, "{`type`: `Microsoft.Databricks/workspaces`, `apiVersion`: `2023-02-01`,"
                   " `name`: `ws1`, `condition`: true, `dependsOn`: [],"
                   " `id`: `" RGID "/providers/Microsoft.Databricks/workspaces/ws1`,"
                   " `body`: {`location`: `eastus`, `sku`: {`name`: `premium`},"
                   "  `properties`: {"
                   "   `ManagedResourceGroupId`: `/subscriptions/" SUB
                   "/resourceGroups/databricks-rg-ws1-rpm7yh2427vde`,"
                   "   `publicNetworkAccess`: `Enabled`, `requiredNsgRules`: `AllRules`,"
                   "   `parameters`: {`enableNoPublicIp`: {`value`: true}}}}}");
    /* The boolean stays a JSON boolean (assert_json tells true from "true"). */
    assert_true(json_is_true(json_object_get(
            json_object_get(
                    json_object_get(json_object_get(json_object_get(r, "body"), "properties"),
                                    "parameters"),
                    "enableNoPublicIp"),
            "value")));
    echo = ctl_tmpl_parameters_echo(t);
    assert_json(echo, "{`location`: {`type`: `String`, `value`: `eastus`},"
                      " `workspaceName`: {`type`: `String`, `value`: `ws1`},"
                      " `apiVersion`: {`type`: `String`, `value`: `2023-02-01`},"
                      " `enableNoPublicIp`: {`type`: `Bool`, `value`: true},"
                      " `pricingTier`: {`type`: `String`, `value`: `premium`},"
                      " `publicNetworkAccess`: {`type`: `String`, `value`: `Enabled`},"
                      " `requiredNsgRules`: {`type`: `String`, `value`: `AllRules`}}");
    assert_int_equal(ctl_tmpl_outputs_eval(t, &out, &err), 0);
    assert_json(out, "{}");
    assert_eval_str(t, "[variables('managedResourceGroupName')]",
                    "databricks-rg-ws1-rpm7yh2427vde");
    json_decref(out);
    json_decref(echo);
    json_decref(r);
    ctl_tmpl_free(t);
}

static void
test_seed_template_overrides(void **state)
{
    struct ctl_tmpl *t = load_ok(fixture(), "{`workspaceName`: {`value`: `ws1`},"
                                            " `enableNoPublicIp`: {`value`: false},"
                                            " `apiVersion`: {`value`: `2018-04-01`},"
                                            " `location`: {`value`: `westeurope`}}");
    json_t *r = eval_res(t, 0), *body = json_object_get(r, "body");

    (void)state;
    assert_string_equal(json_string_value(json_object_get(r, "apiVersion")), "2018-04-01");
    assert_string_equal(json_string_value(json_object_get(body, "location")), "westeurope");
    assert_json(json_object_get(json_object_get(body, "properties"), "parameters"),
                "{`enableNoPublicIp`: {`value`: false}}");
    json_decref(r);
    ctl_tmpl_free(t);
}

static void
test_seed_template_rejects_pricing_tier_outside_allowed_values(void **state)
{
    struct ctl_tmpl_error err;
    struct ctl_tmpl *t = NULL;

    (void)state;
    assert_int_equal(load(fixture(),
                          "{`workspaceName`: {`value`: `ws1`}, `pricingTier`: {`value`: `gold`}}",
                          &t, &err),
                     SCC_EINVAL);
    assert_null(t);
    assert_string_equal(err.code, "InvalidTemplate");
    assert_string_equal(err.target, "parameters.pricingTier");
    assert_string_equal(err.message,
                        "Deployment template validation failed: 'The provided value for the "
                        "template parameter 'pricingTier' is not valid. The value 'gold' is not "
                        "part of the allowed value(s): 'premium,standard,trial'.'.");
}

static void
test_seed_template_allowed_values_ignore_case(void **state)
{
    struct ctl_tmpl *t = load_ok(fixture(), "{`workspaceName`: {`value`: `ws1`},"
                                            " `pricingTier`: {`value`: `Premium`}}");
    json_t *r = eval_res(t, 0);

    (void)state;
    /* The value is passed on as supplied, not as the allowed spelling. */
    assert_string_equal(json_string_value(json_object_get(
                                json_object_get(json_object_get(r, "body"), "sku"), "name")),
                        "Premium");
    json_decref(r);
    ctl_tmpl_free(t);
}

static void
test_seed_template_rg_casing_feeds_unique_string(void **state)
{
    struct ctl_tmpl *t;

    (void)state;
    scope.rg_name = "RG1";
    t = load_ok(fixture(), "{`workspaceName`: {`value`: `ws1`}}");
    scope.rg_name = "rg1";
    assert_eval_str(t, "[variables('managedResourceGroupId')]",
                    "/subscriptions/" SUB "/resourceGroups/databricks-rg-ws1-xi3wstv7rqq2y");
    assert_eval_str(t, "[resourceGroup().id]", "/subscriptions/" SUB "/resourceGroups/RG1");
    ctl_tmpl_free(t);
}

static void
test_seed_template_missing_workspace_name(void **state)
{
    (void)state;
    load_err(fixture(), NULL, SCC_EINVAL,
             "The value for the template parameter 'workspaceName' is not provided. Please see "
             "https://aka.ms/arm-create-parameter-file for usage details.");
    load_err(fixture(), "{`workspaceName`: {`value`: null}}", SCC_EINVAL,
             "'workspaceName' is not provided");
}

static void
test_seed_shaped_error_names_path_and_expression(void **state)
{
    struct ctl_tmpl *t;
    struct ctl_tmpl_error err;
    json_t *tmpl = fixture(), *r = NULL;
    json_t *p = json_object_get(
            json_object_get(json_object_get(json_array_get(json_object_get(tmpl, "resources"), 0),
                                            "properties"),
                            "parameters"),
            "enableNoPublicIp");

    (void)state;
    json_object_set_new(p, "value", json_string("[parameters('enableNoPublicIP2')]"));
    t = load_ok(tmpl, "{`workspaceName`: {`value`: `ws1`}}");
    assert_int_equal(ctl_tmpl_resource_eval(t, 0, &r, &err), SCC_EINVAL);
    assert_null(r);
    assert_string_equal(err.code, "InvalidTemplate");
    assert_string_equal(err.target, "resources[0].properties.parameters.enableNoPublicIp.value");
    assert_string_equal(err.message,
                        "Deployment template validation failed: 'Unable to process template "
                        "language expression '[parameters('enableNoPublicIP2')]' at path "
                        "'resources[0].properties.parameters.enableNoPublicIp.value': The "
                        "template parameter 'enableNoPublicIP2' is not found. Please see "
                        "https://aka.ms/arm-syntax-parameters for usage details.'.");
    ctl_tmpl_free(t);
}

static void
test_resources_ambiguous_names(void **state)
{
    struct ctl_tmpl_error err;
    struct ctl_tmpl *t;
    size_t order[3];

    (void)state;
    t = load_ok(J("{" HDR "`resources`: ["
                  " {`type`: `A.B/c`, `apiVersion`: `1`, `name`: `x`},"
                  " {`type`: `A.B/d`, `apiVersion`: `1`, `name`: `x`},"
                  " {`type`: `A.B/e`, `apiVersion`: `1`, `name`: `y`, `dependsOn`: [`x`]}]}"),
                NULL);
    assert_int_equal(ctl_tmpl_resource_order(t, order, &err), SCC_EINVAL);
    assert_non_null(strstr(err.message, "The resource 'x' named in dependsOn is ambiguous"));
    ctl_tmpl_free(t);
    /* A bare name that matches itself and one other resource means the other. */
    t = load_ok(J("{" HDR "`resources`: ["
                  " {`type`: `A.B/c`, `apiVersion`: `1`, `name`: `x`, `dependsOn`: [`x`]},"
                  " {`type`: `A.B/d`, `apiVersion`: `1`, `name`: `x`}]}"),
                NULL);
    assert_int_equal(ctl_tmpl_resource_order(t, order, &err), 0);
    assert_int_equal(order[0], 1);
    assert_int_equal(order[1], 0);
    ctl_tmpl_free(t);
}

/* --- parameters ----------------------------------------------------------- */

static void
test_params_bool_given_string_is_rejected(void **state)
{
    struct ctl_tmpl_error err;
    struct ctl_tmpl *t = NULL;

    (void)state;
    assert_int_equal(load(fixture(),
                          "{`workspaceName`: {`value`: `ws1`},"
                          " `enableNoPublicIp`: {`value`: `true`}}",
                          &t, &err),
                     SCC_EINVAL);
    assert_string_equal(err.target, "parameters.enableNoPublicIp");
    assert_non_null(strstr(err.message, "Template parameter JToken type is not valid. Expected "
                                        "'Boolean'. Actual 'String'."));
    assert_non_null(strstr(err.message, "'enableNoPublicIp'"));
}

static void
test_params_undeclared_parameter_is_rejected(void **state)
{
    (void)state;
    load_err(fixture(), "{`workspaceName`: {`value`: `ws1`}, `bogus`: {`value`: 1}}", SCC_EINVAL,
             "The template parameters 'bogus' in the parameters file are not valid; they are not "
             "present in the original template and can therefore not be provided at deployment "
             "time. The only supported parameters for this template are 'location, "
             "workspaceName, apiVersion, enableNoPublicIp, pricingTier, publicNetworkAccess, "
             "requiredNsgRules'.");
}

static void
test_params_key_vault_reference_is_unsupported(void **state)
{
    struct ctl_tmpl_error err;
    struct ctl_tmpl *t = NULL;

    (void)state;
    assert_int_equal(load(fixture(),
                          "{`workspaceName`: {`reference`: {`keyVault`: {`id`: `/x`},"
                          " `secretName`: `s`}}}",
                          &t, &err),
                     SCC_ENOSYS);
    assert_string_equal(err.code, "InvalidTemplateDeployment");
    assert_non_null(strstr(err.message, "Key Vault references are not supported"));
}

static void
test_params_malformed_entry_is_invalid_request_content(void **state)
{
    struct ctl_tmpl_error err;
    struct ctl_tmpl *t = NULL;

    (void)state;
    assert_int_equal(load(fixture(), "{`workspaceName`: `ws1`}", &t, &err), SCC_EINVAL);
    assert_string_equal(err.code, "InvalidRequestContent");
    assert_int_equal(load(fixture(), "[1]", &t, &err), SCC_EINVAL);
    assert_string_equal(err.code, "InvalidRequestContent");
    assert_int_equal(load(fixture(),
                          "{`workspaceName`: {`value`: `a`}, `WORKSPACENAME`: {`value`: `b`}}", &t,
                          &err),
                     SCC_EINVAL);
    assert_non_null(strstr(err.message, "more than once"));
}

static void
test_params_types_are_case_insensitive_and_strict(void **state)
{
    const char *tmpl = "{" HDR "`parameters`: {`i`: {`type`: `INT`}, `o`: {`type`: `Object`},"
                       " `a`: {`type`: `array`}, `s`: {`type`: `SecureString`},"
                       " `so`: {`type`: `secureObject`}, `b`: {`type`: `bool`}},"
                       " `resources`: []}";
    struct ctl_tmpl *t;
    json_t *echo;

    (void)state;
    t = load_ok(J(tmpl), "{`i`: {`value`: 5}, `o`: {`value`: {`k`: 1}}, `a`: {`value`: [1]},"
                         " `s`: {`value`: `secret`}, `so`: {`value`: {}}, `b`: {`value`: false}}");
    echo = ctl_tmpl_parameters_echo(t);
    assert_json(echo, "{`i`: {`type`: `Int`, `value`: 5}, `o`: {`type`: `Object`, `value`:"
                      " {`k`: 1}}, `a`: {`type`: `Array`, `value`: [1]},"
                      " `s`: {`type`: `SecureString`}, `so`: {`type`: `SecureObject`},"
                      " `b`: {`type`: `Bool`, `value`: false}}");
    json_decref(echo);
    ctl_tmpl_free(t);
    load_err(J(tmpl),
             "{`i`: {`value`: `5`}, `o`: {`value`: {}}, `a`: {`value`: []},"
             " `s`: {`value`: `x`}, `so`: {`value`: {}}, `b`: {`value`: true}}",
             SCC_EINVAL, "Expected 'Integer'. Actual 'String'.");
    load_err(J(tmpl),
             "{`i`: {`value`: 1}, `o`: {`value`: []}, `a`: {`value`: []},"
             " `s`: {`value`: `x`}, `so`: {`value`: {}}, `b`: {`value`: true}}",
             SCC_EINVAL, "Expected 'Object'. Actual 'Array'.");
    load_err(J("{" HDR "`parameters`: {`x`: {`type`: `float`}}, `resources`: []}"), NULL,
             SCC_EINVAL, "has an invalid type 'float'");
    load_err(J("{" HDR "`parameters`: {`x`: {`type`: `int`, `defaultValue`: 1.5}},"
               " `resources`: []}"),
             NULL, SCC_EINVAL, "Expected 'Integer'. Actual 'Float'.");
}

static void
test_params_defaults_are_lazy_expressions_with_cycle_check(void **state)
{
    struct ctl_tmpl *t;

    (void)state;
    t = load_ok(J("{" HDR "`parameters`: {"
                  " `a`: {`type`: `string`, `defaultValue`: `[concat(parameters('b'), '-x')]`},"
                  " `b`: {`type`: `string`, `defaultValue`: `[resourceGroup().location]`},"
                  " `c`: {`type`: `object`, `defaultValue`: {`n`: `[parameters('A')]`}}},"
                  " `resources`: []}"),
                NULL);
    assert_eval_str(t, "[parameters('a')]", "eastus-x");
    assert_eval_str(t, "[parameters('C').n]", "eastus-x");
    ctl_tmpl_free(t);
    load_err(J("{" HDR "`parameters`: {"
               " `a`: {`type`: `string`, `defaultValue`: `[parameters('b')]`},"
               " `b`: {`type`: `string`, `defaultValue`: `[parameters('a')]`}},"
               " `resources`: []}"),
             NULL, SCC_EINVAL, "circular reference");
    load_err(J("{" HDR "`parameters`: {"
               " `a`: {`type`: `string`, `defaultValue`: `[variables('v')]`}},"
               " `variables`: {`v`: `x`}, `resources`: []}"),
             NULL, SCC_EINVAL,
             "The template function 'variables' is not expected at this location.");
    load_err(J("{" HDR "`parameters`: {"
               " `a`: {`type`: `string`, `defaultValue`: `[parameters('nope')]`}},"
               " `resources`: []}"),
             NULL, SCC_EINVAL, "The template parameter 'nope' is not found.");
}

static void
test_params_min_max_value_and_length(void **state)
{
    const char *tmpl =
            "{" HDR "`parameters`: {"
            " `n`: {`type`: `int`, `minValue`: 1, `maxValue`: 3, `defaultValue`: 2},"
            " `s`: {`type`: `string`, `minLength`: 2, `maxLength`: 4, `defaultValue`: `ab`},"
            " `a`: {`type`: `array`, `maxLength`: 1, `defaultValue`: [],"
            "       `allowedValues`: [`x`, `Y`]}},"
            " `resources`: []}";

    (void)state;
    ctl_tmpl_free(load_ok(J(tmpl), NULL));
    ctl_tmpl_free(load_ok(J(tmpl), "{`a`: {`value`: [`y`]}}"));
    load_err(J(tmpl), "{`n`: {`value`: 0}}", SCC_EINVAL,
             "The value '0' is less than the minimum value '1'.");
    load_err(J(tmpl), "{`n`: {`value`: 4}}", SCC_EINVAL,
             "The value '4' is greater than the maximum value '3'.");
    load_err(J(tmpl), "{`s`: {`value`: `a`}}", SCC_EINVAL,
             "The length of the value is '1', which is less than the minimum length '2'.");
    load_err(J(tmpl), "{`s`: {`value`: `abcde`}}", SCC_EINVAL, "maximum length '4'");
    load_err(J(tmpl), "{`a`: {`value`: [`x`, `x`]}}", SCC_EINVAL, "maximum length '1'");
    load_err(J(tmpl), "{`a`: {`value`: [`z`]}}", SCC_EINVAL,
             "The value 'z' is not part of the allowed value(s): 'x,Y'.");
    load_err(J("{" HDR "`parameters`: {`n`: {`type`: `int`, `minValue`: `1`}}, `resources`: []}"),
             NULL, SCC_EINVAL, "invalid 'minValue'");
}

static void
test_params_secure_values_stay_out_of_messages(void **state)
{
    struct ctl_tmpl_error err;
    struct ctl_tmpl *t = NULL;

    (void)state;
    assert_int_equal(load(J("{" HDR "`parameters`: {`p`: {`type`: `securestring`,"
                            " `allowedValues`: [`a`]}}, `resources`: []}"),
                          "{`p`: {`value`: `hunter2`}}", &t, &err),
                     SCC_EINVAL);
    assert_null(strstr(err.message, "hunter2"));
}

/* --- variables ------------------------------------------------------------ */

static void
test_vars_are_lazy_cached_and_case_insensitive(void **state)
{
    struct ctl_tmpl_error err;
    struct ctl_tmpl *t;
    json_t *v = NULL;

    (void)state;
    t = load_ok(J("{" HDR "`variables`: {`Greeting`: `[concat('hi ', variables('who'))]`,"
                  " `who`: `[toUpper(resourceGroup().name)]`,"
                  " `broken`: `[json('{')]`,"
                  " `obj`: {`list`: [`[variables('WHO')]`], `n`: 1}},"
                  " `resources`: []}"),
                NULL);
    assert_eval_str(t, "[variables('greeting')]", "hi RG1");
    assert_eval_str(t, "[variables('obj').list[0]]", "RG1");
    /* An unused broken variable does not fail the load; using it does. */
    assert_int_equal(ctl_tmpl_eval_string(t, "[variables('broken')]", &v, &err), SCC_EINVAL);
    assert_null(v);
    assert_string_equal(err.target, "variables.broken");
    assert_non_null(strstr(err.message, "'[json('{')]' at path 'variables.broken'"));
    ctl_tmpl_free(t);
}

static void
test_vars_missing_and_cyclic_are_errors(void **state)
{
    struct ctl_tmpl_error err;
    struct ctl_tmpl *t;
    json_t *v = NULL;

    (void)state;
    t = load_ok(J("{" HDR "`variables`: {`a`: `[variables('b')]`, `b`: `[variables('c')]`,"
                  " `c`: `[variables('a')]`, `d`: `[variables('nope')]`},"
                  " `resources`: []}"),
                NULL);
    assert_int_equal(ctl_tmpl_eval_string(t, "[variables('a')]", &v, &err), SCC_EINVAL);
    assert_non_null(strstr(err.message, "The template variable 'a' has a circular reference"));
    assert_int_equal(ctl_tmpl_eval_string(t, "[variables('d')]", &v, &err), SCC_EINVAL);
    assert_non_null(strstr(err.message, "The template variable 'nope' is not found."));
    assert_int_equal(ctl_tmpl_eval_string(t, "[parameters('nope')]", &v, &err), SCC_EINVAL);
    assert_non_null(strstr(err.message, "The template parameter 'nope' is not found."));
    /* After errors the template stays usable. */
    assert_eval_str(t, "[concat('still', 'ok')]", "stillok");
    ctl_tmpl_free(t);
}

static void
test_vars_copy_section_is_rejected(void **state)
{
    (void)state;
    load_err(J("{" HDR "`variables`: {`copy`: [{`name`: `x`, `count`: 2, `input`: 1}]},"
               " `resources`: []}"),
             NULL, SCC_ENOSYS, "Variable iteration");
    load_err(J("{" HDR "`variables`: {`a`: 1, `A`: 2}, `resources`: []}"), NULL, SCC_EINVAL,
             "declared more than once");
}

static void
test_vars_object_copy_iterates(void **state)
{
    struct ctl_tmpl *t;
    json_t *v = NULL;
    struct ctl_tmpl_error err;

    (void)state;
    t = load_ok(J("{" HDR "`variables`: {`disks`: {`copy`: [{`name`: `list`, `count`: 3,"
                  " `input`: {`lun`: `[copyIndex('list')]`}}]}}, `resources`: []}"),
                NULL);
    assert_int_equal(ctl_tmpl_eval_string(t, "[variables('disks')]", &v, &err), 0);
    assert_json(v, "{`list`: [{`lun`: 0}, {`lun`: 1}, {`lun`: 2}]}");
    json_decref(v);
    ctl_tmpl_free(t);
}

/* --- structure ------------------------------------------------------------ */

static void
test_structure_required_and_unknown_keys(void **state)
{
    (void)state;
    load_err(J("{`resources`: []}"), NULL, SCC_EINVAL, "'contentVersion'");
    load_err(J("{`contentVersion`: `1.0`, `resources`: []}"), NULL, SCC_EINVAL, "'contentVersion'");
    load_err(J("{" HDR "`parameters`: {}}"), NULL, SCC_EINVAL, "must have a 'resources' array");
    load_err(J("{" HDR "`resources`: {}}"), NULL, SCC_ENOSYS, "languageVersion 2.0");
    load_err(J("{" HDR "`resources`: [], `extra`: 1}"), NULL, SCC_EINVAL,
             "The template property 'extra' is not valid.");
    load_err(J("{" HDR "`resources`: [], `Resources`: []}"), NULL, SCC_EINVAL,
             "given more than once");
    load_err(J("{" HDR "`resources`: [], `functions`: [{`namespace`: `x`}]}"), NULL, SCC_ENOSYS,
             "User-defined template functions");
    load_err(J("[]"), NULL, SCC_EINVAL, "must be a JSON object");
    load_err(J("{`$schema`: `https://schema.management.azure.com/schemas/2018-05-01/"
               "subscriptionDeploymentTemplate.json#`, `contentVersion`: `1.0.0.0`,"
               " `resources`: []}"),
             NULL, SCC_ENOSYS, "only resource group deployments");
    /* Top-level keys match case-insensitively; apiProfile, metadata, empty functions pass. */
    ctl_tmpl_free(load_ok(J("{`CONTENTVERSION`: `1.0.0.0`, `Resources`: [], `Parameters`: {},"
                            " `apiProfile`: `x`, `metadata`: {`_generator`: {}},"
                            " `functions`: []}"),
                          NULL));
}

static void
test_structure_syntax_errors_fail_the_load_with_path(void **state)
{
    struct ctl_tmpl_error err;
    struct ctl_tmpl *t = NULL;

    (void)state;
    /* "[concat('a'" does not end with ']', so it is a literal. */
    ctl_tmpl_free(load_ok(J("{" HDR "`resources`: [{`type`: `A.B/c`, `apiVersion`: `1`,"
                            " `name`: `n`, `properties`: {`x`: {`y`: [1, `[concat('a'`]}}}]}"),
                          NULL));
    assert_int_equal(load(J("{" HDR "`resources`: [{`type`: `A.B/c`, `apiVersion`: `1`,"
                            " `name`: `n`, `properties`: {`x`: {`y`: [1, `[concat('a']`]}}}]}"),
                          NULL, &t, &err),
                     SCC_EINVAL);
    assert_null(t);
    assert_string_equal(err.target, "resources[0].properties.x.y[1]");
    assert_non_null(strstr(err.message, "'[concat('a']' at path 'resources[0].properties.x.y[1]'"));
    load_err(J("{" HDR "`resources`: [{`type`: `A.B/c`, `apiVersion`: `1`, `name`: `n`,"
               " `properties`: {`x`: `[frobnicate()]`}}]}"),
             NULL, SCC_EINVAL, "The template function 'frobnicate' is not valid.");
    /* Comments and metadata are free text. */
    ctl_tmpl_free(load_ok(J("{" HDR "`resources`: [{`type`: `A.B/c`, `apiVersion`: `1`,"
                            " `name`: `n`, `comments`: `[not an expression]`}]}"),
                          NULL));
}

static void
test_structure_resource_shape(void **state)
{
    (void)state;
    load_err(J("{" HDR "`resources`: [{`type`: `A.B/c`, `apiVersion`: `1`}]}"), NULL, SCC_EINVAL,
             "must have a 'name' string property");
    load_err(J("{" HDR "`resources`: [1]}"), NULL, SCC_EINVAL, "must be an object");
    load_err(J("{" HDR "`resources`: [{`type`: `A.B/c`, `apiVersion`: `1`, `name`: `n`,"
               " `resources`: []}]}"),
             NULL, SCC_ENOSYS, "Nested child resources are not supported");
    load_err(J("{" HDR "`resources`: [{`type`: `A.B/c`, `apiVersion`: `1`, `name`: `n`,"
               " `scope`: `x`}]}"),
             NULL, SCC_ENOSYS, "Extension resources");
    load_err(J("{" HDR "`resources`: [{`type`: `A.B/c`, `apiVersion`: `1`, `name`: `n`,"
               " `dependsOn`: `x`}]}"),
             NULL, SCC_EINVAL, "'dependsOn' that is not an array");
}

/* --- resources ------------------------------------------------------------ */

static void
test_resources_ids_nested_types_and_segments(void **state)
{
    struct ctl_tmpl_error err;
    struct ctl_tmpl *t;
    json_t *r, *v = NULL;

    (void)state;
    t = load_ok(J("{" HDR "`resources`: [{`type`: `Microsoft.Network/virtualNetworks/subnets`,"
                  " `apiVersion`: `2023-01-01`, `name`: `[concat('vnet', '/', 'sn')]`,"
                  " `Comments`: `x`, `properties`: {`addressPrefix`: `10.0.0.0/24`}}]}"),
                NULL);
    r = eval_res(t, 0);
    assert_string_equal(json_string_value(json_object_get(r, "id")),
                        RGID "/providers/Microsoft.Network/virtualNetworks/vnet/subnets/sn");
    assert_json(json_object_get(r, "body"), "{`properties`: {`addressPrefix`: `10.0.0.0/24`}}");
    assert_eval_str(t, "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'sn')]",
                    RGID "/providers/Microsoft.Network/virtualNetworks/vnet/subnets/sn");
    assert_eval_str(t, "[resourceId('other', 'Microsoft.Network/virtualNetworks', 'v')]",
                    "/subscriptions/" SUB
                    "/resourceGroups/other/providers/Microsoft.Network/virtualNetworks/v");
    assert_eval_str(t, "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'r')]",
                    "/subscriptions/" SUB "/providers/Microsoft.Authorization/roleDefinitions/r");
    assert_int_equal(ctl_tmpl_eval_string(t,
                                          "[resourceId('Microsoft.Network/virtualNetworks/"
                                          "subnets', 'vnet')]",
                                          &v, &err),
                     SCC_EINVAL);
    assert_non_null(strstr(err.message, "needs one resource name segment per type segment"));
    json_decref(r);
    ctl_tmpl_free(t);

    t = load_ok(J("{" HDR "`resources`: [{`type`: `Microsoft.Network/virtualNetworks/subnets`,"
                  " `apiVersion`: `1`, `name`: `sn`}]}"),
                NULL);
    assert_int_equal(ctl_tmpl_resource_eval(t, 0, &v, &err), SCC_EINVAL);
    assert_null(v);
    assert_non_null(strstr(err.message, "has incorrect segment lengths"));
    assert_int_equal(ctl_tmpl_resource_eval(t, 1, &v, &err), SCC_EINVAL);
    ctl_tmpl_free(t);
}

static void
test_resources_copy_loops_and_copy_index(void **state)
{
    struct ctl_tmpl *t;
    size_t order[3];
    struct ctl_tmpl_error err;
    json_t *r;

    (void)state;
    t = load_ok(J("{" HDR "`parameters`: {`n`: {`type`: `int`, `defaultValue`: 3}},"
                  " `resources`: [{`type`: `Microsoft.Network/publicIPAddresses`,"
                  " `apiVersion`: `1`, `name`: `[concat('ip', copyIndex(1))]`,"
                  " `copy`: {`name`: `ips`, `count`: `[parameters('n')]`},"
                  " `properties`: {`i`: `[copyIndex()]`, `j`: `[copyIndex('IPS', 10)]`}}]}"),
                NULL);
    assert_int_equal(ctl_tmpl_resource_count(t), 3);
    assert_int_equal(ctl_tmpl_resource_order(t, order, &err), 0);
    assert_int_equal(order[0], 0);
    assert_int_equal(order[2], 2);
    r = eval_res(t, 2);
    assert_string_equal(json_string_value(json_object_get(r, "name")), "ip3");
    assert_json(json_object_get(r, "copy"), "{`name`: `ips`, `index`: 2}");
    assert_json(json_object_get(r, "body"), "{`properties`: {`i`: 2, `j`: 12}}");
    json_decref(r);
    ctl_tmpl_free(t);
    /* count 0 deploys nothing; a count past 800 or negative is refused. */
    t = load_ok(J("{" HDR "`resources`: [{`type`: `A.B/c`, `apiVersion`: `1`, `name`: `n`,"
                  " `copy`: {`name`: `l`, `count`: 0}}]}"),
                NULL);
    assert_int_equal(ctl_tmpl_resource_count(t), 0);
    ctl_tmpl_free(t);
    load_err(J("{" HDR "`resources`: [{`type`: `A.B/c`, `apiVersion`: `1`, `name`: `n`,"
               " `copy`: {`name`: `l`, `count`: 801}}]}"),
             NULL, SCC_ETOOBIG, "cannot exceed '800'");
    load_err(J("{" HDR "`resources`: [{`type`: `A.B/c`, `apiVersion`: `1`, `name`: `n`,"
               " `copy`: {`name`: `l`, `count`: -1}}]}"),
             NULL, SCC_EINVAL, "non-negative integer");
    load_err(J("{" HDR "`resources`: [{`type`: `A.B/c`, `apiVersion`: `1`, `name`: `n`,"
               " `copy`: {`name`: `l`, `count`: `[copyIndex()]`}}]}"),
             NULL, SCC_EINVAL, "'copyIndex' is not expected");
}

static const char *deps_tmpl =
        "{" HDR
        "`variables`: {`vnetId`: `[resourceId('Microsoft.Network/virtualNetworks', 'vnet')]`},"
        " `resources`: ["
        "  {`type`: `Microsoft.Network/networkInterfaces`, `apiVersion`: `1`,"
        "   `name`: `[concat('nic', copyIndex())]`, `copy`: {`name`: `nics`, `count`: 2},"
        "   `dependsOn`: [`[variables('vnetId')]`, `Microsoft.Network/networkSecurityGroups/nsg`]},"
        "  {`type`: `Microsoft.Compute/virtualMachines`, `apiVersion`: `1`, `name`: `vm`,"
        "   `dependsOn`: [`nics`]},"
        "  {`type`: `Microsoft.Network/virtualNetworks`, `apiVersion`: `1`, `name`: `vnet`,"
        "   `dependsOn`: [`nsg`]},"
        "  {`type`: `Microsoft.Network/networkSecurityGroups`, `apiVersion`: `1`, `name`: `nsg`}"
        " ]}";

static void
test_resources_depends_on_forms_and_order(void **state)
{
    struct ctl_tmpl *t = load_ok(J(deps_tmpl), NULL);
    struct ctl_tmpl_error err;
    size_t order[5];
    json_t *r;

    (void)state;
    assert_int_equal(ctl_tmpl_resource_count(t), 5);
    assert_int_equal(ctl_tmpl_resource_order(t, order, &err), 0);
    /* instances: 0 nic0, 1 nic1, 2 vm, 3 vnet, 4 nsg */
    assert_int_equal(order[0], 4);
    assert_int_equal(order[1], 3);
    assert_int_equal(order[2], 0);
    assert_int_equal(order[3], 1);
    assert_int_equal(order[4], 2);
    r = eval_res(t, 2);
    assert_json(json_object_get(r, "dependsOn"),
                "[`" RGID "/providers/Microsoft.Network/networkInterfaces/nic0`,"
                " `" RGID "/providers/Microsoft.Network/networkInterfaces/nic1`]");
    json_decref(r);
    r = eval_res(t, 0);
    assert_json(json_object_get(r, "dependsOn"),
                "[`" RGID "/providers/Microsoft.Network/virtualNetworks/vnet`,"
                " `" RGID "/providers/Microsoft.Network/networkSecurityGroups/nsg`]");
    json_decref(r);
    ctl_tmpl_free(t);
}

static void
test_resources_cycles_and_unknown_dependencies(void **state)
{
    struct ctl_tmpl_error err;
    struct ctl_tmpl *t;
    size_t order[3];
    json_t *r = NULL;

    (void)state;
    t = load_ok(J("{" HDR "`resources`: ["
                  " {`type`: `A.B/c`, `apiVersion`: `1`, `name`: `x`, `dependsOn`: [`z`]},"
                  " {`type`: `A.B/c`, `apiVersion`: `1`, `name`: `y`, `dependsOn`: [`x`]},"
                  " {`type`: `A.B/c`, `apiVersion`: `1`, `name`: `z`, `dependsOn`: [`y`]}]}"),
                NULL);
    assert_int_equal(ctl_tmpl_resource_order(t, order, &err), SCC_EINVAL);
    assert_non_null(strstr(err.message,
                           "Circular dependency detected on resource: '" RGID "/providers/A.B/c/"));
    ctl_tmpl_free(t);
    t = load_ok(J("{" HDR "`resources`: ["
                  " {`type`: `A.B/c`, `apiVersion`: `1`, `name`: `x`, `dependsOn`: [`x`]}]}"),
                NULL);
    assert_int_equal(ctl_tmpl_resource_order(t, order, &err), SCC_EINVAL);
    assert_non_null(strstr(err.message, "Circular dependency"));
    ctl_tmpl_free(t);
    t = load_ok(J("{" HDR "`resources`: ["
                  " {`type`: `A.B/c`, `apiVersion`: `1`, `name`: `x`, `dependsOn`: [`ghost`]}]}"),
                NULL);
    assert_int_equal(ctl_tmpl_resource_order(t, order, &err), SCC_EINVAL);
    assert_string_equal(err.target, "resources[0].dependsOn[0]");
    assert_non_null(strstr(err.message, "The resource 'ghost' is not defined in the template."));
    assert_int_equal(ctl_tmpl_resource_eval(t, 0, &r, &err), SCC_EINVAL);
    assert_null(r);
    ctl_tmpl_free(t);
}

static void
test_resources_serial_copy_waits_for_previous_batch(void **state)
{
    struct ctl_tmpl *t;
    json_t *r;

    (void)state;
    t = load_ok(J("{" HDR "`resources`: [{`type`: `A.B/c`, `apiVersion`: `1`,"
                  " `name`: `[string(copyIndex())]`,"
                  " `copy`: {`name`: `l`, `count`: 5, `mode`: `Serial`, `batchSize`: 2}}]}"),
                NULL);
    r = eval_res(t, 1);
    assert_json(json_object_get(r, "dependsOn"), "[]");
    json_decref(r);
    r = eval_res(t, 3);
    assert_json(json_object_get(r, "dependsOn"),
                "[`" RGID "/providers/A.B/c/0`, `" RGID "/providers/A.B/c/1`]");
    json_decref(r);
    r = eval_res(t, 4);
    assert_json(json_object_get(r, "dependsOn"),
                "[`" RGID "/providers/A.B/c/2`, `" RGID "/providers/A.B/c/3`]");
    json_decref(r);
    ctl_tmpl_free(t);
}

static void
test_resources_duplicate_ids_are_rejected(void **state)
{
    struct ctl_tmpl_error err;
    struct ctl_tmpl *t;
    size_t order[2];

    (void)state;
    t = load_ok(J("{" HDR "`resources`: [{`type`: `A.B/c`, `apiVersion`: `1`, `name`: `x`},"
                  " {`type`: `a.b/C`, `apiVersion`: `2`, `name`: `X`}]}"),
                NULL);
    assert_int_equal(ctl_tmpl_resource_order(t, order, &err), SCC_EINVAL);
    assert_non_null(strstr(err.message, "is defined multiple times in a template"));
    ctl_tmpl_free(t);
    /* Allowed when conditions may pick one. */
    t = load_ok(J("{" HDR "`resources`: [{`type`: `A.B/c`, `apiVersion`: `1`, `name`: `x`,"
                  " `condition`: true}, {`type`: `A.B/c`, `apiVersion`: `2`, `name`: `x`,"
                  " `condition`: false}]}"),
                NULL);
    assert_int_equal(ctl_tmpl_resource_order(t, order, &err), 0);
    ctl_tmpl_free(t);
}

static void
test_resources_false_condition_skips_body(void **state)
{
    struct ctl_tmpl *t;
    json_t *r;

    (void)state;
    t = load_ok(
            J("{" HDR "`parameters`: {`on`: {`type`: `bool`, `defaultValue`: false}},"
              " `resources`: [{`type`: `A.B/c`, `apiVersion`: `[if(parameters('on'), '2', '1')]`,"
              " `name`: `x`, `condition`: `[parameters('on')]`,"
              " `properties`: {`bad`: `[variables('missing')]`}}]}"),
            NULL);
    r = eval_res(t, 0);
    assert_json(r, "{`type`: `A.B/c`, `apiVersion`: `1`, `name`: `x`, `condition`: false,"
                   " `dependsOn`: [], `id`: `" RGID "/providers/A.B/c/x`, `body`: {}}");
    json_decref(r);
    ctl_tmpl_free(t);
}

static void
test_resources_property_copy_expands(void **state)
{
    struct ctl_tmpl *t;
    json_t *r;

    (void)state;
    t = load_ok(J("{" HDR "`resources`: [{`type`: `A.B/c`, `apiVersion`: `1`, `name`: `vm`,"
                  " `location`: `[resourceGroup().location]`, `tags`: {`k`: `v`},"
                  " `properties`: {`storage`: {`copy`: [{`name`: `dataDisks`, `count`: 2,"
                  "  `input`: {`lun`: `[copyIndex('dataDisks')]`, `name`: `[concat('d', "
                  "string(copyIndex('dataDisks', 1)))]`}}],"
                  "  `os`: `linux`}}}]}"),
                NULL);
    r = eval_res(t, 0);
    assert_json(json_object_get(r, "body"),
                "{`location`: `eastus`, `tags`: {`k`: `v`}, `properties`: {`storage`: {"
                " `dataDisks`: [{`lun`: 0, `name`: `d1`}, {`lun`: 1, `name`: `d2`}],"
                " `os`: `linux`}}}");
    json_decref(r);
    ctl_tmpl_free(t);
}

/* --- reference() ---------------------------------------------------------- */

static int ref_calls;

static json_t *
fake_reference(void *arg, const char *id, const char *api_version)
{
    (void)arg;
    ref_calls++;
    if (strstr(id, "/storageAccounts/sa") == NULL)
        return NULL;
    assert_true(api_version == NULL || strcmp(api_version, "2023-01-01") == 0);
    return json_pack("{s:s, s:s, s:{s:{s:s}}}", "id", id, "name", "sa", "properties",
                     "primaryEndpoints", "blob", "https://sa.blob/");
}

static const char *ref_tmpl =
        "{" HDR "`resources`: ["
        " {`type`: `Microsoft.Storage/storageAccounts`, `apiVersion`: `2023-01-01`, `name`: `sa`},"
        " {`type`: `A.B/c`, `apiVersion`: `1`, `name`: `x`, `dependsOn`: [`sa`],"
        "  `properties`: {`blob`: `[reference('sa').primaryEndpoints.blob]`}}],"
        " `outputs`: {`full`: {`type`: `string`,"
        "   `value`: `[reference(resourceId('Microsoft.Storage/storageAccounts', 'sa'),"
        " '2023-01-01', 'Full').name]`},"
        "  `ep`: {`type`: `object`, `value`: `[reference('sa').primaryEndpoints]`}}}";

static void
test_reference_reads_deployed_state_through_callback(void **state)
{
    struct ctl_tmpl *t;
    struct ctl_tmpl_error err;
    json_t *r, *out = NULL;

    (void)state;
    scope.reference = fake_reference;
    t = load_ok(J(ref_tmpl), NULL);
    scope.reference = NULL;
    r = eval_res(t, 1);
    assert_json(json_object_get(r, "body"), "{`properties`: {`blob`: `https://sa.blob/`}}");
    json_decref(r);
    assert_int_equal(ctl_tmpl_outputs_eval(t, &out, &err), 0);
    assert_json(out, "{`full`: {`type`: `String`, `value`: `sa`},"
                     " `ep`: {`type`: `Object`, `value`: {`blob`: `https://sa.blob/`}}}");
    json_decref(out);
    ctl_tmpl_free(t);
}

static void
test_reference_unavailable_or_missing(void **state)
{
    struct ctl_tmpl *t;
    struct ctl_tmpl_error err;
    json_t *r = NULL;

    (void)state;
    t = load_ok(J(ref_tmpl), NULL);
    assert_int_equal(ctl_tmpl_resource_eval(t, 1, &r, &err), SCC_EUNAVAIL);
    assert_null(r);
    assert_non_null(strstr(err.message, "resource state is not available"));
    /* The resource not using reference() still evaluates. */
    r = eval_res(t, 0);
    json_decref(r);
    ctl_tmpl_free(t);

    scope.reference = fake_reference;
    t = load_ok(J("{" HDR "`resources`: [{`type`: `A.B/c`, `apiVersion`: `1`, `name`: `x`,"
                  " `properties`: {`v`: `[reference(resourceId('A.B/d', 'gone')).x]`}}]}"),
                NULL);
    scope.reference = NULL;
    assert_int_equal(ctl_tmpl_resource_eval(t, 0, &r, &err), SCC_ENOTFOUND);
    assert_string_equal(err.code, "ResourceNotFound");
    assert_string_equal(err.message,
                        "The Resource 'A.B/d/gone' under resource group 'rg1' was not found. For "
                        "more details please go to https://aka.ms/ARMResourceNotFoundFix");
    ctl_tmpl_free(t);
    /* reference() is not allowed in variables, even when an output uses them. */
    scope.reference = fake_reference;
    t = load_ok(J("{" HDR "`variables`: {`v`: `[reference('x')]`}, `resources`: [],"
                  " `outputs`: {`o`: {`type`: `string`, `value`: `[variables('v')]`}}}"),
                NULL);
    scope.reference = NULL;
    assert_int_equal(ctl_tmpl_outputs_eval(t, &r, &err), SCC_EINVAL);
    assert_null(r);
    assert_non_null(strstr(err.message, "The template function 'reference' is not expected"));
    ctl_tmpl_free(t);
}

/* reference() to a template resource orders it first, without dependsOn,
 * as in ARM; arguments needing deployed state or naming nothing add none. */
static void
test_reference_is_an_implicit_dependency(void **state)
{
    struct ctl_tmpl_res_info info;
    struct ctl_tmpl_error err;
    struct ctl_tmpl *t;
    size_t order[4];
    json_t *r;

    (void)state;
    t = load_ok(J("{" HDR "`variables`: {`b`: `bee`}, `resources`: ["
                  " {`type`: `A.B/c`, `apiVersion`: `1`, `name`: `a`,"
                  "  `properties`: {`x`: [`[reference(variables('b')).v]`]}},"
                  " {`type`: `A.B/c`, `apiVersion`: `1`, `name`: `d`,"
                  "  `condition`: `[equals(reference(resourceId('A.B/c', 'a')).v, 1)]`,"
                  "  `properties`: {`y`: `[reference(reference('a').other).v]`}},"
                  " {`type`: `A.B/c`, `apiVersion`: `1`, `name`: `bee`,"
                  "  `comments`: `[reference('d')]`},"
                  " {`type`: `A.B/c`, `apiVersion`: `1`, `name`: `e`,"
                  "  `properties`: {`z`: `[reference('/subscriptions/x/other').v]`}}]}"),
                NULL);
    assert_int_equal(ctl_tmpl_resource_order(t, order, &err), 0);
    /* bee (2) before a (0) before d (1); e (3) depends on nothing. */
    assert_int_equal(order[0], 2);
    assert_int_equal(order[1], 0);
    assert_int_equal(order[2], 1);
    assert_int_equal(order[3], 3);
    assert_int_equal(ctl_tmpl_resource_info(t, 1, &info, &err), 0);
    assert_int_equal(info.ndeps, 1);
    assert_int_equal(info.deps[0], 0);
    assert_string_equal(info.type, "A.B/c");
    assert_string_equal(info.name, "d");
    assert_string_equal(info.id, RGID "/providers/A.B/c/d");
    assert_int_equal(ctl_tmpl_resource_info(t, 2, &info, &err), 0);
    assert_int_equal(info.ndeps, 0); /* comments are never evaluated */
    assert_int_equal(ctl_tmpl_resource_info(t, 3, &info, &err), 0);
    assert_int_equal(info.ndeps, 0);
    assert_int_equal(ctl_tmpl_resource_info(t, 4, &info, &err), SCC_EINVAL);
    assert_null(info.id);
    r = eval_res(t, 2);
    assert_json(json_object_get(r, "dependsOn"), "[]");
    json_decref(r);
    ctl_tmpl_free(t);
    /* Two resources referencing each other are a cycle. */
    t = load_ok(J("{" HDR "`resources`: ["
                  " {`type`: `A.B/c`, `apiVersion`: `1`, `name`: `p`,"
                  "  `properties`: {`v`: `[reference('q').v]`}},"
                  " {`type`: `A.B/c`, `apiVersion`: `1`, `name`: `q`,"
                  "  `properties`: {`v`: `[reference('p').v]`}}]}"),
                NULL);
    assert_int_equal(ctl_tmpl_resource_order(t, order, &err), SCC_EINVAL);
    assert_non_null(strstr(err.message, "Circular dependency"));
    ctl_tmpl_free(t);
}

/* --- outputs -------------------------------------------------------------- */

static void
test_outputs_types_conditions_copy_and_secure(void **state)
{
    struct ctl_tmpl *t;
    struct ctl_tmpl_error err;
    json_t *out = NULL;

    (void)state;
    t = load_ok(J("{" HDR "`parameters`: {`pw`: {`type`: `securestring`, `defaultValue`: `x`}},"
                  " `resources`: [], `outputs`: {"
                  " `s`: {`type`: `String`, `value`: `[resourceGroup().name]`},"
                  " `n`: {`type`: `int`, `value`: `[length('abc')]`},"
                  " `skip`: {`type`: `string`, `condition`: `[equals(1, 2)]`, `value`: `x`},"
                  " `list`: {`type`: `array`, `copy`: {`count`: 2,"
                  "  `input`: `[concat('i', string(copyIndex()))]`}},"
                  " `secret`: {`type`: `securestring`, `value`: `[parameters('pw')]`},"
                  " `sub`: {`type`: `object`, `value`: `[subscription()]`},"
                  " `dep`: {`type`: `string`, `value`: `[deployment().name]`}}}"),
                NULL);
    assert_int_equal(ctl_tmpl_outputs_eval(t, &out, &err), 0);
    assert_json(out, "{`s`: {`type`: `String`, `value`: `rg1`},"
                     " `n`: {`type`: `Int`, `value`: 3},"
                     " `list`: {`type`: `Array`, `value`: [`i0`, `i1`]},"
                     " `secret`: {`type`: `SecureString`},"
                     " `sub`: {`type`: `Object`, `value`: {`id`: `/subscriptions/" SUB "`,"
                     "  `subscriptionId`: `" SUB "`,"
                     "  `tenantId`: `22222222-2222-2222-2222-222222222222`,"
                     "  `displayName`: `Test subscription`}},"
                     " `dep`: {`type`: `String`, `value`: `dep1`}}");
    json_decref(out);
    ctl_tmpl_free(t);
    t = load_ok(J("{" HDR "`resources`: [], `outputs`: {`o`: {`type`: `int`, `value`: `x`}}}"),
                NULL);
    assert_int_equal(ctl_tmpl_outputs_eval(t, &out, &err), SCC_EINVAL);
    assert_null(out);
    assert_non_null(strstr(err.message, "template output 'o' is not valid"));
    ctl_tmpl_free(t);
    load_err(J("{" HDR "`resources`: [], `outputs`: {`o`: {`type`: `int`}}}"), NULL, SCC_EINVAL,
             "must have a 'value'");
}

/* --- limits ----------------------------------------------------------------- */

static void
test_limits_ten_megabyte_template_is_rejected_cheaply(void **state)
{
    size_t n = 10u << 20;
    char *big = malloc(n + 1);
    json_t *tmpl = J("{" HDR "`resources`: []}");
    clock_t t0;

    (void)state;
    memset(big, 'x', n);
    big[n] = '\0';
    json_object_set_new(tmpl, "variables", json_pack("{s:s}", "v", big));
    free(big);
    t0 = clock();
    load_err(tmpl, NULL, SCC_ETOOBIG, "The template is larger than the limit of '4194304' bytes.");
    assert_true(clock() - t0 < 2 * CLOCKS_PER_SEC); /* generous for valgrind */
}

static json_t *
with_many(const char *section, size_t n, const char *pre, const char *post)
{
    json_t *tmpl = J("{" HDR "`resources`: []}");
    json_t *sec = strcmp(section, "resources") == 0 ? json_array() : json_object();
    char key[32], text[200];

    for (size_t i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "k%zu", i);
        snprintf(text, sizeof(text), "%s%zu%s", pre, i, post);
        if (json_is_array(sec))
            json_array_append_new(sec, J(text));
        else
            json_object_set_new(sec, key, J(text));
    }
    json_object_set_new(tmpl, section, sec);
    return tmpl;
}

static void
test_limits_counts(void **state)
{
    (void)state;
    load_err(with_many("parameters", 257, "{`type`: `int`, `defaultValue`: ", "}"), NULL,
             SCC_ETOOBIG, "number of template parameters '257' exceeds the limit of '256'");
    ctl_tmpl_free(
            load_ok(with_many("parameters", 256, "{`type`: `int`, `defaultValue`: ", "}"), NULL));
    load_err(with_many("variables", 257, "", ""), NULL, SCC_ETOOBIG, "'256'");
    load_err(with_many("outputs", 65, "{`type`: `int`, `value`: ", "}"), NULL, SCC_ETOOBIG, "'64'");
    load_err(with_many("resources", 801, "{`type`: `A.B/c`, `apiVersion`: `1`, `name`: `n", "`}"),
             NULL, SCC_ETOOBIG, "'800'");
    load_err(J("{" HDR "`resources`: [{`type`: `A.B/c`, `apiVersion`: `1`, `name`: `a`,"
               " `copy`: {`name`: `a`, `count`: 500}}, {`type`: `A.B/c`, `apiVersion`: `1`,"
               " `name`: `b`, `copy`: {`name`: `b`, `count`: 301}}]}"),
             NULL, SCC_ETOOBIG, "more than '800' resources after copy expansion");
}

static void
test_limits_deep_nesting(void **state)
{
    json_t *tmpl = J("{" HDR "`resources`: []}"), *v = json_object(), *top = v;

    (void)state;
    for (int i = 0; i < 100; i++) {
        json_t *kid = json_object();

        json_object_set_new(v, "a", kid);
        v = kid;
    }
    json_object_set_new(tmpl, "variables", json_pack("{s:o}", "deep", top));
    load_err(tmpl, NULL, SCC_ETOOBIG, "nested deeper than the limit of '64' levels");
}

static void
test_limits_doubling_stops_at_the_member_cap(void **state)
{
    json_t *tmpl = J("{" HDR "`resources`: []}"), *vars = json_object();
    struct ctl_tmpl_error err;
    struct ctl_tmpl *t;
    json_t *v = NULL;
    char name[16], expr[64];

    (void)state;
    json_object_set_new(vars, "v0", json_string("[createArray(1, 2, 3, 4, 5, 6, 7, 8)]"));
    for (int i = 1; i < 60; i++) {
        snprintf(name, sizeof(name), "v%d", i);
        snprintf(expr, sizeof(expr), "[concat(variables('v%d'), variables('v%d'))]", i - 1, i - 1);
        json_object_set_new(vars, name, json_string(expr));
    }
    json_object_set_new(tmpl, "variables", vars);
    t = load_ok(tmpl, NULL);
    assert_int_equal(ctl_tmpl_eval_string(t, "[length(variables('v59'))]", &v, &err), SCC_ETOOBIG);
    assert_null(v);
    assert_non_null(strstr(err.message, "more than the limit of '65536' members"));
    ctl_tmpl_free(t);
}

static void
test_limits_work_budget_stops_nested_loops(void **state)
{
    struct ctl_tmpl_error err;
    struct ctl_tmpl *t;
    json_t *v = NULL;

    (void)state;
    /* 800 x 800 iterations: small values, but far more work than allowed. */
    t = load_ok(J("{" HDR "`variables`: {`x`: {`copy`: [{`name`: `a`, `count`: 800, `input`:"
                  " {`copy`: [{`name`: `b`, `count`: 800, `input`:"
                  " `[concat(string(copyIndex('a')), string(copyIndex('b')))]`}]}}]}},"
                  " `resources`: []}"),
                NULL);
    assert_int_equal(ctl_tmpl_eval_string(t, "[variables('x')]", &v, &err), SCC_ETOOBIG);
    assert_null(v);
    assert_non_null(strstr(err.message, "exceeded the work limit"));
    ctl_tmpl_free(t);
}

static void
test_hash_is_stable_decimal(void **state)
{
    json_t *a = fixture(), *b = fixture();
    char h1[21], h2[21], h3[21];

    (void)state;
    assert_int_equal(ctl_tmpl_hash(a, h1), 0);
    assert_int_equal(ctl_tmpl_hash(b, h2), 0);
    assert_string_equal(h1, h2);
    assert_true(strspn(h1, "0123456789") == strlen(h1) && strlen(h1) > 0);
    json_object_set_new(b, "contentVersion", json_string("1.0.0.1"));
    assert_int_equal(ctl_tmpl_hash(b, h3), 0);
    assert_string_not_equal(h1, h3);
    assert_int_equal(ctl_tmpl_hash(json_object_get(a, "resources"), h3), SCC_EINVAL);
    json_decref(a);
    json_decref(b);
}

/* --- allocation failures ---------------------------------------------------- */

/* Load and evaluate everything; 0 or an error code, never a crash or leak. */
static int
run_all(json_t *tmpl, json_t *params)
{
    struct ctl_tmpl_error err;
    struct ctl_tmpl *t = NULL;
    size_t order[8];
    json_t *v = NULL;
    int rc;

    if ((rc = ctl_tmpl_load(tmpl, params, &scope, &t, &err)) < 0) {
        assert_null(t);
        assert_true(err.code[0] != '\0');
        return rc;
    }
    if ((rc = ctl_tmpl_resource_order(t, order, &err)) < 0)
        goto out;
    for (size_t i = 0; i < ctl_tmpl_resource_count(t); i++) {
        if ((rc = ctl_tmpl_resource_eval(t, i, &v, &err)) < 0)
            goto out;
        json_decref(v);
    }
    if ((rc = ctl_tmpl_outputs_eval(t, &v, &err)) < 0)
        goto out;
    json_decref(v);
    if ((v = ctl_tmpl_parameters_echo(t)) == NULL) {
        ctl_tmpl_free(t);
        return SCC_ENOMEM;
    }
    json_decref(v);
out:
    assert_true(rc == 0 || err.code[0] != '\0');
    ctl_tmpl_free(t);
    return rc;
}

static void
alloc_loop(json_t *tmpl, json_t *params)
{
    unsigned long n;
    int rc, failed;

    for (n = 1;; n++) {
        scc_mem_fail_at(n);
        rc = run_all(tmpl, params);
        failed = scc_mem_failed();
        scc_mem_fail_at(0);
        if (!failed) {
            assert_int_equal(rc, 0);
            break;
        }
        /* jansson reports its own allocation failure inside json() as bad
         * JSON, and the reference callback's as an unknown resource. */
        assert_true(rc == 0 || rc == SCC_ENOMEM || rc == SCC_EINVAL || rc == SCC_ENOTFOUND);
    }
    assert_true(n > 10);
}

static void
test_alloc_failures_seed_template(void **state)
{
    json_t *tmpl = fixture(), *params = J("{`workspaceName`: {`value`: `ws1`}}");

    (void)state;
    alloc_loop(tmpl, params);
    json_decref(tmpl);
    json_decref(params);
}

static void
test_alloc_failures_loops_outputs_and_references(void **state)
{
    json_t *tmpl = J(deps_tmpl), *tmpl2;

    (void)state;
    alloc_loop(tmpl, NULL);
    json_decref(tmpl);
    scope.reference = fake_reference;
    tmpl2 = J(ref_tmpl);
    alloc_loop(tmpl2, NULL);
    json_decref(tmpl2);
    tmpl2 = J(
            "{" HDR "`parameters`: {`o`: {`type`: `object`, `defaultValue`: {`a`: [1, 2]}}},"
            " `variables`: {`x`: {`copy`: [{`name`: `l`, `count`: 2, `input`: "
            "`[copyIndex('l')]`}]}},"
            " `resources`: [{`type`: `A.B/c`, `apiVersion`: `1`, `name`: `[format('n{0}', "
            "copyIndex())]`,"
            "  `copy`: {`name`: `c`, `count`: 2, `mode`: `serial`},"
            "  `properties`: {`p`: `[union(parameters('o'), variables('x'))]`}}],"
            " `outputs`: {`o`: {`type`: `array`, `copy`: {`count`: 2, `input`: `[guid('x')]`}}}}");
    alloc_loop(tmpl2, NULL);
    json_decref(tmpl2);
    scope.reference = NULL;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_seed_template_defaults_match_arm_body),
            cmocka_unit_test(test_seed_template_overrides),
            cmocka_unit_test(test_seed_template_rejects_pricing_tier_outside_allowed_values),
            cmocka_unit_test(test_seed_template_allowed_values_ignore_case),
            cmocka_unit_test(test_seed_template_rg_casing_feeds_unique_string),
            cmocka_unit_test(test_seed_template_missing_workspace_name),
            cmocka_unit_test(test_seed_shaped_error_names_path_and_expression),
            cmocka_unit_test(test_params_bool_given_string_is_rejected),
            cmocka_unit_test(test_params_undeclared_parameter_is_rejected),
            cmocka_unit_test(test_params_key_vault_reference_is_unsupported),
            cmocka_unit_test(test_params_malformed_entry_is_invalid_request_content),
            cmocka_unit_test(test_params_types_are_case_insensitive_and_strict),
            cmocka_unit_test(test_params_defaults_are_lazy_expressions_with_cycle_check),
            cmocka_unit_test(test_params_min_max_value_and_length),
            cmocka_unit_test(test_params_secure_values_stay_out_of_messages),
            cmocka_unit_test(test_vars_are_lazy_cached_and_case_insensitive),
            cmocka_unit_test(test_vars_missing_and_cyclic_are_errors),
            cmocka_unit_test(test_vars_copy_section_is_rejected),
            cmocka_unit_test(test_vars_object_copy_iterates),
            cmocka_unit_test(test_structure_required_and_unknown_keys),
            cmocka_unit_test(test_structure_syntax_errors_fail_the_load_with_path),
            cmocka_unit_test(test_structure_resource_shape),
            cmocka_unit_test(test_resources_ids_nested_types_and_segments),
            cmocka_unit_test(test_resources_copy_loops_and_copy_index),
            cmocka_unit_test(test_resources_depends_on_forms_and_order),
            cmocka_unit_test(test_resources_cycles_and_unknown_dependencies),
            cmocka_unit_test(test_resources_serial_copy_waits_for_previous_batch),
            cmocka_unit_test(test_resources_duplicate_ids_are_rejected),
            cmocka_unit_test(test_resources_ambiguous_names),
            cmocka_unit_test(test_resources_false_condition_skips_body),
            cmocka_unit_test(test_resources_property_copy_expands),
            cmocka_unit_test(test_reference_reads_deployed_state_through_callback),
            cmocka_unit_test(test_reference_unavailable_or_missing),
            cmocka_unit_test(test_reference_is_an_implicit_dependency),
            cmocka_unit_test(test_outputs_types_conditions_copy_and_secure),
            cmocka_unit_test(test_limits_ten_megabyte_template_is_rejected_cheaply),
            cmocka_unit_test(test_limits_counts),
            cmocka_unit_test(test_limits_deep_nesting),
            cmocka_unit_test(test_limits_doubling_stops_at_the_member_cap),
            cmocka_unit_test(test_limits_work_budget_stops_nested_loops),
            cmocka_unit_test(test_hash_is_stable_decimal),
            cmocka_unit_test(test_alloc_failures_seed_template),
            cmocka_unit_test(test_alloc_failures_loops_outputs_and_references),
    };

    return cmocka_run_group_tests(tests, json_alloc_setup, NULL);
}
