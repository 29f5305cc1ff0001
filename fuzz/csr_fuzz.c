/* Fuzz the CSR parser: agents send CSRs with their join token. */
#include <openssl/x509.h>
#include <stdint.h>

#include "common/pki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    X509_REQ *req = NULL;
    char uri[400];

    if (scc_pki_csr_parse((const char *)data, size, &req) == 0) {
        (void)scc_pki_csr_uri(req, uri, sizeof(uri));
        X509_REQ_free(req);
    }
    return 0;
}
