// A LaTeX/plain-text expression parser for answers: numbers (exact rationals),
// variables, + - * / ^ ** \cdot \times \div, implicit multiplication, \frac,
// \sqrt[n]{}, functions, |x|, !, \pm, tuples, intervals, sets, unions,
// relations and matrices. Recursive descent with a depth cap, a node cap and
// the caller's deadline, so no input can make it recurse, allocate or spin
// without bound.
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rewards/math_internal.h"

void mx_clock_start(MxClock *c, int limit_ms) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    c->deadline_ns = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec + (long long)(limit_ms > 0 ? limit_ms : 2000) * 1000000LL; // <= 0: the default
    c->polls = 0;
    c->expired = 0;
}

int mx_clock_up(MxClock *c) {
    if (!c) return 0;
    if (c->expired) return 1;
    if ((++c->polls & 63) != 0) return 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if ((long long)ts.tv_sec * 1000000000LL + ts.tv_nsec > c->deadline_ns) c->expired = 1;
    return c->expired;
}

void mx_arena_init(MxArena *a, MxClock *clock) {
    memset(a, 0, sizeof *a);
    a->clock = clock;
}

void mx_arena_free(MxArena *a) {
    for (int i = 0; i < a->n; i++) {
        MxNode *n = a->all[i];
        if (n->has_q) mpq_clear(n->q);
        free(n->kids);
        free(n->name);
        free(n->ops);
        free(n);
    }
    free(a->all);
    memset(a, 0, sizeof *a);
}

MxNode *mx_new(MxArena *a, MxKind k, int nkids) {
    if (a->failed || a->n >= MX_MAX_NODES || mx_clock_up(a->clock)) { a->failed = 1; return NULL; }
    if (a->n == a->cap) {
        int cap = a->cap ? a->cap * 2 : 64;
        MxNode **all = realloc(a->all, (size_t)cap * sizeof *all);
        if (!all) { a->failed = 1; return NULL; }
        a->all = all, a->cap = cap;
    }
    MxNode *n = calloc(1, sizeof *n);
    if (!n) { a->failed = 1; return NULL; }
    if (nkids > 0 && !(n->kids = calloc((size_t)nkids, sizeof *n->kids))) { free(n); a->failed = 1; return NULL; }
    n->k = k;
    n->n = nkids;
    a->all[a->n++] = n;
    return n;
}

// ------------------------------------------------------------------ lexer
typedef enum { T_END, T_NUM, T_ID, T_CMD, T_OP, T_BEGIN, T_ENDENV, T_ROWSEP, T_LSET, T_RSET } TokK;
typedef struct { TokK k; const char *s; int len; char c; } Tok;

typedef struct {
    Tok *t;
    int nt, pos;
    MxArena *a;
    int depth;
    int text;        // saw a word: the answer is text, not math
    char *err;
    size_t en;
    int failed;
} P;

static const char *const funcs[] = {"sin", "cos", "tan", "sec", "csc", "cot", "arcsin", "arccos", "arctan",
                                    "sinh", "cosh", "tanh", "log", "ln", "exp", "sqrt", "lg", NULL};
static int is_func(const char *s, int n) {
    for (int i = 0; funcs[i]; i++)
        if ((int)strlen(funcs[i]) == n && strncmp(funcs[i], s, (size_t)n) == 0) return 1;
    return 0;
}
static int word_is(const Tok *t, const char *w) { return (int)strlen(w) == t->len && strncmp(t->s, w, (size_t)t->len) == 0; }

static int fail(P *p, const char *msg) {
    if (!p->failed && p->err && p->en) snprintf(p->err, p->en, "%s", msg);
    p->failed = 1;
    return -1;
}

static int push(P *p, TokK k, const char *s, int len, char c) {
    if (p->nt >= MX_MAX_NODES) return fail(p, "too many tokens");
    p->t[p->nt++] = (Tok){k, s, len, c};
    return 0;
}

