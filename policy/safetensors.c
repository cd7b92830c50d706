// Reading safetensors: header validation, mmap, shard indexes, dtype conversion.
// Layout of a file: u64 little-endian N, N bytes of JSON header (space padded), then the
// data area; each tensor's "data_offsets" [begin, end) are relative to the data area.
#include "policy/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/fileio.h"
#include "kernels/status.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host"
#endif

#define ST_MAX_HEADER (100u * 1024u * 1024u) // real headers are < 1 MB; this stops absurd lengths
#define ST_MAX_INDEX (64u * 1024u * 1024u)
#define ST_MAX_INT ((double)(1ull << 53))    // JSON numbers are doubles in cJSON

typedef struct {
    char *path;
    const uint8_t *map; // the whole file, read-only
    size_t size;
    size_t data_off;    // 8 + header length
} StFile;

typedef struct {
    StTensorInfo info; // first member: st_info hands out &entry->info
    int file;
    size_t begin;      // relative to the data area
} StEntry;

struct SafeTensors {
    char *path;
    StFile *files;
    int nfiles;
    StEntry *e;
    int n, cap;
    int *by_name;      // entry indices sorted by name, for st_find
    char **meta;       // key0, value0, key1, value1, ...
    int nmeta;
};

static const struct {
    const char *name;
    StDtype dtype;
    size_t size;
} g_dtypes[] = {
    {"F32", ST_F32, 4}, {"F16", ST_F16, 2}, {"BF16", ST_BF16, 2}, {"F64", ST_F64, 8},
    {"I64", ST_I64, 8}, {"I32", ST_I32, 4}, {"I16", ST_I16, 2}, {"I8", ST_I8, 1},
    {"U8", ST_U8, 1},   {"BOOL", ST_BOOL, 1},
};
#define N_DTYPES ((int)(sizeof g_dtypes / sizeof g_dtypes[0]))

const char *st_dtype_name(StDtype d) {
    for (int i = 0; i < N_DTYPES; i++)
        if (g_dtypes[i].dtype == d) return g_dtypes[i].name;
    return "?";
}

size_t st_dtype_size(StDtype d) {
    for (int i = 0; i < N_DTYPES; i++)
        if (g_dtypes[i].dtype == d) return g_dtypes[i].size;
    return 0;
}

