// Mixed precision on the CPU side: fp32 <-> bf16 conversion on exact bit
// patterns, backend_set_precision, the `precision` config key, the model's
// working copy (aliased in fp32, its own rounded buffer otherwise) and the
// CPU matmul refusing anything but fp32.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "policy/model.h"
#include "rl/config.h"
#include "rl/optim.h"
#include "testlib.h"

static float f32_of(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static void test_convert(Backend *b) {
    // fp32 bits -> the bf16 bits round-to-nearest-even gives, worked out by hand.
    static const struct { uint32_t in; uint16_t want; const char *what; } cases[] = {
        {0x3f800000u, 0x3f80, "1.0"},
        {0xbf800000u, 0xbf80, "-1.0"},
        {0x3f808000u, 0x3f80, "halfway, the even neighbour is below"},
        {0x3f818000u, 0x3f82, "halfway, the even neighbour is above"},
        {0xbf818000u, 0xbf82, "negative halfway rounds to even too"},
        {0x3f808001u, 0x3f81, "just above halfway rounds up"},
        {0x3f817fffu, 0x3f81, "just below halfway rounds down"},
        {0x7f7f0000u, 0x7f7f, "the largest finite bf16"},
        {0x7f7f7fffu, 0x7f7f, "just under halfway to overflow stays finite"},
        {0x7f7fffffu, 0x7f80, "the largest finite fp32 rounds up to inf"},
        {0x00010000u, 0x0001, "the smallest bf16 subnormal"},
        {0x00018000u, 0x0002, "a subnormal halfway rounds to even"},
        {0x00000001u, 0x0000, "the smallest fp32 subnormal rounds to +0"},
        {0x80000000u, 0x8000, "-0 keeps its sign"},
        {0x7f800000u, 0x7f80, "inf"},
        {0xff800000u, 0xff80, "-inf"},
        {0x7fc00000u, 0x7fc0, "quiet NaN"},
        {0x7f800001u, 0x7fc0, "a NaN whose payload is only in the low bits stays NaN (quiet)"},
        {0xffc00001u, 0xffc0, "negative NaN"},
    };
    enum { N = sizeof cases / sizeof cases[0] };
    float in[N], back[N];
    uint16_t h[N];
    for (int i = 0; i < N; i++) in[i] = f32_of(cases[i].in);
    CHECK(b->convert && b->convert(b, h, BE_BF16, in, BE_F32, N) == GRPO_OK, "%s", grpo_errmsg());
    for (int i = 0; i < N; i++)
        CHECK(h[i] == cases[i].want, "%s: 0x%08x -> 0x%04x, want 0x%04x", cases[i].what, (unsigned)cases[i].in,
              (unsigned)h[i], (unsigned)cases[i].want);
    CHECK(b->convert(b, back, BE_F32, h, BE_BF16, N) == GRPO_OK, "%s", grpo_errmsg());
    for (int i = 0; i < N; i++)
        CHECK(bits_of(back[i]) == (uint32_t)cases[i].want << 16, "%s: bf16 0x%04x -> fp32 0x%08x", cases[i].what,
              (unsigned)h[i], (unsigned)bits_of(back[i]));
    CHECK(isnan(back[N - 1]) && isnan(back[N - 2]) && isinf(back[14]) && signbit(back[13]), "special values survive");

    // Same-type conversions are plain copies, bit for bit (NaN payloads included).
    float f2[N];
    uint16_t h2[N];
    memset(f2, 0, sizeof f2);
    memset(h2, 0, sizeof h2);
    CHECK(b->convert(b, f2, BE_F32, in, BE_F32, N) == GRPO_OK && !memcmp(f2, in, sizeof in), "fp32 -> fp32 copies");
    CHECK(b->convert(b, h2, BE_BF16, h, BE_BF16, N) == GRPO_OK && !memcmp(h2, h, sizeof h), "bf16 -> bf16 copies");
    CHECK(b->convert(b, h2, (BackendDtype)7, h, BE_BF16, N) == GRPO_EINVAL, "an unknown dtype is an error");
}

static void test_set_precision(void) {
    Backend *b = NULL;
    CHECK(backend_open("cpu", &b) == GRPO_OK, "%s", grpo_errmsg());
    if (!b) return;
    CHECK(b->cdt == BE_F32, "the cpu opens in fp32");
    CHECK(backend_set_precision(b, "auto") == GRPO_OK && b->cdt == BE_F32, "auto on the cpu is fp32");
    CHECK(backend_set_precision(b, "fp32") == GRPO_OK && b->cdt == BE_F32, "fp32 accepted");
    int st = backend_set_precision(b, "bf16");
    CHECK(st == GRPO_EUNSUPPORTED && b->cdt == BE_F32, "bf16 refused on the cpu (st %d)", st);
    CHECK(strstr(grpo_errmsg(), "bf16") && strstr(grpo_errmsg(), "cuda") && !strchr(grpo_errmsg(), '\n'),
          "one line naming bf16 and cuda: %s", grpo_errmsg());
    st = backend_set_precision(b, "fp16");
    CHECK(st == GRPO_EINVAL && strstr(grpo_errmsg(), "'fp16'") && strstr(grpo_errmsg(), "auto, fp32 or bf16"),
          "fp16 refused naming the accepted values: %s", grpo_errmsg());
    CHECK(!strcmp(backend_dtype_name(BE_F32), "fp32") && !strcmp(backend_dtype_name(BE_BF16), "bf16"), "dtype names");
    CHECK(backend_dtype_size(BE_F32) == 4 && backend_dtype_size(BE_BF16) == 2, "dtype sizes");
    float x[4];
    CHECK(backend_off(b, x, 3) == (void *)(x + 3), "backend_off steps fp32 elements");
    backend_close(b);
}

static void test_config(void) {
    TrainConfig c;
    config_defaults(&c);
    CHECK(!strcmp(c.precision, "auto"), "default precision is auto, got '%s'", c.precision);
    const char *good[] = {"precision=fp32", "precision=bf16", "precision=auto"};
    for (int i = 0; i < 3; i++) {
        CHECK(config_set(&c, good[i]) == GRPO_OK && !strcmp(c.precision, good[i] + 10), "%s: %s", good[i], grpo_errmsg());
        CHECK(config_validate(&c) == GRPO_OK, "%s validates: %s", good[i], grpo_errmsg());
    }
    CHECK(config_set(&c, "precision=bf16") == GRPO_OK, "set");
    char *js = config_to_json(&c);
    CHECK(js && strstr(js, "\"precision\":\"bf16\""), "recorded in the config JSON: %s", js ? js : "(null)");
    free(js);
    CHECK(config_set(&c, "precision=fp16") != GRPO_OK, "fp16 refused");
    CHECK(strstr(grpo_errmsg(), "--set: precision") && strstr(grpo_errmsg(), "'fp16'") &&
              strstr(grpo_errmsg(), "auto, fp32 or bf16"),
          "the error names --set, the key, the value and the choices: %s", grpo_errmsg());
    CHECK(!strcmp(c.precision, "bf16"), "a refused value leaves the key as it was");
    CHECK(config_apply_json(&c, "{\"precision\": \"half\"}", "my.json") != GRPO_OK &&
              strstr(grpo_errmsg(), "my.json: precision") && strstr(grpo_errmsg(), "'half'"),
          "a bad value in a file names the file and the key: %s", grpo_errmsg());
    CHECK(config_apply_json(&c, "{\"precision\": 16}", "my.json") != GRPO_OK && strstr(grpo_errmsg(), "my.json") &&
              strstr(grpo_errmsg(), "precision must be a string"),
          "a number is a type error: %s", grpo_errmsg());
    CHECK(config_set(&c, "precison=fp32") != GRPO_OK && strstr(grpo_errmsg(), "did you mean 'precision'"),
          "a misspelt key gets a suggestion: %s", grpo_errmsg());
    snprintf(c.precision, sizeof c.precision, "int8");
    CHECK(config_validate(&c) != GRPO_OK && strstr(grpo_errmsg(), "precision") && strstr(grpo_errmsg(), "int8"),
          "validate checks the key too: %s", grpo_errmsg());
}

static ModelConfig tiny(void) {
    ModelConfig c;
    model_config_default(&c, MODEL_QWEN2);
    c.hidden = 32, c.ffn = 64, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.head_dim = 8, c.vocab = 50;
    c.max_pos = 64, c.tie_embeddings = 0;
    return c;
}

static void test_model_copy(void) {
    Backend *b = NULL;
    CHECK(backend_open("cpu", &b) == GRPO_OK, "%s", grpo_errmsg());
    if (!b) return;
    ModelConfig c = tiny();
    Model *m = NULL;
    CHECK(model_build(&m, &c, b) == GRPO_OK && model_init_random(m, 3, 0.5f) == GRPO_OK, "%s", grpo_errmsg());
    if (m) {
        // fp32: the working copy IS the master weights (no second buffer).
        CHECK(m->params_cd == (void *)m->params, "fp32 aliases params_cd to params");
        const ModelTensor *wq = model_find_tensor(m, "model.layers.1.self_attn.q_proj.weight");
        CHECK(wq && m->w.layers[1].wq == (void *)(m->params + wq->offset), "views point into the master weights");
        CHECK(m->w.lm_head != m->w.wte && m->w.lm_head == (void *)(m->params + model_find_tensor(m, "lm_head.weight")->offset),
              "untied lm_head has its own view");
        CHECK(model_sync_cd(m) == GRPO_OK, "sync is a no-op: %s", grpo_errmsg());
        // The model's forward on the CPU runs as before.
        int cu[2] = {0, 5};
        int32_t ids[5] = {1, 2, 3, 4, 5};
        float lp[5];
        ModelBatch mb = {1, cu, ids, 1.0f, 0};
        CHECK(model_forward(m, &mb, lp, NULL) == GRPO_OK && isfinite(lp[0]) && lp[0] < 0, "fp32 forward: %s", grpo_errmsg());
        model_free(m);
        m = NULL;
    }

    // A bf16 working copy (what CUDA builds), made here by setting the field
    // directly: the CPU's convert and adamw keep it equal to the rounded
    // master weights. (The CPU's ops themselves stay fp32, so no forward.)
    b->cdt = BE_BF16;
    CHECK(model_build(&m, &c, b) == GRPO_OK && model_init_random(m, 3, 0.5f) == GRPO_OK, "%s", grpo_errmsg());
    if (m) {
        CHECK(m->params_cd && m->params_cd != (void *)m->params, "bf16 has its own working copy");
        const ModelTensor *wd = model_find_tensor(m, "model.layers.0.mlp.down_proj.weight");
        CHECK(wd && m->w.layers[0].wd == (void *)((char *)m->params_cd + wd->offset * 2), "views step 2-byte elements");
        CHECK(m->w.norm == (void *)((char *)m->params_cd + model_find_tensor(m, "model.norm.weight")->offset * 2),
              "norm view");
        uint16_t *want = malloc(m->n_params * 2);
        const uint16_t *cd = m->params_cd;
        CHECK(want && b->convert(b, want, BE_BF16, m->params, BE_F32, m->n_params) == GRPO_OK, "convert");
        CHECK(want && !memcmp(want, cd, m->n_params * 2), "model_init_random refreshed the working copy");
        // A weight written behind the model's back is picked up by model_sync_cd.
        m->params[wd->offset] = 3.0f;
        CHECK(cd[wd->offset] != 0x4040, "not yet synced");
        CHECK(model_sync_cd(m) == GRPO_OK && cd[wd->offset] == 0x4040, "synced: 0x%04x", (unsigned)cd[wd->offset]);
        // adamw_step rounds the new params into the working copy in the same step.
        float *g = calloc(m->n_params, sizeof(float));
        AdamW opt;
        AdamWConfig ac = {1e-2, 0.9, 0.999, 1e-8, 0.0};
        for (size_t i = 0; g && i < m->n_params; i++) g[i] = (float)((i % 13) - 6) * 0.1f;
        CHECK(g && adamw_build(&opt, b, m->n_params) == GRPO_OK, "%s", grpo_errmsg());
        if (g) {
            float before = m->params[5];
            CHECK(adamw_step(&opt, m->params, m->params_cd, g, 1e-2, &ac) == GRPO_OK, "%s", grpo_errmsg());
            CHECK(m->params[5] != before, "the master weights moved");
            CHECK(want && b->convert(b, want, BE_BF16, m->params, BE_F32, m->n_params) == GRPO_OK &&
                      !memcmp(want, cd, m->n_params * 2),
                  "adamw wrote the rounded params into the working copy");
            adamw_free(&opt);
        }
        // The CPU computes in fp32 only: a bf16 matmul is refused, not miscomputed.
        float out[4] = {0};
        uint16_t a[4] = {0x3f80, 0x3f80, 0x3f80, 0x3f80};
        int st = b->matmul(b, out, BE_F32, a, a, 2, 2, 1, 0, 0, 1.0f, 0);
        CHECK(st == GRPO_EUNSUPPORTED && strstr(grpo_errmsg(), "fp32"), "bf16 inputs refused: %s", grpo_errmsg());
        free(g);
        free(want);
        model_free(m);
    }
    b->cdt = BE_F32;
    float x[4] = {1, 2, 3, 4}, y[4];
    int st = b->matmul(b, y, BE_BF16, x, x, 2, 2, 1, 0, 0, 1.0f, 0);
    CHECK(st == GRPO_EUNSUPPORTED && strstr(grpo_errmsg(), "bf16") && strstr(grpo_errmsg(), "cuda"),
          "a bf16 output refused with a clear message: %s", grpo_errmsg());
    CHECK(b->matmul(b, y, BE_F32, x, x, 2, 2, 1, 0, 0, 1.0f, 0) == GRPO_OK && y[3] == 4.0f, "fp32 still works");
    backend_close(b);
}

int main(void) {
    Backend *b = NULL;
    CHECK(backend_open("cpu", &b) == GRPO_OK, "%s", grpo_errmsg());
    if (b) test_convert(b);
    backend_close(b);
    test_set_precision();
    test_config();
    test_model_copy();
    return tu_finish("test_precision");
}
