// The math verifier against tables of cases (tests/fixtures/math/cases.tsv:
// extraction traps, every normalisation and equivalence rule) and a set of
// GSM8K- and MATH-style gold answers (accuracy.tsv), plus direct checks of
// math_extract / math_equivalent and garbled, nasty and huge inputs.
//
// Table lines: MODE <tab> EXPECTED <tab> GOLD <tab> TEXT <tab> REASON, where
// MODE is v (TEXT is a completion for math_verify) or e (TEXT is an answer for
// math_equivalent), EXPECTED is 1 or 0, and <NL> in GOLD or TEXT is a newline.
// accuracy.tsv has a leading STYLE column (gsm8k / math).
// Run with two arguments (PRED GOLD) it prints the verdict instead.
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rewards/math.h"
#include "testlib.h"

static void unescape(char *s) {
    char *o = s;
    for (char *p = s; *p;) {
        if (strncmp(p, "<NL>", 4) == 0) { *o++ = '\n'; p += 4; }
        else *o++ = *p++;
    }
    *o = 0;
}

static int split(char *line, char **f, int max) {
    int n = 0;
    f[n++] = line;
    for (char *p = line; *p && n < max; p++)
        if (*p == '\t') { *p = 0; f[n++] = p + 1; }
    return n;
}

typedef struct { int n, right; } Tally;

// Runs one table; style_col: the file has a leading style column.
static void run_table(const char *rel, int style_col, Tally *gsm, Tally *mth, int *ncases) {
    FILE *f = fopen(tu_path(rel), "r");
    CHECK(f != NULL, "cannot open %s", tu_path(rel));
    if (!f) return;
    MathOptions o;
    math_options_default(&o);
    char line[8192];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\n' || line[l - 1] == '\r')) line[--l] = 0;
        if (!line[0] || line[0] == '#') continue;
        char *fl[8];
        int nf = split(line, fl, 8);
        char **c = fl + (style_col ? 1 : 0);
        if (nf < (style_col ? 6 : 5)) { CHECK(0, "%s:%d: expected %d tab-separated fields", rel, lineno, style_col ? 6 : 5); continue; }
        unescape(c[3]);
        unescape(c[2]);
        char detail[512];
        int got;
        if (c[0][0] == 'v') got = math_verify(c[3], c[2], &o, detail, sizeof detail) > 0.5;
        else got = math_equivalent(c[3], c[2], &o, detail, sizeof detail);
        int want = atoi(c[1]);
        (*ncases)++;
        if (style_col) {
            Tally *t = strcmp(fl[0], "gsm8k") == 0 ? gsm : mth;
            t->n++;
            t->right += got == want;
            if (got != want) printf("  misjudged %s:%d: gold [%s] answer [%s]: want %d, got %d (%s)\n", rel, lineno, c[2], c[3], want, got, detail);
        } else {
            CHECK(got == want, "%s:%d: gold [%s] text [%s] (%s): want %d, got %d: %s", rel, lineno, c[2], c[3], c[4],
                  want, got, detail);
        }
    }
    fclose(f);
}

