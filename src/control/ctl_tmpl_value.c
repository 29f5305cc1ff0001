/*
 * ctl_tmpl_value.c - the evaluation context of the template engine (first
 * error, work budget, template path) and the value helpers every function
 * uses.  Declarations are in ctl_tmpl_expr.h.
 *
 * Every value an expression builds is charged to the call's work budget
 * and capped in length, members and depth here, in one place, so that no
 * function can be tricked into unbounded time or memory.
 */
#include "control/ctl_tmpl_expr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "control/ctl_tmpl_int.h"

/* Strings cost one unit per this many bytes on top of one per value. */
#define BYTES_PER_UNIT 8u
/* Expression text quoted in messages is cut to this many bytes. */
#define MSG_EXPR_MAX 200

void
ctl_tmpl_ctx_init(struct ctl_tmpl_ctx *c, struct ctl_tmpl *t, struct ctl_tmpl_error *err)
{
    memset(c, 0, sizeof(*c));
    c->t = t;
    c->err = err != NULL ? err : &c->scratch;
    memset(c->err, 0, sizeof(*c->err));
}

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF),
 * the same rule jansson applies to input, so every string we build can be
 * serialised again. */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
    unsigned char b = p[0];
    size_t len = b < 0x80 ? 1 : b < 0xc2 ? 0 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : b < 0xf5 ? 4 : 0;
    uint32_t cp;

    if (len <= 1 || len > n)
        return len > n ? 0 : len;
    cp = b & (0x7fu >> len);
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3fu);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

static bool
utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, k;

    while (i < n) {
        if ((k = utf8_seq(p + i, n - i)) == 0)
            return false;
        i += k;
    }
    return true;
}

/* Cutting messages at fixed sizes can split a UTF-8 sequence; the API
 * puts them into JSON, which must stay valid, so damaged bytes become '?'. */
static void
utf8_scrub(char *s)
{
    size_t n = strlen(s), i = 0, k;

    while (i < n) {
        if ((k = utf8_seq((const unsigned char *)s + i, n - i)) == 0) {
            s[i++] = '?';
            continue;
        }
        i += k;
    }
}

/* Messages are cut at the error struct's fixed sizes on purpose: an error
 * report must never fail, and the full expression is in the template. */
static void
compose(struct ctl_tmpl_ctx *c, const char *code, const char *inner)
{
    struct ctl_tmpl_error *e = c->err;
    int elen = (int)(c->expr_len > MSG_EXPR_MAX ? MSG_EXPR_MAX : c->expr_len);
    const char *more = c->expr_len > MSG_EXPR_MAX ? "..." : "";

    (void)snprintf(e->code, sizeof(e->code), "%s", code);
    (void)snprintf(e->target, sizeof(e->target), "%s", c->path);
    if (strcmp(code, "InvalidTemplate") != 0)
        (void)snprintf(e->message, sizeof(e->message), "%s", inner);
    else if (c->expr != NULL)
        (void)snprintf(e->message, sizeof(e->message),
                       "Deployment template validation failed: 'Unable to process template "
                       "language expression '%.*s%s' at path '%s': %s'.",
                       elen, c->expr, more, c->path, inner);
    else
        (void)snprintf(e->message, sizeof(e->message),
                       "Deployment template validation failed: '%s'.", inner);
    utf8_scrub(e->message);
    utf8_scrub(e->target);
}

static int __attribute__((format(printf, 4, 0)))
vfail(struct ctl_tmpl_ctx *c, int rc, const char *code, const char *fmt, va_list ap)
{
    char inner[640];

    if (c->rc != 0)
        return c->rc;
    c->rc = rc;
    (void)vsnprintf(inner, sizeof(inner), fmt, ap); /* cut on purpose, see compose() */
    compose(c, code, inner);
    return rc;
}

int
ctl_tmpl_fail(struct ctl_tmpl_ctx *c, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    rc = vfail(c, rc, "InvalidTemplate", fmt, ap);
    va_end(ap);
    return rc;
}

