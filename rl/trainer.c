#include "rl/trainer.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "datasets/iter.h"
#include "kernels/fileio.h"
#include "kernels/profile.h"
#include "kernels/status.h"
#include "rl/checkpoint.h"
#include "rl/dist.h"
#include "rl/dist_groups.h"
#include "rl/runlog.h"
#include "rl/update.h"

static volatile sig_atomic_t g_stop;

void trainer_request_stop(void) { g_stop = 1; }

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// A seed for one generation round that depends only on (seed, step, round), so a
// resumed run samples exactly what the uninterrupted one would have.
static uint64_t round_seed(uint64_t seed, long step, int round) {
    uint64_t z = seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(step * 64 + round + 1));
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct {
    TrainConfig c;
    TrainEnv env;
    RuleSet *rules;
    Model *ref;
    AdamW opt;
    DsIter it;
    RunLog *log;
    int64_t run_id;
    StopTable stops;
    GenCache *gen;   // the training rollouts' workspace and decode graphs, kept across steps
    int verifier;
    int nan_streak;
    const char *out_dir;
} Trainer;

static const char *default_rules(const TrainConfig *c) {
    if (c->rules[0]) return c->rules;
    if (strstr(c->dataset, "countdown") || !strcmp(c->dataset_format, "countdown")) return "countdown";
    if (!strcmp(c->dataset_format, "mbpp") || !strcmp(c->dataset_format, "humaneval")) return "code";
    return "math";
}

static int write_evals(Trainer *t, long step, const EvalResult *r) {
    RunEval ev[6];
    int n = 0;
    ev[n++] = (RunEval){"eval", "accuracy", r->accuracy};
    ev[n++] = (RunEval){"eval", "reward_mean", r->reward_mean};
    ev[n++] = (RunEval){"eval", "completion_len", r->completion_len};
    if (r->k > 1) {
        static char pk[32], mk[32];
        snprintf(pk, sizeof pk, "pass@%d", r->k);
        snprintf(mk, sizeof mk, "maj@%d", r->k);
        ev[n++] = (RunEval){"eval", pk, r->pass_k};
        ev[n++] = (RunEval){"eval", mk, r->maj_k};
    }
    return runlog_write_evals(t->log, t->run_id, (int)step, ev, n);
}

static int run_eval(Trainer *t, long step, EvalResult *r) {
    EvalOptions eo = {(int)t->c.eval_size, (int)t->c.eval_k, t->c.eval_temperature, t->c.max_completion_len,
                      round_seed((uint64_t)t->c.seed, step, 63), (int)t->c.reward_workers, NULL};
    int st = evaluate(&t->env, t->env.eval, t->rules, &t->stops, &eo, r);
    if (!st) st = write_evals(t, step, r);
    return st;
}

static char *state_json(Trainer *t, long step) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", "grpo");
    cJSON_AddNumberToObject(o, "step", (double)step);
    cJSON_AddNumberToObject(o, "run_id", (double)t->run_id);
    cJSON_AddNumberToObject(o, "nan_streak", t->nan_streak);
    cJSON_AddItemToObject(o, "iter", ds_iter_state_to_cjson(&t->it.st));
    char *cfg = config_to_json(&t->c);
    cJSON_AddItemToObject(o, "config", cJSON_Parse(cfg));
    free(cfg);
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    return s;
}

// Rank 0 alone writes checkpoints (and the run file): every process holds the
// same weights, optimizer state and data position.
static int save_checkpoint(Trainer *t, long step) {
    if (dist_rank() != 0) return GRPO_OK;
    char *s = state_json(t, step);
    if (!s) return grpo_fail(GRPO_ENOMEM, "out of memory");
    int st = ckpt_save(t->out_dir, step, t->env.model, &t->opt, s, t->env.tok_dir, (int)t->c.keep_checkpoints);
    free(s);
    return st;
}

// The gold answer to show beside a rollout.
static char *gold_text(const cJSON *ex) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(ex, "answer");
    if (!a) a = cJSON_GetObjectItemCaseSensitive(ex, "target");
    return a ? ds_json_text(a) : NULL;
}

