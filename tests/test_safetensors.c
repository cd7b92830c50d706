// safetensors: save -> load round trips (F32, BF16, sharded), dtype conversions against
// bit patterns, and clean errors (naming file and tensor) for every kind of broken file,
// every truncation of a small file and 2000 random corruptions.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/status.h"
#include "policy/safetensors.h"
#include "testlib.h"

static char g_dir[4096];

static const char *tmp(const char *name) {
    static char buf[8][4200];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, 4200, "%s/%s", g_dir, name);
    return b;
}

static int write_file(const char *path, const void *data, size_t n) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return -1;
    size_t w = fwrite(data, 1, n, fp);
    fclose(fp);
    return w == n ? 0 : -1;
}

static unsigned char *read_file(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)sz + 1);
    *n = fread(b, 1, (size_t)sz, fp);
    fclose(fp);
    return b;
}

// A safetensors file from a literal header and `ndata` bytes of data (pattern filled).
static void write_raw(const char *path, const char *header, size_t ndata) {
    size_t hl = strlen(header);
    unsigned char *b = malloc(8 + hl + ndata + 1);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, header, hl);
    for (size_t i = 0; i < ndata; i++) b[8 + hl + i] = (unsigned char)(i * 7 + 1);
    write_file(path, b, 8 + hl + ndata);
    free(b);
}

// st_open(path) must fail with `code` and a message containing every non-NULL needle.
static void expect_error(const char *what, const char *path, int code, const char *n1, const char *n2) {
    SafeTensors *st = NULL;
    grpo_clear_error();
    int rc = st_open(path, &st);
    CHECK(rc == code, "%s: st_open returned %d (%s), want %d", what, rc, rc ? grpo_errmsg() : "ok", code);
    CHECK(st == NULL, "%s: handle returned on failure", what);
    const char *m = grpo_errmsg();
    CHECK(n1 == NULL || strstr(m, n1), "%s: message '%s' lacks '%s'", what, m, n1);
    CHECK(n2 == NULL || strstr(m, n2), "%s: message '%s' lacks '%s'", what, m, n2);
    st_close(st);
}

static double f16_ref(unsigned h) {
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return s ? -v : v;
}

static void test_conversions(void) {
    int bad = 0;
    for (unsigned h = 0; h < 65536; h++) {
        float f = st_f16_to_f32((uint16_t)h);
        double r = f16_ref(h);
        int ok = isnan(r) ? isnan(f) : ((double)f == r && !!signbit(f) == !!signbit(r));
        if (!ok && bad++ < 5) CHECK(0, "f16 0x%04x -> %g, want %g", h, f, r);
    }
    CHECK(bad == 0, "%d f16 patterns converted wrongly", bad);
    CHECK(st_f16_to_f32(0x3c00) == 1.0f && st_f16_to_f32(0xc000) == -2.0f && st_f16_to_f32(0x7bff) == 65504.0f, "f16 basics");
    CHECK(st_f16_to_f32(0x0001) == ldexpf(1, -24) && st_f16_to_f32(0x0400) == ldexpf(1, -14), "f16 subnormal/min normal");
    CHECK(isinf(st_f16_to_f32(0xfc00)) && st_f16_to_f32(0xfc00) < 0 && isnan(st_f16_to_f32(0x7e00)), "f16 -inf / nan");
    CHECK(st_bf16_to_f32(0x3f80) == 1.0f && st_bf16_to_f32(0xc040) == -3.0f && isinf(st_bf16_to_f32(0x7f80)), "bf16 basics");
    CHECK(st_bf16_to_f32(0x0001) == ldexpf(1, -133), "bf16 smallest subnormal");
    // f32 -> bf16 rounds to nearest, ties to even.
    CHECK(st_f32_to_bf16(1.0f) == 0x3f80, "1.0");
    CHECK(st_f32_to_bf16(1.0f + ldexpf(1, -8)) == 0x3f80, "tie rounds down to even");
    CHECK(st_f32_to_bf16(1.0f + 3 * ldexpf(1, -8)) == 0x3f82, "tie rounds up to even");
    CHECK(st_f32_to_bf16(1.0f + ldexpf(1, -8) + ldexpf(1, -20)) == 0x3f81, "above the tie rounds up");
    CHECK(st_f32_to_bf16(3.4028235e38f) == 0x7f80, "FLT_MAX rounds to inf");
    CHECK(st_f32_to_bf16(-INFINITY) == 0xff80, "-inf");
    CHECK(isnan(st_bf16_to_f32(st_f32_to_bf16(NAN))), "nan stays nan");
    uint32_t snan = 0x7f800001u; // a NaN whose payload sits only in the low bits must not become inf
    float fs;
    memcpy(&fs, &snan, 4);
    CHECK(isnan(st_bf16_to_f32(st_f32_to_bf16(fs))), "low-payload nan stays nan");
    // Every bf16 pattern survives bf16 -> f32 -> bf16.
    int rt = 0;
    for (unsigned b = 0; b < 65536; b++) {
        float f = st_bf16_to_f32((uint16_t)b);
        if (!isnan(f) && st_f32_to_bf16(f) != b) rt++;
    }
    CHECK(rt == 0, "%d bf16 patterns do not round-trip", rt);
}

