/*
 * afile: atomic state files; see afile.h.
 */
#include "common/afile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"

int afile_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? -errno : -ENOSPC; /* 0 for a non-empty write: no room */
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int afile_write(const char *path, const void *data, size_t len, mode_t mode)
{
    char *tmp = xasprintf("%s.XXXXXX", path);
    /* mkostemp creates the name exclusively (O_EXCL): a link planted there
     * is not followed, and the rename below replaces a link at `path`
     * rather than writing through it. */
    int fd = mkostemp(tmp, O_CLOEXEC), r = 0;

    if (fd < 0) {
        r = -errno;
        free(tmp);
        return r;
    }
    if (fchmod(fd, mode) < 0 || (r = afile_write_all(fd, data, len)) < 0 || fsync(fd) < 0) {
        r = r < 0 ? r : -errno;
    }
    if (close(fd) < 0 && r == 0) {
        r = -errno;
    }
    if (r == 0 && rename(tmp, path) < 0) {
        r = -errno;
    }
    if (r < 0) {
        unlink(tmp);
    }
    free(tmp);
    return r;
}

FILE *afile_open(const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    FILE *f;

    if (fd < 0) {
        return NULL;
    }
    if ((f = fdopen(fd, "r")) == NULL) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return f;
}
