// Element-wise comparison of a GPU result with the CPU reference, for the CUDA
// tests. The rule: element i passes when |gpu_i - cpu_i| <= atol + rtol * |cpu_i|
// (NaN never passes). A failure names the tensor, how many elements failed, the
// worst one (largest error relative to its allowance) with both values, and the
// maximum absolute and relative errors, so a broken kernel is found at once.
#ifndef GRPO_TU_COMPARE_H
#define GRPO_TU_COMPARE_H

#include <math.h>
#include <stddef.h>
#include <stdio.h>

#include "testlib.h"

// Returns 1 when every element passes; prints a one-line margin report either way
// when verbose (tests print it so a GPU run shows how close each op came).
// extra (n) or NULL: a further allowance per element, for a kernel whose
// stated error bound depends on the data (see its test).
static inline int tu_compare_ex(const char *what, const float *gpu, const float *cpu, const float *extra, size_t n,
                                double atol, double rtol, int verbose) {
    size_t bad = 0, worst = 0;
    double worst_ratio = -1, max_abs = 0, max_rel = 0;
    for (size_t i = 0; i < n; i++) {
        double a = fabs((double)gpu[i] - (double)cpu[i]);
        double lim = atol + rtol * fabs((double)cpu[i]) + (extra ? (double)extra[i] : 0.0);
        int ok = a <= lim; // false for NaN
        if (!ok) bad++;
        double ratio = isnan(a) ? INFINITY : lim > 0 ? a / lim : (a > 0 ? INFINITY : 0);
        if (ratio > worst_ratio) worst_ratio = ratio, worst = i;
        if (!isnan(a) && a > max_abs) max_abs = a;
        double rel = fabs((double)cpu[i]) > 1e-30 ? a / fabs((double)cpu[i]) : (a > 0 ? INFINITY : 0);
        if (!isnan(rel) && rel > max_rel) max_rel = rel;
    }
    CHECK(bad == 0,
          "%s: %zu of %zu elements outside |gpu-cpu| <= %g + %g*|cpu|%s; worst [%zu]: gpu %.9g cpu %.9g; "
          "max abs err %.3g, max rel err %.3g",
          what, bad, n, atol, rtol, extra ? " + bound" : "", n ? worst : 0, n ? (double)gpu[worst] : 0.0, n ? (double)cpu[worst] : 0.0, max_abs,
          max_rel);
    if (verbose)
        printf("%-4s %-64s n=%-8zu max abs %.2e  max rel %.2e  worst [%zu]\n", bad ? "BAD" : "ok", what, n, max_abs,
               max_rel, n ? worst : 0);
    return bad == 0;
}
static inline int tu_compare(const char *what, const float *gpu, const float *cpu, size_t n, double atol, double rtol,
                             int verbose) {
    return tu_compare_ex(what, gpu, cpu, NULL, n, atol, rtol, verbose);
}

// ||a - b|| / ||b|| over n elements (L2), the absolute L2 error when b is zero:
// a whole-tensor error that a wrong element, stride or sign pushes toward 1.
static inline double tu_rel_l2(const float *a, const float *b, size_t n) {
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]), r += (double)b[i] * b[i];
    return r > 0 ? sqrt(d / r) : sqrt(d);
}

#endif
