// The JSONL loader and the built-in formats on small fixtures: normalised
// fields, malformed lines (error naming file:line, or skipped and counted),
// missing/empty files, CRLF/BOM/blank lines, very long lines, field mapping
// and the hash split.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/dataset.h"
#include "kernels/status.h"
#include "testlib.h"

static Dataset *load(const char *rel, DsFormat f) {
    DsOptions o;
    ds_options_default(&o);
    o.format = f;
    Dataset *d = NULL;
    int rc = ds_load_jsonl(tu_path(rel), &o, &d);
    CHECK(rc == 0, "%s: %s", rel, grpo_errmsg());
    return d;
}

static int str_is(const cJSON *ex, const char *field, const char *want) {
    const char *s = ds_str(ex, field);
    if (!s || strcmp(s, want)) {
        fprintf(stderr, "  field %s: got [%s], want [%s]\n", field, s ? s : "(null)", want);
        return 0;
    }
    return 1;
}

static const char *write_tmp(const char *name, const char *data, size_t n) {
    static char path[4200];
    snprintf(path, sizeof path, "%s/%s", tu_tmpdir(name), name);
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    fwrite(data, 1, n, f);
    fclose(f);
    return path;
}

static void test_gsm8k(void) {
    Dataset *d = load("fixtures/datasets/gsm8k.jsonl", DS_GSM8K);
    if (!d) return;
    CHECK(d->n == 3, "n %d", d->n);
    CHECK(str_is(d->ex[0], "answer", "48"), "gsm8k gold");
    CHECK(str_is(d->ex[0], "question", "A baker makes 12 loaves in the morning and 3 times as many in the afternoon. How many loaves does she make?"), "q");
    // The reasoning is kept without the <<calculator>> annotations.
    CHECK(str_is(d->ex[0], "solution", "In the afternoon she makes 12*3 = 36 loaves.\nAltogether she makes 12+36 = 48 loaves."), "solution");
    CHECK(str_is(d->ex[1], "answer", "2500"), "commas removed");
    CHECK(str_is(d->ex[2], "answer", "-2"), "trimmed, signed");
    ds_free(d);

    // No "####": a malformed example, named by file and line.
    const char bad[] = "{\"question\": \"q\", \"answer\": \"#### 1\"}\n{\"question\": \"q\", \"answer\": \"no marker\"}\n";
    const char *p = write_tmp("gsm_bad.jsonl", bad, sizeof bad - 1);
    DsOptions o;
    ds_options_default(&o);
    o.format = DS_GSM8K;
    int rc = ds_load_jsonl(p, &o, &d);
    CHECK(rc == GRPO_EFORMAT && strstr(grpo_errmsg(), "gsm_bad.jsonl:2:") && strstr(grpo_errmsg(), "####"), "%s", grpo_errmsg());
}

static void test_math(void) {
    Dataset *d = load("fixtures/datasets/math.jsonl", DS_MATH);
    if (!d) return;
    CHECK(d->n == 4, "n %d", d->n);
    CHECK(str_is(d->ex[0], "answer", "\\frac{3}{4}"), "nested braces in \\boxed");
    CHECK(str_is(d->ex[1], "answer", "\\left\\{ 1,2 \\right\\}"), "the last box wins, escaped braces");
    CHECK(str_is(d->ex[2], "answer", "42"), "an explicit answer field, numeric");
    CHECK(str_is(d->ex[3], "answer", "\\frac{a}{b}^{2}"), "boxed with superscript");
    CHECK(str_is(d->ex[0], "question", "Compute $\\frac{1}{2} + \\frac{1}{4}$."), "problem is the question");
    CHECK(cJSON_GetObjectItem(d->ex[0], "level") != NULL, "source fields are kept");
    ds_free(d);

    char *b = ds_last_boxed("\\boxed{1} and \\boxed{2");
    CHECK(b && !strcmp(b, "1"), "an unclosed last box is ignored: %s", b ? b : "(null)");
    free(b);
    CHECK(ds_last_boxed("no box here") == NULL, "no box");
    b = ds_last_boxed("\\fbox{7}");
    CHECK(b && !strcmp(b, "7"), "fbox");
    free(b);

    const char bad[] = "{\"problem\": \"p\", \"solution\": \"nothing boxed\"}\n";
    const char *p = write_tmp("math_bad.jsonl", bad, sizeof bad - 1);
    DsOptions o;
    ds_options_default(&o);
    o.format = DS_MATH;
    int rc = ds_load_jsonl(p, &o, &d);
    CHECK(rc == GRPO_EFORMAT && strstr(grpo_errmsg(), "math_bad.jsonl:1:") && strstr(grpo_errmsg(), "boxed"), "%s", grpo_errmsg());
}

