#include "err.h"

#include <string.h>

const char *
scc_strerror(int rc)
{
    switch (rc) {
    case 0:
        return "success";
#define SCC_ERR_CASE(name, value, msg)                                                             \
    case value:                                                                                    \
        return msg;
        SCC_ERR_TABLE(SCC_ERR_CASE)
#undef SCC_ERR_CASE
    default:
        break;
    }
    /* strerror() is not thread-safe in theory, but glibc returns static
     * strings for known errno values, which is all we pass it. */
    if (rc < 0 && rc > -4096)
        return strerror(-rc);
    return "unknown error";
}
