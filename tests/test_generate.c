// Batched generation: batching must not change greedy tokens, recorded
// log-probs must equal a training forward's, sharing a prompt's prefill must
// equal recomputing it, seeds reproduce, EOS / stop strings / length end
// sequences, and greedy continuations match transformers' generate.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/generate.h"
#include "policy/model.h"
#include "testlib.h"

static Backend *B;

static GenConfig greedy_cfg(int max_tokens) {
    GenConfig c;
    memset(&c, 0, sizeof c);
    c.sampler = sampler_config_default();
    c.sampler.temperature = 0;
    c.max_tokens = max_tokens;
    c.seed = 1;
    return c;
}

static int same_result(const GenResult *a, const GenResult *b) {
    return a->n_tokens == b->n_tokens && a->finish == b->finish &&
           !memcmp(a->tokens, b->tokens, (size_t)a->n_tokens * sizeof(int32_t));
}

// Log-prob of each completion token recomputed by model_forward at temperature T.
static double logprob_gap(Model *m, const int32_t *prompt, int plen, const GenResult *r, float T) {
    int L = plen + r->n_tokens;
    int32_t *ids = malloc(L * sizeof *ids);
    float *lp = malloc(L * sizeof *lp);
    memcpy(ids, prompt, plen * sizeof *ids);
    memcpy(ids + plen, r->tokens, r->n_tokens * sizeof *ids);
    int cu[2] = {0, L};
    ModelBatch mb = {1, cu, ids, T, 1};
    double worst = INFINITY;
    if (model_forward(m, &mb, lp, NULL) == GRPO_OK) {
        worst = 0;
        for (int k = 0; k < r->n_tokens; k++) worst = fmax(worst, fabs((double)lp[plen - 1 + k] - r->logprobs[k]));
    }
    free(ids);
    free(lp);
    return worst;
}

static void test_batching(Model *m) {
    // 8 prompts of lengths 1..15 decoded together vs each alone.
    enum { NP = 8 };
    int32_t buf[NP][16];
    const int32_t *prompts[NP];
    int lens[NP];
    uint64_t r = 99;
    for (int p = 0; p < NP; p++) {
        lens[p] = 1 + 2 * p;
        for (int i = 0; i < lens[p]; i++) buf[p][i] = (int32_t)(tu_rand_u64(&r) % (uint64_t)m->cfg.vocab);
        prompts[p] = buf[p];
    }
    GenConfig c = greedy_cfg(12);
    GenResult all[NP], one;
    CHECK(generate(m, &c, prompts, lens, NP, 1, all) == GRPO_OK, "%s", grpo_errmsg());
    for (int p = 0; p < NP; p++) {
        CHECK(generate(m, &c, &prompts[p], &lens[p], 1, 1, &one) == GRPO_OK, "%s", grpo_errmsg());
        CHECK(same_result(&all[p], &one), "prompt %d (len %d): batched tokens differ from alone", p, lens[p]);
        CHECK(all[p].n_tokens == 12 && all[p].finish == GEN_FINISH_LENGTH, "prompt %d: %d tokens, finish %d", p,
              all[p].n_tokens, all[p].finish);
        CHECK(logprob_gap(m, prompts[p], lens[p], &all[p], 1.0f) < 1e-4, "prompt %d: greedy logprobs", p);
        gen_results_free(&one, 1);
    }
    // A small prefill budget splits the prompts over several passes: same tokens.
    GenResult split[NP];
    c.prefill_tokens = 9;
    CHECK(generate(m, &c, prompts, lens, NP, 1, split) == GRPO_OK, "%s", grpo_errmsg());
    for (int p = 0; p < NP; p++) CHECK(same_result(&all[p], &split[p]), "prompt %d: split prefill differs", p);
    gen_results_free(all, NP);
    gen_results_free(split, NP);
}

