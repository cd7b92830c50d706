// Reads tokenizer.json (+ tokenizer_config.json) into a Tokenizer. Every malformed or
// unsupported field is an error naming the file and the JSON path of the field.
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/fileio.h"
#include "kernels/status.h"
#include "policy/tok_internal.h"

#define OOM() grpo_fail(GRPO_ENOMEM, "%s: out of memory", org)

// The largest tokenizer.json files (Gemma's) are tens of MB; a cap keeps /dev/zero and the
// like from eating memory.
#define TOK_MAX_FILE (1u << 30)

// 1 when the text ends inside a string or with an object/array still open: a cut-off file.
static int looks_truncated(const char *s) {
    int depth = 0, in_str = 0;
    for (; *s; s++) {
        if (in_str) {
            if (*s == '\\' && s[1]) s++;
            else if (*s == '"') in_str = 0;
        } else if (*s == '"') in_str = 1;
        else if (*s == '{' || *s == '[') depth++;
        else if (*s == '}' || *s == ']') depth--;
    }
    return in_str || depth > 0;
}

static int parse_json(const char *text, const char *org, cJSON **out) {
    const char *end = NULL;
    *out = cJSON_ParseWithOpts(text, &end, 1);
    if (*out) return 0;
    size_t off = end ? (size_t)(end - text) : 0, line = 1;
    for (size_t i = 0; i < off && text[i]; i++) line += text[i] == '\n';
    if (looks_truncated(text))
        return grpo_fail(GRPO_EFORMAT, "%s: invalid JSON: truncated (the file ends inside a string, object or array; %zu bytes)", org,
                         strlen(text));
    return grpo_fail(GRPO_EFORMAT, "%s: invalid JSON at line %zu (byte %zu)", org, line, off);
}

const char *tok_json_type(const cJSON *o) {
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(o, "type");
    return cJSON_IsString(ty) ? ty->valuestring : NULL;
}

int tok_json_bool(const cJSON *o, const char *key, int dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

char *tok_dup(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n), d[n] = '\0';
    return d;
}

// {"String": "..."} -> the literal; {"Regex": "..."} -> *is_regex = 1.
const char *tok_json_pattern(const cJSON *o, int *is_regex) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "pattern");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(p, "String"), *r = cJSON_GetObjectItemCaseSensitive(p, "Regex");
    *is_regex = cJSON_IsString(r);
    if (cJSON_IsString(s)) return s->valuestring;
    if (cJSON_IsString(r)) return r->valuestring;
    return NULL;
}


// ---------------------------------------------------------------- the model
static int vhash_build(Tokenizer *t, const char *org) {
    size_t cap = 16;
    while (cap < (size_t)t->vocab_size * 2) cap *= 2;
    t->vhash = malloc(cap * sizeof *t->vhash);
    if (!t->vhash) return OOM();
    memset(t->vhash, 0xff, cap * sizeof *t->vhash);
    t->vhash_cap = cap;
    for (int id = 0; id < t->vocab_size; id++) {
        if (!t->tok[id]) continue;
        size_t i = tok_hash(t->tok[id], t->tlen[id]) & (cap - 1);
        while (t->vhash[i] >= 0) {
            int32_t o = t->vhash[i];
            if (t->tlen[o] == t->tlen[id] && !memcmp(t->tok[o], t->tok[id], t->tlen[id]))
                return grpo_fail(GRPO_EFORMAT, "%s: model.vocab: token '%s' appears twice", org, t->tok[id]);
            i = (i + 1) & (cap - 1);
        }
        t->vhash[i] = id;
    }
    return 0;
}

