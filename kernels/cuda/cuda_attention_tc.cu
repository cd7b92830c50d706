// Tensor-core attention for bf16 training and prefill: FlashAttention-2's
// schedule on the warp matrix functions (WMMA, bf16 inputs, fp32
// accumulation). The contract is attention_forward/backward's in backend.h;
// cuda_attention.cu routes here when the compute dtype is bf16, head_dim <= 128
// and (forward) the call is not decode-shaped (T != S: training, prefill).
// Decoding has its own kernel (cuda_attention_decode.cu); fp32 and
// head_dim > 128 stay on the CUDA-core kernels.
//
// Blocks own 64 query rows (forward, dq) or 64 key rows (dk/dv) of one
// sequence and one head; each of the 4 warps owns 16 of those rows and walks
// the other side in 64-row tiles staged in shared memory. Scores, the online
// softmax, lse and every accumulator are fp32. The tensor cores take bf16, so
// P (forward, dV) and dS (dQ, dK), computed in fp32, enter each product as a
// pair of bf16 values (hi + lo: 16 significant bits) in two passes. Rounding
// them once to bf16, as FlashAttention does, cost ~10x the gradient error in
// q and k of a Qwen2-shaped test model (a large bias shared by all keys turns
// dS's rounding into error that does not cancel), and exact gradients are
// the point. The split costs 3 instead of 2 matrix products forward and 7
// instead of 5 backward; a product errs by at most 2^-16 of its size
// (tests/test_cuda_ops.c states the bound).
// Nothing is atomic: dQ and dK/dV are separate passes, each output row has
// one writer and a fixed summation order, so results are deterministic.
//
// Accumulator fragments have no documented element layout, so every
// row-wise step goes through the warp's own shared-memory scratch: store the
// fragment, __syncwarp, then lane l handles row l/2, half l%2 of the columns.
#include <mma.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda_attention.cuh"
#include "kernels/cuda/cuda_common.cuh"

using namespace nvcuda;

#define TC_ROWS 64 // query or key rows per block, and per tile on the other side
#define TC_WARPS 4 // 16 rows each

typedef wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> FragA;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> FragB;  // B as stored
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> FragBt; // B = stored^T
typedef wmma::fragment<wmma::accumulator, 16, 16, 16, float> FragC;

// Shared-memory strides, padded so rows start in different banks; a
// multiple of 16 bytes as WMMA needs, and every fragment pointer lands on 32 bytes.
template <int HDP> struct Tc {
    static constexpr int LDH = HDP + 8;                               // bf16 row of a (64, HDP) tile
    static constexpr int LDF = (HDP > TC_ROWS ? HDP : TC_ROWS) + 4;   // float row of a warp's scratch
    static constexpr int LDS = TC_ROWS + 4;                           // float row of a (16, 64) score tile
    static constexpr int LDP = TC_ROWS + 8;                           // bf16 row of a (16, 64) P or dS tile
    static constexpr size_t TILE = (size_t)TC_ROWS * LDH * sizeof(bf16);
    static constexpr size_t F = (size_t)TC_WARPS * 16 * LDF * sizeof(float);
    static constexpr size_t SC = (size_t)TC_WARPS * 16 * LDS * sizeof(float);
    static constexpr int PLO = 16 * LDP;                              // a split tile's low half, after its high
    static constexpr size_t P = (size_t)TC_WARPS * 2 * PLO * sizeof(bf16);
    // sQ sK sV | F | P
    static constexpr size_t FWD = 3 * TILE + F + P;
    // sQ sdO sK sV | F | SC | dS
    static constexpr size_t DQ = 4 * TILE + F + SC + P;
    // sK sV sQ sdO | F | SC | P dS | lse D
    static constexpr size_t DKDV = 4 * TILE + F + SC + 2 * P + 2 * TC_ROWS * sizeof(float);
};

// Copies rows [0, n) of a (rows, ld) bf16 matrix's first hd columns into a
// (64, HDP) tile, zeros elsewhere. vec: hd % 8 == 0 and 16-byte aligned rows.
template <int HDP>
__device__ __forceinline__ void tc_load(bf16 *dst, const bf16 *src, size_t ld, int n, int hd, int vec) {
    constexpr int LDH = Tc<HDP>::LDH;
    if (vec) {
        constexpr int CH = HDP / 8;
        for (int i = threadIdx.x; i < TC_ROWS * CH; i += blockDim.x) {
            int r = i / CH, c = (i % CH) * 8;
            uint4 x = make_uint4(0u, 0u, 0u, 0u);
            if (r < n && c < hd) x = *(const uint4 *)(src + (size_t)r * ld + c);
            *(uint4 *)(dst + r * LDH + c) = x;
        }
    } else {
        for (int i = threadIdx.x; i < TC_ROWS * HDP; i += blockDim.x) {
            int r = i / HDP, c = i % HDP;
            dst[r * LDH + c] = r < n && c < hd ? src[(size_t)r * ld + c] : cstore<bf16>(0.0f);
        }
    }
}

