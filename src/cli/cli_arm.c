/*
 * cli_arm.c - sccctl subscription | provider | group | workspace | operation.
 *
 * Every command speaks the management API's ARM wire format; --output
 * json prints the API's JSON as it came, table a few columns.  Writes
 * that are long-running operations return at once with the operation's
 * URL, or with --wait follow it to the end with a progress line.
 */
#include "cli_arm.h"

#include "common/encode.h"
#include "common/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_OPTS 16

/* Subcommand options: positionals and "--name value" pairs; --tag repeats. */
struct opts {
    const char *pos[4];
    int npos;
    const char *name[MAX_OPTS], *val[MAX_OPTS];
    int n;
    json_t *tags;
};

static bool
is_help(const char *s)
{
    return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0 || strcmp(s, "help") == 0;
}

static int
usage(const char *text, bool asked)
{
    fputs(text, asked ? stdout : stderr);
    return asked ? CLI_OK : CLI_USAGE;
}

static int
parse(int argc, char **argv, int from, const char *const *allowed, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = from; i < argc; i++) {
        bool ok = false;

        if (strncmp(argv[i], "--", 2) != 0) {
            if (o->npos == 4)
                return -1;
            o->pos[o->npos++] = argv[i];
            continue;
        }
        for (size_t k = 0; allowed[k] && !ok; k++)
            ok = strcmp(allowed[k], argv[i]) == 0;
        if (!ok || i + 1 >= argc || o->n == MAX_OPTS) {
            fprintf(stderr, "sccctl: unknown option or missing value: %s\n", argv[i]);
            return -1;
        }
        if (strcmp(argv[i], "--tag") == 0) {
            if ((o->tags == NULL && (o->tags = json_object()) == NULL) ||
                !cli_arm_kv(o->tags, argv[i + 1])) {
                fprintf(stderr, "sccctl: --tag takes KEY=VALUE\n");
                return -1;
            }
        } else {
            o->name[o->n] = argv[i];
            o->val[o->n++] = argv[i + 1];
        }
        i++;
    }
    return 0;
}

static const char *
opt(const struct opts *o, const char *name)
{
    for (int i = o->n - 1; i >= 0; i--) {
        if (strcmp(o->name[i], name) == 0)
            return o->val[i];
    }
    return NULL;
}

static int
parse_bool(const char *s, bool *out)
{
    if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0 || strcasecmp(s, "yes") == 0)
        *out = true;
    else if (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0 || strcasecmp(s, "no") == 0)
        *out = false;
    else
        return -1;
    return 0;
}

/* A write: answer, optional wait, then the resource as it ended. */
static int
write_and_show(struct cli_arm *a, const char *method, const char *path, const json_t *body,
               const char *what, const char *const *cols, bool get_after)
{
    struct cli_arm_resp r;
    int rc;

    cli_arm_call(a, method, path, body, &r);
    if ((rc = cli_arm_finish(a, &r, what, get_after ? path : NULL)) == CLI_OK && r.body)
        cli_arm_print(a, r.body, cols);
    cli_arm_resp_fini(&r);
    return rc;
}

int
cli_arm_with(struct cli *c, int argc, char **argv, const char *help,
             int (*fn)(struct cli_arm *a, int argc, char **argv))
{
    struct cli_arm a;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i]))
            return usage(help, true);
    }
    if ((rc = cli_arm_opts(c, &a, &argc, argv)) != 0)
        return rc;
    if (argc < 2)
        return usage(help, false);
    if ((rc = cli_arm_open(&a)) == 0)
        rc = fn(&a, argc, argv);
    cli_arm_close(&a);
    return rc == CLI_USAGE ? usage(help, false) : rc;
}

/* ---- subscription ---- */

static const char sub_help[] =
        "usage: sccctl subscription list\n"
        "       sccctl subscription show [SUBSCRIPTION]\n"
        "       sccctl subscription create [--name DISPLAY_NAME] [--id GUID]\n"
        "\n"
        "A subscription holds resource groups and registers resource providers.  sccd\n"
        "creates a default one on first start (DIR/subscription).  A new one starts with\n"
        "Microsoft.ManagedIdentity not registered: register it before creating a workspace\n"
        "with secure cluster connectivity.  create needs the admin token.\n"
        "Common options: --token T --api URL --ca FILE --output json|table\n";

static const char *const sub_cols[] = {"subscriptionId", "displayName", "state", NULL};

