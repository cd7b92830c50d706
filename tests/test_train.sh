#!/usr/bin/env bash
# grpo train end to end on a tiny random model: reward rises on a toy reward, the
# run file holds every step, rollout and reward, a run killed with SIGKILL and
# resumed ends bit-identical to one never interrupted, Ctrl-C checkpoints, and
# configuration errors are reported.
set -u
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || { echo "test_train: SKIPPED: sqlite3 CLI not installed (tools/install-deps.sh installs it)"; exit 77; }
T=$(test_tmpdir train)
RULES="$GRPO_TEST_DIR/fixtures/train/digits_rules.json"
"$GRPO_BIN" tokenize --write-builtin "$T/tok" >/dev/null
"$GRPO_BIN" init-model --arch qwen2 --hidden 32 --layers 2 --heads 2 --kv-heads 1 --ffn 64 --vocab 263 --tie \
  --seed 5 --tokenizer "$T/tok" -o "$T/model" >/dev/null
check "init-model" $? 0
COMMON=(--quiet --set "model=$T/model" --set dataset=gen:arithmetic --set template=plain --set "rules=$RULES"
        --set prompts_per_step=4 --set group_size=8 --set max_completion_len=16 --set eval_size=4 --set lr=3e-2 --set seed=7)
q() { sqlite3 "$1/run.db" "$2"; }

# 1. Reward rises on the toy task.
"$GRPO_BIN" train "${COMMON[@]}" --set steps=12 --out "$T/rise" > "$T/rise.out" 2>&1
# (the output directory's parents are created: $T/rise did not exist)
check "train exits 0" $? 0
first=$(q "$T/rise" "SELECT avg(reward_mean) FROM steps WHERE step <= 3")
last=$(q "$T/rise" "SELECT avg(reward_mean) FROM steps WHERE step >= 10")
check "reward rises by at least 0.3 ($first -> $last)" "$(awk -v a="$first" -v b="$last" 'BEGIN{print (b - a >= 0.3)}')" 1
expect_match "before/after evals printed" "$(cat "$T/rise.out")" 'eval after : accuracy'

# 2. The run file's contents.
check "journal mode" "$(q "$T/rise" 'PRAGMA journal_mode')" wal
check "12 steps" "$(q "$T/rise" 'SELECT count(*), min(step), max(step) FROM steps')" "12|1|12"
check "32 rollouts a step" "$(q "$T/rise" 'SELECT count(*) FROM rollouts')" 384
check "a reward row per rollout and rule" "$(q "$T/rise" 'SELECT count(*) FROM rewards')" 384
check "groups of 8 by prompt" "$(q "$T/rise" 'SELECT count(DISTINCT prompt_idx), max(sample_idx) FROM rollouts WHERE step=5')" "4|7"
check "advantages sum to ~0 per group" "$(q "$T/rise" 'SELECT count(*) FROM (SELECT abs(sum(advantage)) s FROM rollouts GROUP BY step, prompt_idx) WHERE s > 1e-3')" 0
check "finish reasons" "$(q "$T/rise" "SELECT count(*) FROM rollouts WHERE finish_reason NOT IN ('stop','length')")" 0
check "details say why" "$(q "$T/rise" "SELECT count(*) FROM rewards WHERE detail = ''")" 0
check "metrics present" "$(q "$T/rise" 'SELECT count(*) FROM steps WHERE gen_s > 0 AND train_s > 0 AND tokens_per_s > 0 AND lr > 0 AND grad_norm IS NOT NULL')" 12
check "evals at the start and the end" "$(q "$T/rise" "SELECT group_concat(step) FROM (SELECT DISTINCT step FROM evals ORDER BY step)")" "0,12"
check "run finished" "$(q "$T/rise" 'SELECT status FROM runs')" done
expect_match "config stored" "$(q "$T/rise" 'SELECT config_json FROM runs')" '"group_size":8'
check "final checkpoint" "$(ls "$T/rise/checkpoints")" step-000012
for f in config.json model.safetensors tokenizer.json optimizer.safetensors trainer_state.json; do
  [ -s "$T/rise/checkpoints/step-000012/$f" ]; check "checkpoint has $f" $? 0
