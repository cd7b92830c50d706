#!/usr/bin/env bash
# `grpo tokenize`: encode/decode lines, model dir vs file, the built-in tokenizer, invalid
# UTF-8, out-of-range ids and malformed tokenizer files.
set -u
. "$(dirname "$0")/lib.sh"
FIX="$GRPO_TEST_DIR/fixtures/tokenizer"
tmp=$(test_tmpdir tokenize_cli)

# expected ids of line N of a fixture's expected.jsonl (made by the `tokenizers` library)
ids_of() { sed -n "$2s/.*\"ids\": \(\[[^]]*\]\).*/\1/p" "$FIX/$1/expected.jsonl"; }

out=$(printf 'Hello, world!\n' | "$GRPO_BIN" tokenize --tokenizer "$FIX/gpt2"); check "encode exits 0" $? 0
check "gpt2 ids match the library" "$out" "$(ids_of gpt2 1)"
out=$(printf 'Hello, world!\n' | "$GRPO_BIN" tokenize --tokenizer "$FIX/qwen2/tokenizer.json")
check "a tokenizer.json path works too" "$out" "$(ids_of qwen2 1)"
out=$(printf 'Hello, world!\nThe quick brown fox jumps over the lazy dog.\n\n' | "$GRPO_BIN" tokenize --tokenizer "$FIX/llama2")
check "one array per line" "$(printf '%s\n' "$out" | wc -l)" 3
check "llama2 line 2" "$(printf '%s\n' "$out" | sed -n 2p)" "$(ids_of llama2 2)"
check "empty line is []" "$(printf '%s\n' "$out" | sed -n 3p)" "[]"
out=$(printf 'Hello, world!' | "$GRPO_BIN" tokenize --tokenizer "$FIX/gpt2")
check "last line without newline" "$out" "$(ids_of gpt2 1)"

out=$(printf 'Hello\n' | "$GRPO_BIN" tokenize --tokenizer "$FIX/llama2" --add-bos)
expect_match "--add-bos prepends <s> (id 1)" "$out" '^\[1, '
out=$(printf 'Hello\n' | "$GRPO_BIN" tokenize --tokenizer "$FIX/llama2")
expect_match "no BOS without --add-bos" "$out" '^\[[02-9]'

# decode: one JSON string per line, escapes included
ids=$(printf 'say "hi"\tto\\me\n' | "$GRPO_BIN" tokenize --tokenizer "$FIX/qwen2")
out=$(printf '%s\n' "$ids" | "$GRPO_BIN" tokenize --tokenizer "$FIX/qwen2" --decode); check "decode exits 0" $? 0
check "decode round-trips with JSON escapes" "$out" '"say \"hi\"\tto\\me"'
out=$(printf '[]\n[72, 105]\n' | "$GRPO_BIN" tokenize --builtin --decode)
check "builtin decode" "$out" "$(printf '""\n"Hi"')"

# invalid UTF-8 is encoded byte by byte, never dropped
out=$(printf 'a\xff\xfeb\n' | "$GRPO_BIN" tokenize --builtin); check "builtin invalid UTF-8" "$out" "[97, 255, 254, 98]"
n=$(printf '\xff\xfe\n' | "$GRPO_BIN" tokenize --tokenizer "$FIX/gpt2" | tr ',' '\n' | wc -l)
check "gpt2 keeps both invalid bytes" "$n" 2
out=$(printf 'x\xffy\n' | "$GRPO_BIN" tokenize --tokenizer "$FIX/llama2" | "$GRPO_BIN" tokenize --tokenizer "$FIX/llama2" --decode)
check "invalid bytes decode as U+FFFD in JSON" "$out" "$(printf '"x\xef\xbf\xbdy"')"

out=$(printf 'a\0b\n' | "$GRPO_BIN" tokenize --builtin); check "NUL bytes are text too" "$out" "[97, 0, 98]"
out=$(printf '[97, 0, 98]\n' | "$GRPO_BIN" tokenize --builtin --decode); check "NUL decodes as \\u0000" "$out" '"a\u0000b"'

# errors
err=$(printf '[1, 2]\n[5, 99999]\n' | "$GRPO_BIN" tokenize --builtin --decode 2>&1 >/dev/null); check "out-of-range id fails" $? 1
expect_match "out-of-range id named with its line" "$err" 'line 2: token id 99999 is out of range \(vocab size 263\)'
err=$(printf '[-1]\n' | "$GRPO_BIN" tokenize --builtin --decode 2>&1 >/dev/null); check "negative id fails" $? 1
err=$(printf 'hello\n' | "$GRPO_BIN" tokenize --builtin --decode 2>&1 >/dev/null); check "non-JSON decode input fails" $? 1
expect_match "non-JSON line named" "$err" 'line 1: expected a JSON array'
err=$(printf '[1.5]\n' | "$GRPO_BIN" tokenize --builtin --decode 2>&1 >/dev/null); check "fractional id fails" $? 1
"$GRPO_BIN" tokenize </dev/null >/dev/null 2>&1; check "no tokenizer is a usage error" $? 2
err=$("$GRPO_BIN" tokenize --tokenizer "$tmp/none" </dev/null 2>&1 >/dev/null); check "missing path fails" $? 1
expect_match "missing path named" "$err" "$tmp/none"
err=$("$GRPO_BIN" tokenize --tokenizer /dev/null </dev/null 2>&1 >/dev/null); check "a device is not a tokenizer" $? 1
expect_match "non-regular file named" "$err" "/dev/null: not a regular file"
printf '{"model": {"type": "Unigram", "vocab": []}}' >"$tmp/bad.json"
err=$("$GRPO_BIN" tokenize --tokenizer "$tmp/bad.json" </dev/null 2>&1 >/dev/null); check "unsupported model fails" $? 1
expect_match "unsupported model named" "$err" "bad.json: model.type 'Unigram' is not supported"

# the built-in tokenizer written out loads the same
out=$("$GRPO_BIN" tokenize --write-builtin "$tmp/builtin"); check "--write-builtin exits 0" $? 0
test -f "$tmp/builtin/tokenizer.json" && test -f "$tmp/builtin/tokenizer_config.json"; check "files written" $? 0
a=$(printf '<think>x</think> <answer>42</answer><|endoftext|>\n' | "$GRPO_BIN" tokenize --builtin)
b=$(printf '<think>x</think> <answer>42</answer><|endoftext|>\n' | "$GRPO_BIN" tokenize --tokenizer "$tmp/builtin")
check "written builtin == --builtin" "$b" "$a"
check "builtin specials" "$a" "[257, 120, 258, 32, 259, 52, 50, 260, 256]"
out=$(printf 'abc\n' | "$GRPO_BIN" tokenize --builtin --bench); check "--bench exits 0" $? 0
expect_match "--bench prints MB/s" "$out" '"mb_per_s": [0-9.]+'

finish test_tokenize_cli
