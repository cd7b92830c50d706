// The op profiler (kernels/profile.h) on the CPU: rows count the calls by op
// and matmul shape, profiling changes no result (training forward/backward,
// sampled generation, the optimizer ops: each wrapper must pass its arguments
// through unchanged), and prof_stop gives the backend its own ops back.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/profile.h"
#include "policy/generate.h"
#include "policy/model.h"
#include "testlib.h"
#include "tu_gen.h"

static const ProfRow *row(Backend *b, const char *name) {
    int n;
    const ProfRow *r = prof_rows(b, &n, NULL);
    for (int i = 0; i < n; i++)
        if (!strcmp(r[i].name, name)) return &r[i];
    return NULL;
}

static long calls(Backend *b, const char *name) {
    const ProfRow *r = row(b, name);
    return r ? r->calls : 0;
}

static void test_rows(Backend *b) {
    int (*own_matmul)(Backend *, void *, BackendDtype, const void *, const void *, int, int, int, int, int, float,
                      int) = b->matmul;
    CHECK(b->timer == NULL, "the cpu backend has no timer");
    CHECK(prof_start(b) == GRPO_OK, "%s", grpo_errmsg());
    CHECK(b->matmul != own_matmul && b->profile, "matmul not wrapped");
    CHECK(prof_start(b) == GRPO_EINVAL, "a second prof_start must fail");
    float x[4 * 2] = {1, 2, 3, 4, 5, 6, 7, 8}, w[3 * 2] = {1, 0, 0, 1, 1, 1}, out[5 * 3], y[8];
    float xw[5 * 2] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    CHECK(b->matmul(b, out, BE_F32, x, w, 4, 3, 2, 0, 1, 1.0f, 0) == GRPO_OK, "%s", grpo_errmsg());
    CHECK(out[0] == 1 && out[1] == 2 && out[2] == 3 && out[11] == 15, "matmul through the wrapper: %g %g %g %g",
          out[0], out[1], out[2], out[11]);
    CHECK(b->matmul(b, out, BE_F32, x, w, 4, 3, 2, 0, 1, 1.0f, 1) == GRPO_OK, "%s", grpo_errmsg());
    CHECK(out[0] == 2 && out[11] == 30, "accumulating matmul: %g %g", out[0], out[11]);
    CHECK(b->matmul(b, out, BE_F32, xw, w, 5, 3, 2, 0, 1, 1.0f, 0) == GRPO_OK, "%s", grpo_errmsg());
    CHECK(b->add(b, y, x, x, 8) == GRPO_OK && y[7] == 16, "add through the wrapper");
    CHECK(calls(b, "matmul 4x3x2 tB") == 1 && calls(b, "matmul 4x3x2 tB +=") == 1 && calls(b, "matmul 5x3x2 tB") == 1,
          "matmul rows by shape: %ld %ld %ld", calls(b, "matmul 4x3x2 tB"), calls(b, "matmul 4x3x2 tB +="),
          calls(b, "matmul 5x3x2 tB"));
    CHECK(calls(b, "add") == 1, "add: %ld calls", calls(b, "add"));
    int n;
    double total, sum = 0;
    const ProfRow *r = prof_rows(b, &n, &total);
    CHECK(n == 4, "%d rows, want 4", n);
    for (int i = 0; i < n; i++) {
        CHECK(r[i].seconds >= 0, "%s: %g s", r[i].name, r[i].seconds);
        CHECK(i == 0 || r[i - 1].seconds >= r[i].seconds, "rows not sorted by time at %d", i);
        sum += r[i].seconds;
    }
    CHECK(total == sum, "total %g, rows add up to %g", total, sum);

    // The printed table names every row.
    FILE *f = tmpfile();
    CHECK(f != NULL, "tmpfile");
    if (f) {
        prof_print(b, f, "unit", 1.0);
        char text[4096];
        rewind(f);
        size_t got = fread(text, 1, sizeof text - 1, f);
        text[got] = 0;
        fclose(f);
        CHECK(strstr(text, "== profile: unit (wall time of each op call) ==") && strstr(text, "matmul 5x3x2 tB") &&
                  strstr(text, "add ") && strstr(text, "ms wall"),
              "table:\n%s", text);
    }
    prof_reset(b);
    prof_rows(b, &n, NULL);
    CHECK(n == 0, "%d rows after reset", n);
    CHECK(b->add(b, y, x, x, 8) == GRPO_OK && calls(b, "add") == 1, "wrappers kept after reset");
    prof_stop(b);
    CHECK(b->matmul == own_matmul && b->profile == NULL, "prof_stop did not restore the op table");
    prof_stop(b); // twice: nothing
    CHECK(prof_rows(b, &n, NULL) == NULL && n == 0, "rows without a profile");
}

typedef struct {
    float *logp, *grads, *params;
    GenResult gen[4];
    double sumsq;
} Run;

