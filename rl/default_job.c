#include "rl/default_job.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kernels/fileio.h"
#include "kernels/status.h"
#include "policy/safetensors.h"
#include "policy/tokenizer.h"
#include "rl/checkpoint.h"
#include "rl/sft.h"

// Bump when the recipe below changes, so an old cached base model is not reused.
#define DEFAULT_JOB_VERSION "v4"

// The task: two-digit addition ("What is 35 + 29?"), answered in <answer> tags
// and checked exactly by the math rule. The base model comes from a short SFT
// on worked column-by-column solutions written by a sloppy teacher who forgets
// the carry into the tens column 60% of the time. So the base model knows how
// to carry -- carrying is in its sampling distribution -- but it often does not
// do it when decoding greedily: the situation of a pretrained model whose
// reasoning habits are inconsistent, which is what R1-Zero-style RL fixes.
// The verifier rewards only the true sum, so GRPO has to discover on its own
// that carrying pays. A short prompt keeps byte-level sequences short (the
// R1-Zero preamble alone would be ~330 byte tokens).
static const char *TEMPLATE = "Q: {question}\nA:";
static const char *DATASET = "gen:arithmetic?digits=2&ops=+&n=20000";
static const char *SFT_DATASET = "gen:arithmetic?digits=2&ops=+&worked=1&slip=60&n=20000";

// Keeps the first failure, so a recipe reads as a plain list of settings.
static void set(TrainConfig *c, int *st, const char *kv) {
    if (*st) return;
    if ((*st = config_set(c, kv))) *st = grpo_wrap(*st, "default job: internal setting '%s' rejected: ", kv);
}

int default_job_sft_config(TrainConfig *c, const char *init_dir) {
    int st = GRPO_OK;
    config_defaults(c);
    snprintf(c->model, sizeof c->model, "%s", init_dir);
    snprintf(c->dataset, sizeof c->dataset, "%s", SFT_DATASET);
    snprintf(c->template_name, sizeof c->template_name, "%s", TEMPLATE);
    set(c, &st, "device=cpu");
    set(c, &st, "seed=1");
    // Copying digits out of the question takes a 0.8M-parameter byte-level
    // model ~250 steps to discover (the loss sits near 0.3 until then); 500
    // give it the column arithmetic. At 3e-3 it was still there after 300 steps.
    set(c, &st, "steps=500");
    set(c, &st, "prompts_per_step=16");
    set(c, &st, "lr=1e-3");
    set(c, &st, "lr_scheduler=constant");
    set(c, &st, "warmup_steps=10");
    set(c, &st, "weight_decay=0.0");
    set(c, &st, "max_completion_len=200");
    set(c, &st, "keep_checkpoints=1");
    return st;
}

int default_job_config(TrainConfig *c, const char *base_dir) {
    int st = GRPO_OK;
    config_defaults(c);
    snprintf(c->model, sizeof c->model, "%s", base_dir);
    snprintf(c->dataset, sizeof c->dataset, "%s", DATASET);
    snprintf(c->template_name, sizeof c->template_name, "%s", TEMPLATE);
    set(c, &st, "rules=math");
    set(c, &st, "device=cpu");
    set(c, &st, "seed=1");
    // With Adam every weight moves ~lr per step whatever the noise in the policy
    // gradient; from 3e-4 up the 0.8M-parameter policy's greedy decoding falls
    // apart for a while, 1e-4 turns the carrying habit around within ~20 steps.
    set(c, &st, "steps=40");
    set(c, &st, "prompts_per_step=16");
    set(c, &st, "group_size=8");
    set(c, &st, "loss_type=grpo");
    set(c, &st, "lr=1e-4");
    set(c, &st, "lr_scheduler=constant");
    set(c, &st, "temperature=1.0");
    set(c, &st, "max_completion_len=192");
    set(c, &st, "stop=</answer>");
    set(c, &st, "eval_size=200");
    set(c, &st, "eval_every=20");
    set(c, &st, "save_every=20");
    set(c, &st, "keep_checkpoints=2");
    return st;
}

