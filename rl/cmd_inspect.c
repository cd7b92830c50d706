// `grpo inspect`: what a checkpoint holds (tensors, dtypes, shapes, bytes, metadata), and
// with --stats whether any tensor holds NaN or inf -- the first thing to look at when a
// model fails to load or a run diverges.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/status.h"
#include "policy/safetensors.h"
#include "rl/cli.h"

typedef struct {
    double min, max, mean, rms;
    long long nan, inf;
    int ok; // 0 when the dtype is not a float type
} Stats;

static int tensor_stats(const SafeTensors *st, const StTensorInfo *t, Stats *s) {
    memset(s, 0, sizeof *s);
    if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16) return GRPO_OK;
    size_t n = (size_t)st_numel(t);
    float *v = malloc((n + 1) * sizeof *v);
    if (!v) return grpo_fail(GRPO_ENOMEM, "tensor '%s': out of memory for %zu values", t->name, n);
    int rc = st_read_f32(st, t, v);
    if (rc) {
        free(v);
        return rc;
    }
    double sum = 0, sq = 0;
    long long finite = 0;
    s->min = INFINITY, s->max = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        float x = v[i];
        if (isnan(x)) s->nan++;
        else if (isinf(x)) s->inf++;
        else {
            finite++, sum += x, sq += (double)x * x;
            if (x < s->min) s->min = x;
            if (x > s->max) s->max = x;
        }
    }
    if (finite) s->mean = sum / finite, s->rms = sqrt(sq / finite);
    else s->min = s->max = 0;
    s->ok = 1;
    free(v);
    return GRPO_OK;
}

// Reads a float tensor as f32 (NULL for other dtypes or on error, with *rc set).
static float *read_floats(const SafeTensors *st, const StTensorInfo *t, int *rc) {
    *rc = GRPO_OK;
    if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16) return NULL;
    size_t n = (size_t)st_numel(t);
    float *v = malloc((n + 1) * sizeof *v);
    if (!v) {
        *rc = grpo_fail(GRPO_ENOMEM, "tensor '%s': out of memory for %zu values", t->name, n);
        return NULL;
    }
    if ((*rc = st_read_f32(st, t, v))) {
        free(v);
        return NULL;
    }
    return v;
}

