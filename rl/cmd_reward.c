// `grpo reward`: scores completions from a JSONL stream with a rule set, one
// output line per input line, in input order.
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "rewards/rules.h"
#include "rewards/sandbox.h"
#include "rl/cli.h"
#include "rl/json_text.h"

#define CHUNK 256 // lines scored together on the worker pool

typedef struct {
    long lineno;
    cJSON *ex;   // NULL when the line failed before scoring
    char *error; // malloc'd message for a failed line
    int n_tokens;
} Line;

static char *dup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dup_printf(const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return strdup(buf);
}

// Parses one input line into ln (ex or error set).
static void parse_line(Line *ln, const char *text) {
    const char *end = NULL;
    cJSON *ex = cJSON_ParseWithOpts(text, &end, 1);
    if (!ex) {
        ln->error = dup_printf("line %ld: invalid JSON at column %ld", ln->lineno, end ? (long)(end - text) + 1 : 1L);
        return;
    }
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(ex, "completion");
    const cJSON *nt = cJSON_GetObjectItemCaseSensitive(ex, "n_tokens");
    if (!cJSON_IsObject(ex)) ln->error = dup_printf("line %ld: not a JSON object", ln->lineno);
    else if (!cJSON_IsString(c)) ln->error = dup_printf("line %ld: no \"completion\" string", ln->lineno);
    else if (nt && !cJSON_IsNull(nt) &&
             (!cJSON_IsNumber(nt) || nt->valuedouble < 0 || nt->valuedouble > 1e9 || nt->valuedouble != (int)nt->valuedouble))
        ln->error = dup_printf("line %ld: \"n_tokens\" must be a whole number >= 0", ln->lineno);
    if (ln->error) {
        cJSON_Delete(ex);
        return;
    }
    ln->ex = ex;
    ln->n_tokens = cJSON_IsNumber(nt) ? (int)nt->valuedouble : -1;
}

static void print_error(long lineno, const char *msg) {
    cJSON *o = cJSON_CreateObject();
    json_add_text(o, "error", msg);
    cJSON_AddNumberToObject(o, "line", (double)lineno);
    char *s = cJSON_PrintUnformatted(o);
    if (s) puts(s);
    free(s);
    cJSON_Delete(o);
}

static void print_score(const RuleSet *r, const RuleScore *s) {
    cJSON *o = cJSON_CreateObject(), *comp = cJSON_CreateObject(), *det = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "reward", s->reward);
    for (int i = 0; i < s->n; i++) {
        cJSON_AddNumberToObject(comp, rules_name(r, i), s->value[i]);
        json_add_text(det, rules_name(r, i), s->detail[i]);
    }
    cJSON_AddItemToObject(o, "components", comp);
    cJSON_AddItemToObject(o, "details", det);
    char *txt = cJSON_PrintUnformatted(o);
    if (txt) puts(txt);
    free(txt);
    cJSON_Delete(o);
}

// Scores and prints one chunk; returns how many of its lines failed.
static long flush_chunk(const RuleSet *r, Line *lines, int n, int workers, RuleScore *scores) {
    const char *comp[CHUNK] = {0};
    const cJSON *exs[CHUNK] = {0};
    int ntok[CHUNK] = {0}, idx[CHUNK], m = 0;
    for (int i = 0; i < n; i++)
        if (lines[i].ex) {
            comp[m] = cJSON_GetObjectItemCaseSensitive(lines[i].ex, "completion")->valuestring;
            exs[m] = lines[i].ex;
            ntok[m] = lines[i].n_tokens;
            idx[m++] = i;
        }
    char err[256];
    if (m) // per-item errors land in scores[k].error
        rules_score_batch(r, comp, exs, ntok, m, workers, scores, err, sizeof err);
    long failed = 0;
    for (int i = 0, k = 0; i < n; i++) {
        if (k < m && idx[k] == i) {
            if (scores[k].error[0]) {
                char msg[400];
                snprintf(msg, sizeof msg, "line %ld: %s", lines[i].lineno, scores[k].error);
                print_error(lines[i].lineno, msg);
                failed++;
            } else print_score(r, &scores[k]);
            k++;
        } else {
            print_error(lines[i].lineno, lines[i].error);
            failed++;
        }
        cJSON_Delete(lines[i].ex);
        free(lines[i].error);
        lines[i].ex = NULL;
        lines[i].error = NULL;
    }
    fflush(stdout);
    return failed;
}

// The sandbox reports weaker isolation (no namespaces) once, through this.
static void sandbox_warn(const char *msg, void *ctx) { fprintf(stderr, "grpo reward: warning: %s\n", msg); }

