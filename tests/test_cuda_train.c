// The CUDA backend's training and sampling ops against the CPU backend:
// AdamW, sum of squares and scale on random buffers of odd sizes; sampling's
// empirical frequencies against the exact truncated distribution (chi-square),
// seeded determinism and the RNG's advance; one whole GRPO update step
// (forward, loss, backward, clip, AdamW) and greedy generation on a tiny model
// from the same weights. The bf16 side: AdamW's working copy (params_cd) is
// exactly the new params rounded, convert matches the CPU's bit for bit over
// every bf16 pattern, and a NaN or inf in bf16 data still reaches the
// gradient norm. Skipped, saying why, where no usable GPU exists; with
// GRPO_TEST_DEVICE=cpu the bf16-compute parts report themselves skipped.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/rng.h"
#include "policy/generate.h"
#include "policy/model.h"
#include "policy/sampler.h"
#include "rl/optim.h"
#include "rl/update.h"
#include "testlib.h"
#include "tu_bf16.h"

static Backend *cpu, *gpu;
static int self; // GRPO_TEST_DEVICE=cpu: the CPU plays the GPU (fp32 compute only)

static void *dev_copy(const void *h, size_t bytes) {
    void *d = NULL;
    CHECK(gpu->alloc(gpu, &d, bytes) == GRPO_OK, "%s", grpo_errmsg());
    if (d && h) CHECK(gpu->to_device(gpu, d, h, bytes) == GRPO_OK, "%s", grpo_errmsg());
    return d;
}

static void get(void *h, const void *d, size_t bytes) {
    CHECK(gpu->to_host(gpu, h, d, bytes) == GRPO_OK, "%s", grpo_errmsg());
}

// ---------------------------------------------------------------- optimizer ops

static void test_optim_ops(void) {
    const size_t sizes[] = {1, 7, 1000, 65537, 1000003};
    uint64_t r = 5;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        float *p = malloc(n * 4), *m = calloc(n, 4), *v = calloc(n, 4), *g = malloc(n * 4), *out = malloc(n * 4);
        for (size_t i = 0; i < n; i++) p[i] = tu_rand_uniform(&r), g[i] = tu_rand_uniform(&r) * 0.01f * (float)(i % 5 + 1);
        float *dp = dev_copy(p, n * 4), *dm = dev_copy(NULL, n * 4), *dv = dev_copy(NULL, n * 4), *dg = dev_copy(g, n * 4);
        AdamWConfig ac = {1e-3, 0.9, 0.999, 1e-8, 0.1};
        for (long t = 1; t <= 3; t++) {
            BackendAdamW h = adamw_constants(&ac, 1e-3 * (double)t, t);
            CHECK(cpu->adamw(cpu, p, NULL, m, v, g, n, &h) == GRPO_OK, "cpu adamw");
            CHECK(gpu->adamw(gpu, dp, NULL, dm, dv, dg, n, &h) == GRPO_OK, "cuda adamw: %s", grpo_errmsg());
        }
        const float *want[3] = {p, m, v};
        float *have[3] = {dp, dm, dv};
        const char *what[3] = {"params", "exp_avg", "exp_avg_sq"};
        for (int j = 0; j < 3; j++) {
            get(out, have[j], n * 4);
            // Relative to the buffer's largest value: an element that cancels
            // to near zero must not turn a rounding difference into a failure.
            double worst = 0, scale = 0;
            for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[j][i]));
            for (size_t i = 0; i < n; i++) {
                double e = fabs((double)out[i] - want[j][i]);
                if (!(e <= worst)) worst = e;
            }
            worst /= scale > 0 ? scale : 1;
            CHECK(worst < 1e-6, "n=%zu: adamw %s max err %g of the largest value", n, what[j], worst);
            if (memcmp(out, want[j], n * 4)) // expected equal bit for bit (explicit rounding), not required
                printf("test_cuda_train: NOTE: n=%zu adamw %s not bit-identical to the CPU's\n", n, what[j]);
        }
        double sc, sg;
        CHECK(cpu->sumsq(cpu, &sc, g, n) == GRPO_OK && gpu->sumsq(gpu, &sg, dg, n) == GRPO_OK, "sumsq: %s", grpo_errmsg());
        CHECK(fabs(sg - sc) <= 1e-12 * sc, "n=%zu: sumsq %.17g vs cpu %.17g", n, sg, sc);
        double sg2;
        CHECK(gpu->sumsq(gpu, &sg2, dg, n) == GRPO_OK && sg2 == sg, "n=%zu: sumsq not deterministic", n);
        CHECK(cpu->scale(cpu, g, 0.37f, n) == GRPO_OK && gpu->scale(gpu, dg, 0.37f, n) == GRPO_OK, "scale");
        get(out, dg, n * 4);
        CHECK(!memcmp(out, g, n * 4), "n=%zu: scale differs from the cpu's", n);
        // Non-finite values reach the norm: the trainer's skip test.
        float bad[2] = {NAN, INFINITY};
        for (int j = 0; j < 2; j++) {
            CHECK(gpu->to_device(gpu, dg + n / 2, &bad[j], 4) == GRPO_OK, "poison");
            CHECK(gpu->sumsq(gpu, &sg, dg, n) == GRPO_OK && !isfinite(sg), "n=%zu: %g in the buffer, sumsq %g", n, bad[j], sg);
        }
        gpu->free(gpu, dp), gpu->free(gpu, dm), gpu->free(gpu, dv), gpu->free(gpu, dg);
        free(p), free(m), free(v), free(g), free(out);
    }
}

