// `grpo data`: generate task data and show exactly what the model will see.
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/dataset.h"
#include "datasets/gen.h"
#include "datasets/template.h"
#include "kernels/status.h"
#include "policy/tokenizer.h"
#include "rl/cli.h"

static int parse_u64(const char *cmd, const char *opt, const char *v, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (!*v || *end || errno || *v == '-') return cli_error(cmd, "%s expects an unsigned integer, got '%s'", opt, v), 2;
    *out = x;
    return 0;
}

// Options shared by gen and show that pick a generator's settings and the split.
typedef struct {
    long digits, n;
    const char *ops, *seed, *split, *split_seed;
    double eval_frac;
    int worked;
    CliMulti opt;
} GenArgs;

static int apply_gen_args(const char *cmd, const GenArgs *a, DsOptions *o) {
    char buf[32];
    if (a->digits >= 0) {
        snprintf(buf, sizeof buf, "%ld", a->digits);
        if (gen_options_set(&o->gen, "digits", buf)) return cli_fail(cmd);
    }
    if (a->ops && gen_options_set(&o->gen, "ops", a->ops)) return cli_fail(cmd);
    if (a->worked) o->gen.worked = 1;
    for (int i = 0; i < a->opt.n; i++) {
        char kv[256];
        snprintf(kv, sizeof kv, "%s", a->opt.items[i]);
        char *eq = strchr(kv, '=');
        if (!eq) return cli_error(cmd, "--opt expects key=value, got '%s'", a->opt.items[i]);
        *eq = 0;
        if (gen_options_set(&o->gen, kv, eq + 1)) return cli_fail(cmd);
    }
    if (gen_options_check(&o->gen)) return cli_fail(cmd);
    if (a->n != -1) o->gen_n = a->n;
    int rc;
    if (a->seed && (rc = parse_u64(cmd, "--seed", a->seed, &o->gen_seed))) return rc;
    if (a->split && ds_split_parse(a->split, &o->split)) return cli_fail(cmd);
    if (a->split_seed && (rc = parse_u64(cmd, "--split-seed", a->split_seed, &o->split_seed))) return rc;
    if (a->eval_frac >= 0) o->eval_frac = a->eval_frac;
    return 0;
}

#define GEN_ARG_OPTS(a)                                                                                              \
    {"--n", CLI_INT, &(a).n}, {"--seed", CLI_STR, &(a).seed}, {"--digits", CLI_INT, &(a).digits},                    \
        {"--ops", CLI_STR, &(a).ops}, {"--worked", CLI_FLAG, &(a).worked}, {"--opt", CLI_MULTI, &(a).opt},           \
        {"--split", CLI_STR, &(a).split}, {"--eval-frac", CLI_DOUBLE, &(a).eval_frac},                               \
        {"--split-seed", CLI_STR, &(a).split_seed}

