// `grpo rollouts RUNFILE`: logged prompts and completions, a group at a time,
// with every reward component and why it was given.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/status.h"
#include "rl/cli.h"
#include "rl/runread.h"
#include "rl/json_text.h"

cJSON *rollout_to_json(const RolloutRow *w); // shared with cmd_export.c

cJSON *rollout_to_json(const RolloutRow *w) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)w->id);
    cJSON_AddNumberToObject(o, "run_id", (double)w->run_id);
    cJSON_AddNumberToObject(o, "step", w->step);
    cJSON_AddNumberToObject(o, "prompt_idx", w->prompt_idx);
    cJSON_AddNumberToObject(o, "sample_idx", w->sample_idx);
    json_add_text(o, "prompt", w->prompt);
    json_add_text(o, "completion", w->completion);
    if (w->gold) json_add_text(o, "gold", w->gold);
    else cJSON_AddNullToObject(o, "gold");
    cJSON_AddNumberToObject(o, "n_tokens", w->n_tokens);
    cJSON_AddStringToObject(o, "finish_reason", w->finish_reason ? w->finish_reason : "");
    if (isnan(w->reward)) cJSON_AddNullToObject(o, "reward");
    else cJSON_AddNumberToObject(o, "reward", w->reward);
    if (isnan(w->advantage)) cJSON_AddNullToObject(o, "advantage");
    else cJSON_AddNumberToObject(o, "advantage", w->advantage);
    cJSON *ex = w->example ? cJSON_Parse(w->example) : NULL;
    if (ex) cJSON_AddItemToObject(o, "example", ex);
    cJSON *rw = cJSON_AddObjectToObject(o, "rewards");
    for (int j = 0; j < w->n_rewards; j++) {
        cJSON *c = cJSON_AddObjectToObject(rw, w->rewards[j].name ? w->rewards[j].name : "?");
        cJSON_AddNumberToObject(c, "value", w->rewards[j].value);
        cJSON_AddNumberToObject(c, "weight", w->rewards[j].weight);
        json_add_text(c, "detail", w->rewards[j].detail);
    }
    return o;
}

static void print_indented(const char *s, size_t n, const char *indent) {
    fputs(indent, stdout);
    for (size_t i = 0; i < n; i++) {
        putchar(s[i]);
        if (s[i] == '\n' && i + 1 < n) fputs(indent, stdout);
    }
}

// The reasoning (up to </think>) and the answer after it are set apart: dimmed
// and bold on a terminal, labelled otherwise.
static void print_completion(const char *c, int color) {
    const char *end = strstr(c, "</think>");
    size_t think_len = end ? (size_t)(end - c) + strlen("</think>") : 0;
    if (think_len) {
        if (color) fputs("\033[2m", stdout);
        else puts("    [think]");
        print_indented(c, think_len, "    ");
        if (color) fputs("\033[0m", stdout);
        putchar('\n');
    }
    const char *ans = c + think_len;
    while (*ans == ' ' || *ans == '\n') ans++;
    if (!color) puts(think_len ? "    [answer]" : "    [completion]");
    if (color) fputs("\033[1m", stdout);
    print_indented(ans, strlen(ans), "    ");
    if (color) fputs("\033[0m", stdout);
    putchar('\n');
}

static void print_rows(const RolloutRow *rows, int n, int color) {
    for (int i = 0; i < n; i++) {
        const RolloutRow *w = &rows[i];
        int new_group = i == 0 || rows[i - 1].step != w->step || rows[i - 1].prompt_idx != w->prompt_idx || rows[i - 1].run_id != w->run_id;
        if (new_group) {
            printf("%s== run %lld  step %d  prompt %d%s%s%s\n", i ? "\n" : "", (long long)w->run_id, w->step, w->prompt_idx,
                   w->gold ? "  gold: " : "", w->gold ? w->gold : "", color ? "\033[0m" : "");
            print_indented(w->prompt ? w->prompt : "", strlen(w->prompt ? w->prompt : ""), "  | ");
            putchar('\n');
        }
        printf("  -- sample %d  reward %.3f  advantage %+.3f  %s  %d tokens\n", w->sample_idx, w->reward, w->advantage,
               w->finish_reason ? w->finish_reason : "?", w->n_tokens);
        print_completion(w->completion ? w->completion : "", color);
        for (int j = 0; j < w->n_rewards; j++)
            printf("     %-12s %7.3f x %-5g %s\n", w->rewards[j].name, w->rewards[j].value, w->rewards[j].weight,
                   w->rewards[j].detail ? w->rewards[j].detail : "");
    }
}

