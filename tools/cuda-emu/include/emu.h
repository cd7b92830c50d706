// A tiny CUDA emulator for checking kernel logic on a CPU: every CUDA thread of a
// block is a cooperative fiber; __syncthreads and warp shuffles are barriers;
// launch configurations are validated like the driver does. Not a GPU model of
// floating point (no FMA contraction), only of indexing and synchronisation.
#pragma once
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <functional>
#include <cmath>
using std::isinf;
using std::isnan;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#ifndef __CUDACC__
#define __CUDACC__ 1
#endif

typedef enum { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2,
               cudaErrorInvalidConfiguration = 9, cudaErrorIllegalState = 401, cudaErrorLaunchFailure = 719,
               cudaErrorStreamCaptureUnsupported = 900, cudaErrorStreamCaptureInvalidated = 901 } cudaError_t;
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
enum cudaDeviceAttr { cudaDevAttrMultiProcessorCount = 16, cudaDevAttrMaxSharedMemoryPerBlockOptin = 97 };
typedef struct CUstream_st *cudaStream_t;
// Graphs (the real values): while a stream captures, launches, GEMMs, memsets
// and device-to-device copies queued on it are recorded as closures (kernel
// arguments by value, as CUDA graphs keep them) instead of run; a launch of
// the instantiated graph replays them in order. Allocation, synchronisation of
// the capturing stream and copies to or from the host fail with
// cudaErrorStreamCaptureUnsupported and invalidate the capture, as the driver
// does in the global and thread-local modes.
typedef struct CUgraph_st *cudaGraph_t;
typedef struct CUgraphExec_st *cudaGraphExec_t;
enum cudaStreamCaptureMode { cudaStreamCaptureModeGlobal = 0, cudaStreamCaptureModeThreadLocal = 1,
                             cudaStreamCaptureModeRelaxed = 2 };
enum cudaStreamCaptureStatus { cudaStreamCaptureStatusNone = 0, cudaStreamCaptureStatusActive = 1,
                               cudaStreamCaptureStatusInvalidated = 2 };
enum cudaMemcpyKind { cudaMemcpyHostToHost = 0, cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2,
                      cudaMemcpyDeviceToDevice = 3, cudaMemcpyDefault = 4 };
#define cudaStreamNonBlocking 0x01
struct cudaDeviceProp { char name[256]; int major, minor; size_t totalGlobalMem; };

struct uint3e { unsigned x, y, z; };
struct alignas(16) uint4 { unsigned x, y, z, w; };
static inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return uint4{x, y, z, w}; }
struct dim3 {
    unsigned x, y, z;
    dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

extern "C" {
cudaError_t cudaGetDeviceCount(int *n);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int dev);
cudaError_t cudaDeviceGetAttribute(int *v, cudaDeviceAttr a, int dev);
cudaError_t cudaGetLastError(void);
const char *cudaGetErrorString(cudaError_t e);
cudaError_t cudaMalloc(void **p, size_t bytes);
cudaError_t cudaFree(void *p);
cudaError_t cudaMemGetInfo(size_t *fr, size_t *total);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind k, cudaStream_t s);
cudaError_t cudaMemsetAsync(void *dst, int v, size_t bytes, cudaStream_t s);
cudaError_t cudaSetDevice(int d);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
// Events: work runs when it is queued here, so a record reads the host clock.
typedef struct CUevent_st *cudaEvent_t;
cudaError_t cudaEventCreate(cudaEvent_t *e);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end);
cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t *graph);
cudaError_t cudaStreamIsCapturing(cudaStream_t s, cudaStreamCaptureStatus *status);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long flags);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);
}
template <class T> static inline cudaError_t cudaMalloc(T **p, size_t bytes) { return cudaMalloc((void **)p, bytes); }

