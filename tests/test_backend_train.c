// The CPU backend's sample op draws exactly what policy/sampler.c draws (the
// runs' bit-reproducibility rests on it): same tokens, log-probs and RNG
// states for rows in any order of sequences; a bad row is named. And the
// optimizer ops against plain loops.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "policy/sampler.h"
#include "testlib.h"

static void test_sample_op(Backend *b) {
    enum { V = 3001, S = 9 };
    float *l = malloc(sizeof(float) * V * S);
    uint64_t r = 3;
    for (int i = 0; i < V * S; i++) l[i] = tu_rand_uniform(&r) * 5;
    const SamplerConfig cfgs[] = {{1, 0, 1, 0}, {0.8f, 40, 1, 0}, {1.1f, 0, 0.9f, 0}, {1, 0, 1, 0.05f},
                                  {0.7f, 100, 0.95f, 0.02f}, {0, 0, 1, 0}};
    for (size_t k = 0; k < sizeof cfgs / sizeof cfgs[0]; k++) {
        Rng ref[S], st[S];
        BackendSampleCfg cf[S];
        int32_t seq[S], tok[S], want[S];
        float lp[S], wlp[S];
        for (int s = 0; s < S; s++) {
            rng_seed_stream(&ref[s], 17 + k, (uint64_t)s);
            st[s] = ref[s];
            cf[s] = (BackendSampleCfg){cfgs[k].temperature, cfgs[k].top_k, cfgs[k].top_p, cfgs[k].min_p};
        }
        for (int t = 0; t < 5; t++) { // five steps; rows visit sequences in a rotating order
            for (int i = 0; i < S; i++) seq[i] = (i * 4 + t) % S;
            CHECK(b->sample(b, tok, lp, (uint64_t *)st, l, seq, cf, S, V) == GRPO_OK, "%s", grpo_errmsg());
            for (int i = 0; i < S; i++) want[i] = sampler_sample(&cfgs[k], &ref[seq[i]], l + (size_t)i * V, V, NULL, &wlp[i]);
            CHECK(!memcmp(tok, want, sizeof tok) && !memcmp(lp, wlp, sizeof lp), "config %zu step %d: op differs from sampler_sample", k, t);
        }
        CHECK(!memcmp(st, ref, sizeof st), "config %zu: RNG states differ", k);
    }
    // A NaN logit: that row is -1 and named; the others are still drawn.
    Rng st[2];
    rng_seed(&st[0], 1), rng_seed(&st[1], 2);
    BackendSampleCfg cf[2] = {{1, 0, 1, 0}, {1, 0, 1, 0}};
    int32_t seq[2] = {0, 1}, tok[2];
    float lp[2];
    l[V + 5] = NAN;
    CHECK(b->sample(b, tok, lp, (uint64_t *)st, l, seq, cf, 2, V) == GRPO_EINVAL, "NaN accepted");
    CHECK(strstr(grpo_errmsg(), "row 1") != NULL, "message names the row: %s", grpo_errmsg());
    CHECK(tok[0] >= 0 && tok[1] == -1 && isnan(lp[1]), "tokens %d %d", tok[0], tok[1]);
    free(l);
}

static void test_optim_ops(Backend *b) {
    enum { N = 70001 }; // more than one sumsq chunk, not a multiple of one
    float *x = malloc(sizeof(float) * N);
    uint64_t r = 8;
    double ref = 0;
    for (int i = 0; i < N; i++) x[i] = tu_rand_uniform(&r), ref += (double)x[i] * x[i];
    double s = 0;
    CHECK(b->sumsq(b, &s, x, N) == GRPO_OK && fabs(s - ref) < 1e-9 * ref, "sumsq %.17g vs %.17g", s, ref);
    float x0 = x[N - 1];
    CHECK(b->scale(b, x, 0.5f, N) == GRPO_OK && x[N - 1] == x0 * 0.5f, "scale");
    free(x);
}

int main(void) {
    Backend *b = NULL;
    CHECK(backend_open("cpu", &b) == GRPO_OK, "%s", grpo_errmsg());
    if (!b) return tu_finish("test_backend_train");
    CHECK(b->adamw && b->sumsq && b->scale && b->sample, "the CPU backend fills every training slot");
    test_sample_op(b);
    test_optim_ops(b);
    backend_close(b);
    return tu_finish("test_backend_train");
}
