/*
 * prov_tool.c - scc-prov: drive the provider without the ARM API, for
 * tests, benchmarks and operators.
 *
 *   scc-prov apply DOC.json [options]   converge; print the status JSON
 *   scc-prov status [options]           last status, with live counters
 *   scc-prov gc [options]               remove leftovers; print them
 *   scc-prov teardown [options]         remove everything with the prefix
 *   scc-prov fwproxy ...                (internal) a firewall's proxy
 *
 * Exit codes: 0 converged, 1 some resources failed or an error, 2 usage,
 * 3 malformed document (nothing changed).
 */
#include "common/buf.h"
#include "common/err.h"
#include "common/file.h"
#include "common/json.h"
#include "ctl_prov.h"
#include "ctl_prov_fwproxy.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOC_MAX (16u << 20)

struct opts {
    const char *cmd, *doc;
    struct ctl_prov_cfg cfg;
};

static int
usage(void)
{
    fprintf(stderr, "usage: scc-prov apply DOC.json | status | gc | teardown [options]\n\n"
                    "  --prefix P        names of everything created start with P (default scc)\n"
                    "  --state-dir DIR   VM state, logs, pid files, records (default "
                    "/var/lib/scc/provider)\n"
                    "  --agent PATH      scc-agent to boot inside VMs\n"
                    "  --ca FILE         the control plane's CA certificate, given to agents\n"
                    "  --provider KIND   netns, process or auto (default: netns as root)\n"
                    "  --helper PATH     scc-prov for firewall proxies (default: this one)\n"
                    "  --test-knobs      honour the document's \"test\" section\n\n"
                    "exit codes: 0 converged, 1 failed, 2 usage, 3 malformed document\n");
    return 2;
}

static int
parse(int argc, char **argv, struct opts *o)
{
    static const char *const cmds[] = {"apply", "status", "gc", "teardown"};
    bool known = false;
    int i = 2;

    if (argc < 2)
        return -1;
    o->cmd = argv[1];
    for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++)
        known |= strcmp(o->cmd, cmds[k]) == 0;
    if (!known)
        return -1;
    if (strcmp(o->cmd, "apply") == 0) {
        if (argc < 3 || argv[2][0] == '-')
            return -1;
        o->doc = argv[i++];
    }
    for (; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **slot = strcmp(argv[i], "--prefix") == 0      ? &o->cfg.prefix
                            : strcmp(argv[i], "--state-dir") == 0 ? &o->cfg.state_dir
                            : strcmp(argv[i], "--agent") == 0     ? &o->cfg.agent_bin
                            : strcmp(argv[i], "--ca") == 0        ? &o->cfg.ca_file
                            : strcmp(argv[i], "--provider") == 0  ? &o->cfg.kind
                            : strcmp(argv[i], "--helper") == 0    ? &o->cfg.helper_bin
                                                                  : NULL;

        if (strcmp(argv[i], "--test-knobs") == 0) {
            o->cfg.allow_test_knobs = true;
            continue;
        }
        if (slot == NULL || v == NULL)
            return -1;
        *slot = v;
        i++;
    }
    return 0;
}

static void
print(const json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);

    if (s)
        printf("%s\n", s);
    free(s);
}

static int
read_doc(const char *path, json_t **doc, char *err, size_t cap)
{
    struct scc_buf b;
    int rc;

    scc_buf_init(&b, DOC_MAX);
    if ((rc = scc_file_read(path, DOC_MAX, &b)) < 0)
        snprintf(err, cap, "%s: %s", path, scc_strerror(rc));
    else
        rc = scc_json_parse_object(b.data, b.len, DOC_MAX, doc, err, cap);
    scc_buf_fini(&b);
    return rc;
}

static int
run(struct ctl_prov *p, const struct opts *o, char *err, size_t cap)
{
    json_t *doc = NULL, *out = NULL;
    int rc;

    if (strcmp(o->cmd, "apply") == 0) {
        if ((rc = read_doc(o->doc, &doc, err, cap)) < 0)
            return SCC_EPROTO;
        rc = ctl_prov_apply(p, doc, &out, err, cap);
    } else if (strcmp(o->cmd, "status") == 0) {
        rc = ctl_prov_status(p, &out, err, cap);
    } else if (strcmp(o->cmd, "gc") == 0) {
        rc = ctl_prov_gc(p, &out, err, cap);
    } else {
        rc = ctl_prov_teardown(p, err, cap);
    }
    if (out)
        print(out);
    json_decref(out);
    json_decref(doc);
    return rc;
}

int
main(int argc, char **argv)
{
    struct opts o = {
            .cfg = {.kind = "auto", .prefix = "scc", .state_dir = "/var/lib/scc/provider"}};
    struct ctl_prov *p = NULL;
    char err[1024] = "";
    int rc;

    if (argc >= 2 && strcmp(argv[1], "fwproxy") == 0)
        return ctl_prov_fwproxy_main(argc - 1, argv + 1);
    if (parse(argc, argv, &o) < 0)
        return usage();
    (void)signal(SIGPIPE, SIG_IGN);
    if ((rc = ctl_prov_new(&o.cfg, &p, err, sizeof(err))) < 0) {
        fprintf(stderr, "scc-prov: %s\n", err);
        return 1;
    }
    rc = run(p, &o, err, sizeof(err));
    ctl_prov_free(p);
    if (rc < 0)
        fprintf(stderr, "scc-prov %s: %s\n", o.cmd, err[0] ? err : scc_strerror(rc));
    return rc == 0 ? 0 : rc == SCC_EPROTO ? 3 : 1;
}
