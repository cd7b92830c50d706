#include "rl/suggest.h"

#include <string.h>

int suggest_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 254) la = 254;
    if (lb > 254) lb = 254;
    unsigned char row[256];
    for (size_t j = 0; j <= lb; j++) row[j] = (unsigned char)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned char diag = row[0];
        row[0] = (unsigned char)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned char up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = (unsigned char)(best > 255 ? 255 : best);
            diag = up;
        }
    }
    return row[lb];
}

const char *suggest_closest(const char *word, const char *const *cands, int n) {
    const char *best = NULL;
    int best_d = 1 << 30;
    for (int i = 0; i < n; i++) {
        int d = suggest_distance(word, cands[i]);
        if (d < best_d) {
            best_d = d;
            best = cands[i];
        }
    }
    // Allow about one edit per three characters: "lerning_rate" -> "learning_rate"
    // but not "x" -> "seed".
    int len = (int)strlen(word);
    int limit = len <= 3 ? 1 : len / 3 + 1;
    return best && best_d <= limit ? best : NULL;
}
