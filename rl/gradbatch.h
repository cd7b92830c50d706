// A fixed GRPO batch read from JSON (the input of `grpo grad` and of the golden
// tests): packed sequences, their prompt lengths, advantages and old/ref
// log-probs, and the loss settings. gradbatch_run computes the loss of
// design.md on it and every parameter's gradient.
#ifndef GRPO_GRADBATCH_H
#define GRPO_GRADBATCH_H

#include <stdint.h>

#include "policy/model.h"
#include "rl/grpo.h"

typedef struct {
    LossConfig loss;
    int n_seqs;
    int *cu_seqlens;   // (n_seqs + 1) token offsets of the packed sequences
    int32_t *ids;      // (T)
    int *prompt_len;   // (n_seqs)
    float *advantages; // (n_seqs)
    int *tok_start;    // (n_seqs + 1) offsets of the completion tokens
    float *old_logp;   // (n_completion_tokens)
    float *ref_logp;   // (n_completion_tokens) or NULL
} GradBatch;

// BATCH.json: {"loss": {"type", "beta", "eps_low", "eps_high", "max_completion_len"},
//  "sequences": [{"ids", "prompt_len", "advantage", "old_logprobs", "ref_logprobs"}]}
int gradbatch_load(GradBatch *b, const char *path);
int gradbatch_parse(GradBatch *b, const char *json, const char *origin);
void gradbatch_free(GradBatch *b);

// Zeroes the gradients, runs forward, the loss and backward. logp_out (T, may
// be NULL) receives the forward's per-token log-probs.
int gradbatch_run(Model *m, const GradBatch *b, LossStats *stats, float *logp_out);

#endif
