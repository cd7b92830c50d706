#include "rewards/countdown.h"

#include <ctype.h>
#include <errno.h>
#include <gmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CD_MAX_TOKENS 512
#define CD_MAX_DEPTH 64
#define CD_MAX_DIGITS 18 // literals longer than this cannot be any given number

typedef struct {
    char kind; // 'n' number, or one of + - * / ( )
    long long num;
    int big;   // a literal too long for long long: never one of the given numbers
    int pos;   // byte offset in the expression, for messages
} CdTok;

typedef struct {
    const CdTok *t;
    int n, i, depth;
    long long used[CD_MAX_TOKENS];
    int n_used, n_big;
    int div0;
    char err[160]; // the first syntax error, "" when none
} CdParser;

static void cd_detail(char *d, size_t dn, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cd_detail(char *d, size_t dn, const char *fmt, ...) {
    if (!dn) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d, dn, fmt, ap);
    va_end(ap);
}

static void cd_syntax(CdParser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cd_syntax(CdParser *p, const char *fmt, ...) {
    if (p->err[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, sizeof p->err, fmt, ap);
    va_end(ap);
}

static int cd_peek(const CdParser *p) { return p->i < p->n ? p->t[p->i].kind : 0; }

static void cd_expr(CdParser *p, mpq_t out);

// primary := NUMBER | '(' expr ')' | '-' primary
static void cd_primary(CdParser *p, mpq_t out) {
    mpq_set_ui(out, 0, 1);
    if (p->err[0]) return;
    if (++p->depth > CD_MAX_DEPTH) {
        cd_syntax(p, "nested more than %d levels deep", CD_MAX_DEPTH);
        return;
    }
    int k = cd_peek(p);
    if (k == 'n') {
        const CdTok *t = &p->t[p->i++];
        if (t->big) p->n_big++;
        else {
            p->used[p->n_used++] = t->num;
            mpq_set_si(out, (long)t->num, 1);
        }
    } else if (k == '(') {
        int at = p->t[p->i].pos;
        p->i++;
        cd_expr(p, out);
        if (cd_peek(p) != ')') cd_syntax(p, "'(' at column %d is never closed", at + 1);
        else p->i++;
    } else if (k == '-') {
        p->i++;
        cd_primary(p, out);
        mpq_neg(out, out);
    } else if (k == 0) {
        cd_syntax(p, "the expression ends where a number was expected");
    } else {
        cd_syntax(p, "'%c' at column %d where a number was expected", k, p->t[p->i].pos + 1);
    }
    p->depth--;
}

// term := primary (('*' | '/') primary)*
static void cd_term(CdParser *p, mpq_t out) {
    cd_primary(p, out);
    mpq_t rhs;
    mpq_init(rhs);
    while (!p->err[0] && (cd_peek(p) == '*' || cd_peek(p) == '/')) {
        int op = p->t[p->i++].kind;
        cd_primary(p, rhs);
        if (op == '*') mpq_mul(out, out, rhs);
        else if (mpq_sgn(rhs) == 0) p->div0 = 1; // GMP aborts on x/0: never call it
        else mpq_div(out, out, rhs);
    }
    mpq_clear(rhs);
}

// expr := term (('+' | '-') term)*
static void cd_expr(CdParser *p, mpq_t out) {
    cd_term(p, out);
    mpq_t rhs;
    mpq_init(rhs);
    while (!p->err[0] && (cd_peek(p) == '+' || cd_peek(p) == '-')) {
        int op = p->t[p->i++].kind;
        cd_term(p, rhs);
        if (op == '+') mpq_add(out, out, rhs);
        else mpq_sub(out, out, rhs);
    }
    mpq_clear(rhs);
}

// Splits `s` (len bytes) into tokens; returns the count, or -1 with why in detail.
static int cd_tokenize(const char *s, size_t len, CdTok *t, char *detail, size_t dn) {
    int n = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        if (isspace(c)) {
            i++;
            continue;
        }
        if (n >= CD_MAX_TOKENS) {
            cd_detail(detail, dn, "more than %d tokens", CD_MAX_TOKENS);
            return -1;
        }
        if (c == '*' && i + 1 < len && s[i + 1] == '*') {
            cd_detail(detail, dn, "'**' (power) is not allowed");
            return -1;
        }
        if (c == '^') {
            cd_detail(detail, dn, "'^' (power) is not allowed");
            return -1;
        }
        if (isdigit(c)) {
            size_t j = i;
            while (j < len && isdigit((unsigned char)s[j])) j++;
            if (j < len && (s[j] == '.' || s[j] == ',') && j + 1 < len && isdigit((unsigned char)s[j + 1])) {
                cd_detail(detail, dn, "'%.*s' is not a whole number", (int)(j + 2 - i > 24 ? 24 : j + 2 - i), s + i);
                return -1;
            }
            t[n].kind = 'n';
            t[n].pos = (int)i;
            t[n].big = j - i > CD_MAX_DIGITS;
            t[n].num = t[n].big ? 0 : strtoll(s + i, NULL, 10);
            n++;
            i = j;
            continue;
        }
        if (strchr("+-*/()", (int)c) && c) {
            t[n].kind = (char)c;
            t[n].pos = (int)i;
            t[n].big = 0;
            t[n].num = 0;
            n++;
            i++;
            continue;
        }
        if (c >= 0x20 && c < 0x7f) cd_detail(detail, dn, "character '%c' is not allowed (only digits, + - * / and parentheses)", c);
        else cd_detail(detail, dn, "byte 0x%02x is not allowed (only digits, + - * / and parentheses)", c);
        return -1;
    }
    return n;
}

// Parses an optional sign and digits spanning all of [s, s+len) (spaces around allowed).
static int cd_plain_number(const char *s, size_t len, long long *v) {
    while (len && isspace((unsigned char)*s)) s++, len--;
    while (len && isspace((unsigned char)s[len - 1])) len--;
    if (!len || len > CD_MAX_DIGITS + 1) return 0;
    size_t i = (*s == '-');
    if (i == len) return 0;
    for (size_t j = i; j < len; j++)
        if (!isdigit((unsigned char)s[j])) return 0;
    char buf[32];
    memcpy(buf, s, len);
    buf[len] = '\0';
    *v = strtoll(buf, NULL, 10);
    return 1;
}

static int cd_count(const long long *v, int n, long long x) {
    int k = 0;
    for (int i = 0; i < n; i++) k += v[i] == x;
    return k;
}

// Compares the multiset of used numbers with the given ones; 1 when equal, else
// 0 with the difference in detail (numbers used too often first, then unused ones).
static int cd_same_numbers(const long long *used, int n_used, int n_big, const long long *nums, int n_nums,
                           char *detail, size_t dn) {
    if (n_big) {
        cd_detail(detail, dn, "uses a number with more than %d digits, which is not given", CD_MAX_DIGITS);
        return 0;
    }
    for (int i = 0; i < n_used; i++) {
        int k = cd_count(used, n_used, used[i]), g = cd_count(nums, n_nums, used[i]);
        if (g == 0) {
            cd_detail(detail, dn, "uses %lld, which is not one of the given numbers", used[i]);
            return 0;
        }
        if (k > g) {
            cd_detail(detail, dn, "uses %lld %d times but it is given %d time%s", used[i], k, g, g == 1 ? "" : "s");
            return 0;
        }
    }
    for (int j = 0; j < n_nums; j++) {
        int k = cd_count(used, n_used, nums[j]), g = cd_count(nums, n_nums, nums[j]);
        if (k == 0) {
            cd_detail(detail, dn, "does not use %lld", nums[j]);
            return 0;
        }
        if (k < g) {
            cd_detail(detail, dn, "uses %lld %d time%s but it is given %d times", nums[j], k, k == 1 ? "" : "s", g);
            return 0;
        }
    }
    return 1;
}

int countdown_check(const char *expr, const long long *nums, int n_nums, long long target, char *detail,
                    size_t dn) {
    if (n_nums < 0 || n_nums > COUNTDOWN_MAX_NUMS) {
        cd_detail(detail, dn, "puzzle has %d numbers (at most %d)", n_nums, COUNTDOWN_MAX_NUMS);
        return 0;
    }
    size_t len = strlen(expr);
    if (len > COUNTDOWN_MAX_EXPR) {
        cd_detail(detail, dn, "answer is %zu bytes long (at most %d)", len, COUNTDOWN_MAX_EXPR);
        return 0;
    }
    const char *eq = memchr(expr, '=', len);
    size_t elen = len;
    const char *e = expr;
    if (eq) {
        if (memchr(eq + 1, '=', len - (size_t)(eq + 1 - expr))) {
            cd_detail(detail, dn, "more than one '='");
            return 0;
        }
        long long v;
        size_t rlen = len - (size_t)(eq + 1 - expr);
        if (cd_plain_number(eq + 1, rlen, &v)) {
            if (v != target) {
                cd_detail(detail, dn, "claims '= %lld' but the target is %lld", v, target);
                return 0;
            }
            elen = (size_t)(eq - expr);
        } else if (cd_plain_number(expr, (size_t)(eq - expr), &v) && v == target) {
            e = eq + 1; // "target = expr"
            elen = rlen;
        } else {
            cd_detail(detail, dn, "one side of '=' must be the target %lld", target);
            return 0;
        }
    }
    CdTok *toks = malloc(CD_MAX_TOKENS * sizeof *toks);
    CdParser *p = calloc(1, sizeof *p);
    if (!toks || !p) {
        free(toks);
        free(p);
        cd_detail(detail, dn, "out of memory");
        return 0;
    }
    int ok = 0;
    int n = cd_tokenize(e, elen, toks, detail, dn);
    if (n == 0) cd_detail(detail, dn, "empty expression");
    if (n <= 0) goto done;
    p->t = toks;
    p->n = n;
    mpq_t v;
    mpq_init(v);
    cd_expr(p, v);
    if (!p->err[0] && p->i < p->n) {
        const CdTok *t = &toks[p->i];
        if (t->kind == ')') cd_syntax(p, "')' at column %d has no matching '('", t->pos + 1);
        else cd_syntax(p, "missing operator before column %d", t->pos + 1);
    }
    if (p->err[0]) cd_detail(detail, dn, "not an arithmetic expression: %s", p->err);
    else if (!cd_same_numbers(p->used, p->n_used, p->n_big, nums, n_nums, detail, dn)) {
    } else if (p->div0) cd_detail(detail, dn, "division by zero");
    else {
        mpq_t t;
        mpq_init(t);
        mpq_set_si(t, (long)target, 1);
        if (mpq_equal(v, t)) {
            ok = 1;
            gmp_snprintf(detail, dn, "equals the target %lld using each number once", target);
        } else if (mpz_sizeinbase(mpq_numref(v), 10) + mpz_sizeinbase(mpq_denref(v), 10) > 60) {
            cd_detail(detail, dn, "evaluates to a %zu-digit value, target %lld", mpz_sizeinbase(mpq_numref(v), 10), target);
        } else {
            gmp_snprintf(detail, dn, "evaluates to %Qd, target %lld", v, target);
        }
        mpq_clear(t);
    }
    mpq_clear(v);
done:
    free(toks);
    free(p);
    return ok;
}

// Finds the last "<answer>" ... "</answer>" at or after `from`.
static int cd_last_answer(const char *from, const char **a, size_t *alen) {
    const char *last = NULL, *s = from;
    while ((s = strstr(s, "<answer>")) != NULL) {
        const char *end = strstr(s + 8, "</answer>");
        if (!end) break;
        last = s;
        *a = s + 8;
        *alen = (size_t)(end - (s + 8));
        s = end + 9;
    }
    return last != NULL;
}

// Where the answer part starts: after the last </think>; NULL for an unclosed <think>.
static const char *cd_after_think(const char *c) {
    const char *close = NULL, *s = c;
    while ((s = strstr(s, "</think>")) != NULL) close = s, s += 8;
    if (close) return close + 8;
    if (strstr(c, "<think>")) return NULL;
    return c;
}

int countdown_extract(const char *completion, char *out, size_t on) {
    const char *from = cd_after_think(completion);
    if (!from) {
        cd_detail(out, on, "unclosed <think>: no answer");
        return 0;
    }
    const char *a;
    size_t alen;
    if (!cd_last_answer(from, &a, &alen)) {
        cd_detail(out, on, "no <answer>...</answer> after the thinking");
        return 0;
    }
    if (on) {
        size_t k = alen < on - 1 ? alen : on - 1;
        memcpy(out, a, k);
        out[k] = '\0';
    }
    return 1;
}

double countdown_score(const char *completion, const long long *nums, int n_nums, long long target,
                       int require_tag, char *detail, size_t dn) {
    char *ans = malloc(COUNTDOWN_MAX_EXPR + 2);
    if (!ans) {
        cd_detail(detail, dn, "out of memory");
        return 0.0;
    }
    double r = 0.0;
    if (!countdown_extract(completion, ans, COUNTDOWN_MAX_EXPR + 2)) {
        const char *from = cd_after_think(completion);
        if (require_tag || !from) {
            cd_detail(detail, dn, "%s", ans);
            goto done;
        }
        size_t len = strlen(from);
        if (len > COUNTDOWN_MAX_EXPR) len = COUNTDOWN_MAX_EXPR + 1; // over the limit: check reports it
        memcpy(ans, from, len);
        ans[len] = '\0';
    }
    char why[200];
    int ok = countdown_check(ans, nums, n_nums, target, why, sizeof why);
    // Quote a compact form of the answer so the detail is one readable line.
    char shown[64];
    size_t k = 0;
    for (const char *s = ans; *s && k < sizeof shown - 4; s++)
        if (!isspace((unsigned char)*s)) shown[k++] = (unsigned char)*s < 0x20 ? '?' : *s;
    if (strlen(ans) > 0 && k >= sizeof shown - 4) memcpy(shown + k, "...", 3), k += 3;
    shown[k] = '\0';
    cd_detail(detail, dn, "answer '%s' %s%s", shown, ok ? "" : "fails: ", why);
    r = ok ? 1.0 : 0.0;
done:
    free(ans);
    return r;
}
