// The policy: a Llama / Qwen2-family decoder-only transformer written once
// against the backend op table (kernels/backend.h).
//
// Parameters live in ONE contiguous backend buffer; ModelWeights holds named
// views into it and Model.tensors is the per-tensor table (Hugging Face name,
// shape, offset), so zero-grad, the optimizer and saving are single passes.
// Gradients use a second buffer with the same layout.
//
// Training batches pack sequences of different lengths back to back (no
// padding): sequence s is tokens cu_seqlens[s] .. cu_seqlens[s+1]. Activation
// memory is proportional to the batch's total tokens.
#ifndef GRPO_MODEL_H
#define GRPO_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/backend.h"

#define MODEL_MAX_EOS 8

typedef enum { MODEL_LLAMA = 0, MODEL_QWEN2 = 1 } ModelArch;

typedef struct {
    ModelArch arch;
    int hidden;          // hidden_size
    int ffn;             // intermediate_size
    int n_layers;        // num_hidden_layers
    int n_heads;         // num_attention_heads
    int n_kv_heads;      // num_key_value_heads (GQA)
    int head_dim;        // head_dim, default hidden / n_heads
    int vocab;           // vocab_size
    int max_pos;         // max_position_embeddings
    double rms_eps;      // rms_norm_eps
    double rope_theta;   // rope_theta
    int tie_embeddings;  // tie_word_embeddings
    int qkv_bias;        // qwen2 always; llama when attention_bias
    int o_bias;          // llama attention_bias also biases o_proj
    // rope_scaling {"rope_type": "llama3", ...}; rope_llama3 = 0 means none
    int rope_llama3;
    double rope_factor, rope_low_freq_factor, rope_high_freq_factor;
    int rope_orig_max_pos;
    int bos_id;          // -1 when absent
    int eos_ids[MODEL_MAX_EOS];
    int n_eos;
    char torch_dtype[16]; // as read ("bfloat16", "float32", ...), "" when absent
    char model_type[16];  // "llama", "mistral" or "qwen2": written back on save
} ModelConfig;

// Fills c with defaults for `arch` (used by init-model before setting sizes).
void model_config_default(ModelConfig *c, ModelArch arch);
// Parses a Hugging Face config.json. Unsupported settings are errors that name
// the file and the key. `origin` names the source in messages.
int model_config_parse(ModelConfig *c, const char *json, const char *origin);
int model_config_load(ModelConfig *c, const char *path);
// Checks sizes are positive and consistent (heads divide, head_dim even, ...).
int model_config_validate(const ModelConfig *c, const char *origin);
// config.json text (malloc'd) that transformers loads: model_type, sizes, ...
char *model_config_to_json(const ModelConfig *c);
const char *model_arch_name(ModelArch a);

// Views into one parameter buffer: the weights' working copy (Model.w, cdt
// elements, what the forward reads) or the fp32 gradients (Model.g).
typedef struct {
    void *ln1;             // (C)               input_layernorm.weight
    void *wq, *bq;         // (nh*hd, C), (nh*hd)  self_attn.q_proj
    void *wk, *bk;         // (kvd, C), (kvd)
    void *wv, *bv;         // (kvd, C), (kvd)
    void *wo, *bo;         // (C, nh*hd), (C)
    void *ln2;             // (C)               post_attention_layernorm.weight
    void *wg, *wu;         // (F, C)            mlp.gate_proj / mlp.up_proj
    void *wd;              // (C, F)            mlp.down_proj
} ModelLayerWeights;

typedef struct {
    void *wte;             // (V, C) model.embed_tokens.weight
    ModelLayerWeights *layers;
    void *norm;            // (C)    model.norm.weight
    void *lm_head;         // (V, C) lm_head.weight, == wte when tied
} ModelWeights;

typedef enum {
    MT_WTE, MT_NORM, MT_LM_HEAD, MT_LN1, MT_WQ, MT_BQ, MT_WK, MT_BK, MT_WV, MT_BV, MT_WO, MT_BO,
    MT_LN2, MT_WG, MT_WU, MT_WD
} ModelTensorKind;

typedef struct {
    char name[96];         // Hugging Face name
    int ndim;
    int64_t shape[2];
    size_t offset, numel;  // in floats, into the parameter buffer
    ModelTensorKind kind;
    int layer;             // -1 outside the layers
} ModelTensor;

typedef struct ModelActs ModelActs;

typedef struct {
    ModelConfig cfg;
    Backend *be;            // not owned
    float *params;          // backend memory, n_params fp32 master weights (saved, optimized)
    void *params_cd;        // the working copy the model computes with (n_params, be->cdt):
                            // == params when cdt is fp32, else its own buffer kept in step
                            // by model_sync_cd and the optimizer (adamw's params_cd)
    float *grads;           // same layout, fp32; NULL until model_alloc_grads
    size_t n_params;
    ModelTensor *tensors;
    int n_tensors;
    ModelWeights w, g;      // views into params_cd and grads
    float *inv_freq;        // (head_dim/2) backend memory, rope scaling applied
    ModelActs *acts;        // training activations of the last forward
    int logit_chunk;        // rows of logits per chunk; 0 = about 64 MiB (tests set it small)
} Model;

// A model with the layout of `cfg`, parameters zeroed. Free with model_free.
int model_build(Model **out, const ModelConfig *cfg, Backend *be);
void model_free(Model *m);
int model_alloc_grads(Model *m);
int model_zero_grad(Model *m);
// Normal(0, std) weights (Hugging Face's initializer_range), norms 1, biases 0;
// deterministic in seed.
int model_init_random(Model *m, uint64_t seed, float std);
// Refreshes the working copy params_cd from the master params (a no-op when
// they are the same buffer). Call after anything but adamw writes params.
int model_sync_cd(Model *m);
const ModelTensor *model_find_tensor(const Model *m, const char *name);

// Loads a Hugging Face directory (config.json + model.safetensors or shards).
int model_load(Model **out, const char *dir, Backend *be);
// Writes config.json + model.safetensors (dtype ST_F32 or ST_BF16 as int) and
// copies tokenizer files from `tokenizer_src_dir` when given and present.
int model_save(const Model *m, const char *dir, int st_dtype, const char *tokenizer_src_dir);
// Writes the gradients as F32 safetensors under the parameters' names.
int model_save_grads(const Model *m, const char *path);
// Copies tokenizer.json, tokenizer_config.json, ... that exist in src_dir.
int model_copy_tokenizer_files(const char *src_dir, const char *dst_dir);

typedef struct {
    int n_seqs;
    const int *cu_seqlens;  // host (n_seqs + 1), cu_seqlens[0] = 0
    const int32_t *ids;     // host (T), T = cu_seqlens[n_seqs]
    float temperature;      // logits are divided by it; <= 0 means 1
    int no_grad;            // 1: no model_backward will follow, keep one layer's activations
                            // (reference-model and evaluation log-probs at a fraction of the memory)
} ModelBatch;

// Training forward. logp[t] (host, T) = log p(ids[t+1] | ids[..t]) within t's
// sequence (0 for each sequence's last token); entropy[t] (host, T, or NULL)
// the entropy of that next-token distribution. Keeps the activations that
// model_backward needs.
int model_forward(Model *m, const ModelBatch *b, float *logp, float *entropy);
// Accumulates into m->grads the gradient of sum_t dlogp[t] * logp[t] for the
// batch of the last model_forward. dlogp: host (T).
int model_backward(Model *m, const float *dlogp);

#endif
