// Training forward and backward over a batch of packed sequences.
// Activations are kept per layer for backward; the vocabulary projection is
// done in chunks of tokens and recomputed in backward, so no (T, V) matrix is
// ever held.
#include <stdlib.h>
#include <string.h>

#include "policy/model.h"
#include "policy/model_acts.h"

#define TRY(x)               \
    do {                     \
        int st_ = (x);       \
        if (st_) return st_; \
    } while (0)

void model_acts_free(Model *m) {
    ModelActs *a = m->acts;
    if (!a) return;
    m->be->free(m->be, a->block);
    free(a->layers);
    free(a);
    m->acts = NULL;
}

// full = 0 lays out one layer's activations and two residual slots: enough
// for a forward whose gradient is never taken (reference log-probs).
static size_t layout(Model *m, ModelActs *a, void *base, int T, int S, int full) {
    const ModelConfig *c = &m->cfg;
    int n_store = full ? c->n_layers : 1;
    size_t C = c->hidden, F = c->ffn, qd = (size_t)c->n_heads * c->head_dim, kvd = (size_t)c->n_kv_heads * c->head_dim;
    size_t wide = C > qd ? C : qd;
    if (F > wide) wide = F;
    size_t off = 0, t = (size_t)T;
    const size_t cs = backend_dtype_size(m->be->cdt), fs = sizeof(float), is = sizeof(int32_t);
    a->x = backend_carve(base, &off, (size_t)(full ? c->n_layers + 1 : 2) * t * C, cs);
    for (int l = 0; l < n_store; l++) {
        LayerActs *L = &a->layers[l];
        L->ln1 = backend_carve(base, &off, t * C, cs);
        L->rstd1 = backend_carve(base, &off, t, fs);
        L->q = backend_carve(base, &off, t * qd, cs);
        L->k = backend_carve(base, &off, t * kvd, cs);
        L->v = backend_carve(base, &off, t * kvd, cs);
        L->att = backend_carve(base, &off, t * qd, cs);
        L->lse = backend_carve(base, &off, t * c->n_heads, fs);
        L->xmid = backend_carve(base, &off, t * C, cs);
        L->ln2 = backend_carve(base, &off, t * C, cs);
        L->rstd2 = backend_carve(base, &off, t, fs);
        L->gate = backend_carve(base, &off, t * F, cs);
        L->up = backend_carve(base, &off, t * F, cs);
        L->h = backend_carve(base, &off, t * F, cs);
    }
    a->lnf = backend_carve(base, &off, t * C, cs);
    a->rstdf = backend_carve(base, &off, t, fs);
    a->lse_out = backend_carve(base, &off, t, fs);
    a->logp = backend_carve(base, &off, t, fs);
    a->ent = backend_carve(base, &off, t, fs);
    a->dlogp = backend_carve(base, &off, t, fs);
    a->tmp = backend_carve(base, &off, t * wide, cs);
    a->logits = backend_carve(base, &off, (size_t)a->chunk * c->vocab, fs);
    // fp32 turns the logits into their gradient in place; other dtypes need their own buffer.
    a->dlogits = m->be->cdt == BE_F32 ? (void *)a->logits
                                      : full ? backend_carve(base, &off, (size_t)a->chunk * c->vocab, cs) : NULL;
    a->dx = backend_carve(base, &off, t * C, cs);
    a->dln = backend_carve(base, &off, t * C, cs);
    a->dq = backend_carve(base, &off, t * qd, cs);
    a->dk = backend_carve(base, &off, t * kvd, cs);
    a->dv = backend_carve(base, &off, t * kvd, cs);
    a->dgate = backend_carve(base, &off, t * F, cs);
    a->dup = backend_carve(base, &off, t * F, cs);
    a->ids = backend_carve(base, &off, t, is);
    a->pos = backend_carve(base, &off, t, is);
    a->targets = backend_carve(base, &off, t, is);
    a->q_start = backend_carve(base, &off, (size_t)S + 1, is);
    a->q_pos0 = backend_carve(base, &off, (size_t)S, is);
    return off;
}

