// The generator table, their options, and the integer-only RNG they share.
#include "datasets/gen.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/status.h"

#include "datasets/gen_internal.h"

typedef struct {
    const char *name;
    int (*make)(const GenOptions *o, GenRng *r, cJSON **out);
} GenEntry;

static const GenEntry k_gens[] = {
    {"countdown", gen_countdown},
    {"arithmetic", gen_arithmetic},
    {"letters", gen_letters},
};
#define N_GENS ((int)(sizeof k_gens / sizeof *k_gens))

// ---------------------------------------------------------------- RNG

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t gen_mix(uint64_t a, uint64_t b) {
    uint64_t x = a ^ (b * 0xd1342543de82ef95ULL + 0x2545f4914f6cdd1dULL);
    splitmix64(&x);
    return splitmix64(&x);
}

void gen_rng_seed(GenRng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t gen_rng_next(GenRng *r) {
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

uint64_t gen_rng_below(GenRng *r, uint64_t n) {
    if (n <= 1) return 0;
    uint64_t floor_ = (0 - n) % n; // reject the first 2^64 mod n values: no modulo bias
    for (;;) {
        uint64_t x = gen_rng_next(r);
        if (x >= floor_) return x % n;
    }
}

int64_t gen_rng_range(GenRng *r, int64_t lo, int64_t hi) {
    if (hi <= lo) return lo;
    return lo + (int64_t)gen_rng_below(r, (uint64_t)(hi - lo) + 1);
}

// ---------------------------------------------------------------- options

void gen_options_default(GenOptions *o) {
    memset(o, 0, sizeof *o);
    o->digits = 2;
    strcpy(o->ops, "+-*");
    o->min_nums = 3;
    o->max_nums = 4;
    o->max_num = 99;
    o->max_target = 100;
    o->min_len = 5;
    o->max_len = 12;
    o->alphabet = 6;
}

static int parse_int(const char *key, const char *v, int *dst) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < -1000000000L || x > 1000000000L)
        return grpo_fail(GRPO_EINVAL, "generator option %s=%s: expected an integer", key, v);
    *dst = (int)x;
    return GRPO_OK;
}

int gen_options_set(GenOptions *o, const char *key, const char *v) {
    if (!strcmp(key, "ops")) {
        char ops[8] = {0};
        int n = 0;
        for (const char *p = v; *p; p++) {
            char c = *p == 'x' ? '*' : *p;
            if (c == ',' || c == ' ') continue;
            if (c != '+' && c != '-' && c != '*')
                return grpo_fail(GRPO_EINVAL, "generator option ops=%s: '%c' is not one of + - *", v, *p);
            if (!strchr(ops, c)) ops[n++] = c;
        }
        if (!n) return grpo_fail(GRPO_EINVAL, "generator option ops=%s: no operator", v);
        memcpy(o->ops, ops, sizeof ops);
        return GRPO_OK;
    }
    struct { const char *k; int *dst; } ints[] = {
        {"digits", &o->digits}, {"worked", &o->worked}, {"min_nums", &o->min_nums}, {"max_nums", &o->max_nums},
        {"max_num", &o->max_num}, {"max_target", &o->max_target}, {"min_len", &o->min_len},
        {"max_len", &o->max_len}, {"alphabet", &o->alphabet}, {"slip", &o->slip},
    };
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
        if (!strcmp(key, ints[i].k)) return parse_int(key, v, ints[i].dst);
    return grpo_fail(GRPO_EINVAL, "unknown generator option '%s' (known: digits, ops, worked, min_nums, max_nums, "
                                  "max_num, max_target, min_len, max_len, alphabet, slip)", key);
}

