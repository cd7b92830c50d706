// What every training-side command opens from a configuration: the backend, the
// policy model, its tokenizer, the prompt template, and the train and eval data.
#ifndef GRPO_TRAINENV_H
#define GRPO_TRAINENV_H

#include <stdint.h>

#include "datasets/dataset.h"
#include "datasets/template.h"
#include "kernels/backend.h"
#include "policy/model.h"
#include "policy/tokenizer.h"
#include "rl/config.h"

typedef struct {
    TrainConfig cfg;
    Backend *be;
    Model *model;
    Tokenizer *tok;
    Template *tpl;
    Dataset *train, *eval;    // eval may be NULL when no_eval
    char tok_dir[4096];       // where the tokenizer files came from (copied into checkpoints)
    int32_t eos_ids[16];      // generation stops on these ids
    int n_eos;
} TrainEnv;

// want: which parts to open (bit flags).
enum { ENV_MODEL = 1, ENV_DATA = 2, ENV_EVAL = 4 };

int env_open(TrainEnv *e, const TrainConfig *cfg, int want);
void env_close(TrainEnv *e);

// The prompt for example ex, rendered by the template and tokenized, cut from
// the left to max_prompt_len tokens. *text (malloc'd, may be NULL) gets the
// rendered prompt. Caller frees *ids.
int env_encode_prompt(const TrainEnv *e, const cJSON *ex, int32_t **ids, int *n, char **text);

#endif
