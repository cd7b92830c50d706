// The `code` reward. Two ways to run tests:
//  - "tests" / "test"+"entry_point": one sandboxed run of the harness (code_harness.py),
//    which runs the solution and then each test in its own try block, and reports each
//    result on fd 3 tagged with a per-run random nonce. The solution cannot learn the nonce
//    (the harness reads it from a file it deletes before the solution runs), so it cannot
//    forge results, and a solution that exits early leaves the remaining tests unreported:
//    unreported tests fail. The harness also refuses `==` on objects with a Python-level
//    __eq__ (the "always equal" hack). Known limit: the solution runs in the harness's
//    interpreter, so a deliberate attack that digs the nonce out of the harness's frames
//    (sys._getframe, gc) is not prevented; it is far beyond the early-exit and fake-output
//    hacks that RL policies find.
//  - "io": one sandboxed run of the solution itself per case; its stdout is the answer, so
//    there is nothing to forge and exiting early is allowed.
#include "rewards/code.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static void set_msg(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_msg(char *buf, size_t n, const char *fmt, ...) {
    if (!buf || n == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, n, fmt, ap);
    va_end(ap);
}

void code_options_default(CodeOptions *o) {
    o->all_or_nothing = 0;
    sandbox_limits_default(&o->limits);
    o->test_s = 3.0;
}

// ---------------------------------------------------------------- extraction

static int is_py_tag(const char *s, size_t n) {
    static const char *tags[] = {"python", "py", "python3", "Python", "Python3", "py3"};
    for (size_t i = 0; i < sizeof tags / sizeof *tags; i++)
        if (strlen(tags[i]) == n && memcmp(tags[i], s, n) == 0) return 1;
    return 0;
}

char *code_extract(const char *c) {
    if (!c) return NULL;
    const char *best_py = NULL, *best_bare = NULL;
    size_t py_len = 0, bare_len = 0;
    const char *p = c;
    while (*p) {
        const char *eol = strchr(p, '\n');
        const char *next = eol ? eol + 1 : p + strlen(p);
        const char *q = p;
        int ind = 0;
        while (*q == ' ' && ind < 4) q++, ind++;
        size_t ticks = 0;
        while (q[ticks] == '`') ticks++;
        if (ind <= 3 && ticks >= 3) {
            // An opening fence: its info string's first word is the language.
            const char *info = q + ticks, *end = eol ? eol : p + strlen(p);
            while (info < end && (*info == ' ' || *info == '\t')) info++;
            const char *w = info;
            while (w < end && !isspace((unsigned char)*w) && *w != '{') w++;
            int py = is_py_tag(info, (size_t)(w - info)), bare = w == info;
            // Find the closing fence: at least as many backticks, nothing else on the line.
            const char *body = next, *s = next, *close = NULL, *after = NULL;
            while (*s) {
                const char *e2 = strchr(s, '\n');
                const char *n2 = e2 ? e2 + 1 : s + strlen(s), *le = e2 ? e2 : s + strlen(s);
                const char *t = s;
                int i2 = 0;
                while (*t == ' ' && i2 < 4) t++, i2++;
                size_t k = 0;
                while (t[k] == '`') k++;
                const char *r = t + k;
                while (r < le && isspace((unsigned char)*r)) r++;
                if (i2 <= 3 && k >= ticks && r == le) { close = s; after = n2; break; }
                s = n2;
            }
            if (!close) break;  // unclosed: a truncated completion has no runnable block
            if (py) { best_py = body; py_len = (size_t)(close - body); }
            if (bare) { best_bare = body; bare_len = (size_t)(close - body); }
            p = after;
            continue;
        }
        p = next;
    }
    const char *b = best_py ? best_py : best_bare;
    size_t n = best_py ? py_len : bare_len;
    if (!b) return NULL;
    char *out = malloc(n + 1);
    if (!out) return NULL;
    memcpy(out, b, n);
    out[n] = 0;
    return out;
}

