#!/usr/bin/env bash
# grpo init-model / logprobs / grad: the command forms other tools rely on,
# checked against the PyTorch golden files and against each other.
set -u
. "$(dirname "$0")/lib.sh"
T=$(test_tmpdir model_cli)
G="$GRPO_TEST_DIR/fixtures/golden"

# Max relative error (max|a-b| / max|b|) between the numbers of two JSON arrays.
max_rel() { # max_rel "a1 a2 ..." "b1 b2 ..."
  awk -v a="$1" -v b="$2" 'BEGIN { na = split(a, x, " "); nb = split(b, y, " ");
    if (na != nb || na == 0) { print "inf"; exit }
    num = 0; den = 1e-30
    for (i = 1; i <= na; i++) { d = x[i] - y[i]; if (d < 0) d = -d; if (d > num) num = d;
      m = y[i]; if (m < 0) m = -m; if (m > den) den = m }
    printf "%.3g\n", num / den }'
}
nums() { sed 's/.*"logprobs": *\[//; s/\].*//; s/,/ /g'; }
ok_below() { awk -v e="$1" -v t="$2" 'BEGIN { exit !(e != "inf" && e + 0 < t + 0) }'; }

# logprobs on a golden model equals PyTorch's float64 numbers.
for c in qwen2_tied_gqa llama3_rope; do
  ids=$(sed 's/.*"ids": *\[//; s/\].*//; s/,/ /g' "$G/$c/expected_logprobs_cli.json")
  want=$(nums < "$G/$c/expected_logprobs_cli.json")
  out=$("$GRPO_BIN" logprobs --model "$G/$c" --ids "$ids"); check "logprobs $c exits 0" $? 0
  got=$(printf '%s' "$out" | nums)
  e=$(max_rel "$got" "$want")
  ok_below "$e" 1e-4; check "logprobs $c matches PyTorch (rel err $e)" $? 0
done

# grad writes every gradient and prints the loss of the golden batch.
out=$("$GRPO_BIN" grad --model "$G/qwen2_untied" --batch "$G/qwen2_untied/batch.json" -o "$T/g.safetensors")
check "grad exits 0" $? 0
got=$(printf '%s' "$out" | sed 's/^{"loss": *\([-0-9.eE+]*\).*/\1/')
want=$(sed 's/^{"loss": *\([-0-9.eE+]*\).*/\1/' "$G/qwen2_untied/expected.json")
e=$(max_rel "$got" "$want")
ok_below "$e" 1e-4; check "grad prints PyTorch's loss ($got vs $want)" $? 0
[ -s "$T/g.safetensors" ]; check "grad writes the file" $? 0
n=$(grep -ao 'model\.layers\.[0-9]*\.[a-z_.]*weight\|model\.layers\.[0-9]*\.[a-z_.]*bias\|model\.embed_tokens\.weight\|model\.norm\.weight\|lm_head\.weight' "$T/g.safetensors" | sort -u | wc -l)
check "grad writes every parameter" "$n" 27

# init-model -> logprobs: a fresh model loads and gives near-uniform log-probs.
out=$("$GRPO_BIN" init-model --arch qwen2 --hidden 32 --layers 2 --heads 4 --kv-heads 2 --ffn 64 --vocab 100 --seed 3 -o "$T/m")
check "init-model exits 0" $? 0
[ -f "$T/m/config.json" ] && [ -f "$T/m/model.safetensors" ]; check "init-model writes config + weights" $? 0
expect_match "config names the arch" "$(cat "$T/m/config.json")" '"model_type":[[:space:]]*"qwen2"'
# bench --profile: a table per phase on stderr, the JSON line says so.
out=$("$GRPO_BIN" bench --device cpu --model "$T/m" --batch 2 --prompt-len 4 --gen-len 3 --train-len 8 --reps 1 --profile \
      2>"$T/prof.txt"); check "bench --profile exits 0" $? 0
expect_match "bench --profile JSON" "$out" '"profiled": true'
check "bench --profile: one table per phase" "$(grep -c '^== profile: ' "$T/prof.txt")" 4
expect_match "bench --profile: matmuls by shape" "$(cat "$T/prof.txt")" 'matmul 2x100x32 tB +[0-9]+ '
out=$("$GRPO_BIN" logprobs --model "$T/m" --ids "5 17 99 0 42"); check "logprobs on init-model exits 0" $? 0
got=$(printf '%s' "$out" | nums)
check "logprobs gives n-1 values" "$(echo $got | wc -w)" 4
# std 0.02 weights: every next-token distribution is close to uniform over 100 tokens.
e=$(max_rel "$got" "-4.60517 -4.60517 -4.60517 -4.60517")
ok_below "$e" 0.05; check "fresh model is near uniform (rel err $e)" $? 0
"$GRPO_BIN" init-model --arch qwen2 --hidden 32 --layers 2 --heads 4 --kv-heads 2 --ffn 64 --vocab 100 --seed 3 -o "$T/m2" >/dev/null
cmp -s "$T/m/model.safetensors" "$T/m2/model.safetensors"; check "same seed, same weights" $? 0
"$GRPO_BIN" init-model --arch llama --hidden 32 --layers 1 --heads 4 --ffn 64 --vocab 100 --tie --seed 4 -o "$T/m3" >/dev/null
check "llama tied init-model exits 0" $? 0
out=$("$GRPO_BIN" logprobs --model "$T/m3" --ids "1 2 3"); check "tied llama logprobs" $? 0

