/*
 * ctl_dbx_check.c - what the workspace API accepts from clients: workspace
 * host names, query strings, cluster specs, tasks, and the catalogue they
 * are checked against.  Pure functions over their arguments.
 */
#include "ctl_dbx.h"

#include "common/buf.h"
#include "common/err.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* What spark_version may say.  Nodes run no Spark: the key is recorded and
 * shown, so clients that select an LTS version find one. */
const struct ctl_dbx_version ctl_dbx_versions[] = {
        {"13.3.x-scala2.12", "13.3 LTS (includes Apache Spark 3.4.1, Scala 2.12)"},
        {"14.3.x-scala2.12", "14.3 LTS (includes Apache Spark 3.5.0, Scala 2.12)"},
        {"15.4.x-scala2.12", "15.4 LTS (includes Apache Spark 3.5.0, Scala 2.12)"},
        {"16.4.x-scala2.12", "16.4 LTS (includes Apache Spark 3.5.2, Scala 2.12)"},
        {"16.4.x-scala2.13", "16.4 LTS (includes Apache Spark 3.5.2, Scala 2.13)"},
};
const size_t ctl_dbx_nversions = NELEM(ctl_dbx_versions);

const struct ctl_dbx_node_type ctl_dbx_node_types[] = {
        {"Standard_DS3_v2", 4, 14336},  {"Standard_DS4_v2", 8, 28672},
        {"Standard_D4ds_v5", 4, 16384}, {"Standard_D8ds_v5", 8, 32768},
        {"Standard_E8ds_v4", 8, 65536},
};
const size_t ctl_dbx_node_ntypes = NELEM(ctl_dbx_node_types);

/* Task types Databricks has and this control plane does not run. */
static const char *const unsupported[] = {
        "notebook_task",
        "spark_submit_task",
        "spark_jar_task",
        "python_wheel_task",
        "sql_task",
        "dbt_task",
        "pipeline_task",
        "run_job_task",
        "condition_task",
        "for_each_task",
        "clean_rooms_notebook_task",
};

#define ARG_MAX_LEN 4096 /* bytes of one argument */

/* 1 to 5 digits, and nothing else. */
static bool
port_ok(const char *p)
{
    size_t n = strspn(p, "0123456789");

    return n >= 1 && n <= 5 && p[n] == '\0';
}

int
ctl_dbx_host_parse(const char *domain, const char *host, char *id, size_t cap)
{
    const char *p = host, *colon;
    size_t n = 0, dlen = strlen(domain), rest;

    if (cap == 0)
        return SCC_EINVAL;
    id[0] = '\0';
    if (host == NULL || strncasecmp(p, "adb-", 4) != 0)
        return SCC_EINVAL;
    for (p += 4; isdigit((unsigned char)*p); p++)
        if (++n >= cap)
            return SCC_EINVAL;
    if (n == 0 || *p++ != '.' || !isdigit((unsigned char)*p))
        return SCC_EINVAL;
    while (isdigit((unsigned char)*p))
        p++;
    if (*p++ != '.')
        return SCC_EINVAL;
    colon = strchr(p, ':');
    rest = colon ? (size_t)(colon - p) : strlen(p);
    if (rest != dlen || strncasecmp(p, domain, dlen) != 0 || (colon && !port_ok(colon + 1)))
        return SCC_EINVAL;
    memcpy(id, host + 4, n);
    id[n] = '\0';
    return 0;
}

static int
hexval(char c)
{
    int ch = (unsigned char)c;

    return isdigit(ch) ? ch - '0' : isxdigit(ch) ? (tolower(ch) - 'a' + 10) : -1;
}

bool
ctl_dbx_query_get(const char *query, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);

    for (const char *p = query; p && *p && cap;) {
        const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);

        if ((size_t)(end - p) > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            size_t n = 0;
            int hi, lo;

            for (p += klen + 1; p < end && n + 1 < cap; p++) {
                /* %00 stays as it is: a NUL would cut the value short. */
                if (*p == '%' && end - p > 2 && (hi = hexval(p[1])) >= 0 &&
                    (lo = hexval(p[2])) >= 0 && (hi | lo) != 0) {
                    out[n++] = (char)(hi << 4 | lo);
                    p += 2;
                } else
                    out[n++] = *p == '+' ? ' ' : *p;
            }
            out[n] = '\0';
            return true;
        }
        p = amp ? amp + 1 : NULL;
    }
    return false;
}

