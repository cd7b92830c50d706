// Task generators: the same (name, options, seed) gives the same lines as the
// committed tests/fixtures/datasets/gen_expected.jsonl (made once with
// `grpo data gen`, see the table below), instances are independent of how many
// are drawn, options are checked, and every gold answer / solution / worked
// completion is correct by an independent check here (exact rational
// evaluation for countdown).
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/dataset.h"
#include "datasets/gen.h"
#include "kernels/status.h"
#include "testlib.h"

// ---------------------------------------------------------------- countdown checker

typedef struct { long long num, den; } Q; // den > 0

static long long gcdll(long long a, long long b) {
    if (a < 0) a = -a;
    while (b) {
        long long t = a % b;
        a = b;
        b = t;
    }
    return a ? a : 1;
}

static Q qnorm(Q x) {
    if (x.den < 0) x.num = -x.num, x.den = -x.den;
    long long g = gcdll(x.num, x.den);
    return (Q){x.num / g, x.den / g};
}

typedef struct {
    const char *p;
    int ok;
    long long used[16];
    int n_used;
} P;

static Q expr(P *s);

static void ws(P *s) {
    while (*s->p == ' ') s->p++;
}

static Q atom(P *s) {
    ws(s);
    if (*s->p == '(') {
        s->p++;
        Q v = expr(s);
        ws(s);
        if (*s->p != ')') s->ok = 0;
        else s->p++;
        return v;
    }
    if (!isdigit((unsigned char)*s->p)) {
        s->ok = 0;
        return (Q){0, 1};
    }
    long long v = 0;
    while (isdigit((unsigned char)*s->p)) v = v * 10 + (*s->p++ - '0');
    if (s->n_used < 16) s->used[s->n_used++] = v;
    else s->ok = 0;
    return (Q){v, 1};
}

static Q term(P *s) {
    Q v = atom(s);
    for (;;) {
        ws(s);
        char op = *s->p;
        if (op != '*' && op != '/') return v;
        s->p++;
        Q r = atom(s);
        if (op == '*') v = qnorm((Q){v.num * r.num, v.den * r.den});
        else if (r.num == 0) s->ok = 0;
        else v = qnorm((Q){v.num * r.den, v.den * r.num});
    }
}

static Q expr(P *s) {
    Q v = term(s);
    for (;;) {
        ws(s);
        char op = *s->p;
        if (op != '+' && op != '-') return v;
        s->p++;
        Q r = term(s);
        v = qnorm((Q){op == '+' ? v.num * r.den + r.num * v.den : v.num * r.den - r.num * v.den, v.den * r.den});
    }
}

static int cmpll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

// 1 when `solution` uses exactly the numbers of `nums` once each and equals target.
static int countdown_ok(const char *solution, const cJSON *nums, long long target) {
    P s = {solution, 1, {0}, 0};
    Q v = expr(&s);
    ws(&s);
    if (!s.ok || *s.p) return 0;
    long long want[16];
    int n = 0;
    for (const cJSON *e = nums->child; e && n < 16; e = e->next) want[n++] = (long long)e->valuedouble;
    if (n != s.n_used) return 0;
    qsort(want, (size_t)n, sizeof *want, cmpll);
    qsort(s.used, (size_t)n, sizeof *s.used, cmpll);
    return !memcmp(want, s.used, (size_t)n * sizeof *want) && v.den == 1 && v.num == target;
}

// ---------------------------------------------------------------- checks per task

static const char *completion_answer(const cJSON *ex, char *buf, size_t n) {
    const char *c = ds_str(ex, "completion");
    if (!c) return NULL;
    const char *a = strstr(c, "</think> <answer>"), *e = a ? strstr(a, "</answer>") : NULL;
    if (strncmp(c, "<think> ", 8) || !a || !e || e[9] != 0) return NULL;
    a += strlen("</think> <answer>");
    snprintf(buf, n, "%.*s", (int)(e - a), a);
    return buf;
}

