// A test-only backend: the CPU's ops made to read and write bf16 the way a
// bf16 kernel does (widen the inputs, run the fp32 op, round each output once),
// with the CPU backend's fp32 logits, statistics and gradients untouched. It is
// the bf16 reference: test_model_bf16 runs the model's bf16 layout on it without
// a GPU, and test_model_cuda compares the CUDA backend's bf16 model with it, so
// both sides round at the same places and differ only by summation order.
#ifndef GRPO_TU_BF16_BACKEND_H
#define GRPO_TU_BF16_BACKEND_H

#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "testlib.h"

static Backend *IN; // the CPU backend doing the arithmetic (set by tu_bf16_backend)

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
// the optimizer's fp32 ops are the CPU's own. Free with free().
static Backend *tu_bf16_backend(Backend *cpu) {
    IN = cpu;
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

#endif
