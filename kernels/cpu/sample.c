// Sampling without full sorts. Top-k and top-p boundaries are found with one histogram
// pass over the weights (2050 buckets ordered like the weights); only the bucket that holds
// the boundary is selected (top-k) or sorted (top-p). With neither, a token is drawn by one
// linear walk. So a 150k vocabulary costs O(V) per token whatever the filters.
// (Moved here from policy/sampler.c unchanged, so that the CPU backend's sample op can
// use it; policy/sampler.c wraps it.)
#include "kernels/cpu/sample.h"

#include <omp.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/rng.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/status.h"

int cpu_sample_check(const BackendSampleCfg *c) {
    if (!c) return grpo_fail(GRPO_EINVAL, "sampler: NULL config");
    if (!(c->temperature >= 0) || isinf(c->temperature))
        return grpo_fail(GRPO_EINVAL, "sampler: temperature %g must be a finite number >= 0 (0 = greedy)", c->temperature);
    if (c->top_k < 0) return grpo_fail(GRPO_EINVAL, "sampler: top_k %d must be >= 0 (0 = off)", c->top_k);
    if (!(c->top_p > 0 && c->top_p <= 1))
        return grpo_fail(GRPO_EINVAL, "sampler: top_p %g must be in (0, 1] (1 = off)", c->top_p);
    if (!(c->min_p >= 0 && c->min_p <= 1))
        return grpo_fail(GRPO_EINVAL, "sampler: min_p %g must be in [0, 1] (0 = off)", c->min_p);
    return GRPO_OK;
}

size_t cpu_sample_scratch_bytes(int V) { return V > 0 ? (size_t)V * (sizeof(double) + sizeof(int)) : 0; }

// ---------------------------------------------------------------- selection

// The strict total order "a is more likely than b": by weight, ties to the lower id, so
// every selection and sort below is deterministic.
static inline int above(const double *w, int a, int b) { return w[a] > w[b] || (w[a] == w[b] && a < b); }

// Rearranges idx[0..n) so that its k most likely tokens come first (in no particular
// order): quickselect with a median-of-three pivot.
static void select_top(int *idx, int n, int k, const double *w) {
    int lo = 0, hi = n - 1;
    while (lo < hi && k > lo && k <= hi) {
        int mid = lo + (hi - lo) / 2;
        // median of three to idx[hi] as the pivot
        if (above(w, idx[mid], idx[lo])) { int t = idx[mid]; idx[mid] = idx[lo]; idx[lo] = t; }
        if (above(w, idx[hi], idx[lo])) { int t = idx[hi]; idx[hi] = idx[lo]; idx[lo] = t; }
        if (above(w, idx[mid], idx[hi])) { int t = idx[mid]; idx[mid] = idx[hi]; idx[hi] = t; }
        int pv = idx[hi], store = lo;
        for (int i = lo; i < hi; i++)
            if (above(w, idx[i], pv)) { int t = idx[i]; idx[i] = idx[store]; idx[store] = t; store++; }
        idx[hi] = idx[store];
        idx[store] = pv;
        // idx[lo..store) are above the pivot, idx[store] is the pivot
        if (store == k || store + 1 == k) return;
        if (store > k) hi = store - 1;
        else lo = store + 1;
    }
}

static int cmp_desc(const void *a, const void *b, void *ctx) {
    const double *w = ctx;
    int x = *(const int *)a, y = *(const int *)b;
    return above(w, x, y) ? -1 : above(w, y, x) ? 1 : 0;
}

// ---------------------------------------------------------------- sampling

static int fail(const char *msg, int i, float v) {
    if (i >= 0) grpo_fail(GRPO_EINVAL, "sampler: logit %d is %g; %s", i, v, msg);
    else grpo_fail(GRPO_EINVAL, "sampler: %s", msg);
    return -1;
}

// Weights in (0, 1] fall into NB buckets by the top bits of their IEEE representation:
// 32 buckets per power of two from 2^-64 to 1, and bucket 0 for everything smaller. For
// positive doubles the bit pattern is ordered like the value, so bucket order is weight
// order exactly, and a histogram pass finds which bucket holds the top-k / top-p boundary.
#define NB 2050
static inline int wbucket(double w) {
    if (w < 0x1p-64) return 0;
    uint64_t b;
    memcpy(&b, &w, sizeof b);
    return (int)((b >> 47) - (959u << 5)) + 1; // 959 = the biased exponent of 2^-64
}

