// Private to policy/tok_*.c: the Tokenizer's fields and the stages of the encode pipeline.
#ifndef GRPO_TOK_INTERNAL_H
#define GRPO_TOK_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/tokenizer.h"

typedef struct pcre2_real_code_8 TokRegex; // pcre2_code (8-bit)

// A piece of text: a view into the input or into a buffer of the current call's arena.
typedef struct {
    const char *s;
    size_t len;
    int32_t id; // >= 0: an added token already matched (never split again); -1: text
} TokPiece;

typedef struct {
    TokPiece *v;
    size_t n, cap;
} TokPieces;

// Per-call scratch memory: blocks freed together at the end of tok_encode.
typedef struct TokArena {
    void **blocks;
    size_t n, cap;
} TokArena;

enum { NORM_NFC, NORM_NFD, NORM_PREPEND, NORM_REPLACE };
typedef struct {
    int kind;
    char *a, *b; // Prepend: a = text; Replace: a = pattern, b = content
    size_t alen, blen;
} TokNormOp;

enum { SPLIT_ISOLATED, SPLIT_REMOVED, SPLIT_MERGED_PREV, SPLIT_MERGED_NEXT, SPLIT_CONTIGUOUS };
enum { PRE_SPLIT, PRE_BYTELEVEL, PRE_DIGITS, PRE_METASPACE };
enum { PREPEND_ALWAYS, PREPEND_FIRST, PREPEND_NEVER };
typedef struct {
    int kind;
    TokRegex *re;      // Split regex, or ByteLevel's GPT-2 regex (NULL = no regex)
    char *str;         // Split with a String pattern (literal)
    size_t strlen_;
    int behavior, invert;
    int add_prefix_space; // ByteLevel
    int individual;       // Digits
    char repl[8];         // Metaspace replacement (UTF-8)
    int prepend, msplit;  // Metaspace prepend_scheme, split
} TokPreOp;

enum { DEC_BYTELEVEL, DEC_REPLACE, DEC_BYTEFALLBACK, DEC_FUSE, DEC_STRIP, DEC_METASPACE };
typedef struct {
    int kind;
    char *a, *b;
    size_t alen, blen;
    int start, stop; // Strip
    int prepend;     // Metaspace
} TokDecOp;

typedef struct {
    char *content;
    size_t len;
    int32_t id;
    int special, lstrip, rstrip, normalized, single_word;
} TokAdded;

typedef struct {
    uint64_t key; // left << 32 | right, UINT64_MAX = empty
    int32_t rank, id;
} TokMergeSlot;

typedef struct TokCache TokCache;

struct Tokenizer {
    char *origin; // the file named in error messages
    int vocab_size;
    char **tok;     // (vocab_size) token strings, NULL for holes
    uint32_t *tlen; // (vocab_size)
    int32_t *vhash; // open addressing: model vocab string -> id (-1 empty)
    size_t vhash_cap;
    TokMergeSlot *merges;
    size_t merges_cap;
    int32_t byte_sym[256];  // byte-level: vocab id of the char standing for each byte (-1 none)
    int32_t byte_fb[256];   // byte fallback: id of <0xXX>
    int byte_level;         // a ByteLevel pre-tokenizer maps bytes to chars before the model
    int byte_fallback, fuse_unk, ignore_merges;
    int32_t unk_id;
    TokAdded *added;
    int n_added;
    int32_t *added_of; // (vocab_size) index into added[], -1 for model tokens
    // added tokens by class (0: matched in raw text, 1: in normalized text), bucketed by
    // first byte: order[cls][first[cls][b] .. first[cls][b+1])
    int *order[2];
    int first[2][257];
    int has_norm_added, has_raw_added;
    TokNormOp *norm;
    int n_norm;
    TokPreOp *pre;
    int n_pre;
    TokDecOp *dec;
    int n_dec;
    int has_decoder;
    // Llama 2 style (no pre-tokenizer, spaces made "\u2581" by the normalizer): when no vocab
    // token has a "\u2581" right after another character, no merge can cross the start of a
    // word, so words are merged (and cached) one at a time with the same result.
    int word_split;
    int32_t bos_id, eos_id, pad_id;
    int wants_bos;
    TokCache *cache;
};

// tok_util.c
void *tok_arena_alloc(TokArena *a, size_t n);
void tok_arena_free(TokArena *a);
int tok_pieces_push(TokPieces *p, const char *s, size_t len, int32_t id);
size_t tok_utf8_len(const unsigned char *s, size_t n); // length of a valid UTF-8 char at s, 0 if invalid
uint64_t tok_hash(const void *s, size_t n);
int32_t tok_vocab_find(const Tokenizer *t, const char *s, size_t n);
extern const uint16_t tok_byte_to_cp[256]; // GPT-2 bytes_to_unicode
int tok_cp_to_byte(uint32_t cp);          // inverse, -1 if cp stands for no byte

// tok_load.c: cJSON helpers shared with tok_pipeline.c
typedef struct cJSON cJSON;
const char *tok_json_type(const cJSON *o);                  // the "type" string, or NULL
int tok_json_bool(const cJSON *o, const char *key, int dflt);
const char *tok_json_pattern(const cJSON *o, int *is_regex); // "pattern": {"String"|"Regex": ...}
char *tok_dup(const char *s, size_t n);

// tok_pipeline.c: parse one section (where = its JSON path for messages, org = the file)
int tok_add_norm(Tokenizer *t, const cJSON *o, const char *where, const char *org);
int tok_add_pre(Tokenizer *t, const cJSON *o, const char *where, const char *org);
int tok_add_dec(Tokenizer *t, const cJSON *o, const char *where, const char *org);

// tok_pretok.c: normalizers and pre-tokenizers
int tok_normalize(const Tokenizer *t, TokArena *a, const char *s, size_t n, const char **out, size_t *outn);
// md: a pcre2_match_data of the calling thread. first: the piece starts the input text.
int tok_pretokenize(const Tokenizer *t, TokArena *a, void *md, const TokPiece *in, int first, TokPieces *out);
TokRegex *tok_regex_compile(const char *pattern, char *err, size_t errlen);
void tok_regex_free(TokRegex *re);
extern const char tok_gpt2_pattern[];

// tok_bpe.c: the model
int tok_merge_put(Tokenizer *t, int32_t a, int32_t b, int32_t rank, int32_t id);
int tok_bpe_word(const Tokenizer *t, const char *s, size_t n, int32_t **ids, size_t *nids, size_t *cap);
int tok_cache_new(TokCache **c);
void tok_cache_free(TokCache *c);

// tok_unicode.c: NFC / NFD of valid UTF-8 (returns a malloc'ed buffer, or NULL when unchanged)
int tok_unicode_normalize(const char *s, size_t n, int compose, char **out, size_t *outn);
// 0 when no character of s (valid UTF-8 runs; invalid bytes skipped) can change under NFC/NFD.
int tok_unicode_quick(const char *s, size_t n, int compose);

// tok_decode.c
int tok_decode_impl(const Tokenizer *t, const int32_t *ids, size_t n, char **text, size_t *len);

#endif
