// The run file: schema contents after writes, refusal of foreign SQLite files,
// resume truncation, and a writer killed mid-step leaving only whole steps.
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/status.h"
#include "rl/runlog.h"
#include "testlib.h"

static long long count(sqlite3 *db, const char *sql) {
    sqlite3_stmt *q = NULL;
    long long n = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW) n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return n;
}

static int write_steps(RunLog *r, int64_t run, int from, int to) {
    for (int s = from; s <= to; s++) {
        RunStep st = {0};
        st.step = s;
        st.reward_mean = 0.1 * s;
        st.loss = 0.0 / 0.0; // NaN must become NULL, not poison the table
        RunReward comp[2] = {{"format", 1.0, 0.2, "matched <think>...</think><answer>"}, {"accuracy", s % 2, 1.0, "extracted 4; gold 4; equal"}};
        RunRollout ro[2] = {{0, 0, "What is 2+2?", "<think>2+2</think><answer>4</answer>", "4", 9, "stop", 1.2, 0.7, comp, 2, NULL},
                            {0, 1, "What is 2+2?", "<think>", "4", 64, "length", 0.0, -0.7, comp, 1, NULL}};
        RunEval ev = {"eval", "accuracy", 0.5};
        int rc = runlog_write_step(r, run, &st, ro, 2, &ev, s % 2);
        if (rc) return rc;
    }
    return 0;
}

int main(void) {
    const char *dir = tu_tmpdir("runlog");
    char path[4200], bad[4200];
    snprintf(path, sizeof path, "%s/run.db", dir);
    snprintf(bad, sizeof bad, "%s/other.db", dir);

    RunLog *r = NULL;
    CHECK(runlog_open(path, 0, &r) == GRPO_OK, "%s", grpo_errmsg());
    if (!r) return tu_finish("test_runlog");
    int64_t run = 0;
    CHECK(runlog_begin_run(r, "{\"seed\": 1}", &run) == GRPO_OK && run == 1, "%s", grpo_errmsg());
    CHECK(write_steps(r, run, 1, 4) == GRPO_OK, "%s", grpo_errmsg());
    sqlite3 *db = runlog_db(r);
    CHECK(count(db, "SELECT count(*) FROM steps") == 4, "steps");
    CHECK(count(db, "SELECT count(*) FROM rollouts") == 8, "rollouts");
    CHECK(count(db, "SELECT count(*) FROM rewards") == 12, "reward components");
    CHECK(count(db, "SELECT count(*) FROM evals") == 2, "evals");
    CHECK(count(db, "SELECT count(*) FROM steps WHERE loss IS NULL") == 4, "NaN stored as NULL");
    CHECK(count(db, "SELECT count(*) FROM rollouts WHERE finish_reason='length' AND n_tokens=64") == 4, "finish reasons");
    CHECK(count(db, "SELECT count(*) FROM rewards WHERE detail LIKE 'extracted 4%'") == 4, "details kept");
    CHECK(count(db, "PRAGMA journal_mode") != -1, "journal mode readable");
    CHECK(runlog_truncate_after(r, run, 2) == GRPO_OK, "%s", grpo_errmsg());
    CHECK(count(db, "SELECT max(step) FROM steps") == 2 && count(db, "SELECT count(*) FROM rollouts") == 4 &&
              count(db, "SELECT count(*) FROM rewards") == 6 && count(db, "SELECT count(*) FROM evals") == 1,
          "truncate_after leaves steps 1-2 only");
    CHECK(runlog_finish_run(r, run, "done") == GRPO_OK, "%s", grpo_errmsg());
    runlog_close(r);

    // A reader opens it read-only; WAL mode persisted.
    CHECK(runlog_open(path, 1, &r) == GRPO_OK, "%s", grpo_errmsg());
    if (r) {
        sqlite3_stmt *q = NULL;
        sqlite3_prepare_v2(runlog_db(r), "PRAGMA journal_mode", -1, &q, NULL);
        CHECK(sqlite3_step(q) == SQLITE_ROW && !strcmp((const char *)sqlite3_column_text(q, 0), "wal"), "WAL mode");
        sqlite3_finalize(q);
        runlog_close(r);
    }

    // A SQLite file that is not a run file is refused, with a message saying so.
    sqlite3 *other = NULL;
    sqlite3_open(bad, &other);
    sqlite3_exec(other, "CREATE TABLE t(x); INSERT INTO t VALUES(1);", NULL, NULL, NULL);
    sqlite3_close(other);
    CHECK(runlog_open(bad, 1, &r) == GRPO_EFORMAT && strstr(grpo_errmsg(), "not a grpo run file"), "foreign db: %s", grpo_errmsg());
    CHECK(runlog_open(bad, 0, &r) == GRPO_EFORMAT, "foreign db refused for writing too");
    snprintf(bad, sizeof bad, "%s/missing.db", dir);
    CHECK(runlog_open(bad, 1, &r) == GRPO_EIO, "missing file for reading");
    snprintf(bad, sizeof bad, "%s/text.db", dir);
    FILE *f = fopen(bad, "w");
    fputs("this is not sqlite at all, just some text that is long enough to look like a header\n", f);
    fclose(f);
    CHECK(runlog_open(bad, 1, &r) != GRPO_OK, "text file refused");

    // A writer killed in the middle of a step leaves whole steps only.
    pid_t pid = fork();
    if (pid == 0) {
        RunLog *w = NULL;
        if (runlog_open(path, 0, &w)) _exit(3);
        int64_t id;
        runlog_begin_run(w, "{}", &id);
        write_steps(w, id, 1, 3);
        sqlite3_exec(runlog_db(w), "BEGIN IMMEDIATE; INSERT INTO steps(run_id, step, created_at) VALUES(2, 4, 'x');"
                     "INSERT INTO rollouts(run_id, step, prompt_idx, sample_idx, prompt, completion, n_tokens, finish_reason, reward, advantage)"
                     " VALUES(2, 4, 0, 0, 'p', 'c', 1, 'stop', 0, 0);", NULL, NULL, NULL);
        raise(SIGKILL);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child was killed");
    CHECK(runlog_open(path, 0, &r) == GRPO_OK, "%s", grpo_errmsg());
    if (r) {
        db = runlog_db(r);
        CHECK(count(db, "SELECT count(*) FROM steps WHERE run_id=2") == 3, "killed run keeps 3 whole steps");
        CHECK(count(db, "SELECT count(*) FROM rollouts WHERE run_id=2") == 6, "and only their rollouts");
        CHECK(count(db, "SELECT count(*) FROM rewards r JOIN rollouts o ON o.id=r.rollout_id WHERE o.run_id=2") == 9, "and their rewards");
        sqlite3_stmt *q = NULL;
        sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL);
        CHECK(sqlite3_step(q) == SQLITE_ROW && !strcmp((const char *)sqlite3_column_text(q, 0), "ok"), "integrity ok");
        sqlite3_finalize(q);
        runlog_close(r);
    }
    return tu_finish("test_runlog");
}
