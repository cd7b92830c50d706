// Fused log-softmax + gather + entropy over a chunk of logit rows (as
// kernels/cpu/logprob.c): one block per row, no probability matrix kept.
// Logits, log-probs, entropies and lse are fp32 in every mode; only the
// gradient dlogits is the compute dtype T.
#include "kernels/cuda/cuda_common.cuh"

#define LOGPROB_THREADS 512

// The sums are float64 like the CPU's: V reaches 150k and the log-probs feed
// exp(logp - old_logp) in the GRPO ratio.
__global__ void logprob_forward_kernel(float *logp, float *entropy, float *lse, const float *logits,
                                       const int32_t *targets, int V, float inv_temp, int *err) {
    // logp, entropy, lse (T); logits (T, V); targets (T), < 0 = no target
    int t = blockIdx.x;
    const float *x = logits + (size_t)t * V;
    float m = -INFINITY;
    for (int j = threadIdx.x; j < V; j += blockDim.x) m = fmaxf(m, x[j] * inv_temp);
    m = block_max(m);
    double sum = 0.0, wsum = 0.0;
    for (int j = threadIdx.x; j < V; j += blockDim.x) {
        double z = (double)(x[j] * inv_temp) - m;
        double e = exp(z);
        sum += e;
        wsum += e * z;
    }
    sum = block_sum_d(sum);
    wsum = block_sum_d(wsum);
    if (threadIdx.x != 0) return;
    double l = (double)m + log(sum);
    if (lse) lse[t] = (float)l;
    int tg = targets[t];
    if (tg >= V) cuda_report(err, CUDA_ERR_TARGET, tg, t, V);
    logp[t] = tg >= 0 && tg < V ? (float)((double)(x[tg] * inv_temp) - l) : 0.0f;
    // H = lse - E[z + m] = log(sum) - E[z]
    if (entropy) entropy[t] = (float)(log(sum) - wsum / sum);
}

// dlogits = dlogp * (onehot - softmax) * inv_temp. When T is float dlogits
// may alias logits: each thread reads an element before it writes the same element.
template <class T>
__global__ void logprob_backward_kernel(T *dlogits, const float *dlogp, const float *logits, const int32_t *targets,
                                        const float *lse, int V, float inv_temp) {
    int t = blockIdx.x;
    const float *x = logits + (size_t)t * V;
    T *d = dlogits + (size_t)t * V;
    int tg = targets[t];
    float dl = dlogp[t];
    if (tg < 0 || tg >= V || dl == 0.0f) {
        for (int j = threadIdx.x; j < V; j += blockDim.x) d[j] = cstore<T>(0.0f);
        return;
    }
    float g = dl * inv_temp, l = lse[t];
    for (int j = threadIdx.x; j < V; j += blockDim.x) {
        float v = -g * expf(x[j] * inv_temp - l);
        if (j == tg) v += g;
        d[j] = cstore<T>(v);
    }
}

static int cuda_logprob_forward(Backend *b, float *logp, float *entropy, float *lse, const float *logits,
                                const int32_t *targets, int T, int V, float inv_temp) {
    if (T <= 0) return GRPO_OK;
    if (V <= 0) return grpo_fail(GRPO_EINVAL, "logprob: vocabulary size %d", V);
    CudaCtx *c = cuda_ctx(b);
    logprob_forward_kernel<<<T, LOGPROB_THREADS, 0, c->stream>>>(logp, entropy, lse, logits, targets, V, inv_temp,
                                                                 c->dev_err);
    CUDA_TRY_LAUNCH();
    return GRPO_OK;
}

template <class T>
static int logprob_backward(Backend *b, void *dlogits, const float *dlogp, const float *logits, const int32_t *targets,
                            const float *lse, int R, int V, float inv_temp) {
    logprob_backward_kernel<T><<<R, CUDA_THREADS, 0, cuda_ctx(b)->stream>>>((T *)dlogits, dlogp, logits, targets, lse,
                                                                          V, inv_temp);
    CUDA_TRY_LAUNCH();
    return GRPO_OK;
}

static int cuda_logprob_backward(Backend *b, void *dlogits, const float *dlogp, const float *logits,
                                 const int32_t *targets, const float *lse, int T, int V, float inv_temp) {
    if (T <= 0 || V <= 0) return GRPO_OK;
    // bf16 rows are half as wide: writing them over the fp32 logits would
    // clobber logits other threads have yet to read.
    if (b->cdt != BE_F32 && (const void *)dlogits == (const void *)logits)
        return grpo_fail(GRPO_EINVAL, "logprob_backward: dlogits may alias logits only in fp32");
    return CUDA_BY_CDT(b, logprob_backward, b, dlogits, dlogp, logits, targets, lse, T, V, inv_temp);
}

void cuda_register_logprob(Backend *b) {
    b->logprob_forward = cuda_logprob_forward;
    b->logprob_backward = cuda_logprob_backward;
}
