// Fused log-softmax + gather + entropy over a chunk of logit rows. The model
// calls it on chunks of tokens so a full (T, V) matrix never exists; backward
// recomputes the softmax from the saved log-sum-exp.
#include <math.h>

#include "kernels/cpu/cpu_ops.h"

int cpu_logprob_forward(Backend *b, float *logp, float *entropy, float *lse, const float *logits,
                        const int32_t *targets, int T, int V, float inv_temp) {
    // logp, entropy, lse (T); logits (T, V); targets (T), < 0 = no target
    for (int t = 0; t < T; t++)
        if (targets[t] >= V)
            return grpo_fail(GRPO_EINVAL, "logprob: target %d at row %d is outside the vocabulary (%d)",
                             (int)targets[t], t, V);
#pragma omp parallel for schedule(static) if((size_t)T * V >= CPU_PAR_MIN / 8)
    for (int t = 0; t < T; t++) {
        const float *x = logits + (size_t)t * V;
        float m = -INFINITY;
        for (int j = 0; j < V; j++)
            if (x[j] * inv_temp > m) m = x[j] * inv_temp;
        // float64 sums: V reaches 150k and the log-probs feed exp(logp - old_logp).
        double sum = 0.0, wsum = 0.0;
        for (int j = 0; j < V; j++) {
            double z = (double)(x[j] * inv_temp) - m;
            double e = exp(z);
            sum += e;
            wsum += e * z;
        }
        double l = (double)m + log(sum);
        if (lse) lse[t] = (float)l;
        logp[t] = targets[t] >= 0 ? (float)((double)(x[targets[t]] * inv_temp) - l) : 0.0f;
        // H = lse - E[z + m] = log(sum) - E[z]
        if (entropy) entropy[t] = (float)(log(sum) - wsum / sum);
    }
    return GRPO_OK;
}

int cpu_logprob_backward(Backend *b, void *dlogits_, const float *dlogp, const float *logits,
                         const int32_t *targets, const float *lse, int T, int V, float inv_temp) {
    float *dlogits = dlogits_;
    // dlogits (T, V) overwritten (may alias logits): dlogp * (onehot - softmax) * inv_temp
#pragma omp parallel for schedule(static) if((size_t)T * V >= CPU_PAR_MIN / 8)
    for (int t = 0; t < T; t++) {
        const float *x = logits + (size_t)t * V;
        float *d = dlogits + (size_t)t * V;
        int tg = targets[t];
        if (tg < 0 || dlogp[t] == 0.0f) {
            for (int j = 0; j < V; j++) d[j] = 0.0f;
            continue;
        }
        float g = dlogp[t] * inv_temp, l = lse[t];
        for (int j = 0; j < V; j++) d[j] = -g * expf(x[j] * inv_temp - l);
        d[tg] += g;
    }
    return GRPO_OK;
}
