/*
 * ctl_prov.c - choosing a provider and the calls every provider shares:
 * parse the document into the model, dispatch, stamp every status with
 * whether it is isolated, and keep the last status for ctl_prov_status.
 */
#include "ctl_prov_int.h"

#include "common/err.h"
#include "common/file.h"
#include "common/json.h"
#include "common/mem.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const sbin_dirs[] = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};

static bool
find_tool(const char *name, char *out, size_t cap)
{
    for (size_t i = 0; i < sizeof(sbin_dirs) / sizeof(sbin_dirs[0]); i++) {
        if (ctl_prov_path(out, cap, "%s/%s", sbin_dirs[i], name) == 0 && access(out, X_OK) == 0)
            return true;
    }
    out[0] = '\0';
    return false;
}

bool
ctl_prov_prefix_is_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > CTL_PROV_PREFIX_MAX || s[0] < 'a' || s[0] > 'z')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
            return false;
    }
    return true;
}

/* scc-prov, whose "fwproxy" mode runs inside firewalls: the configured
 * one, else scc-prov next to the running executable (sccd and scc-prov
 * are installed, and built, side by side). */
static void
find_helper(const struct ctl_prov_cfg *cfg, char *out, size_t cap)
{
    char self[CTL_PROV_PATH_MAX];
    ssize_t n;

    if (cfg->helper_bin) {
        snprintf(out, cap, "%s", cfg->helper_bin);
        return;
    }
    if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0) {
        snprintf(out, cap, "scc-prov");
        return;
    }
    self[n] = '\0';
    if (ctl_prov_path(out, cap, "%s/scc-prov", dirname(self)) < 0)
        snprintf(out, cap, "scc-prov");
}

/* Processes start in whatever directory the provider runs in today;
 * relative paths would not survive that. */
static void
absolute(char *path, size_t cap)
{
    char *real = path[0] ? realpath(path, NULL) : NULL;

    if (real && strlen(real) < cap)
        memcpy(path, real, strlen(real) + 1);
    free(real);
}

static int
choose(const struct ctl_prov_cfg *cfg, const struct ctl_prov_ops **ops, char *err, size_t cap)
{
    const char *kind = cfg->kind ? cfg->kind : "auto";
    bool root = geteuid() == 0;

    if (strcmp(kind, "auto") == 0)
        kind = root ? "netns" : "process";
    if (strcmp(kind, "process") == 0) {
        *ops = &ctl_prov_process_ops;
        return 0;
    }
    if (strcmp(kind, "netns") != 0) {
        snprintf(err, cap, "unknown provider '%s' (netns, process or auto)", kind);
        return SCC_EINVAL;
    }
    if (!root) {
        snprintf(err, cap,
                 "the netns provider needs root (namespaces, veths, nftables); use "
                 "--provider process to run nodes as plain local processes");
        return SCC_EPERM;
    }
    *ops = &ctl_prov_netns_ops;
    return 0;
}

static int
fill(struct ctl_prov *p, const struct ctl_prov_cfg *cfg, char *err, size_t cap)
{
    if (!ctl_prov_prefix_is_valid(cfg->prefix)) {
        snprintf(err, cap, "prefix must be [a-z][a-z0-9]*, at most %d characters",
                 CTL_PROV_PREFIX_MAX);
        return SCC_EINVAL;
    }
    if (cfg->state_dir == NULL || cfg->state_dir[0] != '/') {
        snprintf(err, cap, "state_dir must be an absolute path");
        return SCC_EINVAL;
    }
    snprintf(p->prefix, sizeof(p->prefix), "%s", cfg->prefix);
    if (ctl_prov_path(p->state_dir, sizeof(p->state_dir), "%s", cfg->state_dir) < 0 ||
        ctl_prov_path(p->agent_bin, sizeof(p->agent_bin), "%s",
                      cfg->agent_bin ? cfg->agent_bin : "scc-agent") < 0 ||
        ctl_prov_path(p->ca_file, sizeof(p->ca_file), "%s", cfg->ca_file ? cfg->ca_file : "") < 0) {
        snprintf(err, cap, "a path is too long");
        return SCC_EINVAL;
    }
    find_helper(cfg, p->helper_bin, sizeof(p->helper_bin));
    absolute(p->agent_bin, sizeof(p->agent_bin));
    absolute(p->helper_bin, sizeof(p->helper_bin));
    absolute(p->ca_file, sizeof(p->ca_file));
    p->test_knobs = cfg->allow_test_knobs;
    p->agent_legacy = -1;
    scc_log_ctx_init(&p->log, "prov", "prefix=%s", p->prefix);
    return 0;
}

