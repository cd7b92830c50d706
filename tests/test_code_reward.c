// The code reward: extraction, the three test styles passing and failing, early exits
// and forged results scoring nothing, malformed examples, and concurrent scoring.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rewards/code.h"
#include "testlib.h"

static CodeOptions g_opt;

// Scores `completion` against the example given as JSON text; returns the score.
static double score(const char *completion, const char *example_json, char *detail, size_t dn) {
    cJSON *ex = cJSON_Parse(example_json);
    CHECK(ex != NULL, "bad test JSON: %s", example_json);
    if (!ex) return -2;
    char err[512] = "";
    double s = code_score(completion, ex, &g_opt, detail, dn, err, sizeof err);
    if (s < 0) snprintf(detail, dn, "ERR %s", err);
    cJSON_Delete(ex);
    return s;
}

#define EXPECT(completion, example, want, detail_part)                                                  \
    do {                                                                                                \
        char d_[512] = "";                                                                              \
        double s_ = score(completion, example, d_, sizeof d_);                                          \
        CHECK(s_ > (want) - 1e-9 && s_ < (want) + 1e-9, "score %.3f, want %.3f; detail: %s", s_, (double)(want), d_); \
        CHECK(strstr(d_, detail_part) != NULL, "detail '%s' lacks '%s'", d_, detail_part);              \
    } while (0)

static const char *MBPP = "{\"tests\": [\"assert add(1, 2) == 3\", \"assert add(0, 0) == 0\", "
                          "\"assert add(-1, 1) == 0\", \"assert add(2, 2) == 4\"]}";
static const char *HE = "{\"entry_point\": \"sq\", \"test\": \"METADATA = {}\\n\\ndef check(candidate):\\n"
                        "    assert True, 'not a test'\\n    assert candidate(2) == 4\\n    x = 3\\n    assert candidate(x) == 9\\n"
                        "    for i in range(5):\\n        assert candidate(i) == i * i\\n\"}";
static const char *IO = "{\"io\": [{\"input\": \"1 2\\n\", \"output\": \"3\\n\"}, "
                        "{\"input\": \"10 20\\n\", \"output\": \"  30  \\n\\n\"}, "
                        "{\"input\": \"0 0\", \"output\": \"0\"}]}";

static void test_extract(void) {
    char *c = code_extract("a\n```python\nx = 1\n```\nb\n```py\ny = 2\n```\n```cpp\nint z;\n```\n");
    CHECK(c && strcmp(c, "y = 2\n") == 0, "last python block: '%s'", c ? c : "(null)");
    free(c);
    c = code_extract("```\nbare = 1\n```\n```js\nlet q;\n```\n");
    CHECK(c && strcmp(c, "bare = 1\n") == 0, "bare fallback: '%s'", c ? c : "(null)");
    free(c);
    c = code_extract("```python\nfirst = 1\n```\n```\nbare = 2\n```\n");
    CHECK(c && strcmp(c, "first = 1\n") == 0, "python beats bare: '%s'", c ? c : "(null)");
    free(c);
    c = code_extract("```python\nok = 1\n```\n```python\ntruncated = (\n");
    CHECK(c && strcmp(c, "ok = 1\n") == 0, "unclosed last block ignored: '%s'", c ? c : "(null)");
    free(c);
    c = code_extract("````python\ns = '```'\n```\nt = 1\n````");
    CHECK(c && strcmp(c, "s = '```'\n```\nt = 1\n") == 0, "longer fence: '%s'", c ? c : "(null)");
    free(c);
    CHECK(code_extract("no code here") == NULL, "no block");
    CHECK(code_extract("```rust\nfn main(){}\n```") == NULL, "other language only");

    char *n = code_normalize_output("\r\n  a \t b  \r\n\n c\n\n\n");
    CHECK(n && strcmp(n, "a b\n\nc") == 0, "normalize: '%s'", n ? n : "(null)");
    free(n);
}

