// generate()'s workspace (gen_work.h): layout, allocation, the GenCache that
// keeps it across calls, and the padded decode row counts (gen_rows).
#include "policy/gen_work.h"

#include <stdlib.h>
#include <string.h>

// Returns the bytes needed.
static size_t gen_layout(GenWork *g, void *base) {
    const ModelConfig *c = &g->m->cfg;
    size_t C = c->hidden, F = c->ffn, qd = (size_t)c->n_heads * c->head_dim, kvd = (size_t)c->n_kv_heads * c->head_dim;
    size_t Tw = g->Tw, off = 0, wide = C > F ? C : F, cs = g->cs;
    size_t cache = (size_t)c->n_layers * g->S * g->maxT * kvd;
    g->kc = backend_carve(base, &off, cache, cs);
    g->vc = backend_carve(base, &off, cache, cs);
    g->x = backend_carve(base, &off, Tw * C, cs);
    g->xn = backend_carve(base, &off, Tw * C, cs);
    g->q = backend_carve(base, &off, Tw * qd, cs);
    g->k = backend_carve(base, &off, Tw * kvd, cs);
    g->v = backend_carve(base, &off, Tw * kvd, cs);
    g->att = backend_carve(base, &off, Tw * qd, cs);
    g->tmp = backend_carve(base, &off, Tw * (wide > qd ? wide : qd), cs);
    g->gate = backend_carve(base, &off, Tw * F, cs);
    g->up = backend_carve(base, &off, Tw * F, cs);
    g->last = backend_carve(base, &off, (size_t)g->Lw * C, cs);
    g->logits = backend_carve(base, &off, (size_t)g->Lw * c->vocab, sizeof(float));
    g->n_idx = 3 * Tw + 4 * (size_t)g->Lw + 1;
    g->idx = backend_carve(base, &off, g->n_idx, sizeof(int32_t));
    g->out = backend_carve(base, &off, 2 * (size_t)g->Lw, sizeof(int32_t));
    g->rng = backend_carve(base, &off, 4 * (size_t)g->S, sizeof(uint64_t));
    g->cfg = backend_carve(base, &off, (size_t)g->S, sizeof(BackendSampleCfg));
    return off;
}

// Points the named index arrays into a contiguous block (backend or host).
static void split_idx(const GenWork *g, int32_t *base, int32_t **ids, int32_t **pos, int32_t **rows, int32_t **qs,
                      int32_t **ks, int32_t **q0, int32_t **seq) {
    *ids = base, *pos = base + g->Tw, *rows = base + 2 * (size_t)g->Tw, *qs = base + 3 * (size_t)g->Tw;
    *ks = *qs + g->Lw + 1, *q0 = *ks + g->Lw, *seq = *q0 + g->Lw;
}

void gen_work_release(GenWork *g) {
    if (g->graphs)
        for (int i = 0; i < g->S; i++)
            if (g->graphs[i]) g->b->graph_free(g->b, g->graphs[i]);
    free(g->graphs);
    free(g->h_idx);
    free(g->h_out);
    if (g->block) g->b->free(g->b, g->block);
    GenGraphStats *gs = g->gs;
    memset(g, 0, sizeof *g);
    g->gs = gs;
}

int gen_work_alloc(GenWork *g, Model *m, int S, int maxT, int Tw) {
    Backend *b = m->be;
    GenGraphStats *gs = g->gs;
    memset(g, 0, sizeof *g);
    g->gs = gs;
    g->m = m, g->b = b, g->S = S, g->maxT = maxT, g->Tw = Tw, g->Lw = S, g->cs = backend_dtype_size(b->cdt);
    size_t n = gen_layout(g, NULL);
    int st = b->alloc(b, &g->block, n);
    if (st) {
        g->block = NULL;
        return grpo_wrap(st, "generate: KV cache for %d sequences of %d tokens: ", S, maxT);
    }
    gen_layout(g, g->block);
    split_idx(g, g->idx, &g->ids, &g->pos, &g->rows, &g->qs, &g->ks, &g->q0, &g->seq);
    g->h_idx = calloc(g->n_idx, sizeof(int32_t));
    g->h_out = calloc(2 * (size_t)g->Lw, sizeof(int32_t));
    g->graphs = calloc((size_t)S, sizeof(void *));
    if (!g->h_idx || !g->h_out || !g->graphs) {
        gen_work_release(g);
        return grpo_fail(GRPO_ENOMEM, "generate: out of memory");
    }
    split_idx(g, g->h_idx, &g->h_ids, &g->h_pos, &g->h_rows, &g->h_qs, &g->h_ks, &g->h_q0, &g->h_seq);
    return GRPO_OK;
}

static int round_up(int n, int to) { return (n + to - 1) / to * to; }

// Kept when it fits, else allocated again with room for the old and the new
// needs (cache rows and work rows rounded up to 64 so that prompts a little
// longer than before do not reallocate every step).
int gen_work_reserve(GenCache *c, int S, int maxT, int Tw) {
    GenWork *g = &c->g;
    if (g->block && S <= g->S && maxT <= g->maxT && Tw <= g->Tw) return GRPO_OK;
    int rows = round_up(maxT, 64);
    if (rows > c->m->cfg.max_pos) rows = c->m->cfg.max_pos; // maxT never exceeds it
    Tw = round_up(Tw, 64);
    if (g->block) {
        S = g->S > S ? g->S : S;
        rows = g->maxT > rows ? g->maxT : rows;
        Tw = g->Tw > Tw ? g->Tw : Tw;
    }
    gen_work_release(g);
    g->gs->built = 1;
    return gen_work_alloc(g, c->m, S, rows, Tw > S ? Tw : S);
}

int gen_cache_build(GenCache **out, Model *m) {
    *out = calloc(1, sizeof **out);
    if (!*out) return grpo_fail(GRPO_ENOMEM, "generate: out of memory");
    (*out)->m = m;
    return GRPO_OK;
}

void gen_cache_free(GenCache *c) {
    if (!c) return;
    gen_work_release(&c->g);
    free(c);
}

int gen_rows(int na, int cap) {
    if (na <= 8) return na < cap ? na : cap;
    int p = 8;
    while (p * 2 < na) p *= 2;
    int nb = round_up(na, p / 4);
    return nb < cap ? nb : cap;
}