static int lex(P *p, const char *s) {
    size_t n = strlen(s);
    p->t = malloc((n + 2) * sizeof *p->t);
    if (!p->t) return fail(p, "out of memory");
    const char *q = s;
    while (*q) {
        if (mx_clock_up(p->a->clock)) return fail(p, "time limit");
        char c = *q;
        if (isspace((unsigned char)c)) { q++; continue; }
        if (isdigit((unsigned char)c) || (c == '.' && isdigit((unsigned char)q[1]))) {
            const char *b = q;
            while (isdigit((unsigned char)*q)) q++;
            if (*q == '.' && !(q[1] == '.')) { q++; while (isdigit((unsigned char)*q)) q++; }
            if ((*q == 'e' || *q == 'E') && (isdigit((unsigned char)q[1]) || ((q[1] == '-' || q[1] == '+') && isdigit((unsigned char)q[2])))) {
                q += 2;
                while (isdigit((unsigned char)*q)) q++;
            }
            if (push(p, T_NUM, b, (int)(q - b), 0)) return -1;
            continue;
        }
        if (isalpha((unsigned char)c)) {
            const char *b = q;
            while (isalpha((unsigned char)*q)) q++;
            int len = (int)(q - b);
            if (len == 1 || is_func(b, len) || (len == 2 && strncmp(b, "pi", 2) == 0) ||
                (len == 3 && strncmp(b, "inf", 3) == 0) || (len == 5 && strncmp(b, "infty", 5) == 0) ||
                (len == 8 && strncmp(b, "infinity", 8) == 0)) {
                if (push(p, T_ID, b, len, 0)) return -1;
            } else if (len == 2) { // xy: two variables multiplied
                if (push(p, T_ID, b, 1, 0) || push(p, T_ID, b + 1, 1, 0)) return -1;
            } else {
                p->text = 1;
                if (push(p, T_ID, b, len, 0)) return -1;
            }
            continue;
        }
        if (c == '\\') {
            if (q[1] == '\\') { if (push(p, T_ROWSEP, q, 2, 0)) return -1; q += 2; continue; }
            if (q[1] == '{') { if (push(p, T_LSET, q, 2, 0)) return -1; q += 2; continue; }
            if (q[1] == '}') { if (push(p, T_RSET, q, 2, 0)) return -1; q += 2; continue; }
            if (!isalpha((unsigned char)q[1])) return fail(p, "stray backslash");
            const char *b = ++q;
            while (isalpha((unsigned char)*q)) q++;
            int len = (int)(q - b);
            if ((len == 5 && strncmp(b, "begin", 5) == 0) || (len == 3 && strncmp(b, "end", 3) == 0)) {
                while (*q == ' ') q++;
                if (*q != '{') return fail(p, "\\begin without {env}");
                const char *e = strchr(q, '}');
                if (!e) return fail(p, "unterminated {env}");
                if (push(p, len == 5 ? T_BEGIN : T_ENDENV, q + 1, (int)(e - q - 1), 0)) return -1;
                q = e + 1;
                continue;
            }
            if (push(p, T_CMD, b, len, 0)) return -1;
            continue;
        }
        if (c == '*' && q[1] == '*') { if (push(p, T_OP, q, 2, '^')) return -1; q += 2; continue; }
        if ((c == '<' || c == '>' || c == '!') && q[1] == '=') {
            if (push(p, T_CMD, c == '<' ? "le" : c == '>' ? "ge" : "ne", 2, 0)) return -1;
            q += 2;
            continue;
        }
        if (strchr("+-*/^_()[]{},;=<>!|&':", c)) {
            if (push(p, T_OP, q, 1, c)) return -1;
            q++;
            continue;
        }
        return fail(p, "unexpected character");
    }
    return push(p, T_END, q, 0, 0);
}

// ------------------------------------------------------------------ parser
static Tok *peek(P *p) { return &p->t[p->pos]; }
static int is_op(P *p, char c) { return peek(p)->k == T_OP && peek(p)->c == c; }
static int is_cmd(P *p, const char *name) { return peek(p)->k == T_CMD && word_is(peek(p), name); }

static MxNode *node(P *p, MxKind k, int nk) {
    MxNode *n = mx_new(p->a, k, nk);
    if (!n) fail(p, p->a->clock && p->a->clock->expired ? "time limit" : "expression too large");
    return n;
}
static MxNode *bin(P *p, MxKind k, MxNode *l, MxNode *r) {
    if (!l || !r) return NULL;
    MxNode *n = node(p, k, 2);
    if (n) n->kids[0] = l, n->kids[1] = r;
    return n;
}
static MxNode *named(P *p, MxKind k, const char *s, int len, int nk) {
    MxNode *n = node(p, k, nk);
    if (!n) return NULL;
    if (!(n->name = malloc((size_t)len + 1))) { fail(p, "out of memory"); return NULL; }
    memcpy(n->name, s, (size_t)len);
    n->name[len] = 0;
    return n;
}

