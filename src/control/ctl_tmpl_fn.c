/*
 * ctl_tmpl_fn.c - function lookup and argument checks, and the functions
 * of the template language for logic, comparison, conversion and integer
 * arithmetic.
 *
 * Arguments are exclusively owned by the call being evaluated (the
 * evaluator drops them right after), so handlers may hand an argument or
 * one of its members on with json_incref instead of copying it.
 */
#include "control/ctl_tmpl_fn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/json.h"
#include "control/ctl_tmpl_int.h"

/* ARM's range() refuses more than this many items. */
#define RANGE_MAX 10000

const struct ctl_tmpl_fn *
ctl_tmpl_fn_find(const char *name, size_t len)
{
    const struct ctl_tmpl_fn *const tables[] = {ctl_tmpl_fn_core, ctl_tmpl_fn_coll, ctl_tmpl_fn_str,
                                                ctl_tmpl_fn_arm};

    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
        for (const struct ctl_tmpl_fn *f = tables[t]; f->name != NULL; f++) {
            if (strlen(f->name) == len && strncasecmp(f->name, name, len) == 0)
                return f;
        }
    }
    return NULL;
}

int
ctl_tmpl_fn_bad_arg(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, const json_t *arg,
                    const char *expected)
{
    return ctl_tmpl_fail(c, SCC_EINVAL,
                         "The template language function '%s' expects its parameter to be of "
                         "type '%s'. The provided value is of type '%s'. Please see "
                         "https://aka.ms/arm-functions for usage details.",
                         f->name, expected, ctl_tmpl_type_name(arg));
}

int
ctl_tmpl_fn_want(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t i,
                 json_type type)
{
    static const char *const ordinals[] = {"first", "second", "third", "fourth"};
    static const char *const names[] = {
            [JSON_OBJECT] = "Object",   [JSON_ARRAY] = "Array", [JSON_STRING] = "String",
            [JSON_INTEGER] = "Integer", [JSON_REAL] = "Float",  [JSON_TRUE] = "Boolean",
            [JSON_FALSE] = "Boolean",   [JSON_NULL] = "Null",
    };
    const json_t *v = argv[i];

    if (type == JSON_TRUE ? json_is_boolean(v) : json_typeof(v) == type)
        return 0;
    return ctl_tmpl_fail(c, SCC_EINVAL,
                         "The template language function '%s' expects its %s parameter to be of "
                         "type '%s'. The provided value is of type '%s'. Please see "
                         "https://aka.ms/arm-functions for usage details.",
                         f->name, i < 4 ? ordinals[i] : "next", names[type], ctl_tmpl_type_name(v));
}

int
ctl_tmpl_fn_bool(bool v, json_t **out)
{
    *out = json_boolean(v);
    return 0;
}

static int
put(struct ctl_tmpl_ctx *c, struct scc_buf *b, const char *s, size_t n)
{
    int rc = scc_buf_put(b, s, n);

    if (rc == SCC_ENOMEM)
        return ctl_tmpl_oom(c);
    if (rc < 0)
        return ctl_tmpl_fail(c, SCC_ETOOBIG,
                             "The template language expression result is longer than the limit "
                             "of '%u' bytes.",
                             CTL_TMPL_MAX_STRING);
    return ctl_tmpl_charge(c, n / 8);
}

/* .NET prints doubles in the shortest form that reads back the same. */
static void
fmt_real(double d, char *dst, size_t cap)
{
    for (int prec = 15; prec <= 17; prec++) {
        (void)snprintf(dst, cap, "%.*g", prec, d);
        if (strtod(dst, NULL) == d)
            return;
    }
}

struct dump_state {
    struct ctl_tmpl_ctx *c;
    struct scc_buf *b;
    int rc;
};

static int
dump_cb(const char *buffer, size_t size, void *data)
{
    struct dump_state *st = data;

    if (st->rc == 0)
        st->rc = put(st->c, st->b, buffer, size);
    return st->rc == 0 ? 0 : -1;
}

