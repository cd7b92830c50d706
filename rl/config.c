#include "rl/config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/fileio.h"
#include "kernels/status.h"
#include "rl/grpo.h"
#include "rl/optim.h"
#include "rl/suggest.h"

typedef enum { K_STR, K_INT, K_REAL, K_BOOL, K_STOPS } KeyType;

typedef struct {
    const char *name;
    KeyType type;
    size_t offset, size; // size: capacity of K_STR buffers
    const char *def;     // default, as it would be written after --set
    const char *doc;
} Key;

#define S(f) K_STR, offsetof(TrainConfig, f), sizeof(((TrainConfig *)0)->f)
#define I(f) K_INT, offsetof(TrainConfig, f), 0
#define R(f) K_REAL, offsetof(TrainConfig, f), 0
#define B(f) K_BOOL, offsetof(TrainConfig, f), 0

static const Key KEYS[] = {
    {"model", S(model), "", "Hugging Face model directory to train; empty = the built-in small model (made by a cached SFT warm start)"},
    {"tokenizer", S(tokenizer), "", "tokenizer.json or a directory holding one; empty = the model directory's"},
    {"dataset", S(dataset), "gen:arithmetic", "training data: a JSONL file, or gen:NAME for a built-in generator (countdown, arithmetic, ...)"},
    {"dataset_format", S(dataset_format), "auto", "JSONL layout: auto, gsm8k, math, countdown, mbpp, humaneval, generic"},
    {"eval_dataset", S(eval_dataset), "", "held-out data; empty = a split of `dataset` held out by seed"},
    {"template", S(template_name), "r1-zero", "prompt template: r1-zero, chatml, llama3, plain, or a custom string with {question}"},
    {"rules", S(rules), "", "reward rules: a JSON file or a preset (math, code, countdown); empty = the dataset's natural preset"},
    {"device", S(device), "auto", "cpu, cuda or auto (cuda only when a usable GPU is present)"},
    {"precision", S(precision), "auto",
     "compute precision: auto (the device's default: fp32 on cpu, bf16 on cuda), fp32, or bf16 (cuda only; "
     "fp32 master weights, AdamW moments, norm statistics, softmax and loss math)"},
    {"seed", I(seed), "1", "seed for sampling, data order and initialisation; same seed + config = same run on CPU"},
    {"steps", I(steps), "100", "GRPO steps to run"},
    {"prompts_per_step", I(prompts_per_step), "4", "prompts (groups) per step, B"},
    {"group_size", I(group_size), "8", "completions sampled per prompt, G (TRL's num_generations)"},
    {"num_iterations", I(num_iterations), "1", "optimisation epochs over each step's rollouts (mu); >1 recomputes old log-probs"},
    {"mini_batch_size", I(mini_batch_size), "0", "sequences per optimizer update; 0 = all B*G of the step"},
    {"micro_batch_size", I(micro_batch_size), "0", "sequences per forward/backward pass (gradient accumulation); 0 = the mini-batch"},
    {"loss_type", S(loss_type), "dapo", "loss aggregation: grpo, bnpo, dr_grpo, dapo"},
    {"beta", R(beta), "0.0", "KL coefficient against the frozen initial model (k3 estimator); 0 = no reference model"},
    {"eps_low", R(eps_low), "0.2", "lower clip range: ratio >= 1 - eps_low"},
    {"eps_high", R(eps_high), "0.2", "upper clip range: ratio <= 1 + eps_high (DAPO's clip-higher uses 0.28)"},
    {"scale_rewards", S(scale_rewards), "group", "advantage scaling: group (divide by the group's std), batch, none (Dr. GRPO)"},
    {"dynamic_sampling", B(dynamic_sampling), "false", "drop groups whose rewards are all equal and sample more (DAPO)"},
    {"dynamic_sampling_max_rounds", I(dynamic_sampling_max_rounds), "4", "at most this many extra generation rounds per step"},
    {"mask_truncated_completions", B(mask_truncated_completions), "false", "completions cut at max_completion_len carry no loss"},
    {"temperature", R(temperature), "1.0", "sampling temperature (0 = greedy); log-probs are computed at this temperature"},
    {"top_p", R(top_p), "1.0", "nucleus sampling threshold (1 = off)"},
    {"top_k", I(top_k), "0", "sample among the k most likely tokens (0 = off)"},
    {"min_p", R(min_p), "0.0", "drop tokens below min_p times the top probability (0 = off)"},
    {"max_prompt_len", I(max_prompt_len), "512", "prompts longer than this many tokens are cut from the left"},
    {"max_completion_len", I(max_completion_len), "256", "completions stop after this many tokens (finish reason 'length')"},
    {"stop", K_STOPS, offsetof(TrainConfig, stop), 0, "", "extra stop strings (a JSON list, or comma-separated with --set); the template adds its own"},
    {"lr", R(lr), "1e-6", "peak learning rate"},
    {"lr_scheduler", S(lr_scheduler), "constant", "after warmup: constant, cosine or linear decay to min_lr_ratio * lr"},
    {"warmup_steps", I(warmup_steps), "0", "optimizer steps of linear warmup"},
    {"min_lr_ratio", R(min_lr_ratio), "0.0", "floor of the cosine/linear decay as a fraction of lr"},
    {"weight_decay", R(weight_decay), "0.0", "AdamW decoupled weight decay"},
    {"adam_beta1", R(adam_beta1), "0.9", "AdamW beta1"},
    {"adam_beta2", R(adam_beta2), "0.999", "AdamW beta2"},
    {"adam_eps", R(adam_eps), "1e-8", "AdamW epsilon"},
    {"max_grad_norm", R(max_grad_norm), "1.0", "clip the global gradient norm to this (0 = off)"},
    {"eval_every", I(eval_every), "0", "evaluate every N steps (and at the start and the end); 0 = start and end only"},
    {"eval_size", I(eval_size), "100", "held-out examples per evaluation"},
    {"eval_k", I(eval_k), "1", "k for pass@k and maj@k with sampling (1 = greedy pass@1 only)"},
    {"eval_temperature", R(eval_temperature), "1.0", "temperature of the k samples when eval_k > 1"},
    {"save_every", I(save_every), "0", "checkpoint every N steps (and always at the end); 0 = end only"},
    {"keep_checkpoints", I(keep_checkpoints), "3", "keep the last K checkpoints"},
    {"log_entropy", B(log_entropy), "true", "log the mean per-token entropy of the policy"},
    {"profile", B(profile), "false",
     "time every backend op of the training loop and log the table at the end (grpo bench --profile's)"},
    {"reward_workers", I(reward_workers), "0", "threads scoring completions (code rules run sandboxes in parallel); 0 = number of cores"},
};
#define N_KEYS ((int)(sizeof KEYS / sizeof KEYS[0]))

