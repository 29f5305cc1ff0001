#include "ident.h"

#include "err.h"

#include <stdio.h>
#include <string.h>

static const char prefix[] = "spiffe://";

bool
scc_ident_seg_is_valid(const char *s, size_t len)
{
    if (len == 0 || len > SCC_IDENT_SEG_MAX)
        return false;
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

bool
scc_ident_td_is_valid(const char *s, size_t len)
{
    if (len == 0 || len > SCC_IDENT_TD_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
            return false;
    }
    return true;
}

/* Copy the next '/'-terminated segment of [*p, end) into dst; advance *p
 * past the separator. */
static int
take_seg(const char **p, const char *end, char *dst, size_t cap)
{
    const char *s = *p, *slash = memchr(s, '/', (size_t)(end - s));
    size_t len = (size_t)((slash ? slash : end) - s);

    if (!scc_ident_seg_is_valid(s, len) || len >= cap)
        return SCC_EINVAL;
    memcpy(dst, s, len);
    dst[len] = '\0';
    *p = slash ? slash + 1 : end;
    return slash ? 1 : 0;
}

static bool
take_word(const char **p, const char *end, const char *word)
{
    size_t n = strlen(word);

    if ((size_t)(end - *p) <= n || memcmp(*p, word, n) != 0 || (*p)[n] != '/')
        return false;
    *p += n + 1;
    return true;
}

static int
parse_node(const char *p, const char *end, struct scc_ident *id)
{
    if (!take_word(&p, end, "ws") || take_seg(&p, end, id->ws, sizeof(id->ws)) != 1)
        return SCC_EINVAL;
    if (!take_word(&p, end, "cluster") || take_seg(&p, end, id->cluster, sizeof(id->cluster)) != 1)
        return SCC_EINVAL;
    if (!take_word(&p, end, "node") || take_seg(&p, end, id->node, sizeof(id->node)) != 0)
        return SCC_EINVAL;
    id->kind = SCC_IDENT_NODE;
    return 0;
}

int
scc_ident_parse(const char *uri, size_t len, struct scc_ident *out)
{
    const char *end = uri + len, *p, *slash;
    struct scc_ident id;
    size_t tdlen;

    memset(&id, 0, sizeof(id));
    if (len > SCC_IDENT_URI_MAX || len <= sizeof(prefix) - 1 ||
        memcmp(uri, prefix, sizeof(prefix) - 1) != 0)
        return SCC_EINVAL;
    p = uri + sizeof(prefix) - 1;
    if ((slash = memchr(p, '/', (size_t)(end - p))) == NULL)
        return SCC_EINVAL;
    tdlen = (size_t)(slash - p);
    if (!scc_ident_td_is_valid(p, tdlen))
        return SCC_EINVAL;
    memcpy(id.td, p, tdlen);
    p = slash + 1;
    if ((size_t)(end - p) == 7 && memcmp(p, "control", 7) == 0) {
        id.kind = SCC_IDENT_CONTROL;
    } else if (parse_node(p, end, &id) != 0) {
        return SCC_EINVAL;
    }
    *out = id;
    return 0;
}

int
scc_ident_format(const struct scc_ident *id, char *out, size_t cap)
{
    int n;

    if (id->kind == SCC_IDENT_CONTROL)
        n = snprintf(out, cap, "%s%s/control", prefix, id->td);
    else if (id->kind == SCC_IDENT_NODE)
        n = snprintf(out, cap, "%s%s/ws/%s/cluster/%s/node/%s", prefix, id->td, id->ws, id->cluster,
                     id->node);
    else
        return SCC_EINVAL;
    if (n < 0 || (size_t)n >= cap)
        return SCC_ETRUNC;
    return 0;
}

static int
copy_seg(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(s);

    if (!scc_ident_seg_is_valid(s, n) || n >= cap)
        return SCC_EINVAL;
    memcpy(dst, s, n + 1);
    return 0;
}

int
scc_ident_node(struct scc_ident *id, const char *td, const char *ws, const char *cluster,
               const char *node)
{
    struct scc_ident tmp;
    size_t tdlen = strlen(td);

    memset(&tmp, 0, sizeof(tmp));
    if (!scc_ident_td_is_valid(td, tdlen))
        return SCC_EINVAL;
    memcpy(tmp.td, td, tdlen + 1);
    if (copy_seg(tmp.ws, sizeof(tmp.ws), ws) < 0 ||
        copy_seg(tmp.cluster, sizeof(tmp.cluster), cluster) < 0 ||
        copy_seg(tmp.node, sizeof(tmp.node), node) < 0)
        return SCC_EINVAL;
    tmp.kind = SCC_IDENT_NODE;
    *id = tmp;
    return 0;
}

int
scc_ident_path(const struct scc_ident *id, char *out, size_t cap)
{
    int n;

    if (id->kind != SCC_IDENT_NODE)
        return SCC_EINVAL;
    n = snprintf(out, cap, "%s/%s/%s", id->ws, id->cluster, id->node);
    return n < 0 || (size_t)n >= cap ? SCC_ETRUNC : 0;
}

int
scc_ident_parse_path(const char *path, const char *td, struct scc_ident *out)
{
    char ws[SCC_IDENT_SEG_MAX + 1], cluster[SCC_IDENT_SEG_MAX + 1];
    char node[SCC_IDENT_SEG_MAX + 1];
    const char *p = path, *end = path + strlen(path);

    if (take_seg(&p, end, ws, sizeof(ws)) != 1 ||
        take_seg(&p, end, cluster, sizeof(cluster)) != 1 ||
        take_seg(&p, end, node, sizeof(node)) != 0)
        return SCC_EINVAL;
    return scc_ident_node(out, td, ws, cluster, node);
}

bool
scc_ident_equal(const struct scc_ident *a, const struct scc_ident *b)
{
    return a->kind == b->kind && strcmp(a->td, b->td) == 0 && strcmp(a->ws, b->ws) == 0 &&
           strcmp(a->cluster, b->cluster) == 0 && strcmp(a->node, b->node) == 0;
}
