// The CUDA matmul against the CPU backend on the same random inputs. Where no
// usable GPU exists the test reports itself skipped and says why.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "testlib.h"

int main(void) {
    const char *name = "test_matmul_cuda";
    Backend *cpu = NULL, *gpu = NULL;
    int rc = tu_open_gpu(name, &gpu);
    if (!gpu) return rc;
    CHECK(backend_open("cpu", &cpu) == GRPO_OK, "%s", grpo_errmsg());
    if (!cpu) return tu_finish(name);
    uint64_t rng = 7;
    const int shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 9, 33}, {31, 47, 129}, {128, 96, 72}, {257, 130, 511}};
    for (int s = 0; s < (int)(sizeof shapes / sizeof shapes[0]); s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        for (int mode = 0; mode < 8; mode++) {
            int ta = mode & 1, tb = (mode >> 1) & 1, acc = (mode >> 2) & 1;
            size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
            float *a = malloc(na * 4), *bm = malloc(nb * 4), *c = malloc(nc * 4), *g = malloc(nc * 4);
            for (size_t i = 0; i < na; i++) a[i] = tu_rand_uniform(&rng);
            for (size_t i = 0; i < nb; i++) bm[i] = tu_rand_uniform(&rng);
            for (size_t i = 0; i < nc; i++) c[i] = tu_rand_uniform(&rng);
            void *da, *db, *dc;
            CHECK(gpu->alloc(gpu, &da, na * 4) == 0 && gpu->alloc(gpu, &db, nb * 4) == 0 && gpu->alloc(gpu, &dc, nc * 4) == 0, "%s", grpo_errmsg());
            gpu->to_device(gpu, da, a, na * 4);
            gpu->to_device(gpu, db, bm, nb * 4);
            gpu->to_device(gpu, dc, c, nc * 4);
            CHECK(gpu->matmul(gpu, dc, BE_F32, da, db, M, N, K, ta, tb, 0.5f, acc) == GRPO_OK, "%s", grpo_errmsg());
            CHECK(gpu->to_host(gpu, g, dc, nc * 4) == GRPO_OK, "%s", grpo_errmsg());
            cpu->matmul(cpu, c, BE_F32, a, bm, M, N, K, ta, tb, 0.5f, acc);
            double worst = 0;
            for (size_t i = 0; i < nc; i++) {
                double err = fabs((double)g[i] - c[i]) / (1.0 + fabs(c[i]));
                if (err > worst) worst = err;
            }
            CHECK(worst < 1e-5, "M=%d N=%d K=%d ta=%d tb=%d acc=%d: max rel err %g", M, N, K, ta, tb, acc, worst);
            gpu->free(gpu, da), gpu->free(gpu, db), gpu->free(gpu, dc);
            free(a), free(bm), free(c), free(g);
        }
    }
    backend_close(gpu);
    backend_close(cpu);
    return tu_finish(name);
}
