// The rule set: regex and tag-count rules, the shaping formulas against
// hand-computed values, parse errors, presets and batch scoring.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rewards/didyoumean.h"
#include "rewards/rules.h"
#include "rewards/sandbox.h"
#include "rewards/shaping.h"
#include "testlib.h"

static int near(double a, double b) { return fabs(a - b) < 1e-9; }

// Parses `json`, which must succeed; the caller frees.
static RuleSet *must_parse(const char *json) {
    RuleSet *r = NULL;
    char err[512] = "";
    int rc = rules_parse(json, "test", &r, err, sizeof err);
    CHECK(rc == 0 && r, "parse failed: %s\n  json: %s", err, json);
    return r;
}

// Parsing must fail with every one of the given fragments in the message.
static void parse_fails(const char *json, const char *frag1, const char *frag2) {
    RuleSet *r = NULL;
    char err[512] = "";
    int rc = rules_parse(json, "bad.json", &r, err, sizeof err);
    CHECK(rc != 0 && r == NULL, "parse should fail: %s", json);
    CHECK(strncmp(err, "bad.json: ", 10) == 0, "error names the file: '%s'", err);
    CHECK(strstr(err, frag1) != NULL, "error '%s' lacks '%s'", err, frag1);
    if (frag2) CHECK(strstr(err, frag2) != NULL, "error '%s' lacks '%s'", err, frag2);
    rules_free(r);
}

// Scores one completion against an example given as JSON text.
static double score1(const RuleSet *r, const char *completion, const char *example, int n_tokens, RuleScore *s) {
    cJSON *ex = cJSON_Parse(example);
    char err[256] = "";
    int rc = rules_score(r, completion, ex, n_tokens, s, err, sizeof err);
    CHECK(rc == 0, "score failed: %s", err);
    cJSON_Delete(ex);
    return s->reward;
}

static void test_shaping(void) {
    // overlong: max 100, buffer 20 -> 0 up to 80, then -(n - 80) / 20, -1 past 100.
    CHECK(shaping_overlong(0, 100, 20) == 0.0, "%s", "");
    CHECK(shaping_overlong(80, 100, 20) == 0.0, "%s", "");
    CHECK(near(shaping_overlong(81, 100, 20), -0.05), "%g", shaping_overlong(81, 100, 20));
    CHECK(near(shaping_overlong(90, 100, 20), -0.5), "%g", shaping_overlong(90, 100, 20));
    CHECK(near(shaping_overlong(100, 100, 20), -1.0), "%s", "");
    CHECK(shaping_overlong(101, 100, 20) == -1.0, "%s", "");
    CHECK(shaping_overlong(5000, 100, 20) == -1.0, "%s", "");
    // cosine, open-r1 defaults (correct 0.5..1.0, wrong -1.0..-0.5), max_len 100:
    // correct: 0.5 + 0.25 * (1 + cos(pi * len / 100)); wrong: -0.5 - 0.25 * (1 + cos(...)).
    CHECK(near(shaping_cosine(0, 100, 1, 0.5, 1.0, -1.0, -0.5), 1.0), "%s", "");
    CHECK(near(shaping_cosine(50, 100, 1, 0.5, 1.0, -1.0, -0.5), 0.75), "%s", "");
    CHECK(near(shaping_cosine(25, 100, 1, 0.5, 1.0, -1.0, -0.5), 0.5 + 0.25 * (1 + 0.70710678118654752)), "%s", "");
    CHECK(near(shaping_cosine(100, 100, 1, 0.5, 1.0, -1.0, -0.5), 0.5), "%s", "");
    CHECK(near(shaping_cosine(250, 100, 1, 0.5, 1.0, -1.0, -0.5), 0.5), "past max_len stays at the end value");
    CHECK(near(shaping_cosine(0, 100, 0, 0.5, 1.0, -1.0, -0.5), -1.0), "short wrong answers cost most");
    CHECK(near(shaping_cosine(50, 100, 0, 0.5, 1.0, -1.0, -0.5), -0.75), "%s", "");
    CHECK(near(shaping_cosine(100, 100, 0, 0.5, 1.0, -1.0, -0.5), -0.5), "%s", "");
    // repetition: "a b c a b c" has trigrams abc bca cab abc: 4 total, 3 distinct -> -(1 - 3/4).
    double v;
    long total, uniq;
    CHECK(shaping_repetition("a b c a b c", 3, -1.0, &v, &total, &uniq) == 0 && near(v, -0.25), "%g", v);
    CHECK(total == 4 && uniq == 3, "%ld %ld", total, uniq);
    CHECK(shaping_repetition("A  b\tC\na B c", 3, -1.0, &v, NULL, NULL) == 0 && near(v, -0.25), "case and spacing: %g", v);
    CHECK(shaping_repetition("the the the the", 2, -0.5, &v, &total, &uniq) == 0 && near(v, -0.5 * (1 - 1.0 / 3)),
          "%g", v);
    CHECK(shaping_repetition("one two three four", 2, -1.0, &v, NULL, NULL) == 0 && v == 0.0 && !signbit(v), "no repeats: %g", v);
    CHECK(shaping_repetition("x y", 3, -1.0, &v, &total, NULL) == 0 && v == 0.0 && total == 0, "too short: %g", v);
    CHECK(shaping_repetition("", 3, -1.0, &v, NULL, NULL) == 0 && v == 0.0, "empty");
    // "ab" and "a b" must not be the same bigram as "a" "b" in another order
    CHECK(shaping_repetition("ab c a bc", 2, -1.0, &v, NULL, NULL) == 0 && v == 0.0, "word boundaries: %g", v);
}