static void unit_checks(void) {
    MathOptions o;
    math_options_default(&o);
    char a[256], w[64], why[160];
    CHECK(math_extract_kind_parse("boxed") == MATH_X_BOXED, "boxed");
    CHECK(math_extract_kind_parse("last_number") == MATH_X_LAST_NUMBER, "last_number");
    CHECK(math_extract_kind_parse("answer_tag") == MATH_X_ANSWER_TAG, "answer_tag");
    CHECK(math_extract_kind_parse("gsm8k") == MATH_X_GSM8K, "gsm8k");
    CHECK(math_extract_kind_parse("answer_is") == MATH_X_ANSWER_IS, "answer_is");
    CHECK(math_extract_kind_parse("box") == -1, "unknown");
    CHECK(math_extract_kind_parse(NULL) == -1, "NULL");

    CHECK(math_extract("so \\boxed{1} or rather \\boxed{\\frac{3}{4}}.", &o, a, sizeof a, w, sizeof w) == 1 &&
          strcmp(a, "\\frac{3}{4}") == 0 && strcmp(w, "\\boxed{}") == 0, "last box: [%s] from [%s]", a, w);
    CHECK(math_extract("<think>\\boxed{7}", &o, a, sizeof a, w, sizeof w) == 0 && strcmp(w, "unclosed <think>") == 0,
          "unclosed think: %s", w);
    CHECK(math_extract("<think>it is 7</think> so 8", &o, a, sizeof a, w, sizeof w) == 1 && strcmp(a, "8") == 0 &&
          strcmp(w, "last number") == 0, "after think: [%s] %s", a, w);
    CHECK(math_extract("<think>42</think> no numbers here", &o, a, sizeof a, w, sizeof w) == 0, "think numbers ignored: [%s]", a);
    CHECK(math_extract("The answer is 42, found in 3 steps", &o, a, sizeof a, w, sizeof w) == 1 && strcmp(a, "42") == 0 &&
          strcmp(w, "the answer is") == 0, "answer is: [%s] %s", a, w);
    CHECK(math_extract("work\n#### 1,234\n", &o, a, sizeof a, w, sizeof w) == 1 && strcmp(a, "1,234") == 0 &&
          strcmp(w, "####") == 0, "gsm8k: [%s]", a);
    CHECK(math_extract("\\boxed 5 is it", &o, a, sizeof a, w, sizeof w) == 1 && strcmp(a, "5") == 0, "boxed no braces: [%s]", a);
    CHECK(math_extract("<answer> 12 </answer> then \\boxed{13}", &o, a, sizeof a, w, sizeof w) == 1 && strcmp(a, "12") == 0 &&
          strcmp(w, "<answer>") == 0, "answer tag first: [%s]", a);
    MathOptions only_box = o;
    only_box.order[0] = MATH_X_BOXED;
    only_box.n_order = 1;
    CHECK(math_extract("<answer>12</answer> 13", &only_box, a, sizeof a, w, sizeof w) == 0, "order respected: [%s]", a);
    CHECK(math_extract("<answer>12</answer> \\boxed{13}", &only_box, a, sizeof a, w, sizeof w) == 1 && strcmp(a, "13") == 0,
          "boxed only: [%s]", a);
    CHECK(math_extract("", &o, a, sizeof a, w, sizeof w) == 0, "empty");
    // a small answer buffer truncates, never overflows
    char tiny[4];
    CHECK(math_extract("\\boxed{123456}", &o, tiny, sizeof tiny, w, sizeof w) == 1 && strlen(tiny) == 3, "tiny: %s", tiny);

    CHECK(math_equivalent("0.5", "\\frac{1}{2}", &o, why, sizeof why) == 1, "%s", why);
    CHECK(math_equivalent("(1,2]", "[1,2]", &o, why, sizeof why) == 0 && strstr(why, "bracket"), "%s", why);
    CHECK(math_equivalent("y = 6", "x = 6", &o, why, sizeof why) == 0 && strstr(why, "variables"), "%s", why);
    CHECK(math_equivalent("(x+1)^2", "x^2+2x+1", &o, why, sizeof why) == 1, "%s", why);
    CHECK(math_equivalent("(x+1)^2", "x^2+x+1", &o, why, sizeof why) == 0, "%s", why);
    CHECK(math_equivalent("3.14", "\\pi", &o, why, sizeof why) == 0, "%s", why);
    MathOptions loose = o;
    loose.rel_tol = 1e-3;
    CHECK(math_equivalent("3.1416", "\\pi", &loose, why, sizeof why) == 1, "rel_tol 1e-3: %s", why);
    CHECK(math_equivalent("3.1416", "\\pi", &o, why, sizeof why) == 0, "rel_tol 1e-6: %s", why);
    CHECK(math_equivalent("", "5", &o, why, sizeof why) == 0, "empty: %s", why);
    CHECK(math_equivalent(NULL, "5", &o, why, sizeof why) == 0, "NULL");

    char detail[256];
    CHECK(math_verify("<answer>85</answer>", "85", &o, detail, sizeof detail) == 1.0 &&
          strcmp(detail, "extracted 85 from <answer>; gold 85; equal") == 0, "detail: %s", detail);
    CHECK(math_verify("<think>so \\boxed{85}", "85", &o, detail, sizeof detail) == 0.0 &&
          strcmp(detail, "no answer found (unclosed <think>)") == 0, "detail: %s", detail);
    CHECK(math_verify("\\boxed{84\n}", "85", &o, detail, sizeof detail) == 0.0 && !strchr(detail, '\n') &&
          strstr(detail, "not equal"), "one line: %s", detail);
}