static int run_gen(int argc, char **argv) {
    const char *cmd = "data gen";
    GenArgs a = {.digits = -1, .n = -1, .eval_frac = -1};
    CliOpt opts[] = {GEN_ARG_OPTS(a)};
    const char *pos[1];
    int npos = 0;
    int rc = cli_parse(cmd, argc, argv, opts, (int)(sizeof opts / sizeof *opts), pos, 1, &npos);
    if (rc) return rc;
    if (npos != 1) return cli_error(cmd, "which generator? (countdown, arithmetic, letters)"), 2;
    if (a.n == -1) return cli_error(cmd, "how many? give --n N"), 2;
    DsOptions o;
    ds_options_default(&o);
    if ((rc = apply_gen_args(cmd, &a, &o))) return rc;
    Dataset *d = NULL;
    if (ds_generate(pos[0], &o.gen, o.gen_seed, o.gen_n, &o, &d)) return cli_fail(cmd);
    for (int i = 0; i < d->n; i++) {
        char *s = cJSON_PrintUnformatted(d->ex[i]);
        if (!s) {
            ds_free(d);
            return cli_error(cmd, "out of memory");
        }
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
    ds_free(d);
    if (fflush(stdout) || ferror(stdout)) return cli_error(cmd, "writing the output failed: %s", strerror(errno));
    return 0;
}

// Prompt length in tokens as the trainer will encode it: with BOS when the
// tokenizer wants one, unless the template already wrote it (llama3).
static int count_tokens(const Tokenizer *tok, const Template *t, const char *text, long *n) {
    *n = -1;
    if (!tok) return 0;
    int32_t *ids = NULL;
    size_t len = 0;
    int rc = tok_encode(tok, text, strlen(text), tok_wants_bos(tok) && !tpl_has_bos(t), &ids, &len);
    free(ids);
    if (!rc) *n = (long)len;
    return rc;
}

static void print_quoted(const char *s) {
    fputc('"', stdout);
    for (; *s; s++) {
        if (*s == '\n') fputs("\\n", stdout);
        else if (*s == '"') fputs("\\\"", stdout);
        else fputc(*s, stdout);
    }
    fputc('"', stdout);
}

static int run_show(int argc, char **argv) {
    const char *cmd = "data show";
    GenArgs a = {.digits = -1, .n = -1, .eval_frac = -1};
    const char *data = NULL, *format = NULL, *template = "r1-zero", *custom = NULL, *tokenizer = NULL, *system = NULL;
    const char *qf = NULL, *af = NULL, *tf = NULL;
    long limit = 5;
    int open_think = 0, skip = 0, json = 0;
    CliOpt opts[] = {GEN_ARG_OPTS(a),
                     {"--data", CLI_STR, &data},
                     {"--format", CLI_STR, &format},
                     {"--template", CLI_STR, &template},
                     {"--custom-template", CLI_STR, &custom},
                     {"--system", CLI_STR, &system},
                     {"--open-think", CLI_FLAG, &open_think},
                     {"--tokenizer", CLI_STR, &tokenizer},
                     {"--limit", CLI_INT, &limit},
                     {"--question-field", CLI_STR, &qf},
                     {"--answer-field", CLI_STR, &af},
                     {"--tests-field", CLI_STR, &tf},
                     {"--skip-malformed", CLI_FLAG, &skip},
                     {"--json", CLI_FLAG, &json}};
    int rc = cli_parse(cmd, argc, argv, opts, (int)(sizeof opts / sizeof *opts), NULL, 0, NULL);
    if (rc) return rc;
    if (!data) return cli_error(cmd, "no data: give --data FILE.jsonl or --data gen:NAME"), 2;
    if (limit < 0) return cli_error(cmd, "--limit must be 0 (all) or more"), 2;
    DsOptions o;
    ds_options_default(&o);
    if ((rc = apply_gen_args(cmd, &a, &o))) return rc;
    if (a.n == -1 && !strncmp(data, "gen:", 4)) o.gen_n = limit ? limit : 100;
    if (format && ds_format_parse(format, &o.format)) return cli_fail(cmd);
    if (!format && !strncmp(data, "gen:", 4) && !strncmp(data + 4, "countdown", 9)) o.format = DS_COUNTDOWN;
    o.question_field = qf;
    o.answer_field = af;
    o.tests_field = tf;
    o.skip_malformed = skip;
    TplOptions to;
    tpl_options_default(&to);
    to.system = system;
    to.open_think = open_think;
    Template *t = NULL;
    if (custom ? tpl_create_custom(custom, NULL, &to, &t) : tpl_create(template, &to, &t)) return cli_fail(cmd);
    Tokenizer *tok = NULL;
    if (tokenizer && (!strcmp(tokenizer, "builtin") ? tok_load_builtin(&tok) : tok_load(tokenizer, &tok))) {
        tpl_free(t);
        return cli_fail(cmd);
    }
    Dataset *d = NULL;
    if (ds_open(data, &o, &d)) {
        tpl_free(t);
        tok_free(tok);
        return cli_fail(cmd);
    }
    int n = limit && limit < d->n ? (int)limit : d->n;
    long tmin = -1, tmax = -1, tsum = 0;
    rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        char *prompt = NULL;
        long ntok = -1;
        if (tpl_render(t, d->ex[i], &prompt, NULL) || count_tokens(tok, t, prompt, &ntok)) {
            rc = cli_error(cmd, "%s: example %d: %s", d->origin, i + 1, grpo_errmsg());
            free(prompt);
            break;
        }
        if (ntok >= 0) {
            tmin = tmin < 0 || ntok < tmin ? ntok : tmin;
            tmax = ntok > tmax ? ntok : tmax;
            tsum += ntok;
        }
        const char *ans = ds_str(d->ex[i], "answer");
        if (json) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "prompt", prompt);
            if (ans) cJSON_AddStringToObject(j, "answer", ans);
            if (ntok >= 0) cJSON_AddNumberToObject(j, "prompt_tokens", (double)ntok);
            char *s = cJSON_PrintUnformatted(j);
            if (s) printf("%s\n", s);
            free(s);
            cJSON_Delete(j);
        } else {
            printf("--- example %d of %d (%s)", i + 1, d->n, d->origin);
            if (ntok >= 0) printf(" | prompt: %ld tokens", ntok);
            printf(" | %zu chars\n%s\n--- gold: %s", strlen(prompt), prompt, ans ? ans : "(none)");
            const cJSON *target = cJSON_GetObjectItemCaseSensitive(d->ex[i], "target");
            const cJSON *tests = cJSON_GetObjectItemCaseSensitive(d->ex[i], "tests");
            const char *entry = ds_str(d->ex[i], "entry_point");
            if (cJSON_IsNumber(target)) printf(" (target %g)", target->valuedouble);
            if (cJSON_IsArray(tests)) printf(" (%d tests)", cJSON_GetArraySize(tests));
            if (entry) printf(" (check(%s))", entry);
            printf("\n");
        }
        free(prompt);
    }
    if (!rc && !json) {
        printf("=== %d of %d examples shown from %s (format %s, template %s", n, d->n, d->origin, ds_format_name(o.format),
               tpl_name(t));
        printf(", stops:");
        for (int i = 0; i < tpl_stop_count(t); i++) printf(" "), print_quoted(tpl_stop(t, i));
        if (!tpl_stop_count(t)) printf(" none");
        printf(")");
        if (d->n_skipped) printf("; %d malformed lines skipped (first: line %d)", d->n_skipped, d->first_skipped_line);
        if (tmax >= 0) printf("; prompt tokens min %ld, mean %.1f, max %ld", tmin, (double)tsum / n, tmax);
        printf("\n");
    }
    ds_free(d);
    tpl_free(t);
    tok_free(tok);
    return rc;
}

