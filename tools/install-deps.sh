#!/usr/bin/env bash
# Installs every Debian package grpo needs to build, run and test. Safe to rerun:
# it only calls apt-get when something is missing. Run as root or with sudo.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git
  libsqlite3-dev sqlite3       # the run file
  libcjson-dev                 # configs, tokenizer.json, datasets
  libpcre2-dev                 # pre-tokenizer regexes, regex reward rules
  libopenblas-openmp-dev       # CPU backend matmuls (the OpenMP build shares our thread pool)
  libgmp-dev                   # exact rationals in the math verifier
  python3                      # the one runtime dependency of the code reward (run in the sandbox)
  libopenmpi-dev openmpi-bin   # data-parallel training: mpirun -np N grpo train (optional at build time)
  chromium                     # tests only: renders the HTML report headless
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
  SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