static void test_countdown(void) {
    Dataset *d = load("fixtures/datasets/countdown.jsonl", DS_COUNTDOWN);
    if (!d) return;
    CHECK(d->n == 3, "n %d", d->n);
    const cJSON *nums = cJSON_GetObjectItem(d->ex[0], "nums"), *target = cJSON_GetObjectItem(d->ex[0], "target");
    CHECK(cJSON_GetArraySize(nums) == 3 && cJSON_GetArrayItem(nums, 1)->valuedouble == 19, "nums kept");
    CHECK(target && target->valuedouble == 98, "target kept");
    const char *q = ds_str(d->ex[0], "question");
    CHECK(q && strstr(q, "[44, 19, 35]") && strstr(q, "make 98"), "question built from nums and target: %s", q ? q : "");
    CHECK(!ds_str(d->ex[0], "answer"), "no solution, no gold text");
    CHECK(str_is(d->ex[1], "answer", "3 * 5 + 7 + 2"), "solution shown as the gold");
    CHECK(str_is(d->ex[2], "question", "Make 3 from 1 and 2."), "a given question is kept");
    ds_free(d);

    const char *bad[] = {"{\"nums\": [1, 2.5], \"target\": 3}\n", "{\"nums\": [1, 2], \"target\": \"3\"}\n",
                         "{\"nums\": 5, \"target\": 3}\n", "{\"target\": 3}\n"};
    for (int i = 0; i < 4; i++) {
        const char *p = write_tmp("cd_bad.jsonl", bad[i], strlen(bad[i]));
        DsOptions o;
        ds_options_default(&o);
        o.format = DS_COUNTDOWN;
        int rc = ds_load_jsonl(p, &o, &d);
        CHECK(rc == GRPO_EFORMAT && strstr(grpo_errmsg(), "cd_bad.jsonl:1:"), "case %d: %s", i, grpo_errmsg());
    }
}

static void test_code_formats(void) {
    Dataset *d = load("fixtures/datasets/mbpp.jsonl", DS_MBPP);
    if (d) {
        CHECK(d->n == 2, "n %d", d->n);
        CHECK(str_is(d->ex[0], "question", "Write a function to add two numbers.\nYour code should pass these tests:\n\n"
                                           "assert add(1, 2) == 3\nassert add(-1, 1) == 0"), "mbpp question shows the tests");
        const cJSON *t = cJSON_GetObjectItem(d->ex[0], "tests");
        CHECK(cJSON_GetArraySize(t) == 2 && !strcmp(cJSON_GetArrayItem(t, 0)->valuestring, "assert add(1, 2) == 3"), "tests");
        CHECK(str_is(d->ex[1], "test_setup_code", "import math"), "setup kept");
        CHECK(str_is(d->ex[0], "solution", "def add(a, b):\n    return a + b"), "code as solution");
        ds_free(d);
    }
    d = load("fixtures/datasets/humaneval.jsonl", DS_HUMANEVAL);
    if (d) {
        CHECK(d->n == 1, "n %d", d->n);
        CHECK(str_is(d->ex[0], "question", "def inc(x: int) -> int:\n    \"\"\"Return x + 1.\"\"\"\n"), "prompt");
        CHECK(str_is(d->ex[0], "entry_point", "inc"), "entry point");
        CHECK(str_is(d->ex[0], "test", "def check(candidate):\n    assert candidate(1) == 2\n"), "test");
        CHECK(str_is(d->ex[0], "solution", "    return x + 1\n"), "canonical solution");
        ds_free(d);
    }
    const char bad[] = "{\"text\": \"t\", \"test_list\": []}\n";
    const char *p = write_tmp("mbpp_bad.jsonl", bad, sizeof bad - 1);
    DsOptions o;
    ds_options_default(&o);
    o.format = DS_MBPP;
    int rc = ds_load_jsonl(p, &o, &d);
    CHECK(rc == GRPO_EFORMAT && strstr(grpo_errmsg(), "mbpp_bad.jsonl:1:") && strstr(grpo_errmsg(), "test_list"), "%s", grpo_errmsg());
    const char bad2[] = "{\"prompt\": \"def f(): pass\", \"test\": \"def check(c): pass\"}\n";
    p = write_tmp("he_bad.jsonl", bad2, sizeof bad2 - 1);
    o.format = DS_HUMANEVAL;
    rc = ds_load_jsonl(p, &o, &d);
    CHECK(rc == GRPO_EFORMAT && strstr(grpo_errmsg(), "entry_point"), "%s", grpo_errmsg());
}

