// Reward shaping by length and repetition: pure functions behind the
// `overlong`, `length` and `repetition` rules.
#ifndef GRPO_REWARDS_SHAPING_H
#define GRPO_REWARDS_SHAPING_H

// DAPO's soft overlong punishment (Yu et al. 2025, eq. 13): 0 up to
// max_tokens - buffer, then falling linearly to -1 at max_tokens, -1 beyond.
double shaping_overlong(int n_tokens, int max_tokens, int buffer);

// Cosine length scaling (Yeo et al. 2025, "Demystifying Long Chain-of-Thought
// Reasoning in LLMs", as in open-r1's cosine_scaled reward): with
// progress = min(len, max_len) / max_len and c = cos(progress * pi),
//   correct: min_correct + (max_correct - min_correct) * (1 + c) / 2
//            (short correct answers earn most),
//   wrong:   max_wrong   + (min_wrong - max_wrong)   * (1 + c) / 2
//            (short wrong answers are punished most; long ones less).
// open-r1's defaults: min_correct 0.5, max_correct 1.0, min_wrong -1.0, max_wrong -0.5.
double shaping_cosine(int len, int max_len, int correct, double min_correct, double max_correct, double min_wrong,
                      double max_wrong);

// n-gram repetition penalty (open-r1's repetition_penalty reward, after Yeo et
// al.): the text is lower-cased (ASCII) and split on whitespace; with `total`
// word n-grams of which `unique` are distinct, the value is
// (1 - unique / total) * max_penalty (max_penalty <= 0), and 0 when the text has
// fewer than n words. Fills *total and *unique when not NULL.
// Returns 0, or -1 when memory runs out.
int shaping_repetition(const char *text, int n, double max_penalty, double *value, long *total, long *unique);

#endif
