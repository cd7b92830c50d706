// Seeded task generators. Instance i of (name, options, seed) is a pure function
// of those values: each instance draws from its own integer-only RNG seeded from
// (seed, i), so the stream is the same on every machine and run, any instance
// can be made alone, and nothing uses rand() or floating point.
//
//   countdown   3-4 numbers and a target reachable with + - * / (TinyZero's task);
//               "nums", "target", "solution" (an expression that reaches it).
//               Verified by the `countdown` rule (rules preset "countdown").
//   arithmetic  n-digit addition, subtraction, multiplication; "answer" is the
//               integer result. Verified by the `math` rule (preset "math").
//   letters     "How many times does the letter 'r' appear in "strawberry"?" over
//               random letter strings; "answer" is the count. Verified by the
//               `math` rule (preset "math").
// With worked = 1 every instance also carries "completion": a step-by-step
// solution in the r1-zero format "<think> ... </think> <answer>X</answer>", for
// supervised warm starts. Arithmetic's slip = P (percent) makes that solution a
// sloppy teacher's: each pending carry or borrow is forgotten with chance P% and
// the completion ends in the wrong result that follows ("answer" stays the true
// result). A model warm-started on it has the right habit in its distribution
// but not as its greedy choice -- the situation RL with a verifier is for.
#ifndef GRPO_GEN_H
#define GRPO_GEN_H

#include <stdint.h>

#include <cjson/cJSON.h>

typedef struct {
    int digits;       // arithmetic: digits per operand (1..9, default 2)
    char ops[8];      // arithmetic: subset of "+-*" (default "+-*")
    int worked;       // all: add a "completion" with a worked solution
    int min_nums, max_nums; // countdown: how many numbers (default 3..4)
    int max_num;      // countdown: numbers are 1..max_num (default 99)
    int max_target;   // countdown: target is 1..max_target (default 100)
    int min_len, max_len; // letters: string length (default 5..12)
    int alphabet;     // letters: letters drawn from the first `alphabet` of a..z (default 6)
    int slip;         // arithmetic, worked: percent chance that the worked solution
                      // forgets each pending carry or borrow (default 0)
} GenOptions;

void gen_options_default(GenOptions *o);
// Sets one option from text: digits, ops ("+,-,*" or "+-*"), worked (0/1),
// min_nums, max_nums, max_num, max_target, min_len, max_len, alphabet, slip.
// Unknown key or bad value: GRPO_EINVAL naming it.
int gen_options_set(GenOptions *o, const char *key, const char *value);
// Checks the ranges; GRPO_EINVAL naming the bad option.
int gen_options_check(const GenOptions *o);

int gen_count(void);
const char *gen_name(int i);
int gen_exists(const char *name);

// Instance `index` of generator `name` with `seed`: a new cJSON object with
// "question", "answer" and the task's own fields (see above). GRPO_EINVAL for an
// unknown name ("did you mean") or bad options.
int gen_instance(const char *name, const GenOptions *o, uint64_t seed, uint64_t index, cJSON **out);

// The tiny RNG the generators and the shuffler use: splitmix64 seeding a
// xoshiro256**; integers only.
typedef struct { uint64_t s[4]; } GenRng;
void gen_rng_seed(GenRng *r, uint64_t seed);
uint64_t gen_rng_next(GenRng *r);
uint64_t gen_rng_below(GenRng *r, uint64_t n); // uniform in [0, n), n > 0, no modulo bias
int64_t gen_rng_range(GenRng *r, int64_t lo, int64_t hi); // uniform in [lo, hi]
uint64_t gen_mix(uint64_t a, uint64_t b); // a well-mixed 64-bit value from two

#endif
