// Prompt templates: how an example's question becomes the text the model
// continues. Built-in:
//   r1-zero  DeepSeek-R1-Zero's: "A conversation between User and Assistant. ...
//            User: {question}. Assistant:" (optionally followed by " <think>");
//            the answer ends at "</answer>".
//   chatml   Qwen's <|im_start|>role\n...<|im_end|>\n turns (system turn only when a
//            system prompt is given), ending with "<|im_start|>assistant\n"; stop "<|im_end|>".
//   llama3   <|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n...<|eot_id|>
//            then the assistant header (system turn only when given); stop "<|eot_id|>".
//   plain    "{question}\n".
// A custom template is any text with {field} placeholders filled from the example
// (dotted paths allowed; arrays of scalars render as "a, b, c"), {{ and }} for
// literal braces. A placeholder the example lacks is an error naming it.
#ifndef GRPO_TEMPLATE_H
#define GRPO_TEMPLATE_H

#include <stddef.h>

#include <cjson/cJSON.h>

typedef struct Template Template;

typedef struct {
    const char *system;   // chatml/llama3 system prompt, custom {system}; NULL = none
    int open_think;       // r1-zero: end the prompt with " <think>" (chatml/llama3: "<think>\n")
} TplOptions;

void tpl_options_default(TplOptions *o);

// name: "r1-zero", "chatml", "llama3", "plain". Unknown: GRPO_EINVAL with "did you mean".
int tpl_create(const char *name, const TplOptions *o, Template **out);
// A custom template; checks its syntax (unclosed "{", stray "}", empty "{}").
// stops: NULL-terminated list of stop strings, or NULL for none.
int tpl_create_custom(const char *text, const char *const *stops, const TplOptions *o, Template **out);
void tpl_free(Template *t);

const char *tpl_name(const Template *t);   // "r1-zero", ..., "custom"
// The prompt for `example`, malloc'ed into *out (length *len, may be NULL).
int tpl_render(const Template *t, const cJSON *example, char **out, size_t *len);
// A supervised target for this template: "<think> ... </think> <answer>X</answer>"
// becomes what the model must produce after the prompt (the opened "<think>"
// removed when the template already opened it, a leading space for r1-zero, the
// end-of-turn string appended for chatml/llama3). malloc'ed.
int tpl_render_completion(const Template *t, const char *completion, char **out);

// Strings that end an answer (generation stops after them).
int tpl_stop_count(const Template *t);
const char *tpl_stop(const Template *t, int i);
// The tokens that end the assistant's turn as the model family spells them
// ("<|im_end|>", "<|endoftext|>"; "<|eot_id|>", "<|end_of_text|>"); look them up
// with tok_token_id. r1-zero/plain: none (use the tokenizer's EOS).
int tpl_eos_count(const Template *t);
const char *tpl_eos_name(const Template *t, int i);
// 1 when the rendered prompt already starts with the BOS text (llama3's
// <|begin_of_text|>): encode it with add_bos = 0 then.
int tpl_has_bos(const Template *t);

#endif
