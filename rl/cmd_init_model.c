// `grpo init-model`: a randomly initialised Llama/Qwen2 model directory.
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "kernels/backend.h"
#include "policy/model.h"
#include "policy/safetensors.h"
#include "policy/tokenizer.h"
#include "rl/cli.h"

static int run(int argc, char **argv) {
    const char *arch = NULL, *out = NULL, *tokenizer = NULL, *device = "cpu", *precision = "auto", *dtype = "f32";
    long hidden = 0, layers = 0, heads = 0, kv_heads = 0, ffn = 0, vocab = 0, seed = 0, max_pos = 0, head_dim = 0;
    long bos = -1, eos = -1;
    double std = 0.02, theta = 0;
    int tie = 0, no_tok = 0;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-o")) argv[i] = (char *)"--output";
    CliOpt opts[] = {{"--arch", CLI_STR, &arch}, {"--hidden", CLI_INT, &hidden}, {"--layers", CLI_INT, &layers},
                     {"--heads", CLI_INT, &heads}, {"--kv-heads", CLI_INT, &kv_heads}, {"--ffn", CLI_INT, &ffn},
                     {"--vocab", CLI_INT, &vocab}, {"--tie", CLI_FLAG, &tie}, {"--seed", CLI_INT, &seed},
                     {"--tokenizer", CLI_STR, &tokenizer}, {"--output", CLI_STR, &out}, {"--device", CLI_STR, &device},
                     {"--precision", CLI_STR, &precision},
                     {"--max-pos", CLI_INT, &max_pos}, {"--head-dim", CLI_INT, &head_dim}, {"--std", CLI_DOUBLE, &std},
                     {"--rope-theta", CLI_DOUBLE, &theta}, {"--bos", CLI_INT, &bos}, {"--eos", CLI_INT, &eos},
                     {"--dtype", CLI_STR, &dtype}, {"--no-tokenizer", CLI_FLAG, &no_tok}};
    int rc = cli_parse("init-model", argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), NULL, 0, NULL);
    if (rc) return rc;
    if (!arch || !out) return cli_error("init-model", "--arch and -o DIR are required (see 'grpo init-model --help')");
    ModelConfig c;
    if (!strcmp(arch, "llama")) model_config_default(&c, MODEL_LLAMA);
    else if (!strcmp(arch, "qwen2")) model_config_default(&c, MODEL_QWEN2);
    else return cli_error("init-model", "--arch must be llama or qwen2, got '%s'", arch);
    struct { const char *name; long v; } need[] = {{"--hidden", hidden}, {"--layers", layers}, {"--heads", heads},
                                                    {"--ffn", ffn}, {"--vocab", vocab}};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (need[i].v <= 0 || need[i].v > 1000000000L)
            return cli_error("init-model", "%s must be a positive integer (got %ld)", need[i].name, need[i].v);
    if (strcmp(dtype, "f32") && strcmp(dtype, "bf16")) return cli_error("init-model", "--dtype must be f32 or bf16");
    c.hidden = (int)hidden, c.n_layers = (int)layers, c.n_heads = (int)heads, c.ffn = (int)ffn, c.vocab = (int)vocab;
    c.n_kv_heads = kv_heads > 0 ? (int)kv_heads : (int)heads;
    c.head_dim = head_dim > 0 ? (int)head_dim : (int)(hidden / heads);
    c.tie_embeddings = tie;
    if (max_pos > 0) c.max_pos = (int)max_pos;
    if (theta > 0) c.rope_theta = theta;
    if (bos >= 0) c.bos_id = (int)bos;
    if (eos >= 0) c.eos_ids[0] = (int)eos, c.n_eos = 1;
    // The tokenizer decides the special ids unless they are given: --tokenizer's,
    // or the built-in byte-level one when the vocabulary has room for it.
    Tokenizer *tk = NULL;
    if (tokenizer ? tok_load(tokenizer, &tk) : (!no_tok && vocab >= TOK_BUILTIN_VOCAB && tok_load_builtin(&tk)))
        return cli_fail("init-model");
    if (tk) {
        int tv = tok_vocab_size(tk), tb = tok_bos_id(tk), te = tok_eos_id(tk);
        tok_free(tk);
        if (tv > vocab) return cli_error("init-model", "--vocab %ld is smaller than the tokenizer's %d tokens", vocab, tv);
        if (bos < 0 && tb >= 0) c.bos_id = tb;
        if (eos < 0 && te >= 0) c.eos_ids[0] = te, c.n_eos = 1;
    }
    if (model_config_validate(&c, "init-model")) return cli_fail("init-model");
    Backend *b = NULL;
    if (cli_open_backend("init-model", device, precision, &b)) return 1;
    Model *m = NULL;
    rc = 0;
    char tokdir[4096] = "";
    if (tokenizer) {
        // --tokenizer names a tokenizer.json (its siblings such as
        // tokenizer_config.json come along) or a directory holding one.
        struct stat sb;
        if (stat(tokenizer, &sb) != 0) {
            rc = cli_error("init-model", "%s: no such tokenizer file", tokenizer);
            goto done;
        }
        snprintf(tokdir, sizeof tokdir, "%s", tokenizer);
        if (!S_ISDIR(sb.st_mode)) {
            char *slash = strrchr(tokdir, '/');
            if (slash) *slash = '\0';
            else snprintf(tokdir, sizeof tokdir, ".");
        }
    }
    if (model_build(&m, &c, b) || model_init_random(m, (uint64_t)seed, (float)std) ||
        model_save(m, out, !strcmp(dtype, "bf16") ? ST_BF16 : ST_F32, NULL)) {
        rc = cli_fail("init-model");
        goto done;
    }
    if (tokenizer) {
        struct stat sb;
        stat(tokenizer, &sb);
        char dst[4200];
        snprintf(dst, sizeof dst, "%s/tokenizer.json", out);
        if (!S_ISDIR(sb.st_mode) && strcmp(strrchr(tokenizer, '/') ? strrchr(tokenizer, '/') + 1 : tokenizer, "tokenizer.json")) {
            // a tokenizer file under another name: copy it as tokenizer.json
            FILE *in = fopen(tokenizer, "rb"), *o = in ? fopen(dst, "wb") : NULL;
            char buf[65536];
            size_t n;
            int bad = !in || !o;
            while (!bad && (n = fread(buf, 1, sizeof buf, in)) > 0) bad = fwrite(buf, 1, n, o) != n;
            if (in) fclose(in);
            if (o && fclose(o)) bad = 1;
            if (bad) {
                rc = cli_error("init-model", "%s: cannot copy to %s", tokenizer, dst);
                goto done;
            }
        } else if (model_copy_tokenizer_files(tokdir, out)) {
            rc = cli_fail("init-model");
            goto done;
        }
    } else if (!no_tok && vocab >= TOK_BUILTIN_VOCAB && tok_write_builtin(out)) {
        rc = cli_fail("init-model");
        goto done;
    }
    printf("{\"output\": \"%s\", \"arch\": \"%s\", \"parameters\": %zu}\n", out, arch,
           m->n_params - (size_t)0);
