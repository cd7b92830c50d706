// Epoch-wise shuffled iteration whose whole position is a small POD, so the
// trainer's checkpoint can hold it and a resumed run continues exactly.
#include "datasets/iter.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/gen.h"
#include "kernels/status.h"

int ds_iter_epoch_order(int64_t *out, int64_t n, uint64_t seed, int64_t epoch, int shuffle) {
    if (n < 0) return grpo_fail(GRPO_EINVAL, "dataset iterator: negative size %" PRId64, n);
    for (int64_t i = 0; i < n; i++) out[i] = i;
    if (!shuffle) return GRPO_OK;
    GenRng r;
    gen_rng_seed(&r, gen_mix(seed, (uint64_t)epoch));
    for (int64_t i = n - 1; i > 0; i--) { // Fisher-Yates
        int64_t j = (int64_t)gen_rng_below(&r, (uint64_t)i + 1);
        int64_t t = out[i];
        out[i] = out[j];
        out[j] = t;
    }
    return GRPO_OK;
}

int ds_iter_init(DsIter *it, int64_t n, uint64_t seed, int shuffle) {
    memset(it, 0, sizeof *it);
    if (n < 1) return grpo_fail(GRPO_EINVAL, "dataset iterator: the dataset is empty");
    it->order = malloc((size_t)n * sizeof *it->order);
    if (!it->order) return grpo_fail(GRPO_ENOMEM, "dataset iterator: out of memory for %" PRId64 " entries", n);
    it->st.seed = seed;
    it->st.n = n;
    it->st.shuffle = shuffle ? 1 : 0;
    it->order_epoch = -1;
    return GRPO_OK;
}

void ds_iter_free(DsIter *it) {
    free(it->order);
    memset(it, 0, sizeof *it);
}

int64_t ds_iter_next(DsIter *it) {
    if (!it->order || it->st.n < 1) return -1;
    if (it->st.index >= it->st.n) {
        it->st.epoch++;
        it->st.index = 0;
    }
    if (it->order_epoch != it->st.epoch) {
        ds_iter_epoch_order(it->order, it->st.n, it->st.seed, it->st.epoch, it->st.shuffle);
        it->order_epoch = it->st.epoch;
    }
    return it->order[it->st.index++];
}

int ds_iter_restore(DsIter *it, const DsIterState *st) {
    if (st->n != it->st.n)
        return grpo_fail(GRPO_EINVAL, "dataset position was saved for %" PRId64 " examples but the dataset has %" PRId64
                                      " (did the data change?)", st->n, it->st.n);
    if (st->epoch < 0 || st->index < 0 || st->index > st->n)
        return grpo_fail(GRPO_EINVAL, "dataset position out of range: epoch %" PRId64 ", index %" PRId64 " of %" PRId64,
                         st->epoch, st->index, st->n);
    it->st = *st;
    it->order_epoch = -1;
    return GRPO_OK;
}

cJSON *ds_iter_state_to_cjson(const DsIterState *st) {
    char seed[32];
    snprintf(seed, sizeof seed, "%" PRIu64, st->seed);
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "seed", seed) || !cJSON_AddNumberToObject(o, "n", (double)st->n) ||
        !cJSON_AddNumberToObject(o, "epoch", (double)st->epoch) ||
        !cJSON_AddNumberToObject(o, "index", (double)st->index) || !cJSON_AddBoolToObject(o, "shuffle", st->shuffle)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

int ds_iter_state_to_json(const DsIterState *st, char **json) {
    cJSON *o = ds_iter_state_to_cjson(st);
    *json = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return *json ? GRPO_OK : grpo_fail(GRPO_ENOMEM, "out of memory");
}

static int get_i64(const cJSON *obj, const char *key, int64_t *dst) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    // Exact integers only: JSON numbers are doubles, exact up to 2^53.
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int64_t)v->valuedouble || v->valuedouble < 0 ||
        v->valuedouble > 9007199254740992.0)
        return grpo_fail(GRPO_EFORMAT, "dataset position: \"%s\" must be a non-negative integer", key);
    *dst = (int64_t)v->valuedouble;
    return GRPO_OK;
}

int ds_iter_state_from_cjson(const cJSON *obj, DsIterState *st) {
    if (!cJSON_IsObject(obj)) return grpo_fail(GRPO_EFORMAT, "dataset position: expected a JSON object");
    DsIterState s = {0};
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(obj, "seed");
    if (cJSON_IsString(seed)) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(seed->valuestring, &end, 10);
        if (!seed->valuestring[0] || *end || errno || seed->valuestring[0] == '-')
            return grpo_fail(GRPO_EFORMAT, "dataset position: \"seed\" \"%s\" is not an unsigned integer", seed->valuestring);
        s.seed = v;
    } else {
        int64_t v = 0;
        if (get_i64(obj, "seed", &v)) return grpo_fail(GRPO_EFORMAT, "dataset position: \"seed\" must be an unsigned integer string");
        s.seed = (uint64_t)v;
    }
    int rc;
    if ((rc = get_i64(obj, "n", &s.n)) || (rc = get_i64(obj, "epoch", &s.epoch)) || (rc = get_i64(obj, "index", &s.index)))
        return rc;
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(obj, "shuffle");
    if (sh && !cJSON_IsBool(sh)) return grpo_fail(GRPO_EFORMAT, "dataset position: \"shuffle\" must be true or false");
    s.shuffle = sh ? cJSON_IsTrue(sh) : 1;
    if (s.index > s.n) return grpo_fail(GRPO_EFORMAT, "dataset position: index %" PRId64 " > n %" PRId64, s.index, s.n);
    *st = s;
    return GRPO_OK;
}

int ds_iter_state_from_json(const char *json, DsIterState *st) {
    cJSON *o = cJSON_Parse(json ? json : "");
    if (!o) return grpo_fail(GRPO_EFORMAT, "dataset position: invalid JSON");
    int rc = ds_iter_state_from_cjson(o, st);
    cJSON_Delete(o);
    return rc;
}
