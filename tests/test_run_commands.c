// The inspection commands (runs, rollouts, export, report) on a run file with
// known contents: their text and --json shapes, filters, refusal of foreign
// SQLite files, and the HTML report rendered in headless Chromium when present.
#include <cjson/cJSON.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kernels/status.h"
#include "rl/runlog.h"
#include "testlib.h"

static char *run_cmd(const char *cmd, int *status) {
    FILE *p = popen(cmd, "r");
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!p || !buf) return NULL;
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (n + 1 >= cap) buf = realloc(buf, cap *= 2);
    }
    buf[n] = '\0';
    int st = pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return buf;
}

static void make_run_file(const char *path) {
    RunLog *r = NULL;
    CHECK(runlog_open(path, 0, &r) == 0, "%s", grpo_errmsg());
    int64_t run;
    runlog_begin_run(r, "{\"model\": \"\", \"dataset\": \"gen:arithmetic\", \"seed\": 3}", &run);
    for (int s = 1; s <= 3; s++) {
        RunStep st = {0};
        st.step = s;
        st.reward_mean = 0.2 * s;
        st.reward_std = 0.1;
        st.accuracy = 0.25 * s;
        st.kl = 0.001 * s;
        st.completion_len_mean = 20 + s;
        st.tokens_per_s = 500;
        st.loss = s == 3 ? NAN : 0.5;
        RunRollout ro[4];
        RunReward comp[4][2];
        char comps[4][128];
        for (int i = 0; i < 4; i++) {
            int correct = (i + s) % 2;
            snprintf(comps[i], sizeof comps[i], "<think>step %d sample %d: 3+4 is %d</think> <answer>%d</answer>", s, i, correct ? 7 : 8,
                     correct ? 7 : 8);
            comp[i][0] = (RunReward){"format", 1.0, 0.2, "matched the r1 format"};
            comp[i][1] = (RunReward){"accuracy", (double)correct, 1.0, correct ? "extracted 7 from <answer>; gold 7; equal" : "extracted 8 from <answer>; gold 7; not equal"};
            ro[i] = (RunRollout){i / 2, i % 2, "What is 3+4? <b>", comps[i], "7", 12 + i, i == 3 ? "length" : "stop", 0.2 + correct,
                                 correct ? 0.7 : -0.7, comp[i], 2, "{\"question\": \"What is 3+4?\", \"answer\": \"7\"}"};
        }
        RunEval ev = {"eval", "accuracy", 0.3 * s};
        CHECK(runlog_write_step(r, run, &st, ro, 4, &ev, 1) == 0, "%s", grpo_errmsg());
    }
    runlog_close(r);
}

