#include "rl/update.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/status.h"
#include "rl/dist.h"
#include "rl/pack.h"

typedef struct {
    const int32_t *prompt, *comp;
    int np, nc;
    int truncated;
    const float *sample_logp; // (nc) log-probs recorded while sampling
} Seq;

// Forward pass over seqs[a, b) packed; per-completion-token log-probs into
// out (concatenated in order) and, when ent is not NULL, entropies likewise.
static int forward_seqs(Model *m, Pack *pk, const Seq *s, int a, int b, double temperature, int no_grad, float **pos_buf,
                        float **ent_buf, float *out, float *ent) {
    pack_reset(pk);
    for (int i = a; i < b; i++) {
        int st = pack_add(pk, s[i].prompt, s[i].np, s[i].comp, s[i].nc);
        if (st) return st;
    }
    float *lp = realloc(*pos_buf, ((size_t)pk->n_tokens + 1) * sizeof(float));
    if (!lp) return grpo_fail(GRPO_ENOMEM, "out of memory");
    *pos_buf = lp;
    float *en = NULL;
    if (ent) {
        en = realloc(*ent_buf, ((size_t)pk->n_tokens + 1) * sizeof(float));
        if (!en) return grpo_fail(GRPO_ENOMEM, "out of memory");
        *ent_buf = en;
    }
    ModelBatch mb = pack_batch(pk, temperature > 0 ? (float)temperature : 1.0f, no_grad);
    int st = model_forward(m, &mb, lp, en);
    if (st) return st;
    pack_gather(pk, out, lp);
    if (ent) pack_gather(pk, ent, en);
    return GRPO_OK;
}

// The first local sequence whose step-wide position is >= x (pos NULL: one
// process, positions are the local indices).
static int first_local_at(const int *pos, int n, int x) {
    if (!pos) return x < n ? x : n;
    int i = 0;
    while (i < n && pos[i] < x) i++;
    return i;
}

