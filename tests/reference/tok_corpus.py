"""A small, varied, deterministic corpus for training the tokenizer fixtures and for the
throughput benchmark: English prose, code with tabs and space runs, numbers, LaTeX, CJK,
Hangul, emoji and flags, combining marks, right-to-left scripts and contractions."""
import random

WORDS = ("the a of to and in is it that was for on are with as his they be at one have this from or had by hot "
         "word but what some we can out other were all there when up use your how said an each she which do their "
         "time if will way about many then them write would like so these her long make thing see him two has look "
         "more day could go come did number sound no most people my over know water than call first who may down "
         "side been now find any new work part take get place made live where after back little only round man year "
         "came show every good me give our under name very through just form sentence great think say help low line "
         "answer reason solve equation prime triangle integer fraction probability function derivative").split()
NAMES = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "ÉLODIE", "Zoë", "José"]
CODE = [
    "def add(a, b):\n\treturn a + b",
    "for (int i = 0; i < n; i++) {\n        sum += x[i] * w[i];\n    }",
    "if __name__ == '__main__':\n    main()",
    "class Stack:\n    def __init__(self):\n        self.items = []",
    "const x = arr.map((v) => v * 2).filter(Boolean);",
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name;",
    "    return {\"ok\": true, \"value\": 42}",
    "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 1 << 10); }",
]
LATEX = [
    r"\frac{a}{b} + \sqrt{x^2 + y^2} = \boxed{42}",
    r"\int_0^1 x^2 \, dx = \frac{1}{3}",
    r"\sum_{k=1}^{n} k = \frac{n(n+1)}{2}",
    r"$\alpha + \beta = \gamma$ and $e^{i\pi} + 1 = 0$",
    r"\begin{pmatrix} 1 & 0 \\ 0 & 1 \end{pmatrix}",
]
CJK = ["我们今天学习数学。", "这个问题的答案是四十二。", "東京は日本の首都です。", "ひらがなとカタカナ", "수학 문제를 풀어 봅시다.",
       "한국어 텍스트", "中文，标点符号！", "漢字とかな混じり文"]
EMOJI = ["🙂", "🚀", "👍🏽", "👨‍👩‍👧", "🇫🇷", "🇯🇵", "❤️", "🎉🎉", "✅"]
RTL = ["مرحبا بالعالم", "السلام عليكم", "שלום עולם", "עברית היא שפה", "اللغة العربية"]
MARKS = ["café", "cafe\u0301", "naïve", "nai\u0308ve", "Å", "A\u030a", "\u212b", "Việt Nam", "Tiếng Việt", "ñandú", "n\u0303",
         "\u1100\u1161\u11a8", "q\u0307\u0323", "o\u0308\u0304"]
CONTRACTIONS = ["it's", "we'll", "they're", "I've", "I'm", "he'd", "don't", "IT'S", "WE'LL", "She'S", "You'Re"]


def sentence(r):
    n = r.randint(3, 14)
    ws = [r.choice(WORDS) for _ in range(n)]
    if r.random() < 0.3:
        ws.insert(r.randint(0, len(ws)), r.choice(NAMES))
    if r.random() < 0.3:
        ws.insert(r.randint(0, len(ws)), r.choice(CONTRACTIONS))
    if r.random() < 0.3:
        ws.insert(r.randint(0, len(ws)), str(r.choice([r.randint(0, 99), r.randint(100, 99999), r.random() * 1000])))
    s = " ".join(ws)
    return s[0].upper() + s[1:] + r.choice([".", "!", "?", ",", ":", ";", "..."])


def line(r):
    k = r.random()
    if k < 0.40:
        return sentence(r)
    if k < 0.52:
        return r.choice(CODE)
    if k < 0.60:
        return r.choice(LATEX)
    if k < 0.70:
        return r.choice(CJK) + (" " + r.choice(CJK) if r.random() < 0.5 else "")
    if k < 0.76:
        return sentence(r) + " " + "".join(r.choice(EMOJI) for _ in range(r.randint(1, 3)))
    if k < 0.82:
        return r.choice(RTL) + " " + str(r.randint(0, 2024))
    if k < 0.88:
        return " ".join(r.choice(MARKS) for _ in range(r.randint(1, 4)))
    if k < 0.94:
        return "Q: What is %d + %d? A: %d" % ((a := r.randint(0, 999)), (b := r.randint(0, 999)), a + b)
    return "  ".join(str(r.randint(0, 10 ** r.randint(1, 9))) for _ in range(r.randint(1, 6)))


def corpus(n, seed=1):
    r = random.Random(seed)
    return [line(r) for _ in range(n)]
