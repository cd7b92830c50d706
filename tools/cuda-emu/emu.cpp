// The emulator's runtime: fibers per CUDA thread, barriers, launch checks, memory, a naive SGEMM.
#include <ucontext.h>
#include <time.h>
#include <unistd.h>
#include <vector>
#include "include/cublas_v2.h"
#include "include/cuda_bf16.h"

namespace emu {
enum { RUNNABLE, AT_BLOCK, AT_WARP, DONE };
struct Thread {
    ucontext_t ctx;
    uint3e tid;
    int lin, state;
};
Thread *cur;
uint3e g_blockIdx;
dim3 g_blockDim, g_gridDim;
static ucontext_t sched;
static std::vector<Thread> threads;
static std::vector<char *> stacks;
static std::function<void()> *g_body;
static const char *g_name;
static unsigned char wbuf[32][32][8];
static unsigned warp_mask_seen[32];
static cudaError_t last_error = cudaSuccess;
static long n_problems;
enum { STACK = 96 * 1024 };

static void problem(const char *fmt, const char *what) {
    n_problems++;
    if (n_problems <= 20)
        fprintf(stderr, "EMU PROBLEM in %s block (%u,%u,%u): %s\n", g_name, g_blockIdx.x, g_blockIdx.y, g_blockIdx.z,
                what ? what : fmt);
    if (getenv("EMU_ABORT")) abort();
}
uint3e &tid_of(Thread *t) { return t->tid; }
int lane_id() { return cur->lin & 31; }
static void yield_state(int st) {
    Thread *t = cur;
    t->state = st;
    swapcontext(&t->ctx, &sched);
}
void syncthreads() { yield_state(AT_BLOCK); }
void warp_exchange(unsigned mask, const void *v, void *out, int src, int size) {
    int lane = cur->lin & 31, w = cur->lin >> 5;
    unsigned nthr = g_blockDim.x * g_blockDim.y * g_blockDim.z;
    int lanes_here = (int)(nthr - (unsigned)w * 32 < 32 ? nthr - (unsigned)w * 32 : 32);
    if (mask != 0xffffffffu) problem("shuffle with a partial mask (emulator assumes full)", NULL);
    if (lanes_here < 32) problem("full-mask shuffle in a partial warp (blockDim not a multiple of 32)", NULL);
    memcpy(wbuf[w][lane], v, size);
    yield_state(AT_WARP);
    int s = src < 0 ? lane : src;
    if (s >= lanes_here) {
        problem("shuffle reads a lane that does not exist", NULL);
        s = lane;
    }
    if (threads[(size_t)w * 32 + s].state == DONE) problem("shuffle reads a lane that has exited", NULL);
    memcpy(out, wbuf[w][s], size);
    yield_state(AT_WARP);
}
// Dynamic shared memory of the current launch, and the kernels' opt-ins.
static std::vector<unsigned char> dyn_buf;
static size_t dyn_bytes;
static std::vector<std::pair<const void *, int>> dyn_optin;
void set_dyn_smem(size_t bytes) { dyn_bytes = bytes; }
int smem_optin() {
    const char *e = getenv("EMU_SMEM_OPTIN");
    return e && atoi(e) > 0 ? atoi(e) : 227 * 1024;
}
void *dyn_smem() {
    // 128-byte aligned, as the kernels' __align__ declarations ask.
    return dyn_bytes ? (void *)(((uintptr_t)dyn_buf.data() + 127) & ~(uintptr_t)127) : NULL;
}
void set_max_dyn_smem(const void *k, int bytes) {
    for (auto &p : dyn_optin)
        if (p.first == k) { p.second = bytes; return; }
    dyn_optin.push_back({k, bytes});
}
bool smem_ok(const void *k, size_t bytes, const char *name) {
    size_t limit = 48 * 1024;
    for (auto &p : dyn_optin)
        if (p.first == k && (size_t)p.second > limit) limit = (size_t)p.second;
    if (bytes <= limit) return true;
    fprintf(stderr, "EMU: %s launched with %zu bytes of dynamic shared memory, over its limit %zu (%s)\n", name, bytes,
            limit, limit == 48 * 1024 ? "no cudaFuncSetAttribute opt-in" : "the opt-in");
    last_error = cudaErrorInvalidValue;
    n_problems++;
    return false;
}
// __syncwarp: the warp's live lanes meet (the scheduler releases a warp whose
// live lanes all wait at a warp barrier).
void warp_barrier() { yield_state(AT_WARP); }
static void entry() {
    (*g_body)();
    cur->state = DONE;
    swapcontext(&cur->ctx, &sched);
}
static int reverse = -1;
static void run_block(unsigned nthr) {
    if (reverse < 0) reverse = getenv("EMU_REVERSE") && atoi(getenv("EMU_REVERSE"));
    if (dyn_bytes) {
        dyn_buf.assign(dyn_bytes + 128, 0xA5);
    }
    for (unsigned i = 0; i < nthr; i++) {
        Thread &t = threads[i];
        t.lin = (int)i;
        t.tid.x = i % g_blockDim.x;
        t.tid.y = (i / g_blockDim.x) % g_blockDim.y;
        t.tid.z = i / (g_blockDim.x * g_blockDim.y);
        t.state = RUNNABLE;
        getcontext(&t.ctx);
        t.ctx.uc_stack.ss_sp = stacks[i];
        t.ctx.uc_stack.ss_size = STACK;
        t.ctx.uc_link = NULL;
        makecontext(&t.ctx, entry, 0);
    }
    unsigned nw = (nthr + 31) / 32;
    for (;;) {
        // EMU_REVERSE=1 runs the threads of a block in the opposite order between
        // barriers: a result that changes with it has a shared-memory race.
        for (unsigned k = 0; k < nthr; k++) {
            unsigned i = reverse ? nthr - 1 - k : k;
            if (threads[i].state == RUNNABLE) {
                cur = &threads[i];
                swapcontext(&sched, &threads[i].ctx);
            }
        }
        unsigned done = 0, at_block = 0, at_warp = 0;
        for (unsigned i = 0; i < nthr; i++) {
            done += threads[i].state == DONE;
            at_block += threads[i].state == AT_BLOCK;
            at_warp += threads[i].state == AT_WARP;
        }
        if (done == nthr) return;
        int released = 0;
        for (unsigned w = 0; w < nw; w++) {
            unsigned lo = w * 32, hi = lo + 32 < nthr ? lo + 32 : nthr, nwarp = 0, nlive = 0, nblk = 0;
            for (unsigned i = lo; i < hi; i++) {
                nwarp += threads[i].state == AT_WARP;
                nlive += threads[i].state != DONE;
                nblk += threads[i].state == AT_BLOCK;
            }
            if (nwarp && nwarp == nlive) {
                if (nlive < hi - lo) problem("warp shuffle while some lanes of the warp have exited", NULL);
                for (unsigned i = lo; i < hi; i++)
                    if (threads[i].state == AT_WARP) threads[i].state = RUNNABLE;
                released = 1;
            } else if (nwarp && nblk) {
                problem("divergent warp: some lanes at a shuffle, others at __syncthreads", NULL);
            }
        }
        if (released) continue;
        if (at_block && at_block + done == nthr) {
            if (done && getenv("EMU_STRICT_BARRIER")) problem("__syncthreads after some threads exited", NULL);
            for (unsigned i = 0; i < nthr; i++)
                if (threads[i].state == AT_BLOCK) threads[i].state = RUNNABLE;
            continue;
        }
        problem("deadlock (threads wait at different barriers)", NULL);
        fprintf(stderr, "EMU: aborting kernel %s (deadlock)\n", g_name);
        abort();
    }
}
bool launch_ok(dim3 g, dim3 b, const char *name) {
    unsigned long long nthr = (unsigned long long)b.x * b.y * b.z;
    if (g.x == 0 || g.y == 0 || g.z == 0 || g.x > 0x7fffffffu || g.y > 65535 || g.z > 65535 || nthr == 0 ||
        nthr > 1024 || b.z > 64) {
        fprintf(stderr, "EMU: invalid launch configuration for %s: grid (%u,%u,%u) block (%u,%u,%u)\n", name, g.x, g.y,
                g.z, b.x, b.y, b.z);
        last_error = cudaErrorInvalidConfiguration;
        n_problems++;
        return false;
    }
    return true;
}
void run(dim3 g, dim3 b, std::function<void()> body, const char *name) {
    g_name = name;
    unsigned long long nthr = (unsigned long long)b.x * b.y * b.z;
    if (!launch_ok(g, b, name)) return;
    if (threads.size() < nthr) {
        threads.resize(nthr);
        while (stacks.size() < nthr) stacks.push_back((char *)malloc(STACK));
    }
    g_blockDim = b;
    g_gridDim = g;
    g_body = &body;
    for (unsigned z = 0; z < g.z; z++)
        for (unsigned y = 0; y < g.y; y++)
            for (unsigned x = 0; x < g.x; x++) {
                g_blockIdx.x = x, g_blockIdx.y = y, g_blockIdx.z = z;
                run_block((unsigned)nthr);
            }
}
// The one capture in progress (the emulator has one host thread).
static cudaStream_t cap_stream;
static bool cap_invalid;
static std::vector<std::function<void()>> *cap_ops;
long n_graph_launches, n_graph_ops; // replayed, for the report at exit
bool capturing(cudaStream_t s) { return s && s == cap_stream; }
void record(std::function<void()> op) {
    if (!cap_invalid) cap_ops->push_back(op);
}
// An unsafe call while any capture is open (thread-local mode: this thread's calls).
static cudaError_t unsafe() {
    if (!cap_stream) return cudaSuccess;
    cap_invalid = true;
    return cudaErrorStreamCaptureUnsupported;
}
} // namespace emu

