// Op-level profile of a backend: timing wrappers swapped into its op table
// (see profile.h).
#include "kernels/profile.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROF_MAX_ROWS 128
#define PROF_NAME 64

struct BackendProfile {
    Backend orig;  // b's op table as it was
    int capturing; // between graph_begin and graph_end: ops are recorded, not run
    int depth;     // > 0 while a timed op runs: ops it calls through the table are its own time
    int n;
    ProfRow rows[PROF_MAX_ROWS];
    char names[PROF_MAX_ROWS][PROF_NAME];
    ProfRow sorted[PROF_MAX_ROWS];
    char label[PROF_NAME]; // the current op's row name
};

static double prof_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// The row named `name`; the last row takes every name past the table's size.
static ProfRow *prof_row(BackendProfile *p, const char *name) {
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->rows[i].name, name)) return &p->rows[i];
    if (p->n == PROF_MAX_ROWS - 1) name = "(other ops)";
    else if (p->n == PROF_MAX_ROWS) return &p->rows[PROF_MAX_ROWS - 1];
    snprintf(p->names[p->n], PROF_NAME, "%s", name);
    p->rows[p->n] = (ProfRow){p->names[p->n], 0, 0.0};
    return &p->rows[p->n++];
}

static int prof_begin(Backend *b, double *t0) {
    *t0 = prof_now();
    return b->timer ? b->timer(b, 0, NULL) : GRPO_OK;
}

static int prof_end(Backend *b, double t0) {
    double s = prof_now() - t0;
    if (b->timer) {
        int st = b->timer(b, 1, &s);
        if (st) return st;
    }
    ProfRow *r = prof_row(b->profile, b->profile->label);
    r->calls++;
    r->seconds += s;
    return GRPO_OK;
}

// A wrapper: LABEL (statements) names the row in p->label, then the real op runs between the timer's marks.
#define PROF_WRAP(NAME, PARAMS, ARGS, LABEL)                                                                          \
    static int prof_##NAME PARAMS {                                                                                    \
        BackendProfile *p = b->profile;                                                                                \
        if (p->capturing || p->depth) return p->orig.NAME ARGS;                                                        \
        double t0;                                                                                                     \
        int st = prof_begin(b, &t0);                                                                                   \
        if (st) return st;                                                                                             \
        p->depth++;                                                                                                    \
        st = p->orig.NAME ARGS;                                                                                        \
        p->depth--;                                                                                                    \
        LABEL;                                                                                                         \
        int st2 = prof_end(b, t0);                                                                                     \
        return st ? st : st2;                                                                                          \
    }
#define PLAIN(NAME) snprintf(p->label, PROF_NAME, "%s", #NAME)

PROF_WRAP(to_device, (Backend * b, void *dst, const void *host_src, size_t bytes), (b, dst, host_src, bytes),
          PLAIN(to_device))
PROF_WRAP(to_host, (Backend * b, void *host_dst, const void *src, size_t bytes), (b, host_dst, src, bytes),
          PLAIN(to_host))
PROF_WRAP(copy, (Backend * b, void *dst, const void *src, size_t bytes), (b, dst, src, bytes), PLAIN(copy))
PROF_WRAP(memset, (Backend * b, void *dst, int byte, size_t bytes), (b, dst, byte, bytes), PLAIN(memset))
// Matmuls by shape: the model's projections (and lm_head, N = vocab) are told apart.
PROF_WRAP(matmul,
          (Backend * b, void *out, BackendDtype out_dt, const void *a, const void *bm, int M, int N, int K, int trans_a,
           int trans_b, float alpha, int accumulate),
          (b, out, out_dt, a, bm, M, N, K, trans_a, trans_b, alpha, accumulate),
          snprintf(p->label, PROF_NAME, "matmul %dx%dx%d%s%s%s", M, N, K, trans_a ? " tA" : "", trans_b ? " tB" : "",
                   accumulate ? " +=" : ""))
PROF_WRAP(convert, (Backend * b, void *dst, BackendDtype dst_dt, const void *src, BackendDtype src_dt, size_t n),
          (b, dst, dst_dt, src, src_dt, n), PLAIN(convert))
PROF_WRAP(embedding_forward, (Backend * b, void *out, const int32_t *ids, const void *wte, int T, int C, int V),
          (b, out, ids, wte, T, C, V), PLAIN(embedding_forward))
