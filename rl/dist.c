#include "rl/dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/status.h"

#ifdef GRPO_HAVE_MPI
#include <mpi.h>
#endif
#ifdef GRPO_HAVE_NCCL
#include <cuda_runtime.h>
#include <nccl.h>
#endif

static int g_rank = 0, g_size = 1, g_local = 0;

int dist_rank(void) { return g_rank; }
int dist_size(void) { return g_size; }
int dist_local_rank(void) { return g_local; }

void dist_split(int n, int *a, int *b) {
    *a = (int)((long long)n * g_rank / g_size);
    *b = (int)((long long)n * (g_rank + 1) / g_size);
}

// The gather of a group of one: a copy.
static int gather_local(const void *data, size_t n, char **all, size_t **lens) {
    *all = malloc(n ? n : 1);
    *lens = malloc(sizeof **lens);
    if (!*all || !*lens) {
        free(*all), free(*lens);
        *all = NULL, *lens = NULL;
        return grpo_fail(GRPO_ENOMEM, "out of memory");
    }
    if (n) memcpy(*all, data, n);
    (*lens)[0] = n;
    return GRPO_OK;
}

#ifndef GRPO_HAVE_MPI

int dist_has_mpi(void) { return 0; }
// Started by mpirun with N > 1 but unable to join: N separate trainers would
// write the same run file, so refuse.
int dist_init(void) {
    const char *n = getenv("OMPI_COMM_WORLD_SIZE");
    if (!n) n = getenv("PMI_SIZE");
    if (n && atoi(n) > 1)
        return grpo_fail(GRPO_EUNSUPPORTED, "started by an MPI launcher with %s processes, but this grpo was built without MPI "
                                            "(install libopenmpi-dev and rebuild)", n);
    return GRPO_OK;
}
void dist_end(int failed) { (void)failed; }
void dist_abort(int code) { exit(code); }
int dist_allreduce_sum_f32(float *buf, size_t n, Backend *be) { return GRPO_OK; }
int dist_allreduce_sum_f64(double *buf, size_t n) { return GRPO_OK; }
int dist_allreduce_max_f64(double *buf, size_t n) { return GRPO_OK; }
int dist_bcast(void *buf, size_t n, int root) { return GRPO_OK; }
int dist_barrier(void) { return GRPO_OK; }
int dist_gather_bytes(const void *data, size_t n, char **all, size_t **lens) { return gather_local(data, n, all, lens); }

#else

int dist_has_mpi(void) { return 1; }

static int g_active; // MPI_Init done, MPI_Finalize not yet

// An MPI error as a grpo status naming the call.
static int mpi_check(int rc, const char *what) {
    if (rc == MPI_SUCCESS) return GRPO_OK;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "error %d", rc);
    return grpo_fail(GRPO_EIO, "rank %d: %s failed: %s (another rank may have died)", g_rank, what, msg);
}

static int launched_by_mpi(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

// One GPU per local rank, chosen before CUDA initialises: the backend opens
// device 0 of what it sees. A list the user gave (CUDA_VISIBLE_DEVICES=2,3) is
// split the same way; a single entry is taken as the user's own pinning.
static void pin_gpu(void) {
    const char *cvd = getenv("CUDA_VISIBLE_DEVICES");
    char pick[64];
    if (!cvd || !*cvd) {
        snprintf(pick, sizeof pick, "%d", g_local);
    } else {
        int n = 1;
        for (const char *p = cvd; *p; p++) n += *p == ',';
        if (n == 1) return;
        const char *p = cvd;
        for (int i = 0; i < g_local % n; i++) p = strchr(p, ',') + 1;
        size_t len = strcspn(p, ",");
        if (len >= sizeof pick) return;
        memcpy(pick, p, len);
        pick[len] = '\0';
    }
    setenv("CUDA_VISIBLE_DEVICES", pick, 1);
}

int dist_init(void) {
    if (g_active || !launched_by_mpi()) return GRPO_OK;
    int provided = 0, st;
    // Only the main thread calls MPI; OpenMP threads never do.
    if ((st = mpi_check(MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided), "MPI_Init"))) return st;
    // Errors come back to us, so they can be reported and end the job (dist_end)
    // instead of MPI's default of aborting with its own message.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_rank(node, &g_local);
        MPI_Comm_free(&node);
    }
    g_active = 1;
    if (g_size > 1) pin_gpu();
    return GRPO_OK;
}

