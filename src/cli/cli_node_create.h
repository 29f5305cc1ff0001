/*
 * cli_node_create.h - sccctl node create | delete | list: VMs booted in a
 * workspace's network (the management API's createNodes and deleteNodes
 * actions), next to the admin-socket node commands (revoke, disconnect).
 */
#ifndef SCC_CLI_CLI_NODE_CREATE_H
#define SCC_CLI_CLI_NODE_CREATE_H

#include "cli.h"

/* cli_cmd_node_any - node create|delete|list here, the rest cli_cmd_node. */
int cli_cmd_node_any(struct cli *c, int argc, char **argv);

#endif /* SCC_CLI_CLI_NODE_CREATE_H */
