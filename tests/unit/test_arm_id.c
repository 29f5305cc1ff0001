/* ARM request paths, ids and api-versions (src/control/ctl_arm_id.c), and
 * the HTTP/1.1 request parser (src/control/ctl_api_http.c). */
#include "test.h"

#include "common/buf.h"
#include "common/err.h"
#include "control/ctl_api_http.h"
#include "control/ctl_arm_id.h"

#include <stdio.h>
#include <string.h>

static void
test_path_classifies_every_kind(void **state)
{
    static const struct {
        const char *path;
        enum ctl_arm_kind kind;
    } cases[] = {
            {"/subscriptions", CTL_ARM_T_SUBS},
            {"/subscriptions/S", CTL_ARM_T_SUB},
            {"/providers", CTL_ARM_T_TENANT_PROVS},
            {"/providers/Microsoft.Databricks", CTL_ARM_T_TENANT_PROV},
            {"/providers/Microsoft.Databricks/operations", CTL_ARM_T_OPERATIONS},
            {"/subscriptions/S/providers", CTL_ARM_T_PROVS},
            {"/subscriptions/S/providers/Microsoft.Network", CTL_ARM_T_PROV},
            {"/subscriptions/S/providers/Microsoft.Network/register", CTL_ARM_T_PROV_ACTION},
            {"/subscriptions/S/resourcegroups", CTL_ARM_T_RGS},
            {"/SUBSCRIPTIONS/S/RESOURCEGROUPS/rg", CTL_ARM_T_RG},
            {"/subscriptions/S/resourceGroups/rg/resources", CTL_ARM_T_RG_RESOURCES},
            {"/subscriptions/S/resources", CTL_ARM_T_SUB_RESOURCES},
            {"/subscriptions/S/providers/Microsoft.Databricks/workspaces", CTL_ARM_T_LIST_SUB},
            {"/subscriptions/S/resourceGroups/rg/providers/Microsoft.Databricks/workspaces",
             CTL_ARM_T_LIST_RG},
            {"/subscriptions/S/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/w",
             CTL_ARM_T_RESOURCE},
            {"/subscriptions/S/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/"
             "subnets",
             CTL_ARM_T_CHILD_LIST},
            {"/subscriptions/S/providers/Microsoft.Databricks/locations/eastus/operationStatuses/x",
             CTL_ARM_T_OP_STATUS},
            {"/subscriptions/S/providers/Microsoft.Network/locations/eastus/operations/x",
             CTL_ARM_T_OP_STATUS},
            {"/subscriptions/S/providers/Microsoft.Databricks/locations/eastus/operationResults/x",
             CTL_ARM_T_OP_RESULT},
            {"/subscriptions/S/operationresults/x", CTL_ARM_T_SUB_OP_RESULT},
            {"/", CTL_ARM_T_NONE},
            {"/other", CTL_ARM_T_NONE},
            {"/subscriptions/S/resourceGroups/rg/providers/Microsoft.Network", CTL_ARM_T_NONE},
    };
    struct ctl_arm_target t;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(ctl_arm_target_parse(cases[i].path, &t), 0);
        if (t.kind != cases[i].kind)
            fail_msg("%s: kind %d, want %d", cases[i].path, t.kind, cases[i].kind);
    }
}

static void
test_path_parts_keep_their_casing(void **state)
{
    struct ctl_arm_target t;

    (void)state;
    assert_int_equal(ctl_arm_target_parse("/subscriptions/S/resourceGroups/MyRG/providers/"
                                          "Microsoft.Network/virtualNetworks/V1/subnets/Pub",
                                          &t),
                     0);
    assert_string_equal(t.sub, "S");
    assert_string_equal(t.rg, "MyRG");
    assert_string_equal(t.ns, "Microsoft.Network");
    assert_int_equal(t.ntypes, 2);
    assert_string_equal(t.types[0], "virtualNetworks");
    assert_string_equal(t.names[0], "V1");
    assert_string_equal(t.types[1], "subnets");
    assert_string_equal(t.names[1], "Pub");
}

