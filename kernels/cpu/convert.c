// fp32 <-> bf16 conversion on the host. bf16 is the top half of an fp32
// (stored as uint16_t); rounding is to nearest even, as torch and CUDA's
// __float2bfloat16_rn do, so bf16 data made here matches the GPU's.
#include <string.h>

#include "kernels/cpu/cpu_ops.h"

uint16_t cpu_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    // NaN stays NaN: keep the sign and top payload bits and set the quiet bit
    // (rounding could carry a NaN with a low payload into inf).
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u);
    // Round to nearest even: add half an ulp minus one, plus the kept lsb. A
    // finite value past the largest bf16 rounds up into inf, as it should.
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float cpu_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

int cpu_convert(Backend *b, void *dst, BackendDtype dst_dt, const void *src, BackendDtype src_dt, size_t n) {
    (void)b;
    if ((dst_dt != BE_F32 && dst_dt != BE_BF16) || (src_dt != BE_F32 && src_dt != BE_BF16))
        return grpo_fail(GRPO_EINVAL, "convert: unknown dtype (%d -> %d)", (int)src_dt, (int)dst_dt);
    if (dst_dt == src_dt) {
        if (n && dst != src) memmove(dst, src, n * backend_dtype_size(dst_dt));
        return GRPO_OK;
    }
    const long nn = (long)n;
    if (dst_dt == BE_BF16) {
        uint16_t *d = dst;
        const float *s = src;
#pragma omp parallel for schedule(static) if (nn >= CPU_PAR_MIN)
        for (long i = 0; i < nn; i++) d[i] = cpu_f32_to_bf16(s[i]);
    } else {
        float *d = dst;
        const uint16_t *s = src;
#pragma omp parallel for schedule(static) if (nn >= CPU_PAR_MIN)
        for (long i = 0; i < nn; i++) d[i] = cpu_bf16_to_f32(s[i]);
    }
    return GRPO_OK;
}
