// config.json <-> ModelConfig. Every unsupported setting is an error naming the
// file and the key, so a user learns at load time why a checkpoint cannot run.
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/fileio.h"
#include "policy/model.h"

const char *model_arch_name(ModelArch a) { return a == MODEL_QWEN2 ? "qwen2" : "llama"; }

void model_config_default(ModelConfig *c, ModelArch arch) {
    memset(c, 0, sizeof *c);
    c->arch = arch;
    snprintf(c->model_type, sizeof c->model_type, "%s", model_arch_name(arch));
    c->rms_eps = 1e-6;
    c->rope_theta = arch == MODEL_QWEN2 ? 1000000.0 : 10000.0;
    c->max_pos = arch == MODEL_QWEN2 ? 32768 : 2048;
    c->qkv_bias = arch == MODEL_QWEN2;
    c->bos_id = -1;
    c->n_eos = 0;
    snprintf(c->torch_dtype, sizeof c->torch_dtype, "float32");
}

// Reads an integer key. Missing: *dst keeps its value unless `required`.
static int get_int(const cJSON *root, const char *key, int *dst, int required, const char *origin) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it || cJSON_IsNull(it)) {
        if (required) return grpo_fail(GRPO_EFORMAT, "%s: missing key '%s'", origin, key);
        return GRPO_OK;
    }
    if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) || fabs(it->valuedouble) > 2147483647.0)
        return grpo_fail(GRPO_EFORMAT, "%s: key '%s' must be an integer", origin, key);
    *dst = (int)it->valuedouble;
    return GRPO_OK;
}

static int get_num(const cJSON *root, const char *key, double *dst, const char *origin) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it || cJSON_IsNull(it)) return GRPO_OK;
    if (!cJSON_IsNumber(it)) return grpo_fail(GRPO_EFORMAT, "%s: key '%s' must be a number", origin, key);
    *dst = it->valuedouble;
    return GRPO_OK;
}

static int get_bool(const cJSON *root, const char *key, int *dst, const char *origin) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it || cJSON_IsNull(it)) return GRPO_OK;
    if (!cJSON_IsBool(it)) return grpo_fail(GRPO_EFORMAT, "%s: key '%s' must be true or false", origin, key);
    *dst = cJSON_IsTrue(it);
    return GRPO_OK;
}

static int parse_rope_scaling(ModelConfig *c, const cJSON *rs, const char *origin) {
    if (!rs || cJSON_IsNull(rs)) return GRPO_OK;
    if (!cJSON_IsObject(rs)) return grpo_fail(GRPO_EFORMAT, "%s: key 'rope_scaling' must be an object or null", origin);
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(rs, "rope_type");
    if (!ty) ty = cJSON_GetObjectItemCaseSensitive(rs, "type");
    if (!cJSON_IsString(ty)) return grpo_fail(GRPO_EFORMAT, "%s: key 'rope_scaling' has no string 'rope_type'", origin);
    if (!strcmp(ty->valuestring, "default")) return GRPO_OK;
    if (strcmp(ty->valuestring, "llama3"))
        return grpo_fail(GRPO_EUNSUPPORTED, "%s: key 'rope_scaling': rope_type '%s' is not supported (only llama3 and default)",
                         origin, ty->valuestring);
    c->rope_llama3 = 1;
    c->rope_factor = 8.0, c->rope_low_freq_factor = 1.0, c->rope_high_freq_factor = 4.0;
    c->rope_orig_max_pos = 8192;
    int st;
    if ((st = get_num(rs, "factor", &c->rope_factor, origin)) || (st = get_num(rs, "low_freq_factor", &c->rope_low_freq_factor, origin)) ||
        (st = get_num(rs, "high_freq_factor", &c->rope_high_freq_factor, origin)) ||
        (st = get_int(rs, "original_max_position_embeddings", &c->rope_orig_max_pos, 0, origin)))
        return grpo_wrap(st, "rope_scaling: ");
    if (c->rope_factor <= 0 || c->rope_high_freq_factor <= c->rope_low_freq_factor || c->rope_low_freq_factor <= 0 ||
        c->rope_orig_max_pos <= 0)
        return grpo_fail(GRPO_EFORMAT, "%s: key 'rope_scaling': llama3 factors are inconsistent", origin);
    return GRPO_OK;
}

