#include "rl/grpo.h"

#include <math.h>
#include <string.h>

#include "kernels/status.h"

int grpo_loss_type_parse(const char *name, LossType *out) {
    static const char *names[] = {"grpo", "bnpo", "dr_grpo", "dapo"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, names[i])) {
            *out = (LossType)i;
            return GRPO_OK;
        }
    return grpo_fail(GRPO_EINVAL, "unknown loss type '%s' (expected grpo, bnpo, dr_grpo or dapo)", name);
}

const char *grpo_loss_type_name(LossType t) {
    switch (t) {
    case LOSS_GRPO: return "grpo";
    case LOSS_BNPO: return "bnpo";
    case LOSS_DR_GRPO: return "dr_grpo";
    case LOSS_DAPO: return "dapo";
    }
    return "?";
}

int grpo_scale_rewards_parse(const char *name, ScaleRewards *out) {
    if (!strcmp(name, "group")) *out = SCALE_GROUP;
    else if (!strcmp(name, "batch")) *out = SCALE_BATCH;
    else if (!strcmp(name, "none")) *out = SCALE_NONE;
    else return grpo_fail(GRPO_EINVAL, "unknown scale_rewards '%s' (expected group, batch or none)", name);
    return GRPO_OK;
}

int grpo_loss(float *dlogp, LossStats *st, const LossBatch *b, const LossConfig *c) {
    memset(st, 0, sizeof *st);
    if (b->n_seqs < 0 || !b->tok_start || b->tok_start[0] != 0)
        return grpo_fail(GRPO_EINVAL, "grpo_loss: bad batch layout");
    if (c->eps_low < 0 || c->eps_high < 0 || c->beta < 0)
        return grpo_fail(GRPO_EINVAL, "grpo_loss: eps_low, eps_high and beta must be >= 0");
    if (c->beta > 0 && !b->ref_logp)
        return grpo_fail(GRPO_EINVAL, "grpo_loss: beta > 0 needs reference log-probs");
    if (c->type == LOSS_DR_GRPO && c->max_completion_len <= 0)
        return grpo_fail(GRPO_EINVAL, "grpo_loss: dr_grpo needs max_completion_len > 0");
    for (int i = 0; i < b->n_seqs; i++)
        if (b->tok_start[i + 1] < b->tok_start[i])
            return grpo_fail(GRPO_EINVAL, "grpo_loss: sequence %d has negative length", i);

    const int T = b->tok_start[b->n_seqs];
    double total_mask = 0;
    for (int t = 0; t < T; t++) total_mask += b->mask ? b->mask[t] : 1.0;
    const int n_seqs_norm = b->norm_seqs > 0 ? b->norm_seqs : b->n_seqs;
    const double tok_norm = b->norm_tokens > 0 ? b->norm_tokens : (total_mask > 1 ? total_mask : 1);

    double loss = 0, kl_sum = 0, ratio_sum = 0, clip_lo = 0, clip_hi = 0;
    const double lo = 1.0 - c->eps_low, hi = 1.0 + c->eps_high;
    for (int i = 0; i < b->n_seqs; i++) {
        const int t0 = b->tok_start[i], t1 = b->tok_start[i + 1];
        const double A = b->advantages[i];
        double seq_mask = 0;
        for (int t = t0; t < t1; t++) seq_mask += b->mask ? b->mask[t] : 1.0;
        // Each token's weight in the aggregate: its share of the sequence mean
        // (grpo), of the token count (bnpo/dapo), or of a constant (dr_grpo).
        double w;
        switch (c->type) {
        case LOSS_GRPO: w = 1.0 / ((seq_mask > 1 ? seq_mask : 1) * (n_seqs_norm > 0 ? n_seqs_norm : 1)); break;
        case LOSS_DR_GRPO: w = 1.0 / ((double)(n_seqs_norm > 0 ? n_seqs_norm : 1) * c->max_completion_len); break;
        default: w = 1.0 / tok_norm; break;
        }
        for (int t = t0; t < t1; t++) {
            const double m = b->mask ? b->mask[t] : 1.0;
            const double lp = b->logp[t];
            const double ratio = exp(lp - (double)b->old_logp[t]);
            const double clipped = ratio < lo ? lo : ratio > hi ? hi : ratio;
            const double surr1 = ratio * A, surr2 = clipped * A;
            // The min picks the clipped surrogate only when the ratio has left the
            // trust region in the direction the advantage pushes; then no gradient.
            const int is_clipped = surr2 < surr1;
            double l = -(is_clipped ? surr2 : surr1);
            double g = is_clipped ? 0.0 : -A * ratio;
            if (c->beta > 0) {
                const double d = (double)b->ref_logp[t] - lp;
                const double kl = exp(d) - d - 1.0;
                l += c->beta * kl;
                g += c->beta * (1.0 - exp(d));
                kl_sum += m * kl;
            }
            loss += w * m * l;
            if (dlogp) dlogp[t] = (float)(w * m * g);
            ratio_sum += m * ratio;
            if (ratio < lo && A < 0) clip_lo += m;
            if (ratio > hi && A > 0) clip_hi += m;
        }
    }
    const double denom = total_mask > 0 ? total_mask : 1;
    st->loss = loss;
    st->kl = kl_sum / denom;
    st->ratio_mean = ratio_sum / denom;
    st->clip_low_frac = clip_lo / denom;
    st->clip_high_frac = clip_hi / denom;
    st->clip_frac = (clip_lo + clip_hi) / denom;
    st->n_tokens = (long)llround(total_mask);
    return GRPO_OK;
}

static void group_stats(const float *r, int n, double *mean, double *std) {
    double s = 0;
    for (int i = 0; i < n; i++) s += r[i];
    *mean = n ? s / n : 0;
    double v = 0;
    for (int i = 0; i < n; i++) v += (r[i] - *mean) * (r[i] - *mean);
    *std = n > 1 ? sqrt(v / (n - 1)) : 0;
}

int grpo_advantages(float *adv, const float *rewards, int n_groups, int group_size, ScaleRewards s) {
    if (n_groups < 0 || group_size < 1)
        return grpo_fail(GRPO_EINVAL, "grpo_advantages: need n_groups >= 0 and group_size >= 1");
    double batch_mean, batch_std;
    group_stats(rewards, n_groups * group_size, &batch_mean, &batch_std);
    for (int g = 0; g < n_groups; g++) {
        const float *r = rewards + (size_t)g * group_size;
        double mean, std;
        group_stats(r, group_size, &mean, &std);
        double scale = s == SCALE_GROUP ? std + 1e-4 : s == SCALE_BATCH ? batch_std + 1e-4 : 1.0;
        for (int i = 0; i < group_size; i++) adv[(size_t)g * group_size + i] = (float)((r[i] - mean) / scale);
    }
    return GRPO_OK;
}
