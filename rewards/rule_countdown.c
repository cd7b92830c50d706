// The `countdown` rule: the example's "nums" and "target" against the
// expression in the completion's <answer> (rewards/countdown.c does the work).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rewards/countdown.h"
#include "rewards/rule_impl.h"

typedef struct {
    char nums_field[64], target_field[64];
    int require_tag;
} CdState;

static const char *const CD_KEYS[] = {"nums_field", "target_field", "require_tag", NULL};

static int cdr_parse(void **out, const cJSON *r, const RuleParseCtx *ctx, char *err, size_t errlen) {
    const char *nf = "nums", *tf = "target";
    int req = 1;
    if (ropt_string(r, "nums_field", &nf, err, errlen) || ropt_string(r, "target_field", &tf, err, errlen) ||
        ropt_bool(r, "require_tag", &req, err, errlen))
        return -1;
    CdState *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(s->nums_field, sizeof s->nums_field, "%s", nf);
    snprintf(s->target_field, sizeof s->target_field, "%s", tf);
    s->require_tag = req;
    *out = s;
    return 0;
}

static int cd_whole(const cJSON *v, long long *out) {
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 1e15) return 0;
    *out = (long long)v->valuedouble;
    return 1;
}

static int cdr_score(const void *st, const RuleInput *in, double *value, char *detail, size_t dn, char *err,
                     size_t errlen) {
    const CdState *s = st;
    const cJSON *nums = cJSON_GetObjectItemCaseSensitive(in->example, s->nums_field);
    const cJSON *tgt = cJSON_GetObjectItemCaseSensitive(in->example, s->target_field);
    long long n[COUNTDOWN_MAX_NUMS], target;
    int k = cJSON_GetArraySize(nums);
    if (!cJSON_IsArray(nums) || k < 1 || k > COUNTDOWN_MAX_NUMS) {
        snprintf(err, errlen, "the example needs \"%s\": a list of 1 to %d whole numbers", s->nums_field, COUNTDOWN_MAX_NUMS);
        return -1;
    }
    for (int i = 0; i < k; i++)
        if (!cd_whole(cJSON_GetArrayItem(nums, i), &n[i])) {
            snprintf(err, errlen, "\"%s\"[%d] is not a whole number", s->nums_field, i);
            return -1;
        }
    if (!cd_whole(tgt, &target)) {
        snprintf(err, errlen, "the example needs \"%s\": a whole number", s->target_field);
        return -1;
    }
    *value = countdown_score(in->completion, n, k, target, s->require_tag, detail, dn);
    return 0;
}

const RuleType rule_type_countdown = {"countdown", CD_KEYS, cdr_parse, cdr_score, free};
