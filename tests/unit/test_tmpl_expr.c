/* Unit tests for the template expression language and function library
 * (src/control/ctl_tmpl_expr.c, ctl_tmpl_fn*.c) through ctl_tmpl_eval_string. */
#include "test.h"
#include "test_json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "control/ctl_tmpl.h"

static json_t *
eval_ok(const char *s)
{
    struct ctl_tmpl_error err;
    json_t *v = NULL;
    int rc = ctl_tmpl_eval_string(NULL, s, &v, &err);

    if (rc != 0)
        fprintf(stderr, "eval(%s): %d %s: %s\n", s, rc, err.code, err.message);
    assert_int_equal(rc, 0);
    assert_non_null(v);
    return v;
}

static void
expect_json(const char *s, const char *want_json)
{
    json_t *v = eval_ok(s);
    json_t *want = json_loads(want_json, JSON_DECODE_ANY, NULL);
    char *got = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

    assert_non_null(want);
    if (!json_equal(v, want))
        fprintf(stderr, "eval(%s) = %s, want %s\n", s, got, want_json);
    assert_true(json_equal(v, want));
    scc_free(got); /* jansson allocates through scc_malloc here */
    json_decref(want);
    json_decref(v);
}

static void
expect_str(const char *s, const char *want)
{
    json_t *v = eval_ok(s);

    assert_true(json_is_string(v));
    assert_string_equal(json_string_value(v), want);
    json_decref(v);
}

static void
expect_err(const char *s, int rc_want, const char *needle)
{
    struct ctl_tmpl_error err;
    json_t *v = NULL;
    int rc = ctl_tmpl_eval_string(NULL, s, &v, &err);

    if (rc != rc_want || strstr(err.message, needle) == NULL)
        fprintf(stderr, "eval(%.80s): rc %d (want %d) msg: %s\n", s, rc, rc_want, err.message);
    assert_int_equal(rc, rc_want);
    assert_null(v);
    assert_string_equal(err.code,
                        rc_want == SCC_ENOMEM ? "InternalServerError" : "InvalidTemplate");
    assert_non_null(strstr(err.message, needle));
}

static void
test_expr_literals_and_escapes(void **state)
{
    (void)state;
    expect_str("plain", "plain");
    expect_str("[test] value", "[test] value");
    expect_str("[[test value]", "[test value]");
    expect_str("[[", "[[");
    expect_str("['it''s']", "it's");
    expect_str("['']", "");
    expect_json("[-42]", "-42");
    expect_json("[+7]", "7");
    expect_json("[9223372036854775807]", "9223372036854775807");
    expect_json("[-9223372036854775808]", "-9223372036854775808");
    expect_str("[ concat ( 'a' ,\t'b' )\n]", "ab");
    expect_str("[CONCAT('a','b')]", "ab");
    expect_json("[true()]", "true");
    expect_json("[FALSE()]", "false");
    expect_json("[null()]", "null");
}

static void
test_expr_property_access(void **state)
{
    (void)state;
    expect_json("[json('{\"a\":{\"B\":1}}').a.b]", "1");
    expect_json("[json('{\"a\":1,\"A\":2}').A]", "2");
    expect_json("[json('{\"a\":1,\"A\":2}').a]", "1");
    expect_json("[json('{\"a\":[10,20]}')['a'][1]]", "20");
    expect_json("[createArray(1, 2, 3)[add(1, 1)]]", "3");
    expect_json("[createObject('k', createArray('x'))['K'][0]]", "\"x\"");
    expect_err("[json('{\"a\":1}').b]", SCC_EINVAL,
               "The language expression property 'b' doesn't exist, available properties are "
               "'a'.");
    expect_err("[createArray(1)[1]]", SCC_EINVAL, "array index '1' is out of bounds");
    expect_err("[createArray(1)[-1]]", SCC_EINVAL, "out of bounds");
    expect_err("['abc'.x]", SCC_EINVAL, "can't be evaluated");
}