static const Key *find_key(const char *name) {
    for (int i = 0; i < N_KEYS; i++)
        if (!strcmp(KEYS[i].name, name)) return &KEYS[i];
    return NULL;
}

static int unknown_key(const char *name, const char *origin) {
    const char *names[N_KEYS];
    for (int i = 0; i < N_KEYS; i++) names[i] = KEYS[i].name;
    const char *s = suggest_closest(name, names, N_KEYS);
    if (s) return grpo_fail(GRPO_EINVAL, "%s: unknown key '%s' (did you mean '%s'?)", origin, name, s);
    return grpo_fail(GRPO_EINVAL, "%s: unknown key '%s' (see the key reference in the README)", origin, name);
}

static const char *type_name(KeyType t) {
    switch (t) {
    case K_STR: return "a string";
    case K_INT: return "an integer";
    case K_REAL: return "a number";
    case K_BOOL: return "true or false";
    case K_STOPS: return "a list of strings";
    }
    return "?";
}

static int add_stop(TrainConfig *c, const char *s, size_t len, const char *origin) {
    if (c->n_stop >= CONFIG_MAX_STOPS) return grpo_fail(GRPO_EINVAL, "%s: stop: at most %d stop strings", origin, CONFIG_MAX_STOPS);
    if (len == 0 || len >= sizeof c->stop[0])
        return grpo_fail(GRPO_EINVAL, "%s: stop: each stop string must have 1 to %zu bytes", origin, sizeof c->stop[0] - 1);
    memcpy(c->stop[c->n_stop], s, len);
    c->stop[c->n_stop][len] = '\0';
    c->n_stop++;
    return GRPO_OK;
}

