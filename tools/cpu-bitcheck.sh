#!/usr/bin/env bash
# Usage: tools/cpu-bitcheck.sh OLD_GRPO NEW_GRPO [TMPDIR]
# Compares two grpo binaries on the CPU: train, sft (with
# checkpoints + optimizer state) and generate with sampling filters must be
# byte-identical.
set -u
A=$1 B=$2 T=${3:-/tmp/grpo-bitcheck}
rm -rf "$T"; mkdir -p "$T"
RULES=$(cd "$(dirname "$0")/.." && pwd)/tests/fixtures/train/digits_rules.json
export OMP_NUM_THREADS=2
"$A" tokenize --write-builtin "$T/tok" >/dev/null
"$A" init-model --arch qwen2 --hidden 32 --layers 2 --heads 2 --kv-heads 1 --ffn 64 --vocab 263 --tie --seed 5 --tokenizer "$T/tok" -o "$T/model" >/dev/null
fail=0
for bin in A B; do
  eval exe=\$$bin
  "$exe" train --quiet --set "model=$T/model" --set dataset=gen:arithmetic --set template=plain --set "rules=$RULES" \
    --set prompts_per_step=4 --set group_size=4 --set max_completion_len=16 --set eval_size=4 --set lr=3e-2 --set seed=7 \
    --set steps=4 --set top_k=20 --set top_p=0.9 --set min_p=0.02 --set weight_decay=0.1 --set max_grad_norm=0.5 --out "$T/train$bin" >/dev/null 2>&1 || echo "train $bin failed"
  "$exe" sft --quiet --set "model=$T/model" --set "dataset=gen:arithmetic?worked=1" --set template=plain \
    --set steps=3 --set prompts_per_step=4 --set lr=1e-2 --set max_completion_len=32 --out "$T/sft$bin" > "$T/sft$bin.out" 2>&1 || echo "sft $bin failed"
  for cfg in "--temperature 0" "--temperature 1" "--temperature 0.7 --top-k 5" "--temperature 1.3 --top-p 0.8" "--temperature 1 --top-k 50 --top-p 0.9 --min-p 0.05" "--temperature 1 --min-p 0.1"; do
    "$exe" generate --model "$T/model" --prompt "1+2=" --n 6 --stop "9" --max-tokens 20 --seed 3 $cfg >> "$T/gen$bin.out" 2>&1 || echo "generate $bin failed: $cfg"
  done
done
for f in $(cd "$T/trainA" && find . -type f -name '*.safetensors' | sort); do
  cmp -s "$T/trainA/$f" "$T/trainB/$f" || { echo "DIFF train $f"; fail=1; }
done
for f in $(cd "$T/sftA" && find . -type f -name '*.safetensors' | sort); do
  cmp -s "$T/sftA/$f" "$T/sftB/$f" || { echo "DIFF sft $f"; fail=1; }
done
cmp -s <(sed s/sftA/X/ "$T/sftA.out") <(sed s/sftB/X/ "$T/sftB.out") || { echo "DIFF sft output"; fail=1; }
cmp -s "$T/genA.out" "$T/genB.out" || { echo "DIFF generate output"; fail=1; }
sqlite3 "$T/trainA/run.db" "select step, loss, grad_norm, reward_mean from steps" > "$T/stA"; sqlite3 "$T/trainB/run.db" "select step, loss, grad_norm, reward_mean from steps" > "$T/stB"
cmp -s "$T/stA" "$T/stB" || { echo "DIFF train step metrics"; fail=1; }
sqlite3 "$T/trainA/run.db" "select completion from rollouts" | md5sum; sqlite3 "$T/trainB/run.db" "select completion from rollouts" | md5sum
ls "$T/trainA/checkpoints" "$T/sftA/checkpoints"; wc -l "$T/genA.out" "$T/stA"
[ $fail = 0 ] && echo "BIT-IDENTICAL" || echo "DIFFERENT"
exit $fail
