// Every model op of the CUDA backend against the CPU backend (the fp32
// reference) on the same random inputs, at several sizes including odd ones,
// forward and backward, in both compute dtypes: fp32, then bf16. Where no
// usable GPU exists the test reports itself skipped and says why; with
// GRPO_TEST_DEVICE=cpu the CPU plays the GPU in fp32 and the bf16 run is
// reported skipped (the CPU computes in fp32 only).
//
// Tolerance (tu_compare.h): |gpu - cpu| <= atol + rtol * |cpu| per element.
// fp32: elementwise ops differ only by the libm (expf, sinf, ...) and FMA
// contraction: atol 1e-6, rtol 1e-5. Reductions (norms, softmax, attention,
// column sums) sum in a different order than the CPU: atol 1e-5, rtol 1e-4.
// The embedding backward sums in the CPU's order and must match exactly.
// bf16: every input the GPU reads as bf16 is rounded to bf16 first and the CPU
// gets the same rounded values, so the GPU's fp32 math sees what the CPU's
// sees; a bf16 output is that fp32 result g rounded once, at most u = 2^-8
// of |g| away (bf16 keeps 8 significant bits: its unit roundoff is 2^-8). With
// |g - cpu| <= atol + rtol |cpu| (the fp32 allowance),
//   |bf16(g) - cpu| <= u |g| + |g - cpu| <= (1 + u) atol + ((1 + u) rtol + u) |cpu|,
// which is the bf16 allowance: no slack beyond the fp32 one, so computing in
// bf16 or rounding twice shows up. An fp32 output of a bf16-input op (rstd,
// lse, logp, entropy, parameter gradients) gets the fp32 allowance alone.
// Copies, adds and scatters must equal the CPU's result rounded to bf16.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/profile.h"
#include "testlib.h"
#include "tu_bf16.h"
#include "tu_compare.h"

#define EW_ATOL 1e-6
#define EW_RTOL 1e-5
#define RED_ATOL 1e-5
#define RED_RTOL 1e-4
#define BF16_U (1.0 / 256) // bf16's unit roundoff

static Backend *cpu, *gpu;
static uint64_t rng = 20261128;
static int bf16; // this run's compute dtype is bf16 (gpu->cdt)

// Every buffer of a case is tracked here and released by release_all().
#define MAX_BUFS 256
static void *dbufs[MAX_BUFS], *hbufs[MAX_BUFS];
static int n_dbufs, n_hbufs;

static void *hmalloc(size_t bytes) {
    void *p = calloc(1, bytes ? bytes : 4);
    if (!p || n_hbufs == MAX_BUFS) {
        fprintf(stderr, "test_cuda_ops: out of host memory or buffer slots\n");
        exit(1);
    }
    return hbufs[n_hbufs++] = p;
}
static float *randf(size_t n, float scale) {
    float *x = hmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = tu_rand_uniform(&rng) * scale;
    return x;
}
// Random values the GPU reads in the compute dtype: rounded to bf16 in a bf16
// run, so the CPU reference gets exactly the values the GPU sees.
static float *randc(size_t n, float scale) {
    float *x = randf(n, scale);
    if (bf16) tu_bf16_round_all(x, n);
    return x;
}
// A device copy of host bytes.
static void *dev(const void *h, size_t bytes) {
    void *d = NULL;
    if (gpu->alloc(gpu, &d, bytes ? bytes : 4) || n_dbufs == MAX_BUFS) {
        fprintf(stderr, "test_cuda_ops: device allocation of %zu bytes failed: %s\n", bytes, grpo_errmsg());
        exit(1);
    }
    dbufs[n_dbufs++] = d;
    if (bytes && h) CHECK(gpu->to_device(gpu, d, h, bytes) == GRPO_OK, "to_device: %s", grpo_errmsg());
    return d;
}
// A device buffer of n compute-dtype elements holding host floats h (zeros
// when h is NULL); h must already be bf16-rounded in a bf16 run (randc).
static void *devc(const float *h, size_t n) {
    if (!bf16 || !h) return dev(h, n * (bf16 ? 2 : 4));
    uint16_t *b = hmalloc(n * 2);
    for (size_t i = 0; i < n; i++) b[i] = tu_f32_to_bf16(h[i]);
    return dev(b, n * 2);
}
// A host copy of n floats of device memory (after the queued work finished).
static float *host(const void *d, size_t n) {
    float *h = hmalloc(n * sizeof(float));
    CHECK(gpu->to_host(gpu, h, d, n * sizeof(float)) == GRPO_OK, "to_host: %s", grpo_errmsg());
    return h;
}
// The same for n compute-dtype elements, widened to float.
static float *hostc(const void *d, size_t n) {
    if (!bf16) return host(d, n);
    uint16_t *b = hmalloc(n * 2);
    float *h = hmalloc(n * sizeof(float));
    CHECK(gpu->to_host(gpu, b, d, n * 2) == GRPO_OK, "to_host: %s", grpo_errmsg());
    for (size_t i = 0; i < n; i++) h[i] = tu_bf16_to_f32(b[i]);
    return h;
}
static void release_all(void) {
    for (int i = 0; i < n_dbufs; i++) gpu->free(gpu, dbufs[i]);
    for (int i = 0; i < n_hbufs; i++) free(hbufs[i]);
    n_dbufs = n_hbufs = 0;
}
// The op's status and any error the device recorded for it.
static void ok(int st, const char *what) {
    CHECK(st == GRPO_OK, "%s: %s", what, grpo_errmsg());
    if (!st) {
        st = gpu->sync(gpu);
        CHECK(st == GRPO_OK, "%s (at sync): %s", what, grpo_errmsg());
    }
}
// An fp32 output against the CPU's.
static void cmp(const char *what, const void *d, const float *ref, size_t n, double atol, double rtol) {
    char w[240];
    snprintf(w, sizeof w, "%s %s", bf16 ? "bf16" : "fp32", what);
    float *g = host(d, n);
    tu_compare(w, g, ref, n, atol, rtol, 1);
}
// A compute-dtype output against the CPU's: the fp32 allowance plus the
// output's rounding in bf16 (see the top).
static void cmpc(const char *what, const void *d, const float *ref, size_t n, double atol, double rtol) {
    char w[240];
    snprintf(w, sizeof w, "%s %s", bf16 ? "bf16" : "fp32", what);
    float *g = hostc(d, n);
    if (bf16) atol *= 1 + BF16_U, rtol = rtol * (1 + BF16_U) + BF16_U;
    tu_compare(w, g, ref, n, atol, rtol, 1);
}
// cmpc with a further per-element allowance `extra` (n), itself rounded like the output.
static void cmpc_bound(const char *what, const void *d, const float *ref, float *extra, size_t n, double atol,
                       double rtol) {
    char w[240];
    snprintf(w, sizeof w, "%s %s", bf16 ? "bf16" : "fp32", what);
    float *g = hostc(d, n);
    if (bf16) atol *= 1 + BF16_U, rtol = rtol * (1 + BF16_U) + BF16_U;
    if (bf16)
        for (size_t i = 0; i < n; i++) extra[i] *= (float)(1 + BF16_U);
    tu_compare_ex(w, g, ref, extra, n, atol, rtol, 1);
}
// A compute-dtype output that must equal the CPU's result rounded to the
// compute dtype bit for bit (copies, one add: the GPU rounds the same fp32 value).
static void cmpc_exact(const char *what, const void *d, float *ref, size_t n) {
    if (bf16) tu_bf16_round_all(ref, n);
    cmpc(what, d, ref, n, 0, 0);
}

