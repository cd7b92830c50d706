// RMSNorm forward and backward (fp32 statistics, as kernels/cpu/rmsnorm.c).
#include "kernels/cuda/cuda_common.cuh"

// One block per row. out may alias inp: each thread rereads its own elements.
__global__ void rmsnorm_forward_kernel(float *out, float *rstd, const float *inp, const float *weight, int C,
                                       float eps) {
    // out, inp (T, C); weight (C); rstd (T) or NULL
    int t = blockIdx.x;
    const float *x = inp + (size_t)t * C;
    float *y = out + (size_t)t * C;
    float ss = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) ss += x[c] * x[c];
    ss = block_sum(ss);
    float r = 1.0f / sqrtf(ss / (float)C + eps);
    for (int c = threadIdx.x; c < C; c += blockDim.x) y[c] = (x[c] * r) * weight[c];
    if (rstd && threadIdx.x == 0) rstd[t] = r;
}

// dx = r * (w*dy - x * r^2 * mean(w*dy*x)); one block per row.
__global__ void rmsnorm_backward_kernel(float *dinp, const float *dout, const float *inp, const float *weight,
                                        const float *rstd, int C) {
    // dinp (T, C) +=; dout, inp (T, C); rstd (T)
    int t = blockIdx.x;
    const float *x = inp + (size_t)t * C, *dy = dout + (size_t)t * C;
    float *dx = dinp + (size_t)t * C;
    float r = rstd[t], dot = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) dot += weight[c] * dy[c] * x[c];
    dot = block_sum(dot);
    float k = dot * r * r / (float)C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) dx[c] += r * (weight[c] * dy[c] - x[c] * k);
}

static int cuda_rmsnorm_forward(Backend *b, float *out, float *rstd, const float *inp, const float *weight, int T,
                                int C, float eps) {
    if (T <= 0 || C <= 0) return GRPO_OK;
    rmsnorm_forward_kernel<<<T, CUDA_THREADS, 0, cuda_ctx(b)->stream>>>(out, rstd, inp, weight, C, eps);
    CUDA_TRY_LAUNCH();
    return GRPO_OK;
}

static int cuda_rmsnorm_backward(Backend *b, float *dinp, float *dweight, const float *dout, const float *inp,
                                 const float *weight, const float *rstd, int T, int C) {
    if (T <= 0 || C <= 0) return GRPO_OK;
    rmsnorm_backward_kernel<<<T, CUDA_THREADS, 0, cuda_ctx(b)->stream>>>(dinp, dout, inp, weight, rstd, C);
    CUDA_TRY_LAUNCH();
    // dweight (C) += sum_t dy * x * rstd[t]
    return cuda_colsum(b, dweight, dout, inp, rstd, T, C);
}

void cuda_register_norm(Backend *b) {
    b->rmsnorm_forward = cuda_rmsnorm_forward;
    b->rmsnorm_backward = cuda_rmsnorm_backward;
}
