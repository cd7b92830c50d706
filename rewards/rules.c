// The rule set: parsing, presets and scoring one completion.
//
// Format (JSON):
//   {"rules": [
//     {"name": "format", "type": "regex", "weight": 0.2, "pattern": "...", "flags": ["dotall"]},
//     {"name": "accuracy", "type": "math", "weight": 1.0, "extract": ["answer_tag", "boxed"]}
//   ], "comment": "optional"}
// Keys every rule has: "type" (required), "name" (default: the type; unique),
// "weight" (default 1.0, any finite number), "comment" (ignored). Other keys are
// the type's options; an unknown key is an error with a "did you mean".
//
// Types and their options (defaults in parentheses):
//   regex       "pattern": value match_value (1) on a match, no_match_value (0) otherwise;
//               or "count": [{"pattern", "value" (1), "exactly" (1) | "at_least"}], the sum of
//               the values of the patterns found the wanted number of times.
//               "flags": any of dotall, multiline, caseless, extended, ungreedy, utf, literal.
//               "field": match this string field of the example instead of the completion.
//   countdown   the expression in the last <answer> reaches "target" using each of "nums"
//               exactly once: 1 or 0. "nums_field" ("nums"), "target_field" ("target"),
//               "require_tag" (true; false = use the text after </think> when no tag).
//   overlong    DAPO soft punishment: "max_tokens", "buffer" (both required).
//   length      cosine length scaling by correctness: "correct_rule" (required: an earlier
//               rule; correct when its value >= "correct_threshold" (1.0)), "max_len" (1000),
//               "min_value_correct" (0.5), "max_value_correct" (1.0), "min_value_wrong" (-1.0),
//               "max_value_wrong" (-0.5).
//   repetition  n-gram repetition penalty: "ngram" (3), "max_penalty" (-1.0, must be <= 0).
//   math        math_verify of the completion against the example's "answer": 1 or 0.
//               "extract": [answer_tag, boxed, gsm8k, answer_is, last_number] (all, in that
//               order), "rel_tol" (1e-6), "time_limit_ms" (2000), "answer_field" ("answer").
//   code        code_score: the last ```python block run in the sandbox against the example's
//               "tests" / "test"+"entry_point" / "io": the fraction passed. "all_or_nothing"
//               (false), "timeout_s" (10, wall clock), "cpu_s" (5), "memory_mb" (512),
//               "max_procs" (32), "output_kb" (64). Loading checks that python3 runs.
#include "rewards/rules.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rewards/didyoumean.h"
#include "rewards/rule_impl.h"

static const RuleType *const RULE_TYPES[] = {&rule_type_math,      &rule_type_code,     &rule_type_regex,
                                             &rule_type_countdown, &rule_type_overlong, &rule_type_length,
                                             &rule_type_repetition};
#define N_RULE_TYPES ((int)(sizeof RULE_TYPES / sizeof RULE_TYPES[0]))

static const char *const COMMON_KEYS[] = {"name", "type", "weight", "comment"};
#define N_COMMON_KEYS 4

typedef struct {
    char name[64];
    const RuleType *type;
    double weight;
    void *state;
} Rule;

struct RuleSet {
    Rule rules[RULES_MAX];
    int n;
    const char *names[RULES_MAX]; // views of rules[i].name, for "did you mean" lookups
};

// ---------------------------------------------------------------- presets
// The <think> opening tag is optional because R1-Zero-style prompt templates end
// with "<think>" themselves; exactly one </think> and one answer must follow.
#define THINK_PART "^\\\\s*(?:<think>)?(?:(?!</?think>).)*</think>"

static const char PRESET_MATH[] =
    "{\"comment\": \"R1-Zero: a small format reward plus math accuracy\", \"rules\": [\n"
    "  {\"name\": \"format\", \"type\": \"regex\", \"weight\": 0.2, \"flags\": [\"dotall\"],\n"
    "   \"pattern\": \"" THINK_PART "\\\\s*<answer>(?:(?!</?answer>).)*</answer>\\\\s*$\"},\n"
    "  {\"name\": \"accuracy\", \"type\": \"math\", \"weight\": 1.0}\n"
    "]}\n";