// ---------------------------------------------------------------- embedding
static void test_embedding(int T, int C, int V) {
    char w[160];
    int32_t *ids = hmalloc((size_t)T * 4);
    // Draw from a few ids so tokens repeat and the backward really accumulates.
    for (int t = 0; t < T; t++) ids[t] = (int32_t)(tu_rand_u64(&rng) % (uint64_t)(t % 2 ? V : 5));
    float *wte = randc((size_t)V * C, 1.0f), *dout = randc((size_t)T * C, 1.0f), *dwte = randf((size_t)V * C, 1.0f);
    float *out = hmalloc((size_t)T * C * 4);
    void *d_ids = dev(ids, (size_t)T * 4), *d_wte = devc(wte, (size_t)V * C), *d_out = devc(NULL, (size_t)T * C);
    void *d_dout = devc(dout, (size_t)T * C), *d_dwte = dev(dwte, (size_t)V * C * 4);
    snprintf(w, sizeof w, "embedding_forward T=%d C=%d V=%d", T, C, V);
    ok(gpu->embedding_forward(gpu, d_out, d_ids, d_wte, T, C, V), w);
    CHECK(cpu->embedding_forward(cpu, out, ids, wte, T, C, V) == GRPO_OK, "%s", grpo_errmsg());
    cmpc_exact(w, d_out, out, (size_t)T * C);
    snprintf(w, sizeof w, "embedding_backward T=%d C=%d V=%d (exact)", T, C, V);
    ok(gpu->embedding_backward(gpu, d_dwte, d_dout, d_ids, T, C, V), w);
    CHECK(cpu->embedding_backward(cpu, dwte, dout, ids, T, C, V) == GRPO_OK, "%s", grpo_errmsg());
    cmp(w, d_dwte, dwte, (size_t)V * C, 0, 0);
    release_all();
}

// A token id outside the vocabulary is found on the device and reported by
// the next sync (and only once: the flag is cleared).
static void test_embedding_bad_id(void) {
    int32_t ids[3] = {1, 7, 2};
    float *wte = randc(5 * 4, 1.0f);
    void *d_ids = dev(ids, sizeof ids), *d_wte = devc(wte, 5 * 4), *d_out = devc(NULL, 3 * 4);
    CHECK(gpu->embedding_forward(gpu, d_out, d_ids, d_wte, 3, 4, 5) == GRPO_OK, "%s", grpo_errmsg());
    int st = gpu->sync(gpu);
    CHECK(st == GRPO_EINVAL && strstr(grpo_errmsg(), "token id 7 at position 1"), "bad id: status %d, '%s'", st,
          grpo_errmsg());
    CHECK(gpu->sync(gpu) == GRPO_OK, "the error flag stays set: %s", grpo_errmsg());
    release_all();
}

// ---------------------------------------------------------------- rmsnorm
static void test_rmsnorm(int T, int C, int with_rstd) {
    char w[160];
    float *x = randc((size_t)T * C, 2.0f), *wt = randc(C, 1.0f), *dy = randc((size_t)T * C, 1.0f);
    float *dx = randc((size_t)T * C, 1.0f), *dw = randf(C, 1.0f);
    float *y = hmalloc((size_t)T * C * 4), *r = hmalloc((size_t)T * 4);
    void *d_x = devc(x, (size_t)T * C), *d_w = devc(wt, (size_t)C), *d_y = devc(NULL, (size_t)T * C);
    void *d_r = dev(NULL, (size_t)T * 4), *d_dy = devc(dy, (size_t)T * C), *d_dx = devc(dx, (size_t)T * C);
    void *d_dw = dev(dw, (size_t)C * 4);
    snprintf(w, sizeof w, "rmsnorm_forward T=%d C=%d%s", T, C, with_rstd ? "" : " rstd=NULL");
    ok(gpu->rmsnorm_forward(gpu, d_y, with_rstd ? d_r : NULL, d_x, d_w, T, C, 1e-6f), w);
    CHECK(cpu->rmsnorm_forward(cpu, y, r, x, wt, T, C, 1e-6f) == GRPO_OK, "%s", grpo_errmsg());
    cmpc(w, d_y, y, (size_t)T * C, RED_ATOL, RED_RTOL);
    if (!with_rstd) {
        release_all();
        return;
    }
    snprintf(w, sizeof w, "rmsnorm_forward rstd T=%d C=%d", T, C);
    cmp(w, d_r, r, (size_t)T, RED_ATOL, RED_RTOL);
    // Backward from the CPU's rstd on both, so only the backward is compared.
    CHECK(gpu->to_device(gpu, d_r, r, (size_t)T * 4) == GRPO_OK, "%s", grpo_errmsg());
    snprintf(w, sizeof w, "rmsnorm_backward T=%d C=%d", T, C);
    ok(gpu->rmsnorm_backward(gpu, d_dx, d_dw, d_dy, d_x, d_w, d_r, T, C), w);
    CHECK(cpu->rmsnorm_backward(cpu, dx, dw, dy, x, wt, r, T, C) == GRPO_OK, "%s", grpo_errmsg());
    snprintf(w, sizeof w, "rmsnorm_backward dinp T=%d C=%d", T, C);
    cmpc(w, d_dx, dx, (size_t)T * C, RED_ATOL, RED_RTOL);
    snprintf(w, sizeof w, "rmsnorm_backward dweight T=%d C=%d", T, C);
    cmp(w, d_dw, dw, (size_t)C, RED_ATOL, RED_RTOL);
    release_all();
}

