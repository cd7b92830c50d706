#!/usr/bin/env bash
# Quick start, part 1: install what is needed, build, and run the main job --
# `grpo train` on the built-in default task, on CPU. Arguments go to `grpo train`.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh
exec build/grpo train --device cpu "$@"
