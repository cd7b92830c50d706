// NFC and NFD (Unicode canonical decomposition, ordering and composition) over valid UTF-8,
// with tables generated from Python's unicodedata by tools/gen_unicode_tables.py.
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/status.h"
#include "policy/tok_internal.h"
#include "policy/tok_unicode_tables.h"

enum { SBASE = 0xAC00, LBASE = 0x1100, VBASE = 0x1161, TBASE = 0x11A7, LCOUNT = 19, VCOUNT = 21, TCOUNT = 28,
       NCOUNT = VCOUNT * TCOUNT, SCOUNT = LCOUNT * NCOUNT };

static int ccc_of(uint32_t c) {
    if (c < 0x300) return 0;
    size_t lo = 0, hi = sizeof tok_ccc / sizeof tok_ccc[0];
    while (lo < hi) {
        size_t m = (lo + hi) / 2;
        uint32_t k = tok_ccc[m] >> 8;
        if (k == c) return (int)(tok_ccc[m] & 0xFF);
        if (k < c) lo = m + 1;
        else hi = m;
    }
    return 0;
}

// One bit per BMP code point of tok_nf_maybe, built once: the quick check is a lookup.
static uint8_t bmp_maybe[0x10000 / 8];
static pthread_once_t bmp_once = PTHREAD_ONCE_INIT;

static void bmp_build(void) {
    for (size_t i = 0; i < sizeof tok_nf_maybe / sizeof tok_nf_maybe[0]; i++)
        for (uint32_t c = tok_nf_maybe[i][0]; c <= tok_nf_maybe[i][1] && c < 0x10000; c++) bmp_maybe[c >> 3] |= (uint8_t)(1u << (c & 7));
}

static int maybe(uint32_t c, int compose) {
    if (c < (compose ? 0x300u : 0xC0u)) return 0; // NFD splits À (U+00C0) and up
    if (c >= SBASE && c < SBASE + SCOUNT) return !compose; // NFD splits Hangul syllables; NFC keeps them
    if (c < 0x10000) return bmp_maybe[c >> 3] >> (c & 7) & 1;
    size_t lo = 0, hi = sizeof tok_nf_maybe / sizeof tok_nf_maybe[0];
    while (lo < hi) {
        size_t m = (lo + hi) / 2;
        if (c < tok_nf_maybe[m][0]) hi = m;
        else if (c > tok_nf_maybe[m][1]) lo = m + 1;
        else return 1;
    }
    return 0;
}

static const uint32_t *decomp_of(uint32_t c, int *len) {
    size_t lo = 0, hi = sizeof tok_decomp / sizeof tok_decomp[0];
    while (lo < hi) {
        size_t m = (lo + hi) / 2;
        if (tok_decomp[m][0] == c) {
            *len = (int)tok_decomp[m][2];
            return tok_decomp_pool + tok_decomp[m][1];
        }
        if (tok_decomp[m][0] < c) lo = m + 1;
        else hi = m;
    }
    return NULL;
}

static uint32_t compose(uint32_t a, uint32_t b) {
    if (a >= LBASE && a < LBASE + LCOUNT && b >= VBASE && b < VBASE + VCOUNT)
        return SBASE + ((a - LBASE) * VCOUNT + (b - VBASE)) * TCOUNT;
    if (a >= SBASE && a < SBASE + SCOUNT && (a - SBASE) % TCOUNT == 0 && b > TBASE && b < TBASE + TCOUNT)
        return a + (b - TBASE);
    size_t lo = 0, hi = sizeof tok_comp / sizeof tok_comp[0];
    while (lo < hi) {
        size_t m = (lo + hi) / 2;
        const uint32_t *e = tok_comp[m];
        if (e[0] == a && e[1] == b) return e[2];
        if (e[0] < a || (e[0] == a && e[1] < b)) lo = m + 1;
        else hi = m;
    }
    return 0;
}

static uint32_t decode_cp(const unsigned char *s, size_t l) {
    if (l == 1) return s[0];
    uint32_t c = s[0] & (0x7F >> l);
    for (size_t i = 1; i < l; i++) c = c << 6 | (s[i] & 0x3F);
    return c;
}

