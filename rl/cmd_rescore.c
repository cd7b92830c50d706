// `grpo rescore RUNFILE --rules NEW.json`: replays logged rollouts under edited
// reward rules without touching the run file -- how users tune rules on real
// rollouts before training with them.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/status.h"
#include "rewards/rules.h"
#include "rl/cli.h"
#include "rl/runread.h"
#include "rl/json_text.h"

typedef struct {
    char name[64];
    double before_sum, after_sum;
    int before_n, after_n;
} CompStat;

static CompStat *comp_get(CompStat *c, int *n, const char *name) {
    for (int i = 0; i < *n; i++)
        if (!strcmp(c[i].name, name)) return &c[i];
    if (*n >= 64) return NULL;
    CompStat *s = &c[(*n)++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    return s;
}

typedef struct {
    int i;
    double delta;
} Change;

static int by_delta(const void *a, const void *b) {
    double x = fabs(((const Change *)a)->delta), y = fabs(((const Change *)b)->delta);
    return (x < y) - (x > y);
}

static void excerpt(char *dst, size_t n, const char *s) {
    size_t j = 0;
    for (size_t i = 0; s && s[i] && j + 4 < n; i++) dst[j++] = s[i] == '\n' ? ' ' : s[i];
    if (s && strlen(s) > n - 4) strcpy(dst + (j < n - 4 ? j : n - 4), "...");
    else dst[j] = '\0';
}

static int run(int argc, char **argv) {
    const char *rules_spec = NULL;
    long step = -1, run_id = 0, top = 5, workers = 0;
    int json = 0;
    const char *pos[1];
    int npos = 0;
    CliOpt opts[] = {{"--rules", CLI_STR, &rules_spec}, {"--step", CLI_INT, &step}, {"--run", CLI_INT, &run_id},
                     {"--json", CLI_FLAG, &json},         {"--top", CLI_INT, &top},   {"--workers", CLI_INT, &workers}};
    int rc = cli_parse("rescore", argc, argv, opts, 6, pos, 1, &npos);
    if (rc) return rc;
    if (npos != 1 || !rules_spec) return cli_error("rescore", "expected RUNFILE --rules RULES (see 'grpo rescore --help')");
    char err[512];
    RuleSet *rules = NULL;
    if (rules_load(rules_spec, &rules, err, sizeof err)) return cli_error("rescore", "%s", err);
    RunLog *r = NULL;
    if (runread_open(pos[0], &r)) {
        rules_free(rules);
        return cli_fail("rescore");
    }
    RolloutFilter f;
    runread_filter_init(&f);
    f.run_id = run_id;
    f.step = (int)step;
    RolloutRow *rows = NULL;
    int n = 0;
    if (runread_rollouts(r, &f, &rows, &n)) {
        runlog_close(r);
        rules_free(rules);
        return cli_fail("rescore");
    }
    cJSON **ex = calloc((size_t)n + 1, sizeof *ex);
    const char **comps = calloc((size_t)n + 1, sizeof *comps);
    int *ntok = calloc((size_t)n + 1, sizeof *ntok);
    RuleScore *sc = calloc((size_t)n + 1, sizeof *sc);
    Change *ch = calloc((size_t)n + 1, sizeof *ch);
    if (!ex || !comps || !ntok || !sc || !ch) {
        rc = cli_error("rescore", "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        // Run files from before examples were logged carry only the gold answer.
        ex[i] = rows[i].example ? cJSON_Parse(rows[i].example) : NULL;
        if (!ex[i]) {
            ex[i] = cJSON_CreateObject();
            if (rows[i].gold) cJSON_AddStringToObject(ex[i], "answer", rows[i].gold);
        }
        comps[i] = rows[i].completion ? rows[i].completion : "";
        ntok[i] = rows[i].n_tokens;
    }
    if (n && rules_score_batch(rules, comps, (const cJSON *const *)ex, ntok, n, (int)workers, sc, err, sizeof err) != 0)
        fprintf(stderr, "grpo rescore: some rollouts could not be scored (%s); they count as unchanged\n", err);
    CompStat cs[64];
    int ncs = 0, changed = 0;
    double before = 0, after = 0;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < rows[i].n_rewards; j++) {
            CompStat *c = comp_get(cs, &ncs, rows[i].rewards[j].name);
            if (c) c->before_sum += rows[i].rewards[j].value, c->before_n++;
        }
        double nr = sc[i].error[0] ? rows[i].reward : sc[i].reward;
        if (!sc[i].error[0])
            for (int j = 0; j < sc[i].n; j++) {
                CompStat *c = comp_get(cs, &ncs, rules_name(rules, j));
                if (c) c->after_sum += sc[i].value[j], c->after_n++;
            }
        ch[i] = (Change){i, nr - rows[i].reward};
        changed += fabs(ch[i].delta) > 1e-9;
        before += rows[i].reward;
        after += nr;
    }
    qsort(ch, (size_t)n, sizeof *ch, by_delta);
    int shown = (int)(top < n ? top : n);
    while (shown > 0 && fabs(ch[shown - 1].delta) <= 1e-9) shown--;
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "rollouts", n);
        cJSON_AddNumberToObject(o, "changed", changed);
        cJSON_AddNumberToObject(o, "reward_mean_before", n ? before / n : 0);
        cJSON_AddNumberToObject(o, "reward_mean_after", n ? after / n : 0);
        cJSON *cj = cJSON_AddObjectToObject(o, "components");
        for (int k = 0; k < ncs; k++) {
            cJSON *c = cJSON_AddObjectToObject(cj, cs[k].name);
            if (cs[k].before_n) cJSON_AddNumberToObject(c, "before", cs[k].before_sum / cs[k].before_n);
            else cJSON_AddNullToObject(c, "before");
            if (cs[k].after_n) cJSON_AddNumberToObject(c, "after", cs[k].after_sum / cs[k].after_n);
            else cJSON_AddNullToObject(c, "after");
        }
        cJSON *mc = cJSON_AddArrayToObject(o, "most_changed");
        for (int k = 0; k < shown; k++) {
            const RolloutRow *w = &rows[ch[k].i];
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "id", (double)w->id);
            cJSON_AddNumberToObject(e, "step", w->step);
            cJSON_AddNumberToObject(e, "prompt_idx", w->prompt_idx);
            cJSON_AddNumberToObject(e, "sample_idx", w->sample_idx);
            cJSON_AddNumberToObject(e, "reward_before", w->reward);
            cJSON_AddNumberToObject(e, "reward_after", w->reward + ch[k].delta);
            json_add_text(e, "completion", w->completion);
            cJSON *d = cJSON_AddObjectToObject(e, "details");
            for (int j = 0; j < sc[ch[k].i].n; j++) json_add_text(d, rules_name(rules, j), sc[ch[k].i].detail[j]);
            cJSON_AddItemToArray(mc, e);
        }
        char *s = cJSON_Print(o);
        puts(s);
        free(s);
        cJSON_Delete(o);
    } else {
        printf("%d rollouts rescored, %d rewards changed; mean reward %.4f -> %.4f\n\n", n, changed, n ? before / n : 0,
               n ? after / n : 0);
        printf("%-20s %10s %10s\n", "component", "before", "after");
        for (int k = 0; k < ncs; k++) {
            char b[32] = "-", a[32] = "-";
            if (cs[k].before_n) snprintf(b, sizeof b, "%.4f", cs[k].before_sum / cs[k].before_n);
            if (cs[k].after_n) snprintf(a, sizeof a, "%.4f", cs[k].after_sum / cs[k].after_n);
            printf("%-20s %10s %10s\n", cs[k].name, b, a);
        }
        if (shown) printf("\nmost changed:\n");
        for (int k = 0; k < shown; k++) {
            const RolloutRow *w = &rows[ch[k].i];
            char text[160];
            excerpt(text, sizeof text, w->completion);
            printf("  step %d prompt %d sample %d: %.3f -> %.3f  %s\n", w->step, w->prompt_idx, w->sample_idx, w->reward,
                   w->reward + ch[k].delta, text);
            for (int j = 0; j < sc[ch[k].i].n; j++) printf("      %-12s %s\n", rules_name(rules, j), sc[ch[k].i].detail[j]);
        }
    }
done:
    for (int i = 0; ex && i < n; i++) cJSON_Delete(ex[i]);
    free(ex), free(comps), free(ntok), free(sc), free(ch);
    runread_free_rollouts(rows, n);
    runlog_close(r);
    rules_free(rules);
    return rc;
}

const GrpoCommand grpo_cmd_rescore = {
    "rescore", "re-score a run's logged rollouts with edited reward rules",
    "usage: grpo rescore RUNFILE --rules NEW.json|PRESET [--run ID] [--step N] [--top K] [--workers N] [--json]\n\n"
    "Scores every logged rollout (or those of step N) again with the new rules, against the\n"
    "dataset example it answered, without changing the run file. Prints how many rewards\n"
    "changed, the mean of each component before and after, and the K most changed rollouts\n"
    "with the new rules' details. This is how to tune reward rules on real rollouts.\n\n"
    "  --rules R    the edited rule file (or a preset)\n"
    "  --run ID     which run (default: the newest);  --step N: only step N\n"
    "  --top K      how many most-changed rollouts to show (default 5)\n"
    "  --workers N  scoring threads (default: one per core)\n"
    "  --json       {rollouts, changed, reward_mean_before/after, components, most_changed}\n",
    run};
