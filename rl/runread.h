// Reading run files for the inspection commands (runs, rollouts, report,
// rescore, export). Works while a training run is still writing: WAL readers see
// the last committed step and never block the writer for long.
#ifndef GRPO_RUNREAD_H
#define GRPO_RUNREAD_H

#include <stdint.h>

#include "rl/runlog.h"

// Opens PATH read-only; PATH may be the run file or a training directory holding run.db.
int runread_open(const char *path, RunLog **out);

// The newest run's id, or 0 when the file has no runs.
int64_t runread_latest_run(RunLog *r);

// The last step written for a run, or -1 when it has none.
int runread_last_step(RunLog *r, int64_t run_id);

typedef struct {
    char *name, *detail;
    double value, weight;
} RolloutReward;

typedef struct {
    int64_t id, run_id;
    int step, prompt_idx, sample_idx, n_tokens;
    char *prompt, *completion, *gold, *finish_reason, *example; // example: JSON text or NULL
    double reward, advantage;
    RolloutReward *rewards;
    int n_rewards;
} RolloutRow;

typedef struct {
    int64_t run_id;     // 0 = the latest run
    int step;           // -1 = every step
    int last;           // 1 = only the last step
    int prompt_idx;     // -1 = every prompt
    double min_reward, max_reward; // NAN = no bound
    const char *finish; // NULL, "stop" or "length"
    const char *grep;   // PCRE2 pattern matched against prompt and completion, or NULL
    int limit;          // at most this many rows (0 = no limit)
} RolloutFilter;

void runread_filter_init(RolloutFilter *f);

// Rollouts matching f, ordered by step, prompt_idx, sample_idx, with their reward
// components. Free with runread_free_rollouts.
int runread_rollouts(RunLog *r, const RolloutFilter *f, RolloutRow **rows, int *n);
void runread_free_rollouts(RolloutRow *rows, int n);

#endif
