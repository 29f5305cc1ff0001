/*
 * Fuzz the template expression language: the input is one template
 * string value, evaluated as written and again wrapped in "[...]", in the
 * context of a small template with parameters, variables, a copy loop and
 * a reference() callback, and without any context.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/ctl_tmpl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char context[] =
        "{\"contentVersion\": \"1.0.0.0\","
        " \"parameters\": {\"n\": {\"type\": \"int\", \"defaultValue\": 2},"
        "  \"workspaceName\": {\"type\": \"string\", \"defaultValue\": \"ws1\"},"
        "  \"o\": {\"type\": \"object\", \"defaultValue\": {\"a\": [1, {\"b\": \"x\"}]}}},"
        " \"variables\": {\"obj\": {\"list\": [\"[parameters('workspaceName')]\"], \"k\": true},"
        "  \"managedResourceGroupName\": \"[concat('rg-', uniqueString(resourceGroup().id))]\"},"
        " \"resources\": [{\"type\": \"Microsoft.Storage/storageAccounts\","
        "  \"apiVersion\": \"2023-01-01\", \"name\": \"sa\"}]}";

static json_t *
fake_reference(void *arg, const char *id, const char *api_version)
{
    (void)arg, (void)api_version;
    return json_pack("{s:s, s:{s:i}}", "id", id, "properties", "x", 1);
}

static void
eval(struct ctl_tmpl *t, const char *s)
{
    struct ctl_tmpl_error err;
    json_t *v = NULL;

    if (ctl_tmpl_eval_string(t, s, &v, &err) == 0) {
        char *dump = json_dumps(v, JSON_ENCODE_ANY); /* the result must serialise */

        if (dump == NULL)
            __builtin_trap();
        free(dump);
    } else if (v != NULL || err.code[0] == '\0') {
        __builtin_trap(); /* failures leave no value and always explain */
    }
    json_decref(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *tmpl;
    struct ctl_tmpl_scope scope = {
            .subscription_id = "11111111-1111-1111-1111-111111111111",
            .rg_name = "rg1",
            .rg_location = "eastus",
            .reference = fake_reference,
    };
    struct ctl_tmpl *t = NULL;
    char *s = malloc(size + 3);

    if (tmpl == NULL && (tmpl = json_loads(context, 0, NULL)) == NULL)
        __builtin_trap();
    /* A fresh template each time: its work budget lasts its lifetime. */
    if (s == NULL || ctl_tmpl_load(tmpl, NULL, &scope, &t, NULL) != 0)
        __builtin_trap();
    s[0] = '[';
    memcpy(s + 1, data, size);
    s[size + 1] = '\0';
    eval(t, s + 1);
    eval(NULL, s + 1);
    s[size + 1] = ']';
    s[size + 2] = '\0';
    eval(t, s);
    ctl_tmpl_free(t);
    free(s);
    return 0;
}
