// SwiGLU, residual add, bias add and row scatter: the small elementwise ops.
#include <math.h>
#include <string.h>

#include "kernels/cpu/cpu_ops.h"

int cpu_swiglu_forward(Backend *b, void *out_, const void *gate_, const void *up_, size_t n) {
    float *out = out_;
    const float *gate = gate_, *up = up_;
    // out, gate, up (n) = (T, F) flattened
#pragma omp parallel for schedule(static) if(n >= CPU_PAR_MIN / 8)
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
    return GRPO_OK;
}

int cpu_swiglu_backward(Backend *b, void *dgate_, void *dup_, const void *dout_, const void *gate_,
                        const void *up_, size_t n) {
    float *dgate = dgate_, *dup = dup_;
    const float *dout = dout_, *gate = gate_, *up = up_;
    // silu'(g) = sig(g) * (1 + g * (1 - sig(g)))
#pragma omp parallel for schedule(static) if(n >= CPU_PAR_MIN / 8)
    for (size_t i = 0; i < n; i++) {
        float g = gate[i], sg = 1.0f / (1.0f + expf(-g)), d = dout[i];
        float u = up[i];
        dup[i] = d * g * sg;
        dgate[i] = d * u * sg * (1.0f + g * (1.0f - sg));
    }
    return GRPO_OK;
}

int cpu_add(Backend *b, void *out_, const void *x_, const void *y_, size_t n) {
    float *out = out_;
    const float *x = x_, *y = y_;
#pragma omp parallel for schedule(static) if(n >= CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = x[i] + y[i];
    return GRPO_OK;
}

int cpu_bias_forward(Backend *b, void *out_, const void *bias_, int T, int N) {
    float *out = out_;
    const float *bias = bias_;
    // out (T, N) += bias (N)
#pragma omp parallel for schedule(static) if((size_t)T * N >= CPU_PAR_MIN)
    for (int t = 0; t < T; t++) {
        float *o = out + (size_t)t * N;
        for (int j = 0; j < N; j++) o[j] += bias[j];
    }
    return GRPO_OK;
}

int cpu_bias_backward(Backend *b, float *dbias, const void *dout_, int T, int N) {
    const float *dout = dout_;
    // dbias (N) += sum over t of dout (T, N); split by column for a fixed order
#pragma omp parallel for schedule(static) if((size_t)T * N >= CPU_PAR_MIN)
    for (int j0 = 0; j0 < N; j0 += 64) {
        int j1 = j0 + 64 < N ? j0 + 64 : N;
        for (int t = 0; t < T; t++) {
            const float *d = dout + (size_t)t * N;
            for (int j = j0; j < j1; j++) dbias[j] += d[j];
        }
    }
    return GRPO_OK;
}

int cpu_scatter_rows(Backend *b, void *dst_, const void *src_, const int32_t *dst_rows, int n, int dim) {
    float *dst = dst_;
    const float *src = src_;
    // dst (*, dim) rows dst_rows[i] = src (n, dim) row i
#pragma omp parallel for schedule(static) if((size_t)n * dim >= CPU_PAR_MIN)
    for (int i = 0; i < n; i++)
        memcpy(dst + (size_t)dst_rows[i] * dim, src + (size_t)i * dim, (size_t)dim * sizeof(float));
    return GRPO_OK;
}
