#!/usr/bin/env python3
"""Golden files for the C transformer (policy/model.c) from PyTorch + transformers.

Writes tests/fixtures/golden/<case>/ for every case below:
  config.json, model.safetensors   tiny RANDOM Hugging Face model (F32)
  batch.json                       input of `grpo grad --batch`
  expected.json                    loss, per-token log-probs and entropies, logits of sequence 0
  expected_grads.safetensors       d loss / d parameter, every parameter, Hugging Face names, F32
  expected_logprobs_cli.json       {"ids": [...], "logprobs": [...]} for `grpo logprobs --ids`
  expected_greedy.json             greedy continuations (temperature 0) of 3 prompts
The formats are described in tests/fixtures/golden/README.md; how to rerun in
tests/reference/README.md.  Nothing here runs in CI.

Everything the C side is compared against is computed in float64 from the very F32 weights
that are saved (model.double() after saving, with hf64.exact64 removing the float32 steps
transformers keeps inside RMSNorm, softmax and rotary embeddings), so the references carry no
float32 rounding of their own; a float32 implementation should match them to ~1e-6 relative.

Run:  python tests/reference/make_golden.py [--out tests/fixtures/golden]
"""
import argparse
import json
import math
import os
import shutil

import torch
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

from hf64 import exact64

SEED = 1234
VOCAB = 272         # deliberately not a power of two
BOS, EOS = 1, 2

COMMON = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
              num_attention_heads=4, vocab_size=VOCAB, rms_norm_eps=1e-6,
              max_position_embeddings=256, bos_token_id=BOS, eos_token_id=EOS)

# name, arch, extra config, loss config, config.json layout
#   layout "classic": rope_theta (+ rope_scaling) at top level, as every checkpoint made with
#                     transformers 4.x (Qwen2.5, Llama 3.x on the Hub) has it;
#   layout "v5":      rope_parameters {"rope_theta", "rope_type", ...}, as transformers >= 5
#                     writes it.  A loader must read both.
CASES = [
    ("qwen2_tied_gqa", "qwen2",
     dict(num_key_value_heads=2, tie_word_embeddings=True, rope_theta=10000.0),
     dict(type="grpo", beta=0.04, eps_low=0.2, eps_high=0.2, max_completion_len=16), "classic"),
    ("qwen2_untied", "qwen2",
     dict(num_key_value_heads=2, tie_word_embeddings=False, rope_theta=10000.0),
     dict(type="bnpo", beta=0.04, eps_low=0.2, eps_high=0.2, max_completion_len=16), "v5"),
    ("llama_untied_gqa", "llama",
     dict(num_key_value_heads=2, head_dim=16, tie_word_embeddings=False, rope_theta=10000.0),
     dict(type="dr_grpo", beta=0.04, eps_low=0.2, eps_high=0.2, max_completion_len=16), "classic"),
    ("llama_tied_mha", "llama",
     dict(num_key_value_heads=4, head_dim=16, tie_word_embeddings=True, rope_theta=10000.0),
     dict(type="dapo", beta=0.0, eps_low=0.2, eps_high=0.28, max_completion_len=16), "classic"),
    # theta 500 with head_dim 16 puts the 8 rotary frequencies in all three llama3 bands
    # (wavelength < 8: kept; 8..32: smoothed; > 32: divided by factor), so a loader that
    # ignores rope_scaling gets visibly different logits.
    ("llama3_rope", "llama",
     dict(num_key_value_heads=2, head_dim=16, tie_word_embeddings=False, rope_theta=500.0,
          rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                        "high_freq_factor": 4.0, "original_max_position_embeddings": 32}),
     dict(type="grpo", beta=0.04, eps_low=0.2, eps_high=0.28, max_completion_len=16), "classic"),
    # head_dim given and != hidden/heads (q_proj is 96 x 64, k_proj 48 x 64, o_proj 64 x 96); tied.
    ("llama_head_dim24", "llama",
     dict(num_key_value_heads=2, head_dim=24, tie_word_embeddings=True, rope_theta=10000.0),
     dict(type="bnpo", beta=0.04, eps_low=0.2, eps_high=0.2, max_completion_len=16), "classic"),
]

WEIGHT_STD = 0.15   # far above HF's 0.02 so activations and gradients are not tiny
BIAS_STD = 0.1
NORM_STD = 0.15     # norm weights ~ N(1, 0.15)
CLIP_MARGIN = 2e-3  # no ratio within this of a clip bound: float32 must take the same branch


