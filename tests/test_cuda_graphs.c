// Decode steps as CUDA graphs (policy/generate.c, kernels/cuda/cuda_graph.cu):
// generation through graphs gives the same tokens, log-probs and finish
// reasons bit for bit as eager generation, greedy and sampled (T = 1, top-p),
// in fp32 and bf16, with prompts of different lengths and EOS ids that end
// sequences at different steps (so the number of active rows, the graph key,
// changes and graphs are reused). Forced capture failures (graph_end failing,
// an op failing inside the capture, scratch growth inside the capture, a copy
// to the host and a synchronisation inside the capture, which the driver
// refuses) fall back to eager steps with the same results.
// A GenCache keeps the workspace and graphs across calls: a second call
// captures nothing and gives the eager tokens; other sampler settings and
// seeds reuse the graphs (they are device memory), other shapes reuse or
// reallocate as they fit. Padded
// decode rows (gen_rows) give the tokens of unpadded ones. A trainer-like
// series of calls prints the captures without and with a cache.
// GRPO_TEST_DEVICE=cpu: the CPU has no graph slots; generate must not use any.
// Where no usable GPU exists the test reports itself skipped.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "policy/generate.h"
#include "policy/model.h"
#include "testlib.h"
#include "tu_gen.h"

enum { NP = 3, G = 3, S = NP * G, MAXTOK = 12, NPMAX = 6 };

static Backend *cpu;

// ---- op-table wrappers that make a capture fail (the originals are restored after)
static int (*real_graph_end)(Backend *, void **);
static int (*real_graph_begin)(Backend *);
static int (*real_add)(Backend *, void *, const void *, const void *, size_t);
// fail_mode 1: graph_end fails; 2: an op fails in the capture; 3: sumsq in the
// capture needs more scratch; 4: sumsq in the capture with enough scratch
// (its copy to the host and synchronisation reach the driver, which refuses)
static int in_capture, fail_mode;
static float *big;                // device memory for the sumsq inside the capture
static size_t big_n;

static int fail_graph_end(Backend *b, void **graph) {
    in_capture = 0;
    int st = real_graph_end(b, graph);
    if (st) return st;
    b->graph_free(b, *graph);
    *graph = NULL;
    return grpo_fail(GRPO_EDEVICE, "test: graph_end made to fail");
}
static int flag_graph_begin(Backend *b) {
    int st = real_graph_begin(b);
    in_capture = !st;
    return st;
}
static int flag_graph_end(Backend *b, void **graph) {
    in_capture = 0;
    return real_graph_end(b, graph);
}
static int fail_add(Backend *b, void *out, const void *x, const void *y, size_t n) {
    if (in_capture && fail_mode == 2) return grpo_fail(GRPO_EDEVICE, "test: add made to fail inside the capture");
    if (in_capture && fail_mode >= 3) {
        double d = 0;
        int st = b->sumsq(b, &d, big, big_n); // allocates scratch and synchronises: refused in a capture
        if (st) return st;
        return grpo_fail(GRPO_EINTERNAL, "test: sumsq succeeded inside a capture");
    }
    return real_add(b, out, x, y, n);
}

static void prompts_make(const Model *m, int32_t buf[NP][12], const int32_t *prompts[NP], int lens[NP]) {
    static const int L[NP] = {1, 5, 12};
    uint64_t r = 321;
    for (int p = 0; p < NP; p++) {
        lens[p] = L[p];
        for (int i = 0; i < lens[p]; i++) buf[p][i] = (int32_t)(tu_rand_u64(&r) % (uint64_t)m->cfg.vocab);
        prompts[p] = buf[p];
    }
}

static int gen(Model *m, const GenConfig *c, GenResult *res, GenGraphStats *gs, int no_graphs) {
    int32_t buf[NP][12];
    const int32_t *prompts[NP];
    int lens[NP];
    prompts_make(m, buf, prompts, lens);
    GenConfig cc = *c;
    cc.no_graphs = no_graphs;
    cc.graph_stats = gs;
    int st = generate(m, &cc, prompts, lens, NP, G, res);
    CHECK(st == GRPO_OK, "generate: %s", grpo_errmsg());
    return st == GRPO_OK;
}

static int same(const char *tag, const GenResult *a, const GenResult *b) { return tu_gen_same(tag, a, b, S); }