done
"$GRPO_BIN" logprobs --model "$T/rise/checkpoints/step-000012" --ids "1 2 3" >/dev/null
check "a checkpoint loads as a model" $? 0

# 2b. The inspection commands on this real run file.
out=$("$GRPO_BIN" runs "$T/rise" --json); check "runs --json" $? 0
expect_match "runs lists 12 steps" "$(printf '%s' "$out" | grep -c '"step":')" '^12$'
out=$("$GRPO_BIN" rollouts "$T/rise" --last --prompt 0 --limit 0); check "rollouts" $? 0
check "a whole group is shown" "$(printf '%s\n' "$out" | grep -c -- '-- sample')" 8
expect_match "with reward details" "$out" 'digits +[0-9.]+ x 1 '
check "export: one line per rollout" "$("$GRPO_BIN" export "$T/rise" | wc -l)" 384
expect_match "export carries the example" "$("$GRPO_BIN" export "$T/rise" --step 1 | head -1)" '"example":\{"question":"What is'
# The tiny model emits stray bytes: JSON output must still be UTF-8 (U+FFFD for each bad byte).
"$GRPO_BIN" export "$T/rise" > "$T/rise.jsonl"
iconv -f UTF-8 -t UTF-8 "$T/rise.jsonl" > /dev/null 2>&1; check "export is valid UTF-8" $? 0
q "$T/rise" "SELECT completion FROM rollouts" | iconv -f UTF-8 -t UTF-8 > /dev/null 2>&1
check "the logged completions hold bytes that are not UTF-8 (so the check above means something)" $? 1
sed 's/"weight": 1.0/"weight": 3.0/' "$RULES" > "$T/rules3.json"
out=$("$GRPO_BIN" rescore "$T/rise" --rules "$T/rules3.json" --json); check "rescore" $? 0
nonzero=$(q "$T/rise" 'SELECT count(*) FROM rollouts WHERE reward != 0')
expect_match "rescore changes exactly the non-zero rewards ($nonzero)" "$out" "\"changed\":[[:space:]]*$nonzero,"
"$GRPO_BIN" report "$T/rise" -o "$T/report.html" 2>/dev/null; check "report" $? 0
check "report has the charts" "$(grep -o '<svg class="chart"' "$T/report.html" | wc -l)" 9
if command -v chromium >/dev/null; then
  dom=$(timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
        --user-data-dir="$T/chrome" --dump-dom "file://$T/report.html" 2>/dev/null)
  expect_match "the report renders in Chromium with its charts and rollouts" "$dom" 'data-charts="9" data-rollouts="[1-9][0-9]*" data-rendered="yes"'
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run --user-data-dir="$T/chrome" \
    --window-size=1280,1800 --screenshot="$GRPO_BUILD_DIR/report-train.png" "file://$T/report.html" >/dev/null 2>&1
  [ -s "$GRPO_BUILD_DIR/report-train.png" ]; check "report screenshot kept in the build folder" $? 0
fi