// String keys with a fixed set of values ("a|b|c"), checked where they are set
// so the error names the file (or --set) and the key.
static const struct {
    const char *key, *choices;
} CHOICES[] = {{"precision", "auto|fp32|bf16"}};

static const char *key_choices(const Key *k) {
    for (size_t i = 0; i < sizeof CHOICES / sizeof CHOICES[0]; i++)
        if (!strcmp(CHOICES[i].key, k->name)) return CHOICES[i].choices;
    return NULL;
}

// 1 when v is one of choices ("a|b|c").
static int in_choices(const char *v, const char *choices) {
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, v, n)) return 1;
        p += len + (bar ? 1 : 0);
    }
    return 0;
}

// "origin: key: expected a, b or c, got 'v'".
static int bad_choice(const Key *k, const char *v, const char *origin) {
    const char *choices = key_choices(k);
    char list[256] = "";
    size_t used = 0;
    int n = 1;
    for (const char *q = choices; *q; q++) n += *q == '|';
    int i = 0;
    for (const char *p = choices; *p && used < sizeof list; i++) {
        const char *bar = strchr(p, '|');
        int len = bar ? (int)(bar - p) : (int)strlen(p);
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%.*s", i == 0 ? "" : i == n - 1 ? " or " : ", ", len, p);
        p += len + (bar ? 1 : 0);
    }
    return grpo_fail(GRPO_EINVAL, "%s: %s: expected %s, got '%s'", origin, k->name, list, v);
}

// Sets one key from text, as --set and the defaults write it.
static int set_text(TrainConfig *c, const Key *k, const char *v, const char *origin) {
    char *base = (char *)c + k->offset, *end = NULL;
    errno = 0;
    switch (k->type) {
    case K_STR:
        if (key_choices(k) && !in_choices(v, key_choices(k))) return bad_choice(k, v, origin);
        if (strlen(v) >= k->size) return grpo_fail(GRPO_EINVAL, "%s: %s is longer than %zu bytes", origin, k->name, k->size - 1);
        strcpy(base, v);
        return GRPO_OK;
    case K_INT: {
        long x = strtol(v, &end, 10);
        if (errno || end == v || *end) return grpo_fail(GRPO_EINVAL, "%s: %s must be %s, got '%s'", origin, k->name, type_name(k->type), v);
        *(long *)base = x;
        return GRPO_OK;
    }
    case K_REAL: {
        double x = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(x))
            return grpo_fail(GRPO_EINVAL, "%s: %s must be %s, got '%s'", origin, k->name, type_name(k->type), v);
        *(double *)base = x;
        return GRPO_OK;
    }
    case K_BOOL:
        if (!strcmp(v, "true") || !strcmp(v, "1")) *(int *)base = 1;
        else if (!strcmp(v, "false") || !strcmp(v, "0")) *(int *)base = 0;
        else return grpo_fail(GRPO_EINVAL, "%s: %s must be true or false, got '%s'", origin, k->name, v);
        return GRPO_OK;
    case K_STOPS:
        c->n_stop = 0;
        while (*v) {
            const char *comma = strchr(v, ',');
            size_t len = comma ? (size_t)(comma - v) : strlen(v);
            int st = add_stop(c, v, len, origin);
            if (st) return st;
            v += len + (comma ? 1 : 0);
        }
        return GRPO_OK;
    }
    return GRPO_EINTERNAL;
}

void config_defaults(TrainConfig *c) {
    memset(c, 0, sizeof *c);
    for (int i = 0; i < N_KEYS; i++) set_text(c, &KEYS[i], KEYS[i].def, "defaults");
}

static int set_json(TrainConfig *c, const Key *k, const cJSON *v, const char *origin) {
    char buf[64];
    switch (k->type) {
    case K_STR:
        if (!cJSON_IsString(v)) break;
        return set_text(c, k, v->valuestring, origin);
    case K_INT:
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 9e15) break;
        snprintf(buf, sizeof buf, "%.0f", v->valuedouble);
        return set_text(c, k, buf, origin);
    case K_REAL:
        if (!cJSON_IsNumber(v)) break;
        *(double *)((char *)c + k->offset) = v->valuedouble;
        return GRPO_OK;
    case K_BOOL:
        if (!cJSON_IsBool(v)) break;
        *(int *)((char *)c + k->offset) = cJSON_IsTrue(v);
        return GRPO_OK;
    case K_STOPS: {
        if (!cJSON_IsArray(v)) break;
        c->n_stop = 0;
        const cJSON *s;
        cJSON_ArrayForEach(s, v) {
            if (!cJSON_IsString(s)) return grpo_fail(GRPO_EINVAL, "%s: stop: every entry must be a string", origin);
            int st = add_stop(c, s->valuestring, strlen(s->valuestring), origin);
            if (st) return st;
        }
        return GRPO_OK;
    }
    }
    return grpo_fail(GRPO_EINVAL, "%s: %s must be %s", origin, k->name, type_name(k->type));
}

