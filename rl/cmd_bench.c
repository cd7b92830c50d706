// `grpo bench`: throughput measurements. Speed is shown here, never asserted in tests.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <omp.h>

#include <sys/resource.h>

#include "kernels/backend.h"
#include "kernels/profile.h"
#include "policy/generate.h"
#include "policy/model.h"
#include "rl/cli.h"
#include "rl/optim.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Fills with a deterministic pattern: bench numbers must not depend on rand().
static void fill(float *x, size_t n, unsigned seed) {
    unsigned s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((s >> 8) & 0xffff) / 65536.0f - 0.5f;
    }
}

static int bench_matmul(Backend *b, const char *spec, long iters) {
    int M = 0, N = 0, K = 0;
    int got = sscanf(spec, "%d,%d,%d", &M, &N, &K);
    if (got == 1) N = K = M;
    else if (got != 3) return cli_error("bench", "--matmul expects N or M,N,K, got '%s'", spec);
    if (M <= 0 || N <= 0 || K <= 0 || (long)M * K > (1L << 30) || (long)K * N > (1L << 30) || (long)M * N > (1L << 30))
        return cli_error("bench", "--matmul sizes must be positive and each matrix under 2^30 elements");
    size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
    float *ha = malloc(na * sizeof(float)), *hb = malloc(nb * sizeof(float));
    void *a = NULL, *bm = NULL, *c = NULL, *stage = NULL;
    const size_t cs = backend_dtype_size(b->cdt);
    int rc = 1;
    if (!ha || !hb) {
        cli_error("bench", "out of memory");
        goto done;
    }
    fill(ha, na, 1);
    fill(hb, nb, 2);
    // Inputs in the backend's compute dtype (uploaded as fp32, converted there), output fp32.
    if (b->alloc(b, &a, na * cs) || b->alloc(b, &bm, nb * cs) || b->alloc(b, &c, nc * 4) ||
        b->alloc(b, &stage, (na > nb ? na : nb) * 4) || b->to_device(b, stage, ha, na * 4) ||
        b->convert(b, a, b->cdt, stage, BE_F32, na) || b->to_device(b, stage, hb, nb * 4) ||
        b->convert(b, bm, b->cdt, stage, BE_F32, nb)) {
        cli_fail("bench");
        goto done;
    }
    // y = x @ W^T, the shape of every linear layer in the model.
    if (b->matmul(b, c, BE_F32, a, bm, M, N, K, 0, 1, 1.0f, 0) || b->sync(b)) { // warm-up
        cli_fail("bench");
        goto done;
    }
    double t0 = now_s();
    for (long i = 0; i < iters; i++)
        if (b->matmul(b, c, BE_F32, a, bm, M, N, K, 0, 1, 1.0f, 0)) {
            cli_fail("bench");
            goto done;
        }
    if (b->sync(b)) {
        cli_fail("bench");
        goto done;
    }
    double dt = (now_s() - t0) / (double)iters;
    printf("{\"op\": \"matmul\", \"dtype\": \"%s\", \"out_dtype\": \"fp32\", \"device\": \"%s\", \"device_name\": \"%s\", "
           "\"M\": %d, \"N\": %d, \"K\": %d, \"iters\": %ld, \"ms\": %.4f, \"gflops\": %.2f}\n",
           backend_dtype_name(b->cdt), b->name, b->device_name, M, N, K, iters, dt * 1e3, 2.0 * M * N * K / dt * 1e-9);
    rc = 0;
done:
    free(ha);
    free(hb);
    b->free(b, a);
    b->free(b, bm);
    b->free(b, c);
    b->free(b, stage);
    return rc;
}


// Best of `reps` timings of generate() with max_tokens new tokens per sequence;
// *captures adds up the graphs the calls captured.
static int time_generate(Model *m, GenConfig *c, const int32_t *const *prompts, const int *lens, int batch, int reps,
                         double *best, int *captures) {
    GenResult *r = calloc((size_t)batch, sizeof *r);
    if (!r) return grpo_fail(GRPO_ENOMEM, "bench: out of memory");
    *best = 1e30;
    for (int i = 0; i < reps; i++) {
        double t0 = now_s();
        int st = generate(m, c, prompts, lens, batch, 1, r);
        double dt = now_s() - t0;
        if (st) {
            free(r);
            return st;
        }
        gen_results_free(r, batch);
        if (dt < *best) *best = dt;
        *captures += c->graph_stats->captured;
    }
    free(r);
    return GRPO_OK;
}