static void
test_expr_unique_string_vectors(void **state)
{
    static const struct {
        const char *args[2];
        size_t n;
        const char *want;
    } v[] = {
            {{"hello", "world"}, 2, "a7wkljktk6wne"},
            {{"tyeth"}, 1, "zcztcwvu6iyg6"},
            {{"test"}, 1, "rbgf3xv4ufgzg"},
            {{"abc"}, 1, "cgtzqvhu4i23s"},
            {{"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/my-rg"},
             1,
             "bmg7c6xu4tw46"},
            {{"test", "test2"}, 2, "pivml2tg5alca"},
            {{""}, 1, "aaaaaaaaaaaaa"},
            {{"ws1", "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg1"},
             2,
             "rpm7yh2427vde"},
            {{"ws1", "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/RG1"},
             2,
             "xi3wstv7rqq2y"},
            {{"myWorkspace",
              "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg"},
             2,
             "vx2dt3rik54xw"},
    };
    const char *three[] = {"foo", "bar", "baz"};
    char out[14];

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        assert_int_equal(ctl_tmpl_unique_string(v[i].args, v[i].n, out), 0);
        assert_string_equal(out, v[i].want);
    }
    assert_int_equal(ctl_tmpl_unique_string(three, 3, out), 0);
    assert_string_equal(out, "xzi4ioaxtmth4");
    assert_int_equal(ctl_tmpl_unique_string(three, 0, out), SCC_EINVAL);
    expect_str("[uniqueString('hello', 'world')]", "a7wkljktk6wne");
    expect_str("[uniqueString('foo', 'bar', 'baz')]", "xzi4ioaxtmth4");
    expect_err("[uniqueString(1)]", SCC_EINVAL, "'uniqueString' expects its first parameter");
}

static void
test_expr_unique_string_rejects_oversized_input(void **state)
{
    char *big = malloc(131073 + 1);
    const char *args[1] = {big};
    char out[14];

    (void)state;
    memset(big, 'a', 131073);
    big[131073] = '\0';
    assert_int_equal(ctl_tmpl_unique_string(args, 1, out), SCC_ETOOBIG);
    big[131072] = '\0';
    assert_int_equal(ctl_tmpl_unique_string(args, 1, out), 0);
    free(big);
}

static void
test_expr_guid_is_uuid5_in_arm_namespace(void **state)
{
    (void)state;
    /* Python: uuid.uuid5(UUID('11fb06fb-712d-4ddd-98c7-e71bbd588830'), 'a-b-c') */
    expect_str("[guid('a', 'b', 'c')]", "a98fa280-e03f-5afa-8d8e-92d0a9c201e8");
}

static void
test_expr_concat_and_format(void **state)
{
    (void)state;
    expect_str("[concat('a', 1, true(), '-', false())]", "a1True-False");
    expect_json("[concat(createArray(1), createArray(2, 3))]", "[1,2,3]");
    expect_err("[concat(createArray(1), 'x')]", SCC_EINVAL, "expects its second parameter");
    expect_err("[concat('a', createArray(1))]", SCC_EINVAL, "'concat' expects its parameter");
    expect_str("[format('{0}-{1}', 'a', 2)]", "a-2");
    expect_str("[format('{{literal}} {0}', 'x')]", "{literal} x");
    expect_str("[format('{0:D3}|{1,4}|{1,-4}|{2:X}', 7, 'ab', 255)]", "007|  ab|ab  |FF");
    expect_str("[format('{0}', true())]", "True");
    expect_err("[format('{1}', 'a')]", SCC_EINVAL, "Index (zero based)");
    expect_err("[format('{0', 'a')]", SCC_EINVAL, "not in a correct format");
    expect_err("[format('}', 'a')]", SCC_EINVAL, "not in a correct format");
}

static void
test_expr_if_is_lazy(void **state)
{
    (void)state;
    expect_str("[if(true(), 'yes', json('{bad'))]", "yes");
    expect_str("[if(equals(1, 2), json('{bad'), 'no')]", "no");
    expect_err("[if('x', 1, 2)]", SCC_EINVAL, "'if' expects its first parameter");
}

static void
test_expr_logic_and_comparison(void **state)
{
    (void)state;
    expect_json("[equals('a', 'A')]", "false");
    expect_json("[equals(json('{\"a\":[1,{\"b\":2}]}'), json('{\"a\":[1,{\"b\":2}]}'))]", "true");
    expect_json("[equals(1, '1')]", "false");
    expect_json("[not(and(true(), or(false(), true())))]", "false");
    expect_err("[and(true(), 1)]", SCC_EINVAL, "expects its second parameter");
    expect_json("[greater(2, 1)]", "true");
    expect_json("[lessOrEquals('a', 'b')]", "true");
    expect_json("[greaterOrEquals(1, 1)]", "true");
    expect_err("[less(1, 'a')]", SCC_EINVAL, "'less' expects its parameter");
}

