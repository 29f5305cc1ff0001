#include "mem.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Countdown to the injected failure: 0 means "off". */
static atomic_ulong fail_countdown;
static atomic_int fail_fired;

static int
should_fail(void)
{
    unsigned long n = atomic_load_explicit(&fail_countdown, memory_order_relaxed);

    if (n == 0)
        return 0;
    if (atomic_fetch_sub(&fail_countdown, 1) == 1) {
        atomic_store(&fail_fired, 1);
        return 1;
    }
    return 0;
}

void
scc_mem_fail_at(unsigned long n)
{
    atomic_store(&fail_fired, 0);
    atomic_store(&fail_countdown, n);
}

int
scc_mem_failed(void)
{
    return atomic_load(&fail_fired);
}

void *
scc_malloc(size_t n)
{
    if (should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *
scc_malloc_aligned(size_t align, size_t n)
{
    void *p = NULL;

    if (should_fail())
        return NULL;
    return posix_memalign(&p, align, n ? n : 1) == 0 ? p : NULL;
}

void *
scc_calloc(size_t nmemb, size_t size)
{
    if (should_fail())
        return NULL;
    return calloc(nmemb ? nmemb : 1, size ? size : 1);
}

void *
scc_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

void
scc_free(void *p)
{
    free(p);
}

char *
scc_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = scc_malloc(len + 1);

    if (d == NULL)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *
scc_strdup(const char *s)
{
    return scc_strndup(s, strlen(s));
}

void
scc_mem_tune(void)
{
    /* Fixed thresholds also switch off glibc's dynamic mmap threshold,
     * whose first guesses cost a page fault per page of every buffer. */
    (void)mallopt(M_MMAP_THRESHOLD, 8 << 20);
    (void)mallopt(M_TRIM_THRESHOLD, 32 << 20);
}
