/*
 * relay_renew.c - node certificates renewed over the tunnels they
 * authenticate.
 *
 * A node certificate lives --node-cert-ttl (30 days by default), and an
 * agent that dials with an expired one is refused for good.  So once a
 * tunnel's certificate has lived two thirds of its life, the relay asks the
 * authority for a fresh one (same node, same public key: the tunnel's
 * handshake proved the node holds it) and sends it to the agent as
 * PUT /v1/certificate; the agent checks it and dials with it from then on.
 * The fresh certificate's own two-thirds point is the next deadline, for as
 * long as the tunnel stays up.  A failure is tried again after a tenth of
 * the time left; a refusal (revoked, unknown) is not.
 */
#include "relay_int.h"

#include "common/err.h"
#include "common/mem.h"
#include "common/pki.h"
#include "common/time.h"
#include "tunnel/tio.h"

#include <event2/event.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RETRY_MIN_S 5

struct relay_renewal {
    struct relay *r;                /* NULL once the relay is gone */
    struct relay_tunnel *t;         /* NULL once the tunnel is gone */
    LIST_ENTRY(relay_renewal) link; /* in r->renewals while r is set */
    struct event *timer;
    int refs;        /* the tunnel's; the authority's while it works; the PUT's */
    char serial[64]; /* newest certificate the node holds */
    int64_t not_before, not_after;
    char next_serial[64]; /* the one being delivered */
    int64_t next_nb, next_na;
    int status; /* the agent's answer to the PUT */
};

static void
unref(struct relay_renewal *rn)
{
    if (--rn->refs > 0)
        return;
    if (rn->r)
        LIST_REMOVE(rn, link);
    event_free(rn->timer);
    scc_free(rn);
}

static void
wake_at(struct relay_renewal *rn, int64_t at)
{
    int64_t delay = at - (int64_t)time(NULL);
    struct timeval tv = {(time_t)(delay > 0 ? delay : 0), 0};

    evtimer_add(rn->timer, &tv);
}

/* Two thirds into its life, counted from when it was issued (our CA dates
 * certificates back a little; a short-lived one would otherwise look two
 * thirds gone at birth and be renewed without end). */
static void
schedule(struct relay_renewal *rn)
{
    int64_t issued = rn->not_before + SCC_PKI_BACKDATE_S;

    if (issued >= rn->not_after)
        issued = rn->not_before; /* not one of ours: use its whole life */
    wake_at(rn, issued + (rn->not_after - issued) * 2 / 3);
}

static void
retry(struct relay_renewal *rn)
{
    int64_t left = rn->not_after - (int64_t)time(NULL);

    rn->r->metrics->renew_failed++;
    wake_at(rn, (int64_t)time(NULL) + (left / 10 > RETRY_MIN_S ? left / 10 : RETRY_MIN_S));
}

/* ---- delivering the certificate to the agent ---- */

static void
put_on_head(struct scc_h2_stream *s, void *arg)
{
    ((struct relay_renewal *)arg)->status = scc_h2_stream_head(s)->status;
}

static void
put_on_data(struct scc_h2_stream *s, const uint8_t *data, size_t len, void *arg)
{
    (void)data, (void)arg;
    scc_h2_stream_consume(s, len); /* the answer's body says nothing we need */
}

static void
put_on_close(struct scc_h2_stream *s, uint32_t code, void *arg)
{
    struct relay_renewal *rn = arg;
    struct relay_tunnel *t = rn->t;

    (void)s;
    if (rn->r && t && code == 0 && rn->status == 200) {
        char until[40] = "";

        memcpy(rn->serial, rn->next_serial, sizeof(rn->serial));
        rn->not_before = rn->next_nb;
        rn->not_after = rn->next_na;
        rn->r->metrics->renew_ok++;
        (void)scc_time_format_rfc3339((uint64_t)rn->not_after * 1000, until, sizeof(until));
        scc_log_info(&t->log, "certificate renewed: serial=%s valid until %s", rn->serial, until);
        schedule(rn);
    } else if (rn->r && t) {
        scc_log_warn(&t->log, "the agent did not take its renewed certificate (HTTP %d, code %u)",
                     rn->status, code);
        retry(rn);
    }
    unref(rn);
}