static int run(int argc, char **argv) {
    int json = 0, last = 0;
    long run_id = 0, step = -1, prompt = -1, limit = 20;
    double min_r = NAN, max_r = NAN;
    const char *finish = NULL, *grep = NULL;
    const char *pos[1];
    int npos = 0;
    CliOpt opts[] = {{"--json", CLI_FLAG, &json},     {"--run", CLI_INT, &run_id},         {"--step", CLI_INT, &step},
                     {"--last", CLI_FLAG, &last},     {"--prompt", CLI_INT, &prompt},      {"--min-reward", CLI_DOUBLE, &min_r},
                     {"--max-reward", CLI_DOUBLE, &max_r}, {"--finish", CLI_STR, &finish}, {"--grep", CLI_STR, &grep},
                     {"--limit", CLI_INT, &limit}};
    int rc = cli_parse("rollouts", argc, argv, opts, 10, pos, 1, &npos);
    if (rc) return rc;
    if (npos != 1) return cli_error("rollouts", "expected a run file (see 'grpo rollouts --help')");
    if (last && step >= 0) return cli_error("rollouts", "--step and --last exclude each other");
    if (finish && strcmp(finish, "stop") && strcmp(finish, "length"))
        return cli_error("rollouts", "--finish expects stop or length, got '%s'", finish);
    if (limit < 0) return cli_error("rollouts", "--limit must be >= 0");
    RunLog *r = NULL;
    if (runread_open(pos[0], &r)) return cli_fail("rollouts");
    RolloutFilter f;
    runread_filter_init(&f);
    f.run_id = run_id;
    f.step = (int)step;
    f.last = last;
    f.prompt_idx = (int)prompt;
    f.min_reward = min_r;
    f.max_reward = max_r;
    f.finish = finish;
    f.grep = grep;
    f.limit = (int)limit;
    RolloutRow *rows = NULL;
    int n = 0;
    if (runread_rollouts(r, &f, &rows, &n)) {
        runlog_close(r);
        return cli_fail("rollouts");
    }
    if (json) {
        cJSON *a = cJSON_CreateArray();
        for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, rollout_to_json(&rows[i]));
        char *s = cJSON_Print(a);
        puts(s);
        free(s);
        cJSON_Delete(a);
    } else if (n == 0) {
        fprintf(stderr, "grpo rollouts: no rollouts match\n");
    } else {
        print_rows(rows, n, isatty(STDOUT_FILENO) && !getenv("NO_COLOR"));
    }
    runread_free_rollouts(rows, n);
    runlog_close(r);
    return 0;
}

const GrpoCommand grpo_cmd_rollouts = {
    "rollouts", "show logged prompts and completions with each reward and why",
    "usage: grpo rollouts RUNFILE [--run ID] [--step N | --last] [--prompt IDX]\n"
    "                     [--min-reward X] [--max-reward X] [--finish stop|length]\n"
    "                     [--grep PATTERN] [--limit K] [--json]\n\n"
    "Shows rollouts grouped by prompt: the prompt once, then each completion with its\n"
    "reasoning and answer set apart, its reward, advantage, finish reason and every\n"
    "reward component with the detail saying why.\n\n"
    "  --run ID         which run (default: the newest)\n"
    "  --step N         only step N;  --last: only the last step written\n"
    "  --prompt IDX     only prompt IDX of the step (its whole group)\n"
    "  --min-reward X   only rollouts with reward >= X;  --max-reward X: <= X\n"
    "  --finish F       only completions that ended by stop or by length\n"
    "  --grep PATTERN   only rollouts whose prompt or completion matches (PCRE2)\n"
    "  --limit K        at most K rollouts (default 20; 0 = all)\n"
    "  --json           a JSON array of rollouts with their reward components\n",
    run};
