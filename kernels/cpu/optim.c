// The optimizer step's ops on the CPU: AdamW, the gradient's sum of squares
// and clipping's scale (the loops rl/optim.c used to run on host memory).
#include <math.h>
#include <stdlib.h>

#include "kernels/cpu/cpu_ops.h"

int cpu_adamw(Backend *b, float *params, void *params_cd, float *m, float *v, const float *grads, size_t n,
              const BackendAdamW *h) {
    const float b1 = h->beta1, b2 = h->beta2, step = h->step, decay = h->decay;
    const float inv_sqrt_bc2 = h->inv_sqrt_bc2, eps = h->eps;
    const long nn = (long)n;
#pragma omp parallel for schedule(static) if (nn >= CPU_PAR_MIN / 8)
    for (long i = 0; i < nn; i++) {
        const float g = grads[i];
        m[i] = b1 * m[i] + (1.0f - b1) * g;
        v[i] = b2 * v[i] + (1.0f - b2) * g * g;
        params[i] = params[i] * decay - step * m[i] / (sqrtf(v[i]) * inv_sqrt_bc2 + eps);
    }
    // The CPU computes in fp32, so a separate working copy is only ever a copy.
    if (params_cd && params_cd != (void *)params) return cpu_convert(b, params_cd, b->cdt, params, BE_F32, n);
    return GRPO_OK;
}

// Fixed-size chunks summed in order: the result does not depend on the number
// of threads.
#define SUMSQ_CHUNK 65536

static double chunk_sumsq(const float *x, size_t n, long c) {
    size_t lo = (size_t)c * SUMSQ_CHUNK, hi = lo + SUMSQ_CHUNK < n ? lo + SUMSQ_CHUNK : n;
    double s = 0;
    for (size_t i = lo; i < hi; i++) s += (double)x[i] * x[i];
    return s;
}

int cpu_sumsq(Backend *b, double *host_out, const float *x, size_t n) {
    const long chunks = (long)((n + SUMSQ_CHUNK - 1) / SUMSQ_CHUNK);
    double *part = calloc(chunks ? chunks : 1, sizeof(double)), s = 0;
    if (!part) { // one thread, same order, rather than fail a training step
        for (long c = 0; c < chunks; c++) s += chunk_sumsq(x, n, c);
    } else {
#pragma omp parallel for schedule(static) if (chunks > 1)
        for (long c = 0; c < chunks; c++) part[c] = chunk_sumsq(x, n, c);
        for (long c = 0; c < chunks; c++) s += part[c];
        free(part);
    }
    *host_out = s;
    return GRPO_OK;
}

int cpu_scale(Backend *b, float *x, float s, size_t n) {
    const long nn = (long)n;
#pragma omp parallel for schedule(static) if (nn >= CPU_PAR_MIN / 8)
    for (long i = 0; i < nn; i++) x[i] *= s;
    return GRPO_OK;
}