static MxNode *number(P *p, const Tok *t) {
    MxNode *n = node(p, MX_NUM, 0);
    if (!n) return NULL;
    mpq_init(n->q);
    n->has_q = 1;
    // mantissa digits, the decimal point's place and the exponent
    char buf[1040];
    int nd = 0, frac = 0, seen_dot = 0, i = 0;
    long ex = 0;
    if (t->len > 1024) { fail(p, "number too long"); return NULL; }
    for (; i < t->len; i++) {
        char c = t->s[i];
        if (c == '.') { seen_dot = 1; n->decimal = 1; continue; }
        if (c == 'e' || c == 'E') {
            n->decimal = 1;
            ex = strtol(t->s + i + 1, NULL, 10);
            if (ex > 100000) ex = 100000; // refused below; keeps ex - frac from overflowing
            if (ex < -100000) ex = -100000;
            break;
        }
        buf[nd++] = c;
        if (seen_dot) frac++;
    }
    if (nd == 0) buf[nd++] = '0';
    buf[nd] = 0;
    ex -= frac;
    if (ex > 1000 || ex < -1000) { fail(p, "exponent too large"); return NULL; }
    mpz_t z, ten;
    mpz_init_set_str(z, buf, 10);
    mpz_init(ten);
    mpz_ui_pow_ui(ten, 10, (unsigned long)(ex < 0 ? -ex : ex));
    if (ex >= 0) { mpz_mul(z, z, ten); mpq_set_z(n->q, z); }
    else { mpq_set_num(n->q, z); mpq_set_den(n->q, ten); mpq_canonicalize(n->q); }
    mpz_clear(z);
    mpz_clear(ten);
    return n;
}

static MxNode *parse_list(P *p, char close1, char close2, TokK closek, int *nout);
static MxNode *parse_rel(P *p);
static MxNode *parse_sum(P *p);
static MxNode *parse_power(P *p, int no_mixed);
static MxNode *parse_unary(P *p);

static int enter(P *p) {
    if (++p->depth > MX_MAX_DEPTH) return fail(p, "nesting too deep");
    if (mx_clock_up(p->a->clock)) return fail(p, "time limit");
    return 0;
}

// {group} or a single token: the argument of \frac, \sqrt, ^, _
static MxNode *parse_arg(P *p) {
    if (is_op(p, '{')) {
        p->pos++;
        MxNode *e = parse_rel(p);
        if (!e) return NULL;
        if (!is_op(p, '}')) { fail(p, "expected }"); return NULL; }
        p->pos++;
        return e;
    }
    return parse_power(p, 1);
}

static MxNode *parse_func(P *p, const char *name, int len) {
    MxNode *f = named(p, MX_FUNC, name, len, 2);
    if (!f) return NULL;
    f->n = 1;
    if (is_op(p, '_')) { // \log_2 x
        p->pos++;
        if (!(f->kids[1] = parse_arg(p))) return NULL;
        f->n = 2;
    }
    MxNode *pw = NULL;
    if (is_op(p, '^')) { // \sin^2 x
        p->pos++;
        if (!(pw = parse_arg(p))) return NULL;
    }
    // \sin^{-1} x is arcsin x
    if (pw && pw->k == MX_NEG && pw->kids[0]->k == MX_NUM && mpq_cmp_ui(pw->kids[0]->q, 1, 1) == 0 &&
        (!strcmp(f->name, "sin") || !strcmp(f->name, "cos") || !strcmp(f->name, "tan"))) {
        char *nm = malloc(8);
        if (!nm) { fail(p, "out of memory"); return NULL; }
        snprintf(nm, 8, "arc%s", f->name);
        free(f->name);
        f->name = nm;
        pw = NULL;
    }
    if (is_op(p, '(')) {
        p->pos++;
        f->kids[0] = parse_rel(p);
        if (!f->kids[0]) return NULL;
        if (!is_op(p, ')')) { fail(p, "expected )"); return NULL; }
        p->pos++;
    } else if (!(f->kids[0] = parse_arg(p))) return NULL;
    return pw ? bin(p, MX_POW, f, pw) : f;
}

