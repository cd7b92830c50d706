// AdamW against a float64 transcription of torch.optim.AdamW, gradient-norm
// clipping, thread-count independence of the norm, and the LR schedules.
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "kernels/backend.h"
#include "rl/optim.h"
#include "testlib.h"

int main(void) {
    // The CPU backend's memory is host memory, so host arrays go straight in.
    Backend *be = NULL;
    CHECK(backend_open("cpu", &be) == GRPO_OK, "%s", grpo_errmsg());
    if (!be) return tu_finish("test_optim");
    enum { N = 1000 };
    uint64_t rng = 9;
    float p[N], g[N];
    double rp[N], rm[N] = {0}, rv[N] = {0};
    for (int i = 0; i < N; i++) rp[i] = p[i] = tu_rand_uniform(&rng);
    AdamW opt;
    CHECK(adamw_build(&opt, be, N) == 0, "build");
    AdamWConfig cfg = {1e-3, 0.9, 0.999, 1e-8, 0.1};
    double worst = 0;
    for (int t = 1; t <= 20; t++) {
        for (int i = 0; i < N; i++) g[i] = tu_rand_uniform(&rng) * (i % 7 + 1) * 0.01f;
        double lr = 1e-3 * (t % 3 + 1);
        CHECK(adamw_step(&opt, p, NULL, g, lr, &cfg) == GRPO_OK, "%s", grpo_errmsg());
        for (int i = 0; i < N; i++) { // torch.optim.AdamW, step by step
            rp[i] *= 1 - lr * cfg.weight_decay;
            rm[i] = cfg.beta1 * rm[i] + (1 - cfg.beta1) * g[i];
            rv[i] = cfg.beta2 * rv[i] + (1 - cfg.beta2) * (double)g[i] * g[i];
            double mh = rm[i] / (1 - pow(cfg.beta1, t)), vh = rv[i] / (1 - pow(cfg.beta2, t));
            rp[i] -= lr * mh / (sqrt(vh) + cfg.eps);
        }
        for (int i = 0; i < N; i++) {
            double e = fabs(p[i] - rp[i]);
            if (e > worst) worst = e;
        }
    }
    CHECK(worst < 1e-6, "AdamW drifts from the reference by %g", worst);
    CHECK(opt.t == 20, "step count");
    adamw_free(&opt);

    // Norm and clipping.
    float big[300000];
    for (int i = 0; i < 300000; i++) big[i] = tu_rand_uniform(&rng);
    double ref = 0;
    for (int i = 0; i < 300000; i++) ref += (double)big[i] * big[i];
    ref = sqrt(ref);
    double n1, n2, before, after;
    omp_set_num_threads(1);
    CHECK(optim_grad_norm(be, big, 300000, &n1) == GRPO_OK, "norm");
    omp_set_num_threads(2);
    CHECK(optim_grad_norm(be, big, 300000, &n2) == GRPO_OK, "norm");
    CHECK(n1 == n2, "norm depends on thread count: %.17g vs %.17g", n1, n2);
    CHECK(fabs(n1 - ref) < 1e-9 * ref, "norm %g vs %g", n1, ref);
    CHECK(optim_clip_grad_norm(be, big, 300000, 1.0, &before) == GRPO_OK, "clip");
    CHECK(before == n1, "clip returns the norm before clipping");
    CHECK(optim_grad_norm(be, big, 300000, &after) == GRPO_OK && fabs(after - 1.0) < 1e-4, "clipped norm is 1: %g", after);
    float small[3] = {0.1f, 0.2f, 0.2f};
    CHECK(optim_clip_grad_norm(be, small, 3, 1.0, &before) == GRPO_OK, "clip");
    CHECK(small[0] == 0.1f && small[2] == 0.2f, "a norm below the limit is left alone");
    // The trainer skips a step on a non-finite norm: NaN and inf must reach it,
    // and clipping must not touch the gradients then.
    small[1] = NAN;
    CHECK(optim_clip_grad_norm(be, small, 3, 1e-3, &before) == GRPO_OK && isnan(before), "NaN norm: %g", before);
    CHECK(small[0] == 0.1f, "a NaN norm scales nothing");
    small[1] = -INFINITY;
    CHECK(optim_grad_norm(be, small, 3, &before) == GRPO_OK && isinf(before), "inf norm: %g", before);
    small[1] = 3e38f; // a finite float's square does not overflow float64
    CHECK(optim_grad_norm(be, small, 3, &before) == GRPO_OK && isfinite(before), "huge but finite: %g", before);

    // Schedules: warmup reaches the peak, cosine ends at the floor, constant stays.
    CHECK(fabs(optim_lr_at(LR_COSINE, 1.0, 0, 100, 4, 0.0) - 0.2) < 1e-12, "warmup first step");
    CHECK(fabs(optim_lr_at(LR_COSINE, 1.0, 4, 100, 4, 0.0) - 1.0) < 1e-12, "peak after warmup");
    CHECK(fabs(optim_lr_at(LR_COSINE, 1.0, 52, 100, 4, 0.0) - 0.5) < 1e-12, "cosine midpoint");
    CHECK(fabs(optim_lr_at(LR_COSINE, 1.0, 100, 100, 4, 0.1) - 0.1) < 1e-12, "cosine floor");
    CHECK(fabs(optim_lr_at(LR_LINEAR, 2.0, 52, 100, 4, 0.0) - 1.0) < 1e-12, "linear midpoint");
    CHECK(optim_lr_at(LR_CONSTANT, 3.0, 90, 100, 0, 0.0) == 3.0, "constant");
    LrSchedule s;
    CHECK(optim_schedule_parse("cosine", &s) == 0 && s == LR_COSINE, "parse");
    CHECK(optim_schedule_parse("cosin", &s) != 0, "unknown schedule rejected");
    backend_close(be);
    return tu_finish("test_optim");
}
