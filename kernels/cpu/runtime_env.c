// Two settings of the CPU runtime can only be made through environment variables
// read when the libraries load, so a constructor sets them and re-executes the
// program once, before main and before MPI or OpenMP start. GRPO_NO_REEXEC=1
// (or the older GRPO_NO_BLAS_REEXEC=1) turns this off, e.g. under a debugger.
//
// - OpenBLAS picks its kernels at load. On some virtual machines its CPU
//   detection fails and it falls back to "Prescott" (SSE3) kernels on an AVX-512
//   CPU: sgemm then runs 5-6x slower (18 vs 100+ GFLOPS per core on the 2-core
//   Xeon VM this was written on). OPENBLAS_CORETYPE, when unset, is set from the
//   CPU's features.
// - libgomp's threads spin up to 300,000 iterations at every barrier before
//   they sleep. When another process holds one of the cores, a spinning thread
//   waits out the time slice of its preempted partner at every parallel region:
//   default-job GRPO steps on 2 cores with one busy core ran 2.5-7x slower.
//   Unless the user chose (OMP_WAIT_POLICY or GOMP_SPINCOUNT set), the spin is
//   cut to GRPO_GOMP_SPINCOUNT iterations: 10,000 costs 4% on an idle machine
//   (2,000 cost 23%, passive 15%) and keeps most of the gain under load.
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "kernels/cpu/cpu_ops.h"

#define GRPO_GOMP_SPINCOUNT "10000"

#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
static int want_blas_core(void) {
    if (getenv("OPENBLAS_CORETYPE")) return 0;
    const char *core = openblas_get_corename();
    if (!core || strcasecmp(core, "prescott")) return 0;
    __builtin_cpu_init();
    const char *want = __builtin_cpu_supports("avx512f") ? "SkylakeX" : __builtin_cpu_supports("avx2") ? "Haswell" : NULL;
    if (!want) return 0;
    setenv("OPENBLAS_CORETYPE", want, 1);
    return 1;
}

static int want_short_spin(void) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return 0;
    const char *t = getenv("OMP_NUM_THREADS");
    if ((t && atoi(t) == 1) || sysconf(_SC_NPROCESSORS_ONLN) < 2) return 0; // nothing to wait for
    setenv("GOMP_SPINCOUNT", GRPO_GOMP_SPINCOUNT, 1);
    return 1;
}

// glibc passes (argc, argv, envp) to ELF constructors.
__attribute__((constructor)) static void cpu_runtime_env(int argc, char **argv, char **envp) {
    (void)argc;
    (void)envp;
    if (getenv("GRPO_NO_REEXEC") || getenv("GRPO_NO_BLAS_REEXEC") || !argv || !argv[0]) return;
    int blas = want_blas_core(), spin = want_short_spin();
    if (blas || spin) execv("/proc/self/exe", argv); // returns only on failure: run on as we are
}
#endif

// Which OpenBLAS kernel set is in use (`grpo devices` shows it). Being referenced
// from the CPU backend also keeps this object, and so the constructor above, in
// every program linked against the static library.
const char *cpu_blas_core(void) {
    const char *c = openblas_get_corename();
    return c ? c : "unknown";
}
