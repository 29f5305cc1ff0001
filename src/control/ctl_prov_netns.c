/*
 * ctl_prov_netns.c - the netns provider's apply: build the plan from the
 * model, then converge in four steps, each idempotent:
 *
 *   1. namespaces: delete ours that the plan does not want (their
 *      processes first), create the missing ones;
 *   2. links: delete unwanted or half links (a veth whose peer died with
 *      its namespace), create missing pairs directly in their namespaces;
 *   3. configuration: per namespace, undo the lines applied last time and
 *      no longer wanted, run the new ones (and those on a link just
 *      re-created), load the nft table if it changed;
 *   4. processes: agents and firewall proxies, restarted only if dead or
 *      changed.
 *
 * What was applied is remembered per namespace in state_dir/ns/NAME with
 * the boot id and the namespace's inode: a namespace that was re-created
 * behind our back, or a reboot, invalidates the record, and the namespace
 * is rebuilt from scratch rather than trusted.
 */
#include "ctl_prov_netns.h"

#include "common/err.h"
#include "common/file.h"
#include "common/map.h"
#include "common/mem.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINK_RETRIES 20
#define STATE_MAX    (32u << 20)

/* ---- small helpers ---- */

static const char *
ns_arg(const struct ctl_np_plan *pl, int i)
{
    return i == pl->host ? NULL : pl->ns[i].name;
}

static const char *
ns_file(const struct ctl_np_plan *pl, int i)
{
    return i == pl->host ? "host" : pl->ns[i].name;
}

/* Whether "\nname\n" occurs in a "\n"-separated list that starts with
 * "\n" (lists built by list_add). */
static bool
list_has(const struct scc_buf *list, const char *name)
{
    char key[CTL_PROV_NS_MAX + 4];

    snprintf(key, sizeof(key), "\n%s\n", name);
    return list->len > 0 && strstr(scc_buf_str(list), key) != NULL;
}

static int
list_add(struct scc_buf *list, const char *name)
{
    if (list->len == 0 && scc_buf_put_str(list, "\n") < 0)
        return SCC_ENOMEM;
    return scc_buf_printf(list, "%s\n", name);
}

static void
fail_ns(struct ctl_np_plan *pl, int i, const char *what, const struct scc_buf *why)
{
    char msg[600];
    size_t n = 0;

    /* ip's and nft's words, on one line. */
    for (const char *s = scc_buf_str(why); *s && n + 1 < sizeof(msg); s++)
        msg[n++] = *s == '\n' ? ' ' : *s;
    msg[n] = '\0';
    ctl_prov_status_fail(pl->m->status, pl->ns[i].owner, "%s in %s: %s", what,
                         i == pl->host ? "the host" : pl->ns[i].name, msg[0] ? msg : "failed");
}

void
ctl_np_boot_id(char out[40])
{
    struct scc_buf b;

    scc_buf_init(&b, 64);
    out[0] = '\0';
    if (scc_file_read("/proc/sys/kernel/random/boot_id", 64, &b) == 0)
        snprintf(out, 40, "%.36s", scc_buf_str(&b));
    scc_buf_fini(&b);
}

/* ---- per-namespace state records ---- */

struct ns_state {
    bool valid;
    char nft[24];         /* hash of the loaded table, "-" for none */
    struct scc_buf items; /* lines applied */
    struct scc_map *set;  /* the same lines, for lookups */
};

static void
state_fini(struct ns_state *st)
{
    scc_buf_fini(&st->items);
    scc_map_free(st->set);
    st->set = NULL;
}

static int
state_path(const struct ctl_np_plan *pl, int i, char *out, size_t cap)
{
    return ctl_prov_path(out, cap, "%s/ns/%s", pl->p->state_dir, ns_file(pl, i));
}