// Moves the tokens of buckets above B to idx[0..) (returned count) and those of bucket B
// to tail[0..*nb).
static int gather(const double *w, int V, double thr, int B, int *idx, int *tail, int *nb) {
    int n = 0, m = 0;
    for (int i = 0; i < V; i++) {
        if (!(w[i] > 0 && w[i] >= thr)) continue;
        int b = wbucket(w[i]);
        if (b > B) idx[n++] = i;
        else if (b == B) tail[m++] = i;
    }
    *nb = m;
    return n;
}

// Fills w (V) with exp(x - max x) (the most likely token has weight exactly 1), *z with
// their sum, and, when want_set, idx with the survivors of top-k, top-p and min-p; returns
// their count (>= 1), or -1 on bad input. amax gets the argmax.
static int filter(const BackendSampleCfg *c, const float *logits, int V, double *w, int *idx, double *z, int *amax_out,
                  int want_set) {
    if (cpu_sample_check(c)) return -1;
    if (!logits || V <= 0) return fail("no logits", -1, 0);
    int amax = -1;
    for (int i = 0; i < V; i++) {
        float l = logits[i];
        if (isnan(l) || (isinf(l) && l > 0)) return fail("NaN and +inf logits cannot be sampled", i, l);
        if (l > -INFINITY && (amax < 0 || l > logits[amax])) amax = i;
    }
    if (amax < 0) return fail("every logit is -inf", -1, 0);
    *amax_out = amax;
    double inv = c->temperature > 0 ? 1.0 / c->temperature : 1.0, xm = logits[amax] * inv, sum = 0;
    for (int i = 0; i < V; i++) sum += (w[i] = exp((double)logits[i] * inv - xm));
    *z = sum;
    if (!want_set) return 1;
    double thr = c->min_p; // min-p in weight units: the max weight is 1 and always survives
    int use_k = c->top_k > 0 && c->top_k < V, use_p = c->top_p < 1, n = 0;
    if (!use_k && !use_p) {
        for (int i = 0; i < V; i++)
            if (w[i] > 0 && w[i] >= thr) idx[n++] = i;
        return n;
    }
    // Histogram of the candidates. Without top-k, min-p can be applied first: it cuts a
    // suffix of the weight order, so top-p then keeps the same prefix as long as its target
    // is computed on the full mass.
    double mass[NB] = {0}, pthr = use_k ? 0 : thr;
    int cnt[NB] = {0}, total = 0, B = -1, nb = 0;
    for (int i = 0; i < V; i++)
        if (w[i] > 0 && w[i] >= pthr) {
            int b = wbucket(w[i]);
            mass[b] += w[i], cnt[b]++, total++;
        }
    int *tail = idx; // bucket B's tokens, at the end of idx: idx + V - cnt[B] (disjoint from the kept ones)
    if (use_k) {
        if (c->top_k >= total) {
            n = gather(w, V, 0, -1, idx, tail, &nb);
        } else {
            int above = 0;
            for (B = NB - 1; above + cnt[B] < c->top_k; B--) above += cnt[B];
            tail = idx + V - cnt[B];
            n = gather(w, V, 0, B, idx, tail, &nb);
            int want = c->top_k - n;
            if (want < nb) select_top(tail, nb, want, w);
            memmove(idx + n, tail, (size_t)want * sizeof *idx);
            n += want;
        }
        if (use_p) { // top-p on the distribution renormalised over the top-k survivors
            double zk = 0, cum = 0;
            for (int i = 0; i < n; i++) zk += w[idx[i]];
            qsort_r(idx, (size_t)n, sizeof *idx, cmp_desc, w);
            double target = (double)c->top_p * zk;
            for (int i = 0; i < n; i++)
                if ((cum += w[idx[i]]) >= target) {
                    n = i + 1;
                    break;
                }
        }
    } else {
        double target = (double)c->top_p * sum, cum = 0;
        for (B = NB - 1; B >= 0 && cum + mass[B] < target; B--) cum += mass[B];
        if (B >= 0) tail = idx + V - cnt[B];
        n = gather(w, V, thr, B, idx, tail, &nb); // B = -1: the mass never reached the target, keep all
        if (B >= 0) {
            qsort_r(tail, (size_t)nb, sizeof *tail, cmp_desc, w);
            int keep = nb;
            for (int i = 0; i < nb; i++)
                if ((cum += w[tail[i]]) >= target) {
                    keep = i + 1;
                    break;
                }
            memmove(idx + n, tail, (size_t)keep * sizeof *idx);
            n += keep;
        }
    }
    int k = 0;
    for (int i = 0; i < n; i++)
        if (w[idx[i]] >= thr) idx[k++] = idx[i];
    return k;
}