static int
sub_run(struct cli_arm *a, int argc, char **argv)
{
    static const char *const allowed[] = {"--name", "--id", NULL};
    char path[256], guid[40];
    struct opts o;
    json_t *body;
    uint8_t b[16];
    int rc;

    if (parse(argc, argv, 2, allowed, &o) < 0)
        return CLI_USAGE;
    if (strcmp(argv[1], "list") == 0)
        return cli_arm_get(a, "/subscriptions", "listing subscriptions", sub_cols);
    if (strcmp(argv[1], "show") == 0) {
        cli_arm_path(path, sizeof(path), "/subscriptions/%s", o.npos ? o.pos[0] : a->sub);
        return cli_arm_get(a, path, "showing the subscription", sub_cols);
    }
    if (strcmp(argv[1], "create") != 0)
        return CLI_USAGE;
    if (opt(&o, "--id") == NULL && scc_rand_bytes(b, sizeof(b)) == 0)
        snprintf(guid, sizeof(guid),
                 "%02x%02x%02x%02x-%02x%02x-4%x%02x-%x%x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                 b[2], b[3], b[4], b[5], b[6] & 15, b[7], 8 | (b[8] & 3), b[8] >> 4, b[9], b[10],
                 b[11], b[12], b[13], b[14], b[15]);
    cli_arm_path(path, sizeof(path), "/subscriptions/%s", opt(&o, "--id") ? opt(&o, "--id") : guid);
    body = json_pack("{s:s}", "displayName",
                     opt(&o, "--name") ? opt(&o, "--name") : "subscription");
    rc = write_and_show(a, "PUT", path, body, "creating the subscription", sub_cols, false);
    json_decref(body);
    return rc;
}

int
cli_cmd_subscription(struct cli *c, int argc, char **argv)
{
    return cli_arm_with(c, argc, argv, sub_help, sub_run);
}

/* ---- provider ---- */

static const char prov_help[] =
        "usage: sccctl provider list\n"
        "       sccctl provider show NAMESPACE\n"
        "       sccctl provider register NAMESPACE\n"
        "       sccctl provider unregister NAMESPACE\n"
        "\n"
        "Resource provider registration in a subscription (--subscription SUB, default\n"
        "DIR/subscription): Microsoft.Databricks, Microsoft.ManagedIdentity,\n"
        "Microsoft.Network, Microsoft.Resources, Microsoft.Compute, Microsoft.Storage.\n"
        "Creating a workspace with enableNoPublicIp needs Microsoft.ManagedIdentity\n"
        "registered: a one-time operation per subscription.\n";

static const char *const prov_cols[] = {"namespace", "registrationState", NULL};

static int
prov_run(struct cli_arm *a, int argc, char **argv)
{
    char path[512];

    if (strcmp(argv[1], "list") == 0) {
        cli_arm_path(path, sizeof(path), "/subscriptions/%s/providers", a->sub);
        return cli_arm_get(a, path, "listing providers", prov_cols);
    }
    if (argc != 3)
        return CLI_USAGE;
    if (strcmp(argv[1], "show") == 0) {
        cli_arm_path(path, sizeof(path), "/subscriptions/%s/providers/%s", a->sub, argv[2]);
        return cli_arm_get(a, path, "showing the provider", prov_cols);
    }
    if (strcmp(argv[1], "register") != 0 && strcmp(argv[1], "unregister") != 0)
        return CLI_USAGE;
    cli_arm_path(path, sizeof(path), "/subscriptions/%s/providers/%s/%s", a->sub, argv[2], argv[1]);
    return write_and_show(a, "POST", path, NULL, argv[1], prov_cols, false);
}

int
cli_cmd_provider(struct cli *c, int argc, char **argv)
{
    return cli_arm_with(c, argc, argv, prov_help, prov_run);
}

/* ---- group ---- */

static const char group_help[] =
        "usage: sccctl group list\n"
        "       sccctl group show NAME\n"
        "       sccctl group exists NAME            (exit 0 if it does, 3 if not)\n"
        "       sccctl group create NAME --location LOCATION [--tag K=V]...\n"
        "       sccctl group update NAME [--tag K=V]...   (replaces the tags)\n"
        "       sccctl group delete NAME [--wait]\n"
        "\n"
        "Resource groups of a subscription (--subscription SUB).  Deleting a group deletes\n"
        "everything in it, workspaces with their managed groups included; it is a\n"
        "long-running operation (--wait follows it).  A workspace's managed resource group\n"
        "can be read but not changed or deleted (403 DenyAssignmentAuthorizationFailed).\n";

static const char *const group_cols[] = {"name", "location", "properties.provisioningState",
                                         "managedBy", NULL};

