// n-digit addition, subtraction and multiplication, with the schoolbook steps
// (carries, borrows, partial products) as the worked solution.
#include <stdio.h>
#include <string.h>

#include "datasets/gen_internal.h"
#include "kernels/status.h"

static int digit_at(long long x, int i) { // i-th digit from the right
    while (i-- > 0) x /= 10;
    return (int)(x % 10);
}

static int n_digits(long long x) {
    int n = 1;
    while (x >= 10) x /= 10, n++;
    return n;
}

// A sloppy teacher forgets a pending carry or borrow with chance slip%. The RNG
// is drawn only then, so slip = 0 leaves every instance as it always was.
static int slips(GenRng *r, int slip) { return slip > 0 && (int)gen_rng_below(r, 100) < slip; }

// Writes the column-by-column steps; returns the result those steps reach
// (a + b unless a carry was forgotten).
static long long add_steps(GenBuf *t, GenRng *r, int slip, long long a, long long b) {
    int cols = n_digits(a > b ? a : b), carry = 0;
    long long result = 0, place = 1;
    genbuf_printf(t, "Add column by column from the right.");
    for (int i = 0; i < cols; i++, place *= 10) {
        int da = digit_at(a, i), db = digit_at(b, i);
        if (carry && slips(r, slip)) carry = 0;
        int s = da + db + carry;
        if (carry) genbuf_printf(t, " %d + %d + %d = %d", da, db, carry, s);
        else genbuf_printf(t, " %d + %d = %d", da, db, s);
        carry = s / 10;
        result += (s % 10) * place;
        genbuf_printf(t, ", write %d%s.", s % 10, carry ? ", carry 1" : "");
    }
    if (carry) { // the teacher only ever slips when adding a carry into a column
        genbuf_printf(t, " Write the last carry 1.");
        result += place;
    }
    return result;
}

static long long sub_steps(GenBuf *t, GenRng *r, int slip, long long a, long long b) { // a >= b
    int cols = n_digits(a), borrow = 0;
    long long result = 0, place = 1;
    genbuf_printf(t, "Subtract column by column from the right.");
    for (int i = 0; i < cols; i++, place *= 10) {
        int da = digit_at(a, i), db = digit_at(b, i);
        if (borrow && slips(r, slip)) borrow = 0;
        int d = da - borrow - db;
        int nb = d < 0;
        if (nb) d += 10;
        genbuf_printf(t, " %s%d - %d%s = %d%s.", nb ? "1" : "", da, db, borrow ? " - 1" : "", d, nb ? ", borrow 1" : "");
        result += d * place;
        borrow = nb;
    }
    // Forgotten borrows only ever lower the later ones, so none is left over.
    return result;
}

static void mul_steps(GenBuf *t, long long a, long long b) {
    int cols = n_digits(b), terms = 0;
    long long parts[10];
    for (int i = cols - 1; i >= 0; i--) {
        int db = digit_at(b, i);
        if (!db) continue;
        long long place = 1;
        for (int k = 0; k < i; k++) place *= 10;
        parts[terms++] = a * db * place;
        genbuf_printf(t, "%s%lld * %lld = %lld.", terms > 1 ? " " : "", a, db * place, a * db * place);
    }
    if (terms == 0) genbuf_printf(t, "Anything times 0 is 0.");
    if (terms > 1) {
        genbuf_printf(t, " ");
        for (int i = 0; i < terms; i++) genbuf_printf(t, "%s%lld", i ? " + " : "", parts[i]);
        genbuf_printf(t, " = %lld.", a * b);
    }
}

int gen_arithmetic(const GenOptions *o, GenRng *r, cJSON **out) {
    long long lo = 1, hi = 9;
    for (int i = 1; i < o->digits; i++) lo *= 10;
    hi = lo * 10 - 1;
    if (o->digits == 1) lo = 0;
    char op = o->ops[gen_rng_below(r, strlen(o->ops))];
    long long a = gen_rng_range(r, lo, hi), b = gen_rng_range(r, lo, hi);
    if (op == '-' && a < b) { // keep results non-negative
        long long t = a;
        a = b;
        b = t;
    }
    long long v = op == '+' ? a + b : op == '-' ? a - b : a * b, shown = v;
    char q[96], ans[32], shown_ans[32];
    snprintf(q, sizeof q, "What is %lld %c %lld?", a, op, b);
    snprintf(ans, sizeof ans, "%lld", v);
    GenBuf t = {0};
    if (o->worked) {
        if (op == '+') shown = add_steps(&t, r, o->slip, a, b);
        else if (op == '-') shown = sub_steps(&t, r, o->slip, a, b);
        else mul_steps(&t, a, b);
        genbuf_printf(&t, " So %lld %c %lld = %lld.", a, op, b, shown);
        if (t.oom) {
            genbuf_free(&t);
            return grpo_fail(GRPO_ENOMEM, "out of memory");
        }
    }
    snprintf(shown_ans, sizeof shown_ans, "%lld", shown);
    // The completion ends in the teacher's result; "answer" stays the true one.
    int rc = gen_finish(out, q, shown_ans, t.s, o->worked);
    if (!rc && shown != v) {
        cJSON *gold = cJSON_CreateString(ans);
        if (!gold || !cJSON_ReplaceItemInObject(*out, "answer", gold)) {
            cJSON_Delete(gold);
            cJSON_Delete(*out);
            *out = NULL;
            rc = grpo_fail(GRPO_ENOMEM, "out of memory");
        }
    }
    genbuf_free(&t);
    return rc;
}