static int load_merges(Tokenizer *t, const cJSON *merges, const char *org) {
    int n = cJSON_GetArraySize(merges);
    size_t cap = 16;
    while (cap < (size_t)n * 2) cap *= 2;
    t->merges = malloc(cap * sizeof *t->merges);
    if (!t->merges) return OOM();
    for (size_t i = 0; i < cap; i++) t->merges[i].key = UINT64_MAX;
    t->merges_cap = cap;
    char buf[1024];
    int rank = 0;
    for (const cJSON *m = merges->child; m; m = m->next, rank++) {
        const char *a, *b;
        size_t an, bn;
        if (cJSON_IsString(m)) {
            const char *s = m->valuestring, *sp = strchr(s, ' ');
            if (!sp || strchr(sp + 1, ' ') || sp == s || !sp[1])
                return grpo_fail(GRPO_EFORMAT, "%s: model.merges[%d]: \"%.60s\" is not two tokens separated by one space", org, rank, s);
            a = s, an = (size_t)(sp - s), b = sp + 1, bn = strlen(b);
        } else if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 && cJSON_IsString(m->child) && cJSON_IsString(m->child->next)) {
            a = m->child->valuestring, an = strlen(a), b = m->child->next->valuestring, bn = strlen(b);
        } else
            return grpo_fail(GRPO_EFORMAT, "%s: model.merges[%d]: expected \"a b\" or [\"a\", \"b\"]", org, rank);
        int32_t ia = tok_vocab_find(t, a, an), ib = tok_vocab_find(t, b, bn);
        if (ia < 0 || ib < 0)
            return grpo_fail(GRPO_EFORMAT, "%s: model.merges[%d]: token '%.*s' is not in model.vocab", org, rank,
                             (int)(ia < 0 ? an : bn), ia < 0 ? a : b);
        char *cat = an + bn <= sizeof buf ? buf : malloc(an + bn);
        if (!cat) return OOM();
        memcpy(cat, a, an);
        memcpy(cat + an, b, bn);
        int32_t id = tok_vocab_find(t, cat, an + bn);
        if (cat != buf) free(cat);
        if (id < 0)
            return grpo_fail(GRPO_EFORMAT, "%s: model.merges[%d]: the merged token '%.*s%.*s' is not in model.vocab", org, rank,
                             (int)an, a, (int)bn, b);
        tok_merge_put(t, ia, ib, rank, id);
    }
    return 0;
}

