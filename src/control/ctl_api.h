/*
 * ctl_api.h - the management API's HTTPS listener (--api-listen, default
 * 127.0.0.1:8443): TLS 1.3 with DIR/pki/server.crt, HTTP/1.1 with
 * keep-alive and pipelining (ctl_api_http.c parses), bearer tokens, and
 * every request handed to the ARM layer (ctl_arm.h).
 *
 * Limits: request heads of 64 KiB, bodies of CTL_ARM_BODY_MAX (4 MiB),
 * --api-max-conns connections, 60 s of idleness.  Every refusal, down to
 * a malformed request line, is an ARM error body in JSON.
 *
 * Threads: the event loop only.
 */
#ifndef SCC_CONTROL_CTL_API_H
#define SCC_CONTROL_CTL_API_H

struct ctl;

/* ctl_api_start - start the ARM layer (ctl_arm_start) and listen.
 * Start-up only; logs why on failure. */
int ctl_api_start(struct ctl *c);

/* ctl_api_stop - close the listener and every connection, let requests
 * in flight finish, then stop the ARM layer.  Before the worker is freed. */
void ctl_api_stop(struct ctl *c);

/* ctl_api_bound - the address the listener got ("127.0.0.1:8443"), or
 * the configured one before start. */
const char *ctl_api_bound(const struct ctl *c);

#endif /* SCC_CONTROL_CTL_API_H */
