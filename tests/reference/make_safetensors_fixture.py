#!/usr/bin/env python3
"""Reference safetensors files written by Hugging Face's own `safetensors` library, so
tests/test_safetensors.c checks our reader against the real writer (not just our own).

    python3 -m venv /tmp/v && /tmp/v/bin/pip install safetensors numpy
    /tmp/v/bin/python tests/reference/make_safetensors_fixture.py      # rewrites the fixture
    /tmp/v/bin/python tests/reference/make_safetensors_fixture.py --check FILE...
        # loads files written by grpo (st_save) with safetensors' Rust loader, which rejects
        # any header it would not accept (gaps, misalignment, bad offsets)

The values follow formulas that the C test recomputes: f32[i] = (i - 5) * 0.25,
f16 = a fixed list of exactly representable halves (normal, subnormal, signed zero, inf).
CI never runs this; the output is committed.
"""
import os
import sys

import numpy as np
import safetensors
from safetensors import safe_open
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "safetensors", "hf_small.safetensors")

F16 = [1.0, -2.0, 65504.0, 2.0**-24, 2.0**-14, -0.0, float("inf"), -float("inf"), 2.0**-20, 0.333251953125]


def make():
    tensors = {
        "model.layers.0.self_attn.q_proj.weight": ((np.arange(12, dtype=np.float64) - 5) * 0.25).astype(np.float32).reshape(3, 4),
        "model.norm.weight": np.array(F16, dtype=np.float16),
        "position_ids": np.array([1, -1], dtype=np.int64),
        "scalar": np.array(3.5, dtype=np.float32),
    }
    save_file(tensors, OUT, metadata={"format": "np", "origin": "safetensors " + safetensors.__version__})
    print("wrote", os.path.normpath(OUT), os.path.getsize(OUT), "bytes")


def check(paths):
    for p in paths:
        with safe_open(p, framework="numpy") as f:
            keys = list(f.keys())
            meta = f.metadata()
            n = 0
            for k in keys:
                try:
                    n += f.get_tensor(k).size
                except Exception as e:  # numpy has no bfloat16: the header was still validated
                    n = -1
            print(p, "OK:", len(keys), "tensors, metadata", meta, "elements", n)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--check":
        check(sys.argv[2:])
    else:
        make()
