// Sampling on the GPU: one block per row of logits, so a decode step copies
// back S tokens and S log-probs instead of S x V logits.
//
// The truncated distribution is the CPU sampler's (kernels/cpu/sample.c):
// temperature, then top-k, then top-p over the renormalised top-k survivors,
// then min-p, tokens ordered by weight with ties to the lower id. The CPU
// finds its boundaries with a weight histogram; here each boundary is an exact
// radix select over a 64-bit key (the logit's order-preserving bits, then the
// inverted id), 8 bits per pass:
//   top-k: the k-th largest key among tokens of weight > 0 (by count);
//   top-p: the key at which the cumulative weight in key order first reaches
//          top_p times the mass (by weight, in 2^-42 fixed point so the
//          histogram's atomic adds are exact and the result deterministic).
// The draw walks the survivors in id order with the same xoshiro256** draw
// the CPU makes from the same state, in float64 with a fixed reduction order.
// So the result is deterministic for a given state; it can differ from the
// CPU's token only where float rounding moves a boundary or the draw.
#include <math.h>

#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_train.cuh"
#include "kernels/rng.h"

#define SB 1024        // threads per row
#define FIX 0x1p42     // fixed-point scale of weights (in (0, 1]) for the top-p histogram
#define MAX_V (1 << 21) // V * 2^42 must fit in 64 bits

