// The `math` rule: math_verify (rewards/math.c) of the completion against the
// example's gold answer.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rewards/didyoumean.h"
#include "rewards/math.h"
#include "rewards/rule_impl.h"

typedef struct {
    MathOptions opt;
    char answer_field[64];
} MathState;

static const char *const MATH_KEYS[] = {"extract", "rel_tol", "time_limit_ms", "answer_field", NULL};
static const char *const MATH_EXTRACT[] = {"answer_tag", "boxed", "gsm8k", "answer_is", "last_number", NULL};

static int mr_parse(void **out, const cJSON *r, const RuleParseCtx *ctx, char *err, size_t errlen) {
    MathState s;
    math_options_default(&s.opt);
    const char *af = "answer";
    long ms = s.opt.time_limit_ms;
    if (ropt_number(r, "rel_tol", 0.0, 1.0, &s.opt.rel_tol, err, errlen) ||
        ropt_int(r, "time_limit_ms", 1, 600000, &ms, err, errlen) || ropt_string(r, "answer_field", &af, err, errlen))
        return -1;
    s.opt.time_limit_ms = (int)ms;
    snprintf(s.answer_field, sizeof s.answer_field, "%s", af);
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(r, "extract");
    if (ex) {
        int n = cJSON_GetArraySize(ex);
        int cap = (int)(sizeof s.opt.order / sizeof s.opt.order[0]);
        if (!cJSON_IsArray(ex) || n < 1 || n > cap) {
            snprintf(err, errlen, "option 'extract' must be a list of 1 to %d of: answer_tag, boxed, gsm8k, answer_is, last_number", cap);
            return -1;
        }
        for (int i = 0; i < n; i++) {
            const cJSON *x = cJSON_GetArrayItem(ex, i);
            int k = cJSON_IsString(x) ? math_extract_kind_parse(x->valuestring) : -1;
            if (k < 0) {
                char hint[64] = "";
                if (cJSON_IsString(x)) dym_hint(hint, sizeof hint, x->valuestring, MATH_EXTRACT, -1);
                snprintf(err, errlen, "extract[%d]: unknown method '%s'%s; methods: answer_tag, boxed, gsm8k, answer_is, last_number",
                         i, cJSON_IsString(x) ? x->valuestring : "(not a string)", hint);
                return -1;
            }
            s.opt.order[i] = (MathExtractKind)k;
        }
        s.opt.n_order = n;
    }
    MathState *p = malloc(sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *p = s;
    *out = p;
    return 0;
}

static int mr_score(const void *st, const RuleInput *in, double *value, char *detail, size_t dn, char *err,
                    size_t errlen) {
    const MathState *s = st;
    char buf[64];
    const char *gold = rin_field_text(in->example, s->answer_field, buf, sizeof buf);
    if (!gold) {
        snprintf(err, errlen, "the example has no \"%s\" (a string or a number) to compare with", s->answer_field);
        return -1;
    }
    *value = math_verify(in->completion, gold, &s->opt, detail, dn);
    return 0;
}

const RuleType rule_type_math = {"math", MATH_KEYS, mr_parse, mr_score, free};
