// The one-process side of data parallelism (rl/dist.h, rl/dist_groups.h), which
// every build runs: outside mpirun the dist calls are no-ops; a batch split
// into parts sampled with stream offsets gives exactly the whole batch's
// completions (what makes N processes sample what one does); advantages from
// spread groups equal grpo_advantages on the whole batch; and groups survive
// the pack/gather/unpack trip to rank 0 in step order.
// tests/test_mpi.sh runs the real multi-process paths under mpirun.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/dataset.h"
#include "policy/generate.h"
#include "rl/dist.h"
#include "rl/dist_groups.h"
#include "rl/grpo.h"
#include "testlib.h"

static void test_single_process(void) {
    unsetenv("OMPI_COMM_WORLD_SIZE"), unsetenv("PMI_SIZE"), unsetenv("PMIX_RANK");
    CHECK(dist_init() == GRPO_OK, "%s", grpo_errmsg());
    CHECK(dist_rank() == 0 && dist_size() == 1, "rank %d size %d", dist_rank(), dist_size());
    int a = -1, b = -1;
    dist_split(10, &a, &b);
    CHECK(a == 0 && b == 10, "split [%d, %d)", a, b);
    float f[3] = {1, 2, 3};
    double d[2] = {4, 5};
    CHECK(dist_allreduce_sum_f32(f, 3, NULL) == GRPO_OK && f[0] == 1 && f[2] == 3, "f32 sum of one process changed values");
    CHECK(dist_allreduce_max_f64(d, 2) == GRPO_OK && d[1] == 5, "f64 max of one process changed values");
    char *all = NULL;
    size_t *lens = NULL;
    CHECK(dist_gather_bytes("hello", 5, &all, &lens) == GRPO_OK && all && lens && lens[0] == 5 && !memcmp(all, "hello", 5),
          "gather of one process is a copy");
    free(all), free(lens);
    CHECK(dist_barrier() == GRPO_OK && dist_bcast(d, sizeof d, 0) == GRPO_OK, "barrier/bcast");
    dist_end(0);
}

// Sampling prompts [0, 3) and [3, 5) separately with stream offsets 0 and 3*G
// gives the tokens of sampling all five together.
static void test_stream_offset(void) {
    Backend *be = NULL;
    Model *m = NULL;
    if (backend_open("cpu", &be)) return (void)CHECK(0, "%s", grpo_errmsg());
    ModelConfig c;
    model_config_default(&c, MODEL_QWEN2);
    c.hidden = 32, c.ffn = 48, c.n_layers = 1, c.n_heads = 2, c.n_kv_heads = 1, c.head_dim = 16, c.vocab = 64, c.max_pos = 64;
    CHECK(model_build(&m, &c, be) == GRPO_OK && model_init_random(m, 3, 0.3f) == GRPO_OK, "%s", grpo_errmsg());
    enum { NP = 5, G = 3, LEN = 4 };
    int32_t buf[NP][LEN];
    const int32_t *prompts[NP];
    int lens[NP];
    uint64_t r = 7;
    for (int p = 0; p < NP; p++) {
        for (int i = 0; i < LEN; i++) buf[p][i] = (int32_t)(tu_rand_u64(&r) % 64);
        prompts[p] = buf[p], lens[p] = LEN;
    }
    GenConfig gc;
    memset(&gc, 0, sizeof gc);
    gc.sampler = sampler_config_default();
    gc.sampler.temperature = 1.0f;
    gc.max_tokens = 12;
    gc.seed = 42;
    GenResult whole[NP * G], part[NP * G];
    memset(whole, 0, sizeof whole), memset(part, 0, sizeof part);
    int ok = m && generate(m, &gc, prompts, lens, NP, G, whole) == GRPO_OK;
    ok = ok && generate(m, &gc, prompts, lens, 3, G, part) == GRPO_OK;
    gc.stream_offset = 3 * G;
    ok = ok && generate(m, &gc, prompts + 3, lens + 3, 2, G, part + 3 * G) == GRPO_OK;
    CHECK(ok, "%s", grpo_errmsg());
    // The tokens are the same; log-probs may differ in the last bits, since the
    // batch's shape changes the order of sums in the matmuls.
    int same = ok, differs_without = 0;
    double lp_gap = 0;
    for (int s = 0; ok && s < NP * G; s++) {
        same = same && whole[s].n_tokens == part[s].n_tokens &&
               !memcmp(whole[s].tokens, part[s].tokens, (size_t)whole[s].n_tokens * sizeof(int32_t));
        for (int k = 0; same && k < whole[s].n_tokens; k++) lp_gap = fmax(lp_gap, fabs(whole[s].logprobs[k] - part[s].logprobs[k]));
    }
    CHECK(same, "split sampling with stream offsets gave other tokens than the whole batch");
    CHECK(lp_gap <= 1e-5, "sampling log-probs differ by %g", lp_gap);
    // The offset matters: without it the second part repeats the first streams.
    GenResult again[2 * G];
    memset(again, 0, sizeof again);
    gc.stream_offset = 0;
    if (ok && generate(m, &gc, prompts + 3, lens + 3, 2, G, again) == GRPO_OK)
        for (int s = 0; s < 2 * G; s++)
            differs_without |= again[s].n_tokens != whole[3 * G + s].n_tokens ||
                               memcmp(again[s].tokens, whole[3 * G + s].tokens, (size_t)again[s].n_tokens * sizeof(int32_t));
    CHECK(differs_without, "sampling ignored the stream offset");
    gen_results_free(whole, NP * G), gen_results_free(part, NP * G), gen_results_free(again, 2 * G);
    model_free(m);
    backend_close(be);
}