static MxNode *parse_matrix(P *p) {
    // rows separated by \\, entries by &, up to \end{...}
    int cap = 16, n = 0, rows = 0, cols = -1, cur = 0;
    MxNode **el = malloc((size_t)cap * sizeof *el);
    if (!el) { fail(p, "out of memory"); return NULL; }
    MxNode *m = NULL;
    for (;;) {
        if (peek(p)->k == T_ENDENV) { p->pos++; break; }
        if (peek(p)->k == T_END) { fail(p, "unterminated matrix"); goto done; }
        MxNode *e = parse_rel(p);
        if (!e) goto done;
        if (n == cap) {
            MxNode **g = realloc(el, (size_t)(cap *= 2) * sizeof *el);
            if (!g) { fail(p, "out of memory"); goto done; }
            el = g;
        }
        el[n++] = e;
        cur++;
        if (is_op(p, '&')) { p->pos++; continue; }
        // end of a row
        if (cols < 0) cols = cur;
        else if (cols != cur) { fail(p, "ragged matrix"); goto done; }
        rows++;
        cur = 0;
        if (peek(p)->k == T_ROWSEP) { p->pos++; continue; }
        if (peek(p)->k != T_ENDENV) { fail(p, "expected & or \\\\ in matrix"); goto done; }
    }
    if (rows == 0) { fail(p, "empty matrix"); goto done; }
    if (!(m = node(p, MX_MATRIX, n))) goto done;
    memcpy(m->kids, el, (size_t)n * sizeof *el);
    m->rows = rows, m->cols = cols;
done:
    free(el);
    return m;
}

