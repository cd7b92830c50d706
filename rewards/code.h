// The `code` reward: run the completion's last fenced Python block in the sandbox
// against the example's tests and reward the fraction that passed.
#ifndef GRPO_REWARDS_CODE_H
#define GRPO_REWARDS_CODE_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "rewards/sandbox.h"

typedef struct {
    int all_or_nothing;
    SandboxLimits limits;
    double test_s;   // added: time limit per test inside the harness ("tests"/"test" styles);
                     // 0 = none (only limits.wall_s for the whole run)
} CodeOptions;

void code_options_default(CodeOptions *o);  // fraction passed; sandbox_limits_default; test_s 3

// example: the dataset line as cJSON, one of
//   "tests" (or "test_list"): ["assert f(1) == 2", ...]  MBPP-style; optional
//       "test_setup_code" (or "setup") runs after the solution, before the tests;
//   "test" + "entry_point": HumanEval-style `def check(candidate): assert ...`; each
//       statement of check's body that holds an assert counts as one test;
//   "io": [{"input": "...", "output": "..."}]: the program runs once per pair with that
//       stdin; its stdout must equal "output" after whitespace normalisation (see code.c).
// Returns the score in [0,1] (the fraction of tests passed, or 0/1 when all_or_nothing)
// and a one-line detail such as "3/5 tests passed; first failure: assert f(2) == 4
// (AssertionError)". Returns -1 with err filled only for a malformed example, or when the
// sandbox itself cannot run (no python3, out of resources): never for bad model code.
double code_score(const char *completion, const cJSON *example, const CodeOptions *o,
                  char *detail, size_t dn, char *err, size_t errlen);

// ---- additions ------------------------------------------------------------------------

// The code the reward runs: the last ```python (or ```py, ```python3) block, else the last
// bare ``` block; blocks in other languages and an unclosed final block are ignored.
// Returns a malloc'd copy (caller frees) or NULL when there is none.
char *code_extract(const char *completion);

// Whitespace normalisation of "io" outputs: CRLF to LF, runs of spaces and tabs to one
// space, each line trimmed, leading and trailing empty lines dropped. Malloc'd.
char *code_normalize_output(const char *s);

extern const char code_harness_py[];  // the harness text (rewards/code_harness.py)

#endif
