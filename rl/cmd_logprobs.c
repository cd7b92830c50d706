// `grpo logprobs`: per-token log-probabilities of a token sequence.
#include <stdio.h>
#include <stdlib.h>

#include "kernels/backend.h"
#include "policy/model.h"
#include "rl/cli.h"

static int run(int argc, char **argv) {
    const char *model_dir = NULL, *ids_s = NULL, *device = "cpu", *precision = "auto";
    double temperature = 1.0;
    CliOpt opts[] = {{"--model", CLI_STR, &model_dir}, {"--ids", CLI_STR, &ids_s}, {"--device", CLI_STR, &device}, {"--precision", CLI_STR, &precision},
                     {"--temperature", CLI_DOUBLE, &temperature}};
    int rc = cli_parse("logprobs", argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), NULL, 0, NULL);
    if (rc) return rc;
    if (!model_dir || !ids_s) return cli_error("logprobs", "--model DIR and --ids \"i0 i1 ...\" are required");
    if (!(temperature > 0)) return cli_error("logprobs", "--temperature must be positive");
    int32_t *ids = NULL;
    int n = 0;
    if (cli_parse_ids("logprobs", ids_s, &ids, &n)) return 1;
    if (n < 2) {
        free(ids);
        return cli_error("logprobs", "--ids needs at least 2 tokens");
    }
    Backend *b = NULL;
    Model *m = NULL;
    float *lp = malloc((size_t)n * sizeof(float));
    if (!lp) rc = cli_error("logprobs", "out of memory");
    else if (cli_open_backend("logprobs", device, precision, &b)) rc = 1;
    else if (model_load(&m, model_dir, b)) rc = cli_fail("logprobs");
    else {
        int cu[2] = {0, n};
        ModelBatch mb = {1, cu, ids, (float)temperature, 1};
        if (model_forward(m, &mb, lp, NULL)) rc = cli_fail("logprobs");
        else {
            // logprobs[k] = log p(ids[k+1] | ids[..k]): n - 1 values
            printf("{\"logprobs\": [");
            for (int k = 0; k + 1 < n; k++) printf("%s%.9g", k ? ", " : "", lp[k]);
            printf("]}\n");
        }
    }
    model_free(m);
    backend_close(b);
    free(lp);
    free(ids);
    return rc;
}

const GrpoCommand grpo_cmd_logprobs = {
    "logprobs", "per-token log-probabilities of a token sequence under a model",
    "usage: grpo logprobs --model DIR --ids \"i0 i1 ... in\" [--temperature T] [--device cpu|cuda|auto]\n"
    "                     [--precision auto|fp32|bf16]\n\n"
    "Prints {\"logprobs\": [...]} with n values: logprobs[k] = log p(i_{k+1} | i_0..i_k),\n"
    "under softmax(logits / T) (T = 1 by default).\n",
    run};