static int log_step(Trainer *t, RunStep *rs, const Group *groups, int n_groups) {
    int n = 0;
    for (int g = 0; g < n_groups; g++) n += groups[g].G;
    RunRollout *ro = calloc((size_t)n, sizeof *ro);
    RunReward *rw = calloc((size_t)n * RULES_MAX, sizeof *rw);
    char **golds = calloc((size_t)n_groups, sizeof *golds), **exs = calloc((size_t)n_groups, sizeof *exs);
    if (!ro || !rw || !golds || !exs) {
        free(ro), free(rw), free(golds), free(exs);
        return grpo_fail(GRPO_ENOMEM, "out of memory");
    }
    for (int g = 0, i = 0; g < n_groups; g++) {
        golds[g] = gold_text(groups[g].ex);
        exs[g] = cJSON_PrintUnformatted(groups[g].ex);
        for (int k = 0; k < groups[g].G; k++, i++) {
            const RuleScore *sc = &groups[g].score[k];
            for (int j = 0; j < sc->n; j++)
                rw[(size_t)i * RULES_MAX + j] = (RunReward){rules_name(t->rules, j), sc->value[j], rules_weight(t->rules, j), sc->detail[j]};
            ro[i] = (RunRollout){g, k, groups[g].prompt_text, groups[g].text[k], golds[g], groups[g].gen[k].n_tokens,
                                 gen_finish_name(groups[g].gen[k].finish), groups[g].reward[k], groups[g].adv[k],
                                 rw + (size_t)i * RULES_MAX, sc->n, exs[g]};
        }
    }
    int st = runlog_write_step(t->log, t->run_id, rs, ro, n, NULL, 0);
    for (int g = 0; g < n_groups; g++) free(golds[g]), free(exs[g]);
    free(golds), free(exs), free(ro), free(rw);
    return st;
}

// Draws prompts and generates until the step has its groups: B of them, or with
// dynamic sampling B informative ones (at most max_rounds extra rounds; then
// whatever informative groups were found, or the last round's if none were).
// With several processes each generates its share of every round's prompts
// (rl/dist.h) and keeps its share of the step's groups: *out gets this
// process's *n_out groups, pos (B) their positions among all *n_total.
static int collect_groups(Trainer *t, long step, Group **out, int *n_out, int *pos, int *n_total, RunStep *rs) {
    const int B = (int)t->c.prompts_per_step, G = (int)t->c.group_size;
    Group *keep = calloc((size_t)B, sizeof *keep);
    int *idx = malloc((size_t)B * sizeof(int));
    Group *round = calloc((size_t)B, sizeof *round);
    double *flat = calloc((size_t)B, sizeof(double));
    int n_keep = 0, n_mine = 0, st = GRPO_OK;
    if (!keep || !idx || !round || !flat) {
        free(keep), free(idx), free(round), free(flat);
        return grpo_fail(GRPO_ENOMEM, "out of memory");
    }
    const int rounds = t->c.dynamic_sampling ? 1 + (int)t->c.dynamic_sampling_max_rounds : 1;
    for (int r = 0; r < rounds && n_keep < B; r++) {
        int want = t->c.dynamic_sampling ? B - n_keep : B;
        for (int i = 0; i < want; i++) idx[i] = (int)ds_iter_next(&t->it);
        int a, b; // this process's prompts of the round; every process draws them all
        dist_split(want, &a, &b);
        RolloutOptions ro = {t->c.temperature, t->c.top_p, t->c.min_p, t->c.top_k, t->c.max_completion_len,
                             round_seed((uint64_t)t->c.seed, step, r), (int)t->c.reward_workers, a, t->gen};
        double gs = 0, rsec = 0;
        if (b > a && (st = rollout_groups(&t->env, t->env.train, t->rules, &t->stops, &ro, idx + a, b - a, G, round + a, &gs, &rsec)))
            break;
        rs->gen_s += gs;
        rs->reward_s += rsec;
        // Which groups are kept depends on every process's rewards.
        for (int i = 0; i < want; i++) flat[i] = i >= a && i < b && group_is_flat(&round[i]);
        if (t->c.dynamic_sampling && (st = dist_allreduce_sum_f64(flat, (size_t)want))) break;
        int last_round = r + 1 == rounds;
        for (int i = 0; i < want; i++) {
            int useful = !t->c.dynamic_sampling || flat[i] == 0;
            // With nothing informative at all after the last round, train on
            // what there is rather than skip the step.
            if (!useful && last_round && n_keep == 0 && i == want - 1) useful = 1;
            if (useful && n_keep < B) {
                if (i >= a && i < b) pos[n_mine] = n_keep, keep[n_mine++] = round[i];
                n_keep++;
            } else {
                if (t->c.dynamic_sampling) rs->n_filtered_groups++;
                if (i >= a && i < b) group_free(&round[i]);
            }
        }
    }
    free(idx);
    free(round);
    free(flat);
    if (st) {
        for (int i = 0; i < n_mine; i++) group_free(&keep[i]);
        free(keep);
        return st;
    }
    *out = keep;
    *n_out = n_mine;
    *n_total = n_keep;
    return GRPO_OK;
}

