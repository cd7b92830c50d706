// "did you mean": the closest of a set of names to a misspelt one.
#ifndef GRPO_SUGGEST_H
#define GRPO_SUGGEST_H

// Returns the candidate with the smallest edit distance to `word` when that
// distance is small relative to the word's length, else NULL.
const char *suggest_closest(const char *word, const char *const *cands, int n);

// Levenshtein distance (bytes), capped at 255 for long inputs.
int suggest_distance(const char *a, const char *b);

#endif
