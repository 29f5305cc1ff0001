/*
 * cli_deploy.c - sccctl deployment: ARM template deployments.
 *
 * create sends the template and its parameters in one PUT and, unless
 * --no-wait, follows the deployment: one progress line per resource state
 * change (read from the deployment's operations), then the outcome and
 * the outputs.  Parameters come as k=v (typed by the template's declared
 * parameter types, as az does), as an ARM parameter file (@file, either
 * {"parameters": {"x": {"value": ...}}} with $schema/contentVersion, or
 * the bare {"x": {"value": ...}} object), or as that JSON inline; later
 * ones win.
 */
#include "cli_deploy.h"

#include "cli_arm.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/file.h"
#include "common/json.h"
#include "common/parse.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define API_RES    "2025-03-01"
#define FILE_MAX   (64u << 20) /* the API refuses bodies over 4 MiB; it says so itself */
#define WAIT_MAX_S 3600
#define POLL_MS    250
#define MAX_PARAMS 64

static const char help[] =
        "usage: sccctl deployment create -g GROUP --template-file FILE [--name NAME]\n"
        "              [--parameters K=V | @FILE | JSON]... [--mode Incremental] [--no-wait]\n"
        "       sccctl deployment validate -g GROUP --template-file FILE [--name NAME]\n"
        "              [--parameters ...]...\n"
        "       sccctl deployment show NAME -g GROUP\n"
        "       sccctl deployment list -g GROUP\n"
        "       sccctl deployment operations NAME -g GROUP\n"
        "       sccctl deployment cancel NAME -g GROUP\n"
        "       sccctl deployment delete NAME -g GROUP\n"
        "       sccctl deployment export NAME -g GROUP\n"
        "\n"
        "Deploys an ARM template to a resource group (Incremental mode: the template's\n"
        "resources are created or updated in place; nothing else is touched).  create waits\n"
        "and prints each resource's state as it changes, then the outputs; it exits 0 when\n"
        "the deployment Succeeded and 1 when it failed (the failed resources and why are\n"
        "printed).  --parameters K=V is typed by the template's declaration (int, bool,\n"
        "object and array values are parsed); @FILE reads an ARM parameter file; both\n"
        "may repeat, later ones win.  NAME defaults to the template file's name.  delete\n"
        "forgets the deployment's history; its resources stay.\n"
        "Common options: --token T --api URL --ca FILE --output json|table --quiet\n";

struct dopts {
    const char *pos[2];
    int npos;
    const char *tmpl_file, *name, *mode;
    const char *params[MAX_PARAMS];
    int nparams;
    bool no_wait;
};

static const char *
or_else(const char *s, const char *dflt)
{
    return s != NULL ? s : dflt;
}

static int
usage_err(const char *why, const char *arg)
{
    fprintf(stderr, "sccctl: deployment: %s%s%s\n", why, arg ? ": " : "", arg ? arg : "");
    return CLI_USAGE;
}

static int
take_opt(struct dopts *o, const char *name, const char *val)
{
    if (strcmp(name, "--template-file") == 0 || strcmp(name, "-f") == 0)
        o->tmpl_file = val;
    else if (strcmp(name, "--name") == 0 || strcmp(name, "-n") == 0)
        o->name = val;
    else if (strcmp(name, "--mode") == 0)
        o->mode = val;
    else if (strcmp(name, "--parameters") == 0 || strcmp(name, "-p") == 0) {
        if (o->nparams == MAX_PARAMS)
            return usage_err("too many --parameters", NULL);
        o->params[o->nparams++] = val;
    } else {
        return usage_err("unknown option", name);
    }
    return 0;
}

static int
parse_opts(int argc, char **argv, struct dopts *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--no-wait") == 0) {
            o->no_wait = true;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            if (i + 1 >= argc)
                return usage_err("missing value", argv[i]);
            if (take_opt(o, argv[i], argv[i + 1]) != 0)
                return CLI_USAGE;
            i++;
        } else if (o->npos == 2) {
            return usage_err("unexpected argument", argv[i]);
        } else {
            o->pos[o->npos++] = argv[i];
        }
    }
    return 0;
}

/* ---- the template and its parameters ---- */

