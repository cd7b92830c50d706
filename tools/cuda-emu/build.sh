#!/usr/bin/env bash
# Usage: build.sh REPO BUILD_DIR OUT_DIR [extra g++ flags]: compiles REPO's kernels/cuda/*.cu on the
# emulator and links test_cuda_ops, test_model_cuda, test_cuda_train, test_matmul_cuda, test_cuda_graphs and
# grpo against REPO's BUILD_DIR C objects.
set -euo pipefail
REPO=$1 BD=$2 OUT=$3; shift 3
EMU=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT/src" "$OUT/obj"
FLAGS="-std=c++17 -O1 -g -fno-strict-aliasing $*"
for f in "$REPO"/kernels/cuda/*.cu; do
  b=$(basename "$f" .cu)
  python3 "$EMU/xform.py" "$f" "$OUT/src/$b.cpp"
  g++ $FLAGS -I"$EMU/include" -I"$REPO" -I"$REPO/kernels/cuda" -include "$EMU/include/emu.h" -c "$OUT/src/$b.cpp" -o "$OUT/obj/$b.o"
done
g++ $FLAGS -I"$EMU/include" -c "$EMU/emu.cpp" -o "$OUT/obj/emu.o"
# The library's C objects whose sources still exist (a build folder keeps stale ones).
COBJS=$(cd "$BD/CMakeFiles/grpocore.dir" && find . -name '*.c.o' | sed 's|^\./||' | sort |
        while read -r o; do [ -f "$REPO/${o%.o}" ] && echo "$BD/CMakeFiles/grpocore.dir/$o"; done)
LIBS="-lsqlite3 -lcjson -lpcre2-8 -lgmp -L/usr/lib/x86_64-linux-gnu/openblas-openmp -Wl,-rpath,/usr/lib/x86_64-linux-gnu/openblas-openmp -lopenblas -lgomp -lm -lpthread -L/usr/lib/x86_64-linux-gnu/openmpi/lib -Wl,-rpath,/usr/lib/x86_64-linux-gnu/openmpi/lib -lmpi"
# grpo itself too, so `grpo bench --device cuda` (the gpu-check benches, --profile) runs here.
for t in test_cuda_ops test_model_cuda test_cuda_train test_matmul_cuda test_cuda_graphs grpo; do
  TOBJ=$(find "$BD/CMakeFiles/$t.dir" -name '*.o' | sort)
  g++ $* -o "$OUT/$t" $TOBJ "$OUT"/obj/*.o $COBJS $LIBS
done
echo "built into $OUT"