// ---------------------------------------------------------------- rope
static void test_rope(int T, int nh, int hd) {
    char w[160];
    size_t n = (size_t)T * nh * hd;
    float *x = randc(n, 1.0f), *dx = randc(n, 1.0f), *inv = hmalloc((size_t)(hd / 2 + 1) * 4);
    for (int i = 0; i < hd / 2; i++) inv[i] = (float)pow(10000.0, -2.0 * i / hd);
    int32_t *pos = hmalloc((size_t)T * 4);
    for (int t = 0; t < T; t++) pos[t] = (int32_t)(tu_rand_u64(&rng) % 4096);
    void *d_x = devc(x, n), *d_dx = devc(dx, n), *d_inv = dev(inv, (size_t)(hd / 2 + 1) * 4);
    void *d_pos = dev(pos, (size_t)T * 4);
    snprintf(w, sizeof w, "rope_forward T=%d heads=%d hd=%d", T, nh, hd);
    ok(gpu->rope_forward(gpu, d_x, d_pos, d_inv, T, nh, hd), w);
    CHECK(cpu->rope_forward(cpu, x, pos, inv, T, nh, hd) == GRPO_OK, "%s", grpo_errmsg());
    cmpc(w, d_x, x, n, EW_ATOL, EW_RTOL);
    snprintf(w, sizeof w, "rope_backward T=%d heads=%d hd=%d", T, nh, hd);
    ok(gpu->rope_backward(gpu, d_dx, d_pos, d_inv, T, nh, hd), w);
    CHECK(cpu->rope_backward(cpu, dx, pos, inv, T, nh, hd) == GRPO_OK, "%s", grpo_errmsg());
    cmpc(w, d_dx, dx, n, EW_ATOL, EW_RTOL);
    CHECK(gpu->rope_forward(gpu, d_x, d_pos, d_inv, T, nh, 7) == GRPO_EINVAL, "odd head_dim must fail");
    release_all();
}

// ---------------------------------------------------------------- attention
typedef struct {
    int nh, nkv, hd, S;
    int lens[8], pos0[8];
    int cache;        // 1: keys live in a KV cache (kv_start = s * max_len, q_pos0 = pos0)
    int forward_only; // long caches: the backward (not under test there) would dominate the run time
} AttnCase;

// Whether the CUDA backend runs this attention on its tensor-core path (the
// rule in kernels/cuda/cuda_attention.cu): bf16, head_dim <= 128, and for the
// forward anything but decode-shaped calls (T != S).
static int attn_tc(int hd) {
    const char *e = getenv("GRPO_CUDA_TC_ATTN");
    return bf16 && hd <= 128 && !(e && !strcmp(e, "0"));
}

// The tensor-core path feeds P (forward, dV) and dS (dQ, dK) to the tensor
// cores as a pair of bf16 values that keeps 16 significant bits, so each
// product may move by TC_U = u^2 = 2^-16 of its magnitude and an output
// element by TC_U times the sum of the magnitudes of its products. These are
// those sums times TC_U, from the CPU's lse and out (what the GPU's backward
// also gets): bout, bdq (T, nh*hd) overwritten; bdk, bdv (kv rows, nkv*hd)
// zeroed first. (A single bf16 rounding, u per product, fails this.)
#define TC_U (BF16_U * BF16_U)
static void attn_tc_bounds(float *bout, float *bdq, float *bdk, float *bdv, const float *q, const float *k,
                           const float *v, const float *out, const float *dout, const float *lse, const int32_t *qs,
                           const int32_t *ks, const int32_t *q0, int S, int nh, int nkv, int hd, size_t nk) {
    size_t qd = (size_t)nh * hd, kvd = (size_t)nkv * hd;
    double scale = 1.0 / sqrt((double)hd), *bo = hmalloc((size_t)hd * 8), *bq = hmalloc((size_t)hd * 8);
    memset(bdk, 0, nk * 4);
    memset(bdv, 0, nk * 4);
    for (int s = 0; s < S; s++)
        for (int t = qs[s]; t < qs[s + 1]; t++)
            for (int h = 0; h < nh; h++) {
                size_t o = (size_t)t * qd + (size_t)h * hd;
                double D = 0;
                for (int c = 0; c < hd; c++) D += (double)dout[o + c] * out[o + c];
                memset(bo, 0, (size_t)hd * 8);
                memset(bq, 0, (size_t)hd * 8);
                for (int j = 0; j <= q0[s] + t - qs[s]; j++) {
                    size_t kr = ((size_t)ks[s] + j) * kvd + (size_t)(h / (nh / nkv)) * hd;
                    double sc = 0, dp = 0;
                    for (int c = 0; c < hd; c++) sc += (double)q[o + c] * k[kr + c], dp += (double)dout[o + c] * v[kr + c];
                    double p = exp(sc * scale - lse[(size_t)t * nh + h]), ds = fabs(p * (dp - D) * scale);
                    for (int c = 0; c < hd; c++) {
                        bo[c] += p * fabs(v[kr + c]);
                        bq[c] += ds * fabs(k[kr + c]);
                        bdk[kr + c] += (float)(TC_U * ds * fabs(q[o + c]));
                        bdv[kr + c] += (float)(TC_U * p * fabs(dout[o + c]));
                    }
                }
                for (int c = 0; c < hd; c++) bout[o + c] = (float)(TC_U * bo[c]), bdq[o + c] = (float)(TC_U * bq[c]);
            }
}

// The longest single-row sequence of a decode case again, alone (S = T = 1):
// its output must equal, bit for bit, its row computed in the batch (the
// split of a row's keys depends on its key count only).
static void test_attention_row_alone(const AttnCase *c, void *d_out, void *d_q, void *d_k, void *d_v,
                                     const int32_t *qs, const int32_t *ks, const int32_t *q0) {
    int s = -1;
    for (int i = 0; i < c->S; i++)
        if (c->lens[i] == 1 && (s < 0 || q0[i] > q0[s])) s = i;
    if (s < 0 || c->S == 1) return;
    size_t qd = (size_t)c->nh * c->hd;
    int32_t qs1[2] = {0, 1};
    void *d_o1 = devc(NULL, qd), *d_qs = dev(qs1, sizeof qs1), *d_ks = dev(&ks[s], 4), *d_q0 = dev(&q0[s], 4);
    char w[160];
    snprintf(w, sizeof w, "attention_forward heads=%d/%d hd=%d row of %d keys alone", c->nh, c->nkv, c->hd,
             q0[s] + 1);
    ok(gpu->attention_forward(gpu, d_o1, NULL, backend_off(gpu, d_q, (size_t)qs[s] * qd), d_k, d_v, d_qs, d_ks,
                              d_q0, 1, 1, c->nh, c->nkv, c->hd),
       w);
    float *alone = hostc(d_o1, qd), *batch = hostc(d_out, (size_t)(qs[s] + 1) * qd) + (size_t)qs[s] * qd;
    CHECK(!memcmp(alone, batch, qd * sizeof(float)), "%s %s: differs from the same row in the batch",
          bf16 ? "bf16" : "fp32", w);
}

