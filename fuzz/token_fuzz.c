/* Fuzz the token parser: join and bearer tokens come straight off the wire. */
#include <stdint.h>
#include <string.h>

#include "common/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct scc_token t;

    if (scc_token_parse((const char *)data, size, &t) == 0) {
        if (strlen(t.id) != SCC_TOKEN_ID_LEN || strlen(t.hash) != SCC_TOKEN_HASH_LEN)
            __builtin_trap();
    }
    return 0;
}
