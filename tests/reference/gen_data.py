#!/usr/bin/env python3
"""Build datasets and made-up per-token log-probs for the rdpt reference check.

gen_data.py datasets OUTDIR
    writes OUTDIR/{A,B,C}.jsonl (subsets of the repo's real traces)
gen_data.py logprobs KIND EXPORT.csv OUTDIR
    reads an export of the responses (spans only) and writes OUTDIR/lp_<model>.jsonl
    per model, deterministic (hash-seeded) with store-specific biases.
"""
import csv, hashlib, json, math, os, random, subprocess, sys

csv.field_size_limit(1 << 30)
# The shipped data (data/ of the repository; RDPT_TEST_DATA overrides).
DATA = os.environ.get("RDPT_TEST_DATA") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data")


def read_zst(path):
    out = subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout
    return [json.loads(l) for l in out.decode("utf-8").splitlines() if l.strip()]


def traces(name):
    return read_zst(os.path.join(DATA, "traces", name))


def write_jsonl(path, recs):
    with open(path, "w", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def datasets(outdir):
    os.makedirs(outdir, exist_ok=True)
    sky = traces("skyt1_distilled.part1.jsonl.zst") + traces("skyt1_distilled.part2.jsonl.zst")
    a = sky[::14][:55]
    longest = sorted(sky, key=lambda r: -len(r["response"]))[:8]
    ids = {r["id"] for r in a}
    a += [r for r in longest if r["id"] not in ids]
    a += traces("r1distill_thought_anchors.jsonl.zst")
    write_jsonl(os.path.join(outdir, "A.jsonl"), a)
    q = traces("qwen25math_cot_8samples.jsonl.zst")
    b = q[:160] + traces("skyt1_baselines.jsonl.zst")[:40]
    for r in b[-6:]:  # unlabelled responses: no correctness label, no reference answer
        for k in ("correct", "answer", "pred"):
            r.pop(k, None)
    write_jsonl(os.path.join(outdir, "B.jsonl"), b)
    c = list(q)
    qids = list(dict.fromkeys(r["question_id"] for r in q))
    for g in qids[::8]:
        first = [r for r in q if r["question_id"] == g][2]
        d = dict(first)
        d["id"] = first["id"] + "|dup"
        c.append(d)
    write_jsonl(os.path.join(outdir, "C.jsonl"), c)
    # D: degenerate store (all three models agree exactly on most responses) for the tie rules
    write_jsonl(os.path.join(outdir, "D.jsonl"), q[160:224])
    # E: every response exactly half Teacher (pT - pS == 0.5) and half Common: mean Common == mean
    # Teacher below beta 0.5 (tests "exceeds" in the stop rule)
    write_jsonl(os.path.join(outdir, "E.jsonl"), q[224:264])


def rng_for(*parts):
    h = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(h[:8], "big"))


def clip(p):
    return min(1.0, max(0.002, p))


MODELS = {"A": ["teacher", "student", "distilled", "teacher2"],
          "B": ["teacher", "student", "distilled"],
          "C": ["teacher", "student"],
          "D": ["teacher", "student", "distilled"],
          "E": ["teacher", "student"]}
CHARS_PER_TOKEN = {"teacher": 3.7, "student": 4.3, "distilled": 3.6, "teacher2": 4.0}
# (response id index mod, model) pairs left out entirely (missing pairs)
MISSING = {"A": {("distilled", 3), ("distilled", 17), ("teacher", 40), ("teacher2", 5)},
           "B": {("student", 11), ("distilled", 77)},
           "C": {("student", 123)}, "D": set(), "E": set()}
TRUNCATED = {"A": {("distilled", 9)}, "B": {("teacher", 30)}, "C": set(), "D": set(), "E": set()}


def action_ps(kind, rid, j, rbias, text, tie=False):
    """p per model for one action (dict), or 'same' marker."""
    r = rng_for(kind, rid, j)
    u = r.random()
    if u < 0.07 or tie:
        return "same", clip(r.uniform(0.05, 1.0))
    if kind == "A":
        pS = r.uniform(0.05, 0.95)
        pT = clip(pS + r.gauss(rbias + 0.10, 0.22))
        if r.random() < 0.7:
            pD = clip(pT + r.gauss(0, 0.06))
        else:
            pD = clip(r.uniform(min(pS, pT), max(pS, pT)) + r.gauss(0, 0.05))
        pT2 = clip(pS + r.gauss(0.0, 0.15))
        return "diff", {"teacher": pT, "student": pS, "distilled": pD, "teacher2": pT2}
    if kind == "B":
        pS = r.uniform(0.2, 0.95)
        pT = clip(pS + r.gauss(rbias, 0.09))
        if r.random() < 0.5:
            pD = clip(max(pS, pT) + abs(r.gauss(0, 0.12)))
        else:
            pD = clip((pS + pT) / 2 + r.gauss(0, 0.04))
        return "diff", {"teacher": pT, "student": pS, "distilled": pD}
    # C: teacher vs student for selection; group-level bias so picks differ
    pS = r.uniform(0.1, 0.95)
    pT = clip(pS + r.gauss(rbias, 0.25))
    return "diff", {"teacher": pT, "student": pS}


EDGE_TARGETS = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.5]
_POOL = None


