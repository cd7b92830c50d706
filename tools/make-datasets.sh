#!/usr/bin/env bash
# Regenerates the small bundled datasets in datasets/data/ with our own
# generators (no third-party data). The output is the same on every machine;
# tests/test_data_cli.sh checks that the committed files still match.
#   GRPO_BIN=build/grpo tools/make-datasets.sh [OUTDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${GRPO_BIN:-build/grpo}
OUT=${1:-datasets/data}
mkdir -p "$OUT"
# name  generator  n  split  options
while read -r name gen n split opts; do
  # shellcheck disable=SC2086
  "$BIN" data gen "$gen" --n "$n" --seed 1 --split "$split" --eval-frac 0.2 $opts > "$OUT/$name.jsonl"
done <<'LIST'
countdown-train  countdown   500 train --worked
countdown-eval   countdown   100 eval  --worked
arithmetic-train arithmetic  500 train --worked --digits 2 --ops +,-,*
arithmetic-eval  arithmetic  100 eval  --worked --digits 2 --ops +,-,*
letters-train    letters     300 train --worked
letters-eval     letters     100 eval  --worked
LIST
