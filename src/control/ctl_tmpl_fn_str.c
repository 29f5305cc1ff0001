/*
 * ctl_tmpl_fn_str.c - template string functions and the hashes ARM builds
 * names from: concat, format, case, trimming, searching, substring,
 * replace, split, join, padLeft, base64, uniqueString and guid.
 *
 * ARM runs on .NET: string positions and lengths count UTF-16 code units,
 * startsWith/endsWith/indexOf ignore case (OrdinalIgnoreCase) while
 * contains/replace do not, and case mapping is invariant.  We fold only
 * ASCII letters; docs/templates.md lists that difference.
 */
#include "control/ctl_tmpl_fn.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/mem.h"

/* uniqueString's input cap, from ARM's template literal limit. */
#define UNIQUE_MAX 131072
/* Namespace of ARM's guid(): a name-based (SHA-1, version 5) UUID. */
static const uint8_t guid_ns[16] = {0x11, 0xfb, 0x06, 0xfb, 0x71, 0x2d, 0x4d, 0xdd,
                                    0x98, 0xc7, 0xe7, 0x1b, 0xbd, 0x58, 0x88, 0x30};

size_t
ctl_tmpl_utf16_len(const char *s, size_t n)
{
    size_t units = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];

        if ((b & 0xc0) != 0x80)
            units += b >= 0xf0 ? 2 : 1; /* 4-byte sequences are surrogate pairs */
    }
    return units;
}

size_t
ctl_tmpl_utf16_offset(const char *s, size_t n, size_t units)
{
    size_t i = 0, u = 0;

    while (i < n && u < units) {
        unsigned char b = (unsigned char)s[i];

        u += b >= 0xf0 ? 2 : 1;
        for (i++; i < n && ((unsigned char)s[i] & 0xc0) == 0x80; i++)
            ;
    }
    return i;
}

