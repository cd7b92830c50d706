// Batched KV-cache generation (layout and prefix sharing: see generate.h).
#include "policy/generate.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define TRY(x)               \
    do {                     \
        int st_ = (x);       \
        if (st_) return st_; \
    } while (0)

const char *gen_finish_name(GenFinish f) { return f == GEN_FINISH_STOP ? "stop" : "length"; }

void gen_results_free(GenResult *r, int n) {
    if (!r) return;
    for (int i = 0; i < n; i++) {
        free(r[i].tokens);
        free(r[i].logprobs);
        r[i].tokens = NULL;
        r[i].logprobs = NULL;
    }
}

typedef struct {
    Model *m;
    Backend *b;
    int S, maxT, Tw, Lw; // sequences, cache rows per sequence, work rows, logit rows
    float *block;        // one backend allocation for everything below
    float *kc, *vc;      // (L, S, maxT, kvd)
    float *x, *xn, *q, *k, *v, *att, *tmp, *gate, *up; // (Tw, ...)
    float *last, *logits;                             // (Lw, C), (Lw, V)
    int32_t *ids, *pos, *rows, *qs, *ks, *q0;         // backend index arrays
    int32_t *h_ids, *h_pos, *h_rows, *h_qs, *h_ks, *h_q0; // host copies
    float *h_logits;     // host (Lw, V): == logits on the CPU backend
} Gen;

static float *carve(float *base, size_t *off, size_t n) {
    float *p = base ? base + *off : NULL;
    *off += (n + 15) & ~(size_t)15;
    return p;
}

static size_t gen_layout(Gen *g, float *base) {
    const ModelConfig *c = &g->m->cfg;
    size_t C = c->hidden, F = c->ffn, qd = (size_t)c->n_heads * c->head_dim, kvd = (size_t)c->n_kv_heads * c->head_dim;
    size_t Tw = g->Tw, off = 0, wide = C > F ? C : F;
    size_t cache = (size_t)c->n_layers * g->S * g->maxT * kvd;
    g->kc = carve(base, &off, cache);
    g->vc = carve(base, &off, cache);
    g->x = carve(base, &off, Tw * C);
    g->xn = carve(base, &off, Tw * C);
    g->q = carve(base, &off, Tw * qd);
    g->k = carve(base, &off, Tw * kvd);
    g->v = carve(base, &off, Tw * kvd);
    g->att = carve(base, &off, Tw * qd);
    g->tmp = carve(base, &off, Tw * (wide > qd ? wide : qd));
    g->gate = carve(base, &off, Tw * F);
    g->up = carve(base, &off, Tw * F);
    g->last = carve(base, &off, (size_t)g->Lw * C);
    g->logits = carve(base, &off, (size_t)g->Lw * c->vocab);
    g->ids = (int32_t *)carve(base, &off, Tw);
    g->pos = (int32_t *)carve(base, &off, Tw);
    g->rows = (int32_t *)carve(base, &off, Tw);
    g->qs = (int32_t *)carve(base, &off, (size_t)g->Lw + 1);
    g->ks = (int32_t *)carve(base, &off, (size_t)g->Lw);
    g->q0 = (int32_t *)carve(base, &off, (size_t)g->Lw);
    return off;
}

static int linear(Backend *b, float *y, const float *x, const float *w, const float *bias, int T, int N, int K) {
    TRY(b->matmul(b, y, x, w, T, N, K, 0, 1, 1.0f, 0));
    return bias ? b->bias_forward(b, y, bias, T, N) : GRPO_OK;
}