static void cache_root(char *buf, size_t n) {
    const char *env = getenv("GRPO_CACHE_DIR");
    if (env && *env) snprintf(buf, n, "%s", env);
    else if (getenv("XDG_CACHE_HOME") && *getenv("XDG_CACHE_HOME")) snprintf(buf, n, "%s/grpo", getenv("XDG_CACHE_HOME"));
    else snprintf(buf, n, "%s/.cache/grpo", getenv("HOME") ? getenv("HOME") : "/tmp");
}

static int file_exists(const char *dir, const char *name) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, R_OK) == 0;
}

// A fresh small Llama-shaped model with the built-in byte-level tokenizer.
static int make_init_model(const char *dir) {
    int st = grpo_mkdirs(dir);
    if (!st) st = tok_write_builtin(dir);
    Tokenizer *tok = NULL;
    if (!st) st = tok_load(dir, &tok);
    if (st) return st;
    ModelConfig mc;
    model_config_default(&mc, MODEL_LLAMA);
    mc.hidden = 128;
    mc.ffn = 384;
    mc.n_layers = 4;
    mc.n_heads = 4;
    mc.n_kv_heads = 2;
    mc.head_dim = 32;
    mc.vocab = tok_vocab_size(tok);
    mc.max_pos = 512;
    mc.tie_embeddings = 1;
    mc.eos_ids[0] = tok_eos_id(tok);
    mc.n_eos = mc.eos_ids[0] >= 0;
    tok_free(tok);
    Backend *be = NULL;
    Model *m = NULL;
    if ((st = backend_open("cpu", &be))) return st;
    if (!(st = model_build(&m, &mc, be)) && !(st = model_init_random(m, 1234, 0.02f))) st = model_save(m, dir, ST_F32, NULL);
    model_free(m);
    backend_close(be);
    return st;
}

static int ensure_base_model(char *base, size_t n, const TrainerOutput *o) {
    char root[4096];
    cache_root(root, sizeof root);
    snprintf(base, n, "%s/default-base-%s", root, DEFAULT_JOB_VERSION);
    if (file_exists(base, "config.json") && file_exists(base, "model.safetensors")) {
        trainer_log(o, 0, "default job: base model %s (cached)", base);
        return GRPO_OK;
    }
    char work[4200], init[4300];
    snprintf(work, sizeof work, "%s.tmp-%d", base, (int)getpid());
    snprintf(init, sizeof init, "%s/init", work);
    ckpt_remove_tree(work);
    trainer_log(o, 0, "default job: making the base model once (random init + SFT warm start) in %s", base);
    int st = make_init_model(init);
    if (st) return st;
    TrainConfig sc;
    SftResult sr;
    if ((st = default_job_sft_config(&sc, init)) || (st = sft_run(&sc, work, o, &sr))) return st;
    char final[4400];
    ckpt_dir(final, sizeof final, work, sr.steps);
    // Another process may have raced us to it; either copy is the same model.
    if (rename(final, base) != 0 && !file_exists(base, "config.json"))
        return grpo_fail(GRPO_EIO, "%s: cannot move the base model into the cache: %s", base, strerror(errno));
    ckpt_remove_tree(work);
    trainer_log(o, 0, "default job: SFT loss %.3f -> %.3f over %ld steps", sr.first_loss, sr.last_loss, sr.steps);
    return GRPO_OK;
}

int default_job_run(const char *const *sets, int n_sets, const char *out_dir, const TrainerOutput *o, TrainResult *res) {
    memset(res, 0, sizeof *res);
    char base[4096];
    int st = ensure_base_model(base, sizeof base, o);
    if (st) return grpo_wrap(st, "default job: ");
    TrainConfig c;
    if ((st = default_job_config(&c, base))) return st;
    for (int i = 0; i < n_sets; i++)
        if ((st = config_set(&c, sets[i]))) return st;
    if ((st = config_validate(&c))) return st;
    // A fresh run each time: the default job is a demonstration, not a resumable run.
    ckpt_remove_tree(out_dir);
    return trainer_run(&c, out_dir, 0, o, res);
}
