#include "json.h"

#include "err.h"
#include "mem.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

int
scc_json_parse(const void *buf, size_t len, size_t max_len, json_t **out, char *err, size_t err_cap)
{
    json_error_t jerr;
    json_t *v;

    *out = NULL;
    if (len > max_len) {
        if (err)
            snprintf(err, err_cap, "body of %zu bytes exceeds the limit of %zu", len, max_len);
        return SCC_ETOOBIG;
    }
    /* jansson rejects embedded NULs itself unless JSON_ALLOW_NUL; it also
     * rejects trailing data because we do not pass JSON_DISABLE_EOF_CHECK. */
    v = json_loadb(buf, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (v == NULL) {
        if (err)
            snprintf(err, err_cap, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        return SCC_EJSON;
    }
    *out = v;
    return 0;
}

int
scc_json_parse_object(const void *buf, size_t len, size_t max_len, json_t **out, char *err,
                      size_t err_cap)
{
    int rc = scc_json_parse(buf, len, max_len, out, err, err_cap);

    if (rc == 0 && !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        if (err)
            snprintf(err, err_cap, "expected a JSON object");
        return SCC_EJSON;
    }
    return rc;
}

int
scc_json_get_str(const json_t *obj, const char *key, const char **out)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL || json_is_null(v))
        return SCC_ENOTFOUND;
    if (!json_is_string(v))
        return SCC_EINVAL;
    *out = json_string_value(v);
    return 0;
}

int
scc_json_get_bool(const json_t *obj, const char *key, bool *out)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL || json_is_null(v))
        return SCC_ENOTFOUND;
    if (!json_is_boolean(v))
        return SCC_EINVAL;
    *out = json_is_true(v);
    return 0;
}

int
scc_json_get_int(const json_t *obj, const char *key, int64_t min, int64_t max, int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    json_int_t i;

    if (v == NULL || json_is_null(v))
        return SCC_ENOTFOUND;
    if (!json_is_integer(v))
        return SCC_EINVAL;
    i = json_integer_value(v);
    if (i < min || i > max)
        return SCC_ERANGE;
    *out = i;
    return 0;
}

json_t *
scc_json_iget(const json_t *obj, const char *key)
{
    const char *k;
    json_t *v, *exact;

    if (!json_is_object(obj))
        return NULL;
    if ((exact = json_object_get(obj, key)) != NULL)
        return exact;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (strcasecmp(k, key) == 0)
            return v;
    }
    return NULL;
}

static int
dump_cb(const char *buffer, size_t size, void *data)
{
    return scc_buf_put(data, buffer, size) == 0 ? 0 : -1;
}

int
scc_json_dump(const json_t *v, struct scc_buf *b)
{
    size_t before = b->len;

    if (json_dump_callback(v, dump_cb, b, JSON_COMPACT | JSON_ENCODE_ANY) != 0) {
        b->len = before;
        if (b->data)
            b->data[b->len] = '\0';
        return SCC_ETOOBIG;
    }
    return 0;
}

char *
scc_json_dumps(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}