done:
    model_free(m);
    backend_close(b);
    return rc;
}

const GrpoCommand grpo_cmd_init_model = {
    "init-model", "write a randomly initialised Llama/Qwen2 model directory",
    "usage: grpo init-model --arch llama|qwen2 --hidden N --layers N --heads N --kv-heads N --ffn N --vocab N\n"
    "                       [--tie] [--seed S] [--tokenizer FILE] -o DIR\n\n"
    "Writes DIR/config.json and DIR/model.safetensors (Hugging Face layout; transformers loads it):\n"
    "weights normal with std 0.02 as Hugging Face initialises them, norms 1, biases 0.\n\n"
    "  --arch A          llama (no biases) or qwen2 (q/k/v biases)\n"
    "  --hidden N        hidden_size           --layers N   num_hidden_layers\n"
    "  --heads N         num_attention_heads   --kv-heads N num_key_value_heads (default: --heads)\n"
    "  --ffn N           intermediate_size     --vocab N    vocab_size\n"
    "  --head-dim N      head_dim (default hidden / heads)\n"
    "  --tie             tie lm_head to the embedding (tie_word_embeddings)\n"
    "  --seed S          initialisation seed (default 0); same seed, same weights\n"
    "  --std X           initializer_range (default 0.02)\n"
    "  --max-pos N       max_position_embeddings (default 2048 llama, 32768 qwen2)\n"
    "  --rope-theta X    rope_theta (default 10000 llama, 1000000 qwen2)\n"
    "  --bos N, --eos N  bos_token_id / eos_token_id written to config.json\n"
    "  --tokenizer FILE  a tokenizer.json (or a directory with one) copied into DIR with its siblings;\n"
    "                    without it, the built-in byte-level tokenizer (263 tokens) is written when\n"
    "                    --vocab is at least 263. Its BOS/EOS ids go to config.json.\n"
    "  --no-tokenizer    write no tokenizer files\n"
    "  --dtype f32|bf16  weights dtype on disk (default f32)\n"
    "  -o, --output DIR  where to write (created if missing)\n"
    "  --device D        cpu, cuda or auto (default cpu)\n"
    "  --precision P     auto, fp32 or bf16 (default auto: the device's own, fp32 on cpu, bf16 on cuda)\n",
    run};