// AdamW with the working copy: params_cd (n, cdt) must be the new fp32 params
// rounded to the compute dtype, bit for bit, after every step, and the fp32
// params must still match the CPU's update (which keeps no working copy).
static void test_adamw_working_copy(BackendDtype cdt) {
    const size_t sizes[] = {1, 7, 1000, 65537};
    const size_t es = cdt == BE_BF16 ? 2 : 4;
    uint64_t r = 17;
    gpu->cdt = cdt;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        float *p = malloc(n * 4), *m = calloc(n, 4), *v = calloc(n, 4), *g = malloc(n * 4), *out = malloc(n * 4);
        void *cd = malloc(n * es);
        for (size_t i = 0; i < n; i++) p[i] = tu_rand_uniform(&r), g[i] = tu_rand_uniform(&r) * 0.01f * (float)(i % 3 + 1);
        float *dp = dev_copy(p, n * 4), *dm = dev_copy(NULL, n * 4), *dv = dev_copy(NULL, n * 4), *dg = dev_copy(g, n * 4);
        void *dcd = dev_copy(NULL, n * es);
        AdamWConfig ac = {1e-3, 0.9, 0.999, 1e-8, 0.1};
        for (long t = 1; t <= 2; t++) {
            BackendAdamW h = adamw_constants(&ac, 1e-3, t);
            CHECK(cpu->adamw(cpu, p, NULL, m, v, g, n, &h) == GRPO_OK, "cpu adamw");
            CHECK(gpu->adamw(gpu, dp, dcd, dm, dv, dg, n, &h) == GRPO_OK, "adamw with a %s working copy: %s",
                  backend_dtype_name(cdt), grpo_errmsg());
            get(out, dp, n * 4);
            get(cd, dcd, n * es);
            size_t bad = 0, first = 0;
            for (size_t i = 0; i < n; i++) {
                int same = cdt == BE_BF16 ? ((uint16_t *)cd)[i] == tu_f32_to_bf16(out[i])
                                          : !memcmp((float *)cd + i, out + i, 4);
                if (!same && !bad++) first = i;
            }
            CHECK(bad == 0, "n=%zu step %ld: %zu of the %s working copy's elements are not the params rounded "
                  "(first [%zu]: param %.9g)", n, t, bad, backend_dtype_name(cdt), first, n ? out[first] : 0.0f);
        }
        double worst = 0;
        for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)out[i] - p[i]));
        CHECK(worst < 1e-6, "n=%zu: adamw params with a %s working copy differ from the cpu's by %g", n,
              backend_dtype_name(cdt), worst);
        gpu->free(gpu, dp), gpu->free(gpu, dm), gpu->free(gpu, dv), gpu->free(gpu, dg), gpu->free(gpu, dcd);
        free(p), free(m), free(v), free(g), free(out), free(cd);
    }
    gpu->cdt = BE_F32;
}

static int is_nan_bf16(uint16_t h) { return (h & 0x7f80) == 0x7f80 && (h & 0x7f); }

