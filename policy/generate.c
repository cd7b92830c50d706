// Batched KV-cache generation (layout and prefix sharing: see generate.h).
#include "policy/generate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/gen_work.h"

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

static int linear(Backend *b, void *y, const void *x, const void *w, const void *bias, int T, int N, int K) {
    TRY(b->matmul(b, y, b->cdt, x, w, T, N, K, 0, 1, 1.0f, 0));
    return bias ? b->bias_forward(b, y, bias, T, N) : GRPO_OK;
}

// Fills and uploads the index arrays for `nseq` sequences: sequence i appends
// count[i] tokens (from toks, packed) at positions pos0[i].. into cache slot
// slot[i]. The caller has filled g->h_seq for the sampling after. Returns the
// number of new tokens in *T.
static int gen_upload(GenWork *g, int nseq, const int *slot, const int *pos0, const int *count, const int32_t *toks,
                      int *T_out) {
    Backend *b = g->b;
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
    *T_out = T;
    return b->to_device(b, g->idx, g->h_idx, g->n_idx * sizeof(int32_t)); // one synchronising copy per step
}

// The device work of a step whose indices gen_upload put in place: leaves the
// next-token logits of each sequence's last new token in g->logits (nseq, V),
// in backend memory. Reads only device memory and never synchronises, so a
// decode step can be captured as a graph (shapes depend only on nseq and T).
static int gen_forward(GenWork *g, int nseq, int T) {
    Model *m = g->m;
    Backend *b = g->b;
    const ModelConfig *c = &m->cfg;
    const int C = c->hidden, F = c->ffn, nh = c->n_heads, nkv = c->n_kv_heads, hd = c->head_dim, V = c->vocab;
    const int qd = nh * hd, kvd = nkv * hd;
    const float eps = (float)c->rms_eps;
    TRY(b->embedding_forward(b, g->x, g->ids, m->w.wte, T, C, V));
    size_t layer_rows = (size_t)g->S * g->maxT * kvd;
    for (int l = 0; l < c->n_layers; l++) {
        const ModelLayerWeights *w = &m->w.layers[l];
        void *kl = backend_off(b, g->kc, l * layer_rows), *vl = backend_off(b, g->vc, l * layer_rows);
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
    const void *last = g->x;
    if (T != nseq) {
        for (int i = 0; i < nseq; i++)
            TRY(b->copy(b, backend_off(b, g->last, (size_t)i * C), backend_off(b, g->x, (size_t)(g->h_qs[i + 1] - 1) * C),
                        (size_t)C * g->cs));
        last = g->last;
    }
    TRY(b->rmsnorm_forward(b, g->xn, NULL, last, m->w.norm, nseq, C, eps));
    // Logits in fp32: sampling and the rollout's log-probs read them.
    return b->matmul(b, g->logits, BE_F32, g->xn, m->w.lm_head, nseq, V, C, 0, 1, 1.0f, 0);
}

// A prefill or eager step: upload, then the device work.
static int gen_step(GenWork *g, int nseq, const int *slot, const int *pos0, const int *count, const int32_t *toks) {
    int T = 0;
    TRY(gen_upload(g, nseq, slot, pos0, count, toks, &T));
    return gen_forward(g, nseq, T);
}

// Samples logits rows 0 .. n-1 on the backend (row r for sequence h_seq[r],
// uploaded by gen_upload): device work only, no synchronisation.
static int gen_sample_dev(GenWork *g, int n) {
    Backend *b = g->b;
    int st = b->sample(b, g->out, (float *)(g->out + g->Lw), g->rng, g->logits, g->seq, g->cfg, n, g->m->cfg.vocab);
    return st ? grpo_wrap(st, "generate: ") : GRPO_OK;
}

// Copies back only the n tokens and log-probs that gen_sample_dev wrote.
static int gen_fetch(GenWork *g, int n) {
    return g->b->to_host(g->b, g->h_out, g->out, ((size_t)g->Lw + n) * sizeof(int32_t));
}

static int gen_sample(GenWork *g, int n) {
    TRY(gen_sample_dev(g, n));
    return gen_fetch(g, n);
}

// Captures the device work of a decode step of nb rows (one token each:
// forward + sampling) as a graph. Its kernels get buffer addresses and sizes
// (nb, the model's, the workspace's) by value and read everything else from
// the workspace's memory, so the graph stays right for every step and call
// until the workspace or the backend's scratch memory moves. On any failure
// the capture is ended and discarded and graphs are switched off for this
// call: the caller then runs the step eagerly (nothing captured ran). Never
// fails.
static void gen_capture(GenWork *g, int nb) {
    Backend *b = g->b;
    void *graph = NULL;
    int st = b->graph_begin(b);
    if (!st) {
        int work = gen_forward(g, nb, nb);
        if (!work) work = gen_sample_dev(g, nb);
        char why[sizeof g->gs->why] = "";
        if (work) snprintf(why, sizeof why, "%s", grpo_errmsg());
        st = b->graph_end(b, &graph); // always ends the capture
        if (work) {
            b->graph_free(b, graph);
            graph = NULL;
            st = grpo_fail(work, "%s", why);
        }
    }
    if (st) {
        g->use_graphs = 0;
        g->gs->failed++;
        snprintf(g->gs->why, sizeof g->gs->why, "%s", grpo_errmsg());
        return;
    }
    g->graphs[nb - 1] = graph;
    g->gs->captured++;
}

// One decode step (nb rows, one token each, the first na of them live)
// through its graph when graphs are on, else eagerly; leaves the live rows'
// tokens in g->h_out.
static int gen_decode(GenWork *g, int na, int nb, const int *slot, const int *pos0, const int *count, const int32_t *toks) {
    Backend *b = g->b;
    int T = 0;
    TRY(gen_upload(g, nb, slot, pos0, count, toks, &T));
    if (g->use_graphs && !g->graphs[nb - 1]) gen_capture(g, nb);
    if (g->use_graphs) {
        TRY(b->graph_launch(b, g->graphs[nb - 1]));
        g->gs->launched++;
    } else {
        TRY(gen_forward(g, nb, T));
        TRY(gen_sample_dev(g, nb));
    }
    return gen_fetch(g, na);
}

// Copies prompt KV rows (len of them) from slot `from` to slot `to` in every layer.
static int copy_slot(GenWork *g, int from, int to, int len) {
    const ModelConfig *c = &g->m->cfg;
    size_t kvd = (size_t)c->n_kv_heads * c->head_dim, layer_rows = (size_t)g->S * g->maxT * kvd;
    for (int l = 0; l < c->n_layers; l++) {
        size_t src = l * layer_rows + (size_t)from * g->maxT * kvd, dst = l * layer_rows + (size_t)to * g->maxT * kvd;
        TRY(g->b->copy(g->b, backend_off(g->b, g->kc, dst), backend_off(g->b, g->kc, src), (size_t)len * kvd * g->cs));
        TRY(g->b->copy(g->b, backend_off(g->b, g->vc, dst), backend_off(g->b, g->vc, src), (size_t)len * kvd * g->cs));
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
    TextBuf *text;
    int *done, *cache_len;
    int maxT;
} Emit;

// Records token tok (log-prob lp) as sequence s's next and checks its stop
// conditions. Returns -1 when out of memory.
static int emit(Emit *e, int s, int tok, float lp) {
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

// Emits the n tokens gen_sample brought back (row r for sequence h_seq[r]).
static int emit_rows(GenWork *g, Emit *e, int n) {
    const float *lp = (const float *)(g->h_out + g->Lw);
    for (int r = 0; r < n; r++) {
        int tok = g->h_out[r];
        if (tok < 0 || tok >= g->m->cfg.vocab)
            return grpo_fail(GRPO_EINVAL, "generate: sequence %d: no token could be sampled (NaN or +inf logits, or all -inf)",
                             g->h_seq[r]);
        if (emit(e, g->h_seq[r], tok, lp[r])) return grpo_fail(GRPO_ENOMEM, "generate: out of memory");
    }
    return GRPO_OK;
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
    if (!b->sample) return backend_require(b, NULL, "sample");
    if (c->cache && c->cache->m != m) return grpo_fail(GRPO_EINVAL, "generate: the cache belongs to another model");
    const int V = m->cfg.vocab, S = n_prompts * G, share = !c->no_prefix_share;
    int maxlen = 0;
    for (int p = 0; p < n_prompts; p++) maxlen = prompt_lens[p] > maxlen ? prompt_lens[p] : maxlen;
    const int maxT = maxlen + c->max_tokens < m->cfg.max_pos ? maxlen + c->max_tokens : m->cfg.max_pos;
    int budget = c->prefill_tokens > 0 ? c->prefill_tokens : 2048;
    if (budget < maxlen) budget = maxlen;
    long total = 0;
    for (int p = 0; p < n_prompts; p++) total += (long)prompt_lens[p] * (share ? 1 : G);
    int Tw = (int)(total < budget ? total : budget);
    if (Tw < S) Tw = S;

    GenGraphStats local_gs;
    GenGraphStats *gs = c->graph_stats ? c->graph_stats : &local_gs;
    memset(gs, 0, sizeof *gs);
    const int has_graphs = b->graph_begin && b->graph_end && b->graph_launch && b->graph_free;
    const char *env = getenv("GRPO_CUDA_GRAPHS"); // the one place the switch is read
    // The cache only pays where graphs exist; elsewhere each call has its own.
    GenWork local = {0}, *g = c->cache && has_graphs ? &c->cache->g : &local;
    const int own = g == &local;
    g->gs = gs;
    int st = own ? gen_work_alloc(g, m, S, maxT, Tw) : gen_work_reserve(c->cache, S, maxT, Tw);
    if (st) return st;
    for (int i = 0; i < g->S; i++) gs->kept += g->graphs[i] != NULL;
    g->use_graphs = has_graphs && !c->no_graphs && !(env && !strcmp(env, "0"));
    const int pad = has_graphs && !c->no_pad;

    memset(results, 0, (size_t)S * sizeof *results);
    Emit e = {c, results, NULL, NULL, NULL, maxT};
    int *slot = malloc((size_t)S * 3 * sizeof(int)), *unit_prompt = malloc((size_t)S * sizeof(int));
    int32_t *toks = malloc((size_t)g->Tw * sizeof(int32_t));
    Rng *rng = malloc((size_t)S * sizeof(Rng));
    BackendSampleCfg *cfg = malloc((size_t)S * sizeof *cfg);
    e.text = calloc((size_t)S, sizeof(TextBuf));
    e.done = calloc((size_t)S, sizeof(int));
    e.cache_len = calloc((size_t)S, sizeof(int));
    int ok = slot && unit_prompt && toks && rng && cfg && e.text && e.done && e.cache_len;
    for (int s = 0; ok && s < S; s++) {
        results[s].tokens = malloc((size_t)c->max_tokens * sizeof(int32_t));
        results[s].logprobs = malloc((size_t)c->max_tokens * sizeof(float));
        ok = results[s].tokens && results[s].logprobs;
        rng_seed_stream(&rng[s], c->seed, c->stream_offset + (uint64_t)s);
        cfg[s] = (BackendSampleCfg){c->sampler.temperature, c->sampler.top_k, c->sampler.top_p, c->sampler.min_p};
    }
    if (!ok) {
        st = grpo_fail(GRPO_ENOMEM, "generate: out of memory");
        goto done;
    }
    // The sampler's state lives with the logits: uploaded once, advanced there.
    if ((st = b->to_device(b, g->rng, rng, (size_t)S * sizeof(Rng))) ||
        (st = b->to_device(b, g->cfg, cfg, (size_t)S * sizeof *cfg)))
        goto done;
    int *pos0 = slot + S, *count = slot + 2 * S;

    // Prefill: one unit per distinct prompt (or per sequence without sharing),
    // as many units per pass as fit in the token budget.
    int n_units = share ? n_prompts : S;
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
        // Each sequence's first token comes from its prompt's logits: with
        // sharing, unit i's row serves sequences p*G .. p*G + G-1.
        int first = share ? u0 * G : u0, n_seq = share ? nu * G : nu;
        for (int r = 0; r < n_seq; r++) g->h_seq[r] = first + r;
        if ((st = gen_step(g, nu, slot, pos0, count, toks))) break;
        for (int i = 0; i < nu && !st; i++) {
            int p = unit_prompt[i];
            for (int k = 0; k < G; k++) {
                int s = share ? p * G + k : slot[i];
                e.cache_len[s] = prompt_lens[p];
                if (share && k > 0) st = copy_slot(g, p * G, s, prompt_lens[p]);
                if (!share) break;
            }
        }
        // Spread unit i's logits row to rows i*G .. i*G + G-1, last unit first
        // so no row is overwritten before it is read.
        for (int i = nu - 1; share && G > 1 && i >= 0 && !st; i--)
            for (int k = G - 1; k >= 0 && !st; k--)
                if (i * G + k != i)
                    st = b->copy(b, g->logits + (size_t)(i * G + k) * V, g->logits + (size_t)i * V,
                                 (size_t)V * sizeof(float));
        if (st || (st = gen_sample(g, n_seq)) || (st = emit_rows(g, &e, n_seq))) break;
        u0 += nu;
    }
    // Decode: every unfinished sequence advances one token per step.
    while (!st) {
        int na = 0;
        for (int s = 0; s < S; s++) {
            if (e.done[s]) continue;
            slot[na] = s;
            pos0[na] = e.cache_len[s];
            count[na] = 1;
            toks[na] = results[s].tokens[results[s].n_tokens - 1];
            g->h_seq[na] = s;
            na++;
        }
        if (!na) break;
        // Padding rows: token 0 at position 0 of finished sequences' slots,
        // one each (there are S - na of them, at least nb - na). Only its own
        // sequence reads a slot's cache rows and RNG state, so the live rows
        // are untouched; what the padding rows sample is never read. nb
        // depends on the call alone (not on a cache's size), so a call's
        // results do too.
        int nb = pad ? gen_rows(na, S) : na;
        for (int s = S - 1, r = na; r < nb && s >= 0; s--)
            if (e.done[s]) {
                slot[r] = s, pos0[r] = 0, count[r] = 1, toks[r] = 0, g->h_seq[r] = s;
                r++;
            }
        gs->pad_rows += nb - na;
        if ((st = gen_decode(g, na, nb, slot, pos0, count, toks))) break;
        for (int i = 0; i < na; i++) e.cache_len[slot[i]]++;
        if ((st = emit_rows(g, &e, na))) break;
    }
done:
    if (st) gen_results_free(results, S);
    for (int s = 0; e.text && s < S; s++) free(e.text[s].buf);
    free(slot), free(unit_prompt), free(toks), free(rng), free(cfg);
    free(e.text), free(e.done), free(e.cache_len);
    // A call that failed leaves nothing behind that it may have left half done.
    if (own || st) gen_work_release(g);
    g->gs = NULL; // the stats may be the caller's local
    return st;
}