static void test_attention(const AttnCase *c, int with_lse) {
    char w[200], tag[120];
    int S = c->S, T = 0, maxlen = 0;
    int32_t *qs = hmalloc((size_t)(S + 1) * 4), *ks = hmalloc((size_t)S * 4), *q0 = hmalloc((size_t)S * 4);
    for (int s = 0; s < S; s++) {
        int keys = (c->cache ? c->pos0[s] : 0) + c->lens[s];
        if (keys > maxlen) maxlen = keys;
    }
    maxlen += 3; // cache slots longer than what is used: rows past the end must stay untouched
    for (int s = 0; s < S; s++) {
        qs[s] = T;
        ks[s] = c->cache ? s * maxlen : T;
        q0[s] = c->cache ? c->pos0[s] : 0;
        T += c->lens[s];
    }
    qs[S] = T;
    int kv_rows = c->cache ? S * maxlen : T;
    size_t qd = (size_t)c->nh * c->hd, kvd = (size_t)c->nkv * c->hd, nq = (size_t)T * qd, nk = (size_t)kv_rows * kvd;
    int n = snprintf(tag, sizeof tag, "%s heads=%d/%d hd=%d T=%d lens", c->cache ? "cache" : "packed", c->nh, c->nkv,
                     c->hd, T);
    for (int s = 0; s < S && n < (int)sizeof tag; s++)
        n += snprintf(tag + n, sizeof tag - n, "%s%d@%d", s ? "," : "=", c->lens[s], q0[s]);
    const char *split = getenv("GRPO_CUDA_DKDV_SPLIT");
    if (split && n < (int)sizeof tag) snprintf(tag + n, sizeof tag - n, " dkdv_split=%s", split);
    float *q = randc(nq, 1.5f), *k = randc(nk, 1.5f), *v = randc(nk, 1.0f), *dout = randc(nq, 1.0f);
    float *out = hmalloc(nq * 4), *lse = hmalloc((size_t)T * c->nh * 4);
    float *dq = randc(nq, 1.0f), *dk = randc(nk, 1.0f), *dv = randc(nk, 1.0f); // dq is overwritten, dk/dv +=
    void *d_q = devc(q, nq), *d_k = devc(k, nk), *d_v = devc(v, nk), *d_out = devc(NULL, nq);
    void *d_lse = dev(NULL, (size_t)T * c->nh * 4), *d_qs = dev(qs, (size_t)(S + 1) * 4), *d_ks = dev(ks, (size_t)S * 4);
    void *d_q0 = dev(q0, (size_t)S * 4), *d_dout = devc(dout, nq), *d_dq = devc(dq, nq), *d_dk = devc(dk, nk);
    void *d_dv = devc(dv, nk);
    snprintf(w, sizeof w, "attention_forward %s%s", tag, with_lse ? "" : " lse=NULL");
    ok(gpu->attention_forward(gpu, d_out, with_lse ? d_lse : NULL, d_q, d_k, d_v, d_qs, d_ks, d_q0, S, T, c->nh, c->nkv,
                              c->hd),
       w);
    CHECK(cpu->attention_forward(cpu, out, lse, q, k, v, qs, ks, q0, S, T, c->nh, c->nkv, c->hd) == GRPO_OK, "%s",
          grpo_errmsg());
    // The bounds need the backward's inputs too: the CPU's out as the GPU's
    // backward gets it (bf16-rounded in a bf16 run).
    float *bout = NULL, *bdq = NULL, *bdk = NULL, *bdv = NULL;
    float *out_b = hmalloc(nq * 4);
    memcpy(out_b, out, nq * 4);
    if (bf16) tu_bf16_round_all(out_b, nq);
    if (attn_tc(c->hd) && !c->forward_only) {
        bout = hmalloc(nq * 4), bdq = hmalloc(nq * 4), bdk = hmalloc(nk * 4), bdv = hmalloc(nk * 4);
        attn_tc_bounds(bout, bdq, bdk, bdv, q, k, v, out_b, dout, lse, qs, ks, q0, S, c->nh, c->nkv, c->hd, nk);
    }
    if (bout && T != S) cmpc_bound(w, d_out, out, bout, nq, RED_ATOL, RED_RTOL);
    else cmpc(w, d_out, out, nq, RED_ATOL, RED_RTOL);
    if (!with_lse) {
        release_all();
        return;
    }
    snprintf(w, sizeof w, "attention_forward lse %s", tag);
    cmp(w, d_lse, lse, (size_t)T * c->nh, RED_ATOL, RED_RTOL);
    if (c->forward_only) {
        test_attention_row_alone(c, d_out, d_q, d_k, d_v, qs, ks, q0);
        release_all();
        return;
    }
    // Backward from the CPU's out (bf16-rounded in a bf16 run, for both) and
    // lse on both, so only the backward is compared.
    memcpy(out, out_b, nq * 4);
    d_out = devc(out, nq);
    CHECK(gpu->to_device(gpu, d_lse, lse, (size_t)T * c->nh * 4) == GRPO_OK, "%s", grpo_errmsg());
    snprintf(w, sizeof w, "attention_backward %s", tag);
    ok(gpu->attention_backward(gpu, d_dq, d_dk, d_dv, d_dout, d_q, d_k, d_v, d_out, d_lse, d_qs, d_ks, d_q0, S, T, c->nh,
                               c->nkv, c->hd),
       w);
    CHECK(cpu->attention_backward(cpu, dq, dk, dv, dout, q, k, v, out, lse, qs, ks, q0, S, T, c->nh, c->nkv, c->hd) ==
              GRPO_OK,
          "%s", grpo_errmsg());
    snprintf(w, sizeof w, "attention_backward dq %s", tag);
    if (bdq) cmpc_bound(w, d_dq, dq, bdq, nq, RED_ATOL, RED_RTOL);
    else cmpc(w, d_dq, dq, nq, RED_ATOL, RED_RTOL);
    snprintf(w, sizeof w, "attention_backward dk %s", tag);
    if (bdk) cmpc_bound(w, d_dk, dk, bdk, nk, RED_ATOL, RED_RTOL);
    else cmpc(w, d_dk, dk, nk, RED_ATOL, RED_RTOL);
    snprintf(w, sizeof w, "attention_backward dv %s", tag);
    if (bdv) cmpc_bound(w, d_dv, dv, bdv, nk, RED_ATOL, RED_RTOL);
    else cmpc(w, d_dv, dv, nk, RED_ATOL, RED_RTOL);
    release_all();
}

