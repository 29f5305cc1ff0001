#include "cli.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/mem.h"
#include "tunnel/h2io.h"
#include "tunnel/sock.h"
#include "tunnel/tio.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLY_MAX (16u << 20)

struct cli_conn {
    struct scc_h2io *io;
    bool closed;
};

struct req {
    struct cli *c;
    struct scc_buf body;
    int status;
    cli_reply_cb cb;
    void *arg;
};

static void
on_conn_close(struct scc_h2io *io, int rc, void *arg)
{
    struct cli *c = arg;

    (void)io, (void)rc;
    if (c->conn) {
        c->conn->io = NULL;
        c->conn->closed = true;
    }
}

int
cli_connect(struct cli *c)
{
    static const struct scc_h2_cbs cbs = {0};
    struct scc_h2io_cfg iocfg = {0, 0};
    struct scc_h2_settings set;
    struct scc_tio *tio = NULL;
    int fd, rc;

    if (c->conn && c->conn->io)
        return 0;
    if (c->conn == NULL && (c->conn = scc_calloc(1, sizeof(*c->conn))) == NULL)
        return SCC_ENOMEM;
    c->conn->closed = false;
    if ((rc = scc_sock_connect_unix(c->admin_socket, &fd)) < 0) {
        if (c->quiet_connect)
            return rc;
        fprintf(stderr,
                "sccctl: cannot reach sccd at %s: %s (is sccd running with this "
                "--data-dir?)\n",
                c->admin_socket, scc_strerror(rc));
        return rc;
    }
    if ((rc = scc_tio_new(c->base, fd, &tio)) < 0)
        return rc;
    scc_h2_settings_default(&set);
    return scc_h2io_new(c->base, tio, SCC_H2_CLIENT, &set, &cbs, &iocfg, on_conn_close, c,
                        &c->conn->io);
}

struct scc_h2 *
cli_session(struct cli *c)
{
    return c->conn && c->conn->io ? scc_h2io_session(c->conn->io) : NULL;
}

bool
cli_connected(const struct cli *c)
{
    return c->conn && c->conn->io && !c->conn->closed;
}

void
cli_disconnect(struct cli *c)
{
    if (c->conn == NULL)
        return;
    if (c->conn->io) {
        scc_h2io_detach(c->conn->io);
        scc_h2io_close(c->conn->io, 0);
        event_base_loop(c->base, EVLOOP_NONBLOCK);
    }
    scc_free(c->conn);
    c->conn = NULL;
}

static void
req_on_head(struct scc_h2_stream *s, void *arg)
{
    ((struct req *)arg)->status = scc_h2_stream_head(s)->status;
}

static void
req_on_data(struct scc_h2_stream *s, const uint8_t *data, size_t len, void *arg)
{
    struct req *r = arg;

    (void)scc_buf_put(&r->body, data, len); /* past the cap: truncated */
    scc_h2_stream_consume(s, len);
}

static void
req_on_close(struct scc_h2_stream *s, uint32_t code, void *arg)
{
    struct req *r = arg;
    json_t *o = NULL;

    (void)s;
    if (r->body.len)
        (void)scc_json_parse(r->body.data, r->body.len, REPLY_MAX, &o, NULL, 0);
    if (r->cb)
        r->cb(r->c, code == 0 || r->status ? r->status : 0, o, scc_buf_str(&r->body), r->arg);
    json_decref(o);
    scc_buf_fini(&r->body);
    scc_free(r);
}

int
cli_request(struct cli *c, const char *method, const char *path, const char *node,
            const json_t *body, cli_reply_cb cb, void *arg)
{
    static const struct scc_h2_stream_cbs cbs = {
            .on_head = req_on_head, .on_data = req_on_data, .on_close = req_on_close};
    struct scc_h2_hdr hdrs[2] = {{"content-type", "application/json"}, {"scc-node", node}};
    struct scc_h2_stream *s = NULL;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct req *r = NULL;
    int rc;

    if ((rc = cli_connect(c)) < 0)
        goto out;
    rc = SCC_ENOMEM;
    if ((body && text == NULL) || (r = scc_calloc(1, sizeof(*r))) == NULL)
        goto out;
    r->c = c;
    r->cb = cb;
    r->arg = arg;
    scc_buf_init(&r->body, REPLY_MAX);
    rc = scc_h2_request(cli_session(c), method, path, "sccd", hdrs, node ? 2 : 1, text == NULL,
                        &cbs, r, &s);
    if (rc < 0)
        goto out;
    r = NULL; /* req_on_close frees it */
    if (text && (rc = scc_h2_stream_write(s, text, strlen(text))) == 0)
        rc = scc_h2_stream_end(s);
out:
    if (r) {
        scc_buf_fini(&r->body);
        scc_free(r);
    }
    free(text);
    return rc;
}

