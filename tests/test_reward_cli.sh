#!/usr/bin/env bash
# `grpo reward`: presets and rules files, good and malformed lines, order, exit codes.
set -u
. "$(dirname "$0")/lib.sh"
FIX="${GRPO_TEST_DIR:-.}/fixtures/rules"
T=$(test_tmpdir reward_cli)

# A preset on stdin: one good line, one wrong one.
out=$(printf '%s\n' \
  '{"completion": "<think>ok</think>\n<answer>(1+2)*3</answer>", "nums": [1, 2, 3], "target": 9}' \
  '{"completion": "<think>ok</think>\n<answer>1+2+3</answer>", "nums": [1, 2, 3], "target": 9}' |
  "$GRPO_BIN" reward --rules countdown)
check "countdown preset exits 0" $? 0
check "one output line per input line" "$(printf '%s\n' "$out" | wc -l)" 2
line1=$(printf '%s\n' "$out" | sed -n 1p)
line2=$(printf '%s\n' "$out" | sed -n 2p)
expect_match "correct: reward 1.1" "$line1" '^\{"reward":1\.1,"components":\{"format":1,"equation":1\},"details":\{'
expect_match "correct: detail says why" "$line1" '"equation":"answer .\(1\+2\)\*3. equals the target 9'
expect_match "wrong: reward 0.1" "$line2" '^\{"reward":0\.1,"components":\{"format":1,"equation":0\}'
expect_match "wrong: detail says why" "$line2" 'evaluates to 6, target 9'

# A rules file with every shaping rule, over a file with malformed lines.
out=$("$GRPO_BIN" reward --rules "$FIX/shaped_countdown.json" --data "$FIX/countdown_lines.jsonl" --workers 3 2>"$T/err")
rc=$?
check "failed lines make exit status 1" $rc 1
expect_match "stderr counts the failures" "$(cat "$T/err")" '^grpo reward: 4 of 8 lines failed'
check "blank line skipped: 8 outputs for 9 lines" "$(printf '%s\n' "$out" | wc -l)" 8
o() { printf '%s\n' "$out" | sed -n "$1p"; }
# line 1: tags 1 (x0.5), correct 1, length 50/100 correct = 0.75 (x0.5), overlong 0, repetition 0
expect_match "line 1 components" "$(o 1)" '"components":\{"tags":1,"equation":1,"length":0\.75,"overlong":0,"repetition":0\}'
expect_match "line 1 reward" "$(o 1)" '^\{"reward":1\.875,'
# line 2: wrong at 90 tokens: length -0.5 - 0.25 * (1 + cos(0.9 pi)); overlong (80 - 90) / 20 = -0.5
expect_match "line 2 overlong" "$(o 2)" '"overlong":-0\.5'
expect_match "line 2 length" "$(o 2)" '"length":-0\.51223'
expect_match "line 4 (invalid JSON) is named" "$(o 3)" '^\{"error":"line 4: invalid JSON at column [0-9]+","line":4\}$'
expect_match "line 5 scored after a bad line" "$(o 4)" '"overlong":-1,'
expect_match "line 5 says ** is not allowed" "$(o 4)" "'\*\*' \(power\) is not allowed"
expect_match "line 6 lacks nums" "$(o 5)" '^\{"error":"line 6: rule .equation.: the example needs \\"nums\\"'
expect_match "line 7 is not an object" "$(o 6)" '^\{"error":"line 7: not a JSON object","line":7\}'
expect_match "line 8 needs n_tokens" "$(o 7)" '^\{"error":"line 8: rule .length.: needs the completion.s length in tokens'
# line 9: "a b c" x3 + answer: 11 words with repeats -> negative repetition
expect_match "line 9 repetition penalised" "$(o 8)" '"repetition":-0\.[0-9]+'

# Same output whatever the worker count.
one=$("$GRPO_BIN" reward --rules "$FIX/shaped_countdown.json" --data "$FIX/countdown_lines.jsonl" --workers 1 2>/dev/null)
check "workers 1 and 3 agree" "$one" "$out"