#define NT 5
static float *g_data[NT];
static StWrite g_w[NT];

static void make_tensors(uint64_t *rng, int bf16_exact) {
    static const int64_t shapes[NT][3] = {{4, 3, 0}, {7, 0, 0}, {0, 0, 0}, {2, 5, 3}, {0, 3, 0}};
    static const int ndims[NT] = {2, 1, 0, 3, 2};
    static const char *names[NT] = {"model.embed_tokens.weight", "model.norm.weight", "scalar", "model.layers.0.mlp.up_proj.weight", "empty"};
    for (int i = 0; i < NT; i++) {
        g_w[i].name = names[i];
        g_w[i].ndim = ndims[i];
        size_t n = 1;
        for (int d = 0; d < ndims[i]; d++) n *= (size_t)(g_w[i].shape[d] = shapes[i][d]);
        free(g_data[i]);
        g_data[i] = malloc((n + 1) * sizeof(float));
        for (size_t k = 0; k < n; k++) {
            float v = tu_rand_uniform(rng) * 100.0f;
            if (bf16_exact) v = st_bf16_to_f32((uint16_t)(tu_rand_u64(rng) & 0xffff));
            if (bf16_exact && isnan(v)) v = 0.5f;
            g_data[i][k] = v;
        }
        if (n > 3 && !bf16_exact) g_data[i][0] = -0.0f, g_data[i][1] = INFINITY, g_data[i][2] = 1e-42f; // subnormal
        g_w[i].data = g_data[i];
    }
}

static void check_loaded(const char *what, SafeTensors *st, StDtype dtype, int in_order) {
    CHECK(st_count(st) == NT, "%s: %d tensors", what, st_count(st));
    for (int i = 0; i < NT && i < st_count(st); i++) {
        const StTensorInfo *t = st_find(st, g_w[i].name);
        CHECK(t != NULL, "%s: '%s' missing", what, g_w[i].name);
        if (!t) continue;
        if (in_order) CHECK(strcmp(st_info(st, i)->name, g_w[i].name) == 0, "%s: order %d is %s", what, i, st_info(st, i)->name);
        CHECK(t->dtype == dtype && t->ndim == g_w[i].ndim, "%s: %s dtype %d ndim %d", what, t->name, t->dtype, t->ndim);
        size_t n = 1;
        for (int d = 0; d < t->ndim; d++) {
            CHECK(t->shape[d] == g_w[i].shape[d], "%s: %s dim %d", what, t->name, d);
            n *= (size_t)g_w[i].shape[d];
        }
        CHECK(t->nbytes == n * st_dtype_size(dtype), "%s: %s nbytes %zu", what, t->name, t->nbytes);
        float *got = malloc((n + 1) * sizeof(float));
        CHECK(st_read_f32(st, t, got) == GRPO_OK, "%s: %s", what, grpo_errmsg());
        CHECK(memcmp(got, g_data[i], n * sizeof(float)) == 0, "%s: %s data differs", what, t->name);
        free(got);
    }
    CHECK(st_find(st, "nope") == NULL, "%s: found a tensor that is not there", what);
    CHECK(st_read_f32(st, st_find(st, "empty"), NULL) == GRPO_OK, "%s: empty tensor into NULL: %s", what, grpo_errmsg());
    StTensorInfo fake = *st_info(st, 0);
    CHECK(st_read_f32(st, &fake, NULL) == GRPO_EINVAL && strstr(grpo_errmsg(), "does not belong"), "%s: foreign info accepted", what);
}

