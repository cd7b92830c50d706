#!/usr/bin/env bash
# `grpo inspect` on a checkpoint written by Hugging Face's safetensors library, in text and
# JSON, with --stats, and on broken input.
set -u
. "$(dirname "$0")/lib.sh"
fx="$GRPO_TEST_DIR/fixtures/safetensors/hf_small.safetensors"
tmp=$(test_tmpdir inspect)

out=$("$GRPO_BIN" inspect "$fx"); check "inspect exits 0" $? 0
expect_match "summary line" "$out" '4 tensors, 25 parameters'
expect_match "metadata listed" "$out" '^metadata  format = np$'
expect_match "tensor row" "$out" '^model\.layers\.0\.self_attn\.q_proj\.weight +F32 +\[3, 4\] +48$'
expect_match "scalar row" "$out" '^scalar +F32 +\[\] +4$'

out=$("$GRPO_BIN" inspect --model "$fx" --json); check "--json exits 0" $? 0
expect_match "json counts" "$out" '"n_tensors":4,"n_params":25,"bytes":88'
expect_match "json tensor" "$out" '\{"name":"model.norm.weight","dtype":"F16","shape":\[10\],"bytes":20,"file":"hf_small.safetensors"\}'
if command -v python3 >/dev/null; then
  printf '%s' "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d["tensors"]) == 4' 2>/dev/null
  check "json parses" $? 0
fi

out=$("$GRPO_BIN" inspect "$fx" --stats); check "--stats exits 0" $? 0
expect_match "stats of q_proj" "$out" 'q_proj.weight .* min -1.25 max 1.5 mean 0.125'
expect_match "inf counted in the f16 tensor" "$out" 'model.norm.weight .* NaN 0 inf 2$'
out=$("$GRPO_BIN" inspect "$fx" --stats --json); check "--stats --json exits 0" $? 0
expect_match "json stats" "$out" '"name":"model.norm.weight".*"nan":0,"inf":2'

# A truncated copy: exit 1 and a message naming the file and the tensor.
head -c 300 "$fx" > "$tmp/cut.safetensors"
err=$("$GRPO_BIN" inspect "$tmp/cut.safetensors" 2>&1 >/dev/null); check "truncated file exits 1" $? 1
expect_match "truncation names the file" "$err" "^grpo inspect: .*cut.safetensors: "
head -c 440 "$fx" > "$tmp/cut2.safetensors"
err=$("$GRPO_BIN" inspect "$tmp/cut2.safetensors" 2>&1 >/dev/null); check "truncated data exits 1" $? 1
expect_match "truncated data names a tensor" "$err" "cut2.safetensors: tensor '.*': .*past the end"
err=$("$GRPO_BIN" inspect "$tmp" 2>&1 >/dev/null); check "empty dir exits 1" $? 1
expect_match "empty dir says what is missing" "$err" "neither model.safetensors nor model.safetensors.index.json"
"$GRPO_BIN" inspect >/dev/null 2>&1; check "no checkpoint is a usage error" $? 2
"$GRPO_BIN" inspect a b >/dev/null 2>&1; check "two checkpoints is a usage error" $? 2
rm -rf "$tmp"
finish test_inspect
