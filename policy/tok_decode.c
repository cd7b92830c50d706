// Decoding: ids -> token strings -> the decoder chain (ByteLevel, Replace, ByteFallback, Fuse,
// Strip, Metaspace) -> bytes. Unlike the `tokenizers` library we keep bytes that are not valid
// UTF-8 as they are instead of writing U+FFFD, so decode(encode(x)) == x for any input.
#include <stdlib.h>
#include <string.h>

#include "kernels/status.h"
#include "policy/tok_internal.h"

typedef struct {
    char *s; // arena memory or the Tokenizer's own strings (never written through)
    size_t n;
} Str;

#define NOMEM() grpo_fail(GRPO_ENOMEM, "tokenizer: out of memory")

// ByteLevel: every character of a token stands for one byte; a token with a character
// outside the map (an added token with a space, say) is kept as raw bytes. All fuse into one.
static int dec_bytelevel(TokArena *a, Str *v, size_t *n) {
    size_t total = 0;
    for (size_t i = 0; i < *n; i++) total += v[i].n;
    char *b = tok_arena_alloc(a, total);
    if (!b) return NOMEM();
    size_t k = 0;
    for (size_t i = 0; i < *n; i++) {
        const unsigned char *s = (const unsigned char *)v[i].s;
        size_t start = k, j = 0;
        int ok = 1;
        while (j < v[i].n) {
            size_t cl = tok_utf8_len(s + j, v[i].n - j);
            int byte = -1;
            if (cl == 1) byte = tok_cp_to_byte(s[j]);
            else if (cl == 2) byte = tok_cp_to_byte((uint32_t)(s[j] & 0x1F) << 6 | (s[j + 1] & 0x3F));
            if (byte < 0) {
                ok = 0;
                break;
            }
            b[k++] = (char)byte;
            j += cl;
        }
        if (!ok) {
            k = start;
            memcpy(b + k, v[i].s, v[i].n);
            k += v[i].n;
        }
    }
    v[0] = (Str){b, k};
    *n = 1;
    return 0;
}

