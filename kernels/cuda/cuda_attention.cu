// Causal grouped-query attention over packed sequences (as kernels/cpu/attention.c,
// the contract is in backend.h): the op slots and the CUDA-core kernels.
// Decode-shaped calls (T == S) go to cuda_attention_decode.cu; bf16 training
// and prefill with head_dim <= 128 to the tensor cores (cuda_attention_tc.cu);
// the rest (fp32, head_dim > 128) run here. Flash-style: one warp per (query
// row, head) streams over its keys with an online softmax, so scores are never
// stored; forward saves the log-sum-exp and backward recomputes the probabilities.
//
// Layout inside a warp: lane l holds elements l, l + 32, ... of a head
// (ND = ceil(head_dim / 32) per lane, head_dim <= 256), so row loads are
// coalesced and a dot product is a per-lane partial sum plus a warp reduction.
// q, k, v, out and the gradients are the compute dtype T (float or bf16), read
// into fp32 registers; scores, softmax, lse and every accumulator are fp32.
#include <stdlib.h>

#include "kernels/cuda/cuda_attention.cuh"
#include "kernels/cuda/cuda_common.cuh"

#define ATTN_WARPS 4 // warps per block
#define ATTN_MAX_HEAD_DIM 256

// The sequence that owns query row t: the last s with q_start[s] <= t.
__device__ __forceinline__ int seq_of(const int32_t *q_start, int S, int t) {
    int lo = 0, hi = S - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (q_start[mid] <= t) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

template <int ND, class T>
__device__ __forceinline__ float warp_dot(const float (&a)[ND], const T *row, int lane, int hd) {
    float p = 0.0f;
#pragma unroll
    for (int e = 0; e < ND; e++) {
        int d = lane + 32 * e;
        if (d < hd) p += a[e] * cload(row[d]);
    }
    return warp_sum(p);
}

template <int ND, class T>
__device__ __forceinline__ void load_row(float (&a)[ND], const T *row, int lane, int hd) {
#pragma unroll
    for (int e = 0; e < ND; e++) {
        int d = lane + 32 * e;
        a[e] = d < hd ? cload(row[d]) : 0.0f;
    }
}

// Checks the offsets the CPU backend checks on the host (which would cost the
// GPU a synchronisation); the kernels below also skip rows whose offsets are bad.
__global__ void attn_check_kernel(const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0, int S, int T,
                                  int *err) {
    for (int s = threadIdx.x; s < S; s += blockDim.x)
        if (q_start[s + 1] - q_start[s] < 0 || q_pos0[s] < 0 || kv_start[s] < 0)
            cuda_report(err, CUDA_ERR_ATTN_SEQ, s, 0, 0);
    if (threadIdx.x == 0 && (q_start[0] != 0 || q_start[S] != T)) cuda_report(err, CUDA_ERR_ATTN_QSTART, T, 0, 0);
}

// The (sequence, index within it) of query row t, or -1 when offsets are bad.
__device__ __forceinline__ int row_seq(const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0, int S,
                                       int t, int *i) {
    int s = seq_of(q_start, S, t);
    *i = t - q_start[s];
    if (*i < 0 || t >= q_start[s + 1] || q_pos0[s] < 0 || kv_start[s] < 0) return -1;
    return s;
}

template <class T, int ND>
__global__ void attn_forward_kernel(T *out, float *lse, const T *q, const T *k, const T *v,
                                    const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0, int S,
                                    int R, int nh, int nkv, int hd, float scale) {
    // out, q (R, nh*hd); k, v (*, nkv*hd); lse (R, nh) or NULL
    long long w = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    if (w >= (long long)R * nh) return; // whole warps exit together
    int t = (int)(w / nh), h = (int)(w % nh);
    const size_t qd = (size_t)nh * hd, kvd = (size_t)nkv * hd;
    T *o = out + (size_t)t * qd + (size_t)h * hd;
    int i;
    int s = row_seq(q_start, kv_start, q_pos0, S, t, &i);
    if (s < 0) { // reported by attn_check_kernel
        for (int d = lane; d < hd; d += 32) o[d] = cstore<T>(0.0f);
        if (lse && lane == 0) lse[(size_t)t * nh + h] = 0.0f;
        return;
    }
    int n_keys = q_pos0[s] + i + 1;
    size_t kv0 = (size_t)kv_start[s] * kvd + (size_t)(h / (nh / nkv)) * hd;
    const T *kb = k + kv0, *vb = v + kv0;
    float qr[ND], acc[ND];
    load_row<ND>(qr, q + (size_t)t * qd + (size_t)h * hd, lane, hd);
#pragma unroll
    for (int e = 0; e < ND; e++) acc[e] = 0.0f;
    float m = -INFINITY, l = 0.0f;
    // Unrolled so the next keys' loads issue while this key's reduction runs.
#pragma unroll 4
    for (int j = 0; j < n_keys; j++) {
        float sc = warp_dot<ND>(qr, kb + (size_t)j * kvd, lane, hd) * scale;
        float mnew = fmaxf(m, sc);
        float corr = expf(m - mnew), p = expf(sc - mnew); // corr = 0 on the first key
        l = l * corr + p;
        const T *vj = vb + (size_t)j * kvd;
#pragma unroll
        for (int e = 0; e < ND; e++) {
            int d = lane + 32 * e;
            acc[e] = acc[e] * corr + (d < hd ? p * cload(vj[d]) : 0.0f);
        }
        m = mnew;
    }
    float inv = 1.0f / l;
#pragma unroll
    for (int e = 0; e < ND; e++) {
        int d = lane + 32 * e;
        if (d < hd) o[d] = cstore<T>(acc[e] * inv);
    }
    if (lse && lane == 0) lse[(size_t)t * nh + h] = m + logf(l);
}

// Backward pass 1, one warp per (query row, head): D = dout . out, saved for
// pass 2, and dq = sum_j ds_j k_j with ds_j = p_j (dout . v_j - D) * scale.
template <class T, int ND>
__global__ void attn_backward_dq_kernel(T *dq, float *Dbuf, const T *dout, const T *q, const T *k, const T *v,
                                        const T *out, const float *lse, const int32_t *q_start,
                                        const int32_t *kv_start, const int32_t *q_pos0, int S, int R, int nh, int nkv,
                                        int hd, float scale) {
    long long w = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    if (w >= (long long)R * nh) return;
    int t = (int)(w / nh), h = (int)(w % nh);
    const size_t qd = (size_t)nh * hd, kvd = (size_t)nkv * hd;
    const size_t o = (size_t)t * qd + (size_t)h * hd;
    int i;
    int s = row_seq(q_start, kv_start, q_pos0, S, t, &i);
    if (s < 0) {
        for (int d = lane; d < hd; d += 32) dq[o + d] = cstore<T>(0.0f);
        if (lane == 0) Dbuf[(size_t)t * nh + h] = 0.0f;
        return;
    }
    float qr[ND], dor[ND], orow[ND], acc[ND];
    load_row<ND>(qr, q + o, lane, hd);
    load_row<ND>(dor, dout + o, lane, hd);
    load_row<ND>(orow, out + o, lane, hd);
    float D = 0.0f;
#pragma unroll
    for (int e = 0; e < ND; e++) {
        D += dor[e] * orow[e];
        acc[e] = 0.0f;
    }
    D = warp_sum(D);
    if (lane == 0) Dbuf[(size_t)t * nh + h] = D;
    float L = lse[(size_t)t * nh + h];
    int n_keys = q_pos0[s] + i + 1;
    size_t kv0 = (size_t)kv_start[s] * kvd + (size_t)(h / (nh / nkv)) * hd;
    // Unrolled so the next keys' loads issue while this key's reduction runs.
#pragma unroll 4
    for (int j = 0; j < n_keys; j++) {
        const T *kj = k + kv0 + (size_t)j * kvd, *vj = v + kv0 + (size_t)j * kvd;
        float p = expf(warp_dot<ND>(qr, kj, lane, hd) * scale - L);
        float ds = p * (warp_dot<ND>(dor, vj, lane, hd) - D) * scale;
#pragma unroll
        for (int e = 0; e < ND; e++) {
            int d = lane + 32 * e;
            if (d < hd) acc[e] += ds * cload(kj[d]);
        }
    }
#pragma unroll
    for (int e = 0; e < ND; e++) {
        int d = lane + 32 * e;
        if (d < hd) dq[o + d] = cstore<T>(acc[e]);
    }
}

// Backward pass 2, one warp per (sequence, key row jj, kv head): sums over the
// group's heads and the queries that see key jj (index i >= jj - q_pos0).
// Each dk, dv row has one writer (sequences do not share key rows), so no
// atomics and a fixed order. grid = (ceil(max_keys / ATTN_WARPS), nkv, S).
template <class T, int ND>
__global__ void attn_backward_dkdv_kernel(T *dk, T *dv, const float *Dbuf, const T *dout, const T *q, const T *k,
                                          const T *v, const float *lse, const int32_t *q_start,
                                          const int32_t *kv_start, const int32_t *q_pos0, int nh, int nkv, int hd,
                                          float scale) {
    int lane = threadIdx.x & 31;
    int jj = blockIdx.x * ATTN_WARPS + (threadIdx.x >> 5), hk = blockIdx.y, s = blockIdx.z;
    int len = q_start[s + 1] - q_start[s], p0 = q_pos0[s];
    if (jj >= p0 + len) return;
    const int group = nh / nkv;
    const size_t qd = (size_t)nh * hd, kvd = (size_t)nkv * hd;
    const size_t krow = ((size_t)kv_start[s] + jj) * kvd + (size_t)hk * hd;
    float kr[ND], vr[ND], dka[ND], dva[ND];
    load_row<ND>(kr, k + krow, lane, hd);
    load_row<ND>(vr, v + krow, lane, hd);
#pragma unroll
    for (int e = 0; e < ND; e++) dka[e] = dva[e] = 0.0f;
    int i0 = jj - p0 > 0 ? jj - p0 : 0;
    for (int h = hk * group; h < (hk + 1) * group; h++)
#pragma unroll 4
        for (int i = i0; i < len; i++) {
            int t = q_start[s] + i;
            const T *qrow = q + (size_t)t * qd + (size_t)h * hd, *dorow = dout + (size_t)t * qd + (size_t)h * hd;
            float p = expf(warp_dot<ND>(kr, qrow, lane, hd) * scale - lse[(size_t)t * nh + h]);
            float ds = p * (warp_dot<ND>(vr, dorow, lane, hd) - Dbuf[(size_t)t * nh + h]) * scale;
#pragma unroll
            for (int e = 0; e < ND; e++) {
                int d = lane + 32 * e;
                if (d < hd) {
                    dka[e] += ds * cload(qrow[d]);
                    dva[e] += p * cload(dorow[d]);
                }
            }
        }
#pragma unroll
    for (int e = 0; e < ND; e++) {
        int d = lane + 32 * e;
        if (d < hd) {
            dk[krow + d] = cstore<T>(cload(dk[krow + d]) + dka[e]);
            dv[krow + d] = cstore<T>(cload(dv[krow + d]) + dva[e]);
        }
    }
}

static int check_sizes(int S, int T, int n_heads, int n_kv_heads, int head_dim) {
    if (S < 0 || T < 0 || n_heads <= 0 || n_kv_heads <= 0 || n_heads % n_kv_heads)
        return grpo_fail(GRPO_EINVAL, "attention: bad sizes (S=%d T=%d heads=%d kv_heads=%d)", S, T, n_heads,
                         n_kv_heads);
    if (S == 0 && T != 0) return grpo_fail(GRPO_EINVAL, "attention: %d query rows but no sequences", T);
    if (head_dim <= 0 || head_dim > ATTN_MAX_HEAD_DIM)
        return grpo_fail(GRPO_EUNSUPPORTED, "attention: head_dim %d is outside 1..%d on the cuda backend", head_dim,
                         ATTN_MAX_HEAD_DIM);
    return GRPO_OK;
}

// Picks the per-lane width: a runtime head_dim to a compile-time ND.
#define ATTN_DISPATCH(hd, KERNEL, GRID, BLOCK, STREAM, ...)                                        \
    do {                                                                                           \
        if ((hd) <= 32) KERNEL<T, 1><<<GRID, BLOCK, 0, STREAM>>>(__VA_ARGS__);                   \
        else if ((hd) <= 64) KERNEL<T, 2><<<GRID, BLOCK, 0, STREAM>>>(__VA_ARGS__);              \
        else if ((hd) <= 128) KERNEL<T, 4><<<GRID, BLOCK, 0, STREAM>>>(__VA_ARGS__);             \
        else KERNEL<T, 8><<<GRID, BLOCK, 0, STREAM>>>(__VA_ARGS__);                              \
    } while (0)

template <class T>
static int attention_forward(Backend *b, void *out, float *lse, const void *q, const void *k, const void *v,
                             const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0, int S, int R,
                             int n_heads, int n_kv_heads, int head_dim) {
    CudaCtx *c = cuda_ctx(b);
    long long warps = (long long)R * n_heads;
    unsigned grid = (unsigned)((warps + ATTN_WARPS - 1) / ATTN_WARPS);
    float scale = 1.0f / sqrtf((float)head_dim);
    ATTN_DISPATCH(head_dim, attn_forward_kernel, grid, ATTN_WARPS * 32, c->stream, (T *)out, lse, (const T *)q,
                  (const T *)k, (const T *)v, q_start, kv_start, q_pos0, S, R, n_heads, n_kv_heads, head_dim, scale);
    CUDA_TRY_LAUNCH();
    return GRPO_OK;
}

static int cuda_attention_forward(Backend *b, void *out, float *lse, const void *q, const void *k, const void *v,
                                  const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0, int S, int T,
                                  int n_heads, int n_kv_heads, int head_dim) {
    int st = check_sizes(S, T, n_heads, n_kv_heads, head_dim);
    if (st || T == 0) return st;
    CudaCtx *c = cuda_ctx(b);
    attn_check_kernel<<<1, 256, 0, c->stream>>>(q_start, kv_start, q_pos0, S, T, c->dev_err);
    CUDA_TRY_LAUNCH();
    if ((st = cuda_attention_decode_reserve(b))) return st; // before a decode step is captured
    if (T == S) // one query row per sequence: decode steps
        return cuda_attention_decode(b, out, lse, q, k, v, q_start, kv_start, q_pos0, S, T, n_heads, n_kv_heads,
                                     head_dim);
    // Tensor cores for sequences of several query rows (training, prefill).
    if (cuda_attention_tc_applies(b, head_dim))
        return cuda_attention_tc_forward(b, out, lse, q, k, v, q_start, kv_start, q_pos0, S, T, n_heads, n_kv_heads,
                                         head_dim);
    return CUDA_BY_CDT(b, attention_forward, b, out, lse, q, k, v, q_start, kv_start, q_pos0, S, T, n_heads,
                       n_kv_heads, head_dim);
}

// Backward needs the longest sequence's key count for its grid, so it reads the
// (small) offset arrays back and checks them on the host as the CPU does; one
// synchronisation per layer is noise beside a training step.
static int read_offsets(Backend *b, int32_t *h, const int32_t *q_start, const int32_t *kv_start,
                        const int32_t *q_pos0, int S, int T, int *max_keys) {
    CudaCtx *c = cuda_ctx(b);
    int32_t *hqs = h, *hks = h + S + 1, *hq0 = hks + S;
    CUDA_TRY(cudaMemcpyAsync(hqs, q_start, (size_t)(S + 1) * 4, cudaMemcpyDeviceToHost, c->stream));
    CUDA_TRY(cudaMemcpyAsync(hks, kv_start, (size_t)S * 4, cudaMemcpyDeviceToHost, c->stream));
    CUDA_TRY(cudaMemcpyAsync(hq0, q_pos0, (size_t)S * 4, cudaMemcpyDeviceToHost, c->stream));
    CUDA_TRY(cudaStreamSynchronize(c->stream));
    if (hqs[0] != 0 || hqs[S] != T) return grpo_fail(GRPO_EINVAL, "attention: q_start must run from 0 to T=%d", T);
    int mk = 0;
    for (int s = 0; s < S; s++) {
        int len = hqs[s + 1] - hqs[s];
        if (len < 0 || hq0[s] < 0 || hks[s] < 0)
            return grpo_fail(GRPO_EINVAL, "attention: sequence %d has bad offsets", s);
        if (hq0[s] + len > mk) mk = hq0[s] + len;
    }
    *max_keys = mk;
    return GRPO_OK;
}

template <class T>
static int attention_backward(Backend *b, void *dq, void *dk, void *dv, const void *dout, const void *q, const void *k,
                              const void *v, const void *out, const float *lse, const int32_t *q_start,
                              const int32_t *kv_start, const int32_t *q_pos0, int S, int R, int n_heads,
                              int n_kv_heads, int head_dim, float *Dbuf, int max_keys) {
    CudaCtx *c = cuda_ctx(b);
    float scale = 1.0f / sqrtf((float)head_dim);
    long long warps = (long long)R * n_heads;
    unsigned grid = (unsigned)((warps + ATTN_WARPS - 1) / ATTN_WARPS);
    ATTN_DISPATCH(head_dim, attn_backward_dq_kernel, grid, ATTN_WARPS * 32, c->stream, (T *)dq, Dbuf, (const T *)dout,
                  (const T *)q, (const T *)k, (const T *)v, (const T *)out, lse, q_start, kv_start, q_pos0, S, R,
                  n_heads, n_kv_heads, head_dim, scale);
    CUDA_TRY_LAUNCH();
    if (max_keys == 0) return GRPO_OK;
    dim3 grid2((unsigned)((max_keys + ATTN_WARPS - 1) / ATTN_WARPS), (unsigned)n_kv_heads, (unsigned)S);
    ATTN_DISPATCH(head_dim, attn_backward_dkdv_kernel, grid2, ATTN_WARPS * 32, c->stream, (T *)dk, (T *)dv, Dbuf,
                  (const T *)dout, (const T *)q, (const T *)k, (const T *)v, lse, q_start, kv_start, q_pos0, n_heads,
                  n_kv_heads, head_dim, scale);
    CUDA_TRY_LAUNCH();
    return GRPO_OK;
}

static int cuda_attention_backward(Backend *b, void *dq, void *dk, void *dv, const void *dout, const void *q,
                                   const void *k, const void *v, const void *out, const float *lse,
                                   const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0, int S,
                                   int T, int n_heads, int n_kv_heads, int head_dim) {
    int st = check_sizes(S, T, n_heads, n_kv_heads, head_dim);
    if (st || T == 0) return st;
    if (S > 65535 || n_kv_heads > 65535)
        return grpo_fail(GRPO_EUNSUPPORTED, "attention backward: %d sequences x %d kv heads exceed the cuda grid", S,
                         n_kv_heads);
    int32_t *h = (int32_t *)malloc((size_t)(3 * S + 1) * sizeof(int32_t));
    if (!h) return grpo_fail(GRPO_ENOMEM, "attention backward: out of host memory");
    int max_keys = 0;
    st = read_offsets(b, h, q_start, kv_start, q_pos0, S, T, &max_keys);
    int tc = !st && cuda_attention_tc_applies(b, head_dim);
    if (tc)
        st = cuda_attention_tc_backward(b, dq, dk, dv, dout, q, k, v, out, lse, q_start, kv_start, q_pos0, S, T,
                                        n_heads, n_kv_heads, head_dim, h, h + 2 * S + 1);
    free(h);
    if (st || tc) return st;
    float *Dbuf = NULL;
    st = cuda_scratch(b, (void **)&Dbuf, (size_t)T * n_heads * sizeof(float));
    if (st) return st;
    return CUDA_BY_CDT(b, attention_backward, b, dq, dk, dv, dout, q, k, v, out, lse, q_start, kv_start, q_pos0, S, T,
                       n_heads, n_kv_heads, head_dim, Dbuf, max_keys);
}

void cuda_register_attention(Backend *b) {
    b->attention_forward = cuda_attention_forward;
    b->attention_backward = cuda_attention_backward;
}
