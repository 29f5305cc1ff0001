/*
 * ctl_prov_fwproxy.h - the egress firewall's application rules.
 *
 * nftables cannot read a TLS server name or an HTTP Host header, so inside
 * a firewall namespace the flows that no network rule decided, to a port
 * some application rule names, are redirected to this small transparent
 * proxy.  It reads the client's first bytes (TLS ClientHello SNI, or the
 * HTTP request's Host), evaluates the application rule collections by
 * priority (first match decides, no match denies), and either connects to
 * the original destination (SO_ORIGINAL_DST) and relays bytes both ways,
 * or closes the connection (HTTP gets Azure Firewall's 470 answer).  Its
 * counters go to a stats file that the provider's status reads.
 *
 * It runs as `scc-prov fwproxy --rules FILE --listen ADDR:PORT --stats
 * FILE`, one process per firewall, started by the provider.
 */
#ifndef SCC_CONTROL_CTL_PROV_FWPROXY_H
#define SCC_CONTROL_CTL_PROV_FWPROXY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * ctl_prov_tls_sni - the server name of a TLS ClientHello at the start of
 * p[0..n).  Returns 1 and the name (lower-cased) in out, 0 if more bytes
 * are needed, SCC_EPROTO if it is not a ClientHello, SCC_ENOTFOUND if it
 * carries no server name (a client dialling an IP address).
 */
int ctl_prov_tls_sni(const uint8_t *p, size_t n, char *out, size_t cap);

/* ctl_prov_http_host - the Host of an HTTP/1 request at the start of
 * p[0..n), without its port: 1, 0 (need more), SCC_EPROTO, SCC_ENOTFOUND. */
int ctl_prov_http_host(const uint8_t *p, size_t n, char *out, size_t cap);

/* ctl_prov_fqdn_match - Azure's target FQDN match: exact (any case), "*"
 * for everything, "*.example.com" for any name below example.com. */
bool ctl_prov_fqdn_match(const char *pattern, const char *name);

/*
 * ctl_prov_app_decide - evaluate application rule collections (sorted by
 * priority, as ctl_prov_sorted_collections returns them) for a flow from
 * src to port with protocol "Http" or "Https" and server name fqdn.
 * Returns 1 (allow) or 0 (deny, by a Deny collection or because nothing
 * matched); rule receives "collection/rule" or "" when nothing matched.
 */
int ctl_prov_app_decide(const json_t *sorted, const json_t *service_tags, uint32_t src,
                        uint16_t port, const char *proto, const char *fqdn, char *rule, size_t cap);

/* ctl_prov_fwproxy_main - the proxy process; returns its exit code. */
int ctl_prov_fwproxy_main(int argc, char **argv);

#endif /* SCC_CONTROL_CTL_PROV_FWPROXY_H */
