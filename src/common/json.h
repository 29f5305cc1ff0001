/*
 * json.h - bounded parsing and typed access on top of jansson.
 *
 * Every JSON document that arrives from a peer goes through scc_json_parse,
 * which refuses oversize input, trailing bytes and NUL bytes before jansson
 * sees it, and reports where the input went wrong.
 */
#ifndef SCC_COMMON_JSON_H
#define SCC_COMMON_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/*
 * scc_json_parse - parse exactly one JSON value from buf[0..len).
 * @max_len: inputs longer than this fail with SCC_ETOOBIG.
 * @err: optional, receives a one-line reason ("line 1 column 5: ...").
 * Returns 0 and an owned *out, SCC_ETOOBIG, or SCC_EJSON.
 */
int scc_json_parse(const void *buf, size_t len, size_t max_len, json_t **out, char *err,
                   size_t err_cap);

/* scc_json_parse_object - scc_json_parse, then SCC_EJSON unless an object. */
int scc_json_parse_object(const void *buf, size_t len, size_t max_len, json_t **out, char *err,
                          size_t err_cap);

/*
 * Typed getters: return 0 and the value, SCC_ENOTFOUND if the key is
 * absent (or null), SCC_EINVAL if it has another type.  Strings are
 * borrowed from obj.
 */
int scc_json_get_str(const json_t *obj, const char *key, const char **out);
int scc_json_get_bool(const json_t *obj, const char *key, bool *out);
int scc_json_get_int(const json_t *obj, const char *key, int64_t min, int64_t max, int64_t *out);

/* scc_json_iget - object member by case-insensitive key (ARM semantics:
 * an exact match wins over a case-insensitive one).  Borrowed, or NULL. */
json_t *scc_json_iget(const json_t *obj, const char *key);

/* scc_json_dump - compact serialisation appended to b (respecting b->max). */
int scc_json_dump(const json_t *v, struct scc_buf *b);

/* scc_json_dumps - compact serialisation, returns owned string or NULL. */
char *scc_json_dumps(const json_t *v);

#endif /* SCC_COMMON_JSON_H */
