/*
 * cli_arm_net.c - sccctl resource (any ARM resource by id, with a JSON
 * body) and sccctl network (shortcuts for the Microsoft.Network resources
 * a VNet-injected workspace needs).
 */
#include "cli_arm.h"

#include "common/buf.h"
#include "common/file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* "--name value" of argv from `from` on; NULL when absent. */
static const char *
val(int argc, char **argv, int from, const char *name)
{
    for (int i = from; i + 1 < argc; i++) {
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    }
    return NULL;
}

/* The n-th positional (0-based) of argv from `from` on. */
static const char *
pos(int argc, char **argv, int from, int n)
{
    for (int i = from; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) == 0) {
            i++;
            continue;
        }
        if (n-- == 0)
            return argv[i];
    }
    return NULL;
}

static int
run_write(struct cli_arm *a, const char *method, const char *path, const json_t *body,
          const char *what)
{
    struct cli_arm_resp r;
    bool top = strcmp(method, "DELETE") != 0;
    int rc;

    cli_arm_call(a, method, path, body, &r);
    rc = cli_arm_finish(a, &r, what, top ? path : NULL);
    if (rc == CLI_OK && r.body)
        cli_print_json(r.body);
    cli_arm_resp_fini(&r);
    return rc;
}

/* ---- resource ---- */

static const char res_help[] =
        "usage: sccctl resource show ID\n"
        "       sccctl resource list [-g GROUP] [--type NAMESPACE/TYPE]\n"
        "       sccctl resource put ID --body JSON|@FILE [--wait]\n"
        "       sccctl resource delete ID [--wait]\n"
        "\n"
        "Any ARM resource by its id (/subscriptions/.../providers/NS/TYPE/NAME[/CHILD/NAME]),\n"
        "e.g. load balancers, firewalls and network interfaces, whose bodies are those of\n"
        "Azure's REST API.  Prints the API's JSON.\n";

static json_t *
body_arg(const char *v)
{
    struct scc_buf b;
    json_t *o = NULL;

    if (v == NULL)
        return NULL;
    if (v[0] != '@')
        return json_loads(v, 0, NULL);
    scc_buf_init(&b, 4u << 20);
    if (scc_file_read(v + 1, 4u << 20, &b) == 0)
        o = json_loadb((const char *)b.data, b.len, 0, NULL);
    scc_buf_fini(&b);
    return o;
}

static int
res_list(struct cli_arm *a, const char *type)
{
    char path[600];

    if (type)
        cli_arm_path(path, sizeof(path), "/subscriptions/%s%s%s/providers/%s", a->sub,
                     a->rg ? "/resourceGroups/" : "", a->rg ? a->rg : "", type);
    else
        cli_arm_path(path, sizeof(path), "/subscriptions/%s%s%s/resources", a->sub,
                     a->rg ? "/resourceGroups/" : "", a->rg ? a->rg : "");
    return cli_arm_get(a, path, "listing resources", NULL);
}

static int
res_run(struct cli_arm *a, int argc, char **argv)
{
    const char *id = pos(argc, argv, 2, 0);
    json_t *body;
    int rc;

    if (strcmp(argv[1], "list") == 0)
        return res_list(a, val(argc, argv, 2, "--type"));
    if (id == NULL || id[0] != '/')
        return CLI_USAGE;
    if (strcmp(argv[1], "show") == 0)
        return cli_arm_get(a, id, "showing the resource", NULL);
    if (strcmp(argv[1], "delete") == 0)
        return run_write(a, "DELETE", id, NULL, "deleting the resource");
    if (strcmp(argv[1], "put") != 0)
        return CLI_USAGE;
    if ((body = body_arg(val(argc, argv, 2, "--body"))) == NULL) {
        fprintf(stderr, "sccctl: --body needs JSON or @FILE with JSON\n");
        return CLI_USAGE;
    }
    rc = run_write(a, "PUT", id, body, "writing the resource");
    json_decref(body);
    return rc;
}

int
cli_cmd_resource(struct cli *c, int argc, char **argv)
{
    return cli_arm_with(c, argc, argv, res_help, res_run);
}

/* ---- network ---- */