// n groups of G with rewards from r; group i's example is dataset item i.
static void make_groups(Group *g, int n, int G, uint64_t *r) {
    for (int i = 0; i < n; i++) {
        memset(&g[i], 0, sizeof g[i]);
        g[i].ex_idx = i;
        g[i].G = G;
        g[i].prompt_text = malloc(32);
        snprintf(g[i].prompt_text, 32, "prompt %d", i);
        g[i].gen = calloc(G, sizeof *g[i].gen);
        g[i].text = calloc(G, sizeof *g[i].text);
        g[i].score = calloc(G, sizeof *g[i].score);
        g[i].reward = calloc(G, sizeof(float));
        g[i].adv = calloc(G, sizeof(float));
        for (int k = 0; k < G; k++) {
            g[i].gen[k].n_tokens = 3 + k;
            g[i].gen[k].finish = k % 2 ? GEN_FINISH_LENGTH : GEN_FINISH_STOP;
            g[i].text[k] = malloc(32);
            snprintf(g[i].text[k], 32, "completion %d.%d", i, k);
            g[i].reward[k] = (float)(tu_rand_u64(r) % 3);
            g[i].score[k].n = 1;
            g[i].score[k].value[0] = g[i].reward[k];
            snprintf(g[i].score[k].detail[0], sizeof g[i].score[k].detail[0], "why %d.%d", i, k);
        }
    }
}

static void test_groups(void) {
    enum { N = 4, G = 5 };
    uint64_t r = 11;
    Group g[N];
    make_groups(g, N, G, &r);
    float rew[N * G], want[N * G];
    for (int i = 0; i < N; i++) memcpy(rew + i * G, g[i].reward, sizeof(float) * G);
    int pos[N] = {0, 1, 2, 3};
    CHECK(grpo_advantages(want, rew, N, G, SCALE_BATCH) == GRPO_OK &&
              dist_groups_advantages(g, pos, N, N, G, SCALE_BATCH) == GRPO_OK,
          "%s", grpo_errmsg());
    int same = 1;
    for (int i = 0; i < N; i++) same = same && !memcmp(g[i].adv, want + i * G, sizeof(float) * G);
    CHECK(same, "advantages of spread groups differ from the whole batch's");

    DsOptions o;
    ds_options_default(&o);
    Dataset *ds = NULL;
    CHECK(ds_open("gen:arithmetic?n=8", &o, &ds) == GRPO_OK, "%s", grpo_errmsg());
    // Given out of order, gathered into step order.
    Group rev[N];
    int rpos[N];
    for (int i = 0; i < N; i++) rev[i] = g[N - 1 - i], rpos[i] = N - 1 - i;
    Group *all = NULL;
    CHECK(ds && dist_groups_gather(rev, rpos, N, N, ds, &all) == GRPO_OK && all, "%s", grpo_errmsg());
    for (int i = 0; all && i < N; i++) {
        CHECK(all[i].G == G && all[i].ex_idx == i && all[i].ex == ds_get(ds, i) && !strcmp(all[i].prompt_text, g[i].prompt_text),
              "group %d header", i);
        for (int k = 0; k < G; k++)
            CHECK(!strcmp(all[i].text[k], g[i].text[k]) && all[i].gen[k].n_tokens == g[i].gen[k].n_tokens &&
                      all[i].gen[k].finish == g[i].gen[k].finish && all[i].reward[k] == g[i].reward[k] &&
                      all[i].adv[k] == g[i].adv[k] && !strcmp(all[i].score[k].detail[0], g[i].score[k].detail[0]),
                  "group %d sample %d", i, k);
    }
    // A group no rank sent is an error, not a hole.
    Group *partial = NULL;
    CHECK(ds && dist_groups_gather(g, pos, N - 1, N, ds, &partial) != GRPO_OK && !partial, "a missing group was not reported");
    for (int i = 0; all && i < N; i++) group_free(&all[i]);
    free(all);
    for (int i = 0; i < N; i++) group_free(&g[i]);
    ds_free(ds);
}

int main(void) {
    test_single_process();
    test_stream_offset();
    test_groups();
    return tu_finish("test_dist");
}
