// The compute backend: one op table that policy/ calls and each backend fills
// (the ggml idea at small scale). The model is written once against this table;
// kernels/cpu/ is the fp32 reference and kernels/cuda/ must match it.
//
// Conventions (as in llm.c): buffers are row-major; every op takes its outputs
// first, then inputs, then weights, then sizes; every pointer argument is memory
// of this backend (host memory for cpu, device memory for cuda) unless its name
// says `host`. Every op returns GRPO_OK or a GrpoStatus with grpo_errmsg() set.
#ifndef GRPO_BACKEND_H
#define GRPO_BACKEND_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>

#include "kernels/status.h"

typedef enum { BACKEND_CPU = 0, BACKEND_CUDA = 1 } BackendKind;

typedef struct Backend Backend;

struct Backend {
    const char *name;  // "cpu" or "cuda"
    BackendKind kind;
    char device_name[128]; // human-readable: the CPU model or the GPU's name
    void *ctx;             // backend-private state (cuBLAS handle, stream, ...)

    // ---- memory
    int (*alloc)(Backend *b, void **ptr, size_t bytes); // zero-filled
    void (*free)(Backend *b, void *ptr);
    int (*to_device)(Backend *b, void *dst, const void *host_src, size_t bytes);
    int (*to_host)(Backend *b, void *host_dst, const void *src, size_t bytes);
    int (*copy)(Backend *b, void *dst, const void *src, size_t bytes);
    int (*memset)(Backend *b, void *dst, int byte, size_t bytes);
    int (*sync)(Backend *b); // waits for all queued work; reports async errors

    // ---- compute
    // out (M, N) = alpha * op(a) (M, K) @ op(b) (K, N)  [+ out when accumulate]
    // op(a) = a, stored (M, K), or a^T when trans_a, stored (K, M);
    // op(b) = b, stored (K, N), or b^T when trans_b, stored (N, K) -- the
    // nn.Linear case: y = x @ W^T with W stored (out_features, in_features).
    int (*matmul)(Backend *b, float *out, const float *a, const float *bm,
                  int M, int N, int K, int trans_a, int trans_b,
                  float alpha, int accumulate);

    // The model issue adds its ops here (rmsnorm, rope, attention, swiglu,
    // log-softmax-gather, adamw, sampling); an op a backend does not provide is
    // NULL and callers report it through backend_require().

    void (*destroy)(Backend *b);
};

// Opens a backend by name: "cpu", "cuda" or "auto" (cuda only when a usable GPU
// is present, else cpu). Asking for cuda without a usable GPU fails with a
// one-line message saying why. Free with backend_close().
int backend_open(const char *device, Backend **out);
void backend_close(Backend *b);

// "cpu" or "cpu cuda": the backends compiled into this build.
const char *backend_compiled(void);

// GRPO_OK when a CUDA GPU can be used; otherwise a status with the reason in
// grpo_errmsg() (not compiled in, no driver, no device, ...). Never hangs.
int backend_cuda_probe(char *name, size_t name_len);

// Fails with a clear message when backend `b` lacks an op (a NULL slot).
int backend_require(const Backend *b, const void *op, const char *op_name);

// Backend constructors (internal; use backend_open).
int backend_cpu_create(Backend **out);
#ifdef GRPO_HAVE_CUDA
int backend_cuda_create(Backend **out);
#endif

#ifdef __cplusplus
}
#endif

#endif
