#!/usr/bin/env python3
"""Makes tests/fixtures/tokenizer/variants.jsonl: the pipeline options the main fixtures do not
reach (every Split behavior with and without invert, String and Regex patterns, Digits,
ByteLevel add_prefix_space, Metaspace prepend schemes and split, NFD, Replace, Strip and
Metaspace decoders). Each line swaps pre_tokenizer/normalizer/decoder into the gpt2 or
metaspace fixture's tokenizer.json and lists the `tokenizers` library's ids and decodes for a
few lines. Needs the main fixtures (make_tokenizer_fixtures.py) first.

    python3 tests/reference/make_tokenizer_variants.py
"""
import json
import os

from tokenizers import Tokenizer

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "tokenizer")
LINES = ["Hello world, it's 2024!", "  a  b  ", "12 345 6789", "x\t\ty\n z", "café naïve cafe\u0301", "日本 語 🙂",
         "aeiou queue", "", " <sep>x y<sep> ", "▁already▁there", "Zoë's 3.14 \\frac{1}{2}"]
BEH = ["Isolated", "Removed", "MergedWithPrevious", "MergedWithNext", "Contiguous"]


def bytelevel(aps, rx):
    return {"type": "ByteLevel", "add_prefix_space": aps, "trim_offsets": True, "use_regex": rx}


def variants():
    for b in BEH:
        for inv in (False, True):
            for pat in ({"Regex": "\\s+"}, {"String": " "}, {"Regex": "[aeiou]+"}):
                yield "gpt2", {"type": "Sequence", "pretokenizers": [
                    {"type": "Split", "pattern": pat, "behavior": b, "invert": inv}, bytelevel(False, False)]}, None, None
    for aps in (True, False):
        yield "gpt2", bytelevel(aps, True), None, None
        yield "gpt2", {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": aps}, bytelevel(aps, True)]}, \
            {"type": "NFD"}, None
    for ps in ("always", "first", "never"):
        for sp in (True, False):
            ms = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": ps, "split": sp}
            dec = {"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": ps},
                                                    {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
            yield "metaspace", ms, None, dec
            yield "metaspace", {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": False}, ms]}, \
                {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Replace", "pattern": {"String": "a"}, "content": "aa"}]}, dec


def main():
    out = []
    for base, pre, norm, dec in variants():
        j = json.load(open(os.path.join(FIX, base, "tokenizer.json"), encoding="utf-8"))
        j["pre_tokenizer"], j["normalizer"] = pre, norm
        if dec is not None:
            j["decoder"] = dec
        tok = Tokenizer.from_str(json.dumps(j))
        cases = []
        for line in LINES:
            ids = tok.encode(line, add_special_tokens=False).ids
            try:
                decoded = tok.decode(ids, skip_special_tokens=False)
            except BaseException:  # the library panics on some Strip corner cases: no decode check then
                decoded = None
            cases.append({"hex": line.encode().hex(), "ids": ids, "decoded_hex": None if decoded is None else decoded.encode().hex()})
        out.append({"base": base, "pre_tokenizer": pre, "normalizer": norm, "decoder": dec, "cases": cases})
    with open(os.path.join(FIX, "variants.jsonl"), "w", encoding="utf-8") as f:
        for o in out:
            f.write(json.dumps(o, ensure_ascii=False) + "\n")
    print(len(out), "variants")


if __name__ == "__main__":
    main()
