/* What the workspace API accepts from clients (src/control/ctl_dbx_check.c):
 * workspace hosts, query strings, the catalogue, cluster specs, task keys,
 * task argv and the UTF-8 cleaning of task output. */
#include "test.h"

#include "test_json.h"

#include "common/err.h"
#include "common/mem.h"
#include "control/ctl_dbx.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define NELEM(a)   (sizeof(a) / sizeof((a)[0]))
#define DOMAIN     "example.com"
#define FFFD       "\xef\xbf\xbd"
#define DBX_ARGMAX 4096 /* ARG_MAX_LEN in ctl_dbx_check.c */

/* ---- hosts ---- */

static void
test_host_parse_takes_the_id_with_or_without_port(void **state)
{
    static const char *const good[] = {
            "adb-1234567890123456.7.example.com",
            "adb-1234567890123456.7.example.com:443",
            "ADB-1234567890123456.7.EXAMPLE.COM",
            "adb-1234567890123456.70.Example.Com:8443",
    };
    char id[32];

    (void)state;
    for (size_t i = 0; i < NELEM(good); i++) {
        memset(id, 'x', sizeof(id));
        if (ctl_dbx_host_parse(DOMAIN, good[i], id, sizeof(id)) != 0)
            fail_msg("refused '%s'", good[i]);
        assert_string_equal(id, "1234567890123456");
    }
}

static void
test_host_parse_rejects_other_shapes(void **state)
{
    static const char *const bad[] = {
            "",
            "adb-",
            "adb-.7.example.com",
            "adb-12",
            "adb-12.",
            "adb-12.7",
            "adb-12.7.",
            "adb-12.example.com",  /* no shard */
            "adb-12..example.com", /* empty shard */
            "adb-12a.7.example.com",
            "adb-12.7x.example.com",
            "adb-+12.7.example.com",
            "adb- 12.7.example.com",
            "adb12.7.example.com",
            "xadb-12.7.example.com",
            "adb-12.7.example.org",
            "adb-12.7.example.com.evil.net",
            "adb-12.7.sub.example.com",
            "adb-12.7.example.co",
            "adb-12.7.example.co:443",
            "adb-12.7.example.comm",
            "adb-12.7.xexample.com",
            "adb-12.7example.com",
            "example.com",
            "adb-12.7.example.com:", /* a port must be 1-5 digits */
            "adb-12.7.example.com:evil",
            "adb-12.7.example.com:443x",
            "adb-12.7.example.com:123456",
    };
    char id[32];

    (void)state;
    for (size_t i = 0; i < NELEM(bad); i++)
        if (ctl_dbx_host_parse(DOMAIN, bad[i], id, sizeof(id)) != SCC_EINVAL)
            fail_msg("accepted '%s'", bad[i]);
    assert_int_equal(ctl_dbx_host_parse(DOMAIN, NULL, id, sizeof(id)), SCC_EINVAL);
}

static void
test_host_parse_refuses_an_id_longer_than_cap(void **state)
{
    char id[8];

    (void)state;
    /* cap 4 holds three digits and the NUL. */
    assert_int_equal(ctl_dbx_host_parse(DOMAIN, "adb-123.1.example.com", id, 4), 0);
    assert_string_equal(id, "123");
    assert_int_equal(ctl_dbx_host_parse(DOMAIN, "adb-1234.1.example.com", id, 4), SCC_EINVAL);
    assert_int_equal(ctl_dbx_host_parse(DOMAIN, "adb-1.1.example.com", id, 1), SCC_EINVAL);
    assert_int_equal(ctl_dbx_host_parse(DOMAIN, "adb-1.1.example.com", id, 0), SCC_EINVAL);
}

/* ---- query strings ---- */

static void
test_query_get_decodes_values(void **state)
{
    static const struct {
        const char *query, *key, *want;
    } cases[] = {
            {"a=1&b=2", "a", "1"},
            {"a=1&b=2", "b", "2"},
            {"name=%41%2f%2F%7e", "name", "A//~"},
            {"q=a+b%2Bc", "q", "a b+c"},
            {"a=", "a", ""},
            {"a=&b=2", "a", ""},
            {"a=1&a=2", "a", "1"},
            {"&&a=1&", "a", "1"},
            {"a=x=y", "a", "x=y"},
            {"page_token=t&page=3", "page", "3"},
            {"page=3&page_token=t", "page_token", "t"},
            {"a=1%", "a", "1%"},
            {"a=1%4", "a", "1%4"},
            {"a=%4&b=1", "a", "%4"},
            {"a=%zz%g1", "a", "%zz%g1"},
            {"a=%%41", "a", "%A"},
            {"a=x%00y", "a", "x%00y"}, /* a NUL would cut the value short */
    };
    char out[64];

    (void)state;
    for (size_t i = 0; i < NELEM(cases); i++) {
        memset(out, 'x', sizeof(out));
        if (!ctl_dbx_query_get(cases[i].query, cases[i].key, out, sizeof(out)))
            fail_msg("%s: no %s", cases[i].query, cases[i].key);
        if (strcmp(out, cases[i].want) != 0)
            fail_msg("%s: %s is '%s', want '%s'", cases[i].query, cases[i].key, out, cases[i].want);
    }
}

