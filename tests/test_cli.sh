#!/usr/bin/env bash
# The grpo command line: help, version, errors and exit codes, --device.
set -u
. "$(dirname "$0")/lib.sh"

out=$("$GRPO_BIN" --version); check "version exits 0" $? 0
expect_match "version names itself" "$out" '^grpo [0-9]+\.[0-9]+\.[0-9]+'
expect_match "version lists cpu" "$out" 'backends: cpu'
if grep -q 'GRPO_HAVE_CUDA:INTERNAL=ON\|GRPO_HAVE_CUDA' "$GRPO_BUILD_DIR/CMakeCache.txt" 2>/dev/null && command -v nvcc >/dev/null; then
  expect_match "version lists cuda when nvcc built it" "$out" 'backends: cpu cuda'
fi

out=$("$GRPO_BIN" help); check "help exits 0" $? 0
expect_match "help lists bench" "$out" 'bench'
expect_match "help lists devices" "$out" 'devices'

out=$("$GRPO_BIN" bench --help); check "command --help exits 0" $? 0
expect_match "bench --help shows usage" "$out" '^usage: grpo bench'
out=$("$GRPO_BIN" help devices); check "help COMMAND exits 0" $? 0
expect_match "help devices shows usage" "$out" '^usage: grpo devices'

"$GRPO_BIN" >/dev/null 2>&1; check "no command is a usage error" $? 2
err=$("$GRPO_BIN" bnech 2>&1 >/dev/null); check "unknown command exits 2" $? 2
expect_match "unknown command suggests" "$err" "did you mean 'bench'"
err=$("$GRPO_BIN" bench --matmull 8 2>&1 >/dev/null); check "unknown option exits 2" $? 2
expect_match "unknown option suggests" "$err" "did you mean '--matmul'"
err=$("$GRPO_BIN" bench --iters x --matmul 8 2>&1 >/dev/null); check "bad integer exits 2" $? 2
expect_match "bad integer is named" "$err" 'expects an integer'

out=$("$GRPO_BIN" bench --device cpu --matmul 33,17,9 --iters 2); check "cpu bench runs" $? 0
expect_match "bench prints json" "$out" '"op": "matmul".*"device": "cpu".*"gflops"'

err=$("$GRPO_BIN" bench --device tpu --matmul 8 2>&1 >/dev/null); check "unknown device fails" $? 1
expect_match "unknown device is named" "$err" "unknown device 'tpu'"

# --precision: the cpu is the fp32 reference, bf16 is refused in one line; bad names list the choices.
out=$("$GRPO_BIN" bench --device cpu --precision fp32 --matmul 8 --iters 1); check "cpu bench in fp32" $? 0
expect_match "bench names the dtype" "$out" '"dtype": "fp32", "out_dtype": "fp32"'
err=$("$GRPO_BIN" bench --device cpu --precision bf16 --matmul 8 2>&1 >/dev/null); check "bf16 on the cpu exits 1" $? 1
expect_match "... saying to use cuda" "$err" '^grpo bench: --precision: bf16 needs --device cuda'
check "... in one line" "$(printf '%s\n' "$err" | wc -l)" 1
err=$("$GRPO_BIN" logprobs --model /nonexistent --ids "1 2" --precision fp16 2>&1 >/dev/null); check "unknown precision exits 1" $? 1
expect_match "... listing the choices" "$err" "unknown precision 'fp16' \(expected auto, fp32 or bf16\)"
out=$("$GRPO_BIN" devices --device cpu --json); check "devices --device" $? 0
expect_match "devices shows the precision" "$out" '"precision": "fp32"'
err=$("$GRPO_BIN" train --precision half 2>&1 >/dev/null); check "train --precision half exits 1" $? 1
expect_match "... naming the key" "$err" "precision: expected auto, fp32 or bf16, got 'half'"

# --device cuda: works where a GPU is usable, else one line and exit 1, quickly.
if "$GRPO_BIN" devices --json | grep -q '"cuda": {"compiled": true, "usable": true'; then
  out=$("$GRPO_BIN" bench --device cuda --matmul 64 --iters 2); check "cuda bench runs" $? 0
else
  err=$(timeout 60 "$GRPO_BIN" bench --device cuda --matmul 8 2>&1 >/dev/null); rc=$?
  check "cuda without a GPU exits 1 (not a crash or hang)" $rc 1
  expect_match "cuda without a GPU says why" "$err" '^grpo bench: --device cuda: '
  check "the error is one line" "$(printf '%s\n' "$err" | wc -l)" 1
fi
out=$("$GRPO_BIN" bench --device auto --matmul 16 --iters 1); check "auto always finds a device" $? 0
out=$("$GRPO_BIN" devices); check "devices exits 0" $? 0
expect_match "devices lists cpu" "$out" '^cpu +usable'
# The startup re-exec (kernels/cpu/runtime_env.c) shortens libgomp's barrier spin
# unless the user chose a wait policy, and stays out of the way when told to.
out=$(env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT OMP_NUM_THREADS=2 "$GRPO_BIN" devices)
expect_match "short OpenMP spin set by default" "$out" 'barrier wait: GOMP_SPINCOUNT=10000'
out=$(env -u GOMP_SPINCOUNT OMP_WAIT_POLICY=active OMP_NUM_THREADS=2 "$GRPO_BIN" devices)
expect_match "the user's wait policy is kept" "$out" 'barrier wait: OMP_WAIT_POLICY=active'
out=$(env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT GRPO_NO_REEXEC=1 OMP_NUM_THREADS=2 "$GRPO_BIN" devices)
expect_match "GRPO_NO_REEXEC=1 leaves the environment alone" "$out" 'barrier wait: libgomp default'

finish test_cli
