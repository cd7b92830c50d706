#pragma once
// The emulator's bf16: the bits of the real header's __nv_bfloat16 and its
// conversions, bit-exact (round to nearest even; NaN becomes the canonical
// 0x7fff as the cvt.rn.bf16.f32 instruction and the host path give).
#include <stdint.h>
#include <string.h>
struct __nv_bfloat16 {
    unsigned short __x;
};
static inline __nv_bfloat16 __float2bfloat16_rn(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    __nv_bfloat16 r;
    if ((u & 0x7fffffffu) > 0x7f800000u) r.__x = 0x7fff;
    else r.__x = (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    return r;
}
static inline __nv_bfloat16 __float2bfloat16(float f) { return __float2bfloat16_rn(f); }
static inline float __bfloat162float(__nv_bfloat16 h) {
    uint32_t u = (uint32_t)h.__x << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