static void
test_query_get_reports_missing_keys(void **state)
{
    static const struct {
        const char *query, *key;
    } cases[] = {
            {"", "a"},    {"b=1", "a"},     {"ab=1", "a"}, {"pag=1", "page"},
            {"a", "a"},   {"a&b=1", "a"},   {"xa=1", "a"}, {"page_token=t", "page"},
            {"A=1", "a"}, {"b=a%3D1", "a"}, {"b=1&", "a"}, {"&", "a"},
    };
    char out[16];

    (void)state;
    for (size_t i = 0; i < NELEM(cases); i++)
        if (ctl_dbx_query_get(cases[i].query, cases[i].key, out, sizeof(out)))
            fail_msg("%s: found %s", cases[i].query, cases[i].key);
    assert_false(ctl_dbx_query_get(NULL, "a", out, sizeof(out)));
}

static void
test_query_get_cuts_values_to_cap(void **state)
{
    char out[8];

    (void)state;
    memset(out, 'x', sizeof(out));
    assert_true(ctl_dbx_query_get("a=abcdef", "a", out, 4));
    assert_string_equal(out, "abc");
    assert_int_equal(out[4], 'x');
    assert_true(ctl_dbx_query_get("a=ab%41cd", "a", out, 4));
    assert_string_equal(out, "abA");
    assert_true(ctl_dbx_query_get("a=abc", "a", out, 4));
    assert_string_equal(out, "abc");
    assert_true(ctl_dbx_query_get("a=abc", "a", out, 1));
    assert_string_equal(out, "");
}

/* ---- the catalogue ---- */

static void
test_node_type_finds_each_catalogue_entry(void **state)
{
    (void)state;
    assert_true(ctl_dbx_node_ntypes > 0);
    for (size_t i = 0; i < ctl_dbx_node_ntypes; i++) {
        assert_int_equal(ctl_dbx_node_type(ctl_dbx_node_types[i].id), (int)i);
        assert_true(ctl_dbx_node_types[i].cores > 0);
        assert_true(ctl_dbx_node_types[i].memory_mb > 0);
    }
    assert_int_equal(ctl_dbx_node_type("Standard_DS3_v2"), 0);
    assert_int_equal(ctl_dbx_node_type("standard_ds3_v2"), -1);
    assert_int_equal(ctl_dbx_node_type("Standard_DS3_v2 "), -1);
    assert_int_equal(ctl_dbx_node_type(""), -1);
    assert_int_equal(ctl_dbx_node_type("m5.large"), -1);
    assert_int_equal(ctl_dbx_node_type(NULL), -1);
}

/* ---- cluster specs ---- */

static int
spec(const char *text, char *err, size_t cap)
{
    json_t *s = J(text);
    int rc;

    err[0] = '\0';
    rc = ctl_dbx_spec_check(s, err, cap);
    json_decref(s);
    return rc;
}

static int
spec_check_of(const json_t *s)
{
    char err[256];

    return ctl_dbx_spec_check(s, err, sizeof(err));
}

static void
test_spec_accepts_minimal_and_full_specs(void **state)
{
    static const char *const good[] = {
            "{`spark_version`: `13.3.x-scala2.12`}",
            "{`spark_version`: `16.4.x-scala2.13`, `num_workers`: 0}",
            "{`spark_version`: `14.3.x-scala2.12`, `num_workers`: 99}",
            "{`spark_version`: `14.3.x-scala2.12`, `autoscale`: {`min_workers`: 0, "
            "`max_workers`: 1}}",
            "{`spark_version`: `14.3.x-scala2.12`, `autoscale`: {`max_workers`: 99}}",
            "{`spark_version`: `14.3.x-scala2.12`, `autoscale`: {`min_workers`: 99, "
            "`max_workers`: 99}}",
            "{`spark_version`: `15.4.x-scala2.12`, `autotermination_minutes`: 0}",
            "{`spark_version`: `15.4.x-scala2.12`, `autotermination_minutes`: 10}",
            "{`spark_version`: `15.4.x-scala2.12`, `autotermination_minutes`: 43200}",
            "{`spark_version`: `15.4.x-scala2.12`, `cluster_name`: ``}",
            /* clients send nulls for what they leave out */
            "{`spark_version`: `15.4.x-scala2.12`, `node_type_id`: null, "
            "`driver_node_type_id`: null, `instance_pool_id`: null}",
            "{`spark_version`: `15.4.x-scala2.12`, `instance_pool_id`: "
            "`1207-231500-ab12cd34-pool`, "
            "`driver_instance_pool_id`: `p-2`}",
            "{`spark_version`: `16.4.x-scala2.12`, `cluster_name`: `c1`, `num_workers`: 2, "
            "`node_type_id`: `Standard_DS3_v2`, `driver_node_type_id`: `Standard_E8ds_v4`, "
            "`autotermination_minutes`: 120, `spark_conf`: {`a`: `b`}, `custom_tags`: {}}",
    };
    char err[256];

    (void)state;
    for (size_t i = 0; i < NELEM(good); i++)
        if (spec(good[i], err, sizeof(err)) != 0)
            fail_msg("refused %s: %s", good[i], err);
}

static void
test_spec_accepts_every_catalogue_entry(void **state)
{
    char err[256];

    (void)state;
    for (size_t i = 0; i < ctl_dbx_nversions; i++) {
        json_t *s = json_pack("{s:s}", "spark_version", ctl_dbx_versions[i].key);

        assert_int_equal(ctl_dbx_spec_check(s, err, sizeof(err)), 0);
        json_decref(s);
    }
    for (size_t i = 0; i < ctl_dbx_node_ntypes; i++) {
        json_t *s = json_pack("{s:s, s:s, s:s}", "spark_version", ctl_dbx_versions[0].key,
                              "node_type_id", ctl_dbx_node_types[i].id, "driver_node_type_id",
                              ctl_dbx_node_types[i].id);

        assert_int_equal(ctl_dbx_spec_check(s, err, sizeof(err)), 0);
        json_decref(s);
    }
}