static void
test_expr_conversions(void **state)
{
    (void)state;
    expect_str("[string(true())]", "True");
    expect_str("[string(json('{\"a\":[1,\"x\"]}'))]", "{\"a\":[1,\"x\"]}");
    expect_str("[string(-5)]", "-5");
    expect_json("[int('42')]", "42");
    expect_json("[int(' -3 ')]", "-3");
    expect_err("[int('4x')]", SCC_EINVAL, "cannot convert the value '4x'");
    expect_json("[bool('TRUE')]", "true");
    expect_json("[bool(0)]", "false");
    expect_err("[bool('yes')]", SCC_EINVAL, "cannot convert");
    expect_json("[json('[1, {\"a\": null}]')]", "[1,{\"a\":null}]");
    expect_err("[json('{')]", SCC_EINVAL, "not valid JSON");
}

static void
test_expr_arithmetic(void **state)
{
    (void)state;
    expect_json("[add(2, 3)]", "5");
    expect_json("[sub(2, 3)]", "-1");
    expect_json("[mul(-4, 3)]", "-12");
    expect_json("[div(7, 2)]", "3");
    expect_json("[mod(7, 2)]", "1");
    expect_json("[min(3, 1, 2)]", "1");
    expect_json("[max(createArray(3, 9, 2))]", "9");
    expect_json("[range(5, 3)]", "[5,6,7]");
    expect_err("[div(1, 0)]", SCC_EINVAL, "divide by zero");
    expect_err("[add(9223372036854775807, 1)]", SCC_EINVAL, "overflowed");
    expect_err("[div(-9223372036854775808, -1)]", SCC_EINVAL, "overflowed");
    expect_err("[range(0, 10001)]", SCC_EINVAL, "'range'");
}

static void
test_expr_strings(void **state)
{
    (void)state;
    expect_str("[toLower('AbC')]", "abc");
    expect_str("[toUpper('AbC')]", "ABC");
    expect_str("[trim('  x y \t')]", "x y");
    expect_json("[startsWith('Hello', 'hE')]", "true");
    expect_json("[endsWith('Hello', 'LO')]", "true");
    expect_json("[endsWith('lo', 'Hello')]", "false");
    expect_json("[indexOf('abcABC', 'C')]", "2");
    expect_json("[lastIndexOf('abcABC', 'c')]", "5");
    expect_json("[indexOf('abc', 'z')]", "-1");
    expect_json("[contains('abc', 'B')]", "false");
    expect_json("[contains('a1b', 1)]", "true");
    expect_json("[contains(createArray('x', 2), 2)]", "true");
    expect_json("[contains(json('{\"Key\":1}'), 'key')]", "true");
    expect_str("[substring('hello', 1, 3)]", "ell");
    expect_str("[substring('hello', 2)]", "llo");
    expect_err("[substring('hello', 1, 10)]", SCC_EINVAL,
               "The index parameter: '1', the length parameter: '10', the length of the string "
               "parameter: '5'.");
    expect_str("[replace('a-b-c', '-', '+')]", "a+b+c");
    expect_err("[replace('abc', '', 'x')]", SCC_EINVAL, "cannot replace an empty string");
    expect_json("[split('a,b;;c', createArray(',', ';'))]", "[\"a\",\"b\",\"\",\"c\"]");
    expect_json("[split('abc', '/')]", "[\"abc\"]");
    expect_str("[join(createArray('a', 1, true()), ', ')]", "a, 1, True");
    expect_str("[padLeft(7, 3, '0')]", "007");
    expect_str("[padLeft('abc', 2)]", "abc");
    expect_str("[base64('hello world')]", "aGVsbG8gd29ybGQ=");
    expect_str("[base64ToString('aGVsbG8gd29ybGQ=')]", "hello world");
    expect_json("[base64ToJson(base64('{\"a\":1}'))]", "{\"a\":1}");
    expect_err("[base64ToString('a$==')]", SCC_EINVAL, "not valid base64");
    expect_err("[base64ToString('/w==')]", SCC_EINVAL, "not valid UTF-8");
}