def build_model(arch, extra):
    cfg_kw = dict(COMMON)
    cfg_kw.update(extra)
    theta = cfg_kw.pop("rope_theta")
    scaling = cfg_kw.pop("rope_scaling", None)
    rope = {"rope_type": "default", "rope_theta": theta}
    if scaling:
        rope.update(scaling)
    cfg_kw["rope_parameters"] = rope
    if arch == "qwen2":
        cfg = Qwen2Config(**cfg_kw)
        cls = Qwen2ForCausalLM
    else:
        cfg = LlamaConfig(**cfg_kw)
        cls = LlamaForCausalLM
    cfg._attn_implementation = "eager"
    model = cls(cfg).float()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + NORM_STD * torch.randn_like(p))
            elif name.endswith(".bias"):
                p.copy_(BIAS_STD * torch.randn_like(p))
            else:
                p.copy_(WEIGHT_STD * torch.randn_like(p))
    model.eval()
    return model


def rewrite_config(path, layout):
    """Put config.json in the layout the case tests (see CASES)."""
    with open(path) as f:
        cfg = json.load(f)
    if layout == "classic":
        rope = cfg.pop("rope_parameters")
        cfg["rope_theta"] = rope.pop("rope_theta")
        if rope.get("rope_type", "default") != "default":
            cfg["rope_scaling"] = rope
        cfg["torch_dtype"] = cfg.pop("dtype", "float32")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")


def seq_logits(model, ids):
    """(len, V) logits of one unpadded sequence starting at position 0."""
    x = torch.tensor([ids], dtype=torch.long)
    return model(input_ids=x, use_cache=False).logits[0]


def token_stats(logits, ids):
    """logprobs[k] = log p(ids[k+1] | ids[..k]), entropies[k] of the full distribution, k < len-1."""
    lsm = torch.log_softmax(logits[:-1], dim=-1)
    tgt = torch.tensor(ids[1:], dtype=torch.long)
    logp = lsm.gather(1, tgt[:, None])[:, 0]
    ent = -(lsm.exp() * lsm).sum(-1)
    return logp, ent


def completion_logps(batch_logps, seqs):
    """batch_logps[i]: (len_i - 1) log-probs of sequence i (all positions); completion token
    ids[p:] of sequence i has its log-prob at positions p-1 .. len-2."""
    return [lp[s["prompt_len"] - 1:] for lp, s in zip(batch_logps, seqs)]


def grpo_loss(comp_logps, seqs, lc):
    """design.md's loss from comp_logps[i] = (n_completion_i) log-probs of sequence i's
    completion tokens."""
    per_seq = []
    for logp, s in zip(comp_logps, seqs):
        old = torch.tensor(s["old_logprobs"], dtype=logp.dtype)
        adv = s["advantage"]
        ratio = torch.exp(logp - old)
        clipped = torch.clamp(ratio, 1 - lc["eps_low"], 1 + lc["eps_high"])
        tok = -torch.minimum(ratio * adv, clipped * adv)       # clipped surrogate
        if lc["beta"] != 0:
            ref = torch.tensor(s["ref_logprobs"], dtype=logp.dtype)
            kl = torch.exp(ref - logp) - (ref - logp) - 1      # k3 estimator
            tok = tok + lc["beta"] * kl
        per_seq.append(tok)
    n_seqs = len(per_seq)
    if lc["type"] == "grpo":     # mean over each sequence's tokens, then over sequences
        return sum(t.mean() for t in per_seq) / n_seqs
    allt = torch.cat(per_seq)
    if lc["type"] in ("bnpo", "dapo"):   # sum over all completion tokens / their count
        return allt.sum() / allt.numel()
    if lc["type"] == "dr_grpo":  # sum / (num_seqs * max_completion_len)
        return allt.sum() / (n_seqs * lc["max_completion_len"])
    raise ValueError(lc["type"])


def loss_stats(comp_logps, seqs, lc):
    """Token counts of the batch (TRL's definitions): a token is clipped low when A < 0 and
    ratio < 1-eps_low, high when A > 0 and ratio > 1+eps_high (where the clip removes its
    gradient).  Means are over all completion tokens of the batch."""
    n = lo = hi = 0
    ratio_sum = kl_sum = 0.0
    for lp, s in zip(comp_logps, seqs):
        for k, (t, o) in enumerate(zip(lp.tolist(), s["old_logprobs"])):
            r = math.exp(t - o)
            n += 1
            ratio_sum += r
            lo += s["advantage"] < 0 and r < 1 - lc["eps_low"]
            hi += s["advantage"] > 0 and r > 1 + lc["eps_high"]
            if "ref_logprobs" in s:
                d = s["ref_logprobs"][k] - t
                kl_sum += math.exp(d) - d - 1
    st = {"n_tokens": n, "n_clip_low": int(lo), "n_clip_high": int(hi), "ratio_token_mean": ratio_sum / n}
    if all("ref_logprobs" in s for s in seqs):
        st["kl_token_mean"] = kl_sum / n
    return st


