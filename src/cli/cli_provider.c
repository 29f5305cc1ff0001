/*
 * cli_provider.c - sccctl provider status | gc, on the admin socket.
 *
 * "provider" also names resource provider registration (cli_arm.c); the
 * two subcommands here are the local provider's: what the last apply made
 * of each resource, and removing what no resource wants any more.
 */
#include "cli_provider.h"

#include "cli_arm.h"

#include <stdio.h>
#include <string.h>

static const char help[] =
        "usage: sccctl provider status    what each network resource and VM became on this\n"
        "                                 host (namespace, egress, agent, counters)\n"
        "       sccctl provider gc        remove namespaces, links, rules and processes of\n"
        "                                 sccd's prefix that no resource wants\n"
        "       sccctl provider list|show|register|unregister NS   (resource providers)\n";

/* "virtualNetworks/vnet1/subnets/s" from a long ARM id. */
static const char *
short_id(const char *id)
{
    const char *p = strstr(id, "/providers/");

    if (p == NULL)
        return id;
    p += strlen("/providers/");
    p = strchr(p, '/'); /* past the namespace */
    return p ? p + 1 : id;
}

static void
detail(const json_t *o, char *out, size_t cap)
{
    const char *eg = json_string_value(json_object_get(o, "egress"));
    const char *ns = json_string_value(json_object_get(o, "namespace"));
    const char *msg = json_string_value(json_object_get(o, "message"));
    const char *ip = json_string_value(json_object_get(o, "egress_ip"));
    const json_t *run = json_object_get(o, "agent_running");
    size_t n = 0;

    out[0] = '\0';
    if (eg)
        n += (size_t)snprintf(out + n, cap - n, "egress %s%s%s", eg, ip ? " " : "", ip ? ip : "");
    if (run && n < cap)
        n += (size_t)snprintf(out + n, cap - n, "%sagent %s", n ? ", " : "",
                              json_is_true(run) ? "running" : "not running");
    if (ns && !eg && n < cap)
        n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? ", " : "", ns);
    if (msg && n < cap)
        snprintf(out + n, cap - n, "%s%s", n ? "; " : "", msg);
}

static void
print_status(const json_t *body)
{
    const json_t *res = json_object_get(body, "resources");
    const char *id;
    json_t *o;
    char d[600];

    printf("provider %s, prefix %s, %s\n", json_string_value(json_object_get(body, "provider")),
           json_string_value(json_object_get(body, "prefix")),
           json_is_true(json_object_get(body, "isolated")) ? "isolated"
                                                           : "NOT isolated (plain processes)");
    printf("%-60s %-10s %s\n", "RESOURCE", "STATE", "DETAIL");
    json_object_foreach((json_t *)res, id, o)
    {
        if (id[0] != '/')
            continue;
        detail(o, d, sizeof(d));
        printf("%-60s %-10s %s\n", short_id(id), json_string_value(json_object_get(o, "state")), d);
    }
}

static void
print_gc(const json_t *body)
{
    const json_t *removed = json_object_get(body, "removed");
    size_t i;
    json_t *v;

    if (json_array_size(removed) == 0)
        printf("nothing to remove\n");
    json_array_foreach(removed, i, v) printf("removed %s\n", json_string_value(v));
}

int
cli_cmd_provider_any(struct cli *c, int argc, char **argv)
{
    bool status = argc >= 2 && strcmp(argv[1], "status") == 0;
    bool gc = argc >= 2 && strcmp(argv[1], "gc") == 0;
    json_t *body = NULL;
    int code, rc = CLI_OK;

    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)) {
        fputs(help, stdout);
        return cli_cmd_provider(c, argc, argv);
    }
    if (!status && !gc)
        return cli_cmd_provider(c, argc, argv);
    if (argc != 2) {
        fputs(help, stderr);
        return CLI_USAGE;
    }
    code = cli_call(c, status ? "GET" : "POST", status ? "/v1/provider/status" : "/v1/provider/gc",
                    NULL, NULL, &body);
    if (code != 200)
        rc = cli_print_error(code, body, status ? "provider status" : "provider gc");
    else if (strcmp(c->output, "json") == 0)
        cli_print_json(body);
    else if (status)
        print_status(body);
    else
        print_gc(body);
    json_decref(body);
    return rc;
}
