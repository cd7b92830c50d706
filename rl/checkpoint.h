// Training checkpoints: DIR/checkpoints/step-NNNNNN/ holds a Hugging Face model
// directory (config.json, model.safetensors, tokenizer files) that transformers
// loads as it is, plus trainer_state.json (step, run id, dataset position, the
// configuration) and optimizer.safetensors (the AdamW moments). A checkpoint is
// written into a .tmp directory and renamed into place, so one either exists
// whole or not at all; the last `keep` are kept.
#ifndef GRPO_CHECKPOINT_H
#define GRPO_CHECKPOINT_H

#include <stddef.h>

#include "policy/model.h"
#include "rl/optim.h"

// DIR/checkpoints/step-NNNNNN into buf.
void ckpt_dir(char *buf, size_t n, const char *out_dir, long step);

// Writes a checkpoint for `step` and prunes older ones beyond `keep`.
// state_json is the trainer's own state (a JSON object, stored as it is);
// opt may be NULL (SFT without resumable state).
int ckpt_save(const char *out_dir, long step, const Model *m, const AdamW *opt, const char *state_json,
              const char *tokenizer_dir, int keep);

// The newest complete checkpoint under out_dir: its directory and step.
// GRPO_EIO with a message when there is none.
int ckpt_latest(const char *out_dir, char *path, size_t n, long *step);

// Reads trainer_state.json of a checkpoint directory (caller frees *json).
int ckpt_read_state(const char *ckpt, char **json);

// Restores the AdamW moments and step count saved by ckpt_save; opt must have
// been built for the same number of parameters.
int ckpt_load_optimizer(const char *ckpt, AdamW *opt);

// rm -rf for directories the trainer made (never follows symlinks).
int ckpt_remove_tree(const char *path);

#endif
