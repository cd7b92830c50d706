// The tokenizer against the `tokenizers` library: fixtures made by
// tests/reference/make_tokenizer_fixtures.py (ids and decodes for tricky lines), plus the
// built-in tokenizer, NFC, special-token lookup, threads, and malformed tokenizer.json files.
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/status.h"
#include "policy/tok_internal.h"
#include "policy/tokenizer.h"
#include "testlib.h"

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)sz + 1);
    if (b && fread(b, 1, (size_t)sz, f) != (size_t)sz) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) b[sz] = 0;
    if (n) *n = (size_t)sz;
    return b;
}

static int write_file(const char *path, const char *text, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fwrite(text, 1, n, f);
    return fclose(f);
}

static size_t unhex(const char *h, char *out) {
    size_t n = strlen(h) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (char)v;
    }
    return n;
}

typedef struct {
    char *bytes, *dec;
    size_t n, dn;
    int32_t *ids;
    int nids;
} Case;

static int load_cases(const char *dir, Case **out) {
    char path[1024];
    snprintf(path, sizeof path, "%s/expected.jsonl", dir);
    char *text = slurp(path, NULL);
    if (!text) return -1;
    int n = 0, cap = 128;
    Case *c = calloc((size_t)cap, sizeof *c);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        const char *hex = cJSON_GetObjectItem(o, "hex")->valuestring, *dh = cJSON_GetObjectItem(o, "decoded_hex")->valuestring;
        const cJSON *ids = cJSON_GetObjectItem(o, "ids");
        Case *k = &c[n++];
        k->bytes = malloc(strlen(hex) / 2 + 1);
        k->n = unhex(hex, k->bytes);
        k->dec = malloc(strlen(dh) / 2 + 1);
        k->dn = unhex(dh, k->dec);
        k->nids = cJSON_GetArraySize(ids);
        k->ids = malloc(((size_t)k->nids + 1) * sizeof *k->ids);
        int i = 0;
        for (const cJSON *v = ids->child; v; v = v->next) k->ids[i++] = v->valueint;
        cJSON_Delete(o);
        if (n == cap) c = realloc(c, (size_t)(cap *= 2) * sizeof *c);
    }
    free(text);
    *out = c;
    return n;
}

static void free_cases(Case *c, int n) {
    for (int i = 0; i < n; i++) free(c[i].bytes), free(c[i].dec), free(c[i].ids);
    free(c);
}

static int same_ids(const int32_t *a, size_t na, const int32_t *b, size_t nb) {
    return na == nb && (!na || !memcmp(a, b, na * sizeof *a));
}

static void show_ids(const char *what, const int32_t *v, size_t n) {
    fprintf(stderr, "  %s:", what);
    for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", v[i]);
    fputc('\n', stderr);
}

// Every fixture line: our ids equal the library's, our decode of them equals its decode.
static void check_fixture(const char *name, int exact_roundtrip) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", tu_path("fixtures/tokenizer/"));
    strncat(dir, name, sizeof dir - strlen(dir) - 1);
    Tokenizer *t = NULL;
    int rc = tok_load(dir, &t);
    CHECK(rc == 0, "%s: %s", name, grpo_errmsg());
    if (rc) return;
    Case *c;
    int n = load_cases(dir, &c);
    CHECK(n > 50, "%s: expected.jsonl has %d lines", name, n);
    for (int i = 0; i < n; i++) {
        int32_t *ids;
        size_t m;
        rc = tok_encode(t, c[i].bytes, c[i].n, 0, &ids, &m);
        CHECK(rc == 0, "%s line %d: %s", name, i + 1, grpo_errmsg());
        if (rc) continue;
        int ok = same_ids(ids, m, c[i].ids, (size_t)c[i].nids);
        CHECK(ok, "%s line %d (%.*s): ids differ", name, i + 1, (int)(c[i].n < 60 ? c[i].n : 60), c[i].bytes);
        if (!ok) show_ids("ours  ", ids, m), show_ids("theirs", c[i].ids, (size_t)c[i].nids);
        char *text;
        size_t tl;
        rc = tok_decode(t, c[i].ids, (size_t)c[i].nids, &text, &tl);
        CHECK(rc == 0 && tl == c[i].dn && !memcmp(text, c[i].dec, tl), "%s line %d: decode '%.*s' != '%.*s'", name, i + 1,
              rc ? 0 : (int)tl, rc ? "" : text, (int)c[i].dn, c[i].dec);
        if (!rc && exact_roundtrip && !memmem(c[i].bytes, c[i].n, "<sep>", 5)) // lstrip/rstrip eat spaces
            CHECK(tl == c[i].n && !memcmp(text, c[i].bytes, tl), "%s line %d: decode(encode(x)) != x", name, i + 1);
        if (!rc) free(text);
        free(ids);
    }
    free_cases(c, n);
    tok_free(t);
}

