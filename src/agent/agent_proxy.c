#include "agent_proxy.h"

#include "common/encode.h"
#include "common/err.h"
#include "common/parse.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode s[0..n) into out; SCC_EINVAL on bad escapes. */
static int
unescape(const char *s, size_t n, char *out, size_t cap, size_t *olen)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (c == '%') {
            int hi, lo;

            if (i + 2 >= n || (hi = hexval(s[i + 1])) < 0 || (lo = hexval(s[i + 2])) < 0)
                return SCC_EINVAL;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (o + 1 >= cap)
            return SCC_ETRUNC;
        out[o++] = c;
    }
    out[o] = '\0';
    *olen = o;
    return 0;
}

static int
parse_userinfo(const char *s, size_t n, struct agent_proxy *out)
{
    char plain[300];
    size_t plen = 0;

    if (unescape(s, n, plain, sizeof(plain), &plen) < 0 || memchr(plain, ':', plen) == NULL)
        return SCC_EINVAL;
    return scc_b64_encode((const uint8_t *)plain, plen, out->auth, sizeof(out->auth));
}

int
agent_proxy_parse_url(const char *url, struct agent_proxy *out)
{
    struct agent_proxy p;
    const char *rest = url, *at, *slash;
    char hostport[300];
    size_t n;

    memset(&p, 0, sizeof(p));
    if (strncasecmp(rest, "http://", 7) == 0)
        rest += 7;
    else if (strstr(rest, "://") != NULL)
        return SCC_EINVAL; /* https:// proxies (TLS to the proxy) are not supported */
    slash = strchr(rest, '/');
    n = slash ? (size_t)(slash - rest) : strlen(rest);
    if (slash && strcmp(slash, "/") != 0)
        return SCC_EINVAL;
    at = memchr(rest, '@', n);
    if (at) {
        if (parse_userinfo(rest, (size_t)(at - rest), &p) < 0)
            return SCC_EINVAL;
        n -= (size_t)(at + 1 - rest);
        rest = at + 1;
    }
    if (n == 0 || n >= sizeof(hostport))
        return SCC_EINVAL;
    memcpy(hostport, rest, n);
    hostport[n] = '\0';
    if (scc_parse_hostport(hostport, p.host, sizeof(p.host), &p.port, false) < 0)
        return SCC_EINVAL;
    *out = p;
    return 0;
}

static bool
entry_matches(const char *e, const char *host)
{
    size_t hlen = strlen(host), elen;

    if (e[0] == '\0')
        return false;
    if (strcmp(e, "*") == 0)
        return true;
    if (e[0] == '.')
        e++;
    elen = strlen(e);
    if (hlen == elen)
        return strcasecmp(host, e) == 0;
    return hlen > elen && host[hlen - elen - 1] == '.' && strcasecmp(host + hlen - elen, e) == 0;
}

bool
agent_proxy_bypass(const char *no_proxy, const char *host)
{
    char item[256];

    for (const char *p = no_proxy; scc_list_next(&p, item, sizeof(item));) {
        if (entry_matches(item, host))
            return true;
    }
    return false;
}

int
agent_proxy_request(const struct agent_proxy *p, const char *host, uint16_t port, char *out,
                    size_t cap, size_t *len)
{
    bool v6 = strchr(host, ':') != NULL;
    char target[300];
    int n;

    n = snprintf(target, sizeof(target), v6 ? "[%s]:%u" : "%s:%u", host, port);
    if (n < 0 || (size_t)n >= sizeof(target))
        return SCC_ETRUNC;
    n = snprintf(out, cap, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s%s%sUser-Agent: scc-agent\r\n\r\n",
                 target, target, p->auth[0] ? "Proxy-Authorization: Basic " : "", p->auth,
                 p->auth[0] ? "\r\n" : "");
    if (n < 0 || (size_t)n >= cap)
        return SCC_ETRUNC;
    *len = (size_t)n;
    return 0;
}

int
agent_proxy_parse_response(const char *buf, size_t len, int *status, size_t *head_len)
{
    size_t scan = len < AGENT_PROXY_HEAD_MAX ? len : AGENT_PROXY_HEAD_MAX;
    const char *end = NULL;
    uint64_t code;

    for (size_t i = 3; i < scan; i++) {
        if (memcmp(buf + i - 3, "\r\n\r\n", 4) == 0) {
            end = buf + i + 1;
            break;
        }
    }
    if (end == NULL)
        return len >= AGENT_PROXY_HEAD_MAX ? SCC_EPROTO : 0;
    /* "HTTP/1.x SSS" then a space or the end of the line. */
    if ((size_t)(end - buf) < 16 || memcmp(buf, "HTTP/1.", 7) != 0 ||
        (buf[7] != '0' && buf[7] != '1') || buf[8] != ' ')
        return SCC_EPROTO;
    if (scc_parse_u64n(buf + 9, 3, 100, 599, &code) < 0 || (buf[12] != ' ' && buf[12] != '\r'))
        return SCC_EPROTO;
    *status = (int)code;
    *head_len = (size_t)(end - buf);
    return 1;
}
