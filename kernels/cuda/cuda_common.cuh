// Shared by every kernels/cuda/*.cu file: error checks that turn CUDA and cuBLAS
// failures into GrpoStatus codes with a message naming the call and the place.
#ifndef GRPO_CUDA_COMMON_CUH
#define GRPO_CUDA_COMMON_CUH

#include <cublas_v2.h>
#include <cuda_runtime.h>

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

typedef struct {
    int device;
    cudaStream_t stream;
    cublasHandle_t cublas;
    size_t peak_used; // device bytes in use, the most seen after an allocation
} CudaCtx;

static inline CudaCtx *cuda_ctx(Backend *b) { return (CudaCtx *)b->ctx; }

#endif
