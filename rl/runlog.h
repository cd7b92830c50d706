// The run file: one SQLite database per training directory (DIR/run.db) holding
// every step's metrics, every rollout with each reward component and why it was
// given, and every evaluation. WAL mode and one transaction per step, so a run
// killed at any moment leaves whole steps only, and readers (grpo runs, grpo
// rollouts, pandas) can read it while training goes on. The schema is the
// contract documented in the README; RUNLOG_SCHEMA_VERSION changes with it.
#ifndef GRPO_RUNLOG_H
#define GRPO_RUNLOG_H

#include <stdint.h>

#define RUNLOG_SCHEMA_VERSION 1

typedef struct RunLog RunLog;

typedef struct {
    int step;
    double reward_mean, reward_std, accuracy; // accuracy: mean of the correctness rule (NAN if none)
    double loss, kl, entropy, clip_frac, clip_low_frac, clip_high_frac;
    double grad_norm, lr;
    double completion_len_mean, completion_len_max, truncated_frac;
    double tokens_per_s;   // generated tokens per second of generation time
    double gen_s, reward_s, train_s, step_s;
    int n_prompts, n_rollouts;
    int n_filtered_groups; // groups dropped by dynamic sampling
    int skipped_update;    // 1 when a NaN/Inf loss or gradient made us skip the optimizer step
} RunStep;

typedef struct {
    const char *name;
    double value, weight;
    const char *detail;
} RunReward;

typedef struct {
    int prompt_idx, sample_idx;
    const char *prompt, *completion, *gold; // gold may be NULL
    int n_tokens;
    const char *finish_reason; // "stop" or "length"
    double reward, advantage;
    const RunReward *rewards;
    int n_rewards;
    const char *example_json; // the dataset example it answered (what `grpo rescore` scores against), or NULL
} RunRollout;

typedef struct {
    const char *dataset, *metric;
    double value;
} RunEval;

// Opens (creating when absent) a run file. A SQLite file that is not a run file
// is refused with a message saying so. read_only opens without creating or
// migrating, for the inspection commands.
int runlog_open(const char *path, int read_only, RunLog **out);
void runlog_close(RunLog *r);

// Starts a run and returns its id.
int runlog_begin_run(RunLog *r, const char *config_json, int64_t *run_id);

// For resume: forgets everything of run_id after `step` (steps written after the
// checkpoint that resume restarts from), so the file ends as if never interrupted.
int runlog_truncate_after(RunLog *r, int64_t run_id, int step);

// Writes a step, its rollouts (with their reward components) and its evals in
// one transaction: all of it lands or none does.
int runlog_write_step(RunLog *r, int64_t run_id, const RunStep *s, const RunRollout *rollouts,
                      int n_rollouts, const RunEval *evals, int n_evals);

// Evals outside a training step (the initial evaluation, `grpo eval`).
int runlog_write_evals(RunLog *r, int64_t run_id, int step, const RunEval *evals, int n_evals);

// Marks the run finished ("done", "interrupted", "failed").
int runlog_finish_run(RunLog *r, int64_t run_id, const char *status);

// 1 when `table` has `column` (older run files may lack newer columns).
int runlog_has_column(RunLog *r, const char *table, const char *column);

// The underlying handle, for the read-side commands' queries.
struct sqlite3 *runlog_db(RunLog *r);

#endif