static int parse_root(ModelConfig *c, const cJSON *root, const char *origin) {
    if (!cJSON_IsObject(root)) return grpo_fail(GRPO_EFORMAT, "%s: not a JSON object", origin);
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    if (!cJSON_IsString(mt)) return grpo_fail(GRPO_EFORMAT, "%s: missing key 'model_type'", origin);
    ModelArch arch;
    if (!strcmp(mt->valuestring, "llama") || !strcmp(mt->valuestring, "mistral")) arch = MODEL_LLAMA;
    else if (!strcmp(mt->valuestring, "qwen2")) arch = MODEL_QWEN2;
    else
        return grpo_fail(GRPO_EUNSUPPORTED, "%s: key 'model_type': '%s' is not supported (llama, mistral, qwen2)", origin,
                         mt->valuestring);
    model_config_default(c, arch);
    snprintf(c->model_type, sizeof c->model_type, "%s", mt->valuestring);
    int st;
    if ((st = get_int(root, "hidden_size", &c->hidden, 1, origin)) ||
        (st = get_int(root, "intermediate_size", &c->ffn, 1, origin)) ||
        (st = get_int(root, "num_hidden_layers", &c->n_layers, 1, origin)) ||
        (st = get_int(root, "num_attention_heads", &c->n_heads, 1, origin)) ||
        (st = get_int(root, "vocab_size", &c->vocab, 1, origin)))
        return st;
    c->n_kv_heads = c->n_heads;
    if ((st = get_int(root, "num_key_value_heads", &c->n_kv_heads, 0, origin))) return st;
    c->head_dim = c->n_heads > 0 ? c->hidden / c->n_heads : 0;
    if ((st = get_int(root, "head_dim", &c->head_dim, 0, origin)) ||
        (st = get_int(root, "max_position_embeddings", &c->max_pos, 0, origin)) ||
        (st = get_num(root, "rms_norm_eps", &c->rms_eps, origin)) ||
        (st = get_num(root, "rope_theta", &c->rope_theta, origin)) ||
        (st = get_bool(root, "tie_word_embeddings", &c->tie_embeddings, origin)) ||
        (st = get_int(root, "bos_token_id", &c->bos_id, 0, origin)))
        return st;
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(root, "hidden_act");
    if (act && !cJSON_IsNull(act) && (!cJSON_IsString(act) || strcmp(act->valuestring, "silu")))
        return grpo_fail(GRPO_EUNSUPPORTED, "%s: key 'hidden_act': only 'silu' is supported", origin);
    const cJSON *eos = cJSON_GetObjectItemCaseSensitive(root, "eos_token_id");
    if (cJSON_IsNumber(eos)) {
        c->eos_ids[0] = eos->valueint;
        c->n_eos = 1;
    } else if (cJSON_IsArray(eos)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, eos) {
            if (!cJSON_IsNumber(e)) return grpo_fail(GRPO_EFORMAT, "%s: key 'eos_token_id' must hold integers", origin);
            if (c->n_eos >= MODEL_MAX_EOS)
                return grpo_fail(GRPO_EUNSUPPORTED, "%s: key 'eos_token_id': more than %d ids", origin, MODEL_MAX_EOS);
            c->eos_ids[c->n_eos++] = e->valueint;
        }
    } else if (eos && !cJSON_IsNull(eos)) {
        return grpo_fail(GRPO_EFORMAT, "%s: key 'eos_token_id' must be an integer or a list", origin);
    }
    if ((st = parse_rope_scaling(c, cJSON_GetObjectItemCaseSensitive(root, "rope_scaling"), origin))) return st;
    // transformers >= 5 writes rope_parameters {"rope_theta", "rope_type", ...}
    // instead of rope_theta + rope_scaling; checkpoints on the Hub have the old layout.
    const cJSON *rp = cJSON_GetObjectItemCaseSensitive(root, "rope_parameters");
    if (rp && !cJSON_IsNull(rp)) {
        if (!cJSON_IsObject(rp)) return grpo_fail(GRPO_EFORMAT, "%s: key 'rope_parameters' must be an object", origin);
        const cJSON *top_rs = cJSON_GetObjectItemCaseSensitive(root, "rope_scaling");
        if (!cJSON_GetObjectItemCaseSensitive(root, "rope_theta"))
            if ((st = get_num(rp, "rope_theta", &c->rope_theta, origin))) return grpo_wrap(st, "rope_parameters: ");
        if ((!top_rs || cJSON_IsNull(top_rs)) &&
            (cJSON_GetObjectItemCaseSensitive(rp, "rope_type") || cJSON_GetObjectItemCaseSensitive(rp, "type")))
            if ((st = parse_rope_scaling(c, rp, origin))) return grpo_wrap(st, "rope_parameters: ");
    }
    const cJSON *lt = cJSON_GetObjectItemCaseSensitive(root, "layer_types"), *e;
    if (cJSON_IsArray(lt))
        cJSON_ArrayForEach(e, lt) if (!cJSON_IsString(e) || strcmp(e->valuestring, "full_attention"))
            return grpo_fail(GRPO_EUNSUPPORTED, "%s: key 'layer_types': only full_attention layers are supported", origin);
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(root, "sliding_window");
    if (arch == MODEL_QWEN2) {
        int use_sw = 0;
        if ((st = get_bool(root, "use_sliding_window", &use_sw, origin))) return st;
        if (use_sw) return grpo_fail(GRPO_EUNSUPPORTED, "%s: key 'use_sliding_window': sliding-window attention is not supported", origin);
    } else if (sw && !cJSON_IsNull(sw) && !(cJSON_IsNumber(sw) && sw->valuedouble >= c->max_pos)) {
        // a window at least max_position_embeddings long never slides
        return grpo_fail(GRPO_EUNSUPPORTED, "%s: key 'sliding_window': sliding-window attention is not supported", origin);
    }
    if (arch == MODEL_LLAMA) {
        int ab = 0, mb = 0;
        if ((st = get_bool(root, "attention_bias", &ab, origin)) || (st = get_bool(root, "mlp_bias", &mb, origin))) return st;
        if (mb) return grpo_fail(GRPO_EUNSUPPORTED, "%s: key 'mlp_bias': MLP biases are not supported", origin);
        c->qkv_bias = c->o_bias = ab;
    }
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(root, "torch_dtype");
    if (!cJSON_IsString(dt)) dt = cJSON_GetObjectItemCaseSensitive(root, "dtype");
    c->torch_dtype[0] = '\0';
    if (cJSON_IsString(dt)) snprintf(c->torch_dtype, sizeof c->torch_dtype, "%s", dt->valuestring);
    return model_config_validate(c, origin);
}