int
ctl_dbx_node_type(const char *id)
{
    for (size_t i = 0; id && i < NELEM(ctl_dbx_node_types); i++)
        if (strcmp(ctl_dbx_node_types[i].id, id) == 0)
            return (int)i;
    return -1;
}

static bool
known_version(const char *v)
{
    for (size_t i = 0; v && i < NELEM(ctl_dbx_versions); i++)
        if (strcmp(ctl_dbx_versions[i].key, v) == 0)
            return true;
    return false;
}

static const char *
str_of(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Set, and not to null (clients send nulls for what they leave out). */
static bool
present(const json_t *b, const char *key)
{
    const json_t *v = json_object_get(b, key);

    return v != NULL && !json_is_null(v);
}

static bool
bad_type(const json_t *b, const char *key, char *err, size_t cap)
{
    const json_t *v = json_object_get(b, key);

    if (v == NULL || json_is_null(v) ||
        (json_is_string(v) && ctl_dbx_node_type(json_string_value(v)) >= 0))
        return false;
    snprintf(err, cap,
             "Node type %.100s is not supported; GET /api/2.1/clusters/list-node-types lists them",
             json_is_string(v) ? json_string_value(v) : "(not a string)");
    return true;
}

/* A pool id that cannot be one (whether it exists is the caller's to see). */
static bool
bad_pool(const json_t *b, const char *key)
{
    const json_t *v = json_object_get(b, key);
    const char *p = json_string_value(v);
    size_t n = p ? strlen(p) : 0;

    if (v == NULL || json_is_null(v))
        return false;
    if (p == NULL || n == 0 || n > 100 || n != json_string_length(v))
        return true;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)p[i]) && p[i] != '-')
            return true;
    return false;
}

static bool
bad_size(const json_t *b, char *err, size_t cap)
{
    const json_t *nw = json_object_get(b, "num_workers"), *as = json_object_get(b, "autoscale");
    const json_t *jlo = json_object_get(as, "min_workers"),
                 *jhi = json_object_get(as, "max_workers");
    json_int_t lo = json_integer_value(jlo), hi = json_integer_value(jhi);

    if (nw && (!json_is_integer(nw) || json_integer_value(nw) < 0 ||
               json_integer_value(nw) > CTL_DBX_WORKERS_MAX))
        snprintf(err, cap, "num_workers must be an integer from 0 to %d", CTL_DBX_WORKERS_MAX);
    else if (as &&
             (!json_is_object(as) || (jlo && !json_is_integer(jlo)) || !json_is_integer(jhi) ||
              lo < 0 || hi < 1 || lo > hi || hi > CTL_DBX_WORKERS_MAX))
        snprintf(err, cap,
                 "autoscale needs 0 <= min_workers <= max_workers <= %d, max_workers >= 1",
                 CTL_DBX_WORKERS_MAX);
    else if (nw && as)
        snprintf(err, cap, "Give num_workers or autoscale, not both");
    else
        return false;
    return true;
}

/* The spec fields a cluster keeps and shows (the rest is ignored). */
const char *const ctl_dbx_spec_keys[] = {
        "cluster_name",
        "spark_version",
        "node_type_id",
        "driver_node_type_id",
        "num_workers",
        "autoscale",
        "autotermination_minutes",
        "spark_conf",
        "spark_env_vars",
        "custom_tags",
        "ssh_public_keys",
        "init_scripts",
        "azure_attributes",
        "enable_elastic_disk",
        "data_security_mode",
        "runtime_engine",
        "single_user_name",
        "policy_id",
        "is_single_node",
        "kind",
        "enable_local_disk_encryption",
        "cluster_log_conf",
        "docker_image",
        "instance_pool_id",
        "driver_instance_pool_id",
};
const size_t ctl_dbx_nspec_keys = NELEM(ctl_dbx_spec_keys);

