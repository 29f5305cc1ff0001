/*
 * ident.h - SPIFFE-style identities carried in certificates' URI SAN.
 *
 *   spiffe://<trust-domain>/ws/<workspace>/cluster/<cluster>/node/<node>
 *   spiffe://<trust-domain>/control
 *
 * The relay authorises by these: a tunnel is keyed by (workspace, cluster,
 * node) and is only reachable on behalf of its own workspace.
 */
#ifndef SCC_COMMON_IDENT_H
#define SCC_COMMON_IDENT_H

#include <stdbool.h>
#include <stddef.h>

#define SCC_IDENT_SEG_MAX 64 /* bytes per name segment */
#define SCC_IDENT_TD_MAX  64 /* bytes in the trust domain */
#define SCC_IDENT_URI_MAX 320

enum scc_ident_kind {
    SCC_IDENT_NODE = 1,
    SCC_IDENT_CONTROL = 2,
};

struct scc_ident {
    enum scc_ident_kind kind;
    char td[SCC_IDENT_TD_MAX + 1];
    char ws[SCC_IDENT_SEG_MAX + 1];
    char cluster[SCC_IDENT_SEG_MAX + 1];
    char node[SCC_IDENT_SEG_MAX + 1];
};

/* scc_ident_seg_is_valid - 1-64 chars of [A-Za-z0-9._-], not "." or "..". */
bool scc_ident_seg_is_valid(const char *s, size_t len);

/* scc_ident_td_is_valid - a DNS-like trust domain: [a-z0-9.-], 1-64 chars. */
bool scc_ident_td_is_valid(const char *s, size_t len);

/* scc_ident_parse - parse a URI of length len (need not be NUL-terminated).
 * Returns 0 or SCC_EINVAL; out is untouched on error. */
int scc_ident_parse(const char *uri, size_t len, struct scc_ident *out);

/* scc_ident_format - the URI of id into out.  SCC_ETRUNC or SCC_EINVAL. */
int scc_ident_format(const struct scc_ident *id, char *out, size_t cap);

/* scc_ident_node - fill a node identity after validating every segment. */
int scc_ident_node(struct scc_ident *id, const char *td, const char *ws, const char *cluster,
                   const char *node);

/* scc_ident_path - "ws/cluster/node" (the short form sccctl shows). */
int scc_ident_path(const struct scc_ident *id, char *out, size_t cap);

/* scc_ident_parse_path - "ws/cluster/node" into a node identity of td. */
int scc_ident_parse_path(const char *path, const char *td, struct scc_ident *out);

bool scc_ident_equal(const struct scc_ident *a, const struct scc_ident *b);

#endif /* SCC_COMMON_IDENT_H */
