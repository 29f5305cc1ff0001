/*
 * ctl_tmpl_fn_coll.c - template functions on arrays and objects (and the
 * ones ARM also lets take a string): empty, length, first, last, skip,
 * take, contains, coalesce, createArray, createObject, array, union,
 * intersection.
 *
 * Membership tests compare with ctl_tmpl_equal, which charges the work
 * budget per node, so union() of two large arrays (quadratic) stays bounded.
 */
#include "control/ctl_tmpl_fn.h"

#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/json.h"

static int
fn_empty(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
         json_t **out)
{
    const json_t *v = argv[0];

    (void)argc;
    if (json_is_null(v))
        return ctl_tmpl_fn_bool(true, out);
    if (json_is_string(v))
        return ctl_tmpl_fn_bool(json_string_length(v) == 0, out);
    if (json_is_array(v))
        return ctl_tmpl_fn_bool(json_array_size(v) == 0, out);
    if (json_is_object(v))
        return ctl_tmpl_fn_bool(json_object_size(v) == 0, out);
    return ctl_tmpl_fn_bad_arg(c, f, v, "String, Array or Object");
}

static int
fn_length(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
          json_t **out)
{
    const json_t *v = argv[0];
    size_t n;
    int rc;

    (void)argc;
    if (json_is_string(v)) {
        if ((rc = ctl_tmpl_charge(c, json_string_length(v) / 16)) < 0)
            return rc;
        n = ctl_tmpl_utf16_len(json_string_value(v), json_string_length(v));
    } else if (json_is_array(v)) {
        n = json_array_size(v);
    } else if (json_is_object(v)) {
        n = json_object_size(v);
    } else {
        return ctl_tmpl_fn_bad_arg(c, f, v, "String, Array or Object");
    }
    return ctl_tmpl_mkint(c, (json_int_t)n, out);
}

static int
fn_coalesce(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
            json_t **out)
{
    (void)c, (void)f;
    for (size_t i = 0; i < argc; i++) {
        if (!json_is_null(argv[i])) {
            *out = json_incref(argv[i]);
            return 0;
        }
    }
    *out = json_null();
    return 0;
}

static int
fn_create_array(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv,
                size_t argc, json_t **out)
{
    json_t *arr = NULL;
    int rc;

    (void)f;
    if ((rc = ctl_tmpl_new_array(c, &arr)) < 0)
        return rc;
    for (size_t i = 0; i < argc; i++) {
        if ((rc = ctl_tmpl_append(c, arr, json_incref(argv[i]))) < 0) {
            json_decref(arr);
            return rc;
        }
    }
    *out = arr;
    return 0;
}

static int
fn_create_object(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv,
                 size_t argc, json_t **out)
{
    json_t *obj = NULL;
    int rc;

    if (argc % 2 != 0)
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The template language function 'createObject' must have an even "
                             "number of parameters. Please see https://aka.ms/arm-functions for "
                             "usage details.");
    if ((rc = ctl_tmpl_new_object(c, &obj)) < 0)
        return rc;
    for (size_t i = 0; i < argc; i += 2) {
        if ((rc = ctl_tmpl_fn_want(c, f, argv, i, JSON_STRING)) < 0 ||
            (rc = ctl_tmpl_set(c, obj, json_string_value(argv[i]), json_incref(argv[i + 1]))) < 0) {
            json_decref(obj);
            return rc;
        }
    }
    *out = obj;
    return 0;
}

static int
fn_array(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
         json_t **out)
{
    if (json_is_array(argv[0])) {
        *out = json_incref(argv[0]);
        return 0;
    }
    return fn_create_array(c, f, argv, argc, out);
}

static int
fn_first_last(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
              json_t **out)
{
    const json_t *v = argv[0];
    bool first = strcmp(f->name, "first") == 0;
    const char *s;
    size_t n, k;

    (void)argc;
    if (json_is_array(v)) {
        n = json_array_size(v);
        *out = n == 0 ? json_null() : json_incref(json_array_get(v, first ? 0 : n - 1));
        return 0;
    }
    if (!json_is_string(v))
        return ctl_tmpl_fn_bad_arg(c, f, v, "String or Array");
    s = json_string_value(v);
    n = json_string_length(v);
    if (n == 0)
        return ctl_tmpl_mkstr(c, "", 0, out);
    /* One character is one whole UTF-8 sequence. */
    if (first)
        return ctl_tmpl_mkstr(c, s, ctl_tmpl_utf16_offset(s, n, 1), out);
    for (k = n - 1; k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80; k--)
        ;
    return ctl_tmpl_mkstr(c, s + k, n - k, out);
}

