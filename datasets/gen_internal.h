// Shared by the generator files only: their entry points and a growing string.
#ifndef GRPO_GEN_INTERNAL_H
#define GRPO_GEN_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>

#include "datasets/gen.h"

int gen_countdown(const GenOptions *o, GenRng *r, cJSON **out);
int gen_arithmetic(const GenOptions *o, GenRng *r, cJSON **out);
int gen_letters(const GenOptions *o, GenRng *r, cJSON **out);

typedef struct {
    char *s;
    size_t len, cap;
    int oom; // an append failed: the text is incomplete
} GenBuf;

void genbuf_printf(GenBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void genbuf_free(GenBuf *b);

// Adds "question", "answer" and, when worked, "completion" =
// "<think> THINK </think> <answer>ANSWER</answer>" to a new object in *out.
int gen_finish(cJSON **out, const char *question, const char *answer, const char *think, int worked);

#endif
