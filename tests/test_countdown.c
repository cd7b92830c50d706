// The countdown verifier: a table of answers against puzzles, each with the
// verdict and a word that must appear in the reason.
#include <string.h>

#include "rewards/countdown.h"
#include "testlib.h"

typedef struct {
    const char *completion;
    long long nums[6];
    int n;
    long long target;
    int want;           // 1 correct, 0 not
    const char *reason; // must appear in the detail
} Case;

static const Case CASES[] = {
    // correct answers
    {"<answer>(1+2)*3</answer>", {1, 2, 3}, 3, 9, 1, "equals the target"},
    {"<answer>1 + 2 + 3</answer>", {1, 2, 3}, 3, 6, 1, "equals"},
    {"<answer>3 * 2 * 1</answer>", {1, 2, 3}, 3, 6, 1, "equals"},
    {"<answer>(44 - 19) * 3 + 1</answer>", {19, 44, 3, 1}, 4, 76, 1, "equals"},
    {"<answer>7 / 2 * 4</answer>", {7, 2, 4}, 3, 14, 1, "equals"}, // exact: 7/2 is 3.5, not 3
    {"<answer>(8 - 2) / (5 - 2)</answer>", {8, 2, 5, 2}, 4, 2, 1, "equals"},
    {"<answer>(1+2)*3 = 9</answer>", {1, 2, 3}, 3, 9, 1, "equals"},
    {"<answer>9 = (1+2)*3</answer>", {1, 2, 3}, 3, 9, 1, "equals"},
    {"<answer> ( ( 95 - 5 ) / 2 ) + 3 </answer>", {95, 5, 2, 3}, 4, 48, 1, "equals"},
    {"<think>try 1+2</think> <answer>3*(1+2)</answer>", {1, 2, 3}, 3, 9, 1, "equals"},
    {"<answer>1+1</answer> no wait <answer>(1+2)*3</answer>", {1, 2, 3}, 3, 9, 1, "equals"}, // last one wins
    {"<answer>1 - 1 + 5</answer>", {1, 1, 5}, 3, 5, 1, "equals"},   // a repeated number used twice
    {"<answer>100 - 3 * (7 + 21)</answer>", {100, 3, 7, 21}, 4, 16, 1, "equals"},
    {"<answer>-3 + 10</answer>", {3, 10}, 2, 7, 1, "equals"},       // unary minus is allowed
    {"<answer>(3 - 10) * -1</answer>", {3, 10, 1}, 3, 7, 1, "equals"},
    {"<answer>((((1+2))))*3</answer>", {1, 2, 3}, 3, 9, 1, "equals"},
    {"<answer>1/3 + 2/3</answer>", {1, 3, 2, 3}, 4, 1, 1, "equals"}, // exact thirds sum to 1
    // wrong value
    {"<answer>1+2+3</answer>", {1, 2, 3}, 3, 7, 0, "evaluates to 6, target 7"},
    {"<answer>7/2</answer>", {7, 2}, 2, 3, 0, "evaluates to 7/2"},
    {"<answer>(1+2)*3 = 10</answer>", {1, 2, 3}, 3, 10, 0, "evaluates to 9"},
    {"<answer>(1+2)*3 = 9</answer>", {1, 2, 3}, 3, 10, 0, "claims '= 9' but the target is 10"},
    // numbers used wrongly
    {"<answer>1+2</answer>", {1, 2, 3}, 3, 3, 0, "does not use 3"},
    {"<answer>1+2+3+4</answer>", {1, 2, 3}, 3, 10, 0, "uses 4, which is not one of the given numbers"},
    {"<answer>3*3</answer>", {1, 2, 3}, 3, 9, 0, "uses 3 2 times but it is given 1 time"},
    {"<answer>12 - 3</answer>", {1, 2, 3}, 3, 9, 0, "uses 12"}, // digits glued together
    {"<answer>99999999999999999999 - 1</answer>", {1}, 1, 5, 0, "more than 18 digits"},
    // forbidden syntax
    {"<answer>3**2</answer>", {3, 2}, 2, 9, 0, "'**' (power) is not allowed"},
    {"<answer>3^2</answer>", {3, 2}, 2, 9, 0, "'^' (power) is not allowed"},
    {"<answer>2.5*2</answer>", {2, 2}, 2, 5, 0, "not a whole number"},
    {"<answer>sqrt(9)</answer>", {9}, 1, 3, 0, "character 's' is not allowed"},
    {"<answer>3 x 3</answer>", {3, 3}, 2, 9, 0, "character 'x' is not allowed"},
    {"<answer>2(3+1)</answer>", {2, 3, 1}, 3, 8, 0, "missing operator"},
    {"<answer>(1+2*3</answer>", {1, 2, 3}, 3, 7, 0, "never closed"},
    {"<answer>1+2)*3</answer>", {1, 2, 3}, 3, 9, 0, "no matching '('"},
    {"<answer>1+*2</answer>", {1, 2}, 2, 3, 0, "where a number was expected"},
    {"<answer>1+2+</answer>", {1, 2}, 2, 3, 0, "ends where a number was expected"},
    {"<answer>1+2=3=3</answer>", {1, 2}, 2, 3, 0, "more than one '='"},
    {"<answer>1+2 = x</answer>", {1, 2}, 2, 3, 0, "one side of '=' must be the target"},
    {"<answer>   </answer>", {1}, 1, 1, 0, "empty expression"},
    // division by zero fails, even when the numbers are right
    {"<answer>5 / (3 - 3) + 1</answer>", {5, 3, 3, 1}, 4, 1, 0, "division by zero"},
    // extraction
    {"(1+2)*3", {1, 2, 3}, 3, 9, 0, "no <answer>"},
    {"<think>(1+2)*3 <answer>(1+2)*3</answer>", {1, 2, 3}, 3, 9, 0, "unclosed <think>"},
    {"<answer>(1+2)*3</answer></think> hmm", {1, 2, 3}, 3, 9, 0, "no <answer>"}, // answer inside the thinking
    {"<answer>(1+2)*3", {1, 2, 3}, 3, 9, 0, "no <answer>"},
    {"<answer>1+2*3</answer>", {1, 2, 3}, 3, 9, 0, "evaluates to 7"}, // precedence: * before +
    {"<answer>8/4/2</answer>", {8, 4, 2}, 3, 4, 0, "evaluates to 1"}, // left-associative: (8/4)/2
    {"<answer>8-4-2</answer>", {8, 4, 2}, 3, 6, 0, "evaluates to 2"},
};

