// `grpo sft [CONFIG]`: supervised warm start on prompt/completion data.
#include <stdio.h>
#include <string.h>

#include "kernels/status.h"
#include "rl/cli.h"
#include "rl/config.h"
#include "rl/sft.h"

static int run(int argc, char **argv) {
    const char *out = "runs/sft";
    CliMulti sets = {0};
    int quiet = 0;
    const char *device = NULL, *precision = NULL;
    const char *pos[1];
    int npos = 0;
    CliOpt opts[] = {{"--out", CLI_STR, &out}, {"--set", CLI_MULTI, &sets}, {"--quiet", CLI_FLAG, &quiet},
                     {"--device", CLI_STR, &device}, {"--precision", CLI_STR, &precision}};
    int rc = cli_parse("sft", argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, 1, &npos);
    if (rc) return rc;
    TrainConfig cfg;
    config_defaults(&cfg);
    // SFT learns from labelled data, so it starts from larger steps than RL's defaults.
    config_set(&cfg, "lr=1e-5");
    if (npos && config_load_file(&cfg, pos[0])) return cli_fail("sft");
    for (int i = 0; i < sets.n; i++)
        if (config_set(&cfg, sets.items[i])) return cli_fail("sft");
    if (device) {
        char kv[64];
        snprintf(kv, sizeof kv, "device=%s", device);
        if (config_set(&cfg, kv)) return cli_fail("sft");
    }
    if (precision) {
        char kv[64];
        snprintf(kv, sizeof kv, "precision=%s", precision);
        if (config_set(&cfg, kv)) return cli_fail("sft");
    }
    if (config_validate(&cfg)) return cli_fail("sft");
    if (!cfg.model[0]) return cli_error("sft", "model: give the model directory to fine-tune (--set model=DIR)");
    SftResult res;
    TrainerOutput o = {quiet, 0, cli_progress, NULL};
    if (sft_run(&cfg, out, &o, &res)) return cli_fail("sft");
    printf("{\"steps\": %ld, \"first_loss\": %.6f, \"last_loss\": %.6f, \"checkpoint\": \"%s/checkpoints/step-%06ld\"}\n", res.steps,
           res.first_loss, res.last_loss, out, res.steps);
    return 0;
}

const GrpoCommand grpo_cmd_sft = {
    "sft", "supervised warm start on prompt/completion data (loss on completions only)",
    "usage: grpo sft [CONFIG.json] [--out DIR] [--set key=value]... [--device D]\n"
    "                [--precision P] [--quiet]\n\n"
    "Fine-tunes `model` on `dataset`, whose examples carry a \"completion\" (for example\n"
    "gen:arithmetic?worked=1, or a JSONL file with question + completion); the prompt is\n"
    "the question through `template`, and only completion tokens carry loss. Uses the\n"
    "keys of `grpo train` (README): model, tokenizer, dataset, template, device, precision, seed,\n"
    "steps, prompts_per_step (examples per step), lr (default here 1e-5), lr_scheduler,\n"
    "warmup_steps, weight_decay, adam_*, max_grad_norm, max_prompt_len,\n"
    "max_completion_len, save_every, keep_checkpoints. Checkpoints go to\n"
    "DIR/checkpoints/step-N/ as in `grpo train` (Hugging Face layout).\n\n"
    "  --out DIR        output directory (default runs/sft)\n"
    "  --set key=value  override a configuration key (repeatable)\n"
    "  --device D       cpu, cuda or auto (the `device` key)\n"
    "  --precision P    auto, fp32 or bf16 (the `precision` key)\n"
    "  --quiet          no progress lines\n",
    run};
