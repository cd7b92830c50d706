// The compute backend: one op table that policy/ calls and each backend fills
// (the ggml idea at small scale). The model is written once against this table;
// kernels/cpu/ is the fp32 reference and kernels/cuda/ must match it.
//
// Conventions (as in llm.c): buffers are row-major; every op takes its outputs
// first, then inputs, then weights, then sizes; every pointer argument is memory
// of this backend (host memory for cpu, device memory for cuda) unless its name
// says `host`. Every op returns GRPO_OK or a GrpoStatus with grpo_errmsg() set.
//
// Precision (mixed precision as llm.c does it). A backend has one COMPUTE
// DTYPE `cdt`: the type of the weights' working copy, of the activations and of
// the activation gradients -- every buffer typed `void *` below holds cdt
// elements (offset it with backend_off). Everything typed `float *` is fp32 in
// every mode: master weights, parameter gradients, AdamW moments, norm
// statistics (rstd), attention and vocabulary log-sum-exps, logits, log-probs,
// entropies and the loss side. The CPU (the reference) computes in fp32 only;
// CUDA computes in bf16 (default) or fp32 (exact: tests, `precision = fp32`).
// Kernels read cdt, compute in fp32 and round once when they store cdt.
#ifndef GRPO_BACKEND_H
#define GRPO_BACKEND_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>

#include "kernels/status.h"

typedef enum { BACKEND_CPU = 0, BACKEND_CUDA = 1 } BackendKind;

typedef enum { BE_F32 = 0, BE_BF16 = 1 } BackendDtype;

typedef struct Backend Backend;

// One AdamW step's constants, in the float precision the update uses:
// step = lr / (1 - beta1^t), decay = 1 - lr * weight_decay,
// inv_sqrt_bc2 = 1 / sqrt(1 - beta2^t).
typedef struct {
    float beta1, beta2, step, decay, inv_sqrt_bc2, eps;
} BackendAdamW;

// One sequence's sampling settings (the fields of policy/sampler.h's
// SamplerConfig, same meaning): temperature 0 = greedy, top_k 0 = off,
// top_p 1 = off, min_p 0 = off.
typedef struct {
    float temperature;
    int top_k;
    float top_p;
    float min_p;
} BackendSampleCfg;

struct Backend {
    const char *name;  // "cpu" or "cuda"
    BackendKind kind;
    char device_name[128]; // human-readable: the CPU model or the GPU's name
    void *ctx;             // backend-private state (cuBLAS handle, stream, ...)
    BackendDtype cdt;      // compute dtype (see the top); set by backend_set_precision
                           // before any model is built, never changed after

    // ---- memory
    int (*alloc)(Backend *b, void **ptr, size_t bytes); // zero-filled
    void (*free)(Backend *b, void *ptr);
    int (*to_device)(Backend *b, void *dst, const void *host_src, size_t bytes);
    int (*to_host)(Backend *b, void *host_dst, const void *src, size_t bytes);
    int (*copy)(Backend *b, void *dst, const void *src, size_t bytes);
    int (*memset)(Backend *b, void *dst, int byte, size_t bytes);
    int (*sync)(Backend *b); // waits for all queued work; reports async errors

    // ---- compute
    // The one matmul: out (M, N) = alpha * op(a) (M, K) @ op(b) (K, N)
    // [+ out when accumulate]. a and bm are cdt; out is cdt or fp32 (out_dt:
    // logits and weight gradients are fp32), accumulated in fp32 always.
    // op(a) = a, stored (M, K), or a^T when trans_a, stored (K, M);
    // op(b) = b, stored (K, N), or b^T when trans_b, stored (N, K) -- the
    // nn.Linear case: y = x @ W^T with W stored (out_features, in_features).
    int (*matmul)(Backend *b, void *out, BackendDtype out_dt, const void *a, const void *bm,
                  int M, int N, int K, int trans_a, int trans_b, float alpha, int accumulate);
    // dst (n) = src (n) converted between fp32 and cdt (either direction, or a
    // plain copy when the types agree); rounds to nearest even.
    int (*convert)(Backend *b, void *dst, BackendDtype dst_dt, const void *src, BackendDtype src_dt,
                   size_t n);

