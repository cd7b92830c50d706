// The CPU matmul against a naive float64 loop: random shapes including sizes
// that are not multiples of 8, every transpose combination, alpha and accumulate.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "testlib.h"

// out (M,N) = alpha * op(a) @ op(b) (+ out), in float64.
static void naive(double *out, const float *a, const float *b, int M, int N, int K,
                  int ta, int tb, float alpha, int acc, const float *init) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++) {
                double av = ta ? a[(size_t)k * M + i] : a[(size_t)i * K + k];
                double bv = tb ? b[(size_t)j * K + k] : b[(size_t)k * N + j];
                s += av * bv;
            }
            out[(size_t)i * N + j] = alpha * s + (acc ? init[(size_t)i * N + j] : 0.0);
        }
}

int main(void) {
    Backend *b = NULL;
    CHECK(backend_open("cpu", &b) == GRPO_OK, "%s", grpo_errmsg());
    if (!b) return tu_finish("test_matmul_cpu");
    uint64_t rng = 42;
    const int shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {8, 8, 8}, {17, 9, 33}, {64, 1, 13},
                             {1, 100, 3}, {31, 47, 129}, {128, 96, 72}, {5, 0, 4}, {4, 6, 0}};
    const int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
    for (int s = 0; s < nshapes; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        for (int mode = 0; mode < 16; mode++) {
            int ta = mode & 1, tb = (mode >> 1) & 1, acc = (mode >> 2) & 1;
            float alpha = (mode >> 3) ? 0.37f : 1.0f;
            size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
            float *a = malloc((na + 1) * 4), *bm = malloc((nb + 1) * 4), *c = malloc((nc + 1) * 4), *init = malloc((nc + 1) * 4);
            double *ref = malloc((nc + 1) * 8);
            for (size_t i = 0; i < na; i++) a[i] = tu_rand_uniform(&rng);
            for (size_t i = 0; i < nb; i++) bm[i] = tu_rand_uniform(&rng);
            for (size_t i = 0; i < nc; i++) init[i] = c[i] = tu_rand_uniform(&rng);
            naive(ref, a, bm, M, N, K, ta, tb, alpha, acc, init);
            int st = b->matmul(b, c, BE_F32, a, bm, M, N, K, ta, tb, alpha, acc);
            CHECK(st == GRPO_OK, "%s", grpo_errmsg());
            double worst = 0;
            for (size_t i = 0; i < nc; i++) {
                double err = fabs(c[i] - ref[i]) / (1.0 + fabs(ref[i]));
                if (err > worst) worst = err;
            }
            CHECK(worst < 1e-5, "M=%d N=%d K=%d ta=%d tb=%d acc=%d alpha=%g: max rel err %g",
                  M, N, K, ta, tb, acc, alpha, worst);
            free(a), free(bm), free(c), free(init), free(ref);
        }
    }
    // Bad sizes are an error, not a crash.
    float x = 0;
    CHECK(b->matmul(b, &x, BE_F32, &x, &x, -1, 1, 1, 0, 0, 1.0f, 0) == GRPO_EINVAL, "negative M accepted");
    backend_close(b);
    return tu_finish("test_matmul_cpu");
}
