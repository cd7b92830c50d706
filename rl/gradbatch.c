#include "rl/gradbatch.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/fileio.h"

void gradbatch_free(GradBatch *b) {
    free(b->cu_seqlens);
    free(b->ids);
    free(b->prompt_len);
    free(b->advantages);
    free(b->tok_start);
    free(b->old_logp);
    free(b->ref_logp);
    memset(b, 0, sizeof *b);
}

static int num(const cJSON *o, const char *key, double *dst, int required, const char *origin, const char *where) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!it) return required ? grpo_fail(GRPO_EFORMAT, "%s: %s: missing '%s'", origin, where, key) : GRPO_OK;
    if (!cJSON_IsNumber(it)) return grpo_fail(GRPO_EFORMAT, "%s: %s: '%s' must be a number", origin, where, key);
    *dst = it->valuedouble;
    return GRPO_OK;
}

static int parse(GradBatch *b, const cJSON *root, const char *origin) {
    const cJSON *loss = cJSON_GetObjectItemCaseSensitive(root, "loss");
    if (!cJSON_IsObject(loss)) return grpo_fail(GRPO_EFORMAT, "%s: missing object 'loss'", origin);
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(loss, "type");
    if (!cJSON_IsString(ty)) return grpo_fail(GRPO_EFORMAT, "%s: loss: missing string 'type'", origin);
    if (grpo_loss_type_parse(ty->valuestring, &b->loss.type))
        return grpo_fail(GRPO_EFORMAT, "%s: loss: unknown type '%s' (grpo, bnpo, dr_grpo, dapo)", origin, ty->valuestring);
    double mcl = 0;
    b->loss.beta = 0, b->loss.eps_low = 0.2, b->loss.eps_high = 0.2;
    int st;
    if ((st = num(loss, "beta", &b->loss.beta, 0, origin, "loss")) || (st = num(loss, "eps_low", &b->loss.eps_low, 0, origin, "loss")) ||
        (st = num(loss, "eps_high", &b->loss.eps_high, 0, origin, "loss")) ||
        (st = num(loss, "max_completion_len", &mcl, 0, origin, "loss")))
        return st;
    b->loss.max_completion_len = (int)mcl;
    const cJSON *seqs = cJSON_GetObjectItemCaseSensitive(root, "sequences");
    if (!cJSON_IsArray(seqs) || cJSON_GetArraySize(seqs) == 0)
        return grpo_fail(GRPO_EFORMAT, "%s: 'sequences' must be a non-empty array", origin);
    int n = cJSON_GetArraySize(seqs);
    b->n_seqs = n;
    b->cu_seqlens = calloc((size_t)n + 1, sizeof(int));
    b->tok_start = calloc((size_t)n + 1, sizeof(int));
    b->prompt_len = calloc((size_t)n, sizeof(int));
    b->advantages = calloc((size_t)n, sizeof(float));
    if (!b->cu_seqlens || !b->tok_start || !b->prompt_len || !b->advantages) return grpo_fail(GRPO_ENOMEM, "%s: out of memory", origin);
    // First pass: sizes.
    int i = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, seqs) {
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(s, "ids");
        if (!cJSON_IsArray(ids) || cJSON_GetArraySize(ids) < 2)
            return grpo_fail(GRPO_EFORMAT, "%s: sequences[%d]: 'ids' must hold at least 2 tokens", origin, i);
        double p = 0, adv = 0;
        char where[32];
        snprintf(where, sizeof where, "sequences[%d]", i);
        if ((st = num(s, "prompt_len", &p, 1, origin, where)) || (st = num(s, "advantage", &adv, 1, origin, where))) return st;
        int L = cJSON_GetArraySize(ids);
        if (p < 1 || p >= L || p != floor(p))
            return grpo_fail(GRPO_EFORMAT, "%s: %s: prompt_len %g must be an integer in [1, %d)", origin, where, p, L);
        b->prompt_len[i] = (int)p;
        b->advantages[i] = (float)adv;
        b->cu_seqlens[i + 1] = b->cu_seqlens[i] + L;
        b->tok_start[i + 1] = b->tok_start[i] + (L - (int)p);
        i++;
    }
    int T = b->cu_seqlens[n], Tc = b->tok_start[n];
    b->ids = malloc((size_t)T * sizeof(int32_t));
    b->old_logp = malloc((size_t)Tc * sizeof(float));
    int has_ref = b->loss.beta != 0;
    if (has_ref) b->ref_logp = malloc((size_t)Tc * sizeof(float));
    if (!b->ids || !b->old_logp || (has_ref && !b->ref_logp)) return grpo_fail(GRPO_ENOMEM, "%s: out of memory", origin);
    i = 0;
    cJSON_ArrayForEach(s, seqs) {
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(s, "ids"), *e;
        int k = 0;
        cJSON_ArrayForEach(e, ids) {
            if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 2147483647.0 || e->valuedouble != floor(e->valuedouble))
                return grpo_fail(GRPO_EFORMAT, "%s: sequences[%d].ids[%d] is not a token id", origin, i, k);
            b->ids[b->cu_seqlens[i] + k++] = (int32_t)e->valuedouble;
        }
        const char *names[2] = {"old_logprobs", "ref_logprobs"};
        float *dst[2] = {b->old_logp, b->ref_logp};
        for (int w = 0; w < 2; w++) {
            if (!dst[w]) continue;
            const cJSON *arr = cJSON_GetObjectItemCaseSensitive(s, names[w]);
            int want = b->tok_start[i + 1] - b->tok_start[i];
            if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != want)
                return grpo_fail(GRPO_EFORMAT, "%s: sequences[%d]: '%s' must hold %d values (one per completion token)%s", origin,
                                 i, names[w], want, w ? " when beta is not 0" : "");
            k = 0;
            cJSON_ArrayForEach(e, arr) {
                if (!cJSON_IsNumber(e)) return grpo_fail(GRPO_EFORMAT, "%s: sequences[%d].%s[%d] is not a number", origin, i, names[w], k);
                dst[w][b->tok_start[i] + k++] = (float)e->valuedouble;
            }
        }
        i++;
    }
    return GRPO_OK;
}