// Fault injection for the tests of the non-finite-gradient path: the steps listed
// in GRPO_FAULT_NAN_STEPS ("3,4,5") get a NaN gradient.
static int fault_step(long step) {
    const char *e = getenv("GRPO_FAULT_NAN_STEPS");
    while (e && *e) {
        char *end;
        long s = strtol(e, &end, 10);
        if (end == e) break;
        if (s == step) return 1;
        e = *end == ',' ? end + 1 : end;
    }
    return 0;
}

// Fault injection for the tests of a failing process: GRPO_FAULT_FAIL_RANK=R:S
// makes rank R fail at step S while the others carry on.
static int fault_rank_fails(long step) {
    const char *e = getenv("GRPO_FAULT_FAIL_RANK");
    int r;
    long s;
    return e && sscanf(e, "%d:%ld", &r, &s) == 2 && r == dist_rank() && s == step;
}

static void fmt_eta(char *buf, size_t n, double s) {
    if (!isfinite(s) || s < 0) snprintf(buf, n, "?");
    else if (s >= 3600) snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
}

static void progress(const TrainerOutput *o, const RunStep *rs, long steps, double eta_s) {
    if (o->quiet) return;
    char eta[32];
    fmt_eta(eta, sizeof eta, eta_s);
    char line[256], acc[16];
    if (isnan(rs->accuracy)) snprintf(acc, sizeof acc, "-");
    else snprintf(acc, sizeof acc, "%.3f", rs->accuracy);
    snprintf(line, sizeof line, "step %d/%ld  reward %.3f  acc %s  kl %.4f  tok/s %.0f  len %.0f  ETA %s%s", rs->step, steps,
             rs->reward_mean, acc, rs->kl, rs->tokens_per_s, rs->completion_len_mean, eta, rs->skipped_update ? "  (update skipped)" : "");
    trainer_log(o, o->progress_tty, "%s", line);
}

void trainer_log(const TrainerOutput *o, int redraw, const char *fmt, ...) {
    if (!o || o->quiet || !o->log) return;
    if (!fmt) {
        o->log(o->user, NULL, redraw);
        return;
    }
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    o->log(o->user, line, redraw);
}

