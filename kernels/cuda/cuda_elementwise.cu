// SwiGLU, residual add, bias add and its column-sum backward, row scatter:
// the small ops (as kernels/cpu/elementwise.c). Grid-stride loops over n;
// T is the compute dtype's storage type (float or bf16), math in fp32.
#include "kernels/cuda/cuda_common.cuh"

#define GRID_STRIDE(i, n) \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

// out may alias gate or up (generate.c writes silu(gate) * up into gate).
template <class T>
__global__ void swiglu_forward_kernel(T *out, const T *gate, const T *up, size_t n) {
    GRID_STRIDE(i, n) {
        float g = cload(gate[i]);
        out[i] = cstore<T>(g / (1.0f + expf(-g)) * cload(up[i]));
    }
}

// silu'(g) = sig(g) * (1 + g * (1 - sig(g)))
template <class T>
__global__ void swiglu_backward_kernel(T *dgate, T *dup, const T *dout, const T *gate, const T *up, size_t n) {
    GRID_STRIDE(i, n) {
        float g = cload(gate[i]), sg = 1.0f / (1.0f + expf(-g)), d = cload(dout[i]);
        float u = cload(up[i]);
        dup[i] = cstore<T>(d * g * sg);
        dgate[i] = cstore<T>(d * u * sg * (1.0f + g * (1.0f - sg)));
    }
}

template <class T>
__global__ void add_kernel(T *out, const T *x, const T *y, size_t n) {
    GRID_STRIDE(i, n) out[i] = cstore<T>(cload(x[i]) + cload(y[i]));
}

template <class T>
__global__ void bias_forward_kernel(T *out, const T *bias, int N, size_t n) {
    // out (T, N) += bias (N), n = T * N
    GRID_STRIDE(i, n) out[i] = cstore<T>(cload(out[i]) + cload(bias[i % N]));
}

// Column sums: a 32-column tile per block, COLSUM_Y row phases per column
// combined through shared memory in a fixed order (deterministic, no atomics).
#define COLSUM_Y 16
template <class T>
__global__ void colsum_kernel(float *out, const T *a, const T *x, const float *rstd, int R, int N) {
    // out (N) +=; a, x (R, N); rstd (R)
    __shared__ float sh[COLSUM_Y][33];
    int n = blockIdx.x * 32 + threadIdx.x;
    float s = 0.0f;
    if (n < N)
        for (int t = threadIdx.y; t < R; t += COLSUM_Y) {
            float v = cload(a[(size_t)t * N + n]);
            if (x) v = v * cload(x[(size_t)t * N + n]) * rstd[t];
            s += v;
        }
    sh[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && n < N) {
        float tot = 0.0f;
        for (int i = 0; i < COLSUM_Y; i++) tot += sh[i][threadIdx.x];
        out[n] += tot;
    }
}

template <class T>
__global__ void scatter_rows_kernel(T *dst, const T *src, const int32_t *dst_rows, int dim, size_t n, int *err) {
    // dst (*, dim) rows dst_rows[i] = src (n / dim, dim) row i
    GRID_STRIDE(i, n) {
        int r = (int)(i / dim), row = dst_rows[r];
        if (row < 0) {
            if (i % dim == 0) cuda_report(err, CUDA_ERR_SCATTER_ROW, row, r, 0);
            continue;
        }
        dst[(size_t)row * dim + i % dim] = src[i];
    }
}

template <class T>
static int colsum(Backend *b, float *out, const void *a, const void *x, const float *rstd, int R, int N) {
    dim3 block(32, COLSUM_Y);
    colsum_kernel<T><<<(N + 31) / 32, block, 0, cuda_ctx(b)->stream>>>(out, (const T *)a, (const T *)x, rstd, R, N);
    CUDA_TRY_LAUNCH();
    return GRPO_OK;
}

int cuda_colsum(Backend *b, float *out, const void *a, const void *x, const float *rstd, int R, int N) {
    if (R <= 0 || N <= 0) return GRPO_OK;
    return CUDA_BY_CDT(b, colsum, b, out, a, x, rstd, R, N);
}

