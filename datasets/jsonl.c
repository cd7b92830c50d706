// JSON Lines reader: getline() so no line is too long, and the small things real
// files carry (a BOM from Windows editors, CRLF endings, trailing blank lines).
#include "datasets/jsonl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/status.h"

static int is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n' && s[i] != '\f' && s[i] != '\v') return 0;
    return 1;
}

int jsonl_each_line(const char *path, JsonlLineFn fn, void *ctx, long *n_lines) {
    if (n_lines) *n_lines = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return grpo_fail(GRPO_EIO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t cap = 0;
    long lineno = 0, seen = 0;
    int rc = 0;
    for (;;) {
        errno = 0;
        ssize_t got = getline(&buf, &cap, f);
        if (got < 0) {
            if (ferror(f)) rc = grpo_fail(GRPO_EIO, "%s: read error after line %ld: %s", path, lineno,
                                          strerror(errno ? errno : EIO));
            else if (errno == ENOMEM) rc = grpo_fail(GRPO_ENOMEM, "%s: line %ld: out of memory", path, lineno + 1);
            break;
        }
        lineno++;
        char *s = buf;
        size_t n = (size_t)got;
        if (lineno == 1 && n >= 3 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB &&
            (unsigned char)s[2] == 0xBF) {
            s += 3;
            n -= 3;
        }
        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r')) n--;
        if (is_blank(s, n)) continue;
        seen++;
        rc = fn(ctx, s, n, lineno);
        if (rc) break;
    }
    free(buf);
    fclose(f);
    if (n_lines) *n_lines = seen;
    return rc;
}