static int train_step(Trainer *t, long step, RunStep *rs) {
    memset(rs, 0, sizeof *rs);
    rs->step = (int)step;
    double t0 = now_s();
    Group *groups = NULL, *all = NULL; // all: every process's groups, on rank 0 (dist only)
    const int G = (int)t->c.group_size, dist = dist_size() > 1;
    int n = 0, n_total = 0, *pos = calloc((size_t)t->c.prompts_per_step, sizeof(int));
    int *seq_pos = calloc((size_t)t->c.prompts_per_step * G, sizeof(int));
    if (!pos || !seq_pos) {
        free(pos), free(seq_pos);
        return grpo_fail(GRPO_ENOMEM, "out of memory");
    }
    int st = collect_groups(t, step, &groups, &n, pos, &n_total, rs);
    if (st) {
        free(pos), free(seq_pos);
        return st;
    }
    ScaleRewards sr;
    grpo_scale_rewards_parse(t->c.scale_rewards, &sr);
    if ((st = dist ? dist_groups_advantages(groups, pos, n, n_total, G, (int)sr) : rollout_advantages(groups, n, (int)sr))) goto done;

    LrSchedule sched;
    optim_schedule_parse(t->c.lr_scheduler, &sched);
    UpdateOptions uo;
    memset(&uo, 0, sizeof uo);
    grpo_loss_type_parse(t->c.loss_type, &uo.loss.type);
    uo.loss.beta = t->c.beta;
    uo.loss.eps_low = t->c.eps_low;
    uo.loss.eps_high = t->c.eps_high;
    uo.loss.max_completion_len = (int)t->c.max_completion_len;
    uo.num_iterations = (int)t->c.num_iterations;
    uo.mini_batch = (int)t->c.mini_batch_size;
    uo.micro_batch = (int)t->c.micro_batch_size;
    uo.mask_truncated = t->c.mask_truncated_completions;
    uo.temperature = t->c.temperature;
    uo.max_grad_norm = t->c.max_grad_norm;
    uo.adam = (AdamWConfig){t->c.lr, t->c.adam_beta1, t->c.adam_beta2, t->c.adam_eps, t->c.weight_decay};
    uo.lr = optim_lr_at(sched, t->c.lr, step - 1, t->c.steps, t->c.warmup_steps, t->c.min_lr_ratio);
    uo.want_entropy = t->c.log_entropy;
    uo.poison_grads = fault_step(step);
    if (dist) {
        for (int g = 0; g < n; g++)
            for (int k = 0; k < G; k++) seq_pos[g * G + k] = pos[g] * G + k;
        uo.seq_pos = seq_pos;
        uo.n_seqs_global = n_total * G;
    }
    if (fault_rank_fails(step)) {
        st = grpo_fail(GRPO_EINTERNAL, "step %ld: failure injected on rank %d (GRPO_FAULT_FAIL_RANK)", step, dist_rank());
        goto done;
    }
    double t1 = now_s();
    UpdateStats us;
    if ((st = policy_update(t->env.model, t->ref, &t->opt, groups, n, &uo, &us))) goto done;
    rs->train_s = now_s() - t1;
    if (dist) {
        // The step's numbers come from every process: rank 0 gets all groups
        // (the others only needed the update), and times are the slowest's.
        double times[3] = {rs->gen_s, rs->reward_s, rs->train_s};
        if ((st = dist_allreduce_max_f64(times, 3)) || (st = dist_groups_gather(groups, pos, n, n_total, t->env.train, &all)))
            goto done;
        rs->gen_s = times[0], rs->reward_s = times[1], rs->train_s = times[2];
        t->nan_streak = us.n_skipped > 0 && us.n_updates == 0 ? t->nan_streak + 1 : 0;
        if (dist_rank() != 0) goto done;
    }
    const Group *mg = dist ? all : groups; // the step's groups for metrics and the run file
    const int mn = dist ? n_total : n;

    double rsum = 0, rsq = 0, len = 0, lmax = 0, trunc = 0, correct = 0, gen_tokens = 0;
    int total = 0;
    for (int g = 0; g < mn; g++)
        for (int k = 0; k < mg[g].G; k++, total++) {
            double r = mg[g].reward[k];
            rsum += r, rsq += r * r;
            double l = mg[g].gen[k].n_tokens;
            len += l, gen_tokens += l;
            if (l > lmax) lmax = l;
            trunc += mg[g].gen[k].finish == GEN_FINISH_LENGTH;
            correct += eval_is_correct(&mg[g].score[k], t->verifier);
        }
    rs->n_prompts = mn;
    rs->n_rollouts = total;
    rs->reward_mean = total ? rsum / total : 0;
    rs->reward_std = total > 1 ? sqrt(fmax(0, (rsq - rsum * rsum / total) / (total - 1))) : 0;
    rs->accuracy = t->verifier >= 0 && total ? correct / total : NAN;
    rs->loss = us.loss;
    rs->kl = us.kl;
    rs->entropy = us.entropy;
    rs->clip_frac = us.clip_frac;
    rs->clip_low_frac = us.clip_low_frac;
    rs->clip_high_frac = us.clip_high_frac;
    rs->grad_norm = us.grad_norm;
    rs->lr = uo.lr;
    rs->completion_len_mean = total ? len / total : 0;
    rs->completion_len_max = lmax;
    rs->truncated_frac = total ? trunc / total : 0;
    rs->tokens_per_s = rs->gen_s > 0 ? gen_tokens / rs->gen_s : 0;
    rs->skipped_update = us.n_skipped > 0;
    rs->step_s = now_s() - t0;
    if (!dist) t->nan_streak = us.n_skipped > 0 && us.n_updates == 0 ? t->nan_streak + 1 : 0;
    st = log_step(t, rs, mg, mn);
done:
    for (int g = 0; g < n; g++) group_free(&groups[g]);
    free(groups);
    for (int g = 0; all && g < n_total; g++) group_free(&all[g]);
    free(all), free(pos), free(seq_pos);
    return st;
}