// Graphs against eager for one sampler; the EOS ids are taken from an eager
// run's tokens so that sequences stop at different steps.
static void check_sampler(const char *tag, Model *m, float temperature, float top_p, int failures) {
    Backend *b = m->be;
    int has_graphs = b->graph_begin != NULL;
    GenConfig c;
    memset(&c, 0, sizeof c);
    c.sampler = sampler_config_default();
    c.sampler.temperature = temperature;
    c.sampler.top_p = top_p;
    c.max_tokens = MAXTOK;
    c.seed = 7;
    GenResult probe[S], eager[S], graph[S];
    GenGraphStats gs;
    if (!gen(m, &c, probe, &gs, 1)) return;
    int32_t eos[2] = {probe[0].tokens[3], probe[4].tokens[7]};
    gen_results_free(probe, S);
    c.eos_ids = eos;
    c.n_eos = 2;

    if (!gen(m, &c, eager, &gs, 1)) return;
    CHECK(gs.launched == 0 && gs.captured == 0, "%s: no_graphs still launched %d graphs", tag, gs.launched);
    int lmin = MAXTOK, lmax = 0;
    for (int s = 0; s < S; s++) {
        lmin = eager[s].n_tokens < lmin ? eager[s].n_tokens : lmin;
        lmax = eager[s].n_tokens > lmax ? eager[s].n_tokens : lmax;
    }
    CHECK(lmin < lmax && lmax >= 8, "%s: lengths %d..%d: the active rows never change or graphs are not reused", tag,
          lmin, lmax);

    if (gen(m, &c, graph, &gs, 0)) {
        same(tag, eager, graph);
        if (has_graphs) {
            CHECK(gs.failed == 0, "%s: capture failed: %s", tag, gs.why);
            CHECK(gs.captured >= 2 && gs.launched > gs.captured, "%s: %d graphs captured, %d launched", tag, gs.captured,
                  gs.launched);
        } else {
            CHECK(gs.launched == 0 && gs.captured == 0, "%s: a backend without graphs launched %d", tag, gs.launched);
        }
        gen_results_free(graph, S);
    }

    // The environment switch turns graphs off.
    setenv("GRPO_CUDA_GRAPHS", "0", 1);
    if (gen(m, &c, graph, &gs, 0)) {
        same(tag, eager, graph);
        CHECK(gs.launched == 0 && gs.captured == 0, "%s: GRPO_CUDA_GRAPHS=0 still launched %d graphs", tag,
              gs.launched);
        gen_results_free(graph, S);
    }
    unsetenv("GRPO_CUDA_GRAPHS");

    // Forced capture failures: each falls back to eager steps, same results.
    for (int mode = 1; failures && has_graphs && mode <= 4; mode++) {
        char t[160];
        snprintf(t, sizeof t, "%s fail mode %d", tag, mode);
        real_graph_end = b->graph_end, real_graph_begin = b->graph_begin, real_add = b->add;
        fail_mode = mode;
        in_capture = 0;
        if (mode == 4) { // grow the scratch first, outside any capture
            double d = 0;
            CHECK(b->sumsq(b, &d, big, big_n) == GRPO_OK, "%s: sumsq: %s", t, grpo_errmsg());
        }
        if (mode == 1) b->graph_end = fail_graph_end;
        else b->graph_begin = flag_graph_begin, b->graph_end = flag_graph_end, b->add = fail_add;
        int ok = gen(m, &c, graph, &gs, 0);
        b->graph_end = real_graph_end, b->graph_begin = real_graph_begin, b->add = real_add;
        CHECK(!in_capture, "%s: a capture was left open", t);
        if (!ok) continue;
        same(t, eager, graph);
        CHECK(gs.failed == 1 && gs.launched == 0 && gs.captured == 0, "%s: failed %d, captured %d, launched %d", t,
              gs.failed, gs.captured, gs.launched);
        CHECK(gs.why[0] != '\0', "%s: no reason recorded", t);
        printf("%s: fell back: %s\n", t, gs.why);
        gen_results_free(graph, S);
        // The backend still works after the failed capture (graphs included).
        if (gen(m, &c, graph, &gs, 0)) {
            same(t, eager, graph);
            CHECK(gs.failed == 0 && gs.launched > 0, "%s then: failed %d, launched %d", t, gs.failed, gs.launched);
            gen_results_free(graph, S);
        }
    }
    gen_results_free(eager, S);
}