static json_t *
load_json(const char *path, const char *what)
{
    struct scc_buf b;
    char why[200];
    json_t *v = NULL;
    int rc;

    scc_buf_init(&b, FILE_MAX);
    if ((rc = scc_file_read(path, FILE_MAX, &b)) < 0)
        fprintf(stderr, "sccctl: %s %s: %s\n", what, path,
                rc == SCC_ETOOBIG ? "larger than 64 MiB" : strerror(-rc));
    else if (scc_json_parse(b.data, b.len, FILE_MAX, &v, why, sizeof(why)) < 0)
        fprintf(stderr, "sccctl: %s %s: not valid JSON: %s\n", what, path, why);
    scc_buf_fini(&b);
    return v;
}

/* The declared type of a template parameter, lowercase; "" if undeclared. */
static void
declared_type(const json_t *tmpl, const char *name, char *out, size_t cap)
{
    const char *t = json_string_value(
            scc_json_iget(scc_json_iget(scc_json_iget(tmpl, "parameters"), name), "type"));
    size_t i = 0;

    for (; t != NULL && t[i] != '\0' && i + 1 < cap; i++)
        out[i] = (char)(t[i] >= 'A' && t[i] <= 'Z' ? t[i] - 'A' + 'a' : t[i]);
    out[i] = '\0';
}

/* A signed 64-bit integer, as ARM's int parameters are. */
static json_t *
int_value(const char *v)
{
    bool neg = v[0] == '-';
    uint64_t u;

    if (scc_parse_u64(v + neg, 0, (uint64_t)INT64_MAX + neg, &u) < 0)
        return NULL;
    if (!neg)
        return json_integer((json_int_t)u);
    return json_integer(u > (uint64_t)INT64_MAX ? INT64_MIN : -(json_int_t)u);
}

/* K=V, typed as the template declares K. */
static json_t *
typed_value(const json_t *tmpl, const char *name, const char *v)
{
    char type[32];
    bool b;

    declared_type(tmpl, name, type, sizeof(type));
    if (strcmp(type, "int") == 0)
        return int_value(v);
    if (strcmp(type, "bool") == 0)
        return scc_parse_bool(v, &b) == 0 ? json_boolean(b) : NULL;
    if (strcmp(type, "object") == 0 || strcmp(type, "secureobject") == 0 ||
        strcmp(type, "array") == 0)
        return json_loads(v, JSON_DECODE_ANY, NULL);
    return json_string(v);
}

/* Set params[name] = entry, replacing a name that differs only in case. */
static void
put_param(json_t *params, const char *name, json_t *entry)
{
    const char *k;
    json_t *v;
    void *tmp;

    json_object_foreach_safe(params, tmp, k, v)
    {
        if (strcasecmp(k, name) == 0)
            json_object_del(params, k);
    }
    json_object_set_new(params, name, entry);
}

/* An ARM parameter file, or the bare parameters object. */
static int
merge_doc(json_t *params, json_t *doc, const char *src)
{
    json_t *inner = json_object_get(doc, "parameters"), *v;
    const char *k;

    if (json_is_object(inner) &&
        (json_object_get(doc, "$schema") != NULL ||
         json_object_get(doc, "contentVersion") != NULL || json_object_size(doc) == 1))
        doc = inner;
    if (!json_is_object(doc)) {
        fprintf(stderr, "sccctl: --parameters %s: not a JSON object\n", src);
        return CLI_USAGE;
    }
    json_object_foreach(doc, k, v) put_param(params, k, json_incref(v));
    return 0;
}

static int
merge_kv(json_t *params, const json_t *tmpl, const char *kv)
{
    const char *eq = strchr(kv, '=');
    char name[256];
    json_t *v;

    if (eq == NULL || eq == kv || (size_t)(eq - kv) >= sizeof(name))
        return usage_err("--parameters takes K=V, @FILE or JSON", kv);
    snprintf(name, sizeof(name), "%.*s", (int)(eq - kv), kv);
    if ((v = typed_value(tmpl, name, eq + 1)) == NULL) {
        fprintf(stderr,
                "sccctl: --parameters %s: '%s' is not a valid value for its declared type\n", name,
                eq + 1);
        return CLI_USAGE;
    }
    put_param(params, name, json_pack("{s:o}", "value", v));
    return 0;
}

