// The transformer: parameter layout, initialisation, training forward and
// backward. Loading and saving live in model_io.c, generation in generate.c.
#include "policy/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/model_acts.h"

#define TRY(x)                    \
    do {                          \
        int st_ = (x);            \
        if (st_) return st_;      \
    } while (0)

static void add_tensor(Model *m, int *n, ModelTensorKind kind, int layer, const char *name, int64_t d0, int64_t d1,
                       size_t *off) {
    ModelTensor *t = &m->tensors[(*n)++];
    if (layer >= 0) snprintf(t->name, sizeof t->name, "model.layers.%d.%s", layer, name);
    else snprintf(t->name, sizeof t->name, "%s", name);
    t->kind = kind;
    t->layer = layer;
    t->ndim = d1 ? 2 : 1;
    t->shape[0] = d0;
    t->shape[1] = d1;
    t->numel = (size_t)d0 * (size_t)(d1 ? d1 : 1);
    t->offset = *off;
    // Each tensor starts on a 64-byte boundary (16 floats) for aligned SIMD access.
    *off += (t->numel + 15) & ~(size_t)15;
}

static void build_table(Model *m) {
    const ModelConfig *c = &m->cfg;
    int n = 0;
    size_t off = 0;
    int64_t C = c->hidden, F = c->ffn, qd = (int64_t)c->n_heads * c->head_dim, kvd = (int64_t)c->n_kv_heads * c->head_dim;
    add_tensor(m, &n, MT_WTE, -1, "model.embed_tokens.weight", c->vocab, C, &off);
    for (int l = 0; l < c->n_layers; l++) {
        add_tensor(m, &n, MT_LN1, l, "input_layernorm.weight", C, 0, &off);
        add_tensor(m, &n, MT_WQ, l, "self_attn.q_proj.weight", qd, C, &off);
        if (c->qkv_bias) add_tensor(m, &n, MT_BQ, l, "self_attn.q_proj.bias", qd, 0, &off);
        add_tensor(m, &n, MT_WK, l, "self_attn.k_proj.weight", kvd, C, &off);
        if (c->qkv_bias) add_tensor(m, &n, MT_BK, l, "self_attn.k_proj.bias", kvd, 0, &off);
        add_tensor(m, &n, MT_WV, l, "self_attn.v_proj.weight", kvd, C, &off);
        if (c->qkv_bias) add_tensor(m, &n, MT_BV, l, "self_attn.v_proj.bias", kvd, 0, &off);
        add_tensor(m, &n, MT_WO, l, "self_attn.o_proj.weight", C, qd, &off);
        if (c->o_bias) add_tensor(m, &n, MT_BO, l, "self_attn.o_proj.bias", C, 0, &off);
        add_tensor(m, &n, MT_LN2, l, "post_attention_layernorm.weight", C, 0, &off);
        add_tensor(m, &n, MT_WG, l, "mlp.gate_proj.weight", F, C, &off);
        add_tensor(m, &n, MT_WU, l, "mlp.up_proj.weight", F, C, &off);
        add_tensor(m, &n, MT_WD, l, "mlp.down_proj.weight", C, F, &off);
    }
    add_tensor(m, &n, MT_NORM, -1, "model.norm.weight", C, 0, &off);
    if (!c->tie_embeddings) add_tensor(m, &n, MT_LM_HEAD, -1, "lm_head.weight", c->vocab, C, &off);
    m->n_tensors = n;
    m->n_params = off;
}

// esize: bytes per element of the buffer at base (the working copy's cdt, or 4 for grads).
static void set_views(const Model *m, void *base, size_t esize, ModelWeights *w) {
    for (int i = 0; i < m->n_tensors; i++) {
        const ModelTensor *t = &m->tensors[i];
        void *p = (char *)base + t->offset * esize;
        ModelLayerWeights *L = t->layer >= 0 ? &w->layers[t->layer] : NULL;
        switch (t->kind) {
        case MT_WTE: w->wte = p; break;
        case MT_NORM: w->norm = p; break;
        case MT_LM_HEAD: w->lm_head = p; break;
        case MT_LN1: L->ln1 = p; break;
        case MT_WQ: L->wq = p; break;
        case MT_BQ: L->bq = p; break;
        case MT_WK: L->wk = p; break;
        case MT_BK: L->bk = p; break;
        case MT_WV: L->wv = p; break;
        case MT_BV: L->bv = p; break;
        case MT_WO: L->wo = p; break;
        case MT_BO: L->bo = p; break;
        case MT_LN2: L->ln2 = p; break;
        case MT_WG: L->wg = p; break;
        case MT_WU: L->wu = p; break;
        case MT_WD: L->wd = p; break;
        }
    }
    if (m->cfg.tie_embeddings) w->lm_head = w->wte;
}

// inv_freq[i] = theta^(-2i/hd), with Llama 3's frequency-dependent rescaling
// (transformers' _compute_llama3_parameters) applied once here on the host.
static void rope_inv_freq(const ModelConfig *c, float *out) {
    int half = c->head_dim / 2;
    for (int i = 0; i < half; i++) {
        double f = 1.0 / pow(c->rope_theta, (double)(2 * i) / (double)c->head_dim);
        if (c->rope_llama3) {
            double low_wl = c->rope_orig_max_pos / c->rope_low_freq_factor;
            double high_wl = c->rope_orig_max_pos / c->rope_high_freq_factor;
            double wl = 2.0 * M_PI / f;
            if (wl > low_wl) {
                f = f / c->rope_factor;
            } else if (wl >= high_wl) {
                double smooth = (c->rope_orig_max_pos / wl - c->rope_low_freq_factor) /
                                (c->rope_high_freq_factor - c->rope_low_freq_factor);
                f = (1.0 - smooth) * f / c->rope_factor + smooth * f;
            }
        }
        out[i] = (float)f;
    }
}

