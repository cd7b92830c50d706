#pragma once
// The emulator's warp matrix functions (nvcuda::wmma), for bf16 inputs with
// fp32 accumulation at 16x16x16. Every lane holds the whole tile (the real
// layout is spread over the lanes and unspecified, so code may only touch
// fragments through these calls or uniformly over x[]). To expose missing
// __syncwarp()s the way hardware would, store_matrix_sync writes only the
// calling lane's share of the tile (elements e with e % 32 == lane): a lane
// that reads the stored tile before the warp has met at a barrier sees
// garbage. Loads read the whole tile, so a load before the other lanes'
// plain stores were fenced by a barrier reads garbage too. Pointers must be
// 32-byte aligned and ldm a multiple of 16 bytes, as the CUDA guide requires.
#include <type_traits>
#include "cuda_bf16.h"
#include "emu.h"

namespace nvcuda {
namespace wmma {
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <class Use, int M, int N, int K, class T, class Layout = void> struct fragment {
    enum { num_elements = 256 };
    T x[256];
};

void emu_wmma_check(const void *p, unsigned ldm, size_t elem, const char *what);

template <class T> static inline float emu_wmma_f(T v) { return (float)v; }
template <> inline float emu_wmma_f<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }

template <class Use, class T, class L>
static inline void load_matrix_sync(fragment<Use, 16, 16, 16, T, L> &f, const T *p, unsigned ldm) {
    emu_wmma_check(p, ldm, sizeof(T), "load_matrix_sync");
    bool col = std::is_same<L, col_major>::value;
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++) f.x[r * 16 + c] = col ? p[(size_t)c * ldm + r] : p[(size_t)r * ldm + c];
    emu::warp_barrier();
}
static inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, float> &f, const float *p, unsigned ldm,
                                    layout_t l) {
    emu_wmma_check(p, ldm, sizeof(float), "load_matrix_sync");
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++) f.x[r * 16 + c] = l == mem_col_major ? p[(size_t)c * ldm + r] : p[(size_t)r * ldm + c];
    emu::warp_barrier();
}
static inline void store_matrix_sync(float *p, const fragment<accumulator, 16, 16, 16, float> &f, unsigned ldm,
                                     layout_t l) {
    emu_wmma_check(p, ldm, sizeof(float), "store_matrix_sync");
    int lane = emu::lane_id();
    for (int e = lane; e < 256; e += 32) {
        int r = e / 16, c = e % 16;
        if (l == mem_col_major) p[(size_t)c * ldm + r] = f.x[e];
        else p[(size_t)r * ldm + c] = f.x[e];
    }
    // No barrier: other lanes' shares are not visible before a __syncwarp.
}
template <class Use, class T, class L> static inline void fill_fragment(fragment<Use, 16, 16, 16, T, L> &f, T v) {
    for (int e = 0; e < 256; e++) f.x[e] = v;
}
// d = a b + c, products exact in fp32 and summed in fp32 (the hardware's order
// differs: results agree to fp32 rounding).
template <class LA, class LB>
static inline void mma_sync(fragment<accumulator, 16, 16, 16, float> &d,
                            const fragment<matrix_a, 16, 16, 16, __nv_bfloat16, LA> &a,
                            const fragment<matrix_b, 16, 16, 16, __nv_bfloat16, LB> &b,
                            const fragment<accumulator, 16, 16, 16, float> &c) {
    float out[256];
    for (int r = 0; r < 16; r++)
        for (int n = 0; n < 16; n++) {
            float s = c.x[r * 16 + n];
            for (int k = 0; k < 16; k++) s += emu_wmma_f(a.x[r * 16 + k]) * emu_wmma_f(b.x[k * 16 + n]);
            out[r * 16 + n] = s;
        }
    memcpy(d.x, out, sizeof out);
    emu::warp_barrier();
}
} // namespace wmma
} // namespace nvcuda
