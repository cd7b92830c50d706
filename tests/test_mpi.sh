#!/usr/bin/env bash
# Data-parallel training under mpirun (rl/dist.c): 2 and 3 processes train the
# same model as one process (same rollouts exactly; weights within 1e-5, the
# rest being the order of the gradient sums), rank 0 alone writes the run file,
# resume works across processes, and a rank that fails or is killed ends the
# whole job with an error instead of leaving the others waiting.
set -u
. "$(dirname "$0")/lib.sh"
[ "${GRPO_HAVE_MPI:-OFF}" = ON ] || { echo "test_mpi: SKIPPED: this build has no MPI (tools/install-deps.sh installs OpenMPI)"; exit 77; }
MPIRUN=${GRPO_MPIEXEC:-}
[ -x "$MPIRUN" ] || MPIRUN=$(command -v mpirun) || { echo "test_mpi: SKIPPED: mpirun not found"; exit 77; }
command -v sqlite3 >/dev/null || { echo "test_mpi: SKIPPED: sqlite3 CLI not installed"; exit 77; }
# The flags below (--allow-run-as-root, --oversubscribe) and the rank variable are OpenMPI's.
"$MPIRUN" --version 2>/dev/null | grep -Eqi "open ?mpi|openrte|open-mpi" || { echo "test_mpi: SKIPPED: $MPIRUN is not OpenMPI's"; exit 77; }
T=$(test_tmpdir mpi)
# CI runs as root on few cores: allow both. One OpenMP thread per process.
export OMP_NUM_THREADS=1
# Sanitizer builds: OpenMPI never frees what MPI_Init allocates, and telling its
# leaks from ours needs slow whole-stack unwinding (tests/lsan-mpi.supp). So one
# run (the 2-process comparison, which goes through every distributed code path)
# is leak-checked that way and the others do not check leaks. No effect on
# release builds.
ASAN_BASE=${ASAN_OPTIONS:-}
export ASAN_OPTIONS="${ASAN_BASE:+$ASAN_BASE:}detect_leaks=0"
export LSAN_OPTIONS="suppressions=$GRPO_TEST_DIR/lsan-mpi.supp:print_suppressions=0"
leakcheck() { ASAN_OPTIONS="${ASAN_BASE:+$ASAN_BASE:}detect_leaks=1:fast_unwind_on_malloc=0" "$@"; }
mpi() { local np=$1; shift; "$MPIRUN" --allow-run-as-root --oversubscribe -np "$np" "$GRPO_BIN" "$@"; }
q() { sqlite3 "$1/run.db" "$2"; }
# The largest absolute difference between two checkpoints' weights (0 when equal).
maxdiff() {
  "$GRPO_BIN" inspect --diff "$1" "$2" | grep -o 'max abs [0-9.e+-]*' | awk '{ if ($3 > m) m = $3 } END { printf "%g\n", m + 0 }'
}
le() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b) ? 1 : 0 }'; }

"$GRPO_BIN" tokenize --write-builtin "$T/tok" >/dev/null
"$GRPO_BIN" init-model --arch qwen2 --hidden 32 --layers 2 --heads 2 --kv-heads 1 --ffn 64 --vocab 263 --tie \
  --seed 5 --tokenizer "$T/tok" -o "$T/model" >/dev/null
check "init-model" $? 0
# A small learning rate: AdamW turns float-rounding differences of tiny gradient
# entries into differences of up to lr per step, and 1e-5 is the bar.
COMMON=(--quiet --set "model=$T/model" --set dataset=gen:arithmetic --set template=plain
        --set "rules=$GRPO_TEST_DIR/fixtures/train/digits_rules.json" --set device=cpu --set group_size=8
        --set max_completion_len=16 --set eval_size=4 --set lr=1e-3 --set seed=7 --set steps=3)
S3=checkpoints/step-000003

# 1. Two processes == one process (the default dapo loss: global token counts).
"$GRPO_BIN" train "${COMMON[@]}" --set prompts_per_step=4 --out "$T/one" >/dev/null 2>"$T/one.err"
check "one process" $? 0
leakcheck mpi 2 train "${COMMON[@]}" --set prompts_per_step=4 --out "$T/two" >"$T/two.out" 2>"$T/two.err"
check "mpirun -np 2 exits 0" $? 0
"$GRPO_BIN" export "$T/one" >"$T/one.jsonl"; "$GRPO_BIN" export "$T/two" >"$T/two.jsonl"
check "96 rollouts exported" "$(wc -l <"$T/two.jsonl")" 96
cmp -s "$T/one.jsonl" "$T/two.jsonl"; check "2 processes: the same rollouts, rewards and advantages" $? 0
check "rollouts written once" "$(q "$T/two" 'SELECT count(*), count(DISTINCT step || "/" || prompt_idx || "/" || sample_idx) FROM rollouts')" "96|96"
check "as many rollouts as one process" "$(q "$T/two" 'SELECT count(*) FROM rollouts')" "$(q "$T/one" 'SELECT count(*) FROM rollouts')"
check "one run, 3 steps, done" "$(q "$T/two" 'SELECT count(*), status FROM runs')|$(q "$T/two" 'SELECT count(*) FROM steps')" "1|done|3"
M='SELECT step, n_prompts, n_rollouts, reward_mean, completion_len_mean FROM steps ORDER BY step'
check "the same step metrics" "$(q "$T/two" "$M")" "$(q "$T/one" "$M")"
check "results printed once" "$(grep -c 'eval after' "$T/two.out")" 1
d=$(maxdiff "$T/one/$S3" "$T/two/$S3")
check "2 processes: weights within 1e-5 of one process (max abs diff $d)" "$(le "$d" 1e-5)" 1
moved=$(maxdiff "$T/model" "$T/one/$S3")
check "the comparison means something: training moved the weights ($moved)" "$(le 1e-4 "$moved")" 1