static int same_shape(const StTensorInfo *a, const StTensorInfo *b) {
    if (a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return 0;
    return 1;
}

// `--diff B`: tensor by tensor, as values (so an F32 and a BF16 copy compare by value).
// Prints the tensors that differ and a summary; `--json` prints one object instead.
static int diff(const SafeTensors *a, const char *pa, const char *pb, int json) {
    SafeTensors *b = NULL;
    if (st_open(pb, &b)) return GRPO_EIO;
    int same = 0, differ = 0, only_a = 0, only_b = 0, rc = GRPO_OK;
    cJSON *root = json ? cJSON_CreateObject() : NULL, *arr = json ? cJSON_CreateArray() : NULL;
    for (int i = 0; i < st_count(a) && !rc; i++) {
        const StTensorInfo *ta = st_info(a, i), *tb = st_find(b, ta->name);
        const char *what = NULL;
        char detail[256] = "";
        double maxabs = 0, maxrel = 0;
        long long ndiff = 0;
        if (!tb) what = "only in A", only_a++;
        else if (!same_shape(ta, tb)) what = "shape differs", differ++;
        else {
            int ra, rb;
            float *va = read_floats(a, ta, &ra), *vb = read_floats(b, tb, &rb);
            if ((rc = ra ? ra : rb)) {
                free(va), free(vb);
                break;
            }
            if (va && vb) {
                size_t n = (size_t)st_numel(ta);
                for (size_t k = 0; k < n; k++) {
                    if (memcmp(&va[k], &vb[k], 4) == 0) continue;
                    double d = fabs((double)va[k] - vb[k]), r = d == 0 ? 0 : d / fmax(fabs(va[k]), fabs(vb[k])); // -0 vs 0: d = 0
                    ndiff++;
                    if (!(d <= maxabs)) maxabs = d; // NaN on one side counts as the worst
                    if (!(r <= maxrel)) maxrel = r;
                }
            } else if (va || vb || ta->dtype != tb->dtype || memcmp(st_raw(a, ta), st_raw(b, tb), ta->nbytes) != 0) {
                ndiff = 1, maxabs = NAN; // integer tensors: compare bytes
            }
            free(va), free(vb);
            if (ndiff) {
                what = "values differ", differ++;
                snprintf(detail, sizeof detail, "%lld values differ, max abs %.4g, max rel %.4g", ndiff, maxabs, maxrel);
            } else same++;
        }
        if (!what) continue;
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", ta->name);
            cJSON_AddStringToObject(o, "status", what);
            if (ndiff) {
                cJSON_AddNumberToObject(o, "n_diff", (double)ndiff);
                cJSON_AddNumberToObject(o, "max_abs", isnan(maxabs) ? -1 : maxabs);
                cJSON_AddNumberToObject(o, "max_rel", maxrel);
            }
            cJSON_AddItemToArray(arr, o);
        } else {
            printf("%-60s %s%s%s\n", ta->name, what, *detail ? ": " : "", detail);
        }
    }
    for (int i = 0; i < st_count(b) && !rc; i++) {
        const StTensorInfo *tb = st_info(b, i);
        if (st_find(a, tb->name)) continue;
        only_b++;
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", tb->name);
            cJSON_AddStringToObject(o, "status", "only in B");
            cJSON_AddItemToArray(arr, o);
        } else {
            printf("%-60s only in B\n", tb->name);
        }
    }
    if (!rc && json) {
        cJSON_AddStringToObject(root, "a", pa);
        cJSON_AddStringToObject(root, "b", pb);
        cJSON_AddNumberToObject(root, "identical", same);
        cJSON_AddNumberToObject(root, "differ", differ);
        cJSON_AddNumberToObject(root, "only_a", only_a);
        cJSON_AddNumberToObject(root, "only_b", only_b);
        cJSON_AddItemToObject(root, "tensors", arr);
        arr = NULL;
        char *text = cJSON_PrintUnformatted(root);
        if (text) printf("%s\n", text);
        cJSON_free(text);
    } else if (!rc) {
        printf("%s vs %s: %d identical, %d differ, %d only in A, %d only in B\n", pa, pb, same, differ, only_a, only_b);
    }
    cJSON_Delete(arr);
    cJSON_Delete(root);
    st_close(b);
    return rc;
}