int main(void) {
    const char *bin = getenv("GRPO_BIN");
    if (!bin) return tu_skip("test_run_commands", "GRPO_BIN is not set (run through ctest)");
    char dir[4096], db[4200], cmd[9000], html[4200];
    snprintf(dir, sizeof dir, "%s", tu_tmpdir("runcmds"));
    snprintf(db, sizeof db, "%s/run.db", dir);
    make_run_file(db);
    int st;
    char *out;

    snprintf(cmd, sizeof cmd, "'%s' runs '%s'", bin, dir); // a directory works too
    out = run_cmd(cmd, &st);
    CHECK(st == 0 && strstr(out, "run 1") && strstr(out, "gen:arithmetic") && strstr(out, "(built-in)"), "runs: %s", out);
    CHECK(strstr(out, "    3    0.600 ± 0.100") != NULL, "runs step table: %s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' runs '%s' --json", bin, db);
    out = run_cmd(cmd, &st);
    cJSON *j = cJSON_Parse(out);
    CHECK(st == 0 && j && cJSON_GetArraySize(cJSON_GetObjectItem(j, "runs")) == 1 && cJSON_GetArraySize(cJSON_GetObjectItem(j, "steps")) == 3,
          "runs --json: %s", out);
    cJSON *step3 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "steps"), 2);
    CHECK(step3 && cJSON_GetObjectItem(step3, "accuracy")->valuedouble == 0.75 && cJSON_IsNull(cJSON_GetObjectItem(step3, "loss")),
          "step metrics in json");
    CHECK(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "runs"), 0), "config") != NULL, "config in json");
    cJSON_Delete(j);
    free(out);

    snprintf(cmd, sizeof cmd, "'%s' rollouts '%s' --last --prompt 1", bin, db);
    out = run_cmd(cmd, &st);
    CHECK(st == 0 && strstr(out, "step 3  prompt 1") && strstr(out, "sample 0") && strstr(out, "sample 1") && !strstr(out, "prompt 0"),
          "rollouts --last --prompt: %s", out);
    CHECK(strstr(out, "[think]") && strstr(out, "[answer]") && strstr(out, "gold 7; equal"), "think/answer and details: %s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' rollouts '%s' --json --min-reward 1 --finish stop", bin, db);
    out = run_cmd(cmd, &st);
    j = cJSON_Parse(out);
    int n = cJSON_GetArraySize(j), ok = 1;
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_GetArrayItem(j, i);
        ok &= cJSON_GetObjectItem(o, "reward")->valuedouble >= 1 && !strcmp(cJSON_GetObjectItem(o, "finish_reason")->valuestring, "stop");
        ok &= cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "rewards"), "accuracy"), "detail") != NULL;
    }
    CHECK(st == 0 && n == 5 && ok, "rollouts filters: %d rows: %s", n, out);
    cJSON_Delete(j);
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' rollouts '%s' --json --grep 'is 8' --step 2 --limit 0", bin, db);
    out = run_cmd(cmd, &st);
    j = cJSON_Parse(out);
    CHECK(st == 0 && cJSON_GetArraySize(j) == 2, "grep: %s", out);
    cJSON_Delete(j);
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' rollouts '%s' --grep '(' 2>&1", bin, db);
    out = run_cmd(cmd, &st);
    CHECK(st == 1 && strstr(out, "--grep"), "bad pattern: %s", out);
    free(out);

    snprintf(cmd, sizeof cmd, "'%s' export '%s' --step 2", bin, db);
    out = run_cmd(cmd, &st);
    int lines = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        CHECK(o && cJSON_GetObjectItem(o, "step")->valueint == 2 && cJSON_GetObjectItem(o, "completion") &&
                  cJSON_GetObjectItem(cJSON_GetObjectItem(o, "rewards"), "format"), "export line: %s", line);
        cJSON_Delete(o);
        lines++;
    }
    CHECK(st == 0 && lines == 4, "export lines %d", lines);
    free(out);

    // A run still being written: a writer in the middle of a step (an open write
    // transaction) does not block readers, who see the committed steps only.
    pid_t pid = fork();
    if (pid == 0) {
        sqlite3 *w = NULL;
        sqlite3_open(db, &w);
        sqlite3_exec(w, "BEGIN IMMEDIATE; INSERT INTO steps(run_id, step, created_at) VALUES(1, 4, 'x');", NULL, NULL, NULL);
        sleep(4);
        _exit(0);
    }
    usleep(300000);
    snprintf(cmd, sizeof cmd, "'%s' runs '%s' --json", bin, db);
    time_t t0 = time(NULL);
    out = run_cmd(cmd, &st);
    j = cJSON_Parse(out);
    CHECK(st == 0 && j && cJSON_GetArraySize(cJSON_GetObjectItem(j, "steps")) == 3 && time(NULL) - t0 < 3,
          "reading while a step is being written: %s", out);
    cJSON_Delete(j);
    free(out);
    waitpid(pid, NULL, 0);

    // rescore: new rules over the logged rollouts, the run file untouched.
    char rules[4200];
    snprintf(rules, sizeof rules, "%s/new_rules.json", dir);
    FILE *rf = fopen(rules, "w");
    fputs("{\"rules\": [{\"name\": \"accuracy\", \"type\": \"math\", \"weight\": 2.0}]}", rf);
    fclose(rf);
    snprintf(cmd, sizeof cmd, "'%s' rescore '%s' --rules '%s' --json", bin, db, rules);
    out = run_cmd(cmd, &st);
    j = cJSON_Parse(out);
    cJSON *comps = cJSON_GetObjectItem(j, "components");
    CHECK(st == 0 && j && cJSON_GetObjectItem(j, "rollouts")->valueint == 12, "rescore --json: %s", out);
    // Old rewards were 0.2 + correct; new ones are 2 * correct: every one changes.
    CHECK(j && cJSON_GetObjectItem(j, "changed")->valueint == 12, "changed count: %s", out);
    CHECK(comps && cJSON_GetObjectItem(cJSON_GetObjectItem(comps, "accuracy"), "after")->valuedouble == 0.5 &&
              cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(comps, "format"), "after")) &&
              cJSON_GetObjectItem(cJSON_GetObjectItem(comps, "format"), "before")->valuedouble == 1.0,
          "per-component means: %s", out);
    cJSON *mc = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "most_changed"), 0);
    CHECK(mc && fabs(cJSON_GetObjectItem(mc, "reward_after")->valuedouble - 2.0) < 1e-9 &&
              strstr(cJSON_GetObjectItem(cJSON_GetObjectItem(mc, "details"), "accuracy")->valuestring, "gold 7"),
          "most changed example: %s", out);
    cJSON_Delete(j);
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' rescore '%s' --rules '%s' --step 2", bin, db, rules);
    out = run_cmd(cmd, &st);
    CHECK(st == 0 && strstr(out, "4 rollouts rescored, 4 rewards changed") && strstr(out, "accuracy") && strstr(out, "most changed"),
          "rescore text: %s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "sqlite3 '%s' 'SELECT count(*), sum(reward) FROM rollouts' 2>/dev/null", db);
    out = run_cmd(cmd, &st);
    CHECK(st != 0 || strstr(out, "12|") != NULL, "run file unchanged by rescore: %s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' rescore '%s' --rules '%s/nope.json' 2>&1", bin, db, dir);
    out = run_cmd(cmd, &st);
    CHECK(st == 1 && strstr(out, "nope.json"), "missing rules file: %s", out);
    free(out);

    // A run file from before rollouts kept their example still reads, and gets the
    // column when opened for writing.
    char old_db[4200];
    snprintf(old_db, sizeof old_db, "%s/old.db", dir);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && sqlite3 '%s' 'ALTER TABLE rollouts DROP COLUMN example' 2>&1", db, old_db, old_db);
    out = run_cmd(cmd, &st);
    free(out);
    if (st == 0) {
        snprintf(cmd, sizeof cmd, "'%s' rollouts '%s' --json --limit 0", bin, old_db);
        out = run_cmd(cmd, &st);
        j = cJSON_Parse(out);
        CHECK(st == 0 && cJSON_GetArraySize(j) == 12 && !cJSON_GetObjectItem(cJSON_GetArrayItem(j, 0), "example"),
              "old run file: %s", out);
        cJSON_Delete(j);
        free(out);
        RunLog *w = NULL;
        CHECK(runlog_open(old_db, 0, &w) == 0 && runlog_has_column(w, "rollouts", "example"), "column added on open: %s", grpo_errmsg());
        runlog_close(w);
    } else {
        printf("test_run_commands: sqlite3 CLI missing or too old for DROP COLUMN; old-file check skipped\n");
    }

    // Foreign SQLite files are refused with a clear message by every command.
    char foreign[4200];
    snprintf(foreign, sizeof foreign, "%s/foreign.db", dir);
    sqlite3 *f = NULL;
    sqlite3_open(foreign, &f);
    sqlite3_exec(f, "CREATE TABLE steps(x);", NULL, NULL, NULL);
    sqlite3_close(f);
    const char *cmds[] = {"runs", "rollouts", "export", "rescore"};
    for (int i = 0; i < 4; i++) {
        snprintf(cmd, sizeof cmd, "'%s' %s '%s' %s 2>&1", bin, cmds[i], foreign, i == 3 ? "--rules math" : "");
        out = run_cmd(cmd, &st);
        CHECK(st == 1 && strstr(out, "not a grpo run file"), "%s on a foreign db: %s", cmds[i], out);
        free(out);
    }

    snprintf(html, sizeof html, "%s/report.html", dir);
    snprintf(cmd, sizeof cmd, "'%s' report '%s' -o '%s' 2>&1", bin, db, html);
    out = run_cmd(cmd, &st);
    CHECK(st == 0, "report: %s", out);
    free(out);
    FILE *h = fopen(html, "r");
    CHECK(h != NULL, "report written");
    if (h) {
        char *page = calloc(1, 1 << 20);
        size_t len = fread(page, 1, (1 << 20) - 1, h);
        fclose(h);
        page[len] = '\0';
        CHECK(strstr(page, "<svg class=\"chart\"") && strstr(page, "What is 3+4? &lt;b&gt;") && !strstr(page, "http://") &&
                  !strstr(page, "https://"), "self-contained page with escaped text");
        free(page);
    }
    // Headless Chromium: the page loads, its script runs, the charts and rollouts are there.
    const char *chromium = NULL;
    if (system("command -v chromium >/dev/null 2>&1") == 0) chromium = "chromium";
    else if (system("command -v chromium-browser >/dev/null 2>&1") == 0) chromium = "chromium-browser";
    if (chromium) {
        const char *flags = "--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run --user-data-dir=";
        snprintf(cmd, sizeof cmd, "timeout 120 %s %s'%s/chrome' --dump-dom 'file://%s' 2>/dev/null", chromium, flags, dir, html);
        out = run_cmd(cmd, &st);
        CHECK(st == 0 && strstr(out, "data-rendered=\"yes\"") && strstr(out, "data-charts=\"9\"") && strstr(out, "data-rollouts=\""),
              "chromium DOM: %.300s", out ? out : "(none)");
        free(out);
        char shot[4300];
        snprintf(shot, sizeof shot, "%s/report.png", getenv("GRPO_BUILD_DIR") ? getenv("GRPO_BUILD_DIR") : dir);
        snprintf(cmd, sizeof cmd, "timeout 120 %s %s'%s/chrome' --window-size=1280,1600 --screenshot='%s' 'file://%s' >/dev/null 2>&1",
                 chromium, flags, dir, shot, html);
        out = run_cmd(cmd, &st);
        free(out);
        struct stat sb;
        CHECK(stat(shot, &sb) == 0 && sb.st_size > 10000, "screenshot %s", shot);
    } else {
        printf("test_run_commands: chromium not installed; the HTML checks ran without a browser\n");
    }
    return tu_finish("test_run_commands");
}
