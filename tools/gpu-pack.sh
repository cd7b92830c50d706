#!/usr/bin/env bash
# Run on the CPU machine before a GPU session. The GPU machine's image has the
# CUDA toolkit, CMake and gcc but not grpo's Debian libraries (sqlite3, cJSON,
# PCRE2, GMP, OpenBLAS), and it cannot download them. This packs their headers
# and shared libraries from this machine (glibc 2.36, older than the GPU
# image's, so they load there) into .gpu-pack/sysroot.tar.gz, and, when
# build-gpu/ exists (tools/gpu-check.sh builds it), the CUDA test programs,
# grpo and gpu_ceiling as a fallback in .gpu-pack/bin.tar.gz.
# Then: the device tool's run with command "tools/gpu-check.sh" and carry
# [".gpu-pack"] (.gpu-pack/ is git-ignored; about 20 MB compressed).
set -euo pipefail
trap 'echo "gpu-pack: failed at line $LINENO (exit $?)" >&2' ERR
cd "$(dirname "$0")/.."
P=.gpu-pack
rm -rf "$P"
mkdir -p "$P/sysroot/include/cjson" "$P/sysroot/lib"
arch=$(gcc -dumpmachine)
hdr() { # first match of a header under the system include folders
  for d in /usr/include "/usr/include/$arch" "/usr/include/$arch/openblas-openmp" /usr/include/openblas; do
    [ -f "$d/$1" ] && { cp -L "$d/$1" "$P/sysroot/include/$2"; return 0; }
  done
  echo "gpu-pack: header $1 not found" >&2; return 1
}
hdr cjson/cJSON.h cjson/
hdr pcre2.h .
hdr gmp.h .
hdr sqlite3.h .
hdr sqlite3ext.h .
hdr cblas.h .
hdr openblas_config.h .
lib() { # a shared library by soname, plus the unversioned link name CMake finds
  local path
  # awk reads to the end: exiting early would SIGPIPE ldconfig, and pipefail + set -e would
  # then end this script without a word
  path=$(ldconfig -p | awk -v n="$1" '$1 == n && /x86-64/ && !f {print $NF; f = 1}')
  case "$1" in libopenblas.so.0) [ -e "/usr/lib/$arch/openblas-openmp/libopenblas.so.0" ] && path=/usr/lib/$arch/openblas-openmp/libopenblas.so.0;; esac
  [ -n "$path" ] || { echo "gpu-pack: library $1 not found" >&2; return 1; }
  cp -L "$path" "$P/sysroot/lib/$1"
  [ -n "${2:-}" ] && ln -sf "$1" "$P/sysroot/lib/$2"
  return 0
}
lib libcjson.so.1 libcjson.so
lib libpcre2-8.so.0 libpcre2-8.so
lib libgmp.so.10 libgmp.so
lib libsqlite3.so.0 libsqlite3.so
lib libopenblas.so.0 libopenblas.so
lib libgfortran.so.5
lib libquadmath.so.0
# Only for the prebuilt fallback (searched last): the image's gcc brings its own.
mkdir -p "$P/sysroot/lib-fallback"
cp -L "$(ldconfig -p | awk '$1 == "libgomp.so.1" && /x86-64/ && !f {print $NF; f = 1}')" "$P/sysroot/lib-fallback/"
tar czf "$P/sysroot.tar.gz" -C "$P" sysroot
rm -rf "$P/sysroot"
if [ -x build-gpu/grpo ]; then
  mkdir -p "$P/bin"
  for f in grpo gpu_ceiling test_matmul_cuda test_cuda_ops test_model_cuda test_cuda_train test_cuda_graphs; do
    [ -x "build-gpu/$f" ] && cp "build-gpu/$f" "$P/bin/"
  done
  tar czf "$P/bin.tar.gz" -C "$P" bin
  rm -rf "$P/bin"
fi
du -sh "$P"/*