// Runs `nseq` sequences forward: sequence i appends count[i] tokens (from
// toks, packed) at positions pos0[i].. into cache slot slot[i]. Leaves the
// next-token logits of each sequence's last new token in g->h_logits (nseq, V).
static int gen_step(Gen *g, int nseq, const int *slot, const int *pos0, const int *count, const int32_t *toks) {
    Model *m = g->m;
    Backend *b = g->b;
    const ModelConfig *c = &m->cfg;
    const int C = c->hidden, F = c->ffn, nh = c->n_heads, nkv = c->n_kv_heads, hd = c->head_dim, V = c->vocab;
    const int qd = nh * hd, kvd = nkv * hd;
    const float eps = (float)c->rms_eps;
    int T = 0;
    for (int i = 0; i < nseq; i++) {
        g->h_qs[i] = T;
        g->h_ks[i] = slot[i] * g->maxT;
        g->h_q0[i] = pos0[i];
        for (int j = 0; j < count[i]; j++, T++) {
            g->h_ids[T] = toks[T];
            g->h_pos[T] = pos0[i] + j;
            g->h_rows[T] = slot[i] * g->maxT + pos0[i] + j;
        }
    }
    g->h_qs[nseq] = T;
    TRY(b->to_device(b, g->ids, g->h_ids, (size_t)T * 4));
    TRY(b->to_device(b, g->pos, g->h_pos, (size_t)T * 4));
    TRY(b->to_device(b, g->rows, g->h_rows, (size_t)T * 4));
    TRY(b->to_device(b, g->qs, g->h_qs, (size_t)(nseq + 1) * 4));
    TRY(b->to_device(b, g->ks, g->h_ks, (size_t)nseq * 4));
    TRY(b->to_device(b, g->q0, g->h_q0, (size_t)nseq * 4));
    TRY(b->embedding_forward(b, g->x, g->ids, m->w.wte, T, C, V));
    size_t layer_rows = (size_t)g->S * g->maxT * kvd;
    for (int l = 0; l < c->n_layers; l++) {
        const ModelLayerWeights *w = &m->w.layers[l];
        float *kl = g->kc + l * layer_rows, *vl = g->vc + l * layer_rows;
        TRY(b->rmsnorm_forward(b, g->xn, NULL, g->x, w->ln1, T, C, eps));
        TRY(linear(b, g->q, g->xn, w->wq, w->bq, T, qd, C));
        TRY(linear(b, g->k, g->xn, w->wk, w->bk, T, kvd, C));
        TRY(linear(b, g->v, g->xn, w->wv, w->bv, T, kvd, C));
        TRY(b->rope_forward(b, g->q, g->pos, m->inv_freq, T, nh, hd));
        TRY(b->rope_forward(b, g->k, g->pos, m->inv_freq, T, nkv, hd));
        TRY(b->scatter_rows(b, kl, g->k, g->rows, T, kvd));
        TRY(b->scatter_rows(b, vl, g->v, g->rows, T, kvd));
        TRY(b->attention_forward(b, g->att, NULL, g->q, kl, vl, g->qs, g->ks, g->q0, nseq, T, nh, nkv, hd));
        TRY(linear(b, g->tmp, g->att, w->wo, w->bo, T, C, qd));
        TRY(b->add(b, g->x, g->x, g->tmp, (size_t)T * C));
        TRY(b->rmsnorm_forward(b, g->xn, NULL, g->x, w->ln2, T, C, eps));
        TRY(linear(b, g->gate, g->xn, w->wg, NULL, T, F, C));
        TRY(linear(b, g->up, g->xn, w->wu, NULL, T, F, C));
        TRY(b->swiglu_forward(b, g->gate, g->gate, g->up, (size_t)T * F));
        TRY(linear(b, g->tmp, g->gate, w->wd, NULL, T, C, F));
        TRY(b->add(b, g->x, g->x, g->tmp, (size_t)T * C));
    }
    // Only each sequence's last row needs logits.
    const float *last = g->x;
    if (T != nseq) {
        for (int i = 0; i < nseq; i++)
            TRY(b->copy(b, g->last + (size_t)i * C, g->x + (size_t)(g->h_qs[i + 1] - 1) * C, (size_t)C * 4));
        last = g->last;
    }
    TRY(b->rmsnorm_forward(b, g->xn, NULL, last, m->w.norm, nseq, C, eps));
    TRY(linear(b, g->logits, g->xn, m->w.lm_head, NULL, nseq, V, C));
    if (g->h_logits != g->logits) TRY(b->to_host(b, g->h_logits, g->logits, (size_t)nseq * V * 4));
    return GRPO_OK;
}

