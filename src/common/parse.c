#include "parse.h"

#include "err.h"

#include <string.h>
#include <strings.h>

int
scc_parse_u64n(const char *s, size_t len, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (len == 0 || len > 20)
        return len == 0 ? SCC_EINVAL : SCC_ERANGE;
    for (size_t i = 0; i < len; i++) {
        unsigned d;

        if (s[i] < '0' || s[i] > '9')
            return SCC_EINVAL;
        d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return SCC_ERANGE;
        v = v * 10 + d;
    }
    if (v < min || v > max)
        return SCC_ERANGE;
    *out = v;
    return 0;
}

int
scc_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    return scc_parse_u64n(s, strlen(s), min, max, out);
}

int
scc_parse_duration_ms(const char *s, uint64_t *out_ms)
{
    static const struct {
        const char *suffix;
        uint64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    const uint64_t limit = 100ull * 365 * 86400000;
    size_t len = strlen(s), digits = 0;
    uint64_t v, mult = 1000;
    int rc;

    while (digits < len && s[digits] >= '0' && s[digits] <= '9')
        digits++;
    if (digits < len) {
        mult = 0;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            if (strcmp(s + digits, units[i].suffix) == 0)
                mult = units[i].ms;
        }
        if (mult == 0)
            return SCC_EINVAL;
    }
    if ((rc = scc_parse_u64n(s, digits, 0, limit, &v)) < 0)
        return rc;
    if (v > limit / mult)
        return SCC_ERANGE;
    *out_ms = v * mult;
    return 0;
}

int
scc_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};

    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return SCC_EINVAL;
}

int
scc_parse_hostport(const char *s, char *host, size_t host_cap, uint16_t *port, bool allow_zero)
{
    const char *h = s, *colon;
    size_t hlen;
    uint64_t p;
    int rc;

    if (*s == '[') {
        const char *close = strchr(s, ']');

        if (close == NULL || close[1] != ':')
            return SCC_EINVAL;
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        if ((colon = strrchr(s, ':')) == NULL || memchr(s, ':', (size_t)(colon - s)) != NULL)
            return SCC_EINVAL;
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0)
        return SCC_EINVAL;
    if (hlen >= host_cap)
        return SCC_ETRUNC;
    if ((rc = scc_parse_u64(colon + 1, allow_zero ? 0 : 1, 65535, &p)) < 0)
        return rc;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (uint16_t)p;
    return 0;
}

bool
scc_list_next(const char **p, char *item, size_t cap)
{
    const char *s = *p, *comma;
    size_t len;

    if (s == NULL || *s == '\0')
        return false;
    comma = strchr(s, ',');
    len = comma ? (size_t)(comma - s) : strlen(s);
    *p = comma ? comma + 1 : s + len;
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len >= cap)
        len = 0;
    memcpy(item, s, len);
    item[len] = '\0';
    return true;
}
