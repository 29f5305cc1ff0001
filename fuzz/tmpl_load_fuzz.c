/*
 * Fuzz the template loader and everything after it.  The input is JSON:
 * {"template": {...}, "parameters": {...}} as a deployment carries them,
 * or a bare template.  A loaded template is ordered, every resource and
 * the outputs are evaluated, the parameters echoed and the hash taken.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/json.h"
#include "control/ctl_tmpl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *
fake_reference(void *arg, const char *id, const char *api_version)
{
    (void)arg, (void)api_version;
    if (id[0] == '\0' || id[1] == 'x')
        return NULL;
    return json_pack("{s:s, s:{s:s}}", "id", id, "properties", "state", "ok");
}

static void
check(int rc, const json_t *v, const struct ctl_tmpl_error *err)
{
    /* Failures leave no value and always explain themselves. */
    if ((rc == 0) != (v != NULL) || (rc != 0 && err->code[0] == '\0'))
        __builtin_trap();
}

static void
run(struct ctl_tmpl *t)
{
    size_t n = ctl_tmpl_resource_count(t), order[CTL_TMPL_MAX_RESOURCES];
    struct ctl_tmpl_error err;
    json_t *v = NULL;
    int rc;

    if (n > CTL_TMPL_MAX_RESOURCES)
        __builtin_trap();
    (void)ctl_tmpl_resource_order(t, order, &err); /* an error here is a fine outcome */
    for (size_t i = 0; i < n; i++) {
        rc = ctl_tmpl_resource_eval(t, i, &v, &err);
        check(rc, v, &err);
        json_decref(v);
        v = NULL;
    }
    rc = ctl_tmpl_outputs_eval(t, &v, &err);
    check(rc, v, &err);
    json_decref(v);
    json_decref(ctl_tmpl_parameters_echo(t));
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
            .reference = fake_reference,
    };
    struct ctl_tmpl_error err;
    struct ctl_tmpl *t = NULL;
    json_t *doc = NULL, *tmpl, *params = NULL;
    char hash[21];

    if (scc_json_parse(data, size, 1u << 20, &doc, NULL, 0) != 0)
        return 0;
    tmpl = doc;
    if (json_is_object(json_object_get(doc, "template"))) {
        tmpl = json_object_get(doc, "template");
        params = json_object_get(doc, "parameters");
    }
    (void)ctl_tmpl_hash(tmpl, hash);
    if (ctl_tmpl_load(tmpl, params, &scope, &t, &err) == 0)
        run(t);
    else if (t != NULL || err.code[0] == '\0')
        __builtin_trap();
    ctl_tmpl_free(t);
    json_decref(doc);
    return 0;
}
