// Batched generation: many sequences decoded together, each with its own
// length, position and KV cache slot.
//
// KV cache layout: k and v are each (n_layers, n_seqs, max_len, kv_dim)
// floats in backend memory; sequence s owns rows s*max_len .. s*max_len +
// max_len - 1 of each layer's (n_seqs * max_len, kv_dim) matrix, so the
// attention op reads it like a packed batch (kv_start[s] = s*max_len).
// Each distinct prompt is prefilled once (all prompts packed in one pass, or a
// few passes when they are long) into the slot of its first sample, then its
// rows are copied to the G-1 other samples' slots: the G samples of a prompt
// share the prefill instead of recomputing it. Decoding then feeds one token
// per unfinished sequence per step, all sequences in one matmul per weight.
#ifndef GRPO_GENERATE_H
#define GRPO_GENERATE_H

#include <stdint.h>

#include "policy/model.h"
#include "policy/sampler.h"

typedef enum { GEN_FINISH_STOP = 0, GEN_FINISH_LENGTH = 1 } GenFinish;

const char *gen_finish_name(GenFinish f); // "stop" | "length"

// What generate() did with graphs: decode steps run through a graph, graphs
// captured, and the reason the last capture failed ("" when none did); with a
// GenCache also the graphs the call found in it (captured by earlier calls;
// they stay valid: the CUDA backend never frees memory a graph may hold while
// it lives, see cuda_scratch), and 1 in `built` when it (re)allocated the cache's workspace (first use, or a call needed
// more sequences / tokens than it had room for; the old graphs go with it).
// pad_rows: rows decode steps computed for no live sequence (see no_pad).
typedef struct {
    int launched, captured, failed;
    int kept, built;
    long pad_rows;
    char why[200];
} GenGraphStats;

// A generation workspace kept across generate() calls (GenConfig.cache): the
// device buffers (KV cache, activations, logits, index arrays, sampler state)
// and the decode-step graphs captured over them, so a trainer that generates
// every step captures its graphs in the first steps only. It belongs to one
// model: free it before that model and its backend. A call fits the
// workspace when it has at most as many sequences, cache rows per sequence
// and prefill rows as the workspace has room for; otherwise the workspace is
// freed (graphs included) and allocated again, large enough for both the old
// and the new call. A call that fails empties it. It holds device memory
// between calls (a step's KV cache stays allocated through the policy update).
// Only backends with graphs (CUDA) use it; elsewhere every call allocates and
// frees its own workspace, as without a cache.
typedef struct GenCache GenCache;
int gen_cache_build(GenCache **out, Model *m);
void gen_cache_free(GenCache *c);

typedef struct {
    SamplerConfig sampler;
    int max_tokens;          // completion tokens per sequence (> 0)
    uint64_t seed;           // sequence i (= prompt * G + sample) uses rng_seed_stream(seed, stream_offset + i)
    const int32_t *eos_ids;  // a sampled EOS id ends the sequence (the id is kept); may be NULL
    int n_eos;
    // Stop strings, matched on the bytes of the completion: token_bytes[id]
    // (token_len[id] bytes) is what token `id` decodes to, e.g. built with the
    // tokenizer by the caller, so policy/ needs no tokenizer. The sequence ends
    // with the token that completes a stop string (the token is kept).
    const char *const *stop;
    int n_stop;
    const char *const *token_bytes; // (vocab) or NULL (then n_stop must be 0)
    const int *token_len;           // (vocab)
    int no_prefix_share;     // testing: prefill every sample's prompt separately
    int prefill_tokens;      // tokens per prefill pass (0 = 2048)
    uint64_t stream_offset;  // where this batch starts in a larger one split across processes (0 = alone)
    // Decode steps run as backend graphs (CUDA graphs; one per number of
    // active sequences, captured at its first use) unless no_graphs is set, the
    // environment has GRPO_CUDA_GRAPHS=0, or the backend has none (the CPU).
    // A capture that fails turns graphs off for the rest of the call; the
    // results are the same bit for bit either way. Everything a captured step
    // reads that changes between steps or calls (token ids, positions, cache
    // rows, sequence lengths, sampler settings and RNG states) lives in device
    // memory, so one graph serves every step and call with its row count.
    int no_graphs;
    GenGraphStats *graph_stats; // optional out (tests, bench): what the graphs did
    GenCache *cache;         // optional: keep the workspace and graphs for later calls (see GenCache)
    // On backends with graphs a decode step of na active sequences computes
    // gen_rows(na, S) >= na rows (na rounded up to one of a few sizes; the
    // extra rows run harmlessly in finished sequences' cache slots and are
    // discarded), so a whole run needs only those few graphs. Graphs or not,
    // cache or not, the same rows are computed, so the results are the same.
    // (A matmul over more rows may round a row differently, e.g. sgemm on the
    // CPU, so padded and unpadded runs can differ in the last bits.)
    // no_pad (testing) computes exactly na rows.
    int no_pad;
} GenConfig;

typedef struct {
    int32_t *tokens;  // (n_tokens) the completion, without the prompt
    float *logprobs;  // (n_tokens) log_softmax(logits / T)[token] (T = 1 when greedy), see sampler.h
    int n_tokens;
    GenFinish finish;
} GenResult;

// Generates G completions of each of n_prompts prompts into results
// (n_prompts * G, sample g of prompt p at p * G + g; free with gen_results_free).
int generate(Model *m, const GenConfig *c, const int32_t *const *prompts, const int *prompt_lens, int n_prompts, int G,
             GenResult *results);
void gen_results_free(GenResult *r, int n);

// The rows a decode step of na active sequences computes where rows are padded
// (backends with graphs, see GenConfig.no_pad): na up to 8, then the next of
// four sizes per doubling (10, 12, 14, 16, 20, 24, 28, 32, 40, ...), at most cap.
int gen_rows(int na, int cap);

#endif