// A decode call whose rows are split (300 keys: 2 splits, then the merge)
// captured as a graph and replayed must equal the eager call bit for bit: no
// allocation or synchronisation inside, and the same kernels and arguments.
static void test_attention_decode_graph(void) {
    if (!gpu->graph_begin) return; // the CPU playing the GPU has no graphs
    const int S = 2, nh = 4, nkv = 2, hd = 64, maxlen = 301;
    int32_t qs[3] = {0, 1, 2}, ks[2] = {0, maxlen}, q0[2] = {300, 5};
    size_t nq = (size_t)S * nh * hd, nk = (size_t)S * maxlen * nkv * hd;
    float *q = randc(nq, 1.5f), *k = randc(nk, 1.5f), *v = randc(nk, 1.0f);
    void *d_q = devc(q, nq), *d_k = devc(k, nk), *d_v = devc(v, nk), *d_o1 = devc(NULL, nq), *d_o2 = devc(NULL, nq);
    void *d_l1 = dev(NULL, (size_t)S * nh * 4), *d_l2 = dev(NULL, (size_t)S * nh * 4), *d_qs = dev(qs, sizeof qs);
    void *d_ks = dev(ks, sizeof ks), *d_q0 = dev(q0, sizeof q0), *graph = NULL;
    ok(gpu->attention_forward(gpu, d_o1, d_l1, d_q, d_k, d_v, d_qs, d_ks, d_q0, S, S, nh, nkv, hd), "decode eager");
    CHECK(gpu->graph_begin(gpu) == GRPO_OK, "graph_begin: %s", grpo_errmsg());
    int st = gpu->attention_forward(gpu, d_o2, d_l2, d_q, d_k, d_v, d_qs, d_ks, d_q0, S, S, nh, nkv, hd);
    CHECK(st == GRPO_OK, "decode attention inside a capture: %s", grpo_errmsg());
    CHECK(gpu->graph_end(gpu, &graph) == GRPO_OK && graph, "graph_end: %s", grpo_errmsg());
    if (graph) {
        ok(gpu->graph_launch(gpu, graph), "decode graph_launch");
        float *o1 = hostc(d_o1, nq), *o2 = hostc(d_o2, nq), *l1 = host(d_l1, (size_t)S * nh);
        float *l2 = host(d_l2, (size_t)S * nh);
        CHECK(!memcmp(o1, o2, nq * sizeof(float)) && !memcmp(l1, l2, (size_t)S * nh * sizeof(float)),
              "%s decode attention: the graph's out or lse differs from the eager call's", bf16 ? "bf16" : "fp32");
        gpu->graph_free(gpu, graph);
    }
    release_all();
}

static void test_attention_bad_args(void) {
    int32_t qs[3] = {0, 2, 5}, ks[2] = {0, 2}, q0[2] = {0, 0};
    float *q = randc(5 * 8, 1.0f);
    void *d_q = devc(q, 5 * 8), *d_o = devc(NULL, 5 * 8), *d_qs = dev(qs, sizeof qs), *d_ks = dev(ks, sizeof ks);
    void *d_q0 = dev(q0, sizeof q0);
    CHECK(gpu->attention_forward(gpu, d_o, NULL, d_q, d_q, d_q, d_qs, d_ks, d_q0, 2, 5, 3, 2, 8) == GRPO_EINVAL,
          "heads not a multiple of kv heads must fail");
    CHECK(gpu->attention_forward(gpu, d_o, NULL, d_q, d_q, d_q, d_qs, d_ks, d_q0, 2, 5, 1, 1, 300) != GRPO_OK,
          "head_dim above 256 must fail");
    // q_start ending at 5 while T = 4: found on the device, reported at sync
    CHECK(gpu->attention_forward(gpu, d_o, NULL, d_q, d_q, d_q, d_qs, d_ks, d_q0, 2, 4, 1, 1, 8) == GRPO_OK, "%s",
          grpo_errmsg());
    int st = gpu->sync(gpu);
    CHECK(st == GRPO_EINVAL && strstr(grpo_errmsg(), "q_start"), "bad q_start: status %d, '%s'", st, grpo_errmsg());
    release_all();
}

// ---------------------------------------------------------------- the profiler's clock
// kernels/profile.h on this backend: its timer (CUDA events) gives each op a
// time, results pass through unchanged, and inside a graph capture the ops are
// only recorded (no timer: a capture cannot wait), the replay being one row.
static void test_profile(void) {
    size_t n = 1000;
    float *x = randc(n, 1.0f), *y = randc(n, 1.0f);
    void *dx = devc(x, n), *dy = devc(y, n), *d1 = devc(NULL, n), *d2 = devc(NULL, n);
    ok(gpu->add(gpu, d1, dx, dy, n), "add unprofiled");
    CHECK(prof_start(gpu) == GRPO_OK, "prof_start: %s", grpo_errmsg());
    ok(gpu->add(gpu, d2, dx, dy, n), "add profiled");
    ok(gpu->add(gpu, d2, dx, dy, n), "add profiled again");
    float *h1 = hostc(d1, n), *h2 = hostc(d2, n);
    CHECK(!memcmp(h1, h2, n * sizeof(float)), "add differs under the profiler");
    int rows;
    double total;
    const ProfRow *r = prof_rows(gpu, &rows, &total);
    int found = 0;
    for (int i = 0; i < rows; i++)
        if (!strcmp(r[i].name, "add")) {
            found = 1;
            CHECK(r[i].calls == 2 && r[i].seconds >= 0 && r[i].seconds < 10, "add row: %ld calls, %g s", r[i].calls,
                  r[i].seconds);
        }
    CHECK(found, "no add row (%d rows)", rows);
    if (gpu->graph_begin) {
        prof_reset(gpu);
        void *graph = NULL;
        CHECK(gpu->graph_begin(gpu) == GRPO_OK, "graph_begin: %s", grpo_errmsg());
        int st = gpu->add(gpu, d2, dx, d2, n);
        CHECK(st == GRPO_OK, "add inside a profiled capture: %s", grpo_errmsg());
        CHECK(gpu->graph_end(gpu, &graph) == GRPO_OK && graph, "graph_end: %s", grpo_errmsg());
        prof_rows(gpu, &rows, NULL);
        CHECK(rows == 0, "%d rows from a capture", rows);
        if (graph) {
            ok(gpu->graph_launch(gpu, graph), "profiled graph_launch");
            r = prof_rows(gpu, &rows, NULL);
            CHECK(rows == 1 && !strcmp(r[0].name, "graph_launch (a captured step)") && r[0].calls == 1,
                  "replay rows: %d, first %s", rows, rows ? r[0].name : "-");
            gpu->graph_free(gpu, graph);
            float *h3 = hostc(d2, n);
            int same = 1;
            for (size_t i = 0; i < n; i++) same &= fabsf(h3[i] - (h2[i] + x[i])) <= 1e-2f * (1 + fabsf(h3[i]));
            CHECK(same, "the profiled capture's replay computed something else");
        }
    }
    prof_stop(gpu);
    CHECK(gpu->profile == NULL, "prof_stop left the profile");
    release_all();
}

