// Attention on the CPU as blocked matrix products, for prefill and training
// (decode rows, one query per sequence, stay in attention.c). For each
// sequence, head and block of ATT_QB query rows, with the n keys those rows
// see (causal):
//   forward  S = Q K^T, P = exp(S * scale - m) per row (0 past the row's last
//            key), lse = m + log(sum P), O = (P V) / sum P;
// and in backward the probabilities are recomputed from the forward's
// log-sum-exp and the five products go through sgemm:
//   S = Q K^T, P = exp(S * scale - lse) (0 past each row's last key),
//   dP = dO V^T, dS = P * (dP - D) * scale with D = rowsum(dO * out),
//   dQ = dS K,  dK += dS^T Q,  dV += P^T dO.
// One thread owns each (sequence, kv head) and walks its group's heads and
// blocks in order, so dk/dv accumulate without atomics in a fixed order, and
// the sgemms run on that one thread: the result does not depend on the
// thread count.
#include <cblas.h>
#include <math.h>
#include <stdlib.h>

#include "kernels/cpu/cpu_ops.h"

#define ATT_QB 64 // query rows per block: two (64, n) float scratch tiles per thread

// The scratch tiles' probabilities and score gradients for one block:
// rows [i0, i0 + qb) of a sequence whose first query sits at key position p0.
CPU_SIMD_CLONES
static void block_ds(float *P, float *dS, const float *lse, const float *D, int qb, int n, int p0, int i0,
                     float scale) {
    for (int r = 0; r < qb; r++) {
        float *pr = P + (size_t)r * n, *gr = dS + (size_t)r * n;
        int last = p0 + i0 + r; // this row's last visible key
        for (int j = 0; j < n; j++) {
            float p = j <= last ? expf(pr[j] * scale - lse[r]) : 0.0f;
            pr[j] = p;
            gr[j] = p * (gr[j] - D[r]) * scale;
        }
    }
}

// The block's probabilities in place of its scores: unnormalised, with each
// row's sum in sum[] and log-sum-exp in lse[] (stride ld_lse).
CPU_SIMD_CLONES
static void block_softmax(float *P, float *sum, float *lse, size_t ld_lse, int qb, int n, int p0, int i0, float scale) {
    for (int r = 0; r < qb; r++) {
        float *pr = P + (size_t)r * n;
        int nr = p0 + i0 + r + 1; // this row's visible keys
        float m = -INFINITY;
        for (int j = 0; j < nr; j++) {
            pr[j] *= scale;
            if (pr[j] > m) m = pr[j];
        }
        float s = 0.0f;
        for (int j = 0; j < nr; j++) s += (pr[j] = expf(pr[j] - m));
        for (int j = nr; j < n; j++) pr[j] = 0.0f;
        sum[r] = s;
        if (lse) lse[(size_t)r * ld_lse] = m + logf(s);
    }
}

int cpu_attention_forward_blocked(float *out, float *lse, const float *q, const float *k, const float *v,
                                  const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0, int S, int T,
                                  int n_heads, int n_kv_heads, int head_dim, int max_keys) {
    const int hd = head_dim, group = n_heads / n_kv_heads;
    const int qd = n_heads * hd, kvd = n_kv_heads * hd;
    const float scale = 1.0f / sqrtf((float)hd);
    int fail = 0;
#pragma omp parallel if((size_t)T * n_heads * max_keys * head_dim >= CPU_PAR_MIN)
    {
        // P (ATT_QB, max_keys); each row's sum
        float *P = malloc((size_t)ATT_QB * max_keys * sizeof(float) + ATT_QB * sizeof(float));
        float *sum = P ? P + (size_t)ATT_QB * max_keys : NULL;
        if (!P) {
#pragma omp atomic write
            fail = 1;
        }
        // (sequence, head) pairs: each writes only its own rows of out and lse
#pragma omp for collapse(2) schedule(dynamic, 1)
        for (int s = 0; s < S; s++)
            for (int h = 0; h < n_heads; h++) {
                if (!P) continue;
                const size_t kv0 = (size_t)kv_start[s] * kvd + (size_t)(h / group) * hd;
                const int len = q_start[s + 1] - q_start[s], p0 = q_pos0[s];
                for (int i0 = 0; i0 < len; i0 += ATT_QB) {
                    int qb = len - i0 < ATT_QB ? len - i0 : ATT_QB, n = p0 + i0 + qb;
                    size_t t0 = (size_t)q_start[s] + i0, o = t0 * qd + (size_t)h * hd;
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, qb, n, hd, 1.0f, q + o, qd, k + kv0, kvd, 0.0f,
                                P, n);
                    block_softmax(P, sum, lse ? lse + t0 * n_heads + h : NULL, (size_t)n_heads, qb, n, p0, i0, scale);
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, qb, hd, n, 1.0f, P, n, v + kv0, kvd, 0.0f,
                                out + o, qd);
                    for (int r = 0; r < qb; r++) {
                        float inv = 1.0f / sum[r], *orow = out + o + (size_t)r * qd;
                        for (int i = 0; i < hd; i++) orow[i] *= inv;
                    }
                }
            }
        free(P);
    }
    return fail ? grpo_fail(GRPO_ENOMEM, "attention: out of memory for %d x %d scores", ATT_QB, max_keys) : GRPO_OK;
}