int model_acts_reserve(Model *m, int T, int S, int full) {
    ModelActs *a = m->acts;
    if (a && a->cap_T >= T && a->cap_S >= S && (a->full || !full) && (m->logit_chunk <= 0 || m->logit_chunk == a->chunk))
        return GRPO_OK;
    int capT = T, capS = S;
    if (a) { // grow geometrically so a run of slightly longer batches does not reallocate each step
        if (capT < a->cap_T * 5 / 4) capT = a->cap_T * 5 / 4;
        if (capS < a->cap_S) capS = a->cap_S;
        model_acts_free(m);
    }
    a = calloc(1, sizeof *a);
    if (!a) return grpo_fail(GRPO_ENOMEM, "model: out of memory");
    a->layers = calloc((size_t)m->cfg.n_layers, sizeof *a->layers);
    if (!a->layers) {
        free(a);
        return grpo_fail(GRPO_ENOMEM, "model: out of memory");
    }
    // About 64 MiB of logits per chunk (512 rows at V = 32000): the lm_head
    // products stream all of lm_head once per chunk, so fewer, taller chunks
    // run sgemm near its peak (131-row chunks were 1.5-2x slower).
    int chunk = (int)((16u << 20) / (unsigned)m->cfg.vocab);
    if (chunk < 64) chunk = 64;
    if (m->logit_chunk > 0) chunk = m->logit_chunk;
    if (chunk > capT) chunk = capT;
    a->chunk = chunk;
    a->full = full;
    size_t n = layout(m, a, NULL, capT, capS, full);
    int st = m->be->alloc(m->be, &a->block, n);
    if (st) {
        free(a->layers);
        free(a);
        return grpo_wrap(st, "model activations for %d tokens: ", capT);
    }
    layout(m, a, a->block, capT, capS, full);
    a->cap_T = capT;
    a->cap_S = capS;
    m->acts = a;
    return GRPO_OK;
}

// y (T, N) = x (T, K) @ W^T (+ bias): an nn.Linear with W (N, K); y in the compute dtype.
static int linear(Backend *b, void *y, const void *x, const void *w, const void *bias, int T, int N, int K) {
    TRY(b->matmul(b, y, b->cdt, x, w, T, N, K, 0, 1, 1.0f, 0));
    return bias ? b->bias_forward(b, y, bias, T, N) : GRPO_OK;
}

// The vocabulary projection: logits (T, V) in fp32 (their softmax and log-probs stay fp32).
static int lm_head(Backend *b, float *logits, const void *x, const void *w, int T, int V, int C) {
    return b->matmul(b, logits, BE_F32, x, w, T, V, C, 0, 1, 1.0f, 0);
}

// Backward of linear: dx (T, K) (+)= dy @ W; dW (N, K) += dy^T @ x; dbias += colsum(dy).
// Activation gradients are in the compute dtype, parameter gradients fp32.
static int linear_backward(Backend *b, void *dx, int dx_accumulate, float *dw, float *dbias, const void *dy,
                           const void *x, const void *w, int T, int N, int K) {
    if (dx) TRY(b->matmul(b, dx, b->cdt, dy, w, T, K, N, 0, 0, 1.0f, dx_accumulate));
    TRY(b->matmul(b, dw, BE_F32, dy, x, N, K, T, 1, 0, 1.0f, 1));
    return dbias ? b->bias_backward(b, dbias, dy, T, N) : GRPO_OK;
}