static MxNode *parse_primary(P *p, int no_mixed) {
    if (enter(p)) return NULL;
    MxNode *r = NULL;
    Tok *t = peek(p);
    switch (t->k) {
    case T_NUM: {
        p->pos++;
        r = number(p, t);
        // 0.1\overline{6} = 1/6: a repeating decimal
        if (r && is_cmd(p, "overline") && memchr(t->s, '.', (size_t)t->len) && !memchr(t->s, 'e', (size_t)t->len) &&
            p->pos + 3 < p->nt && p->t[p->pos + 1].k == T_OP && p->t[p->pos + 1].c == '{' &&
            p->t[p->pos + 2].k == T_NUM && p->t[p->pos + 3].k == T_OP && p->t[p->pos + 3].c == '}') {
            const Tok *rep = &p->t[p->pos + 2];
            const char *dot = memchr(t->s, '.', (size_t)t->len);
            int f = (int)(t->s + t->len - dot - 1), k = rep->len, digits = 1;
            for (int i = 0; i < k; i++) digits &= isdigit((unsigned char)rep->s[i]) != 0;
            if (digits && k <= 50 && f <= 50) {
                char buf[64];
                memcpy(buf, rep->s, (size_t)k);
                buf[k] = 0;
                mpq_t c;
                mpz_t den;
                mpq_init(c);
                mpz_init(den);
                mpz_set_str(mpq_numref(c), buf, 10);
                mpz_ui_pow_ui(den, 10, (unsigned long)k);
                mpz_sub_ui(den, den, 1);
                mpz_t tf;
                mpz_init(tf);
                mpz_ui_pow_ui(tf, 10, (unsigned long)f);
                mpz_mul(den, den, tf);
                mpq_set_den(c, den);
                mpq_canonicalize(c);
                mpq_add(r->q, r->q, c);
                mpz_clears(den, tf, NULL);
                mpq_clear(c);
                p->pos += 4;
            }
        }
        // mixed number: 2\frac{1}{2} = 5/2
        int plain = 1;
        for (int i = 0; i < t->len; i++) plain &= isdigit((unsigned char)t->s[i]) != 0;
        if (r && plain && !no_mixed && is_cmd(p, "frac") && p->pos + 6 < p->nt) {
            Tok *u = &p->t[p->pos];
            if (u[1].k == T_OP && u[1].c == '{' && u[2].k == T_NUM && u[3].k == T_OP && u[3].c == '}' &&
                u[4].k == T_OP && u[4].c == '{' && u[5].k == T_NUM && u[6].k == T_OP && u[6].c == '}') {
                p->pos++;
                MxNode *f = parse_arg(p), *g = f ? parse_arg(p) : NULL;
                r = bin(p, MX_ADD, r, bin(p, MX_DIV, f, g));
            }
        }
        break;
    }
    case T_ID:
        p->pos++;
        if (t->len == 1 && t->s[0] == 'e') r = node(p, MX_E, 0);
        else if (word_is(t, "pi")) r = node(p, MX_PI, 0);
        else if (word_is(t, "inf") || word_is(t, "infty") || word_is(t, "infinity")) r = node(p, MX_INF, 0);
        else if (word_is(t, "sqrt")) r = parse_func(p, "sqrt", 4);
        else if (is_func(t->s, t->len)) r = parse_func(p, t->s, t->len);
        else {
            r = named(p, t->len > 1 ? MX_TEXT : MX_SYM, t->s, t->len, 0);
            if (r && is_op(p, '_')) { // x_1, x_{n+1}: one name
                int b = ++p->pos;
                if (is_op(p, '{')) {
                    int d = 0;
                    do {
                        if (is_op(p, '{')) d++;
                        else if (is_op(p, '}')) d--;
                        if (peek(p)->k == T_END) { fail(p, "unterminated subscript"); return NULL; }
                        p->pos++;
                    } while (d > 0);
                } else if (peek(p)->k != T_END) p->pos++;
                const char *e = p->pos < p->nt ? p->t[p->pos].s : p->t[p->nt - 1].s;
                const char *s0 = p->t[b].s;
                size_t ln = strlen(r->name) + 1 + (size_t)(e - s0) + 1;
                char *nm = malloc(ln);
                if (!nm) { fail(p, "out of memory"); return NULL; }
                snprintf(nm, ln, "%s_%.*s", r->name, (int)(e - s0), s0);
                // drop spaces so x_{1} and x_1 agree
                char *o = nm;
                for (char *q = nm; *q; q++)
                    if (*q != ' ' && *q != '{' && *q != '}') *o++ = *q;
                *o = 0;
                free(r->name);
                r->name = nm;
            }
        }
        break;
    case T_CMD:
        p->pos++;
        if (word_is(t, "frac") || word_is(t, "over")) {
            MxNode *a = parse_arg(p), *b = a ? parse_arg(p) : NULL;
            r = bin(p, MX_DIV, a, b);
        } else if (word_is(t, "binom") || word_is(t, "choose")) {
            MxNode *a = parse_arg(p), *b = a ? parse_arg(p) : NULL;
            if (a && b && (r = named(p, MX_FUNC, "binom", 5, 2))) r->kids[0] = a, r->kids[1] = b;
        } else if (word_is(t, "sqrt")) {
            MxNode *idx = NULL;
            if (is_op(p, '[')) {
                p->pos++;
                if (!(idx = parse_sum(p))) return NULL;
                if (!is_op(p, ']')) { fail(p, "expected ]"); return NULL; }
                p->pos++;
            }
            MxNode *a = parse_arg(p);
            if (!a) return NULL;
            if (idx) r = bin(p, MX_ROOT, a, idx);
            else if ((r = named(p, MX_FUNC, "sqrt", 4, 1))) r->kids[0] = a;
        } else if (word_is(t, "lfloor") || word_is(t, "lceil")) {
            int fl = word_is(t, "lfloor");
            MxNode *a = parse_sum(p);
            if (!a) return NULL;
            if (!is_cmd(p, fl ? "rfloor" : "rceil")) { fail(p, fl ? "expected \\rfloor" : "expected \\rceil"); return NULL; }
            p->pos++;
            if ((r = named(p, MX_FUNC, fl ? "floor" : "ceil", fl ? 5 : 4, 1))) r->kids[0] = a;
        } else if (word_is(t, "pi")) r = node(p, MX_PI, 0);
        else if (word_is(t, "infty") || word_is(t, "infin")) r = node(p, MX_INF, 0);
        else if (word_is(t, "emptyset") || word_is(t, "varnothing")) r = node(p, MX_SET, 0);
        else if (is_func(t->s, t->len) || word_is(t, "arcsec") || word_is(t, "arccot")) r = parse_func(p, t->s, t->len);
        else if (word_is(t, "mathbb") || word_is(t, "mathcal")) {
            MxNode *a = parse_arg(p);
            if (a && a->k == MX_SYM) { r = a; r->k = MX_TEXT; }
            else if (a) fail(p, "unsupported \\mathbb");
        } else {
            static const char *const not_values[] = {"cdot", "times", "div", "pm", "mp", "le", "leq", "ge", "geq", "ne",
                                                     "neq", "lt", "gt", "cup", "cap", "in", "to", "rightarrow",
                                                     "approx", "equiv", "implies", "Rightarrow", "ast", "setminus", NULL};
            for (int i = 0; not_values[i]; i++)
                if (word_is(t, not_values[i])) { fail(p, "operator where a value was expected"); return NULL; }
            r = named(p, MX_SYM, t->s - 1, t->len + 1, 0); // \alpha, \theta: variables
        }
        break;
    case T_OP:
        if (t->c == '(' || t->c == '[') {
            p->pos++;
            int n = 0;
            MxNode *l = parse_list(p, ')', ']', T_END, &n);
            if (!l) return NULL;
            char close = peek(p)->c;
            p->pos++;
            if (n == 1 && ((t->c == '(' && close == ')') || (t->c == '[' && close == ']'))) r = l->kids[0];
            else {
                r = l;
                r->k = MX_TUPLE;
                r->open = t->c, r->close = close;
            }
        } else if (t->c == '{') {
            p->pos++;
            int n = 0;
            MxNode *l = parse_list(p, '}', '}', T_END, &n);
            if (!l) return NULL;
            p->pos++;
            if (n == 1) r = l->kids[0];
            else { r = l; r->k = MX_SET; }
        } else if (t->c == '|') {
            p->pos++;
            MxNode *a = parse_sum(p);
            if (!a) return NULL;
            if (!is_op(p, '|')) { fail(p, "expected |"); return NULL; }
            p->pos++;
            if ((r = node(p, MX_ABS, 1))) r->kids[0] = a;
        } else fail(p, "unexpected operator");
        break;
    case T_LSET: {
        p->pos++;
        int n = 0;
        MxNode *l = parse_list(p, 0, 0, T_RSET, &n);
        if (!l) return NULL;
        p->pos++;
        r = l;
        r->k = MX_SET;
        break;
    }
    case T_BEGIN:
        p->pos++;
        if (strstr(t->s, "matrix") == t->s + t->len - 6 || word_is(t, "array")) {
            if (word_is(t, "array") && is_op(p, '{')) { // column spec
                while (!is_op(p, '}') && peek(p)->k != T_END) p->pos++;
                if (peek(p)->k == T_END) { fail(p, "bad array"); return NULL; }
                p->pos++;
            }
            r = parse_matrix(p);
        } else fail(p, "unsupported environment");
        break;
    default:
        fail(p, peek(p)->k == T_END ? "unexpected end" : "unexpected token");
    }
    p->depth--;
    if (!r) { fail(p, "syntax error"); return NULL; }
    // factorial
    while (is_op(p, '!') && !(p->t[p->pos + 1].k == T_OP && p->t[p->pos + 1].c == '=')) {
        p->pos++;
        MxNode *f = node(p, MX_FACT, 1);
        if (!f) return NULL;
        f->kids[0] = r;
        r = f;
    }
    return r;
}

