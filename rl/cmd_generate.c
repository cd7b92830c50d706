// `grpo generate`: sample completions from a model directory.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "policy/generate.h"
#include "policy/model.h"
#include "policy/tokenizer.h"
#include "rl/cli.h"
#include "rl/json_text.h"


static int run(int argc, char **argv) {
    const char *model_dir = NULL, *prompt = NULL, *ids_s = NULL, *device = "cpu", *precision = "auto";
    long n = 1, max_tokens = 64, top_k = 0, seed = 0;
    double temperature = 1.0, top_p = 1.0, min_p = 0.0;
    int no_bos = 0;
    CliMulti stops = {{0}, 0};
    CliOpt opts[] = {{"--model", CLI_STR, &model_dir}, {"--prompt", CLI_STR, &prompt}, {"--ids", CLI_STR, &ids_s},
                     {"--n", CLI_INT, &n}, {"--max-tokens", CLI_INT, &max_tokens}, {"--temperature", CLI_DOUBLE, &temperature},
                     {"--top-p", CLI_DOUBLE, &top_p}, {"--top-k", CLI_INT, &top_k}, {"--min-p", CLI_DOUBLE, &min_p},
                     {"--seed", CLI_INT, &seed}, {"--stop", CLI_MULTI, &stops}, {"--device", CLI_STR, &device},
                     {"--precision", CLI_STR, &precision},
                     {"--no-bos", CLI_FLAG, &no_bos}};
    int rc = cli_parse("generate", argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), NULL, 0, NULL);
    if (rc) return rc;
    if (!model_dir || (!prompt == !ids_s)) return cli_error("generate", "--model DIR and one of --prompt TEXT or --ids \"...\" are required");
    if (n < 1 || n > 4096) return cli_error("generate", "--n must be in 1..4096");
    if (max_tokens < 1 || max_tokens > 1000000) return cli_error("generate", "--max-tokens must be positive");
    GenConfig c;
    memset(&c, 0, sizeof c);
    c.sampler = (SamplerConfig){(float)temperature, (int)top_k, (float)top_p, (float)min_p};
    if (sampler_config_check(&c.sampler)) return cli_fail("generate");
    c.max_tokens = (int)max_tokens;
    c.seed = (uint64_t)seed;

    Backend *b = NULL;
    Model *m = NULL;
    Tokenizer *tok = NULL;
    int32_t *ids = NULL;
    int n_ids = 0;
    char **pieces = NULL;
    int *plen = NULL;
    GenResult *res = NULL;
    int32_t eos[MODEL_MAX_EOS + 1];
    if (cli_open_backend("generate", device, precision, &b)) {
        rc = 1;
        goto done;
    }
    if (model_load(&m, model_dir, b)) {
        rc = cli_fail("generate");
        goto done;
    }
    if (tok_load(model_dir, &tok)) {
        tok = NULL;
        if (prompt || stops.n) {
            rc = cli_error("generate", "%s (--prompt and --stop need the model's tokenizer; --ids works without)", grpo_errmsg());
            goto done;
        }
    }
    if (prompt) {
        size_t nn = 0;
        if (tok_encode(tok, prompt, strlen(prompt), !no_bos && tok_wants_bos(tok), &ids, &nn)) {
            rc = cli_fail("generate");
            goto done;
        }
        n_ids = (int)nn;
    } else if (cli_parse_ids("generate", ids_s, &ids, &n_ids)) {
        rc = 1;
        goto done;
    }
    if (n_ids < 1) {
        rc = cli_error("generate", "the prompt is empty");
        goto done;
    }
    int ne = 0;
    for (int i = 0; i < m->cfg.n_eos; i++) eos[ne++] = m->cfg.eos_ids[i];
    if (tok && tok_eos_id(tok) >= 0) {
        int seen = 0;
        for (int i = 0; i < ne; i++) seen |= eos[i] == tok_eos_id(tok);
        if (!seen) eos[ne++] = tok_eos_id(tok);
    }
    c.eos_ids = eos;
    c.n_eos = ne;
    if (stops.n) {
        // token -> bytes table so generation can match stop strings on the text
        int V = m->cfg.vocab;
        pieces = calloc((size_t)V, sizeof *pieces);
        plen = calloc((size_t)V, sizeof *plen);
        if (!pieces || !plen) {
            rc = cli_error("generate", "out of memory");
            goto done;
        }
        for (int32_t i = 0; i < V; i++) {
            size_t len = 0;
            if (i < tok_vocab_size(tok) && tok_decode(tok, &i, 1, &pieces[i], &len) == 0) plen[i] = (int)len;
            else pieces[i] = NULL, plen[i] = 0;
        }
        c.stop = stops.items;
        c.n_stop = stops.n;
        c.token_bytes = (const char *const *)pieces;
        c.token_len = plen;
    }
    res = calloc((size_t)n, sizeof *res);
    const int32_t *pp[1] = {ids};
    if (!res || generate(m, &c, pp, &n_ids, 1, (int)n, res)) {
        rc = res ? cli_fail("generate") : cli_error("generate", "out of memory");
        goto done;
    }
    for (int s = 0; s < n; s++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "sample", s);
        if (tok) {
            // ids the tokenizer does not know (a model vocab padded past it) decode to nothing
            int32_t *known = malloc((size_t)res[s].n_tokens * sizeof(int32_t) + 4);
            size_t nk = 0;
            for (int k = 0; known && k < res[s].n_tokens; k++)
                if (res[s].tokens[k] < tok_vocab_size(tok)) known[nk++] = res[s].tokens[k];
            char *text = NULL;
            size_t len = 0;
            int dec = known ? tok_decode(tok, known, nk, &text, &len) : -1;
            free(known);
            char *clean = dec == 0 ? json_text_clean(text, len) : NULL;
            if (clean) cJSON_AddStringToObject(o, "text", clean);
            free(clean);
            free(text);
        }
        cJSON *a = cJSON_AddArrayToObject(o, "ids"), *l = cJSON_AddArrayToObject(o, "logprobs");
        for (int k = 0; k < res[s].n_tokens; k++) {
            cJSON_AddItemToArray(a, cJSON_CreateNumber(res[s].tokens[k]));
            char num[32];
            snprintf(num, sizeof num, "%.7g", res[s].logprobs[k]);
            cJSON_AddItemToArray(l, cJSON_CreateRaw(num));
        }
        cJSON_AddStringToObject(o, "finish_reason", gen_finish_name(res[s].finish));
        char *line = cJSON_PrintUnformatted(o);
        if (line) puts(line);
        free(line);
        cJSON_Delete(o);
    }
