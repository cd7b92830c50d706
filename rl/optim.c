#include "rl/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/status.h"

int adamw_build(AdamW *opt, Backend *be, size_t n) {
    memset(opt, 0, sizeof *opt);
    opt->be = be;
    int st = be->adamw ? GRPO_OK : backend_require(be, NULL, "adamw");
    if (!st) st = be->alloc(be, (void **)&opt->m, (n ? n : 1) * sizeof(float));
    if (!st) st = be->alloc(be, (void **)&opt->v, (n ? n : 1) * sizeof(float));
    if (st) {
        adamw_free(opt);
        return grpo_wrap(st, "optimizer: moments for %zu parameters: ", n);
    }
    opt->n = n;
    return GRPO_OK;
}

void adamw_free(AdamW *opt) {
    if (opt->be) {
        opt->be->free(opt->be, opt->m);
        opt->be->free(opt->be, opt->v);
    }
    memset(opt, 0, sizeof *opt);
}

BackendAdamW adamw_constants(const AdamWConfig *cfg, double lr, long t) {
    const double bc1 = 1.0 - pow(cfg->beta1, (double)t);
    const double bc2 = 1.0 - pow(cfg->beta2, (double)t);
    return (BackendAdamW){(float)cfg->beta1, (float)cfg->beta2, (float)(lr / bc1), (float)(1.0 - lr * cfg->weight_decay),
                          (float)(1.0 / sqrt(bc2)), (float)cfg->eps};
}

int adamw_step(AdamW *opt, float *params, void *params_cd, const float *grads, double lr, const AdamWConfig *cfg) {
    opt->t++;
    const BackendAdamW h = adamw_constants(cfg, lr, opt->t);
    if (params_cd == (void *)params) params_cd = NULL;
    return opt->be->adamw(opt->be, params, params_cd, opt->m, opt->v, grads, opt->n, &h);
}

int optim_grad_norm(Backend *be, const float *g, size_t n, double *norm) {
    double s = 0;
    int st = be->sumsq ? GRPO_OK : backend_require(be, NULL, "sumsq");
    if (!st) st = be->sumsq(be, &s, g, n);
    *norm = st ? NAN : sqrt(s);
    return st;
}

int optim_clip_grad_norm(Backend *be, float *g, size_t n, double max_norm, double *norm) {
    int st = optim_grad_norm(be, g, n, norm);
    if (st) return st;
    if (max_norm > 0 && isfinite(*norm)) {
        const double coef = max_norm / (*norm + 1e-6);
        if (coef < 1.0) {
            if (!be->scale) return backend_require(be, NULL, "scale");
            return be->scale(be, g, (float)coef, n);
        }
    }
    return GRPO_OK;
}

int optim_schedule_parse(const char *name, LrSchedule *out) {
    if (!strcmp(name, "constant")) *out = LR_CONSTANT;
    else if (!strcmp(name, "cosine")) *out = LR_COSINE;
    else if (!strcmp(name, "linear")) *out = LR_LINEAR;
    else return grpo_fail(GRPO_EINVAL, "unknown lr_scheduler '%s' (expected constant, cosine or linear)", name);
    return GRPO_OK;
}

double optim_lr_at(LrSchedule s, double peak, long step, long total, long warmup, double min_ratio) {
    if (warmup > 0 && step < warmup) return peak * (double)(step + 1) / (double)(warmup + 1);
    if (s == LR_CONSTANT || total <= warmup) return peak;
    double progress = (double)(step - warmup) / (double)(total - warmup);
    if (progress > 1) progress = 1;
    double f = s == LR_COSINE ? 0.5 * (1.0 + cos(M_PI * progress)) : 1.0 - progress;
    return peak * (min_ratio + (1.0 - min_ratio) * f);
}