static int load_model(Tokenizer *t, const cJSON *root, const cJSON *added, const char *org) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(model)) return grpo_fail(GRPO_EFORMAT, "%s: no \"model\" object", org);
    const char *ty = tok_json_type(model);
    if (ty && strcmp(ty, "BPE"))
        return grpo_fail(GRPO_EUNSUPPORTED, "%s: model.type '%s' is not supported (only BPE)", org, ty);
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    if (!cJSON_IsObject(vocab)) return grpo_fail(GRPO_EFORMAT, "%s: model.vocab must be an object {token: id}", org);
    if (!cJSON_IsArray(merges)) return grpo_fail(GRPO_EFORMAT, "%s: model.merges must be an array", org);
    const char *opt[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(model, opt[i]);
        if (cJSON_IsString(v) && v->valuestring[0])
            return grpo_fail(GRPO_EUNSUPPORTED, "%s: model.%s is not supported", org, opt[i]);
    }
    const cJSON *drop = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (cJSON_IsNumber(drop) && drop->valuedouble > 0)
        return grpo_fail(GRPO_EUNSUPPORTED, "%s: model.dropout %g is not supported (inference needs null)", org, drop->valuedouble);
    int maxid = -1;
    for (const cJSON *v = vocab->child; v; v = v->next) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble >= (1 << 24) || v->valuedouble != (double)v->valueint)
            return grpo_fail(GRPO_EFORMAT, "%s: model.vocab['%.60s']: id must be an integer in [0, 2^24)", org, v->string);
        if (v->valueint > maxid) maxid = v->valueint;
    }
    int ai = 0;
    for (const cJSON *a = added ? added->child : NULL; a; a = a->next, ai++) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(a, "id"), *c = cJSON_GetObjectItemCaseSensitive(a, "content");
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble >= (1 << 24) || !cJSON_IsString(c) || !c->valuestring[0])
            return grpo_fail(GRPO_EFORMAT, "%s: added_tokens[%d]: needs an integer \"id\" and a non-empty \"content\"", org, ai);
        if (id->valueint > maxid) maxid = id->valueint;
    }
    t->vocab_size = maxid + 1;
    t->tok = calloc((size_t)t->vocab_size + 1, sizeof *t->tok);
    t->tlen = calloc((size_t)t->vocab_size + 1, sizeof *t->tlen);
    t->added_of = malloc(((size_t)t->vocab_size + 1) * sizeof *t->added_of);
    if (!t->tok || !t->tlen || !t->added_of) return OOM();
    for (int i = 0; i < t->vocab_size; i++) t->added_of[i] = -1;
    for (const cJSON *v = vocab->child; v; v = v->next) {
        if (t->tok[v->valueint])
            return grpo_fail(GRPO_EFORMAT, "%s: model.vocab: id %d is given to both '%s' and '%s'", org, v->valueint, t->tok[v->valueint], v->string);
        t->tlen[v->valueint] = (uint32_t)strlen(v->string);
        if (!(t->tok[v->valueint] = tok_dup(v->string, t->tlen[v->valueint]))) return OOM();
    }
    int rc = vhash_build(t, org);
    if (!rc) rc = load_merges(t, merges, org);
    if (rc) return rc;
    t->byte_fallback = tok_json_bool(model, "byte_fallback", 0);
    t->fuse_unk = tok_json_bool(model, "fuse_unk", 0);
    t->ignore_merges = tok_json_bool(model, "ignore_merges", 0);
    t->unk_id = -1;
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
    if (cJSON_IsString(unk) && (t->unk_id = tok_vocab_find(t, unk->valuestring, strlen(unk->valuestring))) < 0)
        return grpo_fail(GRPO_EFORMAT, "%s: model.unk_token '%s' is not in model.vocab", org, unk->valuestring);
    for (int b = 0; b < 256; b++) {
        char s[8];
        unsigned cp = tok_byte_to_cp[b];
        size_t n = cp < 0x80 ? (s[0] = (char)cp, 1) : (s[0] = (char)(0xC0 | cp >> 6), s[1] = (char)(0x80 | (cp & 0x3F)), 2);
        t->byte_sym[b] = tok_vocab_find(t, s, n);
        snprintf(s, sizeof s, "<0x%02X>", b);
        t->byte_fb[b] = tok_vocab_find(t, s, 6);
    }
    return 0;
}

static int load_added(Tokenizer *t, const cJSON *added, const char *org) {
    int n = added ? cJSON_GetArraySize(added) : 0;
    t->added = calloc((size_t)n + 1, sizeof *t->added);
    if (!t->added) return OOM();
    for (const cJSON *a = added ? added->child : NULL; a; a = a->next) {
        TokAdded *d = &t->added[t->n_added];
        const char *c = cJSON_GetObjectItemCaseSensitive(a, "content")->valuestring;
        d->len = strlen(c);
        if (!(d->content = tok_dup(c, d->len))) return OOM();
        d->id = cJSON_GetObjectItemCaseSensitive(a, "id")->valueint;
        d->special = tok_json_bool(a, "special", 0);
        d->lstrip = tok_json_bool(a, "lstrip", 0);
        d->rstrip = tok_json_bool(a, "rstrip", 0);
        d->normalized = tok_json_bool(a, "normalized", !d->special);
        d->single_word = tok_json_bool(a, "single_word", 0);
        t->added_of[d->id] = t->n_added++;
    }
    // bucket by (class, first byte) so matching looks only at tokens that can start here
    for (int cls = 0; cls < 2; cls++) {
        t->order[cls] = malloc(((size_t)t->n_added + 1) * sizeof(int));
        if (!t->order[cls]) return OOM();
        int k = 0;
        for (int b = 0; b < 256; b++) {
            t->first[cls][b] = k;
            for (int i = 0; i < t->n_added; i++)
                if (t->added[i].normalized == cls && (unsigned char)t->added[i].content[0] == b) t->order[cls][k++] = i;
        }
        t->first[cls][256] = k;
    }
    for (int i = 0; i < t->n_added; i++) {
        if (t->added[i].normalized) t->has_norm_added = 1;
        else t->has_raw_added = 1;
    }
    return 0;
}