// Copies prompt KV rows (len of them) from slot `from` to slot `to` in every layer.
static int copy_slot(Gen *g, int from, int to, int len) {
    const ModelConfig *c = &g->m->cfg;
    size_t kvd = (size_t)c->n_kv_heads * c->head_dim, layer_rows = (size_t)g->S * g->maxT * kvd;
    for (int l = 0; l < c->n_layers; l++) {
        size_t src = l * layer_rows + (size_t)from * g->maxT * kvd, dst = l * layer_rows + (size_t)to * g->maxT * kvd;
        TRY(g->b->copy(g->b, g->kc + dst, g->kc + src, (size_t)len * kvd * 4));
        TRY(g->b->copy(g->b, g->vc + dst, g->vc + src, (size_t)len * kvd * 4));
    }
    return GRPO_OK;
}

typedef struct {
    char *buf;
    size_t len, cap;
} TextBuf;

// Appends token bytes; 1 when a stop string now occurs in the text (only
// windows touching the new bytes are searched).
static int stop_hit(const GenConfig *c, TextBuf *t, int tok) {
    int n = c->token_len[tok];
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t cap = (t->len + n + 1) * 2;
        char *nb = realloc(t->buf, cap);
        if (!nb) return -1;
        t->buf = nb;
        t->cap = cap;
    }
    size_t old = t->len;
    if (n > 0) memcpy(t->buf + t->len, c->token_bytes[tok], (size_t)n);
    t->len += n;
    for (int i = 0; i < c->n_stop; i++) {
        size_t sl = strlen(c->stop[i]);
        if (!sl || sl > t->len) continue;
        size_t start = old + 1 > sl ? old + 1 - sl : 0;
        if (memmem(t->buf + start, t->len - start, c->stop[i], sl)) return 1;
    }
    return 0;
}

typedef struct {
    const GenConfig *c;
    GenResult *res;
    Rng *rng;
    TextBuf *text;
    int *done, *cache_len;
    int maxT, V;
    char *scratch;
    size_t scratch_bytes;
} Emit;

// Samples the next token of sequence s from logits row `row` and records it.
// Returns -1 on sampler failure.
static int emit(Emit *e, int s, const float *row) {
    float lp = 0;
    int tok = sampler_sample(&e->c->sampler, &e->rng[s], row, e->V, e->scratch + omp_get_thread_num() * e->scratch_bytes, &lp);
    if (tok < 0) return -1;
    GenResult *r = &e->res[s];
    r->tokens[r->n_tokens] = tok;
    r->logprobs[r->n_tokens] = lp;
    r->n_tokens++;
    int stop = 0;
    for (int i = 0; i < e->c->n_eos; i++) stop |= e->c->eos_ids[i] == tok;
    if (!stop && e->c->n_stop) {
        int h = stop_hit(e->c, &e->text[s], tok);
        if (h < 0) return -1;
        stop = h;
    }
    if (stop) {
        r->finish = GEN_FINISH_STOP;
        e->done[s] = 1;
    } else if (r->n_tokens >= e->c->max_tokens || e->cache_len[s] >= e->maxT) {
        r->finish = GEN_FINISH_LENGTH;
        e->done[s] = 1;
    }
    return 0;
}

