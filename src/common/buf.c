#include "buf.h"

#include "err.h"
#include "mem.h"

#include <stdio.h>
#include <string.h>

void
scc_buf_init(struct scc_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void
scc_buf_fini(struct scc_buf *b)
{
    scc_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void
scc_buf_reset(struct scc_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int
scc_buf_reserve(struct scc_buf *b, size_t n)
{
    size_t want, ncap;
    uint8_t *p;

    if (n > b->max || b->len > b->max - n)
        return SCC_ETOOBIG;
    want = b->len + n + 1; /* room for the terminating NUL */
    if (want <= b->cap)
        return 0;
    ncap = b->cap ? b->cap : 64;
    while (ncap < want)
        ncap *= 2;
    if (ncap > b->max + 1)
        ncap = b->max + 1;
    if ((p = scc_realloc(b->data, ncap)) == NULL)
        return SCC_ENOMEM;
    b->data = p;
    b->cap = ncap;
    return 0;
}

int
scc_buf_put(struct scc_buf *b, const void *p, size_t n)
{
    int rc;

    if ((rc = scc_buf_reserve(b, n)) < 0)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int
scc_buf_put_str(struct scc_buf *b, const char *s)
{
    return scc_buf_put(b, s, strlen(s));
}

int
scc_buf_vprintf(struct scc_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n, rc;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return SCC_EINVAL;
    if ((rc = scc_buf_reserve(b, (size_t)n)) < 0)
        return rc;
    (void)vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int
scc_buf_printf(struct scc_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = scc_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void
scc_buf_consume(struct scc_buf *b, size_t n)
{
    if (n >= b->len) {
        scc_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

const char *
scc_buf_str(const struct scc_buf *b)
{
    return b->data ? (const char *)b->data : "";
}

char *
scc_buf_steal(struct scc_buf *b, size_t *len)
{
    char *p = (char *)b->data;

    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