// ---- GenCache, padding and a trainer-like series (np prompts of random
// lengths 1..12 drawn from pseed, G samples each)

static int gen_with(Model *m, const GenConfig *c, int np, uint64_t pseed, GenCache *cache, int no_graphs, int no_pad,
                    GenResult *res, GenGraphStats *gs) {
    int32_t buf[NPMAX][12];
    const int32_t *prompts[NPMAX];
    int lens[NPMAX];
    tu_gen_prompts(buf, prompts, lens, np, &pseed, m->cfg.vocab);
    GenConfig cc = *c;
    cc.no_graphs = no_graphs, cc.no_pad = no_pad, cc.cache = cache, cc.graph_stats = gs;
    int st = generate(m, &cc, prompts, lens, np, G, res);
    CHECK(st == GRPO_OK, "generate: %s", grpo_errmsg());
    return st == GRPO_OK;
}

// A call through the cache against an eager call without one: the same bits.
// gs gets the cached call's statistics.
static void cached_vs_eager(const char *tag, Model *m, const GenConfig *c, int np, uint64_t pseed, GenCache *cache,
                            int no_graphs, GenGraphStats *gs) {
    GenResult eager[NPMAX * G], got[NPMAX * G];
    GenGraphStats egs;
    memset(gs, 0, sizeof *gs);
    if (!gen_with(m, c, np, pseed, NULL, 1, 0, eager, &egs)) return;
    if (gen_with(m, c, np, pseed, cache, no_graphs, 0, got, gs)) {
        tu_gen_same(tag, eager, got, np * G);
        gen_results_free(got, np * G);
    }
    gen_results_free(eager, np * G);
    printf("%s: built %d kept %d captured %d launched %d\n", tag, gs->built, gs->kept, gs->captured, gs->launched);
}

// Two EOS ids taken from an eager run's tokens, so sequences stop at different steps.
static void pick_eos(Model *m, const GenConfig *c, int np, uint64_t pseed, int32_t eos[2]) {
    GenResult r[NPMAX * G];
    GenGraphStats gs;
    eos[0] = eos[1] = 0;
    if (!gen_with(m, c, np, pseed, NULL, 1, 0, r, &gs)) return;
    eos[0] = r[0].tokens[3], eos[1] = r[np * G - 2].tokens[6];
    gen_results_free(r, np * G);
}

