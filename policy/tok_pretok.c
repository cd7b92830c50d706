// Normalizers (NFC, NFD, Prepend, Replace) and pre-tokenizers (Split, ByteLevel, Digits,
// Metaspace) applied in sequence, as the `tokenizers` library does.
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/status.h"
#include "policy/tok_internal.h"

// GPT-2's pattern, which ByteLevel(use_regex=true) applies.
const char tok_gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

// Unicode White_Space, which Oniguruma's \s (the `tokenizers` library) matches. PCRE2's \s
// also takes U+180E, which has not been a space since Unicode 6.3, so \s and \S are spelled
// out before compiling.
#define WS_MEMBERS "\\t\\n\\x{0B}\\f\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

static char *spell_out_spaces(const char *p) {
    size_t n = strlen(p), cap = n * (sizeof WS_MEMBERS + 4) + 1, k = 0;
    char *o = malloc(cap);
    if (!o) return NULL;
    int in_class = 0;
    for (size_t i = 0; i < n;) {
        if (p[i] == '\\' && i + 1 < n) {
            const char *rep = NULL;
            if (p[i + 1] == 's') rep = in_class ? WS_MEMBERS : "[" WS_MEMBERS "]";
            else if (p[i + 1] == 'S' && !in_class) rep = "[^" WS_MEMBERS "]";
            if (rep) {
                memcpy(o + k, rep, strlen(rep));
                k += strlen(rep);
            } else {
                o[k++] = p[i];
                o[k++] = p[i + 1];
            }
            i += 2;
            continue;
        }
        if (p[i] == '[' && !in_class) {
            in_class = 1;
            o[k++] = p[i++];
            if (i < n && p[i] == '^') o[k++] = p[i++];
            if (i < n && p[i] == ']') o[k++] = p[i++]; // a leading ] is a literal
            continue;
        }
        if (p[i] == '[' && in_class && i + 1 < n && p[i + 1] == ':') { // [:alpha:]
            const char *e = strstr(p + i + 2, ":]");
            size_t len = e ? (size_t)(e + 2 - (p + i)) : 1;
            memcpy(o + k, p + i, len);
            k += len, i += len;
            continue;
        }
        if (p[i] == ']' && in_class) in_class = 0;
        o[k++] = p[i++];
    }
    o[k] = '\0';
    return o;
}

TokRegex *tok_regex_compile(const char *pattern, char *err, size_t errlen) {
    int ec;
    PCRE2_SIZE off;
    char *pat = spell_out_spaces(pattern);
    if (!pat) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &ec, &off, NULL);
    free(pat);
    if (!re) {
        char msg[256];
        pcre2_get_error_message(ec, (PCRE2_UCHAR *)msg, sizeof msg);
        snprintf(err, errlen, "%s", msg);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); // falls back to the interpreter when JIT is absent
    return (TokRegex *)re;
}

void tok_regex_free(TokRegex *re) { pcre2_code_free((pcre2_code *)re); }

// ---------------------------------------------------------------- normalizers
static int replace_all(TokArena *a, const char *s, size_t n, const char *pat, size_t pn, const char *rep, size_t rn,
                       const char **out, size_t *outn) {
    size_t count = 0;
    for (size_t i = 0; pn && i + pn <= n;) {
        if (!memcmp(s + i, pat, pn)) count++, i += pn;
        else i++;
    }
    if (!count) {
        *out = s, *outn = n;
        return 0;
    }
    char *b = tok_arena_alloc(a, n + count * rn);
    if (!b) return grpo_fail(GRPO_ENOMEM, "tokenizer: out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if (i + pn <= n && !memcmp(s + i, pat, pn)) {
            memcpy(b + k, rep, rn);
            k += rn, i += pn;
        } else b[k++] = s[i++];
    }
    *out = b, *outn = k;
    return 0;
}

// NFC/NFD of the valid UTF-8 runs; invalid bytes pass through untouched.
static int unicode_norm(TokArena *a, const char *s, size_t n, int compose, const char **out, size_t *outn) {
    *out = s, *outn = n;
    if (!tok_unicode_quick(s, n, compose)) return 0;
    char *res = NULL;
    size_t rn = 0, rcap = 0;
    size_t i = 0, run = 0;
    int changed = 0;
    while (i <= n) {
        size_t cl = i < n ? tok_utf8_len((const unsigned char *)s + i, n - i) : 0;
        if (i < n && cl) {
            i += cl;
            continue;
        }
        // [run, i) is valid UTF-8; s[i] (if i < n) is an invalid byte
        char *nb = NULL;
        size_t nn = 0;
        if (tok_unicode_normalize(s + run, i - run, compose, &nb, &nn)) return GRPO_ENOMEM;
        const char *seg = nb ? nb : s + run;
        size_t sl = nb ? nn : i - run;
        if (nb) changed = 1;
        size_t need = rn + sl + 1;
        if (need > rcap) {
            size_t c2 = need * 2 + 64;
            char *r2 = realloc(res, c2);
            if (!r2) {
                free(nb), free(res);
                return grpo_fail(GRPO_ENOMEM, "tokenizer: out of memory");
            }
            res = r2, rcap = c2;
        }
        memcpy(res + rn, seg, sl);
        rn += sl;
        free(nb);
        if (i < n) res[rn++] = s[i];
        i++;
        run = i;
    }
    if (changed) {
        char *b = tok_arena_alloc(a, rn);
        if (!b) {
            free(res);
            return grpo_fail(GRPO_ENOMEM, "tokenizer: out of memory");
        }
        memcpy(b, res, rn);
        *out = b, *outn = rn;
    }
    free(res);
    return 0;
}

