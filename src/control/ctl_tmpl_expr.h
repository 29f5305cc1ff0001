/*
 * ctl_tmpl_expr.h - ARM template expressions: the "[...]" language
 * (arm-compat.md §4.2/§4.3) and the evaluation context shared by the
 * template engine's files.  Internal to src/control/ctl_tmpl*.c.
 *
 * Value discipline: an expression value is a json_t reference owned by
 * whoever holds it.  Functions get borrowed arguments and return a new
 * reference; anything they embed in a new container is either a fresh
 * value or a counted copy (ctl_tmpl_copy), so no evaluation can build a
 * shared structure whose expanded size escapes the work budget.
 */
#ifndef SCC_CONTROL_CTL_TMPL_EXPR_H
#define SCC_CONTROL_CTL_TMPL_EXPR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "control/ctl_tmpl.h"

struct ctl_tmpl_fn;

/* What a location in the template may call (ARM restricts some functions). */
#define CTL_TMPL_ALLOW_VARIABLES 0x1u /* not in parameter defaults */
#define CTL_TMPL_ALLOW_REFERENCE 0x2u /* resource bodies, conditions, outputs */
#define CTL_TMPL_ALLOW_PROPCOPY  0x4u /* "copy" arrays inside objects iterate */

/* A copy loop being iterated; the innermost is ctx->iter. */
struct ctl_tmpl_iter {
    const char *name;
    json_int_t index;
    bool resource; /* a resource-level loop (copyIndex() without a name) */
    const struct ctl_tmpl_iter *up;
};

/* One public call's evaluation state.  The first failure wins. */
struct ctl_tmpl_ctx {
    struct ctl_tmpl *t; /* NULL for function-only evaluation */
    struct ctl_tmpl_error *err;
    struct ctl_tmpl_error scratch; /* err when the caller gave none */
    int rc;
    unsigned depth;
    unsigned long work;
    unsigned allow; /* CTL_TMPL_ALLOW_* */
    const struct ctl_tmpl_iter *iter;
    const char *expr; /* expression being evaluated, for messages */
    size_t expr_len;
    char path[256];
    size_t path_len;
};

/* An expression's syntax tree; nodes and decoded literals live in two arrays. */
enum ctl_tmpl_node_kind {
    CTL_TMPL_N_STR,
    CTL_TMPL_N_INT,
    CTL_TMPL_N_CALL,
    CTL_TMPL_N_PROP,  /* kid.str */
    CTL_TMPL_N_INDEX, /* kid[idx] */
};

struct ctl_tmpl_node {
    enum ctl_tmpl_node_kind kind;
    const char *str; /* STR: literal; CALL: function name; PROP: property */
    size_t len;
    json_int_t ival;
    const struct ctl_tmpl_fn *fn; /* CALL: resolved at parse time */
    size_t nargs;
    struct ctl_tmpl_node *kid;  /* CALL: first argument; PROP/INDEX: target */
    struct ctl_tmpl_node *idx;  /* INDEX: the index expression */
    struct ctl_tmpl_node *next; /* next argument of the enclosing call */
};

struct ctl_tmpl_ast {
    struct ctl_tmpl_node *nodes; /* owned */
    char *strs;                  /* owned */
    struct ctl_tmpl_node *root;
};

/* ctl_tmpl_ctx_init - fresh context; err may be NULL. */
void ctl_tmpl_ctx_init(struct ctl_tmpl_ctx *c, struct ctl_tmpl *t, struct ctl_tmpl_error *err);

/*
 * ctl_tmpl_fail - record the first failure: rc, ARM code "InvalidTemplate"
 * and a message built from fmt, wrapped with the current expression and
 * path.  Returns rc so callers can `return ctl_tmpl_fail(...)`.
 */
