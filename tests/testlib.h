// A minimal test harness: CHECK records failures with their place and keeps
// going, so one run reports every broken case; tu_finish prints the tally.
#ifndef GRPO_TESTLIB_H
#define GRPO_TESTLIB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

extern int tu_checks, tu_failures;

void tu_check(int ok, const char *file, int line, const char *expr, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

// CHECK(cond, "printf-style context", ...): context is printed only on failure.
#define CHECK(cond, ...) tu_check(!!(cond), __FILE__, __LINE__, #cond, __VA_ARGS__)

// Prints "NAME: N passed, M failed" and returns the process exit code.
int tu_finish(const char *name);

// Prints "SKIPPED: why" and returns 77, ctest's SKIP_RETURN_CODE here.
int tu_skip(const char *name, const char *why);

typedef struct Backend Backend;
// The backend a GPU test checks against the CPU: "cuda", or the one named by
// GRPO_TEST_DEVICE ("cpu" runs the test's own logic on a machine without a GPU).
// Returns 0 with *gpu open; otherwise *gpu is NULL and the return value is the
// test's exit code (77 after tu_skip when there is no usable GPU).
int tu_open_gpu(const char *name, Backend **gpu);

// Deterministic random numbers (splitmix64) so failures reproduce.
uint64_t tu_rand_u64(uint64_t *state);
float tu_rand_uniform(uint64_t *state); // [-1, 1)

// GRPO_TEST_ONLY=group[,group...] runs only those groups of a test program,
// so a slow checker (compute-sanitizer, the CUDA emulator) can be pointed at
// one part. tu_only: whether `group` runs (all do when the variable is unset).
// tu_only_valid: 0, with a message naming the groups, when the variable names
// one not in `groups` (a misspelt group would otherwise run nothing and pass).
int tu_only(const char *group);
int tu_only_valid(const char *const *groups, size_t n);

// Absolute path of a file under tests/ (GRPO_TEST_DIR, or "." when unset).
// Returns a static buffer.
const char *tu_path(const char *rel);

// A fresh empty directory under the build's temp area; returns a static buffer.
const char *tu_tmpdir(const char *tag);

#endif