int tok_normalize(const Tokenizer *t, TokArena *a, const char *s, size_t n, const char **out, size_t *outn) {
    *out = s, *outn = n;
    for (int k = 0; k < t->n_norm; k++) {
        const TokNormOp *op = &t->norm[k];
        int rc = 0;
        switch (op->kind) {
        case NORM_NFC:
        case NORM_NFD: rc = unicode_norm(a, s, n, op->kind == NORM_NFC, &s, &n); break;
        case NORM_PREPEND:
            if (n) { // HF prepends only to non-empty text
                char *b = tok_arena_alloc(a, n + op->alen);
                if (!b) return grpo_fail(GRPO_ENOMEM, "tokenizer: out of memory");
                memcpy(b, op->a, op->alen);
                memcpy(b + op->alen, s, n);
                s = b, n += op->alen;
            }
            break;
        case NORM_REPLACE: rc = replace_all(a, s, n, op->a, op->alen, op->b, op->blen, &s, &n); break;
        }
        if (rc) return rc;
    }
    *out = s, *outn = n;
    return 0;
}

// ---------------------------------------------------------------- pre-tokenizers
typedef struct {
    size_t s, e;
    int match;
} Seg;
typedef struct {
    Seg *v;
    size_t n, cap;
} Segs;

static int seg_push(Segs *g, size_t s, size_t e, int match) {
    if (g->n == g->cap) {
        size_t c = g->cap ? g->cap * 2 : 32;
        Seg *v = realloc(g->v, c * sizeof *v);
        if (!v) return grpo_fail(GRPO_ENOMEM, "tokenizer: out of memory");
        g->v = v, g->cap = c;
    }
    g->v[g->n++] = (Seg){s, e, match};
    return 0;
}

// Applies a split behavior to the match/gap segments of one valid-UTF-8 run (HF's
// SplitDelimiterBehavior), pushing the resulting non-empty pieces.
static int emit_behavior(const char *base, Segs *g, int behavior, int invert, TokPieces *out) {
    size_t n = g->n;
    Seg *v = g->v;
    if (invert)
        for (size_t i = 0; i < n; i++) v[i].match = !v[i].match;
    size_t k = 0; // results written in place into v[0..k)
    int prev = 0;
    switch (behavior) {
    case SPLIT_ISOLATED: k = n; break;
    case SPLIT_REMOVED:
        for (size_t i = 0; i < n; i++)
            if (!v[i].match) v[k++] = v[i];
        break;
    case SPLIT_MERGED_PREV:
        for (size_t i = 0; i < n; i++) {
            if (v[i].match && !prev && k) v[k - 1].e = v[i].e;
            else v[k++] = v[i];
            prev = v[i].match;
        }
        break;
    case SPLIT_CONTIGUOUS:
        for (size_t i = 0; i < n; i++) {
            if (v[i].match == prev && k) v[k - 1].e = v[i].e;
            else v[k++] = v[i];
            prev = v[i].match;
        }
        break;
    case SPLIT_MERGED_NEXT: {
        // walk backwards: a match is glued to the piece after it unless that was a match too
        size_t w = n;
        for (size_t i = n; i-- > 0;) {
            int m = v[i].match;
            if (m && !prev && w < n) v[w].s = v[i].s;
            else v[--w] = v[i];
            prev = m;
        }
        memmove(v, v + w, (n - w) * sizeof *v);
        k = n - w;
        break;
    }
    }
    for (size_t i = 0; i < k; i++)
        if (v[i].e > v[i].s && tok_pieces_push(out, base + v[i].s, v[i].e - v[i].s, -1))
            return grpo_fail(GRPO_ENOMEM, "tokenizer: out of memory");
    return 0;
}

// Finds the matches of one pre-tokenizer in the valid run s[0..n) as match/gap segments.
static int find_segments(const TokPreOp *op, void *md, const char *s, size_t n, Segs *g) {
    g->n = 0;
    size_t prev = 0, pos = 0;
    while (pos < n) {
        size_t ms, me;
        if (!op->re) { // a literal String pattern
            const char *f = op->strlen_ ? memmem(s + pos, n - pos, op->str, op->strlen_) : NULL;
            if (!f) break;
            ms = (size_t)(f - s);
            me = ms + op->strlen_;
        } else {
            int rc = pcre2_match((const pcre2_code *)op->re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK, md, NULL);
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) return grpo_fail(GRPO_EINTERNAL, "tokenizer: regex match failed (PCRE2 error %d)", rc);
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            ms = ov[0], me = ov[1];
            if (me == ms) { // an empty match splits nothing: step over one character
                size_t cl = tok_utf8_len((const unsigned char *)s + ms, n - ms);
                pos = ms + (cl ? cl : 1);
                continue;
            }
        }
        if (ms > prev && seg_push(g, prev, ms, 0)) return GRPO_ENOMEM;
        if (seg_push(g, ms, me, 1)) return GRPO_ENOMEM;
        prev = pos = me;
    }
    if (prev < n && seg_push(g, prev, n, 0)) return GRPO_ENOMEM;
    return 0;
}

