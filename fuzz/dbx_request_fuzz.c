/*
 * Fuzz the workspace API's checks of what clients send (ctl_dbx_check.c).
 * The input is a request in three parts: its first line is a Host header,
 * its second a query string, the rest a JSON body.  The host is parsed, a
 * few keys looked up in the query, and a body that is a JSON object is
 * checked as a cluster spec, with each member of its "tasks" array (and
 * the task's new_cluster) checked as a job task, and its "update_mask"
 * and "cluster" applied as clusters/update would.  The whole input is also
 * made a JSON string as task output is, and compared with jansson's own
 * notion of valid UTF-8.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "control/ctl_dbx.h"

#define LINE_MAX_LEN 4096
#define BODY_MAX     (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next line of [*p, end) as a C string in line (cut to cap - 1 bytes,
 * stopping at a NUL as a header would); *p moves past its newline. */
static void
next_line(const uint8_t **p, const uint8_t *end, char *line, size_t cap)
{
    const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t n = (size_t)((nl ? nl : end) - *p);

    if (n > cap - 1)
        n = cap - 1;
    memcpy(line, *p, n);
    line[n] = '\0';
    *p = nl ? nl + 1 : end;
}

static void
host(const char *line)
{
    char id[20];
    int rc = ctl_dbx_host_parse("example.com", line, id, sizeof(id));

    if (rc != 0 && rc != SCC_EINVAL)
        __builtin_trap();
    if (rc == 0 && (id[0] == '\0' || strspn(id, "0123456789") != strlen(id)))
        __builtin_trap();
    (void)ctl_dbx_host_parse("example.com", line, id, 4);
}

static void
query(const char *line)
{
    static const char *const keys[] = {"cluster_id", "run_id", "page_token", "limit", "", "a"};
    char out[64], small[4];

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        memset(out, 0x55, sizeof(out));
        if (ctl_dbx_query_get(line, keys[i], out, sizeof(out)) &&
            memchr(out, '\0', sizeof(out)) == NULL)
            __builtin_trap();
        (void)ctl_dbx_query_get(line, keys[i], small, sizeof(small));
    }
}

static void
spec(const json_t *s)
{
    char err[256];

    err[0] = '\0';
    switch (ctl_dbx_spec_check(s, err, sizeof(err))) {
    case 0:
        if (!json_is_string(json_object_get(s, "spark_version")))
            __builtin_trap();
        break;
    case SCC_EINVAL:
        if (err[0] == '\0')
            __builtin_trap();
        break;
    default:
        __builtin_trap();
    }
}

/* What a task runs: non-empty, strings without a NUL (a NUL would cut an
 * argument and run something else). */
static void
task(const json_t *t)
{
    char err[512];
    json_t *argv, *v;
    size_t i;

    (void)ctl_dbx_task_key_ok(json_string_value(json_object_get(t, "task_key")));
    if (json_is_object(json_object_get(t, "new_cluster")))
        spec(json_object_get(t, "new_cluster"));
    err[0] = '\0';
    if ((argv = ctl_dbx_task_argv(t, err, sizeof(err))) == NULL) {
        if (err[0] == '\0')
            __builtin_trap();
        return;
    }
    if (!json_is_array(argv) || json_array_size(argv) == 0)
        __builtin_trap();
    json_array_foreach(argv, i, v)
    {
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
            __builtin_trap();
    }
    json_decref(argv);
}

/* clusters/update: whatever the mask, a clear refusal or a spec of spec
 * keys only (the "_scc" member a document has must never be reachable). */
static void
mask(const json_t *o)
{
    json_t *sp = json_pack("{s:s, s:i}", "spark_version", "16.4.x-scala2.12", "num_workers", 1);
    const char *key;
    json_t *v;
    char err[128];
    int rc;

    if (sp == NULL)
        return;
    err[0] = '\0';
    rc = ctl_dbx_mask_apply(sp, json_string_value(json_object_get(o, "update_mask")),
                            json_object_get(o, "cluster"), err, sizeof(err));
    if ((rc != 0 && rc != SCC_EINVAL) || (rc < 0 && err[0] == '\0'))
        __builtin_trap();
    json_object_foreach(sp, key, v)
    {
        bool known = false;

        for (size_t i = 0; i < ctl_dbx_nspec_keys; i++)
            known = known || strcmp(key, ctl_dbx_spec_keys[i]) == 0;
        if (!known)
            __builtin_trap();
    }
    if (rc == 0)
        spec(sp);
    json_decref(sp);
}

static void
body(const uint8_t *p, size_t n)
{
    json_t *o = NULL, *t;
    size_t i;

    if (scc_json_parse_object(p, n, BODY_MAX, &o, NULL, 0) != 0)
        return;
    spec(o);
    mask(o);
    json_array_foreach(json_object_get(o, "tasks"), i, t)
    {
        task(t);
    }
    json_decref(o);
}

/* Valid UTF-8 without NUL is kept as it is; anything else changes; either
 * way the result dumps and loads back as the same string. */
static void
text(const uint8_t *p, size_t n)
{
    json_t *s = ctl_dbx_text((const char *)p, n), *strict, *back;
    bool valid, same;
    char *dumped;

    if (s == NULL || !json_is_string(s) || json_string_length(s) > 3 * n)
        __builtin_trap();
    strict = json_stringn((const char *)p, n);
    valid = strict != NULL && memchr(p, '\0', n) == NULL;
    same = json_string_length(s) == n && memcmp(json_string_value(s), p, n) == 0;
    if (valid != same)
        __builtin_trap();
    if ((dumped = json_dumps(s, JSON_ENCODE_ANY)) == NULL)
        __builtin_trap();
    if ((back = json_loads(dumped, JSON_DECODE_ANY, NULL)) == NULL || !json_equal(s, back))
        __builtin_trap();
    free(dumped);
    json_decref(back);
    json_decref(strict);
    json_decref(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    char line[LINE_MAX_LEN];

    if (size > BODY_MAX + 2 * LINE_MAX_LEN)
        return 0;
    next_line(&p, end, line, sizeof(line));
    host(line);
    next_line(&p, end, line, sizeof(line));
    query(line);
    body(p, (size_t)(end - p));
    text(data, size);
    return 0;
}
