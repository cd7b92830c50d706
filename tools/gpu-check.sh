#!/usr/bin/env bash
# The GPU session's one script: builds grpo for sm_90 (Release) into build-gpu,
# runs the CUDA test programs, measures the card's ceilings (cuBLAS GEMM bf16 /
# fp32 / tf32 TFLOP/s, device-to-device copy GB/s) and `grpo bench --device
# cuda` (bf16 and fp32) on a small model and on a ~0.5B Qwen2-shaped random model, and prints
# one short table last. Beside them, when the machine has them: the same work in
# PyTorch + transformers on the same card (tests/reference/bench_torch.py), and
# compute-sanitizer (memcheck on any failing test program, racecheck on the
# attention kernels) with the time left. Every stage has a timeout, cut to what
# the whole run's budget leaves (GPU_CHECK_BUDGET, 530 s: the device call's 560
# less a margin), so the table is always printed; a stage that fails, is
# skipped or finds no time is reported in the table and the rest still run.
# About 5 minutes on an H200; on a machine without a GPU it builds, reports the
# CUDA stages skipped with the reason, and prints the table.
#
# On the GPU machine (see tools/gpu-pack.sh, run first on the CPU machine):
#   device run: command "tools/gpu-check.sh", carry [".gpu-pack"], timeout_s 560
# $OUT (the device tool's folder, else build-gpu/check) gets gpu-check.log
# (everything), build.log, tests.log, bench.jsonl, profile.txt, sanitizer.log and summary.txt (the table).
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
OUTD=${OUT:-$ROOT/build-gpu/check}
mkdir -p "$OUTD"
LOG=$OUTD/gpu-check.log
: >"$LOG"
exec > >(tee -a "$LOG") 2>&1
T0=$SECONDS
NPROC=$(nproc)
BUDGET=${GPU_CHECK_BUDGET:-530}
declare -A R # table cells
note() { printf '[gpu-check %3ds] %s\n' $((SECONDS - T0)) "$*"; }
# The seconds a stage may take: its own cap, cut to what the budget leaves
# once 20 s are kept for the table. Below 10 the stage is not started.
lim() {
  local l=$((BUDGET - 20 - (SECONDS - T0)))
  [ "$1" -lt "$l" ] && l=$1
  [ "$l" -lt 10 ] && l=0
  echo "$l"
}
late="not run: the ${BUDGET} s budget is spent"
# tmo CAP CMD...: CMD under timeout $(lim CAP); exit 125 without running it when no time is left
tmo() {
  local L
  L=$(lim "$1")
  shift
  [ "$L" = 0 ] && return 125
  timeout "$L" "$@"
}
# a failed stage's cell from its exit status
failed() { case $1 in 125) echo "$late" ;; 124) echo "TIMEOUT (see gpu-check.log)" ;; *) echo "FAILED rc=$1 (see gpu-check.log)" ;; esac; }
# JSON number by key from a line of bench output
jnum() { grep -o "\"$1\": *[-0-9.e+]*" | head -1 | sed 's/.*: *//'; }
# JSON string by key
jstr() { grep -o "\"$1\": *\"[^\"]*\"" | head -1 | sed 's/.*: *"//; s/"$//'; }

# ---------------------------------------------------------------- libraries
if [ -f .gpu-pack/sysroot.tar.gz ]; then
  SYS=/tmp/grpo-sysroot
  rm -rf "$SYS" && mkdir -p "$SYS" && tar xzf .gpu-pack/sysroot.tar.gz -C "$SYS" --strip-components=1
  export CMAKE_PREFIX_PATH="$SYS${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export LD_LIBRARY_PATH="$SYS/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  note "using the packed libraries in $SYS"
fi
for d in /usr/local/cuda/bin /usr/local/cuda-13.0/bin; do [ -d "$d" ] && PATH=$PATH:$d; done
# searched last: the toolkit's runtime, for binaries whose RUNPATH points elsewhere
for d in /usr/local/cuda/lib64 /usr/local/cuda/lib; do [ -d "$d" ] && LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d; done
export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}