static void
test_path_decodes_and_rejects_malformed(void **state)
{
    struct ctl_arm_target t;
    char big[3000];

    (void)state;
    assert_int_equal(ctl_arm_target_parse("/subscriptions/S/resourcegroups/a%28b%29", &t), 0);
    assert_string_equal(t.rg, "a(b)");
    assert_int_equal(ctl_arm_target_parse("/subscriptions/S/resourcegroups/rg/", &t), 0);
    assert_int_equal(t.kind, CTL_ARM_T_RG);
    assert_int_equal(ctl_arm_target_parse("/subscriptions//x", &t), SCC_EINVAL);
    assert_int_equal(ctl_arm_target_parse("/subscriptions/%zz", &t), SCC_EINVAL);
    assert_int_equal(ctl_arm_target_parse("/subscriptions/%00", &t), SCC_EINVAL);
    assert_int_equal(ctl_arm_target_parse("subscriptions", &t), SCC_EINVAL);
    memset(big, 'a', sizeof(big) - 1);
    big[0] = '/';
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(ctl_arm_target_parse(big, &t), SCC_ETOOBIG);
}

static void
test_api_version_shapes(void **state)
{
    static const char *const good[] = {"2023-02-01", "2022-04-01-preview", "2026-01-01",
                                       "2018-04-01", "2031-12-31-privatepreview"};
    static const char *const bad[] = {
            "",           "foo",         "2023-2-01",       "2023-13-01",  "2023-00-10",
            "2023-01-32", "2023-02-01-", "2023-02-01-pre1", "2023-02-01x", "20230201"};

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(ctl_arm_is_api_version(good[i]));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (ctl_arm_is_api_version(bad[i]))
            fail_msg("accepted '%s'", bad[i]);
}

static void
test_ids_build_and_split(void **state)
{
    const char *types[2] = {"virtualNetworks", "subnets"}, *names[2] = {"v", "s"};
    char id[512], top[512], parent[512];

    (void)state;
    assert_int_equal(
            ctl_arm_res_id(id, sizeof(id), "s", "rg", "Microsoft.Network", types, names, 2), 0);
    assert_string_equal(id, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/"
                            "virtualNetworks/v/subnets/s");
    assert_int_equal(ctl_arm_id_top(id, top, sizeof(top)), 0);
    assert_string_equal(top, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/"
                             "virtualNetworks/v");
    assert_int_equal(ctl_arm_id_parent(id, parent, sizeof(parent)), 0);
    assert_string_equal(parent, top);
    assert_string_equal(ctl_arm_id_last(id), "s");
    assert_int_equal(ctl_arm_id_top("/subscriptions/s", top, sizeof(top)), SCC_EINVAL);
    assert_int_equal(ctl_arm_res_id(id, 20, "s", "rg", "Microsoft.Network", types, names, 2),
                     SCC_ETRUNC);
    assert_int_equal(ctl_arm_rg_id(id, sizeof(id), "s", "MyRG"), 0);
    assert_string_equal(id, "/subscriptions/s/resourceGroups/MyRG");
}

static void
test_guid_is_version_4(void **state)
{
    char g[37];

    (void)state;
    assert_int_equal(ctl_arm_guid(g), 0);
    assert_int_equal(strlen(g), 36);
    assert_int_equal(g[14], '4');
    assert_non_null(strchr("89ab", g[19]));
}

/* ---- HTTP/1.1 ---- */

static int
parse(const char *head, struct ctl_http_req *r)
{
    const char *why = NULL;

    memset(r, 0, sizeof(*r));
    return ctl_http_head_parse(head, strlen(head), r, &why);
}

static void
test_http_head_parses_fields(void **state)
{
    struct ctl_http_req r;

    (void)state;
    assert_int_equal(parse("PUT /a/b?api-version=1 HTTP/1.1\r\nHost: h:1\r\nContent-Length: 12\r\n"
                           "Authorization:  Bearer x \r\nExpect: 100-continue\r\n"
                           "x-ms-client-request-id: abc\r\n\r\n",
                           &r),
                     0);
    assert_string_equal(r.method, "PUT");
    assert_string_equal(r.path, "/a/b");
    assert_string_equal(r.query, "api-version=1");
    assert_int_equal(r.content_length, 12);
    assert_string_equal(r.authorization, "Bearer x");
    assert_true(r.keep_alive && r.expect_continue && !r.chunked);
    assert_string_equal(r.client_request_id, "abc");
    ctl_http_req_fini(&r);
    assert_int_equal(parse("GET / HTTP/1.0\n\n", &r), 0);
    assert_false(r.keep_alive);
    ctl_http_req_fini(&r);
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\n"
                           "Transfer-Encoding: Chunked\r\n\r\n",
                           &r),
                     0);
    assert_true(r.chunked && !r.keep_alive);
    ctl_http_req_fini(&r);
}

