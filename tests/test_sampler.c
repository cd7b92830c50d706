// The sampler against an independent full-sort reference: survivor sets of top-k/top-p/
// min-p, empirical frequencies of 20k draws vs the exact truncated distribution (chi-square),
// recorded log-probs, greedy, determinism, RNG known answers and bad input.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/status.h"
#include "policy/sampler.h"
#include "testlib.h"

// ---------------------------------------------------------------- reference

static const double *g_p;
static int by_prob(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    if (g_p[x] != g_p[y]) return g_p[x] > g_p[y] ? -1 : 1;
    return x < y ? -1 : 1;
}

// p (V): the exact probability of drawing each token; logp (V): log_softmax(logits / T).
static void reference(const SamplerConfig *c, const float *logits, int V, double *p, double *logp) {
    double T = c->temperature > 0 ? c->temperature : 1, mx = -INFINITY, z = 0;
    for (int i = 0; i < V; i++) mx = fmax(mx, logits[i] / T);
    for (int i = 0; i < V; i++) z += exp(logits[i] / T - mx);
    for (int i = 0; i < V; i++) logp[i] = logits[i] / T - mx - log(z), p[i] = exp(logp[i]);
    int *ord = malloc(sizeof(int) * (size_t)V), n = 0;
    for (int i = 0; i < V; i++)
        if (p[i] > 0) ord[n++] = i;
    g_p = p;
    qsort(ord, (size_t)n, sizeof *ord, by_prob);
    if (c->top_k > 0 && c->top_k < n) n = c->top_k;
    if (c->top_p < 1) {
        double zk = 0, cum = 0;
        for (int i = 0; i < n; i++) zk += p[ord[i]];
        for (int i = 0; i < n; i++) {
            cum += p[ord[i]] / zk;
            if (cum >= c->top_p) {
                n = i + 1;
                break;
            }
        }
    }
    double pmax = p[ord[0]], s = 0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (p[ord[i]] >= c->min_p * pmax) ord[k++] = ord[i];
    double *q = calloc((size_t)V, sizeof *q);
    for (int i = 0; i < k; i++) s += p[ord[i]];
    for (int i = 0; i < k; i++) q[ord[i]] = p[ord[i]] / s;
    memcpy(p, q, sizeof *q * (size_t)V);
    free(q), free(ord);
}

static void random_logits(float *l, int V, float scale, uint64_t *rng) {
    for (int i = 0; i < V; i++) l[i] = tu_rand_uniform(rng) * scale;
}

// ---------------------------------------------------------------- tests

static void test_rng(void) {
    // Known answers, from a Python transcription of the reference xoshiro256** / splitmix64.
    Rng r;
    rng_seed(&r, 0);
    const uint64_t want0[4] = {0x99ec5f36cb75f2b4ull, 0xbf6e1f784956452aull, 0x1a5f849d4933e6e0ull, 0x6aa594f1262d2d2cull};
    for (int i = 0; i < 4; i++) {
        uint64_t v = rng_next(&r);
        CHECK(v == want0[i], "seed 0 output %d: %llx", i, (unsigned long long)v);
    }
    rng_seed(&r, 42);
    CHECK(rng_next(&r) == 0x15780b2e0c2ec716ull, "seed 42");
    // uniform in [0, 1) with a sane mean; streams differ from each other and from the seed.
    double s = 0, lo = 1, hi = 0;
    for (int i = 0; i < 100000; i++) {
        double u = rng_uniform(&r);
        s += u, lo = fmin(lo, u), hi = fmax(hi, u);
    }
    CHECK(lo >= 0 && hi < 1 && fabs(s / 100000 - 0.5) < 0.005, "uniform: min %g max %g mean %g", lo, hi, s / 100000);
    Rng a, b, c;
    rng_seed_stream(&a, 7, 0), rng_seed_stream(&b, 7, 1), rng_seed_stream(&c, 7, 0);
    uint64_t va = rng_next(&a), vb = rng_next(&b), vc = rng_next(&c);
    CHECK(va != vb && va == vc, "streams: %llx %llx %llx", (unsigned long long)va, (unsigned long long)vb, (unsigned long long)vc);
    rng_seed_stream(&b, 8, 0);
    CHECK(rng_next(&b) != va, "seed 8 stream 0 equals seed 7 stream 0");
}