static int
state_load(const struct ctl_np_plan *pl, int i, const char *boot, struct ns_state *st)
{
    char path[CTL_PROV_PATH_MAX], want[128];
    struct scc_buf b;
    const char *s, *body;
    int rc;

    memset(st, 0, sizeof(*st));
    snprintf(st->nft, sizeof(st->nft), "-");
    scc_buf_init(&st->items, STATE_MAX);
    scc_buf_init(&b, STATE_MAX);
    if ((rc = scc_map_new(&st->set)) < 0 || (rc = state_path(pl, i, path, sizeof(path))) < 0)
        goto out;
    snprintf(want, sizeof(want), "boot %s\nino %lu\nnft ", boot,
             ctl_prov_ns_ino(i == pl->host ? "" : pl->ns[i].name));
    if (scc_file_read(path, STATE_MAX, &b) < 0 || strncmp(scc_buf_str(&b), want, strlen(want)))
        goto out; /* absent or stale: nothing is known to be applied */
    s = scc_buf_str(&b) + strlen(want);
    if ((body = strchr(s, '\n')) == NULL)
        goto out;
    snprintf(st->nft, sizeof(st->nft), "%.*s", (int)(body - s), s);
    if ((rc = scc_buf_put_str(&st->items, body + 1)) < 0)
        goto out;
    for (char *l = (char *)scc_buf_str(&st->items), *nl; *l; l = nl + 1) {
        if ((nl = strchr(l, '\n')) == NULL)
            break;
        *nl = '\0';
        if ((rc = scc_map_put(st->set, l, l, NULL)) < 0)
            goto out;
        *nl = '\n';
    }
    st->valid = true;
out:
    scc_buf_fini(&b);
    return rc;
}

static int
state_save(const struct ctl_np_plan *pl, int i, const char *boot, const char *nft,
           const struct scc_buf *applied)
{
    char path[CTL_PROV_PATH_MAX];
    struct scc_buf b;
    int rc;

    scc_buf_init(&b, STATE_MAX);
    if ((rc = state_path(pl, i, path, sizeof(path))) == 0)
        rc = scc_buf_printf(&b, "boot %s\nino %lu\nnft %s\n", boot,
                            ctl_prov_ns_ino(i == pl->host ? "" : pl->ns[i].name), nft);
    if (rc == 0)
        rc = scc_buf_put(&b, applied->data ? (const char *)applied->data : "", applied->len);
    if (rc == 0)
        rc = scc_file_write_atomic(path, b.data ? b.data : (void *)"", b.len, 0600);
    scc_buf_fini(&b);
    return rc;
}

/* ---- step 1: namespaces ---- */

int
ctl_np_list_ours(const struct ctl_prov *p, struct scc_buf *out)
{
    DIR *d = opendir("/run/netns");
    size_t plen = strlen(p->prefix);
    struct dirent *e;
    int rc = 0;

    if (d == NULL)
        return errno == ENOENT ? 0 : -errno;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, p->prefix, plen) == 0 && e->d_name[plen] == '-')
            rc = list_add(out, e->d_name);
    }
    closedir(d);
    return rc;
}

static bool
plan_has_ns(const struct ctl_np_plan *pl, const char *name)
{
    for (size_t i = 0; i < pl->nns; i++) {
        if (strcmp(pl->ns[i].name, name) == 0)
            return true;
    }
    return false;
}

/* Namespaces of ours that the plan does not want, or whose record cannot
 * be trusted, go (processes first). */
