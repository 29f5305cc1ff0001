/*
 * copyalign - memcpy speed by destination offset within a cache line.
 *
 * A TLS record is copied with its destination just past a 5-byte header
 * (inside OpenSSL) and into buffers the kernel fills; where "rep movsb"
 * is slow for such destinations, a tunnel pays for it on every byte.
 * bench/tunnel/copyalign.sh runs this with glibc's default memcpy and
 * with rep movsb turned off (the tuning src/common/cputune.c applies).
 *
 * usage: copyalign SIZE   prints "offset GB/s" for offsets 0, 8, ... 56
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AREA (1u << 21) /* sources cycle through 2 MiB, as a stream would */

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int
main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 16384;
    uint8_t *src = aligned_alloc(4096, AREA + n), *dst = aligned_alloc(4096, n + 64);
    long iters;

    if (n == 0 || n > AREA || src == NULL || dst == NULL) {
        fprintf(stderr, "usage: copyalign SIZE (1..%u)\n", AREA);
        return 2;
    }
    memset(src, 1, AREA + n);
    memset(dst, 2, n + 64);
    iters = (long)(4e9 / (double)n);
    for (size_t off = 0; off < 64; off += 8) {
        double t0 = now();

        for (long i = 0; i < iters; i++) {
            memcpy(dst + off, src + ((size_t)i * n) % AREA, n);
            __asm__ volatile("" : : "r"(dst) : "memory"); /* keep every copy */
        }
        printf("%2zu %6.2f\n", off, (double)n * (double)iters / (now() - t0) / 1e9);
    }
    return 0;
}
