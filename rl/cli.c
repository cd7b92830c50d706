#include "rl/cli.h"

#include <errno.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/status.h"
#include "rl/suggest.h"

int cli_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "grpo %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

int cli_fail(const char *cmd) { return cli_error(cmd, "%s", grpo_errmsg()); }

static int set_value(const char *cmd, const CliOpt *o, const char *val) {
    char *end = NULL;
    switch (o->kind) {
    case CLI_STR:
        *(const char **)o->dst = val;
        return 0;
    case CLI_INT: {
        errno = 0;
        long v = strtol(val, &end, 10);
        if (errno || end == val || *end) {
            cli_error(cmd, "%s expects an integer, got '%s'", o->name, val);
            return 2;
        }
        *(long *)o->dst = v;
        return 0;
    }
    case CLI_DOUBLE: {
        errno = 0;
        double v = strtod(val, &end);
        if (errno || end == val || *end) {
            cli_error(cmd, "%s expects a number, got '%s'", o->name, val);
            return 2;
        }
        *(double *)o->dst = v;
        return 0;
    }
    case CLI_MULTI: {
        CliMulti *m = o->dst;
        if (m->n >= (int)(sizeof m->items / sizeof m->items[0])) {
            cli_error(cmd, "too many %s options", o->name);
            return 2;
        }
        m->items[m->n++] = val;
        return 0;
    }
    case CLI_FLAG:
        break;
    }
    return 0;
}

int cli_parse(const char *cmd, int argc, char **argv, const CliOpt *opts, int nopts,
              const char **pos, int max_pos, int *npos) {
    int np = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0 || !strcmp(arg, "--") || !strcmp(arg, "-")) {
            if (np >= max_pos) {
                cli_error(cmd, "unexpected argument '%s' (see 'grpo %s --help')", arg, cmd);
                return 2;
            }
            pos[np++] = arg;
            continue;
        }
        const char *eq = strchr(arg, '=');
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        const CliOpt *o = NULL;
        for (int k = 0; k < nopts; k++)
            if (strlen(opts[k].name) == name_len && !strncmp(opts[k].name, arg, name_len)) o = &opts[k];
        if (!o) {
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)name_len, arg);
            const char *cands[128];
            int nc = nopts < 128 ? nopts : 128;
            for (int k = 0; k < nc; k++) cands[k] = opts[k].name;
            const char *s = suggest_closest(name, cands, nc);
            if (s) cli_error(cmd, "unknown option '%s' (did you mean '%s'?)", name, s);
            else cli_error(cmd, "unknown option '%s' (see 'grpo %s --help')", name, cmd);
            return 2;
        }
        if (o->kind == CLI_FLAG) {
            if (eq) {
                cli_error(cmd, "%s takes no value", o->name);
                return 2;
            }
            *(int *)o->dst = 1;
            continue;
        }
        const char *val = eq ? eq + 1 : NULL;
        if (!val) {
            if (i + 1 >= argc) {
                cli_error(cmd, "%s needs a value", o->name);
                return 2;
            }
            val = argv[++i];
        }
        int rc = set_value(cmd, o, val);
        if (rc) return rc;
    }
    if (npos) *npos = np;
    return 0;
}

int cli_parse_ids(const char *cmd, const char *s, int32_t **ids, int *n) {
    int cap = 64, k = 0;
    int32_t *a = malloc(cap * sizeof *a);
    if (!a) return cli_error(cmd, "out of memory");
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > 2147483647L) {
            free(a);
            return cli_error(cmd, "--ids: '%.20s' is not a token id", p);
        }
        if (k == cap) {
            int32_t *na = realloc(a, (cap *= 2) * sizeof *a);
            if (!na) {
                free(a);
                return cli_error(cmd, "out of memory");
            }
            a = na;
        }
        a[k++] = (int32_t)v;
        p = end;
    }
    *ids = a;
    *n = k;
    return 0;
}

void cli_progress(void *user, const char *line, int redraw) {
    (void)user;
    if (!line) fputc('\n', stderr);
    else if (redraw) fprintf(stderr, "\r\033[K%s", line);
    else fprintf(stderr, "%s\n", line);
}

int cli_open_backend(const char *cmd, const char *device, const char *precision, Backend **out) {
    if (backend_open(device, out)) return cli_fail(cmd);
    int st = backend_set_precision(*out, precision);
    if (st) {
        grpo_wrap(st, "--precision: ");
        backend_close(*out);
        *out = NULL;
        return cli_fail(cmd);
    }
    return 0;
}
