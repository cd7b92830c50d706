// The whole model on the CUDA backend against the CPU backend: a Qwen2-style
// model (q/k/v biases, tied embeddings, GQA 4/2) and a Llama-style one
// (untied lm_head, q/k/v/o biases, GQA 8/1), the same parameters on both:
// training forward (log-probs, entropies, a loss), backward (every gradient
// tensor, and a second GPU step bit-identical to the first), a no_grad
// forward, and greedy generation (same tokens).
// Where no usable GPU exists the test reports itself skipped and says why.
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
#include "tu_compare.h"

static Backend *cpu, *gpu;

// Builds the same random model on both backends; biases get random values
// (model_init_random leaves them 0) so their paths are exercised.
static int build_pair(const ModelConfig *c, Model **mc, Model **mg) {
    *mc = *mg = NULL;
    if (model_build(mc, c, cpu) || model_init_random(*mc, 11, 0.3f) || model_build(mg, c, gpu)) return 0;
    uint64_t r = 5;
    for (int i = 0; i < (*mc)->n_tensors; i++) {
        const ModelTensor *t = &(*mc)->tensors[i];
        if (t->kind == MT_BQ || t->kind == MT_BK || t->kind == MT_BV || t->kind == MT_BO)
            for (size_t j = 0; j < t->numel; j++) (*mc)->params[t->offset + j] = 0.2f * tu_rand_uniform(&r);
    }
    return gpu->to_device(gpu, (*mg)->params, (*mc)->params, (*mc)->n_params * sizeof(float)) == GRPO_OK;
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

static void test_greedy(const char *tag, Model *mc, Model *mg) {
    enum { NP = 3, G = 2, MAXTOK = 10 };
    int lens[NP] = {1, 5, 12};
    int32_t buf[NP][12];
    const int32_t *prompts[NP];
    uint64_t r = 123;
    for (int p = 0; p < NP; p++) {
        for (int i = 0; i < lens[p]; i++) buf[p][i] = (int32_t)(tu_rand_u64(&r) % (uint64_t)mc->cfg.vocab);
        prompts[p] = buf[p];
    }
    GenConfig c;
    memset(&c, 0, sizeof c);
    c.sampler = sampler_config_default();
    c.sampler.temperature = 0;
    c.max_tokens = MAXTOK;
    c.seed = 1;
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
    CHECK(backend_open("cpu", &cpu) == GRPO_OK, "%s", grpo_errmsg());
    if (!cpu) return tu_finish(name);
    // The whole model against the fp32 reference: CUDA in fp32 (its default is bf16).
    CHECK(backend_set_precision(gpu, "fp32") == GRPO_OK, "%s", grpo_errmsg());
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

    ModelConfig l;
    model_config_default(&l, MODEL_LLAMA);
    l.hidden = 64, l.ffn = 160, l.n_layers = 2, l.n_heads = 8, l.n_kv_heads = 1, l.head_dim = 16, l.vocab = 1000;
    l.max_pos = 256, l.tie_embeddings = 0, l.qkv_bias = 1, l.o_bias = 1;
    run("llama", &l);

    backend_close(gpu);
    backend_close(cpu);
    return tu_finish(name);
}
