// Deciding whether two parsed answers are the same: exact GMP rationals where
// both values are rational, numeric evaluation at random points otherwise
// (polynomials, radicals, pi, e), and structural rules for tuples, sets,
// intervals, inequalities, assignments and matrices.
#include <complex.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rewards/math_internal.h"

#define EVAL_DEPTH 600
#define NPOINTS 5
#define SYM_TOL 1e-9   // for values nobody rounded: numeric noise only

static int q_fits(const mpq_t q) {
    return (long)(mpz_sizeinbase(mpq_numref(q), 2) + mpz_sizeinbase(mpq_denref(q), 2)) <= MX_MAX_BITS;
}

// Exact root of a non-negative integer; 1 when exact.
static int z_root(mpz_t out, const mpz_t x, unsigned long k) {
    if (mpz_sgn(x) < 0) {
        if (k % 2 == 0) return 0;
        mpz_t t;
        mpz_init(t);
        mpz_neg(t, x);
        int ok = mpz_root(out, t, k);
        mpz_neg(out, out);
        mpz_clear(t);
        return ok;
    }
    return mpz_root(out, x, k);
}

static int q_root(mpq_t out, const mpq_t x, unsigned long k) {
    mpz_t a, b;
    mpz_inits(a, b, NULL);
    int ok = z_root(a, mpq_numref(x), k) && z_root(b, mpq_denref(x), k);
    if (ok) {
        mpq_set_num(out, a);
        mpq_set_den(out, b);
        mpq_canonicalize(out);
    }
    mpz_clears(a, b, NULL);
    return ok;
}

// x^e for an integer e, refusing results over the size cap before computing them.
static int q_pow_int(mpq_t out, const mpq_t x, const mpz_t e) {
    if (!mpz_fits_slong_p(e)) return 0;
    long ev = mpz_get_si(e);
    if (mpq_sgn(x) == 0) {
        if (ev < 0) return 0;
        mpq_set_ui(out, ev == 0 ? 1 : 0, 1);
        return 1;
    }
    unsigned long ae = (unsigned long)(ev < 0 ? -ev : ev);
    size_t bits = mpz_sizeinbase(mpq_numref(x), 2) + mpz_sizeinbase(mpq_denref(x), 2);
    int unit = mpz_cmpabs_ui(mpq_numref(x), 1) == 0 && mpz_cmp_ui(mpq_denref(x), 1) == 0;
    if (unit) { // +-1
        mpq_set_si(out, (mpq_sgn(x) < 0 && ae % 2) ? -1 : 1, 1);
        return 1;
    }
    if (ae > (unsigned long)MX_MAX_BITS || (double)bits * (double)ae > (double)MX_MAX_BITS) return 0;
    mpz_t a, b;
    mpz_inits(a, b, NULL);
    mpz_pow_ui(a, mpq_numref(x), ae);
    mpz_pow_ui(b, mpq_denref(x), ae);
    if (ev < 0) mpz_swap(a, b);
    if (mpz_sgn(b) < 0) { mpz_neg(a, a); mpz_neg(b, b); }
    mpq_set_num(out, a);
    mpq_set_den(out, b);
    mpq_canonicalize(out);
    mpz_clears(a, b, NULL);
    return 1;
}

