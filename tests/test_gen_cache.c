// generate()'s workspace cache (GenCache) and padded decode rows (gen_rows)
// on the CPU, where they run in every build (the sanitizers included): a CPU
// backend given graph slots whose captures always fail takes the paths a GPU
// takes -- the cache keeps, reuses and reallocates its workspace, decode steps
// compute padded rows in finished sequences' slots -- and then steps eagerly.
// A call's results must not depend on the cache (bit for bit) and padding may
// change only the last bits of log-probs (the CPU's matmul over more than 8
// rows is sgemm, whose rounding can depend on the row count). Also: gen_rows'
// sizes, a cache refuses another model, a CPU without graph slots ignores it.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "policy/generate.h"
#include "policy/model.h"
#include "testlib.h"
#include "tu_gen.h"

enum { G = 3, NPMAX = 8, MAXTOK = 10 };

static int fake_begin(Backend *b) {
    (void)b;
    return grpo_fail(GRPO_EUNSUPPORTED, "test: no capture on the cpu");
}
static int fake_end(Backend *b, void **graph) {
    (void)b;
    *graph = NULL;
    return grpo_fail(GRPO_EINVAL, "test: graph_end without graph_begin");
}
static int fake_launch(Backend *b, void *graph) {
    (void)b, (void)graph;
    return grpo_fail(GRPO_EINTERNAL, "test: a graph was launched");
}
static void fake_free(Backend *b, void *graph) { (void)b, (void)graph; }

static void slots(Backend *b, int on) {
    b->graph_begin = on ? fake_begin : NULL;
    b->graph_end = on ? fake_end : NULL;
    b->graph_launch = on ? fake_launch : NULL;
    b->graph_free = on ? fake_free : NULL;
}

// np prompts of lengths 1..12 drawn from pseed, G samples each.
static int run(Model *m, const GenConfig *c, int np, uint64_t pseed, GenCache *cache, int no_pad, GenResult *res,
               GenGraphStats *gs) {
    int32_t buf[NPMAX][12];
    const int32_t *prompts[NPMAX];
    int lens[NPMAX];
    tu_gen_prompts(buf, prompts, lens, np, &pseed, m->cfg.vocab);
    GenConfig cc = *c;
    cc.cache = cache, cc.no_pad = no_pad, cc.graph_stats = gs;
    int st = generate(m, &cc, prompts, lens, np, G, res);
    CHECK(st == GRPO_OK, "generate: %s", grpo_errmsg());
    return st == GRPO_OK;
}

// A call four ways: on the plain CPU, with graph slots (padded rows), with
// slots through the cache, and with slots through the cache unpadded. The
// cache changes nothing (bit for bit, padded or not); padding changes at most
// the last bits of the log-probs. gs gets the padded cached call's statistics.
static void four_ways(const char *tag, Model *m, const GenConfig *c, int np, uint64_t pseed, GenCache *cache,
                      GenGraphStats *gs) {
    const int n = np * G;
    GenResult plain[NPMAX * G], padded[NPMAX * G], cached[NPMAX * G], exact[NPMAX * G];
    GenGraphStats pgs, xgs;
    char t[128];
    memset(gs, 0, sizeof *gs);
    slots(m->be, 0);
    int ok = run(m, c, np, pseed, NULL, 0, plain, &pgs);
    slots(m->be, 1);
    ok = ok && run(m, c, np, pseed, NULL, 0, padded, &pgs);
    if (ok && run(m, c, np, pseed, cache, 0, cached, gs)) {
        snprintf(t, sizeof t, "%s: cached vs uncached", tag);
        tu_gen_same(t, padded, cached, n);
        snprintf(t, sizeof t, "%s: padded vs plain", tag);
        // Padding may change the last bits of log-probs (a matmul over more
        // than 8 rows is sgemm, whose rounding of a row can depend on the row count).
        tu_gen_close(t, plain, cached, n, 1e-4f);
        // Every call tries one capture, which fails, then steps eagerly.
        CHECK(gs->failed == 1 && gs->launched == 0 && gs->captured == 0, "%s: failed %d launched %d captured %d", tag,
              gs->failed, gs->launched, gs->captured);
        CHECK(gs->pad_rows == pgs.pad_rows, "%s: %ld padding rows, %ld without the cache", tag, gs->pad_rows, pgs.pad_rows);
        gen_results_free(cached, n);
    }
    if (ok && run(m, c, np, pseed, cache, 1, exact, &xgs)) {
        snprintf(t, sizeof t, "%s: cached unpadded vs plain", tag);
        tu_gen_same(t, plain, exact, n);
        CHECK(xgs.pad_rows == 0 && xgs.built == 0, "%s: no_pad: %ld padding rows, built %d", tag, xgs.pad_rows, xgs.built);
        gen_results_free(exact, n);
    }
    if (ok) gen_results_free(plain, n), gen_results_free(padded, n);
    slots(m->be, 0);
}

