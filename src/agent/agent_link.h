/*
 * agent_link.h - one relay, kept connected.
 *
 *   resolve -> TCP connect -> [proxy CONNECT] -> TLS 1.3 -> HTTP/2
 *
 * On any failure: wait a capped exponential back-off with full jitter (or
 * the relay's "retry-after"), then start over.  Before the node has a
 * certificate, the TLS connection uses the enrolment ALPN and carries one
 * request (the join token and a CSR); afterwards it is a mutual-TLS tunnel
 * on which the relay sends requests and the agent answers them.
 */
#ifndef SCC_AGENT_AGENT_LINK_H
#define SCC_AGENT_AGENT_LINK_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

struct agent;
struct agent_link;
struct scc_buf;

int agent_link_new(struct agent *a, const char *relay, struct agent_link **out);
void agent_link_free(struct agent_link *l);

/* agent_link_start - begin (or restart) dialling now. */
void agent_link_start(struct agent_link *l);

/* agent_link_stop - drain the tunnel (GOAWAY) and stop reconnecting. */
void agent_link_stop(struct agent_link *l);

struct agent *agent_link_agent(struct agent_link *l);

bool agent_link_is_up(const struct agent_link *l);
bool agent_link_is_idle(const struct agent_link *l);

/* agent_link_status - a JSON object describing the link, appended to b. */
int agent_link_status(const struct agent_link *l, struct scc_buf *b);

/* agent_tls_new_session - OpenSSL new-session hook: keep the ticket on
 * the link that made the connection, for resumption next time. */
int agent_tls_new_session(SSL *ssl, SSL_SESSION *sess);
/* agent_link_forget_session - the next dial makes a full handshake (it
 * must present a renewed certificate, not resume with the old one). */
void agent_link_forget_session(struct agent_link *l);

#endif /* SCC_AGENT_AGENT_LINK_H */
