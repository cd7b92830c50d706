// Datasets as arrays of normalised examples: loading JSONL files, drawing from
// generators, and the hash-based train/eval split.
#include "datasets/dataset.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/jsonl.h"
#include "kernels/status.h"

void ds_options_default(DsOptions *o) {
    memset(o, 0, sizeof *o);
    o->format = DS_GENERIC;
    o->split = DS_SPLIT_ALL;
    o->eval_frac = 0.1;
    o->gen_n = 1000;
    o->gen_seed = 1;
    gen_options_default(&o->gen);
}

static int parse_u64_opt(const char *key, const char *v, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (!*v || *end || errno || *v == '-') return grpo_fail(GRPO_EINVAL, "%s=%s: expected an unsigned integer", key, v);
    *out = x;
    return GRPO_OK;
}

int ds_options_set(DsOptions *o, const char *key, const char *v) {
    if (!key || !v) return grpo_fail(GRPO_EINVAL, "dataset option: missing key or value");
    if (!strcmp(key, "format")) return ds_format_parse(v, &o->format);
    if (!strcmp(key, "question_field")) return o->question_field = *v ? v : NULL, GRPO_OK;
    if (!strcmp(key, "answer_field")) return o->answer_field = *v ? v : NULL, GRPO_OK;
    if (!strcmp(key, "tests_field")) return o->tests_field = *v ? v : NULL, GRPO_OK;
    if (!strcmp(key, "split")) return ds_split_parse(v, &o->split);
    if (!strcmp(key, "skip_malformed")) {
        if (!strcmp(v, "1") || !strcmp(v, "true")) o->skip_malformed = 1;
        else if (!strcmp(v, "0") || !strcmp(v, "false")) o->skip_malformed = 0;
        else return grpo_fail(GRPO_EINVAL, "skip_malformed=%s: expected true or false", v);
        return GRPO_OK;
    }
    if (!strcmp(key, "eval_frac")) {
        char *end;
        errno = 0;
        double x = strtod(v, &end);
        if (!*v || *end || errno || !(x >= 0 && x <= 1)) return grpo_fail(GRPO_EINVAL, "eval_frac=%s: expected a number in [0, 1]", v);
        o->eval_frac = x;
        return GRPO_OK;
    }
    if (!strcmp(key, "split_seed")) return parse_u64_opt(key, v, &o->split_seed);
    if (!strcmp(key, "gen_seed")) return parse_u64_opt(key, v, &o->gen_seed);
    if (!strcmp(key, "gen_n")) {
        uint64_t n = 0;
        int rc = parse_u64_opt(key, v, &n);
        if (rc) return rc;
        if (n < 1 || n > 100000000) return grpo_fail(GRPO_EINVAL, "gen_n=%s: expected 1..100000000", v);
        o->gen_n = (long)n;
        return GRPO_OK;
    }
    int rc = gen_options_set(&o->gen, key, v);
    if (rc && strstr(grpo_errmsg(), "unknown generator option"))
        return grpo_fail(GRPO_EINVAL, "unknown dataset option '%s' (known: format, question_field, answer_field, tests_field, "
                                      "skip_malformed, split, eval_frac, split_seed, gen_n, gen_seed, and the generator "
                                      "options digits, ops, worked, min_nums, max_nums, max_num, max_target, min_len, "
                                      "max_len, alphabet)", key);
    return rc;
}

int ds_split_parse(const char *name, DsSplit *out) {
    if (name && !strcmp(name, "all")) *out = DS_SPLIT_ALL;
    else if (name && !strcmp(name, "train")) *out = DS_SPLIT_TRAIN;
    else if (name && !strcmp(name, "eval")) *out = DS_SPLIT_EVAL;
    else return grpo_fail(GRPO_EINVAL, "unknown split '%s' (known: all, train, eval)", name ? name : "(null)");
    return GRPO_OK;
}

uint64_t ds_hash(const void *data, size_t n, uint64_t seed) {
    uint64_t h = 0xcbf29ce484222325ULL ^ gen_mix(seed, 0x9e3779b97f4a7c15ULL);
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return gen_mix(h, seed);
}

int ds_is_eval(const cJSON *ex, double eval_frac, uint64_t split_seed) {
    if (eval_frac <= 0) return 0;
    if (eval_frac >= 1) return 1;
    const char *q = ds_str(ex, "question");
    if (!q) q = "";
    // Compare 53-bit integers so the decision is exact on every machine.
    uint64_t h = ds_hash(q, strlen(q), split_seed) >> 11;
    uint64_t cut = (uint64_t)(eval_frac * 9007199254740992.0);
    return h < cut;
}

