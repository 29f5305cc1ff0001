/*
 * agent_serve.h - the requests a node answers over its tunnel.
 *
 *   GET    /v1/status                      node identity, uptime, load, links
 *   GET    /v1/runs                        every run's status
 *   POST   /v1/runs                        start a run (JSON spec, see agent_run.h)
 *   GET    /v1/runs/{id}                   one run's status and exit code
 *   GET    /v1/runs/{id}/output?...        its output from an offset (agent_output.c)
 *   POST   /v1/runs/{id}/cancel            SIGTERM then SIGKILL to its process group
 *   DELETE /v1/runs/{id}                   forget a finished run and its spool
 *   CONNECT host:port                      a TCP stream to a node-local service
 */
#ifndef SCC_AGENT_AGENT_SERVE_H
#define SCC_AGENT_AGENT_SERVE_H

#include <stddef.h>

struct agent;
struct agent_run;
struct scc_h2_stream;

#define AGENT_BODY_MAX (64u << 10)

/* agent_query_get - value of key in "a=1&b=2" (no decoding: our keys and
 * values are plain).  0, SCC_ENOTFOUND (out untouched), SCC_ETRUNC. */
int agent_query_get(const char *query, const char *key, char *out, size_t cap);

void agent_output_get(struct agent *a, struct scc_h2_stream *s, struct agent_run *run,
                      const char *query);
void agent_connect_start(struct agent *a, struct scc_h2_stream *s);

#endif /* SCC_AGENT_AGENT_SERVE_H */
