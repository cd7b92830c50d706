#include "rl/runlog.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kernels/status.h"

struct RunLog {
    sqlite3 *db;
    char path[1024];
    sqlite3_stmt *ins_step, *ins_rollout, *ins_reward, *ins_eval;
};

static const char *SCHEMA =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);\n"
    "CREATE TABLE IF NOT EXISTS runs(\n"
    "  id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT, status TEXT NOT NULL,\n"
    "  config_json TEXT NOT NULL, grpo_version TEXT NOT NULL, host TEXT);\n"
    "CREATE TABLE IF NOT EXISTS steps(\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id), step INTEGER NOT NULL,\n"
    "  reward_mean REAL, reward_std REAL, accuracy REAL, loss REAL, kl REAL, entropy REAL,\n"
    "  clip_frac REAL, clip_low_frac REAL, clip_high_frac REAL, grad_norm REAL, lr REAL,\n"
    "  completion_len_mean REAL, completion_len_max REAL, truncated_frac REAL, tokens_per_s REAL,\n"
    "  gen_s REAL, reward_s REAL, train_s REAL, step_s REAL, n_prompts INTEGER, n_rollouts INTEGER,\n"
    "  n_filtered_groups INTEGER, skipped_update INTEGER, created_at TEXT NOT NULL,\n"
    "  PRIMARY KEY(run_id, step));\n"
    "CREATE TABLE IF NOT EXISTS rollouts(\n"
    "  id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id), step INTEGER NOT NULL,\n"
    "  prompt_idx INTEGER NOT NULL, sample_idx INTEGER NOT NULL, prompt TEXT NOT NULL,\n"
    "  completion TEXT NOT NULL, gold TEXT, n_tokens INTEGER NOT NULL, finish_reason TEXT NOT NULL,\n"
    "  reward REAL, advantage REAL, example TEXT);\n"
    "CREATE INDEX IF NOT EXISTS rollouts_step ON rollouts(run_id, step, prompt_idx, sample_idx);\n"
    "CREATE TABLE IF NOT EXISTS rewards(\n"
    "  rollout_id INTEGER NOT NULL REFERENCES rollouts(id), name TEXT NOT NULL, value REAL,\n"
    "  weight REAL NOT NULL, detail TEXT NOT NULL, PRIMARY KEY(rollout_id, name));\n"
    "CREATE TABLE IF NOT EXISTS evals(\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id), step INTEGER NOT NULL, dataset TEXT NOT NULL,\n"
    "  metric TEXT NOT NULL, value REAL, created_at TEXT NOT NULL,\n"
    "  PRIMARY KEY(run_id, step, dataset, metric));\n";

static int db_fail(RunLog *r, const char *what) {
    return grpo_fail(GRPO_EIO, "%s: %s: %s", r->path, what, sqlite3_errmsg(r->db));
}

