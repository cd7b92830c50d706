// Decode attention (flash-decoding): attention_forward when every sequence
// adds one query row over its KV cache. Decoding is bound by reading the
// cache, so each K/V row is read once per (query row, kv head) and used by all
// heads of its GQA group, with 16-byte loads, and a row's keys are spread over
// the warps of a block and, past DEC_SPLIT_KEYS keys, over up to
// DEC_MAX_SPLITS blocks whose partial results a second kernel merges.
//
// Layout: a warp is KPW = 32 / LPR subgroups of LPR lanes; a subgroup holds a
// whole key row (lane r of it holds vectors r, r + LPR, ... of E elements:
// NC per lane), so one warp-wide load brings KPW key rows and a dot product
// is reduced over LPR lanes only. Each subgroup runs its own online softmax
// over its keys (in base 2: q is pre-scaled by log2(e) / sqrt(hd)); subgroups,
// warps and splits are merged with their max and sum, always in the same
// order, so results are deterministic and depend only on each row's key
// count (not on the batch).
//
// Scores, softmax, lse and every accumulator are fp32, as in cuda_attention.cu.
// Graph capture: the splits' partials live in a buffer of fixed size
// (DEC_SCRATCH_BYTES, CudaCtx.dec_part) made by cuda_attention_decode_reserve
// before any capture and never moved (graphs keep its address), and the
// number of splits a call may use is derived from host-known sizes only.
#include <stdint.h>

#include "kernels/cuda/cuda_attention.cuh"
#include "kernels/cuda/cuda_common.cuh"

#define DEC_WARPS 4         // warps per block
#define DEC_MAX_SPLITS 16   // blocks a row's keys may be split over
#define DEC_SPLIT_KEYS 256  // a split per this many keys (until DEC_MAX_SPLITS)
#define DEC_MAX_HEAD_DIM 256
#define DEC_SCRATCH_BYTES ((size_t)32 << 20)
#define DEC_LN2 0.69314718055994531f
#define DEC_LOG2E 1.44269504088896341f

// E consecutive elements of T as one load (16 bytes, or 1 element for the
// scalar path); get(e) widens element e to fp32 (e is a constant once unrolled).
template <class T, int E> struct DecVec;
struct alignas(16) DecWords {
    uint32_t x, y, z, w;
};
__device__ __forceinline__ uint32_t dec_word(const DecWords &r, int i) {
    return i == 0 ? r.x : i == 1 ? r.y : i == 2 ? r.z : r.w;
}
template <> struct DecVec<bf16, 8> {
    DecWords r;
    __device__ __forceinline__ void load(const bf16 *p) { r = *reinterpret_cast<const DecWords *>(p); }
    __device__ __forceinline__ void zero() { r.x = r.y = r.z = r.w = 0u; }
    __device__ __forceinline__ float get(int e) const {
        uint32_t u = dec_word(r, e >> 1); // element 2i is the low half of word i
        return __int_as_float((int)((e & 1) ? (u & 0xffff0000u) : (u << 16)));
    }
};
template <> struct DecVec<float, 4> {
    DecWords r;
    __device__ __forceinline__ void load(const float *p) { r = *reinterpret_cast<const DecWords *>(p); }
    __device__ __forceinline__ void zero() { r.x = r.y = r.z = r.w = 0u; }
    __device__ __forceinline__ float get(int e) const { return __int_as_float((int)dec_word(r, e)); }
};
template <class T> struct DecVec<T, 1> {
    float f;
    __device__ __forceinline__ void load(const T *p) { f = cload(*p); }
    __device__ __forceinline__ void zero() { f = 0.0f; }
    __device__ __forceinline__ float get(int) const { return f; }
};

// The (sequence, index within it) of query row t, or -1 when offsets are bad
// (as row_seq in cuda_attention.cu; attn_check_kernel reports them).
__device__ __forceinline__ int dec_row_seq(const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0,
                                           int S, int t, int *i) {
    int lo = 0, hi = S - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (q_start[mid] <= t) lo = mid;
        else hi = mid - 1;
    }
    *i = t - q_start[lo];
    if (*i < 0 || t >= q_start[lo + 1] || q_pos0[lo] < 0 || kv_start[lo] < 0) return -1;
    return lo;
}

