#!/usr/bin/env python3
"""Makes data/glove/glove-100d-top20k.wv, the GloVe subset shipped with semid.

Input: a GloVe text file, most frequent words first (GloVe 6B, 100 dimensions:
glove-100d-top100k.txt). Output: the first TOP words plus every word of the
synthetic dataset's vocabulary (src/data/synth_words.c) and a list of common
topic words that appear further down the input, in semid's compact binary
word-vector format (see src/text/wordvec.h): int8 values with a float32
scale per row.

usage: make_subset.py GLOVE_TXT OUT.wv [--top 20000]
"""
import os
import re
import struct
import sys

TOP = 20000
EXTRA = """space planet detective murder romance war music alien asteroid galaxy astronaut
spaceship robot cyborg wizard dragon vampire zombie ghost haunted heist gangster cowboy
sheriff outlaw samurai ninja pirate treasure jungle safari dinosaur volcano tsunami
submarine mermaid fairy witch sorcerer kingdom princess knight castle prophecy
thriller comedy documentary musical animation noir western horror fantasy adventure
romantic sci fi scifi biopic superhero villain spy espionage assassin detective
inspector orphan teenager nostalgia friendship betrayal redemption revenge survival
courtroom lawyer jury heist prison escape dystopia dystopian apocalypse apocalyptic""".split()


def synth_words(root):
    path = os.path.join(root, "src", "data", "synth_words.c")
    if not os.path.exists(path):
        return []
    text = open(path, encoding="utf-8").read()
    words = []
    for lit in re.findall(r'"([^"\\]*)"', text):
        words.extend(w.lower() for w in re.findall(r"[A-Za-z]+", lit))
    return words


def main():
    args = sys.argv[1:]
    top = TOP
    if "--top" in args:
        i = args.index("--top")
        top = int(args[i + 1])
        del args[i:i + 2]
    src, out = args
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    wanted = set(EXTRA) | set(synth_words(root))
    rows = []
    seen = set()
    with open(src, encoding="utf-8") as f:
        for i, line in enumerate(f):
            parts = line.rstrip("\n").split(" ")
            word = parts[0]
            if word in seen:
                continue
            if i < top or word in wanted:
                vals = [float(x) for x in parts[1:]]
                rows.append((word, vals))
                seen.add(word)
    dim = len(rows[0][1])
    missing = sorted(w for w in wanted if w not in seen)
    buf = bytearray(b"SEMIDWV\0")
    buf += struct.pack("<IIII", 1, len(rows), dim, 1)
    for word, vals in rows:
        wb = word.encode("utf-8")
        assert 0 < len(wb) < 256 and len(vals) == dim
        amax = max(abs(v) for v in vals)
        scale = amax / 127.0 if amax > 0 else 1.0
        scale = struct.unpack("<f", struct.pack("<f", scale))[0]
        q = [max(-127, min(127, int(round(v / scale)))) for v in vals]
        buf += bytes([len(wb)]) + wb + struct.pack("<f", scale) + struct.pack("<%db" % dim, *q)
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(buf)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out)
    print("%s: %d words x %d, %d bytes; wanted words not in GloVe: %s"
          % (out, len(rows), dim, len(buf), " ".join(missing) or "none"))


if __name__ == "__main__":
    main()
