// The CPU backend: fp32, OpenBLAS sgemm for matmuls, OpenMP loops for the rest.
// It is the reference every other backend is tested against.
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/cpu/cpu_ops.h"

static int cpu_alloc(Backend *b, void **ptr, size_t bytes) {
    // 64-byte alignment keeps SIMD loads aligned and rows off shared cache lines.
    size_t rounded = (bytes + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p) {
        *ptr = NULL;
        return grpo_fail(GRPO_ENOMEM, "cpu: cannot allocate %zu bytes", bytes);
    }
    memset(p, 0, rounded ? rounded : 64);
    *ptr = p;
    return GRPO_OK;
}

static void cpu_free(Backend *b, void *ptr) { free(ptr); }

static int cpu_copy(Backend *b, void *dst, const void *src, size_t bytes) {
    if (bytes) memmove(dst, src, bytes);
    return GRPO_OK;
}

static int cpu_memset(Backend *b, void *dst, int byte, size_t bytes) {
    if (bytes) memset(dst, byte, bytes);
    return GRPO_OK;
}

static int cpu_sync(Backend *b) { return GRPO_OK; }

static int cpu_matmul(Backend *b, void *out_, BackendDtype out_dt, const void *a_, const void *bm_,
                      int M, int N, int K, int trans_a, int trans_b,
                      float alpha, int accumulate) {
    // The CPU is the fp32 reference: bf16 compute is the CUDA backend's.
    if (out_dt != BE_F32 || b->cdt != BE_F32)
        return grpo_fail(GRPO_EUNSUPPORTED, "cpu matmul: only fp32 is supported (asked for %s inputs, %s output); "
                         "bf16 runs on --device cuda", backend_dtype_name(b->cdt), backend_dtype_name(out_dt));
    float *out = out_;
    const float *a = a_, *bm = bm_;
    if (M < 0 || N < 0 || K < 0)
        return grpo_fail(GRPO_EINVAL, "matmul: negative size (M=%d N=%d K=%d)", M, N, K);
    if (M == 0 || N == 0) return GRPO_OK;
    if (K == 0) { // BLAS leaves C untouched for K = 0 only when beta = 1
        if (!accumulate) memset(out, 0, (size_t)M * N * sizeof(float));
        return GRPO_OK;
    }
    if (!trans_a && trans_b && M <= CPU_SMALL_M) { // a decode step's x @ W^T: see matmul_small.c
        cpu_matmul_small(out, a, bm, M, N, K, alpha, accumulate);
        return GRPO_OK;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha,
                a, trans_a ? M : K, bm, trans_b ? K : N,
                accumulate ? 1.0f : 0.0f, out, N);
    return GRPO_OK;
}

typedef struct {
    void *scratch; // cpu_scratch's buffer
    size_t scratch_bytes;
} CpuCtx;

void *cpu_scratch(Backend *b, size_t bytes) {
    CpuCtx *c = b->ctx;
    if (c->scratch_bytes < bytes) {
        free(c->scratch);
        c->scratch = NULL;
        c->scratch_bytes = 0;
        size_t rounded = (bytes + 63) & ~(size_t)63;
        if (!(c->scratch = aligned_alloc(64, rounded))) return NULL;
        c->scratch_bytes = rounded;
    }
    return c->scratch;
}

static void cpu_destroy(Backend *b) {
    CpuCtx *c = b->ctx;
    if (c) free(c->scratch);
    free(c);
    free(b);
}

static void cpu_model_name(char *dst, size_t n) {
    snprintf(dst, n, "cpu");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "model name", 10)) {
            char *colon = strchr(line, ':');
            if (colon) {
                colon += 2;
                colon[strcspn(colon, "\n")] = '\0';
                snprintf(dst, n, "%s", colon);
            }
            break;
        }
    }
    fclose(f);
}

int backend_cpu_create(Backend **out) {
    Backend *b = calloc(1, sizeof *b);
    CpuCtx *c = calloc(1, sizeof *c);
    if (!b || !c) {
        free(b);
        free(c);
        return grpo_fail(GRPO_ENOMEM, "cpu: out of memory");
    }
    b->ctx = c;
    b->name = "cpu";
    b->kind = BACKEND_CPU;
    b->cdt = BE_F32; // the reference computes in fp32 only
    cpu_model_name(b->device_name, sizeof b->device_name);
    // Naming OpenBLAS's kernels here also links blas_core.c, whose constructor
    // repairs a failed CPU detection.
    size_t dn = strlen(b->device_name);
    snprintf(b->device_name + dn, sizeof b->device_name - dn, " (OpenBLAS %s)", cpu_blas_core());
    b->alloc = cpu_alloc;
    b->free = cpu_free;
    b->to_device = cpu_copy;
    b->to_host = cpu_copy;
    b->copy = cpu_copy;
    b->memset = cpu_memset;
    b->sync = cpu_sync;
    b->matmul = cpu_matmul;
    b->convert = cpu_convert;
    b->embedding_forward = cpu_embedding_forward;
    b->embedding_backward = cpu_embedding_backward;
    b->rmsnorm_forward = cpu_rmsnorm_forward;
    b->rmsnorm_backward = cpu_rmsnorm_backward;
    b->rope_forward = cpu_rope_forward;
    b->rope_backward = cpu_rope_backward;
    b->attention_forward = cpu_attention_forward;
    b->attention_backward = cpu_attention_backward;
    b->swiglu_forward = cpu_swiglu_forward;
    b->swiglu_backward = cpu_swiglu_backward;
    b->logprob_forward = cpu_logprob_forward;
    b->logprob_backward = cpu_logprob_backward;
    b->add = cpu_add;
    b->bias_forward = cpu_bias_forward;
    b->bias_backward = cpu_bias_backward;
    b->scatter_rows = cpu_scatter_rows;
    b->adamw = cpu_adamw;
    b->sumsq = cpu_sumsq;
    b->scale = cpu_scale;
    b->sample = cpu_sample;
    b->destroy = cpu_destroy;
    *out = b;
    return GRPO_OK;
}