static const char net_help[] =
        "usage: sccctl network list [TYPE] -g GROUP\n"
        "       sccctl network desired   the provider's desired-state document (admin socket)\n"
        "       sccctl network show TYPE NAME -g GROUP\n"
        "       sccctl network delete TYPE NAME -g GROUP [--wait]\n"
        "       sccctl network vnet create NAME -g GROUP --location L --address-prefix CIDR\n"
        "       sccctl network subnet create VNET NAME -g GROUP --address-prefix CIDR\n"
        "              [--nsg NSG] [--route-table RT] [--nat-gateway NAT] [--delegate-databricks]\n"
        "       sccctl network nsg create NAME -g GROUP --location L\n"
        "       sccctl network nsg-rule create NSG NAME -g GROUP --priority N\n"
        "              --direction Inbound|Outbound --access Allow|Deny --protocol Tcp|Udp|*\n"
        "              [--source PREFIX] [--destination PREFIX] [--port RANGE]\n"
        "       sccctl network public-ip create NAME -g GROUP --location L\n"
        "       sccctl network nat create NAME -g GROUP --location L [--public-ip PIP]\n"
        "              [--idle-timeout MINUTES]\n"
        "       sccctl network route-table create NAME -g GROUP --location L\n"
        "       sccctl network route create RT NAME -g GROUP --prefix P\n"
        "              --next-hop-type Internet|VirtualAppliance|VnetLocal|None [--next-hop-ip "
        "IP]\n"
        "\n"
        "TYPE is vnet, nsg, nat, public-ip, route-table, lb, firewall or nic.  Load balancers,\n"
        "firewalls and network interfaces are created with 'sccctl resource put' and an Azure\n"
        "REST body.  A workspace's VNet needs two subnets delegated to\n"
        "Microsoft.Databricks/workspaces (--delegate-databricks), each with an NSG, /26 or "
        "larger.\n";

static const char *
type_of(const char *t)
{
    static const char *const map[][2] = {
            {"vnet", "virtualNetworks"},    {"nsg", "networkSecurityGroups"},
            {"nat", "natGateways"},         {"public-ip", "publicIPAddresses"},
            {"route-table", "routeTables"}, {"lb", "loadBalancers"},
            {"firewall", "azureFirewalls"}, {"nic", "networkInterfaces"},
    };

    for (size_t i = 0; t && i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(map[i][0], t) == 0)
            return map[i][1];
    }
    return NULL;
}

static bool
net_path(struct cli_arm *a, char *out, size_t cap, const char *type, const char *name)
{
    return cli_arm_path(out, cap,
                        "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/%s%s%s",
                        a->sub, a->rg, type, name ? "/" : "", name ? name : "");
}

static json_t *
ref(struct cli_arm *a, const char *type, const char *name)
{
    char id[600];

    net_path(a, id, sizeof(id), type, name);
    return json_pack("{s:s}", "id", id);
}

static json_t *
subnet_body(struct cli_arm *a, int argc, char **argv)
{
    json_t *p = json_pack("{s:s}", "addressPrefix", val(argc, argv, 3, "--address-prefix"));
    const char *v;

    if (p == NULL)
        return NULL;
    if ((v = val(argc, argv, 3, "--nsg")) != NULL)
        json_object_set_new(p, "networkSecurityGroup", ref(a, "networkSecurityGroups", v));
    if ((v = val(argc, argv, 3, "--route-table")) != NULL)
        json_object_set_new(p, "routeTable", ref(a, "routeTables", v));
    if ((v = val(argc, argv, 3, "--nat-gateway")) != NULL)
        json_object_set_new(p, "natGateway", ref(a, "natGateways", v));
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--delegate-databricks") == 0)
            json_object_set_new(p, "delegations",
                                json_pack("[{s:s, s:{s:s}}]", "name", "databricks-del",
                                          "properties", "serviceName",
                                          "Microsoft.Databricks/workspaces"));
    }
    return json_pack("{s:o}", "properties", p);
}

static json_t *
rule_body(int argc, char **argv)
{
    const char *prio = val(argc, argv, 3, "--priority");
    const char *src = val(argc, argv, 3, "--source"), *dst = val(argc, argv, 3, "--destination");
    const char *port = val(argc, argv, 3, "--port");

    if (prio == NULL || !val(argc, argv, 3, "--direction") || !val(argc, argv, 3, "--access") ||
        !val(argc, argv, 3, "--protocol"))
        return NULL;
    return json_pack("{s:{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s}}", "properties", "priority",
                     (int)strtol(prio, NULL, 10), "direction", val(argc, argv, 3, "--direction"),
                     "access", val(argc, argv, 3, "--access"), "protocol",
                     val(argc, argv, 3, "--protocol"), "sourceAddressPrefix", src ? src : "*",
                     "destinationAddressPrefix", dst ? dst : "*", "sourcePortRange", "*",
                     "destinationPortRange", port ? port : "*");
}

