/*
 * agent_proxy.h - the HTTP CONNECT proxy client's pure parts: the proxy
 * URL, NO_PROXY matching, the request, and the response head parser (the
 * one piece here that reads bytes from the network; it has a fuzz target).
 */
#ifndef SCC_AGENT_AGENT_PROXY_H
#define SCC_AGENT_AGENT_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGENT_PROXY_HEAD_MAX 8192

struct agent_proxy {
    char host[256];
    uint16_t port;
    char auth[512]; /* base64 "user:pass" for Proxy-Authorization, or "" */
};

/* agent_proxy_parse_url - "http://[user:pass@]host:port" (scheme optional;
 * %XX escapes in user and password).  SCC_EINVAL on anything else. */
int agent_proxy_parse_url(const char *url, struct agent_proxy *out);

/* agent_proxy_bypass - does the comma-separated NO_PROXY list cover host?
 * Entries: "*", exact names or IPs, and domain suffixes ("example.com" and
 * ".example.com" both match "relay.example.com"). */
bool agent_proxy_bypass(const char *no_proxy, const char *host);

/* agent_proxy_request - the CONNECT request for target host:port. */
int agent_proxy_request(const struct agent_proxy *p, const char *host, uint16_t port, char *out,
                        size_t cap, size_t *len);

/*
 * agent_proxy_parse_response - look for a complete response head in
 * buf[0..len).  Returns 0 when more bytes are needed, 1 when complete
 * (status and the head's length set), SCC_EPROTO when malformed or longer
 * than AGENT_PROXY_HEAD_MAX.
 */
int agent_proxy_parse_response(const char *buf, size_t len, int *status, size_t *head_len);

#endif /* SCC_AGENT_AGENT_PROXY_H */