static char
fold(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

int
ctl_tmpl_find(struct ctl_tmpl_ctx *c, const char *hay, size_t n, const char *needle, size_t m,
              bool icase, bool last, size_t *pos)
{
    unsigned long cmp = 0;
    int rc;

    *pos = SIZE_MAX;
    if (m > n)
        return 0;
    if (m == 0) {
        *pos = last ? n : 0;
        return 0;
    }
    for (size_t k = 0; k <= n - m; k++) {
        size_t i = last ? n - m - k : k, j = 0;

        while (j < m && (icase ? fold(hay[i + j]) == fold(needle[j]) : hay[i + j] == needle[j]))
            j++;
        cmp += j + 1;
        if (j == m) {
            *pos = i;
            break;
        }
        if (cmp >= 65536) {
            if ((rc = ctl_tmpl_charge(c, cmp / 64)) < 0)
                return rc;
            cmp = 0;
        }
    }
    return ctl_tmpl_charge(c, cmp / 64);
}

static int
too_long(struct ctl_tmpl_ctx *c)
{
    return ctl_tmpl_fail(c, SCC_ETOOBIG,
                         "The template language expression result is longer than the limit of "
                         "'%u' bytes.",
                         CTL_TMPL_MAX_STRING);
}

static int
put(struct ctl_tmpl_ctx *c, struct scc_buf *b, const char *s, size_t n)
{
    int rc = scc_buf_put(b, s, n);

    if (rc == SCC_ENOMEM)
        return ctl_tmpl_oom(c);
    if (rc < 0)
        return too_long(c);
    return ctl_tmpl_charge(c, n / 8);
}

static int
done(struct ctl_tmpl_ctx *c, struct scc_buf *b, int rc, json_t **out)
{
    if (rc < 0) {
        scc_buf_fini(b);
        return rc;
    }
    return ctl_tmpl_mkbuf(c, b, out);
}

static int
concat_arrays(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
              json_t **out)
{
    json_t *arr = NULL, *v;
    size_t k;
    int rc;

    if ((rc = ctl_tmpl_new_array(c, &arr)) < 0)
        return rc;
    for (size_t i = 0; i < argc; i++) {
        if ((rc = ctl_tmpl_fn_want(c, f, argv, i, JSON_ARRAY)) < 0)
            goto out;
        json_array_foreach(argv[i], k, v)
        {
            if ((rc = ctl_tmpl_append(c, arr, json_incref(v))) < 0)
                goto out;
        }
    }
    *out = arr;
    arr = NULL;
out:
    json_decref(arr);
    return rc;
}

/* concat(): all arrays join into one array; otherwise every argument is
 * rendered as a string (ARM accepts integers and booleans there too). */
static int
fn_concat(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
          json_t **out)
{
    struct scc_buf b;
    int rc = 0;

    if (json_is_array(argv[0]))
        return concat_arrays(c, f, argv, argc, out);
    scc_buf_init(&b, CTL_TMPL_MAX_STRING);
    for (size_t i = 0; rc == 0 && i < argc; i++) {
        if (json_is_array(argv[i]) || json_is_object(argv[i]))
            rc = ctl_tmpl_fn_bad_arg(c, f, argv[i], "String or Array");
        else
            rc = ctl_tmpl_fn_stringify(c, argv[i], &b);
    }
    return done(c, &b, rc, out);
}

static int
bad_format(struct ctl_tmpl_ctx *c, const char *why)
{
    return ctl_tmpl_fail(c, SCC_EINVAL,
                         "The template language function 'format' failed: %s Please see "
                         "https://aka.ms/arm-functions for usage details.",
                         why);
}

/* .NET numeric format strings for integers: D[n], X[n], x[n]. */
static int
format_int(struct ctl_tmpl_ctx *c, json_int_t v, const char *spec, size_t n, struct scc_buf *b)
{
    char tmp[96];
    unsigned prec = 0;
    size_t k;

    for (k = 1; k < n; k++) {
        if (spec[k] < '0' || spec[k] > '9' || prec > 64)
            return bad_format(c, "the format specifier is not supported.");
        prec = prec * 10 + (unsigned)(spec[k] - '0');
    }
    if (prec > 64)
        return bad_format(c, "the format precision is too large.");
    if (spec[0] == 'D' || spec[0] == 'd') {
        unsigned long long mag = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;

        (void)snprintf(tmp, sizeof(tmp), "%s%0*llu", v < 0 ? "-" : "", (int)prec, mag);
    } else if (spec[0] == 'X' || spec[0] == 'x') {
        (void)snprintf(tmp, sizeof(tmp), spec[0] == 'X' ? "%0*llX" : "%0*llx", (int)prec,
                       (unsigned long long)v);
    } else {
        return bad_format(c, "the format specifier is not supported.");
    }
    return put(c, b, tmp, strlen(tmp));
}

struct fmt_item {
    size_t index;
    long align;
    const char *spec;
    size_t spec_len;
};

/* Parse "{index[,alignment][:format]}" starting after the '{' at s[*i]. */
static int
parse_item(struct ctl_tmpl_ctx *c, const char *s, size_t n, size_t *i, struct fmt_item *it)
{
    size_t k = *i;
    bool neg = false;

    memset(it, 0, sizeof(*it));
    if (k >= n || s[k] < '0' || s[k] > '9')
        return bad_format(c, "Input string was not in a correct format.");
    for (; k < n && s[k] >= '0' && s[k] <= '9' && it->index < 1000000; k++)
        it->index = it->index * 10 + (size_t)(s[k] - '0');
    if (k < n && s[k] == ',') {
        if (++k < n && s[k] == '-') {
            neg = true;
            k++;
        }
        for (; k < n && s[k] >= '0' && s[k] <= '9' && it->align < 1000000; k++)
            it->align = it->align * 10 + (s[k] - '0');
        it->align = neg ? -it->align : it->align;
    }
    if (k < n && s[k] == ':') {
        it->spec = s + ++k;
        while (k < n && s[k] != '}')
            k++;
        it->spec_len = (size_t)(s + k - it->spec);
    }
    if (k >= n || s[k] != '}')
        return bad_format(c, "Input string was not in a correct format.");
    *i = k + 1;
    return 0;
}

static int
pad(struct ctl_tmpl_ctx *c, struct scc_buf *b, size_t width, size_t have)
{
    int rc = 0;

    for (size_t k = have; rc == 0 && k < width; k++)
        rc = put(c, b, " ", 1);
    return rc;
}

static int
format_item(struct ctl_tmpl_ctx *c, const struct fmt_item *it, const json_t *v, struct scc_buf *b)
{
    struct scc_buf one;
    size_t width = (size_t)(it->align < 0 ? -it->align : it->align), have;
    int rc;

    scc_buf_init(&one, CTL_TMPL_MAX_STRING);
    if (it->spec_len > 0 && json_is_integer(v))
        rc = format_int(c, json_integer_value(v), it->spec, it->spec_len, &one);
    else
        rc = ctl_tmpl_fn_stringify(c, v, &one);
    have = rc == 0 ? ctl_tmpl_utf16_len(scc_buf_str(&one), one.len) : 0;
    if (rc == 0 && it->align > 0)
        rc = pad(c, b, width, have);
    if (rc == 0)
        rc = put(c, b, scc_buf_str(&one), one.len);
    if (rc == 0 && it->align < 0)
        rc = pad(c, b, width, have);
    scc_buf_fini(&one);
    return rc;
}

/* format(): .NET composite formatting, "{0}", "{1,-8}", "{0:D3}", "{{", "}}". */
static int
fn_format(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
          json_t **out)
{
    struct scc_buf b;
    struct fmt_item it;
    const char *s;
    size_t n, i = 0;
    int rc;

    if ((rc = ctl_tmpl_fn_want(c, f, argv, 0, JSON_STRING)) < 0)
        return rc;
    s = json_string_value(argv[0]);
    n = json_string_length(argv[0]);
    scc_buf_init(&b, CTL_TMPL_MAX_STRING);
    while (rc == 0 && i < n) {
        if ((s[i] == '{' || s[i] == '}') && i + 1 < n && s[i + 1] == s[i]) {
            rc = put(c, &b, s + i, 1);
            i += 2;
        } else if (s[i] == '}') {
            rc = bad_format(c, "Input string was not in a correct format.");
        } else if (s[i] == '{') {
            i++;
            if ((rc = parse_item(c, s, n, &i, &it)) == 0 && it.index + 1 >= argc)
                rc = bad_format(c, "Index (zero based) must be greater than or equal to zero and "
                                   "less than the size of the argument list.");
            if (rc == 0)
                rc = format_item(c, &it, argv[it.index + 1], &b);
        } else {
            rc = put(c, &b, s + i, 1);
            i++;
        }
    }
    return done(c, &b, rc, out);
}

static int
fn_case(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
        json_t **out)
{
    bool upper = strcmp(f->name, "toUpper") == 0;
    char *d;
    size_t n;
    int rc;

    (void)argc;
    if ((rc = ctl_tmpl_fn_want(c, f, argv, 0, JSON_STRING)) < 0)
        return rc;
    n = json_string_length(argv[0]);
    if ((d = scc_malloc(n + 1)) == NULL)
        return ctl_tmpl_oom(c);
    memcpy(d, json_string_value(argv[0]), n);
    for (size_t i = 0; i < n; i++) {
        if (upper && d[i] >= 'a' && d[i] <= 'z')
            d[i] = (char)(d[i] - 'a' + 'A');
        else if (!upper && d[i] >= 'A' && d[i] <= 'Z')
            d[i] = (char)(d[i] - 'A' + 'a');
    }
    rc = ctl_tmpl_mkstr(c, d, n, out);
    scc_free(d);
    return rc;
}

static bool
is_blank(char ch)
{
    return ch == ' ' || (ch >= '\t' && ch <= '\r');
}

static int
fn_trim(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
        json_t **out)
{
    const char *s;
    size_t a = 0, z;
    int rc;

    (void)argc;
    if ((rc = ctl_tmpl_fn_want(c, f, argv, 0, JSON_STRING)) < 0)
        return rc;
    s = json_string_value(argv[0]);
    z = json_string_length(argv[0]);
    while (a < z && is_blank(s[a]))
        a++;
    while (z > a && is_blank(s[z - 1]))
        z--;
    return ctl_tmpl_mkstr(c, s + a, z - a, out);
}

static int
want_strings(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t n)
{
    int rc;

    for (size_t i = 0; i < n; i++) {
        if ((rc = ctl_tmpl_fn_want(c, f, argv, i, JSON_STRING)) < 0)
            return rc;
    }
    return 0;
}

static int
fn_starts_ends(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv,
               size_t argc, json_t **out)
{
    size_t n, m;
    const char *s;
    int rc;

    (void)argc;
    if ((rc = want_strings(c, f, argv, 2)) < 0)
        return rc;
    n = json_string_length(argv[0]);
    m = json_string_length(argv[1]);
    s = json_string_value(argv[0]);
    if (m > n)
        return ctl_tmpl_fn_bool(false, out);
    if (strcmp(f->name, "endsWith") == 0)
        s += n - m;
    return ctl_tmpl_fn_bool(strncasecmp(s, json_string_value(argv[1]), m) == 0, out);
}

static int
fn_index_of(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
            json_t **out)
{
    const char *s;
    size_t pos;
    int rc;

    (void)argc;
    if ((rc = want_strings(c, f, argv, 2)) < 0)
        return rc;
    s = json_string_value(argv[0]);
    if ((rc = ctl_tmpl_find(c, s, json_string_length(argv[0]), json_string_value(argv[1]),
                            json_string_length(argv[1]), true, strcmp(f->name, "lastIndexOf") == 0,
                            &pos)) < 0)
        return rc;
    return ctl_tmpl_mkint(c, pos == SIZE_MAX ? -1 : (json_int_t)ctl_tmpl_utf16_len(s, pos), out);
}

static int
fn_substring(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
             json_t **out)
{
    const char *s;
    json_int_t start, len, total;
    size_t a, z;
    int rc;

    if ((rc = ctl_tmpl_fn_want(c, f, argv, 0, JSON_STRING)) < 0 ||
        (rc = ctl_tmpl_fn_want(c, f, argv, 1, JSON_INTEGER)) < 0 ||
        (argc > 2 && (rc = ctl_tmpl_fn_want(c, f, argv, 2, JSON_INTEGER)) < 0))
        return rc;
    s = json_string_value(argv[0]);
    total = (json_int_t)ctl_tmpl_utf16_len(s, json_string_length(argv[0]));
    start = json_integer_value(argv[1]);
    len = argc > 2 ? json_integer_value(argv[2]) : total - start;
    if (start < 0 || len < 0 || start > total || len > total - start)
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The index and length parameters must refer to a location within "
                             "the string. The index parameter: '%lld', the length parameter: "
                             "'%lld', the length of the string parameter: '%lld'.",
                             (long long)start, (long long)len, (long long)total);
    a = ctl_tmpl_utf16_offset(s, json_string_length(argv[0]), (size_t)start);
    z = ctl_tmpl_utf16_offset(s, json_string_length(argv[0]), (size_t)(start + len));
    return ctl_tmpl_mkstr(c, s + a, z - a, out);
}

