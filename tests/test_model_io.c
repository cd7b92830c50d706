// Model directories: config.json errors name the key, save -> load is
// bit-exact (F32) or exactly bf16-rounded (BF16), and checkpoints whose tensors
// do not fit the config are rejected naming the tensor.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/model.h"
#include "policy/safetensors.h"
#include "testlib.h"

static const char *BASE =
    // extra keys come first: cJSON's lookup returns the first of duplicate keys
    "{\"model_type\": \"%s\" %s, \"hidden_size\": 32, \"intermediate_size\": 48, \"num_hidden_layers\": 2,"
    " \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"vocab_size\": 50, \"rms_norm_eps\": 1e-5,"
    " \"max_position_embeddings\": 64, \"eos_token_id\": [3, 7], \"bos_token_id\": 1}";

static int parse(ModelConfig *c, const char *arch, const char *extra) {
    char js[2048];
    snprintf(js, sizeof js, BASE, arch, extra);
    return model_config_parse(c, js, "config.json");
}

static void test_config(void) {
    ModelConfig c;
    CHECK(parse(&c, "qwen2", "") == GRPO_OK, "%s", grpo_errmsg());
    CHECK(c.qkv_bias && !c.o_bias && c.head_dim == 8 && c.n_eos == 2 && c.eos_ids[1] == 7 && c.bos_id == 1,
          "qwen2 fields");
    CHECK(parse(&c, "llama", ", \"attention_bias\": true") == GRPO_OK && c.qkv_bias && c.o_bias, "llama attention_bias");
    CHECK(parse(&c, "llama", ", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 32.0, \"low_freq_factor\": 1,"
                             " \"high_freq_factor\": 4, \"original_max_position_embeddings\": 8192}") == GRPO_OK &&
              c.rope_llama3 && c.rope_factor == 32.0,
          "llama3 rope_scaling: %s", grpo_errmsg());
    CHECK(parse(&c, "qwen2", ", \"rope_parameters\": {\"rope_theta\": 5000.0, \"rope_type\": \"default\"}") == GRPO_OK &&
              c.rope_theta == 5000.0,
          "v5 rope_parameters");
    CHECK(parse(&c, "mistral", ", \"sliding_window\": null") == GRPO_OK && c.arch == MODEL_LLAMA, "mistral without window");
    struct { const char *arch, *extra, *needle; } bad[] = {
        {"gpt2", "", "model_type"},
        {"llama", ", \"hidden_act\": \"gelu\"", "hidden_act"},
        {"llama", ", \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4}", "yarn"},
        {"llama", ", \"rope_scaling\": {\"type\": \"linear\", \"factor\": 4}", "rope_scaling"},
        {"qwen2", ", \"use_sliding_window\": true", "use_sliding_window"},
        {"mistral", ", \"sliding_window\": 16", "sliding_window"},
        {"llama", ", \"mlp_bias\": true", "mlp_bias"},
        {"llama", ", \"head_dim\": 7", "head_dim"},
        {"llama", ", \"num_key_value_heads\": 3", "num_key_value_heads"},
        {"llama", ", \"vocab_size\": \"50\"", "vocab_size"},
        {"llama", ", \"rms_norm_eps\": -1", "rms_norm_eps"},
        {"llama", ", \"eos_token_id\": \"x\"", "eos_token_id"},
        {"qwen2", ", \"layer_types\": [\"sliding_attention\", \"full_attention\"]", "layer_types"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int st = parse(&c, bad[i].arch, bad[i].extra);
        CHECK(st != GRPO_OK && strstr(grpo_errmsg(), bad[i].needle) && strstr(grpo_errmsg(), "config.json"),
              "case %zu (%s): status %d, message '%s' should name '%s'", i, bad[i].extra, st, grpo_errmsg(), bad[i].needle);
    }
    CHECK(model_config_parse(&c, "{\"model_type\": \"llama\", \"hidden_size\": 32}", "config.json") != GRPO_OK &&
              strstr(grpo_errmsg(), "intermediate_size"),
          "missing key named: %s", grpo_errmsg());
    CHECK(model_config_parse(&c, "{nope", "config.json") == GRPO_EFORMAT, "broken JSON");
    // to_json -> parse gives the same config back.
    CHECK(parse(&c, "llama", ", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1,"
                             " \"high_freq_factor\": 4, \"original_max_position_embeddings\": 32}, \"rope_theta\": 500") == 0,
          "%s", grpo_errmsg());
    char *js = model_config_to_json(&c);
    ModelConfig c2;
    CHECK(js && model_config_parse(&c2, js, "written") == GRPO_OK, "%s", grpo_errmsg());
    c2.torch_dtype[0] = c.torch_dtype[0] = 0;
    CHECK(!memcmp(&c, &c2, sizeof c), "config round trip through JSON");
    free(js);
}

static void test_roundtrip(Backend *be) {
    ModelConfig c;
    CHECK(parse(&c, "qwen2", "") == GRPO_OK, "%s", grpo_errmsg());
    Model *m = NULL, *m2 = NULL, *m3 = NULL;
    CHECK(model_build(&m, &c, be) == GRPO_OK && model_init_random(m, 11, 0.5f) == GRPO_OK, "%s", grpo_errmsg());
    if (!m) return;
    const char *dir = tu_tmpdir("model_io");
    char d1[4200], d2[4200], path[4300];
    snprintf(d1, sizeof d1, "%s/f32", dir);
    snprintf(d2, sizeof d2, "%s/bf16", dir);
    CHECK(model_save(m, d1, ST_F32, NULL) == GRPO_OK, "%s", grpo_errmsg());
    CHECK(model_load(&m2, d1, be) == GRPO_OK, "%s", grpo_errmsg());
    CHECK(m2 && m2->n_params == m->n_params && !memcmp(m2->params, m->params, m->n_params * 4), "F32 round trip bit-exact");
    CHECK(model_save(m, d2, ST_BF16, NULL) == GRPO_OK && model_load(&m3, d2, be) == GRPO_OK, "%s", grpo_errmsg());
    int same = m3 != NULL;
    for (size_t i = 0; same && i < m->n_params; i++)
        same = m3->params[i] == st_bf16_to_f32(st_f32_to_bf16(m->params[i]));
    CHECK(same, "BF16 round trip equals bf16 rounding");
    model_free(m2);
    model_free(m3);
    m2 = m3 = NULL;

    // Tensors that do not fit: a missing one, an extra one, a wrong shape.
    const ModelTensor *wq = model_find_tensor(m, "model.layers.1.self_attn.q_proj.weight");
    CHECK(wq != NULL, "q_proj in the table");
    StWrite w[64];
    int n = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const ModelTensor *t = &m->tensors[i];
        w[n].name = t->name, w[n].data = m->params + t->offset, w[n].ndim = t->ndim;
        w[n].shape[0] = t->shape[0], w[n].shape[1] = t->shape[1];
        n++;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", d1);
    // missing: drop the last tensor (lm_head.weight)
    CHECK(st_save(path, w, n - 1, ST_F32, NULL) == GRPO_OK, "%s", grpo_errmsg());
    CHECK(model_load(&m2, d1, be) != GRPO_OK && strstr(grpo_errmsg(), "lm_head.weight") && strstr(grpo_errmsg(), "missing"),
          "missing tensor named: %s", grpo_errmsg());
    // extra
    w[n] = w[0];
    w[n].name = "model.layers.9.mlp.extra.weight";
    CHECK(st_save(path, w, n + 1, ST_F32, NULL) == GRPO_OK, "%s", grpo_errmsg());
    CHECK(model_load(&m2, d1, be) != GRPO_OK && strstr(grpo_errmsg(), "model.layers.9.mlp.extra.weight"),
          "extra tensor named: %s", grpo_errmsg());
    // wrong shape
    for (int i = 0; i < n; i++)
        if (!strcmp(w[i].name, wq->name)) w[i].shape[0] = 16, w[i].shape[1] = 64;
    CHECK(st_save(path, w, n, ST_F32, NULL) == GRPO_OK, "%s", grpo_errmsg());
    CHECK(model_load(&m2, d1, be) != GRPO_OK && strstr(grpo_errmsg(), wq->name) && strstr(grpo_errmsg(), "shape"),
          "wrong shape named: %s", grpo_errmsg());
    CHECK(model_load(&m2, "/nonexistent/model", be) != GRPO_OK && strstr(grpo_errmsg(), "/nonexistent/model"),
          "missing dir named: %s", grpo_errmsg());
    CHECK(m2 == NULL, "failed loads return no model");
    model_free(m);
}

int main(void) {
    Backend *be = NULL;
    if (backend_open("cpu", &be)) return tu_finish("test_model_io");
    test_config();
    test_roundtrip(be);
    backend_close(be);
    return tu_finish("test_model_io");
}