static int
deliver(struct relay_renewal *rn, const char *pem)
{
    static const struct scc_h2_stream_cbs cbs = {
            .on_head = put_on_head, .on_data = put_on_data, .on_close = put_on_close};
    const struct scc_h2_hdr hdrs[] = {{"content-type", "application/json"}};
    struct relay_tunnel *t = rn->t;
    struct scc_h2_stream *s = NULL;
    json_t *o = json_pack("{s:s}", "certificate", pem);
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    X509 *cert = NULL;
    int rc = SCC_ENOMEM;

    json_decref(o);
    if (body == NULL)
        goto out;
    if ((rc = scc_pki_cert_from_pem(pem, strlen(pem), &cert)) < 0 ||
        (rc = scc_pki_cert_serial(cert, rn->next_serial, sizeof(rn->next_serial))) < 0 ||
        (rc = scc_pki_cert_not_before(cert, &rn->next_nb)) < 0 ||
        (rc = scc_pki_cert_not_after(cert, &rn->next_na)) < 0)
        goto out;
    rn->status = 0;
    if ((rc = scc_h2_request(scc_h2io_session(t->io), "PUT", "/v1/certificate", t->id.node, hdrs, 1,
                             false, &cbs, rn, &s)) < 0)
        goto out;
    rn->refs++; /* put_on_close lets go */
    if ((rc = scc_h2_stream_write(s, body, strlen(body))) == 0)
        rc = scc_h2_stream_end(s);
    if (rc < 0)
        scc_h2_stream_reset(s, 2); /* put_on_close follows and retries */
    rc = 0;
out:
    X509_free(cert);
    free(body); /* from jansson */
    return rc;
}

/* ---- asking the authority ---- */

static void
on_issued(void *arg, int rc, const char *pem)
{
    struct relay_renewal *rn = arg;

    if (rn->r && rn->t) {
        if (rc == 0)
            rc = deliver(rn, pem);
        if (rc == SCC_EREVOKED || rc == SCC_ENOTFOUND) {
            rn->r->metrics->renew_failed++;
            scc_log_warn_rc(&rn->t->log, rc, "certificate %s not renewed", rn->serial);
        } else if (rc < 0) {
            scc_log_warn_rc(&rn->t->log, rc, "certificate %s not renewed yet", rn->serial);
            retry(rn);
        }
    }
    unref(rn); /* the authority's */
}

static void
on_due(evutil_socket_t fd, short what, void *arg)
{
    struct relay_renewal *rn = arg;
    struct relay_tunnel *t = rn->t;
    X509 *cert;

    (void)fd, (void)what;
    if (rn->r == NULL || t == NULL || scc_h2io_is_closing(t->io))
        return;
    /* The key is the one this connection proved; the serial the newest. */
    if ((cert = SSL_get0_peer_certificate(scc_tio_ssl(scc_h2io_tio(t->io)))) == NULL)
        return;
    scc_log_info(&t->log, "certificate %s has lived two thirds of its life: renewing", rn->serial);
    rn->refs++; /* on_issued lets go */
    rn->r->auth.renew(rn->r->auth.arg, &t->id, rn->serial, cert, on_issued, rn);
}

void
relay_renew_watch(struct relay *r, struct relay_tunnel *t, X509 *cert)
{
    struct relay_renewal *rn;

    if (r->auth.renew == NULL || cert == NULL || (rn = scc_calloc(1, sizeof(*rn))) == NULL)
        return;
    if ((rn->timer = evtimer_new(r->base, on_due, rn)) == NULL ||
        scc_pki_cert_not_before(cert, &rn->not_before) < 0 ||
        scc_pki_cert_not_after(cert, &rn->not_after) < 0) {
        if (rn->timer)
            event_free(rn->timer);
        scc_free(rn);
        return;
    }
    rn->r = r;
    rn->t = t;
    rn->refs = 1;
    memcpy(rn->serial, t->serial, sizeof(rn->serial));
    LIST_INSERT_HEAD(&r->renewals, rn, link);
    t->renewal = rn;
    schedule(rn);
}

int
relay_renew_current(const struct relay_tunnel *t, char *serial, size_t cap, int64_t *not_after)
{
    const struct relay_renewal *rn = t->renewal;

    if (rn == NULL)
        return SCC_ENOTFOUND;
    if (strlen(rn->serial) >= cap)
        return SCC_ETRUNC;
    memcpy(serial, rn->serial, strlen(rn->serial) + 1);
    *not_after = rn->not_after;
    return 0;
}

void
relay_renew_forget(struct relay_tunnel *t)
{
    struct relay_renewal *rn = t->renewal;

    if (rn == NULL)
        return;
    t->renewal = NULL;
    rn->t = NULL;
    event_del(rn->timer);
    unref(rn); /* the tunnel's */
}

void
relay_renew_free_all(struct relay *r)
{
    struct relay_renewal *rn;

    /* Tunnels are closed by now; what is left waits on the authority. */
    while ((rn = LIST_FIRST(&r->renewals)) != NULL) {
        LIST_REMOVE(rn, link);
        rn->r = NULL;
        event_del(rn->timer);
    }
}