static MxNode *parse_power(P *p, int no_mixed) {
    if (enter(p)) return NULL;
    MxNode *b = parse_primary(p, no_mixed);
    if (b && is_op(p, '^')) {
        p->pos++;
        MxNode *e;
        if (is_op(p, '-') || is_op(p, '+')) { // x^-1
            int neg = is_op(p, '-');
            p->pos++;
            e = parse_power(p, 1);
            if (e && neg) {
                MxNode *m = node(p, MX_NEG, 1);
                if (m) m->kids[0] = e;
                e = m;
            }
        } else e = parse_power(p, 1);
        b = bin(p, MX_POW, b, e);
    }
    p->depth--;
    return b;
}

static int starts_value(P *p) {
    Tok *t = peek(p);
    if (t->k == T_ID && word_is(t, "U")) return 0; // (1,2) U (3,4): a union
    if (t->k == T_NUM || t->k == T_ID || t->k == T_LSET || t->k == T_BEGIN) return 1;
    if (t->k == T_OP) return t->c == '(' || t->c == '{' || t->c == '[';
    if (t->k == T_CMD) {
        static const char *const ops[] = {"cdot", "times", "div", "pm", "mp", "le", "leq", "ge", "geq", "ne",
                                          "neq", "lt", "gt", "cup", "cap", "in", "to", "rightarrow", "approx",
                                          "equiv", "implies", "Rightarrow", "ast", "setminus", "rfloor", "rceil", NULL};
        for (int i = 0; ops[i]; i++)
            if (word_is(t, ops[i])) return 0;
        return 1;
    }
    return 0;
}

