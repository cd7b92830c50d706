// Training activations of the last model_forward (internal to policy/).
#ifndef GRPO_MODEL_ACTS_H
#define GRPO_MODEL_ACTS_H

#include "policy/model.h"

typedef struct {
    float *ln1, *rstd1;   // (T, C), (T)
    float *q, *k, *v;     // (T, qd), (T, kvd), (T, kvd), after rope
    float *att, *lse;     // (T, qd), (T, nh)
    float *xmid;          // (T, C) residual after attention
    float *ln2, *rstd2;   // (T, C), (T)
    float *gate, *up, *h; // (T, F) each
} LayerActs;

struct ModelActs {
    int cap_T, cap_S;     // capacity in tokens and sequences
    int T, S;             // the last forward's batch
    int full;             // every layer's activations stored (else one layer's, for no_grad)
    int no_grad;          // the last forward was no_grad: backward refuses
    float inv_temp;
    float *block;         // one allocation for everything below
    float *x;             // (L + 1, T, C) residual stream at each layer's input
    LayerActs *layers;
    float *lnf, *rstdf;   // (T, C), (T)
    float *lse_out;       // (T)
    float *logp, *ent;    // (T)
    float *dlogp;         // (T)
    float *tmp;           // (T, max(C, qd, F)) scratch
    float *logits;        // (chunk, V)
    int chunk;
    int logits_fresh;     // logits holds the last chunk's logits from forward
    // backward scratch
    float *dx, *dln;      // (T, C)
    float *dq, *dk, *dv;  // (T, qd), (T, kvd), (T, kvd)
    float *dgate, *dup;   // (T, F)
    int32_t *ids, *pos, *targets; // (T)
    int32_t *q_start, *q_pos0;    // (S + 1), (S)
};

int model_acts_reserve(Model *m, int T, int S, int full);
void model_acts_free(Model *m);

#endif
