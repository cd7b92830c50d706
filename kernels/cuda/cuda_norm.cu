// RMSNorm forward and backward (as kernels/cpu/rmsnorm.c): rows in the compute
// dtype T, statistics and the weight gradient in fp32.
#include "kernels/cuda/cuda_common.cuh"

// One block per row. out may alias inp: each thread rereads its own elements.
template <class T>
__global__ void rmsnorm_forward_kernel(T *out, float *rstd, const T *inp, const T *weight, int C, float eps) {
    // out, inp (T, C); weight (C); rstd (T) or NULL
    int t = blockIdx.x;
    const T *x = inp + (size_t)t * C;
    T *y = out + (size_t)t * C;
    float ss = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float xc = cload(x[c]);
        ss += xc * xc;
    }
    ss = block_sum(ss);
    float r = 1.0f / sqrtf(ss / (float)C + eps);
    for (int c = threadIdx.x; c < C; c += blockDim.x) y[c] = cstore<T>((cload(x[c]) * r) * cload(weight[c]));
    if (rstd && threadIdx.x == 0) rstd[t] = r;
}

// dx = r * (w*dy - x * r^2 * mean(w*dy*x)); one block per row.
template <class T>
__global__ void rmsnorm_backward_kernel(T *dinp, const T *dout, const T *inp, const T *weight, const float *rstd,
                                        int C) {
    // dinp (T, C) +=; dout, inp (T, C); rstd (T)
    int t = blockIdx.x;
    const T *x = inp + (size_t)t * C, *dy = dout + (size_t)t * C;
    T *dx = dinp + (size_t)t * C;
    float r = rstd[t], dot = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) dot += cload(weight[c]) * cload(dy[c]) * cload(x[c]);
    dot = block_sum(dot);
    float k = dot * r * r / (float)C;
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        dx[c] = cstore<T>(cload(dx[c]) + r * (cload(weight[c]) * cload(dy[c]) - cload(x[c]) * k));
}

template <class T>
static int rmsnorm_forward(Backend *b, void *out, float *rstd, const void *inp, const void *weight, int R, int C,
                           float eps) {
    rmsnorm_forward_kernel<T><<<R, CUDA_THREADS, 0, cuda_ctx(b)->stream>>>((T *)out, rstd, (const T *)inp,
                                                                          (const T *)weight, C, eps);
    CUDA_TRY_LAUNCH();
    return GRPO_OK;
}

static int cuda_rmsnorm_forward(Backend *b, void *out, float *rstd, const void *inp, const void *weight, int T, int C,
                                float eps) {
    if (T <= 0 || C <= 0) return GRPO_OK;
    return CUDA_BY_CDT(b, rmsnorm_forward, b, out, rstd, inp, weight, T, C, eps);
}

template <class T>
static int rmsnorm_backward(Backend *b, void *dinp, const void *dout, const void *inp, const void *weight,
                            const float *rstd, int R, int C) {
    rmsnorm_backward_kernel<T><<<R, CUDA_THREADS, 0, cuda_ctx(b)->stream>>>(
        (T *)dinp, (const T *)dout, (const T *)inp, (const T *)weight, rstd, C);
    CUDA_TRY_LAUNCH();
    return GRPO_OK;
}

static int cuda_rmsnorm_backward(Backend *b, void *dinp, float *dweight, const void *dout, const void *inp,
                                 const void *weight, const float *rstd, int T, int C) {
    if (T <= 0 || C <= 0) return GRPO_OK;
    int st = CUDA_BY_CDT(b, rmsnorm_backward, b, dinp, dout, inp, weight, rstd, T, C);
    if (st) return st;
    // dweight (C) += sum_t dy * x * rstd[t]
    return cuda_colsum(b, dweight, dout, inp, rstd, T, C);
}

void cuda_register_norm(Backend *b) {
    b->rmsnorm_forward = cuda_rmsnorm_forward;
    b->rmsnorm_backward = cuda_rmsnorm_backward;
}
