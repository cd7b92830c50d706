// The training configuration: defaults, JSON and --set, errors that name the key
// (with "did you mean"), validation, and a JSON round trip.
#include <stdlib.h>
#include <string.h>

#include "kernels/status.h"
#include "rl/config.h"
#include "testlib.h"

int main(void) {
    TrainConfig c, d;
    config_defaults(&c);
    CHECK(config_validate(&c) == GRPO_OK, "defaults invalid: %s", grpo_errmsg());
    CHECK(c.group_size == 8 && c.eps_low == 0.2 && c.beta == 0.0 && !strcmp(c.loss_type, "dapo") && c.temperature == 1.0,
          "TRL defaults");
    CHECK(config_apply_json(&c, "{\"steps\": 7, \"lr\": 3e-5, \"loss_type\": \"grpo\", \"stop\": [\"</answer>\", \"\\n\\n\"],"
                               " \"dynamic_sampling\": true}", "cfg.json") == GRPO_OK, "%s", grpo_errmsg());
    CHECK(c.steps == 7 && c.lr == 3e-5 && !strcmp(c.loss_type, "grpo") && c.n_stop == 2 && !strcmp(c.stop[1], "\n\n") &&
              c.dynamic_sampling == 1, "json applied");
    CHECK(config_apply_json(&c, "{\"lerning_rate\": 1}", "cfg.json") == GRPO_EINVAL, "unknown key accepted");
    CHECK(config_apply_json(&c, "{\"grop_size\": 4}", "cfg.json") == GRPO_EINVAL && strstr(grpo_errmsg(), "did you mean 'group_size'") &&
              strstr(grpo_errmsg(), "cfg.json"), "suggestion: %s", grpo_errmsg());
    CHECK(config_apply_json(&c, "{\"steps\": \"ten\"}", "cfg.json") == GRPO_EINVAL && strstr(grpo_errmsg(), "steps must be an integer"),
          "type error: %s", grpo_errmsg());
    CHECK(config_apply_json(&c, "{\"steps\": 2.5}", "cfg.json") == GRPO_EINVAL, "fractional integer accepted");
    CHECK(config_apply_json(&c, "{\"steps\": 3,\n \"seed\": }", "cfg.json") == GRPO_EFORMAT && strstr(grpo_errmsg(), "cfg.json:2"),
          "json error names the line: %s", grpo_errmsg());
    CHECK(config_apply_json(&c, "[1, 2]", "cfg.json") == GRPO_EFORMAT, "array accepted as config");
    CHECK(config_set(&c, "group_size=4") == GRPO_OK && c.group_size == 4, "--set int");
    // A shell passes "\n" as backslash + n: --set reads C's escapes in text values.
    CHECK(config_set(&c, "template=Q: {question}\\nA:\\t\\\\x\\q") == GRPO_OK &&
              !strcmp(c.template_name, "Q: {question}\nA:\t\\x\\q"), "--set escapes: '%s'", c.template_name);
    CHECK(config_set(&c, "stop=</answer>,\\n\\n") == GRPO_OK && c.n_stop == 2 && !strcmp(c.stop[0], "</answer>") &&
              !strcmp(c.stop[1], "\n\n"), "--set stop escapes");
    CHECK(config_set(&c, "steps=3") == GRPO_OK && c.steps == 3, "--set int after escapes");
    CHECK(config_set(&c, "temperature=0.7") == GRPO_OK && c.temperature == 0.7, "--set real");
    CHECK(config_set(&c, "mask_truncated_completions=true") == GRPO_OK && c.mask_truncated_completions, "--set bool");
    CHECK(config_set(&c, "stop=</answer>,###") == GRPO_OK && c.n_stop == 2 && !strcmp(c.stop[1], "###"), "--set list");
    CHECK(config_set(&c, "temprature=1") == GRPO_EINVAL && strstr(grpo_errmsg(), "did you mean 'temperature'"), "%s", grpo_errmsg());
    CHECK(config_set(&c, "steps") == GRPO_EINVAL, "--set without =");
    CHECK(config_set(&c, "seed=abc") == GRPO_EINVAL, "--set bad int");
    CHECK(config_set(&c, "lr=nan") == GRPO_EINVAL, "--set nan");

    config_defaults(&c);
    config_set(&c, "loss_type=ppo");
    CHECK(config_validate(&c) == GRPO_EINVAL && strstr(grpo_errmsg(), "loss_type") && strstr(grpo_errmsg(), "ppo"), "%s", grpo_errmsg());
    config_defaults(&c);
    config_set(&c, "group_size=1");
    CHECK(config_validate(&c) == GRPO_EINVAL, "group of one accepted");
    config_defaults(&c);
    config_set(&c, "mini_batch_size=5");
    CHECK(config_validate(&c) == GRPO_EINVAL && strstr(grpo_errmsg(), "mini_batch_size"), "%s", grpo_errmsg());
    config_defaults(&c);
    config_set(&c, "top_p=1.5");
    CHECK(config_validate(&c) == GRPO_EINVAL && strstr(grpo_errmsg(), "top_p"), "%s", grpo_errmsg());
    config_defaults(&c);
    config_set(&c, "device=tpu");
    CHECK(config_validate(&c) == GRPO_EINVAL, "device tpu accepted");

    // Round trip: the JSON written to the run file reproduces the configuration.
    config_defaults(&c);
    config_set(&c, "stop=a,b");
    config_set(&c, "lr=2.5e-4");
    config_set(&c, "model=/models/x");
    char *json = config_to_json(&c);
    config_defaults(&d);
    CHECK(json && config_apply_json(&d, json, "roundtrip") == GRPO_OK, "%s", grpo_errmsg());
    CHECK(memcmp(&c, &d, sizeof c) == 0, "round trip differs: %s", json);
    free(json);
    char *md = config_reference_markdown();
    CHECK(md && strstr(md, "| `group_size` | `8` |"), "reference table");
    free(md);
    return tu_finish("test_config");
}
