// The CUDA backend: device memory on one stream; matmuls (cuBLAS) and the
// model's ops in the other kernels/cuda/*.cu files, in bf16 by default or fp32
// (matching kernels/cpu/), as b->cdt says.
// Everything is asynchronous on ctx->stream; copies to the host synchronise.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_train.cuh"

extern "C" int backend_cuda_probe(char *name, size_t name_len) {
    if (name && name_len) name[0] = '\0';
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        cudaGetLastError(); // clear the sticky error so later probes start clean
        return grpo_fail(GRPO_EDEVICE, "no usable CUDA GPU: %s", cudaGetErrorString(e));
    }
    if (n == 0) return grpo_fail(GRPO_EDEVICE, "no usable CUDA GPU: no CUDA device found");
    cudaDeviceProp prop;
    e = cudaGetDeviceProperties(&prop, 0);
    if (e != cudaSuccess)
        return grpo_fail(GRPO_EDEVICE, "no usable CUDA GPU: %s", cudaGetErrorString(e));
    if (prop.major < 9)
        return grpo_fail(GRPO_EDEVICE,
                         "no usable CUDA GPU: %s has compute capability %d.%d but this build targets sm_90 "
                         "(reconfigure with -DCMAKE_CUDA_ARCHITECTURES=%d%d)",
                         prop.name, prop.major, prop.minor, prop.major, prop.minor);
    if (name && name_len) snprintf(name, name_len, "%s", prop.name);
    return GRPO_OK;
}

static int cuda_alloc(Backend *b, void **ptr, size_t bytes) {
    *ptr = NULL;
    if (cuda_no_capture(b, "alloc")) return GRPO_EDEVICE;
    cudaError_t e = cudaMalloc(ptr, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        *ptr = NULL;
        return grpo_fail(GRPO_ENOMEM, "cuda: cannot allocate %zu bytes: %s", bytes, cudaGetErrorString(e));
    }
    CUDA_TRY(cudaMemsetAsync(*ptr, 0, bytes, cuda_ctx(b)->stream));
    // Memory only grows at an allocation, so sampling here finds the peak.
    size_t fr = 0, total = 0;
    if (cudaMemGetInfo(&fr, &total) == cudaSuccess && total - fr > cuda_ctx(b)->peak_used)
        cuda_ctx(b)->peak_used = total - fr;
    return GRPO_OK;
}

static int cuda_mem_stats(Backend *b, size_t *in_use, size_t *peak, size_t *total) {
    size_t fr = 0, tot = 0;
    CUDA_TRY(cudaMemGetInfo(&fr, &tot));
    if (tot - fr > cuda_ctx(b)->peak_used) cuda_ctx(b)->peak_used = tot - fr;
    if (in_use) *in_use = tot - fr;
    if (peak) *peak = cuda_ctx(b)->peak_used;
    if (total) *total = tot;
    return GRPO_OK;
}

static void cuda_free(Backend *b, void *ptr) {
    if (ptr) cudaFree(ptr);
}

static int cuda_to_device(Backend *b, void *dst, const void *src, size_t bytes) {
    if (cuda_no_capture(b, "to_device")) return GRPO_EDEVICE;
    CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, cuda_ctx(b)->stream));
    // The host buffer may be reused as soon as we return.
    CUDA_TRY(cudaStreamSynchronize(cuda_ctx(b)->stream));
    return GRPO_OK;
}

