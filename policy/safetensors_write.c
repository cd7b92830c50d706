// Writing safetensors checkpoints (F32 or BF16) the way Hugging Face does: __metadata__
// {"format": "pt"}, tensors contiguous in the given order, the header space-padded so the
// data area starts 8-byte aligned. Files are written to PATH.tmp, fsynced and renamed.
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/status.h"
#include "policy/safetensors.h"

uint16_t st_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u); // NaN: keep sign, force quiet
    u += 0x7fffu + ((u >> 16) & 1u); // round to nearest, ties to even (overflow rounds to inf)
    return (uint16_t)(u >> 16);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

// Checks the caller's tensors; *total gets the data-area size for `dtype`.
static int check_tensors(const char *path, const StWrite *t, int n, StDtype dtype, size_t *total) {
    if (dtype != ST_F32 && dtype != ST_BF16)
        return grpo_fail(GRPO_EINVAL, "%s: can only write F32 or BF16, not %s", path, st_dtype_name(dtype));
    if (n < 0 || (n > 0 && !t)) return grpo_fail(GRPO_EINVAL, "%s: bad tensor list (n = %d)", path, n);
    size_t sum = 0, es = st_dtype_size(dtype);
    for (int i = 0; i < n; i++) {
        const char *name = t[i].name;
        if (!name || !*name) return grpo_fail(GRPO_EINVAL, "%s: tensor %d has no name", path, i);
        if (strcmp(name, "__metadata__") == 0)
            return grpo_fail(GRPO_EINVAL, "%s: '__metadata__' is reserved and cannot name a tensor", path);
        if (t[i].ndim < 0 || t[i].ndim > 8)
            return grpo_fail(GRPO_EINVAL, "%s: tensor '%s': ndim %d (0 to 8 allowed)", path, name, t[i].ndim);
        uint64_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) {
            if (t[i].shape[d] < 0)
                return grpo_fail(GRPO_EINVAL, "%s: tensor '%s': negative dimension %lld", path, name, (long long)t[i].shape[d]);
            if (__builtin_mul_overflow(numel, (uint64_t)t[i].shape[d], &numel))
                return grpo_fail(GRPO_EINVAL, "%s: tensor '%s': shape too large", path, name);
        }
        uint64_t nb;
        if (__builtin_mul_overflow(numel, (uint64_t)es, &nb) || __builtin_add_overflow(sum, nb, &sum) || sum > (1ull << 52))
            return grpo_fail(GRPO_EINVAL, "%s: tensor '%s': checkpoint too large", path, name);
        if (numel && !t[i].data) return grpo_fail(GRPO_EINVAL, "%s: tensor '%s': NULL data", path, name);
    }
    const char **names = malloc(((size_t)n + 1) * sizeof *names);
    if (!names) return grpo_fail(GRPO_ENOMEM, "%s: out of memory", path);
    for (int i = 0; i < n; i++) names[i] = t[i].name;
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 1; i < n; i++)
        if (strcmp(names[i], names[i - 1]) == 0) {
            int rc = grpo_fail(GRPO_EINVAL, "%s: tensor '%s' given twice", path, names[i]);
            free(names);
            return rc;
        }
    free(names);
    *total = sum;
    return GRPO_OK;
}

// The header JSON, space padded to a multiple of 8 bytes.
static int build_header(const char *path, const StWrite *t, int n, StDtype dtype, const char *const *meta_kv,
                        char **out, size_t *len) {
    cJSON *root = cJSON_CreateObject(), *meta = cJSON_CreateObject();
    int rc = GRPO_OK;
    if (!root || !meta) goto oom;
    cJSON_AddItemToObject(root, "__metadata__", meta);
    if (!meta_kv) {
        if (!cJSON_AddStringToObject(meta, "format", "pt")) goto oom;
    } else {
        for (int i = 0; meta_kv[i]; i += 2) {
            if (!meta_kv[i + 1]) {
                cJSON_Delete(root);
                return grpo_fail(GRPO_EINVAL, "%s: metadata key '%s' has no value", path, meta_kv[i]);
            }
            if (!cJSON_AddStringToObject(meta, meta_kv[i], meta_kv[i + 1])) goto oom;
        }
    }
    size_t off = 0, es = st_dtype_size(dtype);
    for (int i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject(), *sh = cJSON_CreateArray(), *offs = cJSON_CreateArray();
        if (e) cJSON_AddItemToObject(root, t[i].name, e);
        if (!e || !sh || !offs) {
            cJSON_Delete(sh), cJSON_Delete(offs);
            goto oom;
        }
        cJSON_AddStringToObject(e, "dtype", st_dtype_name(dtype));
        cJSON_AddItemToObject(e, "shape", sh);
        cJSON_AddItemToObject(e, "data_offsets", offs);
        size_t nb = es;
        for (int d = 0; d < t[i].ndim; d++) {
            cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t[i].shape[d]));
            nb *= (size_t)t[i].shape[d];
        }
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + nb)));
        off += nb;
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!s) return grpo_fail(GRPO_ENOMEM, "%s: out of memory building the header", path);
    size_t sl = strlen(s), padded = (sl + 7) / 8 * 8;
    char *h = malloc(padded);
    if (!h) {
        cJSON_free(s);
        return grpo_fail(GRPO_ENOMEM, "%s: out of memory", path);
    }
    memcpy(h, s, sl);
    memset(h + sl, ' ', padded - sl);
    cJSON_free(s);
    *out = h, *len = padded;
    return rc;