static int check_args(const Model *m, const GenConfig *c, const int32_t *const *prompts, const int *lens, int n_prompts,
                      int G) {
    if (n_prompts <= 0 || G <= 0) return grpo_fail(GRPO_EINVAL, "generate: need at least one prompt and one sample");
    if (c->max_tokens <= 0) return grpo_fail(GRPO_EINVAL, "generate: max_tokens must be positive");
    if (c->n_stop && (!c->token_bytes || !c->token_len))
        return grpo_fail(GRPO_EINVAL, "generate: stop strings need the token -> bytes table");
    TRY(sampler_config_check(&c->sampler));
    for (int p = 0; p < n_prompts; p++) {
        if (lens[p] <= 0) return grpo_fail(GRPO_EINVAL, "generate: prompt %d is empty", p);
        if (lens[p] >= m->cfg.max_pos)
            return grpo_fail(GRPO_EINVAL, "generate: prompt %d has %d tokens, max_position_embeddings is %d", p, lens[p],
                             m->cfg.max_pos);
        for (int i = 0; i < lens[p]; i++)
            if (prompts[p][i] < 0 || prompts[p][i] >= m->cfg.vocab)
                return grpo_fail(GRPO_EINVAL, "generate: prompt %d: token id %d at %d is outside the vocabulary (%d)", p,
                                 (int)prompts[p][i], i, m->cfg.vocab);
    }
    return GRPO_OK;
}

