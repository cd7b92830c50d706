#!/usr/bin/env python3
"""Differential check: random strings over a hostile alphabet (every kind of Unicode space,
case-folding traps such as U+017F and U+212A, combining marks, other scripts' digits, emoji
parts, special tokens, CR/LF) encoded and decoded by `grpo tokenize` and by the `tokenizers`
library with each fixture tokenizer. Prints the differences; CI does not run it.

    python3 tests/reference/diff_tokenizer_random.py build/grpo [SEED] [N]
"""
import json
import os
import random
import subprocess
import sys

from tokenizers import Tokenizer

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "tokenizer")
ALPH = (list("abcXYZ '\"sStTlLdDmMrReEvV.,;:!?-_()[]{}<>|/\\0123456789\t\r ") +
        ["\u00a0", "\u0085", "\u1680", "\u180e", "\u2000", "\u2009", "\u200a", "\u200b", "\u2028", "\u2029", "\u202f", "\u205f",
         "\u3000", "\ufeff", "\u000b", "\u000c", "\u001c", "\u001f", "é", "e\u0301", "\u0301", "\u0308", "ß", "İ", "ı", "Σ", "ς",
         "ǅ", "ﬁ", "Ⅷ", "²", "½", "٣", "০", "１", "𝟘", "𝐀", "日", "本", "ー", "ｶ", "한", "\u1100", "\u1161", "\u11a8", "🙂", "👍",
         "🏽", "\u200d", "🇫", "🇷", "❤", "\ufe0f", "ا", "ب", "\u064b", "א", "\u05b0", "ก", "\u0e31", "\u0915", "\u094d", "ऀ",
         "\U000e0001", "\ue000", "\U0010ffff", "\u00ad", "\u2060", "'ſ", "ſ", "'\u212a", "\u212a", "'ǈ", "'\u0130", "'T", "'D",
         "'M", "'VE", "'s", "'S", "'ll", "'LL", "'Re", "<|im_start|>", "<think>", "</think>", "<|endoftext|>", "<s>", "<sep>",
         "\r\n", "  ", "    "])


def main():
    grpo = sys.argv[1]
    r = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 3000
    lines = ["".join(r.choice(ALPH) for _ in range(r.randint(0, 25))).replace("\n", " ") for _ in range(n)]
    total = bad = 0
    for name in sorted(os.listdir(FIX)):
        d = os.path.join(FIX, name)
        if not os.path.isdir(d):
            continue
        hf = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
        run = lambda args, text: subprocess.run([grpo, "tokenize", "--tokenizer", d] + args, input=text.encode(),
                                                capture_output=True, check=True).stdout.decode().split("\n")[:-1]
        ours = [json.loads(x) for x in run([], "\n".join(lines) + "\n")]
        theirs = [hf.encode(x, add_special_tokens=False).ids for x in lines]
        decoded = [json.loads(x) for x in run(["--decode"], "\n".join(json.dumps(t) for t in theirs) + "\n")]
        for text, a, b, dec in zip(lines, ours, theirs, decoded):
            total += 1
            want = hf.decode(b, skip_special_tokens=False)
            if a != b or dec != want:
                bad += 1
                print("DIFF", name, repr(text), "ours", a, "theirs", b, "decode", repr(dec), repr(want))
    print("lines x tokenizers:", total, "differences:", bad)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
