// The training configuration: every key of `grpo train`, settable in a JSON file
// and by `--set key=value`, described by one table (rl/config.c) that parsing,
// validation, "did you mean", the README's key reference and the run file's
// config_json all come from.
#ifndef GRPO_CONFIG_H
#define GRPO_CONFIG_H

#define CONFIG_MAX_STOPS 8

typedef struct {
    // what to train
    char model[1024];      // HF model directory; "" = the built-in default small model
    char tokenizer[1024];  // "" = the model directory's tokenizer
    char dataset[1024];    // JSONL file, or gen:NAME for a built-in generator
    char dataset_format[32];
    char eval_dataset[1024]; // "" = held out from `dataset` by seed
    char template_name[64];
    char rules[1024];      // reward rule file or preset name
    char device[16];
    char precision[16];    // auto, fp32 or bf16: the backend's compute dtype (backend_set_precision)
    long seed;
    // the step
    long steps, prompts_per_step, group_size;
    long num_iterations, mini_batch_size, micro_batch_size;
    char loss_type[16];
    double beta, eps_low, eps_high;
    char scale_rewards[16];
    int dynamic_sampling;
    long dynamic_sampling_max_rounds;
    int mask_truncated_completions;
    // sampling
    double temperature, top_p, min_p;
    long top_k, max_prompt_len, max_completion_len;
    char stop[CONFIG_MAX_STOPS][64];
    int n_stop;
    // optimizer
    double lr, weight_decay, adam_beta1, adam_beta2, adam_eps, max_grad_norm, min_lr_ratio;
    char lr_scheduler[16];
    long warmup_steps;
    // evaluation, checkpoints, logging
    long eval_every, eval_size, eval_k;
    double eval_temperature;
    long save_every, keep_checkpoints;
    int log_entropy;
    int profile;        // time every backend op of the training loop; print the table at the end
    long reward_workers;
} TrainConfig;

void config_defaults(TrainConfig *c);

// Applies a JSON object's keys (origin names the file in errors). Unknown keys
// are errors with a "did you mean"; wrong types name the key and the expected type.
int config_apply_json(TrainConfig *c, const char *json, const char *origin);
int config_load_file(TrainConfig *c, const char *path);

// Applies one "key=value" override (from --set). The value is parsed as the key's
// type: numbers, true/false, strings, comma-separated lists for list keys; in
// strings and lists \n, \t and \\ stand for a newline, a tab and a backslash.
int config_set(TrainConfig *c, const char *assignment);

// Cross-key checks (ranges, names of loss types and schedules, batch divisibility).
int config_validate(const TrainConfig *c);

// The whole configuration as a JSON object (malloc'd), for the run file and checkpoints.
char *config_to_json(const TrainConfig *c);

// Markdown table of every key, its default and its meaning (README reference).
char *config_reference_markdown(void);

#endif
