// The BPE model: merge ranks in a hash keyed by (left id, right id), a heap-driven merge loop
// over a linked list of symbols, and a shared cache of recent pre-token results.
#include <stdlib.h>
#include <string.h>

#include "kernels/status.h"
#include "policy/tok_internal.h"

static inline uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t)(uint32_t)a << 32 | (uint32_t)b; }

static inline size_t pair_slot(uint64_t k, size_t mask) {
    k ^= k >> 31;
    k *= 0x9E3779B97F4A7C15ull;
    return (size_t)(k >> 17) & mask;
}

int tok_merge_put(Tokenizer *t, int32_t a, int32_t b, int32_t rank, int32_t id) {
    size_t mask = t->merges_cap - 1, i = pair_slot(pair_key(a, b), mask);
    uint64_t k = pair_key(a, b);
    while (t->merges[i].key != UINT64_MAX) {
        if (t->merges[i].key == k) return 1; // duplicate: the first (lowest) rank wins, as in HF
        i = (i + 1) & mask;
    }
    t->merges[i] = (TokMergeSlot){k, rank, id};
    return 0;
}

static inline const TokMergeSlot *merge_get(const Tokenizer *t, int32_t a, int32_t b) {
    if (!t->merges_cap) return NULL;
    uint64_t k = pair_key(a, b);
    size_t mask = t->merges_cap - 1, i = pair_slot(k, mask);
    for (;;) {
        const TokMergeSlot *s = &t->merges[i];
        if (s->key == k) return s;
        if (s->key == UINT64_MAX) return NULL;
        i = (i + 1) & mask;
    }
}

// ---------------------------------------------------------------- cache
// Direct-mapped: a slot holds one short pre-token and its ids. A mutex keeps it safe when
// several threads encode with one Tokenizer; the lock is held only to copy a slot.
#define CACHE_SLOTS 8192
#define CACHE_KEY 38
#define CACHE_IDS 14
typedef struct {
    uint64_t h;
    uint8_t klen, nids;
    char key[CACHE_KEY];
    int32_t ids[CACHE_IDS];
} CacheSlot;
struct TokCache {
    pthread_mutex_t mu;
    CacheSlot slot[CACHE_SLOTS];
};

int tok_cache_new(TokCache **c) {
    *c = calloc(1, sizeof **c);
    if (!*c) return grpo_fail(GRPO_ENOMEM, "tokenizer: out of memory");
    pthread_mutex_init(&(*c)->mu, NULL);
    return 0;
}

void tok_cache_free(TokCache *c) {
    if (!c) return;
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static int push_id(int32_t **ids, size_t *n, size_t *cap, int32_t id) {
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        int32_t *v = realloc(*ids, nc * sizeof *v);
        if (!v) return grpo_fail(GRPO_ENOMEM, "tokenizer: out of memory");
        *ids = v;
        *cap = nc;
    }
    (*ids)[(*n)++] = id;
    return 0;
}

// ---------------------------------------------------------------- merge loop
typedef struct {
    int32_t id, prev, next;
} Sym;

static void heap_push(uint64_t *h, size_t *n, uint64_t v) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p] <= v) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = v;
}

static uint64_t heap_pop(uint64_t *h, size_t *n) {
    uint64_t top = h[0], v = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && h[c + 1] < h[c]) c++;
        if (h[c] >= v) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = v;
    return top;
}

// Appends a character that is not in the vocab: its <0xXX> byte tokens with byte_fallback,
// else <unk> (fused with a preceding <unk> when fuse_unk), else nothing (as HF).
static void add_unknown(const Tokenizer *t, Sym *sym, int *ns, const unsigned char *c, size_t clen) {
    if (t->byte_fallback) {
        size_t k = 0;
        while (k < clen && t->byte_fb[c[k]] >= 0) k++;
        if (k == clen) {
            for (k = 0; k < clen; k++) sym[(*ns)++].id = t->byte_fb[c[k]];
            return;
        }
    }
    if (t->unk_id < 0) return;
    if (t->fuse_unk && *ns > 0 && sym[*ns - 1].id == t->unk_id) return;
    sym[(*ns)++].id = t->unk_id;
}

