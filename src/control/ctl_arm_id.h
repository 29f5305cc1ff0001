/*
 * ctl_arm_id.h - ARM request paths and resource ids.
 *
 * A request path is percent-decoded segment by segment and classified
 * (a subscription, a resource group, a resource with its child segments,
 * a list, an operation status ...).  Literal segments ("subscriptions",
 * "resourceGroups", "providers") and namespaces match case-insensitively,
 * as ARM does; names keep the caller's casing and the caller decides
 * whether a stored casing wins.  Pure functions, any thread.
 */
#ifndef SCC_CONTROL_CTL_ARM_ID_H
#define SCC_CONTROL_CTL_ARM_ID_H

#include <stdbool.h>
#include <stddef.h>

#define CTL_ARM_MAX_SEGS  24
#define CTL_ARM_MAX_TYPES 4    /* virtualNetworks/subnets/... nesting */
#define CTL_ARM_PATH_MAX  2048 /* decoded bytes of a request path */
#define CTL_ARM_ID_MAX    1024 /* longest id we store */

enum ctl_arm_kind {
    CTL_ARM_T_NONE = 0,
    CTL_ARM_T_SUBS,          /* /subscriptions */
    CTL_ARM_T_SUB,           /* /subscriptions/{s} */
    CTL_ARM_T_TENANT_PROVS,  /* /providers */
    CTL_ARM_T_TENANT_PROV,   /* /providers/{ns} */
    CTL_ARM_T_OPERATIONS,    /* /providers/{ns}/operations */
    CTL_ARM_T_PROVS,         /* /subscriptions/{s}/providers */
    CTL_ARM_T_PROV,          /* /subscriptions/{s}/providers/{ns} */
    CTL_ARM_T_PROV_ACTION,   /* /subscriptions/{s}/providers/{ns}/{register|unregister} */
    CTL_ARM_T_RGS,           /* /subscriptions/{s}/resourcegroups */
    CTL_ARM_T_RG,            /* /subscriptions/{s}/resourcegroups/{rg} */
    CTL_ARM_T_RG_RESOURCES,  /* /subscriptions/{s}/resourcegroups/{rg}/resources */
    CTL_ARM_T_SUB_RESOURCES, /* /subscriptions/{s}/resources */
    CTL_ARM_T_LIST_SUB,      /* /subscriptions/{s}/providers/{ns}/{type} */
    CTL_ARM_T_LIST_RG,       /* .../resourcegroups/{rg}/providers/{ns}/{type} */
    CTL_ARM_T_RESOURCE,      /* .../providers/{ns}/{type}/{name}[/{type}/{name}]... */
    CTL_ARM_T_CHILD_LIST,    /* .../providers/{ns}/{type}/{name}[...]/{type} */
    CTL_ARM_T_OP_STATUS, /* /subscriptions/{s}/providers/{ns}/locations/{l}/operationStatuses|operations/{id}
                          */
    CTL_ARM_T_OP_RESULT, /* /subscriptions/{s}/providers/{ns}/locations/{l}/operationResults/{id} */
    CTL_ARM_T_SUB_OP_RESULT, /* /subscriptions/{s}/operationresults/{id} */
};

/* A classified path; every pointer points into buf. */
struct ctl_arm_target {
    enum ctl_arm_kind kind;
    const char *sub, *rg, *ns, *loc, *op, *action;
    const char *types[CTL_ARM_MAX_TYPES]; /* "virtualNetworks", "subnets" */
    const char *names[CTL_ARM_MAX_TYPES]; /* one fewer than types for a list */
    size_t ntypes;
    char buf[CTL_ARM_PATH_MAX];
};

/*
 * ctl_arm_target_parse - decode and classify a request path (no query).
 * Returns 0 (kind NONE for a path that is well formed but means nothing
 * to us), SCC_EINVAL for a malformed path (bad escape, NUL, empty
 * segment, too long) or SCC_ETOOBIG.
 */
int ctl_arm_target_parse(const char *path, struct ctl_arm_target *out);

/* ctl_arm_is_api_version - "YYYY-MM-DD" with an optional "-suffix" of
 * letters (preview, beta, privatepreview). */
bool ctl_arm_is_api_version(const char *s);

/* ctl_arm_lower - ASCII lower-case copy of s into out (cap bytes);
 * SCC_ETRUNC if it does not fit. */
int ctl_arm_lower(const char *s, char *out, size_t cap);

/*
 * ctl_arm_rg_id / ctl_arm_res_id - canonical ids.  ns and types are given
 * as stored (canonical casing); res_id joins types[i]/names[i] for i <
 * ntypes.  Return 0 or SCC_ETRUNC.
 */
int ctl_arm_rg_id(char *out, size_t cap, const char *sub, const char *rg);
int ctl_arm_res_id(char *out, size_t cap, const char *sub, const char *rg, const char *ns,
                   const char *const *types, const char *const *names, size_t ntypes);

/*
 * ctl_arm_id_split - the parts of a stored resource id: subscription, rg
 * (NULL outside one) and the last name, copied into a (CTL_ARM_PATH_MAX)
 * scratch target.  Returns 0 or SCC_EINVAL.
 */
int ctl_arm_id_split(const char *id, struct ctl_arm_target *out);

/* ctl_arm_id_top - the id of the top-level resource that holds id (a
 * subnet's VNet), into out.  Returns 0, SCC_EINVAL or SCC_ETRUNC. */
int ctl_arm_id_top(const char *id, char *out, size_t cap);

/* ctl_arm_id_parent - id without its last type/name pair. */
int ctl_arm_id_parent(const char *id, char *out, size_t cap);

/* ctl_arm_id_last - the last segment of id (borrowed from id). */
const char *ctl_arm_id_last(const char *id);

/* ctl_arm_guid - a random lowercase GUID (37 bytes). */
int ctl_arm_guid(char out[37]);

#endif /* SCC_CONTROL_CTL_ARM_ID_H */
