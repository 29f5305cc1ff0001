/*
 * ctl_tmpl_fn.h - the template function library.  Internal to the
 * template engine (src/control/ctl_tmpl*.c).
 *
 * Functions live in four tables by concern: logic, comparison, conversion
 * and arithmetic (ctl_tmpl_fn.c), arrays and objects (ctl_tmpl_fn_coll.c),
 * strings and hashes (ctl_tmpl_fn_str.c), and deployment scope
 * (ctl_tmpl_fn_arm.c).  A handler receives its arguments already
 * evaluated, borrowed, with the count checked against min/max at parse
 * time, and returns a new reference in *out.
 */
#ifndef SCC_CONTROL_CTL_TMPL_FN_H
#define SCC_CONTROL_CTL_TMPL_FN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "control/ctl_tmpl_expr.h"

struct ctl_tmpl_fn;

typedef int (*ctl_tmpl_fn_cb)(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f,
                              json_t *const *argv, size_t argc, json_t **out);

#define CTL_TMPL_FN_ANY 0xffffu /* no upper bound on the argument count */

struct ctl_tmpl_fn {
    const char *name; /* canonical casing, for messages */
    unsigned min;
    unsigned max;
    ctl_tmpl_fn_cb cb; /* NULL only for if(), which the evaluator runs lazily */
};

/* Each table ends with a {NULL} entry. */
extern const struct ctl_tmpl_fn ctl_tmpl_fn_core[];
extern const struct ctl_tmpl_fn ctl_tmpl_fn_coll[];
extern const struct ctl_tmpl_fn ctl_tmpl_fn_str[];
extern const struct ctl_tmpl_fn ctl_tmpl_fn_arm[];

/* ctl_tmpl_fn_find - the function named name[0..len), case-insensitively. */
const struct ctl_tmpl_fn *ctl_tmpl_fn_find(const char *name, size_t len);

/* ctl_tmpl_fn_want - argument i must have JSON type `type` (JSON_TRUE
 * stands for any boolean); fails with ARM's wording otherwise. */
int ctl_tmpl_fn_want(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv,
                     size_t i, json_type type);

/* ctl_tmpl_fn_bad_arg - fail: argument i of f has an unsupported type. */
int ctl_tmpl_fn_bad_arg(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, const json_t *arg,
                        const char *expected);

/* ctl_tmpl_fn_stringify - append v as concat()/format() render it:
 * strings as-is, integers in decimal, booleans "True"/"False", null as
 * nothing, objects and arrays as compact JSON. */
int ctl_tmpl_fn_stringify(struct ctl_tmpl_ctx *c, const json_t *v, struct scc_buf *b);

/* ctl_tmpl_fn_parse_json - json()/base64ToJson(): parse s[0..n) into a
 * counted, limit-checked value. */
int ctl_tmpl_fn_parse_json(struct ctl_tmpl_ctx *c, const char *s, size_t n, json_t **out);

/* ctl_tmpl_fn_bool - *out = true/false (jansson singletons); returns 0. */
int ctl_tmpl_fn_bool(bool v, json_t **out);

/*
 * ctl_tmpl_find - offset of the first (or, with last, the final)
 * occurrence of needle in hay, or SIZE_MAX.  icase folds ASCII letters
 * (ARM's OrdinalIgnoreCase for the characters we support).  Charged by
 * the comparisons it makes, so a pathological pair runs out of budget
 * instead of running for minutes.
 */
int ctl_tmpl_find(struct ctl_tmpl_ctx *c, const char *hay, size_t n, const char *needle, size_t m,
                  bool icase, bool last, size_t *pos);

/* ctl_tmpl_murmur64 - ARM's MurmurHash64 variant (arm-compat.md §4.6). */
uint64_t ctl_tmpl_murmur64(const uint8_t *p, size_t n);

/* ctl_tmpl_utf16_len - length of UTF-8 s[0..n) in UTF-16 code units, which
 * is what ARM's length()/substring()/indexOf() count. */
size_t ctl_tmpl_utf16_len(const char *s, size_t n);

/* ctl_tmpl_utf16_offset - byte offset in UTF-8 s[0..n) of UTF-16 unit
 * `units` (clamped to n).  A character outside the BMP counts two units;
 * an offset inside one moves past it, since UTF-8 cannot hold half. */
size_t ctl_tmpl_utf16_offset(const char *s, size_t n, size_t units);

#endif /* SCC_CONTROL_CTL_TMPL_FN_H */
