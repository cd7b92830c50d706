// Reads the normalizer, pre_tokenizer and decoder sections of tokenizer.json into the
// Tokenizer's op lists. Nested Sequences are flattened; every unsupported type is an error
// naming the file and the JSON path ("pre_tokenizer.pretokenizers[1].type 'X' ...").
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/status.h"
#include "policy/tok_internal.h"

#define OOM() grpo_fail(GRPO_ENOMEM, "%s: out of memory", org)

// ---------------------------------------------------------------- normalizers
int tok_add_norm(Tokenizer *t, const cJSON *o, const char *where, const char *org) {
    if (!o || cJSON_IsNull(o)) return 0;
    const char *ty = tok_json_type(o);
    if (!ty) return grpo_fail(GRPO_EFORMAT, "%s: %s has no \"type\"", org, where);
    if (!strcmp(ty, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(o, "normalizers");
        if (!cJSON_IsArray(list)) return grpo_fail(GRPO_EFORMAT, "%s: %s.normalizers must be an array", org, where);
        int i = 0;
        for (const cJSON *c = list->child; c; c = c->next, i++) {
            char w[256];
            snprintf(w, sizeof w, "%s.normalizers[%d]", where, i);
            int rc = tok_add_norm(t, c, w, org);
            if (rc) return rc;
        }
        return 0;
    }
    TokNormOp op = {0};
    if (!strcmp(ty, "NFC")) op.kind = NORM_NFC;
    else if (!strcmp(ty, "NFD")) op.kind = NORM_NFD;
    else if (!strcmp(ty, "Prepend")) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "prepend");
        if (!cJSON_IsString(p)) return grpo_fail(GRPO_EFORMAT, "%s: %s.prepend must be a string", org, where);
        op.kind = NORM_PREPEND;
        op.alen = strlen(p->valuestring);
        if (!(op.a = tok_dup(p->valuestring, op.alen))) return OOM();
    } else if (!strcmp(ty, "Replace")) {
        int rx;
        const char *pat = tok_json_pattern(o, &rx);
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "content");
        if (!pat || !cJSON_IsString(c)) return grpo_fail(GRPO_EFORMAT, "%s: %s needs \"pattern\" {\"String\": ...} and \"content\"", org, where);
        if (rx) return grpo_fail(GRPO_EUNSUPPORTED, "%s: %s: a Regex pattern in Replace is not supported", org, where);
        op.kind = NORM_REPLACE;
        op.alen = strlen(pat), op.blen = strlen(c->valuestring);
        op.a = tok_dup(pat, op.alen), op.b = tok_dup(c->valuestring, op.blen);
        if (!op.a || !op.b) return free(op.a), free(op.b), OOM();
    } else
        return grpo_fail(GRPO_EUNSUPPORTED, "%s: %s.type '%s' is not supported (supported: NFC, NFD, Sequence, Prepend, Replace)",
                         org, where, ty);
    TokNormOp *v = realloc(t->norm, (size_t)(t->n_norm + 1) * sizeof *v);
    if (!v) return free(op.a), free(op.b), OOM();
    t->norm = v;
    t->norm[t->n_norm++] = op;
    return 0;
}

// ---------------------------------------------------------------- pre-tokenizers
static int push_pre(Tokenizer *t, TokPreOp *op, const char *org) {
    TokPreOp *v = realloc(t->pre, (size_t)(t->n_pre + 1) * sizeof *v);
    if (!v) {
        if (op->re) tok_regex_free(op->re);
        free(op->str);
        return OOM();
    }
    t->pre = v;
    t->pre[t->n_pre++] = *op;
    return 0;
}

static int compile_into(TokPreOp *op, const char *pat, const char *where, const char *org) {
    char err[256];
    op->re = tok_regex_compile(pat, err, sizeof err);
    if (!op->re) return grpo_fail(GRPO_EFORMAT, "%s: %s: regex does not compile: %s", org, where, err);
    return 0;
}

