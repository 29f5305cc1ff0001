/*
 * sock.h - sockets the way the tunnel wants them: non-blocking,
 * close-on-exec, TCP_NODELAY, and keep-alive tuned so that a half-open
 * connection dies within a minute even when no data is flowing.
 */
#ifndef SCC_TUNNEL_SOCK_H
#define SCC_TUNNEL_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define SCC_ADDR_STR_MAX 64

struct scc_keepalive {
    uint32_t idle_s;          /* TCP_KEEPIDLE */
    uint32_t interval_s;      /* TCP_KEEPINTVL */
    uint32_t count;           /* TCP_KEEPCNT */
    uint32_t user_timeout_ms; /* TCP_USER_TIMEOUT: unacked data deadline */
};

/* scc_sock_listen - bind "host:port" (port 0: any) and listen.  The
 * address actually bound goes to bound (may be NULL). */
int scc_sock_listen(const char *hostport, int backlog, int *out_fd, char *bound, size_t cap);

/* scc_sock_listen_unix - a Unix stream socket at path with mode (the
 * file's permissions are its access control). */
int scc_sock_listen_unix(const char *path, unsigned mode, int *out_fd);

/* scc_sock_accept - accept4 non-blocking; peer address into peer. */
int scc_sock_accept(int lfd, int *out_fd, char *peer, size_t cap);

/* scc_sock_connect - start a non-blocking connect to a numeric address;
 * completion is signalled by writability (check scc_sock_error). */
int scc_sock_connect(const struct sockaddr *sa, socklen_t len, int *out_fd);
int scc_sock_connect_unix(const char *path, int *out_fd);

/* scc_sock_error - the pending SO_ERROR as -errno (0 if none). */
int scc_sock_error(int fd);

/* scc_sock_connect_settled - has a connect started by scc_sock_connect
 * finished (either way) without waiting?  A loopback dial usually has. */
bool scc_sock_connect_settled(int fd);

/* scc_sock_tune - TCP_NODELAY plus keep-alive settings (ka may be NULL). */
int scc_sock_tune(int fd, const struct scc_keepalive *ka);

/* scc_sock_addr_str - "1.2.3.4:5" or "[::1]:5". */
int scc_sock_addr_str(const struct sockaddr *sa, char *out, size_t cap);

/* scc_sock_peer_str / scc_sock_local_str - of a connected socket. */
int scc_sock_peer_str(int fd, char *out, size_t cap);
int scc_sock_local_str(int fd, char *out, size_t cap);

/* scc_sock_resolve_numeric - "host" and port to a sockaddr, numeric hosts
 * only (names go through evdns). */
int scc_sock_resolve_numeric(const char *host, uint16_t port, struct sockaddr_storage *ss,
                             socklen_t *len);

/* scc_sock_raise_nofile - lift the soft limit on open files to the hard
 * limit (a relay holds one socket per tunnel).  Returns the new limit. */
long scc_sock_raise_nofile(void);

/* scc_sock_send_fd - send len bytes and, with them, a copy of fd over a
 * Unix socket (SCM_RIGHTS).  0 or -errno. */
int scc_sock_send_fd(int ufd, const void *data, size_t len, int fd);

/* scc_sock_recv_fd - receive up to cap bytes and at most one passed fd
 * (*fd = -1 if none; extra fds are closed).  Returns bytes, or -errno. */
ssize_t scc_sock_recv_fd(int ufd, void *buf, size_t cap, int *fd);

#endif /* SCC_TUNNEL_SOCK_H */