int
ctl_tmpl_fail_code(struct ctl_tmpl_ctx *c, int rc, const char *code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    rc = vfail(c, rc, code, fmt, ap);
    va_end(ap);
    return rc;
}

int
ctl_tmpl_oom(struct ctl_tmpl_ctx *c)
{
    return ctl_tmpl_fail_code(c, SCC_ENOMEM, "InternalServerError",
                              "The template engine ran out of memory.");
}

int
ctl_tmpl_charge(struct ctl_tmpl_ctx *c, unsigned long units)
{
    unsigned long before = c->t != NULL ? c->t->work_total : 0;

    c->work += units;
    if (c->work > CTL_TMPL_MAX_WORK || before + c->work > CTL_TMPL_MAX_WORK_TOTAL)
        return ctl_tmpl_fail(c, SCC_ETOOBIG,
                             "The template evaluation exceeded the work limit of '%lu' steps "
                             "per call and '%lu' steps per template.",
                             CTL_TMPL_MAX_WORK, CTL_TMPL_MAX_WORK_TOTAL);
    return 0;
}

/* The path is cut at the buffer size; restore() works on lengths, so a
 * cut path still unwinds correctly. */
static size_t
path_grew(struct ctl_tmpl_ctx *c, size_t saved, int n)
{
    size_t room = sizeof(c->path) - saved;

    if (n > 0)
        c->path_len = (size_t)n < room ? saved + (size_t)n : sizeof(c->path) - 1;
    return saved;
}

size_t
ctl_tmpl_path_key(struct ctl_tmpl_ctx *c, const char *key)
{
    size_t saved = c->path_len;

    return path_grew(
            c, saved,
            snprintf(c->path + saved, sizeof(c->path) - saved, "%s%s", saved ? "." : "", key));
}

size_t
ctl_tmpl_path_index(struct ctl_tmpl_ctx *c, size_t i)
{
    size_t saved = c->path_len;

    return path_grew(c, saved, snprintf(c->path + saved, sizeof(c->path) - saved, "[%zu]", i));
}

void
ctl_tmpl_path_set(struct ctl_tmpl_ctx *c, const char *path)
{
    c->path_len = 0;
    c->path[0] = '\0';
    (void)ctl_tmpl_path_key(c, path);
}

void
ctl_tmpl_path_restore(struct ctl_tmpl_ctx *c, size_t len)
{
    c->path_len = len;
    c->path[len] = '\0';
}

const char *
ctl_tmpl_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "Object";
    case JSON_ARRAY:
        return "Array";
    case JSON_STRING:
        return "String";
    case JSON_INTEGER:
        return "Integer";
    case JSON_REAL:
        return "Float";
    case JSON_TRUE:
    case JSON_FALSE:
        return "Boolean";
    case JSON_NULL:
        break;
    }
    return "Null";
}

int
ctl_tmpl_mkstr(struct ctl_tmpl_ctx *c, const char *p, size_t n, json_t **out)
{
    int rc;

    *out = NULL;
    if (n > CTL_TMPL_MAX_STRING)
        return ctl_tmpl_fail(c, SCC_ETOOBIG,
                             "The template language expression result is longer than the limit "
                             "of '%u' bytes.",
                             CTL_TMPL_MAX_STRING);
    if ((rc = ctl_tmpl_charge(c, 1 + n / BYTES_PER_UNIT)) < 0)
        return rc;
    if (!utf8_valid(p, n))
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The template language expression produced a string that is not "
                             "valid UTF-8.");
    /* Validated above, so jansson's second pass would be redundant. */
    if ((*out = json_stringn_nocheck(p, n)) == NULL)
        return ctl_tmpl_oom(c);
    return 0;
}

int
ctl_tmpl_mkint(struct ctl_tmpl_ctx *c, json_int_t v, json_t **out)
{
    int rc;

    *out = NULL;
    if ((rc = ctl_tmpl_charge(c, 1)) < 0)
        return rc;
    if ((*out = json_integer(v)) == NULL)
        return ctl_tmpl_oom(c);
    return 0;
}