// Forward + backward over two sequences, one AdamW step and a gradient norm,
// then sampled generation: everything a bench or a training step does.
static int run(Model *m, Run *out) {
    static const int cu[3] = {0, 9, 16};
    int32_t ids[16];
    for (int i = 0; i < 16; i++) ids[i] = (int32_t)((i * 7 + 3) % m->cfg.vocab);
    ModelBatch mb = {2, cu, ids, 1.0f, 0};
    float dlogp[16];
    for (int i = 0; i < 16; i++) dlogp[i] = 0.1f * (float)(i % 5) - 0.2f;
    Backend *b = m->be;
    size_t n = m->n_params;
    out->logp = malloc(16 * sizeof(float));
    out->grads = malloc(n * sizeof(float));
    out->params = malloc(n * sizeof(float));
    float *mom = NULL, *vel = NULL;
    int st = model_zero_grad(m) || model_forward(m, &mb, out->logp, NULL) || model_backward(m, dlogp) ||
             b->alloc(b, (void **)&mom, n * sizeof(float)) || b->alloc(b, (void **)&vel, n * sizeof(float));
    BackendAdamW h = {0.9f, 0.999f, 1e-3f, 1.0f, 1.0f, 1e-8f};
    if (!st) st = b->sumsq(b, &out->sumsq, m->grads, n) || b->scale(b, m->grads, 0.5f, n);
    if (!st) st = b->adamw(b, m->params, m->params_cd, mom, vel, m->grads, n, &h);
    if (!st) st = b->to_host(b, out->grads, m->grads, n * sizeof(float));
    if (!st) st = b->to_host(b, out->params, m->params, n * sizeof(float));
    b->free(b, mom), b->free(b, vel);
    if (st) return 0;
    GenConfig c;
    memset(&c, 0, sizeof c);
    c.sampler = sampler_config_default();
    c.sampler.temperature = 1.0f, c.sampler.top_p = 0.9f;
    c.max_tokens = 6;
    c.seed = 5;
    static const int32_t p0[] = {1, 2, 3}, p1[] = {4, 5};
    const int32_t *prompts[2] = {p0, p1};
    int lens[2] = {3, 2};
    return generate(m, &c, prompts, lens, 2, 2, out->gen) == GRPO_OK;
}

static void run_free(Run *r) {
    free(r->logp), free(r->grads), free(r->params);
    gen_results_free(r->gen, 4);
}

static void test_unchanged(Backend *b) {
    ModelConfig mc;
    model_config_default(&mc, MODEL_QWEN2);
    mc.hidden = 32, mc.ffn = 64, mc.n_layers = 2, mc.n_heads = 4, mc.n_kv_heads = 2, mc.head_dim = 8, mc.vocab = 61;
    mc.max_pos = 64;
    Model *m1 = NULL, *m2 = NULL;
    CHECK(model_build(&m1, &mc, b) == GRPO_OK && model_init_random(m1, 9, 0.5f) == GRPO_OK &&
              model_alloc_grads(m1) == GRPO_OK && model_build(&m2, &mc, b) == GRPO_OK &&
              model_init_random(m2, 9, 0.5f) == GRPO_OK && model_alloc_grads(m2) == GRPO_OK,
          "%s", grpo_errmsg());
    if (!m1 || !m2) goto out;
    Run plain, prof;
    memset(&plain, 0, sizeof plain), memset(&prof, 0, sizeof prof);
    CHECK(run(m1, &plain), "plain run: %s", grpo_errmsg());
    CHECK(prof_start(b) == GRPO_OK, "%s", grpo_errmsg());
    CHECK(run(m2, &prof), "profiled run: %s", grpo_errmsg());
    size_t n = m1->n_params;
    CHECK(!memcmp(plain.logp, prof.logp, 16 * sizeof(float)), "log-probs differ under the profiler");
    CHECK(!memcmp(plain.grads, prof.grads, n * sizeof(float)), "gradients differ under the profiler");
    CHECK(!memcmp(plain.params, prof.params, n * sizeof(float)), "AdamW's parameters differ under the profiler");
    CHECK(plain.sumsq == prof.sumsq && plain.sumsq > 0, "sumsq %g vs %g", plain.sumsq, prof.sumsq);
    tu_gen_same("generation under the profiler", plain.gen, prof.gen, 4);
    // Every kind of op the run used has its row; lm_head's matmul by its shape.
    static const char *ops[] = {"embedding_forward", "embedding_backward", "rmsnorm_forward", "rmsnorm_backward",
                                "rope_forward", "rope_backward", "attention_forward", "attention_backward",
                                "attention_forward (decode rows)", "swiglu_forward", "swiglu_backward",
                                "logprob_forward", "logprob_backward", "add", "bias_forward", "bias_backward",
                                "scatter_rows", "adamw", "sumsq", "scale", "sample", "to_host"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) CHECK(calls(b, ops[i]) > 0, "no row for %s", ops[i]);
    CHECK(calls(b, "adamw") == 1 && calls(b, "sumsq") == 1, "adamw %ld, sumsq %ld calls", calls(b, "adamw"),
          calls(b, "sumsq"));
    char lm[64];
    snprintf(lm, sizeof lm, "matmul 16x%dx%d tB", mc.vocab, mc.hidden); // training's lm_head over 16 tokens
    CHECK(calls(b, lm) >= 1, "no row for %s", lm);
    prof_stop(b);
    run_free(&plain), run_free(&prof);
out:
    model_free(m1);
    model_free(m2);
}

int main(void) {
    Backend *b = NULL;
    CHECK(backend_open("cpu", &b) == GRPO_OK, "%s", grpo_errmsg());
    if (!b) return tu_finish("test_profile");
    test_rows(b);
    test_unchanged(b);
    backend_close(b);
    return tu_finish("test_profile");
}
