// Shared by every kernels/cuda/*.cu file: error checks that turn CUDA and cuBLAS
// failures into GrpoStatus codes with a message naming the call and the place,
// the device-side error flag, the scratch buffer and the reductions.
#ifndef GRPO_CUDA_COMMON_CUH
#define GRPO_CUDA_COMMON_CUH

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "kernels/backend.h"

#define CUDA_TRY(call)                                                            \
    do {                                                                          \
        cudaError_t e_ = (call);                                                  \
        if (e_ != cudaSuccess)                                                    \
            return grpo_fail(GRPO_EDEVICE, "cuda: %s failed: %s (%s:%d)", #call, \
                             cudaGetErrorString(e_), __FILE__, __LINE__);         \
    } while (0)

// Kernel launches report configuration errors only through cudaGetLastError.
#define CUDA_TRY_LAUNCH() CUDA_TRY(cudaGetLastError())

#define CUBLAS_TRY(call)                                                           \
    do {                                                                           \
        cublasStatus_t s_ = (call);                                                \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                           \
            return grpo_fail(GRPO_EDEVICE, "cublas: %s failed: %s (%s:%d)", #call, \
                             cublasGetStatusString(s_), __FILE__, __LINE__);       \
    } while (0)

// Bad data that only the device sees (a token id out of the vocabulary, a
// negative cache row) cannot fail the op that queued the kernel without a
// synchronisation per op. Kernels record the first such error in dev_err
// (code, a, b, c) and skip the bad element; sync() and to_host() report it.
enum {
    CUDA_ERR_NONE = 0,
    CUDA_ERR_EMBED_ID = 1,     // (id, position, vocab)
    CUDA_ERR_TARGET = 2,       // (target, row, vocab)
    CUDA_ERR_ATTN_SEQ = 3,     // (sequence, 0, 0)
    CUDA_ERR_ATTN_QSTART = 4,  // (T, 0, 0)
    CUDA_ERR_SCATTER_ROW = 5,  // (row, index, 0)
};

#define CUDA_MAX_RETIRED 40

typedef struct {
    int device;
    cudaStream_t stream;
    cublasHandle_t cublas;
    int *dev_err;        // device (4): the first kernel-detected error
    void *scratch;       // device scratch for ops that need a temporary (grown on demand)
    size_t scratch_bytes;
    void *retired[CUDA_MAX_RETIRED]; // outgrown scratch buffers, kept for graphs that hold them
    int n_retired;
    void *dec_part;      // decode attention's split partials: fixed size, made outside captures (cuda_attention_decode.cu)
    size_t peak_used;    // device bytes in use, the most seen after an allocation
    void *cublas_ws;     // cuBLAS's fixed workspace (CUDA_CUBLAS_WS bytes): it never allocates in a capture
    int smem_optin;      // shared memory (bytes) a block may opt in to: 227 KiB on Hopper, ~99 KiB on consumer cards
    int n_sms;           // multiprocessors (132 on an H200): how many blocks a grid needs to fill the card
    cudaEvent_t ev[2];   // the profiler's marks around one op (made on first use)
    int capturing;       // between graph_begin and graph_end: no allocation, no synchronisation
} CudaCtx;

#define CUDA_CUBLAS_WS ((size_t)32 << 20)

// Fails (GRPO_EDEVICE, naming `what`) while b is capturing a graph: for the
// calls that would allocate or synchronise, which a capture cannot hold.
int cuda_no_capture(Backend *b, const char *what);

static inline CudaCtx *cuda_ctx(Backend *b) { return (CudaCtx *)b->ctx; }

// A device scratch buffer of at least `bytes`, valid until the next call.
// Growing (not allowed while capturing) doubles it at least and keeps the old
// buffer allocated until the backend is destroyed, so a graph that captured
// an op using the old one stays valid.
int cuda_scratch(Backend *b, void **p, size_t bytes);

// out (N, fp32) += sum over t of a (T, N) [* x (T, N) * rstd (T) when x != NULL],
// a and x in b's compute dtype: column sums in fp32 in a fixed order
// (deterministic), used by bias and RMSNorm backward.
int cuda_colsum(Backend *b, float *out, const void *a, const void *x, const float *rstd, int T, int N);

// Each file fills its slots of the op table (called by backend_cuda_create).
void cuda_register_matmul(Backend *b); // matmul and convert
void cuda_register_embedding(Backend *b);
void cuda_register_norm(Backend *b);
void cuda_register_rope(Backend *b);
void cuda_register_attention(Backend *b);
void cuda_register_elementwise(Backend *b);
void cuda_register_logprob(Backend *b);
void cuda_register_graph(Backend *b);

// The compute dtype's storage types (backend.h): kernels are templates on T,
// float or bf16, read T through cload (to fp32), do all math in fp32 and
// round once through cstore. Weights' working copy, activations and their
// gradients are T; statistics, logits, log-probs and parameter gradients stay fp32.
typedef __nv_bfloat16 bf16;

// Calls FN<float>(args) or FN<bf16>(args) as b's compute dtype says.
#define CUDA_BY_CDT(b, FN, ...) ((b)->cdt == BE_BF16 ? FN<bf16>(__VA_ARGS__) : FN<float>(__VA_ARGS__))

// Threads per block for the row kernels and the grid-stride loops.
#define CUDA_THREADS 256

// Blocks for a grid-stride loop over n elements (capped: the loop covers the rest).
static inline unsigned cuda_grid(size_t n) {
    size_t g = (n + CUDA_THREADS - 1) / CUDA_THREADS;
    if (g > (1u << 20)) g = 1u << 20;
    return g ? (unsigned)g : 1u;
}

#ifdef __CUDACC__
__device__ __forceinline__ float cload(float x) { return x; }
__device__ __forceinline__ float cload(bf16 x) { return __bfloat162float(x); }
template <class T> __device__ __forceinline__ T cstore(float x);
template <> __device__ __forceinline__ float cstore<float>(float x) { return x; }
// Round to nearest even; NaN stays NaN, +-inf stays inf.
template <> __device__ __forceinline__ bf16 cstore<bf16>(float x) { return __float2bfloat16_rn(x); }

__device__ __forceinline__ void cuda_report(int *err, int code, int a, int b, int c) {
    if (atomicCAS(err, 0, code) == 0) {
        err[1] = a;
        err[2] = b;
        err[3] = c;
    }
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ double warp_sum_d(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Block-wide reductions for blockDim.x a multiple of 32 (<= 1024); every thread
// gets the result. The trailing barrier lets the caller reduce again at once.
__device__ __forceinline__ float block_sum(float v) {
    __shared__ float sh[32];
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum(v);
    if (lane == 0) sh[wid] = v;
    __syncthreads();
    v = lane < nw ? sh[lane] : 0.0f;
    v = warp_sum(v);
    __syncthreads();
    return v;
}
__device__ __forceinline__ double block_sum_d(double v) {
    __shared__ double shd[32];
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum_d(v);
    if (lane == 0) shd[wid] = v;
    __syncthreads();
    v = lane < nw ? shd[lane] : 0.0;
    v = warp_sum_d(v);
    __syncthreads();
    return v;
}
__device__ __forceinline__ float block_max(float v) {
    __shared__ float shm[32];
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_max(v);
    if (lane == 0) shm[wid] = v;
    __syncthreads();
    v = lane < nw ? shm[lane] : -INFINITY;
    v = warp_max(v);
    __syncthreads();
    return v;
}
#endif

#endif
