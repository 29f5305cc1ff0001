/*
 * map.h - a string-keyed hash map (chained, FNV-1a, doubling at load 1).
 * Keys are copied; values are borrowed pointers owned by the caller.
 */
#ifndef SCC_COMMON_MAP_H
#define SCC_COMMON_MAP_H

#include <stddef.h>

struct scc_map;

int scc_map_new(struct scc_map **out);
void scc_map_free(struct scc_map *m); /* does not free values */

/* scc_map_put - insert or replace; the previous value (or NULL) goes to *old. */
int scc_map_put(struct scc_map *m, const char *key, void *value, void **old);
void *scc_map_get(const struct scc_map *m, const char *key);
/* scc_map_del - remove key; returns its value or NULL. */
void *scc_map_del(struct scc_map *m, const char *key);
size_t scc_map_count(const struct scc_map *m);

/* scc_map_each - call fn for every entry until it returns non-zero (which
 * is returned).  fn must not modify the map. */
int scc_map_each(const struct scc_map *m, int (*fn)(const char *key, void *value, void *arg),
                 void *arg);

#endif /* SCC_COMMON_MAP_H */
