// "did you mean": the nearest known name to a misspelt one, for rule-set errors.
// rewards/ stands alone, so it carries its own copy of this small helper.
#ifndef GRPO_REWARDS_DIDYOUMEAN_H
#define GRPO_REWARDS_DIDYOUMEAN_H

#include <stddef.h>

// Optimal-string-alignment distance (edits, with adjacent swaps counting once),
// over the first 63 bytes of each string.
int dym_distance(const char *a, const char *b);

// The candidate nearest to `word` when it is close enough to be a likely typo
// (about one edit per three characters), else NULL. `cands` may be NULL-terminated
// (n < 0) or have n entries.
const char *dym_closest(const char *word, const char *const *cands, int n);

// Writes " (did you mean 'X'?)" into buf when a candidate is close, else "".
// Returns buf so it can go straight into a format argument.
const char *dym_hint(char *buf, size_t bn, const char *word, const char *const *cands, int n);

#endif
