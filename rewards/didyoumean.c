#include "rewards/didyoumean.h"

#include <stdio.h>
#include <string.h>

#define DYM_MAX 63

int dym_distance(const char *a, const char *b) {
    size_t la = strnlen(a, DYM_MAX), lb = strnlen(b, DYM_MAX);
    // Three rows of the DP table: the swap case looks two rows back.
    int prev2[DYM_MAX + 1], prev[DYM_MAX + 1], cur[DYM_MAX + 1];
    for (size_t j = 0; j <= lb; j++) prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            int best = sub < del ? sub : del;
            if (ins < best) best = ins;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
        memcpy(prev2, prev, sizeof prev);
        memcpy(prev, cur, sizeof cur);
    }
    return prev[lb];
}

const char *dym_closest(const char *word, const char *const *cands, int n) {
    const char *best = NULL;
    int best_d = DYM_MAX + 1;
    for (int i = 0; n < 0 ? cands[i] != NULL : i < n; i++) {
        int d = dym_distance(word, cands[i]);
        if (d < best_d) {
            best_d = d;
            best = cands[i];
        }
    }
    int len = (int)strnlen(word, DYM_MAX);
    int limit = len <= 3 ? 1 : len / 3 + 1;
    return best && best_d <= limit ? best : NULL;
}

const char *dym_hint(char *buf, size_t bn, const char *word, const char *const *cands, int n) {
    const char *c = dym_closest(word, cands, n);
    if (c) snprintf(buf, bn, " (did you mean '%s'?)", c);
    else if (bn) buf[0] = '\0';
    return buf;
}