int model_forward(Model *m, const ModelBatch *batch, float *logp, float *entropy) {
    const ModelConfig *c = &m->cfg;
    Backend *b = m->be;
    int S = batch->n_seqs;
    if (S <= 0 || !batch->cu_seqlens || batch->cu_seqlens[0] != 0)
        return grpo_fail(GRPO_EINVAL, "model_forward: the batch has no sequences");
    for (int s = 0; s < S; s++)
        if (batch->cu_seqlens[s + 1] <= batch->cu_seqlens[s])
            return grpo_fail(GRPO_EINVAL, "model_forward: sequence %d is empty", s);
    int T = batch->cu_seqlens[S];
    for (int t = 0; t < T; t++)
        if (batch->ids[t] < 0 || batch->ids[t] >= c->vocab)
            return grpo_fail(GRPO_EINVAL, "model_forward: token id %d at position %d is outside the vocabulary (%d)",
                             (int)batch->ids[t], t, c->vocab);
    const int no_grad = batch->no_grad;
    TRY(model_acts_reserve(m, T, S, !no_grad));
    ModelActs *a = m->acts;
    a->logits_fresh = 0;
    a->no_grad = no_grad;
    a->T = T;
    a->S = S;
    a->inv_temp = batch->temperature > 0 ? 1.0f / batch->temperature : 1.0f;

    // Host-side index arrays: positions restart at 0 in each sequence, and the
    // target of each sequence's last token is "none".
    int32_t *hidx = malloc(((size_t)T * 3 + 2 * (size_t)S + 1) * sizeof(int32_t));
    if (!hidx) return grpo_fail(GRPO_ENOMEM, "model_forward: out of memory");
    int32_t *hpos = hidx + T, *htg = hpos + T, *hqs = htg + T, *hq0 = hqs + S + 1;
    memcpy(hidx, batch->ids, (size_t)T * sizeof(int32_t));
    for (int s = 0; s < S; s++) {
        hqs[s] = batch->cu_seqlens[s];
        hq0[s] = 0;
        for (int t = batch->cu_seqlens[s]; t < batch->cu_seqlens[s + 1]; t++) {
            hpos[t] = t - batch->cu_seqlens[s];
            htg[t] = t + 1 < batch->cu_seqlens[s + 1] ? batch->ids[t + 1] : -1;
        }
        if (batch->cu_seqlens[s + 1] - batch->cu_seqlens[s] > c->max_pos) {
            free(hidx);
            return grpo_fail(GRPO_EINVAL, "model_forward: sequence %d has %d tokens, more than max_position_embeddings (%d)", s,
                             batch->cu_seqlens[s + 1] - batch->cu_seqlens[s], c->max_pos);
        }
    }
    hqs[S] = T;
    int st = b->to_device(b, a->ids, hidx, (size_t)T * 4);
    if (!st) st = b->to_device(b, a->pos, hpos, (size_t)T * 4);
    if (!st) st = b->to_device(b, a->targets, htg, (size_t)T * 4);
    if (!st) st = b->to_device(b, a->q_start, hqs, (size_t)(S + 1) * 4);
    if (!st) st = b->to_device(b, a->q_pos0, hq0, (size_t)S * 4);
    free(hidx);
    TRY(st);

    const int C = c->hidden, F = c->ffn, nh = c->n_heads, nkv = c->n_kv_heads, hd = c->head_dim;
    const int qd = nh * hd, kvd = nkv * hd;
    const float eps = (float)c->rms_eps;
    TRY(b->embedding_forward(b, a->x, a->ids, m->w.wte, T, C, c->vocab));
    for (int l = 0; l < c->n_layers; l++) {
        const ModelLayerWeights *w = &m->w.layers[l];
        // Without gradients every layer reuses slot 0 and the residual ping-pongs between two buffers.
        LayerActs *L = &a->layers[no_grad ? 0 : l];
        void *x = backend_off(b, a->x, (size_t)(no_grad ? l % 2 : l) * T * C);
        void *xnext = backend_off(b, a->x, (size_t)(no_grad ? (l + 1) % 2 : l + 1) * T * C);
        TRY(b->rmsnorm_forward(b, L->ln1, L->rstd1, x, w->ln1, T, C, eps));
        TRY(linear(b, L->q, L->ln1, w->wq, w->bq, T, qd, C));
        TRY(linear(b, L->k, L->ln1, w->wk, w->bk, T, kvd, C));
        TRY(linear(b, L->v, L->ln1, w->wv, w->bv, T, kvd, C));
        TRY(b->rope_forward(b, L->q, a->pos, m->inv_freq, T, nh, hd));
        TRY(b->rope_forward(b, L->k, a->pos, m->inv_freq, T, nkv, hd));
        TRY(b->attention_forward(b, L->att, L->lse, L->q, L->k, L->v, a->q_start, a->q_start, a->q_pos0, S, T, nh,
                                 nkv, hd));
        TRY(linear(b, a->tmp, L->att, w->wo, w->bo, T, C, qd));
        TRY(b->add(b, L->xmid, x, a->tmp, (size_t)T * C));
        TRY(b->rmsnorm_forward(b, L->ln2, L->rstd2, L->xmid, w->ln2, T, C, eps));
        TRY(linear(b, L->gate, L->ln2, w->wg, NULL, T, F, C));
        TRY(linear(b, L->up, L->ln2, w->wu, NULL, T, F, C));
        TRY(b->swiglu_forward(b, L->h, L->gate, L->up, (size_t)T * F));
        TRY(linear(b, a->tmp, L->h, w->wd, NULL, T, C, F));
        TRY(b->add(b, xnext, L->xmid, a->tmp, (size_t)T * C));
    }
    TRY(b->rmsnorm_forward(b, a->lnf, a->rstdf, backend_off(b, a->x, (size_t)(no_grad ? c->n_layers % 2 : c->n_layers) * T * C),
                           m->w.norm, T, C, eps));
    for (int t0 = 0; t0 < T; t0 += a->chunk) {
        int n = T - t0 < a->chunk ? T - t0 : a->chunk;
        TRY(lm_head(b, a->logits, backend_off(b, a->lnf, (size_t)t0 * C), m->w.lm_head, n, c->vocab, C));
        TRY(b->logprob_forward(b, a->logp + t0, a->ent + t0, a->lse_out + t0, a->logits, a->targets + t0, n, c->vocab,
                               a->inv_temp));
    }
    a->logits_fresh = 1;
    if (logp) TRY(b->to_host(b, logp, a->logp, (size_t)T * sizeof(float)));
    if (entropy) TRY(b->to_host(b, entropy, a->ent, (size_t)T * sizeof(float)));
    return GRPO_OK;
}