int gen_options_check(const GenOptions *o) {
    if (o->digits < 1 || o->digits > 9) return grpo_fail(GRPO_EINVAL, "digits must be 1..9, not %d", o->digits);
    if (!o->ops[0]) return grpo_fail(GRPO_EINVAL, "ops is empty");
    for (const char *p = o->ops; *p; p++)
        if (*p != '+' && *p != '-' && *p != '*') return grpo_fail(GRPO_EINVAL, "ops: '%c' is not one of + - *", *p);
    if (o->worked != 0 && o->worked != 1) return grpo_fail(GRPO_EINVAL, "worked must be 0 or 1, not %d", o->worked);
    if (o->min_nums < 2 || o->max_nums > 6 || o->min_nums > o->max_nums)
        return grpo_fail(GRPO_EINVAL, "countdown needs 2 <= min_nums <= max_nums <= 6, not %d..%d", o->min_nums, o->max_nums);
    if (o->max_num < 1 || o->max_num > 10000) return grpo_fail(GRPO_EINVAL, "max_num must be 1..10000, not %d", o->max_num);
    if (o->max_target < 1 || o->max_target > 1000000)
        return grpo_fail(GRPO_EINVAL, "max_target must be 1..1000000, not %d", o->max_target);
    if (o->min_len < 1 || o->max_len > 200 || o->min_len > o->max_len)
        return grpo_fail(GRPO_EINVAL, "letters needs 1 <= min_len <= max_len <= 200, not %d..%d", o->min_len, o->max_len);
    if (o->alphabet < 1 || o->alphabet > 26) return grpo_fail(GRPO_EINVAL, "alphabet must be 1..26, not %d", o->alphabet);
    if (o->slip < 0 || o->slip > 100) return grpo_fail(GRPO_EINVAL, "slip must be 0..100 (percent), not %d", o->slip);
    return GRPO_OK;
}

// ---------------------------------------------------------------- table

int gen_count(void) { return N_GENS; }
const char *gen_name(int i) { return i >= 0 && i < N_GENS ? k_gens[i].name : NULL; }

static const GenEntry *find(const char *name) {
    for (int i = 0; i < N_GENS; i++)
        if (name && !strcmp(name, k_gens[i].name)) return &k_gens[i];
    return NULL;
}

int gen_exists(const char *name) { return find(name) != NULL; }

static int edit_distance(const char *a, const char *b) {
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 40 || lb > 40) return 99;
    int d[41][41];
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int j = 0; j <= lb; j++) d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < c) c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c) c = d[i][j - 1] + 1;
            d[i][j] = c;
        }
    return d[la][lb];
}

int gen_instance(const char *name, const GenOptions *o, uint64_t seed, uint64_t index, cJSON **out) {
    *out = NULL;
    const GenEntry *g = find(name);
    if (!g) {
        const char *best = NULL;
        int bd = 4;
        for (int i = 0; name && i < N_GENS; i++) {
            int dd = edit_distance(name, k_gens[i].name);
            if (dd < bd) bd = dd, best = k_gens[i].name;
        }
        if (best) return grpo_fail(GRPO_EINVAL, "unknown generator '%s' (did you mean '%s'?)", name, best);
        return grpo_fail(GRPO_EINVAL, "unknown generator '%s' (known: countdown, arithmetic, letters)", name ? name : "(null)");
    }
    int rc = gen_options_check(o);
    if (rc) return grpo_wrap(rc, "gen:%s: ", name);
    // Each instance has its own stream, keyed by (generator, seed, index).
    uint64_t h = 0;
    for (const char *p = name; *p; p++) h = h * 131 + (unsigned char)*p;
    GenRng r;
    gen_rng_seed(&r, gen_mix(gen_mix(seed, h), index));
    return g->make(o, &r, out);
}

// ---------------------------------------------------------------- helpers

void genbuf_printf(GenBuf *b, const char *fmt, ...) {
    if (b->oom) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap < b->len + (size_t)n + 1) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void genbuf_free(GenBuf *b) {
    free(b->s);
    memset(b, 0, sizeof *b);
}

int gen_finish(cJSON **out, const char *question, const char *answer, const char *think, int worked) {
    cJSON *ex = cJSON_CreateObject();
    if (!ex || !cJSON_AddStringToObject(ex, "question", question) || !cJSON_AddStringToObject(ex, "answer", answer)) {
        cJSON_Delete(ex);
        return grpo_fail(GRPO_ENOMEM, "out of memory");
    }
    if (worked) {
        GenBuf c = {0};
        genbuf_printf(&c, "<think> %s </think> <answer>%s</answer>", think ? think : "", answer);
        if (c.oom || !cJSON_AddStringToObject(ex, "completion", c.s)) {
            genbuf_free(&c);
            cJSON_Delete(ex);
            return grpo_fail(GRPO_ENOMEM, "out of memory");
        }
        genbuf_free(&c);
    }
    *out = ex;
    return GRPO_OK;
}