static void test_greedy(void) {
    float l[6] = {0.5f, 2.0f, -1.0f, 2.0f, -INFINITY, 1.0f};
    SamplerConfig c = {0, 2, 0.5f, 0.3f};
    Rng r, r0;
    rng_seed(&r, 1);
    r0 = r;
    float lp;
    int tok = sampler_sample(&c, &r, l, 6, NULL, &lp);
    CHECK(tok == 1, "greedy picked %d (ties go to the lowest id)", tok);
    double z = 0;
    for (int i = 0; i < 6; i++) z += exp((double)l[i]);
    CHECK(fabs(lp - (2.0 - log(z))) < 1e-6, "greedy logprob %g vs %g", lp, 2.0 - log(z));
    CHECK(memcmp(&r, &r0, sizeof r) == 0, "greedy consumed randomness");
    CHECK(sampler_sample(&c, NULL, l, 6, NULL, NULL) == 1, "greedy needs no RNG");
    uint64_t s = 5;
    float big[1000];
    for (int t = 0; t < 20; t++) {
        random_logits(big, 1000, 10, &s);
        int am = 0;
        for (int i = 1; i < 1000; i++)
            if (big[i] > big[am]) am = i;
        CHECK(sampler_sample(&c, &r, big, 1000, NULL, NULL) == am, "random greedy");
    }
}

static void test_determinism(void) {
    uint64_t s = 9;
    enum { V = 3000 };
    float *l = malloc(sizeof(float) * V * 50);
    random_logits(l, V * 50, 4, &s);
    void *scratch = malloc(sampler_scratch_bytes(V));
    SamplerConfig cfgs[] = {{1, 0, 1, 0}, {0.8f, 40, 1, 0}, {1.1f, 0, 0.9f, 0}, {1, 0, 1, 0.05f}, {0.7f, 100, 0.95f, 0.02f}};
    for (size_t k = 0; k < sizeof cfgs / sizeof cfgs[0]; k++) {
        Rng a, b;
        rng_seed(&a, 1234), rng_seed(&b, 1234);
        int same = 1, diff_from_first = 0, first = -1;
        for (int t = 0; t < 50; t++) {
            float la, lb;
            int x = sampler_sample(&cfgs[k], &a, l + (size_t)t * V, V, scratch, &la);
            int y = sampler_sample(&cfgs[k], &b, l + (size_t)t * V, V, NULL, &lb); // own scratch: same answer
            same &= x == y && la == lb && x >= 0;
            if (first < 0) first = x;
            diff_from_first |= x != first;
        }
        CHECK(same, "config %zu: same seed, different draws", k);
        CHECK(diff_from_first, "config %zu: 50 identical tokens from random logits", k);
        // One rng_next per draw: the state after 50 draws equals 50 rng_next calls.
        Rng c;
        rng_seed(&c, 1234);
        for (int t = 0; t < 50; t++) rng_next(&c);
        CHECK(memcmp(&a, &c, sizeof c) == 0, "config %zu: not exactly one rng_next per draw", k);
    }
    free(l), free(scratch);
}

