// Prompt templates: the exact text of every built-in one, custom placeholders
// and their errors, stop strings, EOS names and supervised completions.
#include <stdlib.h>
#include <string.h>

#include "datasets/template.h"
#include "kernels/status.h"
#include "testlib.h"

static cJSON *example(void) {
    return cJSON_Parse("{\"question\": \"What is 2 + 3?\", \"answer\": \"5\", \"nums\": [1, 2, 3], \"target\": 6,"
                       " \"meta\": {\"topic\": \"sums\"}, \"ratio\": 0.5}");
}

static void check_render(const char *name, const TplOptions *o, const char *want) {
    Template *t = NULL;
    int rc = tpl_create(name, o, &t);
    CHECK(rc == 0, "%s: %s", name, grpo_errmsg());
    if (rc) return;
    cJSON *ex = example();
    char *s = NULL;
    size_t n = 0;
    rc = tpl_render(t, ex, &s, &n);
    CHECK(rc == 0 && s && !strcmp(s, want) && n == strlen(want), "%s:\n got [%s]\nwant [%s]", name, s ? s : "", want);
    free(s);
    cJSON_Delete(ex);
    tpl_free(t);
}

#define R1 "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. " \
           "The assistant first thinks about the reasoning process in the mind and then provides the user with the " \
           "answer. The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> " \
           "tags, respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>. "

static void test_builtin(void) {
    TplOptions o;
    tpl_options_default(&o);
    check_render("r1-zero", &o, R1 "User: What is 2 + 3?. Assistant:");
    check_render("chatml", &o, "<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\n");
    check_render("llama3", &o,
                 "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nWhat is 2 + 3?<|eot_id|>"
                 "<|start_header_id|>assistant<|end_header_id|>\n\n");
    check_render("plain", &o, "What is 2 + 3?\n");
    o.open_think = 1;
    o.system = "You are a careful solver.";
    check_render("r1-zero", &o, R1 "User: What is 2 + 3?. Assistant: <think>");
    check_render("chatml", &o,
                 "<|im_start|>system\nYou are a careful solver.<|im_end|>\n<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n"
                 "<|im_start|>assistant\n<think>\n");
    check_render("llama3", &o,
                 "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a careful solver.<|eot_id|>"
                 "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2 + 3?<|eot_id|>"
                 "<|start_header_id|>assistant<|end_header_id|>\n\n<think>\n");

    Template *t = NULL;
    tpl_options_default(&o);
    const char *names[] = {"r1-zero", "chatml", "llama3", "plain"};
    const char *stop[] = {"</answer>", "<|im_end|>", "<|eot_id|>", NULL};
    const char *eos0[] = {NULL, "<|im_end|>", "<|eot_id|>", NULL};
    const char *eos1[] = {NULL, "<|endoftext|>", "<|end_of_text|>", NULL};
    for (int i = 0; i < 4; i++) {
        if (tpl_create(names[i], &o, &t)) {
            CHECK(0, "%s", grpo_errmsg());
            continue;
        }
        CHECK(!strcmp(tpl_name(t), names[i]), "name");
        if (stop[i]) CHECK(tpl_stop_count(t) == 1 && !strcmp(tpl_stop(t, 0), stop[i]), "%s stop", names[i]);
        else CHECK(tpl_stop_count(t) == 0 && tpl_stop(t, 0) == NULL, "%s no stop", names[i]);
        if (eos0[i]) CHECK(tpl_eos_count(t) == 2 && !strcmp(tpl_eos_name(t, 0), eos0[i]) && !strcmp(tpl_eos_name(t, 1), eos1[i]),
                           "%s eos", names[i]);
        else CHECK(tpl_eos_count(t) == 0, "%s no eos names", names[i]);
        CHECK(tpl_has_bos(t) == (i == 2), "%s bos", names[i]);
        tpl_free(t);
    }
    int rc = tpl_create("r1_zero", &o, &t);
    CHECK(rc == GRPO_EINVAL && strstr(grpo_errmsg(), "did you mean 'r1-zero'"), "%s", grpo_errmsg());
    rc = tpl_create("vicuna", &o, &t);
    CHECK(rc == GRPO_EINVAL && strstr(grpo_errmsg(), "unknown template 'vicuna'"), "%s", grpo_errmsg());

    // A question-less example cannot be rendered by a built-in template.
    cJSON *ex = cJSON_Parse("{\"prompt\": \"x\"}");
    tpl_create("plain", &o, &t);
    char *s = NULL;
    rc = tpl_render(t, ex, &s, NULL);
    CHECK(rc == GRPO_EINVAL && !s && strstr(grpo_errmsg(), "question"), "%s", grpo_errmsg());
    tpl_free(t);
    cJSON_Delete(ex);
}

