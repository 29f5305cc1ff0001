/* sccctl nodes | token create | node revoke */
#include "cli.h"
#include "cli_arm.h"

#include "common/parse.h"
#include "common/time.h"

#include <stdio.h>
#include <string.h>

static void
human_bytes(uint64_t n, char *out, size_t cap)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    size_t u = 0;

    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(out, cap, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void
print_nodes_table(const json_t *nodes)
{
    size_t i;
    json_t *n;

    printf("%-40s %-22s %-24s %9s %10s %10s\n", "NODE", "REMOTE ADDRESS", "CONNECTED SINCE", "RTT",
           "TO NODE", "FROM NODE");
    json_array_foreach(nodes, i, n)
    {
        char rtt[32], in[32], out[32];
        json_int_t us = json_integer_value(json_object_get(n, "rtt_us"));

        if (us > 0)
            snprintf(rtt, sizeof(rtt), "%.2f ms", (double)us / 1000.0);
        else
            snprintf(rtt, sizeof(rtt), "-");
        human_bytes((uint64_t)json_integer_value(json_object_get(n, "bytes_to_node")), out,
                    sizeof(out));
        human_bytes((uint64_t)json_integer_value(json_object_get(n, "bytes_from_node")), in,
                    sizeof(in));
        printf("%-40s %-22s %-24s %9s %10s %10s\n", json_string_value(json_object_get(n, "name")),
               json_string_value(json_object_get(n, "remote_address")),
               json_string_value(json_object_get(n, "connected_since")), rtt, out, in);
    }
}

int
cli_cmd_nodes(struct cli *c, int argc, char **argv)
{
    char path[200] = "/v1/nodes";
    json_t *body = NULL;
    int status, rc = CLI_OK;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--workspace") == 0 && i + 1 < argc)
            snprintf(path, sizeof(path), "/v1/nodes?workspace=%s", argv[++i]);
        else {
            fprintf(stderr, "usage: sccctl nodes [--workspace WS]\n");
            return CLI_USAGE;
        }
    }
    status = cli_call(c, "GET", path, NULL, NULL, &body);
    if (status != 200)
        rc = cli_print_error(status, body, "listing nodes");
    else if (strcmp(c->output, "json") == 0)
        cli_print_json(json_object_get(body, "nodes"));
    else
        print_nodes_table(json_object_get(body, "nodes"));
    json_decref(body);
    return rc;
}

static int
token_usage(void)
{
    fprintf(stderr, "usage: sccctl token create --workspace WS --cluster C --node N [--ttl 10m]\n"
                    "       sccctl token create --scope subscription/SUB|workspace/WS (see "
                    "sccctl token --help)\n");
    return CLI_USAGE;
}

int
cli_cmd_token(struct cli *c, int argc, char **argv)
{
    const char *ws = NULL, *cl = NULL, *node = NULL;
    uint64_t ttl_ms = 0;
    json_t *req, *body = NULL;
    int status, rc;

    if (cli_arm_token_is_api(argc, argv))
        return cli_arm_token(c, argc, argv); /* API tokens: --scope, list, revoke */
    if (argc < 2 || strcmp(argv[1], "create") != 0)
        return token_usage();
    for (int i = 2; i < argc; i += 2) { /* --flag value pairs */
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (v == NULL)
            return token_usage();
        if (strcmp(argv[i], "--workspace") == 0)
            ws = v;
        else if (strcmp(argv[i], "--cluster") == 0)
            cl = v;
        else if (strcmp(argv[i], "--node") == 0)
            node = v;
        else if (strcmp(argv[i], "--ttl") == 0) {
            if (scc_parse_duration_ms(v, &ttl_ms) < 0 || ttl_ms < 1000) {
                fprintf(stderr, "sccctl: --ttl: '%s' is not a duration like 10m\n", v);
                return CLI_USAGE;
            }
        } else
            return token_usage();
    }
    if (ws == NULL || cl == NULL || node == NULL)
        return token_usage();
    req = json_pack("{s:s, s:s, s:s}", "workspace", ws, "cluster", cl, "node", node);
    if (ttl_ms)
        json_object_set_new(req, "ttl_seconds", json_integer((json_int_t)(ttl_ms / 1000)));
    status = cli_call(c, "POST", "/v1/join-tokens", NULL, req, &body);
    rc = cli_status_exit(status);
    if (status != 201)
        rc = cli_print_error(status, body, "creating a join token");
    else if (strcmp(c->output, "json") == 0)
        cli_print_json(body);
    else
        printf("%s\n", json_string_value(json_object_get(body, "token")));
    json_decref(req);
    json_decref(body);
    return rc;
}

static int
node_disconnect(struct cli *c, const char *name)
{
    char node[256], path[400];
    json_t *body = NULL;
    int status, rc = CLI_OK;

    if (cli_resolve_node(c, name, node, sizeof(node)) < 0)
        return CLI_NOT_FOUND;
    snprintf(path, sizeof(path), "/v1/nodes/%s/disconnect", node);
    status = cli_call(c, "POST", path, NULL, NULL, &body);
    if (status != 204)
        rc = cli_print_error(status, body, "disconnecting");
    else
        printf("disconnected %s; it will dial again\n", node);
    json_decref(body);
    return rc;
}

int
cli_cmd_node(struct cli *c, int argc, char **argv)
{
    json_t *req, *body = NULL;
    int status, rc;

    if (argc == 3 && strcmp(argv[1], "disconnect") == 0)
        return node_disconnect(c, argv[2]);
    if (argc != 3 || strcmp(argv[1], "revoke") != 0) {
        fprintf(stderr, "usage: sccctl node revoke WS/CLUSTER/NODE\n"
                        "       sccctl node disconnect NODE\n");
        return CLI_USAGE;
    }
    req = json_pack("{s:s}", "node", argv[2]);
    status = cli_call(c, "POST", "/v1/revocations", NULL, req, &body);
    if (status != 200)
        rc = cli_print_error(status, body, "revoking");
    else {
        rc = CLI_OK;
        printf("revoked %s (%lld certificate(s)); its tunnel is closed\n", argv[2],
               (long long)json_integer_value(json_object_get(body, "revoked_certificates")));
    }
    json_decref(req);
    json_decref(body);
    return rc;
}
