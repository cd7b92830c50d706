// Every transformer op of the CPU backend against a float64 reference: the
// forward against a naive loop, the backward against central finite
// differences of that float64 reference (h = 1e-6, so the differences are
// exact to ~1e-9 and the tolerance only has to absorb the op's fp32 rounding).
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "testlib.h"

static uint64_t rng = 7;
static Backend *B;

static float *randf(size_t n, float scale) {
    float *x = malloc(n * sizeof(float) + 4);
    for (size_t i = 0; i < n; i++) x[i] = tu_rand_uniform(&rng) * scale;
    return x;
}
static double *tod(const float *x, size_t n) {
    double *d = malloc(n * sizeof(double) + 8);
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}
// max|a - b| / max|b|: the tensor-level relative error used throughout.
static double relerr_fd(const float *a, const double *b, size_t n) {
    double num = 0, den = 1e-12;
    for (size_t i = 0; i < n; i++) {
        if (fabs(a[i] - b[i]) > num) num = fabs(a[i] - b[i]);
        if (fabs(b[i]) > den) den = fabs(b[i]);
    }
    return num / den;
}

typedef double (*LossFn)(void *ctx);
// Central differences of loss(ctx) with respect to every element of x.
static double *fd_grad(LossFn f, void *ctx, double *x, size_t n) {
    double *g = malloc(n * sizeof(double) + 8);
    const double h = 1e-6;
    for (size_t i = 0; i < n; i++) {
        double keep = x[i];
        x[i] = keep + h;
        double lp = f(ctx);
        x[i] = keep - h;
        double lm = f(ctx);
        x[i] = keep;
        g[i] = (lp - lm) / (2 * h);
    }
    return g;
}

// ---------------------------------------------------------------- rmsnorm
typedef struct { int T, C; double *x, *w, *dy; double eps; } RmsCtx;
static void rms_ref(double *y, const RmsCtx *c) {
    for (int t = 0; t < c->T; t++) {
        double ss = 0;
        for (int i = 0; i < c->C; i++) ss += c->x[t * c->C + i] * c->x[t * c->C + i];
        double r = 1.0 / sqrt(ss / c->C + c->eps);
        for (int i = 0; i < c->C; i++) y[t * c->C + i] = c->x[t * c->C + i] * r * c->w[i];
    }
}
static double rms_loss(void *p) {
    RmsCtx *c = p;
    double *y = malloc(sizeof(double) * c->T * c->C), l = 0;
    rms_ref(y, c);
    for (int i = 0; i < c->T * c->C; i++) l += y[i] * c->dy[i];
    free(y);
    return l;
}
static void test_rmsnorm(void) {
    int T = 5, C = 19;
    float *x = randf(T * C, 2), *w = randf(C, 1), *dy = randf(T * C, 1), *y = malloc(T * C * 4), *r = malloc(T * 4);
    RmsCtx c = {T, C, tod(x, T * C), tod(w, C), tod(dy, T * C), 1e-5};
    double *yr = malloc(sizeof(double) * T * C);
    rms_ref(yr, &c);
    CHECK(B->rmsnorm_forward(B, y, r, x, w, T, C, 1e-5f) == 0, "%s", grpo_errmsg());
    CHECK(relerr_fd(y, yr, T * C) < 1e-5, "rmsnorm forward: %g", relerr_fd(y, yr, T * C));
    float *dx = calloc(T * C, 4), *dw = calloc(C, 4);
    dx[0] = 1.0f; // backward accumulates: start from a known non-zero value
    CHECK(B->rmsnorm_backward(B, dx, dw, dy, x, w, r, T, C) == 0, "%s", grpo_errmsg());
    dx[0] -= 1.0f;
    double *gx = fd_grad(rms_loss, &c, c.x, T * C), *gw = fd_grad(rms_loss, &c, c.w, C);
    CHECK(relerr_fd(dx, gx, T * C) < 1e-4, "rmsnorm dx: %g", relerr_fd(dx, gx, T * C));
    CHECK(relerr_fd(dw, gw, C) < 1e-4, "rmsnorm dweight: %g", relerr_fd(dw, gw, C));
    free(x), free(w), free(dy), free(y), free(r), free(dx), free(dw), free(gx), free(gw), free(yr);
    free(c.x), free(c.w), free(c.dy);
}