static void check_cache(const char *tag, Model *m, Model *other) {
    Backend *b = m->be;
    const int hg = b->graph_begin != NULL;
    GenCache *cache = NULL;
    CHECK(gen_cache_build(&cache, m) == GRPO_OK, "gen_cache_build: %s", grpo_errmsg());
    if (!cache) return;
    GenConfig c;
    memset(&c, 0, sizeof c);
    c.sampler = sampler_config_default();
    c.sampler.temperature = 1.0f, c.sampler.top_p = 0.9f;
    c.max_tokens = MAXTOK;
    c.seed = 7;
    GenGraphStats gs;
    char t[160];
    // No EOS: every decode step has all S rows, one graph.
    snprintf(t, sizeof t, "%s cache first call", tag);
    cached_vs_eager(t, m, &c, NP, 1, cache, 0, &gs);
    if (hg)
        CHECK(gs.built == 1 && gs.kept == 0 && gs.captured == 1 && gs.launched == MAXTOK - 1 && gs.failed == 0,
              "%s: built %d kept %d captured %d launched %d (%s)", t, gs.built, gs.kept, gs.captured, gs.launched, gs.why);
    else
        CHECK(gs.built == 0 && gs.kept == 0 && gs.captured == 0 && gs.launched == 0, "%s: the cache was used", t);

    // Other sampler settings and seeds: graphs reused (they read them from
    // device memory), tokens those of an eager run with the new settings.
    static const struct { float temp, top_p, min_p; int top_k; uint64_t seed; } v[] = {
        {1.0f, 0.9f, 0.0f, 0, 7}, {0.7f, 1.0f, 0.05f, 5, 99}, {0.0f, 1.0f, 0.0f, 0, 3}, {1.3f, 0.8f, 0.0f, 0, 11}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        GenConfig ci = c;
        ci.sampler.temperature = v[i].temp, ci.sampler.top_p = v[i].top_p, ci.sampler.min_p = v[i].min_p;
        ci.sampler.top_k = v[i].top_k, ci.seed = v[i].seed;
        snprintf(t, sizeof t, "%s cache sampler %zu (T=%g top-k %d top-p %g min-p %g seed %llu)", tag, i, v[i].temp,
                 v[i].top_k, v[i].top_p, v[i].min_p, (unsigned long long)v[i].seed);
        cached_vs_eager(t, m, &ci, NP, 1, cache, 0, &gs);
        if (hg)
            CHECK(gs.built == 0 && gs.kept == 1 && gs.captured == 0 && gs.launched == MAXTOK - 1,
                  "%s: built %d kept %d captured %d launched %d", t, gs.built, gs.kept, gs.captured, gs.launched);
    }

    // Other prompts and EOS ids: the new row counts are captured once, then
    // nothing more.
    int32_t eos[2];
    pick_eos(m, &c, NP, 2, eos);
    c.eos_ids = eos, c.n_eos = 2;
    snprintf(t, sizeof t, "%s cache eos", tag);
    cached_vs_eager(t, m, &c, NP, 2, cache, 0, &gs);
    int graphs = 1 + gs.captured;
    if (hg) CHECK(gs.built == 0 && gs.kept == 1 && gs.captured >= 1, "%s: built %d kept %d captured %d", t, gs.built, gs.kept, gs.captured);
    snprintf(t, sizeof t, "%s cache eos again", tag);
    cached_vs_eager(t, m, &c, NP, 2, cache, 0, &gs);
    if (hg)
        CHECK(gs.built == 0 && gs.kept == graphs && gs.captured == 0 && gs.launched > 0,
              "%s: built %d kept %d (want %d) captured %d launched %d", t, gs.built, gs.kept, graphs, gs.captured,
              gs.launched);
    // Fewer sequences fit; graphs off leaves the graphs alone.
    snprintf(t, sizeof t, "%s cache fewer prompts", tag);
    cached_vs_eager(t, m, &c, NP - 1, 3, cache, 0, &gs);
    if (hg) CHECK(gs.built == 0 && gs.kept == graphs, "%s: built %d kept %d", t, gs.built, gs.kept);
    graphs = gs.kept + gs.captured;
    snprintf(t, sizeof t, "%s cache no_graphs", tag);
    cached_vs_eager(t, m, &c, NP, 2, cache, 1, &gs);
    CHECK(gs.launched == 0 && gs.captured == 0, "%s: launched %d", t, gs.launched);
    if (hg) CHECK(gs.built == 0 && gs.kept == graphs, "%s: built %d kept %d", t, gs.built, gs.kept);

    // More sequences, then longer completions (cache rows past the first 64):
    // the workspace is allocated again, the old graphs freed.
    snprintf(t, sizeof t, "%s cache more prompts", tag);
    cached_vs_eager(t, m, &c, NPMAX, 4, cache, 0, &gs);
    if (hg) CHECK(gs.built == 1 && gs.kept == 0 && gs.captured >= 1, "%s: built %d kept %d captured %d", t, gs.built, gs.kept, gs.captured);
    GenConfig cl = c;
    cl.max_tokens = 70; // cache rows past 64 whatever the prompts
    cl.n_eos = 0;
    snprintf(t, sizeof t, "%s cache longer", tag);
    cached_vs_eager(t, m, &cl, 2, 5, cache, 0, &gs);
    if (hg) CHECK(gs.built == 1 && gs.kept == 0 && gs.captured == 1, "%s: built %d kept %d captured %d", t, gs.built, gs.kept, gs.captured);
    snprintf(t, sizeof t, "%s cache back to short", tag);
    cached_vs_eager(t, m, &c, NPMAX, 4, cache, 0, &gs);
    if (hg) CHECK(gs.built == 0 && gs.kept == 1, "%s: built %d kept %d", t, gs.built, gs.kept);

    // A cache belongs to one model.
    GenResult r[S];
    GenConfig co = c;
    co.cache = cache;
    int32_t one = 1;
    const int32_t *pp[1] = {&one};
    int len = 1;
    CHECK(generate(other, &co, pp, &len, 1, 1, r) == GRPO_EINVAL, "%s: another model's cache accepted", tag);
    gen_cache_free(cache);
}