static Tokenizer *load_fixture(const char *name) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s%s", tu_path("fixtures/tokenizer/"), name);
    Tokenizer *t = NULL;
    if (tok_load(dir, &t)) fprintf(stderr, "%s\n", grpo_errmsg());
    return t;
}

static void check_config(void) {
    Tokenizer *t = load_fixture("gpt2");
    CHECK(t && tok_bos_id(t) == tok_token_id(t, "<|endoftext|>") && tok_eos_id(t) >= 0 && tok_pad_id(t) == -1, "gpt2 config");
    CHECK(t && tok_token_id(t, "<think>") >= 0 && tok_token_id(t, "Ġthe") >= 0 && tok_token_id(t, "no such token") == -1, "lookup");
    CHECK(t && tok_is_special(t, tok_token_id(t, "<|endoftext|>")) && !tok_is_special(t, tok_token_id(t, "Ġthe")), "special flag");
    CHECK(t && !tok_wants_bos(t), "gpt2 add_bos_token false");
    tok_free(t);
    t = load_fixture("qwen2");
    CHECK(t && tok_bos_id(t) == -1 && tok_eos_id(t) == tok_token_id(t, "<|endoftext|>") && tok_pad_id(t) == tok_eos_id(t), "qwen2 config");
    CHECK(t && tok_token_id(t, "<|im_start|>") >= 0 && !tok_is_special(t, tok_token_id(t, "<think>")), "qwen2 tokens");
    if (t) {
        int32_t *ids;
        size_t m;
        CHECK(tok_encode(t, "hi", 2, 1, &ids, &m) == 0 && m > 0 && ids[0] != -1, "no bos to add");
        free(ids);
    }
    tok_free(t);
    t = load_fixture("llama3");
    CHECK(t && tok_wants_bos(t) && tok_bos_id(t) == tok_token_id(t, "<|begin_of_text|>"), "llama3: BOS from the template");
    tok_free(t);
    t = load_fixture("llama2");
    CHECK(t && tok_wants_bos(t) && tok_bos_id(t) == 1 && tok_eos_id(t) == 2, "llama2 config");
    if (t) {
        int32_t *a, *b;
        size_t na, nb;
        CHECK(tok_encode(t, "Hello", 5, 1, &a, &na) == 0 && tok_encode(t, "Hello", 5, 0, &b, &nb) == 0 && na == nb + 1 && a[0] == 1 &&
                  !memcmp(a + 1, b, nb * sizeof *b),
              "add_bos prepends <s>");
        free(a), free(b);
    }
    tok_free(t);
}

static void check_builtin(void) {
    Tokenizer *t = NULL;
    CHECK(tok_load_builtin(&t) == 0, "%s", grpo_errmsg());
    if (!t) return;
    CHECK(tok_vocab_size(t) == TOK_BUILTIN_VOCAB, "vocab %d", tok_vocab_size(t));
    CHECK(tok_eos_id(t) == 256 && tok_pad_id(t) == 256 && tok_bos_id(t) == -1, "builtin config");
    const char *names[] = {"<|endoftext|>", "<think>", "</think>", "<answer>", "</answer>", "<|im_start|>", "<|im_end|>"};
    for (int i = 0; i < 7; i++) CHECK(tok_token_id(t, names[i]) == 256 + i, "%s", names[i]);
    char all[256];
    for (int i = 0; i < 256; i++) all[i] = (char)i;
    int32_t *ids;
    size_t m;
    CHECK(tok_encode(t, all, 256, 0, &ids, &m) == 0 && m == 256, "256 bytes -> 256 ids");
    int ok = 1;
    for (size_t i = 0; i < m; i++) ok &= ids[i] == (int32_t)i;
    CHECK(ok, "byte b is id b");
    char *back;
    size_t bl;
    CHECK(tok_decode(t, ids, m, &back, &bl) == 0 && bl == 256 && !memcmp(back, all, 256), "decode of all bytes");
    free(back);
    free(ids);
    const char *s = "<think>2+2</think> <answer>4</answer><|endoftext|>";
    CHECK(tok_encode(t, s, strlen(s), 0, &ids, &m) == 0 && m == 10 && ids[0] == 257 && ids[4] == 258 && ids[5] == ' ' && ids[6] == 259 &&
              ids[9] == 256,
          "specials in text");
    CHECK(tok_decode(t, ids, m, &back, &bl) == 0 && bl == strlen(s) && !memcmp(back, s, bl), "decode specials");
    free(back);
    free(ids);
    // the written files load the same (and are what the `tokenizers` library loads)
    const char *dir = tu_tmpdir("tok_builtin");
    CHECK(tok_write_builtin(dir) == 0, "%s", grpo_errmsg());
    Tokenizer *u = NULL;
    CHECK(tok_load(dir, &u) == 0, "%s", grpo_errmsg());
    if (u) {
        CHECK(tok_vocab_size(u) == TOK_BUILTIN_VOCAB && tok_eos_id(u) == 256, "written builtin config");
        int32_t *a, *b;
        size_t na, nb;
        CHECK(tok_encode(u, s, strlen(s), 0, &a, &na) == 0 && tok_encode(t, s, strlen(s), 0, &b, &nb) == 0 && same_ids(a, na, b, nb),
              "written == in-memory");
        free(a), free(b);
        tok_free(u);
    }
    int32_t bad = 263;
    CHECK(tok_decode(t, &bad, 1, &back, &bl) != 0 && strstr(grpo_errmsg(), "263") && strstr(grpo_errmsg(), "out of range"),
          "out-of-range id: %s", grpo_errmsg());
    tok_free(t);
}