// Random and garbled strings, deep nesting, huge numbers and exponents: every
// call returns within the time limit (the test's run time shows a hang) and
// nothing crashes (ASan/UBSan builds check memory).
static void nasty_inputs(void) {
    MathOptions o;
    math_options_default(&o);
    o.time_limit_ms = 300;
    char why[160];
    static const char alphabet[] = "0123456789+-*/^_{}()[]\\,.=<>!|&x y e\\frac\\sqrt\\pi\\infty\\left\\right\\boxed$%";
    uint64_t rng = 12345;
    char buf[300];
    for (int it = 0; it < 3000; it++) {
        int n = (int)(tu_rand_u64(&rng) % 60);
        for (int i = 0; i < n; i++) {
            uint64_t r = tu_rand_u64(&rng);
            buf[i] = (r % 7 == 0) ? (char)(1 + r % 255) : alphabet[r % (sizeof alphabet - 1)];
        }
        buf[n] = 0;
        math_equivalent(buf, "x+1", &o, why, sizeof why);
        math_equivalent("\\frac{1}{2}", buf, &o, why, sizeof why);
        char detail[200];
        math_verify(buf, buf, &o, detail, sizeof detail);
    }
    size_t big = 100000;
    char *s = malloc(big + 16);
    for (int kind = 0; kind < 8; kind++) {
        size_t k = 0;
        for (size_t i = 0; i < big / 2 - 8; i++) s[k++] = kind == 0 ? '{' : kind == 1 ? '(' : kind == 2 ? '9' : kind == 3 ? '-' : kind == 4 ? '\\' : kind == 5 ? '|' : kind == 6 ? '^' : '1';
        if (kind == 7) for (size_t i = 0; i < big / 2 - 8; i++) s[k++] = i % 2 ? '+' : '1';
        s[k] = 0;
        clock_t t0 = clock();
        math_equivalent(s, "1", &o, why, sizeof why);
        char detail[200];
        math_verify(s, "1", &o, detail, sizeof detail);
        double dt = (double)(clock() - t0) / CLOCKS_PER_SEC;
        CHECK(dt < 5.0, "kind %d took %.1f s", kind, dt);
    }
    free(s);
    static const char *const huge[] = {"2^{10^{10}}", "10^{10^{10^{10}}}", "9^{9^{9^{9}}}", "(10^{100})!", "2^{2^{2^{2^{2^{2}}}}}",
                                       "\\sqrt[100000]{2}", "1e999999", "10^{-99999999}", "((((((((((x))))))))))^{99999999999}",
                                       "0^{-1}", "\\frac{1}{0}", "\\binom{1000000000}{500000000}", "1.5e3000",
                                       "123456789012345678901234567890^{123456789}", "(1/3)^{2^{40}}",
                                       "1.5e-99999999999999999999999", "1e99999999999999999999999",
                                       "2^{-9223372036854775808}", "(-1)^{-9223372036854775807}",
                                       "2^{9223372036854775807}"};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        clock_t t0 = clock();
        int r = math_equivalent(huge[i], "1", &o, why, sizeof why);
        double dt = (double)(clock() - t0) / CLOCKS_PER_SEC;
        CHECK(r == 0, "%s is not 1: %s", huge[i], why);
        CHECK(dt < 2.0, "%s took %.1f s", huge[i], dt);
        math_equivalent(huge[i], huge[i], &o, why, sizeof why);
    }
    // the deadline: 180 big binomials take tens of ms exactly; a 1 ms limit stops them
    {
        char *many = malloc(180 * 24 + 1);
        many[0] = 0;
        for (int i = 0; i < 180; i++) strcat(many, i ? "+\\binom{100000}{5000}" : "\\binom{100000}{5000}");
        MathOptions quick = o;
        quick.time_limit_ms = 1;
        clock_t t0 = clock();
        int r = math_equivalent(many, "1", &quick, why, sizeof why);
        double dt = (double)(clock() - t0) / CLOCKS_PER_SEC;
        CHECK(r == 0 && strstr(why, "time limit"), "1 ms limit: %d %s", r, why);
        CHECK(dt < 1.0, "1 ms limit took %.2f s", dt);
        free(many);
    }
    // 10k nested braces around an answer
    char *nest = malloc(20100);
    for (int i = 0; i < 10000; i++) nest[i] = '{';
    nest[10000] = '1';
    for (int i = 0; i < 10000; i++) nest[10001 + i] = '}';
    nest[20001] = 0;
    CHECK(math_equivalent(nest, "1", &o, why, sizeof why) == 0, "deep nesting is refused: %s", why);
    free(nest);
}