static int check_one(const char *name, const cJSON *ex, const GenOptions *o) {
    const char *q = ds_str(ex, "question"), *ans = ds_str(ex, "answer");
    char cbuf[256];
    const char *cans = completion_answer(ex, cbuf, sizeof cbuf);
    if (!q || !ans) return 0;
    if (o->worked && (!cans || strcmp(cans, ans))) return 0;
    if (!strcmp(name, "arithmetic")) {
        long long a, b;
        char op;
        if (sscanf(q, "What is %lld %c %lld?", &a, &op, &b) != 3 || !strchr(o->ops, op)) return 0;
        long long lo = 1;
        for (int i = 1; i < o->digits; i++) lo *= 10;
        if (a >= lo * 10 || b >= lo * 10 || (o->digits > 1 && (a < lo || b < lo))) return 0;
        long long v = op == '+' ? a + b : op == '-' ? a - b : a * b;
        char want[32];
        snprintf(want, sizeof want, "%lld", v);
        return !strcmp(want, ans);
    }
    if (!strcmp(name, "letters")) {
        char letter, word[256];
        if (sscanf(q, "How many times does the letter \"%c\" appear in \"%255[a-z]\"?", &letter, word) != 2) return 0;
        int n = 0, len = (int)strlen(word);
        for (int i = 0; word[i]; i++) {
            n += word[i] == letter;
            if (word[i] - 'a' >= o->alphabet) return 0;
        }
        char want[16];
        snprintf(want, sizeof want, "%d", n);
        return len >= o->min_len && len <= o->max_len && !strcmp(want, ans);
    }
    // countdown
    const cJSON *nums = cJSON_GetObjectItem(ex, "nums"), *target = cJSON_GetObjectItem(ex, "target");
    const char *sol = ds_str(ex, "solution");
    int k = cJSON_GetArraySize(nums);
    if (!sol || !cJSON_IsNumber(target) || k < o->min_nums || k > o->max_nums) return 0;
    for (const cJSON *e = nums->child; e; e = e->next)
        if (e->valuedouble < 1 || e->valuedouble > o->max_num) return 0;
    long long t = (long long)target->valuedouble;
    return t >= 1 && t <= o->max_target && !strcmp(sol, ans) && countdown_ok(sol, nums, t);
}

