// The card's ceilings, measured on the card the benchmarks ran on: cuBLAS GEMM
// TFLOP/s at a large square size (bf16 inputs with fp32 accumulation, fp32,
// and fp32 on tensor cores via TF32) and device memory bandwidth (a big
// device-to-device copy, bytes read plus written). One JSON line each.
// Built and run by tools/gpu-check.sh: nvcc -O2 -arch=sm_90 gpu_ceiling.cu -lcublas
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>

#define CK(x)                                                                                    \
    do {                                                                                         \
        cudaError_t e_ = (x);                                                                    \
        if (e_ != cudaSuccess) {                                                                 \
            printf("{\"error\": \"%s: %s\"}\n", #x, cudaGetErrorString(e_));                     \
            return 1;                                                                            \
        }                                                                                        \
    } while (0)
#define CB(x)                                                                                    \
    do {                                                                                         \
        cublasStatus_t s_ = (x);                                                                 \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                                       \
            printf("{\"error\": \"%s: %s\"}\n", #x, cublasGetStatusString(s_));                  \
            return 1;                                                                            \
        }                                                                                        \
    } while (0)

__global__ void fill(float *x, size_t n, unsigned seed) { // uniform in [-1, 1): random data, not zeros
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        unsigned h = (unsigned)i * 2654435761u ^ seed;
        h ^= h >> 15, h *= 2246822519u, h ^= h >> 13;
        x[i] = (float)(h & 0xffffff) / 8388608.0f - 1.0f;
    }
}
__global__ void to_bf16(__nv_bfloat16 *y, const float *x, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        y[i] = __float2bfloat16(x[i]);
}

static int gemm(cublasHandle_t h, const char *name, int n, cudaDataType_t ab, cudaDataType_t c, cublasComputeType_t ct,
                void *A, void *B, void *C, int iters) {
    const float alpha = 1, beta = 0;
    cudaEvent_t t0, t1;
    CK(cudaEventCreate(&t0));
    CK(cudaEventCreate(&t1));
    for (int i = 0; i < 3; i++) // warm-up (and clocks up)
        CB(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, n, n, n, &alpha, A, ab, n, B, ab, n, &beta, C, c, n, ct, CUBLAS_GEMM_DEFAULT));
    CK(cudaEventRecord(t0));
    for (int i = 0; i < iters; i++)
        CB(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, n, n, n, &alpha, A, ab, n, B, ab, n, &beta, C, c, n, ct, CUBLAS_GEMM_DEFAULT));
    CK(cudaEventRecord(t1));
    CK(cudaEventSynchronize(t1));
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, t0, t1));
    double s = ms / 1e3 / iters;
    printf("{\"op\": \"gemm\", \"dtype\": \"%s\", \"n\": %d, \"iters\": %d, \"ms\": %.3f, \"tflops\": %.1f}\n", name, n, iters,
           s * 1e3, 2.0 * n * n * (double)n / s * 1e-12);
    cudaEventDestroy(t0), cudaEventDestroy(t1);
    return 0;
}

int main(void) {
    int ndev = 0;
    cudaError_t e = cudaGetDeviceCount(&ndev);
    if (e != cudaSuccess || ndev == 0) {
        printf("{\"skipped\": \"no usable CUDA GPU: %s\"}\n", e != cudaSuccess ? cudaGetErrorString(e) : "no device");
        return 77;
    }
    cudaDeviceProp p;
    CK(cudaGetDeviceProperties(&p, 0));
    printf("{\"device\": \"%s\", \"sm\": %d, \"cc\": \"%d.%d\", \"mem_gib\": %.1f}\n", p.name, p.multiProcessorCount, p.major,
           p.minor, p.totalGlobalMem / 1073741824.0);
    const int n = 8192;
    const size_t nn = (size_t)n * n;
    float *A, *B, *C;
    __nv_bfloat16 *Ab, *Bb, *Cb;
    CK(cudaMalloc(&A, nn * 4));
    CK(cudaMalloc(&B, nn * 4));
    CK(cudaMalloc(&C, nn * 4));
    CK(cudaMalloc(&Ab, nn * 2));
    CK(cudaMalloc(&Bb, nn * 2));
    CK(cudaMalloc(&Cb, nn * 2));
    fill<<<4096, 256>>>(A, nn, 1);
    fill<<<4096, 256>>>(B, nn, 2);
    to_bf16<<<4096, 256>>>(Ab, A, nn);
    to_bf16<<<4096, 256>>>(Bb, B, nn);
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
    cublasHandle_t h;
    CB(cublasCreate(&h));
    if (gemm(h, "bf16", n, CUDA_R_16BF, CUDA_R_16BF, CUBLAS_COMPUTE_32F, Ab, Bb, Cb, 20)) return 1;
    if (gemm(h, "f32", n, CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F, A, B, C, 5)) return 1;
    if (gemm(h, "tf32", n, CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_TF32, A, B, C, 10)) return 1;
    cublasDestroy(h);
    cudaFree(Ab), cudaFree(Bb), cudaFree(Cb), cudaFree(C);
    // Bandwidth: 2 GiB copied device to device; reads + writes counted.
    const size_t bytes = (size_t)2 << 30;
    void *X, *Y;
    CK(cudaMalloc(&X, bytes));
    CK(cudaMalloc(&Y, bytes));
    CK(cudaMemset(X, 1, bytes));
    cudaEvent_t t0, t1;
    CK(cudaEventCreate(&t0));
    CK(cudaEventCreate(&t1));
    CK(cudaMemcpy(Y, X, bytes, cudaMemcpyDeviceToDevice));
    const int iters = 10;
    CK(cudaEventRecord(t0));
    for (int i = 0; i < iters; i++) CK(cudaMemcpyAsync(Y, X, bytes, cudaMemcpyDeviceToDevice));
    CK(cudaEventRecord(t1));
    CK(cudaEventSynchronize(t1));
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, t0, t1));
    double s = ms / 1e3 / iters;
    printf("{\"op\": \"d2d_copy\", \"bytes\": %zu, \"iters\": %d, \"ms\": %.3f, \"gbs\": %.0f}\n", bytes, iters, s * 1e3,
           2.0 * bytes / s * 1e-9);
    cudaFree(X), cudaFree(Y), cudaFree(A), cudaFree(B);
    return 0;
}