static int
fn_replace(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
           json_t **out)
{
    const char *s, *old;
    size_t n, m, i = 0, pos;
    struct scc_buf b;
    int rc;

    (void)argc;
    if ((rc = want_strings(c, f, argv, 3)) < 0)
        return rc;
    s = json_string_value(argv[0]);
    n = json_string_length(argv[0]);
    old = json_string_value(argv[1]);
    m = json_string_length(argv[1]);
    if (m == 0)
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The template language function 'replace' cannot replace an empty "
                             "string.");
    scc_buf_init(&b, CTL_TMPL_MAX_STRING);
    while (rc == 0 && (rc = ctl_tmpl_find(c, s + i, n - i, old, m, false, false, &pos)) == 0) {
        if (pos == SIZE_MAX) {
            rc = put(c, &b, s + i, n - i);
            break;
        }
        if ((rc = put(c, &b, s + i, pos)) == 0)
            rc = put(c, &b, json_string_value(argv[2]), json_string_length(argv[2]));
        i += pos + m;
    }
    return done(c, &b, rc, out);
}

/* The delimiter matching at s[i], first in list order (String.Split). */
static size_t
match_delim(const json_t *delims, const char *s, size_t n, size_t i)
{
    for (size_t k = 0; k < json_array_size(delims); k++) {
        const json_t *d = json_array_get(delims, k);
        size_t m = json_string_length(d);

        if (m > 0 && m <= n - i && memcmp(s + i, json_string_value(d), m) == 0)
            return m;
    }
    return 0;
}

