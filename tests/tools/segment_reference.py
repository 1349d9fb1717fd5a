#!/usr/bin/env python3
"""Independent reference implementation of docs/method.md section 1, with Python's re, used to
make the golden files under tests/golden/ (so the goldens do not come from the C++ code).

  python3 tests/tools/segment_reference.py IN.jsonl > OUT.jsonl   (IN may be .zst via zstd -dc)

Output per record: {"id": ..., "spans": [[begin, end, special], ...]} with byte offsets.
"""
import json
import re
import sys

WS = " \t\n\r\f\v"
# Markers: an inside of 1 to 60 bytes without ASCII whitespace, "<", ">" or "|"; it ends at the first
# closing bar (non-greedy). Longer candidates are filtered by their UTF-8 length below.
SPECIAL = re.compile(r"<think>|</think>|<\|[^ \t\n\r\f\v<>|]+?\|>|<\uff5c[^ \t\n\r\f\v<>|]+?\uff5c>")


def is_special(m):
    s = m.group(0)
    if s in ("<think>", "</think>"):
        return True
    return 1 <= len(s[2:-2].encode("utf-8")) <= 60
CUT = re.compile(r"([.?!}\]])([ \t\n\r\f\v]+)([A-Z])")


def segment(text):
    b = text.encode("utf-8")
    pieces = []  # (start_char, end_char, special)
    pos = 0
    for m in SPECIAL.finditer(text):
        if not is_special(m):
            continue
        if m.start() > pos:
            pieces += split_text(text, pos, m.start())
        pieces.append((m.start(), m.end(), True))
        pos = m.end()
    if pos < len(text):
        pieces += split_text(text, pos, len(text))
    out, pending = [], None
    for s, e, sp in pieces:
        if not sp and text[s:e].strip(WS) == "":
            pending = s if pending is None else pending
            continue
        if pending is not None:
            s, pending = pending, None
        out.append([s, e, sp])
    if pending is not None:
        if out:
            out[-1][1] = len(text)
        else:
            out.append([pending, len(text), False])
    # characters -> bytes
    off = [0]
    for ch in text:
        off.append(off[-1] + len(ch.encode("utf-8")))
    spans = [[off[s], off[e], sp] for s, e, sp in out]
    assert b"".join(b[s:e] for s, e, _ in spans) == b
    return spans


def split_text(text, start, end):
    seg = text[start:end]
    cuts = [m.start(2) for m in CUT.finditer(seg)]  # the cut falls right after the punctuation
    res, prev = [], 0
    for c in cuts:
        res.append((start + prev, start + c, False))
        prev = c
    res.append((start + prev, end, False))
    return [r for r in res if r[1] > r[0]]


if __name__ == "__main__":
    for line in open(sys.argv[1], encoding="utf-8"):
        if not line.strip():
            continue
        rec = json.loads(line)
        print(json.dumps({"id": rec["id"], "spans": segment(rec["response"])}, ensure_ascii=False))
