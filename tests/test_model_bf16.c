// The model's bf16 plumbing, checked without a GPU: a test-only backend wraps
// the CPU's ops so they read and write bf16 (widen the inputs, run the fp32 op,
// round the outputs once -- what a bf16 kernel does), with the CPU backend's
// fp32 logits, statistics and gradients untouched. With it the model's bf16
// layout (activations in 2-byte elements, the separate dlogits buffer, the
// KV cache, the working copy of the weights) runs end to end: a wrong offset
// or byte count shows up as log-probs and gradients far from the fp32 model's,
// or as an ASan error, long before any CUDA kernel is involved.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "policy/generate.h"
#include "policy/model.h"
#include "rl/optim.h"
#include "testlib.h"
#include "tu_bf16_backend.h"
#include "tu_compare.h"

static ModelConfig tiny(void) {
    ModelConfig c;
    model_config_default(&c, MODEL_QWEN2); // q/k/v biases
    c.hidden = 64, c.ffn = 128, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.head_dim = 16, c.vocab = 96;
    c.max_pos = 128, c.tie_embeddings = 0;
    return c;
}

// The worst gap between generate's recorded log-probs and a forward over prompt + completion.
static double gen_gap(Model *m, const int32_t *prompt, int plen, const GenResult *r) {
    int L = plen + r->n_tokens;
    int32_t ids[64];
    float lp[64];
    memcpy(ids, prompt, (size_t)plen * sizeof *ids);
    memcpy(ids + plen, r->tokens, (size_t)r->n_tokens * sizeof *ids);
    int cu[2] = {0, L};
    ModelBatch mb = {1, cu, ids, 1.0f, 1};
    if (model_forward(m, &mb, lp, NULL)) return INFINITY;
    double worst = 0;
    for (int k = 0; k < r->n_tokens; k++) worst = fmax(worst, fabs((double)lp[plen - 1 + k] - r->logprobs[k]));
    return worst;
}

