// The `code` rule: the completion's last ```python block run in the sandbox
// against the example's tests (rewards/code.c). Loading a rule set with a code
// rule checks for python3 once, so a missing interpreter is an error at startup
// rather than a zero reward for every completion.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rewards/code.h"
#include "rewards/rule_impl.h"
#include "rewards/sandbox.h"

static const char *const CODE_KEYS[] = {"all_or_nothing", "timeout_s", "cpu_s", "memory_mb", "max_procs",
                                        "output_kb", NULL};

static int cr_parse(void **out, const cJSON *r, const RuleParseCtx *ctx, char *err, size_t errlen) {
    CodeOptions o;
    code_options_default(&o);
    double mem_mb = (double)o.limits.mem_bytes / (1024.0 * 1024.0), out_kb = (double)o.limits.out_bytes / 1024.0;
    long procs = o.limits.max_procs;
    if (ropt_bool(r, "all_or_nothing", &o.all_or_nothing, err, errlen) ||
        ropt_number(r, "timeout_s", 0.01, 3600, &o.limits.wall_s, err, errlen) ||
        ropt_number(r, "cpu_s", 0.01, 3600, &o.limits.cpu_s, err, errlen) ||
        ropt_number(r, "memory_mb", 16, 1 << 20, &mem_mb, err, errlen) ||
        ropt_int(r, "max_procs", 1, 4096, &procs, err, errlen) ||
        ropt_number(r, "output_kb", 1, 1 << 20, &out_kb, err, errlen))
        return -1;
    o.limits.mem_bytes = (size_t)(mem_mb * 1024 * 1024);
    o.limits.out_bytes = (size_t)(out_kb * 1024);
    o.limits.max_procs = (int)procs;
    char why[256] = "";
    if (sandbox_check_runtime(why, sizeof why)) {
        snprintf(err, errlen, "the code rule needs python3 to run completions: %s", why);
        return -1;
    }
    CodeOptions *p = malloc(sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *p = o;
    *out = p;
    return 0;
}

static int cr_score(const void *st, const RuleInput *in, double *value, char *detail, size_t dn, char *err,
                    size_t errlen) {
    double v = code_score(in->completion, in->example, st, detail, dn, err, errlen);
    if (v < 0) return -1;
    *value = v;
    return 0;
}

const RuleType rule_type_code = {"code", CODE_KEYS, cr_parse, cr_score, free};