// convert on the device against the CPU's convert (host memory): fp32 -> bf16
// rounds to nearest even with the same bits (NaN: any NaN; the CPU keeps the
// payload, CUDA's instruction gives its canonical NaN), bf16 -> fp32 is exact
// for every one of the 65536 patterns and the round trip gives them back.
static void test_convert(void) {
    const size_t nr = 4096, ns = 24, n = ns + nr;
    float *f = malloc(n * 4), *back = malloc(65536 * 4), *fc = malloc(65536 * 4);
    uint16_t *hb = malloc(n * 2), *cb = malloc(n * 2), *all = malloc(65536 * 2), *again = malloc(65536 * 2);
    const uint32_t special[24] = {
        0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0xffc00001u, 0x7f800001u, // 0, inf, NaNs
        0x7f7fffffu, 0xff7fffffu, 0x7f7f7fffu, 0x7f7f8000u,                                        // near the top
        0x00000001u, 0x807fffffu, 0x00008000u, 0x00018000u, 0x00800000u,                           // subnormals
        0x3f808000u, 0x3f818000u, 0x3f807fffu, 0x3f808001u, 0xbf808000u,                           // ties, near ties
        0x3f800000u, 0x40490fdbu, 0xc2f6e979u};
    for (size_t i = 0; i < ns; i++) memcpy(f + i, &special[i], 4);
    uint64_t r = 99;
    for (size_t i = ns; i < n; i++) f[i] = tu_rand_uniform(&r) * powf(2.0f, (float)((int)(tu_rand_u64(&r) % 80) - 40));
    void *df = dev_copy(f, n * 4), *db = dev_copy(NULL, n * 2);
    CHECK(gpu->convert(gpu, db, BE_BF16, df, BE_F32, n) == GRPO_OK, "convert f32->bf16: %s", grpo_errmsg());
    get(hb, db, n * 2);
    CHECK(cpu->convert(cpu, cb, BE_BF16, f, BE_F32, n) == GRPO_OK, "cpu convert: %s", grpo_errmsg());
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++) {
        int ok = is_nan_bf16(cb[i]) ? is_nan_bf16(hb[i]) : hb[i] == cb[i] && hb[i] == tu_f32_to_bf16(f[i]);
        if (!ok && !bad++) first = i;
    }
    CHECK(bad == 0, "convert f32->bf16: %zu of %zu differ from the cpu's (first [%zu]: %a -> 0x%04x, cpu 0x%04x)", bad,
          n, first, (double)f[first], hb[first], cb[first]);
    for (uint32_t i = 0; i < 65536; i++) all[i] = (uint16_t)i;
    void *dall = dev_copy(all, 65536 * 2), *dw = dev_copy(NULL, 65536 * 4), *dn = dev_copy(NULL, 65536 * 2);
    CHECK(gpu->convert(gpu, dw, BE_F32, dall, BE_BF16, 65536) == GRPO_OK, "convert bf16->f32: %s", grpo_errmsg());
    CHECK(gpu->convert(gpu, dn, BE_BF16, dw, BE_F32, 65536) == GRPO_OK, "convert f32->bf16: %s", grpo_errmsg());
    get(back, dw, 65536 * 4);
    get(again, dn, 65536 * 2);
    CHECK(cpu->convert(cpu, fc, BE_F32, all, BE_BF16, 65536) == GRPO_OK, "cpu convert: %s", grpo_errmsg());
    size_t bad_w = 0, bad_rt = 0;
    for (uint32_t i = 0; i < 65536; i++) {
        uint32_t u, uc;
        memcpy(&u, back + i, 4);
        memcpy(&uc, fc + i, 4);
        bad_w += u != i << 16 || uc != u;
        bad_rt += is_nan_bf16((uint16_t)i) ? !is_nan_bf16(again[i]) : again[i] != i;
    }
    CHECK(bad_w == 0, "convert bf16->f32: %zu of 65536 patterns not widened exactly", bad_w);
    CHECK(bad_rt == 0, "convert bf16->f32->bf16: %zu of 65536 patterns not given back", bad_rt);
    // Same type: a plain copy.
    CHECK(gpu->convert(gpu, dn, BE_BF16, dall, BE_BF16, 65536) == GRPO_OK, "%s", grpo_errmsg());
    get(again, dn, 65536 * 2);
    CHECK(!memcmp(again, all, 65536 * 2), "convert bf16->bf16 is not a copy");
    CHECK(gpu->convert(gpu, dw, BE_F32, df, BE_F32, n) == GRPO_OK, "%s", grpo_errmsg());
    get(back, dw, n * 4);
    CHECK(!memcmp(back, f, n * 4), "convert f32->f32 is not a copy");
    gpu->free(gpu, df), gpu->free(gpu, db), gpu->free(gpu, dall), gpu->free(gpu, dw), gpu->free(gpu, dn);
    free(f), free(back), free(fc), free(hb), free(cb), free(all), free(again);
}

// A NaN or inf in bf16 activations reaches the fp32 weight gradient a bf16
// matmul writes, and the gradient norm then says non-finite: the trainer's
// skip test holds in bf16.
static void test_bf16_nonfinite(void) {
    gpu->cdt = BE_BF16;
    const int M = 5, N = 7, K = 9;
    uint16_t a[5 * 9], bm[9 * 7];
    uint64_t r = 3;
    for (int i = 0; i < M * K; i++) a[i] = tu_f32_to_bf16(tu_rand_uniform(&r));
    for (int i = 0; i < K * N; i++) bm[i] = tu_f32_to_bf16(tu_rand_uniform(&r));
    void *da = dev_copy(a, sizeof a), *db = dev_copy(bm, sizeof bm);
    float *dc = dev_copy(NULL, (size_t)M * N * 4), c[5 * 7];
    double s;
    CHECK(gpu->matmul(gpu, dc, BE_F32, da, db, M, N, K, 0, 0, 1.0f, 0) == GRPO_OK && gpu->sumsq(gpu, &s, dc, M * N) == GRPO_OK &&
              isfinite(s) && s > 0,
          "finite bf16 matmul: sumsq %g (%s)", s, grpo_errmsg());
    const float bad[2] = {NAN, INFINITY};
    for (int j = 0; j < 2; j++) {
        uint16_t x = tu_f32_to_bf16(bad[j]);
        CHECK(gpu->to_device(gpu, (uint16_t *)da + 2 * K + 4, &x, 2) == GRPO_OK, "poison");
        CHECK(gpu->matmul(gpu, dc, BE_F32, da, db, M, N, K, 0, 0, 1.0f, 0) == GRPO_OK, "%s", grpo_errmsg());
        get(c, dc, sizeof c);
        int row_bad = 1;
        for (int i = 0; i < N; i++) row_bad &= !isfinite(c[2 * N + i]);
        CHECK(row_bad && isfinite(c[0]), "a %g in row 2 of a bf16 input: row 2 of the output should be non-finite, "
              "row 0 finite", bad[j]);
        CHECK(gpu->sumsq(gpu, &s, dc, M * N) == GRPO_OK && !isfinite(s), "%g in bf16 data: sumsq %g", bad[j], s);
    }
    gpu->free(gpu, da), gpu->free(gpu, db), gpu->free(gpu, dc);
    gpu->cdt = BE_F32;
}

