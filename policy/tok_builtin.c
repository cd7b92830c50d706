// The built-in byte-level tokenizer of the small default models, written as a real
// tokenizer.json that the `tokenizers` library and transformers load unchanged.
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kernels/fileio.h"
#include "kernels/status.h"
#include "policy/tok_internal.h"

static const struct {
    const char *content;
    int special;
} builtin_added[] = {
    {"<|endoftext|>", 1}, {"<think>", 0}, {"</think>", 0}, {"<answer>", 0}, {"</answer>", 0}, {"<|im_start|>", 1}, {"<|im_end|>", 1},
};

static cJSON *obj_type(const char *type) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    return o;
}

// ByteLevel without the GPT-2 regex: with no merges the split could not change any id, so
// it would only cost time. Users who add merges later should switch use_regex on.
char *tok_builtin_json(void) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation");
    cJSON_AddNullToObject(root, "padding");
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    for (int i = 0; i < (int)(sizeof builtin_added / sizeof builtin_added[0]); i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "id", 256 + i);
        cJSON_AddStringToObject(a, "content", builtin_added[i].content);
        cJSON_AddBoolToObject(a, "single_word", 0);
        cJSON_AddBoolToObject(a, "lstrip", 0);
        cJSON_AddBoolToObject(a, "rstrip", 0);
        cJSON_AddBoolToObject(a, "normalized", 0);
        cJSON_AddBoolToObject(a, "special", builtin_added[i].special);
        cJSON_AddItemToArray(added, a);
    }
    cJSON_AddNullToObject(root, "normalizer");
    cJSON *pre = obj_type("ByteLevel");
    cJSON_AddBoolToObject(pre, "add_prefix_space", 0);
    cJSON_AddBoolToObject(pre, "trim_offsets", 1);
    cJSON_AddBoolToObject(pre, "use_regex", 0);
    cJSON_AddItemToObject(root, "pre_tokenizer", pre);
    cJSON *post = obj_type("ByteLevel");
    cJSON_AddBoolToObject(post, "add_prefix_space", 0);
    cJSON_AddBoolToObject(post, "trim_offsets", 0);
    cJSON_AddBoolToObject(post, "use_regex", 0);
    cJSON_AddItemToObject(root, "post_processor", post);
    cJSON *dec = obj_type("ByteLevel");
    cJSON_AddBoolToObject(dec, "add_prefix_space", 0);
    cJSON_AddBoolToObject(dec, "trim_offsets", 1);
    cJSON_AddBoolToObject(dec, "use_regex", 0);
    cJSON_AddItemToObject(root, "decoder", dec);
    cJSON *model = obj_type("BPE");
    cJSON_AddNullToObject(model, "dropout");
    cJSON_AddNullToObject(model, "unk_token");
    cJSON_AddNullToObject(model, "continuing_subword_prefix");
    cJSON_AddNullToObject(model, "end_of_word_suffix");
    cJSON_AddBoolToObject(model, "fuse_unk", 0);
    cJSON_AddBoolToObject(model, "byte_fallback", 0);
    cJSON_AddBoolToObject(model, "ignore_merges", 0);
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
    for (int b = 0; b < 256; b++) {
        char s[4];
        unsigned cp = tok_byte_to_cp[b];
        if (cp < 0x80) s[0] = (char)cp, s[1] = 0;
        else s[0] = (char)(0xC0 | cp >> 6), s[1] = (char)(0x80 | (cp & 0x3F)), s[2] = 0;
        cJSON_AddNumberToObject(vocab, s, b);
    }
    cJSON_AddArrayToObject(model, "merges");
    cJSON_AddItemToObject(root, "model", model);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}

char *tok_builtin_config_json(void) {
    cJSON *c = cJSON_CreateObject();
    cJSON_AddBoolToObject(c, "add_bos_token", 0);
    cJSON_AddBoolToObject(c, "add_eos_token", 0);
    cJSON_AddNullToObject(c, "bos_token");
    cJSON_AddStringToObject(c, "eos_token", "<|endoftext|>");
    cJSON_AddStringToObject(c, "pad_token", "<|endoftext|>");
    cJSON_AddNullToObject(c, "unk_token");
    cJSON_AddNumberToObject(c, "model_max_length", 1 << 20);
    cJSON_AddStringToObject(c, "tokenizer_class", "PreTrainedTokenizerFast");
    cJSON_AddBoolToObject(c, "clean_up_tokenization_spaces", 0);
    char *text = cJSON_Print(c);
    cJSON_Delete(c);
    return text;
}

int tok_load_builtin(Tokenizer **out) {
    char *j = tok_builtin_json(), *c = tok_builtin_config_json();
    int rc = j && c ? tok_load_json(j, c, "<built-in tokenizer>", out) : grpo_fail(GRPO_ENOMEM, "tokenizer: out of memory");
    cJSON_free(j);
    cJSON_free(c);
    return rc;
}

static int write_text(const char *dir, const char *name, const char *text) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t n = strlen(text);
    char *line = malloc(n + 2);
    if (!line) return grpo_fail(GRPO_ENOMEM, "%s: out of memory", path);
    memcpy(line, text, n);
    line[n] = '\n';
    int st = grpo_write_file_atomic(path, line, n + 1);
    free(line);
    return st;
}

int tok_write_builtin(const char *dir) {
    if (mkdir(dir, 0777) && errno != EEXIST) return grpo_fail(GRPO_EIO, "%s: cannot create directory: %s", dir, strerror(errno));
    char *j = tok_builtin_json(), *c = tok_builtin_config_json();
    int rc = j && c ? write_text(dir, "tokenizer.json", j) : grpo_fail(GRPO_ENOMEM, "tokenizer: out of memory");
    if (!rc) rc = write_text(dir, "tokenizer_config.json", c);
    cJSON_free(j);
    cJSON_free(c);
    return rc;
}