namespace emu {
struct Thread;
extern Thread *cur;
extern uint3e g_blockIdx;
extern dim3 g_blockDim, g_gridDim;
uint3e &tid_of(Thread *t);
void syncthreads();
void warp_exchange(unsigned mask, const void *v, void *out, int src_lane, int size); // src_lane < 0: own
int lane_id();
void run(dim3 grid, dim3 block, std::function<void()> body, const char *name);
// false (and the launch error set) for a configuration the driver refuses.
bool launch_ok(dim3 grid, dim3 block, const char *name);
// Dynamic shared memory: launches above 48 KiB need the kernel's opt-in
// (cudaFuncSetAttribute), none may pass the card's 227 KiB; each block's
// buffer starts as garbage (0xA5), like cudaMalloc's.
bool smem_ok(const void *kernel, size_t bytes, const char *name);
void set_dyn_smem(size_t bytes);
void *dyn_smem();
void set_max_dyn_smem(const void *kernel, int bytes);
// The card's opt-in limit: an H100/H200's 227 KiB, or EMU_SMEM_OPTIN bytes
// (e.g. 101376, a consumer card's 99 KiB) to check that code falls back.
int smem_optin();
void warp_barrier();
// Whether stream s is capturing; record() adds an op to its capture (dropped
// when the capture is already invalid).
bool capturing(cudaStream_t s);
void record(std::function<void()> op);
template <class K> struct Launcher {
    K k;
    dim3 g, b;
    const char *name;
    cudaStream_t s;
    size_t smem;
    template <class... A> void operator()(A... a) {
        if (!smem_ok((const void *)k, smem, name)) return;
        if (s && capturing(s)) {
            K kk = k;
            dim3 gg = g, bb = b;
            const char *nm = name;
            size_t sm = smem;
            // Checked at capture as the driver does; the recording keeps the arguments' values.
            if (launch_ok(gg, bb, nm)) record([=]() { set_dyn_smem(sm); run(gg, bb, [=]() { kk(a...); }, nm); });
            return;
        }
        set_dyn_smem(smem);
        run(g, b, [=]() { k(a...); }, name);
    }
};
template <class K> Launcher<K> launch(K k, const char *name, dim3 g, dim3 b, size_t smem = 0, cudaStream_t s = 0) {
    return Launcher<K>{k, g, b, name, s, smem};
}
} // namespace emu
template <class K> static inline cudaError_t cudaFuncSetAttribute(K *kernel, cudaFuncAttribute attr, int value) {
    if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 || value > emu::smem_optin())
        return cudaErrorInvalidValue;
    emu::set_max_dyn_smem((const void *)kernel, value);
    return cudaSuccess;
}
namespace emu {
} // namespace emu
#define EMU_LAUNCH(k, ...) emu::launch(k, #k, __VA_ARGS__)

#define threadIdx (emu::tid_of(emu::cur))
#define blockIdx (emu::g_blockIdx)
#define blockDim (emu::g_blockDim)
#define gridDim (emu::g_gridDim)
static inline void __syncthreads() { emu::syncthreads(); }
static inline void __syncwarp(unsigned mask = 0xffffffffu) { (void)mask; emu::warp_barrier(); }

template <class T> static inline T emu_shfl(unsigned mask, T v, int src) {
    T out;
    emu::warp_exchange(mask, &v, &out, src, (int)sizeof(T));
    return out;
}
template <class T> static inline T __shfl_xor_sync(unsigned m, T v, int o) { return emu_shfl(m, v, emu::lane_id() ^ o); }
template <class T> static inline T __shfl_down_sync(unsigned m, T v, int o) {
    int s = emu::lane_id() + o;
    return emu_shfl(m, v, s >= 32 ? -1 : s);
}
template <class T> static inline T __shfl_up_sync(unsigned m, T v, int o) {
    int s = emu::lane_id() - o;
    return emu_shfl(m, v, s < 0 ? -1 : s);
}
template <class T> static inline T atomicAdd(T *p, T v) { T o = *p; *p = o + v; return o; }
static inline int atomicCAS(int *p, int cmp, int v) { int o = *p; if (o == cmp) *p = v; return o; }
static inline int atomicMin(int *p, int v) { int o = *p; if (v < o) *p = v; return o; }
static inline int min(int a, int b) { return a < b ? a : b; }
static inline int max(int a, int b) { return a > b ? a : b; }
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline float __fsqrt_rn(float a) { return sqrtf(a); }
static inline double __dmul_rn(double a, double b) { return a * b; }
static inline double __dsub_rn(double a, double b) { return a - b; }
static inline unsigned __float_as_uint(float f) { unsigned u; memcpy(&u, &f, 4); return u; }
static inline float __int_as_float(int i) { float f; memcpy(&f, &i, 4); return f; }