/* skip()/take(): on an array or a string, count clamped to [0, length]. */
static int
fn_skip_take(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
             json_t **out)
{
    const json_t *v = argv[0];
    bool skip = strcmp(f->name, "skip") == 0;
    json_int_t k;
    size_t n, from, to, off;
    json_t *arr = NULL;
    int rc;

    (void)argc;
    if ((rc = ctl_tmpl_fn_want(c, f, argv, 1, JSON_INTEGER)) < 0)
        return rc;
    k = json_integer_value(argv[1]);
    if (json_is_string(v)) {
        n = json_string_length(v);
        off = k <= 0 ? 0 : ctl_tmpl_utf16_offset(json_string_value(v), n, (size_t)k);
        return skip ? ctl_tmpl_mkstr(c, json_string_value(v) + off, n - off, out)
                    : ctl_tmpl_mkstr(c, json_string_value(v), off, out);
    }
    if (!json_is_array(v))
        return ctl_tmpl_fn_bad_arg(c, f, v, "String or Array");
    n = json_array_size(v);
    off = k <= 0 ? 0 : (size_t)k > n ? n : (size_t)k;
    from = skip ? off : 0;
    to = skip ? n : off;
    if ((rc = ctl_tmpl_new_array(c, &arr)) < 0)
        return rc;
    for (size_t i = from; i < to; i++) {
        if ((rc = ctl_tmpl_append(c, arr, json_incref(json_array_get(v, i)))) < 0) {
            json_decref(arr);
            return rc;
        }
    }
    *out = arr;
    return 0;
}

static int
index_of(struct ctl_tmpl_ctx *c, const json_t *arr, const json_t *item, size_t *pos)
{
    bool eq = false;
    int rc;

    *pos = SIZE_MAX;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        if ((rc = ctl_tmpl_equal(c, json_array_get(arr, i), item, false, &eq)) < 0)
            return rc;
        if (eq) {
            *pos = i;
            break;
        }
    }
    return 0;
}

/* contains(): strings case-sensitively, object keys case-insensitively,
 * array items by deep equality, as ARM documents. */
static int
fn_contains(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
            json_t **out)
{
    const json_t *box = argv[0];
    struct scc_buf b;
    size_t pos = SIZE_MAX;
    int rc;

    (void)argc;
    if (json_is_array(box)) {
        if ((rc = index_of(c, box, argv[1], &pos)) < 0)
            return rc;
        return ctl_tmpl_fn_bool(pos != SIZE_MAX, out);
    }
    if (json_is_object(box)) {
        if ((rc = ctl_tmpl_fn_want(c, f, argv, 1, JSON_STRING)) < 0 ||
            (rc = ctl_tmpl_charge(c, 1 + json_object_size(box) / 16)) < 0)
            return rc;
        return ctl_tmpl_fn_bool(scc_json_iget(box, json_string_value(argv[1])) != NULL, out);
    }
    if (!json_is_string(box))
        return ctl_tmpl_fn_bad_arg(c, f, box, "String, Array or Object");
    scc_buf_init(&b, CTL_TMPL_MAX_STRING);
    if ((rc = ctl_tmpl_fn_stringify(c, argv[1], &b)) == 0)
        rc = ctl_tmpl_find(c, json_string_value(box), json_string_length(box), scc_buf_str(&b),
                           b.len, false, false, &pos);
    scc_buf_fini(&b);
    if (rc < 0)
        return rc;
    return ctl_tmpl_fn_bool(pos != SIZE_MAX, out);
}

static int merge_objects(struct ctl_tmpl_ctx *c, json_t *const *objs, size_t n, unsigned depth,
                         json_t **out);

/* dst[k] = v, or the merge of both when both are objects (ARM's union is
 * deep for nested objects; the later value wins otherwise). */
static int
merge_member(struct ctl_tmpl_ctx *c, json_t *dst, const char *k, json_t *v, unsigned depth)
{
    json_t *old = json_object_get(dst, k), *pair[2], *merged = NULL;
    int rc;

    if (!json_is_object(old) || !json_is_object(v))
        return ctl_tmpl_set(c, dst, k, json_incref(v));
    pair[0] = old;
    pair[1] = v;
    if ((rc = merge_objects(c, pair, 2, depth + 1, &merged)) < 0)
        return rc;
    return ctl_tmpl_set(c, dst, k, merged);
}

static int
merge_objects(struct ctl_tmpl_ctx *c, json_t *const *objs, size_t n, unsigned depth, json_t **out)
{
    json_t *dst = NULL, *v;
    const char *k;
    int rc;

    if (depth > CTL_TMPL_MAX_VALUE_DEPTH)
        return ctl_tmpl_fail(c, SCC_ETOOBIG, "The objects given to 'union' are nested too deep.");
    if ((rc = ctl_tmpl_new_object(c, &dst)) < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        json_object_foreach(objs[i], k, v)
        {
            if ((rc = merge_member(c, dst, k, v, depth)) < 0) {
                json_decref(dst);
                return rc;
            }
        }
    }
    *out = dst;
    return 0;
}