int64_t st_numel(const StTensorInfo *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

// ---------------------------------------------------------------- conversions

float st_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, bits;
    if (exp == 0) {
        // zero or subnormal: mant * 2^-24 is exact in f32
        float v = (float)mant * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    if (exp == 31) bits = sign | 0x7f800000u | (mant << 13); // inf, or NaN keeping its payload
    else bits = sign | ((exp + 112) << 23) | (mant << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float st_bf16_to_f32(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

// ---------------------------------------------------------------- small helpers

static char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// A JSON number that is an exact non-negative integer below 2^53.
static int json_uint(const cJSON *j, uint64_t *out) {
    if (!cJSON_IsNumber(j)) return 0;
    double d = j->valuedouble;
    if (!(d >= 0 && d <= ST_MAX_INT) || d != (double)(uint64_t)d) return 0;
    *out = (uint64_t)d;
    return 1;
}

static const StEntry *entry_of(const SafeTensors *st, const StTensorInfo *t) {
    if (!st || !t || st->n == 0) return NULL;
    uintptr_t p = (uintptr_t)t, lo = (uintptr_t)st->e, hi = (uintptr_t)(st->e + st->n);
    if (p < lo || p >= hi || (p - lo) % sizeof(StEntry) != 0) return NULL;
    return (const StEntry *)t;
}

static int push_entry(SafeTensors *st, StEntry **slot) {
    if (st->n == st->cap) {
        int cap = st->cap ? st->cap * 2 : 64;
        StEntry *e = realloc(st->e, (size_t)cap * sizeof *e);
        if (!e) return grpo_fail(GRPO_ENOMEM, "out of memory reading safetensors header");
        st->e = e, st->cap = cap;
    }
    *slot = &st->e[st->n++];
    memset(*slot, 0, sizeof **slot);
    return GRPO_OK;
}

// ---------------------------------------------------------------- one tensor entry

static void shape_str(char *buf, size_t n, const StTensorInfo *t) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < t->ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

static int parse_tensor(const char *path, const cJSON *j, size_t data_size, StEntry *e) {
    const char *name = j->string;
    if (!cJSON_IsObject(j))
        return grpo_fail(GRPO_EFORMAT, "%s: tensor '%s': header entry is not a JSON object", path, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(j, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(j, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(j, "data_offsets");
    if (!cJSON_IsString(dt))
        return grpo_fail(GRPO_EFORMAT, "%s: tensor '%s': missing or non-string \"dtype\"", path, name);
    int d = -1;
    for (int i = 0; i < N_DTYPES; i++)
        if (strcmp(dt->valuestring, g_dtypes[i].name) == 0) d = i;
    if (d < 0)
        return grpo_fail(GRPO_EFORMAT, "%s: tensor '%s': unknown or unsupported dtype '%s' (known: F32 F16 BF16 F64 I64 I32 I16 I8 U8 BOOL)",
                         path, name, dt->valuestring);
    e->info.dtype = g_dtypes[d].dtype;
    if (!cJSON_IsArray(sh))
        return grpo_fail(GRPO_EFORMAT, "%s: tensor '%s': missing or non-array \"shape\"", path, name);
    int ndim = cJSON_GetArraySize(sh);
    if (ndim > 8)
        return grpo_fail(GRPO_EFORMAT, "%s: tensor '%s': shape has %d dimensions (at most 8 supported)", path, name, ndim);
    e->info.ndim = ndim;
    uint64_t numel = 1;
    int overflow = 0, k = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, sh) {
        uint64_t v;
        if (!json_uint(x, &v))
            return grpo_fail(GRPO_EFORMAT, "%s: tensor '%s': shape entry %d is not a non-negative integer", path, name, k);
        e->info.shape[k++] = (int64_t)v;
        if (__builtin_mul_overflow(numel, v, &numel)) overflow = 1;
    }
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2)
        return grpo_fail(GRPO_EFORMAT, "%s: tensor '%s': \"data_offsets\" must be an array [begin, end]", path, name);
    uint64_t b, en;
    if (!json_uint(cJSON_GetArrayItem(off, 0), &b) || !json_uint(cJSON_GetArrayItem(off, 1), &en))
        return grpo_fail(GRPO_EFORMAT, "%s: tensor '%s': \"data_offsets\" must hold two non-negative integers", path, name);
    if (b > en)
        return grpo_fail(GRPO_EFORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] end before they begin", path, name,
                         (unsigned long long)b, (unsigned long long)en);
    uint64_t need;
    char shp[256];
    shape_str(shp, sizeof shp, &e->info);
    if (overflow || __builtin_mul_overflow(numel, (uint64_t)g_dtypes[d].size, &need) || need != en - b)
        return grpo_fail(GRPO_EFORMAT, "%s: tensor '%s': shape %s of %s needs %s%llu bytes but data_offsets [%llu, %llu] hold %llu",
                         path, name, shp, g_dtypes[d].name, overflow ? "over " : "",
                         overflow ? (unsigned long long)UINT64_MAX : (unsigned long long)need,
                         (unsigned long long)b, (unsigned long long)en, (unsigned long long)(en - b));
    if (en > data_size)
        return grpo_fail(GRPO_EFORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] run past the end of the file (%zu bytes of data after the header)",
                         path, name, (unsigned long long)b, (unsigned long long)en, data_size);
    e->begin = (size_t)b;
    e->info.nbytes = (size_t)need;
    return GRPO_OK;
}

static int cmp_begin(const void *a, const void *b) {
    const StEntry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->info.nbytes < y->info.nbytes ? -1 : x->info.nbytes > y->info.nbytes;
}

// ---------------------------------------------------------------- one file

static int store_metadata(SafeTensors *st, const char *path, const cJSON *m) {
    if (!cJSON_IsObject(m))
        return grpo_fail(GRPO_EFORMAT, "%s: \"__metadata__\" is not a JSON object", path);
    int n = cJSON_GetArraySize(m);
    st->meta = calloc((size_t)n * 2 + 1, sizeof *st->meta);
    if (!st->meta) return grpo_fail(GRPO_ENOMEM, "%s: out of memory", path);
    const cJSON *x;
    cJSON_ArrayForEach(x, m) {
        if (!cJSON_IsString(x))
            return grpo_fail(GRPO_EFORMAT, "%s: \"__metadata__\" entry '%s' is not a string", path, x->string);
        char *k = xstrdup(x->string), *v = xstrdup(x->valuestring);
        st->meta[2 * st->nmeta] = k, st->meta[2 * st->nmeta + 1] = v;
        st->nmeta++;
        if (!k || !v) return grpo_fail(GRPO_ENOMEM, "%s: out of memory", path);
    }
    return GRPO_OK;
}

// Maps `path`, validates its header and appends its tensors (sorted by offset) to st.
static int open_file(SafeTensors *st, const char *path, int want_meta) {
    StFile *f = &st->files[st->nfiles];
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return grpo_fail(GRPO_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return grpo_fail(GRPO_EIO, "%s: not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    uint8_t len8[8];
    if (size < 8) {
        close(fd);
        return grpo_fail(GRPO_EFORMAT, "%s: file is %zu bytes, too short for the 8-byte header length", path, size);
    }
    if (pread(fd, len8, 8, 0) != 8) {
        close(fd);
        return grpo_fail(GRPO_EIO, "%s: cannot read: %s", path, strerror(errno));
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | len8[i];
    if (hlen > size - 8) {
        close(fd);
        return grpo_fail(GRPO_EFORMAT, "%s: header length %llu runs past the end of the file (%zu bytes); truncated or not a safetensors file",
                         path, (unsigned long long)hlen, size);
    }
    if (hlen > ST_MAX_HEADER || hlen < 2) {
        close(fd);
        return grpo_fail(GRPO_EFORMAT, "%s: header length %llu is not plausible (2 bytes to 100 MB)", path, (unsigned long long)hlen);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return grpo_fail(GRPO_EIO, "%s: cannot map: %s", path, strerror(errno));
    f->map = map, f->size = size, f->data_off = 8 + (size_t)hlen;
    f->path = xstrdup(path);
    st->nfiles++; // from here st_close unmaps it
    if (!f->path) return grpo_fail(GRPO_ENOMEM, "%s: out of memory", path);

    // cJSON wants a NUL-terminated string; the header is not one.
    char *hdr = malloc((size_t)hlen + 1);
    if (!hdr) return grpo_fail(GRPO_ENOMEM, "%s: out of memory for a %llu-byte header", path, (unsigned long long)hlen);
    memcpy(hdr, f->map + 8, (size_t)hlen);
    hdr[hlen] = '\0';
    size_t p0 = 0;
    while (p0 < hlen && is_space(hdr[p0])) p0++;
    if (p0 == hlen || hdr[p0] != '{') {
        free(hdr);
        return grpo_fail(GRPO_EFORMAT, "%s: header does not start with a JSON object ('{'); not a safetensors file?", path);
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(hdr, &end, 0);
    size_t endpos = end ? (size_t)(end - hdr) : 0, bad = (size_t)hlen;
    if (root)
        for (size_t p = endpos; p < hlen && bad == hlen; p++)
            if (!is_space(hdr[p])) bad = p;
    unsigned char badc = bad < hlen ? (unsigned char)hdr[bad] : 0;
    free(hdr);
    if (!root)
        return grpo_fail(GRPO_EFORMAT, "%s: header is not valid JSON (error near byte %zu of the %llu-byte header)",
                         path, endpos, (unsigned long long)hlen);
    if (bad < hlen) {
        cJSON_Delete(root);
        return grpo_fail(GRPO_EFORMAT, "%s: unexpected byte 0x%02x after the header JSON (at header byte %zu)", path,
                         badc, bad);
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return grpo_fail(GRPO_EFORMAT, "%s: header is not a JSON object", path);
    }
    int first = st->n, rc = GRPO_OK;
    size_t data_size = size - f->data_off;
    const cJSON *j;
    cJSON_ArrayForEach(j, root) {
        if (strcmp(j->string, "__metadata__") == 0) {
            if (want_meta && !st->meta) rc = store_metadata(st, path, j);
            else if (!cJSON_IsObject(j)) rc = grpo_fail(GRPO_EFORMAT, "%s: \"__metadata__\" is not a JSON object", path);
            if (rc) break;
            continue;
        }
        StEntry *e = NULL;
        if ((rc = push_entry(st, &e))) break;
        e->file = st->nfiles - 1;
        if ((rc = parse_tensor(path, j, data_size, e))) break;
        if (!(e->info.name = xstrdup(j->string))) {
            rc = grpo_fail(GRPO_ENOMEM, "%s: out of memory", path);
            break;
        }
    }
    cJSON_Delete(root);
    if (rc) return rc;
    // Overlaps: after sorting by offset each non-empty tensor must start at or after
    // the end of the previous non-empty one.
    if (st->n - first > 1) qsort(st->e + first, (size_t)(st->n - first), sizeof *st->e, cmp_begin);
    const StEntry *prev = NULL;
    for (int i = first; i < st->n; i++) {
        const StEntry *e = &st->e[i];
        if (e->info.nbytes == 0) continue;
        if (prev && e->begin < prev->begin + prev->info.nbytes)
            return grpo_fail(GRPO_EFORMAT, "%s: tensor '%s': data_offsets [%zu, %zu] overlap tensor '%s' [%zu, %zu]", path,
                             e->info.name, e->begin, e->begin + e->info.nbytes, prev->info.name, prev->begin,
                             prev->begin + prev->info.nbytes);
        prev = e;
    }
    return GRPO_OK;
}

// ---------------------------------------------------------------- shard index

typedef struct {
    const char *name, *shard;
    int found;
} IndexItem;

static int cmp_item(const void *a, const void *b) { return strcmp(((const IndexItem *)a)->name, ((const IndexItem *)b)->name); }

// Shards live inside the model directory: no absolute paths, no ".." components.
static int safe_shard_name(const char *s) {
    if (!*s || s[0] == '/') return 0;
    for (const char *p = s; p; p = strchr(p, '/'), p = p ? p + 1 : NULL)
        if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || p[2] == '\0')) return 0;
    return 1;
}

static int open_index(SafeTensors *st, const char *path) {
    char *text = NULL;
    int rc = grpo_read_file(path, ST_MAX_INDEX, &text, NULL);
    if (rc) return rc;
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root) return grpo_fail(GRPO_EFORMAT, "%s: not valid JSON", path);
    IndexItem *items = NULL;
    const char **shards = NULL;
    char *full = NULL;
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(root) || !cJSON_IsObject(wm)) {
        rc = grpo_fail(GRPO_EFORMAT, "%s: no \"weight_map\" object; not a model.safetensors.index.json?", path);
        goto done;
    }
    int n = cJSON_GetArraySize(wm), ni = 0, nshards = 0;
    items = calloc((size_t)n + 1, sizeof *items);
    shards = calloc((size_t)n + 1, sizeof *shards);
    size_t dlen = strrchr(path, '/') ? (size_t)(strrchr(path, '/') - path) + 1 : 0;
    full = malloc(dlen + 4096);
    if (!items || !shards || !full) {
        rc = grpo_fail(GRPO_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    const cJSON *x;
    cJSON_ArrayForEach(x, wm) {
        if (!cJSON_IsString(x)) {
            rc = grpo_fail(GRPO_EFORMAT, "%s: weight_map entry for tensor '%s' is not a file name", path, x->string);
            goto done;
        }
        if (!safe_shard_name(x->valuestring) || strlen(x->valuestring) >= 4000) {
            rc = grpo_fail(GRPO_EFORMAT, "%s: tensor '%s': shard name '%s' must be a relative path inside the model directory",
                           path, x->string, x->valuestring);
            goto done;
        }
        items[ni].name = x->string, items[ni].shard = x->valuestring, ni++;
        int k = 0;
        while (k < nshards && strcmp(shards[k], x->valuestring) != 0) k++;
        if (k == nshards) shards[nshards++] = x->valuestring;
    }
    if (ni == 0) {
        rc = grpo_fail(GRPO_EFORMAT, "%s: weight_map is empty", path);
        goto done;
    }
    qsort(items, (size_t)ni, sizeof *items, cmp_item);
    for (int i = 1; i < ni; i++)
        if (strcmp(items[i].name, items[i - 1].name) == 0) {
            rc = grpo_fail(GRPO_EFORMAT, "%s: weight_map lists tensor '%s' twice", path, items[i].name);
            goto done;
        }
    st->files = calloc((size_t)nshards, sizeof *st->files);
    if (!st->files) {
        rc = grpo_fail(GRPO_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    for (int s = 0; s < nshards; s++) {
        memcpy(full, path, dlen);
        strcpy(full + dlen, shards[s]);
        int first = st->n;
        if ((rc = open_file(st, full, s == 0))) {
            grpo_wrap(rc, "%s names shard %s: ", path, shards[s]);
            goto done;
        }
        for (int i = first; i < st->n; i++) {
            IndexItem key = {st->e[i].info.name, NULL, 0};
            IndexItem *it = bsearch(&key, items, (size_t)ni, sizeof *items, cmp_item);
            if (!it) {
                rc = grpo_fail(GRPO_EFORMAT, "%s: tensor '%s' is not listed in the index %s", full, key.name, path);
                goto done;
            }
            if (strcmp(it->shard, shards[s]) != 0) {
                rc = grpo_fail(GRPO_EFORMAT, "%s: tensor '%s' is in shard %s but the index says %s", path, key.name,
                               shards[s], it->shard);
                goto done;
            }
            it->found = 1;
        }
    }
    for (int i = 0; i < ni; i++)
        if (!items[i].found) {
            rc = grpo_fail(GRPO_EFORMAT, "%s: tensor '%s': the index puts it in shard %s, which has no such tensor", path,
                           items[i].name, items[i].shard);
            goto done;
        }
done:
    free(items), free(shards), free(full);
    cJSON_Delete(root);
    return rc;
}

// ---------------------------------------------------------------- open / close

static _Thread_local const SafeTensors *t_sort_st; // qsort has no context argument

static int cmp_by_name(const void *a, const void *b) {
    return strcmp(t_sort_st->e[*(const int *)a].info.name, t_sort_st->e[*(const int *)b].info.name);
}

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static int file_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

int st_open(const char *path, SafeTensors **out) {
    if (!path || !out) return grpo_fail(GRPO_EINVAL, "st_open: NULL argument");
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0) return grpo_fail(GRPO_EIO, "%s: cannot open: %s", path, strerror(errno));
    SafeTensors *st = calloc(1, sizeof *st);
    char *pick = NULL;
    int rc = GRPO_OK, index = 0;
    if (!st || !(st->path = xstrdup(path))) {
        free(st);
        return grpo_fail(GRPO_ENOMEM, "%s: out of memory", path);
    }
    if (S_ISDIR(sb.st_mode)) {
        size_t n = strlen(path) + 64;
        if (!(pick = malloc(n))) {
            rc = grpo_fail(GRPO_ENOMEM, "%s: out of memory", path);
            goto fail;
        }
        snprintf(pick, n, "%s/model.safetensors", path);
        if (!file_exists(pick)) {
            snprintf(pick, n, "%s/model.safetensors.index.json", path);
            index = 1;
            if (!file_exists(pick)) {
                rc = grpo_fail(GRPO_EIO, "%s: directory holds neither model.safetensors nor model.safetensors.index.json", path);
                goto fail;
            }
        }
    } else {
        index = ends_with(path, ".json");
    }
    const char *p = pick ? pick : path;
    if (index) {
        rc = open_index(st, p);
    } else {
        st->files = calloc(1, sizeof *st->files);
        rc = st->files ? open_file(st, p, 1) : grpo_fail(GRPO_ENOMEM, "%s: out of memory", p);
    }
    if (rc) goto fail;
    st->by_name = malloc(((size_t)st->n + 1) * sizeof *st->by_name);
    if (!st->by_name) {
        rc = grpo_fail(GRPO_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    for (int i = 0; i < st->n; i++) st->by_name[i] = i;
    t_sort_st = st;
    qsort(st->by_name, (size_t)st->n, sizeof *st->by_name, cmp_by_name);
    for (int i = 1; i < st->n; i++) {
        const StEntry *a = &st->e[st->by_name[i - 1]], *b = &st->e[st->by_name[i]];
        if (strcmp(a->info.name, b->info.name) == 0) {
            rc = grpo_fail(GRPO_EFORMAT, "%s: tensor '%s' appears twice (in %s and %s)", p, a->info.name,
                           st->files[a->file].path, st->files[b->file].path);
            goto fail;
        }
    }
    free(pick);
    *out = st;
    return GRPO_OK;
fail:
    free(pick);
    st_close(st);
    return rc;
}

void st_close(SafeTensors *st) {
    if (!st) return;
    for (int i = 0; i < st->nfiles; i++) {
        if (st->files[i].map) munmap((void *)st->files[i].map, st->files[i].size);
        free(st->files[i].path);
    }
    for (int i = 0; i < st->n; i++) free((char *)st->e[i].info.name);
    for (int i = 0; i < 2 * st->nmeta; i++) free(st->meta[i]);
    free(st->meta), free(st->files), free(st->e), free(st->by_name), free(st->path);
    free(st);
}

// ---------------------------------------------------------------- queries

int st_count(const SafeTensors *st) { return st ? st->n : 0; }

const StTensorInfo *st_info(const SafeTensors *st, int i) {
    return st && i >= 0 && i < st->n ? &st->e[i].info : NULL;
}

const StTensorInfo *st_find(const SafeTensors *st, const char *name) {
    if (!st || !name) return NULL;
    int lo = 0, hi = st->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(st->e[st->by_name[mid]].info.name, name);
        if (c == 0) return &st->e[st->by_name[mid]].info;
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

const char *st_metadata(const SafeTensors *st, const char *key) {
    if (!st || !key) return NULL;
    for (int i = 0; i < st->nmeta; i++)
        if (strcmp(st->meta[2 * i], key) == 0) return st->meta[2 * i + 1];
    return NULL;
}

int st_metadata_count(const SafeTensors *st) { return st ? st->nmeta : 0; }
const char *st_metadata_key(const SafeTensors *st, int i) { return st && i >= 0 && i < st->nmeta ? st->meta[2 * i] : NULL; }
const char *st_metadata_value(const SafeTensors *st, int i) { return st && i >= 0 && i < st->nmeta ? st->meta[2 * i + 1] : NULL; }

const char *st_path(const SafeTensors *st) { return st ? st->path : NULL; }

const char *st_tensor_path(const SafeTensors *st, const StTensorInfo *t) {
    const StEntry *e = entry_of(st, t);
    return e ? st->files[e->file].path : NULL;
}

const void *st_raw(const SafeTensors *st, const StTensorInfo *t) {
    const StEntry *e = entry_of(st, t);
    if (!e) return NULL;
    const StFile *f = &st->files[e->file];
    return f->map + f->data_off + e->begin;
}

int st_read_f32(const SafeTensors *st, const StTensorInfo *t, float *dst) {
    const StEntry *e = entry_of(st, t);
    if (!e) return grpo_fail(GRPO_EINVAL, "st_read_f32: tensor '%s' does not belong to %s", t && t->name ? t->name : "?",
                             st && st->path ? st->path : "this checkpoint");
    const StFile *f = &st->files[e->file];
    const uint8_t *src = f->map + f->data_off + e->begin;
    size_t n = (size_t)st_numel(t);
    if (n && !dst) return grpo_fail(GRPO_EINVAL, "%s: tensor '%s': NULL destination", f->path, t->name);
    if (n == 0 && t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16)
        return grpo_fail(GRPO_EUNSUPPORTED, "%s: tensor '%s': dtype %s cannot be read as floats (F32, F16 or BF16 only)",
                         f->path, t->name, st_dtype_name(t->dtype));
    if (n == 0) return GRPO_OK; // an empty tensor: nothing to copy (dst may be NULL)
    switch (t->dtype) {
    case ST_F32: memcpy(dst, src, n * 4); break;
    case ST_BF16:
#pragma omp parallel for if (n > (1u << 18)) schedule(static)
        for (size_t i = 0; i < n; i++) dst[i] = st_bf16_to_f32((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
        break;
    case ST_F16:
#pragma omp parallel for if (n > (1u << 18)) schedule(static)
        for (size_t i = 0; i < n; i++) dst[i] = st_f16_to_f32((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
        break;
    default:
        return grpo_fail(GRPO_EUNSUPPORTED, "%s: tensor '%s': dtype %s cannot be read as floats (F32, F16 or BF16 only)",
                         f->path, t->name, st_dtype_name(t->dtype));
    }
    return GRPO_OK;
}