static int
stringify_json(struct ctl_tmpl_ctx *c, const json_t *v, struct scc_buf *b)
{
    struct dump_state st = {c, b, 0};

    /* Compact JSON is also what Newtonsoft's Formatting.None writes. */
    if (json_dump_callback(v, dump_cb, &st, JSON_COMPACT | JSON_ENCODE_ANY) != 0 && st.rc == 0)
        st.rc = ctl_tmpl_oom(c); /* jansson's own allocation failed */
    return st.rc;
}

int
ctl_tmpl_fn_stringify(struct ctl_tmpl_ctx *c, const json_t *v, struct scc_buf *b)
{
    char num[32];

    switch (json_typeof(v)) {
    case JSON_STRING:
        return put(c, b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        (void)snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return put(c, b, num, strlen(num));
    case JSON_REAL:
        fmt_real(json_real_value(v), num, sizeof(num));
        return put(c, b, num, strlen(num));
    case JSON_TRUE:
        return put(c, b, "True", 4); /* .NET's Boolean.ToString() */
    case JSON_FALSE:
        return put(c, b, "False", 5);
    case JSON_NULL:
        return 0;
    case JSON_OBJECT:
    case JSON_ARRAY:
        break;
    }
    return stringify_json(c, v, b);
}

static int
fn_const(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
         json_t **out)
{
    (void)c, (void)argv, (void)argc;
    if (strcmp(f->name, "null") == 0) {
        *out = json_null();
        return 0;
    }
    return ctl_tmpl_fn_bool(strcmp(f->name, "true") == 0, out);
}

static int
fn_equals(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
          json_t **out)
{
    bool eq = false;
    int rc;

    (void)f, (void)argc;
    if ((rc = ctl_tmpl_equal(c, argv[0], argv[1], false, &eq)) < 0)
        return rc;
    return ctl_tmpl_fn_bool(eq, out);
}

static int
fn_not(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
       json_t **out)
{
    int rc;

    (void)argc;
    if ((rc = ctl_tmpl_fn_want(c, f, argv, 0, JSON_TRUE)) < 0)
        return rc;
    return ctl_tmpl_fn_bool(!json_is_true(argv[0]), out);
}

/* and() and or(): every argument is evaluated and must be a boolean. */
static int
fn_andor(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
         json_t **out)
{
    bool is_and = strcmp(f->name, "and") == 0, acc = is_and;
    int rc;

    for (size_t i = 0; i < argc; i++) {
        if ((rc = ctl_tmpl_fn_want(c, f, argv, i, JSON_TRUE)) < 0)
            return rc;
        acc = is_and ? acc && json_is_true(argv[i]) : acc || json_is_true(argv[i]);
    }
    return ctl_tmpl_fn_bool(acc, out);
}

/* greater/less and friends: two integers, or two strings compared ordinally. */
static int
fn_compare(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
           json_t **out)
{
    const json_t *a = argv[0], *b = argv[1];
    bool gt = strncmp(f->name, "greater", 7) == 0, eq_ok = strstr(f->name, "OrEquals") != NULL;
    int cmp;

    (void)argc;
    if (json_is_integer(a) && json_is_integer(b)) {
        cmp = json_integer_value(a) < json_integer_value(b)   ? -1
              : json_integer_value(a) > json_integer_value(b) ? 1
                                                              : 0;
    } else if (json_is_string(a) && json_is_string(b)) {
        size_t na = json_string_length(a), nb = json_string_length(b);

        cmp = memcmp(json_string_value(a), json_string_value(b), na < nb ? na : nb);
        if (cmp == 0)
            cmp = na < nb ? -1 : na > nb ? 1 : 0;
    } else {
        return ctl_tmpl_fn_bad_arg(c, f, json_is_integer(a) || json_is_string(a) ? b : a,
                                   "Integer or String (both the same)");
    }
    return ctl_tmpl_fn_bool(cmp == 0 ? eq_ok : gt ? cmp > 0 : cmp < 0, out);
}

static int
fn_string(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
          json_t **out)
{
    struct scc_buf b;
    int rc;

    (void)f, (void)argc;
    if (json_is_string(argv[0])) {
        *out = json_incref(argv[0]);
        return 0;
    }
    scc_buf_init(&b, CTL_TMPL_MAX_STRING);
    if ((rc = ctl_tmpl_fn_stringify(c, argv[0], &b)) < 0) {
        scc_buf_fini(&b);
        return rc;
    }
    return ctl_tmpl_mkbuf(c, &b, out);
}

/* Convert.ToInt64(string): optional blanks, an optional sign, digits. */
static bool
parse_int(const char *s, json_int_t *out)
{
    char *end = NULL;
    long long v;

    while (*s == ' ' || *s == '\t')
        s++;
    if (!(*s == '-' || *s == '+' || (*s >= '0' && *s <= '9')))
        return false;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || end[-1] < '0' || end[-1] > '9')
        return false;
    while (*end == ' ' || *end == '\t')
        end++;
    *out = (json_int_t)v;
    return *end == '\0';
}

