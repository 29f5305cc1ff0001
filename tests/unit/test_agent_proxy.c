/* The HTTP CONNECT proxy client's pure parts. */
#include "test.h"

#include <string.h>

#include "agent/agent_proxy.h"
#include "common/err.h"

static void
test_proxy_url_forms(void **state)
{
    struct agent_proxy p;

    (void)state;
    assert_int_equal(agent_proxy_parse_url("http://10.0.0.1:3128", &p), 0);
    assert_string_equal(p.host, "10.0.0.1");
    assert_int_equal(p.port, 3128);
    assert_string_equal(p.auth, "");
    assert_int_equal(agent_proxy_parse_url("proxy.corp:8080/", &p), 0);
    assert_string_equal(p.host, "proxy.corp");
    /* user:pass, with a percent escape: "s3cr%21t" is "s3cr!t". */
    assert_int_equal(agent_proxy_parse_url("http://scc:s3cr%21t@[::1]:3128", &p), 0);
    assert_string_equal(p.host, "::1");
    assert_string_equal(p.auth, "c2NjOnMzY3IhdA==");
    assert_int_equal(agent_proxy_parse_url("https://p:1", &p), SCC_EINVAL);
    assert_int_equal(agent_proxy_parse_url("http://p", &p), SCC_EINVAL);
    assert_int_equal(agent_proxy_parse_url("http://u:%zz@p:1", &p), SCC_EINVAL);
    assert_int_equal(agent_proxy_parse_url("http://nocolon@p:1", &p), SCC_EINVAL);
    assert_int_equal(agent_proxy_parse_url("http://p:1/path", &p), SCC_EINVAL);
}

static void
test_no_proxy_matching(void **state)
{
    (void)state;
    assert_true(agent_proxy_bypass("example.com", "relay.example.com"));
    assert_true(agent_proxy_bypass(".example.com", "relay.example.com"));
    assert_true(agent_proxy_bypass("example.com", "EXAMPLE.com"));
    assert_false(agent_proxy_bypass("example.com", "badexample.com"));
    assert_true(agent_proxy_bypass("a, 127.0.0.2 ,b", "127.0.0.2"));
    assert_true(agent_proxy_bypass("*", "anything"));
    assert_false(agent_proxy_bypass("", "x"));
    assert_false(agent_proxy_bypass(NULL, "x"));
}

static void
test_connect_request(void **state)
{
    struct agent_proxy p;
    char out[512];
    size_t n;

    (void)state;
    assert_int_equal(agent_proxy_parse_url("http://u:p@h:1", &p), 0);
    assert_int_equal(agent_proxy_request(&p, "relay", 443, out, sizeof(out), &n), 0);
    assert_int_equal(strlen(out), n);
    assert_non_null(strstr(out, "CONNECT relay:443 HTTP/1.1\r\nHost: relay:443\r\n"));
    assert_non_null(strstr(out, "Proxy-Authorization: Basic dTpw\r\n"));
    assert_int_equal(memcmp(out + n - 4, "\r\n\r\n", 4), 0);
    assert_int_equal(agent_proxy_request(&p, "::1", 443, out, sizeof(out), &n), 0);
    assert_non_null(strstr(out, "CONNECT [::1]:443 "));
    assert_int_equal(agent_proxy_request(&p, "relay", 443, out, 20, &n), SCC_ETRUNC);
}

static void
test_response_head_parsing(void **state)
{
    const char *ok = "HTTP/1.1 200 Connection established\r\nVia: x\r\n\r\n";
    const char *auth = "HTTP/1.0 407 Proxy Authentication Required\r\n\r\n";
    char big[AGENT_PROXY_HEAD_MAX + 10];
    int status = 0;
    size_t head = 0;

    (void)state;
    assert_int_equal(agent_proxy_parse_response(ok, 10, &status, &head), 0);
    assert_int_equal(agent_proxy_parse_response(ok, strlen(ok), &status, &head), 1);
    assert_int_equal(status, 200);
    assert_int_equal(head, strlen(ok));
    assert_int_equal(agent_proxy_parse_response(auth, strlen(auth), &status, &head), 1);
    assert_int_equal(status, 407);
    assert_int_equal(agent_proxy_parse_response("HTTP/2 200 x\r\n\r\n", 16, &status, &head),
                     SCC_EPROTO);
    assert_int_equal(agent_proxy_parse_response("SSH-2.0-x\r\n\r\n", 13, &status, &head),
                     SCC_EPROTO);
    assert_int_equal(agent_proxy_parse_response("HTTP/1.1 2x0 no\r\n\r\n", 19, &status, &head),
                     SCC_EPROTO);
    memset(big, 'a', sizeof(big));
    assert_int_equal(agent_proxy_parse_response(big, sizeof(big), &status, &head), SCC_EPROTO);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_proxy_url_forms),
            cmocka_unit_test(test_no_proxy_matching),
            cmocka_unit_test(test_connect_request),
            cmocka_unit_test(test_response_head_parsing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
