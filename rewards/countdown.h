// Countdown (the TinyZero arithmetic puzzle): reach `target` from the given
// numbers, each used exactly once, with + - * / and parentheses. Checked with
// exact rational arithmetic (GMP mpq), so 7/2*2 = 7 holds and no float rounding
// can pass a wrong answer. Thread-safe.
#ifndef GRPO_REWARDS_COUNTDOWN_H
#define GRPO_REWARDS_COUNTDOWN_H

#include <stddef.h>

#define COUNTDOWN_MAX_NUMS 16   // numbers in one puzzle
#define COUNTDOWN_MAX_EXPR 1024 // bytes of one answer expression

// 1 when `expr` is a correct solution, 0 when not; detail says why either way
// ("(1+2)*3 = 9 = target", "uses 5 twice (given once)", "division by zero").
// Accepts "expr = target" (the right-hand side must be the target itself).
// Allowed: whole numbers, + - * /, parentheses, unary minus, spaces.
// Not allowed: '**' or '^', decimals, other characters, implicit multiplication.
int countdown_check(const char *expr, const long long *nums, int n_nums, long long target, char *detail,
                    size_t dn);

// The text of the last <answer>...</answer> after the thinking (after the last
// </think> when there is one; an unclosed <think> has no answer). Returns 1 and
// fills out (truncated to on-1 bytes), or 0 with the reason in out.
int countdown_extract(const char *completion, char *out, size_t on);

// extract + check: 1.0 or 0.0 with a one-line detail. When require_tag is 0 and
// no <answer> tag is present, the text after </think> (or the whole completion)
// is taken as the expression.
double countdown_score(const char *completion, const long long *nums, int n_nums, long long target,
                       int require_tag, char *detail, size_t dn);

#endif
