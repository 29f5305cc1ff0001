/*
 * cli_node_create.c - sccctl node create | delete | list.
 *
 * Until clusters exist, nodes are bare VMs booted in a workspace's
 * network, as cloud-init would boot them: POST
 * .../workspaces/{ws}/createNodes (and deleteNodes) on the management API.
 * Both are long-running operations that end when the provider has
 * applied them; these commands wait for that unless --no-wait, then show
 * each VM as the API has it.
 */
#include "cli_node_create.h"

#include "cli_arm.h"

#include "common/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
        "usage: sccctl node create --workspace WS -g GROUP [--count N] [--cluster C] [--no-wait]\n"
        "       sccctl node delete --workspace WS -g GROUP (NAME... | --cluster C | --all) "
        "[--no-wait]\n"
        "       sccctl node list --workspace WS -g GROUP\n"
        "       sccctl node revoke WS/CLUSTER/NODE | disconnect NODE   (admin socket)\n"
        "\n"
        "create boots N (1-100, default 1) VMs in the workspace's network with scc-agent and\n"
        "a join token: Microsoft.Compute/virtualMachines in its managed resource group, with\n"
        "their NICs, and a public IP only in legacy mode (enableNoPublicIp false).  Their\n"
        "identities are WS/CLUSTER/<VM name> (cluster default 'default').  delete removes\n"
        "VMs by name (or WS/CLUSTER/NODE), a whole cluster, or all, and revokes their\n"
        "certificates.  Both wait until the provider has applied them.\n"
        "Common options: --token T --api URL --ca FILE --subscription SUB --output json|table\n";

static const char *const cols[] = {"name", "tags.scc-node", "tags.scc-mode",
                                   "properties.provisioningState", NULL};

struct node_opts {
    const char *ws, *cluster, *count;
    bool all, no_wait;
    const char *names[64];
    int nnames;
};

static int
parse(int argc, char **argv, struct node_opts *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 2; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--workspace") == 0 ? &o->ws
                            : strcmp(argv[i], "--cluster") == 0 ? &o->cluster
                            : strcmp(argv[i], "--count") == 0   ? &o->count
                                                                : NULL;

        if (slot && i + 1 < argc)
            *slot = argv[++i];
        else if (strcmp(argv[i], "--all") == 0)
            o->all = true;
        else if (strcmp(argv[i], "--no-wait") == 0)
            o->no_wait = true;
        else if (argv[i][0] != '-' && o->nnames < 64)
            o->names[o->nnames++] = argv[i];
        else {
            fprintf(stderr, "sccctl: unknown option or missing value: %s\n", argv[i]);
            return CLI_USAGE;
        }
    }
    if (o->ws == NULL) {
        fprintf(stderr, "sccctl: --workspace WS is required\n");
        return CLI_USAGE;
    }
    return 0;
}

static bool
ws_path(struct cli_arm *a, const char *ws, const char *rest, char *out, size_t cap)
{
    if (a->rg == NULL) {
        fprintf(stderr, "sccctl: -g GROUP (the workspace's resource group) is required\n");
        return false;
    }
    return cli_arm_path(out, cap,
                        "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Databricks/"
                        "workspaces/%s%s",
                        a->sub, a->rg, ws, rest);
}

/* Each VM of ids as the API has it now: a table, or {"value": [...]}. */
static int
show_vms(struct cli_arm *a, const json_t *ids)
{
    json_t *all = json_pack("{s:[]}", "value"), *id;
    struct cli_arm_resp r;
    size_t i;

    json_array_foreach(ids, i, id)
    {
        if (cli_arm_call(a, "GET", json_string_value(id), NULL, &r) == 200)
            json_array_append(json_object_get(all, "value"), r.body);
        cli_arm_resp_fini(&r);
    }
    cli_arm_print(a, all, cols);
    json_decref(all);
    return CLI_OK;
}

static json_t *
vm_ids(const json_t *body)
{
    json_t *ids = json_array(), *v;
    size_t i;

    json_array_foreach(json_object_get(body, "value"), i, v)
            json_array_append(ids, json_object_get(v, "id"));
    return ids;
}