# generate: greedy --ids on a golden model continues like transformers' generate.
gp=$(sed 's/.*"prompts": *\[\[//; s/\]\].*//; s/\],\[/|/g' "$G/llama_untied_gqa/expected_greedy.json" | cut -d'|' -f1 | tr ',' ' ')
want=$(sed 's/.*"tokens": *\[\[//; s/\].*//' "$G/llama_untied_gqa/expected_greedy.json")
out=$("$GRPO_BIN" generate --model "$G/llama_untied_gqa" --ids "$gp" --temperature 0 --max-tokens 10); check "greedy generate exits 0" $? 0
got=$(printf '%s' "$out" | sed 's/.*"ids":\[//; s/\].*//')
check "greedy tokens match transformers" "$got" "$want"
# sampled: n lines, and each sample's log-probs are what `grpo logprobs` recomputes at the same temperature.
"$GRPO_BIN" init-model --arch llama --hidden 32 --layers 2 --heads 4 --kv-heads 2 --ffn 64 --vocab 300 --seed 8 -o "$T/mt" >/dev/null
check "init-model writes the built-in tokenizer" "$(ls "$T/mt" | grep -c tokenizer)" 2
out=$("$GRPO_BIN" generate --model "$T/mt" --prompt "Hi there" --n 2 --max-tokens 5); check "generate --prompt exits 0" $? 0
expect_match "generate prints text and finish_reason" "$out" '"text":.*"finish_reason":"(stop|length)"'
out=$("$GRPO_BIN" generate --model "$T/mt" --ids "72 105 32 116" --n 3 --max-tokens 6 --temperature 0.8 --top-k 50 --seed 5)
check "generate --ids exits 0" $? 0
check "generate prints n lines" "$(printf '%s\n' "$out" | wc -l)" 3
line=$(printf '%s\n' "$out" | tail -1)
cids=$(printf '%s' "$line" | sed 's/.*"ids":\[//; s/\].*//; s/,/ /g')
clp=$(printf '%s' "$line" | sed 's/.*"logprobs":\[//; s/\].*//; s/,/ /g')
nc=$(echo $cids | wc -w)
full=$(printf '%s\n' "$("$GRPO_BIN" logprobs --model "$T/mt" --temperature 0.8 --ids "72 105 32 116 $cids" | nums)" | tr ' ' '\n' | grep . | tail -n "$nc")
e=$(max_rel "$(echo $full)" "$(echo $clp)")
ok_below "$e" 1e-4; check "sampled log-probs equal grpo logprobs (rel err $e)" $? 0
out2=$("$GRPO_BIN" generate --model "$T/mt" --ids "72 105 32 116" --n 3 --max-tokens 6 --temperature 0.8 --top-k 50 --seed 5)
check "same seed, same samples" "$out2" "$out"

# bench --model reports the three workloads (speed itself is never asserted).
out=$("$GRPO_BIN" bench --model "$T/m" --batch 2 --prompt-len 4 --gen-len 3 --device cpu); check "bench --model exits 0" $? 0
expect_match "bench reports prefill, decode, train and memory" "$out" '"prefill_tok_s": [0-9.]+.*"decode_tok_s": [0-9.]+.*"train_tok_s": [0-9.]+.*"peak_rss_mib": [0-9.]+'

# Errors: clear, naming the thing.
err=$("$GRPO_BIN" logprobs --model "$T/m" --ids "5 100" 2>&1); check "id past vocab fails" $? 1
expect_match "id past vocab is named" "$err" 'outside the vocabulary'
err=$("$GRPO_BIN" init-model --arch gpt2 --hidden 32 --layers 1 --heads 4 --ffn 64 --vocab 10 -o "$T/x" 2>&1); check "bad arch fails" $? 1
expect_match "bad arch is named" "$err" 'gpt2'
err=$("$GRPO_BIN" init-model --arch llama --hidden 32 --layers 1 --heads 4 --kv-heads 3 --ffn 64 --vocab 10 -o "$T/x" 2>&1)
check "kv heads not dividing fails" $? 1
expect_match "kv heads error names the key" "$err" 'num_key_value_heads'
mkdir -p "$T/bad" && cp "$T/m/model.safetensors" "$T/bad/"
sed 's/"qwen2"/"gemma"/' "$T/m/config.json" > "$T/bad/config.json"
err=$("$GRPO_BIN" logprobs --model "$T/bad" --ids "1 2" 2>&1); check "unsupported model_type fails" $? 1
expect_match "model_type is named" "$err" "model_type.*gemma"
err=$("$GRPO_BIN" logprobs --model "$T/m" --ids "1 2" --device cuda 2>&1); check "--device cuda fails cleanly" $? 1
expect_match "--device cuda explains" "$err" 'cuda'
finish test_model_cli