static int
ns_removals(struct ctl_np_plan *pl, const char *boot, struct scc_buf *del)
{
    struct ctl_prov_reap reap;
    struct scc_buf have;
    int rc;

    ctl_prov_reap_init(&reap);
    scc_buf_init(&have, 4u << 20);
    if ((rc = ctl_np_list_ours(pl->p, &have)) < 0)
        goto out;
    for (const char *s = scc_buf_str(&have), *nl; rc == 0 && *s; s = nl + 1) {
        char name[CTL_PROV_NS_MAX];

        if ((nl = strchr(s, '\n')) == NULL)
            break;
        if (nl == s || (size_t)(nl - s) >= sizeof(name))
            continue;
        snprintf(name, sizeof(name), "%.*s", (int)(nl - s), s);
        if (plan_has_ns(pl, name))
            continue;
        if ((rc = ctl_prov_reap_ns(&reap, name)) == 0)
            rc = scc_buf_printf(del, "netns del %s\n", name);
    }
    for (size_t i = 0; rc == 0 && i < pl->nns; i++) {
        struct ns_state st;

        if ((int)i == pl->host || ctl_prov_ns_ino(pl->ns[i].name) == 0)
            continue;
        if ((rc = state_load(pl, (int)i, boot, &st)) == 0 && !st.valid &&
            (rc = ctl_prov_reap_ns(&reap, pl->ns[i].name)) == 0)
            rc = scc_buf_printf(del, "netns del %s\n", pl->ns[i].name);
        state_fini(&st);
    }
out:
    /* Processes first, all at once, or the namespaces would live on,
     * nameless, around them. */
    ctl_prov_reap_run(&reap, 2000);
    scc_buf_fini(&have);
    return rc;
}

int
ctl_np_ns_step(struct ctl_np_plan *pl, const char *boot, char *err, size_t cap)
{
    struct scc_buf del, add, ipe;
    int rc;

    scc_buf_init(&del, 4u << 20);
    scc_buf_init(&add, 4u << 20);
    scc_buf_init(&ipe, 1u << 20);
    if ((rc = ns_removals(pl, boot, &del)) < 0)
        goto out;
    (void)ctl_prov_ip(pl->p, NULL, scc_buf_str(&del), &ipe, NULL, 0); /* gone is gone */
    scc_buf_reset(&ipe);
    for (size_t i = 0; rc == 0 && i < pl->nns; i++) {
        if ((int)i == pl->host)
            continue;
        pl->ns[i].created = ctl_prov_ns_ino(pl->ns[i].name) == 0;
        if (pl->ns[i].created)
            rc = scc_buf_printf(&add, "netns add %s\n", pl->ns[i].name);
    }
    if (rc == 0 && ctl_prov_ip(pl->p, NULL, scc_buf_str(&add), &ipe, NULL, 0) < 0) {
        snprintf(err, cap, "cannot create namespaces: %s", scc_buf_str(&ipe));
        rc = SCC_EUNAVAIL;
    }
out:
    scc_buf_fini(&del);
    scc_buf_fini(&add);
    scc_buf_fini(&ipe);
    return rc;
}

/* ---- step 2: links ---- */

static int
links_read(struct ctl_np_plan *pl)
{
    const char **names = scc_calloc(pl->nns + 1, sizeof(*names));
    struct scc_buf out;
    int rc = names ? 0 : SCC_ENOMEM, cur = -1;

    scc_buf_init(&out, 16u << 20);
    for (size_t i = 0; names && i < pl->nns; i++) {
        names[i] = (int)i == pl->host ? "" : pl->ns[i].name;
        scc_buf_reset(&pl->ns[i].present);
    }
    if (rc == 0)
        rc = ctl_prov_ns_links(names, pl->nns, &out);
    for (const char *s = scc_buf_str(&out), *nl; rc == 0 && *s; s = nl + 1) {
        char name[CTL_PROV_NS_MAX + 1];

        if ((nl = strchr(s, '\n')) == NULL || (size_t)(nl - s) >= sizeof(name))
            break;
        snprintf(name, sizeof(name), "%.*s", (int)(nl - s), s);
        if (name[0] == '=' || name[0] == '!') {
            cur = -1;
            for (size_t i = 0; name[0] == '=' && i < pl->nns; i++)
                cur = strcmp(names[i], name + 1) == 0 ? (int)i : cur;
        } else if (cur >= 0) {
            rc = list_add(&pl->ns[cur].present, name);
        }
    }
    scc_free(names);
    scc_buf_fini(&out);
    return rc;
}