    // ---- the transformer's ops (policy/model.c). An op a backend does not
    // provide is NULL and callers report it through backend_require().
    // Backward ops ACCUMULATE (+=) into parameter gradients (zeroed once per
    // step) and into activation gradients marked "+=" below; the rest overwrite.
    // int32 index arrays (ids, pos, offsets) are backend memory too.

    // out (T, C) = wte[ids[t]];  dwte (V, C) += scatter of dout by ids
    int (*embedding_forward)(Backend *b, void *out, const int32_t *ids, const void *wte,
                             int T, int C, int V);
    int (*embedding_backward)(Backend *b, float *dwte, const void *dout, const int32_t *ids,
                              int T, int C, int V);

    // out (T, C) = inp / sqrt(mean(inp^2) + eps) * weight (C); rstd (T) saved
    // for backward (NULL when not needed). Statistics in fp32 as HF does.
    // dinp (T, C) +=, dweight (C) +=
    int (*rmsnorm_forward)(Backend *b, void *out, float *rstd, const void *inp,
                           const void *weight, int T, int C, float eps);
    int (*rmsnorm_backward)(Backend *b, void *dinp, float *dweight, const void *dout,
                            const void *inp, const void *weight, const float *rstd,
                            int T, int C);

    // Rotary embedding, Hugging Face's rotate_half layout: element i of each
    // head pairs with element i + head_dim/2. x (T, n_heads * head_dim) rotated
    // in place by angle pos[t] * inv_freq[i]; inv_freq (head_dim/2, fp32) already
    // holds any rope scaling. Backward rotates the gradient by the opposite angle
    // (the op is orthogonal), also in place.
    int (*rope_forward)(Backend *b, void *x, const int32_t *pos, const float *inv_freq,
                        int T, int n_heads, int head_dim);
    int (*rope_backward)(Backend *b, void *dx, const int32_t *pos, const float *inv_freq,
                         int T, int n_heads, int head_dim);

    // Causal GQA attention over S packed sequences without padding.
    // q, out (T, n_heads * head_dim): sequence s owns query rows
    // q_start[s] .. q_start[s+1] (q_start (S+1), q_start[S] = T); its i-th query
    // sits at position q_pos0[s] + i and sees key rows kv_start[s] + 0 ..
    // kv_start[s] + q_pos0[s] + i of k, v (*, n_kv_heads * head_dim). Training
    // packs keys like queries (kv_start = q_start, q_pos0 = 0); decoding points
    // kv_start into a KV cache. lse (T, n_heads) = log-sum-exp of the scaled
    // scores, saved so backward recomputes probabilities instead of storing them.
    // Backward: dq (T, nh*hd) overwritten, dk, dv +=; sequences must not share
    // key rows (true for training batches).
    int (*attention_forward)(Backend *b, void *out, float *lse, const void *q,
                             const void *k, const void *v, const int32_t *q_start,
                             const int32_t *kv_start, const int32_t *q_pos0,
                             int S, int T, int n_heads, int n_kv_heads, int head_dim);
    int (*attention_backward)(Backend *b, void *dq, void *dk, void *dv, const void *dout,
                              const void *q, const void *k, const void *v,
                              const void *out, const float *lse, const int32_t *q_start,
                              const int32_t *kv_start, const int32_t *q_pos0,
                              int S, int T, int n_heads, int n_kv_heads, int head_dim);

    // out (n) = silu(gate) * up;  dgate, dup (n) overwritten
    int (*swiglu_forward)(Backend *b, void *out, const void *gate, const void *up, size_t n);
    int (*swiglu_backward)(Backend *b, void *dgate, void *dup, const void *dout,
                           const void *gate, const void *up, size_t n);