// F (16, 64 cols at ldf) = A (16 rows of a tile) . B^T, B the 64 rows of a tile:
// scores of 16 rows against 64, both (rows, HDP) in shared memory.
template <int HDP>
__device__ __forceinline__ void tc_abt(float *F, int ldf, const bf16 *A, const bf16 *B) {
    constexpr int LDH = Tc<HDP>::LDH;
#pragma unroll
    for (int n = 0; n < TC_ROWS / 16; n++) {
        FragC acc;
        wmma::fill_fragment(acc, 0.0f);
#pragma unroll
        for (int kk = 0; kk < HDP / 16; kk++) {
            FragA a;
            FragBt bt;
            wmma::load_matrix_sync(a, A + kk * 16, LDH);
            wmma::load_matrix_sync(bt, B + n * 16 * LDH + kk * 16, LDH);
            wmma::mma_sync(acc, a, bt, acc);
        }
        wmma::store_matrix_sync(F + n * 16, acc, ldf, wmma::mem_row_major);
    }
}

// acc[n] (16, HDP as HDP/16 fragments) += P (16, 64) . B (64, HDP): P one
// warp's bf16 tile, B a (64, HDP) tile.
template <int HDP>
__device__ __forceinline__ void tc_pb1(FragC (&acc)[HDP / 16], const bf16 *P, const bf16 *B) {
    constexpr int LDH = Tc<HDP>::LDH, LDP = Tc<HDP>::LDP;
#pragma unroll 1 // keeps dK and dV's accumulators (2 x HDP/2 registers) from spilling
    for (int kk = 0; kk < TC_ROWS / 16; kk++) {
        FragA a;
        wmma::load_matrix_sync(a, P + kk * 16, LDP);
#pragma unroll
        for (int n = 0; n < HDP / 16; n++) {
            FragB bb;
            wmma::load_matrix_sync(bb, B + kk * 16 * LDH + n * 16, LDH);
            wmma::mma_sync(acc[n], a, bb, acc[n]);
        }
    }
}

// x (fp32) as the sum of two bf16 values, hi at P[0] and lo at P[PLO]: the
// pair keeps 16 significant bits, so a product with it errs by at most 2^-16
// of its size instead of bf16's 2^-8.
template <int HDP> __device__ __forceinline__ void tc_split(bf16 *P, float x) {
    bf16 hi = cstore<bf16>(x);
    P[0] = hi;
    P[Tc<HDP>::PLO] = cstore<bf16>(x - cload(hi));
}

// acc += P . B with P a warp's split tile (tc_split): two tensor-core passes.
template <int HDP>
__device__ __forceinline__ void tc_pb(FragC (&acc)[HDP / 16], const bf16 *P, const bf16 *B) {
    tc_pb1<HDP>(acc, P, B);
    tc_pb1<HDP>(acc, P + Tc<HDP>::PLO, B);
}

