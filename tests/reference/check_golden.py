#!/usr/bin/env python3
"""Re-derives the committed golden files by other routes and fails if any disagrees.

For every case in tests/fixtures/golden/:
  - the model directory loads in transformers with the stored weights (AutoModelForCausalLM);
  - log-probs and entropies of sequence 0 follow from the stored logits (numpy log-softmax);
  - the loss and d loss / d logp follow from batch.json + expected log-probs through a numpy
    implementation of design.md's formula with the gradient written out by hand (not autograd);
  - sampled entries of expected_grads.safetensors match central finite differences of the loss
    in float64 (model forward in transformers, loss in numpy);
  - the greedy tokens match transformers' generate() in float64 with the KV cache on;
  - llama3_rope: dropping rope_scaling changes the log-probs (the scaling is exercised).
Run:  python tests/reference/check_golden.py [--dir tests/fixtures/golden]
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from safetensors.numpy import load_file
from transformers import AutoConfig, AutoModelForCausalLM

from hf64 import exact64

FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what)


def np_loss(comp_logps, batch):
    """design.md's loss and its gradient w.r.t. each completion log-prob, by hand."""
    lc, seqs = batch["loss"], batch["sequences"]
    el, eh, beta = lc["eps_low"], lc["eps_high"], lc["beta"]
    toks, grads = [], []
    for lp, s in zip(comp_logps, seqs):
        lp = np.asarray(lp, dtype=np.float64)
        old = np.asarray(s["old_logprobs"], dtype=np.float64)
        a = s["advantage"]
        r = np.exp(lp - old)
        rc = np.clip(r, 1 - el, 1 + eh)
        t = -np.minimum(r * a, rc * a)
        # the clipped branch is the min only where clipping lowers r*A; there d/dlogp = 0
        active = ~(((a > 0) & (r > 1 + eh)) | ((a < 0) & (r < 1 - el)))
        g = np.where(active, -a * r, 0.0)
        if beta != 0:
            ref = np.asarray(s["ref_logprobs"], dtype=np.float64)
            t = t + beta * (np.exp(ref - lp) - (ref - lp) - 1)
            g = g + beta * (1 - np.exp(ref - lp))
        toks.append(t)
        grads.append(g)
    n = len(seqs)
    if lc["type"] == "grpo":
        loss = sum(t.mean() for t in toks) / n
        grads = [g / (len(g) * n) for g in grads]
    elif lc["type"] in ("bnpo", "dapo"):
        cnt = sum(len(t) for t in toks)
        loss = sum(t.sum() for t in toks) / cnt
        grads = [g / cnt for g in grads]
    elif lc["type"] == "dr_grpo":
        den = n * lc["max_completion_len"]
        loss = sum(t.sum() for t in toks) / den
        grads = [g / den for g in grads]
    else:
        raise ValueError(lc["type"])
    return loss, grads


def model_logps(model, batch):
    out = []
    with torch.no_grad():
        for s in batch["sequences"]:
            ids = s["ids"]
            lg = model(input_ids=torch.tensor([ids]), use_cache=False).logits[0].numpy()
            lsm = lg[:-1] - np.log(np.exp(lg[:-1] - lg[:-1].max(-1, keepdims=True)).sum(-1, keepdims=True)) \
                - lg[:-1].max(-1, keepdims=True)
            lp = lsm[np.arange(len(ids) - 1), ids[1:]]
            out.append(lp[s["prompt_len"] - 1:])
    return out


def check_case(d, rng):
    name = os.path.basename(d)
    batch = json.load(open(os.path.join(d, "batch.json")))
    exp = json.load(open(os.path.join(d, "expected.json")))
    grads = load_file(os.path.join(d, "expected_grads.safetensors"))
    weights = load_file(os.path.join(d, "model.safetensors"))
    stock = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
    model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32,
                                                 attn_implementation="eager").double().eval()
    with exact64(model):
        check_case_model(d, name, batch, exp, grads, weights, stock, model, rng)