static int
group_run(struct cli_arm *a, int argc, char **argv)
{
    static const char *const allowed[] = {"--location", "--tag", NULL};
    struct cli_arm_resp r;
    char path[512];
    struct opts o;
    json_t *body = NULL;
    int rc;

    if (parse(argc, argv, 2, allowed, &o) < 0)
        return CLI_USAGE;
    if (strcmp(argv[1], "list") == 0) {
        cli_arm_path(path, sizeof(path), "/subscriptions/%s/resourcegroups", a->sub);
        return cli_arm_get(a, path, "listing resource groups", group_cols);
    }
    if (o.npos != 1)
        return CLI_USAGE;
    cli_arm_path(path, sizeof(path), "/subscriptions/%s/resourcegroups/%s", a->sub, o.pos[0]);
    if (strcmp(argv[1], "show") == 0)
        return cli_arm_get(a, path, "showing the resource group", group_cols);
    if (strcmp(argv[1], "exists") == 0) {
        rc = cli_arm_call(a, "HEAD", path, NULL, &r) == 204 ? CLI_OK : cli_status_exit(r.status);
        cli_arm_resp_fini(&r);
        return rc;
    }
    if (strcmp(argv[1], "delete") == 0)
        return write_and_show(a, "DELETE", path, NULL, "deleting the resource group", NULL, false);
    if (strcmp(argv[1], "create") == 0 && opt(&o, "--location"))
        body = json_pack("{s:s}", "location", opt(&o, "--location"));
    else if (strcmp(argv[1], "update") == 0)
        body = json_object();
    else
        return CLI_USAGE;
    json_object_set_new(body, "tags", o.tags ? json_incref(o.tags) : json_object());
    rc = write_and_show(a, strcmp(argv[1], "create") == 0 ? "PUT" : "PATCH", path, body,
                        "writing the resource group", group_cols, false);
    json_decref(body);
    json_decref(o.tags);
    return rc;
}

int
cli_cmd_group(struct cli *c, int argc, char **argv)
{
    return cli_arm_with(c, argc, argv, group_help, group_run);
}

/* ---- workspace ---- */

static const char ws_help[] =
        "usage: sccctl workspace list [-g GROUP]\n"
        "       sccctl workspace show NAME -g GROUP\n"
        "       sccctl workspace create NAME -g GROUP --location LOCATION [--sku "
        "premium|standard|trial]\n"
        "              [--no-public-ip true|false] [--managed-resource-group NAME]\n"
        "              [--vnet VNET_ID --public-subnet NAME --private-subnet NAME]\n"
        "              [--public-network-access Enabled|Disabled]\n"
        "              [--required-nsg-rules AllRules|NoAzureDatabricksRules]\n"
        "              [--api-version V] [--tag K=V]... [--wait]\n"
        "       sccctl workspace update NAME -g GROUP [--no-public-ip true|false] [--sku S]\n"
        "              [--public-network-access X] [--required-nsg-rules X] [--wait]\n"
        "       sccctl workspace tag NAME -g GROUP [--tag K=V]...   (replaces the tags)\n"
        "       sccctl workspace delete NAME -g GROUP [--wait]\n"
        "       sccctl workspace outbound-endpoints NAME -g GROUP\n"
        "       sccctl workspace set-running-compute NAME -g GROUP [--clusters N] [--pools N]\n"
        "              [--warehouses N]   (admin socket; a stand-in until clusters exist)\n"
        "\n"
        "Microsoft.Databricks/workspaces.  --no-public-ip true is secure cluster\n"
        "connectivity (needs Microsoft.ManagedIdentity registered).  With a managed VNet it\n"
        "adds a NAT gateway and public IP to the managed resource group (extra cost); with\n"
        "--vnet the workspace uses your VNet's two delegated subnets and writes its NSG rules\n"
        "into their network security groups.  update with a changed --no-public-ip is the\n"
        "SCC upgrade (VNet injection only, no running compute); if it fails the workspace\n"
        "is Failed until the same update is redone; --no-public-ip false is the temporary\n"
        "rollback.  create and update are long-running operations: --wait follows them.\n";

static const char *const ws_cols[] = {"name",
                                      "location",
                                      "properties.provisioningState",
                                      "properties.parameters.enableNoPublicIp.value",
                                      "properties.workspaceUrl",
                                      NULL};

