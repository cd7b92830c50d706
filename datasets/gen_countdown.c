// Countdown (TinyZero's task): combine 3-4 numbers with + - * / into a target.
// The target is made by building a random expression over all the numbers, so
// every instance is solvable and carries that expression as its "solution".
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/gen_internal.h"
#include "kernels/status.h"

char *ds_countdown_question(const cJSON *nums, long target); // also used by formats.c

char *ds_countdown_question(const cJSON *nums, long target) {
    GenBuf b = {0};
    genbuf_printf(&b, "Using the numbers [");
    for (const cJSON *e = nums ? nums->child : NULL; e; e = e->next)
        genbuf_printf(&b, "%s%lld", e == nums->child ? "" : ", ", (long long)e->valuedouble);
    genbuf_printf(&b, "], make %ld. Use each number exactly once and only + - * / and parentheses. "
                      "Write the expression in <answer> </answer>, for example <answer> (1 + 2) * 3 </answer>", target);
    if (b.oom) {
        genbuf_free(&b);
        return NULL;
    }
    return b.s;
}

typedef struct {
    long long v;
    char expr[160];
    int atom;
} Item;

typedef struct {
    int i, j;
    char op;
} Step;

// Applies one step to the pool (removes items i and j, appends their
// combination). Strings are written only when `think` is given, so failed
// attempts cost no formatting. Returns 0 when the step is not allowed.
static int apply(Item *pool, int n, Step s, GenBuf *think) {
    long long a = pool[s.i].v, b = pool[s.j].v, v = 0;
    int ok = 1;
    // Intermediate values stay non-negative integers so the worked steps read naturally.
    if (s.op == '+') v = a + b;
    else if (s.op == '-') ok = a >= b, v = a - b;
    else if (s.op == '*') ok = a == 0 || b <= 1000000000000LL / a, v = ok ? a * b : 0;
    else ok = b != 0 && a % b == 0, v = ok ? a / b : 0;
    if (!ok) return 0;
    Item c = {v, "", 0};
    if (think) {
        snprintf(c.expr, sizeof c.expr, "%s%s%s %c %s%s%s", pool[s.i].atom ? "" : "(", pool[s.i].expr,
                 pool[s.i].atom ? "" : ")", s.op, pool[s.j].atom ? "" : "(", pool[s.j].expr, pool[s.j].atom ? "" : ")");
        genbuf_printf(think, "%s%lld %c %lld = %lld.", think->len ? " " : "", a, s.op, b, v);
    }
    int hi = s.i > s.j ? s.i : s.j, lo = s.i > s.j ? s.j : s.i;
    pool[hi] = pool[n - 1];
    pool[lo] = pool[n - 2];
    pool[n - 2] = c;
    return 1;
}

static void fill_pool(Item *pool, const long long *nums, int k, int text) {
    for (int i = 0; i < k; i++) {
        pool[i].v = nums[i];
        pool[i].atom = 1;
        if (text) snprintf(pool[i].expr, sizeof pool[i].expr, "%lld", nums[i]);
    }
}

int gen_countdown(const GenOptions *o, GenRng *r, cJSON **out) {
    static const char k_ops[] = "+-*/";
    for (int draw = 0; draw < 1000; draw++) {
        int k = (int)gen_rng_range(r, o->min_nums, o->max_nums);
        long long nums[6];
        for (int i = 0; i < k; i++) nums[i] = gen_rng_range(r, 1, o->max_num);
        for (int attempt = 0; attempt < 50; attempt++) {
            // Combine two random items until one is left.
            Item pool[6];
            Step steps[5];
            int n = k, ok = 1;
            fill_pool(pool, nums, k, 0);
            for (; n > 1 && ok; n--) {
                Step st;
                st.i = (int)gen_rng_below(r, (uint64_t)n);
                st.j = (int)gen_rng_below(r, (uint64_t)n - 1);
                if (st.j >= st.i) st.j++;
                st.op = k_ops[gen_rng_below(r, 4)];
                steps[k - n] = st;
                ok = apply(pool, n, st, NULL);
            }
            if (!ok || pool[0].v < 1 || pool[0].v > o->max_target) continue;
            // Found one: replay the steps, this time writing the expression.
            GenBuf think = {0};
            fill_pool(pool, nums, k, 1);
            for (n = k; n > 1; n--) apply(pool, n, steps[k - n], &think);
            long long target = pool[0].v;
            cJSON *arr = cJSON_CreateArray();
            for (int i = 0; arr && i < k; i++) cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)nums[i]));
            char *q = arr ? ds_countdown_question(arr, (long)target) : NULL;
            genbuf_printf(&think, " That uses every number once and makes %lld.", target);
            cJSON *ex = NULL;
            int rc = q && !think.oom ? gen_finish(&ex, q, pool[0].expr, think.s, o->worked)
                                     : grpo_fail(GRPO_ENOMEM, "out of memory");
            free(q);
            genbuf_free(&think);
            if (rc) {
                cJSON_Delete(arr);
                return rc;
            }
            cJSON_AddItemToObject(ex, "nums", arr);
            cJSON_AddNumberToObject(ex, "target", (double)target);
            cJSON_AddStringToObject(ex, "solution", pool[0].expr);
            *out = ex;
            return GRPO_OK;
        }
    }
    return grpo_fail(GRPO_EINVAL, "countdown: no reachable target in 1..%d found for numbers 1..%d", o->max_target,
                     o->max_num);
}