int trainer_resume_config(const char *out_dir, TrainConfig *c) {
    char ckpt[4096], *state = NULL;
    long step;
    int st = ckpt_latest(out_dir, ckpt, sizeof ckpt, &step);
    if (!st) st = ckpt_read_state(ckpt, &state);
    if (st) return st;
    cJSON *sj = cJSON_Parse(state);
    cJSON *cfg = sj ? cJSON_GetObjectItem(sj, "config") : NULL;
    char *text = cfg ? cJSON_PrintUnformatted(cfg) : NULL;
    char origin[4200];
    snprintf(origin, sizeof origin, "%s/trainer_state.json", ckpt);
    config_defaults(c);
    st = text ? config_apply_json(c, text, origin) : grpo_fail(GRPO_EFORMAT, "%s: no configuration", origin);
    free(text);
    cJSON_Delete(sj);
    free(state);
    return st;
}

static void on_signal(int sig) { g_stop = 1; }

// Gradients are all-reduced with MPI in host memory and with NCCL in GPU
// memory: every process must have opened the same kind of backend.
static int same_backend_everywhere(const Backend *be) {
    double k[2] = {(double)be->kind, -(double)be->kind};
    int st = dist_allreduce_max_f64(k, 2);
    if (!st && k[0] != -k[1])
        st = grpo_fail(GRPO_EINVAL, "rank %d: the processes opened different devices (this one: %s); set device=cpu or device=cuda",
                       dist_rank(), be->name);
    return st;
}

// The op profile of the training loop, a line at a time through o->log.
static void log_profile(Trainer *t, const TrainerOutput *o, long steps, double wall) {
    char *text = NULL, title[96];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return;
    snprintf(title, sizeof title, "%ld training steps", steps);
    prof_print(t->env.be, f, title, wall);
    fclose(f);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) trainer_log(o, 0, "%s", line);
    free(text);
}

