// Training and evaluation examples: JSONL files in the common layouts (GSM8K,
// MATH, countdown, MBPP, HumanEval, generic) and the seeded generators of gen.h,
// all normalised to one shape so templates and reward rules need not care where
// an example came from.
//
// An Example is a cJSON object holding every field of its source line plus the
// normalised ones:
//   "question"     the text the prompt template puts in {question}        (always)
//   "answer"       the gold answer as a string, when the format has one
//   "solution"     a reference solution (GSM8K reasoning, MATH solution, countdown expression, code)
//   "tests"        MBPP-style assert lines (array of strings)               (mbpp)
//   "test_setup_code"                                                        (mbpp, optional)
//   "test", "entry_point"  HumanEval-style check(candidate)                  (humaneval)
//   "io"           [{"input","output"}] stdin/stdout pairs                   (passed through)
//   "nums", "target"  countdown numbers (array of integers) and target      (countdown)
// These are the names rewards/ reads (code_score, the countdown and math rules).
#ifndef GRPO_DATASET_H
#define GRPO_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "datasets/gen.h"

typedef enum { DS_GENERIC, DS_GSM8K, DS_MATH, DS_COUNTDOWN, DS_MBPP, DS_HUMANEVAL } DsFormat;

// "generic", "gsm8k", "math", "countdown", "mbpp", "humaneval" -> 0, else GRPO_EINVAL naming it.
int ds_format_parse(const char *name, DsFormat *out);
const char *ds_format_name(DsFormat f);

typedef enum { DS_SPLIT_ALL, DS_SPLIT_TRAIN, DS_SPLIT_EVAL } DsSplit;
int ds_split_parse(const char *name, DsSplit *out); // "all", "train", "eval"

typedef struct {
    DsFormat format;
    // Field mapping: where the question, gold answer and tests live in a source
    // line, as dotted paths ("meta.question", "choices.0.text"); NULL = the
    // format's own field. Not owned.
    const char *question_field, *answer_field, *tests_field;
    int skip_malformed;  // 1: a bad line is skipped and counted; 0: it is an error
    // Split: an example goes to eval when a hash of its question (and split_seed)
    // falls under eval_frac, so the split is disjoint and does not depend on order.
    DsSplit split;
    double eval_frac;    // 0..1 (default 0.1)
    uint64_t split_seed; // default 0
    // "gen:NAME" sources: how many examples and the generator seed.
    long gen_n;          // default 1000
    uint64_t gen_seed;   // default 1
    GenOptions gen;
} DsOptions;

void ds_options_default(DsOptions *o);
// Sets one option from config text, for the trainer's "data_*" keys: format,
// question_field, answer_field, tests_field, skip_malformed (0/1/true/false),
// split (all/train/eval), eval_frac, split_seed, gen_n, gen_seed, and any
// generator option (gen_options_set). String values are referenced, not copied:
// they must outlive o. Unknown key or bad value: GRPO_EINVAL naming it.
int ds_options_set(DsOptions *o, const char *key, const char *value);

typedef struct {
    cJSON **ex;       // (n) normalised examples, owned
    int n, cap;
    int n_skipped;    // malformed lines skipped (skip_malformed)
    int first_skipped_line; // line number of the first one, 0 if none
    int n_lines;      // non-blank lines read (files) or instances drawn (generators)
    char origin[512]; // the file path or "gen:NAME"
} Dataset;

// Opens a dataset: a JSONL file path, or "gen:NAME" / "gen:NAME?key=val&key=val"
// for a generator (keys as gen_options_set, plus n= and seed=). Applies o->split.
int ds_open(const char *spec, const DsOptions *o, Dataset **out);
// Reads a JSONL file. A missing or empty file is an error; a malformed line is an
// error "PATH:LINE: why" unless o->skip_malformed. CRLF, a UTF-8 BOM, blank lines
// and lines of any length are fine.
int ds_load_jsonl(const char *path, const DsOptions *o, Dataset **out);
// n examples of generator `name` (gen.h) in split o->split, as ds_open("gen:...").
int ds_generate(const char *name, const GenOptions *g, uint64_t seed, long n, const DsOptions *o, Dataset **out);
void ds_free(Dataset *d);

int ds_count(const Dataset *d);
const cJSON *ds_get(const Dataset *d, int i);
// Takes ownership of ex (already normalised).
int ds_append(Dataset *d, cJSON *ex);

// Normalises one source object for the format (see the top of this file). On
// failure returns GRPO_EFORMAT with a message that says why (without a place:
// the caller prefixes file:line). *out is a new object; src is not modified.
int ds_normalize(const cJSON *src, const DsOptions *o, cJSON **out);

// Field access by dotted path; array elements by index ("tests.0"). NULL when absent.
const cJSON *ds_path(const cJSON *obj, const char *dotted);
// The example's string field, or NULL.
const char *ds_str(const cJSON *ex, const char *field);
// A JSON value as text, malloc'ed: strings as they are, integers without ".0",
// other numbers in the shortest form that reads back exactly, arrays of scalars
// as "a, b, c", anything else as compact JSON. NULL only when out of memory.
char *ds_json_text(const cJSON *v);

// 1 when the example belongs to the eval split for (eval_frac, split_seed).
int ds_is_eval(const cJSON *ex, double eval_frac, uint64_t split_seed);

// The last \boxed{...} (or \fbox{...}) with balanced braces in text, malloc'ed;
// NULL when there is none (or its braces never close).
char *ds_last_boxed(const char *text);

// A 64-bit FNV-1a hash, the same on every machine.
uint64_t ds_hash(const void *data, size_t n, uint64_t seed);

#endif