int
ctl_prov_new(const struct ctl_prov_cfg *cfg, struct ctl_prov **out, char *err, size_t cap)
{
    struct ctl_prov *p = NULL;
    const struct ctl_prov_ops *ops = NULL;
    int rc;

    *out = NULL;
    if ((rc = choose(cfg, &ops, err, cap)) < 0)
        return rc;
    if ((p = scc_calloc(1, sizeof(*p))) == NULL)
        return SCC_ENOMEM;
    p->ops = ops;
    if ((rc = fill(p, cfg, err, cap)) < 0)
        goto out;
    if (ops == &ctl_prov_netns_ops && (!find_tool("ip", p->ip_bin, sizeof(p->ip_bin)) ||
                                       !find_tool("nft", p->nft_bin, sizeof(p->nft_bin)))) {
        snprintf(err, cap, "the netns provider needs ip(8) and nft(8) (iproute2, nftables)");
        rc = SCC_EUNAVAIL;
        goto out;
    }
    if (!ops->isolated)
        scc_log_warn(&p->log, "process provider: VMs are plain processes on this host's "
                              "loopback; nothing is isolated");
    *out = p;
    p = NULL;
out:
    ctl_prov_free(p);
    return rc;
}

void
ctl_prov_free(struct ctl_prov *p)
{
    scc_free(p);
}

const char *
ctl_prov_kind(const struct ctl_prov *p)
{
    return p->ops->kind;
}

bool
ctl_prov_isolated(const struct ctl_prov *p)
{
    return p->ops->isolated;
}

/* ---- apply and status ---- */

static int
status_path(const struct ctl_prov *p, char *out, size_t cap)
{
    return ctl_prov_path(out, cap, "%s/status.json", p->state_dir);
}

static void
stamp(const struct ctl_prov *p, json_t *status)
{
    const char *id;
    json_t *o;

    json_object_foreach(status, id, o)
    {
        json_object_set_new(o, "isolated", json_boolean(p->ops->isolated));
        if (!p->ops->isolated)
            json_object_set_new(o, "note",
                                json_string("process provider: nothing is isolated; "
                                            "networks, NSGs, gateways and firewalls are "
                                            "recorded but not enforced"));
    }
}

static void
save_status(const struct ctl_prov *p, const json_t *status)
{
    char path[CTL_PROV_PATH_MAX];
    char *text = json_dumps(status, JSON_INDENT(1) | JSON_SORT_KEYS);

    if (text && status_path(p, path, sizeof(path)) == 0 && scc_dir_ensure(p->state_dir, 0700) == 0)
        (void)scc_file_write_atomic(path, text, strlen(text), 0600); /* only a cache */
    free(text);
}

static void
log_failures(const struct ctl_prov *p, const json_t *status)
{
    const char *id;
    json_t *o;

    json_object_foreach((json_t *)status, id, o)
    {
        const char *st = json_string_value(json_object_get(o, "state"));

        if (st && strcmp(st, "Failed") == 0)
            scc_log_warn(&p->log, "%s failed: %s", id,
                         json_string_value(json_object_get(o, "message")));
    }
}

int
ctl_prov_apply(struct ctl_prov *p, const json_t *desired, json_t **status, char *err, size_t cap)
{
    struct ctl_prov_model *m = NULL;
    int rc;

    *status = NULL;
    if ((rc = ctl_prov_model_new(desired, p->ops->isolated, p->test_knobs, &m, err, cap)) < 0)
        return rc;
    rc = p->ops->apply(p, m, err, cap);
    stamp(p, m->status);
    save_status(p, m->status);
    log_failures(p, m->status);
    if (rc == 0 && ctl_prov_status_failed(m->status)) {
        snprintf(err, cap, "some resources failed; their status says why");
        rc = SCC_EUNAVAIL;
    }
    scc_log_info(&p->log, "applied %zu VNets, %zu VMs: %s", m->nvnets, m->nvms,
                 rc == 0 ? "converged" : err);
    *status = json_incref(m->status);
    ctl_prov_model_free(m);
    return rc;
}

int
ctl_prov_status(struct ctl_prov *p, json_t **status, char *err, size_t cap)
{
    char path[CTL_PROV_PATH_MAX];
    struct scc_buf b;
    int rc;

    *status = NULL;
    scc_buf_init(&b, CTL_PROV_DOC_MAX);
    if ((rc = status_path(p, path, sizeof(path))) == 0 &&
        (rc = scc_file_read(path, CTL_PROV_DOC_MAX, &b)) == 0)
        rc = scc_json_parse_object(b.data, b.len, CTL_PROV_DOC_MAX, status, err, cap);
    scc_buf_fini(&b);
    if (rc == -ENOENT) {
        snprintf(err, cap, "nothing applied yet (no %s)", path);
        return SCC_ENOTFOUND;
    }
    if (rc < 0)
        return rc;
    return p->ops->status(p, *status, err, cap);
}

int
ctl_prov_gc(struct ctl_prov *p, json_t **removed, char *err, size_t cap)
{
    int rc;

    if ((*removed = json_array()) == NULL)
        return SCC_ENOMEM;
    rc = p->ops->gc(p, *removed, err, cap);
    if (json_array_size(*removed) > 0)
        scc_log_info(&p->log, "gc removed %zu leftovers", json_array_size(*removed));
    return rc;
}

int
ctl_prov_teardown(struct ctl_prov *p, char *err, size_t cap)
{
    int rc = p->ops->teardown(p, err, cap);

    scc_log_info(&p->log, "teardown: %s", rc == 0 ? "everything removed" : err);
    return rc;
}