static void test_roundtrip(void) {
    uint64_t rng = 7;
    make_tensors(&rng, 0);
    const char *p = tmp("f32.safetensors");
    CHECK(st_save(p, g_w, NT, ST_F32, NULL) == GRPO_OK, "save f32: %s", grpo_errmsg());
    CHECK(access(tmp("f32.safetensors.tmp"), F_OK) != 0, "temp file left behind");
    SafeTensors *st = NULL;
    CHECK(st_open(p, &st) == GRPO_OK, "open f32: %s", grpo_errmsg());
    if (st) {
        check_loaded("f32", st, ST_F32, 1);
        CHECK(st_metadata(st, "format") && strcmp(st_metadata(st, "format"), "pt") == 0, "format metadata");
        CHECK(st_metadata(st, "other") == NULL, "absent metadata key");
        CHECK(strcmp(st_tensor_path(st, st_info(st, 0)), p) == 0, "tensor path");
        st_close(st);
    }
    // The layout is HF's: 8-byte aligned data area, tensors contiguous, header padded with spaces.
    size_t n;
    unsigned char *b = read_file(p, &n);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | b[i];
    CHECK(hl % 8 == 0 && b[8] == '{' && (b[8 + hl - 1] == ' ' || b[8 + hl - 1] == '}'), "header length %llu", (unsigned long long)hl);
    size_t want = 8 + hl;
    for (int i = 0; i < NT; i++) {
        size_t k = 4;
        for (int d = 0; d < g_w[i].ndim; d++) k *= (size_t)g_w[i].shape[d];
        want += k;
    }
    CHECK(n == want, "file is %zu bytes, want %zu (gaps?)", n, want);
    free(b);

    make_tensors(&rng, 1);
    const char *meta[] = {"format", "pt", "note", "grpo \"test\"", NULL};
    p = tmp("bf16.safetensors");
    CHECK(st_save(p, g_w, NT, ST_BF16, meta) == GRPO_OK, "save bf16: %s", grpo_errmsg());
    st = NULL;
    CHECK(st_open(p, &st) == GRPO_OK, "open bf16: %s", grpo_errmsg());
    if (st) {
        check_loaded("bf16", st, ST_BF16, 1);
        CHECK(st_metadata(st, "note") && strcmp(st_metadata(st, "note"), "grpo \"test\"") == 0, "escaped metadata");
        CHECK(st_metadata_count(st) == 2, "metadata count %d", st_metadata_count(st));
        st_close(st);
    }
    // A hand-written F16 file (as torch would write), read through st_read_f32.
    const char *h16 = "{\"h\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]},\"i\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
    size_t hl16 = strlen(h16);
    unsigned char raw[512];
    for (int i = 0; i < 8; i++) raw[i] = (unsigned char)((uint64_t)hl16 >> (8 * i));
    memcpy(raw + 8, h16, hl16);
    const uint16_t hv[4] = {0x3c00, 0x0001, 0xfc00, 0xb800};
    memcpy(raw + 8 + hl16, hv, 8);
    memset(raw + 16 + hl16, 0, 4);
    p = tmp("f16.safetensors");
    write_file(p, raw, 8 + hl16 + 12);
    st = NULL;
    CHECK(st_open(p, &st) == GRPO_OK, "open f16: %s", grpo_errmsg());
    if (st) {
        float v[4];
        CHECK(st_read_f32(st, st_find(st, "h"), v) == GRPO_OK, "read f16: %s", grpo_errmsg());
        CHECK(v[0] == 1.0f && v[1] == ldexpf(1, -24) && isinf(v[2]) && v[2] < 0 && v[3] == -0.5f, "f16 values %g %g %g %g",
              v[0], v[1], v[2], v[3]);
        CHECK(st_read_f32(st, st_find(st, "i"), v) == GRPO_EUNSUPPORTED, "I32 read as floats");
        CHECK(strstr(grpo_errmsg(), "'i'") && strstr(grpo_errmsg(), "I32"), "message: %s", grpo_errmsg());
        CHECK(st_metadata_count(st) == 0, "no metadata");
        st_close(st);
    }
}