/* Each refusal, with what its message must say: the field, or the value. */
static void
test_spec_refusals_name_the_field(void **state)
{
#define SV "`spark_version`: `13.3.x-scala2.12`, "
    static const struct {
        const char *spec, *says;
    } bad[] = {
            {"{}", "spark_version"},
            {"{`spark_version`: 13}", "spark_version"},
            {"{`spark_version`: null}", "spark_version"},
            {"{`spark_version`: `12.2.x-scala2.12`}", "12.2.x-scala2.12"},
            {"{`spark_version`: ``}", "spark version"},
            {"{`spark_version`: `13.3.X-SCALA2.12`}", "spark version"},
            {"{" SV "`node_type_id`: `m5.large`}", "Node type m5.large"},
            {"{" SV "`node_type_id`: 5}", "Node type (not a string)"},
            {"{" SV "`driver_node_type_id`: `Standard_DS3`}", "Node type Standard_DS3"},
            /* whether a pool exists is ctl_dbx_pool.c's to see; here, its form */
            {"{" SV "`instance_pool_id`: `p 1`}", "Instance pool p 1"},
            {"{" SV "`instance_pool_id`: ``}", "Instance pool "},
            {"{" SV "`instance_pool_id`: `p/../x`}", "Instance pool p/../x"},
            {"{" SV "`instance_pool_id`: 7}", "Instance pool (not a string)"},
            {"{" SV "`driver_instance_pool_id`: `p-2`}", "needs instance_pool_id"},
            {"{" SV "`instance_pool_id`: `p-1`, `driver_instance_pool_id`: `p_2`}",
             "Instance pool p_2"},
            {"{" SV "`num_workers`: -1}", "num_workers"},
            {"{" SV "`num_workers`: 100}", "num_workers"},
            {"{" SV "`num_workers`: `2`}", "num_workers"},
            {"{" SV "`num_workers`: 2.0}", "num_workers"},
            {"{" SV "`num_workers`: null}", "num_workers"},
            {"{" SV "`autoscale`: 5}", "autoscale"},
            {"{" SV "`autoscale`: {}}", "autoscale"},
            {"{" SV "`autoscale`: {`min_workers`: 2, `max_workers`: 1}}", "autoscale"},
            {"{" SV "`autoscale`: {`min_workers`: 0, `max_workers`: 0}}", "autoscale"},
            {"{" SV "`autoscale`: {`min_workers`: -1, `max_workers`: 2}}", "autoscale"},
            {"{" SV "`autoscale`: {`min_workers`: 1, `max_workers`: 100}}", "autoscale"},
            {"{" SV "`autoscale`: {`min_workers`: 1, `max_workers`: `2`}}", "autoscale"},
            {"{" SV "`num_workers`: 2, `autoscale`: {`min_workers`: 1, `max_workers`: 2}}",
             "num_workers or autoscale"},
            {"{" SV "`autotermination_minutes`: 9}", "autotermination_minutes"},
            {"{" SV "`autotermination_minutes`: -1}", "autotermination_minutes"},
            {"{" SV "`autotermination_minutes`: 43201}", "autotermination_minutes"},
            {"{" SV "`autotermination_minutes`: `60`}", "autotermination_minutes"},
            {"{" SV "`autotermination_minutes`: 60.0}", "autotermination_minutes"},
            {"{" SV "`cluster_name`: 5}", "cluster_name"},
            {"{" SV "`cluster_name`: null}", "cluster_name"},
    };
#undef SV
    char err[256];

    (void)state;
    for (size_t i = 0; i < NELEM(bad); i++) {
        if (spec(bad[i].spec, err, sizeof(err)) != SCC_EINVAL)
            fail_msg("accepted %s", bad[i].spec);
        if (strstr(err, bad[i].says) == NULL)
            fail_msg("%s: message '%s' does not say '%s'", bad[i].spec, err, bad[i].says);
    }
}

static void
test_spec_cluster_name_is_at_most_100_bytes(void **state)
{
    char name[102], err[256];
    json_t *s;

    (void)state;
    memset(name, 'n', 100);
    name[100] = '\0';
    s = json_pack("{s:s, s:s}", "spark_version", "13.3.x-scala2.12", "cluster_name", name);
    assert_int_equal(ctl_dbx_spec_check(s, err, sizeof(err)), 0);
    json_decref(s);
    name[100] = 'n';
    name[101] = '\0';
    s = json_pack("{s:s, s:s}", "spark_version", "13.3.x-scala2.12", "cluster_name", name);
    assert_int_equal(ctl_dbx_spec_check(s, err, sizeof(err)), SCC_EINVAL);
    assert_non_null(strstr(err, "cluster_name"));
    json_decref(s);
}

