/*
 * agent_enroll.h - bootstrap: the node's key is generated here and never
 * leaves it; the join token and a CSR go to the relay once, and the
 * certificate that comes back (carrying the node's SPIFFE identity) is
 * what every later tunnel authenticates with.
 */
#ifndef SCC_AGENT_AGENT_ENROLL_H
#define SCC_AGENT_AGENT_ENROLL_H

#include <stddef.h>

struct agent;
struct scc_h2;

/* rc 0: enrolled; SCC_EAUTH: refused for good (bad, used or expired token,
 * or a token for another node); anything else: worth retrying. */
typedef void (*agent_enroll_done_cb)(void *arg, int rc);

/* agent_enroll_request - POST /v1/enroll on an enrolment connection. */
int agent_enroll_request(struct agent *a, struct scc_h2 *h2, const char *authority,
                         agent_enroll_done_cb done, void *arg);

/* agent_cert_renewed - a fresh certificate from the relay (PUT
 * /v1/certificate): kept, and dialled with from the next connection on, if
 * our CA issued it for our key and identity and it outlasts ours.  <0 and
 * a reason in err otherwise (a refused certificate changes nothing). */
int agent_cert_renewed(struct agent *a, const char *pem, char *err, size_t cap);

/* agent_identity_load - node key (created if missing), certificate if
 * enrolled, and the TLS contexts.  Logs and returns <0 on fatal errors. */
int agent_identity_load(struct agent *a);

void agent_identity_free(struct agent *a);

#endif /* SCC_AGENT_AGENT_ENROLL_H */