static void test_sharded(void) {
    uint64_t rng = 11;
    make_tensors(&rng, 0);
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/sharded", g_dir);
    int ns = 0;
    // 48 + 28 + 4 + 120 + 0 bytes: a 64-byte limit gives [48] [28 4] [120 0]
    CHECK(st_save_sharded(dir, g_w, NT, ST_F32, NULL, 64, &ns) == GRPO_OK, "save sharded: %s", grpo_errmsg());
    CHECK(ns == 3, "%d shards", ns);
    CHECK(access(tmp("sharded/model-00003-of-00003.safetensors"), F_OK) == 0, "third shard missing");
    CHECK(access(tmp("sharded/model.safetensors"), F_OK) != 0, "single file written too");
    SafeTensors *st = NULL;
    CHECK(st_open(dir, &st) == GRPO_OK, "open sharded dir: %s", grpo_errmsg());
    if (st) {
        check_loaded("sharded dir", st, ST_F32, 1);
        const StTensorInfo *t = st_find(st, "model.norm.weight");
        CHECK(t && strstr(st_tensor_path(st, t), "model-00002-of-00003.safetensors"), "norm in shard 2");
        CHECK(st_metadata(st, "format") != NULL, "shard metadata");
        st_close(st);
    }
    st = NULL;
    CHECK(st_open(tmp("sharded/model.safetensors.index.json"), &st) == GRPO_OK, "open index: %s", grpo_errmsg());
    if (st) check_loaded("index", st, ST_F32, 1);
    st_close(st);
    // Re-saving unsharded removes the index and the stale shards.
    CHECK(st_save_sharded(dir, g_w, NT, ST_BF16, NULL, 0, &ns) == GRPO_OK && ns == 1, "save single: %s", grpo_errmsg());
    CHECK(access(tmp("sharded/model.safetensors.index.json"), F_OK) != 0, "stale index left");
    CHECK(access(tmp("sharded/model-00001-of-00003.safetensors"), F_OK) != 0, "stale shard left");
    st = NULL;
    CHECK(st_open(dir, &st) == GRPO_OK && st_find(st, "scalar")->dtype == ST_BF16, "reopen single: %s", grpo_errmsg());
    st_close(st);

    // Broken indexes. s1 holds a, s2 holds b.
    const char *ha = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    const char *hb = "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    write_raw(tmp("s1.safetensors"), ha, 4);
    write_raw(tmp("s2.safetensors"), hb, 4);
    const char *ok = "{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s2.safetensors\"}}";
    write_file(tmp("ok.index.json"), ok, strlen(ok));
    st = NULL;
    CHECK(st_open(tmp("ok.index.json"), &st) == GRPO_OK && st_count(st) == 2, "hand index: %s", grpo_errmsg());
    st_close(st);
    struct {
        const char *what, *json, *n1, *n2;
    } bad[] = {
        {"missing shard", "{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"nope.safetensors\"}}", "nope.safetensors", "cannot open"},
        {"tensor not in shard", "{\"weight_map\":{\"a\":\"s1.safetensors\",\"c\":\"s1.safetensors\",\"b\":\"s2.safetensors\"}}", "'c'", "s1.safetensors"},
        {"wrong shard", "{\"weight_map\":{\"a\":\"s2.safetensors\",\"b\":\"s1.safetensors\"}}", "tensor '", "index says"},
        {"unlisted tensor", "{\"weight_map\":{\"a\":\"s3.safetensors\"}}", "'x'", "not listed"},
        {"unlisted tensor 2", "{\"weight_map\":{\"b\":\"s2.safetensors\",\"a\":\"s2.safetensors\"}}", "tensor '", NULL},
        {"escaping shard", "{\"weight_map\":{\"a\":\"../s1.safetensors\"}}", "'a'", "relative path"},
        {"absolute shard", "{\"weight_map\":{\"a\":\"/etc/passwd\"}}", "'a'", "relative path"},
        {"no weight_map", "{\"metadata\":{}}", "weight_map", NULL},
        {"empty weight_map", "{\"weight_map\":{}}", "empty", NULL},
        {"non-string shard", "{\"weight_map\":{\"a\":3}}", "'a'", NULL},
        {"duplicate entry", "{\"weight_map\":{\"a\":\"s1.safetensors\",\"a\":\"s1.safetensors\"}}", "'a'", "twice"},
        {"broken json", "{\"weight_map\":{\"a\":", "not valid JSON", NULL},
        {"duplicate across shards", "{\"weight_map\":{\"a\":\"s1.safetensors\",\"x\":\"s3.safetensors\"}}", "'a'", NULL},
    };
    write_raw(tmp("s3.safetensors"), "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *p = tmp("bad.index.json");
        write_file(p, bad[i].json, strlen(bad[i].json));
        expect_error(bad[i].what, p, i == 0 ? GRPO_EIO : GRPO_EFORMAT, bad[i].n1, bad[i].n2);
        CHECK(strstr(grpo_errmsg(), "bad.index.json") || strstr(grpo_errmsg(), ".safetensors"), "%s: no file in '%s'", bad[i].what, grpo_errmsg());
    }
    char empty[4200];
    snprintf(empty, sizeof empty, "%s/emptydir", g_dir);
    mkdir(empty, 0755);
    expect_error("empty dir", empty, GRPO_EIO, "emptydir", "model.safetensors");
    expect_error("missing file", tmp("absent.safetensors"), GRPO_EIO, "absent.safetensors", NULL);
}