static void test_sampling(Model *m) {
    int32_t pa[5] = {1, 40, 41, 42, 43}, pb[2] = {1, 7};
    const int32_t *prompts[2] = {pa, pb};
    int lens[2] = {5, 2};
    enum { G = 4, S = 2 * G };
    GenConfig c = greedy_cfg(10);
    c.sampler.temperature = 0.7f;
    c.sampler.top_k = 40;
    c.sampler.top_p = 0.95f;
    c.seed = 1234;
    GenResult a[S], b[S], d[S], e[S];
    CHECK(generate(m, &c, prompts, lens, 2, G, a) == GRPO_OK, "%s", grpo_errmsg());
    double worst = 0;
    for (int s = 0; s < S; s++) worst = fmax(worst, logprob_gap(m, prompts[s / G], lens[s / G], &a[s], 0.7f));
    CHECK(worst < 1e-4, "sampled log-probs vs model_forward at T=0.7: max abs diff %g", worst);
    int distinct = 0;
    for (int s = 1; s < G; s++) distinct |= !same_result(&a[0], &a[s]);
    CHECK(distinct, "the G samples of a prompt should differ at T=0.7");
    // Same seed, same tokens; recomputing each sample's prefill gives the same tokens as sharing it.
    CHECK(generate(m, &c, prompts, lens, 2, G, b) == GRPO_OK, "%s", grpo_errmsg());
    c.no_prefix_share = 1;
    CHECK(generate(m, &c, prompts, lens, 2, G, d) == GRPO_OK, "%s", grpo_errmsg());
    c.no_prefix_share = 0;
    c.seed = 4321;
    CHECK(generate(m, &c, prompts, lens, 2, G, e) == GRPO_OK, "%s", grpo_errmsg());
    int diff_seed = 0;
    for (int s = 0; s < S; s++) {
        CHECK(same_result(&a[s], &b[s]), "seq %d: same seed gave different tokens", s);
        CHECK(same_result(&a[s], &d[s]), "seq %d: shared prefill differs from recomputed prefill", s);
        // Not bit-exact: sgemm rounds differently for a different number of rows.
        double gap = 0;
        for (int k = 0; k < a[s].n_tokens && a[s].n_tokens == d[s].n_tokens; k++)
            gap = fmax(gap, fabs(a[s].logprobs[k] - d[s].logprobs[k]));
        CHECK(gap < 1e-5, "seq %d: shared prefill log-probs differ by %g", s, gap);
        diff_seed |= !same_result(&a[s], &e[s]);
    }
    CHECK(diff_seed, "a different seed should give different samples");
    gen_results_free(a, S), gen_results_free(b, S), gen_results_free(d, S), gen_results_free(e, S);
}

static void test_stops(Model *m) {
    int32_t pa[3] = {1, 9, 10};
    const int32_t *prompts[1] = {pa};
    int lens[1] = {3};
    GenConfig c = greedy_cfg(8);
    GenResult ref, r;
    CHECK(generate(m, &c, prompts, lens, 1, 1, &ref) == GRPO_OK, "%s", grpo_errmsg());
    if (ref.n_tokens < 8) return;
    // EOS: declare the 4th greedy token an EOS id (unless it appeared earlier).
    int k = 3;
    while (k > 0 && (ref.tokens[k] == ref.tokens[0] || ref.tokens[k] == ref.tokens[1] || ref.tokens[k] == ref.tokens[2])) k--;
    int first = 0;
    while (ref.tokens[first] != ref.tokens[k]) first++;
    int32_t eos = ref.tokens[k];
    c.eos_ids = &eos;
    c.n_eos = 1;
    CHECK(generate(m, &c, prompts, lens, 1, 1, &r) == GRPO_OK, "%s", grpo_errmsg());
    CHECK(r.n_tokens == first + 1 && r.finish == GEN_FINISH_STOP && r.tokens[first] == eos, "EOS: %d tokens, finish %d",
          r.n_tokens, r.finish);
    gen_results_free(&r, 1);
    c.n_eos = 0;
    // Stop strings on decoded bytes: token i decodes to "<i>"; stop on the text of tokens 2..3.
    int V = m->cfg.vocab;
    char **pieces = malloc(V * sizeof *pieces);
    int *plen = malloc(V * sizeof *plen);
    for (int i = 0; i < V; i++) {
        pieces[i] = malloc(16);
        plen[i] = snprintf(pieces[i], 16, "<%d>", i);
    }
    char stop[64];
    snprintf(stop, sizeof stop, "%d><%d", ref.tokens[2], ref.tokens[3]);
    const char *stops[2] = {"never-there", stop};
    c.stop = stops;
    c.n_stop = 2;
    c.token_bytes = (const char *const *)pieces;
    c.token_len = plen;
    CHECK(generate(m, &c, prompts, lens, 1, 1, &r) == GRPO_OK, "%s", grpo_errmsg());
    CHECK(r.finish == GEN_FINISH_STOP && r.n_tokens <= 4 && r.n_tokens >= 2, "stop string: %d tokens, finish %d", r.n_tokens,
          r.finish);
    gen_results_free(&r, 1);
    for (int i = 0; i < V; i++) free(pieces[i]);
    free(pieces);
    free(plen);
    gen_results_free(&ref, 1);
    // Bad input is an error, not a crash.
    int32_t bad[2] = {1, (int32_t)V};
    const int32_t *bp[1] = {bad};
    int bl[1] = {2};
    CHECK(generate(m, &c, bp, bl, 1, 1, &r) == GRPO_EINVAL, "id past the vocabulary accepted");
    c.max_tokens = 0;
    CHECK(generate(m, &c, prompts, lens, 1, 1, &r) == GRPO_EINVAL, "max_tokens 0 accepted");
}

