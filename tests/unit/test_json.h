/*
 * test_json.h - JSON in unit tests: literals written with ` for JSON's
 * double quote so that they read without escapes, and the group setup
 * that lets failure injection reach jansson.  Include after test.h.
 */
#ifndef SCC_TESTS_TEST_JSON_H
#define SCC_TESTS_TEST_JSON_H

#include "common/mem.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline json_t *
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

/* A cmocka group setup: jansson allocates through scc_malloc, so that
 * scc_mem_fail_at reaches it too. */
static inline int
json_alloc_setup(void **state)
{
    (void)state;
    json_set_alloc_funcs(scc_malloc, scc_free);
    return 0;
}

#endif /* SCC_TESTS_TEST_JSON_H */
