// `grpo bench`: throughput measurements. Speed is shown here, never asserted in tests.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/backend.h"
#include "rl/cli.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Fills with a deterministic pattern: bench numbers must not depend on rand().
static void fill(float *x, size_t n, unsigned seed) {
    unsigned s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((s >> 8) & 0xffff) / 65536.0f - 0.5f;
    }
}

static int bench_matmul(Backend *b, const char *spec, long iters) {
    int M = 0, N = 0, K = 0;
    int got = sscanf(spec, "%d,%d,%d", &M, &N, &K);
    if (got == 1) N = K = M;
    else if (got != 3) return cli_error("bench", "--matmul expects N or M,N,K, got '%s'", spec);
    if (M <= 0 || N <= 0 || K <= 0 || (long)M * K > (1L << 30) || (long)K * N > (1L << 30) || (long)M * N > (1L << 30))
        return cli_error("bench", "--matmul sizes must be positive and each matrix under 2^30 elements");
    size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
    float *ha = malloc(na * sizeof(float)), *hb = malloc(nb * sizeof(float));
    void *a = NULL, *bm = NULL, *c = NULL;
    int rc = 1;
    if (!ha || !hb) {
        cli_error("bench", "out of memory");
        goto done;
    }
    fill(ha, na, 1);
    fill(hb, nb, 2);
    if (b->alloc(b, &a, na * 4) || b->alloc(b, &bm, nb * 4) || b->alloc(b, &c, nc * 4) ||
        b->to_device(b, a, ha, na * 4) || b->to_device(b, bm, hb, nb * 4)) {
        cli_fail("bench");
        goto done;
    }
    // y = x @ W^T, the shape of every linear layer in the model.
    if (b->matmul(b, c, a, bm, M, N, K, 0, 1, 1.0f, 0) || b->sync(b)) { // warm-up
        cli_fail("bench");
        goto done;
    }
    double t0 = now_s();
    for (long i = 0; i < iters; i++)
        if (b->matmul(b, c, a, bm, M, N, K, 0, 1, 1.0f, 0)) {
            cli_fail("bench");
            goto done;
        }
    if (b->sync(b)) {
        cli_fail("bench");
        goto done;
    }
    double dt = (now_s() - t0) / (double)iters;
    printf("{\"op\": \"matmul\", \"dtype\": \"f32\", \"device\": \"%s\", \"device_name\": \"%s\", "
           "\"M\": %d, \"N\": %d, \"K\": %d, \"iters\": %ld, \"ms\": %.4f, \"gflops\": %.2f}\n",
           b->name, b->device_name, M, N, K, iters, dt * 1e3, 2.0 * M * N * K / dt * 1e-9);
    rc = 0;
done:
    free(ha);
    free(hb);
    b->free(b, a);
    b->free(b, bm);
    b->free(b, c);
    return rc;
}

static int run(int argc, char **argv) {
    const char *device = "auto", *matmul = NULL;
    long iters = 10;
    CliOpt opts[] = {{"--device", CLI_STR, &device}, {"--matmul", CLI_STR, &matmul}, {"--iters", CLI_INT, &iters}};
    int rc = cli_parse("bench", argc, argv, opts, 3, NULL, 0, NULL);
    if (rc) return rc;
    if (!matmul) return cli_error("bench", "nothing to measure: give --matmul (see 'grpo bench --help')");
    if (iters < 1) return cli_error("bench", "--iters must be at least 1");
    Backend *b = NULL;
    if (backend_open(device, &b)) return cli_fail("bench");
    rc = bench_matmul(b, matmul, iters);
    backend_close(b);
    return rc;
}

const GrpoCommand grpo_cmd_bench = {
    "bench", "measure throughput (matmul; the model's prefill, decode and training)",
    "usage: grpo bench --matmul N|M,N,K [--iters I] [--device cpu|cuda|auto]\n\n"
    "Prints one JSON object per measurement.\n\n"
    "  --matmul M,N,K  time out (M,N) = x (M,K) @ W^T with W (N,K), fp32; N alone means N,N,N\n"
    "  --iters I       timed repetitions after one warm-up (default 10)\n"
    "  --device D      cpu, cuda or auto (default auto: cuda when a usable GPU is present)\n",
    run};
