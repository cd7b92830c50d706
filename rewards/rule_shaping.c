// The shaping rules `overlong`, `length` and `repetition` (formulas in shaping.h).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rewards/didyoumean.h"
#include "rewards/rule_impl.h"
#include "rewards/shaping.h"

static int need_tokens(const RuleInput *in, char *err, size_t errlen) {
    if (in->n_tokens >= 0) return 0;
    snprintf(err, errlen, "needs the completion's length in tokens (\"n_tokens\" in the example)");
    return -1;
}

// ---------------------------------------------------------------- overlong
typedef struct {
    long max_tokens, buffer;
} OvState;

static const char *const OV_KEYS[] = {"max_tokens", "buffer", NULL};

static int ov_parse(void **out, const cJSON *r, const RuleParseCtx *ctx, char *err, size_t errlen) {
    OvState s = {0, 0};
    if (ropt_require(r, "max_tokens", err, errlen) || ropt_require(r, "buffer", err, errlen) ||
        ropt_int(r, "max_tokens", 1, 1L << 30, &s.max_tokens, err, errlen) ||
        ropt_int(r, "buffer", 1, 1L << 30, &s.buffer, err, errlen))
        return -1;
    if (s.buffer > s.max_tokens) {
        snprintf(err, errlen, "'buffer' (%ld) must not exceed 'max_tokens' (%ld)", s.buffer, s.max_tokens);
        return -1;
    }
    OvState *p = malloc(sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *p = s;
    *out = p;
    return 0;
}

static int ov_score(const void *st, const RuleInput *in, double *value, char *detail, size_t dn, char *err,
                    size_t errlen) {
    const OvState *s = st;
    if (need_tokens(in, err, errlen)) return -1;
    *value = shaping_overlong(in->n_tokens, (int)s->max_tokens, (int)s->buffer);
    long soft = s->max_tokens - s->buffer;
    if (in->n_tokens <= soft) snprintf(detail, dn, "%d tokens <= %ld: no penalty", in->n_tokens, soft);
    else if (in->n_tokens <= s->max_tokens)
        snprintf(detail, dn, "%d tokens, %ld into the %ld-token buffer before %ld", in->n_tokens, in->n_tokens - soft,
                 s->buffer, s->max_tokens);
    else snprintf(detail, dn, "%d tokens > max %ld", in->n_tokens, s->max_tokens);
    return 0;
}

const RuleType rule_type_overlong = {"overlong", OV_KEYS, ov_parse, ov_score, free};

// ---------------------------------------------------------------- length
typedef struct {
    long max_len;
    double min_correct, max_correct, min_wrong, max_wrong, threshold;
    int correct_rule;
    char correct_name[64];
} LenState;

static const char *const LEN_KEYS[] = {"correct_rule", "correct_threshold", "max_len", "min_value_correct",
                                       "max_value_correct", "min_value_wrong", "max_value_wrong", NULL};

static int len_parse(void **out, const cJSON *r, const RuleParseCtx *ctx, char *err, size_t errlen) {
    LenState s = {1000, 0.5, 1.0, -1.0, -0.5, 1.0, -1, ""};
    const char *cr = NULL;
    if (ropt_require(r, "correct_rule", err, errlen) || ropt_string(r, "correct_rule", &cr, err, errlen) ||
        ropt_int(r, "max_len", 1, 1L << 30, &s.max_len, err, errlen) ||
        ropt_number(r, "min_value_correct", -1e6, 1e6, &s.min_correct, err, errlen) ||
        ropt_number(r, "max_value_correct", -1e6, 1e6, &s.max_correct, err, errlen) ||
        ropt_number(r, "min_value_wrong", -1e6, 1e6, &s.min_wrong, err, errlen) ||
        ropt_number(r, "max_value_wrong", -1e6, 1e6, &s.max_wrong, err, errlen) ||
        ropt_number(r, "correct_threshold", -1e6, 1e6, &s.threshold, err, errlen))
        return -1;
    for (int i = 0; i < ctx->index; i++)
        if (!strcmp(ctx->names[i], cr)) s.correct_rule = i;
    if (s.correct_rule < 0) {
        char hint[96];
        snprintf(err, errlen, "'correct_rule' names '%s', which is not an earlier rule%s", cr,
                 dym_hint(hint, sizeof hint, cr, ctx->names, ctx->index));
        return -1;
    }
    snprintf(s.correct_name, sizeof s.correct_name, "%s", cr);
    LenState *p = malloc(sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *p = s;
    *out = p;
    return 0;
}

static int len_score(const void *st, const RuleInput *in, double *value, char *detail, size_t dn, char *err,
                     size_t errlen) {
    const LenState *s = st;
    if (need_tokens(in, err, errlen)) return -1;
    double cv = in->values[s->correct_rule];
    int correct = cv >= s->threshold;
    *value = shaping_cosine(in->n_tokens, (int)s->max_len, correct, s->min_correct, s->max_correct, s->min_wrong,
                            s->max_wrong);
    snprintf(detail, dn, "%s (%s = %g), %d of %ld tokens", correct ? "correct" : "wrong", s->correct_name, cv,
             in->n_tokens, s->max_len);
    return 0;
}

const RuleType rule_type_length = {"length", LEN_KEYS, len_parse, len_score, free};

// ---------------------------------------------------------------- repetition
typedef struct {
    long ngram;
    double max_penalty;
} RepState;

static const char *const REP_KEYS[] = {"ngram", "max_penalty", NULL};

static int rep_parse(void **out, const cJSON *r, const RuleParseCtx *ctx, char *err, size_t errlen) {
    RepState s = {3, -1.0};
    if (ropt_int(r, "ngram", 1, 64, &s.ngram, err, errlen) ||
        ropt_number(r, "max_penalty", -1e6, 0.0, &s.max_penalty, err, errlen))
        return -1;
    RepState *p = malloc(sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *p = s;
    *out = p;
    return 0;
}

static int rep_score(const void *st, const RuleInput *in, double *value, char *detail, size_t dn, char *err,
                     size_t errlen) {
    const RepState *s = st;
    long total, unique;
    if (shaping_repetition(in->completion, (int)s->ngram, s->max_penalty, value, &total, &unique)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (total == 0) snprintf(detail, dn, "fewer than %ld words: no penalty", s->ngram);
    else snprintf(detail, dn, "%ld of %ld %ld-grams are repeats", total - unique, total, s->ngram);
    return 0;
}

const RuleType rule_type_repetition = {"repetition", REP_KEYS, rep_parse, rep_score, free};
