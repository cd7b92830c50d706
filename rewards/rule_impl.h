// Internal to rewards/: what one rule type provides to the rule set (rules.c).
// Each type lives in its own rule_TYPE.c and is listed in rules.c's table.
#ifndef GRPO_REWARDS_RULE_IMPL_H
#define GRPO_REWARDS_RULE_IMPL_H

#include <cjson/cJSON.h>
#include <stddef.h>

// What a rule's parse step may look at besides its own JSON object.
typedef struct {
    const char *const *names; // names of the rules before this one
    int index;                // this rule's index (= how many names there are)
} RuleParseCtx;

// What a rule's score step sees.
typedef struct {
    const char *completion;
    const cJSON *example;  // the dataset line (reference fields); never NULL
    int n_tokens;          // -1 when unknown
    const double *values;  // unweighted values of the rules before this one
} RuleInput;

typedef struct {
    const char *name;         // the "type" string
    const char *const *keys;  // its option keys, NULL-terminated (name/type/weight/comment are common)
    // Reads the options into *state; on error writes why (no prefix) and returns -1.
    int (*parse)(void **state, const cJSON *rule, const RuleParseCtx *ctx, char *err, size_t errlen);
    // Scores one completion: 0 with *value and a one-line detail, or -1 with err
    // when the example lacks what the rule needs (not for a bad completion).
    int (*score)(const void *state, const RuleInput *in, double *value, char *detail, size_t dn, char *err,
                 size_t errlen);
    void (*free)(void *state);
} RuleType;

extern const RuleType rule_type_math, rule_type_code, rule_type_regex, rule_type_countdown, rule_type_overlong, rule_type_length,
    rule_type_repetition;

// Option readers: absent keys keep *out (the default); present ones must have the
// right JSON type and range, else -1 with "option 'key' must be ..." in err.
int ropt_number(const cJSON *r, const char *key, double lo, double hi, double *out, char *err, size_t errlen);
int ropt_int(const cJSON *r, const char *key, long lo, long hi, long *out, char *err, size_t errlen);
int ropt_bool(const cJSON *r, const char *key, int *out, char *err, size_t errlen);
int ropt_string(const cJSON *r, const char *key, const char **out, char *err, size_t errlen);
// A required option: -1 with "missing option 'key'" when absent.
int ropt_require(const cJSON *r, const char *key, char *err, size_t errlen);

// The example's field as text: a string as is, a number printed exactly
// ("85", "0.5"); NULL when absent or of another type.
const char *rin_field_text(const cJSON *example, const char *key, char *buf, size_t bn);

// Copies src into dst making it one line (control characters become spaces).
void rin_one_line(char *dst, size_t dn, const char *src, size_t max_src);

#endif
