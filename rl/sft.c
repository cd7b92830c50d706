#include "rl/sft.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "datasets/iter.h"
#include "kernels/status.h"
#include "rl/checkpoint.h"
#include "rl/optim.h"
#include "rl/pack.h"
#include "rl/trainenv.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// The completion tokens of example ex: the template's supervised target, encoded
// without BOS, cut to max_completion_len.
static int encode_completion(const TrainEnv *e, const cJSON *ex, int idx, int32_t **ids, int *n) {
    const char *comp = ds_str(ex, "completion");
    if (!comp) return grpo_fail(GRPO_EINVAL, "%s: example %d has no \"completion\" to learn (sft needs prompt/completion data)",
                                e->train->origin, idx);
    char *target = NULL;
    int st = tpl_render_completion(e->tpl, comp, &target);
    if (st) return st;
    size_t nt = 0;
    st = tok_encode(e->tok, target, strlen(target), 0, ids, &nt);
    free(target);
    if (st) return st;
    if ((long)nt > e->cfg.max_completion_len) nt = (size_t)e->cfg.max_completion_len;
    *n = (int)nt;
    return GRPO_OK;
}

int sft_run(const TrainConfig *cfg, const char *out_dir, const TrainerOutput *o, SftResult *res) {
    memset(res, 0, sizeof *res);
    TrainEnv e;
    int st = env_open(&e, cfg, ENV_MODEL | ENV_DATA);
    if (st) return st;
    DsIter it = {0};
    AdamW opt = {0};
    Pack pk = {0};
    float *logp = NULL, *dlogp = NULL, *dcomp = NULL;
    if ((st = model_alloc_grads(e.model)) || (st = adamw_build(&opt, e.model->be, e.model->n_params)) ||
        (st = ds_iter_init(&it, ds_count(e.train), (uint64_t)cfg->seed, 1)))
        goto done;
    LrSchedule sched;
    optim_schedule_parse(cfg->lr_scheduler, &sched);
    AdamWConfig ac = {cfg->lr, cfg->adam_beta1, cfg->adam_beta2, cfg->adam_eps, cfg->weight_decay};
    double t0 = now_s();
    for (long step = 1; step <= cfg->steps; step++) {
        pack_reset(&pk);
        for (long i = 0; i < cfg->prompts_per_step; i++) {
            int idx = (int)ds_iter_next(&it);
            const cJSON *ex = ds_get(e.train, idx);
            int32_t *p = NULL, *c = NULL;
            int np = 0, nc = 0;
            st = env_encode_prompt(&e, ex, &p, &np, NULL);
            if (!st) st = encode_completion(&e, ex, idx, &c, &nc);
            if (!st) st = pack_add(&pk, p, np, c, nc);
            free(p);
            free(c);
            if (st) goto done;
        }
        free(logp), free(dlogp), free(dcomp);
        logp = malloc((size_t)pk.n_tokens * sizeof(float));
        dlogp = malloc((size_t)pk.n_tokens * sizeof(float));
        dcomp = malloc(((size_t)pk.n_comp + 1) * sizeof(float));
        if (!logp || !dlogp || !dcomp) {
            st = grpo_fail(GRPO_ENOMEM, "sft: out of memory");
            goto done;
        }
        ModelBatch b = pack_batch(&pk, 1.0f, 0);
        if ((st = model_zero_grad(e.model)) || (st = model_forward(e.model, &b, logp, NULL))) goto done;
        double nll = 0;
        for (int k = 0; k < pk.n_comp; k++) nll -= logp[pk.comp_pos[k]];
        const double denom = pk.n_comp ? pk.n_comp : 1;
        for (int k = 0; k < pk.n_comp; k++) dcomp[k] = (float)(-1.0 / denom);
        pack_scatter(&pk, dlogp, dcomp);
        if ((st = model_backward(e.model, dlogp))) goto done;
        double loss = nll / denom;
        if (step == 1) res->first_loss = loss;
        res->last_loss = loss;
        res->steps = step;
        double gnorm;
        if ((st = optim_clip_grad_norm(e.model->be, e.model->grads, e.model->n_params, cfg->max_grad_norm, &gnorm))) goto done;
        if (isfinite(loss) && isfinite(gnorm)) {
            double lr = optim_lr_at(sched, cfg->lr, step - 1, cfg->steps, cfg->warmup_steps, cfg->min_lr_ratio);
            if ((st = adamw_step(&opt, e.model->params, e.model->params_cd, e.model->grads, lr, &ac))) goto done;
        }
        if (step == 1 || step % 10 == 0 || step == cfg->steps)
            trainer_log(o, 0, "sft step %ld/%ld  loss %.4f  grad_norm %.3f  %.1f s", step, cfg->steps, loss, gnorm, now_s() - t0);
        int last = step == cfg->steps;
        if (last || (cfg->save_every && step % cfg->save_every == 0)) {
            char state[256];
            snprintf(state, sizeof state, "{\"kind\": \"sft\", \"step\": %ld, \"loss\": %.6g}", step, loss);
            if ((st = ckpt_save(out_dir, step, e.model, NULL, state, e.tok_dir, (int)cfg->keep_checkpoints))) goto done;
        }
    }
done:
    free(logp), free(dlogp), free(dcomp);
    pack_free(&pk);
    adamw_free(&opt);
    ds_iter_free(&it);
    env_close(&e);
    return st;
}