// Blocks a row of n >= 1 keys is split over: a function of n alone (and of
// the call's cap), so the split kernel and the merge agree without storing it.
__device__ __forceinline__ int dec_splits(int n, int maxsplit) {
    int p = (n + DEC_SPLIT_KEYS - 1) / DEC_SPLIT_KEYS;
    return p < maxsplit ? p : maxsplit;
}

// grid = (T * nkv * npass, maxsplit): block (unit, p) runs split p of query
// row t over kv head hk for query heads h0 .. h0 + ng - 1 (GB heads a pass).
// With one split it writes out and lse; otherwise unnormalised partials to
// part (T, nh, maxsplit, hd) and (max, sum) pairs to ml (T, nh, maxsplit, 2).
template <class T, int E, int LPR, int NC, int GB>
__global__ void __launch_bounds__(DEC_WARPS * 32, 1)
    dec_split_kernel(T *out, float *lse, float *part, float *ml, const T *__restrict__ q, const T *__restrict__ k,
                     const T *__restrict__ v, const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0,
                     int S, int nh, int nkv, int hd, int npass, int maxsplit, float qscale) {
    // out, q (T, nh*hd); k, v (*, nkv*hd)
    constexpr int U = 2;                       // keys per subgroup per round: one rescale per round
    constexpr int KPW = 32 / LPR;              // key rows per warp-wide load
    constexpr int NSG = DEC_WARPS * KPW;       // subgroups per block
    constexpr int WID = LPR * NC * E;          // padded width a subgroup covers (>= hd)
    __shared__ float s_acc[DEC_WARPS][GB][WID];
    __shared__ float s_m[DEC_WARPS][GB], s_l[DEC_WARPS][GB];

    const int G = nh / nkv, unit = blockIdx.x, p = blockIdx.y;
    const int pass = unit % npass, hk = (unit / npass) % nkv, t = unit / (npass * nkv);
    const int h0 = hk * G + pass * GB, ng = G - pass * GB < GB ? G - pass * GB : GB;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, r = lane % LPR, sg = warp * KPW + lane / LPR;
    const int NV = hd / E; // vectors in a row
    const size_t qd = (size_t)nh * hd, kvd = (size_t)nkv * hd;
    int i;
    const int s = dec_row_seq(q_start, kv_start, q_pos0, S, t, &i);
    if (s < 0) { // reported by attn_check_kernel; the row's output is zeros
        if (p == 0)
            for (int x = threadIdx.x; x < ng * hd; x += blockDim.x) {
                out[(size_t)t * qd + (size_t)h0 * hd + x] = cstore<T>(0.0f);
                if (lse && x % hd == 0) lse[(size_t)t * nh + h0 + x / hd] = 0.0f;
            }
        return;
    }
    const int n = q_pos0[s] + i + 1, P = dec_splits(n, maxsplit);
    if (p >= P) return; // the whole block: no barrier has been reached
    const int chunk = (n + P - 1) / P, k0 = p * chunk, k1 = k0 + chunk < n ? k0 + chunk : n;
    const size_t kv0 = (size_t)kv_start[s] * kvd + (size_t)hk * hd;
    const T *kb = k + kv0, *vb = v + kv0;

    float qr[GB][NC][E], acc[GB][NC][E], m[GB], l[GB];
#pragma unroll
    for (int g = 0; g < GB; g++) {
        m[g] = -INFINITY;
        l[g] = 0.0f;
#pragma unroll
        for (int c = 0; c < NC; c++) {
            int vi = c * LPR + r;
            DecVec<T, E> x;
            if (g < ng && vi < NV) x.load(q + (size_t)t * qd + (size_t)(h0 + g) * hd + (size_t)vi * E);
            else x.zero();
#pragma unroll
            for (int e = 0; e < E; e++) {
                qr[g][c][e] = x.get(e) * qscale;
                acc[g][c][e] = 0.0f;
            }
        }
    }

    // Subgroup sg takes keys k0 + sg, k0 + sg + NSG, ...; a warp loops as long
    // as its first subgroup (the one with the most keys) has keys left, so
    // every lane reaches every shuffle.
    const int first = warp * KPW, span = k1 - k0;
    const int rounds = span > first ? (span - first + NSG - 1) / NSG : 0;
    for (int it = 0; it < rounds; it += U) {
        DecVec<T, E> kr[U][NC], vr[U][NC];
        bool ok[U];
#pragma unroll
        for (int u = 0; u < U; u++) {
            int j = k0 + sg + (it + u) * NSG;
            ok[u] = j < k1;
#pragma unroll
            for (int c = 0; c < NC; c++) {
                int vi = c * LPR + r;
                if (ok[u] && vi < NV) {
                    kr[u][c].load(kb + (size_t)j * kvd + (size_t)vi * E);
                    vr[u][c].load(vb + (size_t)j * kvd + (size_t)vi * E);
                } else {
                    kr[u][c].zero();
                    vr[u][c].zero();
                }
            }
        }
#pragma unroll
        for (int g = 0; g < GB; g++) {
            if (g >= ng) continue; // uniform over the block
            float sc[U];
#pragma unroll
            for (int u = 0; u < U; u++) {
                float d = 0.0f;
#pragma unroll
                for (int c = 0; c < NC; c++)
#pragma unroll
                    for (int e = 0; e < E; e++) d += qr[g][c][e] * kr[u][c].get(e);
#pragma unroll
                for (int o = LPR / 2; o > 0; o >>= 1) d += __shfl_xor_sync(0xffffffffu, d, o);
                sc[u] = ok[u] ? d : -INFINITY;
            }
            float mt = m[g];
#pragma unroll
            for (int u = 0; u < U; u++) mt = fmaxf(mt, sc[u]);
            if (mt == -INFINITY) continue; // no key yet in this subgroup
            float corr = exp2f(m[g] - mt), pu[U]; // corr = 0 on the first keys
            l[g] *= corr;
#pragma unroll
            for (int u = 0; u < U; u++) {
                pu[u] = exp2f(sc[u] - mt);
                l[g] += pu[u];
            }
#pragma unroll
            for (int c = 0; c < NC; c++)
#pragma unroll
                for (int e = 0; e < E; e++) {
                    float a = acc[g][c][e] * corr;
#pragma unroll
                    for (int u = 0; u < U; u++) a += pu[u] * vr[u][c].get(e);
                    acc[g][c][e] = a;
                }
            m[g] = mt;
        }
    }

    // Merge the warp's subgroups (lanes r, r + LPR, ... hold the same elements).
#pragma unroll
    for (int g = 0; g < GB; g++) {
        if (g >= ng || KPW == 1) continue;
        float M = m[g];
#pragma unroll
        for (int o = LPR; o < 32; o <<= 1) M = fmaxf(M, __shfl_xor_sync(0xffffffffu, M, o));
        float f = m[g] == -INFINITY ? 0.0f : exp2f(m[g] - M), lf = l[g] * f;
#pragma unroll
        for (int o = LPR; o < 32; o <<= 1) lf += __shfl_xor_sync(0xffffffffu, lf, o);
#pragma unroll
        for (int c = 0; c < NC; c++)
#pragma unroll
            for (int e = 0; e < E; e++) {
                float a = acc[g][c][e] * f;
#pragma unroll
                for (int o = LPR; o < 32; o <<= 1) a += __shfl_xor_sync(0xffffffffu, a, o);
                acc[g][c][e] = a;
            }
        m[g] = M;
        l[g] = lf;
    }
    if (lane < LPR) {
#pragma unroll
        for (int g = 0; g < GB; g++)
#pragma unroll
            for (int c = 0; c < NC; c++)
#pragma unroll
                for (int e = 0; e < E; e++) s_acc[warp][g][(c * LPR + r) * E + e] = acc[g][c][e];
        if (lane == 0)
#pragma unroll
            for (int g = 0; g < GB; g++) {
                s_m[warp][g] = m[g];
                s_l[warp][g] = l[g];
            }
    }
    __syncthreads();

    // Merge the warps, in warp order; element d of a row is s_acc[.][g][d].
    for (int x = threadIdx.x; x < ng * hd; x += blockDim.x) {
        int g = x / hd, d = x % hd;
        float M = -INFINITY, L = 0.0f, A = 0.0f;
#pragma unroll
        for (int w = 0; w < DEC_WARPS; w++) M = fmaxf(M, s_m[w][g]);
#pragma unroll
        for (int w = 0; w < DEC_WARPS; w++) {
            float f = s_l[w][g] > 0.0f ? exp2f(s_m[w][g] - M) : 0.0f;
            L += s_l[w][g] * f;
            A += s_acc[w][g][d] * f;
        }
        size_t row = (size_t)t * nh + h0 + g;
        if (P == 1) { // n >= 1 keys, so L > 0
            out[row * hd + d] = cstore<T>(A / L);
            if (lse && d == 0) lse[row] = (M + log2f(L)) * DEC_LN2;
        } else {
            size_t at = row * maxsplit + p;
            part[at * hd + d] = A;
            if (d == 0) {
                ml[2 * at] = M;
                ml[2 * at + 1] = L; // 0 for an empty split (never made by dec_splits)
            }
        }
    }
}