    // Fused log-softmax + gather + entropy over one chunk of rows of fp32 logits
    // (T, V) scaled by inv_temp: logp[t] = log_softmax(logits[t] * inv_temp)[targets[t]]
    // (0 where targets[t] < 0), entropy[t] of that distribution (NULL = skip),
    // lse[t] its log-sum-exp (saved for backward; NULL = skip).
    // Backward writes dlogits (T, V) in cdt, d/dlogits of sum_t dlogp[t] * logp[t];
    // it may alias logits only when cdt is fp32.
    int (*logprob_forward)(Backend *b, float *logp, float *entropy, float *lse,
                           const float *logits, const int32_t *targets, int T, int V,
                           float inv_temp);
    int (*logprob_backward)(Backend *b, void *dlogits, const float *dlogp,
                            const float *logits, const int32_t *targets, const float *lse,
                            int T, int V, float inv_temp);

    // out (n) = x + y (out may alias x or y)
    int (*add)(Backend *b, void *out, const void *x, const void *y, size_t n);
    // out (T, N) += bias (N);  dbias (N, fp32) += column sums of dout (T, N)
    int (*bias_forward)(Backend *b, void *out, const void *bias, int T, int N);
    int (*bias_backward)(Backend *b, float *dbias, const void *dout, int T, int N);
    // dst rows dst_rows[i] (n) of dst (*, dim) = src rows i (n, dim): writes
    // new keys/values into a KV cache, or copies a prompt's cache rows.
    int (*scatter_rows)(Backend *b, void *dst, const void *src, const int32_t *dst_rows,
                        int n, int dim);

    // ---- the optimizer step (rl/optim.c) over the model's one contiguous
    // parameter buffer, and sampling (policy/generate.c). Appended after the
    // model's ops; every backend implements them.

    // AdamW (torch.optim.AdamW, decoupled weight decay), fp32 moments m, v (n)
    // in backend memory; fp32 master params, m, v updated in place from grads (n):
    //   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
    //   p = p * decay - step * m / (sqrt(v) * inv_sqrt_bc2 + eps)
    // with the per-step constants of h (rl/optim.c computes them on the host).
    // params_cd (n, cdt), when not NULL, receives the new params rounded to
    // cdt in the same pass (the bf16 working copy the model computes with).
    int (*adamw)(Backend *b, float *params, void *params_cd, float *m, float *v, const float *grads,
                 size_t n, const BackendAdamW *h);
    // *host_out = sum of x[i]^2 (n), accumulated in float64. A NaN or inf in x
    // makes the result non-finite (the trainer's skip test relies on it). The
    // CPU sums fixed chunks in order, so the result is thread-count independent.
    int (*sumsq)(Backend *b, double *host_out, const float *x, size_t n);
    // x (n) *= s in place (gradient clipping).
    int (*scale)(Backend *b, float *x, float s, size_t n);

    // One token per row of logits (S, V), as policy/sampler.h defines sampling:
    // row i belongs to sequence seq[i], whose settings are cfg[seq[i]] and whose
    // xoshiro256** state is rng[4*seq[i] .. +3] (advanced by one draw unless
    // greedy). tokens[i] gets the token and logprobs[i] = log_softmax(logits / T)
    // [token] (T = 1 when greedy, no renormalisation over the survivors). A row
    // that cannot be sampled (a NaN or +inf logit, every logit -inf) gets token
    // -1 and logprob NaN; the CPU also returns GRPO_EINVAL naming the row, other
    // backends report it only through the -1 (the caller checks the tokens).
    // Every pointer is backend memory: tokens, logprobs (S), rng (n_seqs, 4),
    // seq (S), cfg (n_seqs). The CPU draws exactly what sampler_sample draws;
    // CUDA uses the same RNG and the same truncated distribution.
    int (*sample)(Backend *b, int32_t *tokens, float *logprobs, uint64_t *rng, const float *logits,
                  const int32_t *seq, const BackendSampleCfg *cfg, int S, int V);

