/*
 * mem.h - the only allocator entry points of scc.
 *
 * Everything allocates through these so that tests can make allocation N
 * fail (scc_mem_fail_at) and check that every constructor and parser
 * returns SCC_ENOMEM cleanly and leaks nothing.
 */
#ifndef SCC_COMMON_MEM_H
#define SCC_COMMON_MEM_H

#include <stddef.h>

void *scc_malloc(size_t n);
/* scc_malloc_aligned - n bytes at a multiple of align (a power of two);
 * freed with scc_free. */
void *scc_malloc_aligned(size_t align, size_t n);
void *scc_calloc(size_t nmemb, size_t size);
void *scc_realloc(void *p, size_t n);
void scc_free(void *p);

/* scc_strdup / scc_strndup - returns owned copy, or NULL on failure. */
char *scc_strdup(const char *s);
char *scc_strndup(const char *s, size_t n);

/*
 * scc_mem_tune - process-wide malloc settings for daemons that move bulk
 * data through 256 KiB buffers: keep freed memory in the heap rather than
 * returning it (and faulting fresh zeroed pages back in) on every buffer.
 * Idle memory is given back explicitly with malloc_trim instead.
 */
void scc_mem_tune(void);

/*
 * scc_mem_fail_at - make the n-th allocation from now fail (n >= 1); 0
 * disables injection.  Test-only; not thread-safe with concurrent allocs.
 */
void scc_mem_fail_at(unsigned long n);

/* scc_mem_failed - true once the injected failure has fired. */
int scc_mem_failed(void);

#endif /* SCC_COMMON_MEM_H */