# 3. Killed with SIGKILL and resumed == never interrupted (CPU, same seed, bit for bit).
"$GRPO_BIN" train "${COMMON[@]}" --set steps=6 --set save_every=2 --out "$T/nested/dirs/straight" >/dev/null 2>&1
mv "$T/nested/dirs/straight" "$T/straight"
check "uninterrupted run" $? 0
"$GRPO_BIN" train "${COMMON[@]}" --set steps=6 --set save_every=2 --out "$T/killed" >/dev/null 2>&1 &
pid=$!
# Killed after step 3 is logged but before the step-4 checkpoint: resume restarts
# from step 2 and must drop the logged step 3 first.
for _ in $(seq 1 1200); do [ "$(q "$T/killed" 'SELECT count(*) FROM steps' 2>/dev/null)" -ge 3 ] 2>/dev/null && break; sleep 0.02; done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
echo "test_train: killed after $(q "$T/killed" 'SELECT count(*) FROM steps') logged steps; checkpoints: $(ls "$T/killed/checkpoints" | tr '\n' ' ')"
"$GRPO_BIN" train --quiet --resume "$T/killed" >/dev/null 2>&1
check "resume exits 0" $? 0
cmp -s "$T/straight/checkpoints/step-000006/model.safetensors" "$T/killed/checkpoints/step-000006/model.safetensors"
check "resumed weights are bit-identical" $? 0
cmp -s "$T/straight/checkpoints/step-000006/optimizer.safetensors" "$T/killed/checkpoints/step-000006/optimizer.safetensors"
check "resumed optimizer state is bit-identical" $? 0
"$GRPO_BIN" export "$T/straight" > "$T/a.jsonl"; "$GRPO_BIN" export "$T/killed" > "$T/b.jsonl"
cmp -s "$T/a.jsonl" "$T/b.jsonl"; check "resumed rollouts are identical" $? 0
M='SELECT step, reward_mean, reward_std, loss, kl, entropy, grad_norm, lr, completion_len_mean FROM steps ORDER BY step'
check "resumed step metrics are identical" "$(q "$T/killed" "$M")" "$(q "$T/straight" "$M")"
# profile=true: the table of every backend op of the steps, and the same run bit for bit.
out=$("$GRPO_BIN" train "${COMMON[@]:1}" --set steps=6 --set save_every=2 --set profile=true --out "$T/prof" 2>&1)
check "profiled train exits 0" $? 0
expect_match "profile table logged" "$out" '== profile: 6 training steps \(wall time of each op call\) =='
expect_match "profile rows" "$out" 'attention_backward +[0-9]+ '
expect_match "profile total" "$out" 'ops [0-9.]+ ms of [0-9.]+ ms wall'
cmp -s "$T/straight/checkpoints/step-000006/model.safetensors" "$T/prof/checkpoints/step-000006/model.safetensors"
check "a profiled run's weights are bit-identical" $? 0
"$GRPO_BIN" export "$T/prof" > "$T/p.jsonl"; cmp -s "$T/a.jsonl" "$T/p.jsonl"; check "a profiled run's rollouts are identical" $? 0

# 4. Ctrl-C: the current step finishes, a checkpoint is written, exit status 130.
"$GRPO_BIN" train "${COMMON[@]}" --set steps=200 --out "$T/int" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 600); do [ "$(q "$T/int" 'SELECT count(*) FROM steps' 2>/dev/null)" -ge 2 ] 2>/dev/null && break; sleep 0.05; done
kill -INT $pid; wait $pid; rc=$?
check "interrupted run exits 130" $rc 130
check "interrupted status" "$(q "$T/int" 'SELECT status FROM runs')" interrupted
n=$(q "$T/int" 'SELECT max(step) FROM steps')
[ -d "$T/int/checkpoints/step-$(printf %06d "$n")" ]; check "checkpoint at the interrupted step $n" $? 0

# 5. The other knobs run: KL to a reference, two epochs over mini/micro-batches,
#    dynamic sampling, the grpo loss, truncation masking, pass@k / maj@k evals.
"$GRPO_BIN" train "${COMMON[@]}" --set steps=3 --set beta=0.04 --set num_iterations=2 --set mini_batch_size=16 \
  --set micro_batch_size=8 --set dynamic_sampling=true --set loss_type=grpo \
  --set eval_k=4 --set scale_rewards=batch --out "$T/knobs" >/dev/null 2>&1
check "all knobs run" $? 0
check "kl logged and positive after the first update" "$(q "$T/knobs" 'SELECT count(*) FROM steps WHERE step > 1 AND kl > 0')" 2
expect_match "pass@4 and maj@4 evaluated" "$(q "$T/knobs" "SELECT group_concat(metric) FROM evals WHERE step=3")" 'pass@4.*maj@4|maj@4.*pass@4'

# Truncation masking: with every completion cut at 4 tokens nothing carries loss.
"$GRPO_BIN" train "${COMMON[@]}" --set steps=3 --set max_completion_len=4 --set mask_truncated_completions=true \
  --set stop=NEVER --out "$T/masked" >/dev/null 2>&1
