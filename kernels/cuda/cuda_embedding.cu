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

// Backward: dwte[id] += dout[t] for every token t, summed per id in token
// order -- the CPU's order, so the result is deterministic and equal to the
// CPU's bit for bit, without atomics. Pass 1 marks each id's first token with
// the id's token count; pass 2 gives each such token a block that walks the
// later tokens until it has added all of the id's rows, its threads over the
// channels. Distinct ids run in parallel; a walk only spans its id's first to
// last occurrence.

// cnt (R): for the first token of each id, how many tokens have that id;
// 0 for the others and for bad ids (the forward reported them). ids are
// staged through shared memory in tiles.
__global__ void embedding_count_kernel(int32_t *cnt, const int32_t *__restrict__ ids, int R, int V) {
    __shared__ int32_t tile[CUDA_THREADS];
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    int id = t < R ? ids[t] : -1, first = 1, total = 0;
    for (int t0 = 0; t0 < R; t0 += blockDim.x) {
        __syncthreads(); // the last tile's readers are done
        if (t0 + (int)threadIdx.x < R) tile[threadIdx.x] = ids[t0 + threadIdx.x];
        __syncthreads();
        int n = min((int)blockDim.x, R - t0);
        for (int j = 0; j < n; j++)
            if (tile[j] == id) {
                total++;
                if (t0 + j < t) first = 0;
            }
    }
    if (t < R) cnt[t] = id >= 0 && id < V && first ? total : 0;
}

template <class T>
__global__ void embedding_backward_kernel(float *dwte, const T *__restrict__ dout, const int32_t *__restrict__ ids,
                                          const int32_t *__restrict__ cnt, int C) {
    // dwte (V, C) +=, dout (R, C); one block per token, most exit at once
    int t = blockIdx.x, left = cnt[t];
    if (left == 0) return;
    int id = ids[t];
    float *w = dwte + (size_t)id * C;
    for (int u = t; left > 0; u++) {
        if (ids[u] != id) continue;
        left--;
        const T *d = dout + (size_t)u * C;
        for (int c = threadIdx.x; c < C; c += blockDim.x) w[c] += cload(d[c]);
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
    CudaCtx *x = cuda_ctx(b);
    int32_t *cnt = NULL;
    int st = cuda_scratch(b, (void **)&cnt, (size_t)R * sizeof(int32_t));
    if (st) return st;
    embedding_count_kernel<<<(R + CUDA_THREADS - 1) / CUDA_THREADS, CUDA_THREADS, 0, x->stream>>>(cnt, ids, R, V);
    CUDA_TRY_LAUNCH();
    embedding_backward_kernel<T><<<R, C < CUDA_THREADS ? (C + 31) / 32 * 32 : CUDA_THREADS, 0, x->stream>>>(
        dwte, (const T *)dout, ids, cnt, C);
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
