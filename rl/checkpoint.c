#include "rl/checkpoint.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/fileio.h"
#include "kernels/status.h"
#include "policy/safetensors.h"

void ckpt_dir(char *buf, size_t n, const char *out_dir, long step) {
    snprintf(buf, n, "%s/checkpoints/step-%06ld", out_dir, step);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    return remove(path);
}

int ckpt_remove_tree(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return GRPO_OK;
    if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0) return grpo_fail(GRPO_EIO, "%s: cannot remove: %s", path, strerror(errno));
    return GRPO_OK;
}

static int cmp_long(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

// Steps of the complete checkpoints under out_dir, ascending.
static int list_steps(const char *out_dir, long **steps, int *n) {
    char root[4096];
    snprintf(root, sizeof root, "%s/checkpoints", out_dir);
    *steps = NULL;
    *n = 0;
    DIR *d = opendir(root);
    if (!d) return GRPO_OK;
    struct dirent *e;
    int cap = 0;
    while ((e = readdir(d))) {
        long s;
        char tail;
        if (sscanf(e->d_name, "step-%ld%c", &s, &tail) != 1) continue; // skips step-N.tmp
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            long *g = realloc(*steps, (size_t)cap * sizeof(long));
            if (!g) {
                closedir(d);
                return grpo_fail(GRPO_ENOMEM, "out of memory");
            }
            *steps = g;
        }
        (*steps)[(*n)++] = s;
    }
    closedir(d);
    qsort(*steps, (size_t)*n, sizeof(long), cmp_long);
    return GRPO_OK;
}

// The moments live in backend memory: a device backend's are copied to the
// host first (the CPU backend's are host memory already).
static int save_moments(const char *dir, const AdamW *opt) {
    Backend *be = opt->be;
    const float *m = opt->m, *v = opt->v;
    float *host = NULL;
    int st = GRPO_OK;
    if (be->kind != BACKEND_CPU) {
        if (!(host = malloc((opt->n ? opt->n : 1) * 2 * sizeof(float))))
            return grpo_fail(GRPO_ENOMEM, "optimizer state: out of host memory for %zu parameters", opt->n);
        st = be->to_host(be, host, opt->m, opt->n * sizeof(float));
        if (!st) st = be->to_host(be, host + opt->n, opt->v, opt->n * sizeof(float));
        m = host, v = host + opt->n;
    }
    if (!st) {
        StWrite t[2] = {{"adamw.exp_avg", m, 1, {(int64_t)opt->n}}, {"adamw.exp_avg_sq", v, 1, {(int64_t)opt->n}}};
        char steps[32], path[4400];
        snprintf(steps, sizeof steps, "%ld", opt->t);
        const char *meta[] = {"format", "grpo-optimizer", "adamw_step", steps, NULL};
        snprintf(path, sizeof path, "%s/optimizer.safetensors", dir);
        st = st_save(path, t, 2, ST_F32, meta);
    }
    free(host);
    return st;
}

int ckpt_save(const char *out_dir, long step, const Model *m, const AdamW *opt, const char *state_json,
              const char *tokenizer_dir, int keep) {
    char final[4096], tmp[4200], path[4400];
    ckpt_dir(final, sizeof final, out_dir, step);
    snprintf(tmp, sizeof tmp, "%s.tmp", final);
    ckpt_remove_tree(tmp);
    int st = grpo_mkdirs(tmp);
    if (!st) st = model_save(m, tmp, ST_F32, tokenizer_dir);
    if (!st && opt) st = save_moments(tmp, opt);
    if (!st && state_json) {
        snprintf(path, sizeof path, "%s/trainer_state.json", tmp);
        st = grpo_write_file_atomic(path, state_json, strlen(state_json));
    }
    if (!st) {
        ckpt_remove_tree(final); // a checkpoint of the same step from an earlier, abandoned attempt
        if (rename(tmp, final) != 0) st = grpo_fail(GRPO_EIO, "%s: cannot rename into place: %s", final, strerror(errno));
    }
    if (st) {
        ckpt_remove_tree(tmp);
        return grpo_wrap(st, "checkpoint %ld: ", step);
    }
    long *steps = NULL;
    int n = 0;
    if (keep > 0 && list_steps(out_dir, &steps, &n) == GRPO_OK) {
        for (int i = 0; i + keep < n; i++) {
            char old[4096];
            ckpt_dir(old, sizeof old, out_dir, steps[i]);
            ckpt_remove_tree(old);
        }
    }
    free(steps);
    return GRPO_OK;
}

int ckpt_latest(const char *out_dir, char *path, size_t n, long *step) {
    long *steps = NULL;
    int count = 0;
    int st = list_steps(out_dir, &steps, &count);
    if (st) return st;
    if (count == 0) {
        free(steps);
        return grpo_fail(GRPO_EIO, "%s: no checkpoint to resume from (expected %s/checkpoints/step-N/)", out_dir, out_dir);
    }
    *step = steps[count - 1];
    ckpt_dir(path, n, out_dir, *step);
    free(steps);
    return GRPO_OK;
}

int ckpt_read_state(const char *ckpt, char **json) {
    char path[4200];
    snprintf(path, sizeof path, "%s/trainer_state.json", ckpt);
    return grpo_read_file(path, 0, json, NULL);
}

int ckpt_load_optimizer(const char *ckpt, AdamW *opt) {
    char path[4200];
    snprintf(path, sizeof path, "%s/optimizer.safetensors", ckpt);
    SafeTensors *s = NULL;
    int st = st_open(path, &s);
    if (st) return st;
    const StTensorInfo *m = st_find(s, "adamw.exp_avg"), *v = st_find(s, "adamw.exp_avg_sq");
    const char *t = st_metadata(s, "adamw_step");
    if (!m || !v || !t) st = grpo_fail(GRPO_EFORMAT, "%s: not a grpo optimizer state", path);
    else if (st_numel(m) != (int64_t)opt->n || st_numel(v) != (int64_t)opt->n)
        st = grpo_fail(GRPO_EFORMAT, "%s: moments for %lld parameters, the model has %zu", path, (long long)st_numel(m), opt->n);
    if (!st) {
        Backend *be = opt->be;
        if (be->kind == BACKEND_CPU) { // host memory: read in place
            st = st_read_f32(s, m, opt->m);
            if (!st) st = st_read_f32(s, v, opt->v);
        } else {
            float *host = malloc((opt->n ? opt->n : 1) * sizeof(float));
            if (!host) st = grpo_fail(GRPO_ENOMEM, "%s: out of host memory for %zu parameters", path, opt->n);
            if (!st) st = st_read_f32(s, m, host);
            if (!st) st = be->to_device(be, opt->m, host, opt->n * sizeof(float));
            if (!st) st = st_read_f32(s, v, host);
            if (!st) st = be->to_device(be, opt->v, host, opt->n * sizeof(float));
            free(host);
        }
    }
    if (!st) opt->t = atol(t);
    st_close(s);
    return st;
}
