// Prompt templates: the built-in conversation formats and custom {field} ones.
#include "datasets/template.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/dataset.h"
#include "kernels/status.h"

typedef enum { K_R1_ZERO, K_CHATML, K_LLAMA3, K_PLAIN, K_CUSTOM } Kind;

struct Template {
    Kind kind;
    char *text;      // custom only
    char *system;    // may be NULL
    int open_think;
    char **stops;
    int n_stops;
};

// DeepSeek-R1-Zero's training template (DeepSeek-AI 2025, table 1).
static const char k_r1_prefix[] =
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
    "The assistant first thinks about the reasoning process in the mind and then provides the user with the "
    "answer. The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, "
    "respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>. User: ";

static const char *const k_names[] = {"r1-zero", "chatml", "llama3", "plain", "custom"};
static const char *const k_eos[][2] = {{NULL, NULL}, {"<|im_end|>", "<|endoftext|>"}, {"<|eot_id|>", "<|end_of_text|>"},
                                       {NULL, NULL}, {NULL, NULL}};
static const char *const k_stop[] = {"</answer>", "<|im_end|>", "<|eot_id|>", NULL, NULL};

void tpl_options_default(TplOptions *o) { memset(o, 0, sizeof *o); }

static int add_stop(Template *t, const char *s) {
    char **ns = realloc(t->stops, (size_t)(t->n_stops + 1) * sizeof *ns);
    if (!ns) return grpo_fail(GRPO_ENOMEM, "out of memory");
    t->stops = ns;
    if (!(t->stops[t->n_stops] = strdup(s))) return grpo_fail(GRPO_ENOMEM, "out of memory");
    t->n_stops++;
    return GRPO_OK;
}

static int make(Kind k, const TplOptions *o, Template **out) {
    Template *t = calloc(1, sizeof *t);
    if (!t) return grpo_fail(GRPO_ENOMEM, "out of memory");
    t->kind = k;
    if (o && o->system && !(t->system = strdup(o->system))) {
        free(t);
        return grpo_fail(GRPO_ENOMEM, "out of memory");
    }
    t->open_think = o ? o->open_think : 0;
    if (k_stop[k] && add_stop(t, k_stop[k])) {
        tpl_free(t);
        return GRPO_ENOMEM;
    }
    *out = t;
    return GRPO_OK;
}

int tpl_create(const char *name, const TplOptions *o, Template **out) {
    *out = NULL;
    for (int k = 0; k < K_CUSTOM; k++)
        if (name && !strcmp(name, k_names[k])) return make((Kind)k, o, out);
    if (name && (!strcmp(name, "r1") || !strcmp(name, "r1_zero") || !strcmp(name, "r1zero")))
        return grpo_fail(GRPO_EINVAL, "unknown template '%s' (did you mean 'r1-zero'?)", name);
    if (name && (!strcmp(name, "llama") || !strcmp(name, "llama-3") || !strcmp(name, "llama3.1")))
        return grpo_fail(GRPO_EINVAL, "unknown template '%s' (did you mean 'llama3'?)", name);
    if (name && (!strcmp(name, "qwen") || !strcmp(name, "chat-ml") || !strcmp(name, "chat_ml")))
        return grpo_fail(GRPO_EINVAL, "unknown template '%s' (did you mean 'chatml'?)", name);
    return grpo_fail(GRPO_EINVAL, "unknown template '%s' (known: r1-zero, chatml, llama3, plain; or a custom text with "
                                  "{question})", name ? name : "(null)");
}

static int is_field_char(char c) { return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-'; }

// Walks a custom template: literal runs and placeholders. fn == NULL only checks.
typedef int (*PieceFn)(void *ctx, const char *s, size_t n, int placeholder);

static int walk(const char *text, PieceFn fn, void *ctx) {
    const char *p = text, *lit = text;
    int rc;
    while (*p) {
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            if (fn && ((rc = fn(ctx, lit, (size_t)(p - lit), 0)) || (rc = fn(ctx, p, 1, 0)))) return rc;
            p += 2;
            lit = p;
        } else if (*p == '}') {
            return grpo_fail(GRPO_EINVAL, "template: a lone '}' at offset %d (write '}}' for a brace)", (int)(p - text));
        } else if (*p == '{') {
            const char *q = p + 1;
            while (is_field_char(*q)) q++;
            if (*q != '}' || q == p + 1)
                return grpo_fail(GRPO_EINVAL, "template: bad placeholder at offset %d: expected {field} (write '{{' for a brace)",
                                 (int)(p - text));
            if (fn && ((rc = fn(ctx, lit, (size_t)(p - lit), 0)) || (rc = fn(ctx, p + 1, (size_t)(q - p - 1), 1)))) return rc;
            p = q + 1;
            lit = p;
        } else {
            p++;
        }
    }
    return fn && p > lit ? fn(ctx, lit, (size_t)(p - lit), 0) : GRPO_OK;
}

int tpl_create_custom(const char *text, const char *const *stops, const TplOptions *o, Template **out) {
    *out = NULL;
    if (!text) return grpo_fail(GRPO_EINVAL, "template: no text");
    int rc = walk(text, NULL, NULL);
    if (rc) return rc;
    Template *t;
    if ((rc = make(K_CUSTOM, o, &t))) return rc;
    if (!(t->text = strdup(text))) rc = grpo_fail(GRPO_ENOMEM, "out of memory");
    for (int i = 0; !rc && stops && stops[i]; i++) rc = add_stop(t, stops[i]);
    if (rc) {
        tpl_free(t);
        return rc;
    }
    *out = t;
    return GRPO_OK;
}

