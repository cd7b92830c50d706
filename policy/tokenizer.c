// Encoding: added tokens, then normalizer, pre-tokenizer and BPE on the text between them;
// and the small accessors of the public API.
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/status.h"
#include "policy/tok_internal.h"

int tok_vocab_size(const Tokenizer *t) { return t->vocab_size; }
int32_t tok_bos_id(const Tokenizer *t) { return t->bos_id; }
int32_t tok_eos_id(const Tokenizer *t) { return t->eos_id; }
int32_t tok_pad_id(const Tokenizer *t) { return t->pad_id; }
int tok_wants_bos(const Tokenizer *t) { return t->wants_bos; }

int tok_is_special(const Tokenizer *t, int32_t id) {
    return id >= 0 && id < t->vocab_size && t->added_of[id] >= 0 && t->added[t->added_of[id]].special;
}

int32_t tok_token_id(const Tokenizer *t, const char *token) {
    size_t n = strlen(token);
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].len == n && !memcmp(t->added[i].content, token, n)) return t->added[i].id;
    return tok_vocab_find(t, token, n);
}

const char *tok_id_token(const Tokenizer *t, int32_t id) {
    if (id < 0 || id >= t->vocab_size) return NULL;
    if (t->added_of[id] >= 0) return t->added[t->added_of[id]].content;
    return t->tok[id];
}

