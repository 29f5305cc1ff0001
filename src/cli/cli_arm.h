/*
 * cli_arm.h - sccctl's management API commands: HTTPS (libcurl) to the
 * API address in DIR/endpoints.json ("api"), trusting DIR/pki/ca.crt,
 * with the bearer token of --token, $SCC_TOKEN or DIR/admin.token.
 *
 *   cli_arm_http.c   options, the connection, requests, waiting on LROs
 *   cli_arm.c        subscription, provider, group, workspace, operation
 *   cli_arm_net.c    resource (any ARM id) and network shortcuts
 *   cli_arm_token.c  token create --scope / list / revoke (admin socket)
 */
#ifndef SCC_CLI_CLI_ARM_H
#define SCC_CLI_CLI_ARM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "cli.h"

/* Options every ARM command takes (anywhere after the command name). */
struct cli_arm {
    struct cli *c;
    const char *token; /* --token, $SCC_TOKEN, or DIR/admin.token */
    const char *sub;   /* --subscription, or DIR/subscription */
    const char *api;   /* --api https://host:port, or endpoints.json */
    const char *ca;    /* --ca FILE, or DIR/pki/ca.crt */
    const char *rg;    /* --resource-group / -g */
    bool wait;         /* --wait */
    bool quiet;        /* --quiet: no progress line */
    void *curl;        /* CURL * */
    char token_buf[128];
    char sub_buf[64];
    char api_buf[300];
    char ca_buf[4200];
};

/* One answer. */
struct cli_arm_resp {
    int status; /* 0: no answer (connection failed) */
    json_t *body;
    char async_op[1024]; /* Azure-AsyncOperation */
    char location[1024];
    int retry_after;
    char warning[1024];
};

void cli_arm_resp_fini(struct cli_arm_resp *r);

/*
 * cli_arm_opts - take the shared options out of argv (compacting it) and
 * fill a.  Returns 0, or CLI_USAGE after printing why.
 */
int cli_arm_opts(struct cli *c, struct cli_arm *a, int *argc, char **argv);
/* cli_arm_open - resolve token, subscription, address and CA; connect. */
int cli_arm_open(struct cli_arm *a);
void cli_arm_close(struct cli_arm *a);

/* cli_arm_call - method path (relative to the API; api-version added if
 * absent) with an optional JSON body.  Returns the status (0: failed to
 * connect, message printed). */
int cli_arm_call(struct cli_arm *a, const char *method, const char *path, const json_t *body,
                 struct cli_arm_resp *r);

/*
 * cli_arm_finish - the common ending of a write: on an error, print it and
 * return its exit code; on an LRO with --wait, poll (progress on stderr)
 * until it ends, then GET get_path (if not NULL) into r.  Otherwise say how
 * to follow the operation.
 */
int cli_arm_finish(struct cli_arm *a, struct cli_arm_resp *r, const char *what,
                   const char *get_path);

/* cli_arm_get - GET path and print the answer (cols, or JSON when NULL);
 * an error answer is reported as "error what: ...".  The exit code. */
int cli_arm_get(struct cli_arm *a, const char *path, const char *what, const char *const *cols);

/* Printing. */
int cli_arm_error(const struct cli_arm_resp *r, const char *what);
void cli_arm_print(struct cli_arm *a, const json_t *o, const char *const *cols);
/* cli_arm_kv - "k=v" into an object (tags); false when malformed. */
bool cli_arm_kv(json_t *obj, const char *kv);
/* cli_arm_path - printf into out; false if truncated. */
bool cli_arm_path(char *out, size_t cap, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* cli_arm_with - a command's common frame: --help prints help; otherwise
 * take the shared options, open the connection, run fn, close; a
 * CLI_USAGE from fn prints help to stderr. */
int cli_arm_with(struct cli *c, int argc, char **argv, const char *help,
                 int (*fn)(struct cli_arm *a, int argc, char **argv));

int cli_cmd_subscription(struct cli *c, int argc, char **argv);
int cli_cmd_provider(struct cli *c, int argc, char **argv);
int cli_cmd_group(struct cli *c, int argc, char **argv);
int cli_cmd_workspace(struct cli *c, int argc, char **argv);
int cli_cmd_operation(struct cli *c, int argc, char **argv);
int cli_cmd_resource(struct cli *c, int argc, char **argv);
int cli_cmd_network(struct cli *c, int argc, char **argv);

/* token create --scope, token list, token revoke: true if argv is one. */
bool cli_arm_token_is_api(int argc, char **argv);
int cli_arm_token(struct cli *c, int argc, char **argv);

#endif /* SCC_CLI_CLI_ARM_H */