int config_apply_json(TrainConfig *c, const char *json, const char *origin) {
    cJSON *root = cJSON_Parse(json);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        long off = at ? (long)(at - json) : -1;
        int line = 1;
        for (long i = 0; i < off; i++) line += json[i] == '\n';
        return grpo_fail(GRPO_EFORMAT, "%s:%d: invalid JSON near byte %ld", origin, line, off);
    }
    int st = GRPO_OK;
    if (!cJSON_IsObject(root)) st = grpo_fail(GRPO_EFORMAT, "%s: the configuration must be a JSON object", origin);
    const cJSON *item;
    cJSON_ArrayForEach(item, root) {
        if (st) break;
        const Key *k = find_key(item->string);
        st = k ? set_json(c, k, item, origin) : unknown_key(item->string, origin);
    }
    cJSON_Delete(root);
    return st;
}

int config_load_file(TrainConfig *c, const char *path) {
    char *buf = NULL;
    int st = grpo_read_file(path, 64u << 20, &buf, NULL);
    if (!st) st = config_apply_json(c, buf, path);
    free(buf);
    return st;
}

// A shell cannot easily pass a newline inside an argument, and templates and stop
// strings are full of them: --set text values read \n, \t and \\ as C does.
// Anything else after a backslash is kept as it is.
static void unescape(char *dst, const char *src) {
    for (; *src; src++) {
        if (*src == '\\' && (src[1] == 'n' || src[1] == 't' || src[1] == '\\')) {
            src++;
            *dst++ = *src == 'n' ? '\n' : *src == 't' ? '\t' : '\\';
        } else {
            *dst++ = *src;
        }
    }
    *dst = 0;
}

int config_set(TrainConfig *c, const char *assignment) {
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment) return grpo_fail(GRPO_EINVAL, "--set expects key=value, got '%s'", assignment);
    char key[128];
    snprintf(key, sizeof key, "%.*s", (int)(eq - assignment), assignment);
    const Key *k = find_key(key);
    if (!k) return unknown_key(key, "--set");
    if (k->type != K_STR && k->type != K_STOPS) return set_text(c, k, eq + 1, "--set");
    char *v = malloc(strlen(eq + 1) + 1);
    if (!v) return grpo_fail(GRPO_ENOMEM, "out of memory");
    unescape(v, eq + 1);
    int st = set_text(c, k, v, "--set");
    free(v);
    return st;
}

