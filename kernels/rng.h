// xoshiro256** (Blackman and Vigna), one 4-word state per sequence. Shared by
// the host sampler (policy/sampler.c), the CPU backend and the CUDA sampling
// kernel, so every backend draws the same uniform numbers from the same state.
#ifndef GRPO_RNG_H
#define GRPO_RNG_H

#include <stdint.h>

#ifdef __CUDACC__
#define GRPO_HD __host__ __device__
#else
#define GRPO_HD
#endif

static inline GRPO_HD uint64_t grpo_rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// s (4): advanced in place; returns the next 64 random bits.
static inline GRPO_HD uint64_t grpo_xoshiro_next(uint64_t *s) {
    uint64_t out = grpo_rotl64(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = grpo_rotl64(s[3], 45);
    return out;
}

// [0, 1) with 53 random bits.
static inline GRPO_HD double grpo_xoshiro_uniform(uint64_t *s) {
    return (double)(grpo_xoshiro_next(s) >> 11) * 0x1.0p-53;
}

#endif
