// Supervised fine-tuning on prompt/completion examples (loss on completion
// tokens only): the cold start DeepSeek-R1 used before RL, and how the default
// job makes its base model. Writes the same checkpoints as `grpo train`.
#ifndef GRPO_SFT_H
#define GRPO_SFT_H

#include "rl/config.h"

typedef struct {
    double first_loss, last_loss; // mean completion-token NLL of the first and last steps
    long steps;
} SftResult;

// Runs cfg->steps SFT steps of cfg->prompts_per_step examples each on cfg->dataset
// (each example needs a "completion"; the prompt is its question through the
// template), checkpointing into out_dir. quiet = 0 prints a progress line to
// stderr every few steps (the CLI's choice; the library call itself never prints
// when quiet).
int sft_run(const TrainConfig *cfg, const char *out_dir, int quiet, SftResult *res);

#endif
