// Causal grouped-query attention over packed sequences of different lengths
// (no padding). Probabilities are never stored: forward keeps the per-row
// log-sum-exp and backward recomputes them a block of rows at a time
// (attention_bwd.c), so memory grows with the tokens, not with the sum of
// squared sequence lengths.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/cpu_ops.h"

// The sequence that owns query row t: the last s with q_start[s] <= t.
static int seq_of(const int32_t *q_start, int S, int t) {
    int lo = 0, hi = S - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (q_start[mid] <= t) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

// The per-row work, compiled for AVX-512 / AVX2 / baseline and picked at load
// time (cpu_dot: 16 partial sums, a fixed order).

// out (hd) = softmax(q . k_j * scale) @ v over n_keys rows of k, v (stride kvd);
// sc (n_keys) is scratch. Returns the log-sum-exp of the scaled scores.
CPU_SIMD_CLONES
static float attn_row_forward(float *out, float *sc, const float *q, const float *k, const float *v, int n_keys, int hd,
                              size_t kvd, float scale) {
    float m = -INFINITY;
    for (int j = 0; j < n_keys; j++) {
        float d = cpu_dot(q, k + (size_t)j * kvd, hd) * scale;
        sc[j] = d;
        if (d > m) m = d;
    }
    float sum = 0.0f;
    for (int j = 0; j < n_keys; j++) {
        sc[j] = expf(sc[j] - m);
        sum += sc[j];
    }
    float inv = 1.0f / sum;
    for (int i = 0; i < hd; i++) out[i] = 0.0f;
    for (int j = 0; j < n_keys; j++) {
        const float *vj = v + (size_t)j * kvd;
        float p = sc[j] * inv;
        for (int i = 0; i < hd; i++) out[i] += p * vj[i];
    }
    return m + logf(sum);
}

static int check_args(const int32_t *q_start, const int32_t *q_pos0, int S, int T, int n_heads,
                      int n_kv_heads, int *max_keys) {
    if (S < 0 || T < 0 || n_heads <= 0 || n_kv_heads <= 0 || n_heads % n_kv_heads)
        return grpo_fail(GRPO_EINVAL, "attention: bad sizes (S=%d T=%d heads=%d kv_heads=%d)", S, T, n_heads,
                         n_kv_heads);
    if (S == 0) {
        *max_keys = 0;
        return T == 0 ? GRPO_OK : grpo_fail(GRPO_EINVAL, "attention: %d query rows but no sequences", T);
    }
    if (q_start[0] != 0 || q_start[S] != T)
        return grpo_fail(GRPO_EINVAL, "attention: q_start must run from 0 to T=%d", T);
    int mk = 0;
    for (int s = 0; s < S; s++) {
        int len = q_start[s + 1] - q_start[s];
        if (len < 0 || q_pos0[s] < 0) return grpo_fail(GRPO_EINVAL, "attention: sequence %d has bad offsets", s);
        if (q_pos0[s] + len > mk) mk = q_pos0[s] + len;
    }
    *max_keys = mk;
    return GRPO_OK;
}

int cpu_attention_forward(Backend *b, void *out_, float *lse, const void *q_, const void *k_, const void *v_,
                          const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0, int S, int T,
                          int n_heads, int n_kv_heads, int head_dim) {
    float *out = out_;
    const float *q = q_, *k = k_, *v = v_;
    // out, q (T, nh*hd); k, v (*, nkv*hd); lse (T, nh) or NULL
    int max_keys = 0;
    int st = check_args(q_start, q_pos0, S, T, n_heads, n_kv_heads, &max_keys);
    if (st || T == 0) return st;
    // Decode steps (one query row per sequence) are matrix-vector work: row by
    // row here. Anything with longer sequences goes through blocked sgemms.
    if (T != S)
        return cpu_attention_forward_blocked(out, lse, q, k, v, q_start, kv_start, q_pos0, S, T, n_heads, n_kv_heads,
                                             head_dim, max_keys);
    const int hd = head_dim, group = n_heads / n_kv_heads;
    const size_t qd = (size_t)n_heads * hd, kvd = (size_t)n_kv_heads * hd;
    const float scale = 1.0f / sqrtf((float)hd);
    int fail = 0;
    // A unit of this product costs about 0.5 ns (a dot and an axpy step), ten times a matmul
    // flop: the team pays for itself from a quarter of the usual threshold (decode steps).
#pragma omp parallel if((size_t)T * n_heads * max_keys * head_dim >= CPU_PAR_MIN / 4)
    {
        float *sc = malloc((size_t)max_keys * sizeof(float));
        if (!sc) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for collapse(2) schedule(dynamic, 4)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < n_heads; h++) {
                if (!sc) continue;
                int s = seq_of(q_start, S, t);
                int n_keys = q_pos0[s] + (t - q_start[s]) + 1;
                size_t kv0 = (size_t)kv_start[s] * kvd + (size_t)(h / group) * hd;
                float l = attn_row_forward(out + (size_t)t * qd + (size_t)h * hd, sc, q + (size_t)t * qd + (size_t)h * hd,
                                           k + kv0, v + kv0, n_keys, hd, kvd, scale);
                if (lse) lse[(size_t)t * n_heads + h] = l;
            }
        free(sc);
    }
    return fail ? grpo_fail(GRPO_ENOMEM, "attention: out of memory for %d scores", max_keys) : GRPO_OK;
}

int cpu_attention_backward(Backend *b, void *dq_, void *dk_, void *dv_, const void *dout_, const void *q_,
                           const void *k_, const void *v_, const void *out_, const float *lse,
                           const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0, int S,
                           int T, int n_heads, int n_kv_heads, int head_dim) {
    float *dq = dq_, *dk = dk_, *dv = dv_;
    const float *dout = dout_, *q = q_, *k = k_, *v = v_, *out = out_;
    // dq (T, nh*hd) overwritten; dk, dv (*, nkv*hd) +=
    int max_keys = 0;
    int st = check_args(q_start, q_pos0, S, T, n_heads, n_kv_heads, &max_keys);
    if (st || T == 0) return st;
    return cpu_attention_backward_blocked(dq, dk, dv, dout, q, k, v, out, lse, q_start, kv_start, q_pos0, S, T, n_heads,
                                          n_kv_heads, head_dim, max_keys);
}
