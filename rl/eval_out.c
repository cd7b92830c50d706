// grpo eval --out: the evaluation's completions and scores as JSON lines
// that `grpo reward --data` reads back (see evaluate.h).
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/fileio.h"
#include "kernels/status.h"
#include "rl/evaluate.h"
#include "rl/json_text.h"

static cJSON *correct_json(const RuleScore *s, int rule) {
    return rule >= 0 ? cJSON_CreateBool(eval_is_correct(s, rule)) : cJSON_CreateNull();
}

// {"completion", "n_tokens", "finish_reason", "reward", "correct"} of sample i of g.
static cJSON *sample_json(const Group *g, int i, int rule) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    json_add_text(o, "completion", g->text[i]);
    cJSON_AddNumberToObject(o, "n_tokens", g->gen[i].n_tokens);
    cJSON_AddStringToObject(o, "finish_reason", gen_finish_name(g->gen[i].finish));
    cJSON_AddNumberToObject(o, "reward", g->reward[i]);
    cJSON_AddItemToObject(o, "correct", correct_json(&g->score[i], rule));
    return o;
}

// One example's line (without the newline), or NULL when memory runs out.
static char *example_line(const Group *g, const Group *s, int k, const RuleSet *rules, int rule) {
    cJSON *o = g->ex && cJSON_IsObject(g->ex) ? cJSON_Duplicate(g->ex, 1) : cJSON_CreateObject();
    cJSON *ev = cJSON_CreateObject(), *comp = cJSON_CreateObject(), *det = cJSON_CreateObject();
    char *line = NULL;
    if (!o || !ev || !comp || !det) goto out;
    // What `grpo reward` reads, in place of any fields of the same names.
    cJSON_DeleteItemFromObjectCaseSensitive(o, "completion");
    cJSON_DeleteItemFromObjectCaseSensitive(o, "n_tokens");
    cJSON_DeleteItemFromObjectCaseSensitive(o, "eval");
    json_add_text(o, "completion", g->text[0]);
    cJSON_AddNumberToObject(o, "n_tokens", g->gen[0].n_tokens);
    cJSON_AddNumberToObject(ev, "index", g->ex_idx);
    json_add_text(ev, "prompt", g->prompt_text);
    cJSON_AddStringToObject(ev, "finish_reason", gen_finish_name(g->gen[0].finish));
    cJSON_AddNumberToObject(ev, "reward", g->reward[0]);
    cJSON_AddItemToObject(ev, "correct", correct_json(&g->score[0], rule));
    for (int r = 0; r < rules_count(rules); r++) {
        cJSON_AddNumberToObject(comp, rules_name(rules, r), g->score[0].value[r]);
        json_add_text(det, rules_name(rules, r), g->score[0].detail[r]);
    }
    cJSON_AddItemToObject(ev, "components", comp);
    cJSON_AddItemToObject(ev, "details", det);
    comp = det = NULL;
    if (s) {
        cJSON *arr = cJSON_AddArrayToObject(ev, "samples");
        for (int i = 0; arr && i < k; i++) cJSON_AddItemToArray(arr, sample_json(s, i, rule));
        cJSON_AddItemToObject(ev, "majority_correct",
                              rule >= 0 ? cJSON_CreateBool(eval_majority_correct(s, rule)) : cJSON_CreateNull());
    }
    cJSON_AddItemToObject(o, "eval", ev);
    ev = NULL;
    line = cJSON_PrintUnformatted(o);
out:
    cJSON_Delete(o), cJSON_Delete(ev), cJSON_Delete(comp), cJSON_Delete(det);
    return line;
}

int eval_write_jsonl(const char *path, const Group *greedy, const Group *sampled, int n, int k, const RuleSet *rules,
                     int rule) {
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    if (!buf) return grpo_fail(GRPO_ENOMEM, "eval: out of memory writing %s", path);
    for (int i = 0; i < n; i++) {
        char *line = example_line(&greedy[i], sampled ? &sampled[i] : NULL, k, rules, rule);
        size_t ll = line ? strlen(line) : 0;
        if (line && len + ll + 1 > cap) {
            while (len + ll + 1 > cap) cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) cJSON_free(line), line = NULL;
            else buf = nb;
        }
        if (!line) {
            free(buf);
            return grpo_fail(GRPO_ENOMEM, "eval: out of memory writing %s (example %d)", path, i);
        }
        memcpy(buf + len, line, ll);
        buf[len + ll] = '\n';
        len += ll + 1;
        cJSON_free(line);
    }
    int st = grpo_write_file_atomic(path, buf, len);
    free(buf);
    return st;
}