// Padded decode rows against exactly the active rows, eagerly (tokens and
// finish reasons equal, log-probs within 1e-4: in fp32 only the matmul's row
// count differs, which a GPU's library may sum in another order), and the
// padded graphs against padded eager bit for bit.
static void check_padding(const char *tag, Model *m) {
    const int hg = m->be->graph_begin != NULL, n = NPMAX * G;
    GenConfig c;
    memset(&c, 0, sizeof c);
    c.sampler = sampler_config_default();
    c.sampler.temperature = 1.0f;
    c.max_tokens = MAXTOK;
    c.seed = 5;
    int32_t eos[2];
    pick_eos(m, &c, NPMAX, 6, eos);
    c.eos_ids = eos, c.n_eos = 2;
    GenResult padded[NPMAX * G], exact[NPMAX * G], graph[NPMAX * G];
    GenGraphStats gp, ge, gg;
    if (!gen_with(m, &c, NPMAX, 6, NULL, 1, 0, padded, &gp)) return;
    if (gen_with(m, &c, NPMAX, 6, NULL, 1, 1, exact, &ge)) {
        char t[64];
        snprintf(t, sizeof t, "%s padding", tag);
        int bits = tu_gen_close(t, padded, exact, n, 1e-4f), lmin = MAXTOK, lmax = 0;
        for (int s = 0; s < n; s++) {
            lmin = exact[s].n_tokens < lmin ? exact[s].n_tokens : lmin;
            lmax = exact[s].n_tokens > lmax ? exact[s].n_tokens : lmax;
        }
        CHECK(lmin <= 6 && lmax >= 10, "%s padding: lengths %d..%d: too few active-row counts", tag, lmin, lmax);
        CHECK(hg ? gp.pad_rows > 0 : gp.pad_rows == 0, "%s padding: %ld padding rows", tag, gp.pad_rows);
        CHECK(ge.pad_rows == 0, "%s: no_pad still padded %ld rows", tag, ge.pad_rows);
        printf("%s padding: %ld padding rows, log-probs %s\n", tag, gp.pad_rows, bits ? "bit-identical" : "within 1e-4");
        gen_results_free(exact, n);
    }
    if (gen_with(m, &c, NPMAX, 6, NULL, 0, 0, graph, &gg)) {
        tu_gen_same(tag, padded, graph, n);
        if (hg) CHECK(gg.captured >= 2 && gg.launched > gg.captured, "%s padding: captured %d launched %d", tag, gg.captured, gg.launched);
        gen_results_free(graph, n);
    }
    gen_results_free(padded, n);
}

// Decode steps of a call with these results: one per distinct number of
// active rows (what one call without padding or cache captures).
static int distinct_active(const GenResult *r, int n) {
    int seen[NPMAX * G + 1] = {0}, k = 0;
    for (int t = 1; t < MAXTOK; t++) {
        int na = 0;
        for (int s = 0; s < n; s++) na += r[s].n_tokens > t;
        if (na && !seen[na]) seen[na] = 1, k++;
    }
    return k;
}

// A trainer's calls: new prompts each step, the same settings. Prints the
// graphs captured per call one graph per active-row count without a cache
// (before), padded without a cache, and padded with one.
static void check_series(const char *tag, Model *m) {
    const int hg = m->be->graph_begin != NULL, n = NPMAX * G, steps = 6;
    GenCache *cache = NULL;
    CHECK(gen_cache_build(&cache, m) == GRPO_OK, "gen_cache_build: %s", grpo_errmsg());
    if (!cache) return;
    GenConfig c;
    memset(&c, 0, sizeof c);
    c.sampler = sampler_config_default();
    c.sampler.temperature = 1.0f;
    c.max_tokens = MAXTOK;
    int32_t eos[2];
    pick_eos(m, &c, NPMAX, 6, eos);
    c.eos_ids = eos, c.n_eos = 2;
    int before = 0, padded = 0, cached = 0, buckets = 0;
    for (int na = 1; na <= n; na++) buckets += gen_rows(na, n) == na;
    printf("%s series (%d prompts x %d, %d steps): captures per call  before / padded / padded+cache\n", tag, NPMAX, G, steps);
    for (int step = 0; step < steps; step++) {
        GenResult a[NPMAX * G], bres[NPMAX * G];
        GenGraphStats ga, gb;
        c.seed = 100 + (uint64_t)step;
        if (!gen_with(m, &c, NPMAX, 200 + (uint64_t)step, NULL, 0, 0, a, &ga)) break;
        if (gen_with(m, &c, NPMAX, 200 + (uint64_t)step, cache, 0, 0, bres, &gb)) {
            char t[96];
            snprintf(t, sizeof t, "%s series step %d", tag, step);
            tu_gen_same(t, a, bres, n);
            int k = distinct_active(a, n);
            printf("  step %d: %d / %d / %d\n", step, k, ga.captured, gb.captured);
            before += k, padded += ga.captured, cached += gb.captured;
            gen_results_free(bres, n);
        }
        gen_results_free(a, n);
    }
    printf("%s series total: %d / %d / %d (at most %d row counts when padded)\n", tag, before, padded, cached, buckets);
    if (hg) CHECK(cached <= buckets && cached < padded && padded <= before, "%s series: captures %d / %d / %d", tag, before, padded, cached);
    gen_cache_free(cache);
}

