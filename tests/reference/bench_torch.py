#!/usr/bin/env python3
"""PyTorch + transformers baseline for `grpo bench` (issue 3): same model shape, same work.

Model: a random Qwen2 of the shape in bench_config.json (hidden 384, 6 layers, 6 heads of 64,
2 kv heads, ffn 1024, vocab 32000, tied embeddings, q/k/v biases) = 21.7M parameters, fp32.
The C side runs the same shape:
    grpo init-model --arch qwen2 --hidden 384 --layers 6 --heads 6 --kv-heads 2 --ffn 1024 \\
        --vocab 32000 --tie -o DIR
    grpo bench --model DIR --batch 8 --prompt-len 128 --gen-len 128

Measured (each phase in its own process, so each has its own peak RSS):
  prefill  batch x prompt_len tokens in one forward pass that fills the KV cache (no grad)
  decode   model.generate(batch prompts, gen_len new tokens, greedy, use_cache, EOS off);
           decode tokens/s = batch*gen_len / (generate time - prefill time)
  train    forward + backward of sum of next-token log-probs over batch x train_len tokens
Prints one JSON object. Run:  python tests/reference/bench_torch.py [--threads 2]
"""
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG = os.path.join(HERE, "bench_config.json")

SHAPE = dict(hidden_size=384, num_hidden_layers=6, num_attention_heads=6, num_key_value_heads=2,
             intermediate_size=1024, vocab_size=32000, tie_word_embeddings=True,
             rms_norm_eps=1e-6, max_position_embeddings=4096, bos_token_id=1, eos_token_id=2)


def build(torch, attn):
    from transformers import Qwen2Config, Qwen2ForCausalLM
    cfg = Qwen2Config(rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, **SHAPE)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM._from_config(cfg, attn_implementation=attn).float().eval()
    return model


def write_config():
    """bench_config.json: the shape, in the classic config.json layout the C side reads."""
    import torch
    import tempfile
    model = build(torch, "sdpa")
    with tempfile.TemporaryDirectory() as d:
        model.config.save_pretrained(d)
        with open(os.path.join(d, "config.json")) as f:
            cfg = json.load(f)
    rope = cfg.pop("rope_parameters")
    cfg["rope_theta"] = rope["rope_theta"]
    for k in ("dtype", "transformers_version", "_name_or_path", "layer_types", "output_attentions"):
        cfg.pop(k, None)
    cfg["torch_dtype"] = "float32"
    cfg["architectures"] = ["Qwen2ForCausalLM"]
    n = sum(p.numel() for p in model.parameters())
    with open(CONFIG, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    return n


def best_of(fn, reps):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def phase(name, a):
    import torch
    torch.set_num_threads(a.threads)
    model = build(torch, a.attn)
    g = torch.Generator().manual_seed(1)
    V = SHAPE["vocab_size"]
    out = {}
    if name in ("prefill", "decode"):
        ids = torch.randint(3, V, (a.batch, a.prompt_len), generator=g)

        def prefill():
            with torch.no_grad():
                model(input_ids=ids, use_cache=True)
        prefill()   # warm-up
        t_pre = best_of(prefill, 3)
        out["prefill_tok_s"] = a.batch * a.prompt_len / t_pre
        out["prefill_s"] = t_pre
        if name == "decode":
            def gen():
                with torch.no_grad():
                    o = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                       max_new_tokens=a.gen_len, min_new_tokens=a.gen_len,
                                       do_sample=False, use_cache=True, eos_token_id=None, pad_token_id=0)
                assert o.shape[1] == a.prompt_len + a.gen_len
            with torch.no_grad():   # warm-up, short
                model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=4,
                               do_sample=False, eos_token_id=None, pad_token_id=0)
            t_gen = best_of(gen, a.reps_decode)
            out["generate_s"] = t_gen
            out["decode_tok_s"] = a.batch * a.gen_len / (t_gen - t_pre)
            out["generate_tok_s"] = a.batch * a.gen_len / t_gen
    elif name == "train":
        ids = torch.randint(3, V, (a.batch, a.train_len), generator=g)

        def step():
            model.zero_grad(set_to_none=True)
            logits = model(input_ids=ids, use_cache=False).logits[:, :-1]
            lp = torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:, None])
            lp.sum().backward()
        step()   # warm-up
        t = best_of(step, 2)
        out["train_tok_s"] = a.batch * a.train_len / t
        out["train_s"] = t
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--gen-len", type=int, default=128)
    ap.add_argument("--train-len", type=int, default=256)
    ap.add_argument("--reps-decode", type=int, default=2)
    ap.add_argument("--attn", default="sdpa", help="transformers attn_implementation (sdpa = its default)")
    ap.add_argument("--phase", choices=("prefill", "decode", "train"))
    a = ap.parse_args()
    if a.phase:
        print(json.dumps(phase(a.phase, a)))
        return
    import torch
    import transformers
    n_params = write_config()
    res = {"model": "qwen2 random, bench_config.json", "params": n_params, "threads": a.threads,
           "batch": a.batch, "prompt_len": a.prompt_len, "gen_len": a.gen_len, "train_len": a.train_len,
           "attn_implementation": a.attn, "dtype": "float32",
           "torch": torch.__version__, "transformers": transformers.__version__,
           "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus",
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "loadavg_before": round(os.getloadavg()[0], 2)}
    for ph in ("decode", "train"):   # decode also measures prefill
        args = [sys.executable, os.path.abspath(__file__), "--phase", ph] + \
            [x for k, v in vars(a).items() if k != "phase" and v is not None
             for x in (f"--{k.replace('_', '-')}", str(v))]
        r = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
        rss = r.pop("peak_rss_mib")
        res.update(r)
        res[f"peak_rss_mib_{ph}"] = rss
    res["peak_rss_mib"] = max(res["peak_rss_mib_decode"], res["peak_rss_mib_train"])
    # the machine is shared: a load average above the core count means the numbers are low
    res["loadavg_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
