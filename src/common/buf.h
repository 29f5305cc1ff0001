/*
 * buf.h - a growable byte buffer with a hard maximum fixed at creation, so
 * that no peer can make it grow without bound.  Always NUL-terminated past
 * len, which makes it usable as a string builder too.
 */
#ifndef SCC_COMMON_BUF_H
#define SCC_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct scc_buf {
    uint8_t *data; /* owned; NULL until the first write */
    size_t len;
    size_t cap;
    size_t max; /* hard limit on len */
};

/* scc_buf_init - empty buffer that may hold at most max bytes. */
void scc_buf_init(struct scc_buf *b, size_t max);
void scc_buf_fini(struct scc_buf *b);
void scc_buf_reset(struct scc_buf *b);

/* scc_buf_reserve - room for n more bytes.  SCC_ETOOBIG past max, SCC_ENOMEM. */
int scc_buf_reserve(struct scc_buf *b, size_t n);

/* scc_buf_put - append n bytes.  Returns 0, SCC_ETOOBIG or SCC_ENOMEM;
 * on error the buffer is unchanged. */
int scc_buf_put(struct scc_buf *b, const void *p, size_t n);
int scc_buf_put_str(struct scc_buf *b, const char *s);
int scc_buf_printf(struct scc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int scc_buf_vprintf(struct scc_buf *b, const char *fmt, va_list ap)
        __attribute__((format(printf, 2, 0)));

/* scc_buf_consume - drop the first n bytes (n <= len). */
void scc_buf_consume(struct scc_buf *b, size_t n);

/* scc_buf_str - the contents as a C string ("" when empty); borrowed. */
const char *scc_buf_str(const struct scc_buf *b);

/* scc_buf_steal - hand the data to the caller (NUL-terminated, owned) and
 * reset b.  Returns NULL for an empty buffer that never allocated. */
char *scc_buf_steal(struct scc_buf *b, size_t *len);

#endif /* SCC_COMMON_BUF_H */