static int in_split(const cJSON *ex, const DsOptions *o) {
    if (o->split == DS_SPLIT_ALL) return 1;
    int ev = ds_is_eval(ex, o->eval_frac, o->split_seed);
    return o->split == DS_SPLIT_EVAL ? ev : !ev;
}

static Dataset *ds_new(const char *origin) {
    Dataset *d = calloc(1, sizeof *d);
    if (d) snprintf(d->origin, sizeof d->origin, "%s", origin);
    return d;
}

void ds_free(Dataset *d) {
    if (!d) return;
    for (int i = 0; i < d->n; i++) cJSON_Delete(d->ex[i]);
    free(d->ex);
    free(d);
}

int ds_count(const Dataset *d) { return d ? d->n : 0; }

const cJSON *ds_get(const Dataset *d, int i) { return d && i >= 0 && i < d->n ? d->ex[i] : NULL; }

int ds_append(Dataset *d, cJSON *ex) {
    if (d->n == d->cap) {
        int cap = d->cap ? d->cap * 2 : 64;
        cJSON **nx = realloc(d->ex, (size_t)cap * sizeof *nx);
        if (!nx) {
            cJSON_Delete(ex);
            return grpo_fail(GRPO_ENOMEM, "%s: out of memory after %d examples", d->origin, d->n);
        }
        d->ex = nx;
        d->cap = cap;
    }
    d->ex[d->n++] = ex;
    return GRPO_OK;
}

static int check_options(const DsOptions *o) {
    if (!(o->eval_frac >= 0 && o->eval_frac <= 1))
        return grpo_fail(GRPO_EINVAL, "eval_frac must be between 0 and 1, not %g", o->eval_frac);
    if (o->split == DS_SPLIT_EVAL && o->eval_frac == 0)
        return grpo_fail(GRPO_EINVAL, "the eval split is empty: eval_frac is 0");
    if (o->split == DS_SPLIT_TRAIN && o->eval_frac == 1)
        return grpo_fail(GRPO_EINVAL, "the train split is empty: eval_frac is 1");
    return GRPO_OK;
}

// ---------------------------------------------------------------- JSONL files

typedef struct {
    Dataset *d;
    const DsOptions *o;
    const char *path;
} LoadCtx;

static int column_of(const char *line, size_t len, const char *at) {
    if (!at || at < line || at > line + len) return 1;
    return (int)(at - line) + 1;
}

static int load_line(void *vctx, const char *line, size_t len, long lineno) {
    LoadCtx *c = vctx;
    const char *end = NULL;
    // cJSON would end a string at a NUL byte and silently cut the text.
    const char *nul = memchr(line, 0, len);
    cJSON *src = nul ? NULL : cJSON_ParseWithLengthOpts(line, len, &end, 0);
    int rc = GRPO_OK;
    if (nul) {
        rc = grpo_fail(GRPO_EFORMAT, "%s:%ld: NUL byte at column %d", c->path, lineno, column_of(line, len, nul));
    } else if (!src) {
        rc = grpo_fail(GRPO_EFORMAT, "%s:%ld: invalid JSON at column %d", c->path, lineno, column_of(line, len, end));
    } else {
        while (end && end < line + len && isspace((unsigned char)*end)) end++;
        if (end && end < line + len)
            rc = grpo_fail(GRPO_EFORMAT, "%s:%ld: text after the JSON value at column %d (one object per line)", c->path,
                           lineno, column_of(line, len, end));
    }
    cJSON *ex = NULL;
    if (!rc) {
        rc = ds_normalize(src, c->o, &ex);
        if (rc == GRPO_EFORMAT)
            grpo_wrap(rc, "%s:%ld: %s example: ", c->path, lineno, ds_format_name(c->o->format));
    }
    cJSON_Delete(src);
    if (rc == GRPO_EFORMAT && c->o->skip_malformed) {
        if (!c->d->n_skipped) c->d->first_skipped_line = (int)lineno;
        c->d->n_skipped++;
        grpo_clear_error();
        return GRPO_OK;
    }
    if (rc) return rc;
    if (!in_split(ex, c->o)) {
        cJSON_Delete(ex);
        return GRPO_OK;
    }
    return ds_append(c->d, ex);
}

