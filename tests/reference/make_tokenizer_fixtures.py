#!/usr/bin/env python3
"""Makes tests/fixtures/tokenizer/*: small BPE tokenizers trained with the Hugging Face
`tokenizers` library (pip install tokenizers) and the ids it gives for tricky lines, which
tests/test_tokenizer.c compares with ours. CI never runs this; it only reads the outputs.

    python3 tests/reference/make_tokenizer_fixtures.py             # new lines, same tokenizers
    python3 tests/reference/make_tokenizer_fixtures.py --retrain   # train the tokenizers again

Tokenizers (each DIR holds tokenizer.json, tokenizer_config.json, expected.jsonl):
  gpt2    ByteLevel(use_regex=True) as GPT-2; specials <|endoftext|> <think> </think>, and <sep>
          with lstrip/rstrip
  qwen2   NFC + Split(Qwen2 regex, Isolated) + ByteLevel(use_regex=False); specials
          <|endoftext|> <|im_start|> <|im_end|>; normalized added tokens <think> </think> <answer> </answer>
  llama3  Split(Llama 3 regex) + ByteLevel(use_regex=False), ignore_merges, BOS template
  llama2  Llama 2 / TinyLlama: normalizer Prepend("▁") + Replace(" ", "▁"), no pre-tokenizer,
          BPE with byte_fallback and <0x00>..<0xFF>, decoder Replace/ByteFallback/Fuse/Strip
  smollm  Sequence[Digits(individual_digits), ByteLevel(use_regex=True)] as SmolLM2 / StarCoder
  metaspace  the older SentencePiece layout: Metaspace pre-tokenizer (prepend_scheme "first",
          split) and decoder, byte fallback

expected.jsonl has one object per test line: "hex" (the line's bytes), "ids" (the library's
encode(add_special_tokens=False)), "decoded_hex" (its decode), and "text" when readable.

The trainer is not bit-reproducible run to run (thread timing breaks ties), which is why the
tokenizers are committed and only --retrain makes new ones.

Lines that are not valid UTF-8 cannot be given to the library. Their expectations follow our
documented semantics, built from library calls on valid pieces:
  byte-level tokenizers: the line is cut at every invalid byte; each valid run is encoded by
    the library, each invalid byte is the id of its byte-level character; decode is the line.
  llama2: each invalid byte is replaced by U+E000 (not in the vocab, so it goes through byte
    fallback exactly as an unknown character), the library encodes that, and each
    <0xEE><0x80><0x80> triple is replaced by the invalid byte's <0xXX> token.
"""
import json
import os
import sys

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tok_corpus  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "tokenizer")
QWEN2 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
LLAMA3 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

LINES = [
    "Hello, world!", "The quick brown fox jumps over the lazy dog.", "",
    "it's we'll they're I've I'm he'd don't", "IT'S WE'LL THEY'RE I'VE She'S You'Re", "'s'll'S",
    "def f(x):\n\treturn x  *  2", "\t\tindented\twith\ttabs", "a    b        c", "trailing spaces   ", "   leading",
    "  \n\n  \r\n mixed \r line endings\n", "x = [1, 2, 3]  # comment", "if (a&&b) { return -1; }",
    "3.14159 2718281828 1,000,000 -42 1e-9 0x1F", "12345678901234567890", "Q: What is 17 * 23? A: 391",
    r"\frac{1}{2} + \sqrt{2} = \boxed{x}", r"$\int_0^\infty e^{-x^2}\,dx = \frac{\sqrt\pi}{2}$",
    "我们今天学习数学。这个问题的答案是四十二。", "東京は日本の首都です。", "수학 문제를 풀어 봅시다.", "한국어",
    "Emoji: 🙂🚀👍🏽 family 👨‍👩‍👧 flags 🇫🇷🇯🇵 heart ❤️", "🎉", "✅ done",
    "مرحبا بالعالم 2024", "שלום עולם", "mixed: hello مرحبا world",
    "café cafe\u0301", "nai\u0308ve naïve", "A\u030a Å \u212b", "\u1100\u1161\u11a8 각", "q\u0307\u0323 q\u0323\u0307",
    "o\u0308\u0304 ǫ\u0301", "Tiê\u0301ng Vie\u0323\u0302t",
    "<|endoftext|>", "Hello<|endoftext|>world", "a <think>reasoning</think> <answer>42</answer>",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n", "<<think>>", "<think", "</think></think>",
    "x <sep> y", "x<sep>y", "  <sep>  ", "<s>hi</s> <unk>", "<|begin_of_text|>Hi<|end_of_text|>",
    "\u00a0non-breaking\u3000ideographic space", "zero\u200bwidth", "tab\tand\u000bvtab", "NUL\u0000byte",
    "ÀÉÎÕÜ àéîõü ß ẞ", "ελληνικά Ελληνικά", "русский Русский", "हिन्दी", "ไทย", "\U0001F600\U0001F64F",
    "private \ue001 use", "a" * 200, "ab" * 100 + " " + "xyz " * 50,
    "mongolian\u180evowel  \u180e sep \u180e", "\u0085next\u2028line\u2029para\u205fmath\u1680ogham",
    "'\u017f 'K \u017fs '\u212a'S", "\x1c\x1d\x1e\x1f info separators",
]
INVALID = [
    b"\xff", b"abc\xfe\xffdef", b"caf\xc3", b"\xc3\xa9\xc3", b"\xed\xa0\x80 surrogate", b"\xf4\x90\x80\x80 too big",
    b"\xc0\xaf overlong", b"  \xff  x", b"<think>\xff</think>", b"\x80\x80\x80", b"ok \xe6\x88 cut", b"\xf0\x9f\x99 emoji cut",
]