int model_backward(Model *m, const float *dlogp) {
    const ModelConfig *c = &m->cfg;
    Backend *b = m->be;
    ModelActs *a = m->acts;
    if (!a || a->T == 0) return grpo_fail(GRPO_EINVAL, "model_backward: no forward pass to differentiate");
    if (a->no_grad) return grpo_fail(GRPO_EINVAL, "model_backward: the last forward pass was run with no_grad");
    TRY(model_alloc_grads(m));
    const int T = a->T, S = a->S, C = c->hidden, F = c->ffn, nh = c->n_heads, nkv = c->n_kv_heads, hd = c->head_dim;
    const int qd = nh * hd, kvd = nkv * hd, V = c->vocab;
    TRY(b->to_device(b, a->dlogp, dlogp, (size_t)T * sizeof(float)));

    // Vocabulary projection, chunk by chunk (last first: forward left that
    // chunk's logits in the buffer, so it needs no recomputation): recompute the
    // logits, turn them into d logits (in place when cdt is fp32), and push them
    // through lm_head.
    int last0 = (T - 1) / a->chunk * a->chunk;
    for (int t0 = last0; t0 >= 0; t0 -= a->chunk) {
        int n = T - t0 < a->chunk ? T - t0 : a->chunk;
        const void *xf = backend_off(b, a->lnf, (size_t)t0 * C);
        if (!(t0 == last0 && a->logits_fresh)) TRY(lm_head(b, a->logits, xf, m->w.lm_head, n, V, C));
        a->logits_fresh = 0;
        TRY(b->logprob_backward(b, a->dlogits, a->dlogp + t0, a->logits, a->targets + t0, a->lse_out + t0, n, V,
                                a->inv_temp));
        TRY(linear_backward(b, backend_off(b, a->dln, (size_t)t0 * C), 0, m->g.lm_head, NULL, a->dlogits, xf,
                            m->w.lm_head, n, V, C));
    }
    const size_t cs = backend_dtype_size(b->cdt);
    TRY(b->memset(b, a->dx, 0, (size_t)T * C * cs));
    TRY(b->rmsnorm_backward(b, a->dx, m->g.norm, a->dln, backend_off(b, a->x, (size_t)c->n_layers * T * C), m->w.norm,
                            a->rstdf, T, C));

    for (int l = c->n_layers - 1; l >= 0; l--) {
        const ModelLayerWeights *w = &m->w.layers[l];
        ModelLayerWeights *g = &m->g.layers[l];
        LayerActs *L = &a->layers[l];
        const void *x = backend_off(b, a->x, (size_t)l * T * C);
        // x_next = xmid + down(swiglu(gate(ln2), up(ln2))): dx holds d x_next = d xmid (residual part)
        void *dh = a->tmp;
        TRY(linear_backward(b, dh, 0, g->wd, NULL, a->dx, L->h, w->wd, T, C, F));
        TRY(b->swiglu_backward(b, a->dgate, a->dup, dh, L->gate, L->up, (size_t)T * F));
        TRY(linear_backward(b, a->dln, 0, g->wg, NULL, a->dgate, L->ln2, w->wg, T, F, C));
        TRY(linear_backward(b, a->dln, 1, g->wu, NULL, a->dup, L->ln2, w->wu, T, F, C));
        TRY(b->rmsnorm_backward(b, a->dx, g->ln2, a->dln, L->xmid, w->ln2, L->rstd2, T, C));
        // xmid = x + o_proj(attention(rope(q), rope(k), v))
        void *datt = a->tmp;
        TRY(linear_backward(b, datt, 0, g->wo, g->bo, a->dx, L->att, w->wo, T, C, qd));
        TRY(b->memset(b, a->dk, 0, (size_t)T * kvd * cs));
        TRY(b->memset(b, a->dv, 0, (size_t)T * kvd * cs));
        TRY(b->attention_backward(b, a->dq, a->dk, a->dv, datt, L->q, L->k, L->v, L->att, L->lse, a->q_start,
                                  a->q_start, a->q_pos0, S, T, nh, nkv, hd));
        TRY(b->rope_backward(b, a->dq, a->pos, m->inv_freq, T, nh, hd));
        TRY(b->rope_backward(b, a->dk, a->pos, m->inv_freq, T, nkv, hd));
        TRY(linear_backward(b, a->dln, 0, g->wq, g->bq, a->dq, L->ln1, w->wq, T, qd, C));
        TRY(linear_backward(b, a->dln, 1, g->wk, g->bk, a->dk, L->ln1, w->wk, T, kvd, C));
        TRY(linear_backward(b, a->dln, 1, g->wv, g->bv, a->dv, L->ln1, w->wv, T, kvd, C));
        TRY(b->rmsnorm_backward(b, a->dx, g->ln1, a->dln, x, w->ln1, L->rstd1, T, C));
    }
    return b->embedding_backward(b, m->g.wte, a->dx, a->ids, T, C, c->vocab);
}