// decode(encode(x)) == x on random bytes, valid UTF-8 or not.
static void check_random_roundtrip(const char *name) {
    Tokenizer *t = load_fixture(name);
    if (!t) return;
    uint64_t seed = 7;
    int bad = 0;
    for (int it = 0; it < 300; it++) {
        char buf[64];
        size_t n = 1 + tu_rand_u64(&seed) % 63;
        for (size_t i = 0; i < n; i++) {
            uint64_t r = tu_rand_u64(&seed);
            // mostly text-like bytes, some high ones, rarely anything
            buf[i] = (char)(r % 4 == 0 ? (int)(r >> 8) : r % 4 == 1 ? 0x80 + (int)((r >> 8) % 64) : ' ' + (int)((r >> 8) % 95));
            if (buf[i] == '<') buf[i] = '('; // keep clear of added tokens
        }
        int32_t *ids;
        size_t m;
        char *back = NULL;
        size_t bl = 0;
        if (tok_encode(t, buf, n, 0, &ids, &m) || tok_decode(t, ids, m, &back, &bl) || bl != n || memcmp(back, buf, n)) bad++;
        free(back);
        free(ids);
    }
    CHECK(bad == 0, "%s: %d of 300 random byte strings did not round-trip", name, bad);
    tok_free(t);
}

static void check_nfc(void) {
    struct {
        const char *in, *nfc, *nfd;
    } cases[] = {
        {"e\xcc\x81", "\xc3\xa9", "e\xcc\x81"},                               // e + acute -> é
        {"\xe2\x84\xab", "\xc3\x85", "A\xcc\x8a"},                            // ANGSTROM SIGN -> Å
        {"\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8", "\xea\xb0\x81", "\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8"}, // jamo -> 각
        {"q\xcc\x87\xcc\xa3", "q\xcc\xa3\xcc\x87", "q\xcc\xa3\xcc\x87"},      // reorder: dot below before dot above
        {"\xe1\xb8\x8b\xcc\xa3", "\xe1\xb8\x8d\xcc\x87", "d\xcc\xa3\xcc\x87"}, // ḋ + dot below -> ḍ + dot above
        {"\xef\xac\xb1", "\xd7\x91\xd6\xbc", "\xd7\x91\xd6\xbc"},            // composition exclusion stays decomposed
        {"caf\xc3\xa9", "caf\xc3\xa9", "cafe\xcc\x81"},                       // Latin-1 é splits under NFD only
        {"\xea\xb0\x81", "\xea\xb0\x81", "\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8"}, // Hangul syllable: NFD splits it
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int comp = 1; comp >= 0; comp--) {
            char *o = NULL;
            size_t on = 0;
            const char *want = comp ? cases[i].nfc : cases[i].nfd;
            int rc = tok_unicode_normalize(cases[i].in, strlen(cases[i].in), comp, &o, &on);
            const char *got = o ? o : cases[i].in;
            size_t gn = o ? on : strlen(cases[i].in);
            CHECK(rc == 0 && gn == strlen(want) && !memcmp(got, want, gn), "case %zu %s", i, comp ? "NFC" : "NFD");
            free(o);
        }
    }
}