def utf8_len(b, i):
    """Length of a valid UTF-8 character at b[i], 0 if invalid: the same rule as tok_utf8_len."""
    c = b[i]
    if c < 0x80:
        return 1
    if c < 0xC2 or c > 0xF4:
        return 0
    n = 2 if c < 0xE0 else 3 if c < 0xF0 else 4
    if len(b) - i < n or any(b[i + k] & 0xC0 != 0x80 for k in range(1, n)):
        return 0
    s1 = b[i + 1]
    if (c == 0xE0 and s1 < 0xA0) or (c == 0xED and s1 > 0x9F) or (c == 0xF0 and s1 < 0x90) or (c == 0xF4 and s1 > 0x8F):
        return 0
    return n


def pieces(b):
    """[(is_valid, bytes)] cutting at every invalid byte."""
    out, i, run = [], 0, 0
    while i < len(b):
        n = utf8_len(b, i)
        if n:
            i += n
            continue
        if i > run:
            out.append((True, b[run:i]))
        out.append((False, b[i:i + 1]))
        i += 1
        run = i
    if run < len(b):
        out.append((True, b[run:]))
    return out


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


B2U = bytes_to_unicode()


def expect_bytelevel(tok, b):
    try:
        text = b.decode("utf-8")
        ids = tok.encode(text, add_special_tokens=False).ids
        return ids, tok.decode(ids, skip_special_tokens=False).encode("utf-8")
    except UnicodeDecodeError:
        ids = []
        for ok, p in pieces(b):
            ids += tok.encode(p.decode("utf-8"), add_special_tokens=False).ids if ok else [tok.token_to_id(B2U[p[0]])]
        return ids, b


def expect_llama2(tok, b):
    try:
        text = b.decode("utf-8")
        ids = tok.encode(text, add_special_tokens=False).ids
        return ids, tok.decode(ids, skip_special_tokens=False).encode("utf-8")
    except UnicodeDecodeError:
        bad = [p[0] for ok, p in pieces(b) if not ok]
        text = "".join(p.decode("utf-8") if ok else "\ue000" for ok, p in pieces(b))
        ids = tok.encode(text, add_special_tokens=False).ids
        pua = [tok.token_to_id("<0x%02X>" % x) for x in b"\xee\x80\x80"]
        out, i, k = [], 0, 0
        while i < len(ids):
            if ids[i:i + 3] == pua:
                out.append(tok.token_to_id("<0x%02X>" % bad[k]))
                k += 1
                i += 3
            else:
                out.append(ids[i])
                i += 1
        assert k == len(bad), "U+E000 did not fall back to bytes"
        dec = tok.decode(ids, skip_special_tokens=False).encode("utf-8")
        for x in bad:
            dec = dec.replace("\ue000".encode("utf-8"), bytes([x]), 1)
        return out, dec


def train(tok, vocab, specials, **kw):
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=specials, show_progress=False, **kw)
    tok.train_from_iterator(tok_corpus.corpus(6000), trainer=trainer)
    return tok


