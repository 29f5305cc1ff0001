/*
 * Fuzz the management API's HTTP/1.1 request parser the way ctl_api.c
 * drives it: find the end of the head, parse it, then, for a chunked
 * request, feed the rest of the input to the chunked decoder in pieces of
 * varying size (a body split across reads), under a small body limit.
 */
#include <stdint.h>
#include <string.h>

#include "common/buf.h"
#include "control/ctl_api_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
feed_chunked(const uint8_t *in, size_t len)
{
    struct ctl_http_chunked c = {0};
    struct scc_buf body;
    size_t step = 1;

    scc_buf_init(&body, 4096);
    while (len > 0 && !c.done) {
        size_t n = step < len ? step : len;
        ssize_t used = ctl_http_chunked_feed(&c, in, n, &body);

        if (used < 0)
            break;
        if (used == 0 && n == len)
            break; /* an incomplete line and nothing more to come */
        if (used == 0) {
            step++; /* the decoder wants more of a line at once */
            continue;
        }
        in += used;
        len -= (size_t)used;
        step = step * 3 % 97 + 1;
    }
    scc_buf_fini(&body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t end;
    struct ctl_http_req req;
    const char *why;

    if (size > CTL_HTTP_HEAD_MAX + 8192)
        return 0;
    end = ctl_http_head_end((const char *)data, size);
    if (end == 0 || end > CTL_HTTP_HEAD_MAX)
        return 0;
    if (ctl_http_head_parse((const char *)data, end, &req, &why) < 0)
        return 0;
    if (req.chunked)
        feed_chunked(data + end, size - end);
    (void)ctl_http_reason(200);
    ctl_http_req_fini(&req);
    return 0;
}
