/*
 * nodelay.so - LD_PRELOAD shim that sets TCP_NODELAY on every TCP socket a
 * program connects or accepts.  OpenSSH leaves Nagle on for forwarded
 * channels, which turns its stream-open round trip into ~44 ms of delayed
 * ACKs; with this shim ssh -R is measured at its best, as the benchmark's
 * comparison requires.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <sys/socket.h>

static void
nodelay(int fd)
{
    int one = 1, type = 0;
    socklen_t len = sizeof(type);

    if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int
connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    static int (*real)(int, const struct sockaddr *, socklen_t);

    if (real == NULL)
        real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
    if (sa && (sa->sa_family == AF_INET || sa->sa_family == AF_INET6))
        nodelay(fd);
    return real(fd, sa, len);
}

int
accept(int fd, struct sockaddr *sa, socklen_t *len)
{
    static int (*real)(int, struct sockaddr *, socklen_t *);
    int c;

    if (real == NULL)
        real = (int (*)(int, struct sockaddr *, socklen_t *))dlsym(RTLD_NEXT, "accept");
    c = real(fd, sa, len);
    nodelay(c);
    return c;
}

int
accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
    static int (*real)(int, struct sockaddr *, socklen_t *, int);
    int c;

    if (real == NULL)
        real = (int (*)(int, struct sockaddr *, socklen_t *, int))dlsym(RTLD_NEXT, "accept4");
    c = real(fd, sa, len, flags);
    nodelay(c);
    return c;
}