def make_gpt2():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    train(tok, 1200, ["<|endoftext|>", "<think>", "</think>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.add_special_tokens([AddedToken("<sep>", lstrip=True, rstrip=True, special=True, normalized=False)])
    cfg = {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "pad_token": None, "add_bos_token": False}
    return tok, cfg


def make_qwen2():
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    train(tok, 1500, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.add_tokens([AddedToken(t, normalized=True, special=False) for t in ["<think>", "</think>", "<answer>", "</answer>"]])
    cfg = {"bos_token": None, "eos_token": "<|endoftext|>", "pad_token": {"content": "<|endoftext|>", "special": True},
           "add_bos_token": False}
    return tok, cfg


def make_llama3():
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    train(tok, 1500, ["<|begin_of_text|>", "<|end_of_text|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|>:1 $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)])])
    cfg = {"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>"}  # no add_bos_token: the template decides
    return tok, cfg


def make_smollm():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    train(tok, 1000, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    cfg = {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "pad_token": "<|im_end|>", "add_bos_token": False}
    return tok, cfg


def make_metaspace():
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    tok.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace(replacement="▁", prepend_scheme="first")])
    train(tok, 1000, ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)], limit_alphabet=150)
    d = json.loads(tok.to_str())
    d["added_tokens"] = [a for a in d["added_tokens"] if a["content"] in ("<unk>", "<s>", "</s>")]
    tok = Tokenizer.from_str(json.dumps(d))
    cfg = {"bos_token": "<s>", "eos_token": "</s>", "add_bos_token": True}
    return tok, cfg


def make_llama2():
    specials = ["<unk>", "<s>", "</s>"]
    byte_toks = ["<0x%02X>" % b for b in range(256)]
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    # Train on Metaspace words (SentencePiece never merges across "▁" word starts) ...
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    train(tok, 1200, specials + byte_toks, limit_alphabet=150)
    # ... then use Llama 2's tokenizer.json layout, with the byte tokens as plain vocab entries.
    d = json.loads(tok.to_str())
    d["added_tokens"] = [a for a in d["added_tokens"] if a["content"] in specials]
    d["normalizer"] = {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
                                                          {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}
    d["pre_tokenizer"] = None
    d["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"},
        {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
    d["post_processor"] = {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                                                   {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}}
    d["model"]["ignore_merges"] = False
    tok = Tokenizer.from_str(json.dumps(d))
    cfg = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": None, "add_bos_token": True}
    return tok, cfg


def write(name, tok, cfg, expect, string_merges=False):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    j = json.loads(tok.to_str())
    if string_merges:  # the older "a b" form of merges, as GPT-2's own tokenizer.json
        j["model"]["merges"] = [" ".join(m) for m in j["model"]["merges"]]
        tok = Tokenizer.from_str(json.dumps(j))
    # compact but valid JSON (one merge per line would double the size)
    with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(j, ensure_ascii=False, separators=(",", ":")))
    with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, ensure_ascii=False, indent=1)
    with open(os.path.join(d, "expected.jsonl"), "w", encoding="utf-8") as f:
        for b in [x.encode("utf-8") for x in LINES] + INVALID:
            ids, dec = expect(tok, b)
            o = {"hex": b.hex(), "ids": ids, "decoded_hex": dec.hex()}
            try:
                o["text"] = b.decode("utf-8")
            except UnicodeDecodeError:
                pass
            f.write(json.dumps(o, ensure_ascii=False) + "\n")
    print(name, tok.get_vocab_size(), "tokens")


def main():
    if "--retrain" not in sys.argv:  # keep the committed tokenizers, rewrite the expectations
        for name, expect in [("gpt2", expect_bytelevel), ("qwen2", expect_bytelevel), ("llama3", expect_bytelevel),
                             ("llama2", expect_llama2), ("smollm", expect_bytelevel), ("metaspace", expect_llama2)]:
            d = os.path.join(OUT, name)
            tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
            write(name, tok, json.load(open(os.path.join(d, "tokenizer_config.json"))), expect, string_merges=name == "gpt2")
        return
    tok, cfg = make_gpt2()
    write("gpt2", tok, cfg, expect_bytelevel, string_merges=True)
    tok, cfg = make_qwen2()
    write("qwen2", tok, cfg, expect_bytelevel)
    tok, cfg = make_llama3()
    write("llama3", tok, cfg, expect_bytelevel)
    tok, cfg = make_llama2()
    write("llama2", tok, cfg, expect_llama2)
    tok, cfg = make_smollm()
    write("smollm", tok, cfg, expect_bytelevel)
    tok, cfg = make_metaspace()
    write("metaspace", tok, cfg, expect_llama2)


if __name__ == "__main__":
    main()