static int
build_params(const struct dopts *o, const json_t *tmpl, json_t **out)
{
    json_t *params = json_object(), *doc;
    int rc = 0;

    for (int i = 0; rc == 0 && i < o->nparams; i++) {
        const char *p = o->params[i];

        if (p[0] == '@' || p[0] == '{') {
            doc = p[0] == '@' ? load_json(p + 1, "parameter file") : json_loads(p, 0, NULL);
            rc = doc ? merge_doc(params, doc, p) : usage_err("--parameters: not valid JSON", p);
            json_decref(doc);
        } else {
            rc = merge_kv(params, tmpl, p);
        }
    }
    if (rc != 0) {
        json_decref(params);
        return rc;
    }
    *out = params;
    return 0;
}

/* "dir/npip.template.json" -> "npip.template". */
static void
default_name(const char *file, char *out, size_t cap)
{
    const char *base = strrchr(file, '/');
    size_t n;

    base = base ? base + 1 : file;
    n = strlen(base);
    if (n > 5 && strcasecmp(base + n - 5, ".json") == 0)
        n -= 5;
    snprintf(out, cap, "%.*s", (int)(n < 64 ? n : 64), base);
}

/* The request body and the deployment's path. */
static int
build_request(struct cli_arm *a, const struct dopts *o, char *path, size_t cap, json_t **body)
{
    json_t *tmpl, *params = NULL;
    char name[80];
    int rc;

    if (a->rg == NULL || o->tmpl_file == NULL)
        return usage_err("-g GROUP and --template-file FILE are required", NULL);
    if ((tmpl = load_json(o->tmpl_file, "template file")) == NULL)
        return CLI_ERR;
    if ((rc = build_params(o, tmpl, &params)) != 0) {
        json_decref(tmpl);
        return rc;
    }
    if (o->name != NULL)
        snprintf(name, sizeof(name), "%s", o->name);
    else
        default_name(o->tmpl_file, name, sizeof(name));
    if (!cli_arm_path(path, cap,
                      "/subscriptions/%s/resourcegroups/%s/providers/"
                      "Microsoft.Resources/deployments/%s",
                      a->sub, a->rg, name)) {
        json_decref(tmpl);
        json_decref(params);
        return usage_err("names too long", NULL);
    }
    *body = json_pack("{s:{s:s, s:o, s:o}}", "properties", "mode",
                      o->mode ? o->mode : "Incremental", "template", tmpl, "parameters", params);
    return *body ? 0 : CLI_ERR;
}

/* ---- following a deployment ---- */

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* One line per resource whose state changed since the last look. */
static void
print_ops(struct cli_arm *a, const char *dep_path, json_t *seen)
{
    struct cli_arm_resp r;
    char path[1200];
    const json_t *op, *p, *tr, *err;
    const char *id, *st;
    size_t i;

    if (a->quiet ||
        !cli_arm_path(path, sizeof(path), "%s/operations?api-version=" API_RES, dep_path))
        return;
    if (cli_arm_call(a, "GET", path, NULL, &r) != 200) {
        cli_arm_resp_fini(&r);
        return;
    }
    json_array_foreach(json_object_get(r.body, "value"), i, op)
    {
        id = json_string_value(json_object_get(op, "operationId"));
        p = json_object_get(op, "properties");
        tr = json_object_get(p, "targetResource");
        st = json_string_value(json_object_get(p, "provisioningState"));
        if (id == NULL || st == NULL ||
            strcmp(st, or_else(json_string_value(json_object_get(seen, id)), "")) == 0)
            continue;
        json_object_set_new(seen, id, json_string(st));
        fprintf(stderr, "  %s %s: %s",
                or_else(json_string_value(json_object_get(tr, "resourceType")), "?"),
                or_else(json_string_value(json_object_get(tr, "resourceName")), "?"), st);
        err = json_object_get(json_object_get(p, "statusMessage"), "error");
        if (err != NULL)
            fprintf(stderr, ": %s: %s",
                    or_else(json_string_value(json_object_get(err, "code")), ""),
                    or_else(json_string_value(json_object_get(err, "message")), ""));
        fprintf(stderr, "\n");
    }
    cli_arm_resp_fini(&r);
}