char *code_normalize_output(const char *s) {
    size_t n = strlen(s);
    char *out = malloc(n + 1);
    if (!out) return NULL;
    size_t k = 0, last_nonempty_end = 0;
    int started = 0;
    const char *p = s;
    while (1) {
        const char *e = p;
        while (*e && *e != '\n') e++;
        // one line [p, e): trim, collapse blanks, drop '\r'
        size_t line_start = k;
        int pending_space = 0;
        for (const char *q = p; q < e; q++) {
            char ch = *q;
            if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v') { pending_space = 1; continue; }
            if (pending_space && k > line_start) out[k++] = ' ';
            pending_space = 0;
            out[k++] = ch;
        }
        if (k > line_start) { started = 1; last_nonempty_end = k; }
        if (!*e) break;
        if (started) out[k++] = '\n';
        p = e + 1;
    }
    out[last_nonempty_end] = 0;
    return out;
}

// ---------------------------------------------------------------- helpers

// A short, single-line excerpt of s for details.
static void snippet(char *dst, size_t dn, const char *s, size_t max) {
    size_t k = 0, i = 0;
    if (dn == 0) return;
    for (; s && s[i] && k + 4 < dn && i < max; i++) {
        char ch = s[i];
        if (ch == '\n') { dst[k++] = '\\'; dst[k++] = 'n'; }
        else if ((unsigned char)ch < 32) dst[k++] = ' ';
        else dst[k++] = ch;
    }
    if (s && s[i] && k + 4 < dn) { dst[k++] = '.'; dst[k++] = '.'; dst[k++] = '.'; }
    dst[k] = 0;
}

// The last non-empty line of stderr (usually "ValueError: ..."), for details.
static void last_line(char *dst, size_t dn, const char *s) {
    const char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1])) end--;
    const char *b = end;
    while (b > s && b[-1] != '\n') b--;
    char tmp[256];
    size_t n = (size_t)(end - b) < sizeof tmp - 1 ? (size_t)(end - b) : sizeof tmp - 1;
    memcpy(tmp, b, n);
    tmp[n] = 0;
    snippet(dst, dn, tmp, 120);
}

static void why_stopped(char *dst, size_t dn, const SandboxResult *r, double wall_s) {
    if (r->timed_out) set_msg(dst, dn, "timed out after %.0f s", wall_s);
    else if (r->term_signal) set_msg(dst, dn, "killed by signal %d%s", r->term_signal,
                                     r->out_truncated ? " (output flood)" : "");
    else set_msg(dst, dn, "program exited with code %d first", r->exit_code);
}

