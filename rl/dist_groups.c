#include "rl/dist_groups.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/status.h"
#include "rl/dist.h"
#include "rl/grpo.h"

int dist_groups_advantages(Group *groups, const int *pos, int n, int n_global, int GG, int scale_rewards) {
    int st = GRPO_OK;
    if (n_global == 0) return GRPO_OK;
    // Every rank's rewards in one-process order: each slot is written by one
    // rank and zero elsewhere, so the sum is exact.
    double *r = calloc((size_t)n_global * GG, sizeof(double));
    float *rf = calloc((size_t)n_global * GG, sizeof(float)), *a = calloc((size_t)n_global * GG, sizeof(float));
    if (!r || !rf || !a) {
        st = grpo_fail(GRPO_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < GG; k++) r[(size_t)pos[i] * GG + k] = groups[i].reward[k];
    if ((st = dist_allreduce_sum_f64(r, (size_t)n_global * GG))) goto done;
    for (size_t j = 0; j < (size_t)n_global * GG; j++) rf[j] = (float)r[j];
    if ((st = grpo_advantages(a, rf, n_global, GG, (ScaleRewards)scale_rewards))) goto done;
    for (int i = 0; i < n; i++) memcpy(groups[i].adv, a + (size_t)pos[i] * GG, (size_t)GG * sizeof(float));
done:
    free(r), free(rf), free(a);
    return st;
}

// ---- a byte buffer for the gather

typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} Buf;

static void put(Buf *b, const void *x, size_t n) {
    if (b->oom) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->n + n) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->n, x, n);
    b->n += n;
}

static void put_i32(Buf *b, int v) { put(b, &v, sizeof v); }

static void put_str(Buf *b, const char *s) {
    int len = s ? (int)strlen(s) : -1;
    put_i32(b, len);
    if (s) put(b, s, (size_t)len);
}

typedef struct {
    const char *p, *end;
    int bad;
} Rd;

static void get(Rd *r, void *x, size_t n) {
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        memset(x, 0, n);
        return;
    }
    memcpy(x, r->p, n);
    r->p += n;
}

static int get_i32(Rd *r) {
    int v;
    get(r, &v, sizeof v);
    return v;
}

static char *get_str(Rd *r) {
    int len = get_i32(r);
    if (r->bad || len < 0) return NULL;
    if ((size_t)(r->end - r->p) < (size_t)len) {
        r->bad = 1;
        return NULL;
    }
    char *s = malloc((size_t)len + 1);
    if (!s) {
        r->bad = 1;
        return NULL;
    }
    memcpy(s, r->p, (size_t)len);
    s[len] = '\0';
    r->p += len;
    return s;
}

// One group: pos, ex_idx, G, prompt text, then per sample n_tokens, finish,
// text, reward, advantage and the whole RuleScore (every rank runs this binary).
static void pack_group(Buf *b, const Group *g, int pos) {
    put_i32(b, pos);
    put_i32(b, g->ex_idx);
    put_i32(b, g->G);
    put_str(b, g->prompt_text);
    for (int k = 0; k < g->G; k++) {
        put_i32(b, g->gen[k].n_tokens);
        put_i32(b, (int)g->gen[k].finish);
        put_str(b, g->text[k]);
        put(b, &g->reward[k], sizeof(float));
        put(b, &g->adv[k], sizeof(float));
        put(b, &g->score[k], sizeof(RuleScore));
    }
}

static int unpack_group(Rd *r, Group *all, int n_global, const Dataset *data) {
    int pos = get_i32(r), ex_idx = get_i32(r), G = get_i32(r);
    if (r->bad || pos < 0 || pos >= n_global || G < 1 || all[pos].G)
        return grpo_fail(GRPO_EINTERNAL, "dist: malformed group from another rank");
    Group *g = &all[pos];
    g->ex_idx = ex_idx;
    g->ex = ds_get(data, ex_idx);
    g->G = G;
    g->prompt_text = get_str(r);
    g->gen = calloc((size_t)G, sizeof *g->gen);
    g->text = calloc((size_t)G, sizeof *g->text);
    g->score = calloc((size_t)G, sizeof *g->score);
    g->reward = calloc((size_t)G, sizeof *g->reward);
    g->adv = calloc((size_t)G, sizeof *g->adv);
    if (!g->gen || !g->text || !g->score || !g->reward || !g->adv) return grpo_fail(GRPO_ENOMEM, "out of memory");
    for (int k = 0; k < G; k++) {
        g->gen[k].n_tokens = get_i32(r);
        g->gen[k].finish = (GenFinish)get_i32(r);
        g->text[k] = get_str(r);
        get(r, &g->reward[k], sizeof(float));
        get(r, &g->adv[k], sizeof(float));
        get(r, &g->score[k], sizeof(RuleScore));
    }
    return r->bad ? grpo_fail(GRPO_EINTERNAL, "dist: truncated group from another rank") : GRPO_OK;
}

int dist_groups_gather(const Group *groups, const int *pos, int n, int n_global, const Dataset *data, Group **all) {
    *all = NULL;
    Buf b = {0};
    for (int i = 0; i < n; i++) pack_group(&b, &groups[i], pos[i]);
    if (b.oom) {
        free(b.p);
        return grpo_fail(GRPO_ENOMEM, "out of memory packing rollouts");
    }
    char *bytes = NULL;
    size_t *lens = NULL;
    int st = dist_gather_bytes(b.p, b.n, &bytes, &lens);
    free(b.p);
    if (st || dist_rank() != 0) return st;
    size_t total = 0;
    for (int r = 0; r < dist_size(); r++) total += lens[r];
    free(lens);
    Group *out = calloc((size_t)n_global + 1, sizeof *out);
    if (!out) {
        free(bytes);
        return grpo_fail(GRPO_ENOMEM, "out of memory");
    }
    Rd r = {bytes, bytes + total, 0};
    while (!st && r.p < r.end) st = unpack_group(&r, out, n_global, data);
    for (int g = 0; !st && g < n_global; g++)
        if (!out[g].G) st = grpo_fail(GRPO_EINTERNAL, "dist: group %d of %d came from no rank", g, n_global);
    free(bytes);
    if (st) {
        for (int g = 0; g < n_global; g++) group_free(&out[g]);
        free(out);
        return st;
    }
    *all = out;
    return GRPO_OK;
}
