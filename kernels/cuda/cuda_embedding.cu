// Token embedding lookup and its scatter-add backward (as kernels/cpu/embedding.c):
// rows of the compute dtype T; the gradient dwte is fp32.
#include "kernels/cuda/cuda_common.cuh"

// One block per token row; a bad id is recorded and its row zeroed.
template <class T>
__global__ void embedding_forward_kernel(T *out, const int32_t *ids, const T *wte, int C, int V, int *err) {
    // out (T, C), ids (T), wte (V, C)
    int t = blockIdx.x;
    int id = ids[t];
    T *o = out + (size_t)t * C;
    if (id < 0 || id >= V) {
        if (threadIdx.x == 0) cuda_report(err, CUDA_ERR_EMBED_ID, id, t, V);
        for (int c = threadIdx.x; c < C; c += blockDim.x) o[c] = cstore<T>(0.0f);
        return;
    }
    const T *w = wte + (size_t)id * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) o[c] = w[c];
}

// One thread per channel walks the tokens in order: each dwte element has one
// writer and the CPU's summation order, so the result is deterministic (and
// equal to the CPU's bit for bit) without atomics. The price is T dependent
// steps per thread (~T microseconds per backward), small beside a training step.
template <class T>
__global__ void embedding_backward_kernel(float *dwte, const T *__restrict__ dout, const int32_t *__restrict__ ids,
                                          int R, int C, int V) {
    // dwte (V, C) +=, dout (R, C)
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    for (int t = 0; t < R; t++) {
        int id = ids[t];
        if (id < 0 || id >= V) continue; // forward reported it
        dwte[(size_t)id * C + c] += cload(dout[(size_t)t * C + c]);
    }
}

template <class T>
static int embedding_forward(Backend *b, void *out, const int32_t *ids, const void *wte, int R, int C, int V) {
    CudaCtx *x = cuda_ctx(b);
    embedding_forward_kernel<T><<<R, CUDA_THREADS, 0, x->stream>>>((T *)out, ids, (const T *)wte, C, V, x->dev_err);
    CUDA_TRY_LAUNCH();
    return GRPO_OK;
}

static int cuda_embedding_forward(Backend *b, void *out, const int32_t *ids, const void *wte, int T, int C, int V) {
    if (T <= 0 || C <= 0) return GRPO_OK;
    return CUDA_BY_CDT(b, embedding_forward, b, out, ids, wte, T, C, V);
}

template <class T>
static int embedding_backward(Backend *b, float *dwte, const void *dout, const int32_t *ids, int R, int C, int V) {
    // 64 threads per block spreads the few channel threads over more SMs.
    embedding_backward_kernel<T><<<(C + 63) / 64, 64, 0, cuda_ctx(b)->stream>>>(dwte, (const T *)dout, ids, R, C, V);
    CUDA_TRY_LAUNCH();
    return GRPO_OK;
}

static int cuda_embedding_backward(Backend *b, float *dwte, const void *dout, const int32_t *ids, int T, int C,
                                   int V) {
    if (T <= 0 || C <= 0) return GRPO_OK;
    return CUDA_BY_CDT(b, embedding_backward, b, dwte, dout, ids, T, C, V);
}

void cuda_register_embedding(Backend *b) {
    b->embedding_forward = cuda_embedding_forward;
    b->embedding_backward = cuda_embedding_backward;
}