# ---------------------------------------------------------------- build
TESTS="test_matmul_cuda test_cuda_ops test_model_cuda test_cuda_train test_cuda_graphs"
FAILED=
targets="grpo"
for t in $TESTS; do [ -f "tests/$t.c" ] && targets="$targets $t"; done
BIN=$ROOT/build-gpu
t=$SECONDS
note "configure + build ($targets) for sm_90, -j$NPROC"
# -Werror stays on the CPU machine's builds: another image's compiler may warn differently. No MPI: one GPU
# is one process, and the prebuilt fallback binaries then load on an image without OpenMPI.
if timeout 120 cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DGRPO_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DGRPO_MPI=OFF \
     -DGRPO_WERROR=OFF >"$OUTD/build.log" 2>&1 &&
   timeout 300 cmake --build build-gpu -j"$NPROC" --target $targets >>"$OUTD/build.log" 2>&1; then
  R[build]="ok, $((SECONDS - t)) s"
else
  tail -25 "$OUTD/build.log" 2>/dev/null
  R[build]="FAILED (build.log)"
  if [ -f .gpu-pack/bin.tar.gz ]; then
    BIN=$ROOT/build-gpu-prebuilt
    rm -rf "$BIN" && mkdir -p "$BIN" && tar xzf .gpu-pack/bin.tar.gz -C "$BIN" --strip-components=1
    # the prebuilt binaries may need this machine's missing runtime pieces too (libgomp)
    [ -n "${SYS:-}" ] && export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$SYS/lib-fallback"
    R[build]="FAILED here; prebuilt binaries used"
  fi
fi
if command -v nvcc >/dev/null && timeout 120 nvcc -O2 -arch=sm_90 tools/gpu_ceiling.cu -lcublas -o build-gpu/gpu_ceiling \
     >>"$OUTD/build.log" 2>&1; then
  CEIL=build-gpu/gpu_ceiling
elif [ -x "$BIN/gpu_ceiling" ]; then
  CEIL=$BIN/gpu_ceiling
else
  CEIL=
fi
note "build: ${R[build]}"

# ---------------------------------------------------------------- the GPU?
GPU=0
if [ -x "$BIN/grpo" ]; then
  line=$("$BIN/grpo" devices 2>&1 | grep '^cuda ')
  if [ "$(echo "$line" | awk '{print $2}')" = usable ]; then
    GPU=1
    DEV=$(echo "$line" | sed -E 's/^cuda +usable +//')
  else
    WHY=$(echo "$line" | sed -E 's/^cuda +[a-z]+ +//')
    WHY=${WHY:-grpo devices printed no cuda line}
  fi
else
  WHY="no grpo binary (the build failed)"
fi
[ $GPU = 1 ] && note "GPU: $DEV" || note "no usable GPU: $WHY"
skip="skipped (no GPU)"

# ---------------------------------------------------------------- tests
for tname in $TESTS; do
  if [ ! -x "$BIN/$tname" ]; then
    R[$tname]=$([ -f "tests/$tname.c" ] && echo "not built" || echo "missing (no tests/$tname.c)")
    continue
  fi
  L=$(lim 150)
  [ "$L" = 0 ] && { R[$tname]=$late; continue; }
  t=$SECONDS
  out=$(cd tests && GRPO_BIN="$BIN/grpo" GRPO_TEST_DIR="$ROOT/tests" GRPO_SOURCE_DIR="$ROOT" GRPO_BUILD_DIR="$BIN" \
        OMP_NUM_THREADS=8 OMP_WAIT_POLICY=passive timeout "$L" "$BIN/$tname" 2>&1)
  rc=$?
  printf '== %s (rc %s)\n%s\n' "$tname" "$rc" "$out" >>"$OUTD/tests.log"
  printf '%s\n' "$out" | tail -30
  tally=$(printf '%s\n' "$out" | grep -o '[0-9]* passed, [0-9]* failed' | tail -1)
  case $rc in
    0) R[$tname]="pass ($tally, $((SECONDS - t)) s)" ;;
    77) R[$tname]="skipped: $(printf '%s\n' "$out" | grep -o 'SKIPPED: .*' | head -1 | cut -c10-90)" ;;
    124) R[$tname]="TIMEOUT after $L s"; FAILED="$FAILED $tname" ;;
    *) R[$tname]="FAIL rc=$rc ($tally)"; FAILED="$FAILED $tname" ;;
  esac
  note "$tname: ${R[$tname]}"