check "masked run" $? 0
check "truncated completions carry no gradient" "$(q "$T/masked" "SELECT count(*) FROM steps WHERE truncated_frac = 1 AND grad_norm != 0")" 0
check "a step with every completion truncated" "$(q "$T/masked" "SELECT count(*) > 0 FROM steps WHERE truncated_frac = 1")" 1

# 6. Non-finite gradients are never applied; three in a row stop the run with a checkpoint.
GRPO_FAULT_NAN_STEPS=2 "$GRPO_BIN" train "${COMMON[@]}" --set steps=3 --out "$T/nan1" >/dev/null 2>&1
check "one NaN step is survived" $? 0
check "the NaN step is logged as skipped" "$(q "$T/nan1" 'SELECT group_concat(skipped_update) FROM steps')" "0,1,0"
err=$(GRPO_FAULT_NAN_STEPS=2,3,4 "$GRPO_BIN" train "${COMMON[@]}" --set steps=8 --out "$T/nan3" 2>&1 >/dev/null); rc=$?
check "three NaN steps stop the run" $rc 1
expect_match "the stop says why" "$err" 'three updates in a row'
[ -d "$T/nan3/checkpoints/step-000004" ]; check "a checkpoint is written when stopping" $? 0
check "the run is marked failed" "$(q "$T/nan3" 'SELECT status FROM runs')" failed
cmp -s "$T/nan3/checkpoints/step-000004/model.safetensors" <("$GRPO_BIN" train "${COMMON[@]}" --set steps=1 --out "$T/nan-ref" >/dev/null 2>&1; cat "$T/nan-ref/checkpoints/step-000001/model.safetensors")
check "skipped updates left the weights as after step 1" $? 0

# 7. SFT warm start: loss on completion tokens falls; the checkpoint is a model directory.
out=$("$GRPO_BIN" sft --quiet --set "model=$T/model" --set "dataset=gen:arithmetic?worked=1" --set template=plain \
  --set steps=8 --set prompts_per_step=8 --set lr=1e-2 --set max_completion_len=64 --out "$T/sft")
check "sft exits 0" $? 0
check "sft loss falls" "$(printf '%s' "$out" | sed -E 's/.*"first_loss": ([0-9.]+), "last_loss": ([0-9.]+).*/\1 \2/' | awk '{print ($2 < $1 - 0.5)}')" 1
"$GRPO_BIN" logprobs --model "$T/sft/checkpoints/step-000008" --ids "1 2 3" >/dev/null; check "sft checkpoint loads" $? 0
err=$("$GRPO_BIN" sft --set "model=$T/model" --set dataset=gen:arithmetic --set steps=1 --out "$T/sft2" 2>&1); check "sft without completions exits 1" $? 1
expect_match "sft says what is missing" "$err" 'no "completion"'

# 7b. grpo eval, standalone: greedy pass@1, and pass@k / maj@k with --k.
out=$("$GRPO_BIN" eval --model "$T/rise/checkpoints/step-000012" --data gen:arithmetic --template plain --rules "$RULES" \
  --n 6 --k 3 --max-tokens 16 --json); check "eval exits 0" $? 0
expect_match "eval --json shape" "$out" '^\{"n": 6, "accuracy": [^,]+, "reward_mean": [0-9.e-]+, "completion_len": [0-9.]+, "pass@3": [^,]+, "maj@3": [^}]+\}$'
# eval --out: a line per example that `grpo reward` rescores to the same rewards.
"$GRPO_BIN" eval --model "$T/rise/checkpoints/step-000012" --data gen:arithmetic --template plain --rules "$RULES" \
  --n 6 --k 3 --max-tokens 16 --temperature 1 --out "$T/eval.jsonl" > /dev/null; check "eval --out exits 0" $? 0