static MxNode *parse_unary(P *p) {
    if (enter(p)) return NULL;
    MxNode *r;
    if (is_op(p, '-')) {
        p->pos++;
        MxNode *a = parse_unary(p);
        r = a ? node(p, MX_NEG, 1) : NULL;
        if (r) r->kids[0] = a;
    } else if (is_op(p, '+')) {
        p->pos++;
        r = parse_unary(p);
    } else if (is_cmd(p, "pm")) {
        p->pos++;
        MxNode *z = node(p, MX_NUM, 0);
        if (z) { mpq_init(z->q); z->has_q = 1; }
        r = bin(p, MX_PM, z, parse_unary(p));
    } else r = parse_power(p, 0);
    p->depth--;
    return r;
}

static MxNode *parse_term(P *p) {
    if (enter(p)) return NULL;
    MxNode *l = parse_unary(p);
    while (l) {
        if (mx_clock_up(p->a->clock)) { fail(p, "time limit"); return NULL; }
        if (is_op(p, '*') || is_cmd(p, "cdot") || is_cmd(p, "times") || is_cmd(p, "ast")) {
            p->pos++;
            l = bin(p, MX_MUL, l, parse_unary(p));
        } else if (is_op(p, '/') || is_cmd(p, "div")) {
            p->pos++;
            l = bin(p, MX_DIV, l, parse_unary(p));
        } else if (starts_value(p)) {
            l = bin(p, MX_MUL, l, parse_power(p, 0));
        } else break;
    }
    p->depth--;
    return l;
}

static MxNode *parse_sum(P *p) {
    if (enter(p)) return NULL;
    MxNode *l = parse_term(p);
    while (l) {
        if (mx_clock_up(p->a->clock)) { fail(p, "time limit"); return NULL; }
        if (is_op(p, '+')) { p->pos++; l = bin(p, MX_ADD, l, parse_term(p)); }
        else if (is_op(p, '-')) { p->pos++; l = bin(p, MX_SUB, l, parse_term(p)); }
        else if (is_cmd(p, "pm")) { p->pos++; l = bin(p, MX_PM, l, parse_term(p)); }
        else if (is_cmd(p, "mp")) {
            p->pos++;
            MxNode *t = parse_term(p), *m = t ? node(p, MX_NEG, 1) : NULL;
            if (m) m->kids[0] = t;
            l = bin(p, MX_PM, l, m);
        } else break;
    }
    p->depth--;
    return l;
}

static MxNode *parse_union(P *p) {
    MxNode *l = parse_sum(p);
    if (!l || !(is_cmd(p, "cup") || (peek(p)->k == T_ID && word_is(peek(p), "U")))) return l;
    int cap = 8;
    MxNode *u = node(p, MX_UNION, cap);
    if (!u) return NULL;
    u->n = 0;
    u->kids[u->n++] = l;
    while (is_cmd(p, "cup") || (peek(p)->k == T_ID && word_is(peek(p), "U"))) {
        p->pos++;
        MxNode *r = parse_sum(p);
        if (!r) return NULL;
        if (u->n == cap) {
            MxNode **k = realloc(u->kids, (size_t)(cap *= 2) * sizeof *k);
            if (!k) { fail(p, "out of memory"); return NULL; }
            u->kids = k;
        }
        u->kids[u->n++] = r;
    }
    return u;
}