// Waits for the stream, then reports (and clears) the first error a kernel
// recorded in dev_err: bad data found on the device (see cuda_common.cuh).
static int cuda_finish(Backend *b) {
    CudaCtx *c = cuda_ctx(b);
    int e[4] = {0, 0, 0, 0};
    CUDA_TRY(cudaMemcpyAsync(e, c->dev_err, sizeof e, cudaMemcpyDeviceToHost, c->stream));
    CUDA_TRY(cudaStreamSynchronize(c->stream));
    if (e[0] == CUDA_ERR_NONE) return GRPO_OK;
    CUDA_TRY(cudaMemsetAsync(c->dev_err, 0, sizeof e, c->stream));
    CUDA_TRY(cudaStreamSynchronize(c->stream));
    switch (e[0]) {
    case CUDA_ERR_EMBED_ID:
        return grpo_fail(GRPO_EINVAL, "embedding: token id %d at position %d is outside the vocabulary (%d)", e[1],
                         e[2], e[3]);
    case CUDA_ERR_TARGET:
        return grpo_fail(GRPO_EINVAL, "logprob: target %d at row %d is outside the vocabulary (%d)", e[1], e[2], e[3]);
    case CUDA_ERR_ATTN_SEQ:
        return grpo_fail(GRPO_EINVAL, "attention: sequence %d has bad offsets", e[1]);
    case CUDA_ERR_ATTN_QSTART:
        return grpo_fail(GRPO_EINVAL, "attention: q_start must run from 0 to T=%d", e[1]);
    case CUDA_ERR_SCATTER_ROW:
        return grpo_fail(GRPO_EINVAL, "scatter_rows: destination row %d (source row %d) is negative", e[1], e[2]);
    default:
        return grpo_fail(GRPO_EINTERNAL, "cuda: unknown device error code %d", e[0]);
    }
}

static int cuda_to_host(Backend *b, void *dst, const void *src, size_t bytes) {
    if (cuda_no_capture(b, "to_host")) return GRPO_EDEVICE;
    CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, cuda_ctx(b)->stream));
    return cuda_finish(b);
}

static int cuda_copy(Backend *b, void *dst, const void *src, size_t bytes) {
    CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cuda_ctx(b)->stream));
    return GRPO_OK;
}

static int cuda_memset(Backend *b, void *dst, int byte, size_t bytes) {
    CUDA_TRY(cudaMemsetAsync(dst, byte, bytes, cuda_ctx(b)->stream));
    return GRPO_OK;
}

static int cuda_sync(Backend *b) {
    if (cuda_no_capture(b, "sync")) return GRPO_EDEVICE;
    return cuda_finish(b);
}

int cuda_scratch(Backend *b, void **p, size_t bytes) {
    CudaCtx *c = cuda_ctx(b);
    *p = NULL;
    if (bytes > c->scratch_bytes) {
        // Growing allocates: a graph being captured keeps the old address.
        if (cuda_no_capture(b, "scratch growth")) return GRPO_EDEVICE;
        // The old buffer is retired, not freed: a graph captured earlier may
        // hold its address and be replayed later. Doubling keeps the retired
        // ones to less than the live one in total, and few.
        if (c->scratch && c->n_retired == CUDA_MAX_RETIRED)
            return grpo_fail(GRPO_ENOMEM, "cuda: scratch grew %d times (now %zu bytes)", CUDA_MAX_RETIRED,
                             c->scratch_bytes);
        size_t want = bytes > 2 * c->scratch_bytes ? bytes : 2 * c->scratch_bytes;
        void *p2 = NULL;
        cudaError_t e = cudaMalloc(&p2, want);
        if (e != cudaSuccess)
            return grpo_fail(GRPO_ENOMEM, "cuda: cannot allocate %zu bytes of scratch: %s", want, cudaGetErrorString(e));
        if (c->scratch) c->retired[c->n_retired++] = c->scratch;
        c->scratch = p2;
        c->scratch_bytes = want;
    }
    *p = c->scratch;
    return GRPO_OK;
}

// The profiler's clock (backend.h): events around the op on the stream, so
// its time is the device's, without the launch or the wait.
static int cuda_timer(Backend *b, int stop, double *seconds) {
    CudaCtx *c = cuda_ctx(b);
    if (cuda_no_capture(b, "timer")) return GRPO_EDEVICE;
    for (int i = 0; i < 2; i++)
        if (!c->ev[i]) CUDA_TRY(cudaEventCreate(&c->ev[i]));
    CUDA_TRY(cudaEventRecord(c->ev[stop ? 1 : 0], c->stream));
    if (!stop) return GRPO_OK;
    CUDA_TRY(cudaEventSynchronize(c->ev[1]));
    float ms = 0.0f;
    CUDA_TRY(cudaEventElapsedTime(&ms, c->ev[0], c->ev[1]));
    *seconds = 1e-3 * (double)ms;
    return GRPO_OK;
}