// Property check: random expressions written two ways (commuted operands,
// \left( \right), \cdot / juxtaposition / *, \frac / slash, ^{} / **) are
// equal, and adding 1 makes them unequal. Denominators are x + k or a nonzero
// constant so every value is defined.
typedef struct PNode { int k, v; struct PNode *a, *b; } PNode;
static PNode *pgen(uint64_t *rng, int d, PNode *pool, int *np) {
    PNode *n = &pool[(*np)++];
    memset(n, 0, sizeof *n);
    if (d > 3 || tu_rand_u64(rng) % 3 == 0) {
        n->k = tu_rand_u64(rng) % 3 ? 0 : 1;
        n->v = n->k ? (int)(tu_rand_u64(rng) % 3) : 1 + (int)(tu_rand_u64(rng) % 9);
        return n;
    }
    n->k = 2 + (int)(tu_rand_u64(rng) % 5); // + - * ^ /
    n->a = pgen(rng, d + 1, pool, np);
    if (n->k == 5) { n->v = 1 + (int)(tu_rand_u64(rng) % 3); return n; }
    if (n->k == 6) { n->v = 1 + (int)(tu_rand_u64(rng) % 5); return n; } // / (y + v)
    n->b = pgen(rng, d + 1, pool, np);
    return n;
}
static void pprint(const PNode *n, char *o, size_t on, int alt, uint64_t *rng) {
    char A[2048], B[2048];
    if (n->k == 0) { snprintf(o, on, "%d", n->v); return; }
    if (n->k == 1) { snprintf(o, on, "%c", "xyz"[n->v]); return; }
    pprint(n->a, A, sizeof A, alt, rng);
    if (n->b) pprint(n->b, B, sizeof B, alt, rng);
    int flip = alt && (tu_rand_u64(rng) & 1);
    switch (n->k) {
    case 2: snprintf(o, on, flip ? "\\left(%s\\right) + (%s)" : "(%s)+(%s)", flip ? B : A, flip ? A : B); break;
    case 3: if (flip) snprintf(o, on, "-(%s) + (%s)", B, A); else snprintf(o, on, "(%s)-(%s)", A, B); break;
    case 4: snprintf(o, on, flip ? "(%s) \\cdot (%s)" : alt ? "(%s)(%s)" : "(%s)*(%s)", flip ? B : A, flip ? A : B); break;
    case 5: snprintf(o, on, alt ? "\\left(%s\\right)^{%d}" : "(%s)**%d", A, n->v); break;
    default: snprintf(o, on, alt ? "\\frac{%s}{y + %d}" : "(%s)/(y+%d)", A, n->v);
    }
}
static void property_checks(void) {
    MathOptions o;
    math_options_default(&o);
    uint64_t rng = 2026;
    PNode pool[64];
    int bad_eq = 0, bad_ne = 0;
    for (int it = 0; it < 1500; it++) {
        int np = 0;
        PNode *t = pgen(&rng, 0, pool, &np);
        char a[2048], b[2048], c[2100], why[160];
        pprint(t, a, sizeof a, 0, &rng);
        pprint(t, b, sizeof b, 1, &rng);
        snprintf(c, sizeof c, "%s + 1", b);
        if (!math_equivalent(b, a, &o, why, sizeof why) && bad_eq++ < 5) printf("  not equal: [%s] [%s] %s\n", a, b, why);
        if (math_equivalent(c, a, &o, why, sizeof why) && bad_ne++ < 5) printf("  equal: [%s] [%s]\n", a, c);
    }
    CHECK(bad_eq == 0, "%d rewritten expressions judged not equal", bad_eq);
    CHECK(bad_ne == 0, "%d expressions plus 1 judged equal", bad_ne);
}

