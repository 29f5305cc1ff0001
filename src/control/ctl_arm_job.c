/*
 * ctl_arm_job.c - the life of a request: worker jobs, transactions, and
 * the cache changes a committed transaction carries back to the loop.
 *
 * Invariant: the cache only ever changes in a job's done callback, with
 * the changes of a transaction that committed.  The worker runs jobs one
 * at a time and done callbacks run in submission order, so the cache
 * moves through exactly the states the store went through.
 */
#include "ctl_arm_int.h"
#include "ctl_wire.h"

#include "common/err.h"
#include "common/mem.h"
#include "common/time.h"
#include "common/worker.h"

#include <stdio.h>
#include <string.h>

struct arm_call *
arm_call_new(struct ctl *c, const struct ctl_principal *who, ctl_arm_done_fn done, void *arg)
{
    struct arm_call *k = scc_calloc(1, sizeof(*k));

    if (k == NULL)
        return NULL;
    k->c = c;
    k->arm = c->arm;
    k->who = *who;
    k->done = done;
    k->done_arg = arg;
    k->now_ms = (int64_t)scc_time_wall_ms();
    return k;
}

static void
changes_free(struct arm_change *ch)
{
    while (ch) {
        struct arm_change *next = ch->next;

        scc_free(ch->id_lc);
        scc_free(ch->text);
        scc_free(ch->locked_by);
        scc_free(ch);
        ch = next;
    }
}

void
arm_finish(struct arm_call *k)
{
    if (k->resp.status == 0)
        arm_error(k, 500, "InternalServerError", "the request was not answered");
    if (k->done)
        k->done(k->done_arg, &k->resp);
    ctl_arm_resp_fini(&k->resp);
    changes_free(k->changes);
    if (k->ctx_free)
        k->ctx_free(k->ctx);
    json_decref(k->body);
    scc_free(k);
}

static void
job_run(void *arg)
{
    struct arm_call *k = arg;

    k->job(k);
}

static void
job_done(void *arg)
{
    struct arm_call *k = arg;
    struct arm_change *ch = k->changes, *rev = NULL;
    bool provider = false;

    k->arm->inflight--;
    /* Recorded newest first; apply in write order. */
    while (ch) {
        struct arm_change *next = ch->next;

        provider = provider || (!k->quiet && ctl_wire_concerns(ch->id_lc));
        ch->next = rev;
        rev = ch;
        ch = next;
    }
    k->changes = NULL;
    provider = provider || k->round;
    arm_cache_apply(k->arm, rev);
    if (provider) /* committed: the provider makes the host follow */
        ctl_wire_changed(k->c);
    if (k->run_op[0] && !k->arm->stopping)
        arm_lro_schedule(k->arm, k->run_op, true);
    arm_finish(k);
}

void
arm_submit(struct arm_call *k, arm_job_fn fn)
{
    k->job = fn;
    if (k->arm->stopping || scc_worker_submit(k->c->worker, job_run, job_done, k) < 0) {
        arm_error(k, 503, "ServerBusy", "The control plane is busy; retry later.");
        arm_finish(k);
        return;
    }
    k->arm->inflight++;
}

int
arm_store_error(struct arm_call *k, int rc)
{
    if (rc == SCC_ENOMEM)
        arm_error(k, 503, "ServerBusy", "out of memory; retry");
    else
        arm_error(k, 503, "StoreUnavailable", "The state store failed: %.300s",
                  ctl_store_errmsg(k->c->store));
    return rc;
}

int
arm_tx_begin(struct arm_call *k)
{
    int rc = ctl_store_begin(k->c->store);

    if (rc < 0)
        arm_error(k, 503, "StoreBusy", "The state store is busy; retry.");
    return rc;
}

int
arm_tx_end(struct arm_call *k, int rc)
{
    if (rc >= 0 && k->resp.status < 400 && (rc = ctl_store_commit(k->c->store)) == 0)
        return 0;
    ctl_store_rollback(k->c->store);
    changes_free(k->changes);
    k->changes = NULL;
    k->run_op[0] = '\0';
    if (k->resp.status < 400)
        (void)arm_store_error(k, rc < 0 ? rc : SCC_ESTORE);
    return rc < 0 ? rc : SCC_ESTORE;
}

int
arm_row_get(struct arm_call *k, const char *id, struct ctl_arm_row *out)
{
    return ctl_store_arm_res_get(k->c->store, id, out);
}

static int
record(struct arm_call *k, const char *id, const char *text, const char *locked_by)
{
    struct arm_change *ch = scc_calloc(1, sizeof(*ch));
    char lc[CTL_ARM_PATH_MAX];

    if (ch == NULL || ctl_arm_lower(id, lc, sizeof(lc)) < 0 ||
        (ch->id_lc = scc_strdup(lc)) == NULL || (text && (ch->text = scc_strdup(text)) == NULL) ||
        (locked_by && (ch->locked_by = scc_strdup(locked_by)) == NULL)) {
        changes_free(ch);
        return SCC_ENOMEM;
    }
    ch->next = k->changes;
    k->changes = ch;
    return 0;
}

int
arm_row_put(struct arm_call *k, const struct ctl_arm_row *r)
{
    int rc = ctl_store_arm_res_put(k->c->store, r);

    return rc < 0 ? rc : record(k, r->id, r->body, r->locked_by);
}

int
arm_row_put_json(struct arm_call *k, const struct ctl_arm_row *r, const json_t *body)
{
    struct ctl_arm_row w = *r;
    int rc;

    if ((w.body = arm_dumps(body, NULL)) == NULL)
        return SCC_ENOMEM;
    rc = arm_row_put(k, &w);
    scc_free(w.body);
    return rc;
}

int
arm_row_del(struct arm_call *k, const char *id)
{
    struct ctl_store *st = k->c->store;
    int rc;

    if ((rc = ctl_store_arm_res_del(st, id)) < 0 ||
        (rc = ctl_store_arm_ref_del_owner(st, id)) < 0 ||
        (rc = ctl_store_arm_ip_del_owner(st, NULL, id)) < 0)
        return rc;
    return record(k, id, NULL, NULL);
}

void
arm_row_init(struct ctl_arm_row *r, const char *id, const char *sub, const char *rg,
             const char *type, int64_t now_ms)
{
    memset(r, 0, sizeof(*r));
    r->id = (char *)id;
    r->sub = (char *)sub;
    r->rg = (char *)rg;
    r->type = (char *)type;
    r->name = (char *)ctl_arm_id_last(id);
    r->created_ms = r->updated_ms = now_ms;
}
