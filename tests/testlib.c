#include "testlib.h"

#include "kernels/backend.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int tu_checks, tu_failures;

void tu_check(int ok, const char *file, int line, const char *expr, const char *fmt, ...) {
    tu_checks++;
    if (ok) return;
    tu_failures++;
    fprintf(stderr, "FAIL %s:%d: %s", file, line, expr);
    if (fmt && *fmt) {
        va_list ap;
        va_start(ap, fmt);
        fputs(" -- ", stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    fputc('\n', stderr);
}

int tu_finish(const char *name) {
    printf("%s: %d passed, %d failed\n", name, tu_checks - tu_failures, tu_failures);
    return tu_failures ? 1 : 0;
}

int tu_skip(const char *name, const char *why) {
    printf("%s: SKIPPED: %s\n", name, why);
    return 77;
}

uint64_t tu_rand_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float tu_rand_uniform(uint64_t *s) { return (float)((tu_rand_u64(s) >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f; }

const char *tu_path(const char *rel) {
    static char buf[4096];
    const char *dir = getenv("GRPO_TEST_DIR");
    snprintf(buf, sizeof buf, "%s/%s", dir && *dir ? dir : ".", rel);
    return buf;
}

const char *tu_tmpdir(const char *tag) {
    static char buf[4096];
    const char *base = getenv("GRPO_BUILD_DIR");
    snprintf(buf, sizeof buf, "%s/testtmp/%s-%d", base && *base ? base : "/tmp", tag, (int)getpid());
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", buf, buf);
    if (system(cmd) != 0) fprintf(stderr, "cannot create %s\n", buf);
    return buf;
}

int tu_open_gpu(const char *name, Backend **gpu) {
    *gpu = NULL;
    const char *dev = getenv("GRPO_TEST_DEVICE");
    if (!dev || !*dev) dev = "cuda";
    if (!strcmp(dev, "cuda")) {
        if (!strstr(backend_compiled(), "cuda")) return tu_skip(name, "this build has no CUDA backend (GRPO_CUDA=OFF or no nvcc)");
        if (backend_cuda_probe(NULL, 0) != GRPO_OK) return tu_skip(name, grpo_errmsg());
    }
    CHECK(backend_open(dev, gpu) == GRPO_OK, "%s: %s", dev, grpo_errmsg());
    return *gpu ? 0 : tu_finish(name);
}

int tu_only(const char *group) {
    const char *only = getenv("GRPO_TEST_ONLY");
    if (!only || !*only) return 1;
    size_t n = strlen(group);
    for (const char *p = only; (p = strstr(p, group)); p += n)
        if ((p == only || p[-1] == ',') && (p[n] == ',' || !p[n])) return 1;
    return 0;
}

int tu_only_valid(const char *const *groups, size_t n_groups) {
    const char *only = getenv("GRPO_TEST_ONLY");
    for (const char *p = only; p && *p;) {
        size_t n = strcspn(p, ",");
        int known = 0;
        for (size_t g = 0; g < n_groups; g++) known |= strlen(groups[g]) == n && !strncmp(p, groups[g], n);
        if (!known) {
            fprintf(stderr, "GRPO_TEST_ONLY: unknown group '%.*s'; this program has:", (int)n, p);
            for (size_t g = 0; g < n_groups; g++) fprintf(stderr, " %s", groups[g]);
            fprintf(stderr, "\n");
            return 0;
        }
        p += n + (p[n] == ',');
    }
    return 1;
}