// 20k draws from a small vocabulary against the exact truncated distribution.
static void test_distribution(void) {
    enum { V = 12, N = 20000 };
    SamplerConfig cfgs[] = {
        {1, 0, 1, 0},       {0.7f, 0, 1, 0},        {1, 4, 1, 0},          {1, 0, 0.8f, 0},
        {1, 0, 1, 0.1f},    {1.3f, 6, 0.9f, 0.05f}, {0.5f, 0, 0.7f, 0.2f}, {2, 3, 0.5f, 0},
        {1, 0, 1e-6f, 0},   {1, 1, 1, 0},           {1, 0, 1, 1},
    };
    uint64_t s = 21;
    float l[V];
    random_logits(l, V, 3, &s);
    l[7] = -INFINITY; // a banned token
    for (size_t k = 0; k < sizeof cfgs / sizeof cfgs[0]; k++) {
        const SamplerConfig *c = &cfgs[k];
        double p[V], logp[V];
        reference(c, l, V, p, logp);
        // The survivor set equals the reference's support.
        int ids[V], n = sampler_filter(c, l, V, NULL, ids), in[V] = {0}, nsup = 0;
        for (int i = 0; i < n; i++) in[ids[i]] = 1;
        int set_ok = n > 0;
        for (int i = 0; i < V; i++) {
            set_ok &= in[i] == (p[i] > 0);
            nsup += p[i] > 0;
        }
        CHECK(set_ok, "config %zu: survivor set of %d tokens differs from the reference's %d", k, n, nsup);
        Rng r;
        rng_seed(&r, 1000 + k);
        int cnt[V] = {0}, outside = 0, lp_bad = 0;
        for (int t = 0; t < N; t++) {
            float lp;
            int tok = sampler_sample(c, &r, l, V, NULL, &lp);
            if (tok < 0 || tok >= V || p[tok] == 0) {
                outside++;
                continue;
            }
            cnt[tok]++;
            if (fabs(lp - logp[tok]) > 1e-5) lp_bad++;
        }
        CHECK(outside == 0, "config %zu: %d draws outside the allowed set", k, outside);
        CHECK(lp_bad == 0, "config %zu: %d recorded logprobs differ from log_softmax(logits/T)", k, lp_bad);
        // Chi-square over bins with expected count >= 5 (smaller ones pooled).
        double chi = 0, pool_e = 0, pool_o = 0;
        int bins = 0;
        for (int i = 0; i < V; i++) {
            if (p[i] == 0) continue;
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
        CHECK(df > 0 ? chi < bound : nsup == 1, // one survivor: `outside` above already checked every draw
              "config %zu: chi-square %.1f over %d dof (bound %.1f)", k, chi, df, bound);
    }
}

// Survivor sets at a realistic vocabulary size, where top-p needs several rounds of partial
// selection, against the reference's full sort.
static void test_large_vocab(void) {
    enum { V = 151936 };
    float *l = malloc(sizeof(float) * V);
    double *p = malloc(sizeof(double) * V), *logp = malloc(sizeof(double) * V);
    int *ids = malloc(sizeof(int) * V);
    void *scratch = malloc(sampler_scratch_bytes(V));
    uint64_t s = 77;
    SamplerConfig cfgs[] = {{1, 50, 1, 0}, {1, 0, 0.95f, 0}, {0.6f, 0, 0.9f, 0.01f}, {1, 2000, 0.99f, 0}, {1, 0, 1, 0.3f}, {1.5f, 0, 0.5f, 0}};
    for (size_t k = 0; k < sizeof cfgs / sizeof cfgs[0]; k++) {
        random_logits(l, V, k % 2 ? 4.0f : 12.0f, &s); // flat-ish and peaked
        reference(&cfgs[k], l, V, p, logp);
        int n = sampler_filter(&cfgs[k], l, V, scratch, ids), nref = 0, ok = n > 0;
        for (int i = 0; i < V; i++) nref += p[i] > 0;
        for (int i = 0; i < n && ok; i++) ok = p[ids[i]] > 0;
        CHECK(ok && n == nref, "config %zu: %d survivors, reference %d", k, n, nref);
        Rng r;
        rng_seed(&r, k);
        float lp;
        int tok = sampler_sample(&cfgs[k], &r, l, V, scratch, &lp);
        CHECK(tok >= 0 && p[tok] > 0 && fabs(lp - logp[tok]) < 1e-4, "config %zu: token %d logprob %g vs %g", k, tok, lp,
              tok >= 0 ? logp[tok] : 0);
    }
    free(l), free(p), free(logp), free(ids), free(scratch);
}

// Exact ties straddling the top-k / top-p boundary: the lowest ids win, as in the reference.
static void test_ties(void) {
    enum { V = 1000 };
    float l[V];
    for (int i = 0; i < V; i++) l[i] = (float)(i / 100) * 0.5f; // 10 groups of 100 equal logits
    SamplerConfig cfgs[] = {{1, 150, 1, 0}, {1, 0, 0.3f, 0}, {1, 250, 0.8f, 0}, {0.3f, 0, 0.99f, 0.2f}, {1, 999, 1, 0}};
    for (size_t k = 0; k < sizeof cfgs / sizeof cfgs[0]; k++) {
        double p[V], logp[V];
        reference(&cfgs[k], l, V, p, logp);
        int ids[V], n = sampler_filter(&cfgs[k], l, V, NULL, ids), nref = 0, in[V] = {0}, same = 1;
        for (int i = 0; i < n; i++) in[ids[i]] = 1;
        for (int i = 0; i < V; i++) nref += p[i] > 0, same &= in[i] == (p[i] > 0);
        CHECK(same && n == nref, "ties config %zu: %d survivors, reference %d", k, n, nref);
    }
}

// The batched call equals row-by-row sampling, and errors name the lowest bad row.
static void test_rows(void) {
    enum { B = 9, V = 5000 };
    float *l = malloc(sizeof(float) * B * V);
    uint64_t s = 31;
    random_logits(l, B * V, 6, &s);
    SamplerConfig c = {0.9f, 0, 0.95f, 0.01f};
    Rng r1[B], r2[B];
    for (int b = 0; b < B; b++) rng_seed_stream(&r1[b], 5, (uint64_t)b), r2[b] = r1[b];
    int32_t tok[B];
    float lp[B];
    int same = 1;
    for (int step = 0; step < 5; step++) {
        CHECK(sampler_sample_rows(&c, r1, l, B, V, NULL, tok, lp) == GRPO_OK, "rows: %s", grpo_errmsg());
        for (int b = 0; b < B; b++) {
            float one;
            int t = sampler_sample(&c, &r2[b], l + (size_t)b * V, V, NULL, &one);
            same &= t == tok[b] && one == lp[b];
        }
    }
    CHECK(same, "batched rows differ from one-by-one sampling");
    l[3 * V + 17] = NAN, l[6 * V] = NAN;
    CHECK(sampler_sample_rows(&c, r1, l, B, V, NULL, tok, NULL) == GRPO_EINVAL && strstr(grpo_errmsg(), "row 3: sampler: logit 17"),
          "bad row: %s", grpo_errmsg());
    CHECK(tok[3] == -1 && tok[6] == -1 && tok[0] >= 0, "failing rows get -1");
    free(l);
}

static void test_bad_input(void) {
    float l[4] = {1, 2, 3, 4};
    Rng r;
    rng_seed(&r, 3);
    SamplerConfig ok = {1, 0, 1, 0};
    SamplerConfig bad[] = {{-1, 0, 1, 0}, {NAN, 0, 1, 0}, {INFINITY, 0, 1, 0}, {1, -1, 1, 0},
                           {1, 0, 0, 0},  {1, 0, 1.5f, 0}, {1, 0, NAN, 0},     {1, 0, 1, -0.1f}, {1, 0, 1, 2}, {0, 0, 0, 0}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        grpo_clear_error();
        CHECK(sampler_sample(&bad[k], &r, l, 4, NULL, NULL) == -1, "bad config %zu accepted", k);
        CHECK(strstr(grpo_errmsg(), "sampler:") != NULL, "config %zu: message '%s'", k, grpo_errmsg());
        CHECK(sampler_config_check(&bad[k]) == GRPO_EINVAL, "config_check %zu", k);
    }
    CHECK(sampler_config_check(&ok) == GRPO_OK, "good config refused");
    SamplerConfig d = sampler_config_default();
    CHECK(sampler_config_check(&d) == GRPO_OK && d.temperature == 1 && d.top_p == 1, "default config");
    CHECK(sampler_sample(&ok, &r, l, 0, NULL, NULL) == -1, "V = 0");
    CHECK(sampler_sample(&ok, &r, NULL, 4, NULL, NULL) == -1, "NULL logits");
    CHECK(sampler_sample(&ok, NULL, l, 4, NULL, NULL) == -1, "sampling without an RNG");
    float nan_l[4] = {1, NAN, 3, 4}, inf_l[4] = {1, INFINITY, 3, 4}, ninf[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    SamplerConfig g = {0, 0, 1, 0};
    for (int greedy = 0; greedy < 2; greedy++) {
        const SamplerConfig *c = greedy ? &g : &ok;
        CHECK(sampler_sample(c, &r, nan_l, 4, NULL, NULL) == -1 && strstr(grpo_errmsg(), "logit 1"), "NaN: %s", grpo_errmsg());
        CHECK(sampler_sample(c, &r, inf_l, 4, NULL, NULL) == -1 && strstr(grpo_errmsg(), "logit 1"), "+inf: %s", grpo_errmsg());
        CHECK(sampler_sample(c, &r, ninf, 4, NULL, NULL) == -1 && strstr(grpo_errmsg(), "-inf"), "all -inf: %s", grpo_errmsg());
    }
    // -inf logits are banned tokens: never drawn, even when everything else is tiny.
    float one[5] = {-INFINITY, -INFINITY, -80, -INFINITY, -INFINITY};
    float lp = 1;
    CHECK(sampler_sample(&ok, &r, one, 5, NULL, &lp) == 2 && lp == 0.0f, "single finite logit: lp %g", lp);
    // Extreme temperatures stay finite.
    SamplerConfig hot = {1e6f, 0, 1, 0}, cold = {1e-6f, 0, 1, 0};
    int t = sampler_sample(&hot, &r, l, 4, NULL, &lp);
    CHECK(t >= 0 && fabs(lp - log(0.25)) < 1e-3, "hot: %d %g", t, lp);
    CHECK(sampler_sample(&cold, &r, l, 4, NULL, &lp) == 3 && lp == 0.0f, "cold picks the argmax: lp %g", lp);
}

int main(void) {
    test_rng();
    test_greedy();
    test_determinism();
    test_distribution();
    test_large_vocab();
    test_ties();
    test_rows();
    test_bad_input();
    return tu_finish("test_sampler");
}