static void
test_spec_refuses_what_is_not_an_object_and_bounds_err(void **state)
{
    char big[400], err[256], small[8];
    json_t *s;

    (void)state;
    assert_int_equal(ctl_dbx_spec_check(NULL, err, sizeof(err)), SCC_EINVAL);
    assert_non_null(strstr(err, "spark_version"));
    assert_int_equal(spec("[]", err, sizeof(err)), SCC_EINVAL);
    assert_int_equal(spec("`13.3.x-scala2.12`", err, sizeof(err)), SCC_EINVAL);
    /* The client's value is quoted, cut to 100 bytes. */
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    s = json_pack("{s:s}", "spark_version", big);
    assert_int_equal(ctl_dbx_spec_check(s, err, sizeof(err)), SCC_EINVAL);
    assert_true(strlen(err) < 200);
    /* A short err is cut, still terminated; none at all is allowed. */
    memset(small, 'x', sizeof(small));
    assert_int_equal(ctl_dbx_spec_check(s, small, sizeof(small)), SCC_EINVAL);
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_int_equal(ctl_dbx_spec_check(s, NULL, 0), SCC_EINVAL);
    json_decref(s);
}

/* ---- tasks ---- */

static void
test_task_key_shapes(void **state)
{
    static const char *const good[] = {"a", "A", "0", "task_1", "etl-step.2", "_", "-", "."};
    static const char *const bad[] = {"",     "a b",  "a/b",   "a:b", "caf\xc3\xa9",
                                      "a\tb", "a\nb", "a%20b", "$x",  "a,b"};
    char key[102];

    (void)state;
    for (size_t i = 0; i < NELEM(good); i++)
        if (!ctl_dbx_task_key_ok(good[i]))
            fail_msg("refused '%s'", good[i]);
    for (size_t i = 0; i < NELEM(bad); i++)
        if (ctl_dbx_task_key_ok(bad[i]))
            fail_msg("accepted '%s'", bad[i]);
    assert_false(ctl_dbx_task_key_ok(NULL));
    memset(key, 'k', 100);
    key[100] = '\0';
    assert_true(ctl_dbx_task_key_ok(key));
    key[100] = 'k';
    key[101] = '\0';
    assert_false(ctl_dbx_task_key_ok(key));
}

/* The task's argv as compact JSON, or NULL with err set. */
static char *
argv_of(const char *task, char *err, size_t cap)
{
    json_t *t = J(task), *argv;
    char *s = NULL;

    err[0] = '\0';
    argv = ctl_dbx_task_argv(t, err, cap);
    if (argv != NULL) {
        assert_true(json_is_array(argv));
        s = json_dumps(argv, JSON_COMPACT);
        assert_non_null(s);
        json_decref(argv);
    } else {
        assert_true(err[0] != '\0');
    }
    json_decref(t);
    return s;
}

static void
expect_argv(const char *task, const char *want)
{
    char err[512], *got = argv_of(task, err, sizeof(err));

    if (got == NULL)
        fail_msg("%s: refused: %s", task, err);
    if (strcmp(got, want) != 0)
        fail_msg("%s: argv %s, want %s", task, got, want);
    free(got);
}

static void
expect_refused(const char *task, const char *says)
{
    char err[512], *got = argv_of(task, err, sizeof(err));

    if (got != NULL)
        fail_msg("%s: accepted as %s", task, got);
    if (strstr(err, says) == NULL)
        fail_msg("%s: message '%s' does not say '%s'", task, err, says);
}

static void
test_task_argv_of_each_type(void **state)
{
    (void)state;
    expect_argv("{`task_key`: `t`, `scc_command_task`: {`argv`: [`echo`, `hi there`]}}",
                "[\"echo\",\"hi there\"]");
    expect_argv("{`scc_command_task`: {`argv`: [`true`]}}", "[\"true\"]");
    expect_argv("{`spark_python_task`: {`python_file`: `/w/main.py`, "
                "`parameters`: [`--in`, `a b`, ``]}}",
                "[\"python3\",\"/w/main.py\",\"--in\",\"a b\",\"\"]");
    expect_argv("{`spark_python_task`: {`python_file`: `/w/main.py`}}",
                "[\"python3\",\"/w/main.py\"]");
    expect_argv("{`spark_python_task`: {`python_file`: `/w/main.py`, `parameters`: []}}",
                "[\"python3\",\"/w/main.py\"]");
    expect_argv("{`spark_python_task`: {`python_file`: `file:/w/main.py`}}",
                "[\"python3\",\"/w/main.py\"]");
}

static void
test_task_argv_is_a_new_array(void **state)
{
    json_t *t = J("{`scc_command_task`: {`argv`: [`a`, `b`]}}");
    json_t *in = json_object_get(json_object_get(t, "scc_command_task"), "argv");
    char err[256];
    json_t *argv = ctl_dbx_task_argv(t, err, sizeof(err));

    (void)state;
    assert_non_null(argv);
    assert_ptr_not_equal(argv, in);
    assert_int_equal(json_array_append_new(argv, json_string("c")), 0);
    assert_int_equal(json_array_size(in), 2);
    json_decref(argv);
    json_decref(t);
}