static void test_custom(void) {
    TplOptions o;
    tpl_options_default(&o);
    o.system = "SYS";
    Template *t = NULL;
    const char *stops[] = {"\n\n", "END", NULL};
    int rc = tpl_create_custom("[{system}] Q: {question} nums={nums} target={target} topic={meta.topic} r={ratio} {{literal}} }}\nA:",
                               stops, &o, &t);
    CHECK(rc == 0, "%s", grpo_errmsg());
    if (!rc) {
        cJSON *ex = example();
        char *s = NULL;
        rc = tpl_render(t, ex, &s, NULL);
        const char *want = "[SYS] Q: What is 2 + 3? nums=1, 2, 3 target=6 topic=sums r=0.5 {literal} }\nA:";
        CHECK(rc == 0 && s && !strcmp(s, want), "got [%s]", s ? s : grpo_errmsg());
        free(s);
        CHECK(!strcmp(tpl_name(t), "custom") && tpl_stop_count(t) == 2 && !strcmp(tpl_stop(t, 1), "END"), "custom stops");
        tpl_free(t);
        // A placeholder the example lacks is an error that names it.
        tpl_create_custom("Q: {question} hint: {hint}", NULL, &o, &t);
        s = NULL;
        rc = tpl_render(t, ex, &s, NULL);
        CHECK(rc == GRPO_EINVAL && !s && strstr(grpo_errmsg(), "{hint}"), "%s", grpo_errmsg());
        tpl_free(t);
        cJSON_Delete(ex);
    }
    const char *bad[] = {"Q: {question", "Q: question}", "Q: {}", "Q: {a b}", "{question}}{"};
    for (int i = 0; i < 5; i++) {
        t = NULL;
        rc = tpl_create_custom(bad[i], NULL, &o, &t);
        CHECK(rc == GRPO_EINVAL && t == NULL && strstr(grpo_errmsg(), "template:"), "case %d [%s]: %s", i, bad[i], grpo_errmsg());
    }
}

static void test_completion(void) {
    const char *c = "<think> 2 + 3 = 5. </think> <answer>5</answer>";
    struct { const char *name; int open; const char *want; } cases[] = {
        {"r1-zero", 0, " <think> 2 + 3 = 5. </think> <answer>5</answer>"},
        {"r1-zero", 1, " 2 + 3 = 5. </think> <answer>5</answer>"},
        {"chatml", 0, "<think> 2 + 3 = 5. </think> <answer>5</answer><|im_end|>"},
        {"chatml", 1, "2 + 3 = 5. </think> <answer>5</answer><|im_end|>"},
        {"llama3", 0, "<think> 2 + 3 = 5. </think> <answer>5</answer><|eot_id|>"},
        {"plain", 0, "<think> 2 + 3 = 5. </think> <answer>5</answer>"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        TplOptions o;
        tpl_options_default(&o);
        o.open_think = cases[i].open;
        Template *t = NULL;
        if (tpl_create(cases[i].name, &o, &t)) continue;
        char *s = NULL;
        int rc = tpl_render_completion(t, c, &s);
        CHECK(rc == 0 && s && !strcmp(s, cases[i].want), "%s open=%d: [%s]", cases[i].name, cases[i].open, s ? s : "");
        free(s);
        tpl_free(t);
    }
}

int main(void) {
    test_builtin();
    test_custom();
    test_completion();
    return tu_finish("test_templates");
}