static int make_nonce(char *hex, size_t hn) {
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t r = getrandom(b + got, sizeof b - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    for (size_t i = 0; i < sizeof b && 2 * i + 2 < hn; i++) snprintf(hex + 2 * i, 3, "%02x", b[i]);
    return 0;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static double finish(int passed, int n, const CodeOptions *o) {
    if (n <= 0) return 0.0;
    if (o->all_or_nothing) return passed == n ? 1.0 : 0.0;
    return (double)passed / (double)n;
}

// ---------------------------------------------------------------- harness modes

typedef struct {
    int n, seen_n, done;
    signed char *ok;            // (n) 0 = not reported, 1 = passed, -1 = failed
    char *fail; size_t fail_len; int fail_idx;   // the first failure's "label\0description" or "description"
} Report;

// Parses "<nonce> KIND i ok hex" lines; lines without the nonce are ignored, and only the
// first record of each test counts. n_known >= 0 fixes the number of tests (asserts mode).
static int parse_report(Report *rep, const char *chan, const char *nonce, int n_known) {
    size_t nl = strlen(nonce);
    memset(rep, 0, sizeof *rep);
    rep->n = n_known;
    rep->fail_idx = -1;
    if (n_known >= 0 && !(rep->ok = calloc((size_t)n_known + 1, 1))) return -1;
    const char *p = chan;
    while (p && *p) {
        const char *e = strchr(p, '\n');
        if (!e) break;  // a cut-off last line is not a record
        int i = 0, ok = 0, off = 0;
        if ((size_t)(e - p) > nl + 2 && memcmp(p, nonce, nl) == 0 && p[nl] == ' ' &&
            sscanf(p + nl + 2, " %d %d %n", &i, &ok, &off) >= 2 && off > 0) {
            char kind = p[nl + 1];
            const char *h = p + nl + 2 + off;
            if (kind == 'N' && !rep->seen_n) {
                rep->seen_n = 1;
                if (n_known < 0 && i >= 0 && i < 100000) {
                    rep->n = i;
                    if (!(rep->ok = calloc((size_t)i + 1, 1))) return -1;
                }
            } else if (kind == 'D') {
                rep->done = 1;
            } else if (kind == 'T' && rep->ok && i >= 0 && i < rep->n && rep->ok[i] == 0) {
                rep->ok[i] = ok ? 1 : -1;
                if (!ok && rep->fail_idx < 0) {
                    size_t hl = (size_t)(e - h) / 2, k = 0;
                    char *m = malloc(hl + 1);
                    if (!m) return -1;
                    for (size_t j = 0; j < hl; j++) {
                        int a = hexval(h[2 * j]), b = hexval(h[2 * j + 1]);
                        if (a < 0 || b < 0) break;
                        m[k++] = (char)(a * 16 + b);
                    }
                    m[k] = 0;
                    rep->fail = m;
                    rep->fail_len = k;
                    rep->fail_idx = i;
                }
            }
        }
        p = e + 1;
    }
    return 0;
}

static double run_harness(const char *code, const cJSON *ex, int check_mode, const CodeOptions *o,
                          char *detail, size_t dn, char *err, size_t errlen) {
    char nonce[40] = "";
    if (make_nonce(nonce, sizeof nonce) != 0) {
        set_msg(err, errlen, "code: no random numbers for the harness nonce: %s", strerror(errno));
        return -1;
    }
    const cJSON *tests = cJSON_GetObjectItemCaseSensitive(ex, "tests");
    if (!tests) tests = cJSON_GetObjectItemCaseSensitive(ex, "test_list");
    const cJSON *setup = cJSON_GetObjectItemCaseSensitive(ex, "test_setup_code");
    if (!cJSON_IsString(setup)) setup = cJSON_GetObjectItemCaseSensitive(ex, "setup");
    cJSON *job = cJSON_CreateObject();
    if (!job) { set_msg(err, errlen, "code: out of memory"); return -1; }
    cJSON_AddStringToObject(job, "nonce", nonce);
    cJSON_AddStringToObject(job, "mode", check_mode ? "check" : "asserts");
    cJSON_AddStringToObject(job, "code", code);
    if (cJSON_IsString(setup)) cJSON_AddStringToObject(job, "setup", setup->valuestring);
    if (o->test_s > 0) cJSON_AddNumberToObject(job, "test_s", o->test_s);
    int n_known = -1;
    if (check_mode) {
        cJSON_AddStringToObject(job, "test", cJSON_GetObjectItemCaseSensitive(ex, "test")->valuestring);
        cJSON_AddStringToObject(job, "entry_point", cJSON_GetObjectItemCaseSensitive(ex, "entry_point")->valuestring);
    } else {
        cJSON_AddItemToObject(job, "tests", cJSON_Duplicate(tests, 1));
        n_known = cJSON_GetArraySize(tests);
    }
    char *text = cJSON_PrintUnformatted(job);
    cJSON_Delete(job);
    if (!text) { set_msg(err, errlen, "code: out of memory"); return -1; }
    SandboxFile f = {"job.json", text, strlen(text)};
    SandboxJob sj;
    memset(&sj, 0, sizeof sj);
    sj.source = code_harness_py;
    sj.files = &f;
    sj.n_files = 1;
    sj.want_chan = 1;
    SandboxResult r;
    int rc = sandbox_run_job(&sj, &o->limits, &r, err, errlen);
    free(text);
    if (rc != 0) return -1;

    Report rep;
    if (parse_report(&rep, r.chan, nonce, n_known) != 0) {
        free(rep.ok);
        free(rep.fail);
        sandbox_result_free(&r);
        set_msg(err, errlen, "code: out of memory");
        return -1;
    }
    double score = 0;
    char stopped[128];
    why_stopped(stopped, sizeof stopped, &r, o->limits.wall_s);
    if (!rep.seen_n || rep.n < 0) {
        char tail[160];
        last_line(tail, sizeof tail, r.err ? r.err : "");
        set_msg(detail, dn, "0 tests ran: the harness did not start (%s)%s%s", stopped, tail[0] ? ": " : "", tail);
    } else {
        int passed = 0, idx = -1;
        for (int i = 0; i < rep.n; i++) {
            if (rep.ok[i] == 1) passed++;
            else if (idx < 0) idx = i;
        }
        score = finish(passed, rep.n, o);
        const char *noun = rep.n == 1 ? "test" : "tests";
        if (idx < 0) {
            set_msg(detail, dn, "%d/%d %s passed", passed, rep.n, noun);
        } else {
            char label[200] = "", why[200] = "";
            if (check_mode) snprintf(label, sizeof label, "test %d", idx + 1);
            else snippet(label, sizeof label, cJSON_GetArrayItem(tests, idx)->valuestring, 120);
            if (idx == rep.fail_idx && rep.fail) {
                const char *m = rep.fail, *desc = m;
                size_t ml = strlen(m);
                if (ml < rep.fail_len) {  // "label\0description"
                    snippet(label, sizeof label, m, 120);
                    desc = m + ml + 1;
                }
                snippet(why, sizeof why, desc, 150);
            } else {
                snprintf(why, sizeof why, "not run: %s", stopped);
            }
            set_msg(detail, dn, "%d/%d %s passed; first failure: %s (%s)", passed, rep.n, noun, label, why);
        }
    }
    free(rep.fail);
    free(rep.ok);
    sandbox_result_free(&r);
    return score;
}

// ---------------------------------------------------------------- io mode

static double run_io(const char *code, const cJSON *io, const CodeOptions *o, char *detail, size_t dn,
                     char *err, size_t errlen) {
    int n = cJSON_GetArraySize(io), passed = 0, first = -1;
    char fail[400] = "";
    for (int i = 0; i < n; i++) {
        const cJSON *c = cJSON_GetArrayItem(io, i);
        const char *in = cJSON_GetObjectItemCaseSensitive(c, "input")->valuestring;
        const char *want = cJSON_GetObjectItemCaseSensitive(c, "output")->valuestring;
        SandboxResult r;
        if (sandbox_run_python(code, in, &o->limits, &r, err, errlen) != 0) return -1;
        int ok = 0, stop = 0;
        char why[300] = "";
        if (r.timed_out) {
            snprintf(why, sizeof why, "timed out after %.0f s; later cases not run", o->limits.wall_s);
            stop = 1;  // another loop would cost another wall limit per case
        } else if (r.term_signal) {
            snprintf(why, sizeof why, "killed by signal %d%s", r.term_signal, r.out_truncated ? " (output flood)" : "");
        } else if (r.exit_code != 0) {
            char tail[160];
            last_line(tail, sizeof tail, r.err);
            snprintf(why, sizeof why, "exit code %d: %s", r.exit_code, tail);
        } else if (r.out_truncated) {
            snprintf(why, sizeof why, "output over %zu bytes", o->limits.out_bytes);
        } else {
            char *a = code_normalize_output(r.out), *b = code_normalize_output(want);
            if (!a || !b) {
                free(a); free(b);
                sandbox_result_free(&r);
                set_msg(err, errlen, "code: out of memory");
                return -1;
            }
            ok = strcmp(a, b) == 0;
            if (!ok) {
                char sa[80], sb[80];
                snippet(sa, sizeof sa, a, 40);
                snippet(sb, sizeof sb, b, 40);
                snprintf(why, sizeof why, "expected '%s', got '%s'", sb, sa);
            }
            free(a);
            free(b);
        }
        sandbox_result_free(&r);
        if (ok) passed++;
        else if (first < 0) {
            char si[80];
            snippet(si, sizeof si, in, 30);
            first = i;
            snprintf(fail, sizeof fail, "case %d (input '%s'): %s", i + 1, si, why);
        }
        if (stop) break;
    }
    if (first < 0) set_msg(detail, dn, "%d/%d cases passed", passed, n);
    else set_msg(detail, dn, "%d/%d cases passed; first failure: %s", passed, n, fail);
    return finish(passed, n, o);
}

// ---------------------------------------------------------------- entry point

static int string_array(const cJSON *a) {
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) == 0) return 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, a) if (!cJSON_IsString(it)) return 0;
    return 1;
}