/* Poll the operation until it ends; its final status into st. */
static int
follow(struct cli_arm *a, const char *dep_path, const char *status_url, char *st, size_t cap)
{
    json_t *seen = json_object();
    time_t t0 = time(NULL);
    struct cli_arm_resp r;
    const char *s;
    int rc = -1;

    while (rc < 0) {
        if (cli_arm_call(a, "GET", status_url, NULL, &r) != 200) {
            rc = cli_arm_error(&r, "following the deployment");
        } else if ((s = json_string_value(json_object_get(r.body, "status"))) != NULL &&
                   (strcmp(s, "Succeeded") == 0 || strcmp(s, "Failed") == 0 ||
                    strcmp(s, "Canceled") == 0)) {
            snprintf(st, cap, "%s", s);
            rc = CLI_OK;
        } else if (time(NULL) - t0 > WAIT_MAX_S) {
            fprintf(stderr, "sccctl: the deployment is still running after %ds\n", WAIT_MAX_S);
            rc = CLI_UNAVAILABLE;
        }
        cli_arm_resp_fini(&r);
        print_ops(a, dep_path, seen);
        if (rc < 0)
            sleep_ms(r.retry_after > 0 ? 1000L * r.retry_after : POLL_MS);
    }
    json_decref(seen);
    return rc;
}

static void
print_outputs(const json_t *dep)
{
    const json_t *outs = json_object_get(json_object_get(dep, "properties"), "outputs"), *o;
    const char *k;
    char *v;

    json_object_foreach((json_t *)outs, k, o)
    {
        v = json_dumps(json_object_get(o, "value"), JSON_COMPACT | JSON_ENCODE_ANY);
        printf("output %s (%s) = %s\n", k,
               or_else(json_string_value(json_object_get(o, "type")), "?"), v ? v : "(secure)");
        free(v);
    }
}

static const char *const dep_cols[] = {"name", "properties.provisioningState",
                                       "properties.timestamp", "properties.duration", NULL};

/* Every detail of a failed deployment: which resource, and why. */
static void
print_failure(const json_t *dep)
{
    const json_t *err = json_object_get(json_object_get(dep, "properties"), "error"), *d;
    size_t i;

    if (err == NULL)
        return;
    fprintf(stderr, "sccctl: the deployment failed: %s (%s)\n",
            or_else(json_string_value(json_object_get(err, "message")), ""),
            or_else(json_string_value(json_object_get(err, "code")), "error"));
    json_array_foreach(json_object_get(err, "details"), i, d)
    {
        fprintf(stderr, "  %s: %s: %s\n",
                or_else(json_string_value(json_object_get(d, "target")), "-"),
                or_else(json_string_value(json_object_get(d, "code")), ""),
                or_else(json_string_value(json_object_get(d, "message")), ""));
    }
}

/* The deployment as it is; with judge, exit 0 only if it Succeeded. */
static int
conclude(struct cli_arm *a, const char *dep_path, bool judge)
{
    struct cli_arm_resp r;
    char path[1200];
    const char *st;
    int rc = CLI_OK;

    cli_arm_path(path, sizeof(path), "%s?api-version=" API_RES, dep_path);
    if (cli_arm_call(a, "GET", path, NULL, &r) != 200) {
        rc = cli_arm_error(&r, "reading the deployment");
        cli_arm_resp_fini(&r);
        return rc;
    }
    st = json_string_value(
            json_object_get(json_object_get(r.body, "properties"), "provisioningState"));
    if (judge && (st == NULL || strcmp(st, "Succeeded") != 0))
        rc = CLI_ERR;
    print_failure(r.body);
    if (strcmp(a->c->output, "json") == 0) {
        cli_print_json(r.body);
    } else {
        cli_arm_print(a, r.body, dep_cols);
        print_outputs(r.body);
    }
    cli_arm_resp_fini(&r);
    return rc;
}

/* ---- commands ---- */

