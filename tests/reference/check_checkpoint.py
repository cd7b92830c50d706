#!/usr/bin/env python3
"""Does a model directory written by grpo load unchanged in transformers and give the same logits?

Loads DIR with AutoModelForCausalLM (stock transformers, float32; BF16/F16 checkpoints are
upcast on load) and compares its outputs on a token sequence with an expected file:

  --expected FILE   JSON with any of
                      "logprobs": [...]            (e.g. the output of `grpo logprobs`;
                                                    a list of lists: the first is used)
                      "logits_seq0": [...flat...], "logits_seq0_shape": [L, V]
                                                   (tests/fixtures/golden/*/expected.json)
                      "ids": [...]                 (expected_logprobs_cli.json has them)
  --ids "i0 i1 ..." the token ids, when FILE has none (or --batch BATCH.json: its sequence 0)

Typical uses:
  # a golden model saved back by grpo (round trip) still matches the golden logits
  python tests/reference/check_checkpoint.py --model OUT_DIR \\
      --expected tests/fixtures/golden/qwen2_tied_gqa/expected.json \\
      --batch tests/fixtures/golden/qwen2_tied_gqa/batch.json
  # a model grpo trained and saved: transformers agrees with `grpo logprobs`
  grpo logprobs --model OUT_DIR --ids "1 5 9 42" > lp.json
  python tests/reference/check_checkpoint.py --model OUT_DIR --expected lp.json --ids "1 5 9 42"

Tolerances: log-probs relative 1e-4 (issue 3), logits 1e-4 of the largest |logit| (F32
checkpoints; pass --rtol 2e-2 for BF16 ones compared with float32 references). Prints one JSON
object; exit 0 when everything compared agrees, 1 otherwise, 2 on bad usage.
"""
import argparse
import json
import sys

import torch
from transformers import AutoConfig, AutoModelForCausalLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--expected", required=True)
    ap.add_argument("--ids")
    ap.add_argument("--batch")
    ap.add_argument("--rtol", type=float, default=1e-4)
    a = ap.parse_args()

    exp = json.load(open(a.expected))
    if a.ids:
        ids = [int(x) for x in a.ids.replace(",", " ").split()]
    elif a.batch:
        ids = json.load(open(a.batch))["sequences"][0]["ids"]
    elif "ids" in exp:
        ids = exp["ids"]
    else:
        print("check_checkpoint: no token ids: give --ids, --batch, or an expected file with \"ids\"",
              file=sys.stderr)
        sys.exit(2)
    if "logprobs" not in exp and "logits_seq0" not in exp:
        print(f"check_checkpoint: {a.expected}: neither \"logprobs\" nor \"logits_seq0\"", file=sys.stderr)
        sys.exit(2)

    cfg = AutoConfig.from_pretrained(a.model)
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32, attn_implementation="eager").eval()
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids]), use_cache=False).logits[0].double()
    lsm = torch.log_softmax(logits, dim=-1)
    lp = lsm[:-1].gather(1, torch.tensor(ids[1:])[:, None])[:, 0]

    res = {"model": a.model, "model_type": cfg.model_type, "n_ids": len(ids),
           "params": sum(p.numel() for p in model.parameters()), "ok": True}
    if "logprobs" in exp:
        ref = exp["logprobs"]
        if ref and isinstance(ref[0], list):   # expected.json: one list per batch sequence
            ref = ref[0]
        ref = torch.tensor(ref, dtype=torch.float64)
        if ref.numel() != lp.numel():
            res.update(ok=False, logprobs_error=f"expected {ref.numel()} log-probs, model gives {lp.numel()}")
        else:
            rel = ((lp - ref).abs() / ref.abs().clamp_min(1e-6)).max().item()
            res["logprobs_max_rel_err"] = rel
            res["ok"] &= rel <= a.rtol
    if "logits_seq0" in exp:
        L, V = exp["logits_seq0_shape"]
        ref = torch.tensor(exp["logits_seq0"], dtype=torch.float64).reshape(L, V)
        if tuple(logits.shape) != (L, V):
            res.update(ok=False, logits_error=f"expected shape {[L, V]}, model gives {list(logits.shape)}")
        else:
            rel = ((logits - ref).abs().max() / ref.abs().max()).item()
            res["logits_max_err_rel_to_max"] = rel
            res["ok"] &= rel <= a.rtol
    print(json.dumps(res))
    sys.exit(0 if res["ok"] else 1)


if __name__ == "__main__":
    main()