done

# ---------------------------------------------------------------- compute-sanitizer
# What the emulator cannot show: real out-of-bounds accesses and shared-memory
# races under the real warp schedule and fragment layouts. The image has
# compute-sanitizer, but on some machine runtimes it refuses the device.
SAN=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
: >"$OUTD/sanitizer.log"
# sanitize TOOL CAP KEY TEST [ENV=VALUE...]: one run; R[KEY] gets its summary
sanitize() {
  local tool=$1 cap=$2 key=$3 tname=$4 L
  shift 4
  L=$(lim "$cap")
  [ "$L" = 0 ] && { R[$key]=$late; return 0; }
  local out rc
  out=$(cd tests && env GRPO_BIN="$BIN/grpo" GRPO_TEST_DIR="$ROOT/tests" GRPO_SOURCE_DIR="$ROOT" GRPO_BUILD_DIR="$BIN" \
        OMP_NUM_THREADS=8 "$@" timeout "$L" "$SAN" --tool "$tool" --print-limit 20 "$BIN/$tname" 2>&1)
  rc=$?
  printf '== %s %s %s (rc %s)\n%s\n' "$tool" "$tname" "$*" "$rc" "$out" | head -400 >>"$OUTD/sanitizer.log"
  local sum
  sum=$(printf '%s\n' "$out" | grep -E '(ERROR|RACECHECK) SUMMARY' | tail -1 | sed 's/^=* *//')
  if [ -n "$sum" ]; then
    R[$key]="$sum (rc $rc)"
  elif [ $rc = 124 ]; then
    R[$key]="cut at $L s: $(printf '%s\n' "$out" | grep -c '^========= .*\(Invalid\|hazard\|Race\)') findings so far (sanitizer.log)"
  else
    R[$key]="did not run: $(printf '%s\n' "$out" | grep -m1 -iE 'error|not supported' | cut -c1-80)"
  fi
  note "$tool $tname: ${R[$key]}"
}
if [ $GPU = 1 ] && [ -n "$SAN" ]; then
  n=0
  for tname in ${FAILED:-}; do # the first two failing programs, under memcheck
    [ $n -lt 2 ] || break
    n=$((n + 1))
    sanitize memcheck 60 "memcheck_$tname" "$tname"
    MEMCHECKED="${MEMCHECKED:-} $tname"
  done
fi

# ---------------------------------------------------------------- ceilings
for k in bf16 f32 tf32 copy; do R[ceil_$k]=$([ $GPU = 1 ] && echo "no gpu_ceiling binary" || echo "$skip"); done
if [ $GPU = 1 ] && [ -n "$CEIL" ]; then
  tmo 90 "$CEIL" >"$OUTD/ceiling.jsonl" 2>&1
  cat "$OUTD/ceiling.jsonl" | tee -a "$OUTD/bench.jsonl"
  for k in bf16 f32 tf32; do
    v=$(grep "\"dtype\": \"$k\"" "$OUTD/ceiling.jsonl" | jnum tflops)
    R[ceil_$k]=${v:+$v TFLOP/s}
    R[ceil_$k]=${R[ceil_$k]:-failed (see gpu-check.log)}
  done
  v=$(grep d2d_copy "$OUTD/ceiling.jsonl" | jnum gbs)
  R[ceil_copy]=${v:+$v GB/s}
  R[ceil_copy]=${R[ceil_copy]:-failed (see gpu-check.log)}
  rm -f "$OUTD/ceiling.jsonl"
  # grpo's own matmul (the backend's one cuBLAS wrapper) in each precision, beside the ceilings
  for p in bf16 fp32; do
    v=$(tmo 60 "$BIN/grpo" bench --device cuda --precision $p --matmul 8192 --iters 5 2>&1 | tee -a "$OUTD/bench.jsonl" |
        jnum gflops)
    R[mm_$p]=${v:+$(awk -v g="$v" 'BEGIN{printf "%.1f TFLOP/s", g / 1000}')}
  done
