/* Fuzz the run request body: JSON from the control plane, through the
 * same bounded parser and checks the agent applies before spawning. */
#include <stdint.h>
#include <string.h>

#include "agent/agent_run.h"
#include "common/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    json_t *o = NULL;

    if (scc_json_parse_object(data, size, 64u << 10, &o, err, sizeof(err)) == 0) {
        (void)agent_run_spec_check(o, err, sizeof(err));
        json_decref(o);
    }
    return 0;
}
