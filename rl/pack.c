#include "rl/pack.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/status.h"

void pack_reset(Pack *p) {
    p->n_seqs = p->n_tokens = p->n_comp = 0;
    if (p->cu_seqlens) p->cu_seqlens[0] = 0;
    if (p->comp_start) p->comp_start[0] = 0;
}

void pack_free(Pack *p) {
    free(p->cu_seqlens);
    free(p->ids);
    free(p->comp_start);
    free(p->comp_pos);
    memset(p, 0, sizeof *p);
}

static int grow(void **ptr, int *cap, int need, size_t elem) {
    if (need <= *cap) return GRPO_OK;
    int c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *g = realloc(*ptr, (size_t)c * elem);
    if (!g) return grpo_fail(GRPO_ENOMEM, "out of memory packing a batch");
    *ptr = g;
    *cap = c;
    return GRPO_OK;
}

int pack_add(Pack *p, const int32_t *prompt, int np, const int32_t *comp, int nc) {
    if (np < 1 || nc < 0) return grpo_fail(GRPO_EINVAL, "pack: a sequence needs at least one prompt token");
    int cs = p->cap_seqs, ct = p->cap_tokens;
    int st = grow((void **)&p->cu_seqlens, &cs, p->n_seqs + 2, sizeof(int));
    cs = p->cap_seqs;
    if (!st) st = grow((void **)&p->comp_start, &cs, p->n_seqs + 2, sizeof(int));
    if (st) return st;
    p->cap_seqs = cs;
    st = grow((void **)&p->ids, &ct, p->n_tokens + np + nc, sizeof(int32_t));
    ct = p->cap_tokens;
    if (!st) st = grow((void **)&p->comp_pos, &ct, p->n_tokens + np + nc, sizeof(int));
    if (st) return st;
    p->cap_tokens = ct;
    if (p->n_seqs == 0) p->cu_seqlens[0] = p->comp_start[0] = 0;
    int start = p->n_tokens;
    memcpy(p->ids + start, prompt, (size_t)np * sizeof(int32_t));
    if (nc) memcpy(p->ids + start + np, comp, (size_t)nc * sizeof(int32_t));
    for (int k = 0; k < nc; k++) p->comp_pos[p->n_comp + k] = start + np + k - 1;
    p->n_tokens += np + nc;
    p->n_comp += nc;
    p->n_seqs++;
    p->cu_seqlens[p->n_seqs] = p->n_tokens;
    p->comp_start[p->n_seqs] = p->n_comp;
    return GRPO_OK;
}

ModelBatch pack_batch(const Pack *p, float temperature, int no_grad) {
    ModelBatch b = {.n_seqs = p->n_seqs, .cu_seqlens = p->cu_seqlens, .ids = p->ids, .temperature = temperature, .no_grad = no_grad};
    return b;
}

void pack_gather(const Pack *p, float *dst, const float *per_pos) {
    for (int k = 0; k < p->n_comp; k++) dst[k] = per_pos[p->comp_pos[k]];
}

void pack_scatter(const Pack *p, float *per_pos, const float *src) {
    memset(per_pos, 0, (size_t)p->n_tokens * sizeof(float));
    for (int k = 0; k < p->n_comp; k++) per_pos[p->comp_pos[k]] = src[k];
}