template <class T>
static int swiglu_forward(Backend *b, void *out, const void *gate, const void *up, size_t n) {
    swiglu_forward_kernel<T><<<cuda_grid(n), CUDA_THREADS, 0, cuda_ctx(b)->stream>>>((T *)out, (const T *)gate,
                                                                                    (const T *)up, n);
    CUDA_TRY_LAUNCH();
    return GRPO_OK;
}

static int cuda_swiglu_forward(Backend *b, void *out, const void *gate, const void *up, size_t n) {
    if (!n) return GRPO_OK;
    return CUDA_BY_CDT(b, swiglu_forward, b, out, gate, up, n);
}

template <class T>
static int swiglu_backward(Backend *b, void *dgate, void *dup, const void *dout, const void *gate, const void *up,
                           size_t n) {
    swiglu_backward_kernel<T><<<cuda_grid(n), CUDA_THREADS, 0, cuda_ctx(b)->stream>>>(
        (T *)dgate, (T *)dup, (const T *)dout, (const T *)gate, (const T *)up, n);
    CUDA_TRY_LAUNCH();
    return GRPO_OK;
}

static int cuda_swiglu_backward(Backend *b, void *dgate, void *dup, const void *dout, const void *gate,
                                const void *up, size_t n) {
    if (!n) return GRPO_OK;
    return CUDA_BY_CDT(b, swiglu_backward, b, dgate, dup, dout, gate, up, n);
}

template <class T>
static int add_cdt(Backend *b, void *out, const void *x, const void *y, size_t n) {
    add_kernel<T><<<cuda_grid(n), CUDA_THREADS, 0, cuda_ctx(b)->stream>>>((T *)out, (const T *)x, (const T *)y, n);
    CUDA_TRY_LAUNCH();
    return GRPO_OK;
}

static int cuda_add(Backend *b, void *out, const void *x, const void *y, size_t n) {
    if (!n) return GRPO_OK;
    return CUDA_BY_CDT(b, add_cdt, b, out, x, y, n);
}

template <class T>
static int bias_forward(Backend *b, void *out, const void *bias, int N, size_t n) {
    bias_forward_kernel<T><<<cuda_grid(n), CUDA_THREADS, 0, cuda_ctx(b)->stream>>>((T *)out, (const T *)bias, N, n);
    CUDA_TRY_LAUNCH();
    return GRPO_OK;
}

static int cuda_bias_forward(Backend *b, void *out, const void *bias, int T, int N) {
    if (T <= 0 || N <= 0) return GRPO_OK;
    return CUDA_BY_CDT(b, bias_forward, b, out, bias, N, (size_t)T * N);
}

static int cuda_bias_backward(Backend *b, float *dbias, const void *dout, int T, int N) {
    return cuda_colsum(b, dbias, dout, NULL, NULL, T, N);
}

template <class T>
static int scatter_rows(Backend *b, void *dst, const void *src, const int32_t *dst_rows, int dim, size_t total) {
    CudaCtx *c = cuda_ctx(b);
    scatter_rows_kernel<T><<<cuda_grid(total), CUDA_THREADS, 0, c->stream>>>((T *)dst, (const T *)src, dst_rows, dim,
                                                                           total, c->dev_err);
    CUDA_TRY_LAUNCH();
    return GRPO_OK;
}

static int cuda_scatter_rows(Backend *b, void *dst, const void *src, const int32_t *dst_rows, int n, int dim) {
    if (n <= 0 || dim <= 0) return GRPO_OK;
    return CUDA_BY_CDT(b, scatter_rows, b, dst, src, dst_rows, dim, (size_t)n * dim);
}

void cuda_register_elementwise(Backend *b) {
    b->swiglu_forward = cuda_swiglu_forward;
    b->swiglu_backward = cuda_swiglu_backward;
    b->add = cuda_add;
    b->bias_forward = cuda_bias_forward;
    b->bias_backward = cuda_bias_backward;
    b->scatter_rows = cuda_scatter_rows;
}