// One warp per (query row, head) whose row was split: merges the splits'
// partials in split order. Rows with one split (or bad offsets) are done.
template <class T>
__global__ void dec_merge_kernel(T *out, float *lse, const float *part, const float *ml, const int32_t *q_start,
                                 const int32_t *kv_start, const int32_t *q_pos0, int S, int R, int nh, int hd,
                                 int maxsplit) {
    long long w = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    if (w >= (long long)R * nh) return; // whole warps exit together
    int t = (int)(w / nh), i;
    int s = dec_row_seq(q_start, kv_start, q_pos0, S, t, &i);
    if (s < 0) return;
    int P = dec_splits(q_pos0[s] + i + 1, maxsplit);
    if (P <= 1) return;
    const size_t at = (size_t)w * maxsplit; // row w = t * nh + h
    float mp = lane < P ? ml[2 * (at + lane)] : -INFINITY, lp = lane < P ? ml[2 * (at + lane) + 1] : 0.0f;
    float M = warp_max(mp);
    float L = warp_sum(lp > 0.0f ? lp * exp2f(mp - M) : 0.0f);
    float f[DEC_MAX_SPLITS];
#pragma unroll
    for (int x = 0; x < DEC_MAX_SPLITS; x++) {
        float mx = x < P ? ml[2 * (at + x)] : 0.0f, lx = x < P ? ml[2 * (at + x) + 1] : 0.0f;
        f[x] = lx > 0.0f ? exp2f(mx - M) : 0.0f;
    }
    for (int d = lane; d < hd; d += 32) {
        float A = 0.0f;
#pragma unroll
        for (int x = 0; x < DEC_MAX_SPLITS; x++)
            if (x < P) A += f[x] * part[(at + x) * hd + d];
        out[(size_t)w * hd + d] = cstore<T>(A / L);
    }
    if (lse && lane == 0) lse[w] = (M + log2f(L)) * DEC_LN2;
}

