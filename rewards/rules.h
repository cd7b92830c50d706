// The reward rule set: a JSON file (or a built-in preset) listing rules, each
// with a name, a type, a weight and options. A completion's reward is the
// weighted sum of the rules' values; every rule also gives a one-line detail
// saying why. The format and every rule type are documented in rules.c's
// header comment and in the README section "Reward rules".
//
// Rules are scored in file order, so a rule may use an earlier rule's value
// (the `length` rule's "correct_rule"). A loaded RuleSet is read-only: scoring
// from many threads at once is safe.
#ifndef GRPO_REWARDS_RULES_H
#define GRPO_REWARDS_RULES_H

#include <stddef.h>

#include <cjson/cJSON.h>

#define RULES_MAX 32

typedef struct RuleSet RuleSet;

// A rules file, or a preset by name ("math", "code", "countdown"). A name with
// no '/' and no ".json" that is a preset means the preset; anything else is a path.
int  rules_load(const char *path_or_preset, RuleSet **out, char *err, size_t errlen);
// Parses rule-set JSON text; `origin` names it in errors (a path or "preset 'math'").
// Errors name the origin, the rule ("rules[1] 'accuracy'") and the key, with a
// "did you mean" for misspelt keys, types and flags.
int  rules_parse(const char *json, const char *origin, RuleSet **out, char *err, size_t errlen);
void rules_free(RuleSet *r);
int  rules_count(const RuleSet *r);
const char *rules_name(const RuleSet *r, int i);
const char *rules_type(const RuleSet *r, int i);
double rules_weight(const RuleSet *r, int i);

// The JSON text of a built-in preset, or NULL when there is none by that name.
const char *rules_preset(const char *name);

typedef struct {
    double reward;              // sum of weight[i] * value[i]
    int n;                      // number of rules
    double value[RULES_MAX];    // rule i's unweighted value
    char detail[RULES_MAX][256];
    char error[256];            // "" when scored; else why not (rules_score_batch fills it per item)
} RuleScore;

// n_tokens: the completion's length in tokens (overlong/length rules need it; -1 if unknown).
// Returns 0, or -1 with err ("rule 'accuracy': the example has no \"answer\"") when the
// example lacks what a rule needs. A bad completion is never an error: it scores low.
int  rules_score(const RuleSet *r, const char *completion, const cJSON *example, int n_tokens,
                 RuleScore *out, char *err, size_t errlen);

// Scores n completions on a pool of `workers` threads (<= 0: one per CPU); code
// rules thus run their sandboxes in parallel. out[i] belongs to completions[i]
// whatever the scheduling. n_tokens may be NULL (all unknown). Every item is
// scored even when some fail; a failed item has out[i].error set. Returns 0 when
// all succeeded, else -1 with the first failure ("completion 3: ...") in err.
int  rules_score_batch(const RuleSet *r, const char *const *completions, const cJSON *const *examples,
                       const int *n_tokens, int n, int workers, RuleScore *out, char *err, size_t errlen);

#endif
