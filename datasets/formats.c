// The built-in source layouts and how each becomes a normalised Example
// (dataset.h): where the question and gold answer are, and which reference
// fields the reward rules need.
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/dataset.h"
#include "kernels/status.h"

static const char *const k_format_names[] = {"generic", "gsm8k", "math", "countdown", "mbpp", "humaneval"};

int ds_format_parse(const char *name, DsFormat *out) {
    for (int i = 0; i < (int)(sizeof k_format_names / sizeof *k_format_names); i++)
        if (name && strcmp(name, k_format_names[i]) == 0) {
            *out = (DsFormat)i;
            return GRPO_OK;
        }
    return grpo_fail(GRPO_EINVAL, "unknown dataset format '%s' (known: generic, gsm8k, math, countdown, mbpp, humaneval)",
                     name ? name : "(null)");
}

const char *ds_format_name(DsFormat f) {
    return (unsigned)f < sizeof k_format_names / sizeof *k_format_names ? k_format_names[f] : "?";
}

const cJSON *ds_path(const cJSON *obj, const char *dotted) {
    if (!obj || !dotted || !*dotted) return NULL;
    const cJSON *cur = obj;
    const char *p = dotted;
    char key[256];
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n == 0 || n >= sizeof key) return NULL;
        memcpy(key, p, n);
        key[n] = 0;
        if (cJSON_IsArray(cur)) {
            char *end;
            long idx = strtol(key, &end, 10);
            if (*end || idx < 0) return NULL;
            cur = cJSON_GetArrayItem(cur, (int)idx);
        } else if (cJSON_IsObject(cur)) {
            cur = cJSON_GetObjectItemCaseSensitive(cur, key);
        } else {
            return NULL;
        }
        p = dot ? dot + 1 : p + n;
    }
    return cur;
}

const char *ds_str(const cJSON *ex, const char *field) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ex, field);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static char *num_text(double v) {
    char buf[64];
    if (isfinite(v) && v == floor(v) && fabs(v) < 9007199254740992.0) {
        snprintf(buf, sizeof buf, "%lld", (long long)v);
    } else {
        snprintf(buf, sizeof buf, "%.15g", v);
        if (strtod(buf, NULL) != v) snprintf(buf, sizeof buf, "%.17g", v);
    }
    return strdup(buf);
}

char *ds_json_text(const cJSON *v) {
    if (cJSON_IsString(v)) return strdup(v->valuestring);
    if (cJSON_IsNumber(v)) return num_text(v->valuedouble);
    if (cJSON_IsBool(v)) return strdup(cJSON_IsTrue(v) ? "true" : "false");
    if (cJSON_IsArray(v)) {
        int scalars = 1;
        for (const cJSON *e = v->child; e; e = e->next)
            if (!cJSON_IsString(e) && !cJSON_IsNumber(e)) scalars = 0;
        if (scalars) {
            size_t cap = 16, len = 0;
            char *s = malloc(cap);
            if (!s) return NULL;
            s[0] = 0;
            for (const cJSON *e = v->child; e; e = e->next) {
                char *t = ds_json_text(e);
                if (!t) {
                    free(s);
                    return NULL;
                }
                size_t need = len + strlen(t) + 3;
                if (need > cap) {
                    while (cap < need) cap *= 2;
                    char *ns = realloc(s, cap);
                    if (!ns) {
                        free(s);
                        free(t);
                        return NULL;
                    }
                    s = ns;
                }
                len += (size_t)sprintf(s + len, "%s%s", e == v->child ? "" : ", ", t);
                free(t);
            }
            return s;
        }
    }
    return cJSON_PrintUnformatted(v);
}

char *ds_last_boxed(const char *text) {
    if (!text) return NULL;
    const char *best = NULL;
    size_t best_len = 0;
    static const char *const cmds[] = {"\\boxed", "\\fbox"};
    for (const char *p = text; *p; p++) {
        for (int c = 0; c < 2; c++) {
            size_t cl = strlen(cmds[c]);
            if (strncmp(p, cmds[c], cl) != 0) continue;
            const char *q = p + cl;
            while (*q == ' ') q++;
            if (*q != '{') continue;
            int depth = 0;
            const char *start = q + 1, *r = q;
            for (; *r; r++) {
                if (*r == '\\' && r[1]) {
                    r++; // \{ and \} do not count as braces
                    continue;
                }
                if (*r == '{') depth++;
                else if (*r == '}' && --depth == 0) break;
            }
            if (*r == '}') {
                best = start;
                best_len = (size_t)(r - start);
            }
        }
    }
    if (!best) return NULL;
    char *out = malloc(best_len + 1);
    if (!out) return NULL;
    memcpy(out, best, best_len);
    out[best_len] = 0;
    return out;
}