static void test_rows(void) {
    static const int want[][3] = {{1, 64, 1},   {8, 64, 8},   {9, 64, 10},  {10, 64, 10}, {11, 64, 12}, {16, 64, 16},
                                  {17, 64, 20}, {21, 64, 24}, {33, 64, 40}, {57, 64, 64}, {9, 9, 9},    {17, 18, 18},
                                  {65, 512, 80}, {129, 512, 160}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECK(gen_rows(want[i][0], want[i][1]) == want[i][2], "gen_rows(%d, %d) = %d, want %d", want[i][0], want[i][1],
              gen_rows(want[i][0], want[i][1]), want[i][2]);
    // Never fewer than the active rows, at most a quarter more past 8, and
    // few sizes: at most 8 + 4 per doubling.
    int sizes = 0;
    for (int na = 1; na <= 512; na++) {
        int nb = gen_rows(na, 512);
        CHECK(nb >= na && (na <= 8 || nb * 4 <= na * 5 + 3), "gen_rows(%d) = %d", na, nb);
        sizes += nb == na;
    }
    CHECK(sizes <= 8 + 4 * 6, "%d row counts up to 512", sizes);
}

int main(void) {
    test_rows();
    Backend *b = NULL;
    if (backend_open("cpu", &b)) return tu_finish("test_gen_cache");
    ModelConfig mc;
    model_config_default(&mc, MODEL_QWEN2);
    mc.hidden = 32, mc.ffn = 64, mc.n_layers = 2, mc.n_heads = 4, mc.n_kv_heads = 2, mc.head_dim = 8, mc.vocab = 61;
    mc.max_pos = 160;
    Model *m = NULL, *other = NULL;
    CHECK(model_build(&m, &mc, b) == GRPO_OK && model_init_random(m, 4, 0.5f) == GRPO_OK &&
              model_build(&other, &mc, b) == GRPO_OK,
          "%s", grpo_errmsg());
    if (!m || !other) goto out;

    GenConfig c;
    memset(&c, 0, sizeof c);
    c.sampler = sampler_config_default();
    c.sampler.temperature = 1.0f, c.sampler.top_p = 0.95f;
    c.max_tokens = MAXTOK;
    c.seed = 3;
    c.prefill_tokens = 32; // several prefill passes; work rows stay within the first 64 (no reallocation for them)
    // EOS ids from a plain run, so sequences end at different steps and the
    // active rows go through many counts.
    GenResult probe[NPMAX * G];
    GenGraphStats gs;
    if (!run(m, &c, 6, 1, NULL, 0, probe, &gs)) goto out;
    int32_t eos[2] = {probe[0].tokens[2], probe[10].tokens[5]};
    gen_results_free(probe, 6 * G);
    c.eos_ids = eos, c.n_eos = 2;

    // A cache: kept while calls fit, reallocated (large enough for old and new) when not.
    GenCache *cache = NULL;
    CHECK(gen_cache_build(&cache, m) == GRPO_OK, "%s", grpo_errmsg());
    if (!cache) goto out;
    static const struct { const char *tag; int np, max_tokens, built; } calls[] = {
        {"cache first", 6, MAXTOK, 1}, {"cache again", 6, MAXTOK, 0},   {"cache fewer", 2, MAXTOK, 0},
        {"cache more", 8, MAXTOK, 1},  {"cache longer", 3, 100, 1},     {"cache old shape", 6, MAXTOK, 0},
        {"cache both", 8, 100, 0}};
    long pad_rows = 0;
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        GenConfig ci = c;
        ci.max_tokens = calls[i].max_tokens;
        ci.seed = 10 + i;
        four_ways(calls[i].tag, m, &ci, calls[i].np, 20 + i, cache, &gs);
        CHECK(gs.built == calls[i].built, "%s: built %d, want %d", calls[i].tag, gs.built, calls[i].built);
        pad_rows += gs.pad_rows;
    }
    CHECK(pad_rows > 0, "no padding rows at all");
    printf("%ld padding rows in %zu calls\n", pad_rows, sizeof calls / sizeof calls[0]);
    // A cache belongs to one model; without graph slots it is not used.
    GenResult r[NPMAX * G];
    GenConfig co = c;
    co.cache = cache;
    int32_t one = 1;
    const int32_t *pp[1] = {&one};
    int len = 1;
    slots(b, 1);
    CHECK(generate(other, &co, pp, &len, 1, 1, r) == GRPO_EINVAL, "another model's cache accepted");
    slots(b, 0);
    CHECK(generate(other, &co, pp, &len, 1, 1, r) == GRPO_EINVAL, "another model's cache accepted without slots");
    co.graph_stats = &gs;
    if (run(m, &co, 6, 1, cache, 0, r, &gs)) {
        CHECK(gs.built == 0 && gs.pad_rows == 0 && gs.failed == 0, "no slots: built %d, %ld padding rows", gs.built,
              gs.pad_rows);
        gen_results_free(r, 6 * G);
    }
    gen_cache_free(cache);
    gen_cache_free(NULL);
out:
    model_free(other);
    model_free(m);
    backend_close(b);
    return tu_finish("test_gen_cache");
}