// tokenizer_config.json's "bos_token": "<s>" or {"content": "<s>", ...} or null.
static int config_token(Tokenizer *t, const cJSON *cfg, const char *key, const char *corg, int32_t *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (!v || cJSON_IsNull(v)) return 0;
    if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
    if (!cJSON_IsString(v)) return grpo_fail(GRPO_EFORMAT, "%s: \"%s\" must be a string, {\"content\": ...} or null", corg, key);
    if ((*out = tok_token_id(t, v->valuestring)) < 0)
        return grpo_fail(GRPO_EFORMAT, "%s: %s '%s' is not a token of the tokenizer", corg, key, v->valuestring);
    return 0;
}

// Without add_bos_token in the config, a TemplateProcessing post-processor that starts with
// a special token (Llama) says the model expects BOS.
static void template_bos(Tokenizer *t, const cJSON *pp) {
    if (!cJSON_IsObject(pp)) return;
    const char *ty = tok_json_type(pp);
    if (ty && !strcmp(ty, "Sequence")) {
        for (const cJSON *c = cJSON_GetObjectItemCaseSensitive(pp, "processors") ? cJSON_GetObjectItemCaseSensitive(pp, "processors")->child : NULL; c; c = c->next)
            template_bos(t, c);
        return;
    }
    if (!ty || strcmp(ty, "TemplateProcessing")) return;
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(pp, "single");
    const cJSON *st = cJSON_IsArray(single) && single->child ? cJSON_GetObjectItemCaseSensitive(single->child, "SpecialToken") : NULL;
    const cJSON *id = st ? cJSON_GetObjectItemCaseSensitive(st, "id") : NULL;
    if (!cJSON_IsString(id)) return;
    int32_t bos = tok_token_id(t, id->valuestring);
    if (bos < 0) return;
    t->wants_bos = 1;
    if (t->bos_id < 0) t->bos_id = bos;
}

static void config_name(const char *org, char *buf, size_t n) {
    size_t l = strlen(org), k = strlen("tokenizer.json");
    if (l >= k && !strcmp(org + l - k, "tokenizer.json")) snprintf(buf, n, "%.*stokenizer_config.json", (int)(l - k), org);
    else snprintf(buf, n, "%s (tokenizer_config.json)", org);
}

// See Tokenizer.word_split.
static int can_split_words(const Tokenizer *t) {
    if (t->n_pre || t->byte_level) return 0;
    int spaces_become_marks = 0;
    for (int i = 0; i < t->n_norm; i++)
        if (t->norm[i].kind == NORM_REPLACE && t->norm[i].alen == 1 && t->norm[i].a[0] == ' ' && t->norm[i].blen == 3 &&
            !memcmp(t->norm[i].b, "\xe2\x96\x81", 3))
            spaces_become_marks = 1;
    if (!spaces_become_marks) return 0;
    for (int id = 0; id < t->vocab_size; id++) {
        const char *s = t->tok[id];
        for (uint32_t k = 1; s && k + 3 <= t->tlen[id]; k++)
            if (!memcmp(s + k, "\xe2\x96\x81", 3) && !(k >= 3 && !memcmp(s + k - 3, "\xe2\x96\x81", 3))) return 0;
    }
    return 1;
}