// ---------------------------------------------------------------- helpers

static int set_str(cJSON *obj, const char *key, const char *val) {
    cJSON *s = cJSON_CreateString(val);
    if (!s) return grpo_fail(GRPO_ENOMEM, "out of memory");
    if (cJSON_GetObjectItemCaseSensitive(obj, key)) cJSON_ReplaceItemInObjectCaseSensitive(obj, key, s);
    else cJSON_AddItemToObject(obj, key, s);
    return GRPO_OK;
}

static int set_item(cJSON *obj, const char *key, const cJSON *val) {
    cJSON *d = cJSON_Duplicate(val, 1);
    if (!d) return grpo_fail(GRPO_ENOMEM, "out of memory");
    if (cJSON_GetObjectItemCaseSensitive(obj, key)) cJSON_ReplaceItemInObjectCaseSensitive(obj, key, d);
    else cJSON_AddItemToObject(obj, key, d);
    return GRPO_OK;
}

static char *trim_dup(const char *s, size_t n) {
    while (n > 0 && isspace((unsigned char)*s)) s++, n--;
    while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
    char *o = malloc(n + 1);
    if (!o) return NULL;
    memcpy(o, s, n);
    o[n] = 0;
    return o;
}

// The field at the user's mapping, else the first of the format's names that exists.
static const cJSON *pick(const cJSON *src, const char *mapped, const char *const *names, const char **used) {
    if (mapped) {
        *used = mapped;
        return ds_path(src, mapped);
    }
    *used = names[0];
    for (int i = 0; names[i]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, names[i]);
        if (v) {
            *used = names[i];
            return v;
        }
    }
    return NULL;
}

static int need_text(const cJSON *v, const char *field, const char **out) {
    if (!v) return grpo_fail(GRPO_EFORMAT, "missing field \"%s\"", field);
    if (!cJSON_IsString(v)) return grpo_fail(GRPO_EFORMAT, "field \"%s\" must be a string", field);
    const char *s = v->valuestring;
    while (isspace((unsigned char)*s)) s++;
    if (!*s) return grpo_fail(GRPO_EFORMAT, "field \"%s\" is empty", field);
    *out = v->valuestring;
    return GRPO_OK;
}

// The text at a mapped or default field (arguments of one call are unordered,
// so the field name is looked up first).
static int pick_text(const cJSON *src, const char *mapped, const char *const *names, const char **used, const char **out) {
    const cJSON *v = pick(src, mapped, names, used);
    return need_text(v, *used, out);
}

// A gold answer may be written as a JSON string or number; it is kept as text.
static int set_answer(cJSON *ex, const cJSON *v, const char *field) {
    if (!cJSON_IsString(v) && !cJSON_IsNumber(v))
        return grpo_fail(GRPO_EFORMAT, "field \"%s\" must be a string or a number", field);
    char *t = ds_json_text(v);
    if (!t) return grpo_fail(GRPO_ENOMEM, "out of memory");
    char *tt = trim_dup(t, strlen(t));
    free(t);
    if (!tt) return grpo_fail(GRPO_ENOMEM, "out of memory");
    int rc = *tt ? set_str(ex, "answer", tt) : grpo_fail(GRPO_EFORMAT, "field \"%s\" is empty", field);
    free(tt);
    return rc;
}

// ---------------------------------------------------------------- formats

static int norm_generic(const cJSON *src, const DsOptions *o, cJSON *ex) {
    static const char *const qn[] = {"prompt", "question", NULL}, *const an[] = {"answer", NULL};
    const char *used, *q;
    int rc = pick_text(src, o->question_field, qn, &used, &q);
    if (rc) return rc;
    if ((rc = set_str(ex, "question", q))) return rc;
    const cJSON *a = pick(src, o->answer_field, an, &used);
    if (a && (rc = set_answer(ex, a, used))) return rc;
    if (!a && o->answer_field) return grpo_fail(GRPO_EFORMAT, "missing field \"%s\"", o->answer_field);
    if (o->tests_field) {
        const cJSON *t = ds_path(src, o->tests_field);
        if (!t) return grpo_fail(GRPO_EFORMAT, "missing field \"%s\"", o->tests_field);
        if ((rc = set_item(ex, "tests", t))) return rc;
    }
    return GRPO_OK;
}