static int is_blank(const char *s) {
    for (; *s; s++)
        if (!isspace((unsigned char)*s)) return 0;
    return 1;
}

static int run(int argc, char **argv) {
    const char *rules_arg = NULL, *data = NULL;
    long workers = 0;
    int show = 0;
    CliOpt opts[] = {{"--rules", CLI_STR, &rules_arg}, {"--data", CLI_STR, &data}, {"--workers", CLI_INT, &workers},
                     {"--show-preset", CLI_FLAG, &show}};
    int rc = cli_parse("reward", argc, argv, opts, 4, NULL, 0, NULL);
    if (rc) return rc;
    if (!rules_arg) {
        cli_error("reward", "--rules is required: a rules file or a preset (math, code, countdown)");
        return 2;
    }
    if (workers < 0 || workers > 256) {
        cli_error("reward", "--workers must be 0 (one per CPU) to 256, got %ld", workers);
        return 2;
    }
    if (show) {
        const char *p = rules_preset(rules_arg);
        if (!p) return cli_error("reward", "--show-preset: no preset '%s' (presets: math, code, countdown)", rules_arg);
        fputs(p, stdout);
        return 0;
    }
    sandbox_set_log(sandbox_warn, NULL);
    RuleSet *r = NULL;
    char err[512];
    if (rules_load(rules_arg, &r, err, sizeof err)) return cli_error("reward", "%s", err);
    FILE *in = stdin;
    if (data && (in = fopen(data, "r")) == NULL) {
        rules_free(r);
        return cli_error("reward", "%s: %s", data, strerror(errno));
    }
    Line *lines = calloc(CHUNK, sizeof *lines);
    RuleScore *scores = calloc(CHUNK, sizeof *scores);
    char *buf = NULL;
    size_t cap = 0;
    long lineno = 0, failed = 0, total = 0;
    int n = 0;
    rc = 0;
    if (!lines || !scores) rc = cli_error("reward", "out of memory");
    while (!rc) {
        errno = 0;
        ssize_t len = getline(&buf, &cap, in);
        if (len < 0) {
            if (ferror(in)) rc = cli_error("reward", "%s: read error: %s", data ? data : "stdin", strerror(errno));
            break;
        }
        lineno++;
        if (is_blank(buf)) continue; // blank lines (a trailing newline, spacing) carry no example
        if ((size_t)len != strlen(buf)) {
            lines[n].lineno = lineno;
            lines[n].error = dup_printf("line %ld: contains a NUL byte", lineno);
        } else {
            lines[n].lineno = lineno;
            parse_line(&lines[n], buf);
        }
        total++;
        if (++n == CHUNK) {
            failed += flush_chunk(r, lines, n, (int)workers, scores);
            n = 0;
        }
    }
    if (n) failed += flush_chunk(r, lines, n, (int)workers, scores);
    if (!rc && failed) rc = cli_error("reward", "%ld of %ld lines failed (their output lines say why)", failed, total);
    free(buf);
    free(lines);
    free(scores);
    if (in != stdin) fclose(in);
    rules_free(r);
    return rc;
}

const GrpoCommand grpo_cmd_reward = {
    "reward", "score completions (JSONL) with reward rules",
    "usage: grpo reward --rules RULES.json|PRESET [--data FILE.jsonl] [--workers N]\n"
    "       grpo reward --rules PRESET --show-preset\n\n"
    "Reads one example per line (stdin without --data): a \"completion\" plus its reference\n"
    "fields (\"answer\"; \"tests\"; \"test\" and \"entry_point\"; \"io\"; \"nums\" and \"target\";\n"
    "optional \"n_tokens\" for the overlong and length rules). Writes one line per example,\n"
    "in input order:\n"
    "  {\"reward\": R, \"components\": {RULE: VALUE, ...}, \"details\": {RULE: WHY, ...}}\n"
    "A line that cannot be scored gets {\"error\": \"line N: why\", \"line\": N} instead and the\n"
    "others are still scored. Blank lines are skipped.\n\n"
    "  --rules R       a rules file (JSON) or a preset: math, code, countdown\n"
    "  --data FILE     the JSONL input (default: stdin)\n"
    "  --workers N     threads scoring in parallel (code rules run N sandboxes at once);\n"
    "                  0 = one per CPU (default)\n"
    "  --show-preset   print the preset's rules JSON (a starting point for your own file)\n\n"
    "Exit status: 0 when every line was scored, 1 when any line failed or the rules did not\n"
    "load (the reason on stderr), 2 for a usage error.\n",
    run};