// ---------------------------------------------------------------- sampling

// Draws N tokens from one row of logits (V): N rows that all hold it, each
// with its own RNG stream, in one call of the op.
static int draw_many(const float *l, int V, const BackendSampleCfg *c, int N, uint64_t seed, int32_t *tok, float *lp,
                     uint64_t *rng_after) {
    float *rows = malloc((size_t)N * V * 4);
    uint64_t *st = malloc((size_t)N * 32);
    int32_t *seq = malloc((size_t)N * 4);
    BackendSampleCfg *cf = malloc((size_t)N * sizeof *cf);
    for (int i = 0; i < N; i++) {
        memcpy(rows + (size_t)i * V, l, (size_t)V * 4);
        Rng r;
        rng_seed_stream(&r, seed, (uint64_t)i);
        memcpy(st + 4 * (size_t)i, r.s, 32);
        seq[i] = N - 1 - i; // rows and sequences in different orders
        cf[i] = *c;
    }
    float *dl = dev_copy(rows, (size_t)N * V * 4);
    uint64_t *ds = dev_copy(st, (size_t)N * 32);
    int32_t *dq = dev_copy(seq, (size_t)N * 4), *dt = dev_copy(NULL, (size_t)N * 4);
    float *dp = dev_copy(NULL, (size_t)N * 4);
    BackendSampleCfg *dc = dev_copy(cf, (size_t)N * sizeof *cf);
    int st_ = gpu->sample(gpu, dt, dp, ds, dl, dq, dc, N, V);
    CHECK(st_ == GRPO_OK, "cuda sample: %s", grpo_errmsg());
    get(tok, dt, (size_t)N * 4);
    get(lp, dp, (size_t)N * 4);
    if (rng_after) get(rng_after, ds, (size_t)N * 32);
    // rows come back in row order; row i drew for sequence seq[i]
    gpu->free(gpu, dl), gpu->free(gpu, ds), gpu->free(gpu, dq), gpu->free(gpu, dt), gpu->free(gpu, dp), gpu->free(gpu, dc);
    free(rows), free(st), free(seq), free(cf);
    return st_;
}

// The exact truncated distribution the CPU sampler defines: its survivor set
// (sampler_filter), weights exp(l/T - max) renormalised over it.
static void exact(const BackendSampleCfg *c, const float *l, int V, double *p, double *logp) {
    SamplerConfig sc = {c->temperature, c->top_k, c->top_p, c->min_p};
    int *ids = malloc((size_t)V * sizeof(int)), n = sampler_filter(&sc, l, V, NULL, ids);
    double T = c->temperature > 0 ? c->temperature : 1, mx = -INFINITY, z = 0, s = 0;
    for (int i = 0; i < V; i++) mx = fmax(mx, l[i] / T);
    for (int i = 0; i < V; i++) z += exp(l[i] / T - mx);
    for (int i = 0; i < V; i++) logp[i] = l[i] / T - mx - log(z), p[i] = 0;
    for (int i = 0; i < n; i++) s += exp(logp[ids[i]]);
    for (int i = 0; i < n; i++) p[ids[i]] = exp(logp[ids[i]]) / s;
    free(ids);
}

static void check_distribution(const char *tag, const BackendSampleCfg *c, const float *l, int V, int N) {
    double *p = malloc((size_t)V * 8), *logp = malloc((size_t)V * 8);
    exact(c, l, V, p, logp);
    int32_t *tok = malloc((size_t)N * 4);
    float *lp = malloc((size_t)N * 4);
    long *cnt = calloc((size_t)V, sizeof(long));
    if (draw_many(l, V, c, N, 99, tok, lp, NULL) == GRPO_OK) {
        int outside = 0, lp_bad = 0;
        for (int t = 0; t < N; t++) {
            if (tok[t] < 0 || tok[t] >= V || p[tok[t]] == 0) {
                outside++;
                continue;
            }
            cnt[tok[t]]++;
            if (fabs(lp[t] - logp[tok[t]]) > 1e-5 * (1 + fabs(logp[tok[t]]))) lp_bad++;
        }
        CHECK(outside == 0, "%s: %d of %d draws outside the truncated support", tag, outside, N);
        CHECK(lp_bad == 0, "%s: %d log-probs differ from log_softmax(logits/T)", tag, lp_bad);
        double chi = 0, pool_e = 0, pool_o = 0;
        int bins = 0, nsup = 0;
        for (int i = 0; i < V; i++) {
            if (p[i] == 0) continue;
            nsup++;
            double e = p[i] * N;
            if (e < 5) {
                pool_e += e, pool_o += cnt[i];
                continue;
            }
            chi += (cnt[i] - e) * (cnt[i] - e) / e, bins++;
        }
        if (pool_e >= 5) chi += (pool_o - pool_e) * (pool_o - pool_e) / pool_e, bins++;
        int df = bins > 1 ? bins - 1 : 0;
        double bound = df + 4 * sqrt(2.0 * df) + 10; // far in the tail (p < 1e-4)
        CHECK(df > 0 ? chi < bound : nsup == 1, "%s: chi-square %.1f over %d dof (bound %.1f)", tag, chi, df, bound);
    }
    free(p), free(logp), free(tok), free(lp), free(cnt);
}