int model_config_parse(ModelConfig *c, const char *json, const char *origin) {
    cJSON *root = cJSON_Parse(json);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        return grpo_fail(GRPO_EFORMAT, "%s: invalid JSON near byte %ld", origin,
                         at && at >= json ? (long)(at - json) : -1L);
    }
    int st = parse_root(c, root, origin);
    cJSON_Delete(root);
    return st;
}

int model_config_load(ModelConfig *c, const char *path) {
    char *buf = NULL;
    int st = grpo_read_file(path, 64u << 20, &buf, NULL);
    if (!st) st = model_config_parse(c, buf, path);
    free(buf);
    return st;
}

int model_config_validate(const ModelConfig *c, const char *origin) {
    struct { const char *key; int v; } pos[] = {{"hidden_size", c->hidden}, {"intermediate_size", c->ffn},
        {"num_hidden_layers", c->n_layers}, {"num_attention_heads", c->n_heads},
        {"num_key_value_heads", c->n_kv_heads}, {"head_dim", c->head_dim}, {"vocab_size", c->vocab},
        {"max_position_embeddings", c->max_pos}};
    for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++)
        if (pos[i].v <= 0) return grpo_fail(GRPO_EFORMAT, "%s: key '%s' must be positive (got %d)", origin, pos[i].key, pos[i].v);
    if (c->n_heads % c->n_kv_heads)
        return grpo_fail(GRPO_EFORMAT, "%s: key 'num_key_value_heads' (%d) must divide num_attention_heads (%d)", origin,
                         c->n_kv_heads, c->n_heads);
    if (c->head_dim % 2) return grpo_fail(GRPO_EFORMAT, "%s: key 'head_dim' (%d) must be even for rotary embeddings", origin, c->head_dim);
    if (!(c->rms_eps > 0)) return grpo_fail(GRPO_EFORMAT, "%s: key 'rms_norm_eps' must be positive", origin);
    if (!(c->rope_theta > 0)) return grpo_fail(GRPO_EFORMAT, "%s: key 'rope_theta' must be positive", origin);
    double n = (double)c->vocab * c->hidden * 2 + (double)c->n_layers * ((double)c->hidden * c->ffn * 3 +
               (double)c->hidden * c->head_dim * (2 * c->n_heads + 2 * c->n_kv_heads));
    if (n > 4e10) return grpo_fail(GRPO_EUNSUPPORTED, "%s: the model is too large (%.3g parameters)", origin, n);
    return GRPO_OK;
}