double code_score(const char *completion, const cJSON *ex, const CodeOptions *opt, char *detail, size_t dn,
                  char *err, size_t errlen) {
    CodeOptions o;
    if (opt) o = *opt; else code_options_default(&o);
    if (detail && dn) detail[0] = 0;
    if (!cJSON_IsObject(ex)) { set_msg(err, errlen, "code: the example is not a JSON object"); return -1; }
    const cJSON *tests = cJSON_GetObjectItemCaseSensitive(ex, "tests");
    const char *tname = "tests";
    if (!tests) { tests = cJSON_GetObjectItemCaseSensitive(ex, "test_list"); tname = "test_list"; }
    const cJSON *test = cJSON_GetObjectItemCaseSensitive(ex, "test");
    const cJSON *entry = cJSON_GetObjectItemCaseSensitive(ex, "entry_point");
    const cJSON *io = cJSON_GetObjectItemCaseSensitive(ex, "io");
    int mode;  // 0 asserts, 1 check, 2 io
    if (tests) {
        if (!string_array(tests)) {
            set_msg(err, errlen, "code: \"%s\" must be a non-empty array of strings (assert lines)", tname);
            return -1;
        }
        mode = 0;
    } else if (test || entry) {
        if (!cJSON_IsString(test) || !cJSON_IsString(entry) || !entry->valuestring[0]) {
            set_msg(err, errlen, "code: \"test\" and \"entry_point\" must both be strings (HumanEval style)");
            return -1;
        }
        mode = 1;
    } else if (io) {
        if (!cJSON_IsArray(io) || cJSON_GetArraySize(io) == 0) {
            set_msg(err, errlen, "code: \"io\" must be a non-empty array of {\"input\", \"output\"} objects");
            return -1;
        }
        int i = 0;
        const cJSON *c;
        cJSON_ArrayForEach(c, io) {
            if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(c, "input")) ||
                !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(c, "output"))) {
                set_msg(err, errlen, "code: \"io\"[%d] must have string \"input\" and \"output\"", i);
                return -1;
            }
            i++;
        }
        mode = 2;
    } else {
        set_msg(err, errlen, "code: the example has no tests: expected \"tests\" (or \"test_list\"), "
                "\"test\" + \"entry_point\", or \"io\"");
        return -1;
    }
    const cJSON *setup = cJSON_GetObjectItemCaseSensitive(ex, "test_setup_code");
    if (!setup) setup = cJSON_GetObjectItemCaseSensitive(ex, "setup");
    if (setup && !cJSON_IsString(setup) && !cJSON_IsNull(setup)) {
        set_msg(err, errlen, "code: \"test_setup_code\"/\"setup\" must be a string");
        return -1;
    }
    char *code = code_extract(completion);
    if (!code) {
        set_msg(detail, dn, "no ```python code block in the completion");
        return 0.0;
    }
    double s = mode == 2 ? run_io(code, io, &o, detail, dn, err, errlen)
                         : run_harness(code, ex, mode == 1, &o, detail, dn, err, errlen);
    free(code);
    return s;
}