int trainer_run(const TrainConfig *cfg, const char *out_dir, int resume, const TrainerOutput *o, TrainResult *res) {
    memset(res, 0, sizeof *res);
    Trainer t;
    memset(&t, 0, sizeof t);
    t.c = *cfg;
    t.out_dir = out_dir;
    t.verifier = -1;
    char ckpt[4096] = "", db[4200];
    long start = 0;
    char *state = NULL;
    cJSON *sj = NULL;
    int st = GRPO_OK;
    const int rank0 = dist_rank() == 0;
    if (!resume && rank0 && (st = grpo_mkdirs(out_dir))) return st;
    if (resume) {
        if ((st = ckpt_latest(out_dir, ckpt, sizeof ckpt, &start)) || (st = ckpt_read_state(ckpt, &state))) return st;
        sj = cJSON_Parse(state);
        if (!sj || !cJSON_IsNumber(cJSON_GetObjectItem(sj, "run_id")) || !cJSON_GetObjectItem(sj, "iter")) {
            cJSON_Delete(sj);
            free(state);
            return grpo_fail(GRPO_EFORMAT, "%s/trainer_state.json: not a grpo training state", ckpt);
        }
        t.run_id = (int64_t)cJSON_GetObjectItem(sj, "run_id")->valuedouble;
        t.nan_streak = cJSON_GetObjectItem(sj, "nan_streak") ? cJSON_GetObjectItem(sj, "nan_streak")->valueint : 0;
    }
    // The policy starts from the checkpoint on resume; the reference is always
    // the configured initial model.
    TrainConfig ec = t.c;
    if (resume) snprintf(ec.model, sizeof ec.model, "%s", ckpt);
    if ((st = env_open(&t.env, &ec, ENV_MODEL | ENV_DATA | ENV_EVAL))) goto done;
    t.env.cfg = t.c;
    if ((st = same_backend_everywhere(t.env.be))) goto done;
    char err[512];
    if (rules_load(default_rules(&t.c), &t.rules, err, sizeof err)) {
        st = grpo_fail(GRPO_EINVAL, "rules: %s", err);
        goto done;
    }
    t.verifier = eval_verifier_rule(t.rules);
    if (t.c.beta > 0 && ((st = model_load(&t.ref, t.c.model, t.env.be)) || (st = model_drop_master(t.ref)))) goto done;
    if ((st = model_alloc_grads(t.env.model)) || (st = adamw_build(&t.opt, t.env.model->be, t.env.model->n_params))) goto done;
    if ((st = ds_iter_init(&t.it, ds_count(t.env.train), (uint64_t)t.c.seed, 1))) goto done;
    if (resume) {
        DsIterState is;
        if ((st = ckpt_load_optimizer(ckpt, &t.opt)) || (st = ds_iter_state_from_cjson(cJSON_GetObjectItem(sj, "iter"), &is)) ||
            (st = ds_iter_restore(&t.it, &is)))
            goto done;
    }
    if ((st = stoptable_build(&t.stops, &t.env))) goto done;
    // Evaluation generates without it: its batches would grow the workspace
    // kept through every training step.
    if ((st = gen_cache_build(&t.gen, t.env.model))) goto done;
    if (rank0) { // the other processes never open the run file
        snprintf(db, sizeof db, "%s/run.db", out_dir);
        if ((st = runlog_open(db, 0, &t.log))) goto done;
        if (resume) {
            if ((st = runlog_truncate_after(t.log, t.run_id, (int)start))) goto done;
        } else {
            char *cj = config_to_json(&t.c);
            st = runlog_begin_run(t.log, cj, &t.run_id);
            free(cj);
            if (st) goto done;
        }
    }
    g_stop = 0;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    if (start == 0 && rank0) {
        if ((st = run_eval(&t, 0, &res->first_eval))) goto restore;
        res->have_first_eval = 1;
    }
    // The profile covers the steps (and the evaluations between them), not
    // the evaluations at the start and the end.
    if (t.c.profile && (st = prof_start(t.env.be))) goto restore;
    double t_loop = now_s();
    long done_steps = start;
    for (long step = start + 1; step <= t.c.steps; step++) {
        RunStep rs;
        if ((st = train_step(&t, step, &rs))) goto restore;
        done_steps = step;
        // Every process stops after the same step (a signal may reach only some).
        double stop = g_stop;
        if ((st = dist_allreduce_max_f64(&stop, 1))) goto restore;
        g_stop = stop > 0;
        double per = (now_s() - t_loop) / (double)(step - start);
        progress(o, &rs, t.c.steps, per * (double)(t.c.steps - step));
        int last = step == t.c.steps;
        if (t.nan_streak >= 3) {
            save_checkpoint(&t, step);
            dist_barrier(); // the others wait for the checkpoint before they stop too
            st = grpo_fail(GRPO_EINVAL, "step %ld: three updates in a row had a non-finite loss or gradient; stopped (checkpoint %s/checkpoints/step-%06ld)",
                           step, out_dir, step);
            goto restore;
        }
        if (!last && rank0 && t.c.eval_every && step % t.c.eval_every == 0) {
            EvalResult er;
            if ((st = run_eval(&t, step, &er))) goto restore;
        }
        if (last || g_stop || (t.c.save_every && step % t.c.save_every == 0))
            if ((st = save_checkpoint(&t, step))) goto restore;
        if (g_stop && !last) {
            res->interrupted = 1;
            break;
        }
    }
    if (o->progress_tty && !o->quiet && o->log) o->log(o->user, NULL, 1);
    if (t.c.profile && rank0) log_profile(&t, o, done_steps - start, now_s() - t_loop);
    prof_stop(t.env.be);
    res->steps_done = done_steps;
    if (!res->interrupted && done_steps == t.c.steps && rank0) {
        if ((st = run_eval(&t, t.c.steps, &res->last_eval))) goto restore;
        res->have_last_eval = 1;
    }
restore:
    prof_stop(t.env.be);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (t.log) runlog_finish_run(t.log, t.run_id, st ? "failed" : res->interrupted ? "interrupted" : "done");
done:
    gen_cache_free(t.gen);
    stoptable_free(&t.stops);
    runlog_close(t.log);
    ds_iter_free(&t.it);
    adamw_free(&t.opt);
    model_free(t.ref);
    rules_free(t.rules);
    env_close(&t.env);
    cJSON_Delete(sj);
    free(state);
    return st;
}
