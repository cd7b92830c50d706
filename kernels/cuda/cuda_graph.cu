// CUDA graphs over the backend's one stream: a decode step's few hundred
// launches captured once and replayed with one launch (policy/generate.c).
// A graph is an instantiated cudaGraphExec_t; the cudaGraph_t it came from is
// destroyed at once (the executable does not need it).
#include "kernels/cuda/cuda_common.cuh"

int cuda_no_capture(Backend *b, const char *what) {
    if (!cuda_ctx(b)->capturing) return GRPO_OK;
    return grpo_fail(GRPO_EDEVICE, "cuda: %s is not allowed while a graph is being captured", what);
}

static int cuda_graph_begin(Backend *b) {
    CudaCtx *c = cuda_ctx(b);
    if (c->capturing) return grpo_fail(GRPO_EINVAL, "cuda: graph_begin while a capture is already open");
    // Thread-local: an unsafe call (cudaMalloc, a synchronisation) from this
    // thread invalidates the capture instead of silently running.
    CUDA_TRY(cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeThreadLocal));
    c->capturing = 1;
    return GRPO_OK;
}

static int cuda_graph_end(Backend *b, void **graph) {
    CudaCtx *c = cuda_ctx(b);
    *graph = NULL;
    if (!c->capturing) return grpo_fail(GRPO_EINVAL, "cuda: graph_end without graph_begin");
    c->capturing = 0;
    cudaGraph_t g = NULL;
    cudaError_t e = cudaStreamEndCapture(c->stream, &g);
    if (e != cudaSuccess) {
        if (g) cudaGraphDestroy(g);
        cudaGetLastError(); // a failed capture leaves a sticky error that is not the device's
        return grpo_fail(GRPO_EDEVICE, "cuda: graph capture failed: %s", cudaGetErrorString(e));
    }
    cudaGraphExec_t x = NULL;
    e = cudaGraphInstantiate(&x, g, 0);
    cudaGraphDestroy(g);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return grpo_fail(GRPO_EDEVICE, "cuda: cannot instantiate the captured graph: %s", cudaGetErrorString(e));
    }
    *graph = (void *)x;
    return GRPO_OK;
}

static int cuda_graph_launch(Backend *b, void *graph) {
    if (cuda_no_capture(b, "graph_launch")) return GRPO_EDEVICE;
    CUDA_TRY(cudaGraphLaunch((cudaGraphExec_t)graph, cuda_ctx(b)->stream));
    return GRPO_OK;
}

static void cuda_graph_free(Backend *b, void *graph) {
    (void)b;
    if (graph) cudaGraphExecDestroy((cudaGraphExec_t)graph);
}

static unsigned long cuda_graph_epoch(Backend *b) { return cuda_ctx(b)->epoch; }

void cuda_register_graph(Backend *b) {
    b->graph_begin = cuda_graph_begin;
    b->graph_end = cuda_graph_end;
    b->graph_launch = cuda_graph_launch;
    b->graph_free = cuda_graph_free;
    b->graph_epoch = cuda_graph_epoch;
}
