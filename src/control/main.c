/*
 * sccd - the control plane (and, with --role relay, a relay on its own).
 *
 *   sccd --data-dir DIR
 *
 * With nothing else, this creates DIR/pki (CA and server certificate),
 * DIR/scc.db, DIR/admin.token, and runs the relay on 127.0.0.2:8443 with
 * its admin socket at DIR/sccd.sock and metrics on 127.0.0.1:9464.
 */
#include "ctl.h"
#include "ctl_api.h"
#include "ctl_dbx.h"
#include "ctl_store.h"
#include "ctl_wire.h"

#include "common/cputune.h"
#include "common/err.h"
#include "common/file.h"
#include "common/mem.h"
#include "common/tls.h"
#include "common/worker.h"
#include "relay/relay.h"
#include "tunnel/sock.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STOP_GRACE_MS 5000

struct sccd {
    struct ctl ctl;
    struct relay *relay;
    struct event *sig[2], *stop_timer;
    bool stopping;
};

static void
disconnect_node(void *arg, const struct scc_ident *id)
{
    struct sccd *d = arg;

    if (d->relay)
        relay_disconnect(d->relay, id, "certificate revoked");
}

struct open_job {
    struct ctl *c;
    int rc;
    char err[512];
};

static void
open_store(void *arg)
{
    struct open_job *j = arg;

    j->rc = ctl_store_open(j->c->paths.db, &j->c->store, j->err, sizeof(j->err));
}

static void
close_store(void *arg)
{
    struct ctl *c = arg;

    ctl_store_close(c->store);
    c->store = NULL;
}

static int
write_endpoints(struct sccd *d)
{
    const struct ctl_cfg *cfg = d->ctl.cfg;
    const char *all = relay_bound(d->relay);
    char first[64];
    json_t *o;
    char *text;
    int rc;

    /* "relay" is the first listener (what a local agent dials); "relays"
     * all of them. */
    snprintf(first, sizeof(first), "%.*s", (int)strcspn(all, ","), all);
    o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "role", cfg->role, "relay", first,
                  "relays", all, "api", cfg->api_listen, "metrics", relay_metrics_bound(d->relay),
                  "admin_socket", cfg->admin_socket, "ca", d->ctl.paths.ca_crt);
    if (o)
        ctl_wire_endpoints(&d->ctl, o); /* the provider, the public addresses */
    text = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
    rc = text ? scc_file_write_atomic(d->ctl.paths.endpoints, text, strlen(text), 0644)
              : SCC_ENOMEM;
    free(text);
    json_decref(o);
    return rc;
}

static int
start_relay(struct sccd *d)
{
    const struct ctl_cfg *cfg = d->ctl.cfg;
    struct relay_cfg rc = {.listen = cfg->relay_listen,
                           .admin_socket = cfg->admin_socket,
                           .metrics_listen = cfg->metrics_listen,
                           .cert_file = d->ctl.paths.server_crt,
                           .key_file = d->ctl.paths.server_key,
                           .control_cert_file = d->ctl.paths.control_crt,
                           .control_key_file = d->ctl.paths.control_key,
                           .ca_file = d->ctl.paths.ca_crt,
                           .trust_domain = cfg->trust_domain,
                           .keepalive_ms = cfg->keepalive_ms,
                           .dead_after_ms = cfg->dead_after_ms,
                           .handshake_timeout_ms = cfg->handshake_timeout_ms,
                           .request_timeout_ms = cfg->request_timeout_ms,
                           .max_tunnels = cfg->max_tunnels,
                           .max_handshakes = cfg->max_handshakes,
                           .retry_after_s = cfg->retry_after_s};
    struct relay_authority auth = {.enroll = ctl_nodes_enroll,
                                   .renew = ctl_nodes_renew,
                                   .is_revoked = ctl_nodes_is_revoked,
                                   .admin_request = ctl_nodes_admin_request,
                                   .arg = &d->ctl};

    return relay_new(d->ctl.base, &rc, &auth, &d->relay);
}

static void
on_stop_timer(evutil_socket_t fd, short what, void *arg)
{
    struct sccd *d = arg;

    (void)fd, (void)what;
    if (d->relay == NULL || relay_tunnel_count(d->relay) == 0)
        event_base_loopexit(d->ctl.base, NULL);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct sccd *d = arg;
    struct timeval tv = {0, 100000}, grace = {STOP_GRACE_MS / 1000, 0};

    (void)what;
    if (d->stopping) {
        event_base_loopbreak(d->ctl.base);
        return;
    }
    d->stopping = true;
    scc_log_info(&d->ctl.log, "signal %d: draining", (int)sig);
    if (d->relay)
        relay_drain(d->relay);
    d->stop_timer = event_new(d->ctl.base, -1, EV_PERSIST, on_stop_timer, d);
    if (d->stop_timer)
        event_add(d->stop_timer, &tv);
    event_base_loopexit(d->ctl.base, &grace);
}