int cpu_sample_filter(const BackendSampleCfg *c, const float *logits, int V, void *scratch, int *ids) {
    void *own = NULL;
    if (!scratch && V > 0 && !(scratch = own = malloc(cpu_sample_scratch_bytes(V))))
        return grpo_fail(GRPO_ENOMEM, "sampler: out of memory for %d logits", V), -1;
    double *w = scratch, z;
    int *idx = V > 0 ? (int *)(w + V) : NULL, amax;
    int n = V > 0 ? filter(c, logits, V, w, idx, &z, &amax, 1) : fail("no logits", -1, 0);
    if (n > 0 && ids) memcpy(ids, idx, (size_t)n * sizeof *ids);
    free(own);
    return n;
}

int cpu_sample_row(const BackendSampleCfg *c, uint64_t *rng, const float *logits, int V, void *scratch, float *logprob) {
    if (!c || !logits || V <= 0) return fail("no logits or config", -1, 0);
    if (c->temperature > 0 && !rng) return fail("no RNG", -1, 0);
    void *own = NULL;
    if (!scratch && !(scratch = own = malloc(cpu_sample_scratch_bytes(V)))) {
        grpo_fail(GRPO_ENOMEM, "sampler: out of memory for %d logits", V);
        return -1;
    }
    double *w = scratch, z; // (V) weights
    int *idx = (int *)(w + V), amax = -1; // (V) survivor ids
    int n = filter(c, logits, V, w, idx, &z, &amax, c->temperature > 0);
    int tok = -1;
    if (n > 0 && c->temperature == 0) {
        tok = amax; // greedy: log_softmax at T = 1, no RNG draw
    } else if (n > 0) {
        double s = 0, acc = 0;
        for (int i = 0; i < n; i++) s += w[idx[i]];
        double target = grpo_xoshiro_uniform(rng) * s;
        for (int i = 0; i < n && tok < 0; i++) {
            acc += w[idx[i]];
            if (target < acc) tok = idx[i];
        }
        if (tok < 0) tok = idx[n - 1]; // rounding left the target at the very end
    }
    if (tok >= 0 && logprob) {
        double inv = c->temperature > 0 ? 1.0 / c->temperature : 1.0;
        *logprob = (float)((double)logits[tok] * inv - (double)logits[amax] * inv - log(z));
    }
    free(own);
    return tok;
}

// ---------------------------------------------------------------- the backend op

// Rows in parallel (when there is enough work to pay for waking the team),
// each with its own slice of the backend's cached scratch,
// so the tokens are those of cpu_sample_row whatever the thread count.
int cpu_sample(Backend *b, int32_t *tokens, float *logprobs, uint64_t *rng, const float *logits, const int32_t *seq,
               const BackendSampleCfg *cfg, int S, int V) {
    if (S < 0 || V <= 0 || (S > 0 && (!tokens || !logprobs || !rng || !logits || !seq || !cfg)))
        return grpo_fail(GRPO_EINVAL, "sample: bad arguments for %d rows of %d logits", S, V);
    if (S == 0) return GRPO_OK;
    size_t per = (cpu_sample_scratch_bytes(V) + 63) & ~(size_t)63;
    int nt = omp_get_max_threads();
    char *scratch = cpu_scratch(b, per * (size_t)(nt > S ? S : nt));
    if (!scratch) return grpo_fail(GRPO_ENOMEM, "sample: out of memory for %d rows of %d logits", S, V);
    int bad = -1;
    char msg[512] = "";
#pragma omp parallel for schedule(dynamic, 1) if (S > 1 && (long)S * V >= CPU_PAR_MIN / 8) num_threads(nt > S ? S : nt)
    for (int i = 0; i < S; i++) {
        float lp = NAN;
        int s = seq[i];
        int t = cpu_sample_row(&cfg[s], &rng[4 * (size_t)s], logits + (size_t)i * V, V, scratch + per * (size_t)omp_get_thread_num(),
                               &lp);
        tokens[i] = t;
        logprobs[i] = t < 0 ? NAN : lp;
        if (t < 0) {
#pragma omp critical(cpu_sample_err)
            if (bad < 0 || i < bad) { // the lowest failing row, whatever the schedule
                bad = i;
                snprintf(msg, sizeof msg, "%s", grpo_errmsg()); // the message is thread-local
            }
        }
    }
    if (bad >= 0) return grpo_fail(GRPO_EINVAL, "sample: row %d: %s", bad, msg);
    return GRPO_OK;
}
