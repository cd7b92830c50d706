// Host-side bf16 for the CUDA tests: rounding (nearest even, as CUDA's
// __float2bfloat16_rn) and widening, so a test can give the CPU reference the
// same bf16-rounded values the GPU reads.
#ifndef GRPO_TU_BF16_H
#define GRPO_TU_BF16_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint16_t tu_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fff; // NaN (CUDA's canonical one)
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

static inline float tu_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline float tu_bf16_round(float f) { return tu_bf16_to_f32(tu_f32_to_bf16(f)); }

static inline void tu_bf16_round_all(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = tu_bf16_round(x[i]);
}

#endif
