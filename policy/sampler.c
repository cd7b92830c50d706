// The seeded RNG and the policy-level sampling API; the sampling algorithm itself
// (no full sorts, O(V) per token) is kernels/cpu/sample.c.
#include "policy/sampler.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/sample.h"
#include "kernels/rng.h"
#include "kernels/status.h"

// ---------------------------------------------------------------- RNG

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void rng_seed(Rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x); // never all zero: splitmix64 is a bijection of distinct inputs
}

void rng_seed_stream(Rng *r, uint64_t seed, uint64_t stream) {
    uint64_t x = seed, h = splitmix64(&x);
    x = h ^ stream;
    rng_seed(r, splitmix64(&x) ^ stream * 0xD1B54A32D192ED03ull);
}

uint64_t rng_next(Rng *r) { return grpo_xoshiro_next(r->s); }

double rng_uniform(Rng *r) { return grpo_xoshiro_uniform(r->s); }

// ---------------------------------------------------------------- config

static BackendSampleCfg to_cfg(const SamplerConfig *c) {
    return (BackendSampleCfg){c->temperature, c->top_k, c->top_p, c->min_p};
}

SamplerConfig sampler_config_default(void) { return (SamplerConfig){1.0f, 0, 1.0f, 0.0f}; }

int sampler_config_check(const SamplerConfig *c) {
    if (!c) return grpo_fail(GRPO_EINVAL, "sampler: NULL config");
    BackendSampleCfg bc = to_cfg(c);
    return cpu_sample_check(&bc);
}

size_t sampler_scratch_bytes(int V) { return cpu_sample_scratch_bytes(V); }

// ---------------------------------------------------------------- sampling
// The algorithm lives in kernels/cpu/sample.c, shared with the CPU backend's
// sample op; these wrappers keep the policy-level API.

int sampler_filter(const SamplerConfig *c, const float *logits, int V, void *scratch, int *ids) {
    if (!c) return grpo_fail(GRPO_EINVAL, "sampler: NULL config"), -1;
    BackendSampleCfg bc = to_cfg(c);
    return cpu_sample_filter(&bc, logits, V, scratch, ids);
}

int sampler_sample(const SamplerConfig *c, Rng *rng, const float *logits, int V, void *scratch, float *logprob) {
    if (!c || !logits || V <= 0) {
        grpo_fail(GRPO_EINVAL, "sampler: no logits or config");
        return -1;
    }
    BackendSampleCfg bc = to_cfg(c);
    return cpu_sample_row(&bc, rng ? rng->s : NULL, logits, V, scratch, logprob);
}

int sampler_sample_rows(const SamplerConfig *c, Rng *rngs, const float *logits, int B, int V, void *scratch,
                        int32_t *tokens, float *logprobs) {
    if (B < 0 || V <= 0 || !logits || !tokens || (B > 0 && !rngs && c && c->temperature > 0))
        return grpo_fail(GRPO_EINVAL, "sampler: bad arguments for %d rows of %d logits", B, V);
    if (sampler_config_check(c)) return GRPO_EINVAL;
    size_t per = sampler_scratch_bytes(V);
    void *own = NULL;
    if (!scratch && B > 0 && !(scratch = own = malloc(per * (size_t)B)))
        return grpo_fail(GRPO_ENOMEM, "sampler: out of memory for %d rows of %d logits", B, V);
    int bad = -1;
    char msg[512] = "";
#pragma omp parallel for schedule(dynamic, 1) if (B > 1)
    for (int b = 0; b < B; b++) {
        float lp = 0;
        int t = sampler_sample(c, rngs ? &rngs[b] : NULL, logits + (size_t)b * V, V, (char *)scratch + per * (size_t)b, &lp);
        tokens[b] = t;
        if (logprobs) logprobs[b] = lp;
        if (t < 0) {
#pragma omp critical(sampler_rows_err)
            if (bad < 0 || b < bad) { // report the lowest failing row, whatever the schedule
                bad = b;
                snprintf(msg, sizeof msg, "%s", grpo_errmsg()); // the message is thread-local
            }
        }
    }
    free(own);
    if (bad >= 0) return grpo_fail(GRPO_EINVAL, "row %d: %s", bad, msg);
    return GRPO_OK;
}