static void
test_task_argv_refuses_bad_python_tasks(void **state)
{
    char big[DBX_ARGMAX + 16], task[DBX_ARGMAX + 128], err[512], *got;

    (void)state;
    expect_refused("{`spark_python_task`: {`python_file`: `main.py`}}", "python_file");
    expect_refused("{`spark_python_task`: {`python_file`: `./main.py`}}", "python_file");
    expect_refused("{`spark_python_task`: {`python_file`: `file:main.py`}}", "python_file");
    expect_refused("{`spark_python_task`: {`python_file`: `file:`}}", "python_file");
    expect_refused("{`spark_python_task`: {`python_file`: `dbfs:/x.py`}}", "python_file");
    expect_refused("{`spark_python_task`: {`python_file`: `file://host/x.py`}}", "python_file");
    expect_refused("{`spark_python_task`: {`python_file`: `//x.py`}}", "python_file");
    expect_refused("{`spark_python_task`: {`python_file`: ``}}", "python_file");
    expect_refused("{`spark_python_task`: {`python_file`: 5}}", "python_file");
    expect_refused("{`spark_python_task`: {}}", "python_file");
    expect_refused("{`spark_python_task`: `/w/main.py`}", "python_file");
    expect_refused("{`spark_python_task`: {`python_file`: `/w/m.py`, `parameters`: [1]}}",
                   "parameters");
    expect_refused("{`spark_python_task`: {`python_file`: `/w/m.py`, `parameters`: [`a`, null]}}",
                   "parameters");
    expect_refused("{`spark_python_task`: {`python_file`: `/w/m.py`, `parameters`: `--x`}}",
                   "parameters");
    /* One argument may hold DBX_ARGMAX bytes, not more. */
    memset(big, 'p', DBX_ARGMAX);
    big[DBX_ARGMAX] = '\0';
    snprintf(task, sizeof(task),
             "{`spark_python_task`: {`python_file`: `/m.py`, `parameters`: [`%s`]}}", big);
    assert_non_null(got = argv_of(task, err, sizeof(err)));
    free(got);
    big[DBX_ARGMAX] = 'p';
    big[DBX_ARGMAX + 1] = '\0';
    snprintf(task, sizeof(task),
             "{`spark_python_task`: {`python_file`: `/m.py`, `parameters`: [`%s`]}}", big);
    expect_refused(task, "parameters");
    big[0] = '/';
    snprintf(task, sizeof(task), "{`spark_python_task`: {`python_file`: `%s`}}", big);
    expect_refused(task, "python_file");
}

static void
test_task_argv_refuses_bad_command_tasks(void **state)
{
    (void)state;
    expect_refused("{`scc_command_task`: {`argv`: []}}", "scc_command_task.argv");
    expect_refused("{`scc_command_task`: {`argv`: [``, `x`]}}", "scc_command_task.argv");
    expect_refused("{`scc_command_task`: {}}", "scc_command_task.argv");
    expect_refused("{`scc_command_task`: {`argv`: `ls -l`}}", "scc_command_task.argv");
    expect_refused("{`scc_command_task`: {`argv`: [`ls`, 1]}}", "scc_command_task.argv");
    expect_refused("{`scc_command_task`: {`argv`: [[`ls`]]}}", "scc_command_task.argv");
    expect_refused("{`scc_command_task`: [`ls`]}", "scc_command_task.argv");
    expect_refused("{`task_key`: `k1`, `scc_command_task`: null}", "Task k1");
}

static void
test_task_argv_needs_exactly_one_supported_type(void **state)
{
    static const char *const others[] = {"notebook_task",
                                         "spark_submit_task",
                                         "spark_jar_task",
                                         "python_wheel_task",
                                         "sql_task",
                                         "dbt_task",
                                         "pipeline_task",
                                         "run_job_task",
                                         "condition_task",
                                         "for_each_task",
                                         "clean_rooms_notebook_task"};
    char task[256];

    (void)state;
    for (size_t i = 0; i < NELEM(others); i++) {
        snprintf(task, sizeof(task), "{`task_key`: `k7`, `%s`: {}}", others[i]);
        expect_refused(task, others[i]);
        expect_refused(task, "Task k7");
        /* Even beside a task type that is supported. */
        snprintf(task, sizeof(task),
                 "{`scc_command_task`: {`argv`: [`ls`]}, `%s`: {`notebook_path`: `/n`}}",
                 others[i]);
        expect_refused(task, others[i]);
    }
    expect_refused("{`task_key`: `both`, `scc_command_task`: {`argv`: [`ls`]}, "
                   "`spark_python_task`: {`python_file`: `/m.py`}}",
                   "exactly one");
    expect_refused("{`task_key`: `none`}", "Task none needs exactly one");
    expect_refused("{}", "exactly one");
    expect_refused("[]", "exactly one");
}

/* A string with a NUL in it cannot be an argument: the agent would run
 * what comes before the NUL. */
static void
test_task_argv_refuses_arguments_with_nul(void **state)
{
    json_t *t;
    char err[512];

    (void)state;
    t = json_pack("{s:{s:[s, s%]}}", "scc_command_task", "argv", "echo", "a\0b", (size_t)3);
    assert_non_null(t);
    assert_null(ctl_dbx_task_argv(t, err, sizeof(err)));
    assert_non_null(strstr(err, "scc_command_task.argv"));
    json_decref(t);
    t = json_pack("{s:{s:s, s:[s%]}}", "spark_python_task", "python_file", "/m.py", "parameters",
                  "a\0b", (size_t)3);
    assert_non_null(t);
    assert_null(ctl_dbx_task_argv(t, err, sizeof(err)));
    assert_non_null(strstr(err, "parameters"));
    json_decref(t);
}

static void
test_task_argv_quotes_a_cut_task_key(void **state)
{
    char key[300], task[400], err[512];

    (void)state;
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    snprintf(task, sizeof(task), "{`task_key`: `%s`}", key);
    assert_null(argv_of(task, err, sizeof(err)));
    assert_true(strlen(err) < 250);
    assert_null(ctl_dbx_task_argv(NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "exactly one"));
}

