// The whole model against PyTorch + transformers (tests/reference/make_golden.py):
// for every case in fixtures/golden/, per-token log-probs and entropies (max
// relative error < 1e-4), the GRPO loss (< 1e-4) and every parameter's gradient
// (max|a - b| / max|b| < 1e-3 per tensor). The references are float64
// computations on the very float32 weights we load, so what remains is our
// float32 rounding.
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "policy/model.h"
#include "policy/model_acts.h"
#include "policy/safetensors.h"
#include "rl/gradbatch.h"
#include "testlib.h"

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) b[n] = '\0';
    return b;
}

// Max relative error of our per-token values against expected[s][k], k < len_s - 1.
static double compare_rows(const cJSON *rows, const float *ours, const GradBatch *b, int *count) {
    double num = 0, den = 1e-30;
    int s = 0;
    *count = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, rows) {
        if (s >= b->n_seqs) return INFINITY;
        int L = b->cu_seqlens[s + 1] - b->cu_seqlens[s];
        if (cJSON_GetArraySize(row) != L - 1) return INFINITY;
        int k = 0;
        const cJSON *v;
        cJSON_ArrayForEach(v, row) {
            double e = v->valuedouble, a = ours[b->cu_seqlens[s] + k++];
            num = fmax(num, fabs(a - e));
            den = fmax(den, fabs(e));
            (*count)++;
        }
        s++;
    }
    return s == b->n_seqs ? num / den : INFINITY;
}

static void run_case(Backend *be, const char *dir, const char *name) {
    char path[4096];
    Model *m = NULL;
    int st = model_load(&m, dir, be);
    CHECK(st == GRPO_OK, "%s: load: %s", name, grpo_errmsg());
    if (st) return;
    GradBatch b;
    snprintf(path, sizeof path, "%s/batch.json", dir);
    st = gradbatch_load(&b, path);
    CHECK(st == GRPO_OK, "%s: %s", name, grpo_errmsg());
    snprintf(path, sizeof path, "%s/expected.json", dir);
    char *js = slurp(path);
    cJSON *exp = js ? cJSON_Parse(js) : NULL;
    CHECK(exp != NULL, "%s: cannot read %s", name, path);
    if (st || !exp) goto out;
    int T = b.cu_seqlens[b.n_seqs];
    float *logp = malloc(T * sizeof(float)), *ent = malloc(T * sizeof(float));
    ModelBatch mb = {b.n_seqs, b.cu_seqlens, b.ids, 1.0f, 0};
    st = model_forward(m, &mb, logp, ent);
    CHECK(st == GRPO_OK, "%s: forward: %s", name, grpo_errmsg());
    int n1 = 0, n2 = 0;
    double e_lp = compare_rows(cJSON_GetObjectItem(exp, "logprobs"), logp, &b, &n1);
    double e_ent = compare_rows(cJSON_GetObjectItem(exp, "entropies"), ent, &b, &n2);
    CHECK(e_lp < 1e-4 && n1 > 0, "%s: logprobs rel err %g over %d tokens", name, e_lp, n1);
    CHECK(e_ent < 1e-4 && n2 > 0, "%s: entropies rel err %g over %d tokens", name, e_ent, n2);
    printf("%s: logprobs rel err %.2e, entropies %.2e\n", name, e_lp, e_ent);

    // A no_grad forward (one layer's activations) gives the same numbers, and
    // refuses a backward.
    float *lp2 = malloc(T * sizeof(float));
    ModelBatch ng = mb;
    ng.no_grad = 1;
    model_acts_free(m);
    CHECK(model_forward(m, &ng, lp2, NULL) == GRPO_OK && !memcmp(lp2, logp, T * sizeof(float)), "%s: no_grad forward differs",
          name);
    CHECK(model_backward(m, lp2) == GRPO_EINVAL, "%s: backward after a no_grad forward accepted", name);
    free(lp2);

    LossStats stats;
    // Three-row logit chunks: the multi-chunk path (recompute all but the last
    // chunk in backward) must give the same numbers as one chunk.
    m->logit_chunk = 3;
    st = gradbatch_run(m, &b, &stats, NULL);
    CHECK(st == GRPO_OK, "%s: grad: %s", name, grpo_errmsg());
    double el = cJSON_GetObjectItem(exp, "loss")->valuedouble;
    double loss_err = fabs(stats.loss - el) / fmax(fabs(el), 1e-12);
    CHECK(loss_err < 1e-4, "%s: loss %.9g, expected %.9g (rel err %g)", name, stats.loss, el, loss_err);

    SafeTensors *g = NULL;
    snprintf(path, sizeof path, "%s/expected_grads.safetensors", dir);
    st = st_open(path, &g);
    CHECK(st == GRPO_OK, "%s: %s", name, grpo_errmsg());
    if (!st) {
        double worst = 0;
        const char *worst_name = "";
        for (int i = 0; i < m->n_tensors; i++) {
            const ModelTensor *t = &m->tensors[i];
            const StTensorInfo *info = st_find(g, t->name);
            CHECK(info != NULL, "%s: expected gradient of '%s' missing", name, t->name);
            if (!info) continue;
            float *ref = malloc(t->numel * sizeof(float));
            CHECK(st_read_f32(g, info, ref) == GRPO_OK && (size_t)st_numel(info) == t->numel, "%s: %s", name, t->name);
            double num = 0, den = 1e-30;
            for (size_t j = 0; j < t->numel; j++) {
                num = fmax(num, fabs((double)m->grads[t->offset + j] - ref[j]));
                den = fmax(den, fabs((double)ref[j]));
            }
            CHECK(num / den < 1e-3, "%s: gradient of %s: rel err %g (max |ref| %g)", name, t->name, num / den, den);
            if (num / den > worst) worst = num / den, worst_name = t->name;
            free(ref);
        }
        for (int i = 0; i < st_count(g); i++)
            CHECK(model_find_tensor(m, st_info(g, i)->name) != NULL, "%s: gradient '%s' has no parameter", name,
                  st_info(g, i)->name);
        printf("%s: loss rel err %.2e, worst gradient rel err %.2e (%s)\n", name, loss_err, worst, worst_name);
        st_close(g);
    }
    free(logp);
    free(ent);
out:
    cJSON_Delete(exp);
    free(js);
    gradbatch_free(&b);
    model_free(m);
}

int main(void) {
    Backend *be = NULL;
    if (backend_open("cpu", &be)) return tu_finish("test_model_golden");
    char root[4096];
    snprintf(root, sizeof root, "%s", tu_path("fixtures/golden"));
    DIR *d = opendir(root);
    if (!d) {
        backend_close(be);
        return tu_skip("test_model_golden", "no fixtures/golden directory (made by tests/reference/make_golden.py)");
    }
    char names[64][256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64) {
        char p[4096 + 300];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s/batch.json", root, e->d_name);
        if (e->d_name[0] != '.' && stat(p, &sb) == 0) snprintf(names[n++], 256, "%s", e->d_name);
    }
    closedir(d);
    CHECK(n >= 4, "only %d golden cases found in %s", n, root);
    for (int i = 0; i < n; i++) {
        char dir[4096 + 300];
        snprintf(dir, sizeof dir, "%s/%s", root, names[i]);
        run_case(be, dir, names[i]);
    }
    backend_close(be);
    return tu_finish("test_model_golden");
}