// The same checks from several threads at once give the same verdicts as one
// thread (no shared mutable state; the ASan build also watches memory).
static const char *const thread_pairs[][2] = {
    {"\\frac{1}{2}", "0.5"}, {"(x+1)^2", "x^2+2x+1"}, {"2\\pi", "6.283185307"}, {"(1,2]", "[1,2]"},
    {"\\sqrt{8}", "2\\sqrt{2}"}, {"x>3", "(3,\\infty)"}, {"1,000", "1000"}, {"\\{1,2\\}", "\\{2,1\\}"},
    {"y=6", "x=6"}, {"2^{10^{10}}", "1"}, {"Monday", "\\text{monday}"}, {"3 \\pm 1", "2, 4"}};
#define NPAIRS ((int)(sizeof thread_pairs / sizeof thread_pairs[0]))
typedef struct { int verdict[NPAIRS]; int mismatches; const int *want; } ThreadJob;
static void *thread_run(void *arg) {
    ThreadJob *j = arg;
    MathOptions o;
    math_options_default(&o);
    char why[160];
    for (int rep = 0; rep < 40; rep++)
        for (int i = 0; i < NPAIRS; i++) {
            int r = math_equivalent(thread_pairs[i][0], thread_pairs[i][1], &o, why, sizeof why);
            if (j->want && r != j->want[i]) j->mismatches++;
            j->verdict[i] = r;
        }
    return NULL;
}
static void thread_checks(void) {
    ThreadJob ref = {{0}, 0, NULL};
    thread_run(&ref);
    ThreadJob jobs[4];
    pthread_t th[4];
    for (int t = 0; t < 4; t++) {
        jobs[t] = (ThreadJob){{0}, 0, ref.verdict};
        CHECK(pthread_create(&th[t], NULL, thread_run, &jobs[t]) == 0, "pthread_create %d", t);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        CHECK(jobs[t].mismatches == 0, "thread %d: %d verdicts differ from the single-threaded run", t, jobs[t].mismatches);
    }
    int expect[NPAIRS] = {1, 1, 1, 0, 1, 1, 1, 1, 0, 0, 1, 1};
    for (int i = 0; i < NPAIRS; i++)
        CHECK(ref.verdict[i] == expect[i], "pair %d [%s] [%s]: %d", i, thread_pairs[i][0], thread_pairs[i][1], ref.verdict[i]);
}

int main(int argc, char **argv) {
    if (argc == 3) {
        MathOptions o;
        math_options_default(&o);
        char why[256];
        int r = math_equivalent(argv[1], argv[2], &o, why, sizeof why);
        char detail[512];
        double v = math_verify(argv[1], argv[2], &o, detail, sizeof detail);
        printf("equivalent=%d (%s)\nverify=%.0f (%s)\n", r, why, v, detail);
        return 0;
    }
    unit_checks();
    Tally g = {0}, m = {0}, none = {0};
    int ncases = 0, nacc = 0;
    run_table("fixtures/math/cases.tsv", 0, &none, &none, &ncases);
    CHECK(ncases >= 150, "cases.tsv has %d cases (want >= 150)", ncases);
    run_table("fixtures/math/accuracy.tsv", 1, &g, &m, &nacc);
    printf("accuracy: gsm8k-style %d/%d = %.3f, math-style %d/%d = %.3f\n", g.right, g.n, g.n ? (double)g.right / g.n : 0,
           m.right, m.n, m.n ? (double)m.right / m.n : 0);
    // floors measured on this set (see the README): a regression lowers them
    CHECK(g.n >= 60 && m.n >= 60, "accuracy set too small: %d + %d", g.n, m.n);
    CHECK(g.right >= g.n - 2, "gsm8k-style accuracy fell: %d/%d", g.right, g.n);
    CHECK(m.right >= m.n, "math-style accuracy fell: %d/%d", m.right, m.n);
    nasty_inputs();
    property_checks();
    thread_checks();
    return tu_finish("test_math_verify");
}
