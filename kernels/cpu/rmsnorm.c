// RMSNorm (Llama/Qwen2): y = x / sqrt(mean(x^2) + eps) * w, statistics in fp32.
#include <math.h>

#include "kernels/cpu/cpu_ops.h"

int cpu_rmsnorm_forward(Backend *b, void *out_, float *rstd, const void *inp_, const void *weight_,
                        int T, int C, float eps) {
    float *out = out_;
    const float *inp = inp_, *weight = weight_;
    // out, inp (T, C); weight (C); rstd (T) or NULL
#pragma omp parallel for schedule(static) if((size_t)T * C >= CPU_PAR_MIN)
    for (int t = 0; t < T; t++) {
        const float *x = inp + (size_t)t * C;
        float *y = out + (size_t)t * C;
        float ss = 0.0f;
        for (int c = 0; c < C; c++) ss += x[c] * x[c];
        float r = 1.0f / sqrtf(ss / (float)C + eps);
        for (int c = 0; c < C; c++) y[c] = (x[c] * r) * weight[c];
        if (rstd) rstd[t] = r;
    }
    return GRPO_OK;
}

int cpu_rmsnorm_backward(Backend *b, void *dinp_, float *dweight, const void *dout_, const void *inp_,
                         const void *weight_, const float *rstd, int T, int C) {
    float *dinp = dinp_;
    const float *dout = dout_, *inp = inp_, *weight = weight_;
    // dinp (T, C) +=; dweight (C) +=; dout, inp (T, C); rstd (T)
    // dx = r * (w*dy - x * r^2 * mean(w*dy*x))
#pragma omp parallel for schedule(static) if((size_t)T * C >= CPU_PAR_MIN)
    for (int t = 0; t < T; t++) {
        const float *x = inp + (size_t)t * C, *dy = dout + (size_t)t * C;
        float *dx = dinp + (size_t)t * C;
        float r = rstd[t], dot = 0.0f;
        for (int c = 0; c < C; c++) dot += weight[c] * dy[c] * x[c];
        float k = dot * r * r / (float)C;
        for (int c = 0; c < C; c++) dx[c] += r * (weight[c] * dy[c] - x[c] * k);
    }
    // Column sums split by channel so each element has one writer and a fixed order.
#pragma omp parallel for schedule(static) if((size_t)T * C >= CPU_PAR_MIN)
    for (int c0 = 0; c0 < C; c0 += 64) {
        int c1 = c0 + 64 < C ? c0 + 64 : C;
        for (int t = 0; t < T; t++) {
            const float *x = inp + (size_t)t * C, *dy = dout + (size_t)t * C;
            float r = rstd[t];
            for (int c = c0; c < c1; c++) dweight[c] += dy[c] * x[c] * r;
        }
    }
    return GRPO_OK;
}