void tpl_free(Template *t) {
    if (!t) return;
    for (int i = 0; i < t->n_stops; i++) free(t->stops[i]);
    free(t->stops);
    free(t->text);
    free(t->system);
    free(t);
}

const char *tpl_name(const Template *t) { return k_names[t->kind]; }
int tpl_stop_count(const Template *t) { return t->n_stops; }
const char *tpl_stop(const Template *t, int i) { return i >= 0 && i < t->n_stops ? t->stops[i] : NULL; }
int tpl_eos_count(const Template *t) { return k_eos[t->kind][0] ? 2 : 0; }
const char *tpl_eos_name(const Template *t, int i) { return i >= 0 && i < tpl_eos_count(t) ? k_eos[t->kind][i] : NULL; }
int tpl_has_bos(const Template *t) { return t->kind == K_LLAMA3; }

// ---------------------------------------------------------------- rendering

typedef struct {
    char *s;
    size_t len, cap;
    const cJSON *ex;
    const Template *t;
} Out;

static int put(Out *o, const char *s, size_t n) {
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + n + 1) cap *= 2;
        char *ns = realloc(o->s, cap);
        if (!ns) return grpo_fail(GRPO_ENOMEM, "out of memory rendering a prompt");
        o->s = ns;
        o->cap = cap;
    }
    memcpy(o->s + o->len, s, n);
    o->len += n;
    o->s[o->len] = 0;
    return GRPO_OK;
}

static int puts_(Out *o, const char *s) { return put(o, s, strlen(s)); }

static int custom_piece(void *ctx, const char *s, size_t n, int placeholder) {
    Out *o = ctx;
    if (!placeholder) return put(o, s, n);
    char name[256];
    if (n >= sizeof name) return grpo_fail(GRPO_EINVAL, "template: placeholder name too long");
    memcpy(name, s, n);
    name[n] = 0;
    const cJSON *v = ds_path(o->ex, name);
    if (!v && !strcmp(name, "system") && o->t->system) return puts_(o, o->t->system);
    if (!v) return grpo_fail(GRPO_EINVAL, "template: the example has no field '%s' for placeholder {%s}", name, name);
    char *text = ds_json_text(v);
    if (!text) return grpo_fail(GRPO_ENOMEM, "out of memory rendering a prompt");
    int rc = puts_(o, text);
    free(text);
    return rc;
}

int tpl_render(const Template *t, const cJSON *example, char **out, size_t *len) {
    *out = NULL;
    if (len) *len = 0;
    Out o = {NULL, 0, 0, example, t};
    int rc = put(&o, "", 0);
    const char *q = ds_str(example, "question");
    if (t->kind != K_CUSTOM && !q) rc = grpo_fail(GRPO_EINVAL, "template %s: the example has no \"question\" string", k_names[t->kind]);
    switch (rc ? -1 : (int)t->kind) {
    case K_R1_ZERO:
        if (!(rc = puts_(&o, k_r1_prefix)) && !(rc = puts_(&o, q)) && !(rc = puts_(&o, ". Assistant:")) && t->open_think)
            rc = puts_(&o, " <think>");
        break;
    case K_CHATML:
        if (t->system && ((rc = puts_(&o, "<|im_start|>system\n")) || (rc = puts_(&o, t->system)) || (rc = puts_(&o, "<|im_end|>\n"))))
            break;
        if (!(rc = puts_(&o, "<|im_start|>user\n")) && !(rc = puts_(&o, q)) &&
            !(rc = puts_(&o, "<|im_end|>\n<|im_start|>assistant\n")) && t->open_think)
            rc = puts_(&o, "<think>\n");
        break;
    case K_LLAMA3:
        if ((rc = puts_(&o, "<|begin_of_text|>"))) break;
        if (t->system && ((rc = puts_(&o, "<|start_header_id|>system<|end_header_id|>\n\n")) || (rc = puts_(&o, t->system)) ||
                          (rc = puts_(&o, "<|eot_id|>"))))
            break;
        if (!(rc = puts_(&o, "<|start_header_id|>user<|end_header_id|>\n\n")) && !(rc = puts_(&o, q)) &&
            !(rc = puts_(&o, "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")) && t->open_think)
            rc = puts_(&o, "<think>\n");
        break;
    case K_PLAIN:
        if (!(rc = puts_(&o, q))) rc = puts_(&o, "\n");
        break;
    case K_CUSTOM:
        rc = walk(t->text, custom_piece, &o);
        break;
    default:
        break;
    }
    if (rc) {
        free(o.s);
        return rc;
    }
    *out = o.s;
    if (len) *len = o.len;
    return GRPO_OK;
}

int tpl_render_completion(const Template *t, const char *completion, char **out) {
    *out = NULL;
    if (!completion) return grpo_fail(GRPO_EINVAL, "no completion");
    const char *c = completion;
    if (t->open_think) { // the prompt already opened <think>
        const char *p = c;
        while (isspace((unsigned char)*p)) p++;
        if (!strncmp(p, "<think>", 7)) {
            c = p + 7;
            if (t->kind != K_R1_ZERO)
                while (*c == ' ' || *c == '\n') c++; // the prompt ended with "<think>\n"
        }
    }
    const char *pre = (t->kind == K_R1_ZERO && !isspace((unsigned char)*c)) ? " " : "";
    const char *post = t->kind == K_CHATML ? "<|im_end|>" : t->kind == K_LLAMA3 ? "<|eot_id|>" : "";
    size_t n = strlen(pre) + strlen(c) + strlen(post) + 1;
    char *s = malloc(n);
    if (!s) return grpo_fail(GRPO_ENOMEM, "out of memory");
    strcpy(s, pre);
    strcat(s, c);
    strcat(s, post);
    *out = s;
    return GRPO_OK;
}