static void cuda_destroy(Backend *b) {
    CudaCtx *c = cuda_ctx(b);
    if (c) {
        for (int i = 0; i < 2; i++)
            if (c->ev[i]) cudaEventDestroy(c->ev[i]);
        if (c->cublas) cublasDestroy(c->cublas);
        if (c->cublas_ws) cudaFree(c->cublas_ws);
        if (c->dev_err) cudaFree(c->dev_err);
        if (c->scratch) cudaFree(c->scratch);
        for (int i = 0; i < c->n_retired; i++) cudaFree(c->retired[i]);
        if (c->dec_part) cudaFree(c->dec_part);
        if (c->stream) cudaStreamDestroy(c->stream);
        free(c);
    }
    free(b);
}

extern "C" int backend_cuda_create(Backend **out) {
    *out = NULL;
    char name[128];
    int st = backend_cuda_probe(name, sizeof name);
    if (st) return st;
    Backend *b = (Backend *)calloc(1, sizeof *b);
    CudaCtx *c = (CudaCtx *)calloc(1, sizeof *c);
    if (!b || !c) {
        free(b);
        free(c);
        return grpo_fail(GRPO_ENOMEM, "cuda: out of host memory");
    }
    b->ctx = c;
    b->name = "cuda";
    b->kind = BACKEND_CUDA;
    snprintf(b->device_name, sizeof b->device_name, "%s", name);
    b->alloc = cuda_alloc;
    b->free = cuda_free;
    b->to_device = cuda_to_device;
    b->to_host = cuda_to_host;
    b->copy = cuda_copy;
    b->memset = cuda_memset;
    b->sync = cuda_sync;
    b->timer = cuda_timer;
    b->cdt = BE_BF16; // the CUDA default; backend_set_precision("fp32") for exact fp32
    cuda_register_matmul(b);
    cuda_register_train_ops(b);
    b->mem_stats = cuda_mem_stats;
    b->destroy = cuda_destroy;
    cuda_register_embedding(b);
    cuda_register_norm(b);
    cuda_register_rope(b);
    cuda_register_attention(b);
    cuda_register_elementwise(b);
    cuda_register_logprob(b);
    cuda_register_graph(b);
    cudaError_t e = cudaSetDevice(0);
    if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking);
    if (e == cudaSuccess) e = cudaMalloc((void **)&c->dev_err, 4 * sizeof(int));
    if (e == cudaSuccess) e = cudaMemsetAsync(c->dev_err, 0, 4 * sizeof(int), c->stream);
    if (e == cudaSuccess) e = cudaMalloc(&c->cublas_ws, CUDA_CUBLAS_WS);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&c->smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, 0);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&c->n_sms, cudaDevAttrMultiProcessorCount, 0);
    if (e != cudaSuccess) {
        cuda_destroy(b);
        return grpo_fail(GRPO_EDEVICE, "cuda: cannot initialise the device: %s", cudaGetErrorString(e));
    }
    cublasStatus_t s = cublasCreate(&c->cublas);
    if (s == CUBLAS_STATUS_SUCCESS) s = cublasSetStream(c->cublas, c->stream);
    // A workspace of our own: cuBLAS then never allocates one inside a graph
    // capture (and repeated captures do not each grow its memory).
    if (s == CUBLAS_STATUS_SUCCESS) s = cublasSetWorkspace(c->cublas, c->cublas_ws, CUDA_CUBLAS_WS);
    if (s != CUBLAS_STATUS_SUCCESS) {
        cuda_destroy(b);
        return grpo_fail(GRPO_EDEVICE, "cublas: cannot initialise: %s", cublasGetStatusString(s));
    }
    *out = b;
    return GRPO_OK;
}