static void test_regex(void) {
    RuleScore s;
    RuleSet *r = must_parse("{\"rules\": [{\"name\": \"format\", \"type\": \"regex\", \"flags\": [\"dotall\"],"
                            " \"pattern\": \"^<think>.*?</think>\\\\s*<answer>.*?</answer>$\"}]}");
    if (r) {
        CHECK(score1(r, "<think>a\nb</think>\n<answer>5</answer>", "{}", -1, &s) == 1.0, "%s", s.detail[0]);
        CHECK(strstr(s.detail[0], "matches") != NULL, "%s", s.detail[0]);
        CHECK(score1(r, "<think>a\nb</think> 5", "{}", -1, &s) == 0.0, "%s", s.detail[0]);
        CHECK(strstr(s.detail[0], "no match") != NULL, "%s", s.detail[0]);
        CHECK(score1(r, "<answer>5</answer>", "{}", -1, &s) == 0.0, "%s", "");
        rules_free(r);
    }
    // Without dotall '.' stops at newlines; with caseless the case of the tags does not matter.
    r = must_parse("{\"rules\": [{\"type\": \"regex\", \"pattern\": \"<think>.*</think>\"}]}");
    if (r) {
        CHECK(score1(r, "<think>a\nb</think>", "{}", -1, &s) == 0.0, "no dotall");
        rules_free(r);
    }
    r = must_parse("{\"rules\": [{\"type\": \"regex\", \"pattern\": \"<THINK>\", \"flags\": [\"caseless\"],"
                   " \"match_value\": 0.5, \"no_match_value\": -0.5}]}");
    if (r) {
        CHECK(score1(r, "x <think> y", "{}", -1, &s) == 0.5, "caseless match value");
        CHECK(score1(r, "x y", "{}", -1, &s) == -0.5, "no-match value");
        rules_free(r);
    }
    r = must_parse("{\"rules\": [{\"type\": \"regex\", \"pattern\": \"^ok$\", \"flags\": [\"multiline\"]}]}");
    if (r) {
        CHECK(score1(r, "first\nok\nlast", "{}", -1, &s) == 1.0, "multiline");
        rules_free(r);
    }
    r = must_parse("{\"rules\": [{\"type\": \"regex\", \"pattern\": \"a+b\", \"flags\": [\"literal\"]}]}");
    if (r) {
        CHECK(score1(r, "xa+by", "{}", -1, &s) == 1.0, "literal");
        CHECK(score1(r, "xaaby", "{}", -1, &s) == 0.0, "literal is not a regex");
        rules_free(r);
    }
    // "field": match the example's answer instead of the completion.
    r = must_parse("{\"rules\": [{\"type\": \"regex\", \"pattern\": \"^[0-9]+$\", \"field\": \"answer\"}]}");
    if (r) {
        CHECK(score1(r, "words", "{\"answer\": \"42\"}", -1, &s) == 1.0, "field string");
        CHECK(score1(r, "words", "{\"answer\": 42}", -1, &s) == 1.0, "field number");
        CHECK(score1(r, "words", "{\"answer\": \"4.2\"}", -1, &s) == 0.0, "field mismatch");
        cJSON *ex = cJSON_Parse("{\"question\": \"q\"}");
        char err[256] = "";
        CHECK(rules_score(r, "42", ex, -1, &s, err, sizeof err) != 0 && strstr(err, "no string field \"answer\""),
              "missing field: %s", err);
        cJSON_Delete(ex);
        rules_free(r);
    }
    // A pathological pattern on a long text hits the match limit instead of hanging.
    r = must_parse("{\"rules\": [{\"type\": \"regex\", \"pattern\": \"^(a+)+$\"}]}");
    if (r) {
        char text[64];
        memset(text, 'a', 40);
        strcpy(text + 40, "b");
        CHECK(score1(r, text, "{}", -1, &s) == 0.0 && strstr(s.detail[0], "match limit"), "%s", s.detail[0]);
        rules_free(r);
    }
}