// ---------------------------------------------------------------- rope
typedef struct { int T, nh, hd; double *x, *dy; const int32_t *pos; const float *inv; } RopeCtx;
static void rope_ref(double *y, const RopeCtx *c) {
    int half = c->hd / 2;
    for (int t = 0; t < c->T; t++)
        for (int h = 0; h < c->nh; h++)
            for (int i = 0; i < half; i++) {
                double ang = (double)((float)c->pos[t] * c->inv[i]);
                const double *xh = c->x + (t * c->nh + h) * c->hd;
                double *yh = y + (t * c->nh + h) * c->hd;
                yh[i] = xh[i] * cos(ang) - xh[i + half] * sin(ang);
                yh[i + half] = xh[i + half] * cos(ang) + xh[i] * sin(ang);
            }
}
static double rope_loss(void *p) {
    RopeCtx *c = p;
    int n = c->T * c->nh * c->hd;
    double *y = malloc(sizeof(double) * n), l = 0;
    rope_ref(y, c);
    for (int i = 0; i < n; i++) l += y[i] * c->dy[i];
    free(y);
    return l;
}
static void test_rope(void) {
    int T = 6, nh = 3, hd = 8, n = T * nh * hd;
    int32_t pos[6] = {0, 1, 2, 0, 5, 17};
    float inv[4];
    for (int i = 0; i < 4; i++) inv[i] = (float)(1.0 / pow(10000.0, 2.0 * i / hd));
    float *x = randf(n, 1), *dy = randf(n, 1);
    RopeCtx c = {T, nh, hd, tod(x, n), tod(dy, n), pos, inv};
    double *yr = malloc(sizeof(double) * n);
    rope_ref(yr, &c);
    CHECK(B->rope_forward(B, x, pos, inv, T, nh, hd) == 0, "%s", grpo_errmsg());
    CHECK(relerr_fd(x, yr, n) < 1e-5, "rope forward: %g", relerr_fd(x, yr, n));
    CHECK(B->rope_backward(B, dy, pos, inv, T, nh, hd) == 0, "%s", grpo_errmsg());
    double *g = fd_grad(rope_loss, &c, c.x, n);
    CHECK(relerr_fd(dy, g, n) < 1e-5, "rope backward: %g", relerr_fd(dy, g, n));
    CHECK(B->rope_forward(B, x, pos, inv, T, nh, 7) != 0, "odd head_dim accepted");
    free(x), free(dy), free(yr), free(g), free(c.x), free(c.dy);
}