static int
split_into(struct ctl_tmpl_ctx *c, const json_t *str, const json_t *delims, json_t *arr)
{
    const char *s = json_string_value(str);
    size_t n = json_string_length(str), start = 0, i = 0, m;
    json_t *x;
    int rc;

    while (i < n) {
        if ((rc = ctl_tmpl_charge(c, 1 + json_array_size(delims) / 8)) < 0)
            return rc;
        if ((m = match_delim(delims, s, n, i)) == 0) {
            i++;
            continue;
        }
        if ((rc = ctl_tmpl_mkstr(c, s + start, i - start, &x)) < 0 ||
            (rc = ctl_tmpl_append(c, arr, x)) < 0)
            return rc;
        i += m;
        start = i;
    }
    if ((rc = ctl_tmpl_mkstr(c, s + start, n - start, &x)) < 0)
        return rc;
    return ctl_tmpl_append(c, arr, x);
}

static int
fn_split(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
         json_t **out)
{
    json_t *delims = NULL, *arr = NULL;
    int rc;

    (void)argc;
    if ((rc = ctl_tmpl_fn_want(c, f, argv, 0, JSON_STRING)) < 0)
        return rc;
    if (json_is_string(argv[1]))
        delims = json_pack("[O]", argv[1]);
    else if (json_is_array(argv[1]))
        delims = json_incref(argv[1]);
    else
        return ctl_tmpl_fn_bad_arg(c, f, argv[1], "String or Array");
    if (delims == NULL)
        return ctl_tmpl_oom(c);
    for (size_t k = 0; k < json_array_size(delims); k++) {
        if (!json_is_string(json_array_get(delims, k))) {
            rc = ctl_tmpl_fn_bad_arg(c, f, json_array_get(delims, k), "String");
            goto out;
        }
    }
    if ((rc = ctl_tmpl_new_array(c, &arr)) < 0 || (rc = split_into(c, argv[0], delims, arr)) < 0)
        goto out;
    *out = arr;
    arr = NULL;
out:
    json_decref(arr);
    json_decref(delims);
    return rc;
}