int model_build(Model **out, const ModelConfig *cfg, Backend *be) {
    *out = NULL;
    TRY(model_config_validate(cfg, "model config"));
    static const struct { size_t off; const char *name; } ops[] = {
#define OP(n) {offsetof(Backend, n), #n}
        OP(embedding_forward), OP(embedding_backward), OP(rmsnorm_forward), OP(rmsnorm_backward),
        OP(rope_forward), OP(rope_backward), OP(attention_forward), OP(attention_backward),
        OP(swiglu_forward), OP(swiglu_backward), OP(logprob_forward), OP(logprob_backward),
        OP(add), OP(bias_forward), OP(bias_backward), OP(scatter_rows),
#undef OP
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        TRY(backend_require(be, *(void *const *)((const char *)be + ops[i].off), ops[i].name));
    Model *m = calloc(1, sizeof *m);
    if (!m) return grpo_fail(GRPO_ENOMEM, "model: out of memory");
    m->cfg = *cfg;
    m->be = be;
    m->tensors = calloc((size_t)cfg->n_layers * 13 + 3, sizeof *m->tensors);
    m->w.layers = calloc((size_t)cfg->n_layers, sizeof *m->w.layers);
    m->g.layers = calloc((size_t)cfg->n_layers, sizeof *m->g.layers);
    if (!m->tensors || !m->w.layers || !m->g.layers) {
        model_free(m);
        return grpo_fail(GRPO_ENOMEM, "model: out of memory");
    }
    build_table(m);
    int st = be->alloc(be, (void **)&m->params, m->n_params * sizeof(float));
    // fp32 compute reads the master weights themselves: no second copy.
    if (!st && be->cdt == BE_F32) m->params_cd = m->params;
    else if (!st) st = be->alloc(be, &m->params_cd, m->n_params * backend_dtype_size(be->cdt));
    if (!st) st = be->alloc(be, (void **)&m->inv_freq, (size_t)cfg->head_dim / 2 * sizeof(float));
    if (!st) {
        float *h = malloc((size_t)cfg->head_dim / 2 * sizeof(float));
        if (!h) st = grpo_fail(GRPO_ENOMEM, "model: out of memory");
        else {
            rope_inv_freq(cfg, h);
            st = be->to_device(be, m->inv_freq, h, (size_t)cfg->head_dim / 2 * sizeof(float));
            free(h);
        }
    }
    if (st) {
        size_t n = m->n_params;
        model_free(m);
        return grpo_wrap(st, "model (%zu parameters): ", n);
    }
    set_views(m, m->params_cd, backend_dtype_size(be->cdt), &m->w);
    *out = m;
    return GRPO_OK;
}

void model_free(Model *m) {
    if (!m) return;
    model_acts_free(m);
    if (m->be) {
        if (m->params_cd != (void *)m->params) m->be->free(m->be, m->params_cd);
        m->be->free(m->be, m->params);
        m->be->free(m->be, m->grads);
        m->be->free(m->be, m->inv_freq);
    }
    free(m->tensors);
    free(m->w.layers);
    free(m->g.layers);
    free(m);
}

int model_alloc_grads(Model *m) {
    if (m->grads) return GRPO_OK;
    TRY(m->be->alloc(m->be, (void **)&m->grads, m->n_params * sizeof(float)));
    set_views(m, m->grads, sizeof(float), &m->g);
    return GRPO_OK;
}

int model_zero_grad(Model *m) {
    TRY(model_alloc_grads(m));
    return m->be->memset(m->be, m->grads, 0, m->n_params * sizeof(float));
}

const ModelTensor *model_find_tensor(const Model *m, const char *name) {
    for (int i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i].name, name)) return &m->tensors[i];
    return NULL;
}

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int model_init_random(Model *m, uint64_t seed, float std) {
    float *h = malloc(m->n_params * sizeof(float));
    if (!h) return grpo_fail(GRPO_ENOMEM, "model init: out of memory");
    memset(h, 0, m->n_params * sizeof(float));
    uint64_t s = seed ^ 0x6a09e667f3bcc908ull;
    for (int i = 0; i < m->n_tensors; i++) {
        const ModelTensor *t = &m->tensors[i];
        float *p = h + t->offset;
        if (t->kind == MT_LN1 || t->kind == MT_LN2 || t->kind == MT_NORM) {
            for (size_t j = 0; j < t->numel; j++) p[j] = 1.0f;
        } else if (t->ndim == 2) {
            for (size_t j = 0; j < t->numel; j += 2) { // Box-Muller, two normals per draw
                double u1 = ((splitmix64(&s) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
                double u2 = (splitmix64(&s) >> 11) * (1.0 / 9007199254740992.0);
                double r = sqrt(-2.0 * log(u1));
                p[j] = (float)(std * r * cos(2 * M_PI * u2));
                if (j + 1 < t->numel) p[j + 1] = (float)(std * r * sin(2 * M_PI * u2));
            }
        } // biases stay 0
    }
    int st = m->be->to_device(m->be, m->params, h, m->n_params * sizeof(float));
    free(h);
    return st ? st : model_sync_cd(m);
}

int model_sync_cd(Model *m) {
    if (m->params_cd == (void *)m->params) return GRPO_OK;
    Backend *b = m->be;
    if (!b->convert) return backend_require(b, NULL, "convert");
    int st = b->convert(b, m->params_cd, b->cdt, m->params, BE_F32, m->n_params);
    return st ? grpo_wrap(st, "model: the %s working copy of the weights: ", backend_dtype_name(b->cdt)) : GRPO_OK;
}
