/* Fuzz the identity parser: URIs arrive in peers' certificates and CSRs. */
#include <stdint.h>
#include <string.h>

#include "common/ident.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct scc_ident id;
    char uri[SCC_IDENT_URI_MAX + 1];

    if (scc_ident_parse((const char *)data, size, &id) == 0) {
        /* Whatever parses must format back to exactly the input. */
        if (scc_ident_format(&id, uri, sizeof(uri)) != 0 || strlen(uri) != size ||
            memcmp(uri, data, size) != 0)
            __builtin_trap();
    }
    return 0;
}
