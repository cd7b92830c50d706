// The GRPO loss and advantages against hand-computed values, the on-policy
// identity, finite differences of the loss, and micro-batch invariance.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/status.h"
#include "rl/grpo.h"
#include "testlib.h"

static int near(double a, double b, double tol) { return fabs(a - b) <= tol * (1 + fabs(b)); }

// Two sequences: seq 0 (A = 1) has an on-policy token and one whose ratio
// e^0.5 = 1.65 is clipped above; seq 1 (A = -0.5) has ratio e^-0.2 = 0.82,
// inside [0.8, 1.2].
static const int starts[] = {0, 2, 3};
static const float logp[] = {-1.0f, -2.0f, -0.3f};
static const float old_lp[] = {-1.0f, -2.5f, -0.1f};
static const float adv[] = {1.0f, -0.5f};

static void hand_values(void) {
    const double r2 = exp(-0.2);
    const double l00 = -1.0, l01 = -1.2, l10 = 0.5 * r2; // per-token losses
    const double g00 = -1.0, g01 = 0.0, g10 = 0.5 * r2;  // d l / d logp
    LossBatch b = {2, starts, logp, old_lp, NULL, NULL, adv, 0, 0};
    struct { LossType t; double loss; double w[3]; } cases[] = {
        {LOSS_GRPO, 0.5 * ((l00 + l01) / 2 + l10), {0.25, 0.25, 0.5}},
        {LOSS_BNPO, (l00 + l01 + l10) / 3, {1.0 / 3, 1.0 / 3, 1.0 / 3}},
        {LOSS_DAPO, (l00 + l01 + l10) / 3, {1.0 / 3, 1.0 / 3, 1.0 / 3}},
        {LOSS_DR_GRPO, (l00 + l01 + l10) / (2 * 4), {0.125, 0.125, 0.125}},
    };
    const double g[3] = {g00, g01, g10};
    for (int k = 0; k < 4; k++) {
        LossConfig c = {cases[k].t, 0.0, 0.2, 0.2, 4};
        LossStats st;
        float d[3];
        CHECK(grpo_loss(d, &st, &b, &c) == 0, "%s", grpo_errmsg());
        CHECK(near(st.loss, cases[k].loss, 1e-6), "%s: loss %.8f, expected %.8f", grpo_loss_type_name(c.type), st.loss, cases[k].loss);
        for (int t = 0; t < 3; t++)
            CHECK(near(d[t], cases[k].w[t] * g[t], 1e-6), "%s: dlogp[%d] = %g, expected %g", grpo_loss_type_name(c.type), t, d[t], cases[k].w[t] * g[t]);
        CHECK(near(st.clip_high_frac, 1.0 / 3, 1e-9) && st.clip_low_frac == 0, "clip fractions %g %g", st.clip_high_frac, st.clip_low_frac);
        CHECK(st.n_tokens == 3, "n_tokens %ld", st.n_tokens);
    }
    // A ratio below 1 - eps with a negative advantage is clipped below: no gradient.
    const float lp2[] = {-1.0f, -2.0f, -0.5f};
    LossBatch b2 = {2, starts, lp2, old_lp, NULL, NULL, adv, 0, 0};
    LossConfig c = {LOSS_BNPO, 0.0, 0.2, 0.28, 4};
    LossStats st;
    float d[3];
    grpo_loss(d, &st, &b2, &c);
    CHECK(d[2] == 0.0f && near(st.clip_low_frac, 1.0 / 3, 1e-9), "low clip: d=%g frac=%g", d[2], st.clip_low_frac);
    // eps_high 0.28 (DAPO's clip-higher) leaves e^0.5 = 1.65 still clipped; e^0.2 would not be.
    CHECK(d[1] == 0.0f, "high clip with eps_high 0.28");
}

