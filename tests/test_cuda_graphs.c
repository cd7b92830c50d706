// Decode steps as CUDA graphs (policy/generate.c, kernels/cuda/cuda_graph.cu):
// generation through graphs gives the same tokens, log-probs and finish
// reasons bit for bit as eager generation, greedy and sampled (T = 1, top-p),
// in fp32 and bf16, with prompts of different lengths and EOS ids that end
// sequences at different steps (so the number of active rows, the graph key,
// changes and graphs are reused). Forced capture failures (graph_end failing,
// an op failing inside the capture, scratch growth inside the capture, a copy
// to the host and a synchronisation inside the capture, which the driver
// refuses) fall back to eager steps with the same results.
// GRPO_TEST_DEVICE=cpu: the CPU has no graph slots; generate must not use any.
// Where no usable GPU exists the test reports itself skipped.
#include <stdlib.h>
#include <string.h>

#include "policy/generate.h"
#include "policy/model.h"
#include "testlib.h"

enum { NP = 3, G = 3, S = NP * G, MAXTOK = 12 };

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

// 1 when a and b agree bit for bit (tokens, log-probs, lengths, finish reasons).
static int same(const char *tag, const GenResult *a, const GenResult *b) {
    int ok = 1;
    for (int s = 0; s < S; s++) {
        int eq = a[s].n_tokens == b[s].n_tokens && a[s].finish == b[s].finish &&
                 !memcmp(a[s].tokens, b[s].tokens, (size_t)a[s].n_tokens * sizeof(int32_t)) &&
                 !memcmp(a[s].logprobs, b[s].logprobs, (size_t)a[s].n_tokens * sizeof(float));
        CHECK(eq, "%s: sequence %d differs (%d vs %d tokens)", tag, s, a[s].n_tokens, b[s].n_tokens);
        ok &= eq;
    }
    return ok;
}

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
    q.max_pos = 64, q.tie_embeddings = 1;
    run("fp32", gpu, &q);
    if (gpu16) run("bf16", gpu16, &q);
    backend_close(gpu16);
    backend_close(gpu);
    backend_close(cpu);
    return tu_finish(name);
}