static void test_tag_count(void) {
    // open-r1's tag_count reward: 0.25 for each tag found exactly once.
    RuleScore s;
    RuleSet *r = must_parse(
        "{\"rules\": [{\"name\": \"tags\", \"type\": \"regex\", \"count\": ["
        "{\"pattern\": \"<think>\\\\n\", \"value\": 0.25}, {\"pattern\": \"\\\\n</think>\\\\n\", \"value\": 0.25},"
        "{\"pattern\": \"\\\\n<answer>\\\\n\", \"value\": 0.25}, {\"pattern\": \"\\\\n</answer>\", \"value\": 0.25}]}]}");
    if (!r) return;
    CHECK(near(score1(r, "<think>\nhm\n</think>\n<answer>\n5\n</answer>", "{}", -1, &s), 1.0), "%s", s.detail[0]);
    CHECK(near(score1(r, "<think>\nhm <think>\n\n</think>\n<answer>\n5\n</answer>", "{}", -1, &s), 0.75), "%s",
          s.detail[0]);
    CHECK(strstr(s.detail[0], "x2+ (want 1)") != NULL, "detail shows the count: %s", s.detail[0]);
    CHECK(near(score1(r, "<think>\nhm\n</think>\n5", "{}", -1, &s), 0.5), "%s", s.detail[0]);
    CHECK(near(score1(r, "nothing", "{}", -1, &s), 0.0), "%s", s.detail[0]);
    rules_free(r);
    // at_least and exactly 0, and negative values (a penalty per leaked tag).
    r = must_parse("{\"rules\": [{\"type\": \"regex\", \"count\": [{\"pattern\": \"step\", \"at_least\": 3, \"value\": 1},"
                   "{\"pattern\": \"<\\\\|im_end\\\\|>\", \"exactly\": 0, \"value\": 0.5}]}]}");
    if (!r) return;
    CHECK(near(score1(r, "step step step step", "{}", -1, &s), 1.5), "%s", s.detail[0]);
    CHECK(near(score1(r, "step step", "{}", -1, &s), 0.5), "%s", s.detail[0]);
    CHECK(strstr(s.detail[0], "(want >= 3)") != NULL, "%s", s.detail[0]);
    CHECK(near(score1(r, "step step step <|im_end|>", "{}", -1, &s), 1.0), "%s", s.detail[0]);
    rules_free(r);
    // Empty matches must not loop forever.
    r = must_parse("{\"rules\": [{\"type\": \"regex\", \"count\": [{\"pattern\": \"x*\", \"at_least\": 4}]}]}");
    if (!r) return;
    CHECK(near(score1(r, "abc", "{}", -1, &s), 1.0), "empty matches counted: %s", s.detail[0]);
    rules_free(r);
}

