// Loading and saving Hugging Face model directories: config.json +
// model.safetensors (or shards), tensor names and shapes checked against the
// config, tokenizer files carried along on save.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kernels/fileio.h"
#include "policy/model.h"
#include "policy/safetensors.h"

static int join(char *dst, size_t n, const char *dir, const char *file) {
    if ((size_t)snprintf(dst, n, "%s/%s", dir, file) >= n) return grpo_fail(GRPO_EINVAL, "%s: path too long", dir);
    return GRPO_OK;
}

// Tensors a checkpoint may carry that we do not need: tied checkpoints that also
// store lm_head, and old Llama exports with their rotary inv_freq buffers.
static int ignorable(const Model *m, const char *name) {
    if (m->cfg.tie_embeddings && !strcmp(name, "lm_head.weight")) return 1;
    size_t n = strlen(name), k = strlen("rotary_emb.inv_freq");
    return n >= k && !strcmp(name + n - k, "rotary_emb.inv_freq");
}

int model_load(Model **out, const char *dir, Backend *be) {
    *out = NULL;
    char path[4096];
    struct stat sb;
    if (stat(dir, &sb) != 0) return grpo_fail(GRPO_EIO, "%s: cannot open model directory: %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode)) return grpo_fail(GRPO_EINVAL, "%s: not a directory (expected a Hugging Face model directory)", dir);
    int st = join(path, sizeof path, dir, "config.json");
    if (st) return st;
    ModelConfig cfg;
    if ((st = model_config_load(&cfg, path))) return st;
    SafeTensors *sf = NULL;
    if ((st = st_open(dir, &sf))) return st;
    Model *m = NULL;
    if ((st = model_build(&m, &cfg, be))) {
        st_close(sf);
        return st;
    }
    float *host = be->kind == BACKEND_CPU ? m->params : malloc(m->n_params * sizeof(float));
    if (!host) st = grpo_fail(GRPO_ENOMEM, "%s: out of memory for %zu parameters", dir, m->n_params);
    for (int i = 0; !st && i < m->n_tensors; i++) {
        const ModelTensor *t = &m->tensors[i];
        const StTensorInfo *info = st_find(sf, t->name);
        if (!info) {
            st = grpo_fail(GRPO_EFORMAT, "%s: tensor '%s' is missing (the config asks for it)", dir, t->name);
            break;
        }
        int ok = info->ndim == t->ndim && info->shape[0] == t->shape[0] && (t->ndim == 1 || info->shape[1] == t->shape[1]);
        if (!ok) {
            char got[96] = "", want[64];
            for (int d = 0; d < info->ndim && d < 8; d++)
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? ", " : "", (long long)info->shape[d]);
            if (t->ndim == 1) snprintf(want, sizeof want, "%lld", (long long)t->shape[0]);
            else snprintf(want, sizeof want, "%lld, %lld", (long long)t->shape[0], (long long)t->shape[1]);
            st = grpo_fail(GRPO_EFORMAT, "%s: tensor '%s' has shape [%s], the config implies [%s]", st_tensor_path(sf, info),
                           t->name, got, want);
            break;
        }
        st = st_read_f32(sf, info, host + t->offset);
    }
    for (int i = 0; !st && i < st_count(sf); i++) {
        const StTensorInfo *info = st_info(sf, i);
        if (!model_find_tensor(m, info->name) && !ignorable(m, info->name))
            st = grpo_fail(GRPO_EFORMAT, "%s: unexpected tensor '%s' (not part of a %s model with this config)",
                           st_tensor_path(sf, info), info->name, cfg.model_type);
    }
    if (!st && host != m->params) st = be->to_device(be, m->params, host, m->n_params * sizeof(float));
    if (host != m->params) free(host);
    if (!st) st = model_sync_cd(m);
    st_close(sf);
    if (st) {
        model_free(m);
        return st;
    }
    *out = m;
    return GRPO_OK;
}

static int copy_file(const char *src, const char *dst) {
    char *buf = NULL;
    size_t len = 0;
    int st = grpo_read_file(src, 0, &buf, &len);
    if (!st) st = grpo_write_file_atomic(dst, buf, len);
    free(buf);
    return st;
}

static const char *const tokenizer_files[] = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                                              "generation_config.json", "vocab.json", "merges.txt", "tokenizer.model"};

int model_copy_tokenizer_files(const char *src_dir, const char *dst_dir) {
    char src[4096], dst[4096];
    for (size_t i = 0; i < sizeof tokenizer_files / sizeof tokenizer_files[0]; i++) {
        int st = join(src, sizeof src, src_dir, tokenizer_files[i]);
        if (!st) st = join(dst, sizeof dst, dst_dir, tokenizer_files[i]);
        if (st) return st;
        struct stat sb;
        if (stat(src, &sb) != 0) continue;
        if (!strcmp(src, dst)) continue;
        if ((st = copy_file(src, dst))) return st;
    }
    return GRPO_OK;
}

static int save_tensors(const Model *m, const float *dev, const char *path, StDtype dtype) {
    Backend *be = m->be;
    const float *host = dev;
    float *tmp = NULL;
    if (be->kind != BACKEND_CPU) {
        tmp = malloc(m->n_params * sizeof(float));
        if (!tmp) return grpo_fail(GRPO_ENOMEM, "%s: out of memory", path);
        int st = be->to_host(be, tmp, dev, m->n_params * sizeof(float));
        if (st) {
            free(tmp);
            return st;
        }
        host = tmp;
    }
    StWrite *w = calloc((size_t)m->n_tensors, sizeof *w);
    if (!w) {
        free(tmp);
        return grpo_fail(GRPO_ENOMEM, "%s: out of memory", path);
    }
    for (int i = 0; i < m->n_tensors; i++) {
        const ModelTensor *t = &m->tensors[i];
        w[i].name = t->name;
        w[i].data = host + t->offset;
        w[i].ndim = t->ndim;
        w[i].shape[0] = t->shape[0];
        w[i].shape[1] = t->shape[1];
    }
    int st = st_save(path, w, m->n_tensors, dtype, NULL);
    free(w);
    free(tmp);
    return st;
}

int model_save(const Model *m, const char *dir, int st_dtype, const char *tokenizer_src_dir) {
    if (st_dtype != ST_F32 && st_dtype != ST_BF16) return grpo_fail(GRPO_EINVAL, "model_save: dtype must be F32 or BF16");
    char path[4096];
    int st = grpo_mkdirs(dir);
    if (!st) st = join(path, sizeof path, dir, "model.safetensors");
    if (!st) st = save_tensors(m, m->params, path, (StDtype)st_dtype);
    if (st) return st;
    ModelConfig c = m->cfg;
    snprintf(c.torch_dtype, sizeof c.torch_dtype, "%s", st_dtype == ST_BF16 ? "bfloat16" : "float32");
    char *json = model_config_to_json(&c);
    if (!json) return grpo_fail(GRPO_ENOMEM, "%s: out of memory", dir);
    if (!(st = join(path, sizeof path, dir, "config.json"))) st = grpo_write_file_atomic(path, json, strlen(json));
    free(json);
    if (!st && tokenizer_src_dir) st = model_copy_tokenizer_files(tokenizer_src_dir, dir);
    return st;
}

int model_save_grads(const Model *m, const char *path) {
    if (!m->grads) return grpo_fail(GRPO_EINVAL, "%s: the model has no gradients", path);
    return save_tensors(m, m->grads, path, ST_F32);
}
