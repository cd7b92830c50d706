// One step's experience: prompts drawn from the data, G sampled completions per
// prompt, their rewards (with every component's detail) and group-relative
// advantages. A group (one prompt and its G samples) is the unit that dynamic
// sampling keeps or drops and that never splits across processes.
#ifndef GRPO_ROLLOUT_H
#define GRPO_ROLLOUT_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "policy/generate.h"
#include "rewards/rules.h"
#include "rl/trainenv.h"

typedef struct {
    int ex_idx;          // index in the dataset
    const cJSON *ex;     // not owned
    int32_t *prompt;     // (np) prompt tokens
    int np;
    char *prompt_text;
    int G;
    GenResult *gen;      // (G) completion tokens, sampling log-probs, finish reason
    char **text;         // (G) decoded completions (without a final EOS token)
    RuleScore *score;    // (G)
    float *reward;       // (G)
    float *adv;          // (G) filled by rollout_advantages
} Group;

// What generation needs besides the model, built once from the tokenizer.
typedef struct {
    char **token_bytes; // (vocab) what each token decodes to
    int *token_len;     // (vocab)
    int vocab;
    const char *stops[16];
    int n_stops;
} StopTable;

int stoptable_build(StopTable *s, const TrainEnv *e);
void stoptable_free(StopTable *s);

typedef struct {
    double temperature, top_p, min_p;
    long top_k, max_tokens;
    uint64_t seed;
    int reward_workers;
    int first_prompt; // these prompts start at first_prompt of the round's (split across processes): sampling streams follow
    GenCache *cache;  // optional: generation workspace and graphs kept across calls (policy/generate.h)
} RolloutOptions;

// Prepares groups for examples idx[0..n) of data (prompts encoded), generates G
// completions for each, decodes and scores them. reward_s and gen_s get the time
// spent in scoring and in generation.
int rollout_groups(const TrainEnv *e, const Dataset *data, const RuleSet *rules, const StopTable *stops, const RolloutOptions *o,
                   const int *idx, int n, int G, Group *out, double *gen_s, double *reward_s);
void group_free(Group *g);

// 1 when every completion of the group got the same reward (no learning signal).
int group_is_flat(const Group *g);

// Advantages of the groups (grpo_advantages over their rewards).
int rollout_advantages(Group *groups, int n, int scale_rewards);

#endif
