#include "kernels/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/status.h"

int grpo_read_file(const char *path, size_t max_bytes, char **out, size_t *len) {
    *out = NULL;
    if (len) *len = 0;
    if (!max_bytes) max_bytes = (size_t)1 << 30;
    struct stat sb;
    if (stat(path, &sb) != 0) return grpo_fail(GRPO_EIO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return grpo_fail(GRPO_EIO, "%s: not a regular file", path);
    FILE *f = fopen(path, "rb");
    if (!f) return grpo_fail(GRPO_EIO, "%s: cannot open: %s", path, strerror(errno));
    // Grow as we read rather than trust st_size: the file may be changing.
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        if (cap >= max_bytes) {
            free(buf);
            fclose(f);
            return grpo_fail(GRPO_EFORMAT, "%s: larger than %zu MB, not the file expected here", path, max_bytes >> 20);
        }
        cap *= 2;
        char *g = realloc(buf, cap + 1);
        if (!g) free(buf);
        buf = g;
    }
    int err = ferror(f);
    fclose(f);
    if (!buf) return grpo_fail(GRPO_ENOMEM, "%s: out of memory", path);
    if (err) {
        free(buf);
        return grpo_fail(GRPO_EIO, "%s: read error", path);
    }
    buf[n] = '\0';
    *out = buf;
    if (len) *len = n;
    return GRPO_OK;
}

int grpo_write_file_atomic(const char *path, const void *data, size_t len) {
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return grpo_fail(GRPO_EINVAL, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return grpo_fail(GRPO_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    const char *p = data;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, p + off, len - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            return grpo_fail(GRPO_EIO, "%s: write failed: %s", tmp, strerror(e));
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return grpo_fail(GRPO_EIO, "%s: cannot write: %s", path, strerror(e));
    }
    return GRPO_OK;
}

int grpo_mkdirs(const char *path) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return grpo_fail(GRPO_EINVAL, "%s: path too long", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return grpo_fail(GRPO_EIO, "%s: cannot create directory: %s", buf, strerror(errno));
        *p = c;
        if (!c) break;
    }
    return GRPO_OK;
}