int main(void) {
    int n = (int)(sizeof CASES / sizeof CASES[0]);
    CHECK(n >= 30, "%d cases", n);
    for (int i = 0; i < n; i++) {
        const Case *c = &CASES[i];
        char detail[256];
        double v = countdown_score(c->completion, c->nums, c->n, c->target, 1, detail, sizeof detail);
        CHECK(v == (double)c->want, "case %d '%s': got %g, want %d (%s)", i, c->completion, v, c->want, detail);
        CHECK(strstr(detail, c->reason) != NULL, "case %d '%s': detail '%s' lacks '%s'", i, c->completion, detail,
              c->reason);
        CHECK(strchr(detail, '\n') == NULL, "case %d: detail is one line", i);
    }

    // require_tag false: the text after </think> is the expression.
    long long nums[] = {1, 2, 3};
    char d[256];
    CHECK(countdown_score("<think>hmm</think>(1+2)*3", nums, 3, 9, 0, d, sizeof d) == 1.0, "%s", d);
    CHECK(countdown_score("<think>hmm</think>(1+2)*3", nums, 3, 9, 1, d, sizeof d) == 0.0, "%s", d);
    CHECK(countdown_score("<think>hmm (1+2)*3", nums, 3, 9, 0, d, sizeof d) == 0.0, "unclosed think: %s", d);

    // countdown_check directly, and hostile sizes: deep nesting and long input.
    CHECK(countdown_check("(1+2)*3", nums, 3, 9, d, sizeof d) == 1, "%s", d);
    char deep[600];
    memset(deep, '(', 300);
    strcpy(deep + 300, "1");
    CHECK(countdown_check(deep, nums, 3, 1, d, sizeof d) == 0 && strstr(d, "nested"), "%s", d);
    char longexpr[3000];
    memset(longexpr, '1', sizeof longexpr - 1);
    longexpr[sizeof longexpr - 1] = '\0';
    CHECK(countdown_check(longexpr, nums, 3, 1, d, sizeof d) == 0 && strstr(d, "at most"), "%s", d);
    char ex[64];
    CHECK(countdown_extract("a<answer>x</answer>b<answer>y</answer>", ex, sizeof ex) == 1 && !strcmp(ex, "y"), "%s", ex);
    return tu_finish("test_countdown");
}
