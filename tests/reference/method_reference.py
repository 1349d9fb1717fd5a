#!/usr/bin/env python3
"""Independent reference implementation of the method (docs/method.md) sections 3-8, written from the spec only.

Input: the per-action export of a score store (rdpt export CSV: id, group, j, begin, end, special,
text, then per model <m>_n_tokens, <m>_logprob_sum, <m>_p) and, for correctness / record order,
the dataset JSONL the store was imported from.

Readings fixed here (where the method (docs/method.md) leaves a choice):
- p = exp(logprob_sum / n_tokens); an action is unscored under a model when n_tokens == 0 or the
  model has no usable pair (empty columns). An action is typed (four-way) only when scored under
  teacher, student and distilled; three-way only when scored under teacher and student.
- Per-response proportion = count of the type / number of typed actions of the response;
  responses with no typed action are left out of histograms and means.
- Histogram bin of a proportion k/n: floor(20*k/n) computed exactly (integers), 1.0 -> bin 19.
- Wilson interval with z = 1.959963984540054 (the 0.975 normal quantile).
- Curves: for position j and subset, the responses with a typed action at j; the mean cumulative
  distilled token count at j is over the same responses (sum of the distilled n_tokens of
  actions 1..j). A 4096-multiple m*4096 is "crossed" at the first j whose mean is >= m*4096.
- Candidates: 0.05,0.10,0.15,0.20 and k/20 for k=1..20 (the doubles nearest the decimals).
"""
import csv, json, math, sys
from collections import OrderedDict

csv.field_size_limit(1 << 30)

FOUR = ["Shared", "Teacher", "Student", "Boosted"]
THREE = ["Common", "Teacher", "Student"]
BEHAV = ["execution", "reflection", "transition"]
Z95 = 1.959963984540054
ANALYSIS_CANDS = [0.05, 0.10, 0.15, 0.20]
TRAINING_CANDS = [k / 20 for k in range(1, 21)]


# ---------------------------------------------------------------- loading
def load_export(path):
    """-> (models, list of responses in export order)."""
    resps = OrderedDict()
    with open(path, newline="", encoding="utf-8") as f:
        rd = csv.DictReader(f)
        models = [c[: -len("_n_tokens")] for c in rd.fieldnames if c.endswith("_n_tokens")]
        for row in rd:
            r = resps.get(row["id"])
            if r is None:
                r = resps[row["id"]] = {"id": row["id"], "group": row["group"], "actions": []}
            a = {"j": int(row["j"]), "special": row["special"] == "true", "text": row.get("text", ""),
                 "n": {}, "lps": {}, "p": {}, "p_export": {}}
            for m in models:
                n = row[m + "_n_tokens"]
                if n == "":
                    a["n"][m] = None  # no usable pair
                    a["p"][m] = None
                    continue
                n = int(n)
                s = float(row[m + "_logprob_sum"])
                a["n"][m] = n
                a["lps"][m] = s
                a["p"][m] = math.exp(s / n) if n > 0 else None
                pe = row[m + "_p"]
                a["p_export"][m] = float(pe) if pe != "" else None
            r["actions"].append(a)
    return models, list(resps.values())


def load_dataset(path):
    """-> list of (id, group-or-None, correct-or-None, raw line) in file order."""
    out = []
    with open(path, "rb") as f:
        for raw in f:
            if not raw.strip():
                continue
            d = json.loads(raw)
            c = d.get("correct")
            out.append({"id": str(d["id"]), "correct": c, "raw": raw})
    return out


# ---------------------------------------------------------------- typing (sections 3, 4)
def type4(pT, pS, pD, alpha, beta):
    dSD, dTD, dTS = pS - pD, pT - pD, pT - pS
    if abs(dSD) <= alpha and abs(dTD) <= alpha and abs(dTS) <= alpha:
        return "Shared"
    if dTS > beta:
        return "Teacher"
    if -dTS > beta:
        return "Student"
    return "Boosted"


def type3(pT, pS, beta):
    dTS = pT - pS
    if dTS > beta:
        return "Teacher"
    if -dTS > beta:
        return "Student"
    return "Common"


def types4(resp, T, S, D, alpha, beta):
    out = []
    for a in resp["actions"]:
        pT, pS, pD = a["p"].get(T), a["p"].get(S), a["p"].get(D)
        out.append(None if (pT is None or pS is None or pD is None) else type4(pT, pS, pD, alpha, beta))
    return out


def types3(resp, T, S, beta):
    out = []
    for a in resp["actions"]:
        pT, pS = a["p"].get(T), a["p"].get(S)
        out.append(None if (pT is None or pS is None) else type3(pT, pS, beta))
    return out