static json_t *
top_body(struct cli_arm *a, const char *kind, int argc, char **argv)
{
    const char *loc = val(argc, argv, 3, "--location"), *v;
    json_t *o;

    if (loc == NULL)
        return NULL;
    o = json_pack("{s:s, s:{}}", "location", loc, "properties");
    if (strcmp(kind, "vnet") == 0) {
        if ((v = val(argc, argv, 3, "--address-prefix")) == NULL) {
            json_decref(o);
            return NULL;
        }
        json_object_set_new(json_object_get(o, "properties"), "addressSpace",
                            json_pack("{s:[s]}", "addressPrefixes", v));
    } else if (strcmp(kind, "public-ip") == 0 || strcmp(kind, "nat") == 0) {
        json_object_set_new(o, "sku", json_pack("{s:s}", "name", "Standard"));
        if (strcmp(kind, "public-ip") == 0)
            json_object_set_new(json_object_get(o, "properties"), "publicIPAllocationMethod",
                                json_string("Static"));
        if ((v = val(argc, argv, 3, "--public-ip")) != NULL)
            json_object_set_new(json_object_get(o, "properties"), "publicIpAddresses",
                                json_pack("[o]", ref(a, "publicIPAddresses", v)));
        if ((v = val(argc, argv, 3, "--idle-timeout")) != NULL)
            json_object_set_new(json_object_get(o, "properties"), "idleTimeoutInMinutes",
                                json_integer(strtol(v, NULL, 10)));
    }
    return o;
}

/* create of one of the shortcut kinds: the path and body to PUT. */
static json_t *
create_req(struct cli_arm *a, const char *kind, int argc, char **argv, char *path, size_t cap)
{
    const char *n0 = pos(argc, argv, 3, 0), *n1 = pos(argc, argv, 3, 1);
    char parent[600];

    if (n0 == NULL)
        return NULL;
    if (strcmp(kind, "subnet") == 0 || strcmp(kind, "nsg-rule") == 0 ||
        strcmp(kind, "route") == 0) {
        const char *pt = strcmp(kind, "subnet") == 0  ? "virtualNetworks"
                         : strcmp(kind, "route") == 0 ? "routeTables"
                                                      : "networkSecurityGroups";
        const char *coll = strcmp(kind, "subnet") == 0  ? "subnets"
                           : strcmp(kind, "route") == 0 ? "routes"
                                                        : "securityRules";

        if (n1 == NULL)
            return NULL;
        net_path(a, parent, sizeof(parent), pt, n0);
        cli_arm_path(path, cap, "%s/%s/%s", parent, coll, n1);
        if (strcmp(kind, "subnet") == 0)
            return subnet_body(a, argc, argv);
        if (strcmp(kind, "nsg-rule") == 0)
            return rule_body(argc, argv);
        return json_pack("{s:{s:s?, s:s?, s:s?}}", "properties", "addressPrefix",
                         val(argc, argv, 3, "--prefix"), "nextHopType",
                         val(argc, argv, 3, "--next-hop-type"), "nextHopIpAddress",
                         val(argc, argv, 3, "--next-hop-ip"));
    }
    if (type_of(kind) == NULL)
        return NULL;
    net_path(a, path, cap, type_of(kind), n0);
    return top_body(a, kind, argc, argv);
}

static int
net_run(struct cli_arm *a, int argc, char **argv)
{
    const char *type = type_of(argc > 2 ? argv[2] : NULL);
    char path[700];
    json_t *body;
    int rc;

    if (a->rg == NULL) {
        fprintf(stderr, "sccctl: network commands need -g GROUP\n");
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "list") == 0)
        return res_list(
                a, type ? (cli_arm_path(path, sizeof(path), "Microsoft.Network/%s", type), path)
                        : NULL);
    if ((strcmp(argv[1], "show") == 0 || strcmp(argv[1], "delete") == 0) && type && argc > 3 &&
        net_path(a, path, sizeof(path), type, argv[3]))
        return strcmp(argv[1], "show") == 0 ? cli_arm_get(a, path, "showing the resource", NULL)
                                            : run_write(a, "DELETE", path, NULL, "deleting");
    if (argc < 3 || strcmp(argv[2], "create") != 0 ||
        (body = create_req(a, argv[1], argc, argv, path, sizeof(path))) == NULL)
        return CLI_USAGE;
    rc = run_write(a, "PUT", path, body, "creating");
    json_decref(body);
    return rc;
}

int
cli_cmd_network(struct cli *c, int argc, char **argv)
{
    json_t *body = NULL;
    int status, rc;

    if (argc == 2 && strcmp(argv[1], "desired") == 0) {
        status = cli_call(c, "GET", "/v1/network/desired", NULL, NULL, &body);
        rc = status == 200 ? CLI_OK : cli_print_error(status, body, "reading the desired state");
        if (rc == CLI_OK)
            cli_print_json(body);
        json_decref(body);
        return rc;
    }
    return cli_arm_with(c, argc, argv, net_help, net_run);
}