static int bpe_merge(const Tokenizer *t, const unsigned char *s, size_t n, int32_t **ids, size_t *nids, size_t *cap) {
    Sym stack_sym[64];
    uint64_t stack_heap[128];
    // A char may become up to 4 byte-fallback symbols, one per byte: n bounds the count.
    // Each merge pops one heap entry and pushes at most two, so at most 2n are live.
    Sym *sym = n <= 64 ? stack_sym : malloc(n * sizeof *sym);
    uint64_t *heap = n <= 64 ? stack_heap : malloc(2 * n * sizeof *heap);
    if (!sym || !heap) {
        if (sym != stack_sym) free(sym);
        if (heap != stack_heap) free(heap);
        return grpo_fail(GRPO_ENOMEM, "tokenizer: out of memory");
    }
    int ns = 0;
    if (t->byte_level) {
        for (size_t i = 0; i < n; i++) {
            int32_t id = t->byte_sym[s[i]];
            if (id >= 0) sym[ns++].id = id;
            else add_unknown(t, sym, &ns, s + i, 1);
        }
    } else {
        for (size_t i = 0; i < n;) {
            size_t cl = tok_utf8_len(s + i, n - i);
            if (!cl) cl = 1; // an invalid byte is a char of its own
            int32_t id = tok_vocab_find(t, (const char *)s + i, cl);
            if (id >= 0) sym[ns++].id = id;
            else add_unknown(t, sym, &ns, s + i, cl);
            i += cl;
        }
    }
    for (int i = 0; i < ns; i++) {
        sym[i].prev = i - 1;
        sym[i].next = i + 1 < ns ? i + 1 : -1;
    }
    // Heap entries: rank << 32 | left position, so ties go to the leftmost pair as in HF.
    size_t nh = 0;
    for (int i = 0; i + 1 < ns; i++) {
        const TokMergeSlot *m = merge_get(t, sym[i].id, sym[i + 1].id);
        if (m) heap_push(heap, &nh, (uint64_t)(uint32_t)m->rank << 32 | (uint32_t)i);
    }
    while (nh) {
        uint64_t top = heap_pop(heap, &nh);
        int l = (int)(uint32_t)top, r = sym[l].next;
        int32_t rank = (int32_t)(top >> 32);
        if (sym[l].id < 0 || r < 0) continue; // l was merged away, or is last now
        const TokMergeSlot *m = merge_get(t, sym[l].id, sym[r].id);
        if (!m || m->rank != rank) continue; // stale: the pair changed since it was pushed
        sym[l].id = m->id;
        sym[r].id = -1;
        sym[l].next = sym[r].next;
        if (sym[r].next >= 0) sym[sym[r].next].prev = l;
        int p = sym[l].prev, q = sym[l].next;
        if (p >= 0 && (m = merge_get(t, sym[p].id, sym[l].id)))
            heap_push(heap, &nh, (uint64_t)(uint32_t)m->rank << 32 | (uint32_t)p);
        if (q >= 0 && (m = merge_get(t, sym[l].id, sym[q].id)))
            heap_push(heap, &nh, (uint64_t)(uint32_t)m->rank << 32 | (uint32_t)l);
    }
    int rc = 0;
    for (int i = ns ? 0 : -1; i >= 0 && !rc; i = sym[i].next) rc = push_id(ids, nids, cap, sym[i].id);
    if (sym != stack_sym) free(sym);
    if (heap != stack_heap) free(heap);
    return rc;
}

// With ignore_merges (Llama 3), a pre-token that is itself in the vocab is one token.
static int32_t whole_word(const Tokenizer *t, const unsigned char *s, size_t n) {
    if (!t->byte_level) return tok_vocab_find(t, (const char *)s, n);
    char stack[256], *buf = n <= 128 ? stack : malloc(2 * n);
    if (!buf) return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned cp = tok_byte_to_cp[s[i]];
        if (cp < 0x80) buf[k++] = (char)cp;
        else {
            buf[k++] = (char)(0xC0 | cp >> 6);
            buf[k++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    int32_t id = tok_vocab_find(t, buf, k);
    if (buf != stack) free(buf);
    return id;
}

int tok_bpe_word(const Tokenizer *t, const char *str, size_t n, int32_t **ids, size_t *nids, size_t *cap) {
    const unsigned char *s = (const unsigned char *)str;
    if (!n) return 0;
    if (t->ignore_merges) {
        int32_t id = whole_word(t, s, n);
        if (id >= 0) return push_id(ids, nids, cap, id);
    }
    TokCache *c = t->cache;
    uint64_t h = 0;
    CacheSlot *slot = NULL;
    if (c && n <= CACHE_KEY) {
        h = tok_hash(s, n);
        slot = &c->slot[h & (CACHE_SLOTS - 1)];
        int32_t got[CACHE_IDS];
        int ng = -1;
        pthread_mutex_lock(&c->mu);
        if (slot->h == h && slot->klen == n && !memcmp(slot->key, s, n)) {
            ng = slot->nids;
            memcpy(got, slot->ids, (size_t)ng * sizeof *got);
        }
        pthread_mutex_unlock(&c->mu);
        for (int i = 0; i < ng; i++)
            if (push_id(ids, nids, cap, got[i])) return GRPO_ENOMEM;
        if (ng >= 0) return 0;
    }
    size_t start = *nids;
    int rc = bpe_merge(t, s, n, ids, nids, cap);
    if (rc || !slot || *nids - start > CACHE_IDS) return rc;
    pthread_mutex_lock(&c->mu);
    slot->h = h;
    slot->klen = (uint8_t)n;
    memcpy(slot->key, s, n);
    slot->nids = (uint8_t)(*nids - start);
    memcpy(slot->ids, *ids + start, slot->nids * sizeof(int32_t));
    pthread_mutex_unlock(&c->mu);
    return 0;
}
