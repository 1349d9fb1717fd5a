#!/usr/bin/env python3
"""Builds the small check dataset from the shipped traces (stdlib only; zstd via the zstd CLI)."""
import json, re, subprocess, sys, os

TRACES = sys.argv[1]
OUT = sys.argv[2]

def load(name):
    out = subprocess.run(["zstd", "-dc", os.path.join(TRACES, name)], check=True, capture_output=True).stdout
    return [json.loads(l) for l in out.decode("utf-8").splitlines() if l.strip()]

def cut(t, head, tail=0, anchor=None):
    """head chars + (around anchor or) tail chars, joined by a blank line."""
    if len(t) <= head + tail + 200:
        return t
    if anchor is not None and anchor in t:
        i = t.index(anchor)
        return t[:head] + "\n\n" + t[max(head, i - tail // 2): i + tail // 2]
    return t[:head] + ("\n\n" + t[-tail:] if tail else "")

recs = []
def add(rid, q, resp, qid=None, system=None, **extra):
    r = {"id": rid, "question_id": qid or ("q:" + rid), "question": q, "response": resp}
    if system:
        r["system_prompt"] = system
    r.update(extra)
    recs.append(r)

sky = load("skyt1_distilled.part1.jsonl.zst")
sky = [r for r in sky if "<|end_of_thought|>" in r["response"]]
for r in sky[:4]:
    add(r["id"], r["question"], cut(r["response"], 700, 600, "<|end_of_thought|>"), r["question_id"])
r1 = load("r1distill_thought_anchors.jsonl.zst")
for k in (1, 6, 9, 20, 22):
    r = r1[k]
    add(r["id"], r["question"], cut(r["response"], 600, 600, "</think>"), r["question_id"])
cot = load("qwen25math_cot_8samples.jsonl.zst")
for k in (0, 1, 100):
    r = cot[k]
    add(r["id"], r["question"], cut(r["response"], 800), r["question_id"], r.get("system_prompt"))
nonascii_cot = [r for r in cot if any(ord(c) > 127 for c in r["response"])]
r = nonascii_cot[0]
add(r["id"], r["question"], cut(r["response"], 900), r["question_id"], r.get("system_prompt"))
ov = load("overthinking_debug.jsonl.zst")
for k in (1, 3):
    r = ov[k]
    add(r["id"], r["question"], cut(r["response"], 700, 300), r["id"])
base = load("skyt1_baselines.jsonl.zst")
for k in (0, 50):
    r = base[k]
    add(r["id"], r["question"], cut(r["response"], 600, 200), r["question_id"])

# variants of shipped text (marked syn:), for the cases the traces lack
t0 = r1[1]["response"][:500]
q0 = r1[1]["question"]
add("syn:think-nl", q0, "<think>\n" + t0, "syn-q")
add("syn:think-nlnl", q0, "<think>\n\n" + t0, "syn-q")
add("syn:think-nows", q0, "<think>" + t0, "syn-q")
add("syn:think-only", q0, "<think>", "syn-q")
add("syn:think-nl-only", q0, "<think>\n", "syn-q")
add("syn:think-tab", q0, "<think>\t \n" + t0[:200], "syn-q")
add("syn:ws-think", q0, "\n<think>\n" + t0[:200], "syn-q")
add("syn:think-close", q0, "<think>\n" + t0[:200] + "\n</think>\n\nThe answer is 588.<|im_end|>", "syn-q")
add("syn:bot-nlnl", sky[0]["question"], sky[0]["response"][:400], "syn-q2")
add("syn:leading-ws", q0, "  \n\t" + t0[:300], "syn-q")
add("syn:empty", q0, "", "syn-q")
add("syn:ws-only", q0, "\n\n  \t", "syn-q")
add("syn:unicode", q0, "First part. Ünïcode here. Second 😀😀 part.\tThird — “quoted”. 中文测试。 Fourth ≈ 5.8 cm² .\n\nÉnd here. Last!", "syn-q")
add("syn:specials", q0, "Step one.<|im_end|>\n<|im_start|>assistant\nStep two. <|endoftext|> Done.<|end|>\n Then <|user|>x<s> Y.</s>", "syn-q")
add("syn:split", q0, "The answer is 4.", "syn-q", reasoning_content="Let me think. Two plus two. Okay.")
add("syn:dup-of-think-nl", q0, "<think>\n" + t0, "syn-q3")
add("syn:ws-think-close", q0, "  \n<think>Ws before. Ok.</think>Ans. Yes.", "syn-q")
add("syn:text-think-close", q0, "Pre text. <think>x. Y.</think>Ans. Yes.", "syn-q")
add("syn:two-thoughts", q0, "<think>a.</think>b. <think>c.</think>D.", "syn-q")
add("syn:close-only", q0, "</think>Ans. Yes.", "syn-q")
add("syn:no-answer", q0, "<think>\nx. Y.\n</think>", "syn-q")
add("syn:ws-thought", q0, "<think>\n</think>\n\nAns. Yes.", "syn-q")

with open(OUT, "w", encoding="utf-8") as f:
    for r in recs:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
print(len(recs), "records,", sum(len(r["response"].encode()) for r in recs), "response bytes", file=sys.stderr)
