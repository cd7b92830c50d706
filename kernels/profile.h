// Where a backend's time goes, op by op: `grpo bench --profile`.
//
// prof_start swaps each op in b's table for a wrapper that times the real op
// and adds it to a row keyed by the op's name (matmuls by shape, attention
// split into decode rows and the rest); prof_stop puts the table back. On a
// backend with a `timer` (CUDA: a pair of events around the op, then a wait)
// a row's time is the device's time for the op, launch overhead excluded; on
// the CPU, whose ops return when done, it is the wall time of the call.
// Waiting after every op removes the overlap of launches with work, so a
// profiled run is slower than a plain one: compare its rows with each other.
// Inside a graph capture ops are only recorded, so they pass through
// untimed, and a replay is one row (graph_launch). Results are unchanged.
#ifndef GRPO_PROFILE_H
#define GRPO_PROFILE_H

#include <stdio.h>

#include "kernels/backend.h"

typedef struct BackendProfile BackendProfile;

// Installs the timing wrappers in b (b->profile points at the profile).
// Fails when b is already profiled or memory runs out.
int prof_start(Backend *b);
// Restores b's own ops and frees the profile (nothing when not profiling).
void prof_stop(Backend *b);
// Empties every row, keeping the wrappers in place.
void prof_reset(Backend *b);

// One row of the table: calls and total seconds of one op (or op shape).
typedef struct {
    const char *name;
    long calls;
    double seconds;
} ProfRow;
// The rows so far, most time first (valid until the next op or reset);
// *n gets their count, *total the sum of their seconds.
const ProfRow *prof_rows(Backend *b, int *n, double *total);
// Prints the rows under `title`, each with its share of the ops' total,
// beside `wall_s` (the caller's wall time for the same work; <= 0: none).
void prof_print(Backend *b, FILE *f, const char *title, double wall_s);

#endif