static int
cmd_create(struct cli_arm *a, const struct dopts *o, bool validate)
{
    char path[1024], url[1200], st[16] = "";
    json_t *body = NULL;
    struct cli_arm_resp r;
    int rc;

    if ((rc = build_request(a, o, path, sizeof(path), &body)) != 0)
        return rc;
    cli_arm_path(url, sizeof(url), "%s%s?api-version=" API_RES, path, validate ? "/validate" : "");
    cli_arm_call(a, validate ? "POST" : "PUT", url, body, &r);
    json_decref(body);
    if (r.status != 200 && r.status != 201) {
        rc = cli_arm_error(&r, validate ? "validating the template" : "creating the deployment");
    } else if (validate) {
        if (!a->quiet)
            fprintf(stderr, "the template is valid for resource group %s\n", a->rg);
        cli_arm_print(a, r.body, dep_cols);
    } else if (o->no_wait || r.async_op[0] == '\0') {
        if (!a->quiet)
            fprintf(stderr,
                    "deployment accepted; follow it with: sccctl deployment show %s -g %s\n",
                    or_else(json_string_value(json_object_get(r.body, "name")), "?"), a->rg);
    } else {
        const char *name = or_else(json_string_value(json_object_get(r.body, "name")), "?");
        time_t t0 = time(NULL);

        if (!a->quiet)
            fprintf(stderr, "deployment %s: Accepted\n", name);
        if ((rc = follow(a, path, r.async_op, st, sizeof(st))) == CLI_OK) {
            if (!a->quiet)
                fprintf(stderr, "deployment %s: %s (%lds)\n", name, st, (long)(time(NULL) - t0));
            rc = conclude(a, path, true);
        }
    }
    cli_arm_resp_fini(&r);
    return rc;
}

static int
cmd_named(struct cli_arm *a, const char *sub, const struct dopts *o)
{
    static const char *const op_cols[] = {"properties.targetResource.resourceType",
                                          "properties.targetResource.resourceName",
                                          "properties.provisioningState",
                                          "properties.statusCode",
                                          "properties.duration",
                                          NULL};
    char path[1024], url[1200];
    struct cli_arm_resp r;
    int rc;

    if (o->npos != 1 || a->rg == NULL)
        return usage_err("NAME and -g GROUP are required", NULL);
    cli_arm_path(path, sizeof(path),
                 "/subscriptions/%s/resourcegroups/%s/providers/Microsoft.Resources/deployments/%s",
                 a->sub, a->rg, o->pos[0]);
    if (strcmp(sub, "show") == 0)
        return conclude(a, path, false);
    if (strcmp(sub, "delete") == 0) {
        cli_arm_path(url, sizeof(url), "%s?api-version=" API_RES, path);
        cli_arm_call(a, "DELETE", url, NULL, &r);
        a->wait = true; /* deleting history is quick */
        rc = cli_arm_finish(a, &r, "deleting the deployment", NULL);
    } else if (strcmp(sub, "cancel") == 0 || strcmp(sub, "export") == 0) {
        bool cancel = strcmp(sub, "cancel") == 0;

        cli_arm_path(url, sizeof(url), "%s/%s?api-version=" API_RES, path,
                     cancel ? "cancel" : "exportTemplate");
        cli_arm_call(a, "POST", url, NULL, &r);
        rc = r.status == 200 || r.status == 204 ? CLI_OK : cli_arm_error(&r, sub);
        if (rc == CLI_OK && !cancel)
            cli_print_json(json_object_get(r.body, "template"));
    } else if (strcmp(sub, "operations") == 0) {
        cli_arm_path(url, sizeof(url), "%s/operations?api-version=" API_RES, path);
        return cli_arm_get(a, url, "listing the operations", op_cols);
    } else {
        return CLI_USAGE;
    }
    cli_arm_resp_fini(&r);
    return rc;
}

static int
cmd_list(struct cli_arm *a)
{
    char url[1024];

    if (a->rg == NULL)
        return usage_err("-g GROUP is required", NULL);
    cli_arm_path(url, sizeof(url),
                 "/subscriptions/%s/resourcegroups/%s/providers/Microsoft.Resources/deployments"
                 "?api-version=" API_RES,
                 a->sub, a->rg);
    return cli_arm_get(a, url, "listing deployments", dep_cols);
}

static int
run(struct cli_arm *a, int argc, char **argv)
{
    const char *sub = argv[1];
    struct dopts o;
    int rc;

    if ((rc = parse_opts(argc, argv, &o)) != 0)
        return rc;
    if (strcmp(sub, "create") == 0 || strcmp(sub, "validate") == 0)
        return cmd_create(a, &o, strcmp(sub, "validate") == 0);
    if (strcmp(sub, "list") == 0)
        return cmd_list(a);
    return cmd_named(a, sub, &o);
}

int
cli_cmd_deployment(struct cli *c, int argc, char **argv)
{
    return cli_arm_with(c, argc, argv, help, run);
}
