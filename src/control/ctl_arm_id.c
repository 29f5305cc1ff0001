#include "ctl_arm_id.h"

#include "common/encode.h"
#include "common/err.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode path into buf, one NUL-terminated segment after another.
 * A decoded '/' stays inside its segment, which names then refuse. */
static int
split(const char *path, char *buf, size_t cap, const char **segs, size_t *nseg)
{
    size_t o = 0, n = 0;
    const char *p = path;

    if (*p != '/')
        return SCC_EINVAL;
    while (*p == '/' && p[1] != '\0') {
        p++;
        if (*p == '/' || n == CTL_ARM_MAX_SEGS)
            return *p == '/' ? SCC_EINVAL : SCC_ETOOBIG;
        segs[n++] = buf + o;
        for (; *p && *p != '/'; p++) {
            int c = (unsigned char)*p;

            if (c == '%') {
                int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);

                if (lo < 0)
                    return SCC_EINVAL;
                c = hi * 16 + lo;
                p += 2;
            }
            if (c < 0x20 || c == 0x7f || o + 2 > cap)
                return o + 2 > cap ? SCC_ETOOBIG : SCC_EINVAL;
            buf[o++] = (char)c;
        }
        buf[o++] = '\0';
    }
    *nseg = n;
    return 0;
}

static bool
is(const char *seg, const char *lit)
{
    return strcasecmp(seg, lit) == 0;
}

/* .../providers/{ns}/locations/{loc}/operationStatuses|operationResults|operations/{id} */
static bool
classify_op(struct ctl_arm_target *t, const char **s, size_t n)
{
    if (n != 8 || !is(s[4], "locations"))
        return false;
    t->ns = s[3];
    t->loc = s[5];
    t->op = s[7];
    if (is(s[6], "operationStatuses") || is(s[6], "operations"))
        t->kind = CTL_ARM_T_OP_STATUS;
    else if (is(s[6], "operationResults"))
        t->kind = CTL_ARM_T_OP_RESULT;
    return t->kind != CTL_ARM_T_NONE;
}

/* Segments from i on: {ns}/{type}[/{name}/{type}...] under a sub or rg. */
static void
classify_res(struct ctl_arm_target *t, const char **s, size_t n, size_t i, bool in_rg)
{
    size_t rest = n - i - 1, k;

    t->ns = s[i];
    if (rest == 0) {
        t->kind = in_rg ? CTL_ARM_T_NONE : CTL_ARM_T_PROV;
        return;
    }
    if (rest > 2 * CTL_ARM_MAX_TYPES)
        return;
    for (k = 0; k * 2 < rest; k++) {
        t->types[k] = s[i + 1 + 2 * k];
        if (i + 2 + 2 * k < n)
            t->names[k] = s[i + 2 + 2 * k];
    }
    t->ntypes = k;
    if (rest % 2 == 0)
        t->kind = CTL_ARM_T_RESOURCE;
    else if (rest == 1)
        t->kind = in_rg ? CTL_ARM_T_LIST_RG : CTL_ARM_T_LIST_SUB;
    else
        t->kind = CTL_ARM_T_CHILD_LIST;
}

static void
classify_sub(struct ctl_arm_target *t, const char **s, size_t n)
{
    t->sub = s[1];
    if (n == 2)
        t->kind = CTL_ARM_T_SUB;
    else if (n == 3 && is(s[2], "providers"))
        t->kind = CTL_ARM_T_PROVS;
    else if (n == 3 && is(s[2], "resourcegroups"))
        t->kind = CTL_ARM_T_RGS;
    else if (n == 3 && is(s[2], "resources"))
        t->kind = CTL_ARM_T_SUB_RESOURCES;
    else if (n == 4 && is(s[2], "operationresults")) {
        t->kind = CTL_ARM_T_SUB_OP_RESULT;
        t->op = s[3];
    } else if (n >= 4 && is(s[2], "providers")) {
        if (n == 5 && (is(s[4], "register") || is(s[4], "unregister"))) {
            t->kind = CTL_ARM_T_PROV_ACTION;
            t->ns = s[3];
            t->action = s[4];
        } else if (!classify_op(t, s, n)) {
            classify_res(t, s, n, 3, false);
        }
    } else if (n >= 4 && is(s[2], "resourcegroups")) {
        t->rg = s[3];
        if (n == 4)
            t->kind = CTL_ARM_T_RG;
        else if (n == 5 && is(s[4], "resources"))
            t->kind = CTL_ARM_T_RG_RESOURCES;
        else if (n >= 6 && is(s[4], "providers"))
            classify_res(t, s, n, 5, true);
    }
}

