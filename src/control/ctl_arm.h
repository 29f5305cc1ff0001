/*
 * ctl_arm.h - the ARM resource provider core: subscriptions, providers,
 * resource groups, Microsoft.Databricks/workspaces, Microsoft.Network
 * resources and their long-running operations.
 *
 * Transport-free: ctl_arm_request takes a method, path, query and body
 * and answers with a status, headers and a JSON body.  The HTTPS server
 * (ctl_api.c) feeds it; the deployment engine can call it in-process with
 * the deploying user's principal, so that a template's resources go
 * through the same code as direct API calls.
 *
 *   ctl_arm.c        dispatch: paths, api-version, scopes, the read cache
 *   ctl_arm_auth.c   bearer tokens, scopes, the admin-socket routes
 *   ctl_arm_job.c    worker jobs, transactions, cache coherence
 *   ctl_arm_lro.c    long-running operations: steps, status, restart
 *   ctl_arm_sub.c    subscriptions and provider registration
 *   ctl_arm_rg.c     resource groups, generic resource lists
 *   ctl_arm_ws*.c    workspaces, the managed resource group, SCC upgrade
 *   ctl_net*.c       Microsoft.Network resources (ctl_net.h)
 *
 * Threads: everything here is called on the event loop.  Store work runs
 * on the worker (common/worker.h) and the cache is updated only by the
 * worker jobs' done callbacks, in commit order, so a GET served from the
 * cache never sees a state older than an answer already sent.
 */
#ifndef SCC_CONTROL_CTL_ARM_H
#define SCC_CONTROL_CTL_ARM_H

#include <stdbool.h>
#include <stddef.h>

#include "common/token.h"

struct ctl;
struct scc_h2_stream;

#define CTL_ARM_BODY_MAX (4u << 20) /* largest request body accepted (bytes) */

/* Who is asking. */
struct ctl_principal {
    char token_id[SCC_TOKEN_ID_LEN + 1];
    char scope[SCC_TOKEN_SCOPE_MAX]; /* "*", "subscription/SUB", "workspace/<resource id>" */
    char oid[37];                    /* a stable GUID for createdBy/updatedBy */
    bool internal;                   /* the resource provider itself: passes deny assignments */
};

struct ctl_arm_req {
    const char *method;
    const char *path;  /* raw (percent-encoded), without the query */
    const char *query; /* raw, or NULL */
    const char *host;  /* authority for absolute URLs in LRO headers */
    const char *body;
    size_t body_len;
    const struct ctl_principal *who;
    const char *if_match, *if_none_match; /* the headers, or NULL */
};

#define CTL_ARM_MAX_HDRS 4

struct ctl_arm_hdr {
    const char *name; /* static */
    char *value;      /* owned */
};

struct ctl_arm_resp {
    int status;
    char *body; /* owned JSON text, or NULL for none */
    size_t body_len;
    struct ctl_arm_hdr hdrs[CTL_ARM_MAX_HDRS];
    size_t nhdrs;
};

/* The answer; resp is valid only during the call. */
typedef void (*ctl_arm_done_fn)(void *arg, const struct ctl_arm_resp *resp);

/*
 * ctl_arm_start - load the read cache and the tokens, create the default
 * subscription on first start (its id in DIR/subscription), and resume or
 * fail the operations a crash interrupted.  Start-up only, loop thread,
 * after the store is open.
 */
int ctl_arm_start(struct ctl *c);
void ctl_arm_stop(struct ctl *c);

/*
 * ctl_arm_request - serve one request.  done runs exactly once, either
 * before this returns or later on the loop.  req and its strings are
 * borrowed for the duration of the call only.
 */
void ctl_arm_request(struct ctl *c, const struct ctl_arm_req *req, ctl_arm_done_fn done, void *arg);

/*
 * ctl_arm_authenticate - check an Authorization header value (may be
 * NULL).  Returns 0 and fills who, or SCC_EAUTH and fills resp with the
 * 401 to send (free it with ctl_arm_resp_fini).
 */
int ctl_arm_authenticate(struct ctl *c, const char *authorization, struct ctl_principal *who,
                         struct ctl_arm_resp *resp);

/* ctl_arm_resp_error - fill resp with an ARM error body. */
void ctl_arm_resp_error(struct ctl_arm_resp *resp, int status, const char *code,
                        const char *message);
void ctl_arm_resp_fini(struct ctl_arm_resp *resp);

/*
 * ctl_arm_admin_request - the admin-socket routes of this layer (API
 * tokens, running-compute counters); ctl_nodes.c calls it for paths it
 * does not serve.  Returns false when the path is not ours.
 */
bool ctl_arm_admin_request(void *arg, struct scc_h2_stream *s);

#endif /* SCC_CONTROL_CTL_ARM_H */