int gradbatch_parse(GradBatch *b, const char *json, const char *origin) {
    memset(b, 0, sizeof *b);
    cJSON *root = cJSON_Parse(json);
    if (!root) return grpo_fail(GRPO_EFORMAT, "%s: invalid JSON", origin);
    int st = parse(b, root, origin);
    cJSON_Delete(root);
    if (st) gradbatch_free(b);
    return st;
}

int gradbatch_load(GradBatch *b, const char *path) {
    memset(b, 0, sizeof *b);
    char *buf = NULL;
    int st = grpo_read_file(path, 0, &buf, NULL);
    if (!st) st = gradbatch_parse(b, buf, path);
    free(buf);
    return st;
}

int gradbatch_run(Model *m, const GradBatch *b, LossStats *stats, float *logp_out) {
    int T = b->cu_seqlens[b->n_seqs], Tc = b->tok_start[b->n_seqs];
    float *logp = malloc((size_t)T * sizeof(float)), *clogp = malloc((size_t)Tc * sizeof(float));
    float *dclogp = malloc((size_t)Tc * sizeof(float)), *dlogp = calloc((size_t)T, sizeof(float));
    int st = (!logp || !clogp || !dclogp || !dlogp) ? grpo_fail(GRPO_ENOMEM, "grad: out of memory") : GRPO_OK;
    if (!st) st = model_zero_grad(m);
    ModelBatch mb = {b->n_seqs, b->cu_seqlens, b->ids, 1.0f, 0};
    if (!st) st = model_forward(m, &mb, logp, NULL);
    if (!st) {
        // Completion token k of sequence s (ids[p + k]) is predicted at position p + k - 1.
        for (int s = 0; s < b->n_seqs; s++)
            for (int k = 0; k < b->tok_start[s + 1] - b->tok_start[s]; k++)
                clogp[b->tok_start[s] + k] = logp[b->cu_seqlens[s] + b->prompt_len[s] + k - 1];
        LossBatch lb = {b->n_seqs, b->tok_start, clogp, b->old_logp, b->ref_logp, NULL, b->advantages, 0, 0};
        st = grpo_loss(dclogp, stats, &lb, &b->loss);
    }
    if (!st) {
        for (int s = 0; s < b->n_seqs; s++)
            for (int k = 0; k < b->tok_start[s + 1] - b->tok_start[s]; k++)
                dlogp[b->cu_seqlens[s] + b->prompt_len[s] + k - 1] = dclogp[b->tok_start[s] + k];
        st = model_backward(m, dlogp);
    }
    if (!st && logp_out) memcpy(logp_out, logp, (size_t)T * sizeof(float));
    free(logp), free(clogp), free(dclogp), free(dlogp);
    return st;
}
