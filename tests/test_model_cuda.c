// The whole model on the CUDA backend against the CPU backend: a Qwen2-style
// model (q/k/v biases, tied embeddings, GQA 4/2) and a Llama-style one
// (untied lm_head, q/k/v/o biases, GQA 8/1), the same parameters on both:
// training forward (log-probs, entropies, a loss), backward (every gradient
// tensor, and a second GPU step bit-identical to the first), a no_grad
// forward, and greedy generation (same tokens).
// Where no usable GPU exists the test reports itself skipped and says why.
//
// Then bf16 (the CUDA default): the same models with bf16 weights, activations
// and KV cache on the GPU against the CPU's fp32 on the same bf16-rounded
// weights, and generation's log-probs against the training forward's.
//
// Tolerance (tu_compare.h, |gpu - cpu| <= atol + rtol * |cpu|): log-probs and
// entropies atol 1e-4, rtol 1e-4 (fp32 through every layer, two BLAS
// libraries); each gradient tensor atol 1e-4 * max|cpu tensor|, rtol 1e-3.
// An indexing bug gives errors of the order of the values themselves.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "policy/generate.h"
#include "policy/model.h"
#include "testlib.h"
#include "tu_bf16_backend.h"
#include "tu_compare.h"

static Backend *cpu, *gpu, *gpu16; // gpu computes in fp32, gpu16 in bf16

// Random biases (model_init_random leaves them 0) in a CPU model's master weights.
static void random_biases(Model *m, uint64_t seed) {
    for (int i = 0; i < m->n_tensors; i++) {
        const ModelTensor *t = &m->tensors[i];
        if (t->kind == MT_BQ || t->kind == MT_BK || t->kind == MT_BV || t->kind == MT_BO)
            for (size_t j = 0; j < t->numel; j++) m->params[t->offset + j] = 0.2f * tu_rand_uniform(&seed);
    }
}

// Builds the same random model on both backends; biases get random values
// (model_init_random leaves them 0) so their paths are exercised.
static int build_pair(const ModelConfig *c, Model **mc, Model **mg) {
    *mc = *mg = NULL;
    if (model_build(mc, c, cpu) || model_init_random(*mc, 11, 0.3f) || model_build(mg, c, gpu)) return 0;
    random_biases(*mc, 5);
    return gpu->to_device(gpu, (*mg)->params, (*mc)->params, (*mc)->n_params * sizeof(float)) == GRPO_OK &&
           model_sync_cd(*mg) == GRPO_OK;
}

