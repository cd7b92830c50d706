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

out=$("$GRPO_BIN" inspect "$fx" --stats); check "--stats exits 0" $? 0
expect_match "stats of q_proj" "$out" 'q_proj.weight .* min -1.25 max 1.5 mean 0.125'
expect_match "inf counted in the f16 tensor" "$out" 'model.norm.weight .* NaN 0 inf 2$'
out=$("$GRPO_BIN" inspect "$fx" --stats --json); check "--stats --json exits 0" $? 0
expect_match "json stats" "$out" '"name":"model.norm.weight".*"nan":0,"inf":2'

# --diff: against itself, and against a copy whose q_proj[0] has its sign flipped
# (file byte 379 is the top byte of that float: data start 360 + offset 16 + 3).
out=$("$GRPO_BIN" inspect "$fx" --diff "$fx"); check "diff with itself exits 0" $? 0
expect_match "diff with itself" "$out" ': 4 identical, 0 differ, 0 only in A, 0 only in B$'
cp "$fx" "$tmp/flip.safetensors" && chmod u+w "$tmp/flip.safetensors"
printf '\077' | dd of="$tmp/flip.safetensors" bs=1 seek=379 conv=notrunc 2>/dev/null
out=$("$GRPO_BIN" inspect "$fx" --diff "$tmp/flip.safetensors"); check "diff exits 0" $? 0
expect_match "diff names the tensor" "$out" '^model.layers.0.self_attn.q_proj.weight +values differ: 1 values differ, max abs 2.5, max rel 2$'
expect_match "diff summary" "$out" ': 3 identical, 1 differ, 0 only in A, 0 only in B$'
out=$("$GRPO_BIN" inspect "$fx" --diff "$tmp/flip.safetensors" --json); check "diff --json exits 0" $? 0
expect_match "diff json" "$out" '"identical":3,"differ":1,.*"n_diff":1,"max_abs":2.5'
err=$("$GRPO_BIN" inspect "$fx" --diff "$tmp" 2>&1 >/dev/null); check "diff against nothing exits 1" $? 1

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
