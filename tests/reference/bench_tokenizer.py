#!/usr/bin/env python3
"""Encode throughput of ours (`grpo tokenize --bench`) and of the `tokenizers` library on the
same text: ~4 MB of varied lines from tok_corpus (English, code, LaTeX, CJK, emoji, RTL, ...).

    python3 tests/reference/bench_tokenizer.py build/grpo [tests/fixtures/tokenizer/qwen2]

The library encodes the lines with encode_batch (its fastest path; RAYON_NUM_THREADS picks the
threads) and, separately, one encode() call per line. Both report the best of 3 runs.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tok_corpus  # noqa: E402


def best_of(f, n=3):
    best = 1e30
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    grpo = sys.argv[1]
    tdir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "fixtures", "tokenizer", "qwen2")
    lines = "\n".join(tok_corpus.corpus(60000, seed=2)).split("\n")
    text = "\n".join(lines) + "\n"
    nbytes = len(text.encode("utf-8"))
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as f:
        f.write(text)
        path = f.name
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(tdir, "tokenizer.json"))
    out = {"text_bytes": nbytes, "lines": len(lines), "tokenizer": os.path.normpath(tdir)}
    for threads in ("1", "2"):
        # the thread count is fixed when rayon starts: measure each in a fresh interpreter
        code = ("import sys,time;from tokenizers import Tokenizer;t=Tokenizer.from_file(sys.argv[1]);"
                "L=open(sys.argv[2],encoding='utf-8').read().split('\\n')[:-1];b=1e30\n"
                "for _ in range(3):\n t0=time.perf_counter();t.encode_batch(L,add_special_tokens=False);b=min(b,time.perf_counter()-t0)\n"
                "print(b)")
        env = dict(os.environ, RAYON_NUM_THREADS=threads, TOKENIZERS_PARALLELISM="true")
        s = float(subprocess.check_output([sys.executable, "-c", code, os.path.join(tdir, "tokenizer.json"), path], env=env))
        out["hf_encode_batch_%sthread_mb_s" % threads] = round(nbytes / s / 1e6, 2)
    s = best_of(lambda: [tok.encode(x, add_special_tokens=False) for x in lines])
    out["hf_encode_per_line_mb_s"] = round(nbytes / s / 1e6, 2)
    with open(path, "rb") as f:
        ours = json.loads(subprocess.check_output([grpo, "tokenize", "--tokenizer", tdir, "--bench"], stdin=f))
    out["ours_mb_s"] = ours["mb_per_s"]
    os.unlink(path)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