static void test_train(const char *tag, Model *mc, Model *mg, float temperature) {
    char w[200];
    enum { S = 3 };
    int lens[S] = {9, 1, 17}, cu[S + 1] = {0};
    for (int s = 0; s < S; s++) cu[s + 1] = cu[s] + lens[s];
    int T = cu[S], V = mc->cfg.vocab;
    int32_t *ids = malloc((size_t)T * 4);
    float *lp_c = malloc((size_t)T * 4), *lp_g = malloc((size_t)T * 4), *en_c = malloc((size_t)T * 4),
          *en_g = malloc((size_t)T * 4), *dlogp = malloc((size_t)T * 4);
    uint64_t r = 77;
    for (int t = 0; t < T; t++) {
        ids[t] = (int32_t)(tu_rand_u64(&r) % (uint64_t)V);
        dlogp[t] = tu_rand_uniform(&r);
    }
    // Small logit chunks so the chunked vocabulary projection runs several times.
    mc->logit_chunk = mg->logit_chunk = 5;
    ModelBatch b = {S, cu, ids, temperature, 0};
    CHECK(model_forward(mc, &b, lp_c, en_c) == GRPO_OK, "%s cpu forward: %s", tag, grpo_errmsg());
    CHECK(model_forward(mg, &b, lp_g, en_g) == GRPO_OK, "%s gpu forward: %s", tag, grpo_errmsg());
    snprintf(w, sizeof w, "%s forward logp (temperature %g)", tag, temperature);
    tu_compare(w, lp_g, lp_c, (size_t)T, 1e-4, 1e-4, 1);
    snprintf(w, sizeof w, "%s forward entropy (temperature %g)", tag, temperature);
    tu_compare(w, en_g, en_c, (size_t)T, 1e-4, 1e-4, 1);
    double loss_c = 0, loss_g = 0;
    for (int t = 0; t < T; t++) loss_c += (double)dlogp[t] * lp_c[t], loss_g += (double)dlogp[t] * lp_g[t];
    CHECK(fabs(loss_c - loss_g) <= 1e-4 * (1 + fabs(loss_c)), "%s loss: gpu %.9g cpu %.9g", tag, loss_g, loss_c);
    printf("%-4s %s loss gpu %.9g cpu %.9g\n", fabs(loss_c - loss_g) <= 1e-4 * (1 + fabs(loss_c)) ? "ok" : "BAD", tag,
           loss_g, loss_c);

    CHECK(model_zero_grad(mc) == GRPO_OK && model_zero_grad(mg) == GRPO_OK, "%s", grpo_errmsg());
    CHECK(model_backward(mc, dlogp) == GRPO_OK, "%s cpu backward: %s", tag, grpo_errmsg());
    CHECK(model_backward(mg, dlogp) == GRPO_OK, "%s gpu backward: %s", tag, grpo_errmsg());
    float *g = malloc(mc->n_params * sizeof(float));
    CHECK(gpu->to_host(gpu, g, mg->grads, mc->n_params * sizeof(float)) == GRPO_OK, "%s", grpo_errmsg());
    for (int i = 0; i < mc->n_tensors; i++) {
        const ModelTensor *t = &mc->tensors[i];
        const float *cg = mc->grads + t->offset;
        double mx = 0;
        for (size_t j = 0; j < t->numel; j++) mx = fmax(mx, fabs(cg[j]));
        CHECK(mx > 0 || t->kind == MT_WTE, "%s grad %s is all zero on the cpu: the test exercises nothing", tag, t->name);
        snprintf(w, sizeof w, "%s grad %s", tag, t->name);
        tu_compare(w, g + t->offset, cg, t->numel, 1e-4 * mx + 1e-12, 1e-3, 1);
    }
    // The GPU step is deterministic: no atomics in our kernels, and cuBLAS gives
    // bit-identical results on one stream. A second step must match exactly.
    float *g2 = malloc(mc->n_params * sizeof(float));
    CHECK(model_zero_grad(mg) == GRPO_OK && model_forward(mg, &b, lp_g, NULL) == GRPO_OK &&
              model_backward(mg, dlogp) == GRPO_OK &&
              gpu->to_host(gpu, g2, mg->grads, mc->n_params * sizeof(float)) == GRPO_OK,
          "%s second gpu step: %s", tag, grpo_errmsg());
    snprintf(w, sizeof w, "%s gpu gradient, second run vs first (exact)", tag);
    tu_compare(w, g2, g, mc->n_params, 0, 0, 1);
    free(g2);
    // A no_grad forward (one layer's activations, ping-ponged residual) agrees too.
    b.no_grad = 1;
    CHECK(model_forward(mc, &b, lp_c, NULL) == GRPO_OK && model_forward(mg, &b, lp_g, NULL) == GRPO_OK, "%s: %s", tag,
          grpo_errmsg());
    snprintf(w, sizeof w, "%s no_grad forward logp", tag);
    tu_compare(w, lp_g, lp_c, (size_t)T, 1e-4, 1e-4, 1);
    free(g), free(ids), free(lp_c), free(lp_g), free(en_c), free(en_g), free(dlogp);
}

// NP random prompts of lens[p] tokens each in buf (NP, maxlen), pointed to by prompts.
static void random_prompts(int32_t *buf, int maxlen, const int32_t **prompts, const int *lens, int np, int vocab,
                           uint64_t seed) {
    for (int p = 0; p < np; p++) {
        for (int i = 0; i < lens[p]; i++) buf[p * maxlen + i] = (int32_t)(tu_rand_u64(&seed) % (uint64_t)vocab);
        prompts[p] = buf + p * maxlen;
    }
}

// Generation settings: temperature 0 = greedy, the sampler's defaults otherwise.
static GenConfig gen_config(float temperature, int max_tokens, uint64_t seed) {
    GenConfig c;
    memset(&c, 0, sizeof c);
    c.sampler = sampler_config_default();
    c.sampler.temperature = temperature;
    c.max_tokens = max_tokens;
    c.seed = seed;
    return c;
}