static void test_sampling(void) {
    // Small vocabulary: every filter, one banned token, 20k draws each.
    enum { V = 12, N = 20000 };
    const BackendSampleCfg cfgs[] = {
        {1, 0, 1, 0},     {0.7f, 0, 1, 0},        {1, 4, 1, 0},          {1, 0, 0.8f, 0},    {1, 0, 1, 0.1f},
        {1.3f, 6, 0.9f, 0.05f}, {0.5f, 0, 0.7f, 0.2f}, {2, 3, 0.5f, 0}, {1, 0, 1e-6f, 0}, {1, 1, 1, 0}, {1, 0, 1, 1},
    };
    uint64_t s = 21;
    float l[V];
    for (int i = 0; i < V; i++) l[i] = tu_rand_uniform(&s) * 3;
    l[7] = -INFINITY;
    l[3] = l[5]; // a tie, broken by id
    for (size_t k = 0; k < sizeof cfgs / sizeof cfgs[0]; k++) {
        char tag[64];
        snprintf(tag, sizeof tag, "V=%d config %zu", V, k);
        check_distribution(tag, &cfgs[k], l, V, N);
    }
    // A realistic vocabulary: the top-k/top-p cuts land deep in the order.
    enum { VB = 151936, NB = 600 };
    float *lb = malloc((size_t)VB * 4);
    for (int i = 0; i < VB; i++) lb[i] = tu_rand_uniform(&s) * 6;
    for (int i = 0; i < 40; i++) lb[(i * 3797) % VB] = 9 + 0.05f * i; // a few likely tokens
    const BackendSampleCfg big[] = {{1, 40, 1, 0}, {0.8f, 0, 0.5f, 0}, {1, 100, 0.9f, 0.05f}, {1, 0, 1, 0.3f}};
    for (size_t k = 0; k < sizeof big / sizeof big[0]; k++) {
        char tag[64];
        snprintf(tag, sizeof tag, "V=%d config %zu", VB, k);
        check_distribution(tag, &big[k], lb, VB, NB);
    }

    // Determinism and the RNG's advance: the same states give the same tokens;
    // each row's state moves by exactly one draw (none when greedy).
    const BackendSampleCfg dc = {1.1f, 0, 0.95f, 0};
    int32_t t1[64], t2[64];
    float p1[64], p2[64];
    uint64_t after[64 * 4];
    draw_many(l, V, &dc, 64, 5, t1, p1, after);
    draw_many(l, V, &dc, 64, 5, t2, p2, NULL);
    CHECK(!memcmp(t1, t2, sizeof t1) && !memcmp(p1, p2, sizeof p1), "same states, different draws");
    int adv_ok = 1;
    for (int i = 0; i < 64; i++) {
        Rng r;
        rng_seed_stream(&r, 5, (uint64_t)i);
        rng_next(&r);
        adv_ok &= !memcmp(r.s, after + 4 * i, 32);
    }
    CHECK(adv_ok, "the RNG state does not advance by exactly one draw");
    const BackendSampleCfg gc = {0, 0, 1, 0};
    draw_many(l, V, &gc, 64, 5, t1, p1, after);
    int argmax = 0;
    for (int i = 1; i < V; i++)
        if (l[i] > l[argmax]) argmax = i;
    int g_ok = 1;
    for (int i = 0; i < 64; i++) {
        Rng r;
        rng_seed_stream(&r, 5, (uint64_t)i);
        g_ok &= t1[i] == argmax && !memcmp(r.s, after + 4 * i, 32);
    }
    CHECK(g_ok, "greedy: not the argmax %d, or the RNG moved", argmax);

    // Settings per sequence: greedy, top-k 1 and top-k 2 rows side by side.
    {
        enum { M = 96 };
        float rows[M * V], lm[V];
        for (int i = 0; i < V; i++) lm[i] = -0.3f * (float)i; // token 0 most likely, then 1 (43% of top-2 draws)
        uint64_t st[M * 4];
        int32_t seq[M], tok[M];
        BackendSampleCfg cf[M];
        for (int i = 0; i < M; i++) {
            memcpy(rows + i * V, lm, sizeof lm);
            Rng r;
            rng_seed_stream(&r, 9, (uint64_t)i);
            memcpy(st + 4 * i, r.s, 32);
            seq[i] = i;
            cf[i] = i % 3 == 0 ? (BackendSampleCfg){0, 0, 1, 0} : (BackendSampleCfg){1, i % 3, 1, 0};
        }
        float *dl = dev_copy(rows, sizeof rows);
        uint64_t *ds = dev_copy(st, sizeof st);
        int32_t *dq = dev_copy(seq, sizeof seq), *dt = dev_copy(NULL, sizeof tok);
        float *dp = dev_copy(NULL, sizeof tok);
        BackendSampleCfg *dcf = dev_copy(cf, sizeof cf);
        CHECK(gpu->sample(gpu, dt, dp, ds, dl, dq, dcf, M, V) == GRPO_OK, "%s", grpo_errmsg());
        get(tok, dt, sizeof tok);
        int ok = 1, saw_second = 0;
        for (int i = 0; i < M; i++) {
            if (i % 3 == 2) ok &= tok[i] == 0 || tok[i] == 1, saw_second |= tok[i] == 1;
            else ok &= tok[i] == 0;
        }
        CHECK(ok, "per-sequence settings: a greedy or top-k 1 row left the argmax, or a top-k 2 row its two tokens");
        CHECK(saw_second, "no top-k 2 row of %d drew the second token", M / 3);
        gpu->free(gpu, dl), gpu->free(gpu, ds), gpu->free(gpu, dq), gpu->free(gpu, dt), gpu->free(gpu, dp);
        gpu->free(gpu, dcf);
    }

    // A row that cannot be sampled comes back as -1; its neighbours are fine.
    float lbad[2 * V];
    memcpy(lbad, l, sizeof l);
    memcpy(lbad + V, l, sizeof l);
    lbad[V + 2] = NAN;
    float *dl = dev_copy(lbad, sizeof lbad);
    uint64_t st[8];
    Rng r;
    rng_seed(&r, 1), memcpy(st, r.s, 32), rng_seed(&r, 2), memcpy(st + 4, r.s, 32);
    int32_t seq[2] = {0, 1}, tok[2];
    BackendSampleCfg cf[2] = {dc, dc};
    uint64_t *ds = dev_copy(st, sizeof st);
    int32_t *dq = dev_copy(seq, sizeof seq), *dt = dev_copy(NULL, sizeof tok);
    float *dp = dev_copy(NULL, 8);
    BackendSampleCfg *dcf = dev_copy(cf, sizeof cf);
    int rc = gpu->sample(gpu, dt, dp, ds, dl, dq, dcf, 2, V); // the CPU also reports the row as an error
    CHECK(rc == GRPO_OK || (gpu->kind == BACKEND_CPU && rc == GRPO_EINVAL), "%s", grpo_errmsg());
    get(tok, dt, sizeof tok);
    CHECK(tok[0] >= 0 && tok[1] == -1, "NaN row: tokens %d %d", tok[0], tok[1]);
    gpu->free(gpu, dl), gpu->free(gpu, ds), gpu->free(gpu, dq), gpu->free(gpu, dt), gpu->free(gpu, dp), gpu->free(gpu, dcf);
    free(lb);
}

