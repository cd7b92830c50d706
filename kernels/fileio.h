// Whole-file reads, atomic writes and mkdir -p, shared by every module above
// kernels/ (rewards/ keeps its own: it depends on nothing else in the tree).
// Errors name the file, as every user-facing message must.
#ifndef GRPO_FILEIO_H
#define GRPO_FILEIO_H

#include <stddef.h>

// Reads a regular file into a NUL-terminated malloc'd buffer (*len bytes, may
// contain NULs). A directory or device, or a file over max_bytes (0: 1 GiB), is
// an error rather than a read that never ends or eats memory.
int grpo_read_file(const char *path, size_t max_bytes, char **out, size_t *len);

// Writes PATH.tmp, fsyncs it and renames it over PATH: a crash leaves the old
// file or the new one, never half of one.
int grpo_write_file_atomic(const char *path, const void *data, size_t len);

// mkdir -p (existing directories are fine).
int grpo_mkdirs(const char *path);

#endif
