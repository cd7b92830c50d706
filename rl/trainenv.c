#include "rl/trainenv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kernels/status.h"

static int is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static void add_eos(TrainEnv *e, int32_t id) {
    if (id < 0 || e->n_eos >= 16) return;
    for (int i = 0; i < e->n_eos; i++)
        if (e->eos_ids[i] == id) return;
    e->eos_ids[e->n_eos++] = id;
}

static int open_data(TrainEnv *e, const char *spec, DsSplit split, Dataset **out) {
    DsOptions o;
    ds_options_default(&o);
    if (strcmp(e->cfg.dataset_format, "auto")) {
        int st = ds_format_parse(e->cfg.dataset_format, &o.format);
        if (st) return grpo_wrap(st, "dataset_format: ");
    }
    o.split = split;
    o.split_seed = (uint64_t)e->cfg.seed;
    o.gen_seed = (uint64_t)e->cfg.seed;
    int st = ds_open(spec, &o, out);
    if (!st && ds_count(*out) == 0)
        st = grpo_fail(GRPO_EINVAL, "%s: the %s split is empty", spec, split == DS_SPLIT_EVAL ? "eval" : "train");
    return st;
}

int env_open(TrainEnv *e, const TrainConfig *cfg, int want) {
    memset(e, 0, sizeof *e);
    e->cfg = *cfg;
    int st = GRPO_OK;
    if (want & ENV_MODEL) {
        if (!cfg->model[0]) return grpo_fail(GRPO_EINVAL, "model: no model directory given");
        if ((st = backend_open(cfg->device, &e->be))) return st;
        if ((st = backend_set_precision(e->be, cfg->precision))) {
            st = grpo_wrap(st, "precision: ");
            goto fail;
        }
        if ((st = model_load(&e->model, cfg->model, e->be))) goto fail;
        snprintf(e->tok_dir, sizeof e->tok_dir, "%s", cfg->tokenizer[0] ? cfg->tokenizer : cfg->model);
        if ((st = tok_load(e->tok_dir, &e->tok))) goto fail;
        if (!is_dir(e->tok_dir)) { // a tokenizer.json path: checkpoints copy from its folder
            char *slash = strrchr(e->tok_dir, '/');
            if (slash) *slash = '\0';
            else snprintf(e->tok_dir, sizeof e->tok_dir, ".");
        }
        if (tok_vocab_size(e->tok) > e->model->cfg.vocab) {
            st = grpo_fail(GRPO_EINVAL, "%s: the tokenizer has %d tokens but the model's vocab_size is %d", cfg->model,
                           tok_vocab_size(e->tok), e->model->cfg.vocab);
            goto fail;
        }
        TplOptions to;
        tpl_options_default(&to);
        const char *name = cfg->template_name;
        st = strchr(name, '{') ? tpl_create_custom(name, NULL, &to, &e->tpl) : tpl_create(name, &to, &e->tpl);
        if (st) {
            grpo_wrap(st, "template: ");
            goto fail;
        }
        for (int i = 0; i < e->model->cfg.n_eos; i++) add_eos(e, e->model->cfg.eos_ids[i]);
        add_eos(e, tok_eos_id(e->tok));
        for (int i = 0; i < tpl_eos_count(e->tpl); i++) add_eos(e, tok_token_id(e->tok, tpl_eos_name(e->tpl, i)));
    }
    const int separate = cfg->eval_dataset[0] != 0;
    if ((want & ENV_DATA) && (st = open_data(e, cfg->dataset, separate ? DS_SPLIT_ALL : DS_SPLIT_TRAIN, &e->train))) goto fail;
    if (want & ENV_EVAL) {
        st = open_data(e, separate ? cfg->eval_dataset : cfg->dataset, separate ? DS_SPLIT_ALL : DS_SPLIT_EVAL, &e->eval);
        if (st) goto fail;
    }
    return GRPO_OK;
fail:
    env_close(e);
    return st;
}

void env_close(TrainEnv *e) {
    ds_free(e->train);
    ds_free(e->eval);
    tpl_free(e->tpl);
    tok_free(e->tok);
    model_free(e->model);
    backend_close(e->be);
    memset(e, 0, sizeof *e);
}

int env_encode_prompt(const TrainEnv *e, const cJSON *ex, int32_t **ids, int *n, char **text) {
    char *prompt = NULL;
    size_t len = 0;
    *ids = NULL;
    int st = tpl_render(e->tpl, ex, &prompt, &len);
    if (st) return st;
    int32_t *t = NULL;
    size_t nt = 0;
    int add_bos = tok_wants_bos(e->tok) && !tpl_has_bos(e->tpl);
    st = tok_encode(e->tok, prompt, len, add_bos, &t, &nt);
    if (st) {
        free(prompt);
        return st;
    }
    // Left truncation keeps the end of the prompt, where the template hands over
    // to the assistant; the start (a system preamble) is what can go.
    if ((long)nt > e->cfg.max_prompt_len) {
        size_t cut = nt - (size_t)e->cfg.max_prompt_len;
        memmove(t, t + cut, (nt - cut) * sizeof *t);
        nt -= cut;
    }
    *ids = t;
    *n = (int)nt;
    if (text) *text = prompt;
    else free(prompt);
    return GRPO_OK;
}
