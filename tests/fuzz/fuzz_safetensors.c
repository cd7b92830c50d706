// libFuzzer target for the safetensors reader (not built by CMake). Each input is written
// to a file and opened with st_open; every tensor that opens is read back, so ASan sees
// any read outside the mapping. Build and run from the repository root:
//
//   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. \
//       tests/fuzz/fuzz_safetensors.c policy/safetensors.c policy/safetensors_write.c \
//       kernels/status.c -lcjson -o /tmp/fuzz_safetensors
//   mkdir -p /tmp/st-corpus && cp tests/fixtures/safetensors/*.safetensors /tmp/st-corpus/
//   /tmp/fuzz_safetensors -max_total_time=60 -max_len=4096 /tmp/st-corpus
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "policy/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/fuzz-st-%d.safetensors", (int)getpid());
    FILE *fp = fopen(path, "wb");
    if (!fp) return 0;
    fwrite(data, 1, size, fp);
    fclose(fp);
    SafeTensors *st = NULL;
    if (st_open(path, &st) == 0) {
        for (int i = 0; i < st_count(st); i++) {
            const StTensorInfo *t = st_info(st, i);
            if (st_find(st, t->name) != t) abort(); // names are unique and findable
            size_t n = (size_t)st_numel(t);
            if (n > (1u << 24)) continue;
            float *dst = malloc((n + 1) * sizeof *dst);
            st_read_f32(st, t, dst);
            free(dst);
        }
        for (int i = 0; i < st_metadata_count(st); i++)
            if (!st_metadata(st, st_metadata_key(st, i))) abort();
        st_close(st);
    }
    return 0;
}
