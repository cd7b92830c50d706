// rules_score_batch: a pool of threads pulling completions off a shared counter.
// Each result goes to its own slot, so the output order never depends on timing.
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rewards/rules.h"

#define RULES_MAX_WORKERS 256

typedef struct {
    const RuleSet *r;
    const char *const *completions;
    const cJSON *const *examples;
    const int *n_tokens;
    int n;
    RuleScore *out;
    atomic_int next;
} Batch;

static void *batch_worker(void *arg) {
    Batch *b = arg;
    for (;;) {
        int i = atomic_fetch_add(&b->next, 1);
        if (i >= b->n) break;
        char err[256];
        const char *c = b->completions[i] ? b->completions[i] : "";
        rules_score(b->r, c, b->examples ? b->examples[i] : NULL, b->n_tokens ? b->n_tokens[i] : -1, &b->out[i], err,
                    sizeof err); // a failure is recorded in out[i].error
    }
    return NULL;
}

int rules_score_batch(const RuleSet *r, const char *const *completions, const cJSON *const *examples,
                      const int *n_tokens, int n, int workers, RuleScore *out, char *err, size_t errlen) {
    if (n <= 0) return 0;
    if (workers <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        workers = cpus > 0 ? (int)cpus : 1;
    }
    if (workers > n) workers = n;
    if (workers > RULES_MAX_WORKERS) workers = RULES_MAX_WORKERS;
    Batch b = {r, completions, examples, n_tokens, n, out, 0};
    pthread_t tid[RULES_MAX_WORKERS];
    int started = 0;
    // The calling thread is one of the workers; a thread that cannot start
    // just leaves more work to the others.
    for (int w = 1; w < workers; w++) {
        if (pthread_create(&tid[started], NULL, batch_worker, &b)) break;
        started++;
    }
    batch_worker(&b);
    for (int w = 0; w < started; w++) pthread_join(tid[w], NULL);
    for (int i = 0; i < n; i++)
        if (out[i].error[0]) {
            if (errlen) snprintf(err, errlen, "completion %d: %s", i, out[i].error);
            return -1;
        }
    return 0;
}
