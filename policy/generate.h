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
// captured, and the reason the last capture failed ("" when none did).
typedef struct {
    int launched, captured, failed;
    char why[200];
} GenGraphStats;

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
    // results are the same bit for bit either way.
    int no_graphs;
    GenGraphStats *graph_stats; // optional out (tests, bench): what the graphs did
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

#endif
