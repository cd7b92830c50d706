// The device workspace of generate() (policy/generate.c; internal to
// policy/): KV cache, work buffers, index arrays, sampler state and the
// decode-step graphs captured over them, allocated for one call or kept in a
// GenCache across calls.
#ifndef GRPO_GEN_WORK_H
#define GRPO_GEN_WORK_H

#include "policy/generate.h"

// The workspace: sized by its capacities (exactly the call's needs when
// allocated for one call, at least them when kept in a GenCache). Everything a
// graph captured over it points at is fixed until gen_work_release.
typedef struct {
    Model *m;
    Backend *b;
    int S, maxT, Tw, Lw; // sequence slots, cache rows per slot (the slot stride), work rows, logit rows
    size_t cs;           // bytes per element of the compute dtype (the void * buffers)
    void *block;         // one backend allocation for everything below
    void *kc, *vc;       // (L, S, maxT, kvd)
    void *x, *xn, *q, *k, *v, *att, *tmp, *gate, *up; // (Tw, ...)
    void *last;          // (Lw, C)
    float *logits;       // (Lw, V) fp32, what sampling reads
    // Backend index arrays, contiguous in the order of the host copies so one
    // upload per step carries them all: ids, pos, rows (Tw), qs (Lw + 1),
    // ks, q0, seq (Lw). seq: the sequence each logits row is sampled for.
    int32_t *idx, *ids, *pos, *rows, *qs, *ks, *q0, *seq;
    int32_t *h_idx, *h_ids, *h_pos, *h_rows, *h_qs, *h_ks, *h_q0, *h_seq; // host copies
    int32_t *out;         // backend (2 * Lw): sampled tokens (Lw), then their log-probs as floats (Lw)
    int32_t *h_out;       // host copy
    uint64_t *rng;        // backend (S, 4): each sequence's xoshiro256** state
    BackendSampleCfg *cfg; // backend (S): each sequence's sampling settings
    size_t n_idx;         // ints in the index arrays
    void **graphs;        // (S) decode graph for nb computed rows at [nb - 1], NULL until captured
    // Per call:
    int use_graphs;       // 0: eager (no backend graphs, switched off, or a capture failed)
    GenGraphStats *gs;    // the caller's, or a local one
} GenWork;

struct GenCache {
    Model *m;
    GenWork g; // g.block == NULL: empty
};

// Allocates a workspace for S sequences of maxT cache rows and Tw work rows
// (Tw >= S) of model m; on failure g is empty. Keeps g->gs.
int gen_work_alloc(GenWork *g, Model *m, int S, int maxT, int Tw);
// Frees the workspace and its graphs; g is empty after (g->gs kept).
void gen_work_release(GenWork *g);
// Makes the cache's workspace fit a call of S sequences, maxT cache rows each
// and Tw work rows (Tw >= S); sets g->gs->built when it allocates.
int gen_work_reserve(GenCache *c, int S, int maxT, int Tw);

#endif