static int
act(struct cli_arm *a, const struct node_opts *o, const char *action, json_t *body,
    const char *what)
{
    struct cli_arm_resp r;
    char path[1024];
    json_t *ids;
    int rc;

    if (!ws_path(a, o->ws, action, path, sizeof(path)))
        return CLI_USAGE;
    a->wait = !o->no_wait;
    cli_arm_call(a, "POST", path, body, &r);
    ids = vm_ids(r.body);
    rc = cli_arm_finish(a, &r, what, NULL);
    /* Also when it failed: each VM's state and instanceView say why. */
    if ((r.status == 202 || r.status == 200) && strcmp(action, "/createNodes") == 0)
        (void)show_vms(a, ids);
    else if (rc == CLI_OK && strcmp(a->c->output, "json") == 0)
        cli_print_json(ids);
    else if (rc == CLI_OK)
        printf("%zu node(s) deleted\n", json_array_size(ids));
    json_decref(ids);
    cli_arm_resp_fini(&r);
    return rc;
}

static int
node_create(struct cli_arm *a, const struct node_opts *o)
{
    uint64_t n = 1;
    json_t *body;
    int rc;

    if (o->count && scc_parse_u64(o->count, 1, 100, &n) < 0) {
        fprintf(stderr, "sccctl: --count must be 1-100\n");
        return CLI_USAGE;
    }
    body = json_pack("{s:I, s:s}", "count", (json_int_t)n, "clusterName",
                     o->cluster ? o->cluster : "default");
    rc = act(a, o, "/createNodes", body, "creating nodes");
    json_decref(body);
    return rc;
}

static int
node_delete(struct cli_arm *a, const struct node_opts *o)
{
    json_t *body, *names = json_array();
    int rc;

    if ((o->nnames > 0) + (o->cluster != NULL) + o->all != 1) {
        fprintf(stderr, "sccctl: node delete takes NAME..., --cluster C or --all\n");
        json_decref(names);
        return CLI_USAGE;
    }
    for (int i = 0; i < o->nnames; i++)
        json_array_append_new(names, json_string(o->names[i]));
    body = o->all       ? json_pack("{s:b}", "all", 1)
           : o->cluster ? json_pack("{s:s}", "clusterName", o->cluster)
                        : json_pack("{s:O}", "nodes", names);
    rc = act(a, o, "/deleteNodes", body, "deleting nodes");
    json_decref(body);
    json_decref(names);
    return rc;
}

static int
node_list(struct cli_arm *a, const struct node_opts *o)
{
    struct cli_arm_resp r;
    char path[1024];
    const char *mrg;
    int rc;

    if (!ws_path(a, o->ws, "", path, sizeof(path)))
        return CLI_USAGE;
    if (cli_arm_call(a, "GET", path, NULL, &r) != 200) {
        rc = cli_arm_error(&r, "reading the workspace");
        cli_arm_resp_fini(&r);
        return rc;
    }
    mrg = json_string_value(
            json_object_get(json_object_get(r.body, "properties"), "managedResourceGroupId"));
    if (!cli_arm_path(path, sizeof(path), "%s/providers/Microsoft.Compute/virtualMachines",
                      mrg ? mrg : "")) {
        cli_arm_resp_fini(&r);
        return CLI_ERR;
    }
    cli_arm_resp_fini(&r);
    return cli_arm_get(a, path, "listing nodes", cols);
}

static int
run(struct cli *c, int argc, char **argv)
{
    struct node_opts o;
    struct cli_arm a;
    int rc;

    if ((rc = cli_arm_opts(c, &a, &argc, argv)) != 0 || (rc = parse(argc, argv, &o)) != 0)
        return rc;
    if ((rc = cli_arm_open(&a)) == 0)
        rc = strcmp(argv[1], "create") == 0   ? node_create(&a, &o)
             : strcmp(argv[1], "delete") == 0 ? node_delete(&a, &o)
                                              : node_list(&a, &o);
    cli_arm_close(&a);
    return rc;
}

int
cli_cmd_node_any(struct cli *c, int argc, char **argv)
{
    int rc;

    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)) {
        fputs(help, stdout);
        return CLI_OK;
    }
    if (argc < 2 || (strcmp(argv[1], "create") != 0 && strcmp(argv[1], "delete") != 0 &&
                     strcmp(argv[1], "list") != 0))
        return cli_cmd_node(c, argc, argv);
    if ((rc = run(c, argc, argv)) == CLI_USAGE)
        fputs(help, stderr);
    return rc;
}