static void
test_http_head_rejects_what_smuggles_or_lies(void **state)
{
    static const struct {
        const char *head;
        int rc;
    } bad[] = {
            {"GET / HTTP/1.1\r\n\r\n", SCC_EPROTO}, /* no Host */
            {"GET /  HTTP/1.1\r\nHost: x\r\n\r\n", SCC_EPROTO},
            {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", SCC_EPROTO},
            {"GET * HTTP/1.1\r\nHost: x\r\n\r\n", SCC_EPROTO},
            {"G(T / HTTP/1.1\r\nHost: x\r\n\r\n", SCC_EPROTO},
            {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
             SCC_EPROTO},
            {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", SCC_EPROTO},
            {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
             SCC_EPROTO},
            {"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", SCC_ENOSYS},
            {"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", SCC_EPROTO},
            {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", SCC_EPROTO},
            {"GET / HTTP/1.1\r\nHost: x\rX\r\n\r\n", SCC_EPROTO},
    };
    struct ctl_http_req r;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = parse(bad[i].head, &r);

        if (rc != bad[i].rc)
            fail_msg("case %zu: rc %d, want %d", i, rc, bad[i].rc);
    }
}

static void
test_http_head_end_and_header_limit(void **state)
{
    char head[8192];
    size_t n = 0;
    struct ctl_http_req r;

    (void)state;
    assert_int_equal(ctl_http_head_end("GET / HTTP/1.1\r\nHost: x\r\n", 25), 0);
    assert_int_equal(ctl_http_head_end("GET / HTTP/1.1\r\n\r\nrest", 22), 18);
    assert_int_equal(ctl_http_head_end("GET / HTTP/1.1\n\nrest", 20), 16);
    n += (size_t)snprintf(head, sizeof(head), "GET / HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < CTL_HTTP_HDRS_MAX + 1; i++)
        n += (size_t)snprintf(head + n, sizeof(head) - n, "X-%d: y\r\n", i);
    snprintf(head + n, sizeof(head) - n, "\r\n");
    assert_int_equal(parse(head, &r), SCC_ETOOBIG);
}

static void
test_http_chunked_decodes_across_any_split(void **state)
{
    const char *in = "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT";
    size_t len = strlen(in) - 4;

    (void)state;
    for (size_t split = 1; split < len; split++) {
        struct ctl_http_chunked c = {0};
        struct scc_buf out;
        size_t used = 0;
        ssize_t n;

        scc_buf_init(&out, 64);
        /* Feed up to split, then the rest, keeping unconsumed bytes. */
        n = ctl_http_chunked_feed(&c, (const uint8_t *)in, split, &out);
        assert_true(n >= 0);
        used = (size_t)n;
        n = ctl_http_chunked_feed(&c, (const uint8_t *)in + used, strlen(in) - used, &out);
        assert_true(n >= 0);
        assert_true(c.done);
        assert_int_equal(used + (size_t)n, len);
        assert_string_equal(scc_buf_str(&out), "hello world");
        scc_buf_fini(&out);
    }
}

static void
test_http_chunked_limits_and_errors(void **state)
{
    struct ctl_http_chunked c = {0};
    struct scc_buf out;

    (void)state;
    scc_buf_init(&out, 4);
    assert_int_equal(ctl_http_chunked_feed(&c, (const uint8_t *)"5\r\nhello\r\n", 10, &out),
                     SCC_ETOOBIG);
    scc_buf_fini(&out);
    memset(&c, 0, sizeof(c));
    scc_buf_init(&out, 64);
    assert_int_equal(ctl_http_chunked_feed(&c, (const uint8_t *)"zz\r\n", 4, &out), SCC_EPROTO);
    memset(&c, 0, sizeof(c));
    assert_int_equal(ctl_http_chunked_feed(&c, (const uint8_t *)"1\r\nab\r\n", 7, &out),
                     SCC_EPROTO);
    memset(&c, 0, sizeof(c));
    assert_int_equal(ctl_http_chunked_feed(&c, (const uint8_t *)"1234567890abcdef0\r\n", 19, &out),
                     SCC_ETOOBIG);
    scc_buf_fini(&out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_path_classifies_every_kind),
            cmocka_unit_test(test_path_parts_keep_their_casing),
            cmocka_unit_test(test_path_decodes_and_rejects_malformed),
            cmocka_unit_test(test_api_version_shapes),
            cmocka_unit_test(test_ids_build_and_split),
            cmocka_unit_test(test_guid_is_version_4),
            cmocka_unit_test(test_http_head_parses_fields),
            cmocka_unit_test(test_http_head_rejects_what_smuggles_or_lies),
            cmocka_unit_test(test_http_head_end_and_header_limit),
            cmocka_unit_test(test_http_chunked_decodes_across_any_split),
            cmocka_unit_test(test_http_chunked_limits_and_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