// D[r] = dout . out of the block's rows (stride ld).
CPU_SIMD_CLONES
static void block_D(float *D, const float *dout, const float *out, size_t ld, int qb, int hd) {
    for (int r = 0; r < qb; r++) D[r] = cpu_dot(dout + (size_t)r * ld, out + (size_t)r * ld, hd);
}

int cpu_attention_backward_blocked(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                                   const float *v, const float *out, const float *lse, const int32_t *q_start,
                                   const int32_t *kv_start, const int32_t *q_pos0, int S, int T, int n_heads,
                                   int n_kv_heads, int head_dim, int max_keys) {
    const int hd = head_dim, group = n_heads / n_kv_heads;
    const int qd = n_heads * hd, kvd = n_kv_heads * hd;
    const float scale = 1.0f / sqrtf((float)hd);
    int fail = 0;
#pragma omp parallel if((size_t)T * n_heads * max_keys * head_dim >= CPU_PAR_MIN)
    {
        // P, dS (ATT_QB, max_keys); lse and D of the block's rows
        float *P = malloc((size_t)ATT_QB * max_keys * sizeof(float) * 2 + 2 * ATT_QB * sizeof(float));
        float *dS = P ? P + (size_t)ATT_QB * max_keys : NULL, *L = dS ? dS + (size_t)ATT_QB * max_keys : NULL;
        float *D = L ? L + ATT_QB : NULL;
        if (!P) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for collapse(2) schedule(dynamic, 1)
        for (int s = 0; s < S; s++)
            for (int hk = 0; hk < n_kv_heads; hk++) {
                if (!P) continue;
                const size_t kv0 = (size_t)kv_start[s] * kvd + (size_t)hk * hd;
                const int len = q_start[s + 1] - q_start[s], p0 = q_pos0[s];
                for (int h = hk * group; h < (hk + 1) * group; h++)
                    for (int i0 = 0; i0 < len; i0 += ATT_QB) {
                        int qb = len - i0 < ATT_QB ? len - i0 : ATT_QB, n = p0 + i0 + qb;
                        size_t t0 = (size_t)q_start[s] + i0, o = t0 * qd + (size_t)h * hd;
                        for (int r = 0; r < qb; r++) L[r] = lse[(t0 + r) * n_heads + h];
                        block_D(D, dout + o, out + o, (size_t)qd, qb, hd);
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, qb, n, hd, 1.0f, q + o, qd, k + kv0, kvd,
                                    0.0f, P, n);
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, qb, n, hd, 1.0f, dout + o, qd, v + kv0,
                                    kvd, 0.0f, dS, n);
                        block_ds(P, dS, L, D, qb, n, p0, i0, scale);
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, qb, hd, n, 1.0f, dS, n, k + kv0, kvd,
                                    0.0f, dq + o, qd);
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, hd, qb, 1.0f, dS, n, q + o, qd, 1.0f,
                                    dk + kv0, kvd);
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, hd, qb, 1.0f, P, n, dout + o, qd, 1.0f,
                                    dv + kv0, kvd);
                    }
            }
        free(P);
    }
    return fail ? grpo_fail(GRPO_ENOMEM, "attention backward: out of memory for 2 x %d x %d scores", ATT_QB, max_keys)
                : GRPO_OK;
}