static bool
link_wanted(const struct ctl_np_plan *pl, int ns, const char *name)
{
    for (size_t i = 0; i < pl->nlinks; i++) {
        const struct ctl_np_link *l = &pl->links[i];

        if ((l->a == ns && strcmp(l->an, name) == 0) || (l->b == ns && strcmp(l->bn, name) == 0))
            return true;
    }
    return false;
}

/* Unwanted links in our namespaces (and ours on the host), and half
 * links: one end of a wanted pair whose other end is gone. */
static int
link_removals(struct ctl_np_plan *pl, int ns, struct scc_buf *del)
{
    char mine[CTL_PROV_PREFIX_MAX + 2];
    int rc = 0;

    snprintf(mine, sizeof(mine), "%s-", pl->p->prefix);
    for (const char *s = scc_buf_str(&pl->ns[ns].present), *nl; rc == 0 && *s; s = nl + 1) {
        char name[NP_IFNAME_MAX + 1];

        if ((nl = strchr(s, '\n')) == NULL)
            break;
        if (nl == s || (size_t)(nl - s) >= sizeof(name))
            continue;
        snprintf(name, sizeof(name), "%.*s", (int)(nl - s), s);
        if (strcmp(name, "lo") == 0 || (ns == pl->host && strncmp(name, mine, strlen(mine))))
            continue;
        if (!link_wanted(pl, ns, name))
            rc = scc_buf_printf(del, "link del %s\n", name);
    }
    for (size_t i = 0; rc == 0 && i < pl->nlinks; i++) {
        const struct ctl_np_link *l = &pl->links[i];
        bool a = list_has(&pl->ns[l->a].present, l->an);
        bool b = l->b < 0 || list_has(&pl->ns[l->b].present, l->bn);

        if (l->a == ns && a && !b)
            rc = scc_buf_printf(del, "link del %s\n", l->an);
        if (l->b == ns && b && !a)
            rc = scc_buf_printf(del, "link del %s\n", l->bn);
    }
    return rc;
}

static int
links_prune(struct ctl_np_plan *pl)
{
    struct scc_buf del, ipe;
    bool any = false;
    int rc = 0;

    scc_buf_init(&del, 4u << 20);
    scc_buf_init(&ipe, 1u << 20);
    for (size_t i = 0; rc == 0 && i < pl->nns; i++) {
        scc_buf_reset(&del);
        if ((rc = link_removals(pl, (int)i, &del)) == 0 && del.len > 0) {
            any = true;
            (void)ctl_prov_ip(pl->p, ns_arg(pl, (int)i), scc_buf_str(&del), &ipe, NULL, 0);
        }
    }
    if (rc == 0 && any)
        rc = links_read(pl);
    scc_buf_fini(&del);
    scc_buf_fini(&ipe);
    return rc;
}

static int
link_create_line(const struct ctl_np_plan *pl, const struct ctl_np_link *l, struct scc_buf *out)
{
    char a[CTL_PROV_NS_MAX + 8] = "", b[CTL_PROV_NS_MAX + 8] = "";

    if (l->a != pl->host)
        snprintf(a, sizeof(a), " netns %s", pl->ns[l->a].name);
    if (l->b < 0)
        return scc_buf_printf(out, "link add %s%s type bridge\n", l->an, a);
    if (l->b != pl->host)
        snprintf(b, sizeof(b), " netns %s", pl->ns[l->b].name);
    return scc_buf_printf(out, "link add %s%s type veth peer name %s%s\n", l->an, a, l->bn, b);
}

/* Create the missing links; a create can fail while a deleted
 * namespace's veths are still being torn down, so retry briefly. */
