/*
 * test_json.h - JSON literals in unit tests, written with ` for JSON's
 * double quote so that they read without escapes.  Include after test.h.
 */
#ifndef SCC_TESTS_TEST_JSON_H
#define SCC_TESTS_TEST_JSON_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *
J(const char *text)
{
    char *d = strdup(text);
    json_error_t e;
    json_t *v;

    assert_non_null(d);
    for (char *p = d; *p != '\0'; p++) {
        if (*p == '`')
            *p = '"';
    }
    v = json_loads(d, JSON_DECODE_ANY, &e);
    if (v == NULL)
        fprintf(stderr, "bad test JSON: %s: %s\n", e.text, d);
    assert_non_null(v);
    free(d);
    return v;
}

#endif /* SCC_TESTS_TEST_JSON_H */