static int
sccd_start(struct sccd *d)
{
    struct ctl *c = &d->ctl;
    struct open_job oj = {.c = c};
    int rc;

    if ((rc = ctl_paths_init(&c->paths, c->cfg->data_dir)) < 0) {
        scc_log_error(&c->log, "--data-dir path is too long for a Unix socket");
        return rc;
    }
    if ((rc = ctl_pki_init(c)) < 0 || (rc = scc_worker_new(c->base, 4096, &c->worker)) < 0)
        return rc;
    if ((rc = scc_worker_run_sync(c->worker, open_store, &oj)) < 0 || (rc = oj.rc) < 0) {
        scc_log_error(&c->log, "cannot open the state store: %s", oj.err);
        return rc;
    }
    if (strcmp(c->cfg->role, "all") == 0 && (rc = ctl_admin_token_init(c)) < 0)
        return rc;
    /* The provider first: its public addresses must exist before the
     * relay and the API bind them. */
    if ((rc = ctl_nodes_start(c)) < 0 || (rc = ctl_wire_start(c)) < 0 || (rc = start_relay(d)) < 0)
        return rc;
    if (strcmp(c->cfg->role, "all") == 0 &&
        ((rc = ctl_api_start(c)) < 0 || (rc = ctl_dbx_start(c, d->relay)) < 0))
        return rc;
    ctl_wire_run(c, relay_bound(d->relay));
    c->disconnect = disconnect_node;
    c->disconnect_arg = d;
    if ((rc = write_endpoints(d)) < 0)
        scc_log_warn_rc(&c->log, rc, "cannot write %s", c->paths.endpoints);
    return 0;
}

static void
sccd_stop(struct sccd *d)
{
    struct ctl *c = &d->ctl;

    ctl_wire_stop(c); /* a round in flight still writes through the ARM layer */
    ctl_dbx_stop(c);
    ctl_api_stop(c);
    ctl_dbx_free(c); /* after the ARM layer's last answers */
    ctl_wire_free(c);
    if (d->relay) {
        relay_free(d->relay);
        d->relay = NULL;
        /* Let deferred closes run before the base goes. */
        event_base_loop(c->base, EVLOOP_NONBLOCK);
    }
    if (c->worker) /* done callbacks still due use the revoked list */
        scc_worker_drain(c->worker);
    ctl_nodes_stop(c);
    if (c->worker) {
        if (c->store)
            (void)scc_worker_run_sync(c->worker, close_store, c);
        scc_worker_free(c->worker);
    }
    EVP_PKEY_free(c->ca_key);
    X509_free(c->ca);
    for (int i = 0; i < 2; i++)
        if (d->sig[i])
            event_free(d->sig[i]);
    if (d->stop_timer)
        event_free(d->stop_timer);
}

static int
parse_args(struct ctl_cfg *cfg, int argc, char **argv)
{
    static char defsock[4200];
    enum scc_log_level level;
    char err[512];

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: sccd --data-dir DIR [options]\n\n");
            scc_cfg_help(ctl_cfg_opts, ctl_cfg_nopts, stdout);
            exit(0);
        }
    }
    if (scc_cfg_parse(ctl_cfg_opts, ctl_cfg_nopts, cfg, argc, argv, NULL, NULL, err, sizeof(err)) <
                0 ||
        ctl_cfg_check(cfg, err, sizeof(err)) < 0 ||
        ctl_wire_cfg_resolve(cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "sccd: %s\n", err);
        return SCC_EINVAL;
    }
    if (scc_log_level_parse(cfg->log_level, &level) < 0) {
        fprintf(stderr, "sccd: --log-level: unknown level '%s'\n", cfg->log_level);
        return SCC_EINVAL;
    }
    scc_log_set_level(level);
    if (cfg->admin_socket == NULL) {
        snprintf(defsock, sizeof(defsock), "%s/%s", cfg->data_dir,
                 strcmp(cfg->role, "relay") == 0 ? "relay.sock" : "sccd.sock");
        cfg->admin_socket = scc_strdup(defsock);
    }
    return 0;
}

int
main(int argc, char **argv)
{
    struct ctl_cfg cfg;
    struct sccd d;
    int rc = 1;

    if ((rc = scc_cputune_apply(argv)) < 0)
        fprintf(stderr, "sccd: warning: running without the memcpy tuning: %s\n", scc_strerror(rc));
    memset(&cfg, 0, sizeof(cfg));
    memset(&d, 0, sizeof(d));
    if (parse_args(&cfg, argc, argv) < 0) {
        scc_cfg_free(ctl_cfg_opts, ctl_cfg_nopts, &cfg);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    scc_mem_tune();
    (void)scc_sock_raise_nofile(); /* one socket per tunnel */
    d.ctl.cfg = &cfg;
    scc_log_ctx_init(&d.ctl.log, "sccd", NULL);
    if (scc_tls_init() < 0 || evthread_use_pthreads() != 0 ||
        (d.ctl.base = event_base_new()) == NULL)
        goto out;
    if (sccd_start(&d) < 0)
        goto out;
    d.sig[0] = evsignal_new(d.ctl.base, SIGTERM, on_signal, &d);
    d.sig[1] = evsignal_new(d.ctl.base, SIGINT, on_signal, &d);
    if (d.sig[0] == NULL || d.sig[1] == NULL || event_add(d.sig[0], NULL) ||
        event_add(d.sig[1], NULL))
        goto out;
    scc_log_info(&d.ctl.log, "sccd %s role=%s data-dir=%s relay=%s admin-socket=%s", SCC_VERSION,
                 cfg.role, cfg.data_dir, relay_bound(d.relay), cfg.admin_socket);
    event_base_dispatch(d.ctl.base);
    scc_log_info(&d.ctl.log, "stopped");
    rc = 0;
out:
    sccd_stop(&d);
    if (d.ctl.base)
        event_base_free(d.ctl.base);
    scc_cfg_free(ctl_cfg_opts, ctl_cfg_nopts, &cfg);
    return rc;
}
