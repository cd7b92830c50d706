// The one matmul (cublasGemmEx: inputs in the compute dtype, output bf16 or
// fp32, fp32 accumulation) and the dtype conversion kernel.
#include "kernels/cuda/cuda_common.cuh"

static cudaDataType_t cuda_dtype(BackendDtype dt) { return dt == BE_BF16 ? CUDA_R_16BF : CUDA_R_32F; }

// CUBLAS_COMPUTE_32F accumulates in fp32 for every type pair used here
// (bf16 x bf16 -> bf16 or fp32, fp32 x fp32 -> fp32) and never uses TF32, so
// the fp32 mode is plain SGEMM. alpha and beta are fp32 (the compute type's).
static int cuda_matmul(Backend *b, void *out, BackendDtype out_dt, const void *a, const void *bm, int M, int N, int K,
                       int trans_a, int trans_b, float alpha, int accumulate) {
    if (M < 0 || N < 0 || K < 0)
        return grpo_fail(GRPO_EINVAL, "matmul: negative size (M=%d N=%d K=%d)", M, N, K);
    if (out_dt != BE_F32 && out_dt != b->cdt)
        return grpo_fail(GRPO_EINVAL, "matmul: output type %s is neither fp32 nor the compute type %s",
                         backend_dtype_name(out_dt), backend_dtype_name(b->cdt));
    if (M == 0 || N == 0) return GRPO_OK;
    float beta = accumulate ? 1.0f : 0.0f;
    if (K == 0) {
        if (!accumulate)
            CUDA_TRY(cudaMemsetAsync(out, 0, (size_t)M * N * backend_dtype_size(out_dt), cuda_ctx(b)->stream));
        return GRPO_OK;
    }
    cudaDataType_t in_t = cuda_dtype(b->cdt), out_t = cuda_dtype(out_dt);
    // cuBLAS is column-major: a row-major (M, N) matrix is a column-major (N, M)
    // one, so compute out^T = op(b)^T op(a)^T by swapping the operands.
    CUBLAS_TRY(cublasGemmEx(cuda_ctx(b)->cublas, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                            trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha, bm, in_t, trans_b ? K : N, a, in_t,
                            trans_a ? M : K, &beta, out, out_t, N, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return GRPO_OK;
}

template <class D, class S>
__global__ void convert_kernel(D *dst, const S *src, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dst[i] = cstore<D>(cload(src[i]));
}

static int cuda_convert(Backend *b, void *dst, BackendDtype dst_dt, const void *src, BackendDtype src_dt, size_t n) {
    if (!n) return GRPO_OK;
    cudaStream_t st = cuda_ctx(b)->stream;
    if (dst_dt == src_dt) {
        CUDA_TRY(cudaMemcpyAsync(dst, src, n * backend_dtype_size(dst_dt), cudaMemcpyDeviceToDevice, st));
        return GRPO_OK;
    }
    if (dst_dt == BE_BF16) convert_kernel<bf16, float><<<cuda_grid(n), CUDA_THREADS, 0, st>>>((bf16 *)dst, (const float *)src, n);
    else convert_kernel<float, bf16><<<cuda_grid(n), CUDA_THREADS, 0, st>>>((float *)dst, (const bf16 *)src, n);
    CUDA_TRY_LAUNCH();
    return GRPO_OK;
}

void cuda_register_matmul(Backend *b) {
    b->matmul = cuda_matmul;
    b->convert = cuda_convert;
}