static int
links_create(struct ctl_np_plan *pl, struct scc_buf *ipe)
{
    struct scc_buf add;
    int rc = 0;

    scc_buf_init(&add, 4u << 20);
    for (int attempt = 0; rc == 0 && attempt < LINK_RETRIES; attempt++) {
        scc_buf_reset(&add);
        scc_buf_reset(ipe);
        for (size_t i = 0; rc == 0 && i < pl->nlinks; i++) {
            const struct ctl_np_link *l = &pl->links[i];

            if (list_has(&pl->ns[l->a].present, l->an))
                continue;
            rc = link_create_line(pl, l, &add);
            if (rc == 0 && !list_has(&pl->ns[l->a].remade, l->an))
                rc = list_add(&pl->ns[l->a].remade, l->an);
            if (rc == 0 && l->b >= 0 && !list_has(&pl->ns[l->b].remade, l->bn))
                rc = list_add(&pl->ns[l->b].remade, l->bn);
        }
        if (rc < 0 || add.len == 0)
            break;
        (void)ctl_prov_ip(pl->p, NULL, scc_buf_str(&add), ipe, NULL, 0);
        if ((rc = links_read(pl)) == 0 && (rc = links_prune(pl)) == 0 && attempt > 0)
            usleep(100000);
    }
    scc_buf_fini(&add);
    return rc;
}

int
ctl_np_links_step(struct ctl_np_plan *pl)
{
    struct scc_buf ipe;
    int rc;

    scc_buf_init(&ipe, 1u << 20);
    if ((rc = links_read(pl)) == 0 && (rc = links_prune(pl)) == 0)
        rc = links_create(pl, &ipe);
    for (size_t i = 0; rc == 0 && i < pl->nlinks; i++) {
        const struct ctl_np_link *l = &pl->links[i];

        if (!list_has(&pl->ns[l->a].present, l->an)) {
            fail_ns(pl, l->a, "cannot create link", &ipe);
            if (l->b >= 0)
                fail_ns(pl, l->b, "cannot create link", &ipe);
        }
    }
    scc_buf_fini(&ipe);
    return rc;
}

/* ---- step 3: configuration lines and nft ---- */

/* The link a line depends on: "... dev NAME ..." or a per-device sysctl
 * ("net/ipv4/conf/NAME/...", "net/ipv6/conf/NAME/...",
 * "net/ipv4/neigh/NAME/..."). */
static bool
item_dev(const char *line, size_t len, char out[NP_IFNAME_MAX])
{
    const char *p = NULL, *end = line + len;
    size_t n = 0;

    for (const char *s = line; s + 5 <= end && !p; s++)
        p = memcmp(s, " dev ", 5) == 0 ? s + 5 : NULL;
    for (const char *s = line; !p && s + 15 <= end; s++) {
        if (memcmp(s, "net/ipv4/conf/", 14) == 0 || memcmp(s, "net/ipv6/conf/", 14) == 0)
            p = s + 14;
        else if (memcmp(s, "net/ipv4/neigh/", 15) == 0)
            p = s + 15;
    }
    while (p && p + n < end && p[n] != ' ' && p[n] != '/' && n + 1 < NP_IFNAME_MAX)
        n++;
    if (p)
        memcpy(out, p, n);
    out[n] = '\0';
    return p != NULL && n > 0;
}

/* The ip-batch line that undoes an applied line, or "" if none is needed
 * ("link set" and sysctls go with their link or namespace). */
static int
item_undo(const char *line, size_t len, struct scc_buf *out)
{
    static const char *const forms[][2] = {{"ip addr replace ", "addr del "},
                                           {"ip route replace ", "route del "},
                                           {"ip rule add ", "rule del "},
                                           {"ip neigh replace ", "neigh del "}};

    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        size_t k = strlen(forms[i][0]);

        if (len > k && strncmp(line, forms[i][0], k) == 0)
            return scc_buf_printf(out, "%s%.*s\n", forms[i][1], (int)(len - k), line + k);
    }
    return 0;
}

