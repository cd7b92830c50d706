#include "rl/rollout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/status.h"
#include "rl/grpo.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int stoptable_build(StopTable *s, const TrainEnv *e) {
    memset(s, 0, sizeof *s);
    int V = e->model->cfg.vocab;
    s->token_bytes = calloc((size_t)V, sizeof(char *));
    s->token_len = calloc((size_t)V, sizeof(int));
    if (!s->token_bytes || !s->token_len) {
        stoptable_free(s);
        return grpo_fail(GRPO_ENOMEM, "out of memory");
    }
    s->vocab = V;
    int tv = tok_vocab_size(e->tok);
    for (int id = 0; id < V; id++) {
        char *text = NULL;
        size_t len = 0;
        int32_t one = id;
        // Ids the tokenizer does not know (padding rows of the embedding) decode to nothing.
        if (id >= tv || tok_decode(e->tok, &one, 1, &text, &len) != GRPO_OK) {
            grpo_clear_error();
            text = strdup("");
            len = 0;
        }
        s->token_bytes[id] = text;
        s->token_len[id] = (int)len;
    }
    for (int i = 0; i < tpl_stop_count(e->tpl) && s->n_stops < 16; i++) s->stops[s->n_stops++] = tpl_stop(e->tpl, i);
    for (int i = 0; i < e->cfg.n_stop && s->n_stops < 16; i++) s->stops[s->n_stops++] = e->cfg.stop[i];
    return GRPO_OK;
}

void stoptable_free(StopTable *s) {
    if (s->token_bytes)
        for (int i = 0; i < s->vocab; i++) free(s->token_bytes[i]);
    free(s->token_bytes);
    free(s->token_len);
    memset(s, 0, sizeof *s);
}

void group_free(Group *g) {
    free(g->prompt);
    free(g->prompt_text);
    if (g->gen) gen_results_free(g->gen, g->G);
    free(g->gen);
    if (g->text)
        for (int i = 0; i < g->G; i++) free(g->text[i]);
    free(g->text);
    free(g->score);
    free(g->reward);
    free(g->adv);
    memset(g, 0, sizeof *g);
}

int group_is_flat(const Group *g) {
    for (int i = 1; i < g->G; i++)
        if (g->reward[i] != g->reward[0]) return 0;
    return 1;
}

static int is_eos(const TrainEnv *e, int32_t id) {
    for (int i = 0; i < e->n_eos; i++)
        if (e->eos_ids[i] == id) return 1;
    return 0;
}

int rollout_groups(const TrainEnv *e, const Dataset *data, const RuleSet *rules, const StopTable *stops, const RolloutOptions *o,
                   const int *idx, int n, int G, Group *out, double *gen_s, double *reward_s) {
    int st = GRPO_OK;
    memset(out, 0, (size_t)n * sizeof *out);
    const int32_t **prompts = calloc((size_t)n, sizeof *prompts);
    int *plen = calloc((size_t)n, sizeof *plen);
    GenResult *res = calloc((size_t)n * G, sizeof *res);
    const char **texts = calloc((size_t)n * G, sizeof *texts);
    const cJSON **exs = calloc((size_t)n * G, sizeof *exs);
    int *ntok = calloc((size_t)n * G, sizeof *ntok);
    RuleScore *scores = calloc((size_t)n * G, sizeof *scores);
    if (!prompts || !plen || !res || !texts || !exs || !ntok || !scores) {
        st = grpo_fail(GRPO_ENOMEM, "out of memory preparing rollouts");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        Group *g = &out[i];
        g->ex_idx = idx[i];
        g->ex = ds_get(data, idx[i]);
        g->G = G;
        if ((st = env_encode_prompt(e, g->ex, &g->prompt, &g->np, &g->prompt_text))) goto done;
        prompts[i] = g->prompt;
        plen[i] = g->np;
    }
    GenConfig gc;
    memset(&gc, 0, sizeof gc);
    gc.sampler.temperature = (float)o->temperature;
    gc.sampler.top_k = (int)o->top_k;
    gc.sampler.top_p = (float)o->top_p;
    gc.sampler.min_p = (float)o->min_p;
    gc.max_tokens = (int)o->max_tokens;
    gc.seed = o->seed;
    gc.stream_offset = (uint64_t)o->first_prompt * (uint64_t)G;
    gc.eos_ids = e->eos_ids;
    gc.n_eos = e->n_eos;
    gc.stop = stops->stops;
    gc.n_stop = stops->n_stops;
    gc.token_bytes = (const char *const *)stops->token_bytes;
    gc.token_len = stops->token_len;
    gc.cache = o->cache;
    double t0 = now_s();
    if ((st = generate(e->model, &gc, prompts, plen, n, G, res))) goto done;
    *gen_s = now_s() - t0;
    // Hand the results to their groups, then decode.
    for (int i = 0; i < n; i++) {
        Group *g = &out[i];
        g->gen = calloc((size_t)G, sizeof *g->gen);
        g->text = calloc((size_t)G, sizeof *g->text);
        g->score = calloc((size_t)G, sizeof *g->score);
        g->reward = calloc((size_t)G, sizeof *g->reward);
        g->adv = calloc((size_t)G, sizeof *g->adv);
        if (!g->gen || !g->text || !g->score || !g->reward || !g->adv) {
            st = grpo_fail(GRPO_ENOMEM, "out of memory");
            goto done;
        }
        memcpy(g->gen, res + (size_t)i * G, (size_t)G * sizeof *res);
        memset(res + (size_t)i * G, 0, (size_t)G * sizeof *res);
        for (int k = 0; k < G; k++) {
            GenResult *r = &g->gen[k];
            size_t nt = (size_t)r->n_tokens, len = 0;
            if (nt && is_eos(e, r->tokens[nt - 1])) nt--; // rules judge the text, not the end marker
            if ((st = tok_decode(e->tok, r->tokens, nt, &g->text[k], &len))) goto done;
            texts[(size_t)i * G + k] = g->text[k];
            exs[(size_t)i * G + k] = g->ex;
            ntok[(size_t)i * G + k] = r->n_tokens;
        }
    }
    t0 = now_s();
    char err[512];
    if (rules_score_batch(rules, texts, exs, ntok, n * G, o->reward_workers, scores, err, sizeof err) != 0) {
        st = grpo_fail(GRPO_EINVAL, "scoring rollouts: %s", err);
        goto done;
    }
    *reward_s = now_s() - t0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < G; k++) {
            out[i].score[k] = scores[(size_t)i * G + k];
            out[i].reward[k] = (float)scores[(size_t)i * G + k].reward;
        }
done:
    if (st)
        for (int i = 0; i < n; i++) group_free(&out[i]);
    if (res) gen_results_free(res, n * G);
    free(res);
    free(prompts), free(plen), free(texts), free(exs), free(ntok), free(scores);
    return st;
}

int rollout_advantages(Group *groups, int n, int scale_rewards) {
    if (n == 0) return GRPO_OK;
    int G = groups[0].G;
    float *r = calloc((size_t)n * G, sizeof(float)), *a = calloc((size_t)n * G, sizeof(float));
    if (!r || !a) {
        free(r), free(a);
        return grpo_fail(GRPO_ENOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) memcpy(r + (size_t)i * G, groups[i].reward, (size_t)G * sizeof(float));
    int st = grpo_advantages(a, r, n, G, (ScaleRewards)scale_rewards);
    if (!st)
        for (int i = 0; i < n; i++) memcpy(groups[i].adv, a + (size_t)i * G, (size_t)G * sizeof(float));
    free(r), free(a);
    return st;
}