int main(void) {
    Backend *cpu = NULL;
    CHECK(backend_open("cpu", &cpu) == GRPO_OK, "%s", grpo_errmsg());
    Backend *W = cpu ? tu_bf16_backend(cpu) : NULL;
    if (!W) return tu_finish("test_model_bf16");
    ModelConfig c = tiny();
    Model *m32 = NULL, *m16 = NULL;
    CHECK(model_build(&m32, &c, cpu) == GRPO_OK && model_init_random(m32, 21, 0.1f) == GRPO_OK, "%s", grpo_errmsg());
    CHECK(model_build(&m16, &c, W) == GRPO_OK && model_init_random(m16, 21, 0.1f) == GRPO_OK, "%s", grpo_errmsg());
    if (!m32 || !m16) return tu_finish("test_model_bf16");
    CHECK(m16->params_cd != (void *)m16->params && !memcmp(m16->params, m32->params, m32->n_params * 4),
          "same master weights, separate bf16 working copy");
    m32->logit_chunk = m16->logit_chunk = 5; // several vocabulary chunks, the last one partial

    // Three packed sequences, a temperature, random upstream gradients.
    enum { S = 3, T = 7 + 12 + 6 };
    int cu[S + 1] = {0, 7, 19, T};
    int32_t ids[T];
    float dlogp[T], lp32[T], lp16[T], ent32[T], ent16[T], lpng[T];
    uint64_t r = 5;
    for (int t = 0; t < T; t++) ids[t] = (int32_t)(tu_rand_u64(&r) % (uint64_t)c.vocab), dlogp[t] = tu_rand_uniform(&r);
    ModelBatch mb = {S, cu, ids, 0.8f, 0};
    CHECK(model_forward(m32, &mb, lp32, ent32) == GRPO_OK, "fp32 forward: %s", grpo_errmsg());
    CHECK(model_forward(m16, &mb, lp16, ent16) == GRPO_OK, "bf16 forward: %s", grpo_errmsg());
    double worst_lp = 0, worst_ent = 0;
    for (int t = 0; t < T; t++) {
        worst_lp = fmax(worst_lp, fabs((double)lp16[t] - lp32[t]));
        worst_ent = fmax(worst_ent, fabs((double)ent16[t] - ent32[t]));
    }
    // bf16 keeps 8 significant bits (relative rounding 2^-9): two layers of it
    // move log-probs of about -4.5 by a few hundredths at most; a wrong offset moves them by whole units.
    CHECK(worst_lp < 0.06 && worst_ent < 0.02, "bf16 log-probs near fp32: worst %.4g, entropy %.4g", worst_lp, worst_ent);
    CHECK(worst_lp > 0, "the bf16 path really rounds (identical to fp32 would mean it never ran)");

    CHECK(model_zero_grad(m32) == GRPO_OK && model_backward(m32, dlogp) == GRPO_OK, "fp32 backward: %s", grpo_errmsg());
    CHECK(model_zero_grad(m16) == GRPO_OK && model_backward(m16, dlogp) == GRPO_OK, "bf16 backward: %s", grpo_errmsg());
    double worst_g = 0;
    const char *worst_name = "";
    for (int i = 0; i < m32->n_tensors; i++) {
        const ModelTensor *t = &m32->tensors[i];
        double e = tu_rel_l2(m16->grads + t->offset, m32->grads + t->offset, t->numel);
        if (e > worst_g) worst_g = e, worst_name = t->name;
    }
    CHECK(worst_g < 0.08, "bf16 gradients near fp32: worst relative error %.4g (%s)", worst_g, worst_name);

    // A no_grad forward (one layer slot, ping-pong residual) computes the same bf16 numbers.
    ModelBatch ng = mb;
    ng.no_grad = 1;
    CHECK(model_forward(m16, &ng, lpng, NULL) == GRPO_OK && !memcmp(lpng, lp16, sizeof lp16),
          "bf16 no_grad forward equals the full one: %s", grpo_errmsg());

    // Generation in bf16 with prefix sharing: the recorded log-probs match a bf16 forward over the result.
    GenConfig gc;
    memset(&gc, 0, sizeof gc);
    gc.sampler = sampler_config_default();
    gc.max_tokens = 10;
    gc.seed = 3;
    const int32_t p0[5] = {1, 2, 3, 4, 5}, p1[9] = {9, 8, 7, 6, 5, 4, 3, 2, 1};
    const int32_t *prompts[2] = {p0, p1};
    int lens[2] = {5, 9};
    GenResult res[4];
    CHECK(generate(m16, &gc, prompts, lens, 2, 2, res) == GRPO_OK, "bf16 generate: %s", grpo_errmsg());
    double gap = 0;
    for (int s = 0; s < 4; s++) gap = fmax(gap, gen_gap(m16, prompts[s / 2], lens[s / 2], &res[s]));
    CHECK(gap < 0.02, "generate's bf16 log-probs match the bf16 forward: worst %.4g", gap);
    gen_results_free(res, 4);
    printf("bf16 vs fp32: log-probs worst %.3g, entropies %.3g, gradients worst relative %.3g (%s); "
           "generate vs forward in bf16: %.3g\n", worst_lp, worst_ent, worst_g, worst_name, gap);

    // A frozen reference keeps only the working copy and computes the same numbers.
    Model *ref = NULL;
    CHECK(model_drop_master(m16) == GRPO_EINVAL, "a model with gradients must keep its master weights");
    CHECK(model_build(&ref, &c, W) == GRPO_OK && model_init_random(ref, 21, 0.1f) == GRPO_OK &&
              model_drop_master(ref) == GRPO_OK && ref->params == NULL && ref->params_cd != NULL,
          "drop master: %s", grpo_errmsg());
    if (ref) {
        ref->logit_chunk = 5;
        CHECK(model_forward(ref, &ng, lpng, NULL) == GRPO_OK && !memcmp(lpng, lp16, sizeof lp16),
              "the reference without master weights gives the same log-probs: %s", grpo_errmsg());
        CHECK(model_sync_cd(ref) == GRPO_EINVAL, "syncing from dropped master weights must fail");
    }
    model_free(ref);
    Model *m32d = NULL;
    CHECK(model_build(&m32d, &c, cpu) == GRPO_OK && model_drop_master(m32d) == GRPO_OK && m32d->params &&
              m32d->params == (float *)m32d->params_cd,
          "fp32: dropping the master is a no-op (one buffer)");
    model_free(m32d);

    // One AdamW step keeps the working copy equal to the rounded master weights.
    AdamW opt;
    AdamWConfig ac = {1e-2, 0.9, 0.999, 1e-8, 0.1};
    CHECK(adamw_build(&opt, W, m16->n_params) == GRPO_OK &&
              adamw_step(&opt, m16->params, m16->params_cd, m16->grads, 1e-2, &ac) == GRPO_OK,
          "%s", grpo_errmsg());
    uint16_t *want = malloc(m16->n_params * 2);
    CHECK(want && cpu->convert(cpu, want, BE_BF16, m16->params, BE_F32, m16->n_params) == GRPO_OK &&
              !memcmp(want, m16->params_cd, m16->n_params * 2),
          "the optimizer refreshed the working copy");
    free(want);
    adamw_free(&opt);

    model_free(m32);
    model_free(m16);
    free(W);
    backend_close(cpu);
    return tu_finish("test_model_bf16");
}
