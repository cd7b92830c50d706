#include "rewards/shaping.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double shaping_overlong(int n_tokens, int max_tokens, int buffer) {
    int soft = max_tokens - buffer;
    if (n_tokens <= soft) return 0.0;
    if (n_tokens > max_tokens) return -1.0;
    return (double)(soft - n_tokens) / (double)buffer; // buffer > 0 here
}

double shaping_cosine(int len, int max_len, int correct, double min_correct, double max_correct, double min_wrong,
                      double max_wrong) {
    double progress = len < 0 ? 0.0 : len >= max_len ? 1.0 : (double)len / (double)max_len;
    double c = cos(progress * M_PI);
    // At len 0 the value is the "max" end, at max_len the "min" end. For wrong
    // answers the ends swap so that thinking longer before a wrong answer costs less.
    double at_zero = correct ? max_correct : min_wrong;
    double at_max = correct ? min_correct : max_wrong;
    return at_max + 0.5 * (at_zero - at_max) * (1.0 + c);
}

typedef struct {
    const char *p;
    int len;
} Word;

// Orders n-grams by their words (byte-wise, then by length); ctx is n.
static int ngram_cmp(const void *a, const void *b, void *ctx) {
    const Word *x = *(const Word *const *)a, *y = *(const Word *const *)b;
    int n = *(const int *)ctx;
    for (int k = 0; k < n; k++) {
        int m = x[k].len < y[k].len ? x[k].len : y[k].len;
        int c = memcmp(x[k].p, y[k].p, (size_t)m);
        if (c) return c;
        if (x[k].len != y[k].len) return x[k].len < y[k].len ? -1 : 1;
    }
    return 0;
}

int shaping_repetition(const char *text, int n, double max_penalty, double *value, long *total, long *unique) {
    *value = 0.0;
    if (total) *total = 0;
    if (unique) *unique = 0;
    size_t len = strlen(text);
    char *low = malloc(len + 1);
    Word *w = malloc((len / 2 + 1) * sizeof *w); // at most one word per two bytes
    if (!low || !w) {
        free(low);
        free(w);
        return -1;
    }
    long nw = 0;
    for (size_t i = 0; i <= len; i++) low[i] = (text[i] >= 'A' && text[i] <= 'Z') ? (char)(text[i] + 32) : text[i];
    for (size_t i = 0; i < len;) {
        // Python's str.split() whitespace, ASCII part.
        while (i < len && (low[i] == ' ' || (low[i] >= '\t' && low[i] <= '\r') || (low[i] >= 0x1c && low[i] <= 0x1f))) i++;
        if (i >= len) break;
        size_t j = i;
        while (j < len && !(low[j] == ' ' || (low[j] >= '\t' && low[j] <= '\r') || (low[j] >= 0x1c && low[j] <= 0x1f))) j++;
        w[nw].p = low + i;
        w[nw].len = (int)(j - i);
        nw++;
        i = j;
    }
    int rc = 0;
    if (n >= 1 && nw >= n) {
        long ng = nw - n + 1;
        const Word **g = malloc((size_t)ng * sizeof *g);
        if (!g) rc = -1;
        else {
            for (long i = 0; i < ng; i++) g[i] = w + i;
            qsort_r(g, (size_t)ng, sizeof *g, ngram_cmp, &n);
            long u = 1;
            for (long i = 1; i < ng; i++) u += ngram_cmp(&g[i - 1], &g[i], &n) != 0;
            *value = (1.0 - (double)u / (double)ng) * max_penalty + 0.0; // + 0.0: no "-0" in output
            if (total) *total = ng;
            if (unique) *unique = u;
            free(g);
        }
    }
    free(low);
    free(w);
    return rc;
}