static void test_greedy(const char *tag, Model *mc, Model *mg) {
    enum { NP = 3, G = 2, MAXTOK = 10 };
    int lens[NP] = {1, 5, 12};
    int32_t buf[NP][12];
    const int32_t *prompts[NP];
    random_prompts(&buf[0][0], 12, prompts, lens, NP, mc->cfg.vocab, 123);
    GenConfig c = gen_config(0, MAXTOK, 1);
    GenResult rc[NP * G], rg[NP * G];
    int okc = generate(mc, &c, prompts, lens, NP, G, rc) == GRPO_OK;
    CHECK(okc, "%s cpu generate: %s", tag, grpo_errmsg());
    int okg = generate(mg, &c, prompts, lens, NP, G, rg) == GRPO_OK;
    CHECK(okg, "%s gpu generate: %s", tag, grpo_errmsg());
    if (!okc || !okg) {
        if (okc) gen_results_free(rc, NP * G);
        if (okg) gen_results_free(rg, NP * G);
        return;
    }
    for (int s = 0; s < NP * G; s++) {
        int first_diff = -1;
        for (int i = 0; i < rc[s].n_tokens && i < rg[s].n_tokens && first_diff < 0; i++)
            if (rc[s].tokens[i] != rg[s].tokens[i]) first_diff = i;
        CHECK(first_diff < 0 && rc[s].n_tokens == rg[s].n_tokens,
              "%s greedy sequence %d (prompt %d, len %d): tokens differ at %d (gpu %d, cpu %d), counts gpu %d cpu %d",
              tag, s, s / G, lens[s / G], first_diff, first_diff >= 0 ? rg[s].tokens[first_diff] : -1,
              first_diff >= 0 ? rc[s].tokens[first_diff] : -1, rg[s].n_tokens, rc[s].n_tokens);
        if (first_diff < 0 && rc[s].n_tokens == rg[s].n_tokens) {
            char w[160];
            snprintf(w, sizeof w, "%s greedy sequence %d logprobs", tag, s);
            tu_compare(w, rg[s].logprobs, rc[s].logprobs, (size_t)rc[s].n_tokens, 1e-4, 1e-4, 1);
        }
    }
    gen_results_free(rc, NP * G);
    gen_results_free(rg, NP * G);
}


// ---- bf16. Weights are rounded to bf16 on the host first, so every model
// starts from identical values. Two references: tests/tu_bf16.h's CPU backend
// that rounds at the same places a bf16 kernel does (each stored activation,
// the KV cache, dlogits) -- the GPU must match it up to summation order, which
// only now and then flips a rounding (one bf16 step, 2^-8 relative) -- and the
// CPU in fp32, which bf16 must stay near. Measured on the CUDA emulator
// (2026-11-29; its GEMM sums in double, OpenBLAS in float): vs the bf16
// reference log-probs within 1e-6 .. 2.2e-2, gradients 8e-5 .. 4.7e-3 relative
// L2; vs fp32 log-probs within 0.18-0.36 and gradients 10-15% (these random
// models have weights of std 0.3, so attention scores are large and sharply
// peaked: bf16 rounding of q and k moves them visibly). Limits are 3-6x those
// (cuBLAS's summation order differs more than the emulator's); an indexing or
// typing bug (a bf16 read as fp32, a wrong stride) moves log-probs by whole
// units and gradients by about 100%.
#define BF16_REF_LOGP_ATOL 0.1
#define BF16_REF_GRAD_REL 0.03
#define BF16_FP32_LOGP_ATOL 1.0
#define BF16_FP32_GRAD_REL 0.5
#define BF16_GEN_ATOL 0.05

// x (n) rounded to the nearest bf16 in place, through the CPU's convert.
static int round_bf16(float *x, size_t n) {
    uint16_t *h = malloc(n * sizeof *h);
    int ok = h && cpu->convert(cpu, h, BE_BF16, x, BE_F32, n) == GRPO_OK &&
             cpu->convert(cpu, x, BE_F32, h, BE_BF16, n) == GRPO_OK;
    free(h);
    return ok;
}

// Every gradient tensor of g against ref (host, same layout) by relative L2 error.
static void grads_near(const char *what, const Model *m, const float *g, const float *ref, double limit) {
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < m->n_tensors; i++) {
        const ModelTensor *t = &m->tensors[i];
        double e = tu_rel_l2(g + t->offset, ref + t->offset, t->numel);
        CHECK(e <= limit, "%s grad %s: relative L2 error %.3g > %g", what, t->name, e, limit);
        if (!(e <= worst)) worst = e, worst_name = t->name;
    }
    printf("%-4s %s: worst relative L2 error %.3g (%s), limit %g\n", worst <= limit ? "ok" : "BAD", what, worst,
           worst_name, limit);
}