int ctl_tmpl_fail(struct ctl_tmpl_ctx *c, int rc, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* ctl_tmpl_fail_code - ctl_tmpl_fail with another ARM code; the message
 * has the "Deployment template validation failed" wrapper only for
 * InvalidTemplate. */
int ctl_tmpl_fail_code(struct ctl_tmpl_ctx *c, int rc, const char *code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* ctl_tmpl_oom - record SCC_ENOMEM; returns SCC_ENOMEM. */
int ctl_tmpl_oom(struct ctl_tmpl_ctx *c);

/* ctl_tmpl_charge - spend work units; SCC_ETOOBIG past the budget. */
int ctl_tmpl_charge(struct ctl_tmpl_ctx *c, unsigned long units);

/* Path of the value being evaluated: push returns the length to restore. */
size_t ctl_tmpl_path_key(struct ctl_tmpl_ctx *c, const char *key);
size_t ctl_tmpl_path_index(struct ctl_tmpl_ctx *c, size_t i);
void ctl_tmpl_path_set(struct ctl_tmpl_ctx *c, const char *path);
void ctl_tmpl_path_restore(struct ctl_tmpl_ctx *c, size_t len);

/* ctl_tmpl_type_name - ARM's name of v's JSON type ("String", "Integer",
 * "Boolean", "Object", "Array", "Float", "Null"). */
const char *ctl_tmpl_type_name(const json_t *v);

/* Value constructors: charge work, enforce limits, return owned in *out. */
int ctl_tmpl_mkstr(struct ctl_tmpl_ctx *c, const char *p, size_t n, json_t **out);
int ctl_tmpl_mkint(struct ctl_tmpl_ctx *c, json_int_t v, json_t **out);
int ctl_tmpl_mkbuf(struct ctl_tmpl_ctx *c, struct scc_buf *b, json_t **out); /* finis b */
int ctl_tmpl_copy(struct ctl_tmpl_ctx *c, const json_t *v, json_t **out);
/* Append/set steal v, even on failure. */
int ctl_tmpl_append(struct ctl_tmpl_ctx *c, json_t *arr, json_t *v);
int ctl_tmpl_set(struct ctl_tmpl_ctx *c, json_t *obj, const char *key, json_t *v);
int ctl_tmpl_new_array(struct ctl_tmpl_ctx *c, json_t **out);
int ctl_tmpl_new_object(struct ctl_tmpl_ctx *c, json_t **out);

/* ctl_tmpl_equal - deep equality, work-charged; strings compare
 * case-insensitively when icase (allowedValues), exactly otherwise. */
int ctl_tmpl_equal(struct ctl_tmpl_ctx *c, const json_t *a, const json_t *b, bool icase, bool *eq);

/* ctl_tmpl_is_expr - s[0..len) is "[...]" and not a "[[" escape. */
bool ctl_tmpl_is_expr(const char *s, size_t len);

/* ctl_tmpl_expr_parse - parse the inside of "[...]" (s, len); resolves
 * function names and checks their argument counts. */
int ctl_tmpl_expr_parse(struct ctl_tmpl_ctx *c, const char *s, size_t len,
                        struct ctl_tmpl_ast *ast);
void ctl_tmpl_expr_fini(struct ctl_tmpl_ast *ast);

/* ctl_tmpl_expr_eval - evaluate a parsed node; *out owned. */
int ctl_tmpl_expr_eval(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_node *n, json_t **out);

/* ctl_tmpl_eval_str - a template string value: expression, escape or literal. */
int ctl_tmpl_eval_str(struct ctl_tmpl_ctx *c, const char *s, size_t len, json_t **out);

/* ctl_tmpl_eval_value - any template JSON value, expressions evaluated and
 * property copy loops expanded where CTL_TMPL_ALLOW_PROPCOPY is set. */
int ctl_tmpl_eval_value(struct ctl_tmpl_ctx *c, const json_t *v, json_t **out);

/* ctl_tmpl_check_value - parse every expression in v without evaluating. */
int ctl_tmpl_check_value(struct ctl_tmpl_ctx *c, const json_t *v);

/* ctl_tmpl_eval_loop - evaluate input count times with copyIndex(name)
 * bound to 0..count-1, collecting an array. */
int ctl_tmpl_eval_loop(struct ctl_tmpl_ctx *c, const char *name, json_int_t count,
                       const json_t *input, json_t **out);

/* ctl_tmpl_eval_count - evaluate a copy count: an integer in [0, max]. */
int ctl_tmpl_eval_count(struct ctl_tmpl_ctx *c, const json_t *v, json_int_t max, json_int_t *out);

#endif /* SCC_CONTROL_CTL_TMPL_EXPR_H */