static void test_parse_errors(void) {
    parse_fails("{\"rules\": [{\"type\": \"regex\", \"pattern\": \"a\", \"wieght\": 1}]}", "rules[0] 'regex'",
                "unknown key 'wieght' (did you mean 'weight'?)");
    parse_fails("{\"rules\": [{\"name\": \"fmt\", \"type\": \"regex\", \"patern\": \"a\"}]}", "rules[0] 'fmt'",
                "did you mean 'pattern'?");
    parse_fails("{\"rules\": [{\"type\": \"regex\", \"pattern\": \"a\"}, {\"name\": \"eq\", \"type\": \"countdwn\"}]}",
                "rules[1] 'eq': unknown type 'countdwn' (did you mean 'countdown'?); types: ", "regex, countdown, overlong, length, repetition");
    parse_fails("{\"rules\": [{\"type\": \"zzzzzz\"}]}", "unknown type 'zzzzzz'; types:", NULL);
    parse_fails("{\"rules\": [{\"type\": \"regex\", \"pattern\": \"a\", \"weight\": \"high\"}]}",
                "\"weight\" must be a finite number, got \"high\"", NULL);
    parse_fails("{\"rules\": [{\"name\": \"fmt\", \"type\": \"regex\", \"pattern\": \"(a\"}]}", "rules[0] 'fmt'",
                "bad regex at offset 2");
    parse_fails("{\"rules\": [{\"name\": \"t\", \"type\": \"regex\", \"count\": [{\"pattern\": \"a\"}, {\"pattern\": \"[\"}]}]}",
                "rules[0] 't': count[1]: bad regex", NULL);
    parse_fails("{\"rules\": [{\"type\": \"regex\", \"count\": [{\"pattern\": \"a\", \"vlaue\": 1}]}]}",
                "count[0]: unknown key 'vlaue' (did you mean 'value'?)", NULL);
    parse_fails("{\"rules\": [{\"type\": \"regex\", \"pattern\": \"a\", \"flags\": [\"dotal\"]}]}",
                "unknown flag 'dotal' (did you mean 'dotall'?)", NULL);
    parse_fails("{\"rules\": [{\"type\": \"regex\"}]}", "give either 'pattern'", "neither");
    parse_fails("{\"rules\": [{\"name\": \"a\", \"type\": \"regex\", \"pattern\": \"x\"}, {\"name\": \"a\", \"type\": "
                "\"regex\", \"pattern\": \"y\"}]}",
                "rules[1] 'a': the name is already used by rules[0]", NULL);
    parse_fails("{\"rules\": [{\"name\": \"x\"}]}", "rules[0] 'x': missing \"type\"", NULL);
    parse_fails("{\"rule\": []}", "unknown key 'rule' (did you mean 'rules'?)", NULL);
    parse_fails("{\"rules\": []}", "non-empty list", NULL);
    parse_fails("[1, 2]", "must be an object", NULL);
    parse_fails("{\"rules\": [\n  {\"type\": \"regex\",\n   \"pattern\": 'a'}]}", "invalid JSON at line 3, column", NULL);
    parse_fails("{\"rules\": [{\"type\": \"overlong\", \"buffer\": 10}]}", "missing option 'max_tokens'", NULL);
    parse_fails("{\"rules\": [{\"type\": \"overlong\", \"max_tokens\": 10, \"buffer\": 20}]}", "must not exceed", NULL);
    parse_fails("{\"rules\": [{\"type\": \"overlong\", \"max_tokens\": 10.5, \"buffer\": 2}]}",
                "'max_tokens' must be a whole number", NULL);
    parse_fails("{\"rules\": [{\"type\": \"repetition\", \"max_penalty\": 0.5}]}", "'max_penalty' must be a number in",
                NULL);
    parse_fails("{\"rules\": [{\"name\": \"accuracy\", \"type\": \"countdown\"}, {\"type\": \"length\", \"correct_rule\": "
                "\"acuracy\"}]}",
                "names 'acuracy', which is not an earlier rule (did you mean 'accuracy'?)", NULL);
    // A rule may only look back: naming a later rule is an error.
    parse_fails("{\"rules\": [{\"type\": \"length\", \"correct_rule\": \"eq\"}, {\"name\": \"eq\", \"type\": \"countdown\"}]}",
                "not an earlier rule", NULL);
    parse_fails("{\"rules\": [{\"type\": \"countdown\", \"require_tag\": 1}]}", "must be true or false", NULL);
    // More than RULES_MAX rules.
    char big[8192];
    size_t k = (size_t)snprintf(big, sizeof big, "{\"rules\": [");
    for (int i = 0; i < RULES_MAX + 1; i++)
        k += (size_t)snprintf(big + k, sizeof big - k, "%s{\"name\": \"r%d\", \"type\": \"regex\", \"pattern\": \"a\"}",
                              i ? ", " : "", i);
    snprintf(big + k, sizeof big - k, "]}");
    parse_fails(big, "33 rules; at most 32", NULL);

    // did-you-mean itself
    const char *c[] = {"rules", "comment", NULL};
    CHECK(dym_closest("rulse", c, -1) && !strcmp(dym_closest("rulse", c, -1), "rules"), "swap counts as one edit");
    CHECK(dym_closest("zzzzzzz", c, -1) == NULL, "far words get no suggestion");
    CHECK(dym_distance("kitten", "sitting") == 3, "%d", dym_distance("kitten", "sitting"));
}

