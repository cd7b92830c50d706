// The `regex` rule: PCRE2 patterns compiled once when the rule set loads.
// Two modes: "pattern" gives match_value on a match and no_match_value
// otherwise; "count" awards each pattern's value when it occurs the wanted
// number of times (open-r1's tag-count reward is four such patterns).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcre2.h>

#include "rewards/didyoumean.h"
#include "rewards/rule_impl.h"

#define RX_MAX_ITEMS 16
#define RX_MATCH_LIMIT 5000000u // backtracking steps; past it the text counts as not matching
#define RX_MAX_COUNT 100000L    // matches counted per pattern

typedef struct {
    pcre2_code *re;
    double value;
    long exactly, at_least; // exactly < 0: use at_least
    char shown[40];         // the pattern, shortened, for details
} RxItem;

typedef struct {
    int count_mode;
    RxItem items[RX_MAX_ITEMS];
    int n;
    double match_value, no_match_value;
    char field[64]; // "" = the completion
    pcre2_match_context *mctx;
} RxState;

static const char *const RX_KEYS[] = {"pattern", "count", "flags", "field", "match_value", "no_match_value", NULL};
static const char *const RX_ITEM_KEYS[] = {"pattern", "value", "exactly", "at_least", NULL};
static const char *const RX_FLAGS[] = {"dotall", "multiline", "caseless", "extended", "ungreedy", "utf", "literal", NULL};
static const uint32_t RX_FLAG_BITS[] = {PCRE2_DOTALL, PCRE2_MULTILINE, PCRE2_CASELESS, PCRE2_EXTENDED,
                                        PCRE2_UNGREEDY, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, PCRE2_LITERAL};

static void rx_free(void *st) {
    RxState *s = st;
    if (!s) return;
    for (int i = 0; i < s->n; i++) pcre2_code_free(s->items[i].re);
    pcre2_match_context_free(s->mctx);
    free(s);
}

static int rx_flags(const cJSON *r, uint32_t *bits, char *err, size_t errlen) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(r, "flags");
    *bits = 0;
    if (!f) return 0;
    if (!cJSON_IsArray(f)) {
        snprintf(err, errlen, "option 'flags' must be a list of strings such as [\"dotall\", \"multiline\"]");
        return -1;
    }
    const cJSON *x;
    cJSON_ArrayForEach(x, f) {
        int k = -1;
        if (cJSON_IsString(x))
            for (int i = 0; RX_FLAGS[i]; i++)
                if (!strcmp(x->valuestring, RX_FLAGS[i])) k = i;
        if (k < 0) {
            char hint[64];
            snprintf(err, errlen, "unknown flag '%s'%s; flags: dotall, multiline, caseless, extended, ungreedy, utf, literal",
                     cJSON_IsString(x) ? x->valuestring : "(not a string)",
                     cJSON_IsString(x) ? dym_hint(hint, sizeof hint, x->valuestring, RX_FLAGS, -1) : "");
            return -1;
        }
        *bits |= RX_FLAG_BITS[k];
    }
    return 0;
}

static int rx_compile(RxItem *it, const char *pat, uint32_t flags, const char *where, char *err, size_t errlen) {
    int code;
    PCRE2_SIZE off;
    it->re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, flags, &code, &off, NULL);
    if (!it->re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        snprintf(err, errlen, "%s: bad regex at offset %zu: %s", where, (size_t)off, (const char *)msg);
        return -1;
    }
    rin_one_line(it->shown, sizeof it->shown, pat, strlen(pat));
    if (strlen(pat) >= sizeof it->shown) memcpy(it->shown + sizeof it->shown - 4, "...", 4);
    return 0;
}

