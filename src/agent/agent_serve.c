#include "agent_serve.h"

#include "agent.h"
#include "agent_enroll.h"
#include "agent_link.h"
#include "agent_run.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/mem.h"
#include "common/time.h"
#include "tunnel/h2body.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
agent_query_get(const char *query, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);
    const char *p = query;

    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);

        if (len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            size_t vlen = len - klen - 1;

            if (vlen >= cap)
                return SCC_ETRUNC;
            memcpy(out, p + klen + 1, vlen);
            out[vlen] = '\0';
            return 0;
        }
        p = amp ? amp + 1 : NULL;
    }
    return SCC_ENOTFOUND;
}

/* ---- handlers ---- */

static void
status_get(struct agent *a, struct scc_h2_stream *s)
{
    struct scc_buf links;
    double load[3] = {0, 0, 0};
    json_t *o, *jl = NULL;

    scc_buf_init(&links, 1u << 16);
    (void)scc_buf_put_str(&links, "[");
    for (size_t i = 0; i < a->nlinks; i++) {
        if (i)
            (void)scc_buf_put_str(&links, ",");
        (void)agent_link_status(a->links[i], &links);
    }
    (void)scc_buf_put_str(&links, "]");
    jl = json_loads(scc_buf_str(&links), 0, NULL);
    (void)getloadavg(load, 3);
    o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:[f,f,f], s:o*}", "identity",
                  a->ident_uri, "workspace", a->ident.ws, "cluster", a->ident.cluster, "node",
                  a->ident.node, "version", SCC_VERSION, "uptime_seconds",
                  (json_int_t)((scc_time_mono_ms() - a->started_ms) / 1000), "runs_active",
                  (json_int_t)agent_runs_active(a->runs), "runs_total",
                  (json_int_t)agent_runs_total(a->runs), "load", load[0], load[1], load[2], "links",
                  jl);
    scc_buf_fini(&links);
    scc_h2_reply_json(s, 200, o);
}

static void
run_created(struct scc_h2_stream *s, json_t *spec, void *arg)
{
    struct agent *a = arg;
    struct agent_run *run = NULL;
    char err[512] = "";
    bool created = false;
    int status = 500;

    if (spec == NULL)
        return; /* already answered, or the stream is gone */
    if (agent_run_start(a->runs, spec, &run, &created, &status, err, sizeof(err)) < 0) {
        scc_h2_reply_error(s, status,
                           status == 429   ? "TooManyRuns"
                           : status == 422 ? "CannotExecute"
                           : status == 400 ? "InvalidRunSpec"
                                           : "InternalError",
                           "%s", err[0] ? err : "run could not be started");
        return;
    }
    scc_h2_reply_json(s, created ? 201 : 200, agent_run_json(run));
}

static void
run_route(struct agent *a, struct scc_h2_stream *s, const char *method, const char *rest,
          const char *query)
{
    char id[AGENT_RUN_ID_MAX + 1];
    const char *slash = strchr(rest, '/');
    size_t idlen = slash ? (size_t)(slash - rest) : strlen(rest);
    const char *sub = slash ? slash + 1 : "";
    struct agent_run *run;

    if (idlen == 0 || idlen > AGENT_RUN_ID_MAX) {
        scc_h2_reply_error(s, 404, "NotFound", "no such run");
        return;
    }
    memcpy(id, rest, idlen);
    id[idlen] = '\0';
    if ((run = agent_run_find(a->runs, id)) == NULL) {
        scc_h2_reply_error(s, 404, "RunNotFound", "run '%s' does not exist on this node", id);
        return;
    }
    if (strcmp(method, "GET") == 0 && *sub == '\0')
        scc_h2_reply_json(s, 200, agent_run_json(run));
    else if (strcmp(method, "GET") == 0 && strcmp(sub, "output") == 0)
        agent_output_get(a, s, run, query);
    else if (strcmp(method, "POST") == 0 && strcmp(sub, "cancel") == 0) {
        (void)agent_run_cancel(run);
        scc_h2_reply_json(s, 202, agent_run_json(run));
    } else if (strcmp(method, "DELETE") == 0 && *sub == '\0') {
        if (agent_run_delete(a->runs, run) == SCC_EBUSY)
            scc_h2_reply_error(s, 409, "RunActive", "run '%s' is still running; cancel it first",
                               id);
        else
            scc_h2_respond(s, 204, NULL, 0, true);
    } else
        scc_h2_reply_error(s, 405, "MethodNotAllowed", "%s is not supported here", method);
}

