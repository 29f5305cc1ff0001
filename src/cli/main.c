/*
 * sccctl - command-line client of sccd.
 *
 *   sccctl [--data-dir DIR] [--output table|json] COMMAND ...
 */
#include "cli.h"
#include "cli_arm.h"
#include "cli_deploy.h"
#include "cli_node_create.h"
#include "cli_provider.h"

#include "common/tls.h"

#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    int (*fn)(struct cli *c, int argc, char **argv);
    const char *help;
} commands[] = {
        {"nodes", cli_cmd_nodes,
         "nodes [--workspace WS]            connected nodes: identity, "
         "address, since, RTT, bytes"},
        {"token", cli_cmd_token,
         "token create --workspace WS --cluster C --node N [--ttl 10m]\n"
         "                                          a single-use join "
         "token for one node\n"
         "  token create --scope subscription/SUB|workspace/WS | list | revoke ID\n"
         "                                          API bearer tokens"},
        {"exec", cli_cmd_exec,
         "exec NODE -- CMD [ARGS...]         run a command on a node, "
         "stream its output, exit with its code"},
        {"forward", cli_cmd_forward,
         "forward NODE LPORT:HOST:PORT       a local port to a "
         "service on the node"},
        {"node", cli_cmd_node_any,
         "node revoke WS/CLUSTER/NODE         revoke a node's certificates "
         "and drop its tunnel\n"
         "  node create|delete|list --workspace WS -g GROUP [--count N] [--cluster C]\n"
         "                                          VMs booted in a workspace's network"},
        {"subscription", cli_cmd_subscription,
         "subscription list|show|create       subscriptions (management API)"},
        {"provider", cli_cmd_provider_any,
         "provider list|show|register|unregister NS\n"
         "                                          resource provider registration\n"
         "  provider status|gc                      the local provider: what resources became, "
         "leftovers"},
        {"group", cli_cmd_group,
         "group list|show|exists|create|update|delete\n"
         "                                          resource groups"},
        {"workspace", cli_cmd_workspace,
         "workspace list|show|create|update|tag|delete ...\n"
         "                                          Microsoft.Databricks workspaces (SCC, VNet "
         "injection)"},
        {"network", cli_cmd_network,
         "network vnet|subnet|nsg|nsg-rule|public-ip|nat|route-table|route create, list, "
         "show, delete\n"
         "                                          Microsoft.Network resources"},
        {"resource", cli_cmd_resource,
         "resource show|list|put|delete ID      any ARM resource by id, with a JSON body"},
        {"operation", cli_cmd_operation,
         "operation show|wait URL             a long-running operation"},
        {"deployment", cli_cmd_deployment,
         "deployment create|validate|show|list|operations|cancel|delete|export\n"
         "                                          ARM template deployments"},
};

static void
usage(FILE *out)
{
    fprintf(out, "usage: sccctl [--data-dir DIR] [--admin-socket PATH] [--output table|json] "
                 "COMMAND ...\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %s\n", commands[i].help);
    fprintf(out, "\nManagement API commands take --token T (or SCC_TOKEN; default "
                 "DIR/admin.token),\n--subscription SUB (default DIR/subscription), --api "
                 "https://HOST:PORT, --ca FILE,\n-g/--resource-group GROUP, --wait and --quiet; "
                 "'sccctl COMMAND --help' shows each.\n");
    fprintf(out, "\nNODE is ws/cluster/node, or a node name that is unique among connected "
                 "nodes.\nexit codes: 0 ok, 1 failed, 2 usage, 3 not found, 4 refused, 5 "
                 "unavailable;\nexec exits with the command's code (128+N for signal N, 255 "
                 "for its own errors).\n");
}

int
main(int argc, char **argv)
{
    static char sockpath[4200];
    struct cli c;
    int i, rc = CLI_USAGE;

    memset(&c, 0, sizeof(c));
    c.output = "table";
    c.data_dir = ".";
    for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc)
            break;
        if (strcmp(argv[i], "--data-dir") == 0)
            c.data_dir = argv[++i];
        else if (strcmp(argv[i], "--admin-socket") == 0)
            c.admin_socket = argv[++i];
        else if (strcmp(argv[i], "--output") == 0)
            c.output = argv[++i];
        else
            break;
    }
    if (i >= argc || (strcmp(c.output, "json") != 0 && strcmp(c.output, "table") != 0)) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (c.admin_socket == NULL) {
        snprintf(sockpath, sizeof(sockpath), "%s/sccd.sock", c.data_dir);
        c.admin_socket = sockpath;
    }
    signal(SIGPIPE, SIG_IGN);
    if (scc_tls_init() < 0 || (c.base = event_base_new()) == NULL)
        return CLI_ERR;
    for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
        if (strcmp(argv[i], commands[k].name) == 0) {
            rc = commands[k].fn(&c, argc - i, argv + i);
            goto out;
        }
    }
    fprintf(stderr, "sccctl: unknown command '%s'\n\n", argv[i]);
    usage(stderr);
out:
    cli_disconnect(&c);
    event_base_free(c.base);
    return rc;
}
