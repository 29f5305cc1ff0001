/* Identities (SPIFFE URIs) and tokens: the strings peers send us. */
#include "test.h"

#include <string.h>

#include "common/err.h"
#include "common/ident.h"
#include "common/token.h"

static void
test_ident_node_roundtrip(void **state)
{
    struct scc_ident id, back;
    char uri[SCC_IDENT_URI_MAX + 1], path[200];

    (void)state;
    assert_int_equal(scc_ident_node(&id, "scc.local", "ws1", "c1", "n-1.a_b"), 0);
    assert_int_equal(scc_ident_format(&id, uri, sizeof(uri)), 0);
    assert_string_equal(uri, "spiffe://scc.local/ws/ws1/cluster/c1/node/n-1.a_b");
    assert_int_equal(scc_ident_parse(uri, strlen(uri), &back), 0);
    assert_true(scc_ident_equal(&id, &back));
    assert_int_equal(scc_ident_path(&id, path, sizeof(path)), 0);
    assert_string_equal(path, "ws1/c1/n-1.a_b");
    assert_int_equal(scc_ident_parse_path(path, "scc.local", &back), 0);
    assert_true(scc_ident_equal(&id, &back));
}

static void
test_ident_control(void **state)
{
    struct scc_ident id;
    const char *uri = "spiffe://scc.local/control";

    (void)state;
    assert_int_equal(scc_ident_parse(uri, strlen(uri), &id), 0);
    assert_int_equal(id.kind, SCC_IDENT_CONTROL);
}

static void
test_ident_rejects_malformed(void **state)
{
    static const char *const bad[] = {
            "",
            "spiffe://",
            "spiffe://scc.local",
            "spiffe://scc.local/",
            "http://scc.local/ws/a/cluster/b/node/c",
            "spiffe://SCC.local/ws/a/cluster/b/node/c",
            "spiffe://scc.local/ws/a/cluster/b/node/c/",
            "spiffe://scc.local/ws/a/cluster/b/node/",
            "spiffe://scc.local/ws/a/cluster/b/nodes/c",
            "spiffe://scc.local/ws/../cluster/b/node/c",
            "spiffe://scc.local/ws/a b/cluster/b/node/c",
            "spiffe://scc.local/ws/a/cluster/b/node/c%2f",
            "spiffe://scc.local/ws//cluster/b/node/c",
            "spiffe://scc.local/controlx",
    };
    struct scc_ident id;
    char longseg[200];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(scc_ident_parse(bad[i], strlen(bad[i]), &id), SCC_EINVAL);
    memset(longseg, 'a', 65);
    longseg[65] = '\0';
    assert_int_equal(scc_ident_node(&id, "td", longseg, "c", "n"), SCC_EINVAL);
    assert_int_equal(scc_ident_parse_path("a/b", "td", &id), SCC_EINVAL);
    assert_int_equal(scc_ident_parse_path("a/b/c/d", "td", &id), SCC_EINVAL);
}

static void
test_token_mint_parse_and_hash(void **state)
{
    char text[SCC_TOKEN_MAX];
    struct scc_token t, back;

    (void)state;
    assert_int_equal(scc_token_new(SCC_TOKEN_JOIN, text, &t), 0);
    assert_int_equal(strncmp(text, "sccj1.", 6), 0);
    assert_int_equal(scc_token_parse(text, strlen(text), &back), 0);
    assert_int_equal(back.kind, SCC_TOKEN_JOIN);
    assert_string_equal(back.id, t.id);
    assert_true(scc_token_hash_matches(t.hash, back.hash));
    /* The hash never contains the secret. */
    assert_null(strstr(t.hash, text + 6 + SCC_TOKEN_ID_LEN + 1));
}

static void
test_token_rejects_tampering(void **state)
{
    char text[SCC_TOKEN_MAX], bad[SCC_TOKEN_MAX];
    struct scc_token t, back;
    size_t n;

    (void)state;
    assert_int_equal(scc_token_new(SCC_TOKEN_API, text, &t), 0);
    n = strlen(text);
    /* Any changed secret character yields a different hash. */
    memcpy(bad, text, n + 1);
    bad[n - 5] = bad[n - 5] == 'A' ? 'B' : 'A';
    assert_int_equal(scc_token_parse(bad, n, &back), 0);
    assert_false(scc_token_hash_matches(t.hash, back.hash));
    assert_int_equal(scc_token_parse(text, n - 1, &back), SCC_EINVAL);
    memcpy(bad, text, n + 1);
    bad[0] = 'x';
    assert_int_equal(scc_token_parse(bad, n, &back), SCC_EINVAL);
    memcpy(bad, text, n + 1);
    bad[10] = '!';
    assert_int_equal(scc_token_parse(bad, n, &back), SCC_EINVAL);
    assert_int_equal(scc_token_parse("", 0, &back), SCC_EINVAL);
    assert_false(scc_token_hash_matches(t.hash, "short"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_ident_node_roundtrip),
            cmocka_unit_test(test_ident_control),
            cmocka_unit_test(test_ident_rejects_malformed),
            cmocka_unit_test(test_token_mint_parse_and_hash),
            cmocka_unit_test(test_token_rejects_tampering),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
