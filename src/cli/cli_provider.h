/*
 * cli_provider.h - sccctl provider status | gc: the local provider that
 * makes networks and VMs real (admin socket), next to resource provider
 * registration (provider list|show|register|unregister, management API).
 */
#ifndef SCC_CLI_CLI_PROVIDER_H
#define SCC_CLI_CLI_PROVIDER_H

#include "cli.h"

/* cli_cmd_provider_any - provider status|gc here, the rest cli_cmd_provider. */
int cli_cmd_provider_any(struct cli *c, int argc, char **argv);

#endif /* SCC_CLI_CLI_PROVIDER_H */