// ---------------------------------------------------------------- attention
typedef struct {
    int S, T, nh, nkv, hd;
    const int32_t *qs, *ks, *q0;
    double *q, *k, *v, *dy;
} AttCtx;
static void att_ref(double *out, const AttCtx *c) {
    int qd = c->nh * c->hd, kvd = c->nkv * c->hd, g = c->nh / c->nkv;
    double *sc = malloc(sizeof(double) * 4096);
    for (int s = 0; s < c->S; s++)
        for (int t = c->qs[s]; t < c->qs[s + 1]; t++)
            for (int h = 0; h < c->nh; h++) {
                int nk = c->q0[s] + (t - c->qs[s]) + 1;
                double m = -1e300, sum = 0;
                for (int j = 0; j < nk; j++) {
                    double d = 0;
                    for (int i = 0; i < c->hd; i++)
                        d += c->q[t * qd + h * c->hd + i] * c->k[(c->ks[s] + j) * kvd + (h / g) * c->hd + i];
                    sc[j] = d / sqrt((double)c->hd);
                    if (sc[j] > m) m = sc[j];
                }
                for (int j = 0; j < nk; j++) sum += (sc[j] = exp(sc[j] - m));
                for (int i = 0; i < c->hd; i++) {
                    double o = 0;
                    for (int j = 0; j < nk; j++) o += sc[j] / sum * c->v[(c->ks[s] + j) * kvd + (h / g) * c->hd + i];
                    out[t * qd + h * c->hd + i] = o;
                }
            }
    free(sc);
}
static double att_loss(void *p) {
    AttCtx *c = p;
    int n = c->T * c->nh * c->hd;
    double *y = malloc(sizeof(double) * n), l = 0;
    att_ref(y, c);
    for (int i = 0; i < n; i++) l += y[i] * c->dy[i];
    free(y);
    return l;
}
static void test_attention(void) {
    // Three packed sequences of lengths 3, 1 and 5; 4 query heads share 2 kv heads.
    int S = 3, T = 9, nh = 4, nkv = 2, hd = 6, qd = nh * hd, kvd = nkv * hd;
    int32_t qs[4] = {0, 3, 4, 9}, q0[3] = {0, 0, 0};
    float *q = randf(T * qd, 1.5f), *k = randf(T * kvd, 1.5f), *v = randf(T * kvd, 1), *dy = randf(T * qd, 1);
    float *out = malloc(T * qd * 4), *lse = malloc(T * nh * 4);
    AttCtx c = {S, T, nh, nkv, hd, qs, qs, q0, tod(q, T * qd), tod(k, T * kvd), tod(v, T * kvd), tod(dy, T * qd)};
    double *ref = malloc(sizeof(double) * T * qd);
    att_ref(ref, &c);
    CHECK(B->attention_forward(B, out, lse, q, k, v, qs, qs, q0, S, T, nh, nkv, hd) == 0, "%s", grpo_errmsg());
    CHECK(relerr_fd(out, ref, T * qd) < 1e-5, "attention forward: %g", relerr_fd(out, ref, T * qd));
    float *dq = malloc(T * qd * 4), *dk = calloc(T * kvd, 4), *dv = calloc(T * kvd, 4);
    CHECK(B->attention_backward(B, dq, dk, dv, dy, q, k, v, out, lse, qs, qs, q0, S, T, nh, nkv, hd) == 0, "%s",
          grpo_errmsg());
    double *gq = fd_grad(att_loss, &c, c.q, T * qd), *gk = fd_grad(att_loss, &c, c.k, T * kvd),
           *gv = fd_grad(att_loss, &c, c.v, T * kvd);
    CHECK(relerr_fd(dq, gq, T * qd) < 1e-4, "attention dq: %g", relerr_fd(dq, gq, T * qd));
    CHECK(relerr_fd(dk, gk, T * kvd) < 1e-4, "attention dk: %g", relerr_fd(dk, gk, T * kvd));
    CHECK(relerr_fd(dv, gv, T * kvd) < 1e-4, "attention dv: %g", relerr_fd(dv, gv, T * kvd));

    // Decoding layout: keys live in a cache (2 slots of 8 rows), queries are the
    // last 2 and last 1 positions of each slot's sequence (q_pos0 > 0).
    int32_t ks2[2] = {0, 8}, qs2[3] = {0, 2, 3}, q02[2] = {4, 6};
    float *kc = randf(16 * kvd, 1.5f), *vc = randf(16 * kvd, 1), *q2 = randf(3 * qd, 1.5f), *o2 = malloc(3 * qd * 4);
    AttCtx c2 = {2, 3, nh, nkv, hd, qs2, ks2, q02, tod(q2, 3 * qd), tod(kc, 16 * kvd), tod(vc, 16 * kvd), NULL};
    double *ref2 = malloc(sizeof(double) * 3 * qd);
    att_ref(ref2, &c2);
    CHECK(B->attention_forward(B, o2, NULL, q2, kc, vc, qs2, ks2, q02, 2, 3, nh, nkv, hd) == 0, "%s", grpo_errmsg());
    CHECK(relerr_fd(o2, ref2, 3 * qd) < 1e-5, "attention over a cache: %g", relerr_fd(o2, ref2, 3 * qd));
    int32_t bad[4] = {0, 3, 4, 8};
    CHECK(B->attention_forward(B, out, lse, q, k, v, bad, bad, q0, S, T, nh, nkv, hd) != 0, "bad offsets accepted");
    CHECK(B->attention_forward(B, out, lse, q, k, v, qs, qs, q0, S, T, nh, 3, hd) != 0, "kv heads not dividing accepted");
    free(q), free(k), free(v), free(dy), free(out), free(lse), free(ref), free(dq), free(dk), free(dv);
    free(gq), free(gk), free(gv), free(c.q), free(c.k), free(c.v), free(c.dy);
    free(kc), free(vc), free(q2), free(o2), free(ref2), free(c2.q), free(c2.k), free(c2.v);
}

