/*
 * file.h - small whole-file helpers.  Writes are atomic (temporary file,
 * fsync, rename) so that a crash or kill -9 never leaves half a file.
 */
#ifndef SCC_COMMON_FILE_H
#define SCC_COMMON_FILE_H

#include <stddef.h>

struct scc_buf;

/* scc_file_write_atomic - write data to path with mode.  0 or -errno. */
int scc_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode);

/* scc_file_read - whole file (at most max bytes) appended to b.
 * -errno, SCC_ETOOBIG past max. */
int scc_file_read(const char *path, size_t max, struct scc_buf *b);

/* scc_dir_ensure - mkdir path with mode unless it exists as a directory,
 * creating missing parents (0755) first. */
int scc_dir_ensure(const char *path, unsigned mode);

#endif /* SCC_COMMON_FILE_H */