# 2. Three processes over five prompts (split 1 + 2 + 2), dynamic
#    sampling, batch-scaled rewards, the grpo loss over mini- and micro-batches
#    that cross process boundaries.
K=(--set prompts_per_step=5 --set dynamic_sampling=true --set scale_rewards=batch --set loss_type=grpo
   --set mini_batch_size=20 --set micro_batch_size=5 --set num_iterations=2 --set beta=0.02 --set lr=5e-4)
"$GRPO_BIN" train "${COMMON[@]}" "${K[@]}" --out "$T/k1" >/dev/null 2>&1
check "one process, knobs" $? 0
mpi 3 train "${COMMON[@]}" "${K[@]}" --out "$T/k3" >/dev/null 2>"$T/k3.err"
check "mpirun -np 3 exits 0" $? 0
"$GRPO_BIN" export "$T/k1" >"$T/k1.jsonl"; "$GRPO_BIN" export "$T/k3" >"$T/k3.jsonl"
check "120 rollouts exported" "$(wc -l <"$T/k3.jsonl")" 120
cmp -s "$T/k1.jsonl" "$T/k3.jsonl"; check "3 processes: the same rollouts" $? 0
M='SELECT step, n_prompts, n_filtered_groups, reward_std FROM steps ORDER BY step'
check "3 processes: the same kept groups" "$(q "$T/k3" "$M")" "$(q "$T/k1" "$M")"
d=$(maxdiff "$T/k1/$S3" "$T/k3/$S3")
check "3 processes: weights within 1e-5 (max abs diff $d)" "$(le "$d" 1e-5)" 1

# 3. Resume under mpirun continues exactly (same process count: bit for bit).
mpi 2 train "${COMMON[@]}" --set prompts_per_step=4 --set steps=2 --out "$T/res" >/dev/null 2>&1
mpi 2 train --quiet --resume "$T/res" --set steps=3 >/dev/null 2>&1
check "resume under mpirun" $? 0
cmp -s "$T/two/$S3/model.safetensors" "$T/res/$S3/model.safetensors"; check "resumed == uninterrupted" $? 0

# 4. A rank that fails ends the job with an error (no hang).
err=$(GRPO_FAULT_FAIL_RANK=1:2 timeout 60 "$MPIRUN" --allow-run-as-root --oversubscribe -np 2 "$GRPO_BIN" train \
      "${COMMON[@]}" --set prompts_per_step=4 --set steps=50 --out "$T/fail" 2>&1 >/dev/null); rc=$?
check "a failing rank: mpirun exits non-zero, not by the timeout (rc $rc)" "$([ $rc -ne 0 ] && [ $rc -ne 124 ] && echo 1)" 1
expect_match "the failing rank says why" "$err" 'rank 1 of 2\): step 2: failure injected'

# 4b. A stop every rank reaches together (three non-finite updates) ends cleanly:
#     rank 0 checkpoints and marks the run failed, nobody is aborted.
err=$(GRPO_FAULT_NAN_STEPS=2,3,4 timeout 60 "$MPIRUN" --allow-run-as-root --oversubscribe -np 2 "$GRPO_BIN" train \
      "${COMMON[@]}" --set prompts_per_step=4 --set steps=8 --out "$T/nan" 2>&1 >/dev/null); rc=$?
check "three NaN steps stop every rank (rc $rc)" $rc 1
check "the stop is collective, not an abort" "$(printf '%s\n' "$err" | grep -c 'MPI_ABORT')" 0
[ -d "$T/nan/checkpoints/step-000004" ]; check "rank 0 wrote the stop checkpoint" $? 0
check "the run is marked failed" "$(q "$T/nan" 'SELECT status FROM runs')" failed

# 5. A rank killed mid-run ends the job with an error (no hang).
timeout 60 "$MPIRUN" --allow-run-as-root --oversubscribe -np 2 "$GRPO_BIN" train "${COMMON[@]}" --set prompts_per_step=4 \
  --set steps=100000 --out "$T/kill" >/dev/null 2>&1 &
tpid=$!
for _ in $(seq 1 1200); do [ "$(q "$T/kill" 'SELECT count(*) FROM steps' 2>/dev/null)" -ge 2 ] 2>/dev/null && break; sleep 0.05; done
victim=""
for p in $(pgrep -P "$(pgrep -P $tpid | head -1)"); do
  tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1' && victim=$p
done
[ -n "$victim" ]; check "found rank 1's process" $? 0
[ -n "$victim" ] && kill -9 "$victim"
wait $tpid; rc=$?
check "a killed rank: mpirun exits non-zero, not by the timeout (rc $rc)" "$([ $rc -ne 0 ] && [ $rc -ne 124 ] && echo 1)" 1
check "it stopped mid-run" "$(q "$T/kill" 'SELECT count(*) < 100000 FROM steps')" 1

finish test_mpi
