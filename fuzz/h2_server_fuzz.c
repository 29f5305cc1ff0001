/*
 * Fuzz an HTTP/2 server session through scc_h2_recv (nghttp2's mem_recv):
 * arbitrary bytes from a peer, with a handler that answers every request,
 * collects bodies and resets some streams, so callbacks run too.
 */
#include <stdint.h>
#include <string.h>

#include "common/buf.h"
#include "tunnel/h2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
on_data(struct scc_h2_stream *s, const uint8_t *d, size_t n, void *arg)
{
    (void)d, (void)arg;
    scc_h2_stream_consume(s, n);
}

static void
on_request(struct scc_h2 *h2, struct scc_h2_stream *s, void *arg)
{
    static const struct scc_h2_stream_cbs cbs = {.on_data = on_data};
    const struct scc_h2_head *h = scc_h2_stream_head(s);

    (void)h2, (void)arg;
    if (h->path && h->path[0] && h->path[1] == 'r') {
        scc_h2_stream_reset(s, 8);
        return;
    }
    scc_h2_stream_set_cbs(s, &cbs, NULL);
    (void)scc_h2_respond_json(s, 200, "{\"ok\":true}");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    struct scc_h2_settings set;
    struct scc_h2_cbs cbs = {.on_request = on_request};
    struct scc_h2 *h2 = NULL;
    struct scc_buf out;

    scc_h2_settings_default(&set);
    if (scc_h2_new(SCC_H2_SERVER, &set, &cbs, NULL, &h2) < 0)
        return 0;
    scc_buf_init(&out, 4u << 20);
    /* Most inputs would die at the preface; give them one for free. */
    if (scc_h2_recv(h2, (const uint8_t *)preface, sizeof(preface) - 1) == 0 &&
        scc_h2_recv(h2, data, size) == 0)
        (void)scc_h2_send(h2, &out, NULL, 1u << 20);
    scc_buf_fini(&out);
    scc_h2_free(h2);
    return 0;
}