// Logits order as unsigned integers: larger float, larger key.
__device__ static inline uint32_t ord_f(float f) {
    uint32_t u = __float_as_uint(f);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

__device__ static inline uint64_t key_of(float l, int i) {
    return ((uint64_t)ord_f(l) << 32) | (uint64_t)(0xFFFFFFFFu - (uint32_t)i);
}

// The weight of logit l: exp(l / T - max / T), the CPU's formula. Explicit
// rounding keeps nvcc from fusing it differently in different passes, so
// every pass agrees on which weights are zero.
__device__ static inline double logw(float l, double inv, double xm) { return __dsub_rn(__dmul_rn((double)l, inv), xm); }
__device__ static inline double weight(float l, double inv, double xm) { return exp(logw(l, inv, xm)); }

// Shortcuts that skip the exp where its answer is known: exp(d) > 0 for
// d > -745 (the smallest subnormal is 2^-1074 = e^-744.4), and a weight below
// 2^-42 (d < -29.2 < -42 ln 2) has fixed-point mass 0.
__device__ static inline int positive(double d) { return d > -745.0 || exp(d) > 0; }
__device__ static inline unsigned long long fixed_mass(double d) {
    return d < -29.2 ? 0ull : (unsigned long long)(exp(d) * FIX);
}

typedef struct {
    double sum[SB / 32];
    unsigned long long u64[SB / 32];
    unsigned long long hist[256];
    float best[SB / 32];
    int bi[SB / 32], flag[SB / 32];
    uint64_t prefix;
    unsigned long long need, acc;
    int token;
} SampleShared;

__device__ static double block_sum_d(SampleShared *sh, double v) {
    for (int o = 16; o > 0; o /= 2) v += __shfl_down_sync(0xffffffffu, v, o);
    __syncthreads();
    if ((threadIdx.x & 31) == 0) sh->sum[threadIdx.x >> 5] = v;
    __syncthreads();
    double t = 0;
    for (int w = 0; w < SB / 32; w++) t += sh->sum[w]; // every thread, same order
    return t;
}

__device__ static unsigned long long block_sum_u(SampleShared *sh, unsigned long long v) {
    for (int o = 16; o > 0; o /= 2) v += __shfl_down_sync(0xffffffffu, v, o);
    __syncthreads();
    if ((threadIdx.x & 31) == 0) sh->u64[threadIdx.x >> 5] = v;
    __syncthreads();
    unsigned long long t = 0;
    for (int w = 0; w < SB / 32; w++) t += sh->u64[w];
    return t;
}

// The radix select. Candidates are tokens with weight > 0 and key >= lo_key.
// by_mass = 0: returns the key of the need-th largest candidate (need >= 1).
// by_mass = 1: returns the key of the first candidate, in descending key
// order, at which the cumulative fixed-point weight reaches target.
__device__ static uint64_t radix_select(SampleShared *sh, const float *x, int V, double inv, double xm, uint64_t lo_key,
                                        int by_mass, unsigned long long need, double target) {
    __syncthreads(); // earlier readers of the shared state are done
    if (threadIdx.x == 0) {
        sh->prefix = 0;
        sh->need = need;
        sh->acc = 0;
    }
    for (int shift = 56; shift >= 0; shift -= 8) {
        for (int j = threadIdx.x; j < 256; j += SB) sh->hist[j] = 0;
        __syncthreads();
        const uint64_t hi_mask = shift == 56 ? 0 : ~0ull << (shift + 8), prefix = sh->prefix;
        for (int i = threadIdx.x; i < V; i += SB) {
            float l = x[i];
            uint64_t k = key_of(l, i);
            if (k < lo_key || (k & hi_mask) != prefix) continue;
            const double d = logw(l, inv, xm);
            if (by_mass) { // a zero mass changes no bin
                unsigned long long fm = fixed_mass(d);
                if (fm) atomicAdd(&sh->hist[(k >> shift) & 255], fm);
            } else if (positive(d)) {
                atomicAdd(&sh->hist[(k >> shift) & 255], 1ull);
            }
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            int b = 255;
            if (by_mass) {
                unsigned long long acc = sh->acc;
                for (; b > 0 && !((double)(acc + sh->hist[b]) >= target); b--) acc += sh->hist[b];
                sh->acc = acc;
            } else {
                unsigned long long acc = 0;
                for (; b > 0 && acc + sh->hist[b] < sh->need; b--) acc += sh->hist[b];
                sh->need -= acc;
            }
            sh->prefix = prefix | ((uint64_t)b << shift);
        }
        __syncthreads();
    }
    return sh->prefix;
}

__global__ void __launch_bounds__(SB) sample_kernel(int32_t *tokens, float *logprobs, uint64_t *rng, const float *logits,
                                                    const int32_t *seq, const BackendSampleCfg *cfgs, int V) {
    __shared__ SampleShared sh;
    const int row = blockIdx.x, tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const float *x = logits + (size_t)row * V;
    const int s = seq[row];
    const BackendSampleCfg c = cfgs[s];

    // 1. The argmax (ties to the lowest id) and the bad values.
    float best = -INFINITY;
    int bi = 0x7fffffff, bad = 0;
    for (int i = tid; i < V; i += SB) {
        float l = x[i];
        if (isnan(l) || l == INFINITY) bad = 1;
        else if (l > -INFINITY && (l > best || (l == best && i < bi))) best = l, bi = i;
    }
    for (int o = 16; o > 0; o /= 2) {
        float ob = __shfl_down_sync(0xffffffffu, best, o);
        int oi = __shfl_down_sync(0xffffffffu, bi, o), obad = __shfl_down_sync(0xffffffffu, bad, o);
        if (ob > best || (ob == best && oi < bi)) best = ob, bi = oi;
        bad |= obad;
    }
    if (lane == 0) sh.best[warp] = best, sh.bi[warp] = bi, sh.flag[warp] = bad;
    __syncthreads();
    best = -INFINITY, bi = 0x7fffffff, bad = 0;
    for (int w = 0; w < SB / 32; w++) {
        if (sh.best[w] > best || (sh.best[w] == best && sh.bi[w] < bi)) best = sh.best[w], bi = sh.bi[w];
        bad |= sh.flag[w];
    }
    const int cfg_ok = c.temperature >= 0 && !isinf(c.temperature) && c.top_k >= 0 && c.top_p > 0 && c.top_p <= 1 &&
                       c.min_p >= 0 && c.min_p <= 1;
    if (bad || bi == 0x7fffffff || !cfg_ok) { // uniform across the block
        if (tid == 0) tokens[row] = -1, logprobs[row] = __int_as_float(0x7fc00000);
        return;
    }
    const int greedy = !(c.temperature > 0);
    const double inv = greedy ? 1.0 : 1.0 / (double)c.temperature, xm = (double)best * inv;

    // 2. The normaliser, in float64 with a fixed order.
    double zl = 0;
    unsigned long long zf = 0;
    for (int i = tid; i < V; i += SB) {
        const double d = logw(x[i], inv, xm), w = exp(d);
        zl += w;
        zf += fixed_mass(d);
    }
    const double z = block_sum_d(&sh, zl);
    int tok = bi;
    if (!greedy) {
        // 3. The survivors: key >= lo (top-k, top-p), weight >= min_p.
        const int use_k = c.top_k > 0 && c.top_k < V, use_p = c.top_p < 1;
        uint64_t lo = 0;
        unsigned long long mass = block_sum_u(&sh, zf); // of the weight > 0 tokens
        if (use_k) {
            unsigned long long npos = 0;
            for (int i = tid; i < V; i += SB) npos += positive(logw(x[i], inv, xm));
            npos = block_sum_u(&sh, npos);
            if ((unsigned long long)c.top_k < npos) {
                lo = radix_select(&sh, x, V, inv, xm, 0, 0, (unsigned long long)c.top_k, 0);
                unsigned long long mk = 0;
                for (int i = tid; i < V; i += SB) {
                    if (key_of(x[i], i) >= lo) mk += fixed_mass(logw(x[i], inv, xm));
                }
                mass = block_sum_u(&sh, mk);
            }
        }
        if (use_p) lo = radix_select(&sh, x, V, inv, xm, lo, 1, 0, (double)c.top_p * (double)mass);
        const double thr = c.min_p;

        // 4. The draw: thread t owns ids [t*chunk, (t+1)*chunk); a fixed-order
        // scan of the chunks' sums, then the owning thread walks its chunk.
        const int chunk = (V + SB - 1) / SB, i0 = tid * chunk, i1 = min(V, i0 + chunk);
        double local = 0;
        int last = -1;
        for (int i = i0; i < i1; i++) {
            if (key_of(x[i], i) < lo) continue; // the cheap test first
            double w = weight(x[i], inv, xm);
            if (w > 0 && w >= thr) local += w, last = i;
        }
        double incl = local; // inclusive scan within the warp
        for (int o = 1; o < 32; o *= 2) {
            double t = __shfl_up_sync(0xffffffffu, incl, o);
            if (lane >= o) incl += t;
        }
        double ex = __shfl_up_sync(0xffffffffu, incl, 1);
        if (lane == 0) ex = 0;
        __syncthreads();
        if (lane == 31) sh.sum[warp] = incl;
        int lastmax = last;
        for (int o = 16; o > 0; o /= 2) lastmax = max(lastmax, __shfl_down_sync(0xffffffffu, lastmax, o));
        if (lane == 0) sh.bi[warp] = lastmax;
        if (tid == 0) sh.token = 0x7fffffff;
        __syncthreads();
        double before = 0, total = 0;
        int final_last = -1;
        for (int w = 0; w < SB / 32; w++) {
            if (w < warp) before += sh.sum[w];
            total += sh.sum[w];
            final_last = max(final_last, sh.bi[w]);
        }
        const double excl = before + ex;
        // Every thread draws from its own copy of the state; thread 0 stores it.
        uint64_t st[4] = {rng[4 * (size_t)s], rng[4 * (size_t)s + 1], rng[4 * (size_t)s + 2], rng[4 * (size_t)s + 3]};
        const double target = grpo_xoshiro_uniform(st) * total;
        __syncthreads(); // every thread has read the old state
        if (tid == 0)
            for (int j = 0; j < 4; j++) rng[4 * (size_t)s + j] = st[j];
        if (local > 0 && target >= excl && target < excl + local) {
            double acc = excl;
            int found = -1;
            for (int i = i0; i < i1 && found < 0; i++) {
                if (key_of(x[i], i) < lo) continue;
                double w = weight(x[i], inv, xm);
                if (w > 0 && w >= thr) {
                    acc += w;
                    if (target < acc) found = i;
                }
            }
            if (found < 0) found = last; // rounding left the target at the chunk's end
            atomicMin(&sh.token, found);
        }
        __syncthreads();
        tok = sh.token != 0x7fffffff ? sh.token : final_last; // rounding left the target past the end
    }
    if (tid == 0) {
        tokens[row] = tok;
        logprobs[row] = (float)(__dsub_rn(__dmul_rn((double)x[tok], inv), xm) - log(z));
    }
}

int cuda_sample(Backend *b, int32_t *tokens, float *logprobs, uint64_t *rng, const float *logits, const int32_t *seq,
                const BackendSampleCfg *cfg, int S, int V) {
    if (S < 0 || V <= 0 || V > MAX_V)
        return grpo_fail(GRPO_EINVAL, "cuda sample: %d rows of %d logits (at most %d per row)", S, V, MAX_V);
    if (S == 0) return GRPO_OK;
    sample_kernel<<<S, SB, 0, cuda_ctx(b)->stream>>>(tokens, logprobs, rng, logits, seq, cfg, V);
    CUDA_TRY_LAUNCH();
    return GRPO_OK;
}