// With --profile: the ops of the phase that began at wall time t0, under a title.
static void print_phase(Backend *b, int profile, double t0, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void print_phase(Backend *b, int profile, double t0, const char *fmt, ...) {
    if (!profile) return;
    double wall = now_s() - t0;
    char title[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(title, sizeof title, fmt, ap);
    va_end(ap);
    prof_print(b, stderr, title, wall);
}

// The model's three workloads, as tests/reference/bench_torch.py measures them
// for PyTorch: prefill (batch x prompt_len tokens into the KV cache), decode
// (batch sequences, gen_len new tokens each, greedy, EOS off; decode time =
// generate time - prefill time) and train (forward + backward of the summed
// next-token log-probs over batch x train_len tokens).
static int bench_model(Backend *b, const char *dir, int batch, int prompt_len, int gen_len, int train_len, int reps,
                       double temperature, int top_k, double top_p, int no_graphs, int profile) {
    Model *m = NULL;
    GenCache *cache = NULL;
    if (model_load(&m, dir, b)) return cli_fail("bench");
    int rc = 1, V = m->cfg.vocab;
    int32_t *ids = malloc((size_t)batch * train_len * sizeof(int32_t) + (size_t)batch * prompt_len * sizeof(int32_t));
    const int32_t **prompts = malloc((size_t)batch * sizeof *prompts);
    int *lens = malloc((size_t)batch * sizeof(int)), *cu = malloc(((size_t)batch + 1) * sizeof(int));
    float *lp = malloc((size_t)batch * train_len * sizeof(float)), *dlp = malloc((size_t)batch * train_len * sizeof(float));
    if (!ids || !prompts || !lens || !cu || !lp || !dlp) {
        cli_error("bench", "out of memory");
        goto done;
    }
    uint64_t s = 12345;
    int32_t *pids = ids + (size_t)batch * train_len;
    for (size_t i = 0; i < (size_t)batch * prompt_len; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        pids[i] = (int32_t)(3 + (s >> 33) % (uint64_t)(V - 3));
    }
    for (size_t i = 0; i < (size_t)batch * train_len; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        ids[i] = (int32_t)(3 + (s >> 33) % (uint64_t)(V - 3));
    }
    for (int i = 0; i < batch; i++) prompts[i] = pids + (size_t)i * prompt_len, lens[i] = prompt_len;
    double load0 = 0;
    getloadavg(&load0, 1);
    GenConfig c;
    memset(&c, 0, sizeof c);
    c.sampler = sampler_config_default();
    c.sampler.temperature = (float)temperature;
    c.sampler.top_k = top_k;
    c.sampler.top_p = (float)top_p;
    c.seed = 1;
    c.prefill_tokens = batch * prompt_len; // one pass, as the PyTorch baseline does
    // Decode steps through graphs (the default) or eagerly: what the graphs save
    // is the difference in decode_tok_s. gs describes the last generate call.
    // The calls share a workspace as a trainer's steps do (kept to the end, so
    // the peak device memory includes it, as in training): the first call
    // with gen_len tokens captures the decode graph, the later ones reuse it.
    GenGraphStats gs;
    c.no_graphs = no_graphs;
    c.graph_stats = &gs;
    if (gen_cache_build(&cache, m)) {
        cli_fail("bench");
        goto done;
    }
    c.cache = cache;
    if (profile && prof_start(b)) {
        cli_fail("bench");
        goto done;
    }
    double t_pre = 0, t_gen = 0, t_train = 1e30, wall;
    int captures = 0;
    c.max_tokens = 1;
    if (time_generate(m, &c, prompts, lens, batch, 1, &t_pre, &captures)) {
        cli_fail("bench");
        goto done;
    }
    prof_reset(b);
    wall = now_s();
    if (time_generate(m, &c, prompts, lens, batch, 3, &t_pre, &captures)) {
        cli_fail("bench");
        goto done;
    }
    print_phase(b, profile, wall, "prefill, %d x %d tokens and one sampled token; 3 calls", batch, prompt_len);
    c.max_tokens = gen_len;
    prof_reset(b);
    wall = now_s();
    if (time_generate(m, &c, prompts, lens, batch, reps, &t_gen, &captures)) {
        cli_fail("bench");
        goto done;
    }
    print_phase(b, profile, wall, "generate, %d x %d new tokens, prefill included; %d call%s (decode graphs %s)", batch,
                gen_len, reps, reps > 1 ? "s" : "", no_graphs ? "off" : gs.launched ? "on" : "none");
    for (int i = 0; i <= batch; i++) cu[i] = i * train_len;
    for (int i = 0; i < batch * train_len; i++) dlp[i] = 1.0f;
    ModelBatch mb = {batch, cu, ids, 1.0f, 0};
    for (int i = 0; i < 3; i++) { // the first is a warm-up (allocations)
        if (i == 1) prof_reset(b), wall = now_s();
        double t0 = now_s();
        if (model_zero_grad(m) || model_forward(m, &mb, lp, NULL) || model_backward(m, dlp) || b->sync(b)) {
            cli_fail("bench");
            goto done;
        }
        double dt = now_s() - t0;
        if (i > 0 && dt < t_train) t_train = dt;
    }
    print_phase(b, profile, wall, "train forward + backward, %d x %d tokens; 2 calls", batch, train_len);
    // The optimizer's share of a step: clip + AdamW over every parameter.
    double t_opt = 1e30;
    {
        AdamW opt;
        AdamWConfig ac = {1e-6, 0.9, 0.999, 1e-8, 0.0};
        if (adamw_build(&opt, b, m->n_params)) {
            cli_fail("bench");
            goto done;
        }
        prof_reset(b);
        wall = now_s();
        for (int i = 0; i < 3; i++) {
            double t0 = now_s(), gn;
            if (optim_clip_grad_norm(b, m->grads, m->n_params, 1.0, &gn) || adamw_step(&opt, m->params, m->params_cd, m->grads, 1e-6, &ac) ||
                b->sync(b)) {
                adamw_free(&opt);
                cli_fail("bench");
                goto done;
            }
            double dt = now_s() - t0;
            if (dt < t_opt) t_opt = dt;
        }
        adamw_free(&opt);
        print_phase(b, profile, wall, "gradient clipping + AdamW over every parameter; 3 calls");
    }
    prof_stop(b);
    size_t dev_peak = 0, dev_total = 0;
    if (b->mem_stats && b->mem_stats(b, NULL, &dev_peak, &dev_total)) {
        cli_fail("bench");
        goto done;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    // A shared machine's load average says how far the numbers are from an idle one's.
    double load1[1] = {0};
    getloadavg(load1, 1);
    double t_dec = t_gen - t_pre;
    printf("{\"model\": \"%s\", \"params\": %zu, \"device\": \"%s\", \"device_name\": \"%s\", \"precision\": \"%s\", \"threads\": %d,"
           " \"batch\": %d, \"prompt_len\": %d, \"gen_len\": %d, \"train_len\": %d, \"temperature\": %g,"
           " \"prefill_tok_s\": %.1f, \"prefill_s\": %.4f, \"generate_s\": %.4f, \"decode_tok_s\": %.1f,"
           " \"generate_tok_s\": %.1f, \"train_tok_s\": %.1f, \"train_s\": %.4f, \"optim_s\": %.4f, \"train_step_tok_s\": %.1f,"
           " \"peak_rss_mib\": %.1f, \"peak_dev_mib\": %.1f, \"dev_total_mib\": %.1f, \"loadavg_before\": %.2f,"
           " \"loadavg_after\": %.2f, \"graphs\": \"%s\", \"graph_launches\": %d, \"graph_captures\": %d,"
           " \"profiled\": %s}\n",
           dir, m->n_params, b->name, b->device_name, backend_dtype_name(b->cdt), omp_get_max_threads(), batch, prompt_len, gen_len, train_len,
           temperature, batch * prompt_len / t_pre, t_pre, t_gen,
           t_dec > 0 ? batch * (gen_len - 1) / t_dec : 0.0, batch * gen_len / t_gen, batch * train_len / t_train, t_train,
           t_opt, batch * train_len / (t_train + t_opt), ru.ru_maxrss / 1024.0, dev_peak / 1048576.0, dev_total / 1048576.0,
           load0, load1[0], no_graphs ? "off" : gs.launched ? "on" : gs.failed ? "failed" : "none", gs.launched, captures,
           profile ? "true" : "false");
    rc = 0;
done:
    prof_stop(b);
    free(ids), free(prompts), free(lens), free(cu), free(lp), free(dlp);
    gen_cache_free(cache);
    model_free(m);
    return rc;
}

static int run(int argc, char **argv) {
    const char *device = "auto", *precision = "auto", *matmul = NULL, *model = NULL;
    long iters = 10, batch = 8, prompt_len = 128, gen_len = 128, train_len = 0, reps = 2, top_k = 0;
    double temperature = 0, top_p = 1;
    int no_graphs = 0, profile = 0;
    CliOpt opts[] = {{"--device", CLI_STR, &device}, {"--matmul", CLI_STR, &matmul}, {"--iters", CLI_INT, &iters},
                     {"--model", CLI_STR, &model}, {"--batch", CLI_INT, &batch}, {"--prompt-len", CLI_INT, &prompt_len},
                     {"--gen-len", CLI_INT, &gen_len}, {"--train-len", CLI_INT, &train_len}, {"--reps", CLI_INT, &reps},
                     {"--temperature", CLI_DOUBLE, &temperature}, {"--top-k", CLI_INT, &top_k},
                     {"--top-p", CLI_DOUBLE, &top_p}, {"--precision", CLI_STR, &precision},
                     {"--no-graphs", CLI_FLAG, &no_graphs}, {"--profile", CLI_FLAG, &profile}};
    int rc = cli_parse("bench", argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), NULL, 0, NULL);
    if (rc) return rc;
    if (!matmul && !model) return cli_error("bench", "nothing to measure: give --matmul or --model (see 'grpo bench --help')");
    if (iters < 1) return cli_error("bench", "--iters must be at least 1");
    if (train_len == 0) train_len = prompt_len + gen_len;
    if (top_k < 0 || !(top_p > 0 && top_p <= 1) || !(temperature >= 0))
        return cli_error("bench", "--temperature must be >= 0, --top-k >= 0 and --top-p in (0, 1]");
    if (batch < 1 || prompt_len < 1 || gen_len < 2 || train_len < 2 || reps < 1 || batch * train_len > 100000000L)
        return cli_error("bench", "--batch, --prompt-len, --reps must be positive and --gen-len, --train-len at least 2");
    Backend *b = NULL;
    if (cli_open_backend("bench", device, precision, &b)) return 1;
    if (matmul) rc = bench_matmul(b, matmul, iters);
    if (!rc && model)
        rc = bench_model(b, model, (int)batch, (int)prompt_len, (int)gen_len, (int)train_len, (int)reps, temperature,
                         (int)top_k, top_p, no_graphs, profile);
    backend_close(b);
    return rc;
}

const GrpoCommand grpo_cmd_bench = {
    "bench", "measure throughput (matmul; the model's prefill, decode and training)",
    "usage: grpo bench --matmul N|M,N,K [--iters I] [--device cpu|cuda|auto] [--precision P]\n"
    "       grpo bench --model DIR [--batch N] [--prompt-len N] [--gen-len N] [--train-len N]\n\n"
    "Prints one JSON object per measurement.\n\n"
    "  --model DIR     the model's throughput: prefill (batch x prompt-len tokens into the KV cache),\n"
    "                  decode (batch sequences, gen-len new tokens each, EOS off; decode time =\n"
    "                  generate time - prefill time), train (forward + backward over batch x\n"
    "                  train-len tokens; train_step adds gradient clipping and AdamW), in tokens/s,\n"
    "                  the peak RSS and, on a GPU, the peak device memory in use (MiB)\n"
    "  --batch N       sequences (default 8)     --prompt-len N  (default 128)\n"
    "  --gen-len N     new tokens (default 128)  --train-len N   (default prompt-len + gen-len)\n"
    "  --temperature T sampling temperature for decode (default 0 = greedy)\n"
    "  --top-k K, --top-p P  sampling filters for decode (default off)\n"
    "  --reps N        generate timings, best of N (default 2)\n"
    "  --no-graphs     decode eagerly instead of through CUDA graphs (the default where the\n"
    "                  device has them); \"graphs\" in the output says on, off, failed or none\n"
    "  --profile       also print, on stderr, where each phase's time goes op by op (matmuls by\n"
    "                  shape): on a GPU the device time of each op from events around it, on the\n"
    "                  CPU each call's wall time. Every op then waits for the last, so the JSON's\n"
    "                  figures are lower than without it; with decode graphs a replayed step is\n"
    "                  one row (add --no-graphs to see its ops)\n"
    "  --matmul M,N,K  time out (M,N) = x (M,K) @ W^T with W (N,K): x, W in the compute precision,\n"
    "                  out fp32; N alone means N,N,N\n"
    "  --iters I       timed repetitions after one warm-up (default 10)\n"
    "  --device D      cpu, cuda or auto (default auto: cuda when a usable GPU is present)\n"
    "  --precision P   auto, fp32 or bf16 (default auto: the device's own, fp32 on cpu, bf16 on cuda)\n",
    run};