// The backward in float64, straight from the definition, over a KV-cache layout:
// dq (T, qd) overwritten, dk / dv (rows, kvd) +=.
static void att_ref_backward(double *dq, double *dk, double *dv, const AttCtx *c) {
    int qd = c->nh * c->hd, kvd = c->nkv * c->hd, g = c->nh / c->nkv, hd = c->hd;
    double *p = malloc(sizeof(double) * 4096), *o = malloc(sizeof(double) * hd);
    for (int s = 0; s < c->S; s++)
        for (int t = c->qs[s]; t < c->qs[s + 1]; t++)
            for (int h = 0; h < c->nh; h++) {
                int nk = c->q0[s] + (t - c->qs[s]) + 1;
                const double *q = c->q + (size_t)t * qd + h * hd, *dy = c->dy + (size_t)t * qd + h * hd;
                const double *k = c->k + (size_t)c->ks[s] * kvd + (h / g) * hd, *v = c->v + (size_t)c->ks[s] * kvd + (h / g) * hd;
                double m = -1e300, sum = 0, D = 0;
                for (int j = 0; j < nk; j++) {
                    double d = 0;
                    for (int i = 0; i < hd; i++) d += q[i] * k[(size_t)j * kvd + i];
                    p[j] = d / sqrt((double)hd);
                    if (p[j] > m) m = p[j];
                }
                for (int j = 0; j < nk; j++) sum += (p[j] = exp(p[j] - m));
                for (int j = 0; j < nk; j++) p[j] /= sum;
                for (int i = 0; i < hd; i++) o[i] = 0;
                for (int j = 0; j < nk; j++)
                    for (int i = 0; i < hd; i++) o[i] += p[j] * v[(size_t)j * kvd + i];
                for (int i = 0; i < hd; i++) D += dy[i] * o[i];
                double *dqr = dq + (size_t)t * qd + h * hd;
                for (int i = 0; i < hd; i++) dqr[i] = 0;
                for (int j = 0; j < nk; j++) {
                    double dp = 0;
                    for (int i = 0; i < hd; i++) dp += dy[i] * v[(size_t)j * kvd + i];
                    double ds = p[j] * (dp - D) / sqrt((double)hd);
                    double *dkj = dk + (size_t)(c->ks[s] + j) * kvd + (h / g) * hd, *dvj = dv + (size_t)(c->ks[s] + j) * kvd + (h / g) * hd;
                    for (int i = 0; i < hd; i++) {
                        dqr[i] += ds * k[(size_t)j * kvd + i];
                        dkj[i] += ds * q[i];
                        dvj[i] += p[j] * dy[i];
                    }
                }
            }
    free(p), free(o);
}