# Errors in the rules themselves: file and rule named, exit 1, nothing scored.
printf '{"rules": [{"name": "fmt", "type": "regex", "patern": "x"}]}\n' >"$T/typo.json"
err=$(echo '{"completion": "x"}' | "$GRPO_BIN" reward --rules "$T/typo.json" 2>&1 >/dev/null)
check "bad rules exit 1" $? 1
expect_match "bad rules: file, rule and hint" "$err" "typo\.json: rules\[0\] 'fmt': unknown key 'patern' \(did you mean 'pattern'\?\)"
err=$("$GRPO_BIN" reward --rules countdwn </dev/null 2>&1 >/dev/null)
check "unknown preset exits 1" $? 1
expect_match "unknown preset suggests" "$err" "did you mean 'countdown'"
err=$("$GRPO_BIN" reward </dev/null 2>&1 >/dev/null)
check "missing --rules is a usage error" $? 2
err=$("$GRPO_BIN" reward --rules countdown --data "$T/missing.jsonl" 2>&1 >/dev/null)
check "missing data file exits 1" $? 1
expect_match "missing data file named" "$err" 'missing\.jsonl: No such file'
out=$("$GRPO_BIN" reward --rules countdown --show-preset)
check "show-preset exits 0" $? 0
printf '%s' "$out" >"$T/countdown.json"
echo '{"completion": "<think>a</think><answer>2*3</answer>", "nums": [2, 3], "target": 6}' >"$T/one.jsonl"
a=$("$GRPO_BIN" reward --rules "$T/countdown.json" --data "$T/one.jsonl")
b=$("$GRPO_BIN" reward --rules countdown --data "$T/one.jsonl")
check "a shown preset loads as a file and scores the same" "$a" "$b"
out=$("$GRPO_BIN" reward --rules countdown </dev/null)
check "empty input: exit 0" $? 0
check "empty input: no output" "$out" ""

# The math preset (R1-Zero: format 0.2 + accuracy 1.0) over math examples.
out=$("$GRPO_BIN" reward --rules math --data "$FIX/math_lines.jsonl" 2>"$T/err")
check "math: a line without gold makes exit 1" $? 1
check "math: 4 output lines" "$(printf '%s\n' "$out" | wc -l)" 4
expect_match "math: correct and formatted" "$(o 1)" '^\{"reward":1\.2,"components":\{"format":1,"accuracy":1\}'
expect_match "math: detail names the extraction" "$(o 1)" '"accuracy":"extracted 42 from <answer>; gold 42; '
expect_match "math: wrong" "$(o 2)" '^\{"reward":0\.2,"components":\{"format":1,"accuracy":0\}'
expect_match "math: boxed fraction equals 0.5 without the format" "$(o 3)" '^\{"reward":1,"components":\{"format":0,"accuracy":1\}'
expect_match "math: missing gold is an error line" "$(o 4)" '^\{"error":"line 4: rule .accuracy.: the example has no \\"answer\\"'

# The code preset (format 0.1 + fraction of tests passed) over all three test styles.
out=$("$GRPO_BIN" reward --rules code --data "$FIX/code_lines.jsonl" --workers 2 2>"$T/err")
check "code: a line without tests makes exit 1" $? 1
check "code: 5 output lines" "$(printf '%s\n' "$out" | wc -l)" 5
expect_match "code: asserts all pass" "$(o 1)" '^\{"reward":1\.1,"components":\{"format":1,"tests":1\}'
expect_match "code: half the asserts" "$(o 2)" '^\{"reward":0\.6,"components":\{"format":1,"tests":0\.5\}.*first failure: assert add\(2, 2\) == 4'
expect_match "code: stdin/stdout pairs" "$(o 3)" '"tests":1\}'
expect_match "code: HumanEval check(candidate)" "$(o 4)" '"tests":1\}'
expect_match "code: no tests is an error line" "$(o 5)" '^\{"error":"line 5: rule .tests.: .*no tests'
# Without python3 a code rule set does not load: one clear error, exit 1, no zero rewards.
out=$(GRPO_PYTHON=/nonexistent/python3 "$GRPO_BIN" reward --rules code --data "$FIX/code_lines.jsonl" 2>"$T/err")
check "code without python3 exits 1" $? 1
check "code without python3 prints no rewards" "$out" ""
expect_match "code without python3 says so" "$(cat "$T/err")" "^grpo reward: preset 'code': rules\[1\] 'tests': the code rule needs python3"

finish test_reward_cli
