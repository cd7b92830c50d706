// The trainer's walk over a dataset: epoch after epoch, each in its own order
// (Fisher-Yates with a seed derived from (seed, epoch)). The whole position is the
// small POD DsIterState, which the trainer saves in its checkpoint and restores,
// so a resumed run draws exactly the examples an uninterrupted one would have.
#ifndef GRPO_ITER_H
#define GRPO_ITER_H

#include <stdint.h>

#include <cjson/cJSON.h>

typedef struct {
    uint64_t seed;  // shuffle seed
    int64_t n;      // dataset size the state belongs to
    int64_t epoch;  // 0-based
    int64_t index;  // next position within the epoch's order, 0..n
    int shuffle;    // 0: every epoch in dataset order
} DsIterState;

typedef struct {
    DsIterState st;
    int64_t *order;       // (n) the current epoch's permutation
    int64_t order_epoch;  // the epoch `order` was built for (-1: none)
} DsIter;

int ds_iter_init(DsIter *it, int64_t n, uint64_t seed, int shuffle);
void ds_iter_free(DsIter *it);
// The next example index; moves to the next epoch (new order) after n of them.
int64_t ds_iter_next(DsIter *it);
// The order of one epoch (for tests and `data show`): out has n entries.
int ds_iter_epoch_order(int64_t *out, int64_t n, uint64_t seed, int64_t epoch, int shuffle);

// Restores a saved position: GRPO_EINVAL when st->n differs from the iterator's n
// (the dataset changed) or the position is out of range.
int ds_iter_restore(DsIter *it, const DsIterState *st);
// {"seed": "123", "n": 500, "epoch": 2, "index": 17, "shuffle": true}; the seed is
// a decimal string because JSON numbers lose 64-bit integers. Caller frees *json.
int ds_iter_state_to_json(const DsIterState *st, char **json);
cJSON *ds_iter_state_to_cjson(const DsIterState *st);
int ds_iter_state_from_json(const char *json, DsIterState *st);
int ds_iter_state_from_cjson(const cJSON *obj, DsIterState *st);

#endif