int generate(Model *m, const GenConfig *c, const int32_t *const *prompts, const int *prompt_lens, int n_prompts, int G,
             GenResult *results) {
    TRY(check_args(m, c, prompts, prompt_lens, n_prompts, G));
    Backend *b = m->be;
    const int V = m->cfg.vocab, S = n_prompts * G, share = !c->no_prefix_share;
    int maxlen = 0;
    for (int p = 0; p < n_prompts; p++) maxlen = prompt_lens[p] > maxlen ? prompt_lens[p] : maxlen;
    Gen g = {0};
    g.m = m, g.b = b, g.S = S;
    g.maxT = maxlen + c->max_tokens < m->cfg.max_pos ? maxlen + c->max_tokens : m->cfg.max_pos;
    int budget = c->prefill_tokens > 0 ? c->prefill_tokens : 2048;
    if (budget < maxlen) budget = maxlen;
    long total = 0;
    for (int p = 0; p < n_prompts; p++) total += (long)prompt_lens[p] * (share ? 1 : G);
    g.Tw = (int)(total < budget ? total : budget);
    if (g.Tw < S) g.Tw = S;
    g.Lw = S;
    size_t n = gen_layout(&g, NULL);
    int st = b->alloc(b, (void **)&g.block, n * sizeof(float));
    if (st) return grpo_wrap(st, "generate: KV cache for %d sequences of %d tokens: ", S, g.maxT);
    gen_layout(&g, g.block);

    memset(results, 0, (size_t)S * sizeof *results);
    int nthreads = omp_get_max_threads();
    Emit e = {c, results, NULL, NULL, NULL, NULL, g.maxT, V, NULL, sampler_scratch_bytes(V)};
    e.scratch_bytes = (e.scratch_bytes + 63) & ~(size_t)63;
    int32_t *hidx = malloc((size_t)g.Tw * 4 * 3 + (size_t)(3 * g.Lw + 1) * 4);
    int *slot = malloc((size_t)S * 3 * sizeof(int)), *unit_prompt = malloc((size_t)S * sizeof(int));
    int32_t *toks = malloc((size_t)g.Tw * sizeof(int32_t));
    e.rng = malloc((size_t)S * sizeof(Rng));
    e.text = calloc((size_t)S, sizeof(TextBuf));
    e.done = calloc((size_t)S, sizeof(int));
    e.cache_len = calloc((size_t)S, sizeof(int));
    e.scratch = malloc(e.scratch_bytes * nthreads);
    g.h_logits = b->kind == BACKEND_CPU ? g.logits : malloc((size_t)g.Lw * V * sizeof(float));
    int ok = hidx && slot && unit_prompt && toks && e.rng && e.text && e.done && e.cache_len && e.scratch && g.h_logits;
    for (int s = 0; ok && s < S; s++) {
        results[s].tokens = malloc((size_t)c->max_tokens * sizeof(int32_t));
        results[s].logprobs = malloc((size_t)c->max_tokens * sizeof(float));
        ok = results[s].tokens && results[s].logprobs;
        rng_seed_stream(&e.rng[s], c->seed, c->stream_offset + (uint64_t)s);
    }
    if (!ok) {
        st = grpo_fail(GRPO_ENOMEM, "generate: out of memory");
        goto done;
    }
    g.h_ids = hidx, g.h_pos = hidx + g.Tw, g.h_rows = hidx + 2 * g.Tw, g.h_qs = hidx + 3 * g.Tw;
    g.h_ks = g.h_qs + g.Lw + 1, g.h_q0 = g.h_ks + g.Lw;
    int *pos0 = slot + S, *count = slot + 2 * S;

    // Prefill: one unit per distinct prompt (or per sequence without sharing),
    // as many units per pass as fit in the token budget.
    int n_units = share ? n_prompts : S, fail = 0;
    for (int u0 = 0; u0 < n_units && !st;) {
        int nu = 0, T = 0;
        while (u0 + nu < n_units) {
            int u = u0 + nu, p = share ? u : u / G, len = prompt_lens[p];
            if (nu > 0 && T + len > budget) break;
            slot[nu] = share ? p * G : u;
            pos0[nu] = 0;
            count[nu] = len;
            unit_prompt[nu] = p;
            memcpy(toks + T, prompts[p], (size_t)len * sizeof(int32_t));
            T += len;
            nu++;
        }
        if ((st = gen_step(&g, nu, slot, pos0, count, toks))) break;
        for (int i = 0; i < nu && !st; i++) {
            int p = unit_prompt[i];
            for (int k = 0; k < G; k++) {
                int s = share ? p * G + k : slot[i];
                e.cache_len[s] = prompt_lens[p];
                if (share && k > 0) st = copy_slot(&g, p * G, s, prompt_lens[p]);
                if (!share) break;
            }
        }
        if (st) break;
        // Sample each sequence's first token from its prompt's logits.
        int first = share ? u0 * G : u0, n_seq = share ? nu * G : nu;
#pragma omp parallel for schedule(dynamic, 1)
        for (int s = first; s < first + n_seq; s++) {
            int row = share ? s / G - u0 : s - u0;
            if (emit(&e, s, g.h_logits + (size_t)row * V)) {
#pragma omp atomic write
                fail = 1;
            }
        }
        u0 += nu;
    }
    // Decode: every unfinished sequence advances one token per step.
    while (!st && !fail) {
        int na = 0;
        for (int s = 0; s < S; s++) {
            if (e.done[s]) continue;
            slot[na] = s;
            pos0[na] = e.cache_len[s];
            count[na] = 1;
            toks[na] = results[s].tokens[results[s].n_tokens - 1];
            na++;
        }
        if (!na) break;
        if ((st = gen_step(&g, na, slot, pos0, count, toks))) break;
        for (int i = 0; i < na; i++) e.cache_len[slot[i]]++;
#pragma omp parallel for schedule(dynamic, 1)
        for (int i = 0; i < na; i++)
            if (emit(&e, slot[i], g.h_logits + (size_t)i * V)) {
#pragma omp atomic write
                fail = 1;
            }
    }
    if (!st && fail) st = grpo_fail(GRPO_EINTERNAL, "generate: sampling failed (non-finite logits or out of memory)");
done:
    if (st) gen_results_free(results, S);
    for (int s = 0; e.text && s < S; s++) free(e.text[s].buf);
    free(hidx), free(slot), free(unit_prompt), free(toks), free(e.rng), free(e.text), free(e.done), free(e.cache_len);
    free(e.scratch);
    if (g.h_logits != g.logits) free(g.h_logits);
    b->free(b, g.block);
    return st;
}
