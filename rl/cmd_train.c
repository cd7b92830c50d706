// `grpo train`: GRPO on a configuration, or the built-in default job.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kernels/status.h"
#include "rl/cli.h"
#include "rl/config.h"
#include "rl/default_job.h"
#include "rl/dist.h"
#include "rl/trainer.h"

static void print_eval(const char *label, const EvalResult *r) {
    printf("%s: accuracy %.3f  reward %.3f  length %.1f", label, r->accuracy, r->reward_mean, r->completion_len);
    if (r->k > 1) printf("  pass@%d %.3f  maj@%d %.3f", r->k, r->pass_k, r->k, r->maj_k);
    printf("  (%d examples)\n", r->n);
}

// The default job, and its before/after table.
static int default_job_main(const char *const *sets, int n_sets, const char *out, const TrainerOutput *o) {
    time_t t0 = time(NULL);
    TrainResult r;
    if (default_job_run(sets, n_sets, out, o, &r)) return cli_fail("train");
    double secs = difftime(time(NULL), t0);
    printf("\n%-26s %10s %10s %10s\n", "default job (held-out)", "before", "after", "change");
    if (r.have_first_eval && r.have_last_eval) {
        printf("%-26s %9.1f%% %9.1f%% %+9.1f\n", "accuracy (greedy pass@1)", 100 * r.first_eval.accuracy, 100 * r.last_eval.accuracy,
               100 * (r.last_eval.accuracy - r.first_eval.accuracy));
        printf("%-26s %10.3f %10.3f %+10.3f\n", "mean reward", r.first_eval.reward_mean, r.last_eval.reward_mean,
               r.last_eval.reward_mean - r.first_eval.reward_mean);
        printf("%-26s %10.1f %10.1f %+10.1f\n", "completion length", r.first_eval.completion_len, r.last_eval.completion_len,
               r.last_eval.completion_len - r.first_eval.completion_len);
    }
    printf("%ld GRPO steps in %.0f s total; run file %s/run.db (see grpo runs / rollouts / report)\n", r.steps_done, secs, out);
    return r.interrupted ? 130 : 0;
}

