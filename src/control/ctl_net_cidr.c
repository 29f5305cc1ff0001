/* Addresses, prefixes, service tags and port ranges. */
#include "ctl_net.h"

#include "common/err.h"
#include "common/parse.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void
ctl_net_err_set(struct ctl_net_err *e, int status, const char *code, const char *fmt, ...)
{
    va_list ap;

    e->status = status;
    snprintf(e->code, sizeof(e->code), "%s", code);
    va_start(ap, fmt);
    (void)vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
}

int
ctl_net_ip_parse(const char *s, uint32_t *out)
{
    uint32_t ip = 0;
    uint64_t v;

    for (int i = 0; i < 4; i++) {
        size_t n = strspn(s, "0123456789");

        /* No leading zeros: "010" is octal to some parsers, so refuse it. */
        if (n == 0 || n > 3 || (n > 1 && s[0] == '0') || scc_parse_u64n(s, n, 0, 255, &v) < 0)
            return SCC_EINVAL;
        ip = ip << 8 | (uint32_t)v;
        s += n;
        if (i < 3 && *s++ != '.')
            return SCC_EINVAL;
    }
    if (*s != '\0')
        return SCC_EINVAL;
    *out = ip;
    return 0;
}

void
ctl_net_ip_format(uint32_t ip, char out[16])
{
    snprintf(out, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

static uint32_t
mask_of(int len)
{
    return len == 0 ? 0 : 0xffffffffu << (32 - len);
}

int
ctl_net_cidr_parse(const char *s, struct ctl_net_cidr *out)
{
    const char *slash = strchr(s, '/');
    char ip[16];
    uint64_t len;
    uint32_t addr;

    if (slash == NULL || (size_t)(slash - s) >= sizeof(ip))
        return SCC_EINVAL;
    memcpy(ip, s, (size_t)(slash - s));
    ip[slash - s] = '\0';
    if (ctl_net_ip_parse(ip, &addr) < 0 || slash[1] == '\0' ||
        strspn(slash + 1, "0123456789") != strlen(slash + 1) ||
        scc_parse_u64(slash + 1, 0, 32, &len) < 0)
        return SCC_EINVAL;
    if ((addr & ~mask_of((int)len)) != 0)
        return SCC_ERANGE;
    out->addr = addr;
    out->len = (int)len;
    return 0;
}

bool
ctl_net_cidr_contains(const struct ctl_net_cidr *outer, const struct ctl_net_cidr *inner)
{
    return inner->len >= outer->len && (inner->addr & mask_of(outer->len)) == outer->addr;
}

bool
ctl_net_cidr_overlap(const struct ctl_net_cidr *a, const struct ctl_net_cidr *b)
{
    return ctl_net_cidr_contains(a, b) || ctl_net_cidr_contains(b, a);
}

bool
ctl_net_cidr_has_ip(const struct ctl_net_cidr *c, uint32_t ip)
{
    return (ip & mask_of(c->len)) == c->addr;
}

bool
ctl_net_is_service_tag(const char *s)
{
    static const char *const tags[] = {
            "VirtualNetwork",
            "Internet",
            "AzureLoadBalancer",
            "AzureDatabricks",
            "Sql",
            "Storage",
            "EventHub",
            "AzureActiveDirectory",
            "AzureCloud",
            "AzureMonitor",
            "AzureFrontDoor.Backend",
            "GatewayManager",
    };
    const char *dot = strchr(s, '.');
    size_t n = dot ? (size_t)(dot - s) : strlen(s);

    for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
        if (strcasecmp(s, tags[i]) == 0)
            return true;
        /* Regional forms: Storage.EastUS, Sql.WestEurope, ... */
        if (dot && strlen(tags[i]) == n && strncasecmp(s, tags[i], n) == 0 && dot[1] != '\0' &&
            strspn(dot + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") ==
                    strlen(dot + 1))
            return true;
    }
    return false;
}

bool
ctl_net_is_prefix(const char *s)
{
    struct ctl_net_cidr c;
    uint32_t ip;

    return strcmp(s, "*") == 0 || ctl_net_ip_parse(s, &ip) == 0 || ctl_net_cidr_parse(s, &c) == 0 ||
           ctl_net_is_service_tag(s);
}

static bool
port(const char *s, size_t n, uint64_t *v)
{
    return n > 0 && n <= 5 && strspn(s, "0123456789") >= n &&
           scc_parse_u64n(s, n, 0, 65535, v) == 0;
}

bool
ctl_net_is_port_range(const char *s)
{
    const char *dash = strchr(s, '-');
    uint64_t lo, hi;

    if (strcmp(s, "*") == 0)
        return true;
    if (dash == NULL)
        return port(s, strlen(s), &lo);
    return port(s, (size_t)(dash - s), &lo) && port(dash + 1, strlen(dash + 1), &hi) && lo <= hi;
}