#ifdef GRPO_HAVE_NCCL
static ncclComm_t g_nccl;
static cudaStream_t g_stream;
static int g_nccl_ready;

// The communicator is made on first use: rank 0's unique id reaches the others
// over MPI, and the calling process's current GPU is its member.
static int nccl_setup(void) {
    ncclUniqueId id;
    ncclResult_t r = ncclSuccess;
    if (g_rank == 0) r = ncclGetUniqueId(&id);
    if (r != ncclSuccess) return grpo_fail(GRPO_EDEVICE, "rank 0: ncclGetUniqueId: %s", ncclGetErrorString(r));
    int st = mpi_check(MPI_Bcast(&id, (int)sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast (NCCL id)");
    if (st) return st;
    if ((r = ncclCommInitRank(&g_nccl, g_size, id, g_rank)) != ncclSuccess)
        return grpo_fail(GRPO_EDEVICE, "rank %d: ncclCommInitRank: %s", g_rank, ncclGetErrorString(r));
    cudaError_t e = cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking);
    if (e != cudaSuccess) return grpo_fail(GRPO_EDEVICE, "rank %d: cudaStreamCreate: %s", g_rank, cudaGetErrorString(e));
    g_nccl_ready = 1;
    return GRPO_OK;
}

static int nccl_allreduce(float *buf, size_t n, Backend *be) {
    int st;
    if (!g_nccl_ready && (st = nccl_setup())) return st;
    // The backend queues work on its own stream: finish it before NCCL reads
    // the buffer, and finish NCCL before the backend touches it again.
    if ((st = be->sync(be))) return st;
    ncclResult_t r = ncclAllReduce(buf, buf, n, ncclFloat, ncclSum, g_nccl, g_stream);
    if (r != ncclSuccess) return grpo_fail(GRPO_EDEVICE, "rank %d: ncclAllReduce: %s", g_rank, ncclGetErrorString(r));
    cudaError_t e = cudaStreamSynchronize(g_stream);
    if (e != cudaSuccess) return grpo_fail(GRPO_EDEVICE, "rank %d: ncclAllReduce: %s", g_rank, cudaGetErrorString(e));
    return GRPO_OK;
}
#endif

static void nccl_teardown(void) {
#ifdef GRPO_HAVE_NCCL
    if (g_nccl_ready) {
        ncclCommDestroy(g_nccl);
        cudaStreamDestroy(g_stream);
        g_nccl_ready = 0;
    }
#endif
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void dist_end(int failed) {
    if (!g_active) return;
    if (failed && g_size > 1) {
        // Did every rank fail (a collective stop, each with its own message)?
        // Then end together. A rank still waiting in a collective for this one
        // never joins the barrier: abort the job so it does not wait forever.
        double wait = 5;
        const char *w = getenv("GRPO_DIST_FAIL_WAIT_S");
        if (w && atof(w) > 0) wait = atof(w);
        MPI_Request req;
        int done = 0;
        if (MPI_Ibarrier(MPI_COMM_WORLD, &req) == MPI_SUCCESS) {
            double t0 = now_s();
            while (!done && now_s() - t0 < wait) {
                if (MPI_Test(&req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) break;
                if (!done) nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
            }
        }
        if (!done) dist_abort(1);
    }
    nccl_teardown();
    MPI_Finalize();
    g_active = 0;
}

void dist_abort(int code) {
    if (g_active) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

int dist_allreduce_sum_f32(float *buf, size_t n, Backend *be) {
    if (g_size == 1 || n == 0) return GRPO_OK;
#ifdef GRPO_HAVE_NCCL
    if (be && be->kind == BACKEND_CUDA) return nccl_allreduce(buf, n, be);
#endif
    if (be && be->kind != BACKEND_CPU)
        return grpo_fail(GRPO_EUNSUPPORTED, "all-reduce in %s memory needs a build with NCCL", be->name);
    // MPI counts are int: reduce in slices.
    for (size_t off = 0; off < n; off += 1 << 30) {
        int c = (int)(n - off < (1u << 30) ? n - off : 1u << 30);
        int st = mpi_check(MPI_Allreduce(MPI_IN_PLACE, buf + off, c, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
        if (st) return st;
    }
    return GRPO_OK;
}

static int allreduce_f64(double *buf, size_t n, MPI_Op op) {
    if (g_size == 1 || n == 0) return GRPO_OK;
    if (n > (size_t)1 << 30) return grpo_fail(GRPO_EINVAL, "dist: %zu values are too many for one all-reduce", n);
    return mpi_check(MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, op, MPI_COMM_WORLD), "MPI_Allreduce");
}

int dist_allreduce_sum_f64(double *buf, size_t n) { return allreduce_f64(buf, n, MPI_SUM); }
int dist_allreduce_max_f64(double *buf, size_t n) { return allreduce_f64(buf, n, MPI_MAX); }

int dist_bcast(void *buf, size_t n, int root) {
    if (g_size == 1 || n == 0) return GRPO_OK;
    if (n > (size_t)1 << 30) return grpo_fail(GRPO_EINVAL, "dist: %zu bytes are too many for one broadcast", n);
    return mpi_check(MPI_Bcast(buf, (int)n, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
}

int dist_barrier(void) {
    if (g_size == 1) return GRPO_OK;
    return mpi_check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

int dist_gather_bytes(const void *data, size_t n, char **all, size_t **lens) {
    if (!g_active) return gather_local(data, n, all, lens);
    *all = NULL, *lens = NULL;
    if (n > (size_t)1 << 30) return grpo_fail(GRPO_EINVAL, "dist: rank %d has %zu bytes to gather (at most 1 GiB)", g_rank, n);
    // A rank that fails here returns without finishing the collective; the
    // others are then released by its dist_end(1), which aborts the job.
    int mine = (int)n, st;
    int *counts = calloc((size_t)g_size, sizeof(int)), *displs = calloc((size_t)g_size, sizeof(int));
    size_t *l = calloc((size_t)g_size, sizeof *l);
    char *buf = NULL;
    if (!counts || !displs || !l) {
        st = grpo_fail(GRPO_ENOMEM, "out of memory");
        goto done;
    }
    if ((st = mpi_check(MPI_Gather(&mine, 1, MPI_INT, counts, 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Gather"))) goto done;
    long long total = 0;
    for (int r = 0; g_rank == 0 && r < g_size; r++) displs[r] = (int)total, l[r] = (size_t)counts[r], total += counts[r];
    if (total > (1ll << 31) - 1) {
        st = grpo_fail(GRPO_EINVAL, "dist: %lld bytes to gather on rank 0 (at most 2 GiB)", total);
        goto done;
    }
    if (g_rank == 0 && !(buf = malloc((size_t)total + 1))) {
        st = grpo_fail(GRPO_ENOMEM, "dist: out of memory gathering %lld bytes on rank 0", total);
        goto done;
    }
    st = mpi_check(MPI_Gatherv(data, mine, MPI_BYTE, buf, counts, displs, MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Gatherv");
done:
    free(counts), free(displs);
    if (st || g_rank != 0) {
        free(buf), free(l);
        return st;
    }
    *all = buf;
    *lens = l;
    return GRPO_OK;
}

#endif