/* ---- text ---- */

/* ctl_dbx_text(in) must be the JSON string want, and survive a JSON trip. */
static void
expect_text(const char *in, size_t n, const char *want, size_t want_len)
{
    json_t *s = ctl_dbx_text(in, n), *back;
    json_error_t e;
    char *dumped;

    assert_non_null(s);
    assert_true(json_is_string(s));
    if (json_string_length(s) != want_len || memcmp(json_string_value(s), want, want_len) != 0)
        fail_msg("text of %zu bytes: got %zu bytes, want %zu", n, json_string_length(s), want_len);
    assert_non_null(dumped = json_dumps(s, JSON_ENCODE_ANY));
    back = json_loads(dumped, JSON_DECODE_ANY, &e);
    if (back == NULL)
        fail_msg("does not load back: %s: %s", e.text, dumped);
    assert_true(json_equal(s, back));
    free(dumped);
    json_decref(back);
    json_decref(s);
}

#define TEXT(in, want) expect_text(in, sizeof(in) - 1, want, sizeof(want) - 1)

static void
test_text_keeps_valid_utf8(void **state)
{
    (void)state;
    TEXT("", "");
    TEXT("hello, world\n\t\x01\x7f", "hello, world\n\t\x01\x7f");
    TEXT("\xc2\x80", "\xc2\x80");                                 /* U+0080 */
    TEXT("caf\xc3\xa9 \xdf\xbf", "caf\xc3\xa9 \xdf\xbf");         /* 2 bytes, up to U+07FF */
    TEXT("\xe0\xa0\x80", "\xe0\xa0\x80");                         /* U+0800 */
    TEXT("\xe2\x82\xac 5", "\xe2\x82\xac 5");                     /* the euro sign */
    TEXT("\xed\x9f\xbf\xee\x80\x80", "\xed\x9f\xbf\xee\x80\x80"); /* around the surrogates */
    TEXT("\xef\xbf\xbf\xef\xbf\xbd", "\xef\xbf\xbf\xef\xbf\xbd"); /* U+FFFF, U+FFFD */
    TEXT("\xf0\x90\x80\x80", "\xf0\x90\x80\x80");                 /* U+10000 */
    TEXT("\xf0\x9f\x98\x80!", "\xf0\x9f\x98\x80!");
    TEXT("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"); /* U+10FFFF */
}

