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

On a GPU (tools/gpu-check.sh runs it beside `grpo bench --device cuda`): --device cuda
--dtype bf16|fp32, the model shape in init-model's flags (--hidden N --layers N --heads N
--kv-heads N --ffn N --vocab N [--tie]; --arch qwen2 is accepted), --temperature/--top-p for
sampled decoding as grpo bench does it, and peak_dev_mib (torch.cuda.max_memory_allocated)
per phase. bf16 there is the whole model in bf16 (transformers' usual way), not grpo's
fp32 master weights, so its training step has less to do than grpo's.
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


def shape_of(a):
    """SHAPE with any init-model flags given on the command line applied."""
    sh = dict(SHAPE)
    for k, key in (("hidden", "hidden_size"), ("layers", "num_hidden_layers"), ("heads", "num_attention_heads"),
                   ("kv_heads", "num_key_value_heads"), ("ffn", "intermediate_size"), ("vocab", "vocab_size")):
        if getattr(a, k, None) is not None:
            sh[key] = getattr(a, k)
    if getattr(a, "tie", None) is not None:
        sh["tie_word_embeddings"] = bool(a.tie)
    return sh


def build(torch, attn, a=None):
    from transformers import Qwen2Config, Qwen2ForCausalLM
    sh = shape_of(a) if a else dict(SHAPE)
    try:
        cfg = Qwen2Config(rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, **sh)
    except TypeError:   # an older transformers: rope_theta at the top level
        cfg = Qwen2Config(rope_theta=10000.0, **sh)
    torch.manual_seed(0)
    dev = a.device if a else "cpu"
    dt = torch.bfloat16 if a and a.dtype == "bf16" else torch.float32
    with torch.device(dev):   # initialise where it runs: a 0.5B model is slow to build on a CPU
        model = Qwen2ForCausalLM._from_config(cfg, attn_implementation=attn)
    return model.to(dt).eval()


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


def best_of(fn, reps, sync=lambda: None):
    ts = []
    for _ in range(reps):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def phase(name, a):
    import torch
    torch.set_num_threads(a.threads)
    model = build(torch, a.attn, a)
    cuda = a.device == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    g = torch.Generator().manual_seed(1)
    V = shape_of(a)["vocab_size"]
    out = {"params": sum(p.numel() for p in model.parameters())}
    sample = dict(do_sample=True, temperature=a.temperature, top_p=a.top_p, top_k=0) if a.temperature > 0 else \
        dict(do_sample=False)
    if name in ("prefill", "decode"):
        ids = torch.randint(3, V, (a.batch, a.prompt_len), generator=g).to(a.device)

        def prefill():
            with torch.no_grad():
                model(input_ids=ids, use_cache=True)
        prefill()   # warm-up
        t_pre = best_of(prefill, 3, sync)
        out["prefill_tok_s"] = a.batch * a.prompt_len / t_pre
        out["prefill_s"] = t_pre
        if name == "decode":
            def gen():
                with torch.no_grad():
                    o = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                       max_new_tokens=a.gen_len, min_new_tokens=a.gen_len,
                                       use_cache=True, eos_token_id=None, pad_token_id=0, **sample)
                assert o.shape[1] == a.prompt_len + a.gen_len
            with torch.no_grad():   # warm-up, short
                model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=4,
                               eos_token_id=None, pad_token_id=0, **sample)
            t_gen = best_of(gen, a.reps_decode, sync)
            out["generate_s"] = t_gen
            out["decode_tok_s"] = a.batch * a.gen_len / (t_gen - t_pre)
            out["generate_tok_s"] = a.batch * a.gen_len / t_gen
    elif name == "train":
        ids = torch.randint(3, V, (a.batch, a.train_len), generator=g).to(a.device)
        model.train()   # (no dropout in this config) as in a training step

        def step():
            model.zero_grad(set_to_none=True)
            logits = model(input_ids=ids, use_cache=False).logits[:, :-1]
            lp = torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:, None])
            lp.sum().backward()
        step()   # warm-up
        t = best_of(step, 2, sync)
        out["train_tok_s"] = a.batch * a.train_len / t
        out["train_s"] = t
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if cuda:
        out["peak_dev_mib"] = torch.cuda.max_memory_allocated() / 2**20
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
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--dtype", default="fp32", choices=("fp32", "bf16"))
    ap.add_argument("--temperature", type=float, default=0.0, help="0: greedy (the CPU comparison's)")
    ap.add_argument("--top-p", type=float, default=1.0)
    ap.add_argument("--arch", choices=("qwen2",), help="init-model's flag; only qwen2 is built here")
    for k in ("hidden", "layers", "heads", "kv-heads", "ffn", "vocab"):
        ap.add_argument(f"--{k}", type=int)
    ap.add_argument("--tie", action="store_const", const=1)
    a = ap.parse_args()
    if a.phase:
        print(json.dumps(phase(a.phase, a)))
        return
    import torch
    import transformers
    custom = a.device != "cpu" or shape_of(a) != SHAPE or a.dtype != "fp32"
    # bench_config.json describes the CPU comparison's model only
    n_params = None if custom else write_config()
    res = {"model": "qwen2 random, " + ("init-model flags" if custom else "bench_config.json"), "params": n_params,
           "threads": a.threads, "device": a.device,
           "batch": a.batch, "prompt_len": a.prompt_len, "gen_len": a.gen_len, "train_len": a.train_len,
           "attn_implementation": a.attn, "dtype": "bfloat16" if a.dtype == "bf16" else "float32",
           "temperature": a.temperature, "top_p": a.top_p,
           "torch": torch.__version__, "transformers": transformers.__version__,
           "machine": (torch.cuda.get_device_name(0) if a.device == "cuda" else
                       f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus"),
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "loadavg_before": round(os.getloadavg()[0], 2)}
    for ph in ("decode", "train"):   # decode also measures prefill
        args = [sys.executable, os.path.abspath(__file__), "--phase", ph] + \
            [x for k, v in vars(a).items() if k not in ("phase", "tie") and v is not None
             for x in (f"--{k.replace('_', '-')}", str(v))] + (["--tie"] if a.tie else [])
        p = subprocess.run(args, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"bench_torch: the {ph} phase failed (exit {p.returncode}):\n{p.stderr[-3000:]}")
        r = json.loads(p.stdout.strip().splitlines()[-1])
        for k in ("peak_rss_mib", "peak_dev_mib"):
            if k in r:
                res[f"{k}_{ph}"] = r.pop(k)
        res.update(r)
    res["peak_rss_mib"] = max(res["peak_rss_mib_decode"], res["peak_rss_mib_train"])
    if a.device == "cuda":
        res["peak_dev_mib"] = max(res["peak_dev_mib_decode"], res["peak_dev_mib_train"])
    # the machine is shared: a load average above the core count means the numbers are low
    res["loadavg_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
