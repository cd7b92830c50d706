// The CPU implementations of the transformer ops in backend.h's op table,
// one file per op family. Internal to kernels/cpu/.
#ifndef GRPO_CPU_OPS_H
#define GRPO_CPU_OPS_H

#include "kernels/backend.h"

// Loops below about this many flops (~50 us of work) run on one thread: waking
// the OpenMP team costs more than it saves, and on an oversubscribed machine a
// parallel region can wait a whole scheduler time slice for a descheduled
// thread (measured: a 8x384x384 product took 5 ms on 2 threads, 0.07 ms on 1).
#define CPU_PAR_MIN (1 << 20)

// Hot inner loops are compiled for AVX-512, AVX2 and the baseline and picked at
// load time (ifunc), so one binary runs everywhere and uses what the CPU has.
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#define CPU_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CPU_SIMD_CLONES
#endif

// a . b (n): 16 partial sums, so it vectorises without reassociating (no
// -ffast-math) in a fixed order that no thread count changes. Inline, so each
// CPU_SIMD_CLONES caller gets it compiled for its own instruction set.
static inline float cpu_dot(const float *a, const float *b, int n) {
    float acc[16] = {0};
    int n16 = n - n % 16;
    for (int i = 0; i < n16; i += 16)
        for (int j = 0; j < 16; j++) acc[j] += a[i + j] * b[i + j];
    float s = 0.0f;
    for (int j = 0; j < 16; j++) s += acc[j];
    for (int i = n16; i < n; i++) s += a[i] * b[i];
    return s;
}

int cpu_embedding_forward(Backend *b, void *out, const int32_t *ids, const void *wte, int T, int C, int V);
int cpu_embedding_backward(Backend *b, float *dwte, const void *dout, const int32_t *ids, int T, int C, int V);
int cpu_rmsnorm_forward(Backend *b, void *out, float *rstd, const void *inp, const void *weight,
                        int T, int C, float eps);
int cpu_rmsnorm_backward(Backend *b, void *dinp, float *dweight, const void *dout, const void *inp,
                         const void *weight, const float *rstd, int T, int C);
int cpu_rope_forward(Backend *b, void *x, const int32_t *pos, const float *inv_freq, int T, int n_heads,
                     int head_dim);
int cpu_rope_backward(Backend *b, void *dx, const int32_t *pos, const float *inv_freq, int T, int n_heads,
                      int head_dim);
int cpu_attention_forward(Backend *b, void *out, float *lse, const void *q, const void *k, const void *v,
                          const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0, int S, int T,
                          int n_heads, int n_kv_heads, int head_dim);
int cpu_attention_backward(Backend *b, void *dq, void *dk, void *dv, const void *dout, const void *q,
                           const void *k, const void *v, const void *out, const float *lse,
                           const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0, int S,
                           int T, int n_heads, int n_kv_heads, int head_dim);
// attention_blocked.c: forward (prefill, training) and backward as blocked
// sgemms (sizes already checked by attention.c).
int cpu_attention_forward_blocked(float *out, float *lse, const float *q, const float *k, const float *v,
                                  const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0, int S, int T,
                                  int n_heads, int n_kv_heads, int head_dim, int max_keys);
int cpu_attention_backward_blocked(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                                   const float *v, const float *out, const float *lse, const int32_t *q_start,
                                   const int32_t *kv_start, const int32_t *q_pos0, int S, int T, int n_heads,
                                   int n_kv_heads, int head_dim, int max_keys);
int cpu_swiglu_forward(Backend *b, void *out, const void *gate, const void *up, size_t n);
int cpu_swiglu_backward(Backend *b, void *dgate, void *dup, const void *dout, const void *gate,
                        const void *up, size_t n);
int cpu_logprob_forward(Backend *b, float *logp, float *entropy, float *lse, const float *logits,
                        const int32_t *targets, int T, int V, float inv_temp);
int cpu_logprob_backward(Backend *b, void *dlogits, const float *dlogp, const float *logits,
                         const int32_t *targets, const float *lse, int T, int V, float inv_temp);
int cpu_add(Backend *b, void *out, const void *x, const void *y, size_t n);
int cpu_bias_forward(Backend *b, void *out, const void *bias, int T, int N);
int cpu_bias_backward(Backend *b, float *dbias, const void *dout, int T, int N);
// y (M, N) = alpha * x (M, K) @ W^T (+ y) for M <= CPU_SMALL_M (matmul_small.c).
#ifndef CPU_SMALL_M
#define CPU_SMALL_M 8
#endif
void cpu_matmul_small(float *y, const float *x, const float *w, int M, int N, int K, float alpha, int accumulate);
// OpenBLAS's kernel set ("SkylakeX", "Haswell", ...); blas_core.c also fixes
// a failed CPU detection at startup.
const char *cpu_blas_core(void);
int cpu_scatter_rows(Backend *b, void *dst, const void *src, const int32_t *dst_rows, int n, int dim);
// optim.c
int cpu_adamw(Backend *b, float *params, void *params_cd, float *m, float *v, const float *grads, size_t n,
              const BackendAdamW *h);
// convert.c: fp32 <-> bf16 (uint16_t, round to nearest even) and same-type copies
int cpu_convert(Backend *b, void *dst, BackendDtype dst_dt, const void *src, BackendDtype src_dt, size_t n);
uint16_t cpu_f32_to_bf16(float f);
float cpu_bf16_to_f32(uint16_t h);
int cpu_sumsq(Backend *b, double *host_out, const float *x, size_t n);
int cpu_scale(Backend *b, float *x, float s, size_t n);
// sample.c
int cpu_sample(Backend *b, int32_t *tokens, float *logprobs, uint64_t *rng, const float *logits, const int32_t *seq,
               const BackendSampleCfg *cfg, int S, int V);
// At least `bytes` of scratch owned by the backend (kept between calls; NULL
// when out of memory). One caller at a time, like the backend itself.
void *cpu_scratch(Backend *b, size_t bytes);

#endif