int
ctl_tmpl_mkbuf(struct ctl_tmpl_ctx *c, struct scc_buf *b, json_t **out)
{
    int rc = ctl_tmpl_mkstr(c, scc_buf_str(b), b->len, out);

    scc_buf_fini(b);
    return rc;
}

int
ctl_tmpl_new_array(struct ctl_tmpl_ctx *c, json_t **out)
{
    int rc;

    *out = NULL;
    if ((rc = ctl_tmpl_charge(c, 1)) < 0)
        return rc;
    if ((*out = json_array()) == NULL)
        return ctl_tmpl_oom(c);
    return 0;
}

int
ctl_tmpl_new_object(struct ctl_tmpl_ctx *c, json_t **out)
{
    int rc;

    *out = NULL;
    if ((rc = ctl_tmpl_charge(c, 1)) < 0)
        return rc;
    if ((*out = json_object()) == NULL)
        return ctl_tmpl_oom(c);
    return 0;
}

static int
too_many(struct ctl_tmpl_ctx *c)
{
    return ctl_tmpl_fail(c, SCC_ETOOBIG,
                         "The template language expression result has more than the limit of "
                         "'%u' members.",
                         CTL_TMPL_MAX_ITEMS);
}

int
ctl_tmpl_append(struct ctl_tmpl_ctx *c, json_t *arr, json_t *v)
{
    int rc;

    if (v == NULL)
        return ctl_tmpl_oom(c);
    if (json_array_size(arr) >= CTL_TMPL_MAX_ITEMS) {
        json_decref(v);
        return too_many(c);
    }
    if ((rc = ctl_tmpl_charge(c, 1)) < 0) {
        json_decref(v);
        return rc;
    }
    if (json_array_append_new(arr, v) != 0) /* jansson drops v on failure */
        return ctl_tmpl_oom(c);
    return 0;
}

int
ctl_tmpl_set(struct ctl_tmpl_ctx *c, json_t *obj, const char *key, json_t *v)
{
    int rc;

    if (v == NULL)
        return ctl_tmpl_oom(c);
    if (json_object_size(obj) >= CTL_TMPL_MAX_ITEMS) {
        json_decref(v);
        return too_many(c);
    }
    if ((rc = ctl_tmpl_charge(c, 1 + strlen(key) / BYTES_PER_UNIT)) < 0) {
        json_decref(v);
        return rc;
    }
    if (json_object_set_new(obj, key, v) != 0) /* jansson drops v on failure */
        return ctl_tmpl_oom(c);
    return 0;
}

static int
too_deep(struct ctl_tmpl_ctx *c)
{
    return ctl_tmpl_fail(c, SCC_ETOOBIG,
                         "The template language expression result is nested deeper than the "
                         "limit of '%u' levels.",
                         CTL_TMPL_MAX_VALUE_DEPTH);
}

static int copy_rec(struct ctl_tmpl_ctx *c, const json_t *v, unsigned depth, json_t **out);

static int
copy_container(struct ctl_tmpl_ctx *c, const json_t *v, unsigned depth, json_t **out)
{
    json_t *dst = NULL, *kid, *x;
    const char *k;
    size_t i;
    int rc;

    if (json_is_object(v)) {
        if ((rc = ctl_tmpl_new_object(c, &dst)) < 0)
            goto out;
        json_object_foreach((json_t *)v, k, kid)
        {
            if ((rc = copy_rec(c, kid, depth + 1, &x)) < 0 || (rc = ctl_tmpl_set(c, dst, k, x)) < 0)
                goto out;
        }
    } else {
        if ((rc = ctl_tmpl_new_array(c, &dst)) < 0)
            goto out;
        json_array_foreach(v, i, kid)
        {
            if ((rc = copy_rec(c, kid, depth + 1, &x)) < 0 || (rc = ctl_tmpl_append(c, dst, x)) < 0)
                goto out;
        }
    }
    *out = dst;
    dst = NULL;
out:
    json_decref(dst);
    return rc;
}

