#include "map.h"

#include "err.h"
#include "mem.h"

#include <stdint.h>
#include <string.h>

struct entry {
    struct entry *next;
    uint64_t hash;
    void *value;
    char key[]; /* NUL-terminated */
};

struct scc_map {
    struct entry **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
};

static uint64_t
fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;

    while (*s) {
        h ^= (uint8_t)*s++;
        h *= 1099511628211ull;
    }
    return h;
}

int
scc_map_new(struct scc_map **out)
{
    struct scc_map *m = scc_calloc(1, sizeof(*m));

    *out = NULL;
    if (m == NULL || (m->buckets = scc_calloc(16, sizeof(*m->buckets))) == NULL) {
        scc_free(m);
        return SCC_ENOMEM;
    }
    m->nbuckets = 16;
    *out = m;
    return 0;
}

void
scc_map_free(struct scc_map *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct entry *e = m->buckets[i], *next;

        for (; e; e = next) {
            next = e->next;
            scc_free(e);
        }
    }
    scc_free(m->buckets);
    scc_free(m);
}

static struct entry **
slot(const struct scc_map *m, const char *key, uint64_t h)
{
    struct entry **pp = &m->buckets[h & (m->nbuckets - 1)];

    for (; *pp; pp = &(*pp)->next) {
        if ((*pp)->hash == h && strcmp((*pp)->key, key) == 0)
            break;
    }
    return pp;
}

/* Doubling keeps chains short; failure to grow only costs speed. */
static void
grow(struct scc_map *m)
{
    size_t n = m->nbuckets * 2;
    struct entry **b = scc_calloc(n, sizeof(*b));

    if (b == NULL)
        return;
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct entry *e = m->buckets[i], *next;

        for (; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    scc_free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
}

int
scc_map_put(struct scc_map *m, const char *key, void *value, void **old)
{
    uint64_t h = fnv1a(key);
    struct entry **pp = slot(m, key, h), *e;
    size_t klen = strlen(key);

    if (old)
        *old = NULL;
    if (*pp) {
        if (old)
            *old = (*pp)->value;
        (*pp)->value = value;
        return 0;
    }
    if ((e = scc_malloc(sizeof(*e) + klen + 1)) == NULL)
        return SCC_ENOMEM;
    e->next = NULL;
    e->hash = h;
    e->value = value;
    memcpy(e->key, key, klen + 1);
    *pp = e;
    if (++m->count > m->nbuckets)
        grow(m);
    return 0;
}

void *
scc_map_get(const struct scc_map *m, const char *key)
{
    struct entry *e = *slot(m, key, fnv1a(key));

    return e ? e->value : NULL;
}

void *
scc_map_del(struct scc_map *m, const char *key)
{
    struct entry **pp = slot(m, key, fnv1a(key)), *e = *pp;
    void *v;

    if (e == NULL)
        return NULL;
    *pp = e->next;
    v = e->value;
    scc_free(e);
    m->count--;
    return v;
}

size_t
scc_map_count(const struct scc_map *m)
{
    return m->count;
}

int
scc_map_each(const struct scc_map *m, int (*fn)(const char *key, void *value, void *arg), void *arg)
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        for (struct entry *e = m->buckets[i]; e; e = e->next) {
            int rc = fn(e->key, e->value, arg);

            if (rc)
                return rc;
        }
    }
    return 0;
}
