// Every generated gold answer, solution and worked completion verifies with the
// reward rule that will score it in training: the "countdown" and "math" rule
// presets through rules_score, plus countdown_check on each solution and
// math_verify on each gold. Covers fresh generator output under several
// options, the bundled datasets/data/*.jsonl, and the gold answers the loader
// extracts from the GSM8K/MATH fixtures. Wrong answers must score 0, so the
// checks can fail.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/dataset.h"
#include "datasets/gen.h"
#include "kernels/status.h"
#include "rewards/countdown.h"
#include "rewards/math.h"
#include "rewards/rules.h"
#include "testlib.h"

static RuleSet *g_math, *g_countdown;

// Full marks: every rule of the preset gives 1 (format and accuracy).
static int full_marks(const RuleSet *r, const char *completion, const cJSON *ex, char *why, size_t wn) {
    RuleScore s;
    char err[256] = "";
    if (rules_score(r, completion, ex, -1, &s, err, sizeof err)) {
        snprintf(why, wn, "error: %s", err);
        return 0;
    }
    for (int i = 0; i < s.n; i++)
        if (s.value[i] != 1.0) {
            snprintf(why, wn, "rule %s = %g: %s", rules_name(r, i), s.value[i], s.detail[i]);
            return 0;
        }
    return 1;
}

static double accuracy(const RuleSet *r, const char *completion, const cJSON *ex) {
    RuleScore s;
    char err[256];
    if (rules_score(r, completion, ex, -1, &s, err, sizeof err)) return -1;
    return s.value[s.n - 1]; // the accuracy/equation rule comes last in both presets
}

// The true answer of an arithmetic or letters question, worked out here from
// the question alone, so a wrong stored gold cannot verify itself.
static int true_answer(const char *q, char *out, size_t n) {
    long long a, b;
    char op, letter, word[256];
    if (sscanf(q, "What is %lld %c %lld?", &a, &op, &b) == 3) {
        snprintf(out, n, "%lld", op == '+' ? a + b : op == '-' ? a - b : a * b);
        return 1;
    }
    if (sscanf(q, "How many times does the letter \"%c\" appear in \"%255[a-z]\"?", &letter, word) == 2) {
        int c = 0;
        for (int i = 0; word[i]; i++) c += word[i] == letter;
        snprintf(out, n, "%d", c);
        return 1;
    }
    return 0;
}

// One example: the worked completion gets full marks, "<answer>gold</answer>"
// is right, and a wrong answer is wrong. For math tasks the rules score against
// an independently computed gold.
static int verify(const char *task, const cJSON *ex_in, char *why, size_t wn) {
    const char *ans = ds_str(ex_in, "answer"), *comp = ds_str(ex_in, "completion");
    const RuleSet *r = strcmp(task, "countdown") ? g_math : g_countdown;
    if (!ans) return snprintf(why, wn, "no answer"), 0;
    cJSON *ref = NULL;
    const cJSON *ex = ex_in;
    if (r == g_math) {
        char truth[64];
        if (!true_answer(ds_str(ex_in, "question"), truth, sizeof truth)) return snprintf(why, wn, "unparsed question"), 0;
        ref = cJSON_CreateObject();
        cJSON_AddStringToObject(ref, "answer", truth);
        ex = ref;
    }
    int ok = 0;
    char buf[512];
    if (comp && !full_marks(r, comp, ex, why, wn)) goto done;
    snprintf(buf, sizeof buf, "<think> ok </think> <answer>%s</answer>", ans);
    if (!full_marks(r, buf, ex, why, wn)) goto done;
    if (!strcmp(task, "countdown")) {
        const cJSON *nums = cJSON_GetObjectItem(ex, "nums");
        long long v[COUNTDOWN_MAX_NUMS];
        int n = 0;
        for (const cJSON *e = nums ? nums->child : NULL; e && n < COUNTDOWN_MAX_NUMS; e = e->next) v[n++] = (long long)e->valuedouble;
        long long target = (long long)cJSON_GetObjectItem(ex, "target")->valuedouble;
        char detail[256];
        if (countdown_check(ds_str(ex, "solution"), v, n, target, detail, sizeof detail) != 1) {
            snprintf(why, wn, "countdown_check: %s", detail);
            goto done;
        }
        snprintf(buf, sizeof buf, "<think> ok </think> <answer>%s + 1</answer>", ans);
        if (accuracy(r, buf, ex) != 0) {
            snprintf(why, wn, "a wrong equation scored");
            goto done;
        }
    } else {
        MathOptions o;
        math_options_default(&o);
        char detail[256];
        if (math_verify(buf, ds_str(ex, "answer"), &o, detail, sizeof detail) != 1.0) {
            snprintf(why, wn, "math_verify: %s", detail);
            goto done;
        }
        snprintf(buf, sizeof buf, "<think> ok </think> <answer>%lld</answer>", atoll(ans) + 1);
        if (accuracy(r, buf, ex) != 0) {
            snprintf(why, wn, "a wrong answer scored");
            goto done;
        }
    }
    ok = 1;
done:
    cJSON_Delete(ref);
    return ok;
}