static int relop(P *p) {
    Tok *t = peek(p);
    if (t->k == T_OP) {
        if (t->c == '=') return MX_EQ;
        if (t->c == '<') return MX_LT;
        if (t->c == '>') return MX_GT;
        return -1;
    }
    if (t->k != T_CMD) return -1;
    if (word_is(t, "le") || word_is(t, "leq")) return MX_LE;
    if (word_is(t, "ge") || word_is(t, "geq")) return MX_GE;
    if (word_is(t, "lt")) return MX_LT;
    if (word_is(t, "gt")) return MX_GT;
    if (word_is(t, "ne") || word_is(t, "neq")) return MX_NE;
    if (word_is(t, "approx") || word_is(t, "equiv")) return MX_EQ;
    if (word_is(t, "in")) return MX_IN;
    return -1;
}

static MxNode *parse_rel(P *p) {
    if (enter(p)) return NULL;
    MxNode *first = parse_union(p);
    if (!first || relop(p) < 0) { p->depth--; return first; }
    int cap = 4;
    MxNode *r = node(p, MX_REL, cap);
    if (!r || !(r->ops = malloc((size_t)cap * sizeof *r->ops))) { fail(p, "out of memory"); return NULL; }
    r->n = 0;
    r->kids[r->n++] = first;
    int op;
    while ((op = relop(p)) >= 0) {
        p->pos++;
        MxNode *x = parse_union(p);
        if (!x) return NULL;
        if (r->n == cap) {
            cap *= 2;
            MxNode **k = realloc(r->kids, (size_t)cap * sizeof *k);
            if (k) r->kids = k;
            int *o = realloc(r->ops, (size_t)cap * sizeof *o);
            if (o) r->ops = o;
            if (!k || !o) { fail(p, "out of memory"); return NULL; }
        }
        r->ops[r->n - 1] = op;
        r->kids[r->n++] = x;
    }
    p->depth--;
    return r;
}

// Items separated by , or ; up to a closing token (not consumed). Returns a
// MX_LIST node holding them.
static MxNode *parse_list(P *p, char close1, char close2, TokK closek, int *nout) {
    int cap = 4;
    MxNode *l = node(p, MX_LIST, cap);
    if (!l) return NULL;
    l->n = 0;
    for (;;) {
        Tok *t = peek(p);
        if (closek != T_END ? t->k == closek : (t->k == T_OP && (t->c == close1 || t->c == close2))) break;
        if (t->k == T_END) {
            if (close1 || closek != T_END) { fail(p, "unclosed bracket"); return NULL; }
            break;
        }
        MxNode *e = parse_rel(p);
        if (!e) return NULL;
        if (l->n == cap) {
            MxNode **k = realloc(l->kids, (size_t)(cap *= 2) * sizeof *k);
            if (!k) { fail(p, "out of memory"); return NULL; }
            l->kids = k;
        }
        l->kids[l->n++] = e;
        if (is_op(p, ',') || is_op(p, ';')) { p->pos++; continue; }
        t = peek(p);
        if (closek != T_END ? t->k == closek : (t->k == T_OP && (t->c == close1 || t->c == close2))) break;
        if (t->k == T_END && !close1 && closek == T_END) break;
        fail(p, "expected , or a closing bracket");
        return NULL;
    }
    *nout = l->n;
    if (l->n == 0 && (close1 == ')' || close1 == '}') && closek == T_END) { fail(p, "empty brackets"); return NULL; }
    return l;
}

MxNode *mx_parse(MxArena *a, const char *s, char *err, size_t en) {
    P p = {0};
    p.a = a;
    p.err = err, p.en = en;
    if (err && en) err[0] = 0;
    if (strlen(s) > MX_MAX_INPUT) { fail(&p, "answer too long"); return NULL; }
    MxNode *r = NULL;
    if (lex(&p, s) == 0) {
        if (p.text) { // words: compared as text
            r = mx_new(a, MX_TEXT, 0);
            if (r && (r->name = strdup(s)) == NULL) r = NULL;
            if (!r) fail(&p, "out of memory");
        } else {
            int n = 0;
            MxNode *l = parse_list(&p, 0, 0, T_END, &n);
            if (l && peek(&p)->k != T_END) fail(&p, "trailing input");
            else if (l && n == 0) fail(&p, "empty answer");
            else if (l) r = n == 1 ? l->kids[0] : l;
        }
    }
    free(p.t);
    return p.failed ? NULL : r;
}
