// `grpo eval`: the trainer's held-out evaluation, standalone.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kernels/status.h"
#include "rl/cli.h"
#include "rl/config.h"
#include "rl/evaluate.h"

static int run(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *rules_spec = "math", *tpl = NULL, *format = NULL, *device = "auto", *tokenizer = NULL, *precision = NULL,
               *out_path = NULL;
    long n = 0, k = 1, max_tokens = 256, seed = 1, workers = 0;
    double temperature = 1.0;
    int json = 0;
    CliMulti stops = {0};
    CliOpt opts[] = {{"--model", CLI_STR, &model},       {"--data", CLI_STR, &data},         {"--rules", CLI_STR, &rules_spec},
                     {"--template", CLI_STR, &tpl},      {"--format", CLI_STR, &format},     {"--device", CLI_STR, &device},
                     {"--n", CLI_INT, &n},               {"--k", CLI_INT, &k},               {"--temperature", CLI_DOUBLE, &temperature},
                     {"--max-tokens", CLI_INT, &max_tokens}, {"--seed", CLI_INT, &seed},     {"--workers", CLI_INT, &workers},
                     {"--json", CLI_FLAG, &json},        {"--stop", CLI_MULTI, &stops},      {"--tokenizer", CLI_STR, &tokenizer},
                     {"--precision", CLI_STR, &precision}, {"--out", CLI_STR, &out_path}};
    int rc = cli_parse("eval", argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), NULL, 0, NULL);
    if (rc) return rc;
    if (!model || !data) return cli_error("eval", "--model DIR and --data SPEC are required (see 'grpo eval --help')");
    if (k < 1 || n < 0 || max_tokens < 1) return cli_error("eval", "--k and --max-tokens must be >= 1, --n >= 0");
    if (out_path) { // before the evaluation, not after it
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", out_path);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = '\0';
        const char *d = slash ? (dir[0] ? dir : "/") : ".";
        if (access(d, W_OK | X_OK) != 0)
            return cli_error("eval", "--out %s: cannot write in %s: %s", out_path, d, strerror(errno));
    }
    TrainConfig c;
    config_defaults(&c);
    char kv[2048];
    const char *pairs[][2] = {{"model", model}, {"dataset", data}, {"eval_dataset", data}, {"device", device},
                              {"template", tpl}, {"dataset_format", format}, {"tokenizer", tokenizer}, {"precision", precision}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        if (!pairs[i][1]) continue;
        snprintf(kv, sizeof kv, "%s=%s", pairs[i][0], pairs[i][1]);
        if (config_set(&c, kv)) return cli_fail("eval");
    }
    snprintf(kv, sizeof kv, "max_completion_len=%ld", max_tokens);
    config_set(&c, kv);
    c.n_stop = 0;
    for (int i = 0; i < stops.n && i < CONFIG_MAX_STOPS; i++) snprintf(c.stop[c.n_stop++], sizeof c.stop[0], "%s", stops.items[i]);
    TrainEnv e;
    if (env_open(&e, &c, ENV_MODEL | ENV_EVAL)) return cli_fail("eval");
    RuleSet *rules = NULL;
    char err[512];
    StopTable stab;
    memset(&stab, 0, sizeof stab);
    if (rules_load(rules_spec, &rules, err, sizeof err)) {
        env_close(&e);
        return cli_error("eval", "rules: %s", err);
    }
    EvalOptions eo = {(int)n, (int)k, temperature, max_tokens, (uint64_t)seed, (int)workers, out_path};
    EvalResult r;
    rc = 0;
    if (stoptable_build(&stab, &e) || evaluate(&e, e.eval, rules, &stab, &eo, &r)) rc = cli_fail("eval");
    else if (json) {
        printf("{\"n\": %d, \"accuracy\": %.6g, \"reward_mean\": %.6g, \"completion_len\": %.6g", r.n, r.accuracy, r.reward_mean,
               r.completion_len);
        if (r.k > 1) printf(", \"pass@%d\": %.6g, \"maj@%d\": %.6g", r.k, r.pass_k, r.k, r.maj_k);
        printf("}\n");
    } else {
        printf("%d examples  accuracy (greedy pass@1) %.3f  mean reward %.3f  length %.1f\n", r.n, r.accuracy, r.reward_mean,
               r.completion_len);
        if (r.k > 1) printf("pass@%d %.3f  maj@%d %.3f  (temperature %g)\n", r.k, r.pass_k, r.k, r.maj_k, temperature);
    }
    stoptable_free(&stab);
    rules_free(rules);
    env_close(&e);
    return rc;
}

const GrpoCommand grpo_cmd_eval = {
    "eval", "evaluate a model on held-out data: greedy pass@1, and pass@k / maj@k",
    "usage: grpo eval --model DIR --data FILE.jsonl|gen:NAME [--rules R] [--template T] [--format F]\n"
    "                 [--n N] [--k K] [--temperature T] [--max-tokens N] [--stop S]... [--seed S]\n"
    "                 [--workers N] [--tokenizer PATH] [--device D] [--precision P] [--json] [--out FILE]\n\n"
    "Greedy-decodes every example (or the first N), scores the completions with the rules and\n"
    "reports accuracy: the fraction whose verifier rule (the first math, countdown or code rule)\n"
    "says correct. With --k K > 1 it also samples K completions per example at --temperature\n"
    "and reports pass@K (any correct) and maj@K (the most common extracted answer is correct).\n\n"
    "  --rules R        a rules file or preset (default math)\n"
    "  --template T     prompt template (default r1-zero) or a custom text with {question}\n"
    "  --format F       dataset layout (gsm8k, math, countdown, mbpp, humaneval, generic)\n"
    "  --max-tokens N   completion tokens (default 256);  --stop S: extra stop strings\n"
    "  --precision P    auto, fp32 or bf16 (default auto: fp32 on cpu, bf16 on cuda)\n"
    "  --out FILE       also write every example's completions and scores as JSON lines (written\n"
    "                   whole at the end): the example's fields plus \"completion\" and \"n_tokens\"\n"
    "                   of the greedy completion, so `grpo reward --rules NEW --data FILE` rescores it\n"
    "                   with edited rules, and \"eval\": {index, prompt, finish_reason, reward, correct,\n"
    "                   components, details, and with --k: samples [...], majority_correct}\n",
    run};
