#!/usr/bin/env bash
# Configures and builds grpo into BUILD_DIR (default build/). Extra arguments go
# to cmake's configure step, e.g. tools/build.sh -DGRPO_CUDA=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} "$@"
cmake --build "$BUILD_DIR" -j"$(nproc)"