static void test_generic_and_mapping(void) {
    Dataset *d = load("fixtures/datasets/generic.jsonl", DS_GENERIC);
    if (d) {
        CHECK(d->n == 2, "n %d", d->n);
        CHECK(str_is(d->ex[0], "question", "What is 2 + 2?") && str_is(d->ex[0], "answer", "4"), "prompt/answer");
        CHECK(str_is(d->ex[1], "question", "Name a prime above 10.") && str_is(d->ex[1], "answer", "11"), "question, numeric answer");
        CHECK(cJSON_IsArray(cJSON_GetObjectItem(d->ex[1], "io")), "io passed through");
        ds_free(d);
    }
    DsOptions o;
    ds_options_default(&o);
    o.question_field = "meta.q";
    o.answer_field = "meta.gold.0";
    o.tests_field = "checks";
    int rc = ds_load_jsonl(tu_path("fixtures/datasets/nested.jsonl"), &o, &d);
    CHECK(rc == 0, "%s", grpo_errmsg());
    if (!rc) {
        CHECK(str_is(d->ex[0], "question", "What is the capital of France?"), "dotted question");
        CHECK(str_is(d->ex[0], "answer", "Paris"), "dotted answer with an index");
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(d->ex[0], "tests")) == 1, "mapped tests");
        ds_free(d);
    }
    o.answer_field = "meta.nothere";
    rc = ds_load_jsonl(tu_path("fixtures/datasets/nested.jsonl"), &o, &d);
    CHECK(rc == GRPO_EFORMAT && strstr(grpo_errmsg(), "nested.jsonl:1:") && strstr(grpo_errmsg(), "meta.nothere"), "%s", grpo_errmsg());
}

static void test_malformed(void) {
    DsOptions o;
    ds_options_default(&o);
    Dataset *d = NULL;
    int rc = ds_load_jsonl(tu_path("fixtures/datasets/malformed.jsonl"), &o, &d);
    CHECK(rc == GRPO_EFORMAT && strstr(grpo_errmsg(), "malformed.jsonl:3:") && strstr(grpo_errmsg(), "invalid JSON"),
          "first bad line is named: %s", grpo_errmsg());
    CHECK(d == NULL, "nothing returned on error");
    o.skip_malformed = 1;
    rc = ds_load_jsonl(tu_path("fixtures/datasets/malformed.jsonl"), &o, &d);
    CHECK(rc == 0, "%s", grpo_errmsg());
    if (!rc) {
        // Lines 3 (bad JSON), 5 (no prompt), 6 (not an object), 7 (trailing text).
        CHECK(d->n == 4 && d->n_skipped == 4 && d->first_skipped_line == 3, "n %d skipped %d first %d", d->n, d->n_skipped,
              d->first_skipped_line);
        CHECK(d->n_lines == 8, "lines %d", d->n_lines);
        CHECK(d->n == 4 && str_is(d->ex[3], "answer", "8"), "the good lines, in order");
        ds_free(d);
    }
    // Each kind of bad line alone gives its own error.
    const char *lines[] = {"{\"answer\": \"x\"}", "[1]", "{\"prompt\": \"p\"} x", "{\"prompt\": 5}", "{\"prompt\": \"  \"}"};
    const char *want[] = {"missing field \"prompt\"", "expected a JSON object", "text after the JSON value", "must be a string", "is empty"};
    o.skip_malformed = 0;
    for (int i = 0; i < 5; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "{\"prompt\": \"a\"}\n\n%s\n", lines[i]);
        const char *p = write_tmp("one_bad.jsonl", buf, strlen(buf));
        rc = ds_load_jsonl(p, &o, &d);
        CHECK(rc == GRPO_EFORMAT && strstr(grpo_errmsg(), "one_bad.jsonl:3:") && strstr(grpo_errmsg(), want[i]),
              "case %d: %s", i, grpo_errmsg());
    }
    // All lines bad, skipping: still an error (nothing to train on).
    const char allbad[] = "nope\n{\n";
    const char *p = write_tmp("all_bad.jsonl", allbad, sizeof allbad - 1);
    o.skip_malformed = 1;
    rc = ds_load_jsonl(p, &o, &d);
    CHECK(rc == GRPO_EFORMAT && strstr(grpo_errmsg(), "all 2 lines are malformed"), "%s", grpo_errmsg());
}