// Long sequences (several 64-row blocks of the blocked backward, a partial
// last one, a sequence of one row) over a KV cache whose queries start past
// position 0, against float64; and the same bits on one thread as on two.
static void test_attention_blocks(int hd) {
    int S = 3, nh = 4, nkv = 2, qd = nh * hd, kvd = nkv * hd, slot = 220;
    int32_t qs[4] = {0, 130, 131, 201}, q0[3] = {0, 5, 64}, ks[3] = {0, slot, 2 * slot};
    int T = qs[S], rows = S * slot;
    omp_set_num_threads(2);
    float *q = randf((size_t)T * qd, 1.5f), *k = randf((size_t)rows * kvd, 1.5f), *v = randf((size_t)rows * kvd, 1),
          *dy = randf((size_t)T * qd, 1), *dk0 = randf((size_t)rows * kvd, 1), *dv0 = randf((size_t)rows * kvd, 1);
    float *out = malloc((size_t)T * qd * 4), *lse = malloc((size_t)T * nh * 4);
    CHECK(B->attention_forward(B, out, lse, q, k, v, qs, ks, q0, S, T, nh, nkv, hd) == 0, "%s", grpo_errmsg());
    AttCtx c = {S, T, nh, nkv, hd, qs, ks, q0, tod(q, (size_t)T * qd), tod(k, (size_t)rows * kvd),
                tod(v, (size_t)rows * kvd), tod(dy, (size_t)T * qd)};
    double *ref = malloc(sizeof(double) * T * qd);
    att_ref(ref, &c);
    CHECK(relerr_fd(out, ref, (size_t)T * qd) < 1e-5, "hd %d: long forward: %g", hd, relerr_fd(out, ref, (size_t)T * qd));
    float *out1 = malloc((size_t)T * qd * 4), *lse1 = malloc((size_t)T * nh * 4);
    omp_set_num_threads(1);
    CHECK(B->attention_forward(B, out1, lse1, q, k, v, qs, ks, q0, S, T, nh, nkv, hd) == 0, "%s", grpo_errmsg());
    CHECK(!memcmp(out, out1, (size_t)T * qd * 4) && !memcmp(lse, lse1, (size_t)T * nh * 4),
          "hd %d: the forward on 1 thread differs from 2 threads", hd);
    free(out1), free(lse1), free(ref);
    double *gq = malloc(sizeof(double) * T * qd), *gk = tod(dk0, (size_t)rows * kvd), *gv = tod(dv0, (size_t)rows * kvd);
    att_ref_backward(gq, gk, gv, &c);
    float *dq[2], *dk[2], *dv[2];
    for (int th = 0; th < 2; th++) {
        omp_set_num_threads(th + 1);
        dq[th] = malloc((size_t)T * qd * 4);
        dk[th] = malloc((size_t)rows * kvd * 4), dv[th] = malloc((size_t)rows * kvd * 4);
        memcpy(dk[th], dk0, (size_t)rows * kvd * 4), memcpy(dv[th], dv0, (size_t)rows * kvd * 4);
        CHECK(B->attention_backward(B, dq[th], dk[th], dv[th], dy, q, k, v, out, lse, qs, ks, q0, S, T, nh, nkv, hd) == 0,
              "%s", grpo_errmsg());
    }
    omp_set_num_threads(2);
    CHECK(relerr_fd(dq[1], gq, (size_t)T * qd) < 1e-5, "hd %d: long dq: %g", hd, relerr_fd(dq[1], gq, (size_t)T * qd));
    CHECK(relerr_fd(dk[1], gk, (size_t)rows * kvd) < 1e-5, "hd %d: long dk (+=): %g", hd,
          relerr_fd(dk[1], gk, (size_t)rows * kvd));
    CHECK(relerr_fd(dv[1], gv, (size_t)rows * kvd) < 1e-5, "hd %d: long dv (+=): %g", hd,
          relerr_fd(dv[1], gv, (size_t)rows * kvd));
    CHECK(!memcmp(dq[0], dq[1], (size_t)T * qd * 4) && !memcmp(dk[0], dk[1], (size_t)rows * kvd * 4) &&
              !memcmp(dv[0], dv[1], (size_t)rows * kvd * 4),
          "hd %d: the backward on 1 thread differs from 2 threads", hd);
    for (int th = 0; th < 2; th++) free(dq[th]), free(dk[th]), free(dv[th]);
    free(q), free(k), free(v), free(dy), free(dk0), free(dv0), free(out), free(lse), free(gq), free(gk), free(gv);
    free(c.q), free(c.k), free(c.v), free(c.dy);
}