static void test_generated(void) {
    struct { const char *name; const char *opt; const char *val; int n; } cases[] = {
        {"countdown", NULL, NULL, 400},       {"countdown", "max_nums", "6", 100},
        {"arithmetic", NULL, NULL, 300},      {"arithmetic", "digits", "1", 100},
        {"arithmetic", "digits", "7", 100},   {"letters", NULL, NULL, 300},
        {"letters", "alphabet", "26", 100},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        GenOptions o;
        gen_options_default(&o);
        o.worked = 1;
        if (cases[c].opt) gen_options_set(&o, cases[c].opt, cases[c].val);
        int bad = 0;
        char why[512] = "";
        for (int i = 0; i < cases[c].n; i++) {
            cJSON *ex = NULL;
            if (gen_instance(cases[c].name, &o, 77 + c, (uint64_t)i, &ex)) {
                CHECK(0, "%s", grpo_errmsg());
                break;
            }
            char w[512];
            if (!verify(cases[c].name, ex, w, sizeof w)) {
                if (!bad++) {
                    char *s = cJSON_PrintUnformatted(ex);
                    snprintf(why, sizeof why, "%s -- %s", w, s);
                    free(s);
                }
            }
            cJSON_Delete(ex);
        }
        CHECK(bad == 0, "%s %s=%s: %d of %d fail; first: %s", cases[c].name, cases[c].opt ? cases[c].opt : "",
              cases[c].val ? cases[c].val : "", bad, cases[c].n, why);
    }
}

static void test_bundled(void) {
    const char *files[] = {"countdown-train", "countdown-eval", "arithmetic-train", "arithmetic-eval", "letters-train", "letters-eval"};
    for (int f = 0; f < 6; f++) {
        char rel[128];
        snprintf(rel, sizeof rel, "../datasets/data/%s.jsonl", files[f]);
        DsOptions o;
        ds_options_default(&o);
        o.format = strncmp(files[f], "countdown", 9) ? DS_GENERIC : DS_COUNTDOWN;
        Dataset *d = NULL;
        if (ds_load_jsonl(tu_path(rel), &o, &d)) {
            CHECK(0, "%s", grpo_errmsg());
            continue;
        }
        int bad = 0;
        char why[512] = "";
        const char *task = !strncmp(files[f], "countdown", 9) ? "countdown" : "math";
        for (int i = 0; i < d->n; i++) {
            char w[512];
            if (!verify(task, d->ex[i], w, sizeof w) && !bad++) snprintf(why, sizeof why, "line %d: %s", i + 1, w);
        }
        CHECK(bad == 0, "%s: %d of %d fail; first %s", files[f], bad, d->n, why);
        CHECK(d->n >= 100, "%s has %d lines", files[f], d->n);
        ds_free(d);
    }
}

static void test_loaded_golds(void) {
    // Golds the loader extracts, written the way a model would write them.
    struct { const char *file; DsFormat f; int line; const char *completion; } cases[] = {
        {"gsm8k.jsonl", DS_GSM8K, 0, "<think> 12*3=36, 12+36=48 </think> <answer>48</answer>"},
        {"gsm8k.jsonl", DS_GSM8K, 1, "<think> ... </think> <answer>2,500</answer>"},
        {"gsm8k.jsonl", DS_GSM8K, 2, "<think> 5-7 </think> <answer>-2</answer>"},
        {"math.jsonl", DS_MATH, 0, "<think> </think> <answer>0.75</answer>"},
        {"math.jsonl", DS_MATH, 2, "<think> </think> <answer>42</answer>"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        char rel[128];
        snprintf(rel, sizeof rel, "fixtures/datasets/%s", cases[c].file);
        DsOptions o;
        ds_options_default(&o);
        o.format = cases[c].f;
        Dataset *d = NULL;
        if (ds_load_jsonl(tu_path(rel), &o, &d)) {
            CHECK(0, "%s", grpo_errmsg());
            continue;
        }
        char why[512];
        CHECK(full_marks(g_math, cases[c].completion, d->ex[cases[c].line], why, sizeof why), "%s line %d: %s",
              cases[c].file, cases[c].line + 1, why);
        CHECK(accuracy(g_math, "<think> </think> <answer>7</answer>", d->ex[cases[c].line]) == 0, "wrong answer scores 0");
        ds_free(d);
    }
}

int main(void) {
    char err[256];
    if (rules_load("math", &g_math, err, sizeof err) || rules_load("countdown", &g_countdown, err, sizeof err)) {
        CHECK(0, "rules presets: %s", err);
        return tu_finish("test_data_verify");
    }
    test_generated();
    test_bundled();
    test_loaded_golds();
    rules_free(g_math);
    rules_free(g_countdown);
    return tu_finish("test_data_verify");
}