static int run(int argc, char **argv) {
    if (argc < 2) return cli_error("data", "which action? 'grpo data gen NAME ...' or 'grpo data show --data ...'"), 2;
    if (!strcmp(argv[1], "gen")) return run_gen(argc - 1, argv + 1);
    if (!strcmp(argv[1], "show")) return run_show(argc - 1, argv + 1);
    return cli_error("data", "unknown action '%s' (known: gen, show)", argv[1]), 2;
}

const GrpoCommand grpo_cmd_data = {
    "data", "generate task data (countdown, arithmetic, letters) and show rendered prompts",
    "usage: grpo data gen NAME --n N [--seed S] [--digits D] [--ops +,-,*] [--worked] [--opt key=value]...\n"
    "       grpo data show --data FILE.jsonl|gen:NAME [--format F] [--template T] [--tokenizer PATH] [--limit N]\n\n"
    "gen writes N examples of a built-in generator as JSONL to stdout; the same seed gives the same\n"
    "lines on every machine.\n"
    "  NAME             countdown, arithmetic or letters\n"
    "  --n N            how many examples\n"
    "  --seed S         generator seed (default 1)\n"
    "  --digits D       arithmetic: digits per operand (default 2)\n"
    "  --ops OPS        arithmetic: operators to use, e.g. +,- (default +,-,*)\n"
    "  --worked         add a step-by-step \"completion\" (<think> ... </think> <answer>X</answer>)\n"
    "  --opt key=value  other generator options: min_nums, max_nums, max_num, max_target (countdown),\n"
    "                   min_len, max_len, alphabet (letters)\n"
    "  --split S        all (default), train or eval: keep one side of the hash split\n"
    "  --eval-frac F    the eval share of the split (default 0.1); --split-seed S its seed (default 0)\n\n"
    "show prints the first examples as the model sees them, with their gold answers.\n"
    "  --data SPEC      a JSONL file, or gen:NAME (generator options as above, or gen:NAME?digits=3&n=50)\n"
    "  --format F       generic (default), gsm8k, math, countdown, mbpp, humaneval\n"
    "  --template T     r1-zero (default), chatml, llama3, plain\n"
    "  --custom-template TEXT  a template with {question} / {field} placeholders ({{ }} for braces)\n"
    "  --system TEXT    system prompt (chatml, llama3)\n"
    "  --open-think     end the prompt with an opened <think>\n"
    "  --tokenizer PATH count prompt tokens with this tokenizer.json or model directory\n"
    "                   (\"builtin\": the built-in byte-level one)\n"
    "  --limit N        how many to show (default 5; 0 = all)\n"
    "  --question-field, --answer-field, --tests-field PATH   where those live (dotted paths)\n"
    "  --skip-malformed skip and count malformed lines instead of stopping at the first\n"
    "  --json           one JSON object per example: {\"prompt\", \"answer\", \"prompt_tokens\"}\n",
    run};