fi
for p in bf16 fp32; do R[mm_$p]=${R[mm_$p]:-$([ $GPU = 1 ] && echo "failed (see gpu-check.log)" || echo "$skip")}; done

# ---------------------------------------------------------------- benches
# name, precision, init-model arguments, bench arguments, timeout
bench() {
  local name=$1_$2 prec=$2 init=$3 args=$4 cap=$5 dir=/tmp/grpo-gpu-$1
  for k in gen train mem; do R[${name}_$k]=$([ $GPU = 1 ] && echo - || echo "$skip"); done
  [ $GPU = 1 ] || return 0
  t=$SECONDS
  if [ ! -f "$dir/model.safetensors" ] && ! tmo 120 "$BIN/grpo" init-model $init --seed 1 -o "$dir" >/dev/null; then
    R[${name}_gen]="init-model: $(failed $?)"
    return 0
  fi
  note "$name model ready ($((SECONDS - t)) s); bench: $args"
  local out
  out=$(tmo "$cap" "$BIN/grpo" bench --device cuda --precision "$prec" --model "$dir" $args 2>&1)
  local rc=$?
  printf '%s\n' "$out" | tee -a "$OUTD/bench.jsonl"
  if [ $rc != 0 ] || ! printf '%s' "$out" | grep -q decode_tok_s; then
    R[${name}_gen]=$(failed $rc)
    return 0
  fi
  local j
  j=$(printf '%s\n' "$out" | grep decode_tok_s | tail -1)
  R[${name}_gen]="prefill $(jnum prefill_tok_s <<<"$j"), decode $(jnum decode_tok_s <<<"$j") tok/s (graphs $(jstr graphs <<<"$j"))"
  R[${name}_train]="fwd+bwd $(jnum train_tok_s <<<"$j") tok/s; with clip+AdamW $(jnum train_step_tok_s <<<"$j") tok/s"
  R[${name}_mem]="$(jnum peak_dev_mib <<<"$j") MiB of $(jnum dev_total_mib <<<"$j")"
}
SMALL_INIT="--arch qwen2 --hidden 512 --layers 8 --heads 8 --kv-heads 2 --ffn 1408 --vocab 32000"
SMALL_ARGS="--batch 16 --prompt-len 128 --gen-len 128 --train-len 256 --temperature 1 --top-p 0.95 --reps 1"
Q05_INIT="--arch qwen2 --hidden 896 --layers 24 --heads 14 --kv-heads 2 --ffn 4864 --vocab 151936 --tie"
Q05_ARGS="--batch 32 --prompt-len 256 --gen-len 128 --train-len 384 --temperature 1 --top-p 0.95 --reps 1"
bench small bf16 "$SMALL_INIT" "$SMALL_ARGS" 60
bench small fp32 "$SMALL_INIT" "$SMALL_ARGS" 60
# Decode without CUDA graphs on the small model (bf16; its model from above):
# the launch overhead the graphs remove is the difference to small bf16's decode.
R[small_nog]=$([ $GPU = 1 ] && echo - || echo "$skip")
if [ $GPU = 1 ] && [ -f /tmp/grpo-gpu-small/model.safetensors ]; then
  out=$(tmo 60 "$BIN/grpo" bench --device cuda --precision bf16 --model /tmp/grpo-gpu-small $SMALL_ARGS --train-len 16 --no-graphs 2>&1)
  rc=$?
  printf '%s\n' "$out" | tee -a "$OUTD/bench.jsonl"
  j=$(printf '%s\n' "$out" | grep decode_tok_s | tail -1)
  R[small_nog]=$([ $rc = 0 ] && [ -n "$j" ] && echo "decode $(jnum decode_tok_s <<<"$j") tok/s (graphs $(jstr graphs <<<"$j"))" || failed $rc)