def f32(x):
    """The float32 value of x as a Python float: batch.json holds values the C side reads
    exactly (it stores them as float), and the reference loss uses those same values."""
    return float(torch.tensor(x, dtype=torch.float32).item())


def make_batch(model64, lc, gen):
    """3-4 sequences with prompt 3-9 and completion 4-12 tokens; old/ref log-probs = true
    log-probs + noise, redrawn until no ratio sits within CLIP_MARGIN of a clip bound and
    the batch clips on both sides."""
    n = 4
    lens = [(3, 12), (9, 4), (5, 9), (7, 6)]   # (prompt, completion): all extremes covered
    advs = [1.25, -0.75, 0.5, -1.5]
    seqs = []
    for (p, c), a in zip(lens[:n], advs[:n]):
        ids = torch.randint(3, VOCAB, (p + c,), generator=gen).tolist()
        ids[0] = BOS
        with torch.no_grad():
            lp, _ = token_stats(seq_logits(model64, ids), ids)
        true = lp[p - 1:].tolist()
        seqs.append(dict(ids=ids, prompt_len=p, advantage=f32(a), _true=true))
    for attempt in range(1000):
        low = high = 0
        ok = True
        for s in seqs:
            old = [f32(t + 0.25 * torch.randn((), generator=gen, dtype=torch.float64).item())
                   for t in s["_true"]]
            for t, o in zip(s["_true"], old):
                r = math.exp(t - o)
                if min(abs(r - (1 - lc["eps_low"])), abs(r - (1 + lc["eps_high"]))) < CLIP_MARGIN:
                    ok = False
                # clipping that removes the gradient: A<0 and ratio<1-eps_low, A>0 and ratio>1+eps_high
                if s["advantage"] < 0 and r < 1 - lc["eps_low"]:
                    low += 1
                if s["advantage"] > 0 and r > 1 + lc["eps_high"]:
                    high += 1
            s["old_logprobs"] = old
            if lc["beta"] != 0:
                s["ref_logprobs"] = [f32(t + 0.3 * torch.randn((), generator=gen,
                                                               dtype=torch.float64).item())
                                     for t in s["_true"]]
        if ok and low > 0 and high > 0:
            break
    else:
        raise RuntimeError("could not draw old_logprobs with both-sided clipping")
    out = []
    for s in seqs:
        d = dict(ids=s["ids"], prompt_len=s["prompt_len"], advantage=s["advantage"],
                 old_logprobs=s["old_logprobs"])
        if "ref_logprobs" in s:
            d["ref_logprobs"] = s["ref_logprobs"]
        out.append(d)
    return out


def greedy(model64, prompts, n_new):
    """Greedy continuation recomputing the full sequence each step (the definition, no cache).
    Returns tokens and the smallest top-1/top-2 logit gap seen (float32 must agree on argmax)."""
    res = []
    for pr in prompts:
        ids = list(pr)
        gaps = []
        with torch.no_grad():
            for _ in range(n_new):
                last = seq_logits(model64, ids)[-1]
                top2 = torch.topk(last, 2).values
                gaps.append((top2[0] - top2[1]).item())
                ids.append(int(torch.argmax(last)))
        res.append((ids[len(pr):], min(gaps)))
    return res


def dump_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")


def g12(v):
    """References rounded to 12 significant digits (1e-12 relative is far below any tolerance
    and keeps the files small); lists are rounded element by element."""
    if isinstance(v, list):
        return [g12(x) for x in v]
    return float(f"{v:.12g}")