static void test_load_and_presets(void) {
    RuleSet *r = NULL;
    char err[512] = "";
    CHECK(rules_load(tu_path("fixtures/rules/shaped_countdown.json"), &r, err, sizeof err) == 0, "%s", err);
    if (r) {
        CHECK(rules_count(r) == 5, "%d", rules_count(r));
        CHECK(!strcmp(rules_name(r, 2), "length") && !strcmp(rules_type(r, 3), "overlong"), "%s", "");
        CHECK(rules_weight(r, 4) == 0.2, "%s", "");
        // Hand-computed: tags all present (1.0 * 0.5), correct (1.0), length 50 of 100 correct
        // (0.75 * 0.5), overlong 90 of 100/20 (-0.5), repetition: 5 words, no repeated trigram.
        RuleScore s;
        double rw = score1(r, "<think>ok</think><answer>(1+2)*3</answer>", "{\"nums\": [1,2,3], \"target\": 9}", 90, &s);
        CHECK(near(s.value[0], 1.0) && near(s.value[1], 1.0) && near(s.value[3], -0.5), "%g %g %g", s.value[0],
              s.value[1], s.value[3]);
        CHECK(near(s.value[2], 0.5 + 0.25 * (1 + cos(0.9 * M_PI))), "length %g", s.value[2]);
        CHECK(near(rw, 0.5 + 1.0 + 0.5 * s.value[2] - 0.5), "reward %g", rw);
        // The length rule reads the equation's value: a wrong answer flips it negative.
        score1(r, "<think>ok</think><answer>1+2+3</answer>", "{\"nums\": [1,2,3], \"target\": 9}", 50, &s);
        CHECK(s.value[1] == 0.0 && near(s.value[2], -0.75), "wrong: %g (%s)", s.value[2], s.detail[2]);
        CHECK(strstr(s.detail[2], "wrong (equation = 0)") != NULL, "%s", s.detail[2]);
        // overlong and length need n_tokens: a clear error naming the rule.
        cJSON *ex = cJSON_Parse("{\"nums\": [1,2,3], \"target\": 9}");
        CHECK(rules_score(r, "x", ex, -1, &s, err, sizeof err) != 0 && strstr(err, "rule 'length': needs") &&
                  strstr(s.error, "n_tokens"),
              "%s", err);
        cJSON_Delete(ex);
        rules_free(r);
    }
    r = NULL;
    CHECK(rules_load("countdown", &r, err, sizeof err) == 0, "%s", err);
    if (r) {
        CHECK(rules_count(r) == 2 && !strcmp(rules_name(r, 0), "format") && !strcmp(rules_type(r, 1), "countdown"), "%s", "");
        CHECK(rules_weight(r, 0) == 0.1 && rules_weight(r, 1) == 1.0, "%s", "");
        RuleScore s;
        const char *ex = "{\"nums\": [1,2,3], \"target\": 9}";
        CHECK(near(score1(r, "<think>ok</think>\n<answer>(1+2)*3</answer>", ex, -1, &s), 1.1), "%s | %s", s.detail[0],
              s.detail[1]);
        // the prompt may end with <think>, so the completion may start inside it
        CHECK(near(score1(r, "so 1+2=3, 3*3=9</think> <answer>(1+2)*3</answer>\n", ex, -1, &s), 1.1), "%s", s.detail[0]);
        CHECK(near(score1(r, "<think>ok</think><answer>(1+2)*3</answer> extra", ex, -1, &s), 1.0), "text after");
        CHECK(near(score1(r, "<think>a</think><think>b</think><answer>(1+2)*3</answer>", ex, -1, &s), 1.0), "2 thinks");
        CHECK(near(score1(r, "<think>ok</think><answer>1+2</answer>", ex, -1, &s), 0.1), "format only");
        rules_free(r);
    }
    CHECK(rules_preset("math") && strstr(rules_preset("math"), "\"type\": \"math\""), "math preset text");
    CHECK(rules_preset("code") && strstr(rules_preset("code"), "\"type\": \"code\""), "code preset text");
    CHECK(rules_preset("nope") == NULL, "%s", "");
    r = NULL;
    CHECK(rules_load("countdwn", &r, err, sizeof err) != 0 && r == NULL && strstr(err, "did you mean 'countdown'?"),
          "%s", err);
    CHECK(rules_load("/nonexistent/rules.json", &r, err, sizeof err) != 0 && strstr(err, "/nonexistent/rules.json: "),
          "%s", err);
}

