// `grpo grad`: the GRPO loss of a fixed batch and every parameter's gradient.
#include <stdio.h>
#include <string.h>

#include "kernels/backend.h"
#include "policy/model.h"
#include "rl/cli.h"
#include "rl/gradbatch.h"

static int run(int argc, char **argv) {
    const char *model_dir = NULL, *batch = NULL, *out = NULL, *device = "cpu", *precision = "auto";
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-o")) argv[i] = (char *)"--output";
    CliOpt opts[] = {{"--model", CLI_STR, &model_dir}, {"--batch", CLI_STR, &batch}, {"--output", CLI_STR, &out},
                     {"--device", CLI_STR, &device}, {"--precision", CLI_STR, &precision}};
    int rc = cli_parse("grad", argc, argv, opts, 5, NULL, 0, NULL);
    if (rc) return rc;
    if (!model_dir || !batch || !out) return cli_error("grad", "--model DIR, --batch BATCH.json and -o GRADS.safetensors are required");
    GradBatch gb;
    if (gradbatch_load(&gb, batch)) return cli_fail("grad");
    Backend *b = NULL;
    Model *m = NULL;
    LossStats stats;
    if (cli_open_backend("grad", device, precision, &b)) rc = 1;
    else if (model_load(&m, model_dir, b) || gradbatch_run(m, &gb, &stats, NULL) || model_save_grads(m, out))
        rc = cli_fail("grad");
    else
        printf("{\"loss\": %.17g, \"kl\": %.17g, \"clip_frac\": %.17g, \"n_tokens\": %ld}\n", stats.loss, stats.kl,
               stats.clip_frac, stats.n_tokens);
    model_free(m);
    backend_close(b);
    gradbatch_free(&gb);
    return rc;
}

const GrpoCommand grpo_cmd_grad = {
    "grad", "GRPO loss and every parameter's gradient on a fixed batch",
    "usage: grpo grad --model DIR --batch BATCH.json -o GRADS.safetensors [--device cpu|cuda|auto]\n"
    "                 [--precision auto|fp32|bf16]\n\n"
    "Computes the GRPO loss of design.md on BATCH.json and writes d loss / d parameter for every\n"
    "parameter, under its Hugging Face name, as F32 safetensors; prints {\"loss\": x, ...}.\n\n"
    "BATCH.json: {\"loss\": {\"type\": \"grpo|bnpo|dr_grpo|dapo\", \"beta\": b, \"eps_low\": e1,\n"
    "  \"eps_high\": e2, \"max_completion_len\": m}, \"sequences\": [{\"ids\": [...], \"prompt_len\": p,\n"
    "  \"advantage\": a, \"old_logprobs\": [...], \"ref_logprobs\": [...]}]} with one old and one ref\n"
    "log-prob per completion token (ids[p:]); ref may be absent when beta is 0.\n",
    run};
