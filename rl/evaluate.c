#include "rl/evaluate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/status.h"
#include "rewards/math.h"

int eval_verifier_rule(const RuleSet *rules) {
    for (int i = 0; i < rules_count(rules); i++) {
        const char *t = rules_type(rules, i);
        if (!strcmp(t, "math") || !strcmp(t, "countdown") || !strcmp(t, "code")) return i;
    }
    return -1;
}

int eval_is_correct(const RuleScore *s, int rule) { return rule >= 0 && s->value[rule] >= 1.0 - 1e-9; }

int eval_majority_correct(const Group *g, int rule) {
    MathOptions mo;
    math_options_default(&mo);
    int best = -1, best_votes = 0;
    char (*ans)[256] = calloc((size_t)g->G, sizeof *ans);
    int *has = calloc((size_t)g->G, sizeof *has);
    if (!ans || !has) {
        free(ans), free(has);
        return 0;
    }
    for (int i = 0; i < g->G; i++) {
        char where[64];
        has[i] = math_extract(g->text[i], &mo, ans[i], sizeof ans[i], where, sizeof where);
    }
    for (int i = 0; i < g->G; i++) {
        if (!has[i]) continue;
        int votes = 0;
        for (int j = 0; j < g->G; j++) votes += has[j] && !strcmp(ans[i], ans[j]);
        if (votes > best_votes) best_votes = votes, best = i;
    }
    int ok = best >= 0 && eval_is_correct(&g->score[best], rule);
    free(ans), free(has);
    return ok;
}

int evaluate(const TrainEnv *e, const Dataset *data, const RuleSet *rules, const StopTable *stops, const EvalOptions *o,
             EvalResult *out) {
    memset(out, 0, sizeof *out);
    int n = ds_count(data);
    if (o->n_max > 0 && o->n_max < n) n = o->n_max;
    if (n == 0) return grpo_fail(GRPO_EINVAL, "evaluation: no examples");
    const int rule = eval_verifier_rule(rules);
    int *idx = malloc((size_t)n * sizeof(int));
    Group *groups = calloc((size_t)n, sizeof(Group)), *sampled = calloc((size_t)n, sizeof(Group));
    if (!idx || !groups || !sampled) {
        free(idx), free(groups), free(sampled);
        return grpo_fail(GRPO_ENOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) idx[i] = i;
    RolloutOptions ro = {0.0, 1.0, 0.0, 0, o->max_tokens, o->seed, o->workers, 0, NULL};
    double gs, rs;
    int st = rollout_groups(e, data, rules, stops, &ro, idx, n, 1, groups, &gs, &rs);
    if (!st) {
        double correct = 0, reward = 0, len = 0;
        for (int i = 0; i < n; i++) {
            correct += eval_is_correct(&groups[i].score[0], rule);
            reward += groups[i].reward[0];
            len += groups[i].gen[0].n_tokens;
        }
        out->n = n;
        out->accuracy = rule >= 0 ? correct / n : NAN;
        out->reward_mean = reward / n;
        out->completion_len = len / n;
    }
    if (!st && o->k > 1) {
        ro.temperature = o->temperature;
        st = rollout_groups(e, data, rules, stops, &ro, idx, n, o->k, sampled, &gs, &rs);
        if (!st) {
            double pass = 0, maj = 0;
            for (int i = 0; i < n; i++) {
                int any = 0;
                for (int k = 0; k < o->k; k++) any |= eval_is_correct(&sampled[i].score[k], rule);
                pass += any;
                maj += eval_majority_correct(&sampled[i], rule);
            }
            out->k = o->k;
            out->pass_k = rule >= 0 ? pass / n : NAN;
            out->maj_k = rule >= 0 ? maj / n : NAN;
        }
    }
    if (!st && o->out_path) st = eval_write_jsonl(o->out_path, groups, o->k > 1 ? sampled : NULL, n, o->k, rules, rule);
    for (int i = 0; i < n; i++) group_free(&groups[i]), group_free(&sampled[i]);
    free(idx), free(groups), free(sampled);
    return st;
}
