// safetensors checkpoints: read (single files, sharded index.json, model dirs) and write.
//
// Files are mapped read-only, so opening a multi-GB checkpoint costs address space, not
// memory; tensors are converted to f32 on read (F32/F16/BF16). Every header is validated
// before anything is returned: the length, the JSON, each tensor's dtype, shape and offsets
// (inside the data area, no two tensors overlapping, byte count == shape product * dtype
// size). Gaps between tensors and unused trailing bytes are accepted (the data is still
// unambiguous) even though Hugging Face's Rust loader rejects them; st_save never writes them.
// Errors are GrpoStatus codes with a message naming the file and the tensor.
//
// A mapped file must not be truncated by another process while it is open (SIGBUS).
#ifndef GRPO_SAFETENSORS_H
#define GRPO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { ST_F32, ST_F16, ST_BF16, ST_F64, ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL } StDtype;

typedef struct {
    const char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[8];
    size_t nbytes;
} StTensorInfo;

typedef struct SafeTensors SafeTensors; // one file, or all shards of a model.safetensors.index.json

// path: a .safetensors file, a model.safetensors.index.json (any *.json is read as an index),
// or a model directory holding model.safetensors (preferred, as transformers does) or
// model.safetensors.index.json.
int st_open(const char *path, SafeTensors **out);
void st_close(SafeTensors *st);

int st_count(const SafeTensors *st);
const StTensorInfo *st_info(const SafeTensors *st, int i); // in file order (by offset; shards in index order)
const StTensorInfo *st_find(const SafeTensors *st, const char *name); // NULL when absent

// Converts F32/F16/BF16 to f32 into dst (numel floats); other dtypes are an error.
int st_read_f32(const SafeTensors *st, const StTensorInfo *t, float *dst);

// "__metadata__" entries (of the first shard for an index), or NULL.
const char *st_metadata(const SafeTensors *st, const char *key);

typedef struct {
    const char *name;
    const float *data;
    int ndim;
    int64_t shape[8];
} StWrite;

// Writes tensors in the given order as F32 or BF16 (round to nearest even). meta_kv is
// key,value,...,NULL; NULL means {"format": "pt"} (transformers requires "format").
// Writes PATH.tmp, fsyncs, then renames over PATH, so a crash never leaves a half file.
int st_save(const char *path, const StWrite *tensors, int n, StDtype dtype,
            const char *const *meta_kv);

// ---- additions beyond interfaces.md ----

const char *st_dtype_name(StDtype d);  // "F32", "BF16", ...
size_t st_dtype_size(StDtype d);       // bytes per element
int64_t st_numel(const StTensorInfo *t);

// The file a tensor lives in (the shard for an index), for error messages.
const char *st_tensor_path(const SafeTensors *st, const StTensorInfo *t);
// The path st_open was given.
const char *st_path(const SafeTensors *st);

// The raw little-endian bytes of a tensor inside the mapping (t->nbytes of them; not
// necessarily aligned: copy with memcpy).
const void *st_raw(const SafeTensors *st, const StTensorInfo *t);

// Metadata enumeration (for `grpo inspect`).
int st_metadata_count(const SafeTensors *st);
const char *st_metadata_key(const SafeTensors *st, int i);
const char *st_metadata_value(const SafeTensors *st, int i);

// Writes dir/model.safetensors when everything fits in max_shard_bytes (or max_shard_bytes
// is 0), otherwise dir/model-0000k-of-0000n.safetensors shards (tensors in order, a new shard
// when the next tensor would overflow the current one) + dir/model.safetensors.index.json,
// written last. A stale single file or index from an earlier save is removed so transformers
// cannot pick the wrong one. n_shards (may be NULL) receives the shard count.
int st_save_sharded(const char *dir, const StWrite *tensors, int n, StDtype dtype,
                    const char *const *meta_kv, size_t max_shard_bytes, int *n_shards);

// Scalar conversions (exposed for tests and for the model's bf16 paths).
float st_f16_to_f32(uint16_t h);
float st_bf16_to_f32(uint16_t b);
uint16_t st_f32_to_bf16(float f); // round to nearest even; NaN stays a (quiet) NaN

#endif
