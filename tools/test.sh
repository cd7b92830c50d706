#!/usr/bin/env bash
# Quick start, part 2: install what is needed, build, and run the whole test
# suite -- once in a warnings-as-errors release build, once under AddressSanitizer
# and UndefinedBehaviorSanitizer. .ci/run calls this script.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh

jobs=$(nproc)
echo "== release build (-Werror)"
BUILD_DIR=build tools/build.sh -DGRPO_WERROR=ON -DGRPO_SANITIZE=OFF
(cd build && ctest --output-on-failure -j"$jobs")

if [ "${GRPO_SKIP_SANITIZE:-0}" != 1 ]; then
  echo "== ASan + UBSan build"
  BUILD_DIR=build-sanitize BUILD_TYPE=Debug tools/build.sh -DGRPO_WERROR=ON -DGRPO_SANITIZE=ON
  (cd build-sanitize && ctest --output-on-failure -j"$jobs")
fi
