// The math verifier's entry points: options, extraction, equivalence, verify.
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rewards/math.h"
#include "rewards/math_internal.h"

void math_options_default(MathOptions *o) {
    memset(o, 0, sizeof *o);
    o->order[0] = MATH_X_ANSWER_TAG;
    o->order[1] = MATH_X_BOXED;
    o->order[2] = MATH_X_GSM8K;
    o->order[3] = MATH_X_ANSWER_IS;
    o->order[4] = MATH_X_LAST_NUMBER;
    o->n_order = 5;
    o->rel_tol = 1e-6;
    o->time_limit_ms = 2000;
}

int math_extract_kind_parse(const char *name) {
    static const char *const names[] = {"answer_tag", "boxed", "gsm8k", "answer_is", "last_number"};
    if (!name) return -1;
    for (int i = 0; i < 5; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

int math_extract(const char *completion, const MathOptions *o, char *answer, size_t an, char *where, size_t wn) {
    MathOptions d;
    if (!o) math_options_default(&d), o = &d;
    int order[8], n = o->n_order < 0 ? 0 : o->n_order > 8 ? 8 : o->n_order;
    for (int i = 0; i < n; i++) order[i] = (int)o->order[i];
    return mathx_extract(completion, order, n, answer, an, where, wn);
}

static void squeeze(const char *in, char *out, size_t on) { // without spaces
    size_t k = 0;
    for (; *in && k + 1 < on; in++)
        if (!isspace((unsigned char)*in)) out[k++] = *in;
    out[k] = 0;
}

static int has_degrees(const char *s) {
    return strstr(s, "\\circ") || strstr(s, "\xc2\xb0") || strstr(s, "\\degree") || strstr(s, "degree");
}

static int equivalent_plain(const char *pred, const char *gold, const MathOptions *o, char *why, size_t wn);

// 60^\circ against \frac{\pi}{3}: when one side is in degrees and the other
// mentions pi, the degrees are also tried as radians; 50\% against 1/2: when
// exactly one side is a percentage, it is also tried as a fraction.
int math_equivalent(const char *pred, const char *gold, const MathOptions *o, char *why, size_t wn) {
    int r = equivalent_plain(pred, gold, o, why, wn);
    if (r || !pred || !gold) return r;
    // 50\% against 1/2: a percentage is also tried as a fraction (never the other way round)
    for (int pass = 0; pass < 2 && !r; pass++) {
        int sp = pass ? strchr(pred, '%') != NULL : has_degrees(pred) && strstr(gold, "pi");
        int sg = pass ? strchr(gold, '%') != NULL : has_degrees(gold) && strstr(pred, "pi");
        if (sp == sg) continue;
        const char *side = sp ? pred : gold;
        if (strlen(side) > MX_MAX_INPUT) continue;
        char *norm = malloc(2 * MX_MAX_INPUT + 16), *conv = malloc(2 * MX_MAX_INPUT + 64);
        if (norm && conv && mathn_normalize(side, norm, 2 * MX_MAX_INPUT + 16) == 0) {
            snprintf(conv, 2 * MX_MAX_INPUT + 64, pass ? "(%s)/100" : "\\frac{\\pi}{180}(%s)", norm);
            char w2[160];
            if (equivalent_plain(sp ? conv : pred, sp ? gold : conv, o, w2, sizeof w2)) {
                r = 1;
                if (why && wn) snprintf(why, wn, pass ? "equal (percent as a fraction)" : "equal (degrees as radians)");
            }
        }
        free(norm);
        free(conv);
    }
    return r;
}

static int equivalent_plain(const char *pred, const char *gold, const MathOptions *o, char *why, size_t wn) {
    MathOptions d;
    if (!o) math_options_default(&d), o = &d;
    if (why && wn) why[0] = 0;
    if (!pred || !gold) { if (why && wn) snprintf(why, wn, "missing answer"); return 0; }
    size_t cap = 2 * MX_MAX_INPUT + 16;
    char *np = malloc(cap), *ng = malloc(cap), *sp = malloc(cap), *sg = malloc(cap);
    int r = 0;
    if (!np || !ng || !sp || !sg) { if (why && wn) snprintf(why, wn, "out of memory"); goto out; }
    int lp = mathn_normalize(pred, np, cap), lg = mathn_normalize(gold, ng, cap);
    squeeze(np, sp, cap);
    squeeze(ng, sg, cap);
    if (!sp[0]) { if (why && wn) snprintf(why, wn, "empty answer"); goto out; }
    if (lp == 0 && lg == 0 && strcmp(np, ng) == 0) { r = 1; if (why && wn) snprintf(why, wn, "equal"); goto out; }
    MxClock clock;
    mx_clock_start(&clock, o->time_limit_ms);
    MxArena arena;
    mx_arena_init(&arena, &clock);
    char ep[96] = "", eg[96] = "";
    MxNode *a = lp == 0 ? mx_parse(&arena, np, ep, sizeof ep) : NULL;
    MxNode *b = lg == 0 ? mx_parse(&arena, ng, eg, sizeof eg) : NULL;
    if (!a || !b) {
        // neither parses: the same characters up to case and spaces (punctuation
        // counts here, so 3:4 is not 34:)
        if (clock.expired) { if (why && wn) snprintf(why, wn, "not equal (time limit)"); }
        else if (!a && !b && strcasecmp(sp, sg) == 0) {
            r = 1;
            if (why && wn) snprintf(why, wn, "equal (same text)");
        } else if (why && wn)
            snprintf(why, wn, "not equal (cannot parse %s: %s)", !a ? "answer" : "gold",
                     !a ? (lp ? "too long" : ep) : (lg ? "too long" : eg));
    } else {
        MxCtx ctx = {&clock, o->rel_tol > 0 ? o->rel_tol : 0, 0};
        char w[96];
        r = mx_equiv(&ctx, &arena, a, b, w, sizeof w);
        if (r < 0) { // numbers we cannot evaluate: fall back to the written form
            r = strcmp(np, ng) == 0;
            snprintf(w, sizeof w, "%s", r ? "equal (same text)" : "cannot evaluate; text differs");
        }
        if (why && wn) snprintf(why, wn, "%s%s", r ? "" : "not equal (", r ? w : w);
        if (why && wn && !r) { size_t l = strlen(why); if (l + 1 < wn) why[l] = ')', why[l + 1] = 0; }
    }
    mx_arena_free(&arena);
out:
    free(np), free(ng), free(sp), free(sg);
    return r;
}

// Copies s into a detail string on one line, cut short with "..." when long.
static void oneline(char *dst, size_t dn, const char *s, size_t max) {
    size_t k = 0, n = strlen(s);
    for (size_t i = 0; i < n && k + 4 < dn && i < max; i++) dst[k++] = (s[i] == '\n' || s[i] == '\r' || s[i] == '\t') ? ' ' : s[i];
    if (n > max && k + 4 < dn) dst[k++] = '.', dst[k++] = '.', dst[k++] = '.';
    dst[k] = 0;
}

double math_verify(const char *completion, const char *gold, const MathOptions *o, char *detail, size_t dn) {
    MathOptions d;
    if (!o) math_options_default(&d), o = &d;
    char *ans = malloc(2 * MX_MAX_INPUT);
    char where[64], why[160], sa[128], sg[128];
    if (!ans) { if (detail && dn) snprintf(detail, dn, "out of memory"); return 0.0; }
    double score = 0.0;
    // a whole reference solution as gold: its "#### x" (GSM8K) or last \boxed{} (MATH)
    char *gbuf = NULL;
    if (gold && (strstr(gold, "####") || strstr(gold, "\\boxed") || strstr(gold, "\\fbox"))) {
        int order[2] = {MATH_X_GSM8K, MATH_X_BOXED};
        char gw[32];
        if ((gbuf = malloc(2 * MX_MAX_INPUT)) && mathx_extract(gold, order, 2, gbuf, 2 * MX_MAX_INPUT, gw, sizeof gw))
            gold = gbuf;
    }
    if (!math_extract(completion, o, ans, 2 * MX_MAX_INPUT, where, sizeof where)) {
        if (detail && dn) snprintf(detail, dn, "no answer found (%s)", where);
    } else {
        int ok = math_equivalent(ans, gold ? gold : "", o, why, sizeof why);
        score = ok ? 1.0 : 0.0;
        oneline(sa, sizeof sa, ans, 80);
        oneline(sg, sizeof sg, gold ? gold : "", 80);
        if (detail && dn) snprintf(detail, dn, "extracted %s from %s; gold %s; %s", sa, where, sg, why);
    }
    free(ans);
    free(gbuf);
    return score;
}