static void kl_term(void) {
    // On-policy tokens with a reference: loss = beta * k3, gradient beta * (1 - e^d).
    const int st2[] = {0, 2};
    const float lp[] = {-1.0f, -0.5f}, ref[] = {-1.5f, -0.25f};
    const float a0[] = {0.0f};
    LossBatch b = {1, st2, lp, lp, ref, NULL, a0, 0, 0};
    LossConfig c = {LOSS_BNPO, 0.04, 0.2, 0.2, 8};
    LossStats st;
    float d[2];
    CHECK(grpo_loss(d, &st, &b, &c) == 0, "%s", grpo_errmsg());
    double k0 = exp(-0.5) + 0.5 - 1, k1 = exp(0.25) - 0.25 - 1;
    CHECK(near(st.loss, 0.04 * (k0 + k1) / 2, 1e-6), "kl loss %g", st.loss);
    CHECK(near(st.kl, (k0 + k1) / 2, 1e-6), "kl metric %g", st.kl);
    CHECK(near(d[0], 0.04 * (1 - exp(-0.5)) / 2, 1e-6) && near(d[1], 0.04 * (1 - exp(0.25)) / 2, 1e-6), "kl grads %g %g", d[0], d[1]);
    LossBatch nb = b;
    nb.ref_logp = NULL;
    CHECK(grpo_loss(d, &st, &nb, &c) == GRPO_EINVAL, "beta > 0 without reference accepted");
}

// On-policy (old == logp): the ratio is 1, nothing clips, and the gradient is the
// advantage-weighted log-prob gradient, -A * w per token.
static void on_policy_identity(void) {
    uint64_t rng = 3;
    int starts_[6] = {0};
    float lp[64], ad[5], d[64], mask[64];
    for (int i = 0; i < 5; i++) {
        starts_[i + 1] = starts_[i] + 1 + (int)(tu_rand_u64(&rng) % 9);
        ad[i] = tu_rand_uniform(&rng) * 2;
    }
    int T = starts_[5];
    for (int t = 0; t < T; t++) {
        lp[t] = -fabsf(tu_rand_uniform(&rng)) * 5;
        mask[t] = (tu_rand_u64(&rng) % 5) ? 1.0f : 0.0f;
    }
    for (int type = 0; type < 4; type++) {
        LossBatch b = {5, starts_, lp, lp, NULL, mask, ad, 0, 0};
        LossConfig c = {(LossType)type, 0.0, 0.2, 0.2, 16};
        LossStats st;
        CHECK(grpo_loss(d, &st, &b, &c) == 0, "%s", grpo_errmsg());
        CHECK(st.clip_frac == 0 && near(st.ratio_mean, 1.0, 1e-12), "on-policy clip %g ratio %g", st.clip_frac, st.ratio_mean);
        double msum = 0;
        for (int t = 0; t < T; t++) msum += mask[t];
        for (int i = 0; i < 5; i++) {
            double seqm = 0;
            for (int t = starts_[i]; t < starts_[i + 1]; t++) seqm += mask[t];
            for (int t = starts_[i]; t < starts_[i + 1]; t++) {
                double w = type == LOSS_GRPO ? 1.0 / (5 * (seqm > 1 ? seqm : 1)) : type == LOSS_DR_GRPO ? 1.0 / (5 * 16) : 1.0 / msum;
                CHECK(near(d[t], -ad[i] * w * mask[t], 1e-6), "%s t=%d: %g vs %g", grpo_loss_type_name(c.type), t, d[t], -ad[i] * w * mask[t]);
            }
        }
    }
}

// d loss / d logp against central differences (float64 loss, perturbing one token).
static void finite_differences(void) {
    uint64_t rng = 11;
    int st_[4] = {0, 3, 7, 12};
    float lp[12], old[12], ref[12], ad[3] = {0.7f, -1.3f, 0.4f}, d[12];
    for (int t = 0; t < 12; t++) {
        lp[t] = -1.0f - fabsf(tu_rand_uniform(&rng));
        old[t] = lp[t] + 0.15f * tu_rand_uniform(&rng);
        ref[t] = lp[t] + 0.3f * tu_rand_uniform(&rng);
    }
    for (int type = 0; type < 4; type++) {
        LossConfig c = {(LossType)type, 0.1, 0.1, 0.12, 10};
        LossBatch b = {3, st_, lp, old, ref, NULL, ad, 0, 0};
        LossStats s0;
        grpo_loss(d, &s0, &b, &c);
        for (int t = 0; t < 12; t++) {
            float save = lp[t], h = 1e-3f;
            // Skip points within h of a clip boundary, where the loss has a kink.
            double r = exp((double)lp[t] - old[t]);
            if (fabs(r - 0.9) < 2e-3 || fabs(r - 1.12) < 2e-3) continue;
            LossStats sp, sm;
            lp[t] = save + h;
            grpo_loss(NULL, &sp, &b, &c);
            lp[t] = save - h;
            grpo_loss(NULL, &sm, &b, &c);
            lp[t] = save;
            double fd = (sp.loss - sm.loss) / (2.0 * ((double)(save + h) - (double)save));
            CHECK(fabs(fd - d[t]) < 1e-4 + 1e-3 * fabs(fd), "%s t=%d: fd %g analytic %g", grpo_loss_type_name(c.type), t, fd, d[t]);
        }
    }
}

