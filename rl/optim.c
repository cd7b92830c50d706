#include "rl/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/status.h"

int adamw_build(AdamW *opt, size_t n) {
    memset(opt, 0, sizeof *opt);
    opt->m = calloc(n ? n : 1, sizeof(float));
    opt->v = calloc(n ? n : 1, sizeof(float));
    if (!opt->m || !opt->v) {
        adamw_free(opt);
        return grpo_fail(GRPO_ENOMEM, "optimizer: cannot allocate moments for %zu parameters", n);
    }
    opt->n = n;
    return GRPO_OK;
}

void adamw_free(AdamW *opt) {
    free(opt->m);
    free(opt->v);
    memset(opt, 0, sizeof *opt);
}

void adamw_step(AdamW *opt, float *params, const float *grads, double lr, const AdamWConfig *cfg) {
    opt->t++;
    const double bc1 = 1.0 - pow(cfg->beta1, (double)opt->t);
    const double bc2 = 1.0 - pow(cfg->beta2, (double)opt->t);
    const float b1 = (float)cfg->beta1, b2 = (float)cfg->beta2;
    const float step = (float)(lr / bc1), decay = (float)(1.0 - lr * cfg->weight_decay);
    const float inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2)), eps = (float)cfg->eps;
    float *m = opt->m, *v = opt->v;
    const long n = (long)opt->n;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
        const float g = grads[i];
        m[i] = b1 * m[i] + (1.0f - b1) * g;
        v[i] = b2 * v[i] + (1.0f - b2) * g * g;
        params[i] = params[i] * decay - step * m[i] / (sqrtf(v[i]) * inv_sqrt_bc2 + eps);
    }
}

#define NORM_CHUNK 65536

double optim_grad_norm(const float *g, size_t n) {
    const long chunks = (long)((n + NORM_CHUNK - 1) / NORM_CHUNK);
    double *part = calloc(chunks ? chunks : 1, sizeof(double));
    if (!part) { // fall back to one thread rather than fail a training step
        double s = 0;
        for (size_t i = 0; i < n; i++) s += (double)g[i] * g[i];
        return sqrt(s);
    }
#pragma omp parallel for schedule(static)
    for (long c = 0; c < chunks; c++) {
        size_t lo = (size_t)c * NORM_CHUNK, hi = lo + NORM_CHUNK < n ? lo + NORM_CHUNK : n;
        double s = 0;
        for (size_t i = lo; i < hi; i++) s += (double)g[i] * g[i];
        part[c] = s;
    }
    double s = 0;
    for (long c = 0; c < chunks; c++) s += part[c];
    free(part);
    return sqrt(s);
}

double optim_clip_grad_norm(float *g, size_t n, double max_norm) {
    const double norm = optim_grad_norm(g, n);
    if (max_norm > 0 && isfinite(norm)) {
        const double coef = max_norm / (norm + 1e-6);
        if (coef < 1.0) {
            const float c = (float)coef;
            const long nn = (long)n;
#pragma omp parallel for schedule(static)
            for (long i = 0; i < nn; i++) g[i] *= c;
        }
    }
    return norm;
}

int optim_all_finite(const float *x, size_t n) {
    int ok = 1;
    const long nn = (long)n;
#pragma omp parallel for schedule(static) reduction(&& : ok)
    for (long i = 0; i < nn; i++) ok = ok && isfinite(x[i]);
    return ok;
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
