/* Fuzz the proxy response parser: an HTTP proxy's reply is peer input. */
#include <stdint.h>
#include <string.h>

#include "agent/agent_proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int status = 0;
    size_t head = 0;

    if (agent_proxy_parse_response((const char *)data, size, &status, &head) == 1) {
        if (head > size || head > AGENT_PROXY_HEAD_MAX || status < 100 || status > 599)
            __builtin_trap();
    }
    return 0;
}