static size_t encode_cp(uint32_t c, char *o) {
    if (c < 0x80) return o[0] = (char)c, 1;
    if (c < 0x800) return o[0] = (char)(0xC0 | c >> 6), o[1] = (char)(0x80 | (c & 0x3F)), 2;
    if (c < 0x10000)
        return o[0] = (char)(0xE0 | c >> 12), o[1] = (char)(0x80 | ((c >> 6) & 0x3F)), o[2] = (char)(0x80 | (c & 0x3F)), 3;
    o[0] = (char)(0xF0 | c >> 18), o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3F)), o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

int tok_unicode_quick(const char *str, size_t n, int compose) {
    const unsigned char *s = (const unsigned char *)str;
    pthread_once(&bmp_once, bmp_build);
    for (size_t i = 0; i < n;) {
        if (s[i] < (compose ? 0xCC : 0xC3)) { // below U+0300 (NFD: U+00C0) nothing changes
            i++;
            continue;
        }
        size_t l = tok_utf8_len(s + i, n - i);
        if (!l) {
            i++;
            continue;
        }
        if (maybe(decode_cp(s + i, l), compose)) return 1;
        i += l;
    }
    return 0;
}

int tok_unicode_normalize(const char *str, size_t n, int compose_, char **out, size_t *outn) {
    const unsigned char *s = (const unsigned char *)str;
    *out = NULL;
    *outn = 0;
    for (size_t i = 0; i < n;) {
        size_t l = tok_utf8_len(s + i, n - i);
        if (!l) return grpo_fail(GRPO_EINTERNAL, "tokenizer: NFC given invalid UTF-8");
        i += l;
    }
    if (!tok_unicode_quick(str, n, compose_)) return 0;
    // The longest canonical decomposition is 4 code points; Hangul gives 3.
    uint32_t *cp = malloc((4 * n + 1) * sizeof *cp);
    if (!cp) return grpo_fail(GRPO_ENOMEM, "tokenizer: out of memory");
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        size_t l = tok_utf8_len(s + i, n - i);
        uint32_t c = decode_cp(s + i, l);
        i += l;
        int dl;
        const uint32_t *d;
        if (c >= SBASE && c < SBASE + SCOUNT) {
            uint32_t si = c - SBASE;
            cp[m++] = LBASE + si / NCOUNT;
            cp[m++] = VBASE + (si % NCOUNT) / TCOUNT;
            if (si % TCOUNT) cp[m++] = TBASE + si % TCOUNT;
        } else if ((d = decomp_of(c, &dl))) {
            for (int k = 0; k < dl; k++) cp[m++] = d[k];
        } else cp[m++] = c;
    }
    // canonical ordering: a stable sort of each run of non-starters by combining class
    for (size_t i = 1; i < m; i++) {
        int cc = ccc_of(cp[i]);
        if (!cc) continue;
        uint32_t c = cp[i];
        size_t j = i;
        while (j > 0 && ccc_of(cp[j - 1]) > cc) cp[j] = cp[j - 1], j--;
        cp[j] = c;
    }
    if (compose_) {
        size_t w = 0;
        long sp = -1;
        int lastcc = 0;
        for (size_t i = 0; i < m; i++) {
            uint32_t c = cp[i];
            int cc = ccc_of(c);
            if (sp >= 0 && ((long)w - 1 == sp || (lastcc != 0 && lastcc < cc))) {
                uint32_t k = compose(cp[sp], c);
                if (k) {
                    cp[sp] = k;
                    continue;
                }
            }
            if (!cc) sp = (long)w;
            lastcc = cc;
            cp[w++] = c;
        }
        m = w;
    }
    char *o = malloc(4 * m + 1);
    if (!o) {
        free(cp);
        return grpo_fail(GRPO_ENOMEM, "tokenizer: out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < m; i++) k += encode_cp(cp[i], o + k);
    free(cp);
    if (k == n && !memcmp(o, s, n)) { // already normalized
        free(o);
        return 0;
    }
    *out = o;
    *outn = k;
    return 0;
}