struct CUgraph_st {
    std::vector<std::function<void()>> ops;
};
struct CUgraphExec_st {
    std::vector<std::function<void()>> ops;
};
struct cublasContext {
    cudaStream_t stream;
};

struct Report {
    ~Report() {
        if (emu::n_graph_launches && getenv("EMU_GRAPH_REPORT"))
            fprintf(stderr, "EMU: %ld graph launch(es) replayed %ld op(s)\n", emu::n_graph_launches, emu::n_graph_ops);
        if (emu::n_problems) { // a problem fails the program, whatever its own checks said
            fprintf(stderr, "EMU: %ld problem(s) found\n", emu::n_problems);
            fflush(stdout);
            _exit(3);
        }
    }
} report_at_exit;

extern "C" {
cudaError_t cudaGetDeviceCount(int *n) { *n = 1; return cudaSuccess; }
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int) {
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "CUDA emulator (CPU fibers)");
    p->major = 9;
    return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int *v, cudaDeviceAttr a, int) {
    if (a == cudaDevAttrMultiProcessorCount) { // an H200's 132, or EMU_SMS
        const char *e = getenv("EMU_SMS");
        *v = e && atoi(e) > 0 ? atoi(e) : 132;
        return cudaSuccess;
    }
    if (a != cudaDevAttrMaxSharedMemoryPerBlockOptin) return cudaErrorInvalidValue;
    *v = emu::smem_optin();
    return cudaSuccess;
}
cudaError_t cudaGetLastError(void) { cudaError_t e = emu::last_error; emu::last_error = cudaSuccess; return e; }
const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
    default: return "emulated error";
    }
}
cudaError_t cudaMalloc(void **p, size_t bytes) {
    if (emu::unsafe()) return cudaErrorStreamCaptureUnsupported;
    *p = aligned_alloc(256, (bytes + 255) / 256 * 256 + (bytes ? 0 : 256)); // cudaMalloc's alignment
    if (!*p) return cudaErrorMemoryAllocation;
    memset(*p, 0xA5, bytes); // uninitialised device memory is garbage, not zeros
    return cudaSuccess;
}
cudaError_t cudaFree(void *p) {
    if (emu::unsafe()) return cudaErrorStreamCaptureUnsupported;
    free(p);
    return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t *fr, size_t *total) { *fr = 100u << 20; *total = 200u << 20; return cudaSuccess; }
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind k, cudaStream_t s) {
    if (emu::capturing(s)) {
        // Host memory in a graph would be read or written at replay time from
        // pageable buffers: refused here, as the driver refuses pageable copies.
        if (k != cudaMemcpyDeviceToDevice) return emu::unsafe();
        emu::record([=]() { memmove(dst, src, bytes); });
        return cudaSuccess;
    }
    memmove(dst, src, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *dst, int v, size_t bytes, cudaStream_t s) {
    if (emu::capturing(s)) emu::record([=]() { memset(dst, v, bytes); });
    else memset(dst, v, bytes);
    return cudaSuccess;
}
cudaError_t cudaSetDevice(int) { return cudaSuccess; }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned) { *s = (cudaStream_t)malloc(1); return cudaSuccess; }
cudaError_t cudaStreamDestroy(cudaStream_t s) { free(s); return cudaSuccess; }
cudaError_t cudaEventCreate(cudaEvent_t *e) {
    *e = (cudaEvent_t) new double(-1.0); // -1: never recorded
    return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) { delete (double *)e; return cudaSuccess; }
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
    if (emu::capturing(s)) return emu::unsafe(); // a capture would record it as a node: not modelled
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    *(double *)e = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b) {
    double t0 = *(double *)a, t1 = *(double *)b;
    if (t0 < 0 || t1 < 0) return cudaErrorInvalidValue; // cudaErrorInvalidResourceHandle on the device
    *ms = (float)(1e3 * (t1 - t0));
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t s) { return emu::capturing(s) ? emu::unsafe() : cudaSuccess; }
cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode) {
    if (!s || emu::cap_stream) return cudaErrorIllegalState; // one capture at a time; never the legacy stream
    emu::cap_stream = s;
    emu::cap_invalid = false;
    emu::cap_ops = new std::vector<std::function<void()>>();
    return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t *graph) {
    *graph = NULL;
    if (!emu::capturing(s)) return cudaErrorIllegalState;
    bool bad = emu::cap_invalid;
    emu::cap_stream = NULL;
    if (bad) {
        delete emu::cap_ops;
        emu::cap_ops = NULL;
        return cudaErrorStreamCaptureInvalidated;
    }
    *graph = new CUgraph_st{*emu::cap_ops};
    delete emu::cap_ops;
    emu::cap_ops = NULL;
    return cudaSuccess;
}
cudaError_t cudaStreamIsCapturing(cudaStream_t s, cudaStreamCaptureStatus *st) {
    *st = !emu::capturing(s) ? cudaStreamCaptureStatusNone
          : emu::cap_invalid ? cudaStreamCaptureStatusInvalidated
                             : cudaStreamCaptureStatusActive;
    return cudaSuccess;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long) {
    if (!graph) return cudaErrorInvalidValue;
    *exec = new CUgraphExec_st{graph->ops};
    return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s) {
    if (!exec) return cudaErrorInvalidValue;
    if (emu::cap_stream) return emu::unsafe(); // nested graphs are not used here
    (void)s;
    emu::n_graph_launches++;
    for (auto &op : exec->ops) op();
    emu::n_graph_ops += (long)exec->ops.size();
    return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) { delete exec; return cudaSuccess; }