static void test_batch(void) {
    RuleSet *r = NULL;
    char err[512] = "";
    if (rules_load(tu_path("fixtures/rules/shaped_countdown.json"), &r, err, sizeof err)) {
        CHECK(0, "%s", err);
        return;
    }
    enum { N = 64 };
    const char *comp[N];
    cJSON *ex[N];
    int ntok[N];
    char *texts[N];
    for (int i = 0; i < N; i++) {
        texts[i] = malloc(256);
        // Vary correctness, format, repetition and length so that every value differs by item.
        snprintf(texts[i], 256, "%s%s<answer>%d+%d%s</answer>%s", i % 3 ? "<think>" : "", i % 5 ? "hm hm hm hm</think>" : "",
                 i, i + 1, i % 2 ? "" : "+1", i % 7 ? "" : " again again again again");
        comp[i] = texts[i];
        char buf[96];
        snprintf(buf, sizeof buf, "{\"nums\": [%d, %d, 1], \"target\": %d}", i, i + 1, 2 * i + 2);
        ex[i] = cJSON_Parse(buf);
        ntok[i] = (i * 7) % 120;
    }
    // One broken example: no "nums". It fails alone; the others are still scored.
    cJSON_DeleteItemFromObject(ex[37], "nums");
    RuleScore *one = calloc(N, sizeof *one), *four = calloc(N, sizeof *four), *ref = calloc(N, sizeof *ref);
    int rc1 = rules_score_batch(r, comp, (const cJSON *const *)ex, ntok, N, 1, one, err, sizeof err);
    CHECK(rc1 != 0 && strstr(err, "completion 37: rule 'equation': the example needs \"nums\""), "%s", err);
    int rc4 = rules_score_batch(r, comp, (const cJSON *const *)ex, ntok, N, 4, four, err, sizeof err);
    CHECK(rc4 != 0 && strstr(err, "completion 37"), "%s", err);
    int distinct = 0;
    for (int i = 0; i < N; i++) {
        char e2[256];
        int rc = rules_score(r, comp[i], ex[i], ntok[i], &ref[i], e2, sizeof e2);
        CHECK((rc != 0) == (i == 37), "item %d rc %d", i, rc);
        CHECK((four[i].error[0] != 0) == (i == 37) && (one[i].error[0] != 0) == (i == 37), "item %d error flag", i);
        CHECK(four[i].reward == ref[i].reward && one[i].reward == ref[i].reward, "item %d: %g %g %g", i, four[i].reward,
              one[i].reward, ref[i].reward);
        for (int k = 0; k < ref[i].n && i != 37; k++)
            CHECK(four[i].value[k] == ref[i].value[k] && !strcmp(four[i].detail[k], ref[i].detail[k]), "item %d rule %d", i, k);
        if (i && ref[i].reward != ref[i - 1].reward) distinct++;
    }
    CHECK(distinct > N / 3, "the items differ enough to catch a mix-up (%d)", distinct);
    // workers <= 0 means one per CPU; more workers than items is fine.
    CHECK(rules_score_batch(r, comp, (const cJSON *const *)ex, ntok, 5, 0, four, err, sizeof err) == 0, "%s", err);
    CHECK(rules_score_batch(r, comp, (const cJSON *const *)ex, ntok, 3, 16, four, err, sizeof err) == 0, "%s", err);
    CHECK(four[2].reward == ref[2].reward, "%s", "");
    for (int i = 0; i < N; i++) {
        free(texts[i]);
        cJSON_Delete(ex[i]);
    }
    free(one);
    free(four);
    free(ref);
    rules_free(r);
}