static void
cert_put(struct scc_h2_stream *s, json_t *body, void *arg)
{
    struct agent *a = arg;
    const char *pem = NULL;
    char err[256];

    if (body == NULL)
        return; /* already answered, or the stream is gone */
    if (scc_json_get_str(body, "certificate", &pem) < 0) {
        scc_h2_reply_error(s, 400, "InvalidCertificate", "the body needs a \"certificate\"");
        return;
    }
    if (agent_cert_renewed(a, pem, err, sizeof(err)) < 0) {
        scc_log_warn(&a->log, "renewed certificate refused: %s", err);
        scc_h2_reply_error(s, 400, "InvalidCertificate", "%s", err);
        return;
    }
    scc_h2_reply_json(s, 200, json_pack("{s:s}", "identity", a->ident_uri));
}

static void
route(struct agent *a, struct scc_h2_stream *s, const char *method, const char *path,
      const char *query)
{
    if (strcmp(path, "/v1/status") == 0) {
        if (strcmp(method, "GET") == 0)
            status_get(a, s);
        else
            scc_h2_reply_error(s, 405, "MethodNotAllowed", "use GET");
    } else if (strcmp(path, "/v1/runs") == 0) {
        if (strcmp(method, "POST") == 0) {
            if (scc_h2_body_collect(a->base, s, AGENT_BODY_MAX, a->cfg->request_timeout_ms,
                                    run_created, a) < 0)
                scc_h2_stream_reset(s, 2);
        } else if (strcmp(method, "GET") == 0)
            scc_h2_reply_json(s, 200, json_pack("{s:o}", "runs", agent_runs_list(a->runs)));
        else
            scc_h2_reply_error(s, 405, "MethodNotAllowed", "use GET or POST");
    } else if (strncmp(path, "/v1/runs/", 9) == 0) {
        run_route(a, s, method, path + 9, query);
    } else if (strcmp(path, "/v1/certificate") == 0) {
        if (strcmp(method, "PUT") != 0)
            scc_h2_reply_error(s, 405, "MethodNotAllowed", "use PUT");
        else if (scc_h2_body_collect(a->base, s, AGENT_BODY_MAX, a->cfg->request_timeout_ms,
                                     cert_put, a) < 0)
            scc_h2_stream_reset(s, 2);
    } else {
        scc_h2_reply_error(s, 404, "NotFound", "no route for %s %.200s", method, path);
    }
}

void
agent_serve_request(struct scc_h2 *h2, struct scc_h2_stream *s, void *arg)
{
    struct agent *a = arg;
    const struct scc_h2_head *h = scc_h2_stream_head(s);
    char path[1024];
    const char *q;
    size_t plen;

    (void)h2;
    if (strcmp(h->method, "CONNECT") == 0) {
        agent_connect_start(a, s);
        return;
    }
    q = strchr(h->path, '?');
    plen = q ? (size_t)(q - h->path) : strlen(h->path);
    if (plen >= sizeof(path)) {
        scc_h2_reply_error(s, 414, "UriTooLong", "paths are limited to %zu bytes", sizeof(path));
        return;
    }
    memcpy(path, h->path, plen);
    path[plen] = '\0';
    scc_log_debug(&a->log, "stream=%d %s %s", scc_h2_stream_id(s), h->method, h->path);
    route(a, s, h->method, path, q ? q + 1 : "");
}
