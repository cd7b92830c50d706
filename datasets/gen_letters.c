// Letter counting: how often one letter occurs in a random string. Small models
// fail it for tokenisation reasons until they learn to spell the string out,
// which is exactly what the worked solution does.
#include <stdio.h>
#include <stdlib.h>

#include "datasets/gen_internal.h"
#include "kernels/status.h"

int gen_letters(const GenOptions *o, GenRng *r, cJSON **out) {
    int len = (int)gen_rng_range(r, o->min_len, o->max_len);
    char word[201], letter = (char)('a' + gen_rng_below(r, (uint64_t)o->alphabet));
    int count = 0;
    for (int i = 0; i < len; i++) {
        word[i] = (char)('a' + gen_rng_below(r, (uint64_t)o->alphabet));
        count += word[i] == letter;
    }
    word[len] = 0;
    char q[320], ans[16];
    snprintf(q, sizeof q, "How many times does the letter \"%c\" appear in \"%s\"?", letter, word);
    snprintf(ans, sizeof ans, "%d", count);
    GenBuf t = {0};
    if (o->worked) {
        int seen = 0;
        genbuf_printf(&t, "Spell it out:");
        for (int i = 0; i < len; i++) {
            if (word[i] == letter) genbuf_printf(&t, "%s %c (%d)", i ? "," : "", word[i], ++seen);
            else genbuf_printf(&t, "%s %c", i ? "," : "", word[i]);
        }
        genbuf_printf(&t, ". The letter \"%c\" appears %d time%s.", letter, count, count == 1 ? "" : "s");
        if (t.oom) {
            genbuf_free(&t);
            return grpo_fail(GRPO_ENOMEM, "out of memory");
        }
    }
    int rc = gen_finish(out, q, ans, t.s, o->worked);
    genbuf_free(&t);
    return rc;
}