static int exec(RunLog *r, const char *sql) {
    char *msg = NULL;
    if (sqlite3_exec(r->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int st = grpo_fail(GRPO_EIO, "%s: %s", r->path, msg ? msg : sqlite3_errmsg(r->db));
        sqlite3_free(msg);
        return st;
    }
    return GRPO_OK;
}

static void now_iso(char *buf, size_t n) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

// A database is ours when it has meta.kind = 'grpo-run'; an empty one becomes ours.
static int check_kind(RunLog *r, int read_only) {
    sqlite3_stmt *q = NULL;
    int n_tables = 0;
    if (sqlite3_prepare_v2(r->db, "SELECT count(*) FROM sqlite_master WHERE type='table'", -1, &q, NULL) != SQLITE_OK)
        return grpo_fail(GRPO_EFORMAT, "%s: not a SQLite database (%s)", r->path, sqlite3_errmsg(r->db));
    if (sqlite3_step(q) == SQLITE_ROW) n_tables = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    if (n_tables == 0) {
        if (read_only) return grpo_fail(GRPO_EFORMAT, "%s: not a grpo run file (the database is empty)", r->path);
        return GRPO_OK;
    }
    const char *kind = NULL;
    int version = 0;
    if (sqlite3_prepare_v2(r->db, "SELECT key, value FROM meta", -1, &q, NULL) != SQLITE_OK)
        return grpo_fail(GRPO_EFORMAT, "%s: not a grpo run file (a SQLite database without grpo's meta table)", r->path);
    char kind_buf[64] = "";
    while (sqlite3_step(q) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(q, 0), *v = (const char *)sqlite3_column_text(q, 1);
        if (k && v && !strcmp(k, "kind")) snprintf(kind_buf, sizeof kind_buf, "%s", v), kind = kind_buf;
        if (k && v && !strcmp(k, "schema_version")) version = atoi(v);
    }
    sqlite3_finalize(q);
    if (!kind || strcmp(kind, "grpo-run"))
        return grpo_fail(GRPO_EFORMAT, "%s: not a grpo run file (meta.kind is '%s')", r->path, kind ? kind : "missing");
    if (version > RUNLOG_SCHEMA_VERSION)
        return grpo_fail(GRPO_EUNSUPPORTED, "%s: run file schema version %d is newer than this grpo understands (%d)", r->path,
                         version, RUNLOG_SCHEMA_VERSION);
    return GRPO_OK;
}

int runlog_has_column(RunLog *r, const char *table, const char *column) {
    char sql[256];
    snprintf(sql, sizeof sql, "PRAGMA table_info(%s)", table);
    sqlite3_stmt *q = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(r->db, sql, -1, &q, NULL) == SQLITE_OK)
        while (!found && sqlite3_step(q) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(q, 1);
            found = name && !strcmp(name, column);
        }
    sqlite3_finalize(q);
    return found;
}