// ---------------------------------------------------------------- swiglu
typedef struct { int n; double *g, *u, *dy; } SwCtx;
static double sw_loss(void *p) {
    SwCtx *c = p;
    double l = 0;
    for (int i = 0; i < c->n; i++) l += c->g[i] / (1 + exp(-c->g[i])) * c->u[i] * c->dy[i];
    return l;
}
static void test_swiglu(void) {
    int n = 37;
    float *g = randf(n, 4), *u = randf(n, 2), *dy = randf(n, 1), *y = malloc(n * 4), *dg = malloc(n * 4), *du = malloc(n * 4);
    SwCtx c = {n, tod(g, n), tod(u, n), tod(dy, n)};
    CHECK(B->swiglu_forward(B, y, g, u, n) == 0, "%s", grpo_errmsg());
    double worst = 0;
    for (int i = 0; i < n; i++) {
        double r = c.g[i] / (1 + exp(-c.g[i])) * c.u[i];
        if (fabs(r - y[i]) > worst) worst = fabs(r - y[i]);
    }
    CHECK(worst < 1e-5, "swiglu forward: %g", worst);
    CHECK(B->swiglu_backward(B, dg, du, dy, g, u, n) == 0, "%s", grpo_errmsg());
    double *fg = fd_grad(sw_loss, &c, c.g, n), *fu = fd_grad(sw_loss, &c, c.u, n);
    CHECK(relerr_fd(dg, fg, n) < 1e-4, "swiglu dgate: %g", relerr_fd(dg, fg, n));
    CHECK(relerr_fd(du, fu, n) < 1e-4, "swiglu dup: %g", relerr_fd(du, fu, n));
    free(g), free(u), free(dy), free(y), free(dg), free(du), free(fg), free(fu), free(c.g), free(c.u), free(c.dy);
}

// ---------------------------------------------------------------- logprob
typedef struct { int T, V; double *x, *w; const int32_t *tg; double it; } LpCtx;
static void lp_ref(double *lp, double *ent, const LpCtx *c) {
    for (int t = 0; t < c->T; t++) {
        double m = -1e300, s = 0, ws = 0;
        for (int j = 0; j < c->V; j++) m = fmax(m, c->x[t * c->V + j] * c->it);
        for (int j = 0; j < c->V; j++) s += exp(c->x[t * c->V + j] * c->it - m);
        double lse = m + log(s);
        for (int j = 0; j < c->V; j++) {
            double z = c->x[t * c->V + j] * c->it - lse;
            ws += exp(z) * z;
        }
        lp[t] = c->tg[t] >= 0 ? c->x[t * c->V + c->tg[t]] * c->it - lse : 0;
        ent[t] = -ws;
    }
}
static double lp_loss(void *p) {
    LpCtx *c = p;
    double lp[16], ent[16], l = 0;
    lp_ref(lp, ent, c);
    for (int t = 0; t < c->T; t++) l += lp[t] * c->w[t];
    return l;
}
static void test_logprob(void) {
    int T = 5, V = 23;
    int32_t tg[5] = {3, 0, -1, 22, 7};
    float *x = randf(T * V, 3), *w = randf(T, 1), lp[5], ent[5], lse[5];
    LpCtx c = {T, V, tod(x, T * V), tod(w, T), tg, 1.0 / 0.7};
    double rl[5], re[5];
    lp_ref(rl, re, &c);
    CHECK(B->logprob_forward(B, lp, ent, lse, x, tg, T, V, 1.0f / 0.7f) == 0, "%s", grpo_errmsg());
    CHECK(relerr_fd(lp, rl, T) < 1e-5, "logprob forward: %g", relerr_fd(lp, rl, T));
    CHECK(relerr_fd(ent, re, T) < 1e-5, "entropy forward: %g", relerr_fd(ent, re, T));
    CHECK(lp[2] == 0.0f, "a row without a target must give 0, got %g", lp[2]);
    float *dx = malloc(T * V * 4);
    memcpy(dx, x, T * V * 4); // backward may run in place over the logits
    CHECK(B->logprob_backward(B, dx, w, dx, tg, lse, T, V, 1.0f / 0.7f) == 0, "%s", grpo_errmsg());
    double *g = fd_grad(lp_loss, &c, c.x, T * V);
    CHECK(relerr_fd(dx, g, T * V) < 1e-4, "logprob backward: %g", relerr_fd(dx, g, T * V));
    int32_t badtg[5] = {3, 0, -1, 23, 7};
    CHECK(B->logprob_forward(B, lp, ent, lse, x, badtg, T, V, 1.0f) != 0, "target past the vocabulary accepted");
    free(x), free(w), free(dx), free(g), free(c.x), free(c.w);
}