static int prepend_scheme(const cJSON *o, const char *where, const char *org, int *out) {
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(o, "prepend_scheme");
    if (cJSON_IsString(ps)) {
        if (!strcmp(ps->valuestring, "always")) *out = PREPEND_ALWAYS;
        else if (!strcmp(ps->valuestring, "first")) *out = PREPEND_FIRST;
        else if (!strcmp(ps->valuestring, "never")) *out = PREPEND_NEVER;
        else return grpo_fail(GRPO_EFORMAT, "%s: %s.prepend_scheme '%s' is not always, first or never", org, where, ps->valuestring);
    } else *out = tok_json_bool(o, "add_prefix_space", 1) ? PREPEND_ALWAYS : PREPEND_NEVER;
    return 0;
}

static int metaspace_repl(const cJSON *o, const char *where, const char *org, char repl[8]) {
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "replacement");
    const char *s = cJSON_IsString(r) ? r->valuestring : "\xe2\x96\x81";
    size_t n = strlen(s);
    if (!n || n > 4 || tok_utf8_len((const unsigned char *)s, n) != n)
        return grpo_fail(GRPO_EFORMAT, "%s: %s.replacement must be one character", org, where);
    memcpy(repl, s, n + 1);
    return 0;
}

int tok_add_pre(Tokenizer *t, const cJSON *o, const char *where, const char *org) {
    if (!o || cJSON_IsNull(o)) return 0;
    const char *ty = tok_json_type(o);
    if (!ty) return grpo_fail(GRPO_EFORMAT, "%s: %s has no \"type\"", org, where);
    if (!strcmp(ty, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(o, "pretokenizers");
        if (!cJSON_IsArray(list)) return grpo_fail(GRPO_EFORMAT, "%s: %s.pretokenizers must be an array", org, where);
        int i = 0;
        for (const cJSON *c = list->child; c; c = c->next, i++) {
            char w[256];
            snprintf(w, sizeof w, "%s.pretokenizers[%d]", where, i);
            int rc = tok_add_pre(t, c, w, org);
            if (rc) return rc;
        }
        return 0;
    }
    TokPreOp op = {0};
    if (t->byte_level) // the model then sees mapped characters; splitting those is not supported
        return grpo_fail(GRPO_EUNSUPPORTED, "%s: %s: a pre-tokenizer after ByteLevel is not supported", org, where);
    if (!strcmp(ty, "ByteLevel")) {
        op.kind = PRE_BYTELEVEL;
        op.add_prefix_space = tok_json_bool(o, "add_prefix_space", 1);
        if (tok_json_bool(o, "use_regex", 1) && compile_into(&op, tok_gpt2_pattern, where, org)) return GRPO_EFORMAT;
        t->byte_level = 1;
    } else if (!strcmp(ty, "Split")) {
        int rx;
        const char *pat = tok_json_pattern(o, &rx);
        if (!pat) return grpo_fail(GRPO_EFORMAT, "%s: %s.pattern must be {\"Regex\": ...} or {\"String\": ...}", org, where);
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "behavior");
        const char *bs = cJSON_IsString(b) ? b->valuestring : "";
        static const char *names[] = {"Isolated", "Removed", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
        op.behavior = -1;
        for (int i = 0; i < 5; i++)
            if (!strcmp(bs, names[i])) op.behavior = i;
        if (op.behavior < 0)
            return grpo_fail(GRPO_EFORMAT, "%s: %s.behavior '%s' is not one of Isolated, Removed, MergedWithPrevious, MergedWithNext, Contiguous",
                             org, where, bs);
        op.kind = PRE_SPLIT;
        op.invert = tok_json_bool(o, "invert", 0);
        if (rx) {
            if (compile_into(&op, pat, where, org)) return GRPO_EFORMAT;
        } else {
            op.strlen_ = strlen(pat);
            if (!(op.str = tok_dup(pat, op.strlen_))) return OOM();
        }
    } else if (!strcmp(ty, "Digits")) {
        op.kind = PRE_DIGITS;
        op.individual = tok_json_bool(o, "individual_digits", 0);
        if (compile_into(&op, "\\p{N}", where, org)) return GRPO_EFORMAT; // Rust's char::is_numeric
    } else if (!strcmp(ty, "Metaspace")) {
        op.kind = PRE_METASPACE;
        if (metaspace_repl(o, where, org, op.repl) || prepend_scheme(o, where, org, &op.prepend)) return GRPO_EFORMAT;
        op.msplit = tok_json_bool(o, "split", 1);
    } else
        return grpo_fail(GRPO_EUNSUPPORTED,
                         "%s: %s.type '%s' is not supported (supported: ByteLevel, Split, Sequence, Digits, Metaspace)", org, where, ty);
    return push_pre(t, &op, org);
}

// ---------------------------------------------------------------- decoders
int tok_add_dec(Tokenizer *t, const cJSON *o, const char *where, const char *org) {
    if (!o || cJSON_IsNull(o)) return 0;
    const char *ty = tok_json_type(o);
    if (!ty) return grpo_fail(GRPO_EFORMAT, "%s: %s has no \"type\"", org, where);
    t->has_decoder = 1;
    if (!strcmp(ty, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(o, "decoders");
        if (!cJSON_IsArray(list)) return grpo_fail(GRPO_EFORMAT, "%s: %s.decoders must be an array", org, where);
        int i = 0;
        for (const cJSON *c = list->child; c; c = c->next, i++) {
            char w[256];
            snprintf(w, sizeof w, "%s.decoders[%d]", where, i);
            int rc = tok_add_dec(t, c, w, org);
            if (rc) return rc;
        }
        return 0;
    }
    TokDecOp op = {0};
    if (!strcmp(ty, "ByteLevel")) op.kind = DEC_BYTELEVEL;
    else if (!strcmp(ty, "ByteFallback")) op.kind = DEC_BYTEFALLBACK;
    else if (!strcmp(ty, "Fuse")) op.kind = DEC_FUSE;
    else if (!strcmp(ty, "Replace")) {
        int rx;
        const char *pat = tok_json_pattern(o, &rx);
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "content");
        if (!pat || !cJSON_IsString(c)) return grpo_fail(GRPO_EFORMAT, "%s: %s needs \"pattern\" {\"String\": ...} and \"content\"", org, where);
        if (rx) return grpo_fail(GRPO_EUNSUPPORTED, "%s: %s: a Regex pattern in Replace is not supported", org, where);
        op.kind = DEC_REPLACE;
        op.alen = strlen(pat), op.blen = strlen(c->valuestring);
        op.a = tok_dup(pat, op.alen), op.b = tok_dup(c->valuestring, op.blen);
        if (!op.a || !op.b) return free(op.a), free(op.b), OOM();
    } else if (!strcmp(ty, "Strip")) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "content");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "start"), *b = cJSON_GetObjectItemCaseSensitive(o, "stop");
        if (!cJSON_IsString(c) || !cJSON_IsNumber(a) || !cJSON_IsNumber(b) || a->valuedouble < 0 || b->valuedouble < 0)
            return grpo_fail(GRPO_EFORMAT, "%s: %s needs \"content\", \"start\" and \"stop\"", org, where);
        op.kind = DEC_STRIP;
        op.alen = strlen(c->valuestring);
        if (!(op.a = tok_dup(c->valuestring, op.alen))) return OOM();
        op.start = a->valueint, op.stop = b->valueint;
    } else if (!strcmp(ty, "Metaspace")) {
        char repl[8];
        op.kind = DEC_METASPACE;
        if (metaspace_repl(o, where, org, repl) || prepend_scheme(o, where, org, &op.prepend)) return GRPO_EFORMAT;
        op.alen = strlen(repl);
        if (!(op.a = tok_dup(repl, op.alen))) return OOM();
    } else
        return grpo_fail(GRPO_EUNSUPPORTED,
                         "%s: %s.type '%s' is not supported (supported: ByteLevel, Sequence, Replace, ByteFallback, Fuse, Strip, Metaspace)",
                         org, where, ty);
    TokDecOp *v = realloc(t->dec, (size_t)(t->n_dec + 1) * sizeof *v);
    if (!v) return free(op.a), free(op.b), OOM();
    t->dec = v;
    t->dec[t->n_dec++] = op;
    return 0;
}
