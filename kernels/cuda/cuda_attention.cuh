// Attention entry points shared between kernels/cuda/cuda_attention*.cu.
#ifndef GRPO_CUDA_ATTENTION_CUH
#define GRPO_CUDA_ATTENTION_CUH

#include "kernels/backend.h"

// attention_forward (backend.h) for decode-shaped calls: meant for T == S (one
// new query row per sequence over its KV cache) but correct for any offsets.
// Work per (query row, kv head) is shared by the group's query heads, keys
// are split across warps and, for long caches, across blocks (a second pass
// merges the splits in a fixed order). Sizes are checked by the caller;
// offsets are checked on the device by the caller's attn_check_kernel.
int cuda_attention_decode(Backend *b, void *out, float *lse, const void *q, const void *k, const void *v,
                          const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0, int S, int T,
                          int n_heads, int n_kv_heads, int head_dim);

// Makes the fixed-size buffer cuda_attention_decode's splits use (once, outside
// a graph capture; a no-op inside one), so that a decode step captured as a
// graph after a prefill finds it in place.
int cuda_attention_decode_reserve(Backend *b);

// The tensor-core path (cuda_attention_tc.cu) for bf16 training and prefill.
// Whether the path serves b at this head_dim: bf16 compute, head_dim <= 128,
// and not switched off by GRPO_CUDA_TC_ATTN=0 (for A/B benchmarks).
int cuda_attention_tc_applies(Backend *b, int head_dim);

int cuda_attention_tc_forward(Backend *b, void *out, float *lse, const void *q, const void *k, const void *v,
                              const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0, int S, int T,
                              int n_heads, int n_kv_heads, int head_dim);

// h_q_start (S+1), h_q_pos0 (S): the offsets, already read back and checked on the host.
int cuda_attention_tc_backward(Backend *b, void *dq, void *dk, void *dv, const void *dout, const void *q,
                               const void *k, const void *v, const void *out, const float *lse,
                               const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0, int S, int T,
                               int n_heads, int n_kv_heads, int head_dim, const int32_t *h_q_start,
                               const int32_t *h_q_pos0);


#endif