int ds_load_jsonl(const char *path, const DsOptions *o, Dataset **out) {
    *out = NULL;
    int rc = check_options(o);
    if (rc) return rc;
    Dataset *d = ds_new(path);
    if (!d) return grpo_fail(GRPO_ENOMEM, "%s: out of memory", path);
    LoadCtx c = {d, o, path};
    long lines = 0;
    rc = jsonl_each_line(path, load_line, &c, &lines);
    d->n_lines = (int)lines;
    if (!rc && lines == 0) rc = grpo_fail(GRPO_EFORMAT, "%s: empty file: no JSON lines", path);
    if (!rc && d->n == 0 && d->n_skipped == lines)
        rc = grpo_fail(GRPO_EFORMAT, "%s: no valid examples: all %ld lines are malformed (first: line %d)", path, lines,
                       d->first_skipped_line);
    if (!rc && d->n == 0)
        rc = grpo_fail(GRPO_EINVAL, "%s: the %s split is empty (eval_frac %g of %ld examples)", path,
                       o->split == DS_SPLIT_EVAL ? "eval" : "train", o->eval_frac, lines - d->n_skipped);
    if (rc) {
        ds_free(d);
        return rc;
    }
    *out = d;
    return GRPO_OK;
}

// ---------------------------------------------------------------- generators

int ds_generate(const char *name, const GenOptions *g, uint64_t seed, long n, const DsOptions *o, Dataset **out) {
    *out = NULL;
    int rc = check_options(o);
    if (rc) return rc;
    if (n < 1 || n > 100000000) return grpo_fail(GRPO_EINVAL, "gen:%s: n must be 1..1e8, not %ld", name, n);
    char origin[128];
    snprintf(origin, sizeof origin, "gen:%s", name);
    Dataset *d = ds_new(origin);
    if (!d) return grpo_fail(GRPO_ENOMEM, "out of memory");
    // A split keeps only its share of the stream, so look far enough ahead;
    // give up when a tiny task space cannot fill it.
    double share = o->split == DS_SPLIT_ALL ? 1.0 : o->split == DS_SPLIT_EVAL ? o->eval_frac : 1.0 - o->eval_frac;
    double limit = (double)n / share * 4.0 + 1000.0;
    uint64_t i = 0;
    while (d->n < n) {
        if ((double)i > limit) {
            rc = grpo_fail(GRPO_EINVAL, "gen:%s: only %d of %ld examples fall in the %s split after %llu draws", name,
                           d->n, n, o->split == DS_SPLIT_EVAL ? "eval" : "train", (unsigned long long)i);
            break;
        }
        cJSON *ex = NULL;
        if ((rc = gen_instance(name, g, seed, i++, &ex))) break;
        if (!in_split(ex, o)) {
            cJSON_Delete(ex);
            continue;
        }
        if ((rc = ds_append(d, ex))) break;
    }
    d->n_lines = (int)i;
    if (rc) {
        ds_free(d);
        return rc;
    }
    *out = d;
    return GRPO_OK;
}

// "gen:NAME?key=val&key=val": n and seed, the rest are generator options.
static int open_gen(const char *spec, const DsOptions *o, Dataset **out) {
    char buf[512];
    if (strlen(spec) >= sizeof buf) return grpo_fail(GRPO_EINVAL, "dataset spec too long: %.40s...", spec);
    strcpy(buf, spec + 4);
    char *q = strchr(buf, '?');
    if (q) *q++ = 0;
    GenOptions g = o->gen;
    long n = o->gen_n;
    uint64_t seed = o->gen_seed;
    for (char *kv = q ? strtok(q, "&") : NULL; kv; kv = strtok(NULL, "&")) {
        char *eq = strchr(kv, '=');
        if (!eq) return grpo_fail(GRPO_EINVAL, "%s: '%s' is not key=value", spec, kv);
        *eq = 0;
        const char *v = eq + 1;
        char *end;
        if (!strcmp(kv, "n")) {
            errno = 0;
            n = strtol(v, &end, 10);
            if (*end || !*v || errno) return grpo_fail(GRPO_EINVAL, "%s: n=%s is not an integer", spec, v);
        } else if (!strcmp(kv, "seed")) {
            errno = 0;
            seed = strtoull(v, &end, 10);
            if (*end || !*v || errno || *v == '-') return grpo_fail(GRPO_EINVAL, "%s: seed=%s is not an unsigned integer", spec, v);
        } else {
            int rc = gen_options_set(&g, kv, v);
            if (rc) return grpo_wrap(rc, "%s: ", spec);
        }
    }
    return ds_generate(buf, &g, seed, n, o, out);
}

int ds_open(const char *spec, const DsOptions *o, Dataset **out) {
    *out = NULL;
    if (!spec || !*spec) return grpo_fail(GRPO_EINVAL, "no dataset given");
    if (!strncmp(spec, "gen:", 4)) return open_gen(spec, o, out);
    return ds_load_jsonl(spec, o, out);
}