int
ctl_arm_target_parse(const char *path, struct ctl_arm_target *t)
{
    const char *s[CTL_ARM_MAX_SEGS];
    size_t n = 0;
    int rc;

    memset(t, 0, sizeof(*t) - sizeof(t->buf));
    if ((rc = split(path, t->buf, sizeof(t->buf), s, &n)) < 0)
        return rc;
    if (n >= 1 && is(s[0], "subscriptions")) {
        if (n == 1)
            t->kind = CTL_ARM_T_SUBS;
        else
            classify_sub(t, s, n);
    } else if (n >= 1 && is(s[0], "providers")) {
        if (n == 1)
            t->kind = CTL_ARM_T_TENANT_PROVS;
        else if (n == 2)
            t->kind = CTL_ARM_T_TENANT_PROV;
        else if (n == 3 && is(s[2], "operations"))
            t->kind = CTL_ARM_T_OPERATIONS;
        t->ns = s[1];
    }
    return 0;
}

bool
ctl_arm_is_api_version(const char *s)
{
    static const char shape[] = "dddd-dd-dd";
    int month, day;

    for (size_t i = 0; i < sizeof(shape) - 1; i++) {
        if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != '-')
            return false;
    }
    month = (s[5] - '0') * 10 + (s[6] - '0');
    day = (s[8] - '0') * 10 + (s[9] - '0');
    if (month < 1 || month > 12 || day < 1 || day > 31)
        return false;
    if (s[10] == '\0')
        return true;
    if (s[10] != '-' || s[11] == '\0' || strlen(s + 11) > 20)
        return false;
    for (const char *p = s + 11; *p; p++) {
        if (!isalpha((unsigned char)*p))
            return false;
    }
    return true;
}

int
ctl_arm_lower(const char *s, char *out, size_t cap)
{
    size_t n = strlen(s);

    if (n >= cap)
        return SCC_ETRUNC;
    for (size_t i = 0; i <= n; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    return 0;
}

int
ctl_arm_rg_id(char *out, size_t cap, const char *sub, const char *rg)
{
    int n = snprintf(out, cap, "/subscriptions/%s/resourceGroups/%s", sub, rg);

    return n < 0 || (size_t)n >= cap ? SCC_ETRUNC : 0;
}

int
ctl_arm_res_id(char *out, size_t cap, const char *sub, const char *rg, const char *ns,
               const char *const *types, const char *const *names, size_t ntypes)
{
    int n = rg ? snprintf(out, cap, "/subscriptions/%s/resourceGroups/%s/providers/%s", sub, rg, ns)
               : snprintf(out, cap, "/subscriptions/%s/providers/%s", sub, ns);
    size_t len;

    if (n < 0 || (size_t)n >= cap)
        return SCC_ETRUNC;
    len = (size_t)n;
    for (size_t i = 0; i < ntypes; i++) {
        n = snprintf(out + len, cap - len, "/%s/%s", types[i], names[i]);
        if (n < 0 || (size_t)n >= cap - len)
            return SCC_ETRUNC;
        len += (size_t)n;
    }
    return 0;
}

int
ctl_arm_id_split(const char *id, struct ctl_arm_target *out)
{
    int rc = ctl_arm_target_parse(id, out);

    if (rc < 0)
        return rc;
    return out->sub ? 0 : SCC_EINVAL;
}

/* Length of the prefix of id that keeps `keep` type/name pairs after
 * .../providers/{ns}; 0 if id has no such pairs. */
static size_t
prefix_len(const char *id, size_t keep)
{
    const char *p = strstr(id, "/providers/");
    size_t slashes = 0;

    if (p == NULL)
        return 0;
    /* "/providers/{ns}" then two slashes per pair. */
    for (p += 11; *p; p++) {
        if (*p == '/' && ++slashes == 2 * keep + 1)
            return (size_t)(p - id);
    }
    return slashes >= 2 * keep ? strlen(id) : 0;
}

static int
copy_prefix(const char *id, size_t n, char *out, size_t cap)
{
    if (n == 0)
        return SCC_EINVAL;
    if (n >= cap)
        return SCC_ETRUNC;
    memcpy(out, id, n);
    out[n] = '\0';
    return 0;
}

int
ctl_arm_id_top(const char *id, char *out, size_t cap)
{
    return copy_prefix(id, prefix_len(id, 1), out, cap);
}

int
ctl_arm_id_parent(const char *id, char *out, size_t cap)
{
    const char *name = strrchr(id, '/'), *type = name;

    /* Drop "/{name}" and then "/{type}". */
    if (name == NULL || name == id)
        return SCC_EINVAL;
    for (type = name - 1; type > id && *type != '/'; type--)
        ;
    return copy_prefix(id, (size_t)(type - id), out, cap);
}

const char *
ctl_arm_id_last(const char *id)
{
    const char *p = strrchr(id, '/');

    return p ? p + 1 : id;
}

int
ctl_arm_guid(char out[37])
{
    uint8_t b[16];
    int rc;

    if ((rc = scc_rand_bytes(b, sizeof(b))) < 0)
        return rc;
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    return 0;
}
