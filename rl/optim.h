// The optimizer side of a step: AdamW with fp32 moments over the model's one
// contiguous parameter buffer, global gradient-norm clipping, and the learning
// rate schedule. Parameters, gradients and moments are backend memory; the
// loops are the backend's adamw / sumsq / scale ops, so a step never leaves
// the device.
#ifndef GRPO_OPTIM_H
#define GRPO_OPTIM_H

#include <stddef.h>

#include "kernels/backend.h"

typedef struct {
    double lr, beta1, beta2, eps, weight_decay;
} AdamWConfig;

typedef struct {
    Backend *be;  // not owned
    size_t n;     // number of parameters
    float *m, *v; // (n) first and second moments, backend memory (zeroed)
    long t;       // steps taken (for bias correction)
} AdamW;

int adamw_build(AdamW *opt, Backend *be, size_t n);
void adamw_free(AdamW *opt);

// The backend constants of step t (1-based) at learning rate lr.
BackendAdamW adamw_constants(const AdamWConfig *cfg, double lr, long t);

// One update of params (n) from grads (n), both backend memory, at learning
// rate `lr` (the schedule's value for this step; cfg->lr is ignored here).
// Decoupled weight decay as in torch.optim.AdamW: p -= lr * wd * p before the
// Adam step. params_cd (n, the backend's compute dtype), when not NULL,
// receives the new params rounded to that dtype (the model's working copy:
// pass Model.params_cd when it is not Model.params).
int adamw_step(AdamW *opt, float *params, void *params_cd, const float *grads, double lr, const AdamWConfig *cfg);

// *norm = the global L2 norm of grads (n, backend memory), summed in float64
// (on the CPU in fixed-size chunks, so it does not depend on the thread count).
// Non-finite when any gradient is: the trainer's skip test.
int optim_grad_norm(Backend *be, const float *grads, size_t n, double *norm);

// Scales grads so their norm is at most max_norm (torch's clip_grad_norm_:
// factor max_norm / (norm + 1e-6) when below 1); *norm = the norm before
// clipping. A non-finite norm leaves grads as they are.
int optim_clip_grad_norm(Backend *be, float *grads, size_t n, double max_norm, double *norm);

typedef enum { LR_CONSTANT, LR_COSINE, LR_LINEAR } LrSchedule;

int optim_schedule_parse(const char *name, LrSchedule *out);

// The learning rate for optimizer step `step` (0-based) of `total`: linear warmup
// from 0 over warmup_steps, then constant, cosine decay, or linear decay to
// min_lr_ratio * peak (the Hugging Face schedules, with a floor).
double optim_lr_at(LrSchedule s, double peak, long step, long total, long warmup_steps, double min_lr_ratio);

#endif