// ---------------------------------------------------------------- embedding, bias, add, scatter
static void test_small_ops(void) {
    int T = 6, C = 70, V = 5;
    int32_t ids[6] = {1, 4, 1, 0, 1, 3};
    float *wte = randf(V * C, 1), *out = malloc(T * C * 4), *dy = randf(T * C, 1), *dw = calloc(V * C, 4);
    CHECK(B->embedding_forward(B, out, ids, wte, T, C, V) == 0, "%s", grpo_errmsg());
    CHECK(!memcmp(out + 2 * C, wte + 1 * C, C * 4) && !memcmp(out + 5 * C, wte + 3 * C, C * 4), "embedding rows");
    CHECK(B->embedding_backward(B, dw, dy, ids, T, C, V) == 0, "%s", grpo_errmsg());
    double worst = 0;
    for (int c = 0; c < C; c++) {
        double r = (double)dy[0 * C + c] + dy[2 * C + c] + dy[4 * C + c];
        worst = fmax(worst, fabs(r - dw[1 * C + c]));
        worst = fmax(worst, fabs(dw[2 * C + c])); // token 2 never appears
    }
    CHECK(worst < 1e-6, "embedding backward: %g", worst);
    int32_t bad[6] = {1, 5, 0, 0, 0, 0};
    CHECK(B->embedding_forward(B, out, bad, wte, T, C, V) != 0, "id past the vocabulary accepted");

    float *bias = randf(C, 1), *db = calloc(C, 4), *y = malloc(T * C * 4);
    memcpy(y, dy, T * C * 4);
    CHECK(B->bias_forward(B, y, bias, T, C) == 0, "%s", grpo_errmsg());
    CHECK(B->bias_backward(B, db, dy, T, C) == 0, "%s", grpo_errmsg());
    worst = 0;
    for (int c = 0; c < C; c++) {
        double s = 0;
        for (int t = 0; t < T; t++) {
            s += dy[t * C + c];
            worst = fmax(worst, fabs(y[t * C + c] - (dy[t * C + c] + bias[c])));
        }
        worst = fmax(worst, fabs(db[c] - s));
    }
    CHECK(worst < 1e-5, "bias forward/backward: %g", worst);
    CHECK(B->add(B, y, y, dy, T * C) == 0, "%s", grpo_errmsg());
    CHECK(fabsf(y[7] - (2 * dy[7] + bias[7])) < 1e-6, "add");
    int32_t rows[2] = {4, 1};
    float dst[6 * 3] = {0}, src[6] = {1, 2, 3, 4, 5, 6};
    CHECK(B->scatter_rows(B, dst, src, rows, 2, 3) == 0, "%s", grpo_errmsg());
    CHECK(dst[12] == 1 && dst[14] == 3 && dst[3] == 4 && dst[5] == 6 && dst[0] == 0, "scatter_rows");
    free(wte), free(out), free(dy), free(dw), free(bias), free(db), free(y);
}

int main(void) {
    if (backend_open("cpu", &B)) return tu_finish("test_model_ops");
    test_rmsnorm();
    test_rope();
    test_attention();
    test_attention_blocks(32);
    test_attention_blocks(20);
    test_swiglu();
    test_logprob();
    test_small_ops();
    backend_close(B);
    return tu_finish("test_model_ops");
}