static int
fn_join(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
        json_t **out)
{
    struct scc_buf b;
    json_t *v;
    size_t i;
    int rc;

    (void)argc;
    if ((rc = ctl_tmpl_fn_want(c, f, argv, 0, JSON_ARRAY)) < 0 ||
        (rc = ctl_tmpl_fn_want(c, f, argv, 1, JSON_STRING)) < 0)
        return rc;
    scc_buf_init(&b, CTL_TMPL_MAX_STRING);
    json_array_foreach(argv[0], i, v)
    {
        if (i > 0 && (rc = put(c, &b, json_string_value(argv[1]), json_string_length(argv[1]))) < 0)
            break;
        if (json_is_object(v) || json_is_array(v))
            rc = ctl_tmpl_fn_bad_arg(c, f, v, "String");
        else
            rc = ctl_tmpl_fn_stringify(c, v, &b);
        if (rc < 0)
            break;
    }
    return done(c, &b, rc, out);
}

static int
fn_pad_left(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
            json_t **out)
{
    const char *padc = " ";
    struct scc_buf b, v;
    json_int_t width;
    size_t have;
    int rc;

    if ((rc = ctl_tmpl_fn_want(c, f, argv, 1, JSON_INTEGER)) < 0)
        return rc;
    if (!json_is_string(argv[0]) && !json_is_integer(argv[0]))
        return ctl_tmpl_fn_bad_arg(c, f, argv[0], "String or Integer");
    if (argc > 2) {
        if ((rc = ctl_tmpl_fn_want(c, f, argv, 2, JSON_STRING)) < 0)
            return rc;
        if (json_string_length(argv[2]) != 1)
            return ctl_tmpl_fail(c, SCC_EINVAL,
                                 "The template language function 'padLeft' needs a single "
                                 "ASCII padding character.");
        padc = json_string_value(argv[2]);
    }
    width = json_integer_value(argv[1]);
    if (width > (json_int_t)CTL_TMPL_MAX_STRING)
        return too_long(c);
    scc_buf_init(&v, CTL_TMPL_MAX_STRING);
    scc_buf_init(&b, CTL_TMPL_MAX_STRING);
    rc = ctl_tmpl_fn_stringify(c, argv[0], &v);
    have = rc == 0 ? ctl_tmpl_utf16_len(scc_buf_str(&v), v.len) : 0;
    for (size_t k = have; rc == 0 && width > 0 && k < (size_t)width; k++)
        rc = put(c, &b, padc, 1);
    if (rc == 0)
        rc = put(c, &b, scc_buf_str(&v), v.len);
    scc_buf_fini(&v);
    return done(c, &b, rc, out);
}