static void test_math_rule(void) {
    RuleSet *r = NULL;
    char err[512] = "";
    RuleScore s;
    CHECK(rules_load("math", &r, err, sizeof err) == 0, "%s", err);
    if (r) {
        CHECK(rules_count(r) == 2 && !strcmp(rules_name(r, 1), "accuracy") && rules_weight(r, 0) == 0.2, "%s", "");
        CHECK(near(score1(r, "<think>2+2 is 4</think>\n<answer>4</answer>", "{\"answer\": \"4\"}", -1, &s), 1.2), "%s | %s",
              s.detail[0], s.detail[1]);
        CHECK(strstr(s.detail[1], "extracted 4 from") != NULL, "%s", s.detail[1]);
        CHECK(near(score1(r, "<think>2+2 is 4</think>\n<answer>4</answer>", "{\"answer\": 4}", -1, &s), 1.2), "numeric gold");
        CHECK(near(score1(r, "<think>hm</think>\n<answer>5</answer>", "{\"answer\": \"4\"}", -1, &s), 0.2), "wrong: %s",
              s.detail[1]);
        CHECK(near(score1(r, "so the answer is \\boxed{\\frac{1}{2}}", "{\"answer\": \"0.5\"}", -1, &s), 1.0), "no format: %s",
              s.detail[1]);
        cJSON *ex = cJSON_Parse("{\"question\": \"2+2?\"}");
        CHECK(rules_score(r, "<answer>4</answer>", ex, -1, &s, err, sizeof err) != 0 &&
                  strstr(err, "rule 'accuracy': the example has no \"answer\""),
              "%s", err);
        cJSON_Delete(ex);
        rules_free(r);
    }
    // Extraction order and the gold field are options.
    r = must_parse("{\"rules\": [{\"type\": \"math\", \"extract\": [\"boxed\"], \"answer_field\": \"gold\"}]}");
    if (r) {
        CHECK(score1(r, "<answer>4</answer>", "{\"gold\": \"4\"}", -1, &s) == 0.0, "answer tag not tried: %s", s.detail[0]);
        CHECK(score1(r, "\\boxed{4}", "{\"gold\": \"4\"}", -1, &s) == 1.0, "%s", s.detail[0]);
        rules_free(r);
    }
    parse_fails("{\"rules\": [{\"name\": \"acc\", \"type\": \"math\", \"extract\": [\"boxd\"]}]}",
                "rules[0] 'acc': extract[0]: unknown method 'boxd' (did you mean 'boxed'?)", NULL);
    parse_fails("{\"rules\": [{\"type\": \"math\", \"rel_tl\": 0.1}]}", "unknown key 'rel_tl' (did you mean 'rel_tol'?)",
                NULL);
    parse_fails("{\"rules\": [{\"type\": \"math\", \"rel_tol\": 2}]}", "'rel_tol' must be a number in [0, 1]", NULL);
    parse_fails("{\"rules\": [{\"type\": \"maht\"}]}", "unknown type 'maht' (did you mean 'math'?)", NULL);
    // The length rule scaled by math accuracy.
    r = must_parse("{\"rules\": [{\"name\": \"accuracy\", \"type\": \"math\"},"
                   " {\"type\": \"length\", \"correct_rule\": \"accuracy\", \"max_len\": 200}]}");
    if (r) {
        score1(r, "<answer>4</answer>", "{\"answer\": \"4\"}", 100, &s);
        CHECK(s.value[0] == 1.0 && near(s.value[1], 0.75), "correct at half length: %g", s.value[1]);
        score1(r, "<answer>5</answer>", "{\"answer\": \"4\"}", 100, &s);
        CHECK(s.value[0] == 0.0 && near(s.value[1], -0.75), "wrong at half length: %g", s.value[1]);
        rules_free(r);
    }
}