// Sequence of tile `tb`: the last s with tiles[s] <= tb (sequences with no
// tiles are skipped over).
__device__ __forceinline__ int tc_seq(const int32_t *tiles, int S, int tb) {
    int lo = 0, hi = S - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (tiles[mid] <= tb) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

// Sequence s's 64-row tiles over its query rows (keys = 0) or key rows
// (keys = 1); none for bad offsets (attn_check_kernel reports them).
__device__ __forceinline__ int tc_seq_tiles(const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0,
                                            int s, int T, int keys) {
    int a = q_start[s], e = q_start[s + 1], len = e - a;
    if (a < 0 || e > T || len <= 0 || q_pos0[s] < 0 || kv_start[s] < 0) return 0;
    return ((keys ? q_pos0[s] + len : len) + TC_ROWS - 1) / TC_ROWS;
}

// tiles (S+1): the exclusive prefix of tc_seq_tiles. One block of 1024 threads.
__global__ void attn_tc_tiles_kernel(int32_t *tiles, const int32_t *q_start, const int32_t *kv_start,
                                     const int32_t *q_pos0, int S, int T, int keys) {
    __shared__ int sh[1024];
    int per = (S + 1023) / 1024, s0 = threadIdx.x * per, s1 = min(S, s0 + per), sum = 0;
    for (int s = s0; s < s1; s++) sum += tc_seq_tiles(q_start, kv_start, q_pos0, s, T, keys);
    sh[threadIdx.x] = sum;
    __syncthreads();
    for (int o = 1; o < 1024; o <<= 1) { // inclusive scan
        int v = threadIdx.x >= o ? sh[threadIdx.x - o] : 0;
        __syncthreads();
        sh[threadIdx.x] += v;
        __syncthreads();
    }
    int run = sh[threadIdx.x] - sum;
    for (int s = s0; s < s1; s++) {
        tiles[s] = run;
        run += tc_seq_tiles(q_start, kv_start, q_pos0, s, T, keys);
    }
    if (threadIdx.x == 1023) tiles[S] = sh[1023];
}

// What a block over query rows (forward, dq) works on: 64 rows from row i0
// of sequence s (nrows of them real), and the keys they see. false: the
// block is past the last tile (the forward's grid is an upper bound).
struct TcQTile {
    int i0, nrows, p0, block_keys; // keys 0 .. block_keys - 1 of the sequence
    size_t t0, kv0;                // first query row; element offset of key 0 for this head
};
__device__ __forceinline__ bool tc_qtile(TcQTile *b, const int32_t *tiles, const int32_t *q_start,
                                         const int32_t *kv_start, const int32_t *q_pos0, int S, int h, int nh, int nkv,
                                         int hd) {
    int tb = blockIdx.x;
    if (tb >= tiles[S]) return false;
    int s = tc_seq(tiles, S, tb);
    b->i0 = (tb - tiles[s]) * TC_ROWS;
    b->p0 = q_pos0[s];
    b->nrows = min(TC_ROWS, q_start[s + 1] - q_start[s] - b->i0);
    b->block_keys = b->p0 + b->i0 + b->nrows;
    b->t0 = (size_t)q_start[s] + b->i0;
    b->kv0 = (size_t)kv_start[s] * nkv * hd + (size_t)(h / (nh / nkv)) * hd;
    return true;
}

// grid (query tiles, heads). out, q (T, nh*hd); k, v (*, nkv*hd); lse (T, nh) or NULL.
template <int HDP>
__global__ void __launch_bounds__(TC_WARPS * 32)
    attn_tc_forward_kernel(bf16 *out, float *lse, const bf16 *q, const bf16 *k, const bf16 *v,
                           const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0,
                           const int32_t *tiles, int S, int nh, int nkv, int hd, float scale, int vec) {
    typedef Tc<HDP> D;
    constexpr int HALF = HDP / 2;
    extern __shared__ __align__(128) unsigned char tc_smem[];
    bf16 *sQ = (bf16 *)tc_smem, *sK = sQ + TC_ROWS * D::LDH, *sV = sK + TC_ROWS * D::LDH;
    float *sF = (float *)(sV + TC_ROWS * D::LDH);
    bf16 *sP = (bf16 *)(sF + TC_WARPS * 16 * D::LDF);
    int h = blockIdx.y;
    TcQTile bt;
    if (!tc_qtile(&bt, tiles, q_start, kv_start, q_pos0, S, h, nh, nkv, hd)) return;
    const int i0 = bt.i0, nrows = bt.nrows, p0 = bt.p0, block_keys = bt.block_keys;
    const size_t t0 = bt.t0, kv0 = bt.kv0, qd = (size_t)nh * hd, kvd = (size_t)nkv * hd;
    tc_load<HDP>(sQ, q + t0 * qd + (size_t)h * hd, qd, nrows, hd, vec);

    int w = threadIdx.x >> 5, lane = threadIdx.x & 31, r = lane >> 1, half = lane & 1;
    int row = w * 16 + r;                                  // this lane's row in the tile
    int row_keys = row < nrows ? p0 + i0 + row + 1 : 1;    // keys it sees (a padding row: one)
    bool warp_on = w * 16 < nrows;
    int warp_keys = p0 + i0 + min(w * 16 + 16, nrows);
    float *F = sF + w * 16 * D::LDF;
    bf16 *P = sP + w * 2 * D::PLO;
    float o[HALF];
#pragma unroll
    for (int e = 0; e < HALF; e++) o[e] = 0.0f;
    float m = -INFINITY, l = 0.0f;
    for (int j0 = 0; j0 < block_keys; j0 += TC_ROWS) {
        __syncthreads(); // the last tile's readers are done
        int nk = min(TC_ROWS, block_keys - j0);
        tc_load<HDP>(sK, k + kv0 + (size_t)j0 * kvd, kvd, nk, hd, vec);
        tc_load<HDP>(sV, v + kv0 + (size_t)j0 * kvd, kvd, nk, hd, vec);
        __syncthreads();
        if (!warp_on || j0 >= warp_keys) continue;
        tc_abt<HDP>(F, D::LDF, sQ + w * 16 * D::LDH, sK);
        __syncwarp();
        // Online softmax over this tile; the lane pair of a row shares max and sum.
        const float *Fr = F + r * D::LDF + half * 32;
        float mx = -INFINITY;
        for (int c = 0; c < 32; c++)
            if (j0 + half * 32 + c < row_keys) mx = fmaxf(mx, Fr[c] * scale);
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        float mnew = fmaxf(m, mx); // finite: every row sees key 0 in the first tile
        float corr = expf(m - mnew), sum = 0.0f;
        bf16 *Pr = P + r * D::LDP + half * 32;
        for (int c = 0; c < 32; c++) {
            float p = j0 + half * 32 + c < row_keys ? expf(Fr[c] * scale - mnew) : 0.0f;
            sum += p;
            tc_split<HDP>(Pr + c, p);
        }
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        l = l * corr + sum;
        m = mnew;
        __syncwarp(); // P complete, and every lane is done reading the scores in F
        FragC acc[HDP / 16];
#pragma unroll
        for (int n = 0; n < HDP / 16; n++) wmma::fill_fragment(acc[n], 0.0f);
        tc_pb<HDP>(acc, P, sV);
#pragma unroll
        for (int n = 0; n < HDP / 16; n++) wmma::store_matrix_sync(F + n * 16, acc[n], D::LDF, wmma::mem_row_major);
        __syncwarp();
        const float *Fo = F + r * D::LDF + half * HALF;
#pragma unroll
        for (int e = 0; e < HALF; e++) o[e] = o[e] * corr + Fo[e];
        __syncwarp(); // F is the next tile's score buffer
    }
    if (row >= nrows) return;
    size_t t = t0 + row;
    bf16 *orow = out + t * qd + (size_t)h * hd + half * HALF;
    float inv = 1.0f / l;
#pragma unroll
    for (int e = 0; e < HALF; e++)
        if (half * HALF + e < hd) orow[e] = cstore<bf16>(o[e] * inv);
    if (lse && half == 0) lse[t * nh + h] = m + logf(l);
}

// Dbuf (T, nh) = dout . out per row and head: one warp each.
__global__ void attn_tc_dot_kernel(float *Dbuf, const bf16 *dout, const bf16 *out, int R, int nh, int hd) {
    long long wi = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    if (wi >= (long long)R * nh) return;
    size_t o = (size_t)(wi / nh) * nh * hd + (size_t)(wi % nh) * hd;
    float d = 0.0f;
    for (int c = lane; c < hd; c += 32) d += cload(dout[o + c]) * cload(out[o + c]);
    d = warp_sum(d);
    if (lane == 0) Dbuf[wi] = d;
}

// dq (T, nh*hd) overwritten: grid (query tiles, heads). For each key tile:
// S = Q K^T, dP = dO V^T, dS = P (dP - D) scale, dQ += dS K.
template <int HDP>
__global__ void __launch_bounds__(TC_WARPS * 32)
    attn_tc_dq_kernel(bf16 *dq, const bf16 *dout, const bf16 *q, const bf16 *k, const bf16 *v, const float *lse,
                      const float *Dbuf, const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0,
                      const int32_t *tiles, int S, int nh, int nkv, int hd, float scale, int vec) {
    typedef Tc<HDP> D;
    constexpr int HALF = HDP / 2;
    extern __shared__ __align__(128) unsigned char tc_smem[];
    bf16 *sQ = (bf16 *)tc_smem, *sdO = sQ + TC_ROWS * D::LDH, *sK = sdO + TC_ROWS * D::LDH;
    bf16 *sV = sK + TC_ROWS * D::LDH;
    float *sF = (float *)(sV + TC_ROWS * D::LDH), *sS = sF + TC_WARPS * 16 * D::LDF;
    bf16 *sDS = (bf16 *)(sS + TC_WARPS * 16 * D::LDS);
    int h = blockIdx.y;
    TcQTile bt;
    if (!tc_qtile(&bt, tiles, q_start, kv_start, q_pos0, S, h, nh, nkv, hd)) return;
    const int i0 = bt.i0, nrows = bt.nrows, p0 = bt.p0, block_keys = bt.block_keys;
    const size_t t0 = bt.t0, kv0 = bt.kv0, qd = (size_t)nh * hd, kvd = (size_t)nkv * hd;
    tc_load<HDP>(sQ, q + t0 * qd + (size_t)h * hd, qd, nrows, hd, vec);
    tc_load<HDP>(sdO, dout + t0 * qd + (size_t)h * hd, qd, nrows, hd, vec);

    int w = threadIdx.x >> 5, lane = threadIdx.x & 31, r = lane >> 1, half = lane & 1;
    int row = w * 16 + r;
    bool row_ok = row < nrows;
    int row_keys = row_ok ? p0 + i0 + row + 1 : 1;
    float L = row_ok ? lse[(t0 + row) * nh + h] : 0.0f, Dr = row_ok ? Dbuf[(t0 + row) * nh + h] : 0.0f;
    bool warp_on = w * 16 < nrows;
    int warp_keys = p0 + i0 + min(w * 16 + 16, nrows);
    float *F = sF + w * 16 * D::LDF, *Sc = sS + w * 16 * D::LDS;
    bf16 *DS = sDS + w * 2 * D::PLO;
    FragC acc[HDP / 16];
#pragma unroll
    for (int n = 0; n < HDP / 16; n++) wmma::fill_fragment(acc[n], 0.0f);
    for (int j0 = 0; j0 < block_keys; j0 += TC_ROWS) {
        __syncthreads();
        int nk = min(TC_ROWS, block_keys - j0);
        tc_load<HDP>(sK, k + kv0 + (size_t)j0 * kvd, kvd, nk, hd, vec);
        tc_load<HDP>(sV, v + kv0 + (size_t)j0 * kvd, kvd, nk, hd, vec);
        __syncthreads();
        if (!warp_on || j0 >= warp_keys) continue;
        tc_abt<HDP>(Sc, D::LDS, sQ + w * 16 * D::LDH, sK);  // scores
        tc_abt<HDP>(F, D::LDF, sdO + w * 16 * D::LDH, sV);  // dP
        __syncwarp();
        const float *Sr = Sc + r * D::LDS + half * 32, *Gr = F + r * D::LDF + half * 32;
        bf16 *DSr = DS + r * D::LDP + half * 32;
        for (int c = 0; c < 32; c++) {
            float p = j0 + half * 32 + c < row_keys ? expf(Sr[c] * scale - L) : 0.0f;
            tc_split<HDP>(DSr + c, p * (Gr[c] - Dr) * scale);
        }
        __syncwarp();
        tc_pb<HDP>(acc, DS, sK);
        // The next pass's __syncthreads orders these reads before F and Sc are rewritten.
    }
    if (!warp_on) return;
#pragma unroll
    for (int n = 0; n < HDP / 16; n++) wmma::store_matrix_sync(F + n * 16, acc[n], D::LDF, wmma::mem_row_major);
    __syncwarp();
    if (!row_ok) return;
    bf16 *dst = dq + (t0 + row) * qd + (size_t)h * hd + half * HALF;
    const float *Fr = F + r * D::LDF + half * HALF;
    for (int e = 0; e < HALF; e++)
        if (half * HALF + e < hd) dst[e] = cstore<bf16>(Fr[e]);
}

// dst rows [w*16, w*16 + n) += acc (16, HDP), through the warp's scratch F:
// each row has this one writer. dst (rows, ld) from the block's first key row.
template <int HDP>
__device__ __forceinline__ void tc_add_rows(bf16 *dst, size_t ld, FragC (&acc)[HDP / 16], float *F, int n, int hd) {
    constexpr int LDF = Tc<HDP>::LDF, HALF = HDP / 2;
    int w = threadIdx.x >> 5, lane = threadIdx.x & 31, r = lane >> 1, half = lane & 1;
    __syncwarp(); // earlier reads of F are done
#pragma unroll
    for (int c = 0; c < HDP / 16; c++) wmma::store_matrix_sync(F + c * 16, acc[c], LDF, wmma::mem_row_major);
    __syncwarp();
    if (r >= n) return;
    bf16 *row = dst + (size_t)(w * 16 + r) * ld + half * HALF;
    const float *Fr = F + r * LDF + half * HALF;
    for (int e = 0; e < HALF; e++)
        if (half * HALF + e < hd) row[e] = cstore<bf16>(cload(row[e]) + Fr[e]);
}

// dk, dv (*, nkv*hd) +=: grid (key tiles, kv heads). Each block sums over the
// group's heads and every query tile that sees its keys:
// S^T = K Q^T, dP^T = V dO^T, P^T, dS^T; dV += P^T dO, dK += dS^T Q.
// SPLIT: grid (key tiles, query heads) instead, for when the kv heads alone
// give too few blocks to fill the card (GQA groups of 7 in Qwen2-0.5B): each
// block does one head of the group and stores its fp32 sums in part, rows of
// (key tile * 64 + row, nh, HDP) for dK, then the same for dV pstride floats
// on; attn_tc_dkdv_sum_kernel adds the group's heads up in a fixed order, so
// the result stays deterministic without atomics.
template <int HDP, bool SPLIT>
__global__ void __launch_bounds__(TC_WARPS * 32)
    attn_tc_dkdv_kernel(bf16 *dk, bf16 *dv, float *part, size_t pstride, const float *Dbuf, const bf16 *dout,
                        const bf16 *q, const bf16 *k, const bf16 *v, const float *lse, const int32_t *q_start,
                        const int32_t *kv_start, const int32_t *q_pos0, const int32_t *tiles, int S, int nh, int nkv,
                        int hd, float scale, int vec) {
    typedef Tc<HDP> D;
    extern __shared__ __align__(128) unsigned char tc_smem[];
    bf16 *sK = (bf16 *)tc_smem, *sV = sK + TC_ROWS * D::LDH, *sQ = sV + TC_ROWS * D::LDH;
    bf16 *sdO = sQ + TC_ROWS * D::LDH;
    float *sF = (float *)(sdO + TC_ROWS * D::LDH), *sS = sF + TC_WARPS * 16 * D::LDF;
    bf16 *sP = (bf16 *)(sS + TC_WARPS * 16 * D::LDS), *sDS = sP + TC_WARPS * 2 * D::PLO;
    float *sL = (float *)(sDS + TC_WARPS * 2 * D::PLO), *sD = sL + TC_ROWS;
    int tb = blockIdx.x, group = nh / nkv, hk = SPLIT ? (int)blockIdx.y / group : (int)blockIdx.y;
    if (tb >= tiles[S]) return;
    int s = tc_seq(tiles, S, tb);
    int j0 = (tb - tiles[s]) * TC_ROWS, len = q_start[s + 1] - q_start[s], p0 = q_pos0[s];
    int n_keys = p0 + len, nk = min(TC_ROWS, n_keys - j0);
    const size_t qd = (size_t)nh * hd, kvd = (size_t)nkv * hd;
    const size_t krow0 = ((size_t)kv_start[s] + j0) * kvd + (size_t)hk * hd;
    tc_load<HDP>(sK, k + krow0, kvd, nk, hd, vec);
    tc_load<HDP>(sV, v + krow0, kvd, nk, hd, vec);

    int w = threadIdx.x >> 5, lane = threadIdx.x & 31, r = lane >> 1, half = lane & 1;
    int key = j0 + w * 16 + r; // this lane's key (position in the sequence)
    bool warp_on = w * 16 < nk;
    float *F = sF + w * 16 * D::LDF, *Sc = sS + w * 16 * D::LDS;
    bf16 *P = sP + w * 2 * D::PLO, *DS = sDS + w * 2 * D::PLO;
    FragC dka[HDP / 16], dva[HDP / 16];
#pragma unroll
    for (int n = 0; n < HDP / 16; n++) {
        wmma::fill_fragment(dka[n], 0.0f);
        wmma::fill_fragment(dva[n], 0.0f);
    }
    // Query i sees key j when j <= p0 + i: the first tile that matters holds i = j0 - p0.
    int ifirst = j0 - p0 > 0 ? (j0 - p0) / TC_ROWS * TC_ROWS : 0;
    int h_end = SPLIT ? (int)blockIdx.y + 1 : (hk + 1) * group;
    for (int h = SPLIT ? (int)blockIdx.y : hk * group; h < h_end; h++)
        for (int i0 = ifirst; i0 < len; i0 += TC_ROWS) {
            int nq = min(TC_ROWS, len - i0);
            size_t t0 = (size_t)q_start[s] + i0;
            __syncthreads(); // the last tile's readers are done
            tc_load<HDP>(sQ, q + t0 * qd + (size_t)h * hd, qd, nq, hd, vec);
            tc_load<HDP>(sdO, dout + t0 * qd + (size_t)h * hd, qd, nq, hd, vec);
            for (int c = threadIdx.x; c < TC_ROWS; c += blockDim.x) {
                sL[c] = c < nq ? lse[(t0 + c) * nh + h] : 0.0f;
                sD[c] = c < nq ? Dbuf[(t0 + c) * nh + h] : 0.0f;
            }
            __syncthreads();
            // Skip a warp whose first key comes after this tile's last query.
            if (!warp_on || j0 + w * 16 > p0 + i0 + nq - 1) continue;
            tc_abt<HDP>(Sc, D::LDS, sK + w * 16 * D::LDH, sQ); // S^T
            tc_abt<HDP>(F, D::LDF, sV + w * 16 * D::LDH, sdO); // dP^T
            __syncwarp();
            const float *Sr = Sc + r * D::LDS + half * 32, *Gr = F + r * D::LDF + half * 32;
            bf16 *Pr = P + r * D::LDP + half * 32, *DSr = DS + r * D::LDP + half * 32;
            for (int c = 0; c < 32; c++) {
                int i = half * 32 + c;
                bool on = i < nq && key < n_keys && key <= p0 + i0 + i;
                float p = on ? expf(Sr[c] * scale - sL[i]) : 0.0f;
                tc_split<HDP>(Pr + c, p);
                tc_split<HDP>(DSr + c, p * (Gr[c] - sD[i]) * scale);
            }
            __syncwarp();
            tc_pb<HDP>(dva, P, sdO);
            tc_pb<HDP>(dka, DS, sQ);
        }
    if (!warp_on) return;
    if (SPLIT) { // rows past nk are written too (inside the tile) and never read
        float *pk = part + ((size_t)tb * TC_ROWS + w * 16) * nh * HDP + (size_t)blockIdx.y * HDP;
#pragma unroll
        for (int n = 0; n < HDP / 16; n++) {
            wmma::store_matrix_sync(pk + n * 16, dka[n], nh * HDP, wmma::mem_row_major);
            wmma::store_matrix_sync(pk + pstride + n * 16, dva[n], nh * HDP, wmma::mem_row_major);
        }
        return;
    }
    tc_add_rows<HDP>(dk + krow0, kvd, dka, F, nk - w * 16, hd);
    tc_add_rows<HDP>(dv + krow0, kvd, dva, F, nk - w * 16, hd);
}

// dk, dv (*, nkv*hd) += the split dK/dV kernel's per-head sums, each kv
// head's group added in head order: grid (key tiles, kv heads).
template <int HDP>
__global__ void attn_tc_dkdv_sum_kernel(bf16 *dk, bf16 *dv, const float *part, size_t pstride,
                                        const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0,
                                        const int32_t *tiles, int S, int nh, int nkv, int hd) {
    int tb = blockIdx.x, hk = blockIdx.y, group = nh / nkv;
    if (tb >= tiles[S]) return;
    int s = tc_seq(tiles, S, tb);
    int j0 = (tb - tiles[s]) * TC_ROWS;
    int nk = min(TC_ROWS, q_pos0[s] + q_start[s + 1] - q_start[s] - j0);
    const size_t kvd = (size_t)nkv * hd, krow0 = ((size_t)kv_start[s] + j0) * kvd + (size_t)hk * hd;
    for (int i = threadIdx.x; i < nk * hd; i += blockDim.x) {
        int r = i / hd, e = i % hd;
        const float *pk = part + ((size_t)tb * TC_ROWS + r) * nh * HDP + (size_t)hk * group * HDP + e;
        float sk = 0.0f, sv = 0.0f;
        for (int g = 0; g < group; g++) {
            sk += pk[g * HDP];
            sv += pk[pstride + g * HDP];
        }
        bf16 *ok = dk + krow0 + (size_t)r * kvd + e, *ov = dv + krow0 + (size_t)r * kvd + e;
        *ok = cstore<bf16>(cload(*ok) + sk);
        *ov = cstore<bf16>(cload(*ov) + sv);
    }
}

// ---------------------------------------------------------------- host side

static int tc_vec(int hd, const void *a, const void *b2, const void *c, const void *d) {
    uintptr_t u = (uintptr_t)a | (uintptr_t)b2 | (uintptr_t)c | (uintptr_t)d;
    return hd % 8 == 0 && u % 16 == 0;
}

// Launches KERNEL<HDP> with its shared memory (over 48 KiB needs the opt-in).
#define TC_LAUNCH(KERNEL, SMEM, GRID, ...)                                                                         \
    do {                                                                                                           \
        CUDA_TRY(cudaFuncSetAttribute(KERNEL, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)(SMEM)));          \
        KERNEL<<<GRID, TC_WARPS * 32, SMEM, c->stream>>>(__VA_ARGS__);                                             \
        CUDA_TRY_LAUNCH();                                                                                         \
    } while (0)