int
ctl_dbx_spec_check(const json_t *b, char *err, size_t cap)
{
    const json_t *at = json_object_get(b, "autotermination_minutes");
    const json_t *name = json_object_get(b, "cluster_name");
    const char *sv = str_of(b, "spark_version");
    const char *pk = bad_pool(b, "instance_pool_id")          ? "instance_pool_id"
                     : bad_pool(b, "driver_instance_pool_id") ? "driver_instance_pool_id"
                                                              : NULL;

    if (sv == NULL)
        snprintf(err, cap, "Missing required field: spark_version");
    else if (!known_version(sv))
        snprintf(err, cap,
                 "Invalid spark version %.100s; GET /api/2.1/clusters/spark-versions lists them",
                 sv);
    else if (bad_type(b, "node_type_id", err, cap) || bad_type(b, "driver_node_type_id", err, cap))
        return SCC_EINVAL;
    else if (pk)
        snprintf(err, cap, "Instance pool %.100s does not exist",
                 str_of(b, pk) ? str_of(b, pk) : "(not a string)");
    else if (present(b, "driver_instance_pool_id") && !present(b, "instance_pool_id"))
        snprintf(err, cap, "driver_instance_pool_id needs instance_pool_id");
    else if (bad_size(b, err, cap))
        return SCC_EINVAL;
    else if (at && (!json_is_integer(at) ||
                    (json_integer_value(at) != 0 &&
                     (json_integer_value(at) < 10 || json_integer_value(at) > 43200))))
        snprintf(err, cap, "autotermination_minutes must be 0 (never) or from 10 to 43200");
    else if (name && (!json_is_string(name) || json_string_length(name) > 100))
        snprintf(err, cap, "cluster_name must be a string of at most 100 characters");
    else
        return 0;
    return SCC_EINVAL;
}

bool
ctl_dbx_task_key_ok(const char *k)
{
    size_t n = k ? strlen(k) : 0;

    if (n == 0 || n > 100)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)k[i]) || k[i] == '_' || k[i] == '-' || k[i] == '.'))
            return false;
    return true;
}

/* Every member a string of at most ARG_MAX_LEN bytes. */
static bool
all_strings(const json_t *a)
{
    size_t i;
    json_t *v;

    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v) || json_string_length(v) > ARG_MAX_LEN ||
            strlen(json_string_value(v)) != json_string_length(v))
            return false;
    }
    return true;
}

/* The path of python_file: absolute, or a file: URI of one (file:/x,
 * file:///x; no host); NULL otherwise. */
static const char *
python_path(const json_t *py)
{
    const json_t *f = json_object_get(py, "python_file");
    const char *file = json_string_value(f);

    if (file == NULL || strlen(file) != json_string_length(f) || strlen(file) > ARG_MAX_LEN)
        return NULL;
    if (strncmp(file, "file://", 7) == 0)
        file += 7;
    else if (strncmp(file, "file:", 5) == 0)
        file += 5;
    return file[0] == '/' && file[1] != '/' ? file : NULL;
}

/* ["python3", FILE, PARAMETERS...]; NULL with why in err. */
static json_t *
python_argv(const json_t *py, const char *key, char *err, size_t cap)
{
    const char *file = python_path(py);
    const json_t *params = json_object_get(py, "parameters");
    json_t *argv;

    if (file == NULL ||
        (params && !json_is_null(params) && (!json_is_array(params) || !all_strings(params)))) {
        snprintf(err, cap,
                 "Task %.100s: spark_python_task.python_file must be an absolute path on the node "
                 "(or a file: URI); parameters must be a list of strings",
                 key);
        return NULL;
    }
    if ((argv = json_pack("[s, s]", "python3", file)) == NULL ||
        (json_is_array(params) && json_array_extend(argv, (json_t *)params) < 0)) {
        json_decref(argv);
        snprintf(err, cap, "Task %.100s: out of memory", key);
        return NULL;
    }
    return argv;
}