static int dec_replace(TokArena *a, Str *v, size_t n, const char *pat, size_t pn, const char *rep, size_t rn) {
    for (size_t i = 0; i < n; i++) {
        size_t count = 0;
        for (size_t j = 0; pn && j + pn <= v[i].n;) {
            if (!memcmp(v[i].s + j, pat, pn)) count++, j += pn;
            else j++;
        }
        if (!count) continue;
        char *b = tok_arena_alloc(a, v[i].n + count * rn);
        if (!b) return NOMEM();
        size_t k = 0;
        for (size_t j = 0; j < v[i].n;) {
            if (j + pn <= v[i].n && !memcmp(v[i].s + j, pat, pn)) {
                memcpy(b + k, rep, rn);
                k += rn, j += pn;
            } else b[k++] = v[i].s[j++];
        }
        v[i] = (Str){b, k};
    }
    return 0;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// ByteFallback: runs of <0xXX> tokens become one token of those bytes.
static int dec_bytefallback(TokArena *a, Str *v, size_t *n) {
    size_t w = 0;
    for (size_t i = 0; i < *n;) {
        size_t j = i;
        while (j < *n && v[j].n == 6 && !memcmp(v[j].s, "<0x", 3) && v[j].s[5] == '>' && hexval(v[j].s[3]) >= 0 && hexval(v[j].s[4]) >= 0) j++;
        if (j == i) {
            v[w++] = v[i++];
            continue;
        }
        char *b = tok_arena_alloc(a, j - i);
        if (!b) return NOMEM();
        for (size_t k = i; k < j; k++) b[k - i] = (char)(hexval(v[k].s[3]) * 16 + hexval(v[k].s[4]));
        v[w++] = (Str){b, j - i};
        i = j;
    }
    *n = w;
    return 0;
}

static int dec_fuse(TokArena *a, Str *v, size_t *n) {
    size_t total = 0;
    for (size_t i = 0; i < *n; i++) total += v[i].n;
    char *b = tok_arena_alloc(a, total);
    if (!b) return NOMEM();
    size_t k = 0;
    for (size_t i = 0; i < *n; i++) memcpy(b + k, v[i].s, v[i].n), k += v[i].n;
    v[0] = (Str){b, k};
    *n = 1;
    return 0;
}

// Strip: removes up to `start` leading and `stop` trailing copies of one character, per token.
static void dec_strip(Str *v, size_t n, const char *c, size_t cn, int start, int stop) {
    for (size_t i = 0; i < n && cn; i++) {
        for (int k = 0; k < start && v[i].n >= cn && !memcmp(v[i].s, c, cn); k++) v[i].s += cn, v[i].n -= cn;
        for (int k = 0; k < stop && v[i].n >= cn && !memcmp(v[i].s + v[i].n - cn, c, cn); k++) v[i].n -= cn;
    }
}

int tok_decode_impl(const Tokenizer *t, const int32_t *ids, size_t n, char **text, size_t *len) {
    *text = NULL;
    *len = 0;
    Str *v = malloc((n ? n : 1) * sizeof *v);
    if (!v) return NOMEM();
    for (size_t i = 0; i < n; i++) {
        const char *s = tok_id_token(t, ids[i]);
        if (!s) {
            free(v);
            if (ids[i] < 0 || ids[i] >= t->vocab_size)
                return grpo_fail(GRPO_EINVAL, "%s: token id %d is out of range (vocab size %d)", t->origin, ids[i], t->vocab_size);
            return grpo_fail(GRPO_EINVAL, "%s: token id %d is not in the vocab", t->origin, ids[i]);
        }
        v[i] = (Str){(char *)s, t->added_of[ids[i]] >= 0 ? t->added[t->added_of[ids[i]]].len : t->tlen[ids[i]]};
    }
    TokArena a = {0};
    int rc = 0;
    size_t m = n;
    if (!t->has_decoder && m > 1) { // HF joins tokens with spaces when there is no decoder
        size_t total = 0;
        for (size_t i = 0; i < m; i++) total += v[i].n + 1;
        char *b = tok_arena_alloc(&a, total);
        if (!b) rc = NOMEM();
        size_t k = 0;
        for (size_t i = 0; i < m && !rc; i++) {
            if (i) b[k++] = ' ';
            memcpy(b + k, v[i].s, v[i].n), k += v[i].n;
        }
        if (!rc) v[0] = (Str){b, k}, m = 1;
    }
    for (int d = 0; d < t->n_dec && !rc && m; d++) {
        const TokDecOp *op = &t->dec[d];
        switch (op->kind) {
        case DEC_BYTELEVEL: rc = dec_bytelevel(&a, v, &m); break;
        case DEC_REPLACE: rc = dec_replace(&a, v, m, op->a, op->alen, op->b, op->blen); break;
        case DEC_BYTEFALLBACK: rc = dec_bytefallback(&a, v, &m); break;
        case DEC_FUSE: rc = dec_fuse(&a, v, &m); break;
        case DEC_STRIP: dec_strip(v, m, op->a, op->alen, op->start, op->stop); break;
        case DEC_METASPACE:
            rc = dec_replace(&a, v, m, op->a, op->alen, " ", 1);
            if (!rc && op->prepend != PREPEND_NEVER && v[0].n && v[0].s[0] == ' ') v[0].s++, v[0].n--;
            break;
        }
    }
    size_t total = 0;
    for (size_t i = 0; i < m && !rc; i++) total += v[i].n;
    char *out = rc ? NULL : malloc(total + 1);
    if (!rc && !out) rc = NOMEM();
    if (!rc) {
        size_t k = 0;
        for (size_t i = 0; i < m; i++) memcpy(out + k, v[i].s, v[i].n), k += v[i].n;
        out[k] = '\0';
        *text = out;
        *len = k;
    }
    tok_arena_free(&a);
    free(v);
    return rc;
}