static void
test_expr_utf16_positions(void **state)
{
    (void)state;
    /* "é" is one UTF-16 unit, "😀" two, as .NET counts them. */
    expect_json("[length('a\xc3\xa9\xf0\x9f\x98\x80')]", "4");
    expect_str("[substring('\xc3\xa9x\xf0\x9f\x98\x80y', 1, 3)]", "x\xf0\x9f\x98\x80");
    expect_json("[indexOf('\xf0\x9f\x98\x80z', 'z')]", "2");
    expect_str("[first('\xc3\xa9x')]", "\xc3\xa9");
    expect_str("[last('x\xf0\x9f\x98\x80')]", "\xf0\x9f\x98\x80");
}

static void
test_expr_collections(void **state)
{
    (void)state;
    expect_json("[empty('')]", "true");
    expect_json("[empty(createArray())]", "true");
    expect_json("[empty(json('{}'))]", "true");
    expect_json("[empty(null())]", "true");
    expect_json("[empty(createObject('a', 1))]", "false");
    expect_json("[length(createObject('a', 1, 'b', 2))]", "2");
    expect_json("[coalesce(null(), null(), 'x', 'y')]", "\"x\"");
    expect_json("[coalesce(null())]", "null");
    expect_json("[first(createArray(1, 2))]", "1");
    expect_json("[last(createArray())]", "null");
    expect_json("[skip(createArray(1, 2, 3), 1)]", "[2,3]");
    expect_json("[take(createArray(1, 2, 3), 5)]", "[1,2,3]");
    expect_str("[take('hello', 2)]", "he");
    expect_json("[union(createArray(1, 2), createArray(2, 3))]", "[1,2,3]");
    expect_json("[union(json('{\"a\":{\"x\":1,\"y\":1},\"b\":1}'), json('{\"a\":{\"y\":2}}'))]",
                "{\"a\":{\"x\":1,\"y\":2},\"b\":1}");
    expect_json("[intersection(createArray(1, 2, 3), createArray(3, 2))]", "[2,3]");
    expect_json("[intersection(json('{\"a\":1,\"b\":2}'), json('{\"a\":1,\"b\":3}'))]",
                "{\"a\":1}");
    expect_json("[array('x')]", "[\"x\"]");
    expect_err("[createObject('a')]", SCC_EINVAL, "even number of parameters");
    expect_err("[union(createArray(), json('{}'))]", SCC_EINVAL, "all the same");
}

static void
test_expr_unknown_function(void **state)
{
    (void)state;
    expect_err("[foo('x')]", SCC_EINVAL,
               "The template function 'foo' is not valid. Please see "
               "https://aka.ms/arm-functions for usage details.");
    expect_err("[listKeys('x', '2020-01-01')]", SCC_EINVAL, "The template function 'listKeys'");
}

static void
test_expr_syntax_errors(void **state)
{
    (void)state;
    expect_err("[concat('a']", SCC_EINVAL,
               "expected token 'RightParenthesis' and actual 'EndOfData'");
    expect_err("[concat('a'))]", SCC_EINVAL, "expected token 'EndOfData'");
    expect_err("[concat('a)]", SCC_EINVAL, "string literal starting at position '7'");
    expect_err("[concat(]", SCC_EINVAL, "expected token 'Identifier'");
    expect_err("[concat('a',)]", SCC_EINVAL, "expected token 'Identifier'");
    expect_err("[]", SCC_EINVAL, "actual 'EndOfData'");
    expect_err("[  ]", SCC_EINVAL, "actual 'EndOfData'");
    expect_err("[concat]", SCC_EINVAL, "expected token 'LeftParenthesis'");
    expect_err("[concat('a') 'b']", SCC_EINVAL, "expected token 'EndOfData'");
    expect_err("[createArray(1)[0]", SCC_EINVAL, "RightSquareBracket");
    expect_err("[json('{}').]", SCC_EINVAL, "expected token 'Identifier'");
    expect_err("[concat(\"a\")]", SCC_EINVAL, "the character '\"' at position '7'");
    expect_err("[concat(1.5)]", SCC_EINVAL, "expected token 'Identifier' and actual 'Integer'");
    expect_err("[99999999999999999999]", SCC_EINVAL, "out of range");
}

static void
test_expr_error_names_expression_and_path(void **state)
{
    struct ctl_tmpl_error err;
    json_t *v = NULL;

    (void)state;
    assert_int_equal(ctl_tmpl_eval_string(NULL, "[toLower(1)]", &v, &err), SCC_EINVAL);
    assert_string_equal(err.code, "InvalidTemplate");
    assert_string_equal(err.target, "expression");
    assert_string_equal(
            err.message,
            "Deployment template validation failed: 'Unable to process template language "
            "expression '[toLower(1)]' at path 'expression': The template language function "
            "'toLower' expects its first parameter to be of type 'String'. The provided value is "
            "of type 'Integer'. Please see https://aka.ms/arm-functions for usage details.'.");
}

