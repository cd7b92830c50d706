// Rotary position embedding, Hugging Face's rotate_half layout (as kernels/cpu/rope.c):
// x in the compute dtype T, angles and the rotation in fp32.
#include "kernels/cuda/cuda_common.cuh"

// One thread per (token, head, pair i): rotates elements i and i + hd/2.
template <class T>
__global__ void rope_kernel(T *x, const int32_t *pos, const float *inv_freq, int R, int n_heads, int head_dim,
                            float sign) {
    // x (R, n_heads * head_dim), in place; inv_freq (head_dim / 2)
    int half = head_dim / 2;
    size_t total = (size_t)R * n_heads * half;
    for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x) {
        int i = (int)(idx % half);
        size_t th = idx / half; // t * n_heads + h
        int t = (int)(th / n_heads);
        // fp32 angle, as HF and the CPU backend compute it
        float ang = (float)pos[t] * inv_freq[i];
        float c = cosf(ang), s = sign * sinf(ang);
        T *xh = x + th * head_dim;
        float a = cload(xh[i]), bb = cload(xh[i + half]);
        xh[i] = cstore<T>(a * c - bb * s);
        xh[i + half] = cstore<T>(bb * c + a * s);
    }
}

template <class T>
static int rope_t(Backend *b, void *x, const int32_t *pos, const float *inv_freq, int R, int n_heads, int head_dim,
                  float sign) {
    size_t total = (size_t)R * n_heads * (head_dim / 2);
    rope_kernel<T><<<cuda_grid(total), CUDA_THREADS, 0, cuda_ctx(b)->stream>>>((T *)x, pos, inv_freq, R, n_heads,
                                                                              head_dim, sign);
    CUDA_TRY_LAUNCH();
    return GRPO_OK;
}

static int rope(Backend *b, void *x, const int32_t *pos, const float *inv_freq, int T, int n_heads, int head_dim,
                float sign) {
    if (head_dim % 2) return grpo_fail(GRPO_EINVAL, "rope: head_dim %d is odd", head_dim);
    if (T <= 0 || n_heads <= 0 || head_dim <= 0) return GRPO_OK;
    return CUDA_BY_CDT(b, rope_t, b, x, pos, inv_freq, T, n_heads, head_dim, sign);
}

static int cuda_rope_forward(Backend *b, void *x, const int32_t *pos, const float *inv_freq, int T, int n_heads,
                             int head_dim) {
    return rope(b, x, pos, inv_freq, T, n_heads, head_dim, 1.0f);
}

// The rotation is orthogonal: its transpose is the rotation by the opposite angle.
static int cuda_rope_backward(Backend *b, void *dx, const int32_t *pos, const float *inv_freq, int T, int n_heads,
                              int head_dim) {
    return rope(b, dx, pos, inv_freq, T, n_heads, head_dim, -1.0f);
}

void cuda_register_rope(Backend *b) {
    b->rope_forward = cuda_rope_forward;
    b->rope_backward = cuda_rope_backward;
}