// 1 and out set when n is a rational number we can compute exactly.
static int ex(MxCtx *c, const MxNode *n, mpq_t out, int depth) {
    if (!n || depth > EVAL_DEPTH || mx_clock_up(c->clock)) return 0;
    mpq_t a, b;
    int ok = 0;
    switch (n->k) {
    case MX_NUM: mpq_set(out, n->q); return 1;
    case MX_NEG:
        if (!ex(c, n->kids[0], out, depth + 1)) return 0;
        mpq_neg(out, out);
        return 1;
    case MX_ABS:
        if (!ex(c, n->kids[0], out, depth + 1)) return 0;
        mpq_abs(out, out);
        return 1;
    case MX_ADD: case MX_SUB: case MX_MUL: case MX_DIV: case MX_POW: case MX_ROOT:
        mpq_inits(a, b, NULL);
        if (ex(c, n->kids[0], a, depth + 1) && ex(c, n->kids[1], b, depth + 1)) {
            ok = 1;
            switch (n->k) {
            case MX_ADD: mpq_add(out, a, b); break;
            case MX_SUB: mpq_sub(out, a, b); break;
            case MX_MUL: mpq_mul(out, a, b); break;
            case MX_DIV:
                if (mpq_sgn(b) == 0) ok = 0;
                else mpq_div(out, a, b);
                break;
            case MX_POW:
                if (mpz_cmp_ui(mpq_denref(b), 1) == 0) ok = q_pow_int(out, a, mpq_numref(b));
                else if (mpz_cmp_ui(mpq_denref(b), 64) <= 0) { // x^(p/q) when x is a perfect q-th power
                    ok = (mpq_sgn(a) >= 0 || mpz_odd_p(mpq_denref(b))) && q_root(a, a, mpz_get_ui(mpq_denref(b))) &&
                         q_pow_int(out, a, mpq_numref(b));
                } else ok = 0;
                break;
            default: // MX_ROOT: kids = radicand, index
                ok = mpz_cmp_ui(mpq_denref(b), 1) == 0 && mpz_cmp_ui(mpq_numref(b), 1) >= 0 &&
                     mpz_cmp_ui(mpq_numref(b), 64) <= 0 && q_root(out, a, mpz_get_ui(mpq_numref(b)));
            }
            if (ok && !q_fits(out)) ok = 0;
        }
        mpq_clears(a, b, NULL);
        return ok;
    case MX_FACT:
        mpq_init(a);
        if (ex(c, n->kids[0], a, depth + 1) && mpz_cmp_ui(mpq_denref(a), 1) == 0 && mpq_sgn(a) >= 0 &&
            mpz_cmp_ui(mpq_numref(a), 2000) <= 0) {
            mpz_t f;
            mpz_init(f);
            mpz_fac_ui(f, mpz_get_ui(mpq_numref(a)));
            mpq_set_z(out, f);
            mpz_clear(f);
            ok = 1;
        }
        mpq_clear(a);
        return ok;
    case MX_FUNC:
        if (strcmp(n->name, "sqrt") == 0) {
            mpq_init(a);
            ok = ex(c, n->kids[0], a, depth + 1) && mpq_sgn(a) >= 0 && q_root(out, a, 2);
            mpq_clear(a);
            return ok;
        }
        if (strcmp(n->name, "floor") == 0 || strcmp(n->name, "ceil") == 0) {
            mpq_init(a);
            if ((ok = ex(c, n->kids[0], a, depth + 1))) {
                mpz_t z;
                mpz_init(z);
                if (n->name[0] == 'f') mpz_fdiv_q(z, mpq_numref(a), mpq_denref(a));
                else mpz_cdiv_q(z, mpq_numref(a), mpq_denref(a));
                mpq_set_z(out, z);
                mpz_clear(z);
            }
            mpq_clear(a);
            return ok;
        }
        if (strcmp(n->name, "binom") == 0 && n->n == 2) {
            mpq_inits(a, b, NULL);
            if (ex(c, n->kids[0], a, depth + 1) && ex(c, n->kids[1], b, depth + 1) &&
                mpz_cmp_ui(mpq_denref(a), 1) == 0 && mpz_cmp_ui(mpq_denref(b), 1) == 0 && mpq_sgn(a) >= 0 &&
                mpq_sgn(b) >= 0 && mpz_cmp_ui(mpq_numref(a), 100000) <= 0 && mpz_cmp_ui(mpq_numref(b), 5000) <= 0) {
                mpz_t r;
                mpz_init(r);
                mpz_bin_uiui(r, mpz_get_ui(mpq_numref(a)), mpz_get_ui(mpq_numref(b)));
                mpq_set_z(out, r);
                mpz_clear(r);
                ok = q_fits(out);
            }
            mpq_clears(a, b, NULL);
            return ok;
        }
        return 0;
    default: return 0;
    }
}

