// OpenBLAS picks its kernels when the library loads. On some virtual machines
// its CPU detection fails and it falls back to "Prescott" (SSE3) kernels, even
// though the CPU has AVX-512: sgemm then runs 5-6x slower (18 vs 100+ GFLOPS
// per core measured on the 2-core Xeon VM this was written on). The choice can
// only be changed through OPENBLAS_CORETYPE before the library loads, so when
// the fallback happened and the variable is unset, this constructor sets it from
// the CPU's features and re-executes the program once. GRPO_NO_BLAS_REEXEC=1
// turns it off (e.g. under a debugger).
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "kernels/cpu/cpu_ops.h"

#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
// glibc passes (argc, argv, envp) to ELF constructors.
__attribute__((constructor)) static void cpu_blas_pick_core(int argc, char **argv, char **envp) {
    (void)argc;
    (void)envp;
    if (getenv("OPENBLAS_CORETYPE") || getenv("GRPO_NO_BLAS_REEXEC") || !argv || !argv[0]) return;
    const char *core = openblas_get_corename();
    if (!core || strcasecmp(core, "prescott")) return;
    __builtin_cpu_init();
    const char *want = __builtin_cpu_supports("avx512f") ? "SkylakeX" : __builtin_cpu_supports("avx2") ? "Haswell" : NULL;
    if (!want) return;
    setenv("OPENBLAS_CORETYPE", want, 1);
    execv("/proc/self/exe", argv); // returns only on failure: keep running with the slow kernels
}
#endif

const char *cpu_blas_core(void) {
    const char *c = openblas_get_corename();
    return c ? c : "unknown";
}
