// The optimizer step on the GPU: AdamW over the one contiguous parameter
// buffer, the gradient's sum of squares (float64, a fixed reduction tree so
// the same gradients give the same norm bit for bit) and clipping's scale.
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_train.cuh"

#define OPT_THREADS 256
#define TRY_ST(x)            \
    do {                     \
        int st_ = (x);       \
        if (st_) return st_; \
    } while (0)
#define SUMSQ_BLOCKS 1024

static unsigned grid_for(size_t n) {
    size_t g = (n + OPT_THREADS - 1) / OPT_THREADS;
    return (unsigned)(g < 1 ? 1 : g > 65535 * 4 ? 65535 * 4 : g);
}

// The CPU loop's float arithmetic (kernels/cpu/optim.c), every operation
// rounded explicitly so nvcc fuses nothing: the same inputs give the CPU's
// bits (the CPU build targets baseline x86-64, which has no FMA). pcd (n, T),
// when not NULL, gets the new params rounded to the compute dtype: the model's
// working copy, written in the same pass instead of a second one over n.
template <class T>
__global__ void adamw_kernel(float *__restrict__ p, T *__restrict__ pcd, float *__restrict__ m, float *__restrict__ v,
                             const float *__restrict__ g, size_t n, BackendAdamW h) {
    const float c1 = 1.0f - h.beta1, c2 = 1.0f - h.beta2;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        const float gi = g[i];
        const float mi = __fadd_rn(__fmul_rn(h.beta1, m[i]), __fmul_rn(c1, gi));
        const float vi = __fadd_rn(__fmul_rn(h.beta2, v[i]), __fmul_rn(__fmul_rn(c2, gi), gi));
        m[i] = mi;
        v[i] = vi;
        const float den = __fadd_rn(__fmul_rn(__fsqrt_rn(vi), h.inv_sqrt_bc2), h.eps);
        const float pi = __fsub_rn(__fmul_rn(p[i], h.decay), __fdiv_rn(__fmul_rn(h.step, mi), den));
        p[i] = pi;
        if (pcd) pcd[i] = cstore<T>(pi);
    }
}

__global__ void scale_kernel(float *x, float s, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) x[i] *= s;
}

// Tree-sums blockDim.x (a power of two) doubles in shared memory.
__device__ static double block_sum(double *sh, double v) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w /= 2) {
        if ((int)threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
        __syncthreads();
    }
    return sh[0];
}

// part[block] = sum of squares of a fixed grid-stride subset: with a grid that
// depends only on n, every run adds in the same order. NaN and inf propagate.
__global__ void sumsq_partial(double *part, const float *__restrict__ x, size_t n) {
    __shared__ double sh[OPT_THREADS];
    double s = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        double v = x[i];
        s += v * v;
    }
    double t = block_sum(sh, s);
    if (threadIdx.x == 0) part[blockIdx.x] = t;
}

__global__ void sumsq_final(double *out, const double *part, int nparts) {
    __shared__ double sh[OPT_THREADS];
    double s = 0;
    for (int i = threadIdx.x; i < nparts; i += blockDim.x) s += part[i];
    double t = block_sum(sh, s);
    if (threadIdx.x == 0) *out = t;
}

template <class T>
static int adamw(Backend *b, float *params, void *params_cd, float *m, float *v, const float *grads, size_t n,
                 const BackendAdamW *h) {
    adamw_kernel<T><<<grid_for(n), OPT_THREADS, 0, cuda_ctx(b)->stream>>>(params, (T *)params_cd, m, v, grads, n, *h);
    CUDA_TRY_LAUNCH();
    return GRPO_OK;
}

static int cuda_adamw(Backend *b, float *params, void *params_cd, float *m, float *v, const float *grads, size_t n,
                      const BackendAdamW *h) {
    if (!n) return GRPO_OK;
    return CUDA_BY_CDT(b, adamw, b, params, params_cd, m, v, grads, n, h);
}

static int cuda_scale(Backend *b, float *x, float s, size_t n) {
    if (!n) return GRPO_OK;
    scale_kernel<<<grid_for(n), OPT_THREADS, 0, cuda_ctx(b)->stream>>>(x, s, n);
    CUDA_TRY_LAUNCH();
    return GRPO_OK;
}

static int cuda_sumsq(Backend *b, double *host_out, const float *x, size_t n) {
    cudaStream_t st = cuda_ctx(b)->stream;
    size_t want = (n + OPT_THREADS - 1) / OPT_THREADS;
    int blocks = (int)(want < 1 ? 1 : want > SUMSQ_BLOCKS ? SUMSQ_BLOCKS : want);
    double *d = NULL; // blocks partials, then the total
    TRY_ST(cuda_scratch(b, (void **)&d, (blocks + 1) * sizeof(double)));
    sumsq_partial<<<blocks, OPT_THREADS, 0, st>>>(d, x, n);
    CUDA_TRY_LAUNCH();
    sumsq_final<<<1, OPT_THREADS, 0, st>>>(d + blocks, d, blocks);
    CUDA_TRY_LAUNCH();
    CUDA_TRY(cudaMemcpyAsync(host_out, d + blocks, sizeof(double), cudaMemcpyDeviceToHost, st));
    CUDA_TRY(cudaStreamSynchronize(st));
    return GRPO_OK;
}

void cuda_register_train_ops(Backend *b) {
    b->adamw = cuda_adamw;
    b->sumsq = cuda_sumsq;
    b->scale = cuda_scale;
    b->sample = cuda_sample;
}
