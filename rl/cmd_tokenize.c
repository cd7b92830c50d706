// `grpo tokenize`: text lines -> JSON id arrays, or (--decode) id arrays -> JSON strings,
// with a Hugging Face tokenizer.json or the built-in byte-level tokenizer.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/status.h"
#include "policy/tokenizer.h"
#include "rl/cli.h"

#define CMD "tokenize"

static size_t utf8_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    if (c < 0xC2 || c > 0xF4) return 0;
    size_t len = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) || (c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F)) return 0;
    return len;
}

// A JSON string literal. Bytes that are not valid UTF-8 cannot be written in JSON: they
// become U+FFFD, as the `tokenizers` library's decode does. NUL and controls are escaped.
static void print_json_string(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    putchar('"');
    for (size_t i = 0; i < n;) {
        unsigned c = u[i];
        if (c == '"' || c == '\\') printf("\\%c", c), i++;
        else if (c == '\n') fputs("\\n", stdout), i++;
        else if (c == '\t') fputs("\\t", stdout), i++;
        else if (c == '\r') fputs("\\r", stdout), i++;
        else if (c < 0x20 || c == 0x7F) printf("\\u%04x", c), i++;
        else if (c < 0x80) putchar((int)c), i++;
        else {
            size_t l = utf8_len(u + i, n - i);
            if (l) fwrite(u + i, 1, l, stdout), i += l;
            else fputs("\xef\xbf\xbd", stdout), i++;
        }
    }
    putchar('"');
}

static int encode_lines(const Tokenizer *t, int add_bos) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    long lineno = 0;
    int rc = 0;
    while ((got = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        size_t n = (size_t)got;
        if (n && line[n - 1] == '\n') n--;
        int32_t *ids;
        size_t m;
        if (tok_encode(t, line, n, add_bos, &ids, &m)) {
            rc = cli_error(CMD, "line %ld: %s", lineno, grpo_errmsg());
            break;
        }
        putchar('[');
        for (size_t i = 0; i < m; i++) printf(i ? ", %d" : "%d", ids[i]);
        fputs("]\n", stdout);
        free(ids);
    }
    free(line);
    return rc;
}

static int decode_lines(const Tokenizer *t) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    long lineno = 0;
    int rc = 0;
    int32_t *ids = NULL;
    while (!rc && (got = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        cJSON *arr = cJSON_ParseWithLength(line, (size_t)got);
        if (!cJSON_IsArray(arr)) {
            cJSON_Delete(arr);
            rc = cli_error(CMD, "line %ld: expected a JSON array of token ids", lineno);
            break;
        }
        int n = cJSON_GetArraySize(arr), k = 0;
        int32_t *nid = realloc(ids, (size_t)(n ? n : 1) * sizeof *ids);
        if (!nid) {
            cJSON_Delete(arr);
            rc = cli_error(CMD, "out of memory");
            break;
        }
        ids = nid;
        for (const cJSON *v = arr->child; v; v = v->next, k++) {
            if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int32_t)v->valuedouble) {
                rc = cli_error(CMD, "line %ld: element %d is not an integer token id", lineno, k);
                break;
            }
            ids[k] = (int32_t)v->valuedouble;
            if (ids[k] < 0 || ids[k] >= tok_vocab_size(t)) {
                rc = cli_error(CMD, "line %ld: token id %d is out of range (vocab size %d)", lineno, ids[k], tok_vocab_size(t));
                break;
            }
        }
        cJSON_Delete(arr);
        if (rc) break;
        char *text;
        size_t len;
        if (tok_decode(t, ids, (size_t)n, &text, &len)) {
            rc = cli_error(CMD, "line %ld: %s", lineno, grpo_errmsg());
            break;
        }
        print_json_string(text, len);
        putchar('\n');
        free(text);
    }
    free(ids);
    free(line);
    return rc;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Encodes every stdin line without printing ids: throughput for the README.
static int bench(const Tokenizer *t) {
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, stdin)) > 0;) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) free(buf);
            buf = nb;
        }
    }
    if (!buf) return cli_error(CMD, "out of memory");
    double best = 1e30;
    size_t ntok = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now_s();
        ntok = 0;
        for (size_t i = 0; i < n;) {
            const char *e = memchr(buf + i, '\n', n - i);
            size_t l = e ? (size_t)(e - (buf + i)) : n - i;
            int32_t *ids;
            size_t m;
            if (tok_encode(t, buf + i, l, 0, &ids, &m)) {
                free(buf);
                return cli_fail(CMD);
            }
            ntok += m;
            free(ids);
            i += l + 1;
        }
        double dt = now_s() - t0;
        if (dt < best) best = dt;
    }
    printf("{\"bytes\": %zu, \"tokens\": %zu, \"seconds\": %.4f, \"mb_per_s\": %.2f}\n", n, ntok, best, (double)n / best / 1e6);
    free(buf);
    return 0;
}

static int run(int argc, char **argv) {
    const char *path = NULL, *write_dir = NULL;
    int builtin = 0, decode = 0, add_bos = 0, do_bench = 0;
    CliOpt opts[] = {{"--tokenizer", CLI_STR, &path}, {"--builtin", CLI_FLAG, &builtin},      {"--decode", CLI_FLAG, &decode},
                     {"--add-bos", CLI_FLAG, &add_bos}, {"--write-builtin", CLI_STR, &write_dir}, {"--bench", CLI_FLAG, &do_bench}};
    int rc = cli_parse(CMD, argc, argv, opts, 6, NULL, 0, NULL);
    if (rc) return rc;
    if (write_dir) {
        if (tok_write_builtin(write_dir)) return cli_fail(CMD);
        printf("wrote %s/tokenizer.json and %s/tokenizer_config.json (vocab %d)\n", write_dir, write_dir, TOK_BUILTIN_VOCAB);
        return 0;
    }
    if (!path == !builtin) {
        fprintf(stderr, "grpo %s: give exactly one of --tokenizer PATH or --builtin (see 'grpo tokenize --help')\n", CMD);
        return 2;
    }
    Tokenizer *t = NULL;
    if (builtin ? tok_load_builtin(&t) : tok_load(path, &t)) return cli_fail(CMD);
    rc = do_bench ? bench(t) : decode ? decode_lines(t) : encode_lines(t, add_bos);
    tok_free(t);
    return rc;
}

const GrpoCommand grpo_cmd_tokenize = {
    "tokenize", "encode text lines to token ids, or decode ids to text",
    "usage: grpo tokenize (--tokenizer PATH | --builtin) [--decode] [--add-bos] [--bench]\n"
    "       grpo tokenize --write-builtin DIR\n\n"
    "Reads stdin one line at a time (the newline is not part of the text). Encoding prints one\n"
    "JSON array of ids per line; --decode reads one JSON array of ids per line and prints one\n"
    "JSON string per line (bytes that are not valid UTF-8 print as U+FFFD).\n\n"
    "  --tokenizer PATH     a tokenizer.json, or a model directory holding one (its\n"
    "                       tokenizer_config.json gives bos/eos/pad)\n"
    "  --builtin            the built-in byte-level tokenizer (ids 0-255 = bytes, then\n"
    "                       <|endoftext|> <think> </think> <answer> </answer> <|im_start|> <|im_end|>)\n"
    "  --decode             ids -> text instead of text -> ids\n"
    "  --add-bos            prepend the BOS token (when the tokenizer has one)\n"
    "  --bench              encode all of stdin (line by line, best of 3) and print MB/s as JSON\n"
    "  --write-builtin DIR  write the built-in tokenizer.json + tokenizer_config.json into DIR\n",
    run};