template <int HDP>
static int tc_forward(Backend *b, void *out, float *lse, const void *q, const void *k, const void *v,
                      const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0, const int32_t *tiles,
                      int S, int T, int nh, int nkv, int hd) {
    CudaCtx *c = cuda_ctx(b);
    dim3 grid((unsigned)((T + TC_ROWS - 1) / TC_ROWS + S), (unsigned)nh); // >= the tiles of any split of T rows
    int vec = tc_vec(hd, q, k, v, q);
    TC_LAUNCH(attn_tc_forward_kernel<HDP>, Tc<HDP>::FWD, grid, (bf16 *)out, lse, (const bf16 *)q, (const bf16 *)k,
              (const bf16 *)v, q_start, kv_start, q_pos0, tiles, S, nh, nkv, hd, 1.0f / sqrtf((float)hd), vec);
    return GRPO_OK;
}

// One head-dim bucket per instantiation: head_dim is zero-padded up to it.
#define TC_BY_HDP(hd, FN, ...)                                                                       \
    ((hd) <= 32 ? FN<32>(__VA_ARGS__) : (hd) <= 64 ? FN<64>(__VA_ARGS__) : (hd) <= 96 ? FN<96>(__VA_ARGS__) \
                                                                                       : FN<128>(__VA_ARGS__))