json_t *
ctl_dbx_task_argv(const json_t *t, char *err, size_t cap)
{
    const json_t *py = json_object_get(t, "spark_python_task");
    const json_t *cmd = json_object_get(t, "scc_command_task");
    const json_t *a = json_object_get(cmd, "argv");
    const char *key = str_of(t, "task_key") ? str_of(t, "task_key") : "";
    json_t *argv = NULL;

    for (size_t i = 0; i < NELEM(unsupported); i++)
        if (json_object_get(t, unsupported[i])) {
            snprintf(err, cap,
                     "Task %.100s: %s is not supported by this control plane; use "
                     "spark_python_task or scc_command_task",
                     key, unsupported[i]);
            return NULL;
        }
    if ((py != NULL) + (cmd != NULL) != 1) {
        snprintf(err, cap,
                 "Task %.100s needs exactly one task type: spark_python_task or scc_command_task",
                 key);
        return NULL;
    }
    if (py)
        return python_argv(py, key, err, cap);
    if (!json_is_array(a) || json_array_size(a) == 0 || !all_strings(a) ||
        json_string_length(json_array_get(a, 0)) == 0) {
        snprintf(err, cap,
                 "Task %.100s: scc_command_task.argv must be a non-empty list of strings, the "
                 "first one not empty",
                 key);
        return NULL;
    }
    if ((argv = json_deep_copy(a)) == NULL)
        snprintf(err, cap, "Task %.100s: out of memory", key);
    return argv;
}

/* The length of the valid UTF-8 sequence at p (n bytes left), or 0. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
    size_t len = p[0] < 0x80         ? 1
                 : (p[0] >> 5) == 6  ? 2
                 : (p[0] >> 4) == 14 ? 3
                 : (p[0] >> 3) == 30 ? 4
                                     : 0;
    uint32_t cp;

    if (len == 0 || len > n || p[0] == 0)
        return 0;
    for (size_t k = 1; k < len; k++)
        if ((p[k] >> 6) != 2)
            return 0;
    /* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
    cp = len == 1   ? p[0]
         : len == 2 ? (uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f)
         : len == 3 ? (uint32_t)(p[0] & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f)
                    : (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 |
                              (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return len;
}

json_t *
ctl_dbx_text(const char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;
    struct scc_buf b;
    json_t *s;

    scc_buf_init(&b, 3 * n + 1);
    for (size_t i = 0, len; i < n; i += len ? len : 1) {
        len = utf8_len(u + i, n - i);
        if (scc_buf_put(&b, len ? p + i : "\xef\xbf\xbd", len ? len : 3) < 0) {
            scc_buf_fini(&b);
            return NULL; /* never a shortened text */
        }
    }
    s = json_stringn(b.len ? (const char *)b.data : "", b.len);
    scc_buf_fini(&b);
    return s;
}

static bool
spec_key(const char *k, size_t n)
{
    for (size_t i = 0; i < NELEM(ctl_dbx_spec_keys); i++)
        if (strlen(ctl_dbx_spec_keys[i]) == n && strncmp(ctl_dbx_spec_keys[i], k, n) == 0)
            return true;
    return false;
}

/* One field of the mask, [p, p + n) without its spaces, over spec. */
static int
mask_one(json_t *spec, const char *p, size_t n, const json_t *part, char *err, size_t cap)
{
    char key[64];
    json_t *v;

    while (n > 0 && *p == ' ')
        p++, n--;
    while (n > 0 && p[n - 1] == ' ')
        n--;
    if (!spec_key(p, n)) {
        snprintf(err, cap, "update_mask names %.*s, which is not a field of a cluster spec",
                 (int)(n > 64 ? 64 : n), p);
        return SCC_EINVAL;
    }
    snprintf(key, sizeof(key), "%.*s", (int)n, p);
    v = json_object_get(part, key);
    if (v == NULL || json_is_null(v)) {
        json_object_del(spec, key);
        return 0;
    }
    if (json_object_set(spec, key, v) < 0)
        return SCC_ENOMEM;
    if (strcmp(key, "num_workers") == 0) /* the one replaces the other */
        json_object_del(spec, "autoscale");
    else if (strcmp(key, "autoscale") == 0)
        json_object_del(spec, "num_workers");
    return 0;
}

int
ctl_dbx_mask_apply(json_t *spec, const char *mask, const json_t *part, char *err, size_t cap)
{
    size_t n;
    int rc;

    if (mask == NULL || *mask == '\0' || (part && !json_is_object(part))) {
        snprintf(err, cap,
                 "update takes update_mask (the fields to change, comma-separated) and cluster "
                 "(an object with their new values)");
        return SCC_EINVAL;
    }
    for (const char *p = mask;; p += n + 1) {
        n = strcspn(p, ",");
        if ((rc = mask_one(spec, p, n, part, err, cap)) < 0) {
            if (rc == SCC_ENOMEM)
                snprintf(err, cap, "out of memory");
            return rc;
        }
        if (p[n] == '\0')
            return 0;
    }
}