// ---------------------------------------------------------------- added tokens
// Unicode White_Space, as Rust's char::is_whitespace (lstrip / rstrip).
static int is_ws(uint32_t c) {
    return (c >= 9 && c <= 13) || c == 32 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

static uint32_t cp_at(const unsigned char *s, size_t n, size_t *len) {
    size_t l = tok_utf8_len(s, n);
    *len = l ? l : 1;
    if (!l) return 0xFFFFFFFF;
    if (l == 1) return s[0];
    uint32_t c = s[0] & (0x7F >> l);
    for (size_t i = 1; i < l; i++) c = c << 6 | (s[i] & 0x3F);
    return c;
}

// start of the character that ends at s[i) (i > 0)
static size_t prev_char(const unsigned char *s, size_t i) {
    size_t j = i - 1;
    while (j > 0 && i - j < 4 && (s[j] & 0xC0) == 0x80) j--;
    size_t l = tok_utf8_len(s + j, i - j);
    return l == i - j ? j : i - 1;
}

static int is_word(uint32_t c) { // single_word boundaries: ASCII alnum, '_' and any non-ASCII letter-ish char
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (c >= 0x80 && c != 0xFFFFFFFF && !is_ws(c));
}

// Cuts s into text pieces and added-token pieces of class cls (0: matched in raw text,
// 1: in normalized text), leftmost-longest as HF's Aho-Corasick with MatchKind::LeftmostLongest.
static int split_added(const Tokenizer *t, int cls, const char *str, size_t n, TokPieces *out) {
    const unsigned char *s = (const unsigned char *)str;
    size_t prev = 0, i = 0;
    while (i < n) {
        int lo = t->first[cls][s[i]], hi = t->first[cls][s[i] + 1], best = -1;
        for (int k = lo; k < hi; k++) {
            const TokAdded *a = &t->added[t->order[cls][k]];
            if (a->len <= n - i && !memcmp(s + i, a->content, a->len) && (best < 0 || a->len > t->added[best].len))
                best = t->order[cls][k];
        }
        if (best < 0) {
            i++;
            continue;
        }
        const TokAdded *a = &t->added[best];
        size_t ms = i, me = i + a->len, cl;
        if (a->single_word) {
            int left = ms > 0 && is_word(cp_at(s + prev_char(s, ms), n - prev_char(s, ms), &cl));
            int right = me < n && is_word(cp_at(s + me, n - me, &cl));
            if (left || right) {
                i++;
                continue;
            }
        }
        if (a->lstrip)
            while (ms > prev) {
                size_t p = prev_char(s, ms);
                if (p < prev || !is_ws(cp_at(s + p, n - p, &cl))) break;
                ms = p;
            }
        if (a->rstrip)
            while (me < n && is_ws(cp_at(s + me, n - me, &cl))) me += cl;
        if (ms > prev && tok_pieces_push(out, str + prev, ms - prev, -1)) return grpo_fail(GRPO_ENOMEM, "tokenizer: out of memory");
        if (tok_pieces_push(out, str + ms, me - ms, a->id)) return grpo_fail(GRPO_ENOMEM, "tokenizer: out of memory");
        prev = i = me;
    }
    if (prev < n && tok_pieces_push(out, str + prev, n - prev, -1)) return grpo_fail(GRPO_ENOMEM, "tokenizer: out of memory");
    return 0;
}

// ---------------------------------------------------------------- encode
typedef struct {
    const Tokenizer *t;
    TokArena arena;
    pcre2_match_data *md;
    TokPieces raw, norm, pre;
    int32_t *ids;
    size_t n, cap;
} Enc;

static int push(Enc *e, int32_t id) {
    if (e->n == e->cap) {
        size_t c = e->cap ? e->cap * 2 : 64;
        int32_t *v = realloc(e->ids, c * sizeof *v);
        if (!v) return grpo_fail(GRPO_ENOMEM, "tokenizer: out of memory");
        e->ids = v, e->cap = c;
    }
    e->ids[e->n++] = id;
    return 0;
}

static int encode_text(Enc *e, const char *s, size_t n, int first) {
    const Tokenizer *t = e->t;
    const char *ns;
    size_t nn;
    int rc = tok_normalize(t, &e->arena, s, n, &ns, &nn);
    if (rc) return rc;
    e->norm.n = 0;
    if (t->has_norm_added) rc = split_added(t, 1, ns, nn, &e->norm);
    else if (nn) rc = tok_pieces_push(&e->norm, ns, nn, -1) ? grpo_fail(GRPO_ENOMEM, "tokenizer: out of memory") : 0;
    for (size_t i = 0; i < e->norm.n && !rc; i++) {
        TokPiece p = e->norm.v[i];
        if (p.id >= 0) {
            rc = push(e, p.id);
            continue;
        }
        if (t->word_split) { // cut before each "\u2581" that follows another character
            const char *w = p.s, *end = p.s + p.len;
            for (const char *q = p.s + 1; q + 3 <= end && !rc; q++)
                if (!memcmp(q, "\xe2\x96\x81", 3) && !(q - 3 >= p.s && !memcmp(q - 3, "\xe2\x96\x81", 3))) {
                    rc = tok_bpe_word(t, w, (size_t)(q - w), &e->ids, &e->n, &e->cap);
                    w = q;
                }
            if (!rc) rc = tok_bpe_word(t, w, (size_t)(end - w), &e->ids, &e->n, &e->cap);
            continue;
        }
        rc = tok_pretokenize(t, &e->arena, e->md, &p, first && i == 0, &e->pre);
        for (size_t k = 0; k < e->pre.n && !rc; k++)
            rc = tok_bpe_word(t, e->pre.v[k].s, e->pre.v[k].len, &e->ids, &e->n, &e->cap);
    }
    return rc;
}

int tok_encode(const Tokenizer *t, const char *text, size_t len, int add_bos, int32_t **ids, size_t *n) {
    *ids = NULL;
    *n = 0;
    Enc e = {.t = t};
    int rc = 0;
    if (!(e.md = pcre2_match_data_create(1, NULL))) return grpo_fail(GRPO_ENOMEM, "tokenizer: out of memory");
    if (add_bos && t->bos_id >= 0) rc = push(&e, t->bos_id);
    if (!rc && t->has_raw_added) rc = split_added(t, 0, text, len, &e.raw);
    else if (!rc && len) rc = tok_pieces_push(&e.raw, text, len, -1) ? grpo_fail(GRPO_ENOMEM, "tokenizer: out of memory") : 0;
    for (size_t i = 0; i < e.raw.n && !rc; i++) {
        if (e.raw.v[i].id >= 0) rc = push(&e, e.raw.v[i].id);
        else rc = encode_text(&e, e.raw.v[i].s, e.raw.v[i].len, e.raw.v[i].s == text);
        if (e.arena.n > 64) tok_arena_free(&e.arena); // nothing outlives one piece
    }
    tok_arena_free(&e.arena);
    pcre2_match_data_free(e.md);
    free(e.raw.v);
    free(e.norm.v);
    free(e.pre.v);
    if (rc) {
        free(e.ids);
        return rc;
    }
    if (!e.ids && !(e.ids = malloc(sizeof *e.ids))) return grpo_fail(GRPO_ENOMEM, "tokenizer: out of memory");
    *ids = e.ids;
    *n = e.n;
    return 0;
}

int tok_decode(const Tokenizer *t, const int32_t *ids, size_t n, char **text, size_t *len) {
    return tok_decode_impl(t, ids, n, text, len);
}