def run_case(name, arch, extra, lc, layout, out_root, report):
    torch.manual_seed(SEED + sum(map(ord, name)))
    gen = torch.Generator().manual_seed(SEED * 7 + len(name))
    model = build_model(arch, extra)
    d = os.path.join(out_root, name)
    shutil.rmtree(d, ignore_errors=True)
    model.save_pretrained(d, safe_serialization=True)
    rewrite_config(os.path.join(d, "config.json"), layout)
    gc = os.path.join(d, "generation_config.json")
    if os.path.exists(gc):
        os.remove(gc)   # not part of the contract; keeps the fixture to what the C side reads

    # Reload from disk (proves the rewritten config.json loads unchanged) and compute in float64.
    cls = Qwen2ForCausalLM if arch == "qwen2" else LlamaForCausalLM
    m32 = cls.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
    for (n1, p1), (n2, p2) in zip(model.named_parameters(), m32.named_parameters()):
        assert n1 == n2 and torch.equal(p1, p2), (name, n1)
    m64 = cls.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").double().eval()

    with exact64(m64):   # float64 all the way (see hf64.py)
        seqs = make_batch(m64, lc, gen)
        batch = {"loss": lc, "sequences": seqs}
        dump_json(os.path.join(d, "batch.json"), batch)

        m64.zero_grad()
        logps, ents, logits0 = [], [], None
        for i, s in enumerate(seqs):
            lg = seq_logits(m64, s["ids"])
            if i == 0:
                logits0 = lg.detach().clone()
            lp, en = token_stats(lg, s["ids"])
            logps.append(lp)
            ents.append(en.detach())
        # d loss / d logp of each completion token, for testing rl/grpo.c on its own
        leaves = completion_logps(logps, seqs)
        for t in leaves:
            t.retain_grad()
        loss = grpo_loss(leaves, seqs, lc)
        loss.backward()

        grads = {}
        for pname, p in m64.named_parameters():
            g = p.grad if p.grad is not None else torch.zeros_like(p)
            grads[pname] = g.float().contiguous()
        save_file(grads, os.path.join(d, "expected_grads.safetensors"), metadata={"format": "pt"})

        V = logits0.shape[1]
        expected = {
            "loss": loss.item(),
            "logprobs": g12([lp.detach().tolist() for lp in logps]),
            "entropies": g12([e.tolist() for e in ents]),
            "dloss_dlogp": g12([t.grad.tolist() for t in leaves]),
            "stats": loss_stats([t.detach() for t in leaves], seqs, lc),
            "logits_seq0_shape": [logits0.shape[0], V],
            "logits_seq0": g12(logits0.flatten().tolist()),
        }
        dump_json(os.path.join(d, "expected.json"), expected)
        dump_json(os.path.join(d, "expected_logprobs_cli.json"),
                  {"ids": seqs[0]["ids"], "logprobs": g12(logps[0].detach().tolist())})

        # Greedy golden: 3 prompts of different lengths, 10 new tokens, EOS never produced and
        # every argmax decided by a clear margin (redraw the prompt otherwise).
        prompts, outs = [], []
        for plen in (4, 7, 11):
            for _ in range(200):
                pr = [BOS] + torch.randint(3, VOCAB, (plen - 1,), generator=gen).tolist()
                (toks, gap), = greedy(m64, [pr], 10)
                if gap > 1e-3 and EOS not in toks:
                    break
            else:
                raise RuntimeError("no clean greedy prompt")
            prompts.append(pr)
            outs.append(toks)
        dump_json(os.path.join(d, "expected_greedy.json"),
                  {"max_new_tokens": 10, "prompts": prompts, "tokens": outs})

    # Stock transformers in float32 on the same batch: how close a float32 implementation gets.
    m32.zero_grad()
    lp32 = [token_stats(seq_logits(m32, s["ids"]), s["ids"])[0] for s in seqs]
    loss32 = grpo_loss(completion_logps(lp32, seqs), seqs, lc)
    loss32.backward()
    worst_g = 0.0
    for pname, p in m32.named_parameters():
        ref = grads[pname].double()
        got = p.grad.double() if p.grad is not None else torch.zeros_like(ref)
        scale = ref.abs().max().item()
        if scale > 0:
            worst_g = max(worst_g, (got - ref).abs().max().item() / scale)
    worst_lp = max(((a.double() - b.detach()).abs() / b.detach().abs().clamp_min(1e-30)).max().item()
                   for a, b in zip(lp32, logps))
    st = expected["stats"]
    gmax = max(g.abs().max().item() for g in grads.values())
    size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    report[name] = dict(loss=loss.item(), loss_f32=loss32.item(), grad_absmax=gmax,
                        f32_vs_f64_grad_rel=worst_g, f32_vs_f64_logprob_rel=worst_lp,
                        clipped_low=st["n_clip_low"], clipped_high=st["n_clip_high"], bytes=size)


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "fixtures", "golden"))
    args = ap.parse_args()
    torch.set_num_threads(1)   # summation order fixed across machines with different core counts
    os.makedirs(args.out, exist_ok=True)
    report = {}
    for case in CASES:
        run_case(*case, args.out, report)
    import transformers
    report["_versions"] = {"torch": torch.__version__, "transformers": transformers.__version__}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
