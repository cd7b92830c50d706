// GRPO's group-relative advantages and its clipped per-token loss (design.md),
// as pure CPU functions: the trainer, `grpo grad` and the tests share them.
// Everything is accumulated in float64 so the loss does not depend on how a
// batch is split into micro-batches beyond the last bits.
#ifndef GRPO_GRPO_H
#define GRPO_GRPO_H

typedef enum { LOSS_GRPO, LOSS_BNPO, LOSS_DR_GRPO, LOSS_DAPO } LossType;

typedef struct {
    LossType type;
    double beta;            // weight of the k3 KL term; 0 = no reference model
    double eps_low, eps_high; // ratio clipped to [1 - eps_low, 1 + eps_high]
    int max_completion_len; // dr_grpo's constant divisor
} LossConfig;

typedef struct {
    int n_seqs;
    const int *tok_start;     // (n_seqs + 1) offsets into the per-token arrays
    const float *logp;        // (T) log-probs of each completion token under the policy
    const float *old_logp;    // (T) ... under the policy that sampled it
    const float *ref_logp;    // (T) ... under the reference model; NULL when beta == 0
    const float *mask;        // (T) 1 = the token carries loss, 0 = it does not; NULL = all 1
    const float *advantages;  // (n_seqs)
    // Divisors for gradient accumulation: a micro-batch must be normalised by the
    // whole mini-batch it belongs to, or accumulation would change the loss.
    double norm_tokens;       // bnpo/dapo: masked tokens in the mini-batch; 0 = this batch's
    int norm_seqs;            // grpo/dr_grpo: sequences in the mini-batch; 0 = n_seqs
} LossBatch;

typedef struct {
    double loss;           // this batch's contribution to the mini-batch loss
    double kl;             // masked mean of the k3 estimator (0 without a reference)
    double clip_frac;      // fraction of masked tokens whose ratio was clipped
    double clip_low_frac;  // ... clipped below (ratio < 1 - eps_low with A < 0)
    double clip_high_frac; // ... clipped above (ratio > 1 + eps_high with A > 0)
    double ratio_mean;     // masked mean of exp(logp - old_logp)
    long n_tokens;         // masked tokens in this batch
} LossStats;

// Computes the loss and, when dlogp is not NULL, d loss / d logp for every token
// (0 for masked-out ones). Returns GRPO_EINVAL for inconsistent inputs.
int grpo_loss(float *dlogp, LossStats *st, const LossBatch *b, const LossConfig *c);

int grpo_loss_type_parse(const char *name, LossType *out);
const char *grpo_loss_type_name(LossType t);

typedef enum { SCALE_GROUP, SCALE_BATCH, SCALE_NONE } ScaleRewards;

// rewards (n_groups * group_size), each group contiguous -> advantages, same layout:
// A = (r - mean_group) / (std + 1e-4), std over the group (SCALE_GROUP), over the
// whole batch (SCALE_BATCH), or no division (SCALE_NONE). std is the unbiased
// sample std as torch.std computes it (0 for a single value).
int grpo_advantages(float *adv, const float *rewards, int n_groups, int group_size, ScaleRewards s);

int grpo_scale_rewards_parse(const char *name, ScaleRewards *out);

#endif