fi
bench qwen05b bf16 "$Q05_INIT" "$Q05_ARGS" 150
bench qwen05b fp32 "$Q05_INIT" "$Q05_ARGS" 120
# Long sequences, where attention's share of a training step grows: the
# tensor-core attention (bf16's default; at this size its dK/dV runs a block
# per query head) against the same with a block per kv head
# (GRPO_CUDA_DKDV_SPLIT=0) and against the CUDA-core kernels
# (GRPO_CUDA_TC_ATTN=0), on the 0.5B model (its model from above).
LONG_ARGS="--batch 4 --prompt-len 16 --gen-len 4 --train-len 2048 --temperature 1 --reps 1"
for ab in tc1:GRPO_CUDA_TC_ATTN=1 nosplit:GRPO_CUDA_DKDV_SPLIT=0 tc0:GRPO_CUDA_TC_ATTN=0; do
  key=long_${ab%%:*}
  R[$key]=$([ $GPU = 1 ] && echo - || echo "$skip")
  [ $GPU = 1 ] && [ -f /tmp/grpo-gpu-qwen05b/model.safetensors ] || continue
  out=$(export "${ab#*:}"; tmo 90 "$BIN/grpo" bench --device cuda --precision bf16 --model /tmp/grpo-gpu-qwen05b \
        $LONG_ARGS 2>&1)
  rc=$?
  printf '%s\n' "$out" | tee -a "$OUTD/bench.jsonl"
  j=$(printf '%s\n' "$out" | grep train_tok_s | tail -1)
  R[$key]=$([ $rc = 0 ] && [ -n "$j" ] && echo "fwd+bwd $(jnum train_tok_s <<<"$j") tok/s, peak $(jnum peak_dev_mib <<<"$j") MiB" ||
             failed $rc)
done

# ---------------------------------------------------------------- PyTorch on the same card
# The same work in PyTorch + transformers (bf16 weights, sdpa attention; the
# image's python3 has both): the baseline grpo means to beat on this hardware.
# torch_row NAME INIT ARGS CAP
torch_row() {
  local key=torch_$1 init=$2 args=$3 cap=$4
  R[$key]=$([ $GPU = 1 ] && echo "no PyTorch + transformers here" || echo "$skip")
  [ $GPU = 1 ] && python3 -c 'import torch, transformers' 2>/dev/null || return 0
  # grpo bench's flags that bench_torch.py has too (it has no --reps)
  local targs
  targs=$(printf '%s\n' $args | paste -sd' ' | sed -E 's/--reps [0-9]+//')
  local out rc
  out=$(tmo "$cap" python3 tests/reference/bench_torch.py --device cuda --dtype bf16 --reps-decode 1 $init $targs 2>&1)
  rc=$?
  printf '%s\n' "$out" | paste -sd' ' | tee -a "$OUTD/bench.jsonl"
  if [ $rc = 0 ] && printf '%s' "$out" | grep -q decode_tok_s; then
    R[$key]="prefill $(jnum prefill_tok_s <<<"$out" | cut -d. -f1), decode $(jnum decode_tok_s <<<"$out" | cut -d. -f1) tok/s; fwd+bwd $(jnum train_tok_s <<<"$out" | cut -d. -f1) tok/s; peak $(jnum peak_dev_mib <<<"$out" | cut -d. -f1) MiB"
  else
    R[$key]=$(failed $rc)
  fi
  note "PyTorch $1: ${R[$key]}"
}
torch_row qwen05b "$Q05_INIT" "$Q05_ARGS" 150
torch_row small "$SMALL_INIT" "$SMALL_ARGS" 90

