// Comparisons of generate() results for the generation tests.
#ifndef GRPO_TU_GEN_H
#define GRPO_TU_GEN_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "policy/generate.h"
#include "testlib.h"

// np random prompts, lengths 1..12, ids below vocab, drawn from *seed:
// prompts[p] points into buf[p].
static inline void tu_gen_prompts(int32_t (*buf)[12], const int32_t **prompts, int *lens, int np, uint64_t *seed,
                                  int vocab) {
    for (int p = 0; p < np; p++) {
        lens[p] = 1 + (int)(tu_rand_u64(seed) % 12);
        for (int i = 0; i < lens[p]; i++) buf[p][i] = (int32_t)(tu_rand_u64(seed) % (uint64_t)vocab);
        prompts[p] = buf[p];
    }
}

// 1 when a and b (n sequences) agree bit for bit (tokens, log-probs, lengths,
// finish reasons); a CHECK failure names each sequence that does not.
static inline int tu_gen_same(const char *tag, const GenResult *a, const GenResult *b, int n) {
    int ok = 1;
    for (int s = 0; s < n; s++) {
        int eq = a[s].n_tokens == b[s].n_tokens && a[s].finish == b[s].finish &&
                 !memcmp(a[s].tokens, b[s].tokens, (size_t)a[s].n_tokens * sizeof(int32_t)) &&
                 !memcmp(a[s].logprobs, b[s].logprobs, (size_t)a[s].n_tokens * sizeof(float));
        CHECK(eq, "%s: sequence %d differs (%d vs %d tokens)", tag, s, a[s].n_tokens, b[s].n_tokens);
        ok &= eq;
    }
    return ok;
}

// Tokens, lengths and finish reasons equal, log-probs within tol (CHECKed);
// returns 1 when the log-probs are also bit-identical.
static inline int tu_gen_close(const char *tag, const GenResult *a, const GenResult *b, int n, float tol) {
    int bits = 1;
    for (int s = 0; s < n; s++) {
        int eq = a[s].n_tokens == b[s].n_tokens && a[s].finish == b[s].finish &&
                 !memcmp(a[s].tokens, b[s].tokens, (size_t)a[s].n_tokens * sizeof(int32_t));
        CHECK(eq, "%s: sequence %d: other tokens (%d vs %d)", tag, s, a[s].n_tokens, b[s].n_tokens);
        bits &= eq;
        for (int i = 0; eq && i < a[s].n_tokens; i++) {
            CHECK(fabsf(a[s].logprobs[i] - b[s].logprobs[i]) <= tol, "%s: sequence %d token %d: %g vs %g", tag, s, i,
                  a[s].logprobs[i], b[s].logprobs[i]);
            bits &= a[s].logprobs[i] == b[s].logprobs[i];
        }
    }
    return bits;
}

#endif