static const char PRESET_CODE[] =
    "{\"comment\": \"a small format reward plus the fraction of tests passed\", \"rules\": [\n"
    "  {\"name\": \"format\", \"type\": \"regex\", \"weight\": 0.1, \"flags\": [\"dotall\"],\n"
    "   \"pattern\": \"" THINK_PART "(?:(?!</?think>).)*```python[ \\\\t]*\\\\n.*```\"},\n"
    "  {\"name\": \"tests\", \"type\": \"code\", \"weight\": 1.0}\n"
    "]}\n";

static const char PRESET_COUNTDOWN[] =
    "{\"comment\": \"TinyZero countdown: a small format reward plus a correct equation\", \"rules\": [\n"
    "  {\"name\": \"format\", \"type\": \"regex\", \"weight\": 0.1, \"flags\": [\"dotall\"],\n"
    "   \"pattern\": \"" THINK_PART "\\\\s*<answer>(?:(?!</?answer>).)*</answer>\\\\s*$\"},\n"
    "  {\"name\": \"equation\", \"type\": \"countdown\", \"weight\": 1.0}\n"
    "]}\n";

static const char *const PRESET_NAMES[] = {"math", "code", "countdown", NULL};
static const char *const PRESET_TEXTS[] = {PRESET_MATH, PRESET_CODE, PRESET_COUNTDOWN};

const char *rules_preset(const char *name) {
    for (int i = 0; PRESET_NAMES[i]; i++)
        if (!strcmp(name, PRESET_NAMES[i])) return PRESET_TEXTS[i];
    return NULL;
}