static void
test_text_replaces_each_invalid_byte(void **state)
{
    (void)state;
    TEXT("\xc3\x28", FFFD "("); /* bad continuation */
    TEXT("\xe2\x28\xa1", FFFD "(" FFFD);
    TEXT("\xf0\x9f\x28\x80", FFFD FFFD "(" FFFD);
    TEXT("ab\xe2\x82", "ab" FFFD FFFD); /* cut at the end */
    TEXT("\xf0\x9f\x98", FFFD FFFD FFFD);
    TEXT("x\xc3", "x" FFFD);
    TEXT("\xc0\xaf", FFFD FFFD); /* overlong '/' */
    TEXT("\xc1\xbf", FFFD FFFD);
    TEXT("\xe0\x80\xaf", FFFD FFFD FFFD);
    TEXT("\xe0\x9f\xbf", FFFD FFFD FFFD);
    TEXT("\xf0\x80\x80\xaf", FFFD FFFD FFFD FFFD);
    TEXT("\xf0\x8f\xbf\xbf", FFFD FFFD FFFD FFFD);
    TEXT("\xed\xa0\x80", FFFD FFFD FFFD);                            /* U+D800 */
    TEXT("\xed\xbf\xbf", FFFD FFFD FFFD);                            /* U+DFFF */
    TEXT("\xed\xa0\xbd\xed\xb8\x80", FFFD FFFD FFFD FFFD FFFD FFFD); /* CESU-8 pair */
    TEXT("a\0b", "a" FFFD "b");                                      /* NUL */
    TEXT("\0", FFFD);
    TEXT("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD); /* U+110000 */
    TEXT("\xf7\xbf\xbf\xbf", FFFD FFFD FFFD FFFD);
    TEXT("\xf8\x88\x80\x80\x80", FFFD FFFD FFFD FFFD FFFD);
    TEXT("\x80\xbf", FFFD FFFD); /* lone continuations */
    TEXT("\xfe\xff", FFFD FFFD);
}

static void
test_text_of_every_single_byte(void **state)
{
    (void)state;
    for (int b = 0; b < 256; b++) {
        char in = (char)b;

        if (b > 0 && b < 0x80)
            expect_text(&in, 1, &in, 1);
        else
            expect_text(&in, 1, FFFD, 3);
    }
}

static void
test_text_of_random_bytes_is_valid(void **state)
{
    static char in[1 << 16];
    uint32_t x = 12345;

    (void)state;
    for (size_t i = 0; i < sizeof(in); i++) {
        x = x * 1103515245u + 12345u;
        in[i] = (char)(x >> 16);
    }
    for (size_t n = 0; n <= sizeof(in); n += n < 64 ? 1 : 4093) {
        json_t *s = ctl_dbx_text(in, n), *back;
        char *dumped;

        assert_non_null(s);
        assert_true(json_string_length(s) <= 3 * n);
        assert_non_null(dumped = json_dumps(s, JSON_ENCODE_ANY));
        assert_non_null(back = json_loads(dumped, JSON_DECODE_ANY, NULL));
        assert_true(json_equal(s, back));
        free(dumped);
        json_decref(back);
        json_decref(s);
    }
}

/* ---- allocation failures ---- */

static void
test_allocation_failures_are_clean(void **state)
{
    json_t *t = J("{`spark_python_task`: {`python_file`: `/m.py`, `parameters`: [`a`, `b`]}}");
    json_t *c = J("{`scc_command_task`: {`argv`: [`a`, `b`]}}");
    static const char in[] = "caf\xc3\xa9 \xff ok";
    unsigned long n;
    char err[256];
    int failed;

    (void)state;
    for (n = 1;; n++) {
        json_t *a, *b, *s;

        scc_mem_fail_at(n);
        a = ctl_dbx_task_argv(t, err, sizeof(err));
        b = ctl_dbx_task_argv(c, err, sizeof(err));
        s = ctl_dbx_text(in, sizeof(in) - 1);
        failed = scc_mem_failed();
        scc_mem_fail_at(0);
        assert_true(a == NULL || json_is_array(a));
        assert_true(b == NULL || json_is_array(b));
        assert_true(s == NULL || json_is_string(s));
        json_decref(a);
        json_decref(b);
        json_decref(s);
        if (!failed)
            break;
    }
    assert_true(n > 3);
    json_decref(t);
    json_decref(c);
}

/* ---- bugs these tests found (fixed): they stay fixed ---- */

static void
test_bug_python_file_with_nul_is_refused(void **state)
{
    json_t *t = json_pack("{s:{s:s%}}", "spark_python_task", "python_file", "/tmp/a\0b", (size_t)8);
    json_t *argv;
    char err[512] = "";
    bool buggy;

    (void)state;
    assert_non_null(t);
    argv = ctl_dbx_task_argv(t, err, sizeof(err));
    buggy = argv != NULL;
    json_decref(argv);
    json_decref(t);
    assert_false(buggy);
    assert_non_null(strstr(err, "python_file"));
}

static void
test_bug_autoscale_min_workers_must_be_an_integer(void **state)
{
    static const char *const bad[] = {
            "{`spark_version`: `13.3.x-scala2.12`, `autoscale`: {`min_workers`: `5`, "
            "`max_workers`: 10}}",
            "{`spark_version`: `13.3.x-scala2.12`, `autoscale`: {`min_workers`: 3.5, "
            "`max_workers`: 10}}",
            "{`spark_version`: `13.3.x-scala2.12`, `autoscale`: {`min_workers`: null, "
            "`max_workers`: 10}}",
    };
    char err[256];
    bool buggy = false;

    (void)state;
    for (size_t i = 0; i < NELEM(bad); i++)
        buggy = buggy || spec(bad[i], err, sizeof(err)) == 0;
    assert_false(buggy);
    for (size_t i = 0; i < NELEM(bad); i++) {
        assert_int_equal(spec(bad[i], err, sizeof(err)), SCC_EINVAL);
        assert_non_null(strstr(err, "autoscale"));
    }
}

/* Past 8 parameters the argv array grows; a failure there must not yield
 * an argv without the parameters. */
static void
test_bug_task_argv_never_drops_parameters(void **state)
{
    json_t *t = J("{`spark_python_task`: {`python_file`: `/m.py`, "
                  "`parameters`: [`1`, `2`, `3`, `4`, `5`, `6`, `7`, `8`, `9`, `10`]}}");
    bool buggy = false;
    char err[512];
    int failed;

    (void)state;
    for (unsigned long n = 1;; n++) {
        json_t *a;

        scc_mem_fail_at(n);
        a = ctl_dbx_task_argv(t, err, sizeof(err));
        failed = scc_mem_failed();
        scc_mem_fail_at(0);
        buggy = buggy || (a != NULL && json_array_size(a) != 12);
        json_decref(a);
        if (!failed)
            break;
    }
    json_decref(t);
    assert_false(buggy);
}

static void
test_bug_text_fails_rather_than_truncates(void **state)
{
    bool buggy = false;
    int failed;

    (void)state;
    for (unsigned long n = 1;; n++) {
        json_t *s;

        scc_mem_fail_at(n);
        s = ctl_dbx_text("hello", 5);
        failed = scc_mem_failed();
        scc_mem_fail_at(0);
        buggy = buggy || (s != NULL && strcmp(json_string_value(s), "hello") != 0);
        json_decref(s);
        if (!failed)
            break;
    }
    assert_false(buggy);
}

/* ---- clusters/update ---- */

static void
test_mask_apply_changes_the_named_fields(void **state)
{
    json_t *spec = J("{`spark_version`: `16.4.x-scala2.12`, `num_workers`: 2, `cluster_name`: `a`,"
                     " `custom_tags`: {`k`: `v`}}");
    json_t *part = J("{`cluster_name`: `b`, `autoscale`: {`min_workers`: 1, `max_workers`: 2},"
                     " `spark_conf`: {`x`: `y`}, `custom_tags`: null}");
    char err[128];

    (void)state;
    assert_int_equal(ctl_dbx_mask_apply(spec, " cluster_name ,autoscale,custom_tags", part, err,
                                        sizeof(err)),
                     0);
    assert_string_equal(json_string_value(json_object_get(spec, "cluster_name")), "b");
    assert_non_null(json_object_get(spec, "autoscale"));
    assert_null(json_object_get(spec, "num_workers")); /* replaced by autoscale */
    assert_null(json_object_get(spec, "custom_tags")); /* named, null: removed */
    assert_null(json_object_get(spec, "spark_conf"));  /* given, not named: kept out */
    assert_int_equal(ctl_dbx_mask_apply(spec, "num_workers", NULL, err, sizeof(err)), 0);
    assert_null(json_object_get(spec, "num_workers"));
    assert_non_null(json_object_get(spec, "autoscale")); /* only a value replaces */
    assert_int_equal(spec_check_of(spec), 0);
    json_decref(spec);
    json_decref(part);
}

static void
test_mask_apply_refuses_bad_masks(void **state)
{
    static const struct {
        const char *mask, *part, *want;
    } bad[] = {
            {NULL, "{}", "update_mask"},
            {"", "{}", "update_mask"},
            {"cluster_name", "[]", "update_mask"},
            {"cluster_name", "`b`", "update_mask"},
            {"nope", "{}", "names nope,"},
            {"cluster_name,,", "{}", "names ,"},
            {"cluster_name,nope", "{}", "names nope,"},
            {"spark_version ,  _scc", "{}", "names _scc,"},
            {"cluster_namex", "{}", "names cluster_namex,"},
    };
    char err[128], longmask[300];

    (void)state;
    for (size_t i = 0; i < NELEM(bad); i++) {
        json_t *spec = J("{`spark_version`: `16.4.x-scala2.12`}"), *part = J(bad[i].part);

        err[0] = '\0';
        assert_int_equal(ctl_dbx_mask_apply(spec, bad[i].mask, part, err, sizeof(err)), SCC_EINVAL);
        if (strstr(err, bad[i].want) == NULL)
            fail_msg("mask '%s': '%s' has no '%s'", bad[i].mask ? bad[i].mask : "(null)", err,
                     bad[i].want);
        json_decref(spec);
        json_decref(part);
    }
    memset(longmask, 'a', sizeof(longmask) - 1);
    longmask[sizeof(longmask) - 1] = '\0';
    {
        json_t *spec = J("{}");

        assert_int_equal(ctl_dbx_mask_apply(spec, longmask, NULL, err, 16), SCC_EINVAL);
        assert_int_equal(strlen(err), 15); /* cut to the buffer */
        json_decref(spec);
    }
}

static void
test_mask_apply_allocation_failures_are_clean(void **state)
{
    char err[128];
    int rc, failed;

    (void)state;
    for (unsigned long n = 1;; n++) {
        json_t *spec = J("{`spark_version`: `16.4.x-scala2.12`}");
        json_t *part = J("{`cluster_name`: `b`, `num_workers`: 3}");

        scc_mem_fail_at(n);
        rc = ctl_dbx_mask_apply(spec, "cluster_name,num_workers", part, err, sizeof(err));
        failed = scc_mem_failed();
        scc_mem_fail_at(0);
        assert_true(rc == 0 || rc == SCC_ENOMEM);
        if (rc == 0)
            assert_int_equal(json_integer_value(json_object_get(spec, "num_workers")), 3);
        json_decref(spec);
        json_decref(part);
        if (!failed)
            break;
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_host_parse_takes_the_id_with_or_without_port),
            cmocka_unit_test(test_host_parse_rejects_other_shapes),
            cmocka_unit_test(test_host_parse_refuses_an_id_longer_than_cap),
            cmocka_unit_test(test_query_get_decodes_values),
            cmocka_unit_test(test_query_get_reports_missing_keys),
            cmocka_unit_test(test_query_get_cuts_values_to_cap),
            cmocka_unit_test(test_node_type_finds_each_catalogue_entry),
            cmocka_unit_test(test_spec_accepts_minimal_and_full_specs),
            cmocka_unit_test(test_spec_accepts_every_catalogue_entry),
            cmocka_unit_test(test_spec_refusals_name_the_field),
            cmocka_unit_test(test_spec_cluster_name_is_at_most_100_bytes),
            cmocka_unit_test(test_spec_refuses_what_is_not_an_object_and_bounds_err),
            cmocka_unit_test(test_task_key_shapes),
            cmocka_unit_test(test_task_argv_of_each_type),
            cmocka_unit_test(test_task_argv_is_a_new_array),
            cmocka_unit_test(test_task_argv_refuses_bad_python_tasks),
            cmocka_unit_test(test_task_argv_refuses_bad_command_tasks),
            cmocka_unit_test(test_task_argv_needs_exactly_one_supported_type),
            cmocka_unit_test(test_task_argv_refuses_arguments_with_nul),
            cmocka_unit_test(test_task_argv_quotes_a_cut_task_key),
            cmocka_unit_test(test_text_keeps_valid_utf8),
            cmocka_unit_test(test_text_replaces_each_invalid_byte),
            cmocka_unit_test(test_text_of_every_single_byte),
            cmocka_unit_test(test_text_of_random_bytes_is_valid),
            cmocka_unit_test(test_allocation_failures_are_clean),
            cmocka_unit_test(test_bug_python_file_with_nul_is_refused),
            cmocka_unit_test(test_bug_autoscale_min_workers_must_be_an_integer),
            cmocka_unit_test(test_bug_task_argv_never_drops_parameters),
            cmocka_unit_test(test_bug_text_fails_rather_than_truncates),
            cmocka_unit_test(test_mask_apply_changes_the_named_fields),
            cmocka_unit_test(test_mask_apply_refuses_bad_masks),
            cmocka_unit_test(test_mask_apply_allocation_failures_are_clean),
    };

    return cmocka_run_group_tests(tests, json_alloc_setup, NULL);
}
