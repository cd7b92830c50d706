// Supervised fine-tuning on prompt/completion examples (loss on completion
// tokens only): the cold start DeepSeek-R1 used before RL, and how the default
// job makes its base model. Writes the same checkpoints as `grpo train`.
#ifndef GRPO_SFT_H
#define GRPO_SFT_H

#include "rl/config.h"
#include "rl/trainer.h"

typedef struct {
    double first_loss, last_loss; // mean completion-token NLL of the first and last steps
    long steps;
} SftResult;

// Runs cfg->steps SFT steps of cfg->prompts_per_step examples each on cfg->dataset
// (each example needs a "completion"; the prompt is its question through the
// template), checkpointing into out_dir. A progress line every few steps goes to
// o (see TrainerOutput; NULL = none).
int sft_run(const TrainConfig *cfg, const char *out_dir, const TrainerOutput *o, SftResult *res);

#endif