static const char *const ws_allowed[] = {"--location",
                                         "--sku",
                                         "--no-public-ip",
                                         "--managed-resource-group",
                                         "--vnet",
                                         "--public-subnet",
                                         "--private-subnet",
                                         "--public-network-access",
                                         "--required-nsg-rules",
                                         "--api-version",
                                         "--clusters",
                                         "--pools",
                                         "--warehouses",
                                         "--tag",
                                         NULL};

static void
set_param(json_t *props, const char *name, json_t *v)
{
    json_t *ps = json_object_get(props, "parameters");

    if (!json_is_object(ps))
        json_object_set_new(props, "parameters", ps = json_object());
    json_object_set_new(ps, name, json_pack("{s:o}", "value", v));
}

/* Apply the options to a workspace body (a new one or the current one). */
static int
ws_apply(struct cli_arm *a, const struct opts *o, json_t *ws)
{
    json_t *props = json_object_get(ws, "properties");
    const char *v;
    bool b;

    if ((v = opt(o, "--sku")) != NULL)
        json_object_set_new(ws, "sku", json_pack("{s:s}", "name", v));
    if ((v = opt(o, "--no-public-ip")) != NULL) {
        if (parse_bool(v, &b) < 0)
            return CLI_USAGE;
        set_param(props, "enableNoPublicIp", json_boolean(b));
    }
    if ((v = opt(o, "--vnet")) != NULL)
        set_param(props, "customVirtualNetworkId", json_string(v));
    if ((v = opt(o, "--public-subnet")) != NULL)
        set_param(props, "customPublicSubnetName", json_string(v));
    if ((v = opt(o, "--private-subnet")) != NULL)
        set_param(props, "customPrivateSubnetName", json_string(v));
    if ((v = opt(o, "--public-network-access")) != NULL)
        json_object_set_new(props, "publicNetworkAccess", json_string(v));
    if ((v = opt(o, "--required-nsg-rules")) != NULL)
        json_object_set_new(props, "requiredNsgRules", json_string(v));
    if (o->tags)
        json_object_set(ws, "tags", o->tags);
    (void)a;
    return 0;
}

static json_t *
ws_new(struct cli_arm *a, const struct opts *o)
{
    const char *mrg = opt(o, "--managed-resource-group");
    char id[512];
    json_t *ws;

    if (opt(o, "--location") == NULL)
        return NULL;
    ws = json_pack("{s:s, s:{s:s}, s:{}}", "location", opt(o, "--location"), "sku", "name",
                   "premium", "properties");
    if (mrg && mrg[0] != '/')
        cli_arm_path(id, sizeof(id), "/subscriptions/%s/resourceGroups/%s", a->sub, mrg);
    if (mrg)
        json_object_set_new(json_object_get(ws, "properties"), "managedResourceGroupId",
                            json_string(mrg[0] == '/' ? mrg : id));
    if (ws_apply(a, o, ws) != 0) {
        json_decref(ws);
        return NULL;
    }
    return ws;
}