// ---------------------------------------------------------------- a whole step

static int have_model_ops(Backend *b) {
    return b->embedding_forward && b->embedding_backward && b->rmsnorm_forward && b->rmsnorm_backward && b->rope_forward &&
           b->rope_backward && b->attention_forward && b->attention_backward && b->swiglu_forward && b->swiglu_backward &&
           b->logprob_forward && b->logprob_backward && b->add && b->bias_forward && b->bias_backward && b->scatter_rows;
}

// One GRPO step and generation on the GPU against the CPU (fp32) from the same
// weights. In fp32 the GPU must agree to float rounding. In bf16 (weights'
// working copy, activations and their gradients rounded to 8 significant bits,
// relative error up to 2^-8 per rounding, a few dozen roundings deep) the
// loss, gradient norm and entropy must agree to 2% and the parameters after
// the step to 10% of the largest move the CPU's step made (lr 1e-2; the CUDA
// emulator, 2026-11-29: 2e-4, 1e-3, 1e-5 and 2%); greedy tokens may differ in
// bf16 (near-tied logits of a random model), so only sampled determinism is
// checked there. The precision changes between the two runs only while no
// model exists on gpu.
static void test_whole_step(int bf16) {
    if (!have_model_ops(gpu)) {
        printf("test_cuda_train: NOTE: whole-step and generation checks not run: the CUDA backend lacks the model's ops\n");
        return;
    }
    CHECK(backend_set_precision(gpu, bf16 ? "bf16" : "fp32") == GRPO_OK, "%s", grpo_errmsg());
    const char *tag = bf16 ? "bf16" : "fp32";
    const double tol = bf16 ? 2e-2 : 1e-4;
    ModelConfig mc;
    model_config_default(&mc, MODEL_QWEN2);
    mc.hidden = 64, mc.ffn = 96, mc.n_layers = 2, mc.n_heads = 4, mc.n_kv_heads = 2, mc.head_dim = 16, mc.vocab = 97;
    mc.max_pos = 128, mc.tie_embeddings = 0;
    Model *mcpu = NULL, *mgpu = NULL;
    CHECK(model_build(&mcpu, &mc, cpu) == GRPO_OK && model_build(&mgpu, &mc, gpu) == GRPO_OK, "%s", grpo_errmsg());
    if (!mcpu || !mgpu) return;
    CHECK(model_init_random(mcpu, 3, 0.05f) == GRPO_OK && model_init_random(mgpu, 3, 0.05f) == GRPO_OK, "init");
    CHECK(model_alloc_grads(mcpu) == GRPO_OK && model_alloc_grads(mgpu) == GRPO_OK, "grads");
    // Two prompts, three completions each, of different lengths (one truncated).
    uint64_t r = 11;
    int32_t prompts[2][7], comps[6][9];
    float slp[6][9], adv[2][3] = {{1.0f, -0.5f, -0.5f}, {0.7f, 0.2f, -0.9f}};
    GenResult gen[6];
    Group groups[2];
    memset(groups, 0, sizeof groups);
    for (int p = 0; p < 2; p++) {
        for (int i = 0; i < 7; i++) prompts[p][i] = (int32_t)(tu_rand_u64(&r) % 97);
        groups[p].prompt = prompts[p], groups[p].np = 5 + 2 * p, groups[p].G = 3, groups[p].gen = gen + 3 * p;
        groups[p].adv = adv[p];
    }
    for (int s = 0; s < 6; s++) {
        for (int i = 0; i < 9; i++) comps[s][i] = (int32_t)(tu_rand_u64(&r) % 97), slp[s][i] = -4.6f + 0.1f * tu_rand_uniform(&r);
        gen[s] = (GenResult){comps[s], slp[s], 4 + s, s == 5 ? GEN_FINISH_LENGTH : GEN_FINISH_STOP};
    }
    UpdateOptions uo;
    memset(&uo, 0, sizeof uo);
    uo.loss = (LossConfig){LOSS_GRPO, 0.0, 0.2, 0.2, 9};
    uo.num_iterations = 1, uo.temperature = 1.0, uo.max_grad_norm = 0.05, uo.lr = 1e-2, uo.want_entropy = 1;
    // eps 1e-3 makes the first AdamW step a smooth function of the gradient
    // (with 1e-8 it is lr * sign(g), which float noise flips for g near 0).
    uo.adam = (AdamWConfig){1e-2, 0.9, 0.999, 1e-3, 0.01};
    AdamW oc, og;
    CHECK(adamw_build(&oc, cpu, mcpu->n_params) == GRPO_OK && adamw_build(&og, gpu, mgpu->n_params) == GRPO_OK, "adamw");
    UpdateStats sc, sg;
    CHECK(policy_update(mcpu, NULL, &oc, groups, 2, &uo, &sc) == GRPO_OK, "cpu update: %s", grpo_errmsg());
    CHECK(policy_update(mgpu, NULL, &og, groups, 2, &uo, &sg) == GRPO_OK, "cuda update: %s", grpo_errmsg());
    CHECK(sc.n_updates == 1 && sg.n_updates == 1, "updates %d %d", sc.n_updates, sg.n_updates);
    CHECK(fabs(sg.loss - sc.loss) <= tol * (1 + fabs(sc.loss)), "%s: loss %.9g vs cpu %.9g", tag, sg.loss, sc.loss);
    CHECK(fabs(sg.grad_norm - sc.grad_norm) <= tol * sc.grad_norm, "%s: grad norm %.9g vs cpu %.9g", tag, sg.grad_norm,
          sc.grad_norm);
    CHECK(fabs(sg.entropy - sc.entropy) <= tol * (1 + sc.entropy), "%s: entropy %.9g vs cpu %.9g", tag, sg.entropy,
          sc.entropy);
    printf("test_cuda_train: %s step: loss %.6g (cpu %.6g), grad norm %.6g (cpu %.6g), entropy %.6g (cpu %.6g)\n", tag,
           sg.loss, sc.loss, sg.grad_norm, sc.grad_norm, sg.entropy, sc.entropy);
    float *pg = malloc(mgpu->n_params * 4);
    get(pg, mgpu->params, mgpu->n_params * 4);
    double worst = 0, moved = 0;
    size_t at = 0;
    for (size_t i = 0; i < mcpu->n_params; i++) {
        double e = fabs((double)pg[i] - mcpu->params[i]);
        if (!(e <= worst)) worst = e, at = i;
    }
    float *p0 = malloc(mcpu->n_params * 4);
    Model *fresh = NULL;
    CHECK(model_build(&fresh, &mc, cpu) == GRPO_OK && model_init_random(fresh, 3, 0.05f) == GRPO_OK, "fresh");
    for (size_t i = 0; fresh && i < mcpu->n_params; i++) moved = fmax(moved, fabs((double)mcpu->params[i] - fresh->params[i]));
    CHECK(moved > 1e-3, "the step moved no parameter (max %g): the comparison would be empty", moved);
    CHECK(worst < (bf16 ? 0.1 * moved : 1e-5), "%s: parameters after one GRPO step: max abs diff %g at %zu (cpu %g, "
          "cuda %g; largest move %g)", tag, worst, at, mcpu->params[at], pg[at], moved);
    printf("test_cuda_train: %s step: parameters within %.3g of the cpu's (largest move %.3g)\n", tag, worst, moved);
    // The NaN hook: a poisoned gradient skips the step on the GPU too.
    uo.poison_grads = 1;
    CHECK(policy_update(mgpu, NULL, &og, groups, 2, &uo, &sg) == GRPO_OK && sg.n_skipped == 1 && sg.n_updates == 0,
          "poisoned step: %d skipped, %d applied", sg.n_skipped, sg.n_updates);
    model_free(fresh);

    // Greedy generation: the same tokens as the CPU (fp32 everywhere).
    GenConfig gc;
    memset(&gc, 0, sizeof gc);
    gc.sampler = (SamplerConfig){0, 0, 1, 0};
    gc.max_tokens = 12, gc.seed = 1;
    const int32_t *pp[2] = {prompts[0], prompts[1]};
    int lens[2] = {5, 7};
    GenResult rc[4], rg[4];
    CHECK(generate(mcpu, &gc, pp, lens, 2, 2, rc) == GRPO_OK, "cpu generate: %s", grpo_errmsg());
    CHECK(generate(mgpu, &gc, pp, lens, 2, 2, rg) == GRPO_OK, "cuda generate: %s", grpo_errmsg());
    int same = 1;
    double lpw = 0;
    for (int s = 0; s < 4; s++) {
        same &= rc[s].n_tokens == rg[s].n_tokens && !memcmp(rc[s].tokens, rg[s].tokens, (size_t)rc[s].n_tokens * 4);
        for (int i = 0; i < rc[s].n_tokens && i < rg[s].n_tokens; i++) lpw = fmax(lpw, fabs(rc[s].logprobs[i] - rg[s].logprobs[i]));
    }
    if (!bf16) {
        CHECK(same, "greedy generation: CUDA tokens differ from the CPU's");
        CHECK(lpw < 1e-4, "greedy generation: log-probs differ by %g", lpw);
    } else {
        printf("test_cuda_train: bf16 greedy generation: %s the cpu's tokens; log-probs within %.3g\n",
               same ? "the same as" : "differs from", lpw);
    }
    gen_results_free(rc, 4), gen_results_free(rg, 4);
    // Sampled generation is deterministic on the GPU.
    gc.sampler = (SamplerConfig){1, 20, 0.9f, 0};
    CHECK(generate(mgpu, &gc, pp, lens, 2, 2, rc) == GRPO_OK && generate(mgpu, &gc, pp, lens, 2, 2, rg) == GRPO_OK, "%s",
          grpo_errmsg());
    same = 1;
    for (int s = 0; s < 4; s++)
        same &= rc[s].n_tokens == rg[s].n_tokens && !memcmp(rc[s].tokens, rg[s].tokens, (size_t)rc[s].n_tokens * 4);
    CHECK(same, "sampled generation on the GPU is not deterministic");
    gen_results_free(rc, 4), gen_results_free(rg, 4);
    adamw_free(&oc), adamw_free(&og);
    free(pg), free(p0);
    model_free(mcpu), model_free(mgpu);
}