static int
fn_base64(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
          json_t **out)
{
    size_t n, cap;
    char *d;
    int rc;

    (void)argc;
    if ((rc = ctl_tmpl_fn_want(c, f, argv, 0, JSON_STRING)) < 0)
        return rc;
    n = json_string_length(argv[0]);
    cap = 4 * ((n + 2) / 3) + 1;
    if (cap > CTL_TMPL_MAX_STRING + 1)
        return too_long(c);
    if ((d = scc_malloc(cap)) == NULL)
        return ctl_tmpl_oom(c);
    (void)EVP_EncodeBlock((unsigned char *)d, (const unsigned char *)json_string_value(argv[0]),
                          (int)n); /* cap is exactly what it writes */
    rc = ctl_tmpl_mkstr(c, d, cap - 1, out);
    scc_free(d);
    return rc;
}

static int
b64_val(char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

/* Strict standard base64 with optional padding, as Convert.FromBase64String. */
static bool
b64_decode(const char *s, size_t n, uint8_t *dst, size_t *len)
{
    uint32_t acc = 0;
    size_t bits = 0, o = 0;

    while (n > 0 && s[n - 1] == '=' && n % 4 != 1)
        n--;
    for (size_t i = 0; i < n; i++) {
        int v = b64_val(s[i]);

        if (v < 0)
            return false;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            dst[o++] = (uint8_t)(acc >> bits);
        }
    }
    *len = o;
    return bits < 6;
}

static int
fn_base64_decode(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv,
                 size_t argc, json_t **out)
{
    uint8_t *d;
    size_t n, len = 0;
    int rc;

    (void)argc;
    if ((rc = ctl_tmpl_fn_want(c, f, argv, 0, JSON_STRING)) < 0)
        return rc;
    n = json_string_length(argv[0]);
    if ((d = scc_malloc(n / 4 * 3 + 3)) == NULL)
        return ctl_tmpl_oom(c);
    if (!b64_decode(json_string_value(argv[0]), n, d, &len))
        rc = ctl_tmpl_fail(c, SCC_EINVAL,
                           "The template language function '%s' got a value that is not valid "
                           "base64.",
                           f->name);
    else if (strcmp(f->name, "base64ToString") == 0)
        rc = ctl_tmpl_mkstr(c, (const char *)d, len, out);
    else
        rc = ctl_tmpl_fn_parse_json(c, (const char *)d, len, out);
    scc_free(d);
    return rc;
}

/* 13 x 5 bits from the top of h; the last character carries 4 bits and a
 * zero, so it is always an even-index letter. */
static void
base32_13(uint64_t h, char *s)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

    for (int i = 0; i < 13; i++, h <<= 5)
        s[i] = alphabet[h >> 59];
}

int
ctl_tmpl_unique_string(const char *const *args, size_t n, char out[14])
{
    struct scc_buf b;
    int rc = 0;

    if (n == 0)
        return SCC_EINVAL;
    scc_buf_init(&b, UNIQUE_MAX);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (i > 0)
            rc = scc_buf_put(&b, "-", 1);
        if (rc == 0)
            rc = scc_buf_put_str(&b, args[i]);
    }
    if (rc == 0) {
        base32_13(ctl_tmpl_murmur64((const uint8_t *)scc_buf_str(&b), b.len), out);
        out[13] = '\0';
    }
    scc_buf_fini(&b);
    return rc;
}

/* Join string arguments with '-' (uniqueString and guid both do). */
static int
join_args(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
          size_t max, struct scc_buf *b)
{
    int rc = 0;

    scc_buf_init(b, max);
    for (size_t i = 0; rc == 0 && i < argc; i++) {
        if ((rc = ctl_tmpl_fn_want(c, f, argv, i, JSON_STRING)) == 0 && i > 0)
            rc = put(c, b, "-", 1);
        if (rc == 0)
            rc = put(c, b, json_string_value(argv[i]), json_string_length(argv[i]));
    }
    return rc;
}

static int
fn_unique_string(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv,
                 size_t argc, json_t **out)
{
    struct scc_buf b;
    char s[13];
    int rc;

    if ((rc = join_args(c, f, argv, argc, UNIQUE_MAX, &b)) == 0) {
        base32_13(ctl_tmpl_murmur64((const uint8_t *)scc_buf_str(&b), b.len), s);
        rc = ctl_tmpl_mkstr(c, s, sizeof(s), out);
    }
    scc_buf_fini(&b);
    return rc;
}

