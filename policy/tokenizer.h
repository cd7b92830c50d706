// Hugging Face tokenizer.json: BPE models with byte-level (GPT-2, Qwen2, Llama 3, SmolLM2)
// or Metaspace + byte-fallback (Llama 2, TinyLlama) pre-tokenization, added/special tokens,
// NFC normalization, and tokenizer_config.json's bos/eos/pad tokens.
//
// Encoding follows the `tokenizers` library (add_special_tokens=False; BOS only when asked):
// added tokens are cut out of the raw text first (never split), then each remaining piece is
// normalized, pre-tokenized and run through BPE. Bytes that are not valid UTF-8 are never
// dropped: they cut the text (each invalid byte becomes its own pre-token, i.e. its byte token
// under byte-level BPE, or <0xXX> through byte fallback).
//
// Decoding returns the exact bytes (the library applies from_utf8_lossy at the end; ours keeps
// invalid UTF-8 as is so decode(encode(x)) == x also for invalid input).
//
// Thread safety: a loaded Tokenizer is read-only except for its pre-token cache, which is
// guarded by a mutex, so tok_encode/tok_decode may be called on one Tokenizer from many threads.
#ifndef GRPO_TOKENIZER_H
#define GRPO_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

typedef struct Tokenizer Tokenizer;

// path: a tokenizer.json file, or a model directory holding tokenizer.json. A
// tokenizer_config.json beside it (optional) gives bos/eos/pad tokens and add_bos_token.
int tok_load(const char *path, Tokenizer **out);
// Parses tokenizer.json text (json) and optional tokenizer_config.json text (config, or NULL);
// origin names them in error messages.
int tok_load_json(const char *json, const char *config, const char *origin, Tokenizer **out);
// The built-in byte-level tokenizer, without touching the file system.
int tok_load_builtin(Tokenizer **out);
void tok_free(Tokenizer *t);

// add_bos: prepend the BOS token when the tokenizer has one. Caller frees *ids.
int tok_encode(const Tokenizer *t, const char *text, size_t len, int add_bos, int32_t **ids, size_t *n);
// Caller frees *text (NUL-terminated for convenience; *len excludes the NUL).
int tok_decode(const Tokenizer *t, const int32_t *ids, size_t n, char **text, size_t *len);

int tok_vocab_size(const Tokenizer *t); // max id + 1 over the model vocab and added tokens
int32_t tok_token_id(const Tokenizer *t, const char *token); // exact token string, -1 if none
// The token string of an id as written in tokenizer.json (byte-level form), NULL if none.
const char *tok_id_token(const Tokenizer *t, int32_t id);
int32_t tok_bos_id(const Tokenizer *t);
int32_t tok_eos_id(const Tokenizer *t);
int32_t tok_pad_id(const Tokenizer *t);
// 1 when tokenizer_config.json says add_bos_token: true (or, without it, when the
// post-processor is a TemplateProcessing that starts with the BOS token).
int tok_wants_bos(const Tokenizer *t);
int tok_is_special(const Tokenizer *t, int32_t id); // added token marked "special"

// The built-in tokenizer: ids 0..255 are the bytes (GPT-2 ByteLevel alphabet, no merges,
// no regex split), then <|endoftext|> (eos, pad) 256, <think> 257, </think> 258,
// <answer> 259, </answer> 260, <|im_start|> 261, <|im_end|> 262. Vocab size 263.
#define TOK_BUILTIN_VOCAB 263
int tok_write_builtin(const char *dir); // writes tokenizer.json + tokenizer_config.json into dir
char *tok_builtin_json(void);        // the tokenizer.json text (caller frees; NULL if out of memory)
char *tok_builtin_config_json(void); // the tokenizer_config.json text (caller frees)

#endif