cudaError_t cudaGraphDestroy(cudaGraph_t graph) { delete graph; return cudaSuccess; }

cublasStatus_t cublasCreate(cublasHandle_t *h) { *h = new cublasContext{NULL}; return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasDestroy(cublasHandle_t h) { delete h; return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t s) { h->stream = s; return CUBLAS_STATUS_SUCCESS; }
// The naive GEMMs need no workspace; the buffer is only checked for presence.
cublasStatus_t cublasSetWorkspace(cublasHandle_t, void *ws, size_t bytes) {
    return ws || !bytes ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_INVALID_VALUE;
}
const char *cublasGetStatusString(cublasStatus_t s) { return s ? "emulated cublas error" : "success"; }
// Column-major C (m, n) = alpha op(A) (m, k) op(B) (k, n) + beta C, as cuBLAS defines it.
static void sgemm_run(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float *alpha,
                      const float *A, int lda, const float *B, int ldb, const float *beta, float *C, int ldc) {
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double s = 0;
            for (int p = 0; p < k; p++) {
                float a = ta ? A[p + (size_t)i * lda] : A[i + (size_t)p * lda];
                float b = tb ? B[j + (size_t)p * ldb] : B[p + (size_t)j * ldb];
                s += (double)a * b;
            }
            float *c = &C[i + (size_t)j * ldc];
            *c = (float)(*alpha * s + (*beta != 0 ? *beta * *c : 0.0f));
        }
}
cublasStatus_t cublasSgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const float *alpha, const float *A, int lda, const float *B, int ldb, const float *beta,
                           float *C, int ldc) {
    if (m < 0 || n < 0 || k < 0 || lda < (ta ? k : m) || ldb < (tb ? n : k) || ldc < m || lda < 1 || ldb < 1)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (emu::capturing(h->stream)) { // host-pointer alpha, beta: their values at the call
        float al = *alpha, be = *beta;
        emu::record([=]() { sgemm_run(ta, tb, m, n, k, &al, A, lda, B, ldb, &be, C, ldc); });
    } else {
        sgemm_run(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
    }
    return CUBLAS_STATUS_SUCCESS;
}
static inline double gemm_ld(const void *p, cudaDataType_t t, size_t i) {
    return t == CUDA_R_16BF ? (double)__bfloat162float(((const __nv_bfloat16 *)p)[i]) : (double)((const float *)p)[i];
}
// Accumulates in double, then rounds the result once to C's type (the real
// library accumulates in fp32: results agree to fp32 rounding).
static void gemm_ex_run(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float al, const void *A,
                        cudaDataType_t At, int lda, const void *B, cudaDataType_t Bt, int ldb, float be, void *C,
                        cudaDataType_t Ct, int ldc) {
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double s = 0;
            for (int p = 0; p < k; p++)
                s += gemm_ld(A, At, ta ? p + (size_t)i * lda : i + (size_t)p * lda) *
                     gemm_ld(B, Bt, tb ? j + (size_t)p * ldb : p + (size_t)j * ldb);
            size_t ci = i + (size_t)j * ldc;
            double r = (double)al * s + (be != 0 ? (double)be * gemm_ld(C, Ct, ci) : 0.0);
            if (Ct == CUDA_R_16BF) ((__nv_bfloat16 *)C)[ci] = __float2bfloat16_rn((float)r);
            else ((float *)C)[ci] = (float)r;
        }
}
cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const void *alpha, const void *A, cudaDataType_t At, int lda, const void *B,
                            cudaDataType_t Bt, int ldb, const void *beta, void *C, cudaDataType_t Ct, int ldc,
                            cublasComputeType_t ct, cublasGemmAlgo_t) {
    if (m < 0 || n < 0 || k < 0 || lda < (ta ? k : m) || ldb < (tb ? n : k) || ldc < m || lda < 1 || ldb < 1)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (ct != CUBLAS_COMPUTE_32F || At != Bt || (At == CUDA_R_32F && Ct != CUDA_R_32F) ||
        (At != CUDA_R_32F && At != CUDA_R_16BF) || (Ct != CUDA_R_32F && Ct != CUDA_R_16BF))
        return CUBLAS_STATUS_NOT_SUPPORTED;
    // Host-pointer alpha, beta: a capture keeps their values at the call.
    float al = *(const float *)alpha, be = *(const float *)beta;
    if (emu::capturing(h->stream))
        emu::record([=]() { gemm_ex_run(ta, tb, m, n, k, al, A, At, lda, B, Bt, ldb, be, C, Ct, ldc); });
    else
        gemm_ex_run(ta, tb, m, n, k, al, A, At, lda, B, Bt, ldb, be, C, Ct, ldc);
    return CUBLAS_STATUS_SUCCESS;
}
// rl/dist.c's NCCL calls: never reached by the tests (single process); fail if they are.
int ncclGetUniqueId(void *) { return 1; }
int ncclCommInitRank(void *, int, ...) { return 1; }
const char *ncclGetErrorString(int) { return "NCCL not available in the CUDA emulator"; }
int ncclAllReduce(...) { return 1; }
int ncclCommDestroy(void *) { return 1; }
}
namespace nvcuda {
namespace wmma {
void emu_wmma_check(const void *p, unsigned ldm, size_t elem, const char *what) {
    char m[96];
    if ((uintptr_t)p % 32) {
        snprintf(m, sizeof m, "%s: pointer not 32-byte aligned", what);
        emu::problem(m, NULL);
    }
    if ((ldm * elem) % 16) {
        snprintf(m, sizeof m, "%s: ldm %u not a multiple of 16 bytes", what, ldm);
        emu::problem(m, NULL);
    }
}
} // namespace wmma
} // namespace nvcuda
