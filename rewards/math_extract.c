// Finding the final answer in a completion: the <answer> tag, the last
// \boxed{}/\fbox{}, GSM8K's "#### x", "the answer is x", or the last number,
// in the caller's order. Only the text after </think> counts.
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rewards/math.h"
#include "rewards/math_internal.h"

static void put(char *dst, size_t dn, const char *s, size_t len) {
    if (!dst || dn == 0) return;
    while (len > 0 && isspace((unsigned char)*s)) s++, len--;
    while (len > 0 && isspace((unsigned char)s[len - 1])) len--;
    if (len >= dn) len = dn - 1;
    memcpy(dst, s, len);
    dst[len] = 0;
}

// Last occurrence of needle in [s, end); case-insensitive when ci.
static const char *find_last(const char *s, const char *end, const char *needle, int ci) {
    size_t nl = strlen(needle);
    if ((size_t)(end - s) < nl) return NULL;
    for (const char *p = end - nl; p >= s; p--)
        if (ci ? strncasecmp(p, needle, nl) == 0 : strncmp(p, needle, nl) == 0) return p;
    return NULL;
}

// p points just after "\boxed"/"\fbox". Sets the content span; 0 when malformed.
static int box_content(const char *p, const char *end, const char **cs, size_t *cl) {
    if (p < end && isalpha((unsigned char)*p)) return 0; // \boxedfoo is another command
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    if (p < end && *p == '{') {
        int depth = 0;
        const char *start = p + 1;
        for (; p < end; p++) {
            if (*p == '\\' && p + 1 < end) { p++; continue; } // \{ and \} do not count
            if (*p == '{') depth++;
            else if (*p == '}' && --depth == 0) {
                *cs = start;
                *cl = (size_t)(p - start);
                return *cl > 0;
            }
        }
        return 0;
    }
    // \boxed 5: one token, up to white space or a math delimiter
    const char *start = p;
    while (p < end && !isspace((unsigned char)*p) && *p != '$') p++;
    *cs = start;
    *cl = (size_t)(p - start);
    return *cl > 0 && start != end;
}

// The last complete \boxed{} or \fbox{} in [s, end).
static int last_box(const char *s, const char *end, const char **cs, size_t *cl) {
    const char *limit = end;
    for (;;) {
        const char *b = find_last(s, limit, "\\boxed", 0);
        const char *f = find_last(s, limit, "\\fbox", 0);
        const char *p = b > f ? b : f;
        if (!p) return 0;
        if (box_content(p + (p == b ? 6 : 5), end, cs, cl)) return 1;
        limit = p;
    }
}

// A number token at p: sign, digits with thousands commas, decimals, /denominator, %.
static size_t number_at(const char *p, const char *end) {
    const char *q = p;
    if (q < end && *q == '-') q++;
    const char *d = q;
    while (q < end && isdigit((unsigned char)*q)) q++;
    if (q > d) {
        // ,ddd groups (exactly three digits) are thousands separators
        while (q + 4 <= end && *q == ',' && isdigit((unsigned char)q[1]) &&
               isdigit((unsigned char)q[2]) && isdigit((unsigned char)q[3]) &&
               (q + 4 == end || !isdigit((unsigned char)q[4])))
            q += 4;
    }
    if (q + 1 < end && *q == '.' && isdigit((unsigned char)q[1])) {
        q++;
        while (q < end && isdigit((unsigned char)*q)) q++;
    }
    if (q == d) return 0;
    if (q + 1 < end && *q == '/' && isdigit((unsigned char)q[1])) {
        q++;
        while (q < end && isdigit((unsigned char)*q)) q++;
    }
    if (q < end && *q == '%') q++;
    return (size_t)(q - p);
}

static int last_number(const char *s, const char *end, const char **cs, size_t *cl) {
    const char *best = NULL;
    size_t bl = 0;
    for (const char *p = s; p < end;) {
        int starts = (isdigit((unsigned char)*p) || (*p == '-' && p + 1 < end && (isdigit((unsigned char)p[1]) || p[1] == '.')) ||
                      (*p == '.' && p + 1 < end && isdigit((unsigned char)p[1]))) &&
                     (p == s || !isalnum((unsigned char)p[-1]));
        if (*p == '.' && p > s && isdigit((unsigned char)p[-1])) starts = 0;
        if (starts) {
            size_t l = number_at(p, end);
            if (l == 0 && (*p == '.' || (*p == '-' && p[1] == '.'))) { // .5
                const char *q = p + (*p == '-') + 1;
                while (q < end && isdigit((unsigned char)*q)) q++;
                l = (size_t)(q - p);
            }
            if (l > 0) {
                best = p, bl = l;
                // a unicode minus sign (U+2212) right before the digits
                if (*p != '-' && p - s >= 3 && memcmp(p - 3, "\xe2\x88\x92", 3) == 0) best = p - 3, bl = l + 3;
                p += l;
                continue;
            }
        }
        p++;
    }
    if (!best) return 0;
    *cs = best, *cl = bl;
    return 1;
}

static int answer_is(const char *s, const char *end, const char **cs, size_t *cl);