static int rx_parse(void **out, const cJSON *r, const RuleParseCtx *ctx, char *err, size_t errlen) {
    RxState *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->match_value = 1.0;
    s->no_match_value = 0.0;
    uint32_t flags;
    const char *pattern = NULL, *field = NULL;
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(r, "count");
    if (rx_flags(r, &flags, err, errlen) || ropt_string(r, "pattern", &pattern, err, errlen) ||
        ropt_string(r, "field", &field, err, errlen) ||
        ropt_number(r, "match_value", -1e6, 1e6, &s->match_value, err, errlen) ||
        ropt_number(r, "no_match_value", -1e6, 1e6, &s->no_match_value, err, errlen))
        goto fail;
    if (field) snprintf(s->field, sizeof s->field, "%s", field);
    if (!!pattern == !!count) {
        snprintf(err, errlen, "give either 'pattern' (a value on match / no match) or 'count' (a list of "
                              "{\"pattern\", \"value\", \"exactly\"|\"at_least\"}), not %s",
                 pattern ? "both" : "neither");
        goto fail;
    }
    if (pattern) {
        s->n = 1;
        s->items[0].exactly = -1;
        if (rx_compile(&s->items[0], pattern, flags, "pattern", err, errlen)) goto fail;
    } else {
        s->count_mode = 1;
        if (cJSON_HasObjectItem(r, "match_value") || cJSON_HasObjectItem(r, "no_match_value")) {
            snprintf(err, errlen, "'match_value' and 'no_match_value' go with 'pattern'; in 'count' each item has its 'value'");
            goto fail;
        }
        int n = cJSON_GetArraySize(count);
        if (!cJSON_IsArray(count) || n < 1 || n > RX_MAX_ITEMS) {
            snprintf(err, errlen, "option 'count' must be a list of 1 to %d {\"pattern\", \"value\"} objects", RX_MAX_ITEMS);
            goto fail;
        }
        for (int i = 0; i < n; i++) {
            const cJSON *it = cJSON_GetArrayItem(count, i);
            char where[48];
            snprintf(where, sizeof where, "count[%d]", i);
            if (!cJSON_IsObject(it)) {
                snprintf(err, errlen, "%s must be an object {\"pattern\", \"value\"}", where);
                goto fail;
            }
            const cJSON *k;
            cJSON_ArrayForEach(k, it) {
                int known = 0;
                for (int q = 0; RX_ITEM_KEYS[q]; q++) known |= !strcmp(k->string, RX_ITEM_KEYS[q]);
                if (!known) {
                    char hint[64];
                    snprintf(err, errlen, "%s: unknown key '%s'%s", where, k->string,
                             dym_hint(hint, sizeof hint, k->string, RX_ITEM_KEYS, -1));
                    goto fail;
                }
            }
            RxItem *x = &s->items[s->n];
            const char *p = NULL;
            long exactly = -1, at_least = -1;
            x->value = 1.0;
            if (ropt_require(it, "pattern", err, errlen) || ropt_string(it, "pattern", &p, err, errlen) ||
                ropt_number(it, "value", -1e6, 1e6, &x->value, err, errlen) ||
                ropt_int(it, "exactly", 0, RX_MAX_COUNT, &exactly, err, errlen) ||
                ropt_int(it, "at_least", 0, RX_MAX_COUNT, &at_least, err, errlen)) {
                char tmp[256];
                snprintf(tmp, sizeof tmp, "%s: %s", where, err);
                snprintf(err, errlen, "%s", tmp);
                goto fail;
            }
            if (exactly >= 0 && at_least >= 0) {
                snprintf(err, errlen, "%s: give 'exactly' or 'at_least', not both", where);
                goto fail;
            }
            x->exactly = exactly >= 0 || at_least >= 0 ? exactly : 1;
            x->at_least = at_least;
            if (rx_compile(x, p, flags, where, err, errlen)) goto fail;
            s->n++;
        }
    }
    s->mctx = pcre2_match_context_create(NULL);
    if (!s->mctx) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    pcre2_set_match_limit(s->mctx, RX_MATCH_LIMIT);
    *out = s;
    return 0;
fail:
    rx_free(s);
    return -1;
}

// Counts non-overlapping matches of it->re in text (up to `stop`); -1 when the
// match limit was hit.
static long rx_count(const RxItem *it, const pcre2_match_context *mctx, const char *text, size_t len, long stop,
                     size_t *first) {
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(it->re, NULL);
    if (!md) return -1;
    long n = 0;
    PCRE2_SIZE off = 0;
    while (n < stop && off <= len) {
        int rc = pcre2_match(it->re, (PCRE2_SPTR)text, len, off, 0, md, (pcre2_match_context *)mctx);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            n = -1;
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (n == 0 && first) *first = ov[0];
        n++;
        off = ov[1] > ov[0] ? ov[1] : ov[1] + 1; // an empty match must not repeat forever
    }
    pcre2_match_data_free(md);
    return n;
}

static int rx_score(const void *st, const RuleInput *in, double *value, char *detail, size_t dn, char *err,
                    size_t errlen) {
    const RxState *s = st;
    const char *text = in->completion;
    char buf[64];
    if (s->field[0]) {
        text = rin_field_text(in->example, s->field, buf, sizeof buf);
        if (!text) {
            snprintf(err, errlen, "the example has no string field \"%s\" to match", s->field);
            return -1;
        }
    }
    size_t len = strlen(text);
    if (!s->count_mode) {
        size_t at = 0;
        long n = rx_count(&s->items[0], s->mctx, text, len, 1, &at);
        *value = n > 0 ? s->match_value : s->no_match_value;
        if (n > 0) snprintf(detail, dn, "matches /%s/ at byte %zu", s->items[0].shown, at);
        else if (n == 0) snprintf(detail, dn, "no match for /%s/", s->items[0].shown);
        else snprintf(detail, dn, "/%s/ hit the match limit: counted as no match", s->items[0].shown);
        return 0;
    }
    double v = 0.0;
    size_t k = 0;
    if (dn) detail[0] = '\0';
    for (int i = 0; i < s->n; i++) {
        const RxItem *it = &s->items[i];
        long stop = it->exactly >= 0 ? it->exactly + 1 : it->at_least;
        long n = stop > 0 ? rx_count(it, s->mctx, text, len, stop, NULL) : 0;
        int ok = n >= 0 && (it->exactly >= 0 ? n == it->exactly : n >= it->at_least);
        if (ok) v += it->value;
        char part[112], want[32] = "";
        if (!ok && n >= 0) {
            if (it->exactly >= 0) snprintf(want, sizeof want, " (want %ld)", it->exactly);
            else snprintf(want, sizeof want, " (want >= %ld)", it->at_least);
        }
        if (n < 0) snprintf(part, sizeof part, "%s%s: match limit", i ? ", " : "", it->shown);
        else snprintf(part, sizeof part, "%s%s x%ld%s%s", i ? ", " : "", it->shown, n, n >= stop && stop > 0 ? "+" : "", want);
        if (k < dn) k += (size_t)snprintf(detail + k, dn - k, "%s", part);
    }
    *value = v;
    return 0;
}

const RuleType rule_type_regex = {"regex", RX_KEYS, rx_parse, rx_score, rx_free};
