/*
 * h2body.h - JSON request bodies and JSON answers on HTTP/2 streams, the
 * same way for every server in scc (agent, relay admin, control plane):
 * bounded size, a deadline for the body to arrive, and errors in the one
 * shape clients know: {"error": {"code": "...", "message": "..."}}.
 */
#ifndef SCC_TUNNEL_H2BODY_H
#define SCC_TUNNEL_H2BODY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct scc_h2_stream;

/*
 * Called once: with the parsed object, or with body NULL after the stream
 * was already answered (413, 400) or closed.  The callback answers s when
 * body is non-NULL; body is borrowed.
 */
typedef void (*scc_h2_body_cb)(struct scc_h2_stream *s, json_t *body, void *arg);

/* scc_h2_body_collect - take over s's callbacks until its body is in. */
int scc_h2_body_collect(struct event_base *base, struct scc_h2_stream *s, size_t max,
                        uint32_t timeout_ms, scc_h2_body_cb cb, void *arg);

/* scc_h2_reply_json - answer with status and o (takes the reference). */
void scc_h2_reply_json(struct scc_h2_stream *s, int status, json_t *o);

/* scc_h2_reply_error - answer {"error":{"code","message"}}. */
void scc_h2_reply_error(struct scc_h2_stream *s, int status, const char *code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

#endif /* SCC_TUNNEL_H2BODY_H */
