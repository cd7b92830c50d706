// Internals shared by the math verifier's files (not a public API).
#ifndef GRPO_REWARDS_MATH_INTERNAL_H
#define GRPO_REWARDS_MATH_INTERNAL_H

#include <gmp.h>
#include <stddef.h>

#define MX_MAX_INPUT 4096   // longer answers are not parsed (compared as text)
#define MX_MAX_DEPTH 600    // parser recursion (about 6 levels per bracket: ~100 brackets deep)
#define MX_MAX_NODES 20000
#define MX_MAX_BITS  (1L << 18) // numerator + denominator bits of any exact value

// A per-check deadline; every loop in the parser and evaluator polls it.
typedef struct { long long deadline_ns; int polls; int expired; } MxClock;
void mx_clock_start(MxClock *c, int limit_ms);
int  mx_clock_up(MxClock *c);

// Normalisation: LaTeX/plain answer -> canonical text the parser reads.
// Returns 0, or -1 when the result does not fit (out is then truncated).
int mathn_normalize(const char *in, char *out, size_t on);
// The text form used when answers are compared as words: lower case, only
// letters and digits kept.
void mathn_textkey(const char *in, char *out, size_t on);

typedef enum {
    MX_NUM, MX_SYM, MX_PI, MX_E, MX_INF, MX_TEXT,
    MX_ADD, MX_SUB, MX_MUL, MX_DIV, MX_POW, MX_NEG, MX_PM, MX_FACT, MX_ABS,
    MX_FUNC,    // name, kids[0] = argument (kids[1] = log base or root index when n == 2)
    MX_ROOT,    // kids[0] = radicand, kids[1] = index
    MX_LIST,    // bare comma list
    MX_TUPLE,   // bracketed list: open/close are '(' '[' and ')' ']'
    MX_SET,     // \{ ... \}
    MX_UNION,   // A \cup B ...
    MX_REL,     // chain a op0 b op1 c ...: ops[]
    MX_MATRIX,  // rows x cols, kids row-major
} MxKind;

// relation operators
enum { MX_EQ, MX_LT, MX_LE, MX_GT, MX_GE, MX_NE, MX_IN };

typedef struct MxNode MxNode;
struct MxNode {
    MxKind k;
    int n;            // number of kids
    MxNode **kids;
    mpq_t q;          // MX_NUM
    int has_q;
    int decimal;      // MX_NUM written with a decimal point / exponent
    char *name;       // MX_SYM, MX_FUNC, MX_TEXT
    char open, close; // MX_TUPLE
    int rows, cols;   // MX_MATRIX
    int *ops;         // MX_REL: n - 1 operators
};

// Owns every node of one parse.
typedef struct {
    MxNode **all;
    int n, cap;
    MxClock *clock;
    int failed;       // out of memory / node cap
} MxArena;

void    mx_arena_init(MxArena *a, MxClock *clock);
void    mx_arena_free(MxArena *a);
MxNode *mx_new(MxArena *a, MxKind k, int nkids);

// Parses normalised text. NULL with err set on a syntax error, a cap or the deadline.
MxNode *mx_parse(MxArena *a, const char *s, char *err, size_t en);

// Evaluation and equivalence (math_eval.c).
typedef struct {
    MxClock *clock;
    double rel_tol;
    int timed_out;
} MxCtx;
#define MX_EVAL_DEPTH 600   // recursion over a parsed tree
// Two scalars (math_eval.c): 1 equal, 0 different, -1 cannot tell (not numbers we
// can evaluate); why points at a static reason.
int mx_scalar_equal(MxCtx *c, const MxNode *a, const MxNode *b, const char **why);
// Two answers (math_equiv.c): 1 when equivalent, 0 not, -1 cannot tell; why says what differed.
int mx_equiv(MxCtx *c, MxArena *arena, MxNode *a, MxNode *b, char *why, size_t wn);

// Extraction (math_extract.c).
int mathx_extract(const char *completion, const int *order, int n_order, char *answer, size_t an,
                  char *where, size_t wn);

#endif