// ---------------------------------------------------------------- swiglu, add, bias, scatter
static void test_elementwise(size_t n) {
    char w[160];
    float *g = randc(n, 4.0f), *u = randc(n, 2.0f), *dout = randc(n, 1.0f);
    float *out = hmalloc(n * 4), *dg = hmalloc(n * 4), *du = hmalloc(n * 4), *sum = hmalloc(n * 4);
    void *d_g = devc(g, n), *d_u = devc(u, n), *d_do = devc(dout, n), *d_out = devc(NULL, n);
    void *d_dg = devc(NULL, n), *d_du = devc(NULL, n);
    snprintf(w, sizeof w, "swiglu_forward n=%zu", n);
    ok(gpu->swiglu_forward(gpu, d_out, d_g, d_u, n), w);
    cpu->swiglu_forward(cpu, out, g, u, n);
    cmpc(w, d_out, out, n, EW_ATOL, EW_RTOL);
    snprintf(w, sizeof w, "swiglu_backward dgate n=%zu", n);
    ok(gpu->swiglu_backward(gpu, d_dg, d_du, d_do, d_g, d_u, n), w);
    cpu->swiglu_backward(cpu, dg, du, dout, g, u, n);
    cmpc(w, d_dg, dg, n, EW_ATOL, EW_RTOL);
    snprintf(w, sizeof w, "swiglu_backward dup n=%zu", n);
    cmpc(w, d_du, du, n, EW_ATOL, EW_RTOL);
    snprintf(w, sizeof w, "add n=%zu (out aliases x)", n);
    ok(gpu->add(gpu, d_g, d_g, d_u, n), w);
    cpu->add(cpu, sum, g, u, n);
    cmpc_exact(w, d_g, sum, n); // leaves sum rounded as d_g holds it
    snprintf(w, sizeof w, "swiglu_forward n=%zu (out aliases gate)", n);
    ok(gpu->swiglu_forward(gpu, d_g, d_g, d_u, n), w);
    cpu->swiglu_forward(cpu, sum, sum, u, n);
    cmpc(w, d_g, sum, n, EW_ATOL, EW_RTOL);
    release_all();
}

static void test_bias(int T, int N) {
    char w[160];
    float *out = randc((size_t)T * N, 1.0f), *bias = randc(N, 1.0f), *dout = randc((size_t)T * N, 1.0f);
    float *db = randf(N, 1.0f);
    void *d_out = devc(out, (size_t)T * N), *d_b = devc(bias, (size_t)N), *d_do = devc(dout, (size_t)T * N);
    void *d_db = dev(db, (size_t)N * 4);
    snprintf(w, sizeof w, "bias_forward T=%d N=%d", T, N);
    ok(gpu->bias_forward(gpu, d_out, d_b, T, N), w);
    cpu->bias_forward(cpu, out, bias, T, N);
    cmpc_exact(w, d_out, out, (size_t)T * N);
    snprintf(w, sizeof w, "bias_backward T=%d N=%d", T, N);
    ok(gpu->bias_backward(gpu, d_db, d_do, T, N), w);
    cpu->bias_backward(cpu, db, dout, T, N);
    cmp(w, d_db, db, (size_t)N, RED_ATOL, RED_RTOL);
    release_all();
}

static void test_scatter(int n, int dim, int dst_rows) {
    char w[160];
    float *src = randc((size_t)n * dim, 1.0f), *dst = randc((size_t)dst_rows * dim, 1.0f);
    int32_t *rows = hmalloc((size_t)n * 4);
    for (int i = 0; i < n; i++) rows[i] = (int32_t)((i * 7 + 3) % dst_rows); // distinct while n <= dst_rows, 7 coprime
    void *d_src = devc(src, (size_t)n * dim), *d_dst = devc(dst, (size_t)dst_rows * dim), *d_rows = dev(rows, (size_t)n * 4);
    snprintf(w, sizeof w, "scatter_rows n=%d dim=%d into %d rows", n, dim, dst_rows);
    ok(gpu->scatter_rows(gpu, d_dst, d_src, d_rows, n, dim), w);
    cpu->scatter_rows(cpu, dst, src, rows, n, dim);
    cmpc_exact(w, d_dst, dst, (size_t)dst_rows * dim);
    release_all();
}

// ---------------------------------------------------------------- logprob
static void test_logprob(int T, int V, float inv_temp, int optional_outputs) {
    char w[160];
    float *logits = randf((size_t)T * V, 6.0f), *dlogp = randf(T, 1.0f);
    int32_t *tg = hmalloc((size_t)T * 4);
    for (int t = 0; t < T; t++) {
        tg[t] = (int32_t)(tu_rand_u64(&rng) % (uint64_t)V);
        if (t % 5 == 4) tg[t] = -1; // no target
        if (t % 7 == 3) dlogp[t] = 0.0f;
    }
    float *lp = hmalloc((size_t)T * 4), *ent = hmalloc((size_t)T * 4), *lse = hmalloc((size_t)T * 4);
    float *dl = hmalloc((size_t)T * V * 4);
    void *d_lg = dev(logits, (size_t)T * V * 4), *d_tg = dev(tg, (size_t)T * 4), *d_lp = dev(NULL, (size_t)T * 4);
    void *d_ent = dev(NULL, (size_t)T * 4), *d_lse = dev(NULL, (size_t)T * 4), *d_dlp = dev(dlogp, (size_t)T * 4);
    void *d_dl = devc(NULL, (size_t)T * V);
    snprintf(w, sizeof w, "logprob_forward T=%d V=%d inv_temp=%g%s", T, V, inv_temp, optional_outputs ? "" : " (logp only)");
    ok(gpu->logprob_forward(gpu, d_lp, optional_outputs ? d_ent : NULL, optional_outputs ? d_lse : NULL, d_lg, d_tg, T, V,
                            inv_temp),
       w);
    CHECK(cpu->logprob_forward(cpu, lp, ent, lse, logits, tg, T, V, inv_temp) == GRPO_OK, "%s", grpo_errmsg());
    cmp(w, d_lp, lp, (size_t)T, RED_ATOL, RED_RTOL);
    if (!optional_outputs) {
        release_all();
        return;
    }
    snprintf(w, sizeof w, "logprob_forward entropy T=%d V=%d inv_temp=%g", T, V, inv_temp);
    cmp(w, d_ent, ent, (size_t)T, RED_ATOL, RED_RTOL);
    snprintf(w, sizeof w, "logprob_forward lse T=%d V=%d inv_temp=%g", T, V, inv_temp);
    cmp(w, d_lse, lse, (size_t)T, RED_ATOL, RED_RTOL);
    CHECK(gpu->to_device(gpu, d_lse, lse, (size_t)T * 4) == GRPO_OK, "%s", grpo_errmsg());
    snprintf(w, sizeof w, "logprob_backward T=%d V=%d inv_temp=%g", T, V, inv_temp);
    ok(gpu->logprob_backward(gpu, d_dl, d_dlp, d_lg, d_tg, d_lse, T, V, inv_temp), w);
    cpu->logprob_backward(cpu, dl, dlogp, logits, tg, lse, T, V, inv_temp);
    cmpc(w, d_dl, dl, (size_t)T * V, EW_ATOL, RED_RTOL);
    if (bf16) {
        // bf16 rows over fp32 logits would overwrite rows not yet read.
        CHECK(gpu->logprob_backward(gpu, d_lg, d_dlp, d_lg, d_tg, d_lse, T, V, inv_temp) == GRPO_EINVAL,
              "bf16 logprob_backward in place must be refused");
        release_all();
        return;
    }
    // In place, as model_backward calls it in fp32 (dlogits aliases logits).
    snprintf(w, sizeof w, "logprob_backward in place T=%d V=%d inv_temp=%g", T, V, inv_temp);
    ok(gpu->logprob_backward(gpu, d_lg, d_dlp, d_lg, d_tg, d_lse, T, V, inv_temp), w);
    cmp(w, d_lg, dl, (size_t)T * V, EW_ATOL, RED_RTOL);
    release_all();
}

