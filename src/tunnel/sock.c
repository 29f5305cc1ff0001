#define _GNU_SOURCE /* accept4, TCP_USER_TIMEOUT */
#include "sock.h"

#include "common/err.h"
#include "common/parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int
scc_sock_resolve_numeric(const char *host, uint16_t port, struct sockaddr_storage *ss,
                         socklen_t *len)
{
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        *len = sizeof(*in4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        *len = sizeof(*in6);
        return 0;
    }
    return SCC_EINVAL;
}

int
scc_sock_addr_str(const struct sockaddr *sa, char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN];
    int n;

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)(const void *)sa;

        inet_ntop(AF_INET, &in4->sin_addr, host, sizeof(host));
        n = snprintf(out, cap, "%s:%u", host, ntohs(in4->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;

        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        n = snprintf(out, cap, "[%s]:%u", host, ntohs(in6->sin6_port));
    } else if (sa->sa_family == AF_UNIX) {
        n = snprintf(out, cap, "unix");
    } else {
        return SCC_EINVAL;
    }
    return n < 0 || (size_t)n >= cap ? SCC_ETRUNC : 0;
}

int
scc_sock_listen(const char *hostport, int backlog, int *out_fd, char *bound, size_t cap)
{
    char host[256];
    uint16_t port;
    struct sockaddr_storage ss;
    socklen_t len;
    int fd, one = 1, rc;

    if ((rc = scc_parse_hostport(hostport, host, sizeof(host), &port, true)) < 0)
        return rc;
    if ((rc = scc_sock_resolve_numeric(host, port, &ss, &len)) < 0)
        return rc;
    if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
        return -errno;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, backlog) != 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    if (bound && (rc = scc_sock_local_str(fd, bound, cap)) < 0) {
        close(fd);
        return rc;
    }
    *out_fd = fd;
    return 0;
}

int
scc_sock_listen_unix(const char *path, unsigned mode, int *out_fd)
{
    struct sockaddr_un sun;
    int fd, rc;
    mode_t old;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path))
        return SCC_ETRUNC;
    memcpy(sun.sun_path, path, strlen(path) + 1);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
        return -errno;
    (void)unlink(path); /* a stale socket from a previous run */
    /* Create it with the final mode: no window in which others may connect. */
    old = umask((mode_t)(~mode & 0777));
    rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    umask(old);
    if (rc != 0 || listen(fd, 64) != 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    *out_fd = fd;
    return 0;
}

int
scc_sock_accept(int lfd, int *out_fd, char *peer, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd;

    do {
        fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return -errno;
    if (peer && scc_sock_addr_str((struct sockaddr *)&ss, peer, cap) < 0)
        snprintf(peer, cap, "?");
    *out_fd = fd;
    return 0;
}

int
scc_sock_connect(const struct sockaddr *sa, socklen_t len, int *out_fd)
{
    int fd, rc;

    if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
        return -errno;
    if (connect(fd, sa, len) != 0 && errno != EINPROGRESS) {
        rc = -errno;
        close(fd);
        return rc;
    }
    *out_fd = fd;
    return 0;
}

int
scc_sock_connect_unix(const char *path, int *out_fd)
{
    struct sockaddr_un sun;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path))
        return SCC_ETRUNC;
    memcpy(sun.sun_path, path, strlen(path) + 1);
    return scc_sock_connect((struct sockaddr *)&sun, sizeof(sun), out_fd);
}

int
scc_sock_error(int fd)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return -errno;
    return -err;
}

bool
scc_sock_connect_settled(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};

    return poll(&p, 1, 0) == 1 && (p.revents & (POLLOUT | POLLERR | POLLHUP));
}

static int
setopt(int fd, int level, int name, int value)
{
    return setsockopt(fd, level, name, &value, sizeof(value)) == 0 ? 0 : -errno;
}

int
scc_sock_tune(int fd, const struct scc_keepalive *ka)
{
    int rc;

    if ((rc = setopt(fd, IPPROTO_TCP, TCP_NODELAY, 1)) < 0)
        return rc;
    if (ka == NULL)
        return 0;
    if ((rc = setopt(fd, SOL_SOCKET, SO_KEEPALIVE, 1)) < 0 ||
        (rc = setopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, (int)ka->idle_s)) < 0 ||
        (rc = setopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, (int)ka->interval_s)) < 0 ||
        (rc = setopt(fd, IPPROTO_TCP, TCP_KEEPCNT, (int)ka->count)) < 0)
        return rc;
    /* Without this, unacknowledged data keeps a dead peer "alive" for the
     * ~15 minutes of TCP retransmission, and keep-alive never fires. */
    return setopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, (int)ka->user_timeout_ms);
}

int
scc_sock_peer_str(int fd, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
        return -errno;
    return scc_sock_addr_str((struct sockaddr *)&ss, out, cap);
}

int
scc_sock_local_str(int fd, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -errno;
    return scc_sock_addr_str((struct sockaddr *)&ss, out, cap);
}

int
scc_sock_send_fd(int ufd, const void *data, size_t len, int fd)
{
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct iovec iov = {(void *)data, len};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = ctl.buf,
                         .msg_controllen = sizeof(ctl.buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    ssize_t n;

    memset(&ctl, 0, sizeof(ctl));
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    do {
        n = sendmsg(ufd, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    return (size_t)n == len ? 0 : -EIO;
}

ssize_t
scc_sock_recv_fd(int ufd, void *buf, size_t cap, int *fd)
{
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(4 * sizeof(int))];
    } ctl;
    struct iovec iov = {buf, cap};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = ctl.buf,
                         .msg_controllen = sizeof(ctl.buf)};
    ssize_t n;

    *fd = -1;
    do {
        n = recvmsg(ufd, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        size_t nfds;

        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < nfds; i++) {
            int one;

            memcpy(&one, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (*fd < 0)
                *fd = one;
            else
                close(one); /* only one fd per message is meaningful */
        }
    }
    return n;
}

long
scc_sock_raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -errno;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl); /* the old limit still works */
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    return (long)rl.rlim_cur;
}