static int
fn_int(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
       json_t **out)
{
    json_int_t v = 0;

    (void)argc;
    if (json_is_integer(argv[0])) {
        *out = json_incref(argv[0]);
        return 0;
    }
    if (!json_is_string(argv[0]))
        return ctl_tmpl_fn_bad_arg(c, f, argv[0], "Integer or String");
    if (json_string_length(argv[0]) > 64 || !parse_int(json_string_value(argv[0]), &v))
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The template language function 'int' cannot convert the value "
                             "'%.64s' to an integer.",
                             json_string_value(argv[0]));
    return ctl_tmpl_mkint(c, v, out);
}

static int
fn_bool(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
        json_t **out)
{
    const json_t *v = argv[0];

    (void)argc;
    if (json_is_boolean(v)) {
        *out = json_incref(argv[0]);
        return 0;
    }
    if (json_is_integer(v))
        return ctl_tmpl_fn_bool(json_integer_value(v) != 0, out);
    if (!json_is_string(v))
        return ctl_tmpl_fn_bad_arg(c, f, v, "Boolean, Integer or String");
    if (strcasecmp(json_string_value(v), "true") == 0)
        return ctl_tmpl_fn_bool(true, out);
    if (strcasecmp(json_string_value(v), "false") == 0)
        return ctl_tmpl_fn_bool(false, out);
    return ctl_tmpl_fail(c, SCC_EINVAL,
                         "The template language function 'bool' cannot convert the value '%.64s' "
                         "to a boolean.",
                         json_string_value(v));
}

int
ctl_tmpl_fn_parse_json(struct ctl_tmpl_ctx *c, const char *s, size_t n, json_t **out)
{
    json_error_t jerr;
    json_t *v;
    int rc;

    *out = NULL;
    if ((rc = ctl_tmpl_charge(c, 1 + n / 8)) < 0)
        return rc;
    if ((v = json_loadb(s, n, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr)) == NULL)
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The template language function 'json' got a value that is not "
                             "valid JSON: %s at line %d column %d.",
                             jerr.text, jerr.line, jerr.column);
    /* The counted copy charges the parsed size and enforces the depth and
     * member limits the parser does not know about. */
    rc = ctl_tmpl_copy(c, v, out);
    json_decref(v);
    return rc;
}

static int
fn_json(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
        json_t **out)
{
    int rc;

    (void)argc;
    if ((rc = ctl_tmpl_fn_want(c, f, argv, 0, JSON_STRING)) < 0)
        return rc;
    return ctl_tmpl_fn_parse_json(c, json_string_value(argv[0]), json_string_length(argv[0]), out);
}

static int
overflow(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f)
{
    return ctl_tmpl_fail(c, SCC_EINVAL,
                         "The template language function '%s' overflowed the integer range.",
                         f->name);
}

