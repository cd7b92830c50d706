// Rotary position embedding in Hugging Face's rotate_half layout, positions per
// token so packed sequences and decoding at arbitrary offsets work alike.
#include <math.h>

#include "kernels/cpu/cpu_ops.h"

static void rope_rotate(float *x, const int32_t *pos, const float *inv_freq, int T, int n_heads,
                        int head_dim, float sign) {
    // x (T, n_heads * head_dim), rotated in place
    int half = head_dim / 2;
#pragma omp parallel for schedule(static) if((size_t)T * n_heads * head_dim >= CPU_PAR_MIN)
    for (int t = 0; t < T; t++) {
        for (int i = 0; i < half; i++) {
            // HF computes cos/sin of (pos * inv_freq) in fp32; doing the same keeps
            // us within rounding of transformers at long positions.
            float ang = (float)pos[t] * inv_freq[i];
            float c = cosf(ang), s = sign * sinf(ang);
            for (int h = 0; h < n_heads; h++) {
                float *xh = x + ((size_t)t * n_heads + h) * head_dim;
                float a = xh[i], bb = xh[i + half];
                xh[i] = a * c - bb * s;
                xh[i + half] = bb * c + a * s;
            }
        }
    }
}

int cpu_rope_forward(Backend *b, void *x, const int32_t *pos, const float *inv_freq, int T, int n_heads,
                     int head_dim) {
    if (head_dim % 2) return grpo_fail(GRPO_EINVAL, "rope: head_dim %d is odd", head_dim);
    rope_rotate(x, pos, inv_freq, T, n_heads, head_dim, 1.0f);
    return GRPO_OK;
}

int cpu_rope_backward(Backend *b, void *dx, const int32_t *pos, const float *inv_freq, int T, int n_heads,
                      int head_dim) {
    if (head_dim % 2) return grpo_fail(GRPO_EINVAL, "rope: head_dim %d is odd", head_dim);
    rope_rotate(dx, pos, inv_freq, T, n_heads, head_dim, -1.0f);
    return GRPO_OK;
}
