/*
 * test.h - include this first in every unit test: cmocka needs these
 * standard headers before its own, in this order.
 */
#ifndef SCC_TESTS_TEST_H
#define SCC_TESTS_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#endif /* SCC_TESTS_TEST_H */
