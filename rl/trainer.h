// `grpo train`: the GRPO loop. Each step draws prompts, samples G completions
// per prompt, scores them, computes advantages, updates the policy and writes
// the whole step (metrics, rollouts, reward components) to DIR/run.db in one
// transaction. Checkpoints every save_every steps and at the end; evaluates at
// the start, every eval_every steps and at the end.
#ifndef GRPO_TRAINER_H
#define GRPO_TRAINER_H

#include "rl/config.h"
#include "rl/evaluate.h"

// Where progress goes. The library never prints: it hands lines to `log`, which
// the CLI points at stderr (cli_progress in rl/cli.c).
typedef struct {
    int quiet;         // no progress output at all
    int progress_tty;  // 1: a redrawn progress line; 0: one log line per step
    // One line without its newline. redraw = 1: it replaces the previous redrawn
    // line (a terminal's progress bar); line = NULL ends a run of redrawn lines.
    // NULL = progress goes nowhere.
    void (*log)(void *user, const char *line, int redraw);
    void *user;
} TrainerOutput;

// Hands a line to o->log unless o is quiet or has no log.
void trainer_log(const TrainerOutput *o, int redraw, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

typedef struct {
    long steps_done;
    EvalResult first_eval, last_eval;
    int have_first_eval, have_last_eval;
    int interrupted;   // stopped by SIGINT/SIGTERM (a checkpoint was written)
} TrainResult;

// Trains into out_dir (created if needed). When resume is set, continues the
// run in out_dir from its newest checkpoint: the configuration, model, optimizer
// and data position come from the checkpoint (cfg is then ignored except for
// `steps`, which may be raised), and the run file drops any steps written after
// it, so the run ends as if it had never been interrupted.
int trainer_run(const TrainConfig *cfg, const char *out_dir, int resume, const TrainerOutput *o, TrainResult *res);

// The configuration saved in out_dir's newest checkpoint (for --resume).
int trainer_resume_config(const char *out_dir, TrainConfig *c);

// Asks a running trainer to stop after the current step (signal-safe).
void trainer_request_stop(void);

#endif