// Splits one piece with a regex/literal/digit pre-tokenizer. Bytes that are not valid
// UTF-8 cut the piece and become pieces of their own (PCRE2 in UTF mode cannot take them).
static int split_piece(const TokPreOp *op, void *md, const TokPiece *p, Segs *g, TokPieces *out) {
    const unsigned char *s = (const unsigned char *)p->s;
    size_t i = 0, run = 0;
    while (i <= p->len) {
        size_t cl = i < p->len ? tok_utf8_len(s + i, p->len - i) : 0;
        if (i < p->len && cl) {
            i += cl;
            continue;
        }
        if (i > run) {
            if (find_segments(op, md, p->s + run, i - run, g)) return GRPO_ENOMEM;
            int behavior = op->kind == PRE_DIGITS ? (op->individual ? SPLIT_ISOLATED : SPLIT_CONTIGUOUS)
                         : op->kind == PRE_SPLIT ? op->behavior : SPLIT_ISOLATED;
            if (emit_behavior(p->s + run, g, behavior, op->kind == PRE_SPLIT && op->invert, out)) return GRPO_ENOMEM;
        }
        if (i < p->len && tok_pieces_push(out, p->s + i, 1, -1)) return grpo_fail(GRPO_ENOMEM, "tokenizer: out of memory");
        i++;
        run = i;
    }
    return 0;
}

static int metaspace_piece(const TokPreOp *op, TokArena *a, void *md, const TokPiece *p, int first, Segs *g,
                           TokPieces *out) {
    size_t rl = strlen(op->repl);
    const char *s;
    size_t n;
    if (replace_all(a, p->s, p->len, " ", 1, op->repl, rl, &s, &n)) return GRPO_ENOMEM;
    int starts = n >= rl && !memcmp(s, op->repl, rl);
    if (!starts && (op->prepend == PREPEND_ALWAYS || (op->prepend == PREPEND_FIRST && first))) {
        char *b = tok_arena_alloc(a, n + rl);
        if (!b) return grpo_fail(GRPO_ENOMEM, "tokenizer: out of memory");
        memcpy(b, op->repl, rl);
        memcpy(b + rl, s, n);
        s = b, n += rl;
    }
    TokPiece q = {s, n, -1};
    if (!op->msplit) return n && tok_pieces_push(out, s, n, -1) ? grpo_fail(GRPO_ENOMEM, "tokenizer: out of memory") : 0;
    TokPreOp lit = {.kind = PRE_SPLIT, .str = (char *)op->repl, .strlen_ = rl, .behavior = SPLIT_MERGED_NEXT};
    return split_piece(&lit, md, &q, g, out);
}

int tok_pretokenize(const Tokenizer *t, TokArena *a, void *md, const TokPiece *in, int first, TokPieces *out) {
    out->n = 0;
    if (tok_pieces_push(out, in->s, in->len, -1)) return grpo_fail(GRPO_ENOMEM, "tokenizer: out of memory");
    TokPieces tmp = {0};
    Segs g = {0};
    int rc = 0;
    for (int k = 0; k < t->n_pre && !rc; k++) {
        const TokPreOp *op = &t->pre[k];
        tmp.n = 0;
        for (size_t i = 0; i < out->n && !rc; i++) {
            TokPiece p = out->v[i];
            int pfirst = first && i == 0;
            switch (op->kind) {
            case PRE_BYTELEVEL:
                if (op->add_prefix_space && (p.len == 0 || p.s[0] != ' ')) {
                    char *b = tok_arena_alloc(a, p.len + 1);
                    if (!b) {
                        rc = grpo_fail(GRPO_ENOMEM, "tokenizer: out of memory");
                        break;
                    }
                    b[0] = ' ';
                    memcpy(b + 1, p.s, p.len);
                    p.s = b, p.len++;
                }
                if (op->re) rc = split_piece(op, md, &p, &g, &tmp);
                else if (p.len && tok_pieces_push(&tmp, p.s, p.len, -1)) rc = grpo_fail(GRPO_ENOMEM, "tokenizer: out of memory");
                break;
            case PRE_SPLIT:
            case PRE_DIGITS: rc = split_piece(op, md, &p, &g, &tmp); break;
            case PRE_METASPACE: rc = metaspace_piece(op, a, md, &p, pfirst, &g, &tmp); break;
            }
        }
        TokPieces sw = *out;
        *out = tmp;
        tmp = sw;
    }
    free(tmp.v);
    free(g.v);
    return rc;
}