check "eval --out: a line per example" "$(wc -l < "$T/eval.jsonl")" 6
iconv -f UTF-8 -t UTF-8 "$T/eval.jsonl" > /dev/null 2>&1; check "eval --out is valid UTF-8" $? 0
expect_match "eval --out line shape" "$(head -1 "$T/eval.jsonl")" \
  '^\{"question":"What is [^"]*","answer":"[0-9-]+","completion":"[^"]*.*,"n_tokens":[0-9]+,"eval":\{"index":0,"prompt":"What is .*,"finish_reason":"(stop|length)","reward":[-0-9.e]+,"correct":(true|false|null),"components":\{.*"samples":\[\{"completion":.*\}\],"majority_correct":(true|false|null)\}\}$'
check "eval --out: 3 samples per example" "$(grep -o '"samples":\[' "$T/eval.jsonl" | wc -l) $(grep -o '{"completion":' "$T/eval.jsonl" | wc -l)" "6 18"
"$GRPO_BIN" reward --rules "$RULES" --data "$T/eval.jsonl" > "$T/rescored.jsonl"; check "grpo reward reads eval --out" $? 0
# the greedy reward: of the 4 '"finish_reason":..,"reward":' per line (greedy, then 3 samples), the first
paste -d' ' <(grep -o '"finish_reason":"[a-z]*","reward":[-0-9.e+]*' "$T/eval.jsonl" | awk -F'"reward":' 'NR % 4 == 1 {print $2}') \
            <(grep -o '^{"reward":[-0-9.e+]*' "$T/rescored.jsonl" | sed 's/.*://') > "$T/rewards.txt"
check "rescored rewards equal eval's" "$(awk '{d = $1 - $2; if (d < -1e-9 || d > 1e-9) bad++} END {print NR, bad + 0}' "$T/rewards.txt")" "6 0"
check "eval's rewards are not all zero (the comparison means something)" "$(awk '$1 != 0' "$T/rewards.txt" | wc -l | awk '{print ($1 > 0)}')" 1
err=$("$GRPO_BIN" eval --model "$T/model" --data gen:arithmetic --template plain --out "$T/no/such/dir/e.jsonl" 2>&1)
check "eval --out into a missing directory exits 1 before evaluating" $? 1
expect_match "eval --out names the directory" "$err" "cannot write in $T/no/such/dir"
out=$("$GRPO_BIN" eval --model "$T/rise/checkpoints/step-000012" --data gen:arithmetic --template plain --n 4 --max-tokens 8); check "eval text" $? 0
expect_match "eval reports accuracy" "$out" '^4 examples  accuracy \(greedy pass@1\) [0-9.]+'
err=$("$GRPO_BIN" eval --model "$T/model" 2>&1); check "eval without --data exits 1" $? 1

# 8. Configuration errors.
err=$("$GRPO_BIN" train --set "model=$T/model" --set grop_size=4 2>&1); rc=$?
check "unknown key exits 1" $rc 1
expect_match "unknown key suggests" "$err" "did you mean 'group_size'"
printf '{"steps": 3,\n "lr": }\n' > "$T/bad.json"
err=$("$GRPO_BIN" train "$T/bad.json" 2>&1); check "bad config exits 1" $? 1
expect_match "bad config names file and line" "$err" "bad.json:2"
err=$("$GRPO_BIN" train --set "model=$T/nope" --set steps=1 --out "$T/nope-run" 2>&1); check "missing model exits 1" $? 1
expect_match "missing model is named" "$err" "nope"
err=$("$GRPO_BIN" train --set "model=$T/model" --set loss_type=ppo 2>&1); check "bad loss type exits 1" $? 1
expect_match "bad loss type named" "$err" "ppo"
err=$("$GRPO_BIN" train --resume "$T/does-not-exist" 2>&1); check "resume without checkpoint exits 1" $? 1
expect_match "resume error says why" "$err" "no checkpoint"

if ! "$GRPO_BIN" devices --json | grep -q '"usable": true, "name": "[^"]'; then
  err=$("$GRPO_BIN" train --device cuda --set "model=$T/model" --out "$T/cuda" 2>&1); check "train --device cuda without a GPU exits 1" $? 1
  check "... with one line" "$(printf '%s\n' "$err" | wc -l)" 1
  expect_match "... saying why" "$err" '^grpo train: --device cuda: '
fi

finish test_train
