// Held-out evaluation: greedy pass@1 accuracy, and with k > 1 samples pass@k
// (any sample correct) and maj@k (the most common extracted answer is correct).
// "Correct" is the value of the rule set's verifier rule (the first math,
// countdown or code rule) reaching 1.
#ifndef GRPO_EVALUATE_H
#define GRPO_EVALUATE_H

#include "rl/rollout.h"

typedef struct {
    int n;                  // examples evaluated
    double accuracy;        // greedy pass@1
    double reward_mean;     // mean total reward of the greedy completions
    double completion_len;  // mean greedy completion length in tokens
    int k;                  // samples per example for pass@k / maj@k (0 = not run)
    double pass_k, maj_k;
} EvalResult;

typedef struct {
    int n_max;          // at most this many examples (0 = all)
    int k;              // > 1: also sample k completions per example
    double temperature; // for the k samples
    long max_tokens;
    uint64_t seed;
    int workers;
    const char *out_path; // not NULL: every example's completions and scores as JSON lines (eval_write_jsonl)
} EvalOptions;

// The index of the verifier rule, or -1 when the set has none.
int eval_verifier_rule(const RuleSet *rules);

// 1 when the verifier rule `rule` (from eval_verifier_rule; -1 = none) says correct.
int eval_is_correct(const RuleScore *s, int rule);

// 1 when the majority vote of g's samples (extracted answers compared as
// text; a sample without an answer votes for nothing) is correct.
int eval_majority_correct(const Group *g, int rule);

// Writes `path` atomically: one JSON line per example, in dataset order,
// that `grpo reward --data` reads back (so edited rules can rescore an
// evaluation): the example's own fields, "completion" and "n_tokens" of the
// greedy completion, and "eval": {index, prompt, finish_reason, reward,
// correct (null without a verifier rule), components {rule: value}, details
// {rule: why}, and with sampled groups (k > 1) samples [{completion,
// n_tokens, finish_reason, reward, correct}] and majority_correct}.
int eval_write_jsonl(const char *path, const Group *greedy, const Group *sampled, int n, int k, const RuleSet *rules,
                     int rule);

int evaluate(const TrainEnv *e, const Dataset *data, const RuleSet *rules, const StopTable *stops, const EvalOptions *o,
             EvalResult *out);

#endif