static void test_bad_files(void) {
    struct {
        const char *what, *hdr;
        size_t ndata;
        const char *n1, *n2;
    } bad[] = {
        {"broken json", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4, "not valid JSON", NULL},
        {"not an object", "[1, 2, 3]", 0, "JSON object", NULL},
        {"trailing garbage", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}x", 4, "after the header", NULL},
        {"offsets past end", "{\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[1000],\"data_offsets\":[0,4000]}}", 3000, "'model.norm.weight'", "past the end"},
        {"overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlap", "'b'"},
        {"overlap reversed", "{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]},\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", 12, "overlap", "'a'"},
        {"shape vs bytes", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "'w'", "needs 12 bytes"},
        {"bf16 shape vs bytes", "{\"w\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16, "'w'", "BF16"},
        {"shape overflow", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],\"data_offsets\":[0,8]}}", 8, "'w'", NULL},
        {"unknown dtype", "{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2, "'w'", "F8_E4M3"},
        {"no dtype", "{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "'w'", "dtype"},
        {"no shape", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "'w'", "shape"},
        {"negative dim", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "'w'", "shape"},
        {"fractional dim", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", 8, "'w'", "shape"},
        {"nine dims", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "'w'", "dimensions"},
        {"no offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "'w'", "data_offsets"},
        {"reversed offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8, "'w'", "data_offsets"},
        {"string offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[\"0\",8]}}", 8, "'w'", "data_offsets"},
        {"entry not object", "{\"w\":3}", 0, "'w'", NULL},
        {"duplicate name", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "'w'", "twice"},
        {"metadata not strings", "{\"__metadata__\":{\"format\":1},\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "__metadata__", "format"},
        {"metadata not object", "{\"__metadata__\":\"pt\"}", 0, "__metadata__", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *p = tmp("bad.safetensors");
        write_raw(p, bad[i].hdr, bad[i].ndata);
        expect_error(bad[i].what, p, GRPO_EFORMAT, bad[i].n1, bad[i].n2);
        CHECK(strstr(grpo_errmsg(), "bad.safetensors") != NULL, "%s: message '%s' lacks the file", bad[i].what, grpo_errmsg());
    }
    // A NUL inside the header needs the length to cover it; write it by hand.
    {
        const char h[] = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}\0\0  ";
        unsigned char b[128] = {0};
        b[0] = (unsigned char)(sizeof h - 1);
        memcpy(b + 8, h, sizeof h - 1);
        write_file(tmp("nul.safetensors"), b, 8 + sizeof h - 1 + 4);
        expect_error("nul padding", tmp("nul.safetensors"), GRPO_EFORMAT, "nul.safetensors", "0x00");
    }
    // Gaps and trailing bytes are accepted (documented), and so is space padding.
    write_raw(tmp("gap.safetensors"), "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}   ", 20);
    SafeTensors *st = NULL;
    CHECK(st_open(tmp("gap.safetensors"), &st) == GRPO_OK, "gap: %s", grpo_errmsg());
    if (st) {
        float v;
        const unsigned char want[4] = {8 * 7 + 1, 9 * 7 + 1, 10 * 7 + 1, 11 * 7 + 1};
        CHECK(st_read_f32(st, st_info(st, 0), &v) == GRPO_OK && memcmp(&v, want, 4) == 0, "gap data read from the right offset");
    }
    st_close(st);
    // Header length past the end, absurd, tiny; files shorter than 8 bytes.
    unsigned char b[16] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'};
    write_file(tmp("hl.safetensors"), b, 10);
    expect_error("header length past end", tmp("hl.safetensors"), GRPO_EFORMAT, "hl.safetensors", "header length 65535");
    uint64_t huge = 200ull << 20; // a sparse 200 MB file: the length fits, but is absurd
    unsigned char big[8];
    for (int i = 0; i < 8; i++) big[i] = (unsigned char)(huge >> (8 * i));
    write_file(tmp("huge.safetensors"), big, 8);
    CHECK(truncate(tmp("huge.safetensors"), (off_t)(8 + huge)) == 0, "truncate");
    expect_error("header over 100 MB", tmp("huge.safetensors"), GRPO_EFORMAT, "huge.safetensors", "not plausible");
    unlink(tmp("huge.safetensors"));
    write_file(tmp("short.safetensors"), b, 5);
    expect_error("5-byte file", tmp("short.safetensors"), GRPO_EFORMAT, "short.safetensors", "too short");
    expect_error("a directory without model", g_dir, GRPO_EIO, NULL, NULL);
}

// Every strict prefix of a valid file must be rejected cleanly; once the cut is in the
// data area the message must name the tensor that runs past the end.
static void test_truncation(void) {
    uint64_t rng = 3;
    make_tensors(&rng, 0);
    const char *p = tmp("full.safetensors");
    CHECK(st_save(p, g_w, NT, ST_BF16, NULL) == GRPO_OK, "save: %s", grpo_errmsg());
    size_t n;
    unsigned char *b = read_file(p, &n);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | b[i];
    const char *q = tmp("cut.safetensors");
    int failures = 0;
    for (size_t len = 0; len < n; len++) {
        write_file(q, b, len);
        SafeTensors *st = NULL;
        int rc = st_open(q, &st);
        const char *m = grpo_errmsg();
        int ok = rc == GRPO_EFORMAT && !st && strstr(m, "cut.safetensors") && (len <= 8 + hl || strstr(m, "tensor '"));
        if (!ok && failures++ < 5) CHECK(0, "prefix %zu of %zu: rc %d, '%s'", len, n, rc, rc ? m : "opened");
        st_close(st);
    }
    CHECK(failures == 0, "%d of %zu truncations misreported", failures, n);
    free(b);
}

// Random byte flips of a valid file: opening must fail cleanly or give tensors that read
// inside the mapping (ASan checks the latter in the sanitizer build).
static void test_fuzz(void) {
    uint64_t rng = 99;
    make_tensors(&rng, 0);
    const char *p = tmp("fz.safetensors");
    CHECK(st_save(p, g_w, NT, ST_F32, NULL) == GRPO_OK, "save: %s", grpo_errmsg());
    size_t n;
    unsigned char *orig = read_file(p, &n), *b = malloc(n);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | orig[i];
    int opened = 0, failed = 0, no_msg = 0;
    const char *q = tmp("fz-mut.safetensors");
    for (int it = 0; it < 2000; it++) {
        memcpy(b, orig, n);
        int flips = 1 + (int)(tu_rand_u64(&rng) % 4);
        for (int f = 0; f < flips; f++) {
            uint64_t r = tu_rand_u64(&rng);
            size_t at = (r & 1) ? (size_t)((r >> 8) % (8 + hl)) : (size_t)((r >> 8) % n); // favour the header
            uint8_t v = (r >> 40) & 3 ? (uint8_t)(r >> 48) : (uint8_t)"0123456789[]{}\",:-"[(r >> 48) % 18];
            b[at] = v;
        }
        size_t len = (tu_rand_u64(&rng) % 8 == 0) ? (size_t)(tu_rand_u64(&rng) % n) : n;
        write_file(q, b, len);
        SafeTensors *st = NULL;
        if (st_open(q, &st) == GRPO_OK) {
            opened++;
            for (int i = 0; i < st_count(st); i++) {
                const StTensorInfo *t = st_info(st, i);
                size_t ne = (size_t)st_numel(t);
                float *dst = malloc((ne + 1) * sizeof(float));
                st_read_f32(st, t, dst);
                free(dst);
            }
            st_close(st);
        } else {
            failed++;
            if (!strstr(grpo_errmsg(), "fz-mut.safetensors")) no_msg++;
        }
    }
    CHECK(no_msg == 0, "%d failures without the file name", no_msg);
    CHECK(opened > 0 && failed > 0, "fuzz opened %d, rejected %d", opened, failed);
    free(orig), free(b);
}

// A file written by Hugging Face's safetensors library (tests/reference/make_safetensors_fixture.py).
static void test_hf_fixture(void) {
    SafeTensors *st = NULL;
    const char *p = tu_path("fixtures/safetensors/hf_small.safetensors");
    CHECK(st_open(p, &st) == GRPO_OK, "%s", grpo_errmsg());
    if (!st) return;
    CHECK(st_count(st) == 4, "%d tensors", st_count(st));
    CHECK(st_metadata(st, "format") && strcmp(st_metadata(st, "format"), "np") == 0, "format");
    const StTensorInfo *q = st_find(st, "model.layers.0.self_attn.q_proj.weight");
    float v[16];
    CHECK(q && q->dtype == ST_F32 && q->ndim == 2 && q->shape[0] == 3 && q->shape[1] == 4, "q_proj info");
    if (q && st_read_f32(st, q, v) == GRPO_OK)
        for (int i = 0; i < 12; i++) CHECK(v[i] == (i - 5) * 0.25f, "q_proj[%d] = %g", i, v[i]);
    const float f16[10] = {1.0f, -2.0f, 65504.0f, ldexpf(1, -24), ldexpf(1, -14), -0.0f, INFINITY, -INFINITY, ldexpf(1, -20), 0.333251953125f};
    const StTensorInfo *nw = st_find(st, "model.norm.weight");
    CHECK(nw && nw->dtype == ST_F16 && nw->ndim == 1 && nw->shape[0] == 10, "norm info");
    if (nw && st_read_f32(st, nw, v) == GRPO_OK)
        for (int i = 0; i < 10; i++) CHECK(memcmp(&v[i], &f16[i], 4) == 0, "f16[%d] = %g, want %g", i, v[i], f16[i]);
    const StTensorInfo *sc = st_find(st, "scalar"), *ids = st_find(st, "position_ids");
    CHECK(sc && sc->ndim == 0 && st_read_f32(st, sc, v) == GRPO_OK && v[0] == 3.5f, "scalar");
    int64_t iv[2] = {0, 0};
    if (ids) memcpy(iv, st_raw(st, ids), sizeof iv);
    CHECK(ids && ids->dtype == ST_I64 && iv[0] == 1 && iv[1] == -1, "int64 raw bytes");
    st_close(st);
}

static void test_save_errors(void) {
    uint64_t rng = 5;
    make_tensors(&rng, 0);
    StWrite w[2] = {g_w[0], g_w[0]};
    CHECK(st_save(tmp("dup.safetensors"), w, 2, ST_F32, NULL) == GRPO_EINVAL && strstr(grpo_errmsg(), "given twice"), "duplicate");
    CHECK(access(tmp("dup.safetensors"), F_OK) != 0, "file written despite error");
    CHECK(st_save(tmp("f16.out"), g_w, 1, ST_F16, NULL) == GRPO_EINVAL, "F16 writing refused");
    w[1].name = "b", w[1].data = NULL;
    CHECK(st_save(tmp("null.safetensors"), w, 2, ST_F32, NULL) == GRPO_EINVAL && strstr(grpo_errmsg(), "'b'"), "NULL data");
    w[1].data = g_data[0], w[1].ndim = 9;
    CHECK(st_save(tmp("nd.safetensors"), w, 2, ST_F32, NULL) == GRPO_EINVAL, "ndim 9");
    w[1].ndim = 1, w[1].shape[0] = -1;
    CHECK(st_save(tmp("neg.safetensors"), w, 2, ST_F32, NULL) == GRPO_EINVAL, "negative dim");
    const char *odd[] = {"format", NULL, NULL};
    CHECK(st_save(tmp("m.safetensors"), g_w, 1, ST_F32, odd) == GRPO_EINVAL && strstr(grpo_errmsg(), "'format'"), "key without value");
    CHECK(st_save(tmp("nodir/x.safetensors"), g_w, 1, ST_F32, NULL) == GRPO_EIO && strstr(grpo_errmsg(), "nodir"), "unwritable path: %s", grpo_errmsg());
    CHECK(st_save(tmp("zero.safetensors"), NULL, 0, ST_F32, NULL) == GRPO_OK, "no tensors");
    SafeTensors *st = NULL;
    CHECK(st_open(tmp("zero.safetensors"), &st) == GRPO_OK && st_count(st) == 0, "open empty: %s", grpo_errmsg());
    st_close(st);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "%s", tu_tmpdir("safetensors"));
    test_conversions();
    test_roundtrip();
    test_sharded();
    test_bad_files();
    test_truncation();
    test_fuzz();
    test_save_errors();
    test_hf_fixture();
    for (int i = 0; i < NT; i++) free(g_data[i]);
    if (tu_failures == 0) { // keep the files of a failing run for a look
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    }
    return tu_finish("test_safetensors");
}
