/*
 * ctl_renew.c - the control plane's side of certificate renewal.
 *
 * The relay asks when a tunnel's certificate has lived two thirds of its
 * life (relay_renew.c).  The presented serial must be one we issued to that
 * node and not revoked; the new certificate names the same node and
 * certifies the same public key, which the tunnel's handshake proved the
 * node holds.  It is recorded like an enrolment's, so revoking the node
 * revokes it too.
 */
#include "ctl.h"

#include "common/err.h"
#include "common/mem.h"
#include "common/worker.h"
#include "ctl_store.h"

#include <stdio.h>
#include <string.h>

struct renew_job {
    struct ctl *c;
    struct scc_ident id;
    char serial[64];
    X509 *cert; /* the presented one: a reference of our own */
    void (*done)(void *done_arg, int rc, const char *pem);
    void *done_arg;
    int rc;
    struct ctl_issued is;
};

static void
renew_job(void *arg)
{
    struct renew_job *j = arg;
    struct ctl_store *st = j->c->store;

    if ((j->rc = ctl_store_cert_usable(st, j->serial, &j->id)) < 0)
        return;
    if ((j->rc = ctl_nodes_issue(j->c, X509_get0_pubkey(j->cert), j->id.ws, j->id.cluster,
                                 j->id.node, &j->is)) < 0)
        return;
    j->rc = ctl_store_cert_add(st, j->is.serial, &j->is.id, j->is.issued_ms, j->is.expires_ms);
}

static void
renew_done(void *arg)
{
    struct renew_job *j = arg;
    struct ctl *c = j->c;

    if (j->rc == 0)
        scc_log_info(&c->log, "renewed node=%s/%s/%s serial=%s (was %s)", j->id.ws, j->id.cluster,
                     j->id.node, j->is.serial, j->serial);
    else
        scc_log_warn_rc(&c->log, j->rc, "renewal refused node=%s/%s/%s serial=%s", j->id.ws,
                        j->id.cluster, j->id.node, j->serial);
    j->done(j->done_arg, j->rc, j->rc == 0 ? j->is.pem : NULL);
    X509_free(j->cert);
    scc_free(j);
}

void
ctl_nodes_renew(void *arg, const struct scc_ident *id, const char *serial, X509 *cert,
                void (*done)(void *done_arg, int rc, const char *pem), void *done_arg)
{
    struct ctl *c = arg;
    struct renew_job *j = scc_calloc(1, sizeof(*j));
    int rc = SCC_ENOMEM;

    if (j == NULL || strlen(serial) >= sizeof(j->serial))
        goto fail;
    j->c = c;
    j->id = *id;
    memcpy(j->serial, serial, strlen(serial) + 1);
    X509_up_ref(cert);
    j->cert = cert;
    j->done = done;
    j->done_arg = done_arg;
    if ((rc = scc_worker_submit(c->worker, renew_job, renew_done, j)) == 0)
        return;
    X509_free(j->cert);
fail:
    scc_free(j);
    done(done_arg, rc, NULL);
}