// ---------------------------------------------------------------- parsing
static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...) {
    if (errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static const RuleType *find_type(const char *name) {
    for (int i = 0; i < N_RULE_TYPES; i++)
        if (!strcmp(RULE_TYPES[i]->name, name)) return RULE_TYPES[i];
    return NULL;
}

static void type_list(char *buf, size_t bn) {
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < N_RULE_TYPES && k < bn; i++)
        k += (size_t)snprintf(buf + k, bn - k, "%s%s", i ? ", " : "", RULE_TYPES[i]->name);
}

// Checks every key of rule object r against the common keys and the type's own.
static int check_keys(const cJSON *r, const RuleType *t, char *msg, size_t mn) {
    const char *cands[N_COMMON_KEYS + 64];
    int nc = 0;
    for (int i = 0; i < N_COMMON_KEYS; i++) cands[nc++] = COMMON_KEYS[i];
    for (int i = 0; t->keys[i] && nc < N_COMMON_KEYS + 64; i++) cands[nc++] = t->keys[i];
    const cJSON *k;
    cJSON_ArrayForEach(k, r) {
        int known = 0;
        for (int i = 0; i < nc; i++) known |= !strcmp(k->string, cands[i]);
        if (!known) {
            char hint[96];
            snprintf(msg, mn, "unknown key '%s'%s for type '%s'", k->string, dym_hint(hint, sizeof hint, k->string, cands, nc),
                     t->name);
            return -1;
        }
    }
    return 0;
}

// One rule: fills rs->rules[i] or returns -1 with an unprefixed message.
static int parse_rule(RuleSet *rs, int i, const cJSON *r, char *msg, size_t mn) {
    Rule *rule = &rs->rules[i];
    if (!cJSON_IsObject(r)) return fail(msg, mn, "must be an object {\"name\", \"type\", \"weight\", ...}");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(r, "type");
    if (!type) return fail(msg, mn, "missing \"type\"");
    if (!cJSON_IsString(type)) return fail(msg, mn, "\"type\" must be a string");
    rule->type = find_type(type->valuestring);
    if (!rule->type) {
        const char *names[N_RULE_TYPES];
        for (int k = 0; k < N_RULE_TYPES; k++) names[k] = RULE_TYPES[k]->name;
        char hint[96], list[256];
        type_list(list, sizeof list);
        return fail(msg, mn, "unknown type '%s'%s; types: %s", type->valuestring,
                    dym_hint(hint, sizeof hint, type->valuestring, names, N_RULE_TYPES), list);
    }
    if (check_keys(r, rule->type, msg, mn)) return -1;
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(r, "weight");
    rule->weight = 1.0;
    if (w) {
        if (!cJSON_IsNumber(w) || !isfinite(w->valuedouble)) {
            char *s = cJSON_PrintUnformatted(w);
            fail(msg, mn, "\"weight\" must be a finite number, got %.40s", s ? s : "?");
            free(s);
            return -1;
        }
        rule->weight = w->valuedouble;
    }
    RuleParseCtx ctx = {rs->names, i};
    if (rule->type->parse(&rule->state, r, &ctx, msg, mn)) {
        rule->state = NULL;
        return -1;
    }
    return 0;
}

// Line and column (1-based) of byte offset `at` in text.
static void line_col(const char *text, const char *at, int *line, int *col) {
    *line = 1;
    *col = 1;
    for (const char *p = text; p < at && *p; p++) {
        if (*p == '\n') (*line)++, *col = 1;
        else (*col)++;
    }
}

int rules_parse(const char *json, const char *origin, RuleSet **out, char *err, size_t errlen) {
    *out = NULL;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &end, 1);
    if (!root) {
        int line, col;
        line_col(json, end ? end : json, &line, &col);
        return fail(err, errlen, "%s: invalid JSON at line %d, column %d", origin, line, col);
    }
    RuleSet *rs = calloc(1, sizeof *rs);
    if (!rs) {
        cJSON_Delete(root);
        return fail(err, errlen, "%s: out of memory", origin);
    }
    int rc = -1;
    const cJSON *rules = cJSON_GetObjectItemCaseSensitive(root, "rules");
    if (!cJSON_IsObject(root)) {
        fail(err, errlen, "%s: must be an object {\"rules\": [...]}", origin);
        goto done;
    }
    static const char *const TOP_KEYS[] = {"rules", "comment", NULL};
    const cJSON *k;
    cJSON_ArrayForEach(k, root) {
        if (strcmp(k->string, "rules") && strcmp(k->string, "comment")) {
            char hint[64];
            fail(err, errlen, "%s: unknown key '%s'%s at the top level (keys: rules, comment)", origin, k->string,
                 dym_hint(hint, sizeof hint, k->string, TOP_KEYS, -1));
            goto done;
        }
    }
    int n = cJSON_GetArraySize(rules);
    if (!cJSON_IsArray(rules) || n < 1) {
        fail(err, errlen, "%s: \"rules\" must be a non-empty list of rules", origin);
        goto done;
    }
    if (n > RULES_MAX) {
        fail(err, errlen, "%s: %d rules; at most %d are allowed", origin, n, RULES_MAX);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        const cJSON *r = cJSON_GetArrayItem(rules, i);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(r, "name");
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(r, "type");
        Rule *rule = &rs->rules[i];
        char msg[512];
        if (name && (!cJSON_IsString(name) || !name->valuestring[0] || strlen(name->valuestring) >= sizeof rule->name)) {
            fail(err, errlen, "%s: rules[%d]: \"name\" must be a string of 1 to %zu characters", origin, i,
                 sizeof rule->name - 1);
            goto done;
        }
        snprintf(rule->name, sizeof rule->name, "%s",
                 name ? name->valuestring : cJSON_IsString(type) ? type->valuestring : "?");
        rs->names[i] = rule->name;
        for (int j = 0; j < i; j++)
            if (!strcmp(rs->names[j], rule->name)) {
                fail(err, errlen, "%s: rules[%d] '%s': the name is already used by rules[%d]%s", origin, i, rule->name,
                     j, name ? "" : " (give each rule of the same type a \"name\")");
                goto done;
            }
        if (parse_rule(rs, i, r, msg, sizeof msg)) {
            fail(err, errlen, "%s: rules[%d] '%s': %s", origin, i, rule->name, msg);
            goto done;
        }
        rs->n = i + 1;
    }
    rc = 0;
done:
    cJSON_Delete(root);
    if (rc) rules_free(rs);
    else *out = rs;
    return rc;
}

