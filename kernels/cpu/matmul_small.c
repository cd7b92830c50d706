// y (M, N) = alpha * x (M, K) @ W^T (+ y), W stored (N, K), for few rows M:
// the nn.Linear shape of a decode step (one row per sequence). sgemm would
// repack all of W on every call, which costs more than the product itself when
// M is small; here each row of W is streamed once and used for all M rows of x.
// Each output is one fixed-order dot product, so a row's result does not depend
// on which other rows are in the batch (batched decoding matches decoding alone).
#include <stddef.h>

#include "kernels/cpu/cpu_ops.h"

#define LANES 16

static inline float hsum(const float *a) {
    float s = 0.0f;
    for (int j = 0; j < LANES; j++) s += a[j];
    return s;
}

// Four rows of W at a time share each load of x; the lanes vectorise to one
// 512-bit (or two 256-bit) registers per accumulator.
CPU_SIMD_CLONES
static void dot_rows(float *y, const float *x, const float *w, int M, int N, int K, int n0, int n1, float alpha,
                     int accumulate) {
    int K16 = K - K % LANES;
    int n = n0;
    for (; n + 4 <= n1; n += 4) {
        const float *w0 = w + (size_t)n * K, *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K;
        for (int m = 0; m < M; m++) {
            const float *xm = x + (size_t)m * K;
            float a0[LANES] = {0}, a1[LANES] = {0}, a2[LANES] = {0}, a3[LANES] = {0};
            for (int k = 0; k < K16; k += LANES)
                for (int j = 0; j < LANES; j++) {
                    float xv = xm[k + j];
                    a0[j] += xv * w0[k + j];
                    a1[j] += xv * w1[k + j];
                    a2[j] += xv * w2[k + j];
                    a3[j] += xv * w3[k + j];
                }
            float s[4] = {hsum(a0), hsum(a1), hsum(a2), hsum(a3)};
            for (int k = K16; k < K; k++) {
                s[0] += xm[k] * w0[k];
                s[1] += xm[k] * w1[k];
                s[2] += xm[k] * w2[k];
                s[3] += xm[k] * w3[k];
            }
            float *o = y + (size_t)m * N + n;
            for (int r = 0; r < 4; r++) o[r] = accumulate ? o[r] + alpha * s[r] : alpha * s[r];
        }
    }
    for (; n < n1; n++) {
        const float *wn = w + (size_t)n * K;
        for (int m = 0; m < M; m++) {
            const float *xm = x + (size_t)m * K;
            float acc[LANES] = {0};
            for (int k = 0; k < K16; k += LANES)
                for (int j = 0; j < LANES; j++) acc[j] += xm[k + j] * wn[k + j];
            float s = hsum(acc);
            for (int k = K16; k < K; k++) s += xm[k] * wn[k];
            float *o = y + (size_t)m * N + n;
            *o = accumulate ? *o + alpha * s : alpha * s;
        }
    }
}

void cpu_matmul_small(float *y, const float *x, const float *w, int M, int N, int K, float alpha, int accumulate) {
    // Blocks of 64 rows of W per task: enough work to amortise the scheduling.
#pragma omp parallel for schedule(static) if ((size_t)M * N * K >= 8 * CPU_PAR_MIN)
    for (int n0 = 0; n0 < N; n0 += 64) dot_rows(y, x, w, M, N, K, n0, n0 + 64 < N ? n0 + 64 : N, alpha, accumulate);
}