int runlog_open(const char *path, int read_only, RunLog **out) {
    *out = NULL;
    if (read_only && access(path, R_OK) != 0) return grpo_fail(GRPO_EIO, "%s: cannot read the run file", path);
    RunLog *r = calloc(1, sizeof *r);
    if (!r) return grpo_fail(GRPO_ENOMEM, "out of memory");
    snprintf(r->path, sizeof r->path, "%s", path);
    int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &r->db, flags, NULL) != SQLITE_OK) {
        int st = grpo_fail(GRPO_EIO, "%s: cannot open: %s", path, r->db ? sqlite3_errmsg(r->db) : "out of memory");
        runlog_close(r);
        return st;
    }
    // A writer holds the lock briefly once per step; readers wait instead of failing.
    sqlite3_busy_timeout(r->db, 10000);
    int st = check_kind(r, read_only);
    if (!st && !read_only) {
        st = exec(r, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
        if (!st) st = exec(r, SCHEMA);
        // Run files written before rollouts kept their example get the column.
        if (!st && !runlog_has_column(r, "rollouts", "example")) st = exec(r, "ALTER TABLE rollouts ADD COLUMN example TEXT;");
        if (!st) {
            char sql[256];
            snprintf(sql, sizeof sql,
                     "INSERT OR IGNORE INTO meta(key, value) VALUES('kind', 'grpo-run'), ('schema_version', '%d');",
                     RUNLOG_SCHEMA_VERSION);
            st = exec(r, sql);
        }
        if (!st &&
            (sqlite3_prepare_v2(r->db,
                                "INSERT OR REPLACE INTO steps VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                                -1, &r->ins_step, NULL) != SQLITE_OK ||
             sqlite3_prepare_v2(r->db,
                                "INSERT INTO rollouts(run_id, step, prompt_idx, sample_idx, prompt, completion, gold, "
                                "n_tokens, finish_reason, reward, advantage, example) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                                -1, &r->ins_rollout, NULL) != SQLITE_OK ||
             sqlite3_prepare_v2(r->db, "INSERT OR REPLACE INTO rewards VALUES(?,?,?,?,?)", -1, &r->ins_reward, NULL) != SQLITE_OK ||
             sqlite3_prepare_v2(r->db, "INSERT OR REPLACE INTO evals VALUES(?,?,?,?,?,?)", -1, &r->ins_eval, NULL) != SQLITE_OK))
            st = db_fail(r, "preparing statements");
    }
    if (st) {
        runlog_close(r);
        return st;
    }
    *out = r;
    return GRPO_OK;
}

void runlog_close(RunLog *r) {
    if (!r) return;
    sqlite3_finalize(r->ins_step);
    sqlite3_finalize(r->ins_rollout);
    sqlite3_finalize(r->ins_reward);
    sqlite3_finalize(r->ins_eval);
    if (r->db) sqlite3_close(r->db);
    free(r);
}

sqlite3 *runlog_db(RunLog *r) { return r->db; }

int runlog_begin_run(RunLog *r, const char *config_json, int64_t *run_id) {
    char ts[32], host[256] = "";
    now_iso(ts, sizeof ts);
    gethostname(host, sizeof host - 1);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(r->db,
                           "INSERT INTO runs(started_at, status, config_json, grpo_version, host) VALUES(?, 'running', ?, ?, ?)",
                           -1, &q, NULL) != SQLITE_OK)
        return db_fail(r, "starting a run");
    sqlite3_bind_text(q, 1, ts, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 2, config_json ? config_json : "{}", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 3, GRPO_VERSION, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, host, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) return db_fail(r, "starting a run");
    *run_id = sqlite3_last_insert_rowid(r->db);
    return GRPO_OK;
}

int runlog_truncate_after(RunLog *r, int64_t run_id, int step) {
    char sql[1024];
    snprintf(sql, sizeof sql,
             "BEGIN IMMEDIATE;"
             "DELETE FROM rewards WHERE rollout_id IN (SELECT id FROM rollouts WHERE run_id=%lld AND step>%d);"
             "DELETE FROM rollouts WHERE run_id=%lld AND step>%d;"
             "DELETE FROM steps WHERE run_id=%lld AND step>%d;"
             "DELETE FROM evals WHERE run_id=%lld AND step>%d;"
             "UPDATE runs SET status='running', finished_at=NULL WHERE id=%lld;"
             "COMMIT;",
             (long long)run_id, step, (long long)run_id, step, (long long)run_id, step, (long long)run_id, step,
             (long long)run_id);
    int st = exec(r, sql);
    if (st) exec(r, "ROLLBACK;");
    return st;
}

// SQLite stores NaN as NULL, which is what a missing metric should read as.
static void bind_real(sqlite3_stmt *q, int i, double v) {
    if (isfinite(v)) sqlite3_bind_double(q, i, v);
    else sqlite3_bind_null(q, i);
}

static int insert_evals(RunLog *r, int64_t run_id, int step, const RunEval *e, int n, const char *ts) {
    for (int i = 0; i < n; i++) {
        sqlite3_stmt *q = r->ins_eval;
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, run_id);
        sqlite3_bind_int(q, 2, step);
        sqlite3_bind_text(q, 3, e[i].dataset, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(q, 4, e[i].metric, -1, SQLITE_TRANSIENT);
        bind_real(q, 5, e[i].value);
        sqlite3_bind_text(q, 6, ts, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(q) != SQLITE_DONE) return db_fail(r, "writing an eval");
    }
    return GRPO_OK;
}

static int write_step_body(RunLog *r, int64_t run_id, const RunStep *s, const RunRollout *ro, int n,
                           const RunEval *e, int ne, const char *ts) {
    sqlite3_stmt *q = r->ins_step;
    sqlite3_reset(q);
    int i = 1;
    sqlite3_bind_int64(q, i++, run_id);
    sqlite3_bind_int(q, i++, s->step);
    const double vals[] = {s->reward_mean, s->reward_std, s->accuracy, s->loss, s->kl, s->entropy,
                           s->clip_frac, s->clip_low_frac, s->clip_high_frac, s->grad_norm, s->lr,
                           s->completion_len_mean, s->completion_len_max, s->truncated_frac, s->tokens_per_s,
                           s->gen_s, s->reward_s, s->train_s, s->step_s};
    for (size_t k = 0; k < sizeof vals / sizeof vals[0]; k++) bind_real(q, i++, vals[k]);
    sqlite3_bind_int(q, i++, s->n_prompts);
    sqlite3_bind_int(q, i++, s->n_rollouts);
    sqlite3_bind_int(q, i++, s->n_filtered_groups);
    sqlite3_bind_int(q, i++, s->skipped_update);
    sqlite3_bind_text(q, i++, ts, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(q) != SQLITE_DONE) return db_fail(r, "writing a step");
    for (int k = 0; k < n; k++) {
        const RunRollout *x = &ro[k];
        q = r->ins_rollout;
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, run_id);
        sqlite3_bind_int(q, 2, s->step);
        sqlite3_bind_int(q, 3, x->prompt_idx);
        sqlite3_bind_int(q, 4, x->sample_idx);
        sqlite3_bind_text(q, 5, x->prompt ? x->prompt : "", -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(q, 6, x->completion ? x->completion : "", -1, SQLITE_TRANSIENT);
        if (x->gold) sqlite3_bind_text(q, 7, x->gold, -1, SQLITE_TRANSIENT);
        else sqlite3_bind_null(q, 7);
        sqlite3_bind_int(q, 8, x->n_tokens);
        sqlite3_bind_text(q, 9, x->finish_reason ? x->finish_reason : "stop", -1, SQLITE_TRANSIENT);
        bind_real(q, 10, x->reward);
        bind_real(q, 11, x->advantage);
        if (x->example_json) sqlite3_bind_text(q, 12, x->example_json, -1, SQLITE_TRANSIENT);
        else sqlite3_bind_null(q, 12);
        if (sqlite3_step(q) != SQLITE_DONE) return db_fail(r, "writing a rollout");
        sqlite3_int64 rid = sqlite3_last_insert_rowid(r->db);
        for (int j = 0; j < x->n_rewards; j++) {
            q = r->ins_reward;
            sqlite3_reset(q);
            sqlite3_bind_int64(q, 1, rid);
            sqlite3_bind_text(q, 2, x->rewards[j].name, -1, SQLITE_TRANSIENT);
            bind_real(q, 3, x->rewards[j].value);
            bind_real(q, 4, x->rewards[j].weight);
            sqlite3_bind_text(q, 5, x->rewards[j].detail ? x->rewards[j].detail : "", -1, SQLITE_TRANSIENT);
            if (sqlite3_step(q) != SQLITE_DONE) return db_fail(r, "writing a reward");
        }
    }
    return insert_evals(r, run_id, s->step, e, ne, ts);
}

int runlog_write_step(RunLog *r, int64_t run_id, const RunStep *s, const RunRollout *ro, int n,
                      const RunEval *e, int ne) {
    char ts[32];
    now_iso(ts, sizeof ts);
    int st = exec(r, "BEGIN IMMEDIATE;");
    if (st) return st;
    st = write_step_body(r, run_id, s, ro, n, e, ne, ts);
    if (st) {
        exec(r, "ROLLBACK;");
        return st;
    }
    return exec(r, "COMMIT;");
}

int runlog_write_evals(RunLog *r, int64_t run_id, int step, const RunEval *e, int n) {
    char ts[32];
    now_iso(ts, sizeof ts);
    int st = exec(r, "BEGIN IMMEDIATE;");
    if (st) return st;
    st = insert_evals(r, run_id, step, e, n, ts);
    if (st) {
        exec(r, "ROLLBACK;");
        return st;
    }
    return exec(r, "COMMIT;");
}

int runlog_finish_run(RunLog *r, int64_t run_id, const char *status) {
    char ts[32];
    now_iso(ts, sizeof ts);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(r->db, "UPDATE runs SET status=?, finished_at=? WHERE id=?", -1, &q, NULL) != SQLITE_OK)
        return db_fail(r, "finishing the run");
    sqlite3_bind_text(q, 1, status, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 2, ts, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(q, 3, run_id);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? GRPO_OK : db_fail(r, "finishing the run");
}
