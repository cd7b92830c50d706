// Whether two parsed answers are the same: the structural rules for
// assignments, \pm, intervals / inequalities / unions, tuples vs sets vs lists,
// matrices, text and equations; numbers go to mx_scalar_equal (math_eval.c).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rewards/math_internal.h"

typedef struct { MxCtx *c; MxArena *arena; char buf[80]; } Eq;

static int eq(Eq *e, MxNode *a, MxNode *b, const char **why, int depth);

// y = ..., f(x) = ...: a name on the left of one =
static int is_assign(const MxNode *n) {
    if (n->k != MX_REL || n->n != 2 || n->ops[0] != MX_EQ) return 0;
    const MxNode *l = n->kids[0];
    if (l->k == MX_TUPLE) { // (a, b) = (1, 2)
        for (int i = 0; i < l->n; i++)
            if (l->kids[i]->k != MX_SYM) return 0;
        return 1;
    }
    return l->k == MX_SYM || (l->k == MX_MUL && l->kids[0]->k == MX_SYM && l->kids[1]->k == MX_SYM);
}
static int is_ineq(const MxNode *n) {
    if (n->k != MX_REL) return 0;
    if (n->n == 2 && n->ops[0] == MX_NE) return 1; // handled by intervals()
    for (int i = 0; i < n->n - 1; i++)
        if (n->ops[i] == MX_EQ || n->ops[i] == MX_NE || n->ops[i] == MX_IN) return 0;
    return 1;
}
static int is_collection(const MxNode *n) {
    return n->k == MX_LIST || n->k == MX_SET || n->k == MX_TUPLE || n->k == MX_UNION || n->k == MX_MATRIX;
}

static MxNode *mk_inf(Eq *e, int neg) {
    MxNode *i = mx_new(e->arena, MX_INF, 0);
    if (!i || !neg) return i;
    MxNode *n = mx_new(e->arena, MX_NEG, 1);
    if (n) n->kids[0] = i;
    return n;
}
static MxNode *mk_interval(Eq *e, MxNode *lo, MxNode *hi, char open, char close) {
    MxNode *t = mx_new(e->arena, MX_TUPLE, 2);
    if (!t || !lo || !hi) return NULL;
    t->kids[0] = lo, t->kids[1] = hi;
    t->open = open, t->close = close;
    return t;
}

// x > 3 -> (3, inf); 1 <= x < 2 -> [1, 2); NULL when n is no such inequality.
static MxNode *ineq_interval(Eq *e, MxNode *n) {
    if (!is_ineq(n) || n->ops[0] == MX_NE) return NULL;
    if (n->n == 2) {
        int op = n->ops[0];
        MxNode *v = n->kids[0], *k = n->kids[1];
        if (v->k != MX_SYM) { // 3 < x: flip
            if (k->k != MX_SYM) return NULL;
            v = n->kids[1], k = n->kids[0];
            op = op == MX_LT ? MX_GT : op == MX_GT ? MX_LT : op == MX_LE ? MX_GE : MX_LE;
        }
        if (op == MX_GT) return mk_interval(e, k, mk_inf(e, 0), '(', ')');
        if (op == MX_GE) return mk_interval(e, k, mk_inf(e, 0), '[', ')');
        if (op == MX_LT) return mk_interval(e, mk_inf(e, 1), k, '(', ')');
        return mk_interval(e, mk_inf(e, 1), k, '(', ']');
    }
    if (n->n == 3 && n->kids[1]->k == MX_SYM) {
        int o1 = n->ops[0], o2 = n->ops[1];
        int up = (o1 == MX_LT || o1 == MX_LE) && (o2 == MX_LT || o2 == MX_LE);
        int down = (o1 == MX_GT || o1 == MX_GE) && (o2 == MX_GT || o2 == MX_GE);
        if (up) return mk_interval(e, n->kids[0], n->kids[2], o1 == MX_LE ? '[' : '(', o2 == MX_LE ? ']' : ')');
        if (down) return mk_interval(e, n->kids[2], n->kids[0], o2 == MX_GE ? '[' : '(', o1 == MX_GE ? ']' : ')');
    }
    return NULL;
}