int rules_load(const char *path_or_preset, RuleSet **out, char *err, size_t errlen) {
    *out = NULL;
    const char *s = path_or_preset;
    int looks_like_name = !strchr(s, '/') && !strstr(s, ".json");
    const char *preset = looks_like_name ? rules_preset(s) : NULL;
    if (preset) {
        char origin[64];
        snprintf(origin, sizeof origin, "preset '%s'", s);
        return rules_parse(preset, origin, out, err, errlen);
    }
    FILE *f = fopen(s, "rb");
    if (!f) {
        char hint[64] = "";
        if (looks_like_name) dym_hint(hint, sizeof hint, s, PRESET_NAMES, -1);
        return fail(err, errlen, "%s: %s%s%s", s, strerror(errno), looks_like_name ? " (and not a preset: math, code, countdown)" : "",
                    hint);
    }
    enum { MAX_BYTES = 1 << 20 };
    char *buf = malloc(MAX_BYTES + 1);
    size_t len = buf ? fread(buf, 1, MAX_BYTES + 1, f) : 0;
    int bad = !buf || ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return fail(err, errlen, "%s: cannot read the file", s);
    }
    if (len > MAX_BYTES) {
        free(buf);
        return fail(err, errlen, "%s: larger than %d bytes; is it really a rules file?", s, MAX_BYTES);
    }
    buf[len] = '\0';
    if (strlen(buf) != len) {
        free(buf);
        return fail(err, errlen, "%s: contains a NUL byte; not a JSON text file", s);
    }
    int rc = rules_parse(buf, s, out, err, errlen);
    free(buf);
    return rc;
}

void rules_free(RuleSet *r) {
    if (!r) return;
    for (int i = 0; i < RULES_MAX; i++)
        if (r->rules[i].type && r->rules[i].state) r->rules[i].type->free(r->rules[i].state);
    free(r);
}

int rules_count(const RuleSet *r) { return r->n; }
const char *rules_name(const RuleSet *r, int i) { return i >= 0 && i < r->n ? r->rules[i].name : NULL; }
const char *rules_type(const RuleSet *r, int i) { return i >= 0 && i < r->n ? r->rules[i].type->name : NULL; }
double rules_weight(const RuleSet *r, int i) { return i >= 0 && i < r->n ? r->rules[i].weight : 0.0; }

// ---------------------------------------------------------------- scoring
int rules_score(const RuleSet *r, const char *completion, const cJSON *example, int n_tokens, RuleScore *out,
                char *err, size_t errlen) {
    static const cJSON EMPTY = {0}; // an example with no fields
    out->reward = 0.0;
    out->n = r->n;
    out->error[0] = '\0';
    RuleInput in = {completion, example ? example : &EMPTY, n_tokens, out->value};
    for (int i = 0; i < r->n; i++) {
        const Rule *rule = &r->rules[i];
        char detail[512] = "", msg[256] = "";
        double v = 0.0;
        out->value[i] = 0.0;
        out->detail[i][0] = '\0';
        if (rule->type->score(rule->state, &in, &v, detail, sizeof detail, msg, sizeof msg)) {
            snprintf(out->error, sizeof out->error, "rule '%s': %s", rule->name, msg);
            out->reward = 0.0;
            return fail(err, errlen, "%s", out->error);
        }
        if (!isfinite(v)) {
            snprintf(out->error, sizeof out->error, "rule '%s': value is not finite (%s)", rule->name, detail);
            out->reward = 0.0;
            return fail(err, errlen, "%s", out->error);
        }
        out->value[i] = v;
        rin_one_line(out->detail[i], sizeof out->detail[i], detail, sizeof detail);
        out->reward += rule->weight * v;
    }
    return 0;
}
