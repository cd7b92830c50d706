// Next-token sampling: temperature, top-k, top-p (nucleus) and min-p, with a small
// seeded RNG that each sequence owns, so the same seed gives the same tokens whatever
// else is in the batch.
//
// Filters apply in the order of transformers' generate (and vLLM): temperature, then
// top-k, then top-p over the renormalised top-k survivors, then min-p. A token is then
// drawn from the survivors in proportion to their probabilities.
#ifndef GRPO_SAMPLER_H
#define GRPO_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

typedef struct { uint64_t s[4]; } Rng; // xoshiro256** seeded by splitmix64

void rng_seed(Rng *r, uint64_t seed);
uint64_t rng_next(Rng *r);
double rng_uniform(Rng *r); // [0, 1), 53 random bits

// An independent stream per (seed, stream): sequence i of a batch uses
// rng_seed_stream(&r, seed, i), so its tokens do not depend on the batch around it.
void rng_seed_stream(Rng *r, uint64_t seed, uint64_t stream);

typedef struct {
    float temperature; // 0 = greedy (argmax, ties to the lowest id)
    int top_k;         // 0 = off
    float top_p;       // 1 = off; keeps the smallest most-likely set with mass >= top_p (at least one token)
    float min_p;       // 0 = off; drops tokens with prob < min_p * (max prob)
} SamplerConfig;

SamplerConfig sampler_config_default(void); // temperature 1, everything else off

// GRPO_OK, or GRPO_EINVAL with a message naming the bad field (temperature < 0 or not
// finite, top_k < 0, top_p outside (0, 1], min_p outside [0, 1]).
int sampler_config_check(const SamplerConfig *c);

// Bytes of scratch sampler_sample needs for V logits (= 2*V floats + V ints); the memory
// must be aligned for a double (malloc'd memory is).
size_t sampler_scratch_bytes(int V);

// Picks the next token from one row of logits (V). *logprob = log_softmax(logits / T)[token]
// with T = temperature (T = 1 when greedy), computed in float64, WITHOUT renormalising over
// the top-k/top-p/min-p survivors: this is exactly what the trainer recomputes in its forward
// pass (TRL does the same), so old log-probs and recomputed ones agree.
// scratch: sampler_scratch_bytes(V) bytes, or NULL to allocate per call.
// Logits may be -inf (a banned token); a NaN or +inf logit, all logits -inf, or a bad config
// returns -1 with the reason in grpo_errmsg(). Sampling consumes exactly one rng_next per
// call (greedy consumes none). logprob may be NULL.
int sampler_sample(const SamplerConfig *c, Rng *rng, const float *logits, int V, void *scratch,
                   float *logprob); // returns the token id (>= 0) or -1 on bad input

// The survivors of top-k/top-p/min-p for temperature > 0 (at temperature 0 the filters are
// evaluated at T = 1, though sampler_sample then just takes the argmax): writes their ids to
// ids (room for V) in no particular order and returns their count (>= 1), or -1 on bad
// input. For tests and debugging; sampler_sample draws from exactly this set.
// Thread-safety: every function here is reentrant; concurrent calls need their own Rng and
// scratch, so a generator can sample the rows of a batch in parallel.
int sampler_filter(const SamplerConfig *c, const float *logits, int V, void *scratch, int *ids);

// B rows at once, in parallel (OpenMP), each with its own Rng: tokens[b] and logprobs[b]
// (may be NULL) are exactly what sampler_sample(c, &rngs[b], logits + b*V, ...) gives, in any
// thread count. scratch: B * sampler_scratch_bytes(V) bytes, or NULL to allocate. Returns
// GRPO_OK, or the first failing row's error (its token is -1).
int sampler_sample_rows(const SamplerConfig *c, Rng *rngs, const float *logits, int B, int V, void *scratch,
                        int32_t *tokens, float *logprobs);

#endif