def edge_pool():
    """pairs (a, b) of probabilities with a - b exactly equal to a candidate beta (or the next
    double above it), both surviving exp(log(p)) == p, so a single-token action has p exactly."""
    global _POOL
    if _POOL is None:
        r = random.Random(12345)
        _POOL = []
        for beta in EDGE_TARGETS:
            for target in (beta, math.nextafter(beta, 1.0)):
                got = 0
                while got < 8:
                    b = r.uniform(0.02, 0.95)
                    a = b + target
                    if a <= 1.0 and a - b == target and math.exp(math.log(a)) == a and math.exp(math.log(b)) == b:
                        _POOL.append((a, b))
                        got += 1
    return _POOL


def char_starts(text, begin):
    """byte offsets (absolute) of character starts in the action text."""
    out, off = [], begin
    for ch in text:
        out.append(off)
        off += len(ch.encode("utf-8"))
    return out


def token_lps(r, n, p):
    lp = math.log(p)
    if n == 1 or lp == 0.0:
        return [lp] * n
    w = [r.uniform(0.3, 1.7) for _ in range(n)]
    s = sum(w)
    return [min(0.0, lp * wi * n / s) for wi in w]


def logprobs(kind, export_csv, outdir):
    os.makedirs(outdir, exist_ok=True)
    rows = {}
    order = []
    with open(export_csv, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["id"] not in rows:
                rows[row["id"]] = []
                order.append(row["id"])
            rows[row["id"]].append(row)
    models = MODELS[kind]
    outs = {m: open(os.path.join(outdir, "lp_%s.jsonl" % m), "w") for m in models}
    for idx, rid_real in enumerate(order):
        acts = rows[rid_real]
        rid = rid_real.replace("|dup", "")  # a duplicate record gets its original's log-probs (exact ties)
        rr = rng_for(kind, rid, "resp")
        if kind == "A":
            rbias = rr.uniform(-0.15, 0.35)
        elif kind == "B":
            rbias = rr.uniform(-0.1, 0.1)
        elif kind == "D":
            rbias = 0.0
        else:
            rbias = rng_for(kind, acts[0]["group"], "grp").uniform(-0.2, 0.3) + rr.gauss(0, 0.1)
        if kind == "E":
            n = len(acts)
            half = n // 2
            pairs = [p for p in edge_pool() if p[0] - p[1] == 0.5]
            for m in models:
                offs, lps = [], []
                for i, a in enumerate(acts):
                    if i == n - 1 and n % 2:
                        if m == "teacher":
                            continue  # odd count: the last action unscored under the teacher
                    pa, pb = pairs[i % len(pairs)]
                    v = (pa if m == "teacher" else pb) if i < half else pb
                    offs.append(int(a["begin"]))
                    lps.append(math.log(v))
                outs[m].write(json.dumps({"id": rid_real, "offsets": offs, "logprobs": lps}) + "\n")
            continue
        g = acts[0]["group"]
        tie = kind == "D" or kind == "C" and (g in ("math_cot_100-0", "math_cot_100-5")
                               or rng_for(kind, g, "tie").random() < 0.1)
        per_model = {m: ([], []) for m in models}
        for a in acts:
            j = int(a["j"])
            text = a["text"]
            starts = char_starts(text, int(a["begin"]))
            mode, ps = action_ps(kind, rid, j, rbias, text, tie)
            re_ = rng_for(kind, rid, j, "edge")
            if j > 1 and not tie and re_.random() < 0.06:
                a_, b_ = re_.choice(edge_pool())
                if re_.random() < 0.5:
                    a_, b_ = b_, a_
                d_ = re_.choice([a_, b_])
                vals = {"teacher": a_, "student": b_, "distilled": d_, "teacher2": re_.choice([a_, b_])}
                for m in models:
                    per_model[m][0].append(starts[0])
                    per_model[m][1].append(math.log(vals[m]))
                continue
            if mode == "same":
                r = rng_for(kind, rid, j, "same")
                n = max(1, min(len(starts), round(len(text) / 4.0)))
                offs = sorted([starts[0]] + r.sample(starts[1:], n - 1))
                lps = token_lps(r, n, ps)
                for m in models:
                    per_model[m][0].extend(offs)
                    per_model[m][1].extend(lps)
                continue
            for m in models:
                r = rng_for(kind, rid, j, m)
                n = max(1, min(len(starts), round(len(text) / CHARS_PER_TOKEN[m])))
                if j > 1 and r.random() < 0.03:
                    continue  # unscored under this model: no token starts here
                offs = sorted([starts[0]] + r.sample(starts[1:], n - 1))
                per_model[m][0].extend(offs)
                per_model[m][1].extend(token_lps(r, n, ps[m]))
        for m in models:
            if (m, idx) in MISSING[kind]:
                continue
            offs, lps = per_model[m]
            rec = {"id": rid_real, "offsets": offs, "logprobs": lps}
            if (m, idx) in TRUNCATED[kind]:
                k = len(offs) * 3 // 5
                rec = {"id": rid_real, "offsets": offs[:k], "logprobs": lps[:k], "truncated": True}
            outs[m].write(json.dumps(rec) + "\n")
    for f in outs.values():
        f.close()


if __name__ == "__main__":
    if sys.argv[1] == "datasets":
        datasets(sys.argv[2])
    else:
        logprobs(sys.argv[2], sys.argv[3], sys.argv[4])
