/*
 * cli_deploy.h - sccctl deployment: ARM template deployments
 * (Microsoft.Resources/deployments) through the management API.
 */
#ifndef SCC_CLI_CLI_DEPLOY_H
#define SCC_CLI_CLI_DEPLOY_H

#include "cli.h"

/* cli_cmd_deployment - create|validate|show|list|operations|cancel|delete|export. */
int cli_cmd_deployment(struct cli *c, int argc, char **argv);

#endif /* SCC_CLI_CLI_DEPLOY_H */