static void test_code_rule(void) {
    RuleSet *r = NULL;
    char err[512] = "";
    // No python3: loading a set with a code rule fails, naming the rule; never a silent zero.
    sandbox_set_python("/nonexistent/python3");
    CHECK(rules_load("code", &r, err, sizeof err) != 0 && r == NULL, "loaded without python3");
    CHECK(strstr(err, "preset 'code': rules[1] 'tests': ") && strstr(err, "python3"), "%s", err);
    sandbox_set_python(NULL);
    if (sandbox_check_runtime(err, sizeof err)) {
        printf("test_rules: code rule cases skipped: %s\n", err);
        return;
    }
    CHECK(rules_load("code", &r, err, sizeof err) == 0, "%s", err);
    if (!r) return;
    CHECK(rules_count(r) == 2 && !strcmp(rules_type(r, 1), "code") && rules_weight(r, 0) == 0.1, "%s", "");
    const char *mbpp = "{\"tests\": [\"assert add(1, 2) == 3\", \"assert add(2, 2) == 4\"]}";
    RuleScore s;
    CHECK(near(score1(r, "<think>sum</think>\n```python\ndef add(a, b):\n    return a + b\n```", mbpp, -1, &s), 1.1),
          "%s | %s", s.detail[0], s.detail[1]);
    CHECK(near(score1(r, "<think>hm</think>\n```python\ndef add(a, b):\n    return 3\n```", mbpp, -1, &s), 0.6), "half: %s",
          s.detail[1]);
    CHECK(near(score1(r, "no code at all", mbpp, -1, &s), 0.0), "%s", s.detail[1]);
    cJSON *ex = cJSON_Parse("{\"question\": \"no tests\"}");
    CHECK(rules_score(r, "```python\nx = 1\n```", ex, -1, &s, err, sizeof err) != 0 && strstr(err, "rule 'tests': "), "%s",
          err);
    cJSON_Delete(ex);
    rules_free(r);
    r = must_parse("{\"rules\": [{\"type\": \"code\", \"all_or_nothing\": true, \"timeout_s\": 5, \"memory_mb\": 256}]}");
    if (r) {
        CHECK(score1(r, "```python\ndef add(a, b):\n    return 3\n```", mbpp, -1, &s) == 0.0, "all or nothing: %s",
              s.detail[0]);
        // Batch: the sandboxes run on 4 workers; each result stays with its completion.
        enum { N = 8 };
        const char *comp[N];
        cJSON *exs[N];
        char *texts[N];
        for (int i = 0; i < N; i++) {
            texts[i] = malloc(160);
            snprintf(texts[i], 160, "```python\ndef add(a, b):\n    return %s\n```", i % 3 ? "a + b" : "a - b");
            comp[i] = texts[i];
            exs[i] = cJSON_Parse(mbpp);
        }
        RuleScore *out = calloc(N, sizeof *out);
        CHECK(rules_score_batch(r, comp, (const cJSON *const *)exs, NULL, N, 4, out, err, sizeof err) == 0, "%s", err);
        for (int i = 0; i < N; i++) {
            CHECK(out[i].value[0] == (i % 3 ? 1.0 : 0.0), "item %d: %g (%s)", i, out[i].value[0], out[i].detail[0]);
            free(texts[i]);
            cJSON_Delete(exs[i]);
        }
        free(out);
        rules_free(r);
    }
    parse_fails("{\"rules\": [{\"type\": \"code\", \"timeout\": 5}]}", "unknown key 'timeout' (did you mean 'timeout_s'?)",
                NULL);
    parse_fails("{\"rules\": [{\"type\": \"code\", \"memory_mb\": 1}]}", "'memory_mb' must be a number in", NULL);
}

int main(void) {
    test_shaping();
    test_regex();
    test_tag_count();
    test_parse_errors();
    test_load_and_presets();
    test_batch();
    test_math_rule();
    test_code_rule();
    return tu_finish("test_rules");
}