/* Append the items of src not yet in dst. */
static int
append_distinct(struct ctl_tmpl_ctx *c, json_t *dst, const json_t *src)
{
    size_t i, pos;
    int rc;

    for (i = 0; i < json_array_size(src); i++) {
        if ((rc = index_of(c, dst, json_array_get(src, i), &pos)) < 0)
            return rc;
        if (pos == SIZE_MAX &&
            (rc = ctl_tmpl_append(c, dst, json_incref(json_array_get(src, i)))) < 0)
            return rc;
    }
    return 0;
}

static int
same_kind(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc)
{
    json_type want = json_is_array(argv[0]) ? JSON_ARRAY : JSON_OBJECT;

    for (size_t i = 0; i < argc; i++) {
        if (json_typeof(argv[i]) != want)
            return ctl_tmpl_fn_bad_arg(c, f, argv[i], "Array or Object (all the same)");
    }
    return 0;
}

static int
fn_union(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
         json_t **out)
{
    json_t *arr = NULL;
    int rc;

    if ((rc = same_kind(c, f, argv, argc)) < 0)
        return rc;
    if (json_is_object(argv[0]))
        return merge_objects(c, argv, argc, 0, out);
    if ((rc = ctl_tmpl_new_array(c, &arr)) < 0)
        return rc;
    for (size_t i = 0; i < argc; i++) {
        if ((rc = append_distinct(c, arr, argv[i])) < 0) {
            json_decref(arr);
            return rc;
        }
    }
    *out = arr;
    return 0;
}

/* Is v (member k of the first argument, or an item when k is NULL) in
 * every other argument? */
static int
in_all(struct ctl_tmpl_ctx *c, json_t *const *argv, size_t argc, const char *k, const json_t *v,
       bool *yes)
{
    size_t pos;
    int rc;

    *yes = true;
    for (size_t i = 1; *yes && i < argc; i++) {
        if (k != NULL) {
            const json_t *o = json_object_get(argv[i], k);

            if (o == NULL)
                *yes = false;
            else if ((rc = ctl_tmpl_equal(c, o, v, false, yes)) < 0)
                return rc;
        } else {
            if ((rc = index_of(c, argv[i], v, &pos)) < 0)
                return rc;
            *yes = pos != SIZE_MAX;
        }
    }
    return 0;
}

static int
intersect_into(struct ctl_tmpl_ctx *c, json_t *const *argv, size_t argc, json_t *dst)
{
    const char *k;
    json_t *v;
    size_t i, pos;
    bool yes;
    int rc;

    if (json_is_object(dst)) {
        json_object_foreach(argv[0], k, v)
        {
            if ((rc = in_all(c, argv, argc, k, v, &yes)) < 0 ||
                (yes && (rc = ctl_tmpl_set(c, dst, k, json_incref(v))) < 0))
                return rc;
        }
        return 0;
    }
    json_array_foreach(argv[0], i, v)
    {
        if ((rc = in_all(c, argv, argc, NULL, v, &yes)) < 0 || (rc = index_of(c, dst, v, &pos)) < 0)
            return rc;
        if (yes && pos == SIZE_MAX && (rc = ctl_tmpl_append(c, dst, json_incref(v))) < 0)
            return rc;
    }
    return 0;
}

static int
fn_intersection(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv,
                size_t argc, json_t **out)
{
    json_t *dst = NULL;
    int rc;

    if ((rc = same_kind(c, f, argv, argc)) < 0)
        return rc;
    rc = json_is_object(argv[0]) ? ctl_tmpl_new_object(c, &dst) : ctl_tmpl_new_array(c, &dst);
    if (rc < 0)
        return rc;
    if ((rc = intersect_into(c, argv, argc, dst)) < 0) {
        json_decref(dst);
        return rc;
    }
    *out = dst;
    return 0;
}

const struct ctl_tmpl_fn ctl_tmpl_fn_coll[] = {
        {"empty", 1, 1, fn_empty},
        {"length", 1, 1, fn_length},
        {"coalesce", 1, CTL_TMPL_FN_ANY, fn_coalesce},
        {"createArray", 0, CTL_TMPL_FN_ANY, fn_create_array},
        {"createObject", 0, CTL_TMPL_FN_ANY, fn_create_object},
        {"array", 1, 1, fn_array},
        {"first", 1, 1, fn_first_last},
        {"last", 1, 1, fn_first_last},
        {"skip", 2, 2, fn_skip_take},
        {"take", 2, 2, fn_skip_take},
        {"contains", 2, 2, fn_contains},
        {"union", 1, CTL_TMPL_FN_ANY, fn_union},
        {"intersection", 2, CTL_TMPL_FN_ANY, fn_intersection},
        {NULL, 0, 0, NULL},
};