static int
copy_rec(struct ctl_tmpl_ctx *c, const json_t *v, unsigned depth, json_t **out)
{
    int rc;

    *out = NULL;
    if (depth > CTL_TMPL_MAX_VALUE_DEPTH)
        return too_deep(c);
    switch (json_typeof(v)) {
    case JSON_OBJECT:
    case JSON_ARRAY:
        return copy_container(c, v, depth, out);
    case JSON_STRING:
        return ctl_tmpl_mkstr(c, json_string_value(v), json_string_length(v), out);
    case JSON_INTEGER:
    case JSON_REAL:
    case JSON_TRUE:
    case JSON_FALSE:
    case JSON_NULL:
        break;
    }
    if ((rc = ctl_tmpl_charge(c, 1)) < 0)
        return rc;
    if ((*out = json_copy((json_t *)v)) == NULL)
        return ctl_tmpl_oom(c);
    return 0;
}

int
ctl_tmpl_copy(struct ctl_tmpl_ctx *c, const json_t *v, json_t **out)
{
    return copy_rec(c, v, 0, out);
}

static int equal_rec(struct ctl_tmpl_ctx *c, const json_t *a, const json_t *b, bool icase,
                     unsigned depth, bool *eq);

static int
equal_object(struct ctl_tmpl_ctx *c, const json_t *a, const json_t *b, bool icase, unsigned depth,
             bool *eq)
{
    const char *k;
    json_t *va, *vb;
    int rc;

    *eq = json_object_size(a) == json_object_size(b);
    json_object_foreach((json_t *)a, k, va)
    {
        if (!*eq)
            break;
        if ((vb = json_object_get(b, k)) == NULL) {
            *eq = false;
            break;
        }
        if ((rc = equal_rec(c, va, vb, icase, depth + 1, eq)) < 0)
            return rc;
    }
    return 0;
}

static int
equal_array(struct ctl_tmpl_ctx *c, const json_t *a, const json_t *b, bool icase, unsigned depth,
            bool *eq)
{
    size_t i;
    int rc;

    *eq = json_array_size(a) == json_array_size(b);
    for (i = 0; *eq && i < json_array_size(a); i++) {
        if ((rc = equal_rec(c, json_array_get(a, i), json_array_get(b, i), icase, depth + 1, eq)) <
            0)
            return rc;
    }
    return 0;
}

static bool
equal_scalar(const json_t *a, const json_t *b, bool icase)
{
    if (json_is_integer(a) && json_is_integer(b))
        return json_integer_value(a) == json_integer_value(b);
    if (json_is_number(a) && json_is_number(b)) /* ARM compares 1 and 1.0 by value */
        return json_number_value(a) == json_number_value(b);
    if (json_is_string(a) && json_is_string(b)) {
        size_t n = json_string_length(a);

        if (n != json_string_length(b))
            return false;
        return icase ? strncasecmp(json_string_value(a), json_string_value(b), n) == 0
                     : memcmp(json_string_value(a), json_string_value(b), n) == 0;
    }
    return json_typeof(a) == json_typeof(b);
}

static int
equal_rec(struct ctl_tmpl_ctx *c, const json_t *a, const json_t *b, bool icase, unsigned depth,
          bool *eq)
{
    int rc;

    *eq = false;
    if (depth > 2 * CTL_TMPL_MAX_VALUE_DEPTH)
        return too_deep(c);
    if ((rc = ctl_tmpl_charge(c, 1)) < 0)
        return rc;
    if (json_is_object(a) && json_is_object(b))
        return equal_object(c, a, b, icase, depth, eq);
    if (json_is_array(a) && json_is_array(b))
        return equal_array(c, a, b, icase, depth, eq);
    *eq = equal_scalar(a, b, icase);
    return 0;
}

int
ctl_tmpl_equal(struct ctl_tmpl_ctx *c, const json_t *a, const json_t *b, bool icase, bool *eq)
{
    return equal_rec(c, a, b, icase, 0, eq);
}
