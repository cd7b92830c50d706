// Data parallelism across processes (`mpirun -np N grpo train ...`): the only
// module that talks to MPI and NCCL. The process group is global state, as MPI's
// own is. A process not started by an MPI launcher, or a build without MPI, is
// a group of one and every call below is a cheap no-op, so callers need no
// #ifdefs.
//
// Errors: MPI calls return their error (MPI_ERRORS_RETURN) as a grpo status with
// the MPI message, and dist_end() makes sure that a failure on one rank ends the
// whole job with an error instead of leaving the other ranks waiting forever.
#ifndef GRPO_DIST_H
#define GRPO_DIST_H

#include <stddef.h>

#include "kernels/backend.h"

// Joins the job when an MPI launcher started this process (it sets
// OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK); otherwise stays one process.
// Must run before the compute backend is opened: on a machine with several GPUs
// it gives each local rank its own GPU (CUDA_VISIBLE_DEVICES). Idempotent.
int dist_init(void);

// Ends the job. failed = 0: a clean MPI_Finalize. failed = 1: this rank hit an
// error; if every rank fails the same way (a collective stop) the ranks finalize
// together, otherwise, after a few seconds, MPI_Abort takes the whole job down so
// no rank waits forever on a dead peer.
void dist_end(int failed);

// Ends every process of the job now with `code` (a local error, nothing to save).
void dist_abort(int code);

int dist_rank(void);       // 0 .. size-1; 0 when not distributed
int dist_size(void);       // 1 when not distributed
int dist_local_rank(void); // rank among the processes on this machine
int dist_has_mpi(void);    // 1 when this build can run distributed

// This rank's share [*a, *b) of n items split into contiguous, nearly equal
// parts in rank order (rank r: n*r/size .. n*(r+1)/size).
void dist_split(int n, int *a, int *b);

// In-place sums over all ranks. buf lives in `be`'s memory: host memory for the
// CPU backend (MPI_Allreduce), device memory for CUDA (ncclAllReduce on a
// communicator made on first use). be NULL = host memory.
int dist_allreduce_sum_f32(float *buf, size_t n, Backend *be);
int dist_allreduce_sum_f64(double *buf, size_t n); // host memory
int dist_allreduce_max_f64(double *buf, size_t n); // host memory

// Rank 0 receives every rank's bytes, concatenated in rank order, into *all
// (malloc'd; *lens (size) gets each rank's length). Other ranks get NULL.
int dist_gather_bytes(const void *data, size_t n, char **all, size_t **lens);

int dist_bcast(void *buf, size_t n, int root);
int dist_barrier(void);

#endif