/* guid(): UUID version 5 of the arguments joined by '-', in ARM's namespace. */
static int
fn_guid(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_fn *f, json_t *const *argv, size_t argc,
        json_t **out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    struct scc_buf b;
    char s[37];
    int rc;

    if ((rc = join_args(c, f, argv, argc, CTL_TMPL_MAX_STRING, &b)) == 0 &&
        (rc = scc_buf_reserve(&b, sizeof(guid_ns))) < 0)
        rc = rc == SCC_ENOMEM ? ctl_tmpl_oom(c) : too_long(c);
    if (rc == 0) {
        memmove(b.data + sizeof(guid_ns), b.data, b.len);
        memcpy(b.data, guid_ns, sizeof(guid_ns));
        if (EVP_Digest(b.data, b.len + sizeof(guid_ns), md, &mdlen, EVP_sha1(), NULL) != 1)
            rc = ctl_tmpl_oom(c); /* OpenSSL fails here only when it cannot allocate */
    }
    if (rc == 0) {
        md[6] = (unsigned char)((md[6] & 0x0f) | 0x50);
        md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);
        (void)snprintf(s, sizeof(s),
                       "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                       md[0], md[1], md[2], md[3], md[4], md[5], md[6], md[7], md[8], md[9], md[10],
                       md[11], md[12], md[13], md[14], md[15]);
        rc = ctl_tmpl_mkstr(c, s, 36, out);
    }
    scc_buf_fini(&b);
    return rc;
}

static uint32_t
rotl32(uint32_t x, unsigned r)
{
    return (x << r) | (x >> (32 - r));
}

static uint32_t
fmix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x85ebca6bu;
    x ^= x >> 13;
    x *= 0xc2b2ae35u;
    x ^= x >> 16;
    return x;
}

static uint32_t
le32(const uint8_t *p, size_t n)
{
    uint32_t v = 0;

    for (size_t i = 0; i < n && i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

uint64_t
ctl_tmpl_murmur64(const uint8_t *p, size_t n)
{
    const uint32_t c1 = 0x239b961bu, c2 = 0xab0e9789u, c3 = 0x561ccd1bu, c4 = 0x0bcaa747u;
    uint32_t h1 = 0, h2 = 0;
    size_t i = 0, rem;

    for (; n - i >= 8; i += 8) {
        h1 ^= rotl32(le32(p + i, 4) * c1, 15) * c2;
        h1 = rotl32(h1, 19) + h2;
        h1 = h1 * 5 + c3;
        h2 ^= rotl32(le32(p + i + 4, 4) * c2, 17) * c1;
        h2 = rotl32(h2, 13) + h1; /* lane 2 mixes in the updated lane 1 */
        h2 = h2 * 5 + c4;
    }
    if ((rem = n - i) > 0) {
        h1 ^= rotl32(le32(p + i, rem) * c1, 15) * c2;
        if (rem > 4)
            h2 ^= rotl32(le32(p + i + 4, rem - 4) * c2, 17) * c1;
    }
    h1 ^= (uint32_t)n;
    h2 ^= (uint32_t)n;
    h1 += h2;
    h2 += h1;
    h1 = fmix32(h1);
    h2 = fmix32(h2);
    h1 += h2;
    h2 += h1;
    return ((uint64_t)h2 << 32) | h1;
}

const struct ctl_tmpl_fn ctl_tmpl_fn_str[] = {
        {"concat", 1, CTL_TMPL_FN_ANY, fn_concat},
        {"format", 1, CTL_TMPL_FN_ANY, fn_format},
        {"toLower", 1, 1, fn_case},
        {"toUpper", 1, 1, fn_case},
        {"trim", 1, 1, fn_trim},
        {"startsWith", 2, 2, fn_starts_ends},
        {"endsWith", 2, 2, fn_starts_ends},
        {"indexOf", 2, 2, fn_index_of},
        {"lastIndexOf", 2, 2, fn_index_of},
        {"substring", 2, 3, fn_substring},
        {"replace", 3, 3, fn_replace},
        {"split", 2, 2, fn_split},
        {"join", 2, 2, fn_join},
        {"padLeft", 2, 3, fn_pad_left},
        {"base64", 1, 1, fn_base64},
        {"base64ToString", 1, 1, fn_base64_decode},
        {"base64ToJson", 1, 1, fn_base64_decode},
        {"uniqueString", 1, CTL_TMPL_FN_ANY, fn_unique_string},
        {"guid", 1, CTL_TMPL_FN_ANY, fn_guid},
        {NULL, 0, 0, NULL},
};
