/*
 * relay_int.h - state shared by the relay's modules (not for other
 * components: they use relay.h).
 */
#ifndef SCC_RELAY_RELAY_INT_H
#define SCC_RELAY_RELAY_INT_H

#include <event2/util.h>
#include <openssl/ssl.h>
#include <sys/queue.h>

#include "common/log.h"
#include "relay.h"
#include "relay_metrics.h"
#include "tunnel/h2.h"
#include "tunnel/h2io.h"
#include "tunnel/sock.h"

struct scc_tio;

struct scc_map;

struct relay_dialer;
struct relay_forwarder;
struct relay_renewal;
struct relay_admin_conn;
struct relay_sniff;

struct relay_tunnel {
    struct relay *r;
    struct relay_dialer *dialer;    /* legacy: the relay dialled the node */
    struct relay_tunnel *next_same; /* older tunnel of the same node */
    struct scc_h2io *io;
    struct scc_ident id;
    char path[3 * SCC_IDENT_SEG_MAX + 3]; /* "ws/cluster/node": the registry key */
    char uri[SCC_IDENT_URI_MAX + 1];
    char peer[SCC_ADDR_STR_MAX];
    char serial[64];
    uint64_t since_ms;             /* wall clock */
    struct relay_renewal *renewal; /* certificate renewal under way or due */
    LIST_ENTRY(relay_tunnel) all;  /* in r->all from open to close, registered or not */
    bool resumed;
    bool registered;
    struct scc_log_ctx log;
};

#define RELAY_LISTENERS_MAX 8

struct relay_listener {
    int fd;
    struct event *ev;
    char bound[SCC_ADDR_STR_MAX];
};

struct relay {
    struct event_base *base;
    struct relay_cfg cfg;
    struct relay_authority auth;
    SSL_CTX *tls;
    struct relay_listener listeners[RELAY_LISTENERS_MAX]; /* tunnel ports */
    size_t nlisteners;
    int afd;
    struct event *admin_ev;
    char bound[SCC_ADDR_STR_MAX * RELAY_LISTENERS_MAX]; /* "a,b": every listener */
    struct scc_map *tunnels; /* path -> newest struct relay_tunnel of that node */
    size_t ntunnels;
    size_t handshakes;                         /* in progress */
    LIST_HEAD(, relay_pending) pending;        /* those handshakes (relay_accept.c) */
    LIST_HEAD(, relay_enroll) enrolls;         /* enrolment connections (relay_accept.c) */
    LIST_HEAD(, relay_renewal) renewals;       /* one per tunnel (relay_renew.c) */
    LIST_HEAD(, relay_tunnel) all;             /* every open tunnel: relay_free closes them */
    LIST_HEAD(, relay_admin_conn) admin_conns; /* relay_admin.c */
    LIST_HEAD(, relay_sniff) sniffs;           /* admin connections not yet told apart */
    bool draining;
    struct scc_h2_settings h2set;
    struct scc_keepalive tcp_ka;
    struct relay_metrics *metrics;
    struct scc_log_ctx log;
    struct scc_ratelimit refuse_rl;     /* refusal log lines */
    SSL_CTX *tls_client;                /* dialling legacy nodes, as the control plane */
    struct relay_forwarder *forwarders; /* sccctl forward listeners handed to us */
    struct relay_dialer *dialers;
    uint64_t next_conn_id;
};

/* relay.c */
int relay_register(struct relay *r, struct relay_tunnel *t);
void relay_unregister(struct relay *r, struct relay_tunnel *t);
struct relay_tunnel *relay_find(struct relay *r, const char *path);
/* relay_each - every tunnel; fn may close (not unregister) it. */
int relay_each(struct relay *r, int (*fn)(struct relay_tunnel *t, void *arg), void *arg);

/* relay_accept.c */
void relay_on_accept(evutil_socket_t fd, short what, void *arg);
void relay_tunnel_open(struct relay *r, struct scc_tio *tio, const char *peer, uint64_t conn,
                       struct relay_dialer *d);
/* relay_accept_free_all - drop handshakes in flight; detach enrolments
 * (their connections close on the loop; an answer still due from the
 * authority then finds no relay and only lets go). */
void relay_accept_free_all(struct relay *r);

/* relay_legacy.c: nodes in legacy mode, which the relay dials. */
int relay_legacy_check(struct relay_dialer *d, const struct relay_tunnel *t, char *msg, size_t cap);
void relay_legacy_closed(struct relay_dialer *d, int rc);
bool relay_legacy_route(struct relay *r, struct scc_h2_stream *s);
void relay_legacy_free_all(struct relay *r);
/* relay_accepting - pause or resume every tunnel listener. */
void relay_accepting(struct relay *r, bool on);

/* relay_admin.c */
void relay_on_admin_accept(evutil_socket_t fd, short what, void *arg);
/* relay_admin_free_all - close admin connections (their streams' last
 * callbacks run now) and connections still being told apart. */
void relay_admin_free_all(struct relay *r);

/* relay_handoff.c: take a passed listener from an admin connection. */
void relay_handoff(struct relay *r, int ufd);
void relay_handoff_free_all(struct relay *r);

/* relay_renew.c: keep t's node certificate renewed while t is up (cert:
 * the one its handshake presented); _forget when t goes; _free_all when
 * the relay goes (an answer still due from the authority then only lets go). */
void relay_renew_watch(struct relay *r, struct relay_tunnel *t, X509 *cert);
void relay_renew_forget(struct relay_tunnel *t);
/* relay_renew_current - the newest certificate t's node holds (after
 * renewals over t): its serial and end (Unix seconds); SCC_ENOTFOUND when
 * certificates are not renewed here. */
int relay_renew_current(const struct relay_tunnel *t, char *serial, size_t cap, int64_t *not_after);
void relay_renew_free_all(struct relay *r);

/* relay_proxy.c: splice admin stream s to the tunnel t. */
void relay_proxy_start(struct relay *r, struct relay_tunnel *t, struct scc_h2_stream *s);

#endif /* SCC_RELAY_RELAY_INT_H */