// "Natalia sold 48/2 = <<48/2=24>>24 clips ... #### 72": gold 72; the reasoning
// before "####" is the solution, without GSM8K's <<calculator>> annotations.
static int norm_gsm8k(const cJSON *src, const DsOptions *o, cJSON *ex) {
    static const char *const qn[] = {"question", NULL}, *const an[] = {"answer", NULL};
    const char *used, *q, *a;
    int rc = pick_text(src, o->question_field, qn, &used, &q);
    if (rc || (rc = set_str(ex, "question", q))) return rc;
    const cJSON *av = pick(src, o->answer_field, an, &used);
    if (cJSON_IsNumber(av)) return set_answer(ex, av, used);
    if ((rc = need_text(av, used, &a))) return rc;
    const char *hash = NULL;
    for (const char *p = strstr(a, "####"); p; p = strstr(p + 4, "####")) hash = p;
    if (!hash) return grpo_fail(GRPO_EFORMAT, "field \"%s\" has no \"#### <answer>\" at its end", used);
    const char *g = hash + 4;
    size_t gl = strlen(g);
    char *gold = malloc(gl + 1), *sol = malloc((size_t)(hash - a) + 1);
    if (!gold || !sol) {
        free(gold);
        free(sol);
        return grpo_fail(GRPO_ENOMEM, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < gl; i++)
        if (g[i] != ',') gold[k++] = g[i];
    gold[k] = 0;
    k = 0;
    for (const char *p = a; p < hash; p++) {
        const char *close;
        if (p[0] == '<' && p[1] == '<' && (close = strstr(p + 2, ">>")) && close < hash) {
            p = close + 1;
            continue;
        }
        sol[k++] = *p;
    }
    sol[k] = 0;
    char *gt = trim_dup(gold, strlen(gold)), *st = trim_dup(sol, k);
    free(gold);
    free(sol);
    if (!gt || !st) rc = grpo_fail(GRPO_ENOMEM, "out of memory");
    else if (!*gt) rc = grpo_fail(GRPO_EFORMAT, "field \"%s\" has nothing after \"####\"", used);
    else if (!(rc = set_str(ex, "answer", gt))) rc = set_str(ex, "solution", st);
    free(gt);
    free(st);
    return rc;
}

static int norm_math(const cJSON *src, const DsOptions *o, cJSON *ex) {
    static const char *const qn[] = {"problem", "question", NULL}, *const an[] = {"answer", NULL};
    const char *used, *q;
    int rc = pick_text(src, o->question_field, qn, &used, &q);
    if (rc || (rc = set_str(ex, "question", q))) return rc;
    const cJSON *a = pick(src, o->answer_field, an, &used);
    if (a) return set_answer(ex, a, used);
    if (o->answer_field) return grpo_fail(GRPO_EFORMAT, "missing field \"%s\"", o->answer_field);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(src, "solution");
    if (!cJSON_IsString(s)) return grpo_fail(GRPO_EFORMAT, "no \"answer\" field and no \"solution\" string to take \\boxed{} from");
    char *boxed = ds_last_boxed(s->valuestring);
    if (!boxed) return grpo_fail(GRPO_EFORMAT, "\"solution\" has no \\boxed{...} answer (with balanced braces)");
    char *t = trim_dup(boxed, strlen(boxed));
    free(boxed);
    if (!t) return grpo_fail(GRPO_ENOMEM, "out of memory");
    rc = *t ? set_str(ex, "answer", t) : grpo_fail(GRPO_EFORMAT, "\"solution\" has an empty \\boxed{}");
    free(t);
    return rc;
}

static int is_int_number(const cJSON *v) {
    return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 1e15;
}

char *ds_countdown_question(const cJSON *nums, long target); // gen_countdown.c

static int norm_countdown(const cJSON *src, const DsOptions *o, cJSON *ex) {
    const cJSON *nums = cJSON_GetObjectItemCaseSensitive(src, "nums");
    const cJSON *target = cJSON_GetObjectItemCaseSensitive(src, "target");
    if (!cJSON_IsArray(nums)) return grpo_fail(GRPO_EFORMAT, "field \"nums\" must be an array of integers");
    int n = cJSON_GetArraySize(nums);
    if (n < 1 || n > 16) return grpo_fail(GRPO_EFORMAT, "field \"nums\" must hold 1 to 16 numbers, not %d", n);
    for (const cJSON *e = nums->child; e; e = e->next)
        if (!is_int_number(e)) return grpo_fail(GRPO_EFORMAT, "field \"nums\" must be an array of integers");
    if (!is_int_number(target)) return grpo_fail(GRPO_EFORMAT, "field \"target\" must be an integer");
    int rc;
    const char *used, *q = NULL;
    static const char *const qn[] = {"question", "prompt", NULL};
    const cJSON *qv = pick(src, o->question_field, qn, &used);
    if (qv || o->question_field) {
        if ((rc = need_text(qv, used, &q)) || (rc = set_str(ex, "question", q))) return rc;
    } else {
        char *built = ds_countdown_question(nums, (long)target->valuedouble);
        if (!built) return grpo_fail(GRPO_ENOMEM, "out of memory");
        rc = set_str(ex, "question", built);
        free(built);
        if (rc) return rc;
    }
    // The countdown rule reads nums and target; the gold "answer" shown to people
    // (and logged) is a known solution when the line has one.
    const cJSON *sol = cJSON_GetObjectItemCaseSensitive(src, "solution");
    if (cJSON_IsString(sol) && !cJSON_GetObjectItemCaseSensitive(src, "answer")) return set_str(ex, "answer", sol->valuestring);
    return GRPO_OK;
}

static int tests_string_array(const cJSON *t, const char *field) {
    if (!cJSON_IsArray(t) || cJSON_GetArraySize(t) == 0)
        return grpo_fail(GRPO_EFORMAT, "field \"%s\" must be a non-empty array of test strings", field);
    for (const cJSON *e = t->child; e; e = e->next)
        if (!cJSON_IsString(e)) return grpo_fail(GRPO_EFORMAT, "field \"%s\" must be a non-empty array of test strings", field);
    return GRPO_OK;
}

// MBPP: the task text names no function, so (as in the MBPP paper's prompt) the
// tests are shown in the question.
static int norm_mbpp(const cJSON *src, const DsOptions *o, cJSON *ex) {
    static const char *const qn[] = {"text", "prompt", NULL}, *const tn[] = {"test_list", "tests", NULL};
    const char *used, *q;
    int rc = pick_text(src, o->question_field, qn, &used, &q);
    if (rc) return rc;
    const cJSON *t = pick(src, o->tests_field, tn, &used);
    if (!t) return grpo_fail(GRPO_EFORMAT, "missing field \"%s\"", used);
    if ((rc = tests_string_array(t, used))) return rc;
    size_t len = strlen(q) + 64;
    for (const cJSON *e = t->child; e; e = e->next) len += strlen(e->valuestring) + 1;
    char *full = malloc(len);
    if (!full) return grpo_fail(GRPO_ENOMEM, "out of memory");
    size_t k = (size_t)sprintf(full, "%s\nYour code should pass these tests:\n\n", q);
    for (const cJSON *e = t->child; e; e = e->next) k += (size_t)sprintf(full + k, "%s\n", e->valuestring);
    while (k > 0 && full[k - 1] == '\n') full[--k] = 0;
    rc = set_str(ex, "question", full);
    free(full);
    if (rc || (rc = set_item(ex, "tests", t))) return rc;
    const cJSON *setup = cJSON_GetObjectItemCaseSensitive(src, "test_setup_code");
    if (setup && !cJSON_IsString(setup)) return grpo_fail(GRPO_EFORMAT, "field \"test_setup_code\" must be a string");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(src, "code");
    if (cJSON_IsString(code) && (rc = set_str(ex, "solution", code->valuestring))) return rc;
    return GRPO_OK;
}

static int norm_humaneval(const cJSON *src, const DsOptions *o, cJSON *ex) {
    static const char *const qn[] = {"prompt", NULL}, *const tn[] = {"test", NULL}, *const en[] = {"entry_point", NULL};
    const char *used, *q, *t, *e;
    int rc = pick_text(src, o->question_field, qn, &used, &q);
    if (rc || (rc = set_str(ex, "question", q))) return rc;
    if ((rc = pick_text(src, o->tests_field, tn, &used, &t)) || (rc = set_str(ex, "test", t))) return rc;
    if ((rc = pick_text(src, NULL, en, &used, &e)) || (rc = set_str(ex, "entry_point", e))) return rc;
    const cJSON *sol = cJSON_GetObjectItemCaseSensitive(src, "canonical_solution");
    if (cJSON_IsString(sol) && (rc = set_str(ex, "solution", sol->valuestring))) return rc;
    return GRPO_OK;
}

int ds_normalize(const cJSON *src, const DsOptions *o, cJSON **out) {
    *out = NULL;
    if (!cJSON_IsObject(src)) return grpo_fail(GRPO_EFORMAT, "expected a JSON object");
    cJSON *ex = cJSON_Duplicate(src, 1);
    if (!ex) return grpo_fail(GRPO_ENOMEM, "out of memory");
    int rc;
    switch (o->format) {
    case DS_GENERIC: rc = norm_generic(src, o, ex); break;
    case DS_GSM8K: rc = norm_gsm8k(src, o, ex); break;
    case DS_MATH: rc = norm_math(src, o, ex); break;
    case DS_COUNTDOWN: rc = norm_countdown(src, o, ex); break;
    case DS_MBPP: rc = norm_mbpp(src, o, ex); break;
    case DS_HUMANEVAL: rc = norm_humaneval(src, o, ex); break;
    default: rc = grpo_fail(GRPO_EINVAL, "bad dataset format %d", (int)o->format);
    }
    if (rc) {
        cJSON_Delete(ex);
        return rc;
    }
    *out = ex;
    return GRPO_OK;
}