def counts(tys, names):
    c = {k: 0 for k in names}
    for t in tys:
        if t is not None:
            c[t] += 1
    return c


# ---------------------------------------------------------------- beta (section 5)
def histogram(fracs):
    """fracs: list of (k, n). 20 bins on [0,1], normalised to sum 1 (all zero if empty)."""
    h = [0] * 20
    for k, n in fracs:
        b = min(19, (20 * k) // n)
        h[b] += 1
    N = len(fracs)
    return [x / N for x in h] if N else [0.0] * 20


def overlap(h1, h2):
    return sum(min(a, b) for a, b in zip(h1, h2))


def shares_table(per_resp_types, names):
    """per_resp_types: list of type lists. -> (means, hists, n_responses, fracs per type)."""
    fr = {k: [] for k in names}
    for tys in per_resp_types:
        c = counts(tys, names)
        n = sum(c.values())
        if n == 0:
            continue
        for k in names:
            fr[k].append((c[k], n))
    N = len(fr[names[0]])
    means = {k: (sum(x / n for x, n in fr[k]) / N if N else 0.0) for k in names}
    hists = {k: histogram(fr[k]) for k in names}
    return means, hists, N


def beta_analysis(resps, T, S, D, alpha, cands=ANALYSIS_CANDS):
    rows = []
    best = None
    for b in cands:
        means, hists, N = shares_table([types4(r, T, S, D, alpha, b) for r in resps], FOUR)
        order = sorted(FOUR, key=lambda k: (-means[k], FOUR.index(k)))
        top = order[:2]
        ov = overlap(hists[top[0]], hists[top[1]])
        rows.append({"beta": b, "means": means, "hists": hists, "top2": top, "overlap": ov, "n_responses": N})
        if best is None or ov < rows[best]["overlap"]:
            best = len(rows) - 1
    return {"chosen": rows[best]["beta"], "candidates": rows}


def beta_training(resps, T, S, cands=TRAINING_CANDS):
    rows = []
    best = None
    stopped = None
    for i, b in enumerate(cands):
        means, hists, N = shares_table([types3(r, T, S, b) for r in resps], THREE)
        oSC = overlap(hists["Student"], hists["Common"])
        oCT = overlap(hists["Common"], hists["Teacher"])
        O = oSC + oCT
        rows.append({"beta": b, "means": means, "hists": hists, "o_sc": oSC, "o_ct": oCT, "O": O,
                     "n_responses": N, "evaluated": stopped is None})
        if stopped is None:
            if best is None or O < rows[best]["O"]:
                best = i
            if means["Common"] > means["Teacher"]:
                stopped = i
    return {"chosen": rows[best]["beta"], "stopped_at": stopped, "candidates": rows}


# ---------------------------------------------------------------- curves (section 6)
def wilson(k, n, z=Z95):
    if n == 0:
        return None, None
    p = k / n
    z2 = z * z
    den = 1 + z2 / n
    c = (p + z2 / (2 * n)) / den
    h = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / den
    return c - h, c + h


def curves(resps, correct, T, S, D, alpha, beta, mark=4096):
    """-> {subset: {j: {...}}}, crossings {subset: [(multiple, j)]}."""
    subsets = {"all": lambda c: True, "correct": lambda c: c is True, "incorrect": lambda c: c is False}
    acc = {s: {} for s in subsets}
    for r in resps:
        tys = types4(r, T, S, D, alpha, beta)
        cum = 0
        c = correct.get(r["id"])
        for a, t in zip(r["actions"], tys):
            nD = a["n"].get(D)
            cum += nD if nD else 0
            if t is None:
                continue
            for s, f in subsets.items():
                if not f(c):
                    continue
                e = acc[s].setdefault(a["j"], {"n": 0, "counts": {k: 0 for k in FOUR}, "cum": 0})
                e["n"] += 1
                e["counts"][t] += 1
                e["cum"] += cum
    out, cross = {}, {}
    for s in subsets:
        out[s] = {}
        cross[s] = []
        nextm = 1
        for j in sorted(acc[s]):
            e = acc[s][j]
            n = e["n"]
            row = {"n": n, "mean_cum_tokens": e["cum"] / n}
            for k in FOUR:
                lo, hi = wilson(e["counts"][k], n)
                row[k] = {"count": e["counts"][k], "frac": e["counts"][k] / n, "lo": lo, "hi": hi}
            out[s][j] = row
            if mark:
                while row["mean_cum_tokens"] >= nextm * mark:
                    cross[s].append((nextm * mark, j))
                    nextm += 1
    return out, cross


# ---------------------------------------------------------------- selection (section 7)
def response_criteria(resp, T, S, beta):
    tys = types3(resp, T, S, beta)
    c = counts(tys, THREE)
    ns = sum(c.values())
    n_tok = 0
    lp = 0.0
    ok = False
    for a in resp["actions"]:
        n = a["n"].get(S)
        if n is None:
            continue
        ok = True
        n_tok += n
        lp += a["lps"][S] if n else 0.0
    return {"n_actions": len(resp["actions"]), "n_scored": ns, "n_teacher": c["Teacher"],
            "teacher_share": (c["Teacher"] / ns) if ns else None,
            "student_tokens": n_tok, "student_logprob_mean": (lp / n_tok) if (ok and n_tok) else None}


def select(records, resps_by_id, T, S, beta, strategy, groups):
    """records: dataset in file order. -> list of chosen ids (in input order)."""
    crit = {}
    bygroup = OrderedDict()
    for i, rec in enumerate(records):
        rid = rec["id"]
        crit[rid] = response_criteria(resps_by_id[rid], T, S, beta)
        crit[rid]["order"] = i
        bygroup.setdefault(groups[rid], []).append(rid)

    def key(rid):
        c = crit[rid]
        if strategy == "teacher-count":
            v = c["n_teacher"]
        elif strategy == "teacher-ratio":
            v = c["teacher_share"] if c["teacher_share"] is not None else -math.inf
        elif strategy == "longest":
            v = c["n_actions"]
        elif strategy == "min-teacher-count":
            v = -c["n_teacher"]
        elif strategy == "grape":
            v = c["student_logprob_mean"] if c["student_logprob_mean"] is not None else -math.inf
        else:
            raise ValueError(strategy)
        # higher v, then more actions, then earlier record
        return (-v, -c["n_actions"], c["order"])

    chosen = []
    for g, ids in bygroup.items():
        chosen.append(min(ids, key=key))
    chosen.sort(key=lambda rid: crit[rid]["order"])
    return chosen, crit


# ---------------------------------------------------------------- behaviours (section 8)
REFLECT = ["verify", "make sure", "hold on", "think again", "'s correct", "'s incorrect", "let me check",
           "seems right"]
TRANS_UP = ["think differenly", "another way", "another approach", "another method", "another solution",
            "another strategy", "another technique"]
TRANS_FIX = ["think differently"] + TRANS_UP[1:]


def behaviour(text, keywords="upstream", strip=True):
    t = text.lower()
    if strip:
        t = t.lstrip(" \t\n\r\f\v")
    if t.startswith("wait") or any(k in t for k in REFLECT):
        return "reflection"
    lst = TRANS_UP if keywords == "upstream" else TRANS_FIX
    if t.startswith("alternatively") or any(k in t for k in lst):
        return "transition"
    return "execution"


def behaviours(resps, T, S, D, alpha, beta, keywords="upstream", strip=True):
    cnt = {k: {b: 0 for b in BEHAV} for k in FOUR}
    for r in resps:
        for a, t in zip(r["actions"], types4(r, T, S, D, alpha, beta)):
            if t is None or a["special"]:
                continue
            cnt[t][behaviour(a["text"], keywords, strip)] += 1
    out = {}
    for k in FOUR:
        tot = sum(cnt[k].values())
        out[k] = {"total": tot, "counts": cnt[k], "shares": {b: (cnt[k][b] / tot if tot else None) for b in BEHAV}}
    return out


# ---------------------------------------------------------------- which teacher (section 8)
def attribute(resps, correct, teachers, S, D, alpha, first=400, betas=None):
    out = {}
    for T in teachers:
        b = betas[T] if betas else beta_analysis(resps, T, S, D, alpha)["chosen"]
        means, _, N = shares_table([types4(r, T, S, D, alpha, b) for r in resps], FOUR)
        cur, _ = curves(resps, correct, T, S, D, alpha, b, mark=0)
        diff_both = 0.0  # positions where both subsets have responses
        for j in range(1, first + 1):
            c, i = cur["correct"].get(j), cur["incorrect"].get(j)
            if c and i:
                diff_both += c["Teacher"]["frac"] - i["Teacher"]["frac"]
        diff_zero = 0.0  # missing subset counted as fraction 0
        for j in range(1, first + 1):
            c, i = cur["correct"].get(j), cur["incorrect"].get(j)
            diff_zero += (c["Teacher"]["frac"] if c else 0.0) - (i["Teacher"]["frac"] if i else 0.0)
        out[T] = {"beta": b, "teacher_share": means["Teacher"], "student_share": means["Student"],
                  "n_responses": N, "diff_sum_both": diff_both, "diff_sum_zero": diff_zero}
    return out