int policy_update(Model *policy, Model *ref, AdamW *opt, const Group *groups, int n_groups, const UpdateOptions *o,
                  UpdateStats *out) {
    memset(out, 0, sizeof *out);
    int n = 0, total_comp = 0;
    for (int g = 0; g < n_groups; g++) {
        n += groups[g].G;
        for (int k = 0; k < groups[g].G; k++) total_comp += groups[g].gen[k].n_tokens;
    }
    const int dist = o->seq_pos != NULL, N = dist ? o->n_seqs_global : n;
    // A process without sequences still takes part in every all-reduce.
    if (N == 0) return GRPO_OK;
    Seq *s = calloc((size_t)n + 1, sizeof *s);
    int *tok_off = calloc((size_t)n + 1, sizeof(int)); // completion-token offsets of each sequence
    float *old = calloc((size_t)total_comp + 1, sizeof(float)), *refl = calloc((size_t)total_comp + 1, sizeof(float));
    float *logp = calloc((size_t)total_comp + 1, sizeof(float)), *ent = calloc((size_t)total_comp + 1, sizeof(float));
    float *mask = calloc((size_t)total_comp + 1, sizeof(float)), *adv = calloc((size_t)n + 1, sizeof(float));
    float *dcomp = calloc((size_t)total_comp + 1, sizeof(float));
    float *pos_buf = NULL, *ent_buf = NULL, *dpos = NULL;
    int *starts = calloc((size_t)n + 1, sizeof(int));
    double *cum = calloc((size_t)N + 1, sizeof(double)); // (N + 1) masked-token prefix sums over the step's sequences
    Pack pk = {0};
    int st = GRPO_OK;
    if (!s || !tok_off || !old || !refl || !logp || !ent || !mask || !adv || !dcomp || !starts || !cum) {
        st = grpo_fail(GRPO_ENOMEM, "out of memory in the policy update");
        goto done;
    }
    for (int g = 0, i = 0; g < n_groups; g++)
        for (int k = 0; k < groups[g].G; k++, i++) {
            const GenResult *r = &groups[g].gen[k];
            s[i] = (Seq){groups[g].prompt, r->tokens, groups[g].np, r->n_tokens, r->finish == GEN_FINISH_LENGTH, r->logprobs};
            tok_off[i + 1] = tok_off[i] + r->n_tokens;
            adv[i] = groups[g].adv[k];
            for (int t = tok_off[i]; t < tok_off[i + 1]; t++) mask[t] = o->mask_truncated && s[i].truncated ? 0.0f : 1.0f;
        }
    // Masked tokens are whole numbers: these sums are exact in any order.
    for (int i = 0; i < n; i++)
        for (int t = tok_off[i]; t < tok_off[i + 1]; t++) cum[1 + (dist ? o->seq_pos[i] : i)] += mask[t];
    if (dist && (st = dist_allreduce_sum_f64(cum + 1, (size_t)N))) goto done;
    for (int j = 0; j < N; j++) cum[j + 1] += cum[j];
    const int mini = o->mini_batch > 0 && o->mini_batch < N ? o->mini_batch : N;
    const int micro = o->micro_batch > 0 && o->micro_batch < mini ? o->micro_batch : mini;

    // Old log-probs: on-policy with one iteration, the sampler's own values.
    if (o->num_iterations <= 1) {
        for (int i = 0; i < n; i++) memcpy(old + tok_off[i], s[i].sample_logp, (size_t)s[i].nc * sizeof(float));
    } else {
        for (int a = 0; a < n; a += micro) {
            int b = a + micro < n ? a + micro : n;
            if ((st = forward_seqs(policy, &pk, s, a, b, o->temperature, 1, &pos_buf, &ent_buf, old + tok_off[a], NULL))) goto done;
        }
    }
    if (o->loss.beta > 0) {
        if (!ref) {
            st = grpo_fail(GRPO_EINTERNAL, "beta > 0 without a reference model");
            goto done;
        }
        for (int a = 0; a < n; a += micro) {
            int b = a + micro < n ? a + micro : n;
            if ((st = forward_seqs(ref, &pk, s, a, b, o->temperature, 1, &pos_buf, &ent_buf, refl + tok_off[a], NULL))) goto done;
        }
    }

    double ent_sum = 0, kl_sum = 0, clip_sum = 0, clip_lo = 0, clip_hi = 0, loss_sum = 0, gn_sum = 0;
    long tok_count = 0;
    int n_minis = 0;
    for (int it = 0; it < (o->num_iterations > 0 ? o->num_iterations : 1); it++) {
        for (int m0 = 0; m0 < N; m0 += mini) {
            int m1 = m0 + mini < N ? m0 + mini : N;
            const int l0 = first_local_at(o->seq_pos, n, m0), l1 = first_local_at(o->seq_pos, n, m1); // this process's part
            double norm_tokens = cum[m1] - cum[m0];
            if ((st = model_zero_grad(policy))) goto done;
            double mb_loss = 0;
            for (int a = l0; a < l1; a += micro) {
                int b = a + micro < l1 ? a + micro : l1;
                int want_ent = o->want_entropy && it == 0;
                if ((st = forward_seqs(policy, &pk, s, a, b, o->temperature, 0, &pos_buf, &ent_buf, logp + tok_off[a],
                                       want_ent ? ent + tok_off[a] : NULL)))
                    goto done;
                for (int i = a; i <= b; i++) starts[i - a] = tok_off[i] - tok_off[a];
                LossBatch lb = {b - a, starts, logp + tok_off[a], old + tok_off[a], o->loss.beta > 0 ? refl + tok_off[a] : NULL,
                                mask + tok_off[a], adv + a, norm_tokens > 0 ? norm_tokens : 1, m1 - m0};
                LossStats ls;
                if ((st = grpo_loss(dcomp, &ls, &lb, &o->loss))) goto done;
                mb_loss += ls.loss;
                if (it == 0) {
                    kl_sum += ls.kl * ls.n_tokens;
                    clip_sum += ls.clip_frac * ls.n_tokens;
                    clip_lo += ls.clip_low_frac * ls.n_tokens;
                    clip_hi += ls.clip_high_frac * ls.n_tokens;
                    tok_count += ls.n_tokens;
                    if (want_ent)
                        for (int t = tok_off[a]; t < tok_off[b]; t++) ent_sum += ent[t] * mask[t];
                }
                float *g = realloc(dpos, ((size_t)pk.n_tokens + 1) * sizeof(float));
                if (!g) {
                    st = grpo_fail(GRPO_ENOMEM, "out of memory");
                    goto done;
                }
                dpos = g;
                pack_scatter(&pk, dpos, dcomp);
                if ((st = model_backward(policy, dpos))) goto done;
            }
            if (o->poison_grads) {
                const float nan = NAN;
                if ((st = policy->be->to_device(policy->be, policy->grads, &nan, sizeof nan))) goto done;
            }
            // The normalisers are the whole step's, so the step's gradient and
            // loss are the sums of the processes' parts: one all-reduce.
            if (dist && ((st = dist_allreduce_sum_f32(policy->grads, policy->n_params, policy->be)) ||
                         (st = dist_allreduce_sum_f64(&mb_loss, 1))))
                goto done;
            double gn;
            if ((st = optim_clip_grad_norm(policy->be, policy->grads, policy->n_params, o->max_grad_norm, &gn))) goto done;
            // A non-finite loss or gradient is never applied: skipping keeps the
            // weights usable and the trainer counts the streak. The norm is
            // non-finite exactly when some gradient is (the sum of squares is
            // accumulated in float64, which no float32's square overflows).
            if (!isfinite(mb_loss) || !isfinite(gn)) {
                out->n_skipped++;
            } else {
                if ((st = adamw_step(opt, policy->params, policy->params_cd, policy->grads, o->lr, &o->adam))) goto done;
                out->n_updates++;
            }
            loss_sum += mb_loss;
            gn_sum += gn;
            n_minis++;
        }
    }
    if (dist) {
        double part[6] = {kl_sum, clip_sum, clip_lo, clip_hi, ent_sum, (double)tok_count};
        if ((st = dist_allreduce_sum_f64(part, 6))) goto done;
        kl_sum = part[0], clip_sum = part[1], clip_lo = part[2], clip_hi = part[3], ent_sum = part[4];
        tok_count = (long)part[5];
    }
    out->loss = n_minis ? loss_sum / n_minis : 0;
    out->grad_norm = n_minis ? gn_sum / n_minis : 0;
    out->kl = tok_count ? kl_sum / tok_count : 0;
    out->clip_frac = tok_count ? clip_sum / tok_count : 0;
    out->clip_low_frac = tok_count ? clip_lo / tok_count : 0;
    out->clip_high_frac = tok_count ? clip_hi / tok_count : 0;
    out->entropy = o->want_entropy && tok_count ? ent_sum / tok_count : NAN;
    out->n_loss_tokens = tok_count;
done:
    pack_free(&pk);
    free(s), free(tok_off), free(old), free(refl), free(logp), free(ent), free(mask), free(adv), free(dcomp);
    free(pos_buf), free(ent_buf), free(dpos), free(starts), free(cum);
    return st;
}
