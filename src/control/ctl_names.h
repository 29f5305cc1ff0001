/*
 * ctl_names.h - ARM's naming rules, shared by the API and the template
 * engine so that a name accepted in one place is accepted in the other.
 */
#ifndef SCC_CONTROL_CTL_NAMES_H
#define SCC_CONTROL_CTL_NAMES_H

#include <stdbool.h>

/* Resource group: 1-90 chars of [-\w._()], not ending in '.'. */
bool ctl_name_is_resource_group(const char *s);

/* Databricks workspace: 3-64 chars of [A-Za-z0-9_-]. */
bool ctl_name_is_workspace(const char *s);

/* Deployment: 1-64 chars of [-\w._()]. */
bool ctl_name_is_deployment(const char *s);

/* Generic child resource (network, compute): 1-80 chars of [-\w._],
 * starting with a letter, digit or '_'. */
bool ctl_name_is_resource(const char *s);

/* Subscription id: a canonical lowercase or uppercase GUID. */
bool ctl_name_is_guid(const char *s);

#endif /* SCC_CONTROL_CTL_NAMES_H */