struct cfg_run {
    struct scc_buf del, add, sys, applied, ipe;
    const char **addl; /* add-batch line -> desired line */
    size_t *addlen, nadd;
    bool *failed;
};

static int
cfg_undo_stale(const struct ns_state *st, struct scc_map *want, struct cfg_run *r)
{
    const char *base = scc_buf_str(&st->items);
    const char *end = base + st->items.len;
    int rc = 0;

    /* Newest first: routes go before the addresses they use. */
    while (rc == 0 && end > base) {
        const char *start = end - 1;

        while (start > base && start[-1] != '\n')
            start--;
        if (end - start > 1) {
            char line[1024];

            snprintf(line, sizeof(line), "%.*s", (int)(end - start - 1), start);
            if (scc_map_get(want, line) == NULL)
                rc = item_undo(start, (size_t)(end - start - 1), &r->del);
        }
        end = start;
    }
    return rc;
}

static int
cfg_collect(const struct ctl_np_plan *pl, int i, const struct ns_state *st, bool valid,
            struct cfg_run *r)
{
    const struct ctl_np_ns *ns = &pl->ns[i];
    int rc = 0;

    for (const char *s = scc_buf_str(&ns->items), *nl; rc == 0 && *s; s = nl + 1) {
        char line[1024], dev[NP_IFNAME_MAX];
        size_t len;

        if ((nl = strchr(s, '\n')) == NULL)
            break;
        len = (size_t)(nl - s);
        snprintf(line, sizeof(line), "%.*s", (int)len, s);
        if (valid && scc_map_get(st->set, line) &&
            !(item_dev(s, len, dev) && list_has(&ns->remade, dev)))
            continue;
        if (strncmp(line, "sysctl ", 7) == 0) {
            rc = scc_buf_printf(&r->sys, "%s\n", line + 7);
            continue;
        }
        r->addl[r->nadd] = s;
        r->addlen[r->nadd++] = len;
        rc = scc_buf_printf(&r->add, "%s\n", line + 3); /* without "ip " */
    }
    return rc;
}

static size_t
count_lines(const struct scc_buf *b)
{
    size_t n = 0;

    for (size_t i = 0; i < b->len; i++)
        n += b->data[i] == '\n';
    return n;
}

/* Everything desired is recorded as applied except the ip lines that
 * failed and, if any sysctl failed, the sysctls (retried next time). */
static int
cfg_applied(const struct ctl_np_ns *ns, struct cfg_run *r, bool sys_ok)
{
    size_t k = 0;
    int rc = 0;

    for (const char *s = scc_buf_str(&ns->items), *nl; rc == 0 && *s; s = nl + 1) {
        bool bad = false;

        if ((nl = strchr(s, '\n')) == NULL)
            break;
        if (k < r->nadd && r->addl[k] == s)
            bad = r->failed[k++];
        if (!sys_ok && strncmp(s, "sysctl ", 7) == 0)
            bad = true;
        if (!bad)
            rc = scc_buf_put(&r->applied, s, (size_t)(nl - s) + 1);
    }
    return rc;
}

static int
cfg_nft(struct ctl_np_plan *pl, int i, const struct ns_state *st, bool valid, char hash[24],
        struct scc_buf *err)
{
    const struct ctl_np_ns *ns = &pl->ns[i];
    char h[CTL_PROV_HASH_LEN + 1], del[64];
    int rc = 0;

    snprintf(hash, 24, "-");
    if (ns->nft.len > 0) {
        ctl_prov_hash(scc_buf_str(&ns->nft), h);
        snprintf(hash, 24, "%s", h);
        if (!valid || strcmp(st->nft, h) != 0)
            rc = ctl_prov_nft(pl->p, ns_arg(pl, i), scc_buf_str(&ns->nft), NULL, err);
    } else if (valid && strcmp(st->nft, "-") != 0) {
        snprintf(del, sizeof(del), "delete table inet %s%s\n", pl->p->prefix,
                 i == pl->host ? "_host" : "");
        (void)ctl_prov_nft(pl->p, ns_arg(pl, i), del, NULL, err);
    }
    if (rc < 0)
        snprintf(hash, 24, "failed");
    return rc;
}