static int train_main(int argc, char **argv) {
    const char *out = NULL, *resume = NULL;
    CliMulti sets = {0};
    int quiet = 0, keys = 0;
    const char *device = NULL, *precision = NULL;
    const char *pos[1];
    int npos = 0;
    CliOpt opts[] = {{"--out", CLI_STR, &out}, {"--set", CLI_MULTI, &sets}, {"--resume", CLI_STR, &resume}, {"--quiet", CLI_FLAG, &quiet},
                     {"--keys", CLI_FLAG, &keys}, {"--device", CLI_STR, &device},
                     {"--precision", CLI_STR, &precision}};
    int rc = cli_parse("train", argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, 1, &npos);
    if (rc) return rc;
    // --device D and --precision P are the `device` and `precision` keys, applied
    // after the file and the other --set's.
    char device_kv[64], precision_kv[64];
    if (device) {
        snprintf(device_kv, sizeof device_kv, "device=%s", device);
        if (sets.n >= (int)(sizeof sets.items / sizeof sets.items[0])) return cli_error("train", "too many --set options");
        sets.items[sets.n++] = device_kv;
    }
    if (precision) {
        snprintf(precision_kv, sizeof precision_kv, "precision=%s", precision);
        if (sets.n >= (int)(sizeof sets.items / sizeof sets.items[0])) return cli_error("train", "too many --set options");
        sets.items[sets.n++] = precision_kv;
    }
    if (keys) {
        char *md = config_reference_markdown();
        if (!md) return cli_error("train", "out of memory");
        fputs(md, stdout);
        free(md);
        return 0;
    }
    TrainConfig cfg;
    if (resume) {
        if (out && strcmp(out, resume)) return cli_error("train", "--resume DIR continues DIR; --out must be absent or the same");
        if (npos) return cli_error("train", "--resume takes the configuration from the checkpoint; give no CONFIG (use --set to change keys)");
        out = resume;
        if (trainer_resume_config(resume, &cfg)) return cli_fail("train");
    } else {
        config_defaults(&cfg);
        if (npos && config_load_file(&cfg, pos[0])) return cli_fail("train");
    }
    for (int i = 0; i < sets.n; i++)
        if (config_set(&cfg, sets.items[i])) return cli_fail("train");
    // Under mpirun, rank 0 speaks for the job; the others only report their errors.
    const int rank0 = dist_rank() == 0;
    char who[48] = "train";
    if (dist_size() > 1) snprintf(who, sizeof who, "train (rank %d of %d)", dist_rank(), dist_size());
    TrainerOutput o = {quiet || !rank0, isatty(STDERR_FILENO), cli_progress, NULL};
    if (!resume && !npos && !cfg.model[0]) {
        if (dist_size() > 1) return cli_error("train", "the built-in default job runs in one process; give a model to train with mpirun");
        return default_job_main(sets.items, sets.n, out ? out : "runs/default", &o);
    }
    if (config_validate(&cfg)) return cli_fail("train");
    if (!cfg.model[0]) return cli_error("train", "model: give a model directory (\"model\" in the config or --set model=DIR)");
    if (!out) out = "runs/train";
    TrainResult res;
    if (trainer_run(&cfg, out, resume != NULL, &o, &res)) return cli_fail(who);
    if (!rank0) return res.interrupted ? 130 : 0;
    if (res.have_first_eval) print_eval("eval before", &res.first_eval);
    if (res.have_last_eval) print_eval("eval after ", &res.last_eval);
    printf("run file: %s/run.db  checkpoints: %s/checkpoints/\n", out, out);
    if (res.interrupted) {
        fprintf(stderr, "grpo train: interrupted after step %ld; checkpoint written; continue with: grpo train --resume %s\n",
                res.steps_done, out);
        return 130;
    }
    return 0;
}

// Joins the MPI job when mpirun started us (else one process) and ends it so
// that a failure on any rank ends every rank (rl/dist.h).
static int run(int argc, char **argv) {
    int rc = dist_init() ? cli_fail("train") : train_main(argc, argv);
    dist_end(rc != 0 && rc != 130);
    return rc;
}

const GrpoCommand grpo_cmd_train = {
    "train", "train a policy with GRPO (no arguments: the built-in default job)",
    "usage: grpo train [CONFIG.json] [--out DIR] [--set key=value]... [--resume DIR] [--device D]\n"
    "                  [--precision P] [--quiet]\n\n"
    "Runs GRPO as CONFIG.json and the --set overrides say (every key is in the README),\n"
    "writing DIR/run.db (every step, rollout and reward) and DIR/checkpoints/step-NNNNNN/\n"
    "(Hugging Face model directories plus the trainer state), N zero-padded to 6 digits.\n\n"
    "With no CONFIG and no model, runs the built-in default job on CPU: it makes a small\n"
    "base model with a short SFT warm start (cached), evaluates it, runs GRPO on a\n"
    "built-in task, evaluates again and prints a before/after table.\n\n"
    "  --out DIR        output directory (default runs/train; runs/default for the default job)\n"
    "  --set key=value  override a configuration key (repeatable)\n"
    "  --resume DIR     continue the run in DIR from its newest checkpoint\n"
    "  --device D       cpu, cuda or auto: the `device` key (default auto; the default job uses cpu)\n"
    "  --precision P    auto, fp32 or bf16: the `precision` key (default auto: fp32 on cpu, bf16 on cuda)\n"
    "  --quiet          no progress output\n"
    "  --keys           print every configuration key with its default and meaning (Markdown)\n\n"
    "Ctrl-C finishes the current step, writes a checkpoint and exits with status 130.\n\n"
    "Data parallel: mpirun -np N grpo train ... splits every step's prompts over N\n"
    "processes (one GPU each with device=cuda) and trains the model one process would;\n"
    "rank 0 writes the run file and the checkpoints.\n",
    run};
