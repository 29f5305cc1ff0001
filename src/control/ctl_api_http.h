/*
 * ctl_api_http.h - HTTP/1.1 request parsing for the management API,
 * sans-IO: bytes in, a request head or body bytes out.
 *
 * Why our own and not evhttp: libevent 2.1's evhttp answers an oversized
 * body, a malformed request line or a method it does not know with its
 * own HTML error page before any callback of ours runs (the hooks that
 * would let us answer, evhttp_set_newreqcb and the error callbacks, came
 * in 2.2).  ARM clients need {"error":{"code","message"}} as JSON for
 * every failure, so the API parses requests itself; the parser is small,
 * strict (RFC 9112) and fuzzable.
 */
#ifndef SCC_CONTROL_CTL_API_HTTP_H
#define SCC_CONTROL_CTL_API_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/buf.h"

#define CTL_HTTP_HEAD_MAX (64u << 10) /* request line and headers */
#define CTL_HTTP_HDRS_MAX 100

struct ctl_http_req {
    char method[16];
    char *path;  /* the target before '?', within head */
    char *query; /* after '?', or NULL */
    bool http10;
    bool keep_alive;
    bool chunked;
    bool expect_continue;
    int64_t content_length; /* -1 when absent */
    const char *host, *authorization, *content_type, *client_request_id;
    const char *if_match, *if_none_match; /* conditional writes (ARM etags) */
    char *head; /* owned copy of the head; the pointers above point into it */
};

/*
 * ctl_http_head_parse - parse a complete head (request line and headers,
 * buf[0..len) ending with the empty line).
 * @why: on failure, a static reason for the error body.
 * Returns 0, SCC_EPROTO (malformed: 400), SCC_ETOOBIG (too many headers:
 * 431), SCC_ENOSYS (a transfer coding other than chunked: 501) or
 * SCC_ENOMEM.  out is filled only on success; release it with
 * ctl_http_req_fini.
 */
int ctl_http_head_parse(const char *buf, size_t len, struct ctl_http_req *out, const char **why);
void ctl_http_req_fini(struct ctl_http_req *r);

/*
 * ctl_http_head_end - the length of the head in buf (through the empty
 * line), or 0 if it is not complete yet.
 */
size_t ctl_http_head_end(const char *buf, size_t len);

/* Chunked transfer coding (RFC 9112 §7.1), trailers skipped. */
struct ctl_http_chunked {
    int state;
    uint64_t left; /* bytes left in the current chunk */
    bool done;
};

/*
 * ctl_http_chunked_feed - decode from in[0..len), appending data to out
 * (whose max is the body limit).  Returns the bytes consumed (maybe fewer
 * than len once done is set, or when a line is incomplete), SCC_EPROTO or
 * SCC_ETOOBIG.
 */
ssize_t ctl_http_chunked_feed(struct ctl_http_chunked *c, const uint8_t *in, size_t len,
                              struct scc_buf *out);

/* ctl_http_reason - "OK", "Created", ... for a status code. */
const char *ctl_http_reason(int status);

#endif /* SCC_CONTROL_CTL_API_HTTP_H */