int config_validate(const TrainConfig *c) {
    LossType lt;
    ScaleRewards sr;
    LrSchedule ls;
    if (grpo_loss_type_parse(c->loss_type, &lt)) return grpo_wrap(GRPO_EINVAL, "loss_type: ");
    if (grpo_scale_rewards_parse(c->scale_rewards, &sr)) return grpo_wrap(GRPO_EINVAL, "scale_rewards: ");
    if (optim_schedule_parse(c->lr_scheduler, &ls)) return grpo_wrap(GRPO_EINVAL, "lr_scheduler: ");
    if (strcmp(c->device, "cpu") && strcmp(c->device, "cuda") && strcmp(c->device, "auto"))
        return grpo_fail(GRPO_EINVAL, "device: expected cpu, cuda or auto, got '%s'", c->device);
    if (!in_choices(c->precision, key_choices(find_key("precision"))))
        return bad_choice(find_key("precision"), c->precision, "config");
    struct { const char *name; long v, lo; } ints[] = {
        {"steps", c->steps, 0}, {"prompts_per_step", c->prompts_per_step, 1}, {"group_size", c->group_size, 1},
        {"num_iterations", c->num_iterations, 1}, {"mini_batch_size", c->mini_batch_size, 0},
        {"micro_batch_size", c->micro_batch_size, 0}, {"top_k", c->top_k, 0}, {"max_prompt_len", c->max_prompt_len, 1},
        {"max_completion_len", c->max_completion_len, 1}, {"warmup_steps", c->warmup_steps, 0},
        {"eval_every", c->eval_every, 0}, {"eval_size", c->eval_size, 0}, {"eval_k", c->eval_k, 1},
        {"save_every", c->save_every, 0}, {"keep_checkpoints", c->keep_checkpoints, 1},
        {"reward_workers", c->reward_workers, 0}, {"dynamic_sampling_max_rounds", c->dynamic_sampling_max_rounds, 0}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (ints[i].v < ints[i].lo) return grpo_fail(GRPO_EINVAL, "%s must be at least %ld, got %ld", ints[i].name, ints[i].lo, ints[i].v);
    if (c->group_size < 2) return grpo_fail(GRPO_EINVAL, "group_size must be at least 2: advantages compare completions within a group");
    struct { const char *name; double v, lo, hi; } reals[] = {
        {"beta", c->beta, 0, 1e9}, {"eps_low", c->eps_low, 0, 1}, {"eps_high", c->eps_high, 0, 1e9},
        {"temperature", c->temperature, 0, 100}, {"top_p", c->top_p, 1e-9, 1}, {"min_p", c->min_p, 0, 1},
        {"lr", c->lr, 0, 10}, {"weight_decay", c->weight_decay, 0, 10}, {"adam_beta1", c->adam_beta1, 0, 0.999999},
        {"adam_beta2", c->adam_beta2, 0, 0.999999999}, {"adam_eps", c->adam_eps, 0, 1}, {"max_grad_norm", c->max_grad_norm, 0, 1e9},
        {"min_lr_ratio", c->min_lr_ratio, 0, 1}, {"eval_temperature", c->eval_temperature, 0, 100}};
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++)
        if (!(reals[i].v >= reals[i].lo && reals[i].v <= reals[i].hi))
            return grpo_fail(GRPO_EINVAL, "%s must be between %g and %g, got %g", reals[i].name, reals[i].lo, reals[i].hi, reals[i].v);
    const long total = c->prompts_per_step * c->group_size;
    const long mini = c->mini_batch_size ? c->mini_batch_size : total;
    const long micro = c->micro_batch_size ? c->micro_batch_size : mini;
    if (total % mini) return grpo_fail(GRPO_EINVAL, "mini_batch_size %ld must divide prompts_per_step * group_size = %ld", mini, total);
    if (mini % micro) return grpo_fail(GRPO_EINVAL, "micro_batch_size %ld must divide the mini-batch size %ld", micro, mini);
    return GRPO_OK;
}

char *config_to_json(const TrainConfig *c) {
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < N_KEYS; i++) {
        const Key *k = &KEYS[i];
        const char *base = (const char *)c + k->offset;
        switch (k->type) {
        case K_STR: cJSON_AddStringToObject(o, k->name, base); break;
        case K_INT: cJSON_AddNumberToObject(o, k->name, (double)*(const long *)base); break;
        case K_REAL: cJSON_AddNumberToObject(o, k->name, *(const double *)base); break;
        case K_BOOL: cJSON_AddBoolToObject(o, k->name, *(const int *)base); break;
        case K_STOPS: {
            cJSON *a = cJSON_AddArrayToObject(o, k->name);
            for (int s = 0; s < c->n_stop; s++) cJSON_AddItemToArray(a, cJSON_CreateString(c->stop[s]));
            break;
        }
        }
    }
    char *out = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return out;
}

char *config_reference_markdown(void) {
    size_t cap = 16384, len = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
    len += (size_t)snprintf(out, cap, "| key | default | meaning |\n|---|---|---|\n");
    for (int i = 0; i < N_KEYS; i++) {
        char line[1024];
        int n = snprintf(line, sizeof line, "| `%s` | `%s` | %s |\n", KEYS[i].name, *KEYS[i].def ? KEYS[i].def : "\"\"", KEYS[i].doc);
        if (len + (size_t)n + 1 > cap) {
            char *grown = realloc(out, cap *= 2);
            if (!grown) {
                free(out);
                return NULL;
            }
            out = grown;
        }
        memcpy(out + len, line, (size_t)n + 1);
        len += (size_t)n;
    }
    return out;
}
