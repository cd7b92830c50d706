// SwiGLU, residual add, bias add and its column-sum backward, row scatter:
// the small ops (as kernels/cpu/elementwise.c). Grid-stride loops over n.
#include "kernels/cuda/cuda_common.cuh"

#define GRID_STRIDE(i, n) \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

// out may alias gate or up (generate.c writes silu(gate) * up into gate).
__global__ void swiglu_forward_kernel(float *out, const float *gate, const float *up, size_t n) {
    GRID_STRIDE(i, n) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

// silu'(g) = sig(g) * (1 + g * (1 - sig(g)))
__global__ void swiglu_backward_kernel(float *dgate, float *dup, const float *dout, const float *gate,
                                       const float *up, size_t n) {
    GRID_STRIDE(i, n) {
        float g = gate[i], sg = 1.0f / (1.0f + expf(-g)), d = dout[i];
        float u = up[i];
        dup[i] = d * g * sg;
        dgate[i] = d * u * sg * (1.0f + g * (1.0f - sg));
    }
}

__global__ void add_kernel(float *out, const float *x, const float *y, size_t n) {
    GRID_STRIDE(i, n) out[i] = x[i] + y[i];
}

__global__ void bias_forward_kernel(float *out, const float *bias, int N, size_t n) {
    // out (T, N) += bias (N), n = T * N
    GRID_STRIDE(i, n) out[i] += bias[i % N];
}

// Column sums: a 32-column tile per block, COLSUM_Y row phases per column
// combined through shared memory in a fixed order (deterministic, no atomics).
#define COLSUM_Y 16
__global__ void colsum_kernel(float *out, const float *a, const float *x, const float *rstd, int T, int N) {
    // out (N) +=; a, x (T, N); rstd (T)
    __shared__ float sh[COLSUM_Y][33];
    int n = blockIdx.x * 32 + threadIdx.x;
    float s = 0.0f;
    if (n < N)
        for (int t = threadIdx.y; t < T; t += COLSUM_Y) {
            float v = a[(size_t)t * N + n];
            if (x) v = v * x[(size_t)t * N + n] * rstd[t];
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

__global__ void scatter_rows_kernel(float *dst, const float *src, const int32_t *dst_rows, int dim, size_t n,
                                    int *err) {
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

int cuda_colsum(Backend *b, float *out, const float *a, const float *x, const float *rstd, int T, int N) {
    if (T <= 0 || N <= 0) return GRPO_OK;
    dim3 block(32, COLSUM_Y);
    colsum_kernel<<<(N + 31) / 32, block, 0, cuda_ctx(b)->stream>>>(out, a, x, rstd, T, N);
    CUDA_TRY_LAUNCH();
    return GRPO_OK;
}

static int cuda_swiglu_forward(Backend *b, float *out, const float *gate, const float *up, size_t n) {
    if (!n) return GRPO_OK;
    swiglu_forward_kernel<<<cuda_grid(n), CUDA_THREADS, 0, cuda_ctx(b)->stream>>>(out, gate, up, n);
    CUDA_TRY_LAUNCH();
    return GRPO_OK;
}

static int cuda_swiglu_backward(Backend *b, float *dgate, float *dup, const float *dout, const float *gate,
                                const float *up, size_t n) {
    if (!n) return GRPO_OK;
    swiglu_backward_kernel<<<cuda_grid(n), CUDA_THREADS, 0, cuda_ctx(b)->stream>>>(dgate, dup, dout, gate, up, n);
    CUDA_TRY_LAUNCH();
    return GRPO_OK;
}

static int cuda_add(Backend *b, float *out, const float *x, const float *y, size_t n) {
    if (!n) return GRPO_OK;
    add_kernel<<<cuda_grid(n), CUDA_THREADS, 0, cuda_ctx(b)->stream>>>(out, x, y, n);
    CUDA_TRY_LAUNCH();
    return GRPO_OK;
}

static int cuda_bias_forward(Backend *b, float *out, const float *bias, int T, int N) {
    if (T <= 0 || N <= 0) return GRPO_OK;
    size_t n = (size_t)T * N;
    bias_forward_kernel<<<cuda_grid(n), CUDA_THREADS, 0, cuda_ctx(b)->stream>>>(out, bias, N, n);
    CUDA_TRY_LAUNCH();
    return GRPO_OK;
}

static int cuda_bias_backward(Backend *b, float *dbias, const float *dout, int T, int N) {
    return cuda_colsum(b, dbias, dout, NULL, NULL, T, N);
}

static int cuda_scatter_rows(Backend *b, float *dst, const float *src, const int32_t *dst_rows, int n, int dim) {
    if (n <= 0 || dim <= 0) return GRPO_OK;
    size_t total = (size_t)n * dim;
    CudaCtx *c = cuda_ctx(b);
    scatter_rows_kernel<<<cuda_grid(total), CUDA_THREADS, 0, c->stream>>>(dst, src, dst_rows, dim, total, c->dev_err);
    CUDA_TRY_LAUNCH();
    return GRPO_OK;
}

void cuda_register_elementwise(Backend *b) {
    b->swiglu_forward = cuda_swiglu_forward;
    b->swiglu_backward = cuda_swiglu_backward;
    b->add = cuda_add;
    b->bias_forward = cuda_bias_forward;
    b->bias_backward = cuda_bias_backward;
    b->scatter_rows = cuda_scatter_rows;
}