static void test_files(void) {
    DsOptions o;
    ds_options_default(&o);
    Dataset *d = NULL;
    int rc = ds_load_jsonl(tu_path("fixtures/datasets/does-not-exist.jsonl"), &o, &d);
    CHECK(rc == GRPO_EIO && strstr(grpo_errmsg(), "does-not-exist.jsonl: cannot open"), "%s", grpo_errmsg());
    rc = ds_load_jsonl(tu_path("fixtures/datasets/empty.jsonl"), &o, &d);
    CHECK(rc == GRPO_EFORMAT && strstr(grpo_errmsg(), "empty.jsonl: empty file"), "%s", grpo_errmsg());
    rc = ds_load_jsonl(tu_path("fixtures/datasets/blank.jsonl"), &o, &d);
    CHECK(rc == GRPO_EFORMAT && strstr(grpo_errmsg(), "empty file"), "%s", grpo_errmsg());
    rc = ds_load_jsonl(tu_path("fixtures/datasets"), &o, &d);
    CHECK(rc == GRPO_EIO && strstr(grpo_errmsg(), "fixtures/datasets"), "a directory: %s", grpo_errmsg());

    d = load("fixtures/datasets/crlf_bom.jsonl", DS_GENERIC);
    if (d) {
        CHECK(d->n == 3, "n %d", d->n);
        CHECK(str_is(d->ex[0], "question", "first") && str_is(d->ex[2], "answer", "3"), "BOM, CRLF, no final newline");
        ds_free(d);
    }
    // A 3 MB line: no fixed line buffer anywhere.
    size_t big = 3u << 20;
    char *line = malloc(big + 64);
    if (line) {
        size_t k = (size_t)sprintf(line, "{\"prompt\": \"");
        memset(line + k, 'x', big);
        k += big;
        k += (size_t)sprintf(line + k, "\", \"answer\": \"ok\"}\n");
        const char *p = write_tmp("long.jsonl", line, k);
        rc = ds_load_jsonl(p, &o, &d);
        CHECK(rc == 0, "%s", grpo_errmsg());
        if (!rc) {
            CHECK(d->n == 1 && strlen(ds_str(d->ex[0], "question")) == big && str_is(d->ex[0], "answer", "ok"), "long line");
            ds_free(d);
        }
        free(line);
    }
    // A NUL byte inside a line is malformed, not a crash or a silently cut line.
    const char nul[] = "{\"prompt\": \"a\0b\"}\n";
    const char *p = write_tmp("nul.jsonl", nul, sizeof nul - 1);
    rc = ds_load_jsonl(p, &o, &d);
    CHECK(rc == GRPO_EFORMAT && strstr(grpo_errmsg(), "nul.jsonl:1:"), "%s", grpo_errmsg());
}

static void test_split(void) {
    DsOptions o;
    ds_options_default(&o);
    o.eval_frac = 0.25;
    Dataset *all = NULL, *tr = NULL, *ev = NULL;
    int rc = ds_generate("arithmetic", &o.gen, 7, 400, &o, &all);
    CHECK(rc == 0, "%s", grpo_errmsg());
    o.split = DS_SPLIT_TRAIN;
    rc |= ds_generate("arithmetic", &o.gen, 7, 300, &o, &tr);
    o.split = DS_SPLIT_EVAL;
    rc |= ds_generate("arithmetic", &o.gen, 7, 100, &o, &ev);
    CHECK(rc == 0, "%s", grpo_errmsg());
    if (rc) goto done;
    int n_eval = 0;
    for (int i = 0; i < all->n; i++) n_eval += ds_is_eval(all->ex[i], 0.25, 0);
    CHECK(n_eval > 60 && n_eval < 140, "about a quarter of 400 goes to eval: %d", n_eval);
    // Disjoint: no eval question appears in train.
    int overlap = 0;
    for (int i = 0; i < ev->n; i++)
        for (int j = 0; j < tr->n; j++)
            overlap += !strcmp(ds_str(ev->ex[i], "question"), ds_str(tr->ex[j], "question"));
    CHECK(overlap == 0, "train and eval share %d questions", overlap);
    CHECK(ev->n == 100 && tr->n == 300, "sizes %d %d", ev->n, tr->n);
    // A different split seed gives a different split.
    int moved = 0;
    for (int i = 0; i < all->n; i++) moved += ds_is_eval(all->ex[i], 0.25, 0) != ds_is_eval(all->ex[i], 0.25, 99);
    CHECK(moved > 0, "the split seed matters");
    // Files split the same way.
    DsOptions f;
    ds_options_default(&f);
    f.skip_malformed = 1;
    f.eval_frac = 0.5;
    int total = 0;
    for (int s = 0; s < 2; s++) {
        f.split = s ? DS_SPLIT_EVAL : DS_SPLIT_TRAIN;
        Dataset *d = NULL;
        if (ds_load_jsonl(tu_path("fixtures/datasets/malformed.jsonl"), &f, &d) == 0) {
            total += d->n;
            ds_free(d);
        } else {
            CHECK(strstr(grpo_errmsg(), "split is empty") != NULL, "%s", grpo_errmsg());
        }
    }
    CHECK(total == 4, "train + eval = all: %d", total);
done:
    ds_free(all);
    ds_free(tr);
    ds_free(ev);
}

