// Packing prompt + completion token sequences into one ModelBatch (no padding)
// and mapping completion tokens to the positions whose next-token log-prob
// scores them: completion token k of a sequence whose prompt has p tokens is
// predicted at packed position start + p + k - 1.
#ifndef GRPO_PACK_H
#define GRPO_PACK_H

#include <stdint.h>

#include "policy/model.h"

typedef struct {
    int n_seqs;
    int *cu_seqlens;  // (n_seqs + 1) packed sequence offsets
    int32_t *ids;     // (T) packed tokens
    int *comp_start;  // (n_seqs + 1) offsets of each sequence's completion tokens in the per-token loss arrays
    int *comp_pos;    // (n_comp) packed position that predicts each completion token
    int n_tokens, n_comp;
    int cap_seqs, cap_tokens;
} Pack;

void pack_reset(Pack *p);
void pack_free(Pack *p);
// Appends prompt (np tokens) + completion (nc tokens) as one sequence; np >= 1.
int pack_add(Pack *p, const int32_t *prompt, int np, const int32_t *comp, int nc);
// The batch view for model_forward; no_grad when no backward follows.
ModelBatch pack_batch(const Pack *p, float temperature, int no_grad);

// Gathers per-position values (T) into per-completion-token values (n_comp).
void pack_gather(const Pack *p, float *dst, const float *per_pos);
// Scatters per-completion-token gradients (n_comp) into per-position ones (T),
// zero elsewhere.
void pack_scatter(const Pack *p, float *per_pos, const float *src);

#endif
