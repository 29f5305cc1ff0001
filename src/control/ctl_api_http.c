#include "ctl_api_http.h"

#include "common/err.h"
#include "common/mem.h"
#include "common/parse.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* RFC 9110 §5.6.2 tchar. */
static bool
is_tchar(int c)
{
    return isalnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

size_t
ctl_http_head_end(const char *buf, size_t len)
{
    /* Accept bare LF line ends too (RFC 9112 §2.2 allows it). */
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (buf[i + 1] == '\n')
            return i + 2;
        if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* Next line of s (NUL-terminated in place, CR stripped); NULL at the end. */
static char *
next_line(char **s)
{
    char *line = *s, *nl;

    if (line == NULL || *line == '\0')
        return NULL;
    if ((nl = strchr(line, '\n')) == NULL) {
        *s = NULL;
    } else {
        *nl = '\0';
        *s = nl + 1;
    }
    if ((nl = strchr(line, '\r')) != NULL) {
        if (nl[1] != '\0')
            return NULL; /* a bare CR inside a line */
        *nl = '\0';
    }
    return line;
}

static int
request_line(char *line, struct ctl_http_req *r, const char **why)
{
    char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL, *q;
    size_t mlen = sp1 ? (size_t)(sp1 - line) : 0;

    *why = "malformed request line";
    if (sp2 == NULL || mlen == 0 || mlen >= sizeof(r->method) || strchr(sp2 + 1, ' '))
        return SCC_EPROTO;
    for (size_t i = 0; i < mlen; i++) {
        if (!is_tchar((unsigned char)line[i]))
            return SCC_EPROTO;
    }
    memcpy(r->method, line, mlen);
    r->method[mlen] = '\0';
    *sp2 = '\0';
    if (strcmp(sp2 + 1, "HTTP/1.1") != 0 && strcmp(sp2 + 1, "HTTP/1.0") != 0) {
        *why = "only HTTP/1.0 and HTTP/1.1 are served here";
        return SCC_EPROTO;
    }
    r->http10 = sp2[8] == '0';
    r->keep_alive = !r->http10;
    r->path = sp1 + 1;
    if (r->path[0] != '/') {
        *why = "the request target must be an absolute path";
        return SCC_EPROTO;
    }
    for (const char *p = r->path; *p; p++) {
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return SCC_EPROTO;
    }
    if ((q = strchr(r->path, '?')) != NULL) {
        *q = '\0';
        r->query = q + 1;
    }
    return 0;
}

static int
content_length(const char *v, struct ctl_http_req *r, const char **why)
{
    uint64_t n;

    *why = "invalid Content-Length";
    if (*v == '\0' || strspn(v, "0123456789") != strlen(v) ||
        scc_parse_u64(v, 0, (uint64_t)1 << 53, &n) < 0)
        return SCC_EPROTO;
    if (r->content_length >= 0 && (uint64_t)r->content_length != n)
        return SCC_EPROTO;
    r->content_length = (int64_t)n;
    return 0;
}

/* Does the comma-separated list v hold token t (case-insensitive)? */
static bool
has_token(const char *v, const char *t)
{
    size_t n = strlen(t);

    while (*v) {
        v += strspn(v, " \t,");
        if (strncasecmp(v, t, n) == 0 && (v[n] == '\0' || strchr(" \t,", v[n])))
            return true;
        v += strcspn(v, ",");
    }
    return false;
}

static int
header(char *name, char *v, struct ctl_http_req *r, const char **why)
{
    if (strcasecmp(name, "content-length") == 0)
        return content_length(v, r, why);
    if (strcasecmp(name, "transfer-encoding") == 0) {
        if (strcasecmp(v, "chunked") != 0) {
            *why = "only the chunked transfer coding is supported";
            return SCC_ENOSYS;
        }
        r->chunked = true;
    } else if (strcasecmp(name, "connection") == 0) {
        if (has_token(v, "close"))
            r->keep_alive = false;
        else if (has_token(v, "keep-alive"))
            r->keep_alive = true;
    } else if (strcasecmp(name, "expect") == 0) {
        r->expect_continue = strcasecmp(v, "100-continue") == 0;
    } else if (strcasecmp(name, "host") == 0) {
        r->host = v;
    } else if (strcasecmp(name, "authorization") == 0) {
        r->authorization = v;
    } else if (strcasecmp(name, "content-type") == 0) {
        r->content_type = v;
    } else if (strcasecmp(name, "x-ms-client-request-id") == 0) {
        r->client_request_id = v;
    } else if (strcasecmp(name, "if-match") == 0) {
        r->if_match = v;
    } else if (strcasecmp(name, "if-none-match") == 0) {
        r->if_none_match = v;
    }
    return 0;
}

/* "Name: value" with optional whitespace around the value. */
static int
header_line(char *line, struct ctl_http_req *r, const char **why)
{
    char *colon = strchr(line, ':'), *v, *end;

    *why = "malformed header line";
    if (colon == NULL || colon == line || line[0] == ' ' || line[0] == '\t')
        return SCC_EPROTO; /* no name, or obsolete line folding */
    for (char *p = line; p < colon; p++) {
        if (!is_tchar((unsigned char)*p))
            return SCC_EPROTO;
    }
    *colon = '\0';
    for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
        ;
    for (end = v + strlen(v); end > v && (end[-1] == ' ' || end[-1] == '\t'); end--)
        ;
    *end = '\0';
    for (char *p = v; *p; p++) {
        if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
            return SCC_EPROTO;
    }
    return header(line, v, r, why);
}

static int
parse_lines(char *s, struct ctl_http_req *r, const char **why)
{
    char *line;
    int rc, n = 0;

    if ((line = next_line(&s)) == NULL) {
        *why = "empty request";
        return SCC_EPROTO;
    }
    if ((rc = request_line(line, r, why)) < 0)
        return rc;
    while ((line = next_line(&s)) != NULL && *line != '\0') {
        if (++n > CTL_HTTP_HDRS_MAX) {
            *why = "too many header fields";
            return SCC_ETOOBIG;
        }
        if ((rc = header_line(line, r, why)) < 0)
            return rc;
    }
    if (r->chunked && r->content_length >= 0) {
        *why = "both Content-Length and Transfer-Encoding";
        return SCC_EPROTO;
    }
    if (r->host == NULL && !r->http10) {
        *why = "HTTP/1.1 requests need a Host header";
        return SCC_EPROTO;
    }
    return 0;
}

int
ctl_http_head_parse(const char *buf, size_t len, struct ctl_http_req *out, const char **why)
{
    struct ctl_http_req r;
    int rc;

    memset(&r, 0, sizeof(r));
    r.content_length = -1;
    *why = "out of memory";
    if (memchr(buf, '\0', len) != NULL) {
        *why = "NUL byte in the request head";
        return SCC_EPROTO;
    }
    if ((r.head = scc_malloc(len + 1)) == NULL)
        return SCC_ENOMEM;
    memcpy(r.head, buf, len);
    r.head[len] = '\0';
    if ((rc = parse_lines(r.head, &r, why)) < 0) {
        scc_free(r.head);
        return rc;
    }
    *out = r;
    return 0;
}

void
ctl_http_req_fini(struct ctl_http_req *r)
{
    scc_free(r->head);
    memset(r, 0, sizeof(*r));
}

enum { CH_SIZE = 0, CH_DATA, CH_DATA_END, CH_TRAILER };

/* One line (through LF) starting at in; its length, or 0 if incomplete. */
static size_t
line_len(const uint8_t *in, size_t len)
{
    const uint8_t *nl = memchr(in, '\n', len);

    return nl ? (size_t)(nl - in) + 1 : 0;
}

static int
chunk_size(const uint8_t *line, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;

    for (; i < n && isxdigit(line[i]); i++) {
        if (i >= 15)
            return SCC_ETOOBIG;
        v = v * 16 + (uint64_t)(isdigit(line[i]) ? line[i] - '0' : (tolower(line[i]) - 'a' + 10));
    }
    if (i == 0 || (i < n && line[i] != ';' && line[i] != '\r' && line[i] != '\n'))
        return SCC_EPROTO;
    *out = v;
    return 0;
}

ssize_t
ctl_http_chunked_feed(struct ctl_http_chunked *c, const uint8_t *in, size_t len,
                      struct scc_buf *out)
{
    size_t used = 0, n;
    int rc;

    while (used < len && !c->done) {
        if (c->state == CH_DATA) {
            n = len - used < c->left ? len - used : (size_t)c->left;
            if ((rc = scc_buf_put(out, in + used, n)) < 0)
                return rc;
            used += n;
            if ((c->left -= n) == 0)
                c->state = CH_DATA_END;
            continue;
        }
        if ((n = line_len(in + used, len - used)) == 0)
            break; /* wait for the rest of the line */
        if (c->state == CH_SIZE) {
            if ((rc = chunk_size(in + used, n, &c->left)) < 0)
                return rc;
            c->state = c->left ? CH_DATA : CH_TRAILER;
        } else if (c->state == CH_DATA_END) {
            if (n > 2 || (n == 2 && in[used] != '\r'))
                return SCC_EPROTO;
            c->state = CH_SIZE;
        } else if (n <= 2) { /* the empty line that ends the trailers */
            c->done = true;
        }
        used += n;
    }
    return (ssize_t)used;
}

const char *
ctl_http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}