static void
test_expr_error_messages_stay_valid_utf8(void **state)
{
    struct ctl_tmpl_error err;
    char s[600];
    json_t *v = NULL, *msg;

    (void)state;
    /* The quoted expression is cut at 200 bytes, inside a two-byte 'é'. */
    memcpy(s, "[concat('", 9);
    memset(s + 9, 'a', 190);
    for (size_t i = 199; i < 199 + 40; i += 2)
        memcpy(s + i, "\xc3\xa9", 2);
    memcpy(s + 239, "', 1, nope())]", 15);
    assert_int_equal(ctl_tmpl_eval_string(NULL, s, &v, &err), SCC_EINVAL);
    assert_non_null(strstr(err.message, "'nope' is not valid"));
    msg = json_string(err.message);
    assert_non_null(msg);
    json_decref(msg);
}

static void
test_expr_argument_counts(void **state)
{
    (void)state;
    expect_err("[concat()]", SCC_EINVAL,
               "Unable to evaluate template language function 'concat': function requires at "
               "least 1 argument(s) while 0 were provided.");
    expect_err("[not(true(), false())]", SCC_EINVAL, "requires 1 argument(s) while 2");
    expect_err("[substring('a')]", SCC_EINVAL, "requires 2 to 3 argument(s) while 1");
    expect_err("[true(1)]", SCC_EINVAL, "requires 0 argument(s) while 1");
}

static void
test_expr_context_functions_need_a_template(void **state)
{
    (void)state;
    expect_err("[resourceGroup()]", SCC_EINVAL,
               "The template function 'resourceGroup' is not expected at this location.");
    expect_err("[parameters('x')]", SCC_EINVAL, "The template parameter 'x' is not found.");
    expect_err("[variables('x')]", SCC_EINVAL, "'variables' is not expected");
    expect_err("[reference('x')]", SCC_EINVAL, "'reference' is not expected");
    expect_err("[copyIndex()]", SCC_EINVAL, "'copyIndex' is not expected");
    expect_str("[resourceId('s', 'g', 'Microsoft.Network/virtualNetworks/subnets', 'v', 'sn')]",
               "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/"
               "subnets/sn");
    expect_str("[tenantResourceId('Microsoft.Authorization/roleDefinitions', 'r')]",
               "/providers/Microsoft.Authorization/roleDefinitions/r");
    expect_str("[subscriptionResourceId('s', 'Microsoft.Resources/resourceGroups', 'g')]",
               "/subscriptions/s/resourceGroups/g");
    expect_str("[extensionResourceId('/x/y', 'Microsoft.Authorization/locks', 'l')]",
               "/x/y/providers/Microsoft.Authorization/locks/l");
}

static void
test_expr_length_limit(void **state)
{
    size_t n = 24576 + 2;
    char *s = malloc(n + 1);

    (void)state;
    /* ['aaaa…'] with exactly 24576 characters between the brackets is fine. */
    memset(s, 'a', n);
    s[0] = '[';
    s[1] = '\'';
    s[n - 2] = '\'';
    s[n - 1] = ']';
    s[n] = '\0';
    json_decref(eval_ok(s));
    s = realloc(s, n + 2);
    memmove(s + 2, s + 1, n); /* one more 'a' */
    s[1] = '\'';
    s[2] = 'a';
    expect_err(s, SCC_ETOOBIG, "length limit exceeded. Limit: '24576' and actual: '24577'.");
    free(s);
}

static char *
nested(const char *open, const char *mid, const char *close, int depth)
{
    size_t lo = strlen(open), lm = strlen(mid), lc = strlen(close);
    char *s = malloc(3 + lm + (size_t)depth * (lo + lc)), *p = s;

    *p++ = '[';
    for (int i = 0; i < depth; i++, p += lo)
        memcpy(p, open, lo);
    memcpy(p, mid, lm);
    p += lm;
    for (int i = 0; i < depth; i++, p += lc)
        memcpy(p, close, lc);
    *p++ = ']';
    *p = '\0';
    return s;
}

