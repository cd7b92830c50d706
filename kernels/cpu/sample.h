// The reference sampler (temperature, top-k, top-p, min-p; semantics in
// policy/sampler.h) on host memory. The CPU backend's sample op and
// policy/sampler.c are both this code, so a CPU run samples the same tokens
// whichever path it takes.
#ifndef GRPO_CPU_SAMPLE_H
#define GRPO_CPU_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/backend.h"

// GRPO_OK, or GRPO_EINVAL naming the bad field.
int cpu_sample_check(const BackendSampleCfg *c);

// Scratch bytes for one row of V logits (V doubles + V ints, double-aligned).
size_t cpu_sample_scratch_bytes(int V);

// The token drawn from logits (V) with xoshiro256** state rng (4 words; one
// draw unless greedy), *logprob its unrenormalised log-prob (may be NULL).
// Returns the token, or -1 with grpo_errmsg() set. scratch: see above, or NULL.
int cpu_sample_row(const BackendSampleCfg *c, uint64_t *rng, const float *logits, int V, void *scratch,
                   float *logprob);

// The survivors of the filters, as sampler_filter documents; count or -1.
int cpu_sample_filter(const BackendSampleCfg *c, const float *logits, int V, void *scratch, int *ids);

#endif