PROF_WRAP(embedding_backward, (Backend * b, float *dwte, const void *dout, const int32_t *ids, int T, int C, int V),
          (b, dwte, dout, ids, T, C, V), PLAIN(embedding_backward))
PROF_WRAP(rmsnorm_forward,
          (Backend * b, void *out, float *rstd, const void *inp, const void *weight, int T, int C, float eps),
          (b, out, rstd, inp, weight, T, C, eps), PLAIN(rmsnorm_forward))
PROF_WRAP(rmsnorm_backward,
          (Backend * b, void *dinp, float *dweight, const void *dout, const void *inp, const void *weight,
           const float *rstd, int T, int C),
          (b, dinp, dweight, dout, inp, weight, rstd, T, C), PLAIN(rmsnorm_backward))
PROF_WRAP(rope_forward, (Backend * b, void *x, const int32_t *pos, const float *inv_freq, int T, int nh, int hd),
          (b, x, pos, inv_freq, T, nh, hd), PLAIN(rope_forward))
PROF_WRAP(rope_backward, (Backend * b, void *dx, const int32_t *pos, const float *inv_freq, int T, int nh, int hd),
          (b, dx, pos, inv_freq, T, nh, hd), PLAIN(rope_backward))
// Decode rows (one query per sequence) run other kernels than prefill and training.
PROF_WRAP(attention_forward,
          (Backend * b, void *out, float *lse, const void *q, const void *k, const void *v, const int32_t *q_start,
           const int32_t *kv_start, const int32_t *q_pos0, int S, int T, int nh, int nkv, int hd),
          (b, out, lse, q, k, v, q_start, kv_start, q_pos0, S, T, nh, nkv, hd),
          snprintf(p->label, PROF_NAME, "attention_forward%s", T == S ? " (decode rows)" : ""))
PROF_WRAP(attention_backward,
          (Backend * b, void *dq, void *dk, void *dv, const void *dout, const void *q, const void *k, const void *v,
           const void *out, const float *lse, const int32_t *q_start, const int32_t *kv_start, const int32_t *q_pos0,
           int S, int T, int nh, int nkv, int hd),
          (b, dq, dk, dv, dout, q, k, v, out, lse, q_start, kv_start, q_pos0, S, T, nh, nkv, hd),
          PLAIN(attention_backward))
PROF_WRAP(swiglu_forward, (Backend * b, void *out, const void *gate, const void *up, size_t n), (b, out, gate, up, n),
          PLAIN(swiglu_forward))
PROF_WRAP(swiglu_backward,
          (Backend * b, void *dgate, void *dup, const void *dout, const void *gate, const void *up, size_t n),
          (b, dgate, dup, dout, gate, up, n), PLAIN(swiglu_backward))
PROF_WRAP(logprob_forward,
          (Backend * b, float *logp, float *entropy, float *lse, const float *logits, const int32_t *targets, int T,
           int V, float inv_temp),
          (b, logp, entropy, lse, logits, targets, T, V, inv_temp), PLAIN(logprob_forward))
PROF_WRAP(logprob_backward,
          (Backend * b, void *dlogits, const float *dlogp, const float *logits, const int32_t *targets,
           const float *lse, int T, int V, float inv_temp),
          (b, dlogits, dlogp, logits, targets, lse, T, V, inv_temp), PLAIN(logprob_backward))
PROF_WRAP(add, (Backend * b, void *out, const void *x, const void *y, size_t n), (b, out, x, y, n), PLAIN(add))
PROF_WRAP(bias_forward, (Backend * b, void *out, const void *bias, int T, int N), (b, out, bias, T, N),
          PLAIN(bias_forward))
PROF_WRAP(bias_backward, (Backend * b, float *dbias, const void *dout, int T, int N), (b, dbias, dout, T, N),
          PLAIN(bias_backward))
PROF_WRAP(scatter_rows, (Backend * b, void *dst, const void *src, const int32_t *dst_rows, int n, int dim),
          (b, dst, src, dst_rows, n, dim), PLAIN(scatter_rows))
PROF_WRAP(adamw,
          (Backend * b, float *params, void *params_cd, float *m, float *v, const float *grads, size_t n,
           const BackendAdamW *h),
          (b, params, params_cd, m, v, grads, n, h), PLAIN(adamw))
