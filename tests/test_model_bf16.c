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

static Backend *IN; // the CPU backend doing the arithmetic

static float *up(const void *p, size_t n) {
    float *f = calloc(n ? n : 1, sizeof(float));
    if (f && n) IN->convert(IN, f, BE_F32, p, BE_BF16, n);
    return f;
}

static void down(void *p, float *f, size_t n) {
    if (f && n) IN->convert(IN, p, BE_BF16, f, BE_F32, n);
    free(f);
}

static float *zeros(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

static int w_matmul(Backend *b, void *out, BackendDtype odt, const void *a, const void *bm, int M, int N, int K, int ta,
                    int tb, float alpha, int acc) {
    size_t nc = (size_t)M * N;
    float *fa = up(a, (size_t)M * K), *fb = up(bm, (size_t)K * N);
    float *fo = odt == BE_F32 ? out : acc ? up(out, nc) : zeros(nc);
    int st = IN->matmul(IN, fo, BE_F32, fa, fb, M, N, K, ta, tb, alpha, acc);
    if (odt != BE_F32) down(out, fo, nc);
    free(fa);
    free(fb);
    return st;
}

static int w_embedding_forward(Backend *b, void *out, const int32_t *ids, const void *wte, int T, int C, int V) {
    float *fw = up(wte, (size_t)V * C), *fo = zeros((size_t)T * C);
    int st = IN->embedding_forward(IN, fo, ids, fw, T, C, V);
    down(out, fo, (size_t)T * C);
    free(fw);
    return st;
}

static int w_embedding_backward(Backend *b, float *dwte, const void *dout, const int32_t *ids, int T, int C, int V) {
    float *fd = up(dout, (size_t)T * C);
    int st = IN->embedding_backward(IN, dwte, fd, ids, T, C, V);
    free(fd);
    return st;
}

static int w_rmsnorm_forward(Backend *b, void *out, float *rstd, const void *inp, const void *weight, int T, int C,
                             float eps) {
    float *fi = up(inp, (size_t)T * C), *fw = up(weight, (size_t)C), *fo = zeros((size_t)T * C);
    int st = IN->rmsnorm_forward(IN, fo, rstd, fi, fw, T, C, eps);
    down(out, fo, (size_t)T * C);
    free(fi);
    free(fw);
    return st;
}

static int w_rmsnorm_backward(Backend *b, void *dinp, float *dweight, const void *dout, const void *inp,
                              const void *weight, const float *rstd, int T, int C) {
    size_t n = (size_t)T * C;
    float *fdi = up(dinp, n), *fd = up(dout, n), *fi = up(inp, n), *fw = up(weight, (size_t)C);
    int st = IN->rmsnorm_backward(IN, fdi, dweight, fd, fi, fw, rstd, T, C);
    down(dinp, fdi, n);
    free(fd);
    free(fi);
    free(fw);
    return st;
}

static int w_rope_forward(Backend *b, void *x, const int32_t *pos, const float *inv_freq, int T, int nh, int hd) {
    size_t n = (size_t)T * nh * hd;
    float *fx = up(x, n);
    int st = IN->rope_forward(IN, fx, pos, inv_freq, T, nh, hd);
    down(x, fx, n);
    return st;
}

static int w_rope_backward(Backend *b, void *x, const int32_t *pos, const float *inv_freq, int T, int nh, int hd) {
    size_t n = (size_t)T * nh * hd;
    float *fx = up(x, n);
    int st = IN->rope_backward(IN, fx, pos, inv_freq, T, nh, hd);
    down(x, fx, n);
    return st;
}

// Rows of k/v the attention op reads: through the last key any sequence sees.
static size_t kv_rows(const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0, int S) {
    size_t rows = 0;
    for (int s = 0; s < S; s++) {
        size_t r = (size_t)kv_start[s] + (size_t)q_pos0[s] + (size_t)(q_start[s + 1] - q_start[s]);
        if (r > rows) rows = r;
    }
    return rows;
}

static int w_attention_forward(Backend *b, void *out, float *lse, const void *q, const void *k, const void *v,
                               const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0, int S, int T,
                               int nh, int nkv, int hd) {
    size_t nq = (size_t)T * nh * hd, nk = kv_rows(q_start, kv_start, q_pos0, S) * nkv * hd;
    float *fq = up(q, nq), *fk = up(k, nk), *fv = up(v, nk), *fo = zeros(nq);
    int st = IN->attention_forward(IN, fo, lse, fq, fk, fv, q_start, kv_start, q_pos0, S, T, nh, nkv, hd);
    down(out, fo, nq);
    free(fq);
    free(fk);
    free(fv);
    return st;
}

static int w_attention_backward(Backend *b, void *dq, void *dk, void *dv, const void *dout, const void *q,
                                const void *k, const void *v, const void *out, const float *lse,
                                const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0, int S, int T,
                                int nh, int nkv, int hd) {
    size_t nq = (size_t)T * nh * hd, nk = kv_rows(q_start, kv_start, q_pos0, S) * nkv * hd;
    float *fdq = zeros(nq), *fdk = up(dk, nk), *fdv = up(dv, nk), *fd = up(dout, nq), *fq = up(q, nq), *fk = up(k, nk),
          *fv = up(v, nk), *fo = up(out, nq);
    int st = IN->attention_backward(IN, fdq, fdk, fdv, fd, fq, fk, fv, fo, lse, q_start, kv_start, q_pos0, S, T, nh, nkv,
                                    hd);
    down(dq, fdq, nq);
    down(dk, fdk, nk);
    down(dv, fdv, nk);
    free(fd);
    free(fq);
    free(fk);
    free(fv);
    free(fo);
    return st;
}

static int w_swiglu_forward(Backend *b, void *out, const void *gate, const void *up_, size_t n) {
    float *fg = up(gate, n), *fu = up(up_, n), *fo = zeros(n);
    int st = IN->swiglu_forward(IN, fo, fg, fu, n);
    down(out, fo, n); // out may alias gate (generate does that): written last
    free(fg);
    free(fu);
    return st;
}

static int w_swiglu_backward(Backend *b, void *dgate, void *dup, const void *dout, const void *gate, const void *up_,
                             size_t n) {
    float *fd = up(dout, n), *fg = up(gate, n), *fu = up(up_, n), *fdg = zeros(n), *fdu = zeros(n);
    int st = IN->swiglu_backward(IN, fdg, fdu, fd, fg, fu, n);
    down(dgate, fdg, n);
    down(dup, fdu, n);
    free(fd);
    free(fg);
    free(fu);
    return st;
}

static int w_logprob_backward(Backend *b, void *dlogits, const float *dlogp, const float *logits,
                              const int32_t *targets, const float *lse, int T, int V, float inv_temp) {
    CHECK(dlogits != (const void *)logits, "bf16 dlogits must not alias the fp32 logits");
    float *fd = zeros((size_t)T * V);
    int st = IN->logprob_backward(IN, fd, dlogp, logits, targets, lse, T, V, inv_temp);
    down(dlogits, fd, (size_t)T * V);
    return st;
}

static int w_add(Backend *b, void *out, const void *x, const void *y, size_t n) {
    float *fx = up(x, n), *fy = up(y, n), *fo = zeros(n);
    int st = IN->add(IN, fo, fx, fy, n);
    down(out, fo, n);
    free(fx);
    free(fy);
    return st;
}

static int w_bias_forward(Backend *b, void *out, const void *bias, int T, int N) {
    float *fo = up(out, (size_t)T * N), *fb = up(bias, (size_t)N);
    int st = IN->bias_forward(IN, fo, fb, T, N);
    down(out, fo, (size_t)T * N);
    free(fb);
    return st;
}

static int w_bias_backward(Backend *b, float *dbias, const void *dout, int T, int N) {
    float *fd = up(dout, (size_t)T * N);
    int st = IN->bias_backward(IN, dbias, fd, T, N);
    free(fd);
    return st;
}

static int w_scatter_rows(Backend *b, void *dst, const void *src, const int32_t *rows, int n, int dim) {
    for (int i = 0; i < n; i++) memcpy((char *)dst + (size_t)rows[i] * dim * 2, (const char *)src + (size_t)i * dim * 2, (size_t)dim * 2);
    return GRPO_OK;
}

static int w_adamw(Backend *b, float *params, void *params_cd, float *m, float *v, const float *grads, size_t n,
                   const BackendAdamW *h) {
    int st = IN->adamw(IN, params, NULL, m, v, grads, n, h);
    if (!st && params_cd) st = IN->convert(IN, params_cd, BE_BF16, params, BE_F32, n);
    return st;
}

// The CPU backend's table with bf16 activations: memory, logits, sampling and
// the optimizer's fp32 ops are the CPU's own.
static Backend *bf16_backend(void) {
    Backend *w = malloc(sizeof *w);
    if (!w) return NULL;
    *w = *IN;
    w->cdt = BE_BF16;
    w->matmul = w_matmul;
    w->embedding_forward = w_embedding_forward;
    w->embedding_backward = w_embedding_backward;
    w->rmsnorm_forward = w_rmsnorm_forward;
    w->rmsnorm_backward = w_rmsnorm_backward;
    w->rope_forward = w_rope_forward;
    w->rope_backward = w_rope_backward;
    w->attention_forward = w_attention_forward;
    w->attention_backward = w_attention_backward;
    w->swiglu_forward = w_swiglu_forward;
    w->swiglu_backward = w_swiglu_backward;
    w->logprob_backward = w_logprob_backward;
    w->add = w_add;
    w->bias_forward = w_bias_forward;
    w->bias_backward = w_bias_backward;
    w->scatter_rows = w_scatter_rows;
    w->adamw = w_adamw;
    return w;
}

static ModelConfig tiny(void) {
    ModelConfig c;
    model_config_default(&c, MODEL_QWEN2); // q/k/v biases
    c.hidden = 64, c.ffn = 128, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.head_dim = 16, c.vocab = 96;
    c.max_pos = 128, c.tie_embeddings = 0;
    return c;
}

// |a - b| / |b| over the whole vector (relative L2 error).
static double rel_err(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return sqrt(num / (den > 0 ? den : 1));
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
    CHECK(backend_open("cpu", &IN) == GRPO_OK, "%s", grpo_errmsg());
    Backend *W = IN ? bf16_backend() : NULL;
    if (!W) return tu_finish("test_model_bf16");
    ModelConfig c = tiny();
    Model *m32 = NULL, *m16 = NULL;
    CHECK(model_build(&m32, &c, IN) == GRPO_OK && model_init_random(m32, 21, 0.1f) == GRPO_OK, "%s", grpo_errmsg());
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
        double e = rel_err(m16->grads + t->offset, m32->grads + t->offset, t->numel);
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

    // One AdamW step keeps the working copy equal to the rounded master weights.
    AdamW opt;
    AdamWConfig ac = {1e-2, 0.9, 0.999, 1e-8, 0.1};
    CHECK(adamw_build(&opt, W, m16->n_params) == GRPO_OK &&
              adamw_step(&opt, m16->params, m16->params_cd, m16->grads, 1e-2, &ac) == GRPO_OK,
          "%s", grpo_errmsg());
    uint16_t *want = malloc(m16->n_params * 2);
    CHECK(want && IN->convert(IN, want, BE_BF16, m16->params, BE_F32, m16->n_params) == GRPO_OK &&
              !memcmp(want, m16->params_cd, m16->n_params * 2),
          "the optimizer refreshed the working copy");
    free(want);
    adamw_free(&opt);

    model_free(m32);
    model_free(m16);
    free(W);
    backend_close(IN);
    return tu_finish("test_model_bf16");
}