# ---------------------------------------------------------------- where the time goes
# grpo bench --profile on the 0.5B model in bf16, decode eager so its ops show:
# every phase's ops by device time (CUDA events around each op) in profile.txt;
# the table gets each phase's three biggest rows.
: >"$OUTD/profile.txt"
for ph in prefill generate train gradient; do R[prof_$ph]=$([ $GPU = 1 ] && echo - || echo "$skip"); done
if [ $GPU = 1 ] && [ -f /tmp/grpo-gpu-qwen05b/model.safetensors ]; then
  tmo 90 "$BIN/grpo" bench --device cuda --precision bf16 --model /tmp/grpo-gpu-qwen05b $Q05_ARGS --no-graphs --profile \
    >>"$OUTD/bench.jsonl" 2>"$OUTD/profile.txt"
  rc=$?
  for ph in prefill generate train gradient; do
    # the rows under "== profile: $ph...": "name calls total mean share" -> "name share"
    v=$(awk -v ph="$ph" '/^== profile: /{on = index($0, "== profile: " ph) == 1; n = 0; next}
          on && /^op /{next} on && /%$/ && n < 3 {s = $NF; $NF = $(NF-1) = $(NF-2) = $(NF-3) = ""; sub(/ +$/, "");
          printf "%s%s %s", (n ? "; " : ""), $0, s; n++}' "$OUTD/profile.txt")
    R[prof_$ph]=${v:-$(failed $rc)}
  done
  note "profile: ${R[prof_train]}"
fi

# ---------------------------------------------------------------- racecheck
# Shared-memory hazards in the attention kernels (the WMMA ones in bf16), with
# what time is left; a cut run still lists what it found so far.
R[racecheck]=$([ $GPU = 1 ] && echo "no compute-sanitizer here" || echo "$skip")
[ $GPU = 1 ] && [ -n "$SAN" ] && [ -x "$BIN/test_cuda_ops" ] && sanitize racecheck 120 racecheck test_cuda_ops GRPO_TEST_ONLY=attention GRPO_TEST_PRECISION=bf16

# ---------------------------------------------------------------- the table
{
  echo
  echo "== gpu-check $(date -u '+%Y-%m-%d %H:%M UTC'), $([ $GPU = 1 ] && echo "$DEV" || echo "no GPU: $WHY"), $((SECONDS - T0)) s =="
  printf '%-34s %s\n' "build sm_90 Release" "${R[build]}"
  for tname in $TESTS; do printf '%-34s %s\n' "$tname" "${R[$tname]}"; done
  printf '%-34s %s\n' "cuBLAS GEMM 8192^3 bf16 (fp32 acc)" "${R[ceil_bf16]}" \
    "cuBLAS GEMM 8192^3 fp32 / tf32" "${R[ceil_f32]} / ${R[ceil_tf32]}" \
    "device-to-device copy (r+w)" "${R[ceil_copy]}" \
    "grpo bench --matmul 8192 bf16/fp32" "${R[mm_bf16]} / ${R[mm_fp32]}"
  for p in bf16 fp32; do
    printf '%-34s %s\n' "small 8L/512 b16 $p: generate" "${R[small_${p}_gen]}" \
      "small $p: train" "${R[small_${p}_train]}" \
      "small $p: peak device memory" "${R[small_${p}_mem]}"
    [ $p = bf16 ] && printf '%-34s %s\n' "small bf16: decode, no CUDA graphs" "${R[small_nog]}"
  done
  for p in bf16 fp32; do
    printf '%-34s %s\n' "0.5B qwen2 b32 $p: generate" "${R[qwen05b_${p}_gen]}" \
      "0.5B $p: train (384 tok/seq)" "${R[qwen05b_${p}_train]}" \
      "0.5B $p: peak device memory" "${R[qwen05b_${p}_mem]}"
  done
  printf '%-34s %s\n' "0.5B bf16 2048 tok: tc attention" "${R[long_tc1]}" \
    "  same, dK/dV a block per kv head" "${R[long_nosplit]}" \
    "  same, CUDA-core attention" "${R[long_tc0]}" \
    "PyTorch 0.5B b32 bf16, same work" "${R[torch_qwen05b]}" \
    "PyTorch small b16 bf16, same work" "${R[torch_small]}"
  printf '%-34s %s\n' "0.5B bf16 profile: prefill" "${R[prof_prefill]}" \
    "  decode (eager), top ops" "${R[prof_generate]}" \
    "  train fwd+bwd, top ops" "${R[prof_train]}" \
    "  clip + AdamW" "${R[prof_gradient]}"
  for tname in ${MEMCHECKED:-}; do printf '%-34s %s\n' "memcheck $tname" "${R[memcheck_$tname]}"; done
  printf '%-34s %s\n' "racecheck attention (bf16: WMMA)" "${R[racecheck]}"
} | tee "$OUTD/summary.txt"