// transformers' greedy generate on the golden models (float64 reference).
static void test_golden_greedy(const char *name) {
    char dir[4200], path[4300];
    snprintf(dir, sizeof dir, "%s/%s", tu_path("fixtures/golden"), name);
    snprintf(path, sizeof path, "%s/expected_greedy.json", dir);
    FILE *f = fopen(path, "rb");
    if (!f) return;
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    cJSON *j = cJSON_Parse(buf);
    Model *m = NULL;
    CHECK(j && model_load(&m, dir, B) == GRPO_OK, "%s: %s", name, grpo_errmsg());
    if (!j || !m) {
        cJSON_Delete(j);
        return;
    }
    int np = cJSON_GetArraySize(cJSON_GetObjectItem(j, "prompts"));
    int32_t pbuf[8][64];
    const int32_t *prompts[8];
    int lens[8];
    for (int p = 0; p < np && p < 8; p++) {
        cJSON *arr = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "prompts"), p), *e;
        lens[p] = 0;
        cJSON_ArrayForEach(e, arr) pbuf[p][lens[p]++] = e->valueint;
        prompts[p] = pbuf[p];
    }
    GenConfig c = greedy_cfg(cJSON_GetObjectItem(j, "max_new_tokens")->valueint);
    GenResult r[8];
    CHECK(generate(m, &c, prompts, lens, np, 1, r) == GRPO_OK, "%s", grpo_errmsg());
    for (int p = 0; p < np; p++) {
        cJSON *exp = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "tokens"), p), *e;
        int k = 0, same = cJSON_GetArraySize(exp) == r[p].n_tokens;
        cJSON_ArrayForEach(e, exp) same &= k < r[p].n_tokens && r[p].tokens[k++] == e->valueint;
        CHECK(same, "%s: prompt %d: greedy tokens differ from transformers", name, p);
    }
    gen_results_free(r, np);
    model_free(m);
    cJSON_Delete(j);
}

int main(void) {
    if (backend_open("cpu", &B)) return tu_finish("test_generate");
    ModelConfig c;
    model_config_default(&c, MODEL_QWEN2);
    c.hidden = 64, c.ffn = 96, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.head_dim = 16, c.vocab = 256;
    c.max_pos = 128;
    Model *m = NULL;
    // std 0.3: peaked next-token distributions, so greedy choices are far from ties.
    CHECK(model_build(&m, &c, B) == GRPO_OK && model_init_random(m, 5, 0.3f) == GRPO_OK, "%s", grpo_errmsg());
    if (m) {
        test_batching(m);
        test_sampling(m);
        test_stops(m);
        model_free(m);
    }
    const char *cases[] = {"qwen2_tied_gqa", "qwen2_untied", "llama_untied_gqa", "llama_tied_mha", "llama3_rope",
                           "llama_head_dim24"};
    for (int i = 0; i < 6; i++) test_golden_greedy(cases[i]);
    backend_close(B);
    return tu_finish("test_generate");
}
