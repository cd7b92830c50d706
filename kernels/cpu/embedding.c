// Token embedding lookup and its scatter-add backward.
#include <string.h>

#include "kernels/cpu/cpu_ops.h"

int cpu_embedding_forward(Backend *b, void *out_, const int32_t *ids, const void *wte_, int T, int C, int V) {
    float *out = out_;
    const float *wte = wte_;
    // out (T, C), ids (T), wte (V, C)
    for (int t = 0; t < T; t++)
        if (ids[t] < 0 || ids[t] >= V)
            return grpo_fail(GRPO_EINVAL, "embedding: token id %d at position %d is outside the vocabulary (%d)",
                             (int)ids[t], t, V);
#pragma omp parallel for schedule(static) if((size_t)T * C >= CPU_PAR_MIN)
    for (int t = 0; t < T; t++) memcpy(out + (size_t)t * C, wte + (size_t)ids[t] * C, (size_t)C * sizeof(float));
    return GRPO_OK;
}

int cpu_embedding_backward(Backend *b, float *dwte, const void *dout_, const int32_t *ids, int T, int C, int V) {
    const float *dout = dout_;
    // dwte (V, C) +=, dout (T, C). Tokens repeat, so threads split the channels
    // rather than the tokens: no two threads touch the same element, and the
    // summation order per element is fixed (deterministic).
#pragma omp parallel for schedule(static) if((size_t)T * C >= CPU_PAR_MIN)
    for (int c0 = 0; c0 < C; c0 += 64) {
        int c1 = c0 + 64 < C ? c0 + 64 : C;
        for (int t = 0; t < T; t++) {
            float *d = dwte + (size_t)ids[t] * C;
            const float *g = dout + (size_t)t * C;
            for (int c = c0; c < c1; c++) d[c] += g[c];
        }
    }
    return GRPO_OK;
}