typedef struct {
    const Tokenizer *t;
    Case *c;
    int n, bad;
} Job;

static void *thread_main(void *p) {
    Job *j = p;
    for (int rep = 0; rep < 20; rep++)
        for (int i = 0; i < j->n; i++) {
            int32_t *ids;
            size_t m;
            if (tok_encode(j->t, j->c[i].bytes, j->c[i].n, 0, &ids, &m) || !same_ids(ids, m, j->c[i].ids, (size_t)j->c[i].nids)) j->bad++;
            free(ids);
        }
    return NULL;
}

static void check_threads(void) {
    Tokenizer *t = load_fixture("qwen2");
    if (!t) return;
    char dir[1024];
    snprintf(dir, sizeof dir, "%sqwen2", tu_path("fixtures/tokenizer/"));
    Case *c;
    int n = load_cases(dir, &c);
    pthread_t th[4];
    Job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (Job){t, c, n, 0};
        pthread_create(&th[i], NULL, thread_main, &jobs[i]);
    }
    int bad = 0;
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL), bad += jobs[i].bad;
    CHECK(bad == 0, "%d wrong encodings from 4 threads sharing one Tokenizer", bad);
    free_cases(c, n);
    tok_free(t);
}

// Each malformed tokenizer.json: tok_load fails and the message names the file and the problem.
static void check_malformed(void) {
    const char *dir = tu_tmpdir("tok_malformed");
    const char *V = "\"vocab\":{\"a\":0,\"b\":1,\"ab\":2}";
    char cases[][2][400] = {
        {"{\"model\":", "invalid JSON: truncated"},
        {"{\n\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": [] },\n}", "invalid JSON at line 3"},
        {"{\"added_tokens\": []}", "no \"model\" object"},
        {"[1, 2]", "top level must be a JSON object"},
        {"{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", "model.type 'Unigram' is not supported"},
        {"{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}", "model.type 'WordPiece' is not supported"},
        {"", ""}, // filled below: the merges and pipeline cases need the vocab
    };
    int n = (int)(sizeof cases / sizeof cases[0]) - 1;
    for (int i = 0; i < n; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/bad%d.json", dir, i);
        write_file(path, cases[i][0], strlen(cases[i][0]));
        Tokenizer *t = NULL;
        int rc = tok_load(path, &t);
        CHECK(rc != 0 && strstr(grpo_errmsg(), path) && strstr(grpo_errmsg(), cases[i][1]), "case %d: got '%s'", i, grpo_errmsg());
        tok_free(t);
    }
    struct {
        const char *model_rest, *extra, *want;
    } more[] = {
        {"\"merges\":[\"a c\"]", "", "model.merges[0]: token 'c' is not in model.vocab"},
        {"\"merges\":[\"ab\"]", "", "model.merges[0]: \"ab\" is not two tokens"},
        {"\"merges\":[[\"a\",\"b\",\"c\"]]", "", "model.merges[0]: expected"},
        {"\"merges\":[\"b a\"]", "", "merged token 'ba' is not in model.vocab"},
        {"\"merges\":7", "", "model.merges must be an array"},
        {"\"merges\":[],\"unk_token\":\"<unk>\"", "", "unk_token '<unk>' is not in model.vocab"},
        {"\"merges\":[]", ",\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"}", "pre_tokenizer.type 'BertPreTokenizer' is not supported"},
        {"\"merges\":[]", ",\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFC\"},{\"type\":\"NFKC\"}]}",
         "normalizer.normalizers[1].type 'NFKC' is not supported"},
        {"\"merges\":[]", ",\"decoder\":{\"type\":\"WordPiece\"}", "decoder.type 'WordPiece' is not supported"},
        {"\"merges\":[]", ",\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(unclosed\"},\"behavior\":\"Isolated\"}",
         "regex does not compile"},
        {"\"merges\":[]", ",\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"a\"},\"behavior\":\"Sideways\"}",
         "behavior 'Sideways'"},
        {"\"merges\":[]", ",\"added_tokens\":[{\"id\":\"x\",\"content\":\"<s>\"}]", "added_tokens[0]"},
    };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
        char json[1200], path[1200];
        snprintf(json, sizeof json, "{\"model\":{\"type\":\"BPE\",%s,%s}%s}", V, more[i].model_rest, more[i].extra);
        snprintf(path, sizeof path, "%s/more%zu.json", dir, i);
        write_file(path, json, strlen(json));
        Tokenizer *t = NULL;
        int rc = tok_load(path, &t);
        CHECK(rc != 0 && strstr(grpo_errmsg(), path) && strstr(grpo_errmsg(), more[i].want), "case %zu: got '%s'", i, grpo_errmsg());
        tok_free(t);
    }
    // a real file cut in half, and a config file naming an unknown token
    size_t len;
    char *full = slurp(tu_path("fixtures/tokenizer/gpt2/tokenizer.json"), &len);
    CHECK(full != NULL, "read gpt2 fixture");
    if (full) {
        char path[1200];
        snprintf(path, sizeof path, "%s/tokenizer.json", dir);
        write_file(path, full, len / 2);
        Tokenizer *t = NULL;
        CHECK(tok_load(path, &t) != 0 && strstr(grpo_errmsg(), "truncated"), "half a file: %s", grpo_errmsg());
        tok_free(t);
        write_file(path, full, len);
        snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
        const char *cfg = "{\"eos_token\": \"<nope>\"}";
        write_file(path, cfg, strlen(cfg));
        CHECK(tok_load(dir, &t) != 0 && strstr(grpo_errmsg(), "tokenizer_config.json") && strstr(grpo_errmsg(), "<nope>"),
              "bad config: %s", grpo_errmsg());
        tok_free(t);
        free(full);
    }
    Tokenizer *t = NULL;
    CHECK(tok_load("/nonexistent/tok", &t) != 0 && strstr(grpo_errmsg(), "/nonexistent/tok"), "missing path: %s", grpo_errmsg());
}

