/*
 * err.h - error codes of the scc library.
 *
 * Failing functions return 0 or a negative int: -errno for system errors,
 * and the SCC_E* codes below (all <= -1000) for our own.  One X-macro table
 * generates both the enum and scc_strerror(), so a code cannot exist without
 * its message.
 */
#ifndef SCC_COMMON_ERR_H
#define SCC_COMMON_ERR_H

#define SCC_ERR_TABLE(X)                                                                           \
    X(SCC_ENOMEM, -1000, "out of memory")                                                          \
    X(SCC_EINVAL, -1001, "invalid argument")                                                       \
    X(SCC_EPROTO, -1002, "protocol error")                                                         \
    X(SCC_ETLS, -1003, "TLS error")                                                                \
    X(SCC_ETOOBIG, -1004, "too large")                                                             \
    X(SCC_ENOTFOUND, -1005, "not found")                                                           \
    X(SCC_EEXIST, -1006, "already exists")                                                         \
    X(SCC_EPERM, -1007, "not permitted")                                                           \
    X(SCC_EEXPIRED, -1008, "expired")                                                              \
    X(SCC_EUSED, -1009, "already used")                                                            \
    X(SCC_EREVOKED, -1010, "revoked")                                                              \
    X(SCC_ETIMEOUT, -1011, "timed out")                                                            \
    X(SCC_ECLOSED, -1012, "connection closed")                                                     \
    X(SCC_EH2, -1013, "HTTP/2 error")                                                              \
    X(SCC_EJSON, -1014, "malformed JSON")                                                          \
    X(SCC_ERANGE, -1015, "value out of range")                                                     \
    X(SCC_ETRUNC, -1016, "output truncated")                                                       \
    X(SCC_EBUSY, -1017, "busy")                                                                    \
    X(SCC_ESTORE, -1018, "state store error")                                                      \
    X(SCC_ECONFLICT, -1019, "conflict")                                                            \
    X(SCC_EAUTH, -1020, "authentication failed")                                                   \
    X(SCC_EUNAVAIL, -1021, "unavailable")                                                          \
    X(SCC_ENOSYS, -1022, "not supported")

enum scc_err {
#define SCC_ERR_ENUM(name, value, msg) name = (value),
    SCC_ERR_TABLE(SCC_ERR_ENUM)
#undef SCC_ERR_ENUM
};

/*
 * scc_strerror - the message for rc: an SCC_E* code, a negative errno, or 0.
 * Returns a static string; safe from any thread.
 */
const char *scc_strerror(int rc);

#endif /* SCC_COMMON_ERR_H */
