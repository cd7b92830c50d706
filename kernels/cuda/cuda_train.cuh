// The CUDA backend's optimizer and sampling ops (cuda_optim.cu, cuda_sample.cu).
// cuda_sample expects distinct seq entries per call (each row advances its
// sequence's RNG state).
#ifndef GRPO_CUDA_TRAIN_CUH
#define GRPO_CUDA_TRAIN_CUH

#include "kernels/backend.h"

int cuda_sample(Backend *b, int32_t *tokens, float *logprobs, uint64_t *rng, const float *logits, const int32_t *seq,
                const BackendSampleCfg *cfg, int S, int V);

// Fills the adamw, sumsq, scale and sample slots.
void cuda_register_train_ops(Backend *b);

#endif