// Heads per pass over a group: GB in {1, 2, 4, 8}, groups above 8 in passes of 8.
static int dec_heads_per_pass(int G) { return G <= 1 ? 1 : G <= 2 ? 2 : G <= 4 ? 4 : 8; }

template <class T, int E, int LPR, int NC>
static void dec_launch(int gb, dim3 grid, cudaStream_t st, T *out, float *lse, float *part, float *ml, const T *q,
                       const T *k, const T *v, const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0,
                       int S, int nh, int nkv, int hd, int npass, int maxsplit, float qscale) {
#define DEC_GO(GB)                                                                                                    \
    dec_split_kernel<T, E, LPR, NC, GB><<<grid, DEC_WARPS * 32, 0, st>>>(out, lse, part, ml, q, k, v, q_start,       \
                                                                         kv_start, q_pos0, S, nh, nkv, hd, npass, \
                                                                         maxsplit, qscale)
    if (gb == 1) DEC_GO(1);
    else if (gb == 2) DEC_GO(2);
    else if (gb == 4) DEC_GO(4);
    else DEC_GO(8);
#undef DEC_GO
}

template <class T>
static int attention_decode(Backend *b, void *out, float *lse, const void *q, const void *k, const void *v,
                            const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0, int S, int R,
                            int nh, int nkv, int hd) {
    CudaCtx *c = cuda_ctx(b);
    const int G = nh / nkv, gb = dec_heads_per_pass(G), npass = (G + gb - 1) / gb;
    // Splits a row may use: as many as the fixed scratch holds for this call.
    const size_t per_split = (size_t)R * nh * (hd + 2) * sizeof(float);
    size_t fit = DEC_SCRATCH_BYTES / per_split;
    int maxsplit = fit < DEC_MAX_SPLITS ? (fit ? (int)fit : 1) : DEC_MAX_SPLITS;
    float *part = NULL, *ml = NULL;
    if (maxsplit > 1) {
        int st = cuda_attention_decode_reserve(b);
        if (st) return st;
        if (!c->dec_part) return cuda_no_capture(b, "the decode attention's first scratch allocation");
        part = (float *)c->dec_part;
        ml = part + (size_t)R * nh * maxsplit * hd;
    }
    if ((long long)R * nkv * npass > 0x7fffffffLL)
        return grpo_fail(GRPO_EUNSUPPORTED, "attention: %d rows x %d kv heads exceed the cuda grid", R, nkv);
    dim3 grid((unsigned)((long long)R * nkv * npass), (unsigned)maxsplit);
    const float qscale = DEC_LOG2E / sqrtf((float)hd);
    const T *tq = (const T *)q, *tk = (const T *)k, *tv = (const T *)v;
    T *to = (T *)out;
    // 16-byte loads when rows are whole vectors and the buffers are aligned.
    constexpr int VE = 16 / sizeof(T);
    const uintptr_t align = (uintptr_t)q | (uintptr_t)k | (uintptr_t)v | (uintptr_t)out;
    const int nv = hd / VE;
#define DEC_ARGS \
    grid, c->stream, to, lse, part, ml, tq, tk, tv, q_start, kv_start, q_pos0, S, nh, nkv, hd, npass, maxsplit, qscale
    if (hd % VE == 0 && align % 16 == 0) {
        if (nv <= 8) dec_launch<T, VE, 8, 1>(gb, DEC_ARGS);
        else if (nv <= 16) dec_launch<T, VE, 16, 1>(gb, DEC_ARGS);
        else if (nv <= 32) dec_launch<T, VE, 32, 1>(gb, DEC_ARGS);
        else if constexpr (VE == 4) dec_launch<T, VE, 32, 2>(gb, DEC_ARGS); // fp32, hd > 128
    } else { // any head_dim: one element a lane, a warp per key row
        if (hd <= 32) dec_launch<T, 1, 32, 1>(gb, DEC_ARGS);
        else if (hd <= 64) dec_launch<T, 1, 32, 2>(gb, DEC_ARGS);
        else if (hd <= 128) dec_launch<T, 1, 32, 4>(gb, DEC_ARGS);
        else dec_launch<T, 1, 32, 8>(gb, DEC_ARGS);
    }
#undef DEC_ARGS
    CUDA_TRY_LAUNCH();
    if (maxsplit > 1) {
        unsigned blocks = (unsigned)(((long long)R * nh + DEC_WARPS - 1) / DEC_WARPS);
        dec_merge_kernel<T><<<blocks, DEC_WARPS * 32, 0, c->stream>>>(to, lse, part, ml, q_start, kv_start, q_pos0, S,
                                                                      R, nh, hd, maxsplit);
        CUDA_TRY_LAUNCH();
    }
    return GRPO_OK;
}

int cuda_attention_decode(Backend *b, void *out, float *lse, const void *q, const void *k, const void *v,
                          const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0, int S, int T,
                          int n_heads, int n_kv_heads, int head_dim) {
    if (head_dim > DEC_MAX_HEAD_DIM)
        return grpo_fail(GRPO_EUNSUPPORTED, "attention: head_dim %d is above %d on the cuda backend", head_dim,
                         DEC_MAX_HEAD_DIM);
    return CUDA_BY_CDT(b, attention_decode, b, out, lse, q, k, v, q_start, kv_start, q_pos0, S, T, n_heads,
                       n_kv_heads, head_dim);
}

int cuda_attention_decode_reserve(Backend *b) {
    CudaCtx *c = cuda_ctx(b);
    if (c->dec_part || c->capturing) return GRPO_OK;
    cudaError_t e = cudaMalloc(&c->dec_part, DEC_SCRATCH_BYTES);
    if (e != cudaSuccess) {
        c->dec_part = NULL;
        return grpo_fail(GRPO_ENOMEM, "cuda: cannot allocate %zu bytes for decode attention: %s", DEC_SCRATCH_BYTES,
                         cudaGetErrorString(e));
    }
    return GRPO_OK;
}