// mc: CPU fp32, me: CPU bf16 reference, mg: GPU bf16; same weights.
static void bf16_train(const char *tag, Model *mc, Model *me, Model *mg) {
    char w[200];
    enum { S = 3 };
    int lens[S] = {9, 1, 17}, cu[S + 1] = {0};
    for (int s = 0; s < S; s++) cu[s + 1] = cu[s] + lens[s];
    int T = cu[S], V = mc->cfg.vocab;
    int32_t *ids = malloc((size_t)T * 4);
    float *lp_c = malloc((size_t)T * 4), *lp_e = malloc((size_t)T * 4), *lp_g = malloc((size_t)T * 4),
          *en_c = malloc((size_t)T * 4), *en_e = malloc((size_t)T * 4), *en_g = malloc((size_t)T * 4),
          *dlogp = malloc((size_t)T * 4);
    float *g = malloc(mc->n_params * sizeof(float)), *g2 = malloc(mc->n_params * sizeof(float));
    uint64_t r = 78;
    for (int t = 0; t < T; t++) {
        ids[t] = (int32_t)(tu_rand_u64(&r) % (uint64_t)V);
        dlogp[t] = tu_rand_uniform(&r);
    }
    mc->logit_chunk = me->logit_chunk = mg->logit_chunk = 5;
    ModelBatch b = {S, cu, ids, 1.0f, 0};
    CHECK(model_forward(mc, &b, lp_c, en_c) == GRPO_OK, "%s cpu forward: %s", tag, grpo_errmsg());
    CHECK(model_forward(me, &b, lp_e, en_e) == GRPO_OK, "%s bf16 reference forward: %s", tag, grpo_errmsg());
    CHECK(model_forward(mg, &b, lp_g, en_g) == GRPO_OK, "%s bf16 forward: %s", tag, grpo_errmsg());
    snprintf(w, sizeof w, "%s bf16 forward logp vs bf16 reference", tag);
    tu_compare(w, lp_g, lp_e, (size_t)T, BF16_REF_LOGP_ATOL, 0, 1);
    snprintf(w, sizeof w, "%s bf16 forward entropy vs bf16 reference", tag);
    tu_compare(w, en_g, en_e, (size_t)T, BF16_REF_LOGP_ATOL, 0, 1);
    snprintf(w, sizeof w, "%s bf16 forward logp vs fp32", tag);
    tu_compare(w, lp_g, lp_c, (size_t)T, BF16_FP32_LOGP_ATOL, 0, 1);
    snprintf(w, sizeof w, "%s bf16 forward entropy vs fp32", tag);
    tu_compare(w, en_g, en_c, (size_t)T, BF16_FP32_LOGP_ATOL, 0, 1);

    CHECK(model_zero_grad(mc) == GRPO_OK && model_zero_grad(me) == GRPO_OK && model_zero_grad(mg) == GRPO_OK, "%s",
          grpo_errmsg());
    CHECK(model_backward(mc, dlogp) == GRPO_OK, "%s cpu backward: %s", tag, grpo_errmsg());
    CHECK(model_backward(me, dlogp) == GRPO_OK, "%s bf16 reference backward: %s", tag, grpo_errmsg());
    CHECK(model_backward(mg, dlogp) == GRPO_OK, "%s bf16 backward: %s", tag, grpo_errmsg());
    CHECK(gpu16->to_host(gpu16, g, mg->grads, mc->n_params * sizeof(float)) == GRPO_OK, "%s", grpo_errmsg());
    snprintf(w, sizeof w, "%s bf16 gradients vs bf16 reference", tag);
    grads_near(w, mc, g, me->grads, BF16_REF_GRAD_REL);
    snprintf(w, sizeof w, "%s bf16 gradients vs fp32", tag);
    grads_near(w, mc, g, mc->grads, BF16_FP32_GRAD_REL);
    // bf16 is as deterministic as fp32: a second step gives the same bits.
    CHECK(model_zero_grad(mg) == GRPO_OK && model_forward(mg, &b, lp_g, NULL) == GRPO_OK &&
              model_backward(mg, dlogp) == GRPO_OK &&
              gpu16->to_host(gpu16, g2, mg->grads, mc->n_params * sizeof(float)) == GRPO_OK,
          "%s second bf16 step: %s", tag, grpo_errmsg());
    snprintf(w, sizeof w, "%s bf16 gradient, second run vs first (exact)", tag);
    tu_compare(w, g2, g, mc->n_params, 0, 0, 1);
    free(g), free(g2), free(ids), free(lp_c), free(lp_e), free(lp_g), free(en_c), free(en_e), free(en_g), free(dlogp);
}

