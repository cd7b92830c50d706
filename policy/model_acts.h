// Training activations of the last model_forward (internal to policy/).
// `void *` buffers hold the backend's compute dtype (activations and their
// gradients); `float *` ones are fp32 always (norm statistics, log-sum-exps,
// logits, log-probs and the loss side), as kernels/backend.h lays down.
#ifndef GRPO_MODEL_ACTS_H
#define GRPO_MODEL_ACTS_H

#include "policy/model.h"

typedef struct {
    void *ln1;            // (T, C)
    float *rstd1;         // (T)
    void *q, *k, *v;      // (T, qd), (T, kvd), (T, kvd), after rope
    void *att;            // (T, qd)
    float *lse;           // (T, nh)
    void *xmid;           // (T, C) residual after attention
    void *ln2;            // (T, C)
    float *rstd2;         // (T)
    void *gate, *up, *h;  // (T, F) each
} LayerActs;

struct ModelActs {
    int cap_T, cap_S;     // capacity in tokens and sequences
    int T, S;             // the last forward's batch
    int full;             // every layer's activations stored (else one layer's, for no_grad)
    int no_grad;          // the last forward was no_grad: backward refuses
    float inv_temp;
    void *block;          // one allocation for everything below
    void *x;              // (L + 1, T, C) residual stream at each layer's input
    LayerActs *layers;
    void *lnf;            // (T, C)
    float *rstdf;         // (T)
    float *lse_out;       // (T)
    float *logp, *ent;    // (T)
    float *dlogp;         // (T)
    void *tmp;            // (T, max(C, qd, F)) scratch
    float *logits;        // (chunk, V) fp32
    void *dlogits;        // (chunk, V) cdt when cdt is not fp32; else the logits, turned
                          // into their gradient in place (no extra memory)
    int chunk;
    int logits_fresh;     // logits holds the last chunk's logits from forward
    // backward scratch
    void *dx, *dln;       // (T, C)
    void *dq, *dk, *dv;   // (T, qd), (T, kvd), (T, kvd)
    void *dgate, *dup;    // (T, F)
    int32_t *ids, *pos, *targets; // (T)
    int32_t *q_start, *q_pos0;    // (S + 1), (S)
};

int model_acts_reserve(Model *m, int T, int S, int full);
void model_acts_free(Model *m);

#endif