static void test_styles(void) {
    const char *good = "Here:\n```python\ndef add(a, b):\n    return a + b\n```\n";
    const char *half = "```python\ndef add(a, b):\n    return a + b if a > 0 else 99\n```";
    EXPECT(good, MBPP, 1.0, "4/4 tests passed");
    EXPECT(half, MBPP, 0.5, "2/4 tests passed; first failure: assert add(0, 0) == 0 (AssertionError)");
    EXPECT(half, "{\"test_list\": [\"assert add(1, 2) == 3\"]}", 1.0, "1/1 test passed");
    EXPECT("```python\ndef add(a, b):\n    return math.floor(a) + b\n```",
           "{\"tests\": [\"assert add(1.5, 2) == 3\"], \"test_setup_code\": \"import math\"}", 1.0, "1/1");
    EXPECT("```python\ndef add(a, b):\n    return a +\n```", MBPP, 0.0, "solution does not compile: SyntaxError");
    EXPECT("```python\ndef add(a, b):\n    return a / 0\n```", MBPP, 0.0, "(ZeroDivisionError: division by zero)");
    g_opt.all_or_nothing = 1;
    EXPECT(half, MBPP, 0.0, "2/4 tests passed");
    EXPECT(good, MBPP, 1.0, "4/4 tests passed");
    g_opt.all_or_nothing = 0;

    // HumanEval: each statement of check() holding an assert is a test (3 here).
    EXPECT("```python\ndef sq(n):\n    return n * n\n```", HE, 1.0, "3/3 tests passed");
    EXPECT("```python\ndef sq(n):\n    return n * n if n != 3 else 0\n```", HE, 1.0 / 3,
           "1/3 tests passed; first failure: assert candidate(x) == 9 (AssertionError)");
    EXPECT("```python\ndef square(n):\n    return n * n\n```", HE, 0.0, "entry point sq is not defined");
    EXPECT("```python\ndef sq(n):\n    return n * n\n```",
           "{\"entry_point\": \"sq\", \"test\": \"def check(f):\\n    assert f(3) == 9\\ncheck(sq)\\n\"}", 1.0, "1/1");

    // A check() whose asserts live in a helper is one test.
    const char *helper = "{\"entry_point\": \"sq\", \"test\": \"def run(c):\\n    assert c(2) == 4\\n"
                         "def check(candidate):\\n    run(candidate)\\n\"}";
    EXPECT("```python\ndef sq(n):\n    return n * n\n```", helper, 1.0, "1/1 test passed");
    EXPECT("```python\ndef sq(n):\n    return n\n```", helper, 0.0, "0/1 test passed; first failure: check(sq) (AssertionError)");

    // stdin/stdout pairs, compared after whitespace normalisation.
    EXPECT("```python\na, b = map(int, input().split())\nprint(a + b)\n```", IO, 1.0, "3/3 cases passed");
    EXPECT("```python\na, b = map(int, input().split())\nprint(a + b if a else 7)\n```", IO, 2.0 / 3,
           "2/3 cases passed; first failure: case 3 (input '0 0'): expected '0', got '7'");
    EXPECT("```python\nimport sys\na, b = map(int, input().split())\nprint(a + b)\nsys.exit(0)\n```", IO, 1.0, "3/3");
    EXPECT("```python\nraise ValueError('bad input')\n```", IO, 0.0, "exit code 1: ValueError: bad input");
    EXPECT("no code", IO, 0.0, "no ```python code block");
}