static void test_correct(void) {
    struct { const char *name; const char *opts[4]; } cases[] = {
        {"arithmetic", {"digits=1", NULL}}, {"arithmetic", {"digits=2", NULL}},
        {"arithmetic", {"digits=5", "ops=-", NULL}}, {"arithmetic", {"digits=9", "ops=*", NULL}},
        {"countdown", {NULL}}, {"countdown", {"min_nums=2", "max_nums=2", NULL}},
        {"countdown", {"min_nums=5", "max_nums=6", "max_num=50", "max_target=1000"}},
        {"letters", {NULL}}, {"letters", {"alphabet=26", "min_len=1", "max_len=40", NULL}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        GenOptions o;
        gen_options_default(&o);
        o.worked = 1;
        for (int i = 0; i < 4 && cases[c].opts[i]; i++) {
            char kv[64];
            snprintf(kv, sizeof kv, "%s", cases[c].opts[i]);
            char *eq = strchr(kv, '=');
            *eq = 0;
            CHECK(gen_options_set(&o, kv, eq + 1) == 0, "%s", grpo_errmsg());
        }
        int bad = 0, first_bad = -1;
        for (uint64_t i = 0; i < 1500; i++) {
            cJSON *ex = NULL;
            if (gen_instance(cases[c].name, &o, 1000 + c, i, &ex)) {
                CHECK(0, "%s: %s", cases[c].name, grpo_errmsg());
                break;
            }
            if (!check_one(cases[c].name, ex, &o)) {
                if (first_bad < 0) {
                    char *s = cJSON_PrintUnformatted(ex);
                    fprintf(stderr, "bad instance: %s\n", s);
                    free(s);
                    first_bad = (int)i;
                }
                bad++;
            }
            cJSON_Delete(ex);
        }
        CHECK(bad == 0, "%s case %zu: %d of 1500 instances wrong (first %d)", cases[c].name, c, bad, first_bad);
    }
}

// ---------------------------------------------------------------- determinism

// How gen_expected.jsonl was made, line group by line group:
//   grpo data gen countdown  --n 4 --seed 1 --worked
//   grpo data gen arithmetic --n 4 --seed 1 --worked
//   grpo data gen arithmetic --n 3 --seed 2 --digits 4 --ops '*'
//   grpo data gen letters    --n 4 --seed 1 --worked
//   grpo data gen countdown  --n 2 --seed 123456789 --opt min_nums=4 --opt max_num=20
static void test_pinned(void) {
    struct { const char *name; int n; uint64_t seed; const char *opts[3]; } runs[] = {
        {"countdown", 4, 1, {"worked=1", NULL}},
        {"arithmetic", 4, 1, {"worked=1", NULL}},
        {"arithmetic", 3, 2, {"digits=4", "ops=*", NULL}},
        {"letters", 4, 1, {"worked=1", NULL}},
        {"countdown", 2, 123456789, {"min_nums=4", "max_num=20", NULL}},
    };
    FILE *f = fopen(tu_path("fixtures/datasets/gen_expected.jsonl"), "r");
    CHECK(f != NULL, "cannot open gen_expected.jsonl");
    if (!f) return;
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0;
    for (size_t r = 0; r < sizeof runs / sizeof *runs; r++) {
        GenOptions o;
        gen_options_default(&o);
        for (int i = 0; i < 3 && runs[r].opts[i]; i++) {
            char kv[64];
            snprintf(kv, sizeof kv, "%s", runs[r].opts[i]);
            char *eq = strchr(kv, '=');
            *eq = 0;
            gen_options_set(&o, kv, eq + 1);
        }
        DsOptions d;
        ds_options_default(&d);
        Dataset *ds = NULL;
        if (ds_generate(runs[r].name, &o, runs[r].seed, runs[r].n, &d, &ds)) {
            CHECK(0, "%s", grpo_errmsg());
            continue;
        }
        for (int i = 0; i < ds->n; i++) {
            ssize_t got = getline(&line, &cap, f);
            lineno++;
            if (got > 0 && line[got - 1] == '\n') line[got - 1] = 0;
            char *s = cJSON_PrintUnformatted(ds->ex[i]);
            CHECK(got > 0 && s && !strcmp(s, line), "gen_expected.jsonl:%d differs:\n got %s\nwant %s", lineno, s,
                  got > 0 ? line : "(eof)");
            free(s);
        }
        ds_free(ds);
    }
    CHECK(getline(&line, &cap, f) < 0, "gen_expected.jsonl has more lines than the table");
    free(line);
    fclose(f);
}

static void test_independent(void) {
    // Instance i does not depend on how many were drawn before it, or on the run.
    GenOptions o;
    gen_options_default(&o);
    DsOptions d;
    ds_options_default(&d);
    for (int g = 0; g < gen_count(); g++) {
        Dataset *a = NULL, *b = NULL;
        CHECK(ds_generate(gen_name(g), &o, 9, 50, &d, &a) == 0 && ds_generate(gen_name(g), &o, 9, 50, &d, &b) == 0, "gen");
        if (!a || !b) continue;
        int same = 1, distinct = 0;
        for (int i = 0; i < 50; i++) {
            cJSON *one = NULL;
            gen_instance(gen_name(g), &o, 9, (uint64_t)i, &one);
            same &= cJSON_Compare(a->ex[i], b->ex[i], 1) && cJSON_Compare(a->ex[i], one, 1);
            distinct += i > 0 && !cJSON_Compare(a->ex[i], a->ex[i - 1], 1);
            cJSON_Delete(one);
        }
        CHECK(same, "%s: repeatable and random-access", gen_name(g));
        CHECK(distinct > 40, "%s: instances vary (%d)", gen_name(g), distinct);
        Dataset *c = NULL;
        ds_generate(gen_name(g), &o, 10, 50, &d, &c);
        CHECK(c && !cJSON_Compare(a->ex[0], c->ex[0], 1), "%s: the seed matters", gen_name(g));
        ds_free(a);
        ds_free(b);
        ds_free(c);
    }
}

static void test_options(void) {
    GenOptions o;
    gen_options_default(&o);
    CHECK(gen_options_set(&o, "ops", "+,*") == 0 && !strcmp(o.ops, "+*"), "ops list");
    CHECK(gen_options_set(&o, "ops", "x") == 0 && !strcmp(o.ops, "*"), "x means *");
    CHECK(gen_options_set(&o, "ops", "/") == GRPO_EINVAL && strstr(grpo_errmsg(), "'/'"), "%s", grpo_errmsg());
    CHECK(gen_options_set(&o, "digits", "two") == GRPO_EINVAL && strstr(grpo_errmsg(), "digits=two"), "%s", grpo_errmsg());
    CHECK(gen_options_set(&o, "digitz", "2") == GRPO_EINVAL && strstr(grpo_errmsg(), "'digitz'"), "%s", grpo_errmsg());
    gen_options_default(&o);
    o.digits = 10;
    cJSON *ex = NULL;
    CHECK(gen_instance("arithmetic", &o, 1, 0, &ex) == GRPO_EINVAL && !ex && strstr(grpo_errmsg(), "digits"), "%s", grpo_errmsg());
    gen_options_default(&o);
    o.min_nums = 5;
    o.max_nums = 3;
    CHECK(gen_instance("countdown", &o, 1, 0, &ex) == GRPO_EINVAL && strstr(grpo_errmsg(), "min_nums"), "%s", grpo_errmsg());
    gen_options_default(&o);
    CHECK(gen_instance("letter", &o, 1, 0, &ex) == GRPO_EINVAL && strstr(grpo_errmsg(), "did you mean 'letters'"), "%s",
          grpo_errmsg());
    CHECK(gen_exists("countdown") && !gen_exists("sudoku") && gen_count() == 3, "table");
    // An impossible countdown target range is an error, not a hang.
    o.max_num = 1;
    o.min_nums = o.max_nums = 6;
    o.max_target = 1000000;
    int rc = gen_instance("countdown", &o, 1, 0, &ex);
    if (rc == 0) {
        const cJSON *t = cJSON_GetObjectItem(ex, "target");
        CHECK(t && t->valuedouble >= 1, "tiny numbers still give a target");
        cJSON_Delete(ex);
    }
}

// slip=P: the worked solution forgets each carry (borrow) into a column with
// chance P%; "answer" stays the true result, the completion ends in the sloppy one.
static int slip_run(const char *ops, int slip, int n, int *n_carry, int *n_slipped) {
    GenOptions o;
    gen_options_default(&o);
    o.worked = 1;
    o.slip = slip;
    snprintf(o.ops, sizeof o.ops, "%s", ops);
    int bad = 0;
    *n_carry = *n_slipped = 0;
    for (int i = 0; i < n; i++) {
        cJSON *ex = NULL;
        if (gen_instance("arithmetic", &o, 3, (uint64_t)i, &ex)) return -1;
        long long a, b;
        char op, cbuf[256];
        const char *q = ds_str(ex, "question"), *ans = ds_str(ex, "answer"), *cans = completion_answer(ex, cbuf, sizeof cbuf);
        if (!q || !ans || !cans || sscanf(q, "What is %lld %c %lld?", &a, &op, &b) != 3) {
            bad++;
            cJSON_Delete(ex);
            continue;
        }
        long long truth = op == '+' ? a + b : a - b;
        // Two-digit operands: the only carry/borrow that can be forgotten is the units' one.
        int carry = op == '+' ? a % 10 + b % 10 >= 10 : a % 10 < b % 10;
        long long sloppy = op == '+' ? (a % 10 + b % 10) % 10 + (a / 10 + b / 10) * 10
                                     : (a % 10 - b % 10 + 10) % 10 + (a / 10 - b / 10) * 10;
        char want[32];
        snprintf(want, sizeof want, "%lld", truth);
        if (strcmp(ans, want)) bad++;
        *n_carry += carry;
        if (strcmp(cans, want)) {
            char sl[32];
            snprintf(sl, sizeof sl, "%lld", sloppy);
            if (!carry || strcmp(cans, sl)) bad++; // only a carry can be forgotten, and only this way
            ++*n_slipped;
        }
        cJSON_Delete(ex);
    }
    return bad;
}

static void test_slip(void) {
    int carry = 0, slipped = 0, bad = slip_run("+", 100, 300, &carry, &slipped);
    CHECK(bad == 0 && carry > 60 && slipped == carry, "slip=100 +: %d bad, %d carries, %d slipped", bad, carry, slipped);
    bad = slip_run("-", 100, 300, &carry, &slipped);
    CHECK(bad == 0 && carry > 60 && slipped == carry, "slip=100 -: %d bad, %d borrows, %d slipped", bad, carry, slipped);
    bad = slip_run("+-", 0, 300, &carry, &slipped);
    CHECK(bad == 0 && slipped == 0, "slip=0: %d bad, %d slipped", bad, slipped);
    bad = slip_run("+", 50, 2000, &carry, &slipped);
    CHECK(bad == 0 && slipped > 0.4 * carry && slipped < 0.6 * carry, "slip=50: %d bad, %d of %d carries forgotten", bad, slipped,
          carry);
    GenOptions o;
    gen_options_default(&o);
    CHECK(gen_options_set(&o, "slip", "101") == 0 && gen_options_check(&o) == GRPO_EINVAL && strstr(grpo_errmsg(), "slip"), "%s",
          grpo_errmsg());
}

static void test_rng(void) {
    GenRng r;
    gen_rng_seed(&r, 1);
    int counts[6] = {0};
    for (int i = 0; i < 6000; i++) counts[gen_rng_below(&r, 6)]++;
    for (int i = 0; i < 6; i++) CHECK(counts[i] > 850 && counts[i] < 1150, "bucket %d: %d", i, counts[i]);
    int lo = 0, hi = 0;
    for (int i = 0; i < 2000; i++) {
        int64_t v = gen_rng_range(&r, -3, 3);
        CHECK(v >= -3 && v <= 3, "range");
        lo |= v == -3;
        hi |= v == 3;
    }
    CHECK(lo && hi, "both ends reached");
    gen_rng_seed(&r, 12345);
    uint64_t first = gen_rng_next(&r);
    CHECK(first == 13720838825685603483ULL, "pinned first output: %llu", (unsigned long long)first);
}

int main(void) {
    test_correct();
    test_pinned();
    test_independent();
    test_options();
    test_slip();
    test_rng();
    return tu_finish("test_gen");
}