static void test_open_spec(void) {
    DsOptions o;
    ds_options_default(&o);
    Dataset *d = NULL;
    int rc = ds_open("gen:arithmetic?n=7&digits=3&ops=+&seed=5", &o, &d);
    CHECK(rc == 0, "%s", grpo_errmsg());
    if (!rc) {
        CHECK(d->n == 7 && !strcmp(d->origin, "gen:arithmetic"), "n %d", d->n);
        const char *q = ds_str(d->ex[0], "question");
        CHECK(q && strchr(q, '+') && strlen(q) == strlen("What is 123 + 456?"), "3-digit additions: %s", q ? q : "");
        ds_free(d);
    }
    rc = ds_open("gen:arithmatic", &o, &d);
    CHECK(rc == GRPO_EINVAL && strstr(grpo_errmsg(), "did you mean 'arithmetic'"), "%s", grpo_errmsg());
    rc = ds_open("gen:arithmetic?digits=0", &o, &d);
    CHECK(rc == GRPO_EINVAL && strstr(grpo_errmsg(), "digits"), "%s", grpo_errmsg());
    rc = ds_open("gen:arithmetic?colour=red", &o, &d);
    CHECK(rc == GRPO_EINVAL && strstr(grpo_errmsg(), "unknown generator option 'colour'"), "%s", grpo_errmsg());
    rc = ds_open("", &o, &d);
    CHECK(rc == GRPO_EINVAL, "empty spec");
    DsFormat f;
    CHECK(ds_format_parse("gsm8k", &f) == 0 && f == DS_GSM8K, "format parse");
    CHECK(ds_format_parse("gsm9k", &f) == GRPO_EINVAL && strstr(grpo_errmsg(), "gsm9k"), "unknown format named");
}

static void test_options_set(void) {
    DsOptions o;
    ds_options_default(&o);
    CHECK(ds_options_set(&o, "format", "mbpp") == 0 && o.format == DS_MBPP, "format");
    CHECK(ds_options_set(&o, "question_field", "a.b") == 0 && !strcmp(o.question_field, "a.b"), "question_field");
    CHECK(ds_options_set(&o, "skip_malformed", "true") == 0 && o.skip_malformed == 1, "skip");
    CHECK(ds_options_set(&o, "split", "eval") == 0 && o.split == DS_SPLIT_EVAL, "split");
    CHECK(ds_options_set(&o, "eval_frac", "0.25") == 0 && o.eval_frac == 0.25, "eval_frac");
    CHECK(ds_options_set(&o, "split_seed", "18446744073709551615") == 0 && o.split_seed == 18446744073709551615ULL, "u64");
    CHECK(ds_options_set(&o, "gen_n", "77") == 0 && o.gen_n == 77, "gen_n");
    CHECK(ds_options_set(&o, "digits", "4") == 0 && o.gen.digits == 4, "a generator option");
    CHECK(ds_options_set(&o, "eval_frac", "1.5") == GRPO_EINVAL && strstr(grpo_errmsg(), "eval_frac=1.5"), "%s", grpo_errmsg());
    CHECK(ds_options_set(&o, "skip_malformed", "yes") == GRPO_EINVAL, "bool");
    CHECK(ds_options_set(&o, "gen_seed", "-1") == GRPO_EINVAL, "negative seed");
    CHECK(ds_options_set(&o, "formt", "gsm8k") == GRPO_EINVAL && strstr(grpo_errmsg(), "unknown dataset option 'formt'"), "%s",
          grpo_errmsg());
    CHECK(ds_options_set(&o, "digits", "x") == GRPO_EINVAL && strstr(grpo_errmsg(), "digits=x"), "%s", grpo_errmsg());
}

int main(void) {
    test_options_set();
    test_gsm8k();
    test_math();
    test_countdown();
    test_code_formats();
    test_generic_and_mapping();
    test_malformed();
    test_files();
    test_split();
    test_open_spec();
    return tu_finish("test_datasets");
}
