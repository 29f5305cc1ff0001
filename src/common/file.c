#include "file.h"

#include "buf.h"
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
scc_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
    char tmp[4096];
    const uint8_t *p = data;
    int fd, rc = 0;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
        return SCC_ETRUNC;
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode)) < 0)
        return -errno;
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -errno : -EIO;
            break;
        }
        p += n;
        len -= (size_t)n;
    }
    if (rc == 0 && (fchmod(fd, (mode_t)mode) != 0 || fsync(fd) != 0))
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc != 0)
        (void)unlink(tmp); /* best effort: the temporary name is ours alone */
    return rc;
}

int
scc_file_read(const char *path, size_t max, struct scc_buf *b)
{
    uint8_t chunk[4096];
    int fd, rc = 0;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return -errno;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            break;
        }
        if (n == 0)
            break;
        if (b->len + (size_t)n > max) {
            rc = SCC_ETOOBIG;
            break;
        }
        if ((rc = scc_buf_put(b, chunk, (size_t)n)) < 0)
            break;
    }
    close(fd);
    return rc;
}

/* mkdir -p for the parents of path (mode 0755: they may be shared). */
static int
ensure_parents(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);

    if (n >= sizeof(buf))
        return -ENAMETOOLONG;
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    return 0;
}

int
scc_dir_ensure(const char *path, unsigned mode)
{
    struct stat st;
    int rc;

    if (mkdir(path, (mode_t)mode) == 0)
        return 0;
    if (errno == ENOENT) {
        if ((rc = ensure_parents(path)) < 0)
            return rc;
        if (mkdir(path, (mode_t)mode) == 0)
            return 0;
    }
    if (errno != EEXIST)
        return -errno;
    if (stat(path, &st) != 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}