// Splitting a mini-batch into micro-batches with the mini-batch's divisors gives
// the same total loss and the same per-token gradients.
static void micro_batch_invariance(void) {
    const int st_[4] = {0, 3, 4, 9};
    float lp[9], old[9], d_full[9], d_part[9];
    const float ad[3] = {1.0f, -2.0f, 0.5f};
    uint64_t rng = 5;
    for (int t = 0; t < 9; t++) lp[t] = -fabsf(tu_rand_uniform(&rng)), old[t] = lp[t] + 0.1f * tu_rand_uniform(&rng);
    for (int type = 0; type < 4; type++) {
        LossConfig c = {(LossType)type, 0.0, 0.2, 0.2, 6};
        LossBatch full = {3, st_, lp, old, NULL, NULL, ad, 0, 0};
        LossStats sf, s1, s2;
        grpo_loss(d_full, &sf, &full, &c);
        const int st_a[2] = {0, 3}, st_b[3] = {0, 1, 6};
        LossBatch a = {1, st_a, lp, old, NULL, NULL, ad, 9, 3};
        LossBatch b = {2, st_b, lp + 3, old + 3, NULL, NULL, ad + 1, 9, 3};
        grpo_loss(d_part, &s1, &a, &c);
        grpo_loss(d_part + 3, &s2, &b, &c);
        CHECK(near(s1.loss + s2.loss, sf.loss, 1e-9), "%s: %g + %g vs %g", grpo_loss_type_name(c.type), s1.loss, s2.loss, sf.loss);
        for (int t = 0; t < 9; t++) CHECK(d_part[t] == d_full[t], "%s: token %d grad differs", grpo_loss_type_name(c.type), t);
    }
}

static void advantages(void) {
    const float r[6] = {1, 0, 0, 2, 2, 2}; // groups of 3
    float a[6];
    CHECK(grpo_advantages(a, r, 2, 3, SCALE_GROUP) == 0, "%s", grpo_errmsg());
    double sd = sqrt(((2.0 / 3) * (2.0 / 3) + 2 * (1.0 / 3) * (1.0 / 3)) / 2); // unbiased std of {1,0,0}
    CHECK(near(a[0], (2.0 / 3) / (sd + 1e-4), 1e-6) && near(a[1], (-1.0 / 3) / (sd + 1e-4), 1e-6), "group: %g %g", a[0], a[1]);
    CHECK(a[3] == 0 && a[4] == 0 && a[5] == 0, "a constant group has zero advantage");
    grpo_advantages(a, r, 2, 3, SCALE_NONE);
    CHECK(near(a[0], 2.0 / 3, 1e-6) && near(a[2], -1.0 / 3, 1e-6), "none: %g %g", a[0], a[2]);
    grpo_advantages(a, r, 2, 3, SCALE_BATCH);
    double m = 7.0 / 6, v = 0;
    for (int i = 0; i < 6; i++) v += (r[i] - m) * (r[i] - m);
    double bsd = sqrt(v / 5);
    CHECK(near(a[0], (2.0 / 3) / (bsd + 1e-4), 1e-6), "batch: %g", a[0]);
    CHECK(grpo_advantages(a, r, 2, 0, SCALE_GROUP) == GRPO_EINVAL, "group size 0 accepted");
    LossType t;
    ScaleRewards s;
    CHECK(grpo_loss_type_parse("dapo", &t) == 0 && t == LOSS_DAPO, "parse dapo");
    CHECK(grpo_loss_type_parse("ppo", &t) == GRPO_EINVAL && strstr(grpo_errmsg(), "'ppo'"), "unknown loss type named");
    CHECK(grpo_scale_rewards_parse("batch", &s) == 0 && s == SCALE_BATCH, "parse batch");
}

int main(void) {
    hand_values();
    kl_term();
    on_policy_identity();
    finite_differences();
    micro_batch_invariance();
    advantages();
    return tu_finish("test_grpo_loss");
}
