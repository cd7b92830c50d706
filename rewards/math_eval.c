// Comparing two scalar answers: exact GMP rationals where both values are
// rational, numeric evaluation (real, or complex when i appears) at random
// points otherwise -- polynomials, radicals, pi, e, trig.
#include <complex.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rewards/math_internal.h"

#define NPOINTS 5
#define SYM_TOL 1e-9   // for values nobody rounded: numeric noise only

static int q_fits(const mpq_t q) {
    return (long)(mpz_sizeinbase(mpq_numref(q), 2) + mpz_sizeinbase(mpq_denref(q), 2)) <= MX_MAX_BITS;
}

// Exact k-th root of an integer (of a negative one only for odd k); 1 when exact.
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
    if (ev == LONG_MIN) return 0; // -ev would overflow
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
    if (!n || depth > MX_EVAL_DEPTH || mx_clock_up(c->clock)) return 0;
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
    if (!n || depth > MX_EVAL_DEPTH || mx_clock_up(c->clock)) return 0;
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
    if (!n || depth > MX_EVAL_DEPTH || mx_clock_up(c->clock)) return 0;
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
    if (!n || depth > MX_EVAL_DEPTH) return 0;
    if (n->k == MX_SYM && strcmp(n->name, "i") == 0) return 1;
    for (int i = 0; i < n->n; i++)
        if (has_i(n->kids[i], depth + 1)) return 1;
    return 0;
}

static int has_kind(const MxNode *n, MxKind k, int depth) {
    if (!n || depth > MX_EVAL_DEPTH) return 0;
    if (n->k == k) return 1;
    for (int i = 0; i < n->n; i++)
        if (has_kind(n->kids[i], k, depth + 1)) return 1;
    return 0;
}
static int has_decimal(const MxNode *n, int depth) {
    if (!n || depth > MX_EVAL_DEPTH) return 0;
    if (n->k == MX_NUM && n->decimal) return 1;
    for (int i = 0; i < n->n; i++)
        if (has_decimal(n->kids[i], depth + 1)) return 1;
    return 0;
}

static int close_enough(double a, double b, double tol) {
    if (isinf(a) || isinf(b)) return a == b;
    return fabs(a - b) <= tol * fmax(fabs(a), fabs(b)) || fabs(a - b) <= 1e-12;
}

int mx_scalar_equal(MxCtx *c, const MxNode *a, const MxNode *b, const char **why) {
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
