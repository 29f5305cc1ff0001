/*
 * cli_arm_token.c - sccctl token create --scope | token list | token revoke:
 * API bearer tokens, minted by sccd on its admin socket (owner only) and
 * shown once.  "token create --workspace WS --cluster C --node N" (a join
 * token for one node) stays in cli_nodes.c.
 */
#include "cli_arm.h"

#include "common/parse.h"

#include <stdio.h>
#include <string.h>

static const char token_help[] =
        "usage: sccctl token create --scope subscription/SUB|workspace/WS [--name NAME]\n"
        "              [--ttl DURATION]      an API bearer token (printed once)\n"
        "       sccctl token create --workspace WS --cluster C --node N [--ttl 10m]\n"
        "                                    a single-use join token for one node\n"
        "       sccctl token list            API tokens: id, scope, name, dates (no secrets)\n"
        "       sccctl token revoke ID       revoke an API token\n"
        "\n"
        "A subscription/SUB token may do anything inside that subscription; a\n"
        "workspace/WS token (WS: a workspace name or resource id) only reads and writes\n"
        "that workspace and its operations.  Use it with --token or SCC_TOKEN.\n";

bool
cli_arm_token_is_api(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "list") == 0 || strcmp(argv[1], "revoke") == 0 ||
                      strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return true;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--scope") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    }
    return false;
}

static int
token_create(struct cli *c, int argc, char **argv)
{
    json_t *req = json_object(), *body = NULL;
    uint64_t ttl_ms = 0;
    int status, rc;

    for (int i = 2; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (v == NULL)
            goto usage;
        if (strcmp(argv[i], "--scope") == 0)
            json_object_set_new(req, "scope", json_string(v));
        else if (strcmp(argv[i], "--name") == 0)
            json_object_set_new(req, "name", json_string(v));
        else if (strcmp(argv[i], "--ttl") == 0 && scc_parse_duration_ms(v, &ttl_ms) == 0 &&
                 ttl_ms >= 1000)
            json_object_set_new(req, "ttl_seconds", json_integer((json_int_t)(ttl_ms / 1000)));
        else
            goto usage;
    }
    status = cli_call(c, "POST", "/v1/api-tokens", NULL, req, &body);
    rc = status == 201 ? CLI_OK : cli_print_error(status, body, "creating an API token");
    if (rc == CLI_OK && strcmp(c->output, "json") == 0)
        cli_print_json(body);
    else if (rc == CLI_OK)
        printf("%s\n", json_string_value(json_object_get(body, "token")));
    json_decref(req);
    json_decref(body);
    return rc;
usage:
    json_decref(req);
    fputs(token_help, stderr);
    return CLI_USAGE;
}

static int
token_list(struct cli *c)
{
    json_t *body = NULL, *t;
    int status, rc;
    size_t i;

    status = cli_call(c, "GET", "/v1/api-tokens", NULL, NULL, &body);
    rc = status == 200 ? CLI_OK : cli_print_error(status, body, "listing API tokens");
    if (rc == CLI_OK && strcmp(c->output, "json") == 0)
        cli_print_json(json_object_get(body, "value"));
    else if (rc == CLI_OK) {
        /* The scope last: a workspace's is its resource id, of any length. */
        printf("%-24s %-16s %-30s %-7s %s\n", "ID", "NAME", "CREATED", "REVOKED", "SCOPE");
        json_array_foreach(json_object_get(body, "value"), i, t)
                printf("%-24s %-16s %-30s %-7s %s\n", json_string_value(json_object_get(t, "id")),
                       json_string_value(json_object_get(t, "name")),
                       json_string_value(json_object_get(t, "created_at")),
                       json_is_true(json_object_get(t, "revoked")) ? "yes" : "no",
                       json_string_value(json_object_get(t, "scope")));
    }
    json_decref(body);
    return rc;
}

int
cli_arm_token(struct cli *c, int argc, char **argv)
{
    char path[128];
    json_t *body = NULL;
    int status, rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(token_help, stdout);
            return CLI_OK;
        }
    }
    if (strcmp(argv[1], "list") == 0 && argc == 2)
        return token_list(c);
    if (strcmp(argv[1], "create") == 0)
        return token_create(c, argc, argv);
    if (strcmp(argv[1], "revoke") != 0 || argc != 3) {
        fputs(token_help, stderr);
        return CLI_USAGE;
    }
    snprintf(path, sizeof(path), "/v1/api-tokens/%.40s", argv[2]);
    status = cli_call(c, "DELETE", path, NULL, NULL, &body);
    rc = status == 200 ? CLI_OK : cli_print_error(status, body, "revoking the API token");
    if (rc == CLI_OK)
        printf("revoked %s\n", argv[2]);
    json_decref(body);
    return rc;
}