struct call {
    bool done;
    int status;
    json_t *body;
};

static void
call_done(struct cli *c, int status, json_t *body, const char *raw, void *arg)
{
    struct call *k = arg;

    (void)c, (void)raw;
    k->done = true;
    k->status = status;
    k->body = json_incref(body);
}

int
cli_call(struct cli *c, const char *method, const char *path, const char *node, const json_t *req,
         json_t **body)
{
    struct call k = {false, 0, NULL};

    *body = NULL;
    if (cli_request(c, method, path, node, req, call_done, &k) < 0)
        return -1; /* cli_connect said why */
    while (!k.done && cli_connected(c))
        event_base_loop(c->base, EVLOOP_ONCE);
    while (!k.done) /* the connection dropped: let the stream close */
        if (event_base_loop(c->base, EVLOOP_ONCE) != 0)
            break;
    *body = k.body;
    return k.status;
}

int
cli_status_exit(int status)
{
    if (status <= 0 || status == 502 || status == 503 || status == 504)
        return CLI_UNAVAILABLE;
    if (status == 404)
        return CLI_NOT_FOUND;
    if (status == 401 || status == 403)
        return CLI_REFUSED;
    if (status == 400 || status == 409 || status == 413 || status == 422)
        return CLI_ERR;
    return status >= 200 && status < 300 ? CLI_OK : CLI_ERR;
}

int
cli_print_error(int status, const json_t *body, const char *what)
{
    const json_t *err = json_object_get(body, "error");
    const char *msg = json_string_value(json_object_get(err, "message"));
    const char *code = json_string_value(json_object_get(err, "code"));

    if (status < 0)
        return CLI_UNAVAILABLE;
    if (status == 0)
        fprintf(stderr, "sccctl: %s: the connection to sccd was lost\n", what);
    else if (msg)
        fprintf(stderr, "sccctl: %s: %s (%s, HTTP %d)\n", what, msg, code ? code : "error", status);
    else
        fprintf(stderr, "sccctl: %s: HTTP %d\n", what, status);
    return cli_status_exit(status);
}

int
cli_resolve_node(struct cli *c, const char *name, char *out, size_t cap)
{
    json_t *body = NULL, *nodes, *n;
    const char *found = NULL;
    size_t i, matches = 0;
    int status;

    status = cli_call(c, "GET", "/v1/nodes", NULL, NULL, &body);
    if (status != 200) {
        int rc = cli_print_error(status, body, "listing nodes");

        json_decref(body);
        return -rc;
    }
    nodes = json_object_get(body, "nodes");
    json_array_foreach(nodes, i, n)
    {
        const char *full = json_string_value(json_object_get(n, "name"));
        const char *node = json_string_value(json_object_get(n, "node"));
        const char *slash = full ? strchr(full, '/') : NULL;

        if ((full && strcmp(full, name) == 0) || (node && strcmp(node, name) == 0) ||
            (slash && strcmp(slash + 1, name) == 0)) {
            found = full;
            matches++;
        }
    }
    if (matches == 1)
        snprintf(out, cap, "%s", found);
    else
        fprintf(stderr, "sccctl: %s '%s'%s\n",
                matches ? "more than one connected node is called" : "no connected node named",
                name, matches ? ": give ws/cluster/node" : " (see sccctl nodes)");
    json_decref(body);
    return matches == 1 ? 0 : -CLI_NOT_FOUND;
}

void
cli_print_json(const json_t *o)
{
    char *text = json_dumps(o, JSON_INDENT(2));

    if (text)
        printf("%s\n", text);
    free(text);
}