static void test_logprob_bad_target(void) {
    float *logits = randf(2 * 10, 1.0f);
    int32_t tg[2] = {3, 10};
    void *d_lg = dev(logits, 2 * 10 * 4), *d_tg = dev(tg, sizeof tg), *d_lp = dev(NULL, 2 * 4);
    CHECK(gpu->logprob_forward(gpu, d_lp, NULL, NULL, d_lg, d_tg, 2, 10, 1.0f) == GRPO_OK, "%s", grpo_errmsg());
    int st = gpu->sync(gpu);
    CHECK(st == GRPO_EINVAL && strstr(grpo_errmsg(), "target 10 at row 1"), "bad target: status %d, '%s'", st,
          grpo_errmsg());
    release_all();
}

// Empty inputs are no-ops, as on the CPU.
static void test_zero_sizes(void) {
    void *d = dev(NULL, 64);
    CHECK(gpu->embedding_forward(gpu, d, d, d, 0, 8, 8) == GRPO_OK, "%s", grpo_errmsg());
    CHECK(gpu->embedding_backward(gpu, d, d, d, 0, 8, 8) == GRPO_OK, "%s", grpo_errmsg());
    CHECK(gpu->rmsnorm_forward(gpu, d, d, d, d, 0, 8, 1e-6f) == GRPO_OK, "%s", grpo_errmsg());
    CHECK(gpu->rmsnorm_backward(gpu, d, d, d, d, d, d, 0, 8) == GRPO_OK, "%s", grpo_errmsg());
    CHECK(gpu->rope_forward(gpu, d, d, d, 0, 2, 8) == GRPO_OK, "%s", grpo_errmsg());
    CHECK(gpu->attention_forward(gpu, d, d, d, d, d, d, d, d, 0, 0, 2, 1, 8) == GRPO_OK, "%s", grpo_errmsg());
    CHECK(gpu->attention_backward(gpu, d, d, d, d, d, d, d, d, d, d, d, d, 0, 0, 2, 1, 8) == GRPO_OK, "%s",
          grpo_errmsg());
    CHECK(gpu->swiglu_forward(gpu, d, d, d, 0) == GRPO_OK, "%s", grpo_errmsg());
    CHECK(gpu->swiglu_backward(gpu, d, d, d, d, d, 0) == GRPO_OK, "%s", grpo_errmsg());
    CHECK(gpu->logprob_forward(gpu, d, d, d, d, d, 0, 8, 1.0f) == GRPO_OK, "%s", grpo_errmsg());
    CHECK(gpu->logprob_backward(gpu, d, d, d, d, d, 0, 8, 1.0f) == GRPO_OK, "%s", grpo_errmsg());
    CHECK(gpu->add(gpu, d, d, d, 0) == GRPO_OK, "%s", grpo_errmsg());
    CHECK(gpu->bias_forward(gpu, d, d, 0, 8) == GRPO_OK, "%s", grpo_errmsg());
    CHECK(gpu->bias_backward(gpu, d, d, 0, 8) == GRPO_OK, "%s", grpo_errmsg());
    CHECK(gpu->scatter_rows(gpu, d, d, d, 0, 8) == GRPO_OK, "%s", grpo_errmsg());
    CHECK(gpu->sync(gpu) == GRPO_OK, "%s", grpo_errmsg());
    release_all();
}

// Every case once, in gpu's current compute dtype.
static void run_rows(int self) {
    static const int Ts[] = {1, 7, 33, 130}, Cs[] = {64, 96, 200};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) {
            test_embedding(Ts[i], Cs[j], j == 2 ? 1000 : 263);
            test_rmsnorm(Ts[i], Cs[j], 1);
            test_bias(Ts[i], Cs[j]);
        }
    test_rmsnorm(7, 4099, 1); // a row longer than the block
    test_rmsnorm(33, 200, 0);
    test_bias(130, 263);
    if (!self) test_embedding_bad_id(); // the CPU reports bad data from the op itself
}

static void run_rope(void) {
    static const int hds[] = {32, 64, 128, 256, 80, 6};
    for (int i = 0; i < 6; i++) {
        test_rope(1, 4, hds[i]);
        test_rope(33, 2, hds[i]);
        test_rope(130, 8, hds[i]);
    }
}

