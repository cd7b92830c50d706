#include "kernels/backend.h"

#include <string.h>

const char *backend_compiled(void) {
#ifdef GRPO_HAVE_CUDA
    return "cpu cuda";
#else
    return "cpu";
#endif
}

#ifndef GRPO_HAVE_CUDA
int backend_cuda_probe(char *name, size_t name_len) {
    if (name && name_len) name[0] = '\0';
    return grpo_fail(GRPO_EUNSUPPORTED, "this grpo was built without the CUDA backend (configure with -DGRPO_CUDA=ON and nvcc on the PATH)");
}
#endif

int backend_open(const char *device, Backend **out) {
    *out = NULL;
    if (!device || !strcmp(device, "cpu")) return backend_cpu_create(out);
    if (!strcmp(device, "cuda")) {
        int st = backend_cuda_probe(NULL, 0);
        if (st) return grpo_wrap(st, "--device cuda: ");
#ifdef GRPO_HAVE_CUDA
        return backend_cuda_create(out);
#endif
    }
    if (!strcmp(device, "auto")) {
#ifdef GRPO_HAVE_CUDA
        // auto means "the fastest backend that can run the model": the CUDA
        // backend fills the model's ops, so a usable GPU wins.
        if (backend_cuda_probe(NULL, 0) == GRPO_OK && backend_cuda_create(out) == GRPO_OK) return GRPO_OK;
        *out = NULL;
#endif
        grpo_clear_error();
        return backend_cpu_create(out);
    }
    return grpo_fail(GRPO_EINVAL, "unknown device '%s' (expected cpu, cuda or auto)", device);
}

int backend_set_precision(Backend *b, const char *precision) {
    if (!precision || !strcmp(precision, "auto")) return GRPO_OK; // the default backend_open chose
    if (!strcmp(precision, "fp32")) {
        b->cdt = BE_F32;
        return GRPO_OK;
    }
    if (!strcmp(precision, "bf16")) {
        if (b->kind == BACKEND_CPU)
            return grpo_fail(GRPO_EUNSUPPORTED,
                             "bf16 needs --device cuda: the cpu backend computes in fp32 only (it is the "
                             "reference); use precision fp32 or auto on the cpu");
        b->cdt = BE_BF16;
        return GRPO_OK;
    }
    return grpo_fail(GRPO_EINVAL, "unknown precision '%s' (expected auto, fp32 or bf16)", precision);
}

const char *backend_dtype_name(BackendDtype dt) {
    switch (dt) {
    case BE_F32: return "fp32";
    case BE_BF16: return "bf16";
    }
    return "unknown";
}

size_t backend_dtype_size(BackendDtype dt) { return dt == BE_BF16 ? 2 : 4; }

void backend_close(Backend *b) {
    if (b && b->destroy) b->destroy(b);
}

int backend_require(const Backend *b, const void *op, const char *op_name) {
    if (op) return GRPO_OK;
    return grpo_fail(GRPO_EUNSUPPORTED, "the %s backend does not implement the '%s' op", b->name, op_name);
}
