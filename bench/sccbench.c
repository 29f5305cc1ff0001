/*
 * sccbench - the load tool behind bench/: one binary, plain blocking
 * sockets, so what it measures is the path under test, not the tool.
 *
 *   sccbench sink PORT                 accept; read and discard; close at EOF
 *   sccbench echo PORT                 accept; echo everything back
 *   sccbench send HOST:PORT MBYTES     stream MBYTES MiB, wait for the close: Gbit/s
 *   sccbench rtt HOST:PORT N [SIZE]    N round trips of SIZE bytes on one connection
 *   sccbench open HOST:PORT N          N x (connect, 64-byte round trip, close)
 *   sccbench rttmix N SIZE HOST:PORT...  N round trips on each target, taken in
 *                                      turn (one on each, then again), so that
 *                                      the machine's drift falls on all alike
 *
 * Latencies are reported as p50/p99 in microseconds.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
dial(const char *hp)
{
    char host[256];
    const char *colon = strrchr(hp, ':');
    struct sockaddr_in sa = {.sin_family = AF_INET};
    int fd, one = 1;

    if (colon == NULL || (size_t)(colon - hp) >= sizeof(host))
        return -1;
    memcpy(host, hp, (size_t)(colon - hp));
    host[colon - hp] = '\0';
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 || (fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int
read_full(int fd, char *buf, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, buf, n);

        if (r <= 0)
            return -1;
        buf += r;
        n -= (size_t)r;
    }
    return 0;
}

static int
write_full(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);

        if (w <= 0)
            return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

static void *
serve_one(void *arg)
{
    int fd = (int)(intptr_t)arg & 0xffff, echo = (int)(intptr_t)arg >> 16;
    static __thread char buf[1 << 18];
    ssize_t n;

    while ((n = read(fd, buf, sizeof(buf))) > 0)
        if (echo && write_full(fd, buf, (size_t)n) < 0)
            break;
    close(fd);
    return NULL;
}

static int
serve(int port, int echo)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 512) != 0) {
        perror("listen");
        return 1;
    }
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        pthread_t t;

        if (fd < 0)
            continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        pthread_create(&t, NULL, serve_one, (void *)(intptr_t)(fd | (echo << 16)));
        pthread_detach(t);
    }
}

static int
send_bulk(const char *hp, long mib)
{
    static char buf[1 << 18];
    int fd = dial(hp);
    uint64_t t0, total = (uint64_t)mib << 20, left = total;
    double secs;

    if (fd < 0) {
        perror("connect");
        return 1;
    }
    t0 = now_ns();
    while (left > 0) {
        size_t n = left < sizeof(buf) ? (size_t)left : sizeof(buf);

        if (write_full(fd, buf, n) < 0) {
            perror("write");
            return 1;
        }
        left -= n;
    }
    shutdown(fd, SHUT_WR);
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
    secs = (double)(now_ns() - t0) / 1e9;
    printf("bytes=%llu seconds=%.3f gbit_per_s=%.2f\n", (unsigned long long)total, secs,
           (double)total * 8 / secs / 1e9);
    close(fd);
    return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static void
report(const char *what, uint64_t *ns, long n)
{
    qsort(ns, (size_t)n, sizeof(*ns), cmp_u64);
    printf("%s n=%ld p50_us=%.1f p99_us=%.1f\n", what, n, (double)ns[n / 2] / 1e3,
           (double)ns[(n * 99) / 100] / 1e3);
}

static int
rtt(const char *hp, long n, long size)
{
    char buf[65536];
    uint64_t *ns = calloc((size_t)n, sizeof(*ns));
    int fd = dial(hp);

    if (fd < 0 || ns == NULL || size <= 0 || size > (long)sizeof(buf))
        return 1;
    memset(buf, 'x', sizeof(buf));
    for (long i = 0; i < n + 100; i++) {
        uint64_t t0 = now_ns();

        if (write_full(fd, buf, (size_t)size) < 0 || read_full(fd, buf, (size_t)size) < 0) {
            perror("rtt");
            return 1;
        }
        if (i >= 100) /* warm-up */
            ns[i - 100] = now_ns() - t0;
    }
    report("rtt", ns, n);
    close(fd);
    free(ns);
    return 0;
}

static int
rtt_mix(long n, long size, char **hp, int nhp)
{
    char buf[65536], what[300];
    uint64_t *ns = calloc((size_t)(n * nhp), sizeof(*ns));
    int fd[16];

    if (ns == NULL || nhp > 16 || size <= 0 || size > (long)sizeof(buf))
        return 1;
    for (int j = 0; j < nhp; j++)
        if ((fd[j] = dial(hp[j])) < 0)
            return 1;
    memset(buf, 'x', sizeof(buf));
    for (long i = 0; i < n + 100; i++) {
        for (int j = 0; j < nhp; j++) {
            uint64_t t0 = now_ns();

            if (write_full(fd[j], buf, (size_t)size) < 0 ||
                read_full(fd[j], buf, (size_t)size) < 0) {
                perror("rttmix");
                return 1;
            }
            if (i >= 100) /* warm-up */
                ns[(long)j * n + i - 100] = now_ns() - t0;
        }
    }
    for (int j = 0; j < nhp; j++) {
        snprintf(what, sizeof(what), "rtt %s", hp[j]);
        report(what, ns + (long)j * n, n);
        close(fd[j]);
    }
    free(ns);
    return 0;
}

static int
open_rtt(const char *hp, long n)
{
    char buf[64];
    uint64_t *ns = calloc((size_t)n, sizeof(*ns));

    memset(buf, 'x', sizeof(buf));
    for (long i = 0; i < n; i++) {
        uint64_t t0 = now_ns();
        int fd = dial(hp);

        if (fd < 0 || write_full(fd, buf, 64) < 0 || read_full(fd, buf, 64) < 0) {
            perror("open");
            return 1;
        }
        ns[i] = now_ns() - t0;
        close(fd);
    }
    report("open+rtt", ns, n);
    free(ns);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "sink") == 0)
        return serve(atoi(argv[2]), 0);
    if (argc >= 3 && strcmp(argv[1], "echo") == 0)
        return serve(atoi(argv[2]), 1);
    if (argc >= 4 && strcmp(argv[1], "send") == 0)
        return send_bulk(argv[2], atol(argv[3]));
    if (argc >= 4 && strcmp(argv[1], "rtt") == 0)
        return rtt(argv[2], atol(argv[3]), argc > 4 ? atol(argv[4]) : 64);
    if (argc >= 5 && strcmp(argv[1], "rttmix") == 0)
        return rtt_mix(atol(argv[2]), atol(argv[3]), argv + 4, argc - 4);
    if (argc >= 4 && strcmp(argv[1], "open") == 0)
        return open_rtt(argv[2], atol(argv[3]));
    fprintf(stderr, "usage: see the comment at the top of bench/sccbench.c\n");
    return 2;
}