static void run_attention(int self) {
    static const AttnCase cases[] = {
        {4, 2, 32, 1, {7}, {0}, 0, 0},
        {4, 2, 64, 3, {1, 33, 7}, {0}, 0, 0},
        {8, 1, 128, 2, {130, 5}, {0}, 0, 0},
        {8, 1, 64, 3, {33, 1, 2}, {0}, 0, 0},
        {4, 4, 32, 1, {17}, {0}, 0, 0},
        {2, 1, 256, 2, {9, 3}, {0}, 0, 0},
        {4, 2, 80, 2, {11, 6}, {0}, 0, 0},
        {2, 1, 16, 1, {5}, {0}, 0, 0},
        // decoding: one new row per sequence at different cache lengths
        {4, 2, 64, 3, {1, 1, 1}, {0, 5, 40}, 1, 0},
        {8, 1, 128, 4, {1, 1, 1, 1}, {130, 0, 7, 33}, 1, 0},
        // chunked prefill on top of a cache, and a fresh prompt beside it
        {4, 2, 32, 3, {3, 1, 6}, {4, 0, 17}, 1, 0},
        {8, 2, 64, 2, {33, 7}, {0, 20}, 1, 0},
        // decoding over long caches (T == S): ragged key counts from 1 to 3000, so
        // rows use 1 to 12 splits; GQA groups 7, 2, 1, 3 and 16 (two passes of 8);
        // head_dim 64, 128 and 256 (16-byte loads), 40, 24 and 72 (16-byte loads,
        // idle lanes), 30, 50 and 130 (the scalar path) and 100 (scalar in bf16)
        {14, 2, 64, 5, {1, 1, 1, 1, 1}, {0, 299, 1000, 2999, 17}, 1, 1},
        {4, 2, 128, 3, {1, 1, 1}, {511, 0, 64}, 1, 1},
        {3, 3, 40, 3, {1, 1, 1}, {700, 2, 256}, 1, 1},
        {6, 2, 24, 2, {1, 1}, {257, 40}, 1, 1},
        {6, 2, 30, 2, {1, 1}, {600, 1}, 1, 1},
        {2, 2, 100, 2, {1, 1}, {300, 9}, 1, 1},
        {2, 1, 72, 2, {1, 1}, {1100, 0}, 1, 1},
        {2, 1, 256, 2, {1, 1}, {520, 3}, 1, 1},
        {16, 1, 32, 2, {1, 1}, {300, 5}, 1, 1},
        {4, 2, 50, 2, {1, 1}, {270, 4}, 1, 1},
        {2, 1, 130, 1, {1}, {260}, 1, 1},
        // T == S without one row per sequence: the decode kernel serves any offsets
        {4, 2, 64, 3, {0, 2, 1}, {5, 300, 0}, 1, 1},
        // several 64-row tiles on both sides (the tensor-core path's tiling),
        // every head-dim bucket, a head_dim that is no multiple of 8 (scalar
        // tile loads), and prefill of long prompts on top of a cache
        {4, 2, 64, 2, {150, 70}, {0}, 0, 0},
        {2, 2, 96, 2, {100, 64}, {0}, 0, 0},
        {4, 1, 20, 3, {65, 1, 129}, {0}, 0, 0},
        {2, 1, 24, 1, {80}, {0}, 0, 0},
        {4, 2, 64, 2, {80, 10}, {100, 0}, 1, 0},
    };
    // In bf16 the tensor-core dK/dV runs one block per kv head, or with
    // GRPO_CUDA_DKDV_SPLIT=1 one per query head and a fixed-order sum of each
    // group (the backend picks by grid size); the GQA cases with a backward
    // run both ways.
    const char *split0 = getenv("GRPO_CUDA_DKDV_SPLIT");
    char *saved = split0 ? strdup(split0) : NULL;
    if (bf16) setenv("GRPO_CUDA_DKDV_SPLIT", "0", 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) test_attention(&cases[i], 1);
    if (bf16) {
        setenv("GRPO_CUDA_DKDV_SPLIT", "1", 1);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            if (cases[i].nh != cases[i].nkv && !cases[i].forward_only && cases[i].hd <= 128)
                test_attention(&cases[i], 1);
        if (saved) setenv("GRPO_CUDA_DKDV_SPLIT", saved, 1);
        else unsetenv("GRPO_CUDA_DKDV_SPLIT");
    }
    free(saved);
    test_attention(&cases[1], 0);
    test_attention(&cases[8], 0);
    test_attention(&cases[12], 0); // split rows without lse
    test_attention_decode_graph();
    if (!self) test_attention_bad_args();
}

static void run_elementwise(void) {
    test_profile();
    static const size_t ns[] = {1, 7, 1000, 33 * 200 + 1};
    for (int i = 0; i < 4; i++) test_elementwise(ns[i]);
    test_scatter(1, 96, 5);
    test_scatter(7, 200, 50);
    test_scatter(33, 64, 40);
}

static void run_logprob(int self) {
    static const int Vs[] = {263, 1000, 32001};
    for (int i = 0; i < 3; i++) {
        test_logprob(1, Vs[i], 1.0f, 1);
        test_logprob(7, Vs[i], 1.0f / 0.7f, 1);
        test_logprob(33, Vs[i], 1.0f, 1);
    }
    test_logprob(7, 1000, 1.0f, 0);
    if (!self) test_logprob_bad_target();
}

static const char *const groups[] = {"rows", "rope", "attention", "elementwise", "logprob"};

static void run_all(int self) {
    if (tu_only("rows")) run_rows(self);
    if (tu_only("rope")) run_rope();
    if (tu_only("attention")) run_attention(self);
    if (tu_only("elementwise")) run_elementwise();
    if (tu_only("logprob")) run_logprob(self);
    test_zero_sizes();
}

int main(void) {
    const char *name = "test_cuda_ops";
    if (!tu_only_valid(groups, sizeof groups / sizeof groups[0])) return 2;
    // GRPO_TEST_PRECISION=fp32 or bf16 runs one half (for compute-sanitizer).
    const char *prec = getenv("GRPO_TEST_PRECISION");
    if (prec && strcmp(prec, "fp32") && strcmp(prec, "bf16")) {
        fprintf(stderr, "GRPO_TEST_PRECISION: '%s' is neither fp32 nor bf16\n", prec);
        return 2;
    }
    int rc = tu_open_gpu(name, &gpu);
    if (!gpu) return rc;
    // With GRPO_TEST_DEVICE=cpu the CPU plays the GPU: a check of the test itself.
    const int self = gpu->kind == BACKEND_CPU;
    CHECK(backend_open("cpu", &cpu) == GRPO_OK, "%s", grpo_errmsg());
    if (!cpu) return tu_finish(name);
    printf("%s on %s\n", name, gpu->device_name);

    // No model is built on gpu here, so switching its compute dtype between
    // runs is safe (backend.h: fixed once a model exists).
    gpu->cdt = BE_F32;
    bf16 = 0;
    if (!prec || !strcmp(prec, "fp32")) run_all(self);
    int fp32_checks = tu_checks, fp32_failures = tu_failures;
    printf("%s: fp32: %d passed, %d failed\n", name, fp32_checks - fp32_failures, fp32_failures);
    if (prec && !strcmp(prec, "fp32")) {
        printf("%s: bf16: not run (GRPO_TEST_PRECISION=fp32)\n", name);
    } else if (self) {
        printf("%s: bf16: SKIPPED: the cpu backend computes in fp32 only\n", name);
    } else {
        gpu->cdt = BE_BF16;
        bf16 = 1;
        run_all(self);
        printf("%s: bf16: %d passed, %d failed\n", name, tu_checks - fp32_checks - (tu_failures - fp32_failures),
               tu_failures - fp32_failures);
    }

    backend_close(gpu);
    backend_close(cpu);
    return tu_finish(name);
}