oom:
    cJSON_Delete(root);
    return grpo_fail(GRPO_ENOMEM, "%s: out of memory building the header", path);
}

static int write_all(FILE *fp, const void *p, size_t n) { return fwrite(p, 1, n, fp) == n; }

static void fsync_dir_of(const char *path) {
    char *d = strdup(path);
    if (!d) return;
    char *slash = strrchr(d, '/');
    if (slash) *(slash == d ? slash + 1 : slash) = '\0';
    int fd = open(slash ? d : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd); // best effort: makes the rename durable
        close(fd);
    }
    free(d);
}

// Writes `data` (len bytes) to path atomically.
static int write_bytes_atomic(const char *path, const char *data, size_t len) {
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 5);
    if (!tmp) return grpo_fail(GRPO_ENOMEM, "%s: out of memory", path);
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmp", 5);
    FILE *fp = fopen(tmp, "wb");
    int ok = fp && write_all(fp, data, len) && fflush(fp) == 0 && fsync(fileno(fp)) == 0;
    int e = errno;
    if (fp && fclose(fp) != 0 && ok) ok = 0, e = errno;
    if (ok && rename(tmp, path) != 0) ok = 0, e = errno;
    if (!ok) {
        unlink(tmp);
        free(tmp);
        return grpo_fail(GRPO_EIO, "%s: cannot write: %s", path, strerror(e));
    }
    free(tmp);
    fsync_dir_of(path);
    return GRPO_OK;
}

int st_save(const char *path, const StWrite *t, int n, StDtype dtype, const char *const *meta_kv) {
    if (!path) return grpo_fail(GRPO_EINVAL, "st_save: NULL path");
    size_t total;
    int rc = check_tensors(path, t, n, dtype, &total);
    if (rc) return rc;
    char *hdr = NULL;
    size_t hlen = 0;
    if ((rc = build_header(path, t, n, dtype, meta_kv, &hdr, &hlen))) return rc;
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 5);
    enum { CHUNK = 1 << 16 };
    uint16_t *buf = malloc(CHUNK * sizeof *buf);
    FILE *fp = NULL;
    if (!tmp || !buf) {
        rc = grpo_fail(GRPO_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmp", 5);
    fp = fopen(tmp, "wb");
    if (!fp) {
        rc = grpo_fail(GRPO_EIO, "%s: cannot create: %s", tmp, strerror(errno));
        goto done;
    }
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    int ok = write_all(fp, len8, 8) && write_all(fp, hdr, hlen);
    for (int i = 0; ok && i < n; i++) {
        size_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) numel *= (size_t)t[i].shape[d];
        if (dtype == ST_F32) {
            ok = write_all(fp, t[i].data, numel * 4); // little-endian host (checked in safetensors.c)
            continue;
        }
        for (size_t k = 0; ok && k < numel; k += CHUNK) {
            size_t m = numel - k < CHUNK ? numel - k : CHUNK;
            for (size_t j = 0; j < m; j++) buf[j] = st_f32_to_bf16(t[i].data[k + j]);
            ok = write_all(fp, buf, m * 2);
        }
    }
    ok = ok && fflush(fp) == 0 && fsync(fileno(fp)) == 0;
    int e = errno;
    if (fclose(fp) != 0 && ok) ok = 0, e = errno;
    fp = NULL;
    if (ok && rename(tmp, path) != 0) ok = 0, e = errno;
    if (!ok) {
        unlink(tmp);
        rc = grpo_fail(GRPO_EIO, "%s: cannot write: %s", path, strerror(e));
        goto done;
    }
    fsync_dir_of(path);
done:
    free(hdr), free(tmp), free(buf);
    return rc;
}