static void shape_text(char *buf, size_t n, const StTensorInfo *t) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < t->ndim && k < n; d++) k += (size_t)snprintf(buf + k, n - k, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

static int run(int argc, char **argv) {
    const char *model = NULL, *other = NULL, *pos[1];
    int json = 0, stats = 0, npos = 0;
    CliOpt opts[] = {{"--model", CLI_STR, &model}, {"--json", CLI_FLAG, &json}, {"--stats", CLI_FLAG, &stats},
                     {"--diff", CLI_STR, &other}};
    int rc = cli_parse("inspect", argc, argv, opts, 4, pos, 1, &npos);
    if (rc) return rc;
    if (npos && model) return cli_error("inspect", "give the checkpoint once: --model PATH or PATH"), 2;
    if (npos) model = pos[0];
    if (!model) return cli_error("inspect", "missing --model DIR|FILE (see grpo inspect --help)"), 2;
    SafeTensors *st = NULL;
    if (st_open(model, &st)) return cli_fail("inspect");
    if (other) {
        rc = diff(st, model, other, json);
        st_close(st);
        return rc ? cli_fail("inspect") : 0;
    }
    int n = st_count(st), sharded = 0;
    long long params = 0;
    size_t bytes = 0;
    for (int i = 0; i < n; i++) {
        const StTensorInfo *t = st_info(st, i);
        params += st_numel(t), bytes += t->nbytes;
        if (strcmp(st_tensor_path(st, t), st_tensor_path(st, st_info(st, 0))) != 0) sharded = 1;
    }
    int status = 0;
    if (json) {
        cJSON *root = cJSON_CreateObject(), *meta = cJSON_CreateObject(), *arr = cJSON_CreateArray();
        cJSON_AddStringToObject(root, "path", model);
        cJSON_AddNumberToObject(root, "n_tensors", n);
        cJSON_AddNumberToObject(root, "n_params", (double)params);
        cJSON_AddNumberToObject(root, "bytes", (double)bytes);
        cJSON_AddItemToObject(root, "metadata", meta);
        cJSON_AddItemToObject(root, "tensors", arr);
        for (int i = 0; i < st_metadata_count(st); i++) cJSON_AddStringToObject(meta, st_metadata_key(st, i), st_metadata_value(st, i));
        for (int i = 0; i < n && !status; i++) {
            const StTensorInfo *t = st_info(st, i);
            cJSON *o = cJSON_CreateObject(), *sh = cJSON_CreateArray();
            cJSON_AddItemToArray(arr, o);
            cJSON_AddStringToObject(o, "name", t->name);
            cJSON_AddStringToObject(o, "dtype", st_dtype_name(t->dtype));
            for (int d = 0; d < t->ndim; d++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t->shape[d]));
            cJSON_AddItemToObject(o, "shape", sh);
            cJSON_AddNumberToObject(o, "bytes", (double)t->nbytes);
            const char *f = st_tensor_path(st, t), *slash = strrchr(f, '/');
            cJSON_AddStringToObject(o, "file", slash ? slash + 1 : f);
            Stats s;
            if (stats && (status = tensor_stats(st, t, &s))) break;
            if (stats && s.ok) {
                cJSON_AddNumberToObject(o, "min", s.min);
                cJSON_AddNumberToObject(o, "max", s.max);
                cJSON_AddNumberToObject(o, "mean", s.mean);
                cJSON_AddNumberToObject(o, "rms", s.rms);
                cJSON_AddNumberToObject(o, "nan", (double)s.nan);
                cJSON_AddNumberToObject(o, "inf", (double)s.inf);
            }
        }
        char *text = status ? NULL : cJSON_PrintUnformatted(root);
        if (text) printf("%s\n", text);
        cJSON_free(text);
        cJSON_Delete(root);
    } else {
        printf("%s: %d tensors, %lld parameters, %.1f MB\n", model, n, params, bytes / 1e6);
        for (int i = 0; i < st_metadata_count(st); i++) printf("metadata  %s = %s\n", st_metadata_key(st, i), st_metadata_value(st, i));
        for (int i = 0; i < n && !status; i++) {
            const StTensorInfo *t = st_info(st, i);
            char shp[160];
            shape_text(shp, sizeof shp, t);
            printf("%-60s %-5s %-22s %12zu", t->name, st_dtype_name(t->dtype), shp, t->nbytes);
            if (sharded) {
                const char *f = st_tensor_path(st, t), *slash = strrchr(f, '/');
                printf("  %s", slash ? slash + 1 : f);
            }
            Stats s;
            if (stats && (status = tensor_stats(st, t, &s))) break;
            if (stats && s.ok)
                printf("  min %.4g max %.4g mean %.4g rms %.4g", s.min, s.max, s.mean, s.rms);
            if (stats && s.ok && (s.nan || s.inf)) printf("  NaN %lld inf %lld", s.nan, s.inf);
            printf("\n");
        }
    }
    st_close(st);
    return status ? cli_fail("inspect") : 0;
}

const GrpoCommand grpo_cmd_inspect = {
    "inspect", "list the tensors and metadata of a safetensors checkpoint",
    "usage: grpo inspect [--model] DIR|FILE [--json] [--stats] [--diff DIR|FILE]\n\n"
    "Opens a checkpoint the way every grpo command does -- a model directory\n"
    "(model.safetensors or model.safetensors.index.json), a .safetensors file or a\n"
    "shard index -- validating its headers, and lists each tensor's name, dtype,\n"
    "shape and bytes (and shard file), plus the __metadata__ entries.\n\n"
    "  --model PATH  the checkpoint (or give it as the only argument)\n"
    "  --json        one JSON object: path, n_tensors, n_params, bytes, metadata,\n"
    "                tensors [{name, dtype, shape, bytes, file}]\n"
    "  --stats       also read every float tensor and print min, max, mean, rms and\n"
    "                how many values are NaN or inf\n"
    "  --diff B      compare with checkpoint B tensor by tensor, by value (an F32\n"
    "                and a BF16 copy compare as numbers): prints the tensors that\n"
    "                differ (count, max abs and max relative difference), those\n"
    "                only in one of them, and a summary; with --json one object\n",
    run};
