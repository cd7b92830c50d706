// Math answer verifier: pulls the final answer out of a completion, normalises
// the LaTeX/plain text and decides equivalence with the gold answer by parsing
// both into expressions and evaluating them (exact GMP rationals where values
// are rational, numeric evaluation at random points otherwise).
// Every function is thread-safe: no static mutable state.
#ifndef GRPO_REWARDS_MATH_H
#define GRPO_REWARDS_MATH_H

#include <stddef.h>

typedef enum { MATH_X_ANSWER_TAG, MATH_X_BOXED, MATH_X_GSM8K, MATH_X_ANSWER_IS, MATH_X_LAST_NUMBER } MathExtractKind;

typedef struct {
    MathExtractKind order[8]; // extraction methods, tried in this order
    int n_order;
    double rel_tol;           // relative tolerance when a decimal meets a value it cannot write exactly
    int time_limit_ms;        // per check (<= 0: 2000); over it the verdict is "not equal (time limit)"
} MathOptions;

// order: answer_tag, boxed, gsm8k, answer_is, last_number; rel_tol 1e-6; 2000 ms.
void math_options_default(MathOptions *o);

// "answer_tag", "boxed", "gsm8k", "answer_is", "last_number" -> kind; -1 if unknown.
int math_extract_kind_parse(const char *name);

// Extracts the final answer of `completion`; returns 1 and fills answer / where
// ("<answer>", "\\boxed{}", "####", "the answer is", "last number"), or returns 0
// and puts the reason in where ("unclosed <think>", "nothing matched").
int math_extract(const char *completion, const MathOptions *o, char *answer, size_t an, char *where,
                 size_t wn);

// 1 when pred and gold are mathematically equivalent, else 0; why gets a short
// reason. Never crashes or hangs (time limit, caps on sizes and exponents).
int math_equivalent(const char *pred, const char *gold, const MathOptions *o, char *why, size_t wn);

// extract + compare: 1.0 or 0.0, with a one-line detail such as
// "extracted 85 from <answer>; gold 85; equal".
double math_verify(const char *completion, const char *gold, const MathOptions *o, char *detail,
                   size_t dn);

#endif