static int load_all(Tokenizer *t, const cJSON *root, const cJSON *cfg, const char *org) {
    if (!cJSON_IsObject(root)) return grpo_fail(GRPO_EFORMAT, "%s: the top level must be a JSON object", org);
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (added && !cJSON_IsNull(added) && !cJSON_IsArray(added)) return grpo_fail(GRPO_EFORMAT, "%s: added_tokens must be an array", org);
    if (!cJSON_IsArray(added)) added = NULL;
    int rc = load_model(t, root, added, org);
    if (!rc) rc = load_added(t, added, org);
    if (!rc) rc = tok_add_norm(t, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), "normalizer", org);
    if (!rc) rc = tok_add_pre(t, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), "pre_tokenizer", org);
    if (!rc) rc = tok_add_dec(t, cJSON_GetObjectItemCaseSensitive(root, "decoder"), "decoder", org);
    if (rc) return rc;
    t->word_split = can_split_words(t);
    t->bos_id = t->eos_id = t->pad_id = -1;
    char corg[1200];
    config_name(org, corg, sizeof corg);
    if (cfg) {
        if (!cJSON_IsObject(cfg)) return grpo_fail(GRPO_EFORMAT, "%s: the top level must be a JSON object", corg);
        if ((rc = config_token(t, cfg, "bos_token", corg, &t->bos_id)) || (rc = config_token(t, cfg, "eos_token", corg, &t->eos_id)) ||
            (rc = config_token(t, cfg, "pad_token", corg, &t->pad_id)))
            return rc;
    }
    const cJSON *ab = cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "add_bos_token") : NULL;
    if (cJSON_IsBool(ab)) t->wants_bos = cJSON_IsTrue(ab) && t->bos_id >= 0;
    else template_bos(t, cJSON_GetObjectItemCaseSensitive(root, "post_processor"));
    return tok_cache_new(&t->cache);
}

int tok_load_json(const char *json, const char *config, const char *origin, Tokenizer **out) {
    *out = NULL;
    const char *org = origin ? origin : "tokenizer.json";
    cJSON *root = NULL, *cfg = NULL;
    int rc = parse_json(json, org, &root);
    if (!rc && config) {
        char corg[1200];
        config_name(org, corg, sizeof corg);
        rc = parse_json(config, corg, &cfg);
    }
    Tokenizer *t = rc ? NULL : calloc(1, sizeof *t);
    if (!rc && !t) rc = OOM();
    if (!rc && !(t->origin = strdup(org))) rc = OOM();
    if (!rc) rc = load_all(t, root, cfg, org);
    cJSON_Delete(root);
    cJSON_Delete(cfg);
    if (rc) {
        tok_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int tok_load(const char *path, Tokenizer **out) {
    *out = NULL;
    struct stat st;
    if (stat(path, &st)) return grpo_fail(GRPO_EIO, "%s: cannot open: %s", path, strerror(errno));
    char tj[4096], cj[4096];
    if (S_ISDIR(st.st_mode)) {
        snprintf(tj, sizeof tj, "%s/tokenizer.json", path);
        snprintf(cj, sizeof cj, "%s/tokenizer_config.json", path);
    } else {
        snprintf(tj, sizeof tj, "%s", path);
        const char *sl = strrchr(path, '/');
        snprintf(cj, sizeof cj, "%.*stokenizer_config.json", sl ? (int)(sl - path + 1) : 0, path);
    }
    char *json = NULL, *cfg = NULL;
    int rc = grpo_read_file(tj, TOK_MAX_FILE, &json, NULL);
    if (!rc && !access(cj, R_OK)) rc = grpo_read_file(cj, TOK_MAX_FILE, &cfg, NULL);
    if (!rc) rc = tok_load_json(json, cfg, tj, out);
    free(json);
    free(cfg);
    return rc;
}

void tok_free(Tokenizer *t) {
    if (!t) return;
    for (int i = 0; i < t->vocab_size; i++) free(t->tok ? t->tok[i] : NULL);
    free(t->tok);
    free(t->tlen);
    free(t->vhash);
    free(t->merges);
    for (int i = 0; i < t->n_added; i++) free(t->added[i].content);
    free(t->added);
    free(t->added_of);
    free(t->order[0]);
    free(t->order[1]);
    for (int i = 0; i < t->n_norm; i++) free(t->norm[i].a), free(t->norm[i].b);
    free(t->norm);
    for (int i = 0; i < t->n_pre; i++) {
        if (t->pre[i].re) tok_regex_free(t->pre[i].re);
        free(t->pre[i].str);
    }
    free(t->pre);
    for (int i = 0; i < t->n_dec; i++) free(t->dec[i].a), free(t->dec[i].b);
    free(t->dec);
    tok_cache_free(t->cache);
    free(t->origin);
    free(t);
}
