// The optimizer side of a step: AdamW with fp32 moments over the model's one
// contiguous parameter buffer, global gradient-norm clipping, and the learning
// rate schedule. Host (CPU) memory; the CUDA backend gets its own kernels.
#ifndef GRPO_OPTIM_H
#define GRPO_OPTIM_H

#include <stddef.h>

typedef struct {
    double lr, beta1, beta2, eps, weight_decay;
} AdamWConfig;

typedef struct {
    size_t n;     // number of parameters
    float *m, *v; // (n) first and second moments
    long t;       // steps taken (for bias correction)
} AdamW;

int adamw_build(AdamW *opt, size_t n);
void adamw_free(AdamW *opt);

// One update of params (n) from grads (n) at learning rate `lr` (the schedule's
// value for this step; cfg->lr is ignored here). Decoupled weight decay as in
// torch.optim.AdamW: p -= lr * wd * p before the Adam step.
void adamw_step(AdamW *opt, float *params, const float *grads, double lr, const AdamWConfig *cfg);

// The global L2 norm of grads (n), summed in float64 in fixed-size chunks so the
// result does not depend on the number of threads.
double optim_grad_norm(const float *grads, size_t n);

// Scales grads so their norm is at most max_norm (torch's clip_grad_norm_:
// factor max_norm / (norm + 1e-6) when below 1). Returns the norm before clipping.
double optim_clip_grad_norm(float *grads, size_t n, double max_norm);

// 1 when every value is finite.
int optim_all_finite(const float *x, size_t n);

typedef enum { LR_CONSTANT, LR_COSINE, LR_LINEAR } LrSchedule;

int optim_schedule_parse(const char *name, LrSchedule *out);

// The learning rate for optimizer step `step` (0-based) of `total`: linear warmup
// from 0 over warmup_steps, then constant, cosine decay, or linear decay to
// min_lr_ratio * peak (the Hugging Face schedules, with a floor).
double optim_lr_at(LrSchedule s, double peak, long step, long total, long warmup_steps, double min_lr_ratio);

#endif