// Sampled generation in bf16 (KV cache in bf16, decode attention) must report,
// for each token, the log-prob the training forward gives it: then the ratio
// GRPO's first update sees is about 1. Checked against the GPU's own bf16
// training forward and the two CPU references.
static void bf16_generate(const char *tag, Model *mc, Model *me, Model *mg) {
    enum { NP = 2, G = 3, MAXTOK = 12, ROWS = NP * G * (9 + MAXTOK) };
    int lens[NP] = {4, 9};
    int32_t buf[NP][9];
    const int32_t *prompts[NP];
    random_prompts(&buf[0][0], 9, prompts, lens, NP, mc->cfg.vocab, 321);
    GenConfig c = gen_config(1.0f, MAXTOK, 9);
    GenResult rg[NP * G];
    int ok = generate(mg, &c, prompts, lens, NP, G, rg) == GRPO_OK;
    CHECK(ok, "%s bf16 generate: %s", tag, grpo_errmsg());
    if (!ok) return;
    int cu[NP * G + 1] = {0}, T = 0;
    int32_t ids[ROWS];
    for (int s = 0; s < NP * G; s++) {
        memcpy(ids + T, prompts[s / G], (size_t)lens[s / G] * 4);
        memcpy(ids + T + lens[s / G], rg[s].tokens, (size_t)rg[s].n_tokens * 4);
        T += lens[s / G] + rg[s].n_tokens;
        cu[s + 1] = T;
    }
    float lp_g[ROWS], lp_e[ROWS], lp_c[ROWS];
    ModelBatch b = {NP * G, cu, ids, 1.0f, 1};
    CHECK(model_forward(mg, &b, lp_g, NULL) == GRPO_OK && model_forward(me, &b, lp_e, NULL) == GRPO_OK &&
              model_forward(mc, &b, lp_c, NULL) == GRPO_OK,
          "%s: %s", tag, grpo_errmsg());
    // Token i of sequence s is predicted at row cu[s] + len - 1 + i.
    float gen[NP * G * MAXTOK], fwd_g[NP * G * MAXTOK], fwd_e[NP * G * MAXTOK], fwd_c[NP * G * MAXTOK];
    size_t n = 0;
    for (int s = 0; s < NP * G; s++)
        for (int i = 0; i < rg[s].n_tokens; i++, n++) {
            gen[n] = rg[s].logprobs[i];
            fwd_g[n] = lp_g[cu[s] + lens[s / G] - 1 + i];
            fwd_e[n] = lp_e[cu[s] + lens[s / G] - 1 + i];
            fwd_c[n] = lp_c[cu[s] + lens[s / G] - 1 + i];
        }
    CHECK(n >= NP * G, "%s: generation produced only %zu tokens", tag, n);
    char w[160];
    snprintf(w, sizeof w, "%s bf16 generation logprobs vs bf16 training forward", tag);
    tu_compare(w, gen, fwd_g, n, BF16_GEN_ATOL, 0, 1);
    snprintf(w, sizeof w, "%s bf16 generation logprobs vs bf16 reference", tag);
    tu_compare(w, gen, fwd_e, n, BF16_REF_LOGP_ATOL + BF16_GEN_ATOL, 0, 1);
    snprintf(w, sizeof w, "%s bf16 generation logprobs vs fp32", tag);
    tu_compare(w, gen, fwd_c, n, BF16_FP32_LOGP_ATOL, 0, 1);
    gen_results_free(rg, NP * G);
}

