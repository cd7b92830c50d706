// JSON Lines reading: one callback per non-blank line, with its 1-based number.
#ifndef GRPO_JSONL_H
#define GRPO_JSONL_H

#include <stddef.h>

// line: the text without its "\n" / "\r\n" (and without a UTF-8 BOM on line 1);
// it may hold NUL bytes, so use len. A non-zero return stops the walk and is
// returned by jsonl_each_line.
typedef int (*JsonlLineFn)(void *ctx, const char *line, size_t len, long lineno);

// Calls fn for each non-blank line of path; lines may be of any length.
// Errors: the file cannot be opened or read (GRPO_EIO, naming it); *n_lines gets
// the number of non-blank lines seen (may be NULL).
int jsonl_each_line(const char *path, JsonlLineFn fn, void *ctx, long *n_lines);

#endif