static int answer_tag(const char *s, const char *end, const char **cs, size_t *cl) {
    const char *limit = end;
    for (;;) {
        const char *o = find_last(s, limit, "<answer>", 1);
        if (!o) return 0;
        const char *c0 = o + 8;
        const char *c = NULL;
        for (const char *p = c0; p + 9 <= end; p++)
            if (strncasecmp(p, "</answer>", 9) == 0) { c = p; break; }
        if (c) {
            const char *bs;
            size_t bl;
            if (last_box(c0, c, &bs, &bl)) { *cs = bs, *cl = bl; return 1; }
            // <answer>The final answer is 5.</answer>
            if (find_last(c0, c, "answer is", 1) || find_last(c0, c, "answer:", 1))
                if (answer_is(c0, c, &bs, &bl)) { *cs = bs, *cl = bl; return 1; }
            const char *a = c0, *b = c;
            while (a < b && isspace((unsigned char)*a)) a++;
            if (a < b) { *cs = c0, *cl = (size_t)(c - c0); return 1; }
        }
        limit = o;
    }
}

static int gsm8k(const char *s, const char *end, const char **cs, size_t *cl) {
    const char *p = find_last(s, end, "####", 0);
    if (!p) return 0;
    p += 4;
    const char *e = p;
    while (e < end && *e != '\n') e++;
    const char *a = p;
    while (a < e && isspace((unsigned char)*a)) a++;
    if (a == e) return 0;
    *cs = p, *cl = (size_t)(e - p);
    return 1;
}

static int answer_is(const char *s, const char *end, const char **cs, size_t *cl) {
    static const char *const keys[] = {"answer is", "answer:", "answer is:"};
    const char *best = NULL;
    size_t bk = 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *p = find_last(s, end, keys[i], 1);
        if (p && (!best || p + strlen(keys[i]) > best + bk)) best = p, bk = strlen(keys[i]);
    }
    if (!best) return 0;
    const char *p = best + bk;
    while (p < end && (*p == ' ' || *p == '\t' || *p == ':' || *p == '*')) p++;
    if (p >= end) return 0;
    if (strncmp(p, "\\boxed", 6) == 0 || strncmp(p, "\\fbox", 5) == 0) {
        return box_content(p + (p[1] == 'b' ? 6 : 5), end, cs, cl);
    }
    const char *eol = p;
    while (eol < end && *eol != '\n') eol++;
    for (int k = 0; k < 2; k++) {
        const char *open = k == 0 ? "$" : "\\(", *close = k == 0 ? "$" : "\\)";
        size_t ol = strlen(open);
        if ((size_t)(eol - p) > ol && strncmp(p, open, ol) == 0) {
            const char *a = p + ol;
            if (k == 0 && a < eol && *a == '$') a++;
            for (const char *q = a; q + strlen(close) <= eol; q++)
                if (strncmp(q, close, strlen(close)) == 0) { *cs = a, *cl = (size_t)(q - a); return q > a; }
            if (k == 0) p++; // "$18 an hour": a dollar sign, not math
        }
    }
    size_t nl = number_at(p, eol);
    if (nl > 0) {
        // "42 ... in 3 steps" is 42, but "2\sqrt{2}", "2x + 1" and "5 \text{ cm}" go on
        const char *q = p + nl;
        while (q < eol && *q == ' ') q++;
        int more = q < eol && (*q == '\\' || strchr("+-*/^={}_", *q) || (q == p + nl && isalpha((unsigned char)*q)) ||
                               (q == p + nl && *q == '('));
        if (q + 1 < eol && q[0] == '*' && q[1] == '*') more = 0; // **27** (markdown bold)
        if (!more) { *cs = p, *cl = nl; return 1; }
    }
    // up to the end of the sentence, or a ", which ..." clause outside brackets
    const char *e = p;
    int depth = 0;
    while (e < eol) {
        if (*e == '(' || *e == '[' || *e == '{') depth++;
        else if ((*e == ')' || *e == ']' || *e == '}') && depth > 0) depth--;
        if (*e == '.' && (e + 1 == eol || isspace((unsigned char)e[1]))) break;
        if (*e == ',' && depth == 0 && e + 4 < eol && e[1] == ' ' && isalpha((unsigned char)e[2]) &&
            isalpha((unsigned char)e[3]) && (isalpha((unsigned char)e[4]) || e[4] == ' '))
            break;
        e++;
    }
    if (e == p) return 0;
    *cs = p, *cl = (size_t)(e - p);
    return 1;
}

int mathx_extract(const char *completion, const int *order, int n_order, char *answer, size_t an,
                  char *where, size_t wn) {
    if (answer && an) answer[0] = 0;
    if (!completion) { put(where, wn, "no completion", 13); return 0; }
    const char *s = completion, *end = completion + strlen(completion);
    const char *ct = find_last(s, end, "</think>", 1);
    if (ct) s = ct + 8;
    else if (find_last(s, end, "<think>", 1)) { put(where, wn, "unclosed <think>", 16); return 0; }
    for (int i = 0; i < n_order; i++) {
        const char *cs = NULL;
        size_t cl = 0;
        int ok = 0;
        const char *w = "";
        switch (order[i]) {
        case MATH_X_ANSWER_TAG: ok = answer_tag(s, end, &cs, &cl); w = "<answer>"; break;
        case MATH_X_BOXED: ok = last_box(s, end, &cs, &cl); w = "\\boxed{}"; break;
        case MATH_X_GSM8K: ok = gsm8k(s, end, &cs, &cl); w = "####"; break;
        case MATH_X_ANSWER_IS: ok = answer_is(s, end, &cs, &cl); w = "the answer is"; break;
        case MATH_X_LAST_NUMBER: ok = last_number(s, end, &cs, &cl); w = "last number"; break;
        default: break;
        }
        if (ok && cl > 0) {
            put(answer, an, cs, cl);
            if (answer && answer[0] == 0) continue;
            put(where, wn, w, strlen(w));
            return 1;
        }
    }
    put(where, wn, "nothing matched", 15);
    return 0;
}
