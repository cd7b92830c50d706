// Model text into JSON output. JSON must be valid UTF-8 and model output is
// not always (a completion cut in the middle of a character, a small model
// emitting stray bytes), so every writer of completions, prompts and reward
// details goes through here: each byte that is not part of a valid UTF-8
// character (and NUL) becomes U+FFFD, as the `tokenizers` library decodes.
#ifndef GRPO_JSON_TEXT_H
#define GRPO_JSON_TEXT_H

#include <cjson/cJSON.h>
#include <stddef.h>

// s[0..n) cleaned: malloc'd, NUL-terminated; NULL when memory runs out.
char *json_text_clean(const char *s, size_t n);
// cJSON_AddStringToObject(o, key, s cleaned); a NULL s adds "". Returns the
// item, or NULL when memory runs out.
cJSON *json_add_text(cJSON *o, const char *key, const char *s);

#endif
