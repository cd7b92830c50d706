#include "rl/runread.h"

#include <math.h>
#include <pcre2.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kernels/status.h"

int runread_open(const char *path, RunLog **out) {
    struct stat sb;
    char buf[4096];
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        snprintf(buf, sizeof buf, "%s/run.db", path);
        path = buf;
    }
    return runlog_open(path, 1, out);
}

static int64_t query_i64(RunLog *r, const char *sql, int64_t arg, int64_t dflt) {
    sqlite3_stmt *q = NULL;
    int64_t v = dflt;
    if (sqlite3_prepare_v2(runlog_db(r), sql, -1, &q, NULL) == SQLITE_OK) {
        if (strchr(sql, '?')) sqlite3_bind_int64(q, 1, arg);
        if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL) v = sqlite3_column_int64(q, 0);
    }
    sqlite3_finalize(q);
    return v;
}

int64_t runread_latest_run(RunLog *r) { return query_i64(r, "SELECT max(id) FROM runs", 0, 0); }

int runread_last_step(RunLog *r, int64_t run_id) {
    return (int)query_i64(r, "SELECT max(step) FROM steps WHERE run_id=?", run_id, -1);
}

void runread_filter_init(RolloutFilter *f) {
    memset(f, 0, sizeof *f);
    f->step = -1;
    f->prompt_idx = -1;
    f->min_reward = NAN;
    f->max_reward = NAN;
}

static char *dup_col(sqlite3_stmt *q, int i) {
    const unsigned char *t = sqlite3_column_text(q, i);
    return t ? strdup((const char *)t) : NULL;
}

void runread_free_rollouts(RolloutRow *rows, int n) {
    if (!rows) return;
    for (int i = 0; i < n; i++) {
        free(rows[i].prompt);
        free(rows[i].completion);
        free(rows[i].gold);
        free(rows[i].finish_reason);
        free(rows[i].example);
        for (int j = 0; j < rows[i].n_rewards; j++) {
            free(rows[i].rewards[j].name);
            free(rows[i].rewards[j].detail);
        }
        free(rows[i].rewards);
    }
    free(rows);
}

static int load_rewards(RunLog *r, RolloutRow *row) {
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(runlog_db(r), "SELECT name, value, weight, detail FROM rewards WHERE rollout_id=? ORDER BY rowid", -1, &q,
                           NULL) != SQLITE_OK)
        return grpo_fail(GRPO_EIO, "reading rewards: %s", sqlite3_errmsg(runlog_db(r)));
    sqlite3_bind_int64(q, 1, row->id);
    int cap = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        if (row->n_rewards == cap) {
            cap = cap ? cap * 2 : 4;
            RolloutReward *g = realloc(row->rewards, (size_t)cap * sizeof *g);
            if (!g) {
                sqlite3_finalize(q);
                return grpo_fail(GRPO_ENOMEM, "out of memory");
            }
            row->rewards = g;
        }
        RolloutReward *w = &row->rewards[row->n_rewards++];
        w->name = dup_col(q, 0);
        w->value = sqlite3_column_double(q, 1);
        w->weight = sqlite3_column_double(q, 2);
        w->detail = dup_col(q, 3);
    }
    sqlite3_finalize(q);
    return GRPO_OK;
}

static int matches(pcre2_code *re, pcre2_match_data *md, const char *s) {
    return s && pcre2_match(re, (PCRE2_SPTR)s, PCRE2_ZERO_TERMINATED, 0, 0, md, NULL) >= 0;
}

int runread_rollouts(RunLog *r, const RolloutFilter *f, RolloutRow **rows_out, int *n_out) {
    *rows_out = NULL;
    *n_out = 0;
    int64_t run = f->run_id ? f->run_id : runread_latest_run(r);
    int step = f->last ? runread_last_step(r, run) : f->step;
    pcre2_code *re = NULL;
    pcre2_match_data *md = NULL;
    if (f->grep) {
        int err;
        PCRE2_SIZE off;
        re = pcre2_compile((PCRE2_SPTR)f->grep, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &off, NULL);
        if (!re) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            return grpo_fail(GRPO_EINVAL, "--grep: bad pattern at offset %zu: %s", (size_t)off, (char *)msg);
        }
        md = pcre2_match_data_create_from_pattern(re, NULL);
    }
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT id, run_id, step, prompt_idx, sample_idx, n_tokens, prompt, completion, gold, finish_reason, reward, advantage, %s "
             "FROM rollouts WHERE run_id=?1 %s %s %s %s %s ORDER BY step, prompt_idx, sample_idx",
             runlog_has_column(r, "rollouts", "example") ? "example" : "NULL", step >= 0 ? "AND step=?2" : "", f->prompt_idx >= 0 ? "AND prompt_idx=?3" : "",
             isnan(f->min_reward) ? "" : "AND reward>=?4", isnan(f->max_reward) ? "" : "AND reward<=?5",
             f->finish ? "AND finish_reason=?6" : "");
    sqlite3_stmt *q = NULL;
    int st = GRPO_OK;
    if (sqlite3_prepare_v2(runlog_db(r), sql, -1, &q, NULL) != SQLITE_OK) {
        st = grpo_fail(GRPO_EIO, "reading rollouts: %s", sqlite3_errmsg(runlog_db(r)));
        goto done;
    }
    sqlite3_bind_int64(q, 1, run);
    if (step >= 0) sqlite3_bind_int(q, 2, step);
    if (f->prompt_idx >= 0) sqlite3_bind_int(q, 3, f->prompt_idx);
    if (!isnan(f->min_reward)) sqlite3_bind_double(q, 4, f->min_reward);
    if (!isnan(f->max_reward)) sqlite3_bind_double(q, 5, f->max_reward);
    if (f->finish) sqlite3_bind_text(q, 6, f->finish, -1, SQLITE_STATIC);
    RolloutRow *rows = NULL;
    int n = 0, cap = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        if (f->limit > 0 && n >= f->limit) break;
        const char *prompt = (const char *)sqlite3_column_text(q, 6), *comp = (const char *)sqlite3_column_text(q, 7);
        if (re && !matches(re, md, comp) && !matches(re, md, prompt)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            RolloutRow *g = realloc(rows, (size_t)cap * sizeof *g);
            if (!g) {
                st = grpo_fail(GRPO_ENOMEM, "out of memory");
                break;
            }
            rows = g;
        }
        RolloutRow *w = &rows[n++];
        memset(w, 0, sizeof *w);
        w->id = sqlite3_column_int64(q, 0);
        w->run_id = sqlite3_column_int64(q, 1);
        w->step = sqlite3_column_int(q, 2);
        w->prompt_idx = sqlite3_column_int(q, 3);
        w->sample_idx = sqlite3_column_int(q, 4);
        w->n_tokens = sqlite3_column_int(q, 5);
        w->prompt = dup_col(q, 6);
        w->completion = dup_col(q, 7);
        w->gold = dup_col(q, 8);
        w->finish_reason = dup_col(q, 9);
        w->reward = sqlite3_column_type(q, 10) == SQLITE_NULL ? NAN : sqlite3_column_double(q, 10);
        w->advantage = sqlite3_column_type(q, 11) == SQLITE_NULL ? NAN : sqlite3_column_double(q, 11);
        w->example = dup_col(q, 12);
        if ((st = load_rewards(r, w))) break;
    }
    if (st) runread_free_rollouts(rows, n);
    else {
        *rows_out = rows;
        *n_out = n;
    }
done:
    sqlite3_finalize(q);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return st;
}