static void run(const char *tag, Backend *b, const ModelConfig *mc) {
    Model *mcpu = NULL, *m = NULL;
    int ok = model_build(&mcpu, mc, cpu) == GRPO_OK && model_init_random(mcpu, 3, 0.5f) == GRPO_OK &&
             model_build(&m, mc, b) == GRPO_OK &&
             b->to_device(b, m->params, mcpu->params, mcpu->n_params * sizeof(float)) == GRPO_OK &&
             model_sync_cd(m) == GRPO_OK;
    CHECK(ok, "%s: building the model: %s", tag, grpo_errmsg());
    if (ok) {
        // sumsq inside the capture must need more scratch than exists (mode 3):
        // a buffer larger than anything an eager op asks for.
        big_n = (size_t)1 << 20;
        ok = b->alloc(b, (void **)&big, big_n * sizeof(float)) == GRPO_OK;
        CHECK(ok, "alloc: %s", grpo_errmsg());
    }
    if (ok) {
        char t[64];
        snprintf(t, sizeof t, "%s greedy", tag);
        // The forced failures once per precision (the emulator is slow).
        int fp32 = b->cdt == BE_F32;
        check_sampler(t, m, 0.0f, 1.0f, fp32);
        snprintf(t, sizeof t, "%s T=1 top-p 0.9", tag);
        check_sampler(t, m, 1.0f, 0.9f, !fp32);
        check_cache(tag, m, mcpu);
        if (fp32) check_padding(tag, m), check_series(tag, m);
        b->free(b, big);
        big = NULL;
    }
    model_free(m);
    model_free(mcpu);
}

int main(void) {
    const char *name = "test_cuda_graphs";
    Backend *gpu = NULL, *gpu16 = NULL;
    int rc = tu_open_gpu(name, &gpu);
    if (!gpu) return rc;
    CHECK(backend_open("cpu", &cpu) == GRPO_OK, "%s", grpo_errmsg());
    if (!cpu) return tu_finish(name);
    if (gpu->kind == BACKEND_CUDA) {
        CHECK(backend_set_precision(gpu, "fp32") == GRPO_OK, "%s", grpo_errmsg());
        CHECK(tu_open_gpu(name, &gpu16) == 0 && gpu16 && gpu16->cdt == BE_BF16, "bf16 backend");
        CHECK(gpu->graph_begin && gpu->graph_end && gpu->graph_launch && gpu->graph_free, "cuda lacks graph slots");
    } else {
        CHECK(!gpu->graph_begin && !gpu->graph_launch, "the %s backend has graph slots", gpu->name);
        printf("GRPO_TEST_DEVICE=%s: no graphs, no bf16; checking the eager path only\n", gpu->name);
    }
    ModelConfig q;
    model_config_default(&q, MODEL_QWEN2);
    q.hidden = 64, q.ffn = 128, q.n_layers = 2, q.n_heads = 4, q.n_kv_heads = 2, q.head_dim = 16, q.vocab = 97;
    q.max_pos = 128, q.tie_embeddings = 1;
    run("fp32", gpu, &q);
    if (gpu16) run("bf16", gpu16, &q);
    backend_close(gpu16);
    backend_close(gpu);
    backend_close(cpu);
    return tu_finish(name);
}
