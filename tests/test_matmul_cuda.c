// The CUDA matmul against the CPU backend on the same random inputs, every
// transpose and accumulate combination at odd sizes: in fp32 (inputs and
// output fp32, exact fp32 accumulation: no TF32), then with bf16 inputs and
// a bf16 or an fp32 output. Where no usable GPU exists the test reports itself
// skipped and says why; with GRPO_TEST_DEVICE=cpu the bf16 runs are skipped.
//
// Error measure: |gpu - cpu| / (1 + |cpu|). fp32 out: < 1e-5 (summation order
// and FMA over K <= 511 products of magnitude <= 1). bf16 inputs are rounded
// to bf16 first and the CPU gets the same values, so an fp32 output differs
// only as in fp32 (< 1e-5); a bf16 output is that value g rounded once, at
// most u |g| away (u = 2^-8, bf16's unit roundoff), so its error measure is
// below u + (1 + u) 1e-5.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "testlib.h"
#include "tu_bf16.h"

static Backend *cpu, *gpu;
static uint64_t rng = 7;

// Host floats (bf16-rounded when bf16) to a new device buffer of that type.
static void *up(const float *h, size_t n, int bf16) {
    void *d = NULL;
    size_t es = bf16 ? 2 : 4;
    CHECK(gpu->alloc(gpu, &d, n * es) == GRPO_OK, "%s", grpo_errmsg());
    if (!d) return NULL;
    if (bf16) {
        uint16_t *b = malloc(n * 2);
        for (size_t i = 0; i < n; i++) b[i] = tu_f32_to_bf16(h[i]);
        CHECK(gpu->to_device(gpu, d, b, n * 2) == GRPO_OK, "%s", grpo_errmsg());
        free(b);
    } else {
        CHECK(gpu->to_device(gpu, d, h, n * 4) == GRPO_OK, "%s", grpo_errmsg());
    }
    return d;
}

static void down(float *h, const void *d, size_t n, int bf16) {
    if (!bf16) {
        CHECK(gpu->to_host(gpu, h, d, n * 4) == GRPO_OK, "%s", grpo_errmsg());
        return;
    }
    uint16_t *b = malloc(n * 2);
    CHECK(gpu->to_host(gpu, b, d, n * 2) == GRPO_OK, "%s", grpo_errmsg());
    for (size_t i = 0; i < n; i++) h[i] = tu_bf16_to_f32(b[i]);
    free(b);
}

// One shape, every transpose/accumulate mode; in_bf16: a, b in bf16 (the
// compute dtype), out_bf16: the output too.
static void check_shape(int M, int N, int K, int in_bf16, int out_bf16) {
    const char *tag = !in_bf16 ? "fp32" : out_bf16 ? "bf16->bf16" : "bf16->fp32";
    for (int mode = 0; mode < 8; mode++) {
        int ta = mode & 1, tb = (mode >> 1) & 1, acc = (mode >> 2) & 1;
        size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
        float *a = malloc(na * 4), *bm = malloc(nb * 4), *c = malloc(nc * 4), *g = malloc(nc * 4);
        for (size_t i = 0; i < na; i++) a[i] = tu_rand_uniform(&rng);
        for (size_t i = 0; i < nb; i++) bm[i] = tu_rand_uniform(&rng);
        for (size_t i = 0; i < nc; i++) c[i] = tu_rand_uniform(&rng);
        if (in_bf16) tu_bf16_round_all(a, na), tu_bf16_round_all(bm, nb);
        if (out_bf16) tu_bf16_round_all(c, nc); // what the accumulating call reads
        void *da = up(a, na, in_bf16), *db = up(bm, nb, in_bf16), *dc = up(c, nc, out_bf16);
        BackendDtype odt = out_bf16 ? BE_BF16 : BE_F32;
        CHECK(gpu->matmul(gpu, dc, odt, da, db, M, N, K, ta, tb, 0.5f, acc) == GRPO_OK, "%s", grpo_errmsg());
        down(g, dc, nc, out_bf16);
        CHECK(cpu->matmul(cpu, c, BE_F32, a, bm, M, N, K, ta, tb, 0.5f, acc) == GRPO_OK, "%s", grpo_errmsg());
        const double u = 1.0 / 256;
        double worst = 0, lim = out_bf16 ? u + (1 + u) * 1e-5 : 1e-5;
        for (size_t i = 0; i < nc; i++) {
            double err = fabs((double)g[i] - c[i]) / (1.0 + fabs(c[i]));
            if (!(err <= worst)) worst = err; // NaN sticks
        }
        CHECK(worst < lim, "%s M=%d N=%d K=%d ta=%d tb=%d acc=%d: max rel err %g (limit %g)", tag, M, N, K, ta, tb,
              acc, worst, lim);
        gpu->free(gpu, da), gpu->free(gpu, db), gpu->free(gpu, dc);
        free(a), free(bm), free(c), free(g);
    }
}

int main(void) {
    const char *name = "test_matmul_cuda";
    int rc = tu_open_gpu(name, &gpu);
    if (!gpu) return rc;
    const int self = gpu->kind == BACKEND_CPU;
    CHECK(backend_open("cpu", &cpu) == GRPO_OK, "%s", grpo_errmsg());
    if (!cpu) return tu_finish(name);
    const int shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 9, 33}, {31, 47, 129}, {128, 96, 72}, {257, 130, 511}};
    const int ns = (int)(sizeof shapes / sizeof shapes[0]);
    // No model lives on gpu: its compute dtype may change between runs.
    gpu->cdt = BE_F32;
    for (int s = 0; s < ns; s++) check_shape(shapes[s][0], shapes[s][1], shapes[s][2], 0, 0);
    if (self) {
        printf("%s: bf16: SKIPPED: the cpu backend computes in fp32 only\n", name);
    } else {
        // fp32 mode refuses a bf16 output; bf16 mode takes bf16 or fp32.
        void *d = NULL;
        CHECK(gpu->alloc(gpu, &d, 64) == GRPO_OK, "%s", grpo_errmsg());
        CHECK(gpu->matmul(gpu, d, BE_BF16, d, d, 2, 2, 2, 0, 0, 1.0f, 0) == GRPO_EINVAL,
              "fp32 matmul with a bf16 output must fail");
        gpu->free(gpu, d);
        gpu->cdt = BE_BF16;
        for (int s = 0; s < ns; s++) {
            check_shape(shapes[s][0], shapes[s][1], shapes[s][2], 1, 1);
            check_shape(shapes[s][0], shapes[s][1], shapes[s][2], 1, 0);
        }
    }
    backend_close(gpu);
    backend_close(cpu);
    return tu_finish(name);
}