static void run_bf16(const char *tag, const ModelConfig *c) {
    Model *mc = NULL, *me = NULL, *mg = NULL;
    Backend *emu = tu_bf16_backend(cpu);
    int ok = emu && model_build(&mc, c, cpu) == GRPO_OK && model_init_random(mc, 12, 0.3f) == GRPO_OK;
    if (ok) random_biases(mc, 6);
    ok = ok && round_bf16(mc->params, mc->n_params) && model_build(&me, c, emu) == GRPO_OK &&
         model_build(&mg, c, gpu16) == GRPO_OK;
    if (ok) memcpy(me->params, mc->params, mc->n_params * sizeof(float));
    ok = ok && model_sync_cd(me) == GRPO_OK &&
         gpu16->to_device(gpu16, mg->params, mc->params, mc->n_params * sizeof(float)) == GRPO_OK &&
         model_sync_cd(mg) == GRPO_OK;
    CHECK(ok, "%s: building the bf16 models: %s", tag, grpo_errmsg());
    if (ok) {
        // The working copy is the bf16 rounding of the master weights: exact here.
        CHECK(mg->params_cd != (void *)mg->params, "%s: bf16 model has no separate working copy", tag);
        uint16_t *h = malloc(mc->n_params * 2);
        float *back = malloc(mc->n_params * sizeof(float));
        CHECK(gpu16->to_host(gpu16, h, mg->params_cd, mc->n_params * 2) == GRPO_OK &&
                  cpu->convert(cpu, back, BE_F32, h, BE_BF16, mc->n_params) == GRPO_OK,
              "%s", grpo_errmsg());
        char w[120];
        snprintf(w, sizeof w, "%s bf16 working copy vs master weights (exact)", tag);
        tu_compare(w, back, mc->params, mc->n_params, 0, 0, 1);
        free(h), free(back);
        bf16_train(tag, mc, me, mg);
        bf16_generate(tag, mc, me, mg);
    }
    model_free(mg);
    model_free(me);
    model_free(mc);
    free(emu);
}

static void run(const char *tag, const ModelConfig *c) {
    Model *mc = NULL, *mg = NULL;
    int ok = build_pair(c, &mc, &mg);
    CHECK(ok, "%s: building the models: %s", tag, grpo_errmsg());
    if (ok) {
        test_train(tag, mc, mg, 1.0f);
        test_train(tag, mc, mg, 0.7f);
        test_greedy(tag, mc, mg);
    }
    model_free(mg);
    model_free(mc);
}

int main(void) {
    const char *name = "test_model_cuda";
    int rc = tu_open_gpu(name, &gpu);
    if (!gpu) return rc;
    CHECK(backend_set_precision(gpu, "fp32") == GRPO_OK, "%s", grpo_errmsg());
    CHECK(backend_open("cpu", &cpu) == GRPO_OK, "%s", grpo_errmsg());
    if (!cpu) return tu_finish(name);
    // A second GPU backend in bf16 (the CPU standing in for the GPU has no bf16).
    if (gpu->kind == BACKEND_CUDA) {
        CHECK(tu_open_gpu(name, &gpu16) == 0 && gpu16, "second gpu backend");
        CHECK(gpu16 && gpu16->cdt == BE_BF16, "the CUDA backend's default precision is not bf16");
    } else {
        printf("skip bf16 checks: GRPO_TEST_DEVICE=%s has no bf16\n", gpu->name);
    }
    if (gpu->kind == BACKEND_CUDA) { // GRPO_TEST_DEVICE=cpu: the CPU plays the GPU // with a usable GPU, auto means cuda now that the model's ops exist
        Backend *a = NULL;
        CHECK(backend_open("auto", &a) == GRPO_OK && a && a->kind == BACKEND_CUDA, "auto: %s",
              a ? a->name : grpo_errmsg());
        backend_close(a);
    }

    ModelConfig q;
    model_config_default(&q, MODEL_QWEN2);
    q.hidden = 96, q.ffn = 200, q.n_layers = 2, q.n_heads = 4, q.n_kv_heads = 2, q.head_dim = 32, q.vocab = 263;
    q.max_pos = 256, q.tie_embeddings = 1;
    run("qwen2", &q);
    if (gpu16) run_bf16("qwen2", &q);

    ModelConfig l;
    model_config_default(&l, MODEL_LLAMA);
    l.hidden = 64, l.ffn = 160, l.n_layers = 2, l.n_heads = 8, l.n_kv_heads = 1, l.head_dim = 16, l.vocab = 1000;
    l.max_pos = 256, l.tie_embeddings = 0, l.qkv_bias = 1, l.o_bias = 1;
    run("llama", &l);
    if (gpu16) run_bf16("llama", &l);

    backend_close(gpu16);
    backend_close(gpu);
    backend_close(cpu);
    return tu_finish(name);
}
