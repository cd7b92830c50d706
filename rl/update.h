// The policy update of one GRPO step: for num_iterations epochs over
// mini-batches of the step's sequences, accumulate the GRPO loss's gradient over
// micro-batches, clip the global norm and take an AdamW step. Old log-probs are
// the sampling ones when num_iterations is 1 and recomputed otherwise;
// reference log-probs come from the frozen initial model when beta > 0.
#ifndef GRPO_UPDATE_H
#define GRPO_UPDATE_H

#include "policy/model.h"
#include "rl/grpo.h"
#include "rl/optim.h"
#include "rl/rollout.h"

typedef struct {
    LossConfig loss;
    int num_iterations;
    int mini_batch, micro_batch; // sequences; 0 = everything / the mini-batch
    int mask_truncated;          // completions that hit max_tokens carry no loss
    double temperature;          // log-probs are computed at the sampling temperature
    double max_grad_norm;
    AdamWConfig adam;
    double lr;
    int want_entropy;
    int poison_grads;            // fault injection for tests: make the gradient NaN
    // Data parallel (rl/dist.h): this process holds some of the step's
    // n_seqs_global sequences; seq_pos[i] (increasing) is local sequence i's
    // position among them (groups in order, G samples each). Mini-batches and
    // loss normalisers are then taken over the whole step, and gradients and
    // statistics summed over the processes, so each one takes the optimizer step
    // one process holding every sequence would. seq_pos NULL = one process.
    const int *seq_pos;
    int n_seqs_global;
} UpdateOptions;

typedef struct {
    double loss, kl, entropy, clip_frac, clip_low_frac, clip_high_frac, grad_norm;
    int n_updates, n_skipped; // optimizer steps taken and skipped (non-finite loss or gradient)
    long n_loss_tokens;
} UpdateStats;

int policy_update(Model *policy, Model *ref, AdamW *opt, const Group *groups, int n_groups, const UpdateOptions *o,
                  UpdateStats *out);

#endif