PROF_WRAP(sumsq, (Backend * b, double *host_out, const float *x, size_t n), (b, host_out, x, n), PLAIN(sumsq))
PROF_WRAP(scale, (Backend * b, float *x, float s, size_t n), (b, x, s, n), PLAIN(scale))
PROF_WRAP(sample,
          (Backend * b, int32_t *tokens, float *logprobs, uint64_t *rng, const float *logits, const int32_t *seq,
           const BackendSampleCfg *cfg, int S, int V),
          (b, tokens, logprobs, rng, logits, seq, cfg, S, V), PLAIN(sample))
PROF_WRAP(graph_launch, (Backend * b, void *graph), (b, graph), PLAIN(graph_launch (a captured step)))

static int prof_graph_begin(Backend *b) {
    int st = b->profile->orig.graph_begin(b);
    if (!st) b->profile->capturing = 1;
    return st;
}

static int prof_graph_end(Backend *b, void **graph) {
    b->profile->capturing = 0;
    return b->profile->orig.graph_end(b, graph);
}

// Every op prof_start swaps (and prof_stop restores).
#define PROF_OPS(X)                                                                                                    \
    X(to_device) X(to_host) X(copy) X(memset) X(matmul) X(convert) X(embedding_forward) X(embedding_backward)         \
    X(rmsnorm_forward) X(rmsnorm_backward) X(rope_forward) X(rope_backward) X(attention_forward)                     \
    X(attention_backward) X(swiglu_forward) X(swiglu_backward) X(logprob_forward) X(logprob_backward) X(add)         \
    X(bias_forward) X(bias_backward) X(scatter_rows) X(adamw) X(sumsq) X(scale) X(sample) X(graph_launch)            \
    X(graph_begin) X(graph_end)

int prof_start(Backend *b) {
    if (b->profile) return grpo_fail(GRPO_EINVAL, "profile: the %s backend is already being profiled", b->name);
    BackendProfile *p = calloc(1, sizeof *p);
    if (!p) return grpo_fail(GRPO_ENOMEM, "profile: out of memory");
    p->orig = *b;
    b->profile = p;
    // Only the ops b has: a NULL slot stays NULL (backend_require still sees it).
#define SWAP(NAME) \
    if (b->NAME) b->NAME = prof_##NAME;
    PROF_OPS(SWAP)
#undef SWAP
    return GRPO_OK;
}

void prof_stop(Backend *b) {
    BackendProfile *p = b ? b->profile : NULL;
    if (!p) return;
#define RESTORE(NAME) b->NAME = p->orig.NAME;
    PROF_OPS(RESTORE)
#undef RESTORE
    b->profile = NULL;
    free(p);
}

void prof_reset(Backend *b) {
    if (b->profile) b->profile->n = 0;
}

static int prof_cmp(const void *x, const void *y) {
    const ProfRow *a = x, *c = y;
    if (a->seconds != c->seconds) return a->seconds < c->seconds ? 1 : -1;
    return strcmp(a->name, c->name);
}

const ProfRow *prof_rows(Backend *b, int *n, double *total) {
    BackendProfile *p = b->profile;
    *n = 0;
    if (total) *total = 0;
    if (!p) return NULL;
    memcpy(p->sorted, p->rows, (size_t)p->n * sizeof(ProfRow));
    qsort(p->sorted, (size_t)p->n, sizeof(ProfRow), prof_cmp);
    *n = p->n;
    if (total)
        for (int i = 0; i < p->n; i++) *total += p->rows[i].seconds;
    return p->sorted;
}

void prof_print(Backend *b, FILE *f, const char *title, double wall_s) {
    int n;
    double total;
    const ProfRow *r = prof_rows(b, &n, &total);
    fprintf(f, "\n== profile: %s (%s) ==\n", title,
            b->timer ? "device time of each op, from events around it" : "wall time of each op call");
    fprintf(f, "%-44s %8s %11s %10s %6s\n", "op", "calls", "total ms", "mean us", "share");
    for (int i = 0; i < n; i++)
        fprintf(f, "%-44s %8ld %11.3f %10.1f %5.1f%%\n", r[i].name, r[i].calls, 1e3 * r[i].seconds,
                1e6 * r[i].seconds / (double)(r[i].calls ? r[i].calls : 1),
                total > 0 ? 100.0 * r[i].seconds / total : 0.0);
    if (wall_s > 0)
        fprintf(f, "ops %.3f ms of %.3f ms wall (%.0f%%; the rest: host work, launches and waits)\n", 1e3 * total,
                1e3 * wall_s, 100.0 * total / wall_s);
    else fprintf(f, "ops %.3f ms\n", 1e3 * total);
}