// variants.jsonl: each line swaps pre_tokenizer/normalizer/decoder into a fixture's
// tokenizer.json (Split behaviors, invert, Digits, Metaspace schemes, NFD, ...) with the
// library's ids and decodes for a few lines.
static void check_variants(void) {
    char *text = slurp(tu_path("fixtures/tokenizer/variants.jsonl"), NULL);
    CHECK(text != NULL, "read variants.jsonl");
    if (!text) return;
    int nv = 0, ncases = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save), nv++) {
        cJSON *v = cJSON_Parse(line);
        char path[1024];
        snprintf(path, sizeof path, "fixtures/tokenizer/%s/tokenizer.json", cJSON_GetObjectItem(v, "base")->valuestring);
        char *base = slurp(tu_path(path), NULL);
        cJSON *j = base ? cJSON_Parse(base) : NULL;
        free(base);
        const char *keys[] = {"pre_tokenizer", "normalizer", "decoder"};
        for (int k = 0; k < 3 && j; k++) {
            cJSON *val = cJSON_GetObjectItem(v, keys[k]);
            if (k == 2 && cJSON_IsNull(val)) continue; // keep the base decoder
            cJSON_ReplaceItemInObject(j, keys[k], cJSON_Duplicate(val, 1));
        }
        char *json = j ? cJSON_PrintUnformatted(j) : NULL;
        char *desc = cJSON_PrintUnformatted(cJSON_GetObjectItem(v, "pre_tokenizer"));
        Tokenizer *t = NULL;
        int rc = json ? tok_load_json(json, NULL, "variant", &t) : -1;
        CHECK(rc == 0, "variant %d: %s", nv, grpo_errmsg());
        for (const cJSON *c = cJSON_GetObjectItem(v, "cases")->child; c && t; c = c->next, ncases++) {
            const char *hex = cJSON_GetObjectItem(c, "hex")->valuestring, *dh = cJSON_GetObjectItem(c, "decoded_hex")->valuestring;
            char in[512], want[512];
            size_t n = unhex(hex, in), wn = unhex(dh, want);
            const cJSON *e = cJSON_GetObjectItem(c, "ids");
            int32_t exp[512];
            size_t ne = 0;
            for (const cJSON *x = e->child; x && ne < 512; x = x->next) exp[ne++] = x->valueint;
            int32_t *ids;
            size_t m;
            rc = tok_encode(t, in, n, 0, &ids, &m);
            int ok = rc == 0 && same_ids(ids, m, exp, ne);
            CHECK(ok, "variant %d %s: '%.*s': ids differ", nv, desc, (int)n, in);
            if (!ok && !rc) show_ids("ours  ", ids, m), show_ids("theirs", exp, ne);
            if (!rc) free(ids);
            char *back;
            size_t bl;
            rc = tok_decode(t, exp, ne, &back, &bl);
            CHECK(rc == 0 && bl == wn && !memcmp(back, want, wn), "variant %d %s: decode of '%.*s' is '%.*s', not '%.*s'", nv, desc,
                  (int)n, in, rc ? 0 : (int)bl, rc ? "" : back, (int)wn, want);
            if (!rc) free(back);
        }
        tok_free(t);
        free(desc);
        free(json);
        cJSON_Delete(j);
        cJSON_Delete(v);
    }
    CHECK(nv >= 40 && ncases >= 400, "%d variants, %d cases", nv, ncases);
    free(text);
}