// The intervals of a union, an interval, an inequality or a list of those; -1 if not one.
static int intervals(Eq *e, MxNode *n, MxNode **out, int max) {
    if (n->k == MX_TUPLE && n->n == 2) { out[0] = n; return 1; }
    MxNode *iv = ineq_interval(e, n);
    if (iv) { out[0] = iv; return 1; }
    if (n->k == MX_UNION || n->k == MX_LIST) {
        int k = 0;
        for (int i = 0; i < n->n; i++) {
            int m = intervals(e, n->kids[i], out + k, max - k);
            if (m < 0) return -1;
            k += m;
        }
        return k;
    }
    if (n->k == MX_REL && n->n == 2 && n->ops[0] == MX_NE && max >= 2 &&
        (n->kids[0]->k == MX_SYM) != (n->kids[1]->k == MX_SYM)) { // x != c: two open rays
        MxNode *c = n->kids[0]->k == MX_SYM ? n->kids[1] : n->kids[0];
        out[0] = mk_interval(e, mk_inf(e, 1), c, '(', ')');
        out[1] = mk_interval(e, c, mk_inf(e, 0), '(', ')');
        return out[0] && out[1] ? 2 : -1;
    }
    if (n->k == MX_SET && n->n == 0) return 0; // the empty set
    return -1;
}

static int seq_equal(Eq *e, MxNode **a, MxNode **b, int n, const char **why, int depth) {
    for (int i = 0; i < n; i++) {
        if (eq(e, a[i], b[i], why, depth + 1) != 1) {
            if (**why == 'e') *why = "an element differs";
            return 0;
        }
    }
    *why = "equal";
    return 1;
}

#define MAX_UNORDERED 64
static int unordered_equal(Eq *e, MxNode **a, int na, MxNode **b, int nb, const char **why, int depth) {
    if (na != nb) { *why = "different number of elements"; return 0; }
    if (na > MAX_UNORDERED) return seq_equal(e, a, b, na, why, depth);
    char used[MAX_UNORDERED] = {0};
    for (int i = 0; i < na; i++) {
        int found = 0;
        for (int j = 0; j < nb && !found; j++) {
            const char *w;
            if (!used[j] && eq(e, a[i], b[j], &w, depth + 1) == 1) used[j] = 1, found = 1;
        }
        if (!found) { *why = "elements differ"; return 0; }
    }
    *why = "equal";
    return 1;
}

// Replaces the PM nodes of a tree by + or - as the bits of mask say.
static MxNode *pm_variant(Eq *e, MxNode *n, int *bit, int mask, int depth) {
    if (!n || n->n == 0 || depth > MX_EVAL_DEPTH) return n;
    MxNode *c = mx_new(e->arena, n->k, n->n);
    if (!c) return NULL;
    c->open = n->open, c->close = n->close, c->rows = n->rows, c->cols = n->cols;
    if (n->name && !(c->name = strdup(n->name))) return NULL;
    if (n->ops) {
        if (!(c->ops = malloc((size_t)n->n * sizeof *c->ops))) return NULL;
        memcpy(c->ops, n->ops, (size_t)(n->n - 1) * sizeof *c->ops);
    }
    if (n->k == MX_PM) c->k = ((mask >> (*bit)++) & 1) ? MX_SUB : MX_ADD;
    for (int i = 0; i < n->n; i++)
        if (!(c->kids[i] = pm_variant(e, n->kids[i], bit, mask, depth + 1))) return NULL;
    return c;
}
static int count_pm(const MxNode *n, int depth) {
    if (!n || depth > MX_EVAL_DEPTH) return 0;
    int k = n->k == MX_PM;
    for (int i = 0; i < n->n; i++) k += count_pm(n->kids[i], depth + 1);
    return k;
}
// a +- b -> the list {a + b, a - b}
static MxNode *expand_pm(Eq *e, MxNode *n) {
    int k = count_pm(n, 0);
    if (k == 0 || k > 3) return n;
    MxNode *l = mx_new(e->arena, MX_LIST, 1 << k);
    if (!l) return NULL;
    for (int m = 0; m < (1 << k); m++) {
        int bit = 0;
        if (!(l->kids[m] = pm_variant(e, n, &bit, m, 0))) return NULL;
    }
    return l;
}