done:
    if (res) gen_results_free(res, (int)n);
    free(res);
    if (pieces)
        for (int i = 0; i < m->cfg.vocab; i++) free(pieces[i]);
    free(pieces);
    free(plen);
    free(ids);
    tok_free(tok);
    model_free(m);
    backend_close(b);
    return rc;
}

const GrpoCommand grpo_cmd_generate = {
    "generate", "sample completions of a prompt from a model",
    "usage: grpo generate --model DIR (--prompt TEXT | --ids \"i0 i1 ...\") [--n K] [--max-tokens N]\n"
    "                     [--temperature T] [--top-p P] [--top-k K] [--min-p M] [--seed S] [--stop STR]...\n\n"
    "Prints one JSON line per sample: {\"sample\", \"text\" (when the model has a tokenizer), \"ids\",\n"
    "\"logprobs\", \"finish_reason\": \"stop\"|\"length\"}. logprobs are log_softmax(logits / T) of each\n"
    "sampled token (T = 1 when greedy), which is what training recomputes.\n\n"
    "  --prompt TEXT     encoded with DIR's tokenizer (BOS added when the tokenizer asks for it)\n"
    "  --ids \"...\"       the prompt as token ids\n"
    "  --n K             samples of the prompt (default 1); they share the prompt's prefill\n"
    "  --max-tokens N    completion tokens at most (default 64)\n"
    "  --temperature T   0 = greedy (default 1)\n"
    "  --top-p P, --top-k K, --min-p M   sampling filters (defaults off)\n"
    "  --seed S          same seed, same samples (default 0)\n"
    "  --stop STR        end a sample when its text contains STR (repeatable); EOS ids always stop\n"
    "  --no-bos          do not add BOS to --prompt\n"
    "  --device D        cpu, cuda or auto (default cpu)\n"
    "  --precision P     auto, fp32 or bf16 (default auto: the device's own, fp32 on cpu, bf16 on cuda)\n",
    run};