// ---------------------------------------------------------------- sharded

// model-00001-of-00004.safetensors
static int is_shard_name(const char *s) {
    unsigned a, b;
    int end = 0;
    return sscanf(s, "model-%5u-of-%5u.safetensors%n", &a, &b, &end) == 2 && end > 0 && s[end] == '\0' &&
           strlen(s) == strlen("model-00001-of-00001.safetensors");
}

// Removes shard files of an earlier save that are not among the `keep` first of n_keep.
static void remove_stale_shards(const char *dir, int n_keep) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    char keep_suffix[32], path[4096];
    snprintf(keep_suffix, sizeof keep_suffix, "-of-%05d.safetensors", n_keep);
    while ((de = readdir(d))) {
        if (!is_shard_name(de->d_name)) continue;
        if (n_keep > 1 && strstr(de->d_name, keep_suffix)) continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(d);
}

int st_save_sharded(const char *dir, const StWrite *t, int n, StDtype dtype, const char *const *meta_kv,
                    size_t max_shard_bytes, int *n_shards) {
    if (!dir) return grpo_fail(GRPO_EINVAL, "st_save_sharded: NULL directory");
    size_t total;
    int rc = check_tensors(dir, t, n, dtype, &total);
    if (rc) return rc;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) return grpo_fail(GRPO_EIO, "%s: cannot create: %s", dir, strerror(errno));
    if (strlen(dir) > 4000) return grpo_fail(GRPO_EINVAL, "%s: path too long", dir);
    char path[4096], idx[4096], single[4096];
    snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", dir);
    snprintf(single, sizeof single, "%s/model.safetensors", dir);
    size_t es = st_dtype_size(dtype);
    int *shard_of = malloc(((size_t)n + 1) * sizeof *shard_of), ns = 0;
    if (!shard_of) return grpo_fail(GRPO_ENOMEM, "%s: out of memory", dir);
    size_t cur = 0;
    for (int i = 0; i < n; i++) {
        size_t nb = es;
        for (int d = 0; d < t[i].ndim; d++) nb *= (size_t)t[i].shape[d];
        if (ns == 0 || (max_shard_bytes && nb > 0 && cur > 0 && cur + nb > max_shard_bytes)) ns++, cur = 0;
        shard_of[i] = ns - 1;
        cur += nb;
    }
    if (ns <= 1) {
        rc = st_save(single, t, n, dtype, meta_kv);
        if (!rc) {
            unlink(idx);
            remove_stale_shards(dir, 1);
        }
        if (n_shards && !rc) *n_shards = 1;
        free(shard_of);
        return rc;
    }
    cJSON *root = cJSON_CreateObject(), *md = cJSON_CreateObject(), *wm = cJSON_CreateObject();
    if (!root || !md || !wm) {
        cJSON_Delete(root), cJSON_Delete(md), cJSON_Delete(wm);
        free(shard_of);
        return grpo_fail(GRPO_ENOMEM, "%s: out of memory", dir);
    }
    cJSON_AddItemToObject(root, "metadata", md);
    cJSON_AddItemToObject(root, "weight_map", wm);
    cJSON_AddNumberToObject(md, "total_size", (double)total);
    for (int s = 0, i = 0; s < ns && !rc; s++) {
        int first = i;
        while (i < n && shard_of[i] == s) i++;
        char name[64];
        snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", s + 1, ns);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        rc = st_save(path, t + first, i - first, dtype, meta_kv);
        for (int k = first; k < i && !rc; k++)
            if (!cJSON_AddStringToObject(wm, t[k].name, name)) rc = grpo_fail(GRPO_ENOMEM, "%s: out of memory", dir);
    }
    free(shard_of);
    char *text = rc ? NULL : cJSON_Print(root);
    cJSON_Delete(root);
    if (rc) return rc;
    if (!text) return grpo_fail(GRPO_ENOMEM, "%s: out of memory", dir);
    rc = write_bytes_atomic(idx, text, strlen(text));
    cJSON_free(text);
    if (rc) return rc;
    unlink(single);
    remove_stale_shards(dir, ns);
    if (n_shards) *n_shards = ns;
    return GRPO_OK;
}