static uint64_t mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// The value a variable takes at evaluation point `pt`: same name, same value on both sides.
static double var_value(const char *name, int pt) {
    uint64_t h = 1469598103934665603ULL;
    for (const char *s = name; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    uint64_t r = mix64(h ^ mix64((uint64_t)pt + 1));
    return 0.35 + 2.3 * (double)(r >> 11) / 9007199254740992.0;
}

// Numeric value of n at point pt; 0 when n is not a number (a tuple, text...).
static int dv(MxCtx *c, const MxNode *n, int pt, double *out, int depth) {
    if (!n || depth > EVAL_DEPTH || mx_clock_up(c->clock)) return 0;
    double a = 0, b = 0;
    switch (n->k) {
    case MX_NUM: *out = mpq_get_d(n->q); return 1;
    case MX_SYM: *out = var_value(n->name, pt); return 1;
    case MX_PI: *out = M_PI; return 1;
    case MX_E: *out = M_E; return 1;
    case MX_INF: *out = INFINITY; return 1;
    case MX_NEG: if (!dv(c, n->kids[0], pt, &a, depth + 1)) return 0; *out = -a; return 1;
    case MX_ABS: if (!dv(c, n->kids[0], pt, &a, depth + 1)) return 0; *out = fabs(a); return 1;
    case MX_FACT: if (!dv(c, n->kids[0], pt, &a, depth + 1)) return 0; *out = tgamma(a + 1); return 1;
    case MX_ADD: case MX_SUB: case MX_MUL: case MX_DIV: case MX_POW: case MX_ROOT:
        if (!dv(c, n->kids[0], pt, &a, depth + 1) || !dv(c, n->kids[1], pt, &b, depth + 1)) return 0;
        switch (n->k) {
        case MX_ADD: *out = a + b; break;
        case MX_SUB: *out = a - b; break;
        case MX_MUL: *out = a * b; break;
        case MX_DIV: *out = a / b; break;
        case MX_POW: *out = pow(a, b); break;
        default:
            if (a < 0 && fmod(b, 2) == 1) *out = -pow(-a, 1 / b);
            else *out = pow(a, 1 / b);
        }
        return 1;
    case MX_FUNC: {
        if (!dv(c, n->kids[0], pt, &a, depth + 1)) return 0;
        const char *f = n->name;
        if (n->n == 2 && !dv(c, n->kids[1], pt, &b, depth + 1)) return 0;
        if (!strcmp(f, "sqrt")) *out = sqrt(a);
        else if (!strcmp(f, "binom")) *out = round(exp(lgamma(a + 1) - lgamma(b + 1) - lgamma(a - b + 1)));
        else if (!strcmp(f, "sin")) *out = sin(a);
        else if (!strcmp(f, "cos")) *out = cos(a);
        else if (!strcmp(f, "tan")) *out = tan(a);
        else if (!strcmp(f, "sec")) *out = 1 / cos(a);
        else if (!strcmp(f, "csc")) *out = 1 / sin(a);
        else if (!strcmp(f, "cot")) *out = 1 / tan(a);
        else if (!strcmp(f, "arcsin")) *out = asin(a);
        else if (!strcmp(f, "arccos")) *out = acos(a);
        else if (!strcmp(f, "arctan")) *out = atan(a);
        else if (!strcmp(f, "sinh")) *out = sinh(a);
        else if (!strcmp(f, "cosh")) *out = cosh(a);
        else if (!strcmp(f, "tanh")) *out = tanh(a);
        else if (!strcmp(f, "exp")) *out = exp(a);
        else if (!strcmp(f, "floor")) *out = floor(a);
        else if (!strcmp(f, "ceil")) *out = ceil(a);
        else if (!strcmp(f, "ln")) *out = log(a);
        else if (!strcmp(f, "lg")) *out = log10(a);
        else if (!strcmp(f, "log")) *out = n->n == 2 ? log(a) / log(b) : log(a);
        else return 0;
        return 1;
    }
    default: return 0;
    }
}

// Complex value of n at point pt, for answers with the imaginary unit i.
static int dvc(MxCtx *c, const MxNode *n, int pt, double complex *out, int depth) {
    if (!n || depth > EVAL_DEPTH || mx_clock_up(c->clock)) return 0;
    double complex a = 0, b = 0;
    switch (n->k) {
    case MX_NUM: *out = mpq_get_d(n->q); return 1;
    case MX_SYM: *out = strcmp(n->name, "i") == 0 ? I : var_value(n->name, pt); return 1;
    case MX_PI: *out = M_PI; return 1;
    case MX_E: *out = M_E; return 1;
    case MX_NEG: // + 0.0 turns a -0 imaginary part into +0: csqrt(-4) is 2i, not -2i
        if (!dvc(c, n->kids[0], pt, &a, depth + 1)) return 0;
        *out = CMPLX(-creal(a), -cimag(a) + 0.0);
        return 1;
    case MX_ABS: if (!dvc(c, n->kids[0], pt, &a, depth + 1)) return 0; *out = cabs(a); return 1;
    case MX_ADD: case MX_SUB: case MX_MUL: case MX_DIV: case MX_POW: case MX_ROOT:
        if (!dvc(c, n->kids[0], pt, &a, depth + 1) || !dvc(c, n->kids[1], pt, &b, depth + 1)) return 0;
        switch (n->k) {
        case MX_ADD: *out = a + b; break;
        case MX_SUB: *out = a - b; break;
        case MX_MUL: *out = a * b; break;
        case MX_DIV: *out = a / b; break;
        case MX_POW: // integer powers exactly by repeated products (cpow is inexact for i^2)
            if (cimag(b) == 0 && creal(b) == floor(creal(b)) && fabs(creal(b)) <= 64) {
                double complex r = 1;
                for (int k = 0; k < (int)fabs(creal(b)); k++) r *= a;
                *out = creal(b) < 0 ? 1 / r : r;
            } else *out = cpow(a, b);
            break;
        default: *out = cpow(a, 1 / b);
        }
        return 1;
    case MX_FUNC: {
        if (!dvc(c, n->kids[0], pt, &a, depth + 1)) return 0;
        const char *f = n->name;
        if (n->n == 2 && !dvc(c, n->kids[1], pt, &b, depth + 1)) return 0;
        if (!strcmp(f, "sqrt")) *out = csqrt(a);
        else if (!strcmp(f, "sin")) *out = csin(a);
        else if (!strcmp(f, "cos")) *out = ccos(a);
        else if (!strcmp(f, "tan")) *out = ctan(a);
        else if (!strcmp(f, "exp")) *out = cexp(a);
        else if (!strcmp(f, "ln")) *out = clog(a);
        else if (!strcmp(f, "log")) *out = n->n == 2 ? clog(a) / clog(b) : clog(a);
        else return 0;
        return 1;
    }
    default: return 0;
    }
}

static int has_i(const MxNode *n, int depth) {
    if (!n || depth > EVAL_DEPTH) return 0;
    if (n->k == MX_SYM && strcmp(n->name, "i") == 0) return 1;
    for (int i = 0; i < n->n; i++)
        if (has_i(n->kids[i], depth + 1)) return 1;
    return 0;
}

static int has_kind(const MxNode *n, MxKind k, int depth) {
    if (!n || depth > EVAL_DEPTH) return 0;
    if (n->k == k) return 1;
    for (int i = 0; i < n->n; i++)
        if (has_kind(n->kids[i], k, depth + 1)) return 1;
    return 0;
}
static int has_decimal(const MxNode *n, int depth) {
    if (!n || depth > EVAL_DEPTH) return 0;
    if (n->k == MX_NUM && n->decimal) return 1;
    for (int i = 0; i < n->n; i++)
        if (has_decimal(n->kids[i], depth + 1)) return 1;
    return 0;
}

static int close_enough(double a, double b, double tol) {
    if (isinf(a) || isinf(b)) return a == b;
    return fabs(a - b) <= tol * fmax(fabs(a), fabs(b)) || fabs(a - b) <= 1e-12;
}

typedef struct { MxCtx *c; MxArena *arena; char buf[80]; } Eq;

// 1 equal, 0 different, -1 cannot tell (not numbers we can evaluate).
static int scalar_equal(Eq *e, const MxNode *a, const MxNode *b, const char **why) {
    MxCtx *c = e->c;
    int da = has_decimal(a, 0), db = has_decimal(b, 0);
    mpq_t qa, qb;
    mpq_inits(qa, qb, NULL);
    int ea = ex(c, a, qa, 0), eb = ex(c, b, qb, 0);
    int r = -2;
    if (ea && eb) {
        if (mpq_equal(qa, qb)) r = 1;
        else {
            // a decimal the model rounded meets a value with no finite decimal expansion
            int ta = 1, tb = 1;
            for (int k = 0; k < 2; k++) {
                mpz_t d;
                mpz_init_set(d, mpq_denref(k ? qb : qa));
                while (mpz_divisible_ui_p(d, 2)) mpz_divexact_ui(d, d, 2);
                while (mpz_divisible_ui_p(d, 5)) mpz_divexact_ui(d, d, 5);
                if (k) tb = mpz_cmp_ui(d, 1) == 0; else ta = mpz_cmp_ui(d, 1) == 0;
                mpz_clear(d);
            }
            if ((da && !tb) || (db && !ta)) r = close_enough(mpq_get_d(qa), mpq_get_d(qb), c->rel_tol) ? 1 : 0;
            else r = 0;
        }
        *why = r ? "equal" : "values differ";
    }
    mpq_clears(qa, qb, NULL);
    if (r != -2) return r;
    double tol = (da || db) ? fmax(c->rel_tol, SYM_TOL) : SYM_TOL;
    int vars = has_kind(a, MX_SYM, 0) || has_kind(b, MX_SYM, 0);
    if (has_i(a, 0) || has_i(b, 0)) { // complex numbers: i^2 = -1
        for (int pt = 0; pt < NPOINTS; pt++) {
            double complex x, y;
            if (!dvc(c, a, pt, &x, 0) || !dvc(c, b, pt, &y, 0)) {
                if (mx_clock_up(c->clock)) c->timed_out = 1;
                *why = "cannot evaluate";
                return -1;
            }
            if (isnan(creal(x)) || isnan(cimag(x)) || isnan(creal(y)) || isnan(cimag(y)) || isinf(creal(x)) ||
                isinf(cimag(x)) || isinf(creal(y)) || isinf(cimag(y))) {
                *why = "cannot evaluate";
                return -1;
            }
            if (cabs(x - y) > tol * fmax(cabs(x), cabs(y)) && cabs(x - y) > 1e-12) {
                *why = "values differ";
                return 0;
            }
        }
        *why = "equal";
        return 1;
    }
    int good = 0;
    for (int pt = 0; pt < (vars ? NPOINTS : 1); pt++) {
        double x, y;
        if (!dv(c, a, pt, &x, 0) || !dv(c, b, pt, &y, 0)) {
            if (mx_clock_up(c->clock)) c->timed_out = 1;
            *why = "cannot evaluate";
            return -1;
        }
        if (isnan(x) && isnan(y)) continue;
        // an overflow is no value: 2^{10^{10}} and 2^{10^{10}}+1 both give inf
        if (isinf(x) && isinf(y) && !has_kind(a, MX_INF, 0) && !has_kind(b, MX_INF, 0)) {
            *why = "cannot evaluate (too large)";
            return -1;
        }
        if (isnan(x) || isnan(y) || !close_enough(x, y, tol)) {
            *why = "values differ";
            return 0;
        }
        good++;
    }
    if (!good) { *why = "cannot evaluate"; return -1; }
    *why = "equal";
    return 1;
}

// ------------------------------------------------------------------ structure
static int eq(Eq *e, MxNode *a, MxNode *b, const char **why, int depth);

// y = ..., f(x) = ...: a name on the left of one =
static int is_assign(const MxNode *n) {
    if (n->k != MX_REL || n->n != 2 || n->ops[0] != MX_EQ) return 0;
    const MxNode *l = n->kids[0];
    if (l->k == MX_TUPLE) { // (a, b) = (1, 2)
        for (int i = 0; i < l->n; i++)
            if (l->kids[i]->k != MX_SYM) return 0;
        return 1;
    }
    return l->k == MX_SYM || (l->k == MX_MUL && l->kids[0]->k == MX_SYM && l->kids[1]->k == MX_SYM);
}
static int is_ineq(const MxNode *n) {
    if (n->k != MX_REL) return 0;
    if (n->n == 2 && n->ops[0] == MX_NE) return 1; // handled by intervals()
    for (int i = 0; i < n->n - 1; i++)
        if (n->ops[i] == MX_EQ || n->ops[i] == MX_NE || n->ops[i] == MX_IN) return 0;
    return 1;
}
static int is_collection(const MxNode *n) {
    return n->k == MX_LIST || n->k == MX_SET || n->k == MX_TUPLE || n->k == MX_UNION || n->k == MX_MATRIX;
}

static MxNode *mk_inf(Eq *e, int neg) {
    MxNode *i = mx_new(e->arena, MX_INF, 0);
    if (!i || !neg) return i;
    MxNode *n = mx_new(e->arena, MX_NEG, 1);
    if (n) n->kids[0] = i;
    return n;
}
static MxNode *mk_interval(Eq *e, MxNode *lo, MxNode *hi, char open, char close) {
    MxNode *t = mx_new(e->arena, MX_TUPLE, 2);
    if (!t || !lo || !hi) return NULL;
    t->kids[0] = lo, t->kids[1] = hi;
    t->open = open, t->close = close;
    return t;
}

// x > 3 -> (3, inf); 1 <= x < 2 -> [1, 2); NULL when n is no such inequality.
static MxNode *ineq_interval(Eq *e, MxNode *n) {
    if (!is_ineq(n) || n->ops[0] == MX_NE) return NULL;
    if (n->n == 2) {
        int op = n->ops[0];
        MxNode *v = n->kids[0], *k = n->kids[1];
        if (v->k != MX_SYM) { // 3 < x: flip
            if (k->k != MX_SYM) return NULL;
            v = n->kids[1], k = n->kids[0];
            op = op == MX_LT ? MX_GT : op == MX_GT ? MX_LT : op == MX_LE ? MX_GE : MX_LE;
        }
        if (op == MX_GT) return mk_interval(e, k, mk_inf(e, 0), '(', ')');
        if (op == MX_GE) return mk_interval(e, k, mk_inf(e, 0), '[', ')');
        if (op == MX_LT) return mk_interval(e, mk_inf(e, 1), k, '(', ')');
        return mk_interval(e, mk_inf(e, 1), k, '(', ']');
    }
    if (n->n == 3 && n->kids[1]->k == MX_SYM) {
        int o1 = n->ops[0], o2 = n->ops[1];
        int up = (o1 == MX_LT || o1 == MX_LE) && (o2 == MX_LT || o2 == MX_LE);
        int down = (o1 == MX_GT || o1 == MX_GE) && (o2 == MX_GT || o2 == MX_GE);
        if (up) return mk_interval(e, n->kids[0], n->kids[2], o1 == MX_LE ? '[' : '(', o2 == MX_LE ? ']' : ')');
        if (down) return mk_interval(e, n->kids[2], n->kids[0], o2 == MX_GE ? '[' : '(', o1 == MX_GE ? ']' : ')');
    }
    return NULL;
}

// The intervals of a union, an interval, an inequality or a list of those; -1 if not one.
static int intervals(Eq *e, MxNode *n, MxNode **out, int max) {
    if (n->k == MX_TUPLE && n->n == 2) { out[0] = n; return 1; }
    MxNode *iv = ineq_interval(e, n);
    if (iv) { out[0] = iv; return 1; }
    if (n->k == MX_UNION || n->k == MX_LIST) {
        int k = 0;
        for (int i = 0; i < n->n; i++) {
            int m = intervals(e, n->kids[i], out + k, max - k);
            if (m < 0) return -1;
            k += m;
        }
        return k;
    }
    if (n->k == MX_REL && n->n == 2 && n->ops[0] == MX_NE && max >= 2 &&
        (n->kids[0]->k == MX_SYM) != (n->kids[1]->k == MX_SYM)) { // x != c: two open rays
        MxNode *c = n->kids[0]->k == MX_SYM ? n->kids[1] : n->kids[0];
        out[0] = mk_interval(e, mk_inf(e, 1), c, '(', ')');
        out[1] = mk_interval(e, c, mk_inf(e, 0), '(', ')');
        return out[0] && out[1] ? 2 : -1;
    }
    if (n->k == MX_SET && n->n == 0) return 0; // the empty set
    return -1;
}

static int seq_equal(Eq *e, MxNode **a, MxNode **b, int n, const char **why, int depth) {
    for (int i = 0; i < n; i++) {
        if (eq(e, a[i], b[i], why, depth + 1) != 1) {
            if (**why == 'e') *why = "an element differs";
            return 0;
        }
    }
    *why = "equal";
    return 1;
}

#define MAX_UNORDERED 64
static int unordered_equal(Eq *e, MxNode **a, int na, MxNode **b, int nb, const char **why, int depth) {
    if (na != nb) { *why = "different number of elements"; return 0; }
    if (na > MAX_UNORDERED) return seq_equal(e, a, b, na, why, depth);
    char used[MAX_UNORDERED] = {0};
    for (int i = 0; i < na; i++) {
        int found = 0;
        for (int j = 0; j < nb && !found; j++) {
            const char *w;
            if (!used[j] && eq(e, a[i], b[j], &w, depth + 1) == 1) used[j] = 1, found = 1;
        }
        if (!found) { *why = "elements differ"; return 0; }
    }
    *why = "equal";
    return 1;
}

// Replaces the PM nodes of a tree by + or - as the bits of mask say.
static MxNode *pm_variant(Eq *e, MxNode *n, int *bit, int mask, int depth) {
    if (!n || n->n == 0 || depth > EVAL_DEPTH) return n;
    MxNode *c = mx_new(e->arena, n->k, n->n);
    if (!c) return NULL;
    c->open = n->open, c->close = n->close, c->rows = n->rows, c->cols = n->cols;
    if (n->name && !(c->name = strdup(n->name))) return NULL;
    if (n->ops) {
        if (!(c->ops = malloc((size_t)n->n * sizeof *c->ops))) return NULL;
        memcpy(c->ops, n->ops, (size_t)(n->n - 1) * sizeof *c->ops);
    }
    if (n->k == MX_PM) c->k = ((mask >> (*bit)++) & 1) ? MX_SUB : MX_ADD;
    for (int i = 0; i < n->n; i++)
        if (!(c->kids[i] = pm_variant(e, n->kids[i], bit, mask, depth + 1))) return NULL;
    return c;
}
static int count_pm(const MxNode *n, int depth) {
    if (!n || depth > EVAL_DEPTH) return 0;
    int k = n->k == MX_PM;
    for (int i = 0; i < n->n; i++) k += count_pm(n->kids[i], depth + 1);
    return k;
}
// a +- b -> the list {a + b, a - b}
static MxNode *expand_pm(Eq *e, MxNode *n) {
    int k = count_pm(n, 0);
    if (k == 0 || k > 3) return n;
    MxNode *l = mx_new(e->arena, MX_LIST, 1 << k);
    if (!l) return NULL;
    for (int m = 0; m < (1 << k); m++) {
        int bit = 0;
        if (!(l->kids[m] = pm_variant(e, n, &bit, m, 0))) return NULL;
    }
    return l;
}

static const char *kind_name(MxKind k) {
    switch (k) {
    case MX_LIST: return "list";
    case MX_SET: return "set";
    case MX_TUPLE: return "tuple";
    case MX_UNION: return "union";
    case MX_MATRIX: return "matrix";
    case MX_REL: return "relation";
    case MX_TEXT: return "text";
    default: return "number";
    }
}

static int eq(Eq *e, MxNode *a, MxNode *b, const char **why, int depth) {
    *why = "equal";
    if (!a || !b) { *why = "out of memory"; return 0; }
    if (depth > 50 || mx_clock_up(e->c->clock)) { *why = "too deep"; return 0; }
    // x \in S -> S
    if (a->k == MX_REL && a->n == 2 && a->ops[0] == MX_IN) a = a->kids[1];
    if (b->k == MX_REL && b->n == 2 && b->ops[0] == MX_IN) b = b->kids[1];
    // assignments: x = 6 is 6, but not y = 6
    if (is_assign(a) && is_assign(b)) {
        const char *w;
        if (eq(e, a->kids[0], b->kids[0], &w, depth + 1) != 1) { *why = "different variables"; return 0; }
        return eq(e, a->kids[1], b->kids[1], why, depth + 1);
    }
    if (is_assign(a) && b->k != MX_REL) return eq(e, a->kids[1], b, why, depth + 1);
    if (is_assign(b) && a->k != MX_REL) return eq(e, a, b->kids[1], why, depth + 1);
    // a +- b
    int pa = count_pm(a, 0), pb = count_pm(b, 0);
    if (pa || pb) {
        MxNode *xa = pa ? expand_pm(e, a) : a, *xb = pb ? expand_pm(e, b) : b;
        if (!xa || !xb || (pa && xa == a) || (pb && xb == b)) { *why = "too many \\pm"; return 0; }
        MxNode **ka = xa->k == MX_LIST || xa->k == MX_SET ? xa->kids : &xa;
        MxNode **kb = xb->k == MX_LIST || xb->k == MX_SET ? xb->kids : &xb;
        int na = ka == &xa ? 1 : xa->n, nb = kb == &xb ? 1 : xb->n;
        return unordered_equal(e, ka, na, kb, nb, why, depth);
    }
    // intervals, unions and inequalities
    int ia = a->k == MX_UNION || is_ineq(a) || (a->k == MX_LIST && a->n > 0 && is_ineq(a->kids[0]));
    int ib = b->k == MX_UNION || is_ineq(b) || (b->k == MX_LIST && b->n > 0 && is_ineq(b->kids[0]));
    if (ia || ib) {
        MxNode *va[MAX_UNORDERED], *vb[MAX_UNORDERED];
        int na = intervals(e, a, va, MAX_UNORDERED), nb = intervals(e, b, vb, MAX_UNORDERED);
        if (na >= 0 && nb >= 0) return unordered_equal(e, va, na, vb, nb, why, depth);
        if (is_ineq(a) && is_ineq(b) && a->n == b->n) { // same relation written alike
            for (int i = 0; i < a->n - 1; i++)
                if (a->ops[i] != b->ops[i]) { *why = "different relations"; return 0; }
            return seq_equal(e, a->kids, b->kids, a->n, why, depth);
        }
        *why = "different kinds (interval vs other)";
        return 0;
    }
    if (a->k == MX_REL || b->k == MX_REL) {
        if (a->k != MX_REL || b->k != MX_REL) { *why = "different kinds (relation vs value)"; return 0; }
        if (a->n == 2 && b->n == 2 && a->ops[0] == MX_EQ && b->ops[0] == MX_EQ) { // equations
            const char *w;
            if (eq(e, a->kids[0], b->kids[0], &w, depth + 1) == 1 && eq(e, a->kids[1], b->kids[1], &w, depth + 1) == 1) return 1;
            if (eq(e, a->kids[0], b->kids[1], &w, depth + 1) == 1 && eq(e, a->kids[1], b->kids[0], &w, depth + 1) == 1) return 1;
            MxNode *da = mx_new(e->arena, MX_SUB, 2), *db = mx_new(e->arena, MX_SUB, 2), *nb = mx_new(e->arena, MX_SUB, 2);
            if (!da || !db || !nb) { *why = "out of memory"; return 0; }
            da->kids[0] = a->kids[0], da->kids[1] = a->kids[1];
            db->kids[0] = b->kids[0], db->kids[1] = b->kids[1];
            nb->kids[0] = b->kids[1], nb->kids[1] = b->kids[0];
            if (scalar_equal(e, da, db, &w) == 1 || scalar_equal(e, da, nb, &w) == 1) return 1;
            *why = "different equations";
            return 0;
        }
        if (a->n != b->n) { *why = "different relations"; return 0; }
        for (int i = 0; i < a->n - 1; i++)
            if (a->ops[i] != b->ops[i]) { *why = "different relations"; return 0; }
        return seq_equal(e, a->kids, b->kids, a->n, why, depth);
    }
    if (a->k == MX_TEXT || b->k == MX_TEXT) {
        if (!((a->k == MX_TEXT || a->k == MX_SYM) && (b->k == MX_TEXT || b->k == MX_SYM))) {
            *why = "different kinds (text vs math)";
            return 0;
        }
        char ka[256], kb[256];
        mathn_textkey(a->name, ka, sizeof ka);
        mathn_textkey(b->name, kb, sizeof kb);
        if (strcmp(ka, kb) == 0 && ka[0]) return 1;
        *why = "different text";
        return 0;
    }
    if (is_collection(a) || is_collection(b)) {
        if (!is_collection(a) || !is_collection(b)) {
            snprintf(e->buf, sizeof e->buf, "different kinds (%s vs %s)", kind_name(a->k), kind_name(b->k));
            *why = e->buf;
            return 0;
        }
        MxKind ka = a->k, kb = b->k;
        if ((ka == MX_LIST || ka == MX_SET) && (kb == MX_LIST || kb == MX_SET))
            return unordered_equal(e, a->kids, a->n, b->kids, b->n, why, depth);
        if (ka == MX_TUPLE && kb == MX_TUPLE) {
            if (a->n != b->n) { *why = "different lengths"; return 0; }
            if (a->open != b->open || a->close != b->close) { *why = "different brackets (open/closed ends)"; return 0; }
            return seq_equal(e, a->kids, b->kids, a->n, why, depth);
        }
        if ((ka == MX_LIST && kb == MX_TUPLE) || (ka == MX_TUPLE && kb == MX_LIST)) {
            if (a->n != b->n) { *why = "different lengths"; return 0; }
            return seq_equal(e, a->kids, b->kids, a->n, why, depth);
        }
        if (ka == MX_MATRIX && kb == MX_MATRIX) {
            if (a->rows != b->rows || a->cols != b->cols) { *why = "different matrix shapes"; return 0; }
            return seq_equal(e, a->kids, b->kids, a->n, why, depth);
        }
        if ((ka == MX_MATRIX && (kb == MX_TUPLE || kb == MX_LIST) && (a->rows == 1 || a->cols == 1)) ||
            (kb == MX_MATRIX && (ka == MX_TUPLE || ka == MX_LIST) && (b->rows == 1 || b->cols == 1))) {
            if (a->n != b->n) { *why = "different lengths"; return 0; }
            return seq_equal(e, a->kids, b->kids, a->n, why, depth);
        }
        snprintf(e->buf, sizeof e->buf, "different kinds (%s vs %s)", kind_name(ka), kind_name(kb));
        *why = e->buf;
        return 0;
    }
    return scalar_equal(e, a, b, why);
}

int mx_equiv(MxCtx *c, MxArena *arena, MxNode *a, MxNode *b, char *why, size_t wn) {
    Eq e = {c, arena, ""};
    const char *w = "equal";
    int r = eq(&e, a, b, &w, 0);
    if (c->clock && c->clock->expired) c->timed_out = 1, r = 0, w = "time limit";
    if (why && wn) snprintf(why, wn, "%s", w);
    return r;
}