static void test_early_exit(void) {
    // A correct solution that exits before the tests can run passes nothing.
    const char *right = "```python\ndef add(a, b):\n    return a + b\ndef sq(n):\n    return n * n\n";
    // A wrong one that tries to make the tests look passed passes nothing either.
    const char *wrong = "```python\ndef add(a, b):\n    return None\ndef sq(n):\n    return None\n";
    struct { const char *pre, *tail; } cases[] = {
        {right, "import sys\nsys.exit(0)\n```"},
        {right, "import os\nos._exit(0)\n```"},
        {right, "raise SystemExit(0)\n```"},
        {right, "import os\nos.kill(os.getpid(), 9)\n```"},
        {wrong, "import os, sys\nprint('4/4 tests passed')\nsys.stdout.close()\nos.close(1)\nos.close(2)\n```"},
        // forged results: look-alike lines on stdout and on the result channel, then leave
        {wrong, "import os\nfor i in range(4):\n    print('ok', i, 1)\n    os.write(3, b'%032x T %d 1 00\\n' % (0, i))\n"
                "os._exit(0)\n```"},
        {wrong, "import os\nfor i in range(4):\n    os.write(3, b'%032x T %d 1 00\\n' % (0, i))\n```"},
        // the job file (and its nonce) is gone before the solution runs
        {wrong, "import os\nprint(open('job.json').read())\n```"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char comp[1024];
        snprintf(comp, sizeof comp, "%s%s", cases[i].pre, cases[i].tail);
        char d[512] = "";
        double s = score(comp, MBPP, d, sizeof d);
        CHECK(s == 0.0, "early exit %zu scored %.3f: %s", i, s, d);
        s = score(comp, HE, d, sizeof d);
        CHECK(s == 0.0, "early exit %zu (HumanEval) scored %.3f: %s", i, s, d);
    }
    // Control: without the exit, the right solution passes everything.
    char comp[512];
    snprintf(comp, sizeof comp, "%s```", right);
    EXPECT(comp, MBPP, 1.0, "4/4");
    EXPECT(comp, HE, 1.0, "3/3");
    // Exiting inside a test: the tests before it count, the rest are not run.
    EXPECT("```python\nimport os\ndef add(a, b):\n    if a == -1:\n        os._exit(0)\n    return a + b\n```", MBPP,
           0.5, "first failure: assert add(-1, 1) == 0 (not run: program exited with code 0 first)");
    // The "always equal" object.
    EXPECT("```python\nclass E:\n    def __eq__(self, o):\n        return True\ndef add(a, b):\n    return E()\n```",
           MBPP, 0.0, "refused: == on an object with a custom __eq__");
    EXPECT("```python\nclass E(int):\n    def __eq__(self, o):\n        return True\ndef add(a, b):\n    return [E(0)]\n```",
           "{\"tests\": [\"assert add(1, 2) == [3]\"]}", 0.0, "refused");
    // Hostile programs score 0 within the limits and the caller survives.
    SandboxLimits keep = g_opt.limits;
    g_opt.limits.wall_s = 2;
    g_opt.limits.cpu_s = 2;
    EXPECT("```python\ndef add(a, b):\n    while True:\n        pass\n```", MBPP, 0.0, "not run: ");
    // One looping test fails on its own (the per-test limit); the others still count.
    double keep_test = g_opt.test_s;
    g_opt.test_s = 0.5;
    EXPECT("```python\ndef add(a, b):\n    while a == 0:\n        pass\n    return a + b\n```", MBPP, 0.75,
           "3/4 tests passed; first failure: assert add(0, 0) == 0 (timed out after 0.5 s)");
    g_opt.test_s = keep_test;
    EXPECT("```python\nimport os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n```",
           MBPP, 0.0, "0/4");
    EXPECT("```python\nx = bytearray(10**10)\n```", MBPP, 0.0, "MemoryError");
    EXPECT("```python\nwhile True:\n    print('y' * 10000)\n```", IO, 0.0, "output");
    EXPECT("```python\nimport os\ntry:\n    os.kill(os.getppid(), 9)\nexcept OSError:\n    pass\n"
           "def add(a, b):\n    return a + b\n```", MBPP, 1.0, "4/4");
    g_opt.limits = keep;
}

static void test_malformed(void) {
    const char *code = "```python\nx = 1\n```";
    const char *bad[] = {"{}", "{\"tests\": []}", "{\"tests\": [1, 2]}", "{\"test\": \"def check(c): pass\"}",
                         "{\"io\": [{\"input\": \"1\"}]}", "{\"io\": \"1 2\"}", "[1]",
                         "{\"tests\": [\"assert 1\"], \"test_setup_code\": 5}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char d[512] = "";
        double s = score(code, bad[i], d, sizeof d);
        CHECK(s == -1 && strstr(d, "ERR code: "), "malformed %s: %.3f %s", bad[i], s, d);
    }
}

typedef struct { int id; double got; char detail[256]; } Job;

static void *worker(void *p) {
    Job *j = p;
    char comp[256], ex[256], err[256] = "";
    // job i passes i of 4 tests
    snprintf(comp, sizeof comp, "```python\ndef f(x):\n    return x if x < %d else -1\n```", j->id);
    snprintf(ex, sizeof ex, "{\"tests\": [\"assert f(0) == 0\", \"assert f(1) == 1\", \"assert f(2) == 2\", "
                            "\"assert f(3) == 3\"]}");
    cJSON *e = cJSON_Parse(ex);
    j->got = code_score(comp, e, &g_opt, j->detail, sizeof j->detail, err, sizeof err);
    if (j->got < 0) snprintf(j->detail, sizeof j->detail, "%s", err);
    cJSON_Delete(e);
    return NULL;
}

static void test_threads(void) {
    enum { N = 5 };
    pthread_t t[N];
    Job jobs[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (Job){i, -5, ""};
        pthread_create(&t[i], NULL, worker, &jobs[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        double want = (i < 4 ? i : 4) / 4.0;
        CHECK(jobs[i].got == want, "thread %d: %.3f want %.3f (%s)", i, jobs[i].got, want, jobs[i].detail);
    }
}

static void test_harness_in_sync(void) {
    FILE *f = fopen(tu_path("../rewards/code_harness.py"), "rb");
    CHECK(f != NULL, "cannot open %s", tu_path("../rewards/code_harness.py"));
    if (!f) return;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    CHECK(strcmp(buf, code_harness_py) == 0,
          "rewards/code_harness.c is stale: run tools/gen_code_harness.py");
}

int main(void) {
    char err[512] = "";
    if (sandbox_check_runtime(err, sizeof err) != 0) {
        if (strstr(err, "not found")) return tu_skip("test_code_reward", err);
        CHECK(0, "sandbox_check_runtime: %s", err);
        return tu_finish("test_code_reward");
    }
    code_options_default(&g_opt);
    test_extract();
    test_harness_in_sync();
    test_styles();
    test_early_exit();
    test_malformed();
    test_threads();
    return tu_finish("test_code_reward");
}