static void
test_expr_deep_nesting_is_bounded(void **state)
{
    char *s;

    (void)state;
    s = nested("concat(", "'a'", ")", 60);
    expect_str(s, "a");
    free(s);
    s = nested("concat(", "'a'", ")", 65);
    expect_err(s, SCC_ETOOBIG, "nested deeper than the limit of '64' levels");
    free(s);
    /* Far past the limit: must fail fast, not overflow the stack. */
    s = nested("concat(", "'a'", ")", 3000);
    expect_err(s, SCC_ETOOBIG, "nested deeper than the limit of '64' levels");
    free(s);
    s = nested("concat(", "'a'", ")", 5000);
    expect_err(s, SCC_ETOOBIG, "length limit exceeded");
    free(s);
    s = nested("createArray(", "1", ")", 1500);
    expect_err(s, SCC_ETOOBIG, "nested deeper");
    free(s);
    s = nested("json('[1]')[", "0", "]", 80);
    expect_err(s, SCC_ETOOBIG, "nested deeper");
    free(s);
}

static void
test_expr_results_are_bounded(void **state)
{
    char *s = malloc(1000), *p = s;

    (void)state;
    /* 2^20 bytes is the string cap; padLeft past it fails cleanly. */
    expect_err("[padLeft('x', 1048577)]", SCC_ETOOBIG, "longer than the limit");
    /* json() may parse deeper than values may nest. */
    memcpy(p, "[json('", 7);
    p += 7;
    for (int i = 0; i < 130; i++)
        *p++ = '[';
    for (int i = 0; i < 130; i++)
        *p++ = ']';
    memcpy(p, "')]", 4);
    expect_err(s, SCC_ETOOBIG, "nested deeper than the limit of '128' levels");
    free(s);
}

static void
test_expr_allocation_failures_are_clean(void **state)
{
    const char *exprs[] = {
            "[format('{0}-{1}', concat('a', string(json('{\"x\":[1,2]}'))), guid('g'))]",
            "[union(json('{\"a\":{\"b\":1}}'), createObject('a', createObject('c', 2)))]",
            "[split(replace(base64('a,b,c'), 'L', ','), createArray(',', 'Y'))]",
    };

    (void)state;
    for (size_t e = 0; e < sizeof(exprs) / sizeof(exprs[0]); e++) {
        for (unsigned long n = 1;; n++) {
            struct ctl_tmpl_error err;
            json_t *v = NULL;
            int rc, failed;

            scc_mem_fail_at(n);
            rc = ctl_tmpl_eval_string(NULL, exprs[e], &v, &err);
            failed = scc_mem_failed();
            scc_mem_fail_at(0);
            if (!failed) {
                assert_int_equal(rc, 0);
                json_decref(v);
                break;
            }
            /* json() reports jansson's own failure as invalid JSON. */
            assert_true(rc == SCC_ENOMEM || rc == SCC_EINVAL || rc == 0);
            assert_true(rc == 0 ? v != NULL : v == NULL);
            json_decref(v);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_expr_literals_and_escapes),
            cmocka_unit_test(test_expr_property_access),
            cmocka_unit_test(test_expr_unique_string_vectors),
            cmocka_unit_test(test_expr_unique_string_rejects_oversized_input),
            cmocka_unit_test(test_expr_guid_is_uuid5_in_arm_namespace),
            cmocka_unit_test(test_expr_concat_and_format),
            cmocka_unit_test(test_expr_if_is_lazy),
            cmocka_unit_test(test_expr_logic_and_comparison),
            cmocka_unit_test(test_expr_conversions),
            cmocka_unit_test(test_expr_arithmetic),
            cmocka_unit_test(test_expr_strings),
            cmocka_unit_test(test_expr_utf16_positions),
            cmocka_unit_test(test_expr_collections),
            cmocka_unit_test(test_expr_unknown_function),
            cmocka_unit_test(test_expr_syntax_errors),
            cmocka_unit_test(test_expr_error_names_expression_and_path),
            cmocka_unit_test(test_expr_error_messages_stay_valid_utf8),
            cmocka_unit_test(test_expr_argument_counts),
            cmocka_unit_test(test_expr_context_functions_need_a_template),
            cmocka_unit_test(test_expr_length_limit),
            cmocka_unit_test(test_expr_deep_nesting_is_bounded),
            cmocka_unit_test(test_expr_results_are_bounded),
            cmocka_unit_test(test_expr_allocation_failures_are_clean),
    };

    return cmocka_run_group_tests(tests, json_alloc_setup, NULL);
}
