/*
 * ctl_prov_fwproxy.c - the firewall's application-rule proxy: parsing
 * (pure, unit-tested) and rule evaluation.  The event loop is in
 * ctl_prov_fwproxy_main.c.
 */
#include "ctl_prov_fwproxy.h"

#include "common/err.h"
#include "ctl_prov_nft.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define TLS_HANDSHAKE     0x16
#define TLS_CLIENT_HELLO  0x01
#define TLS_EXT_SNI       0x0000
#define TLS_RECORD_HEADER 5

static uint32_t
be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t
be24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

/* Copy a host name, lower-cased; refuse anything that is not one. */
static int
put_name(const uint8_t *s, size_t n, char *out, size_t cap)
{
    if (n == 0 || n >= cap)
        return SCC_EPROTO;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum(s[i]) && s[i] != '-' && s[i] != '.' && s[i] != '_')
            return SCC_EPROTO;
        out[i] = (char)tolower(s[i]);
    }
    out[n] = '\0';
    return 1;
}

/* The server_name extension's first host_name entry (RFC 6066 §3). */
static int
sni_ext(const uint8_t *p, size_t n, char *out, size_t cap)
{
    size_t list, at = 2;

    if (n < 2 || (list = be16(p)) + 2 > n)
        return SCC_EPROTO;
    while (at + 3 <= list + 2) {
        size_t len = be16(p + at + 1);

        if (at + 3 + len > list + 2)
            return SCC_EPROTO;
        if (p[at] == 0)
            return put_name(p + at + 3, len, out, cap);
        at += 3 + len;
    }
    return SCC_ENOTFOUND;
}

/* Walk a ClientHello body (after the 4-byte handshake header) to its
 * extensions (RFC 8446 §4.1.2). */
static int
hello_sni(const uint8_t *h, size_t n, char *out, size_t cap)
{
    size_t at = 2 + 32, ext_end;

    if (at + 1 > n || (at += 1 + h[at]) + 2 > n) /* session id */
        return SCC_EPROTO;
    if ((at += 2 + be16(h + at)) + 1 > n) /* cipher suites */
        return SCC_EPROTO;
    if ((at += 1 + h[at]) + 2 > n) /* compression */
        return at == n ? SCC_ENOTFOUND : SCC_EPROTO;
    ext_end = at + 2 + be16(h + at);
    if (ext_end > n)
        return SCC_EPROTO;
    for (at += 2; at + 4 <= ext_end;) {
        size_t type = be16(h + at), len = be16(h + at + 2);

        if (at + 4 + len > ext_end)
            return SCC_EPROTO;
        if (type == TLS_EXT_SNI)
            return sni_ext(h + at + 4, len, out, cap);
        at += 4 + len;
    }
    return SCC_ENOTFOUND;
}

int
ctl_prov_tls_sni(const uint8_t *p, size_t n, char *out, size_t cap)
{
    size_t rec, hs;

    if (n >= 1 && p[0] != TLS_HANDSHAKE)
        return SCC_EPROTO;
    if (n < TLS_RECORD_HEADER + 4)
        return 0;
    if (p[1] != 3 || (rec = be16(p + 3)) < 4)
        return SCC_EPROTO;
    if (p[5] != TLS_CLIENT_HELLO)
        return SCC_EPROTO;
    hs = be24(p + 6);
    /* A ClientHello larger than one record is legal but rare; we read
     * it only from the first record. */
    if (hs + 4 > rec)
        return SCC_EPROTO;
    if (n < TLS_RECORD_HEADER + rec)
        return 0;
    return hello_sni(p + TLS_RECORD_HEADER + 4, hs, out, cap);
}

int
ctl_prov_http_host(const uint8_t *p, size_t n, char *out, size_t cap)
{
    const uint8_t *end = NULL, *line;

    for (size_t i = 0; i + 3 < n && !end; i++)
        end = memcmp(p + i, "\r\n\r\n", 4) == 0 ? p + i + 2 : NULL;
    if (end == NULL)
        return n > 0 && !isupper(p[0]) ? SCC_EPROTO : 0;
    line = memchr(p, '\n', (size_t)(end - p));
    while (line && line + 1 < end) {
        const uint8_t *next = memchr(line + 1, '\n', (size_t)(end - line - 1));
        size_t len;

        if (next == NULL)
            break;
        len = (size_t)(next - line - 1);

        if (len > 5 && strncasecmp((const char *)line + 1, "host:", 5) == 0) {
            const uint8_t *v = line + 6, *ve = line + len; /* at the \r */

            while (v < ve && *v == ' ')
                v++;
            for (const uint8_t *c = v; c < ve; c++)
                ve = *c == ':' ? c : ve; /* drop the port */
            return put_name(v, (size_t)(ve - v), out, cap);
        }
        line = next;
    }
    return SCC_ENOTFOUND;
}

bool
ctl_prov_fqdn_match(const char *pattern, const char *name)
{
    size_t pl = strlen(pattern), nl = strlen(name);

    if (strcmp(pattern, "*") == 0)
        return true;
    if (pl > 2 && pattern[0] == '*' && pattern[1] == '.')
        return nl > pl - 1 && strcasecmp(name + nl - (pl - 1), pattern + 1) == 0;
    return strcasecmp(pattern, name) == 0;
}

static bool
rule_protocol(const json_t *r, const char *proto, uint16_t port)
{
    const json_t *p;
    size_t i;

    json_array_foreach(json_object_get(r, "protocols"), i, p)
    {
        const char *t = json_string_value(json_object_get(p, "type"));
        json_int_t want = json_integer_value(json_object_get(p, "port"));

        if (want == 0 && t)
            want = strcasecmp(t, "Http") == 0 ? 80 : 443;
        if (t && strcasecmp(t, proto) == 0 && want == port)
            return true;
    }
    return false;
}

static bool
rule_fqdn(const json_t *r, const char *fqdn)
{
    const json_t *f;
    size_t i;

    json_array_foreach(json_object_get(r, "target_fqdns"), i, f)
    {
        if (json_is_string(f) && fqdn[0] && ctl_prov_fqdn_match(json_string_value(f), fqdn))
            return true;
    }
    return false;
}

static bool
rule_source(const json_t *r, const json_t *tags, uint32_t src)
{
    struct ctl_prov_tags t = {.service_tags = tags, .vnet = NULL};
    struct ctl_prov_set s;
    char err[128];
    bool hit;

    ctl_prov_set_init(&s);
    hit = ctl_prov_tags_resolve_list(&t, json_object_get(r, "source_addresses"), &s, err,
                                     sizeof(err)) == 0 &&
          ctl_prov_set_has(&s, src);
    ctl_prov_set_fini(&s);
    return hit;
}

int
ctl_prov_app_decide(const json_t *sorted, const json_t *service_tags, uint32_t src, uint16_t port,
                    const char *proto, const char *fqdn, char *rule, size_t cap)
{
    const json_t *c, *r;
    size_t i, k;

    snprintf(rule, cap, "%s", "");
    json_array_foreach(sorted, i, c)
    {
        const char *action = json_string_value(json_object_get(c, "action"));

        json_array_foreach(json_object_get(c, "rules"), k, r)
        {
            if (!rule_protocol(r, proto, port) || !rule_fqdn(r, fqdn) ||
                !rule_source(r, service_tags, src))
                continue;
            snprintf(rule, cap, "%s/%s", json_string_value(json_object_get(c, "name")),
                     json_string_value(json_object_get(r, "name")));
            return action && strcasecmp(action, "Allow") == 0 ? 1 : 0;
        }
    }
    return 0;
}
