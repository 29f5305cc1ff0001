/*
 * cputune.h - start-up tuning of the C library for the processor we run on.
 */
#ifndef SCC_COMMON_CPUTUNE_H
#define SCC_COMMON_CPUTUNE_H

/*
 * scc_cputune_apply - call first thing in main with main's argv.  Where
 * glibc's memcpy is slow for our buffers (see cputune.c), runs the program
 * again with the fix; the second start returns 0 at once.  0 when nothing
 * was needed, <0 when the re-run failed (the caller goes on, slower).
 */
int scc_cputune_apply(char **argv);

#endif /* SCC_COMMON_CPUTUNE_H */