// The most shared memory a kernel of the head_dim bucket asks for (dK/dV's).
template <int HDP> static size_t tc_smem_need(void) { return Tc<HDP>::DKDV; }

// Whether dK/dV runs one block per query head (then sums each group) rather
// than one per kv head: when GQA leaves fewer blocks than about four per
// multiprocessor, the card would idle, and each block's serial walk over the
// whole group is long. GRPO_CUDA_DKDV_SPLIT=0/1 forces it (the A/B in
// tools/gpu-check.sh).
static int tc_split_dkdv(const CudaCtx *c, long long n_ktiles, int nh, int nkv) {
    const char *e = getenv("GRPO_CUDA_DKDV_SPLIT");
    if (nh == nkv || (e && !strcmp(e, "0"))) return 0;
    if (e && !strcmp(e, "1")) return 1;
    return n_ktiles * nkv < 4LL * c->n_sms;
}

int cuda_attention_tc_applies(Backend *b, int head_dim) {
    const char *e = getenv("GRPO_CUDA_TC_ATTN");
    if (b->cdt != BE_BF16 || head_dim > 128 || (e && !strcmp(e, "0"))) return 0;
    // A card with less shared memory per block than Hopper's (a consumer
    // Blackwell JIT-compiling the compute_90 PTX) keeps the CUDA-core kernels.
    return TC_BY_HDP(head_dim, tc_smem_need) <= (size_t)cuda_ctx(b)->smem_optin;
}

