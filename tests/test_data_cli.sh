#!/usr/bin/env bash
# `grpo data gen` and `grpo data show`: repeatable output, the bundled data
# still matches its generator, rendered prompts, errors and exit codes.
set -u
. "$(dirname "$0")/lib.sh"
SRC=${GRPO_SOURCE_DIR:-$(dirname "$0")/..}
FIX="$SRC/tests/fixtures/datasets"
T=$(test_tmpdir data_cli)

a=$("$GRPO_BIN" data gen countdown --n 4 --seed 1 --worked); check "gen exits 0" $? 0
b=$("$GRPO_BIN" data gen countdown --n 4 --seed 1 --worked)
check "gen repeats itself" "$a" "$b"
check "gen matches the pinned lines" "$a" "$(head -n 4 "$FIX/gen_expected.jsonl")"
check "gen --n counts lines" "$(printf '%s\n' "$a" | wc -l)" 4
c=$("$GRPO_BIN" data gen countdown --n 4 --seed 2)
[ "$a" != "$c" ]; check "another seed, other lines" $? 0
out=$("$GRPO_BIN" data gen arithmetic --n 20 --digits 3 --ops + --seed 3)
check "arithmetic options apply" "$(printf '%s\n' "$out" | grep -c '"What is [0-9]\{3\} + [0-9]\{3\}?"')" 20

# The bundled datasets are exactly what the generator makes today.
GRPO_BIN="$GRPO_BIN" bash "$SRC/tools/make-datasets.sh" "$T/data" >/dev/null 2>&1; check "make-datasets runs" $? 0
for f in "$SRC"/datasets/data/*.jsonl; do
  cmp -s "$f" "$T/data/$(basename "$f")"; check "bundled $(basename "$f") is reproducible" $? 0
done

err=$("$GRPO_BIN" data gen countdwn --n 3 2>&1 >/dev/null); check "unknown generator exits 1" $? 1
expect_match "unknown generator suggests" "$err" "did you mean 'countdown'"
err=$("$GRPO_BIN" data gen countdown 2>&1 >/dev/null); check "gen without --n is a usage error" $? 2
err=$("$GRPO_BIN" data gen arithmetic --n 3 --digits 12 2>&1 >/dev/null); check "bad digits exits 1" $? 1
expect_match "bad digits is named" "$err" 'digits must be 1\.\.9'
err=$("$GRPO_BIN" data frobnicate 2>&1 >/dev/null); check "unknown action exits 2" $? 2

out=$("$GRPO_BIN" data show --data "$FIX/gsm8k.jsonl" --format gsm8k --template chatml --system "Be brief." --limit 2)
check "show exits 0" $? 0
expect_match "show prints the rendered prompt" "$out" '^<\|im_start\|>system$'
expect_match "show prints the gold" "$out" '^--- gold: 48$'
expect_match "show summarises" "$out" '^=== 2 of 3 examples shown .*template chatml, stops: "<\|im_end\|>"'
out=$("$GRPO_BIN" data show --data "gen:arithmetic?digits=1&ops=+" --limit 1 --json --open-think)
expect_match "show --json" "$out" '^\{"prompt":"A conversation between User and Assistant\..*User: What is [0-9] \+ [0-9]\?\. Assistant: <think>","answer":"[0-9]+"\}$'
out=$("$GRPO_BIN" data show --data gen:countdown --limit 1 --custom-template 'N={nums} T={target}')
expect_match "custom template with fields" "$out" '^N=[0-9]+, [0-9]+, [0-9]+(, [0-9]+)? T=[0-9]+$'
err=$("$GRPO_BIN" data show --data gen:countdown --limit 1 --custom-template 'Q: {question} {hint}' 2>&1 >/dev/null)
check "missing placeholder exits 1" $? 1
expect_match "missing placeholder is named" "$err" '\{hint\}'

# Token counts: the built-in byte tokenizer gives one token per ASCII byte and
# one per special token, so the counts are known exactly.
out=$("$GRPO_BIN" data show --data "gen:arithmetic?digits=1&ops=+" --limit 1 --json --template plain --tokenizer builtin)
expect_match "plain prompt: one token per byte" "$out" '^\{"prompt":"What is [0-9] \+ [0-9]\?.n","answer":"[0-9]+","prompt_tokens":15\}$'
out=$("$GRPO_BIN" data show --data "gen:arithmetic?digits=1&ops=+" --limit 1 --json --template chatml --tokenizer builtin)
expect_match "chatml specials are single tokens" "$out" '"prompt_tokens":33\}$'
out=$("$GRPO_BIN" data show --data "$FIX/gsm8k.jsonl" --format gsm8k --tokenizer builtin --limit 0); check "show with a tokenizer exits 0" $? 0
expect_match "token summary" "$out" 'prompt tokens min [0-9]+, mean [0-9.]+, max [0-9]+$'
err=$("$GRPO_BIN" data show --data "$FIX/gsm8k.jsonl" --tokenizer "$T/none" 2>&1 >/dev/null); check "missing tokenizer exits 1" $? 1

err=$("$GRPO_BIN" data show --data "$FIX/malformed.jsonl" 2>&1 >/dev/null); check "malformed file exits 1" $? 1
expect_match "malformed line is named" "$err" 'malformed\.jsonl:3: invalid JSON'
out=$("$GRPO_BIN" data show --data "$FIX/malformed.jsonl" --skip-malformed --limit 0); check "skip-malformed exits 0" $? 0
expect_match "skipped lines are counted" "$out" '4 malformed lines skipped \(first: line 3\)'
err=$("$GRPO_BIN" data show --data "$FIX/empty.jsonl" 2>&1 >/dev/null); check "empty file exits 1" $? 1
expect_match "empty file is named" "$err" 'empty\.jsonl: empty file'
err=$("$GRPO_BIN" data show --data "$T/nope.jsonl" 2>&1 >/dev/null); check "missing file exits 1" $? 1
expect_match "missing file is named" "$err" 'nope\.jsonl: cannot open'
err=$("$GRPO_BIN" data show --data "$FIX/gsm8k.jsonl" --template r1 2>&1 >/dev/null); check "unknown template exits 1" $? 1
expect_match "unknown template suggests" "$err" "did you mean 'r1-zero'"
err=$("$GRPO_BIN" data show --data "$FIX/gsm8k.jsonl" --format gsm9k 2>&1 >/dev/null); check "unknown format exits 1" $? 1

finish test_data_cli