def check_case_model(d, name, batch, exp, grads, weights, stock, model, rng):
    params = dict(model.named_parameters())
    check(set(params) == set(grads), f"{name}: gradient names == parameter names")
    for n, w in weights.items():
        check(np.array_equal(params[n].detach().float().numpy(), w), f"{name}: {n} loads unchanged")
    for n, g in grads.items():
        check(g.shape == tuple(params[n].shape) and g.dtype == np.float32, f"{name}: {n} grad shape/dtype")

    # log-probs / entropies of sequence 0 from the stored logits
    L, V = exp["logits_seq0_shape"]
    lg = np.asarray(exp["logits_seq0"], dtype=np.float64).reshape(L, V)
    ids = batch["sequences"][0]["ids"]
    m = lg.max(-1, keepdims=True)
    lsm = lg - m - np.log(np.exp(lg - m).sum(-1, keepdims=True))
    lp0 = lsm[np.arange(L - 1), ids[1:]]
    ent0 = -(np.exp(lsm) * lsm).sum(-1)[:-1]
    check(np.allclose(lp0, exp["logprobs"][0], rtol=1e-9, atol=1e-9), f"{name}: logprobs[0] from logits")
    check(np.allclose(ent0, exp["entropies"][0], rtol=1e-9, atol=1e-9), f"{name}: entropies[0] from logits")
    cli = json.load(open(os.path.join(d, "expected_logprobs_cli.json")))
    check(cli["ids"] == ids and np.allclose(cli["logprobs"], exp["logprobs"][0], rtol=0, atol=0),
          f"{name}: expected_logprobs_cli.json == sequence 0")

    # loss and d loss / d logp by hand
    comp = [np.asarray(lp)[s["prompt_len"] - 1:] for lp, s in zip(exp["logprobs"], batch["sequences"])]
    for lp, s in zip(comp, batch["sequences"]):
        check(len(lp) == len(s["ids"]) - s["prompt_len"] == len(s["old_logprobs"]), f"{name}: lengths")
    loss, dl = np_loss(comp, batch)
    check(abs(loss - exp["loss"]) <= 1e-9 * max(1.0, abs(loss)), f"{name}: loss {loss} vs {exp['loss']}")
    for i, (a, b) in enumerate(zip(dl, exp["dloss_dlogp"])):
        check(np.allclose(a, b, rtol=1e-8, atol=1e-12), f"{name}: dloss_dlogp[{i}]")

    # token statistics
    lc = batch["loss"]
    r = [np.exp(lp - np.asarray(sq["old_logprobs"])) for lp, sq in zip(comp, batch["sequences"])]
    st = exp["stats"]
    check(st["n_tokens"] == sum(len(x) for x in r), f"{name}: stats n_tokens")
    check(st["n_clip_low"] == sum(int(((x < 1 - lc["eps_low"]) & (sq["advantage"] < 0)).sum())
                                  for x, sq in zip(r, batch["sequences"])), f"{name}: stats n_clip_low")
    check(st["n_clip_high"] == sum(int(((x > 1 + lc["eps_high"]) & (sq["advantage"] > 0)).sum())
                                   for x, sq in zip(r, batch["sequences"])), f"{name}: stats n_clip_high")
    check(st["n_clip_low"] > 0 and st["n_clip_high"] > 0, f"{name}: batch clips on both sides")
    check(abs(st["ratio_token_mean"] - np.concatenate(r).mean()) < 1e-9, f"{name}: stats ratio_token_mean")
    if lc["beta"] != 0:
        dkl = np.concatenate([np.asarray(sq["ref_logprobs"]) - lp for lp, sq in zip(comp, batch["sequences"])])
        check(abs(st["kl_token_mean"] - (np.exp(dkl) - dkl - 1).mean()) < 1e-9, f"{name}: stats kl_token_mean")

    # the model's own forward agrees with expected log-probs; stock float32 transformers within 1e-5
    mlp = model_logps(model, batch)
    for i, (a, b) in enumerate(zip(mlp, comp)):
        check(np.allclose(a, b, rtol=1e-9, atol=1e-9), f"{name}: model log-probs seq {i}")
    for i, (a, b) in enumerate(zip(model_logps(stock, batch), comp)):
        rel = np.max(np.abs(a - b) / np.abs(b))
        check(rel < 1e-5, f"{name}: stock float32 transformers log-probs seq {i} (rel {rel:.2g})")

    # finite differences of the loss for sampled gradient entries
    picks = ["model.embed_tokens.weight", "model.norm.weight", "model.layers.0.self_attn.q_proj.weight",
             "model.layers.1.self_attn.k_proj.weight", "model.layers.0.mlp.down_proj.weight",
             "model.layers.1.input_layernorm.weight", "model.layers.0.self_attn.q_proj.bias",
             "model.layers.1.self_attn.v_proj.bias", "lm_head.weight"]
    h = 1e-5
    worst = 0.0
    for pn in picks:
        if pn not in params:
            continue
        p = params[pn]
        g = grads[pn]
        flat = np.abs(g).reshape(-1)
        # two entries: the largest-gradient one and a random one
        for idx in (int(flat.argmax()), int(rng.integers(flat.size))):
            with torch.no_grad():
                orig = p.view(-1)[idx].item()
                p.view(-1)[idx] = orig + h
                lp_ = np_loss(model_logps(model, batch), batch)[0]
                p.view(-1)[idx] = orig - h
                lm_ = np_loss(model_logps(model, batch), batch)[0]
                p.view(-1)[idx] = orig
            fd = (lp_ - lm_) / (2 * h)
            err = abs(fd - g.reshape(-1)[idx]) / max(flat.max(), 1e-12)
            worst = max(worst, err)
            check(err < 1e-6, f"{name}: finite difference {pn}[{idx}] {fd} vs {g.reshape(-1)[idx]}")

    # greedy tokens via generate() with the KV cache
    gr = json.load(open(os.path.join(d, "expected_greedy.json")))
    for pr, toks in zip(gr["prompts"], gr["tokens"]):
        for label, m in (("float64", model), ("stock float32", stock)):
            with torch.no_grad():
                out = m.generate(torch.tensor([pr]), max_new_tokens=gr["max_new_tokens"], do_sample=False,
                                 use_cache=True, eos_token_id=None, pad_token_id=0)
            check(out[0, len(pr):].tolist() == toks, f"{name}: {label} greedy tokens for prompt of {len(pr)}")

    if name == "llama3_rope":
        cfg = AutoConfig.from_pretrained(d)
        rp = dict(cfg.rope_parameters)
        check(rp.get("rope_type") == "llama3", f"{name}: config has llama3 scaling")
        cfg.rope_parameters = {"rope_type": "default", "rope_theta": rp["rope_theta"]}
        plain = AutoModelForCausalLM.from_pretrained(d, config=cfg, dtype=torch.float32,
                                                     attn_implementation="eager").eval()
        diff = max(np.abs(a - b).max() for a, b in zip(model_logps(plain, batch), comp))
        check(diff > 1e-2, f"{name}: rope_scaling matters (max log-prob change {diff})")
        print(f"  {name}: ignoring rope_scaling changes log-probs by up to {diff:.3g}")
    print(f"{name}: checked (worst finite-difference error {worst:.2g} of tensor max)")


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--dir", default=os.path.join(here, "..", "fixtures", "golden"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(7)
    cases = sorted(e for e in os.listdir(args.dir) if os.path.isdir(os.path.join(args.dir, e)))
    for c in cases:
        check_case(os.path.join(args.dir, c), rng)
    print(f"{len(cases)} cases, {len(FAILS)} failures")
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()