int main(void) {
    const char *name = "test_cuda_train";
    static const char *const groups[] = {"ops", "sampling", "step"};
    if (!tu_only_valid(groups, sizeof groups / sizeof groups[0])) return 2;
    // GRPO_TEST_DEVICE=cpu puts a second CPU backend in the GPU's place: the
    // test's own logic then runs (and must pass) on a machine without a GPU.
    int rc = tu_open_gpu(name, &gpu);
    if (!gpu) return rc;
    CHECK(backend_open("cpu", &cpu) == GRPO_OK, "%s", grpo_errmsg());
    if (!cpu) return tu_finish(name);
    self = gpu->kind == BACKEND_CPU;
    // The op checks set gpu->cdt themselves (no model exists yet); the whole
    // step and generation compare against the CPU in fp32.
    gpu->cdt = BE_F32;
    if (self)
        printf("%s: bf16 checks (adamw working copy, non-finite bf16 data, the bf16 step): SKIPPED: the cpu backend computes in fp32 "
               "only\n", name);
    if (tu_only("ops")) {
        test_optim_ops();
        test_adamw_working_copy(BE_F32);
        test_convert();
        if (!self) {
            test_adamw_working_copy(BE_BF16);
            test_bf16_nonfinite();
        }
    }
    if (tu_only("sampling")) test_sampling();
    if (tu_only("step")) test_whole_step(0);
    if (tu_only("step") && !self) test_whole_step(1);
    backend_close(gpu);
    backend_close(cpu);
    return tu_finish(name);
}
