// The default job's recipe: both configurations are accepted by the key table and
// validate, and their datasets open and are what the recipe says (a sloppy
// teacher for the warm start, true sums for GRPO). The job itself takes minutes
// and is measured in the README, not run here.
#include <stdio.h>
#include <string.h>

#include "datasets/dataset.h"
#include "kernels/status.h"
#include "rl/default_job.h"
#include "testlib.h"

// Counts examples whose worked completion ends in an answer other than the true one.
static int count_sloppy(const Dataset *d, int *with_completion) {
    int sloppy = 0;
    *with_completion = 0;
    for (int i = 0; i < d->n; i++) {
        const cJSON *c = cJSON_GetObjectItem(d->ex[i], "completion"), *a = cJSON_GetObjectItem(d->ex[i], "answer");
        if (!cJSON_IsString(c) || !cJSON_IsString(a)) continue;
        ++*with_completion;
        char tail[64];
        snprintf(tail, sizeof tail, "<answer>%s</answer>", a->valuestring);
        size_t n = strlen(c->valuestring), m = strlen(tail);
        sloppy += n < m || strcmp(c->valuestring + n - m, tail) != 0;
    }
    return sloppy;
}

int main(void) {
    TrainConfig sft, rl;
    CHECK(default_job_sft_config(&sft, "/nonexistent/init") == GRPO_OK, "sft recipe rejected: %s", grpo_errmsg());
    CHECK(config_validate(&sft) == GRPO_OK, "sft recipe invalid: %s", grpo_errmsg());
    CHECK(default_job_config(&rl, "/nonexistent/base") == GRPO_OK, "grpo recipe rejected: %s", grpo_errmsg());
    CHECK(config_validate(&rl) == GRPO_OK, "grpo recipe invalid: %s", grpo_errmsg());
    CHECK(!strcmp(sft.model, "/nonexistent/init") && !strcmp(rl.model, "/nonexistent/base"), "model dirs");
    CHECK(strstr(rl.template_name, "{question}") && !strcmp(rl.template_name, sft.template_name), "one template for both phases");

    DsOptions o;
    ds_options_default(&o);
    Dataset *d = NULL;
    int with = 0;
    CHECK(ds_open(sft.dataset, &o, &d) == GRPO_OK, "%s: %s", sft.dataset, grpo_errmsg());
    if (d) {
        int sloppy = count_sloppy(d, &with);
        // slip=60 on two-digit sums: 45% need a carry, so ~27% end wrong.
        CHECK(with == d->n && d->n >= 10000, "every warm-start example has a completion (%d of %d)", with, d->n);
        CHECK(sloppy > 0.2 * d->n && sloppy < 0.35 * d->n, "sloppy teacher: %d of %d completions end wrong", sloppy, d->n);
        ds_free(d);
        d = NULL;
    }
    CHECK(ds_open(rl.dataset, &o, &d) == GRPO_OK, "%s: %s", rl.dataset, grpo_errmsg());
    if (d) {
        int sloppy = count_sloppy(d, &with);
        CHECK(with == 0 && sloppy == 0 && d->n >= 10000, "GRPO prompts carry no completion (%d)", with);
        ds_free(d);
    }
    return tu_finish("test_default_job");
}