int cuda_attention_tc_forward(Backend *b, void *out, float *lse, const void *q, const void *k, const void *v,
                              const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0, int S, int T,
                              int n_heads, int n_kv_heads, int head_dim) {
    if (S > 65535 * 1024 || n_heads > 65535)
        return grpo_fail(GRPO_EUNSUPPORTED, "attention: %d sequences x %d heads exceed the cuda grid", S, n_heads);
    CudaCtx *c = cuda_ctx(b);
    int32_t *tiles = NULL;
    int st = cuda_scratch(b, (void **)&tiles, (size_t)(S + 1) * sizeof(int32_t));
    if (st) return st;
    attn_tc_tiles_kernel<<<1, 1024, 0, c->stream>>>(tiles, q_start, kv_start, q_pos0, S, T, 0);
    CUDA_TRY_LAUNCH();
    return TC_BY_HDP(head_dim, tc_forward, b, out, lse, q, k, v, q_start, kv_start, q_pos0, tiles, S, T, n_heads,
                     n_kv_heads, head_dim);
}

// (a macro argument's commas would split it; an expansion's do not)
#define TC_DKDV(SPLIT) attn_tc_dkdv_kernel<HDP, SPLIT>

template <int HDP>
static int tc_backward(Backend *b, void *dq, void *dk, void *dv, const void *dout, const void *q, const void *k,
                       const void *v, const float *lse, const float *Dbuf, float *part, const int32_t *q_start,
                       const int32_t *kv_start, const int32_t *q_pos0, const int32_t *qtiles, const int32_t *ktiles,
                       int S, int n_qtiles, int n_ktiles, int nh, int nkv, int hd) {
    CudaCtx *c = cuda_ctx(b);
    float scale = 1.0f / sqrtf((float)hd);
    int vec = tc_vec(hd, q, k, v, dout);
    if (n_qtiles)
        TC_LAUNCH(attn_tc_dq_kernel<HDP>, Tc<HDP>::DQ, dim3((unsigned)n_qtiles, (unsigned)nh), (bf16 *)dq,
                  (const bf16 *)dout, (const bf16 *)q, (const bf16 *)k, (const bf16 *)v, lse, Dbuf, q_start, kv_start,
                  q_pos0, qtiles, S, nh, nkv, hd, scale, vec);
    if (n_ktiles && !part)
        TC_LAUNCH(TC_DKDV(false), Tc<HDP>::DKDV, dim3((unsigned)n_ktiles, (unsigned)nkv),
                  (bf16 *)dk, (bf16 *)dv, (float *)NULL, (size_t)0, Dbuf, (const bf16 *)dout, (const bf16 *)q,
                  (const bf16 *)k, (const bf16 *)v, lse, q_start, kv_start, q_pos0, ktiles, S, nh, nkv, hd, scale, vec);
    if (n_ktiles && part) {
        size_t pstride = (size_t)n_ktiles * TC_ROWS * nh * HDP;
        TC_LAUNCH(TC_DKDV(true), Tc<HDP>::DKDV, dim3((unsigned)n_ktiles, (unsigned)nh),
                  (bf16 *)dk, (bf16 *)dv, part, pstride, Dbuf, (const bf16 *)dout, (const bf16 *)q, (const bf16 *)k,
                  (const bf16 *)v, lse, q_start, kv_start, q_pos0, ktiles, S, nh, nkv, hd, scale, vec);
        attn_tc_dkdv_sum_kernel<HDP><<<dim3((unsigned)n_ktiles, (unsigned)nkv), 256, 0, c->stream>>>(
            (bf16 *)dk, (bf16 *)dv, part, pstride, q_start, kv_start, q_pos0, ktiles, S, nh, nkv, hd);
        CUDA_TRY_LAUNCH();
    }
    return GRPO_OK;
}

