// The built-in default job of `grpo train` with no arguments: a small model that
// learns a built-in task on CPU in minutes. It makes its base model once (a
// random initialisation plus a short SFT warm start on worked solutions, cached
// under $GRPO_CACHE_DIR or ~/.cache/grpo), evaluates it, runs GRPO, evaluates
// again and prints a before/after table.
#ifndef GRPO_DEFAULT_JOB_H
#define GRPO_DEFAULT_JOB_H

#include "rl/trainer.h"

// sets: the user's --set overrides, applied on top of the job's own settings.
// Trains into out_dir (replacing what was there); res as trainer_run's.
int default_job_run(const char *const *sets, int n_sets, const char *out_dir, const TrainerOutput *o, TrainResult *res);

// The job's GRPO configuration (before overrides) and its SFT recipe; a setting
// the key table rejects is an error (it would mean the recipe silently changed).
int default_job_config(TrainConfig *c, const char *base_model_dir);
int default_job_sft_config(TrainConfig *c, const char *init_model_dir);

#endif