// Llama 2 style words are merged one at a time only when no token crosses a word start: here
// "a\u2581b" does, so "a b" must stay one BPE word and become that single token.
static void check_word_split(void) {
    const char *json = "{\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\u2581\"},"
                       "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"\u2581\":2,\"a\u2581\":3,\"a\u2581b\":4,\"\u2581b\":5},"
                       "\"merges\":[\"a \u2581\",\"a\u2581 b\",\"\u2581 b\"]}}";
    Tokenizer *t = NULL;
    CHECK(tok_load_json(json, NULL, "crossing", &t) == 0, "%s", grpo_errmsg());
    if (!t) return;
    CHECK(!t->word_split, "a token crossing a word start turns word splitting off");
    int32_t *ids;
    size_t m;
    CHECK(tok_encode(t, "a b", 3, 0, &ids, &m) == 0 && m == 1 && ids[0] == 4, "'a b' -> [a\u2581b]");
    free(ids);
    tok_free(t);
    t = load_fixture("llama2");
    CHECK(t && t->word_split, "the llama2 fixture merges word by word");
    tok_free(t);
}

// Mutated tokenizer.json files (JSON punctuation and keywords written over random places of a
// real fixture with a full pipeline): each must load with a message or work, never crash.
static void check_mutations(void) {
    size_t n;
    char *src = slurp(tu_path("fixtures/tokenizer/smollm/tokenizer.json"), &n);
    CHECK(src != NULL, "read smollm fixture");
    if (!src) return;
    static const char *rep[] = {"\"", "{", "}", "[", "]", "0", "-1", "null", "true", "\"Sequence\"", "\"Split\"",
                                "\"Metaspace\"", "99999999", ",", ":", "\"\"", "\\", "\"(\"", "1e9"};
    uint64_t seed = 3;
    int loaded = 0, failed_silently = 0;
    char *buf = malloc(n + 1);
    for (int it = 0; it < 300; it++) {
        memcpy(buf, src, n + 1);
        int k = 1 + (int)(tu_rand_u64(&seed) % 3);
        for (int j = 0; j < k; j++) {
            // aim at the pipeline and the added tokens (the start) more than the vocab
            size_t span = tu_rand_u64(&seed) % 2 ? 1500 : n;
            size_t pos = tu_rand_u64(&seed) % (span < n ? span : n);
            const char *r = rep[tu_rand_u64(&seed) % (sizeof rep / sizeof rep[0])];
            if (pos + strlen(r) < n) memcpy(buf + pos, r, strlen(r));
        }
        Tokenizer *t = NULL;
        grpo_clear_error();
        if (tok_load_json(buf, NULL, "mutant.json", &t) == 0) {
            loaded++;
            const char *txt = "Hi <|im_start|> 123 \xff caf\xc3\xa9 \xf0\x9f\x99\x82";
            int32_t *ids;
            size_t m;
            if (tok_encode(t, txt, strlen(txt), 1, &ids, &m) == 0) {
                char *d;
                size_t dl;
                if (tok_decode(t, ids, m, &d, &dl) == 0) free(d);
                free(ids);
            }
            tok_free(t);
        } else if (!strstr(grpo_errmsg(), "mutant.json"))
            failed_silently++;
    }
    CHECK(failed_silently == 0, "%d mutants failed without naming the file", failed_silently);
    CHECK(loaded > 0, "some mutants still load (%d)", loaded);
    free(buf);
    free(src);
}

int main(void) {
    check_fixture("gpt2", 1);
    check_fixture("qwen2", 0);
    check_fixture("llama3", 1);
    check_fixture("llama2", 0);
    check_fixture("smollm", 1);
    check_fixture("metaspace", 0);
    check_variants();
    check_config();
    check_word_split();
    check_builtin();
    check_random_roundtrip("gpt2");
    check_random_roundtrip("llama2");
    check_nfc();
    check_threads();
    check_malformed();
    check_mutations();
    return tu_finish("test_tokenizer");
}