char *model_config_to_json(const ModelConfig *c) {
    cJSON *r = cJSON_CreateObject();
    if (!r) return NULL;
    int q = c->arch == MODEL_QWEN2, mis = !strcmp(c->model_type, "mistral");
    cJSON *archs = cJSON_AddArrayToObject(r, "architectures");
    cJSON_AddItemToArray(archs, cJSON_CreateString(q ? "Qwen2ForCausalLM" : mis ? "MistralForCausalLM" : "LlamaForCausalLM"));
    cJSON_AddStringToObject(r, "model_type", q ? "qwen2" : mis ? "mistral" : "llama");
    cJSON_AddNumberToObject(r, "hidden_size", c->hidden);
    cJSON_AddNumberToObject(r, "intermediate_size", c->ffn);
    cJSON_AddNumberToObject(r, "num_hidden_layers", c->n_layers);
    cJSON_AddNumberToObject(r, "num_attention_heads", c->n_heads);
    cJSON_AddNumberToObject(r, "num_key_value_heads", c->n_kv_heads);
    cJSON_AddNumberToObject(r, "head_dim", c->head_dim);
    cJSON_AddStringToObject(r, "hidden_act", "silu");
    cJSON_AddNumberToObject(r, "rms_norm_eps", c->rms_eps);
    cJSON_AddNumberToObject(r, "rope_theta", c->rope_theta);
    cJSON_AddNumberToObject(r, "vocab_size", c->vocab);
    cJSON_AddBoolToObject(r, "tie_word_embeddings", c->tie_embeddings);
    cJSON_AddNumberToObject(r, "max_position_embeddings", c->max_pos);
    cJSON_AddNumberToObject(r, "initializer_range", 0.02);
    if (c->bos_id >= 0) cJSON_AddNumberToObject(r, "bos_token_id", c->bos_id);
    if (c->n_eos == 1) cJSON_AddNumberToObject(r, "eos_token_id", c->eos_ids[0]);
    else if (c->n_eos > 1) {
        cJSON *e = cJSON_AddArrayToObject(r, "eos_token_id");
        for (int i = 0; i < c->n_eos; i++) cJSON_AddItemToArray(e, cJSON_CreateNumber(c->eos_ids[i]));
    }
    if (q) {
        cJSON_AddBoolToObject(r, "use_sliding_window", 0);
        cJSON_AddNullToObject(r, "sliding_window");
    } else {
        cJSON_AddBoolToObject(r, "attention_bias", c->qkv_bias);
        cJSON_AddBoolToObject(r, "mlp_bias", 0);
        if (mis) cJSON_AddNullToObject(r, "sliding_window");
    }
    if (c->rope_llama3) {
        cJSON *rs = cJSON_AddObjectToObject(r, "rope_scaling");
        cJSON_AddStringToObject(rs, "rope_type", "llama3");
        cJSON_AddNumberToObject(rs, "factor", c->rope_factor);
        cJSON_AddNumberToObject(rs, "low_freq_factor", c->rope_low_freq_factor);
        cJSON_AddNumberToObject(rs, "high_freq_factor", c->rope_high_freq_factor);
        cJSON_AddNumberToObject(rs, "original_max_position_embeddings", c->rope_orig_max_pos);
    } else {
        cJSON_AddNullToObject(r, "rope_scaling");
    }
    cJSON_AddStringToObject(r, "torch_dtype", c->torch_dtype[0] ? c->torch_dtype : "float32");
    cJSON_AddBoolToObject(r, "use_cache", 1);
    char *s = cJSON_Print(r);
    cJSON_Delete(r);
    return s;
}
