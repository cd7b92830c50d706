// The tensor-core attention path (cuda_attention_tc.cu), called by
// cuda_attention.cu's op slots; the arguments are attention_forward/backward's.
#ifndef GRPO_CUDA_ATTENTION_TC_CUH
#define GRPO_CUDA_ATTENTION_TC_CUH

#include "kernels/backend.h"

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