/* update: GET, change what the options say, PUT it back. */
static json_t *
ws_current(struct cli_arm *a, const char *path, const struct opts *o, int *rc)
{
    struct cli_arm_resp r;
    json_t *ws, *out;

    if (cli_arm_call(a, "GET", path, NULL, &r) != 200) {
        *rc = cli_arm_error(&r, "reading the workspace");
        cli_arm_resp_fini(&r);
        return NULL;
    }
    ws = r.body;
    out = json_pack("{s:O, s:O, s:{s:O, s:o}}", "location", json_object_get(ws, "location"), "sku",
                    json_object_get(ws, "sku"), "properties", "managedResourceGroupId",
                    json_object_get(json_object_get(ws, "properties"), "managedResourceGroupId"),
                    "parameters", json_object());
    if (out && json_object_get(ws, "tags"))
        json_object_set(out, "tags", json_object_get(ws, "tags"));
    cli_arm_resp_fini(&r);
    if (out == NULL || (*rc = ws_apply(a, o, out)) != 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

static int
ws_compute(struct cli_arm *a, const struct opts *o, const char *path)
{
    const char *keys[3] = {"--clusters", "--pools", "--warehouses"};
    json_t *req = json_pack("{s:s}", "workspace", path), *body = NULL;
    int status, rc;

    (void)a;
    for (int i = 0; i < 3; i++)
        json_object_set_new(req, keys[i] + 2,
                            json_integer(opt(o, keys[i]) ? strtol(opt(o, keys[i]), NULL, 10) : 0));
    status = cli_call(a->c, "POST", "/v1/running-compute", NULL, req, &body);
    rc = status == 200 ? CLI_OK : cli_print_error(status, body, "setting the running compute");
    if (rc == CLI_OK)
        cli_print_json(body);
    json_decref(req);
    json_decref(body);
    return rc;
}

static int
ws_write(struct cli_arm *a, const char *verb, const struct opts *o, const char *path, char **argv)
{
    char vpath[700];
    json_t *body = NULL;
    int rc = CLI_USAGE;

    cli_arm_path(vpath, sizeof(vpath), "%s?api-version=%s", path,
                 opt(o, "--api-version") ? opt(o, "--api-version") : "2023-02-01");
    if (strcmp(verb, "create") == 0)
        body = ws_new(a, o);
    else if (strcmp(verb, "update") == 0 && (body = ws_current(a, vpath, o, &rc)) == NULL)
        return rc;
    else if (strcmp(verb, "tag") == 0)
        body = json_pack("{s:o}", "tags", o->tags ? json_incref(o->tags) : json_object());
    if (body == NULL)
        return CLI_USAGE;
    (void)argv;
    rc = write_and_show(a, strcmp(verb, "tag") == 0 ? "PATCH" : "PUT", vpath, body,
                        strcmp(verb, "create") == 0 ? "creating the workspace"
                                                    : "updating the workspace",
                        ws_cols, true);
    json_decref(body);
    return rc;
}

static int
ws_run(struct cli_arm *a, int argc, char **argv)
{
    char path[600], sub[600];
    struct opts o;
    int rc;

    if (parse(argc, argv, 2, ws_allowed, &o) < 0)
        return CLI_USAGE;
    if (strcmp(argv[1], "list") == 0) {
        cli_arm_path(path, sizeof(path),
                     "/subscriptions/%s%s%s/providers/Microsoft.Databricks/workspaces", a->sub,
                     a->rg ? "/resourceGroups/" : "", a->rg ? a->rg : "");
        return cli_arm_get(a, path, "listing workspaces", ws_cols);
    }
    if (o.npos != 1 || a->rg == NULL) {
        fprintf(stderr, "sccctl: workspace %s needs NAME and -g GROUP\n", argv[1]);
        return CLI_USAGE;
    }
    cli_arm_path(path, sizeof(path),
                 "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Databricks/workspaces/%s",
                 a->sub, a->rg, o.pos[0]);
    if (strcmp(argv[1], "show") == 0)
        rc = cli_arm_get(a, path, "showing the workspace", ws_cols);
    else if (strcmp(argv[1], "delete") == 0)
        rc = write_and_show(a, "DELETE", path, NULL, "deleting the workspace", NULL, false);
    else if (strcmp(argv[1], "outbound-endpoints") == 0 &&
             cli_arm_path(sub, sizeof(sub), "%s/outboundNetworkDependenciesEndpoints", path))
        rc = cli_arm_get(a, sub, "listing outbound endpoints", NULL);
    else if (strcmp(argv[1], "set-running-compute") == 0)
        rc = ws_compute(a, &o, path);
    else
        rc = ws_write(a, argv[1], &o, path, argv);
    json_decref(o.tags);
    return rc;
}

int
cli_cmd_workspace(struct cli *c, int argc, char **argv)
{
    return cli_arm_with(c, argc, argv, ws_help, ws_run);
}

/* ---- operation ---- */

static const char op_help[] =
        "usage: sccctl operation show URL\n"
        "       sccctl operation wait URL\n"
        "\n"
        "A long-running operation's status (the Azure-AsyncOperation URL a write printed)\n"
        "or its result (a Location URL).  wait polls until it ends, with a progress line,\n"
        "and exits 0 if it succeeded, 1 if it failed.\n";

static int
op_run(struct cli_arm *a, int argc, char **argv)
{
    struct cli_arm_resp r;
    int rc;

    if (argc != 3)
        return CLI_USAGE;
    if (strcmp(argv[1], "show") == 0)
        return cli_arm_get(a, argv[2], "reading the operation", NULL);
    if (strcmp(argv[1], "wait") != 0)
        return CLI_USAGE;
    memset(&r, 0, sizeof(r));
    r.status = 202;
    if (strstr(argv[2], "perationResults") || strstr(argv[2], "perationresults"))
        snprintf(r.location, sizeof(r.location), "%s", argv[2]);
    else
        snprintf(r.async_op, sizeof(r.async_op), "%s", argv[2]);
    a->wait = true;
    rc = cli_arm_finish(a, &r, "operation", NULL);
    cli_arm_resp_fini(&r);
    return rc;
}

int
cli_cmd_operation(struct cli *c, int argc, char **argv)
{
    return cli_arm_with(c, argc, argv, op_help, op_run);
}