    // Device memory in bytes: in use now, the most in use at any allocation
    // so far, and the card's total (cudaMemGetInfo; other processes' use
    // counts). NULL on the CPU, where the process's RSS says the same.
    int (*mem_stats)(Backend *b, size_t *host_in_use, size_t *host_peak, size_t *host_total);

    void (*destroy)(Backend *b);

    // ---- graphs (CUDA graphs; NULL on the CPU, where there is nothing to
    // save). Appended last. Between graph_begin and graph_end the ops queued
    // on b are recorded, not run; graph_launch runs the recording again with
    // the same pointers and sizes (kernel arguments are captured by value, so
    // only the contents of memory may change between launches). Inside a
    // capture nothing may allocate or synchronise: alloc, to_host, sync,
    // sumsq and ops whose scratch would grow fail (the caller runs eagerly).
    // graph_end always ends the capture: on success *graph is an executable
    // graph (free with graph_free); on failure *graph is NULL, the device's
    // error is cleared and a status says why. A caller whose op failed inside
    // the captured region still calls graph_end, then frees any graph it got.
    int (*graph_begin)(Backend *b);
    int (*graph_end)(Backend *b, void **graph);
    int (*graph_launch)(Backend *b, void *graph);
    void (*graph_free)(Backend *b, void *graph);

    // ---- profiling (kernels/profile.h). timer(b, 0, NULL) marks the start of
    // an op in b's queue; timer(b, 1, &seconds) marks its end, waits for it
    // and gives the device time between the marks. NULL on the CPU, whose
    // ops are done when they return (the profiler uses the wall clock there).
    int (*timer)(Backend *b, int stop, double *seconds);
    struct BackendProfile *profile; // set while kernels/profile.c wraps this table
};

// Opens a backend by name: "cpu", "cuda" or "auto" (cuda only when a usable GPU
// is present, else cpu). Asking for cuda without a usable GPU fails with a
// one-line message saying why. Free with backend_close(). Its compute dtype is
// the backend's default (cpu fp32, cuda bf16) until backend_set_precision.
int backend_open(const char *device, Backend **out);
// precision: "auto" (the backend's default), "fp32" or "bf16". The CPU refuses
// bf16 (it is the fp32 reference). Call before building any model on b.
int backend_set_precision(Backend *b, const char *precision);
// "fp32" / "bf16"; bytes per element.
const char *backend_dtype_name(BackendDtype dt);
size_t backend_dtype_size(BackendDtype dt);
// p + n elements of the compute dtype: the pointer arithmetic for `void *` buffers.
static inline void *backend_off(const Backend *b, const void *p, size_t n) {
    return (char *)p + n * (b->cdt == BE_BF16 ? 2 : 4);
}
// Lays buffers out in one allocation: returns base + *off (NULL when base is
// NULL, a counting pass) and advances *off past n elements of esize bytes,
// rounded up to 64 bytes so every buffer is aligned for SIMD and vector loads.
static inline void *backend_carve(void *base, size_t *off, size_t n, size_t esize) {
    void *p = base ? (char *)base + *off : NULL;
    *off += (n * esize + 63) & ~(size_t)63;
    return p;
}
void backend_close(Backend *b);

// "cpu" or "cpu cuda": the backends compiled into this build.
const char *backend_compiled(void);

// GRPO_OK when a CUDA GPU can be used; otherwise a status with the reason in
// grpo_errmsg() (not compiled in, no driver, no device, ...). Never hangs.
int backend_cuda_probe(char *name, size_t name_len);

// Fails with a clear message when backend `b` lacks an op (a NULL slot).
int backend_require(const Backend *b, const void *op, const char *op_name);

// Backend constructors (internal; use backend_open).
int backend_cpu_create(Backend **out);
#ifdef GRPO_HAVE_CUDA
int backend_cuda_create(Backend **out);
#endif

#ifdef __cplusplus
}
#endif

#endif