static void
cfg_run_fini(struct cfg_run *r)
{
    scc_buf_fini(&r->del);
    scc_buf_fini(&r->add);
    scc_buf_fini(&r->sys);
    scc_buf_fini(&r->applied);
    scc_buf_fini(&r->ipe);
    scc_free(r->addl);
    scc_free(r->addlen);
    scc_free(r->failed);
}

static int
cfg_run_init(struct cfg_run *r, size_t n)
{
    memset(r, 0, sizeof(*r));
    scc_buf_init(&r->del, STATE_MAX);
    scc_buf_init(&r->add, STATE_MAX);
    scc_buf_init(&r->sys, 1u << 20);
    scc_buf_init(&r->applied, STATE_MAX);
    scc_buf_init(&r->ipe, 1u << 20);
    r->addl = scc_calloc(n, sizeof(char *));
    r->addlen = scc_calloc(n, sizeof(size_t));
    r->failed = scc_calloc(n, sizeof(bool));
    return r->addl && r->addlen && r->failed ? 0 : SCC_ENOMEM;
}

static int
cfg_want(const struct ctl_np_ns *ns, struct scc_map **want, struct scc_buf *copy)
{
    int rc = scc_map_new(want);

    if (rc == 0)
        rc = scc_buf_put_str(copy, scc_buf_str(&ns->items));
    for (char *l = (char *)scc_buf_str(copy), *nl; rc == 0 && *l; l = nl + 1) {
        if ((nl = strchr(l, '\n')) == NULL)
            break;
        *nl = '\0';
        rc = scc_map_put(*want, l, l, NULL);
    }
    return rc;
}

int
ctl_np_config_ns(struct ctl_np_plan *pl, int i, const char *boot)
{
    struct ctl_np_ns *ns = &pl->ns[i];
    struct cfg_run r;
    struct scc_map *want = NULL;
    struct scc_buf copy;
    struct ns_state st = {0};
    char nft[24];
    bool valid, sys_ok;
    int rc = cfg_run_init(&r, count_lines(&ns->items) + 1);

    scc_buf_init(&copy, STATE_MAX);
    if (rc == 0)
        rc = state_load(pl, i, boot, &st);
    valid = rc == 0 && st.valid && !ns->created;
    if (rc == 0 && (rc = cfg_want(ns, &want, &copy)) == 0 && valid)
        rc = cfg_undo_stale(&st, want, &r);
    if (rc == 0)
        rc = cfg_collect(pl, i, &st, valid, &r);
    if (rc == 0) {
        (void)ctl_prov_ip(pl->p, ns_arg(pl, i), scc_buf_str(&r.del), &r.ipe, NULL, 0);
        scc_buf_reset(&r.ipe);
        if (ctl_prov_ip(pl->p, ns_arg(pl, i), scc_buf_str(&r.add), &r.ipe, r.failed, r.nadd) < 0)
            fail_ns(pl, i, "ip", &r.ipe);
        scc_buf_reset(&r.ipe);
        if (cfg_nft(pl, i, &st, valid, nft, &r.ipe) < 0)
            fail_ns(pl, i, "nft", &r.ipe);
        scc_buf_reset(&r.ipe);
        if (!(sys_ok = ctl_prov_ns_sysctl(ns_arg(pl, i), scc_buf_str(&r.sys), &r.ipe) == 0))
            fail_ns(pl, i, "sysctl", &r.ipe);
        if ((rc = cfg_applied(ns, &r, sys_ok)) == 0)
            rc = state_save(pl, i, boot, nft, &r.applied);
    }
    state_fini(&st);
    scc_map_free(want);
    scc_buf_fini(&copy);
    cfg_run_fini(&r);
    return rc;
}
