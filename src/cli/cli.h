/*
 * cli.h - sccctl: the command-line client.
 *
 * Node commands talk HTTP/2 to sccd's admin socket (DIR/sccd.sock, owner
 * only), which lists connected nodes and forwards requests down their
 * tunnels.
 *
 *   cli_conn.c     the admin-socket connection and request helpers
 *   cli_nodes.c    nodes, token create, node revoke
 *   cli_exec.c     exec: start a run, stream its output, exit with its code
 *   cli_forward.c  forward: a local port through a CONNECT stream
 */
#ifndef SCC_CLI_CLI_H
#define SCC_CLI_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunnel/h2.h"

struct event_base;
struct cli_conn;

/* Exit codes scripts can rely on (exec passes the command's own code
 * through and uses 255 for its own failures, as ssh does). */
enum cli_exit {
    CLI_OK = 0,
    CLI_ERR = 1,         /* the request failed */
    CLI_USAGE = 2,       /* bad command line */
    CLI_NOT_FOUND = 3,   /* no such node, run, resource */
    CLI_REFUSED = 4,     /* not allowed */
    CLI_UNAVAILABLE = 5, /* sccd not running, node not reachable, timeout */
    CLI_EXEC_FAILED = 255,
};

struct cli {
    struct event_base *base;
    const char *data_dir;
    const char *admin_socket;
    const char *output; /* "table" or "json" */
    struct cli_conn *conn;
    int exit_code;
    bool quiet_connect; /* retrying quietly: do not report each failed dial */
};

/* A finished request: status 0 means the connection failed. */
typedef void (*cli_reply_cb)(struct cli *c, int status, json_t *body, const char *raw, void *arg);

/* cli_connect - open the admin socket (once; later calls reuse it). */
int cli_connect(struct cli *c);
struct scc_h2 *cli_session(struct cli *c);
bool cli_connected(const struct cli *c);
void cli_disconnect(struct cli *c);

/* cli_request - method path (+ scc-node header if node), optional JSON
 * body; the whole reply (at most 16 MiB) goes to cb. */
int cli_request(struct cli *c, const char *method, const char *path, const char *node,
                const json_t *body, cli_reply_cb cb, void *arg);

/* cli_call - cli_request and run the loop until the reply is in.
 * Returns the HTTP status (0: connection failed); *body owned. */
int cli_call(struct cli *c, const char *method, const char *path, const char *node,
             const json_t *req, json_t **body);

/* cli_print_error - "sccctl: <message>" from an error body; returns the
 * exit code that status maps to. */
int cli_print_error(int status, const json_t *body, const char *what);
int cli_status_exit(int status);

/* cli_print_json - pretty-print o on stdout. */
void cli_print_json(const json_t *o);

/* cli_resolve_node - "ws/cluster/node", or a unique short name among the
 * connected nodes, to the full path.  Prints why not on failure. */
int cli_resolve_node(struct cli *c, const char *name, char *out, size_t cap);

int cli_cmd_nodes(struct cli *c, int argc, char **argv);
int cli_cmd_token(struct cli *c, int argc, char **argv);
int cli_cmd_node(struct cli *c, int argc, char **argv);
int cli_cmd_exec(struct cli *c, int argc, char **argv);
int cli_cmd_forward(struct cli *c, int argc, char **argv);

#endif /* SCC_CLI_CLI_H */