int cuda_attention_tc_backward(Backend *b, void *dq, void *dk, void *dv, const void *dout, const void *q,
                               const void *k, const void *v, const void *out, const float *lse,
                               const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0, int S, int T,
                               int n_heads, int n_kv_heads, int head_dim, const int32_t *h_q_start,
                               const int32_t *h_q_pos0) {
    // The grids' sizes from the offsets already checked on the host, by the
    // tiles kernel's rule.
    long long nq = 0, nkt = 0;
    for (int s = 0; s < S; s++) {
        int len = h_q_start[s + 1] - h_q_start[s];
        if (len <= 0) continue;
        nq += (len + TC_ROWS - 1) / TC_ROWS;
        nkt += (h_q_pos0[s] + len + TC_ROWS - 1) / TC_ROWS;
    }
    if (nq > 0x7fffffffLL || nkt > 0x7fffffffLL || n_heads > 65535)
        return grpo_fail(GRPO_EUNSUPPORTED, "attention backward: %lld tiles x %d heads exceed the cuda grid", nq,
                         n_heads);
    CudaCtx *c = cuda_ctx(b);
    int split = tc_split_dkdv(c, nkt, n_heads, n_kv_heads);
    int hdp = head_dim <= 32 ? 32 : head_dim <= 64 ? 64 : head_dim <= 96 ? 96 : 128;
    // Dbuf | tiles | part, each 256-byte aligned (wmma stores need 32)
    size_t dbytes = ((size_t)T * n_heads * sizeof(float) + 255) / 256 * 256;
    size_t tbytes = (2 * (size_t)(S + 1) * sizeof(int32_t) + 255) / 256 * 256;
    size_t pbytes = split ? 2 * (size_t)nkt * TC_ROWS * n_heads * hdp * sizeof(float) : 0;
    char *scr = NULL;
    int st = cuda_scratch(b, (void **)&scr, dbytes + tbytes + pbytes);
    if (st) return st;
    float *Dbuf = (float *)scr, *part = split ? (float *)(scr + dbytes + tbytes) : NULL;
    int32_t *qtiles = (int32_t *)(scr + dbytes), *ktiles = qtiles + S + 1;
    attn_tc_tiles_kernel<<<1, 1024, 0, c->stream>>>(qtiles, q_start, kv_start, q_pos0, S, T, 0);
    CUDA_TRY_LAUNCH();
    attn_tc_tiles_kernel<<<1, 1024, 0, c->stream>>>(ktiles, q_start, kv_start, q_pos0, S, T, 1);
    CUDA_TRY_LAUNCH();
    long long warps = (long long)T * n_heads;
    attn_tc_dot_kernel<<<(unsigned)((warps + 7) / 8), 256, 0, c->stream>>>(Dbuf, (const bf16 *)dout,
                                                                           (const bf16 *)out, T, n_heads, head_dim);
    CUDA_TRY_LAUNCH();
    return TC_BY_HDP(head_dim, tc_backward, b, dq, dk, dv, dout, q, k, v, lse, Dbuf, part, q_start, kv_start, q_pos0,
                     qtiles, ktiles, S, (int)nq, (int)nkt, n_heads, n_kv_heads, head_dim);
}