static int
fn_arith(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
         json_t **out)
{
    long long a, b, r = 0;
    bool ovf = false;
    int rc;

    (void)argc;
    if ((rc = ctl_tmpl_fn_want(c, f, argv, 0, JSON_INTEGER)) < 0 ||
        (rc = ctl_tmpl_fn_want(c, f, argv, 1, JSON_INTEGER)) < 0)
        return rc;
    a = json_integer_value(argv[0]);
    b = json_integer_value(argv[1]);
    if (strcmp(f->name, "add") == 0) {
        ovf = __builtin_add_overflow(a, b, &r);
    } else if (strcmp(f->name, "sub") == 0) {
        ovf = __builtin_sub_overflow(a, b, &r);
    } else if (strcmp(f->name, "mul") == 0) {
        ovf = __builtin_mul_overflow(a, b, &r);
    } else if (b == 0) {
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The template language function '%s' cannot divide by zero.", f->name);
    } else if (a == INT64_MIN && b == -1) {
        ovf = true; /* the one quotient that does not fit */
    } else {
        r = strcmp(f->name, "div") == 0 ? a / b : a % b;
    }
    if (ovf)
        return overflow(c, f);
    return ctl_tmpl_mkint(c, (json_int_t)r, out);
}

/* min()/max(): integers as arguments, or one array of integers. */
static int
fn_minmax(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
          json_t **out)
{
    json_t *const *v = argv;
    size_t n = argc;
    bool is_max = strcmp(f->name, "max") == 0;
    json_int_t best = 0;

    if (argc == 1 && json_is_array(argv[0])) {
        n = json_array_size(argv[0]);
        v = NULL;
    }
    if (n == 0)
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The template language function '%s' needs at least one integer.",
                             f->name);
    for (size_t i = 0; i < n; i++) {
        const json_t *x = v != NULL ? v[i] : json_array_get(argv[0], i);

        if (!json_is_integer(x))
            return ctl_tmpl_fn_bad_arg(c, f, x, "Integer");
        if (i == 0 || (is_max ? json_integer_value(x) > best : json_integer_value(x) < best))
            best = json_integer_value(x);
    }
    return ctl_tmpl_mkint(c, best, out);
}

static int
fn_range(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
         json_t **out)
{
    json_int_t start, count;
    json_t *arr = NULL, *x;
    int rc;

    (void)argc;
    if ((rc = ctl_tmpl_fn_want(c, f, argv, 0, JSON_INTEGER)) < 0 ||
        (rc = ctl_tmpl_fn_want(c, f, argv, 1, JSON_INTEGER)) < 0)
        return rc;
    start = json_integer_value(argv[0]);
    count = json_integer_value(argv[1]);
    if (count < 0 || count > RANGE_MAX || start < INT32_MIN || start > INT32_MAX ||
        start + count - 1 > INT32_MAX)
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The template language function 'range' needs a count from 0 to "
                             "'%d' and a start index such that the sum fits in 32 bits.",
                             RANGE_MAX);
    if ((rc = ctl_tmpl_new_array(c, &arr)) < 0)
        return rc;
    for (json_int_t i = 0; i < count; i++) {
        if ((rc = ctl_tmpl_mkint(c, start + i, &x)) < 0 || (rc = ctl_tmpl_append(c, arr, x)) < 0) {
            json_decref(arr);
            return rc;
        }
    }
    *out = arr;
    return 0;
}

const struct ctl_tmpl_fn ctl_tmpl_fn_core[] = {
        {"if", 3, 3, NULL},
        {"equals", 2, 2, fn_equals},
        {"not", 1, 1, fn_not},
        {"and", 2, CTL_TMPL_FN_ANY, fn_andor},
        {"or", 2, CTL_TMPL_FN_ANY, fn_andor},
        {"true", 0, 0, fn_const},
        {"false", 0, 0, fn_const},
        {"null", 0, 0, fn_const},
        {"greater", 2, 2, fn_compare},
        {"greaterOrEquals", 2, 2, fn_compare},
        {"less", 2, 2, fn_compare},
        {"lessOrEquals", 2, 2, fn_compare},
        {"string", 1, 1, fn_string},
        {"int", 1, 1, fn_int},
        {"bool", 1, 1, fn_bool},
        {"json", 1, 1, fn_json},
        {"add", 2, 2, fn_arith},
        {"sub", 2, 2, fn_arith},
        {"mul", 2, 2, fn_arith},
        {"div", 2, 2, fn_arith},
        {"mod", 2, 2, fn_arith},
        {"min", 1, CTL_TMPL_FN_ANY, fn_minmax},
        {"max", 1, CTL_TMPL_FN_ANY, fn_minmax},
        {"range", 2, 2, fn_range},
        {NULL, 0, 0, NULL},
};