static const char *kind_name(MxKind k) {
    switch (k) {
    case MX_LIST: return "list";
    case MX_SET: return "set";
    case MX_TUPLE: return "tuple";
    case MX_UNION: return "union";
    case MX_MATRIX: return "matrix";
    case MX_REL: return "relation";
    case MX_TEXT: return "text";
    default: return "number";
    }
}

static int eq(Eq *e, MxNode *a, MxNode *b, const char **why, int depth) {
    *why = "equal";
    if (!a || !b) { *why = "out of memory"; return 0; }
    if (depth > 50 || mx_clock_up(e->c->clock)) { *why = "too deep"; return 0; }
    // x \in S -> S
    if (a->k == MX_REL && a->n == 2 && a->ops[0] == MX_IN) a = a->kids[1];
    if (b->k == MX_REL && b->n == 2 && b->ops[0] == MX_IN) b = b->kids[1];
    // assignments: x = 6 is 6, but not y = 6
    if (is_assign(a) && is_assign(b)) {
        const char *w;
        if (eq(e, a->kids[0], b->kids[0], &w, depth + 1) != 1) { *why = "different variables"; return 0; }
        return eq(e, a->kids[1], b->kids[1], why, depth + 1);
    }
    if (is_assign(a) && b->k != MX_REL) return eq(e, a->kids[1], b, why, depth + 1);
    if (is_assign(b) && a->k != MX_REL) return eq(e, a, b->kids[1], why, depth + 1);
    // a +- b
    int pa = count_pm(a, 0), pb = count_pm(b, 0);
    if (pa || pb) {
        MxNode *xa = pa ? expand_pm(e, a) : a, *xb = pb ? expand_pm(e, b) : b;
        if (!xa || !xb || (pa && xa == a) || (pb && xb == b)) { *why = "too many \\pm"; return 0; }
        MxNode **ka = xa->k == MX_LIST || xa->k == MX_SET ? xa->kids : &xa;
        MxNode **kb = xb->k == MX_LIST || xb->k == MX_SET ? xb->kids : &xb;
        int na = ka == &xa ? 1 : xa->n, nb = kb == &xb ? 1 : xb->n;
        return unordered_equal(e, ka, na, kb, nb, why, depth);
    }
    // intervals, unions and inequalities
    int ia = a->k == MX_UNION || is_ineq(a) || (a->k == MX_LIST && a->n > 0 && is_ineq(a->kids[0]));
    int ib = b->k == MX_UNION || is_ineq(b) || (b->k == MX_LIST && b->n > 0 && is_ineq(b->kids[0]));
    if (ia || ib) {
        MxNode *va[MAX_UNORDERED], *vb[MAX_UNORDERED];
        int na = intervals(e, a, va, MAX_UNORDERED), nb = intervals(e, b, vb, MAX_UNORDERED);
        if (na >= 0 && nb >= 0) return unordered_equal(e, va, na, vb, nb, why, depth);
        if (is_ineq(a) && is_ineq(b) && a->n == b->n) { // same relation written alike
            for (int i = 0; i < a->n - 1; i++)
                if (a->ops[i] != b->ops[i]) { *why = "different relations"; return 0; }
            return seq_equal(e, a->kids, b->kids, a->n, why, depth);
        }
        *why = "different kinds (interval vs other)";
        return 0;
    }
    if (a->k == MX_REL || b->k == MX_REL) {
        if (a->k != MX_REL || b->k != MX_REL) { *why = "different kinds (relation vs value)"; return 0; }
        if (a->n == 2 && b->n == 2 && a->ops[0] == MX_EQ && b->ops[0] == MX_EQ) { // equations
            const char *w;
            if (eq(e, a->kids[0], b->kids[0], &w, depth + 1) == 1 && eq(e, a->kids[1], b->kids[1], &w, depth + 1) == 1) return 1;
            if (eq(e, a->kids[0], b->kids[1], &w, depth + 1) == 1 && eq(e, a->kids[1], b->kids[0], &w, depth + 1) == 1) return 1;
            MxNode *da = mx_new(e->arena, MX_SUB, 2), *db = mx_new(e->arena, MX_SUB, 2), *nb = mx_new(e->arena, MX_SUB, 2);
            if (!da || !db || !nb) { *why = "out of memory"; return 0; }
            da->kids[0] = a->kids[0], da->kids[1] = a->kids[1];
            db->kids[0] = b->kids[0], db->kids[1] = b->kids[1];
            nb->kids[0] = b->kids[1], nb->kids[1] = b->kids[0];
            if (mx_scalar_equal(e->c, da, db, &w) == 1 || mx_scalar_equal(e->c, da, nb, &w) == 1) return 1;
            *why = "different equations";
            return 0;
        }
        if (a->n != b->n) { *why = "different relations"; return 0; }
        for (int i = 0; i < a->n - 1; i++)
            if (a->ops[i] != b->ops[i]) { *why = "different relations"; return 0; }
        return seq_equal(e, a->kids, b->kids, a->n, why, depth);
    }
    if (a->k == MX_TEXT || b->k == MX_TEXT) {
        if (!((a->k == MX_TEXT || a->k == MX_SYM) && (b->k == MX_TEXT || b->k == MX_SYM))) {
            *why = "different kinds (text vs math)";
            return 0;
        }
        char ka[256], kb[256];
        mathn_textkey(a->name, ka, sizeof ka);
        mathn_textkey(b->name, kb, sizeof kb);
        if (strcmp(ka, kb) == 0 && ka[0]) return 1;
        *why = "different text";
        return 0;
    }
    if (is_collection(a) || is_collection(b)) {
        if (!is_collection(a) || !is_collection(b)) {
            snprintf(e->buf, sizeof e->buf, "different kinds (%s vs %s)", kind_name(a->k), kind_name(b->k));
            *why = e->buf;
            return 0;
        }
        MxKind ka = a->k, kb = b->k;
        if ((ka == MX_LIST || ka == MX_SET) && (kb == MX_LIST || kb == MX_SET))
            return unordered_equal(e, a->kids, a->n, b->kids, b->n, why, depth);
        if (ka == MX_TUPLE && kb == MX_TUPLE) {
            if (a->n != b->n) { *why = "different lengths"; return 0; }
            if (a->open != b->open || a->close != b->close) { *why = "different brackets (open/closed ends)"; return 0; }
            return seq_equal(e, a->kids, b->kids, a->n, why, depth);
        }
        if ((ka == MX_LIST && kb == MX_TUPLE) || (ka == MX_TUPLE && kb == MX_LIST)) {
            if (a->n != b->n) { *why = "different lengths"; return 0; }
            return seq_equal(e, a->kids, b->kids, a->n, why, depth);
        }
        if (ka == MX_MATRIX && kb == MX_MATRIX) {
            if (a->rows != b->rows || a->cols != b->cols) { *why = "different matrix shapes"; return 0; }
            return seq_equal(e, a->kids, b->kids, a->n, why, depth);
        }
        if ((ka == MX_MATRIX && (kb == MX_TUPLE || kb == MX_LIST) && (a->rows == 1 || a->cols == 1)) ||
            (kb == MX_MATRIX && (ka == MX_TUPLE || ka == MX_LIST) && (b->rows == 1 || b->cols == 1))) {
            if (a->n != b->n) { *why = "different lengths"; return 0; }
            return seq_equal(e, a->kids, b->kids, a->n, why, depth);
        }
        snprintf(e->buf, sizeof e->buf, "different kinds (%s vs %s)", kind_name(ka), kind_name(kb));
        *why = e->buf;
        return 0;
    }
    return mx_scalar_equal(e->c, a, b, why);
}

int mx_equiv(MxCtx *c, MxArena *arena, MxNode *a, MxNode *b, char *why, size_t wn) {
    Eq e = {c, arena, ""};
    const char *w = "equal";
    int r = eq(&e, a, b, &w, 0);
    if (c->clock && c->clock->expired) c->timed_out = 1, r = 0, w = "time limit";
    if (why && wn) snprintf(why, wn, "%s", w);
    return r;
}
