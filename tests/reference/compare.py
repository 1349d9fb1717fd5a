#!/usr/bin/env python3
"""Run rdpt's trace / beta / select / attribute on the stores in WORKDIR and compare every number
with method_reference.py.  compare.py RDPT WORKDIR  -> exit 1 on any mismatch."""
import csv, json, math, os, subprocess, sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import method_reference as R

csv.field_size_limit(1 << 30)
RDPT, WD = sys.argv[1], os.path.abspath(sys.argv[2])
OUT = os.path.join(WD, "out")
INJECT = os.environ.get("REFCHECK_INJECT") == "1"
os.makedirs(OUT, exist_ok=True)


class Checker:
    def __init__(self):
        self.n = defaultdict(int)
        self.bad = []

    def num(self, cat, where, got, want, exact=False):
        self.n[cat] += 1
        if INJECT and self.n[cat] == 1 and cat == "curves.fraction":
            want = want + 1e-6  # fault injection: proves a mismatch makes the check fail
        ok = True
        if got is None or want is None:
            ok = got is None and want is None
        elif exact or isinstance(want, bool):
            ok = got == want
        else:
            ok = math.isclose(float(got), float(want), rel_tol=1e-9, abs_tol=1e-12)
        if not ok:
            self.bad.append((cat, where, got, want))
        return ok

    def eq(self, cat, where, got, want):
        return self.num(cat, where, got, want, exact=True)


C = Checker()


def run(args):
    p = subprocess.run([RDPT] + args, capture_output=True, text=True)
    if p.returncode != 0:
        C.bad.append(("run", " ".join(args), p.returncode, p.stderr[-2000:]))
    return p


# ---------------------------------------------------------------- helpers
def load(store):
    models, resps = R.load_export(os.path.join(WD, store + ".csv"))
    recs = R.load_dataset(os.path.join(WD, store + ".jsonl"))
    correct = {r["id"]: r["correct"] for r in recs}
    # exported p agrees with exp(sum/n)
    for r in resps:
        for a in r["actions"]:
            for m, pe in a["p_export"].items():
                C.num("export.p", "%s %s j=%d %s" % (store, r["id"], a["j"], m), pe, a["p"][m])
    return models, resps, recs, correct


def cmp_beta_analysis(tag, got, ref):
    C.num("beta.analysis.chosen", tag, got["beta"], ref["chosen"])
    C.eq("beta.analysis.n_candidates", tag, len(got["candidates"]), len(ref["candidates"]))
    for gc, rc in zip(got["candidates"], ref["candidates"]):
        w = "%s beta=%g" % (tag, rc["beta"])
        C.num("beta.analysis.candidate", w, gc["beta"], rc["beta"])
        C.eq("beta.analysis.compared", w, list(gc["compared"]), rc["top2"])
        C.num("beta.analysis.overlap", w, gc["overlap"], rc["overlap"])
        for k in R.FOUR:
            C.num("beta.analysis.mean", w + " " + k, gc["mean_proportion"][k], rc["means"][k])
            for b in range(20):
                C.num("beta.analysis.hist", "%s %s bin %d" % (w, k, b), gc["histogram"][k][b], rc["hists"][k][b])
    C.eq("beta.analysis.n_responses", tag, got["n_responses"], ref["candidates"][0]["n_responses"])


def cmp_beta_training(tag, got, ref):
    C.num("beta.training.chosen", tag, got["beta"], ref["chosen"])
    C.eq("beta.training.n_candidates", tag, len(got["candidates"]), len(ref["candidates"]))
    for i, (gc, rc) in enumerate(zip(got["candidates"], ref["candidates"])):
        w = "%s beta=%g" % (tag, rc["beta"])
        C.num("beta.training.candidate", w, gc["beta"], rc["beta"])
        C.eq("beta.training.considered", w, gc["considered"], rc["evaluated"])
        C.eq("beta.training.stopped_here", w, gc["stopped_here"], i == ref["stopped_at"])
        C.num("beta.training.O", w, gc["overlap"], rc["O"])
        C.num("beta.training.o_sc", w, gc["overlap_student_common"], rc["o_sc"])
        C.num("beta.training.o_ct", w, gc["overlap_common_teacher"], rc["o_ct"])
        for k in R.THREE:
            C.num("beta.training.mean", w + " " + k, gc["mean_proportion"][k], rc["means"][k])
            for b in range(20):
                C.num("beta.training.hist", "%s %s bin %d" % (w, k, b), gc["histogram"][k][b], rc["hists"][k][b])
    C.eq("beta.training.n_responses", tag, got["n_responses"], ref["candidates"][0]["n_responses"])


def pooled_counts(resps, T, S, D, alpha, beta):
    c = {k: 0 for k in R.FOUR}
    for r in resps:
        for t in R.types4(r, T, S, D, alpha, beta):
            if t:
                c[t] += 1
    return c


# ---------------------------------------------------------------- trace
def check_trace(store, resps, correct, alpha=0.1, beta="auto", keywords="upstream", T="teacher", S="student",
                D="distilled"):
    od = os.path.join(OUT, "trace_%s_%s_%s_%s" % (store, alpha, beta, keywords))
    args = ["trace", "-s", os.path.join(WD, store + ".db"), "-o", od, "--no-progress", "--alpha", str(alpha),
            "--beta", str(beta), "--keywords", keywords, "--teacher", T]
    run(args)
    tag = "%s trace alpha=%s beta=%s kw=%s T=%s" % (store, alpha, beta, keywords, T)
    summ = json.load(open(os.path.join(od, "summary.json")))
    if beta == "auto":
        ba = R.beta_analysis(resps, T, S, D, alpha)
        cmp_beta_analysis(tag, summ["beta_search"], ba)
        b = ba["chosen"]
    else:
        b = float(beta)
    C.num("trace.beta", tag, summ["beta"], b)
    b = summ["beta"]  # continue with rdpt's beta so later numbers are compared like for like
    # types.csv
    rows = {r["id"]: r for r in csv.DictReader(open(os.path.join(od, "types.csv"), newline=""))}
    C.eq("trace.types.rows", tag, len(rows), len(resps))
    tot = {k: 0 for k in R.FOUR}
    shares = {k: [] for k in R.FOUR}
    for r in resps:
        g = rows.get(r["id"])
        w = "%s %s" % (tag, r["id"])
        if g is None:
            C.bad.append(("trace.types.missing_row", w, None, r["id"]))
            continue
        tys = R.types4(r, T, S, D, alpha, b)
        c = R.counts(tys, R.FOUR)
        ns = sum(c.values())
        C.eq("trace.types.n_actions", w, int(g["n_actions"]), len(r["actions"]))
        C.eq("trace.types.n_scored", w, int(g["n_scored"]), ns)
        cc = correct.get(r["id"])
        C.eq("trace.types.correct", w, g["correct"], "" if cc is None else ("true" if cc else "false"))
        for k in R.FOUR:
            C.eq("trace.types.count", w + " " + k, int(g["n_" + k]), c[k])
            C.num("trace.types.share", w + " " + k, float(g["share_" + k]) if g["share_" + k] != "" else None,
                  c[k] / ns if ns else None)
            tot[k] += c[k]
            if ns:
                shares[k].append(c[k] / ns)
    N = len(shares["Shared"])
    for k in R.FOUR:
        C.eq("trace.summary.count", tag + " " + k, summ["counts"][k], tot[k])
        C.num("trace.summary.share_mean", tag + " " + k, summ["share_mean_per_response"][k], sum(shares[k]) / N)
        C.num("trace.summary.share_pooled", tag + " " + k, summ["share_pooled"][k], tot[k] / sum(tot.values()))
    C.eq("trace.summary.n_scored", tag, summ["n_scored"], sum(tot.values()))
    C.eq("trace.summary.n_responses_scored", tag, summ["n_responses_scored"], N)
    # curves
    cur, cross = R.curves(resps, correct, T, S, D, alpha, b)
    cj = json.load(open(os.path.join(od, "curves.json")))
    pos = cj["positions"]
    C.eq("curves.positions", tag, pos, list(range(1, max(cur["all"]) + 1)))
    for i, j in enumerate(pos):
        ra = cur["all"].get(j)
        if ra:
            C.num("curves.mean_cum_tokens(all)", "%s j=%d" % (tag, j), cj["mean_cum_tokens"][i], ra["mean_cum_tokens"])
    for s in ("all", "correct", "incorrect"):
        gs = cj["subsets"][s]
        for i, j in enumerate(pos):
            rr = cur[s].get(j)
            w = "%s %s j=%d" % (tag, s, j)
            C.eq("curves.n", w, gs["n"][i], rr["n"] if rr else 0)
            for k in R.FOUR:
                if rr is None:
                    C.eq("curves.count", w + " " + k, gs[k]["count"][i], 0)
                    continue
                C.eq("curves.count", w + " " + k, gs[k]["count"][i], rr[k]["count"])
                C.num("curves.fraction", w + " " + k, gs[k]["fraction"][i], rr[k]["frac"])
                C.num("curves.wilson_lo", w + " " + k, gs[k]["lo"][i], rr[k]["lo"])
                C.num("curves.wilson_hi", w + " " + k, gs[k]["hi"][i], rr[k]["hi"])
    # curves.csv must agree with the reference too
    for row in csv.DictReader(open(os.path.join(od, "curves.csv"), newline="")):
        j, s, k = int(row["j"]), row["subset"], row["type"]
        rr = cur[s].get(j)
        w = "%s csv %s j=%d %s" % (tag, s, j, k)
        if rr is None:
            C.eq("curves.csv.n", w, int(row["n"]), 0)
            continue
        C.eq("curves.csv.n", w, int(row["n"]), rr["n"])
        C.eq("curves.csv.count", w, int(row["count"]), rr[k]["count"])
        C.num("curves.csv.fraction", w, float(row["fraction"]), rr[k]["frac"])
        C.num("curves.csv.lo", w, float(row["lo"]), rr[k]["lo"])
        C.num("curves.csv.hi", w, float(row["hi"]), rr[k]["hi"])
        C.num("curves.csv.mean_cum_tokens(all)", w, float(row["mean_cum_tokens"]),
              cur["all"][j]["mean_cum_tokens"] if j in cur["all"] else None)
    C.eq("curves.token_marks", tag, [(m["tokens"], m["position"]) for m in summ["token_marks"]],
         [tuple(x) for x in cross["all"]])
    # behaviours
    beh = R.behaviours(resps, T, S, D, alpha, b, keywords)
    for k in R.FOUR:
        g = summ["behaviours"]["by_type"][k]
        C.eq("behaviours.n", tag + " " + k, g["n"], beh[k]["total"])
        for bb in R.BEHAV:
            C.num("behaviours.share", "%s %s %s" % (tag, k, bb), g[bb], beh[k]["shares"][bb])
    C.eq("behaviours.special_excluded", tag,
         summ["behaviours"]["special_actions_excluded"],
         sum(1 for r in resps for a, t in zip(r["actions"], R.types4(r, T, S, D, alpha, b)) if t and a["special"]))
    return b


# ---------------------------------------------------------------- beta
def check_beta(store, resps, alpha=0.1):
    db = os.path.join(WD, store + ".db")
    o = os.path.join(OUT, "beta_analysis_%s.json" % store)
    run(["beta", "-s", db, "--procedure", "analysis", "--alpha", str(alpha), "-o", o])
    cmp_beta_analysis("%s beta analysis" % store, json.load(open(o)), R.beta_analysis(resps, "teacher", "student",
                                                                                     "distilled", alpha))
    o = os.path.join(OUT, "beta_training_%s.json" % store)
    run(["beta", "-s", db, "--procedure", "training", "-o", o])
    cmp_beta_training("%s beta training" % store, json.load(open(o)), R.beta_training(resps, "teacher", "student"))


# ---------------------------------------------------------------- select
STRATS = ["teacher-count", "teacher-ratio", "longest", "min-teacher-count", "grape"]


def check_select(store, data, resps, beta="auto"):
    byid = {r["id"]: r for r in resps}
    recs = R.load_dataset(os.path.join(WD, data))
    rids = [x["id"] for x in recs]
    groups = {r["id"]: r["group"] for r in resps}
    sub = [byid[i] for i in rids]
    if beta == "auto":
        bt = R.beta_training(sub, "teacher", "student")
        b = bt["chosen"]
    else:
        b = float(beta)
    picks = {}
    for st in STRATS:
        o = os.path.join(OUT, "sel_%s_%s_%s.jsonl" % (store, st, beta))
        sj = o + ".summary.json"
        sc = o + ".scores.csv"
        run(["select", "-d", os.path.join(WD, data), "-s", os.path.join(WD, store + ".db"), "--strategy", st,
             "--beta", str(beta), "-o", o, "--summary-json", sj, "--scores-out", sc] +
            (["--compare"] if st == "teacher-count" else []))
        tag = "%s select %s beta=%s" % (store, st, beta)
        summ = json.load(open(sj))
        if beta == "auto":
            cmp_beta_training(tag, summ["beta_search"], bt)
        C.num("select.beta", tag, summ["beta"], b)
        want, crit = R.select([x for x in recs if R_rankable(byid[x["id"]], b)], byid, "teacher", "student", b, st,
                              groups)
        _, crit = R.select(recs, byid, "teacher", "student", b, st, groups)
        picks[st] = want
        got_lines = open(o, "rb").read().splitlines(keepends=True)
        rawby = {x["id"]: x["raw"] for x in recs}
        want_lines = [rawby[i] for i in want]
        C.eq("select.n_chosen", tag, len(got_lines), len(want_lines))
        got_ids = [str(json.loads(l)["id"]) for l in got_lines]
        for i in range(max(len(got_ids), len(want))):
            g = got_ids[i] if i < len(got_ids) else None
            wnt = want[i] if i < len(want) else None
            C.eq("select.chosen_id", "%s #%d" % (tag, i), g, wnt)
        C.eq("select.lines_bytes", tag, got_lines == want_lines, True)
        # scores-out
        for row in csv.DictReader(open(sc, newline="")):
            c = crit[row["id"]]
            w = "%s %s" % (tag, row["id"])
            C.eq("select.scores.order", w, int(row["order"]), c["order"])
            C.eq("select.scores.n_actions", w, int(row["n_actions"]), c["n_actions"])
            C.eq("select.scores.n_scored", w, int(row["n_scored"]), c["n_scored"])
            C.eq("select.scores.n_teacher", w, int(row["n_teacher"]), c["n_teacher"])
            C.num("select.scores.teacher_share", w, float(row["teacher_share"]) if row["teacher_share"] else None,
                  c["teacher_share"])
            C.eq("select.scores.student_tokens", w, int(row["student_tokens"]) if row["student_tokens"] else None,
                 c["student_tokens"] if c["student_logprob_mean"] is not None else None)
            C.num("select.scores.student_logprob_mean", w,
                  float(row["student_logprob_mean"]) if row["student_logprob_mean"] else None,
                  c["student_logprob_mean"])
        shares = [crit[i]["teacher_share"] for i in rids if crit[i]["teacher_share"] is not None]
        C.num("select.mean_teacher_share_before", tag, summ["mean_teacher_share_before"], sum(shares) / len(shares))
        sh = [crit[i]["teacher_share"] for i in want if crit[i]["teacher_share"] is not None]
        C.num("select.mean_teacher_share_after", tag, summ["mean_teacher_share_after"], sum(sh) / len(sh))
        if st == "teacher-count":
            comp = summ["comparison"]
    correct = {x["id"]: x["correct"] for x in recs}
    for s in comp["strategies"]:
        st = s["strategy"]
        if st not in picks:
            continue
        ids = picks[st]
        w = "%s compare %s beta=%s" % (store, st, beta)
        sh = [crit[i]["teacher_share"] for i in ids if crit[i]["teacher_share"] is not None]
        C.num("select.compare.mean_teacher_share", w, s["mean_teacher_share"], sum(sh) / len(sh))
        tk = [crit[i]["student_tokens"] for i in ids]
        C.num("select.compare.mean_tokens", w, s["mean_tokens"], sum(tk) / len(tk))
        lp = [crit[i]["student_logprob_mean"] for i in ids if crit[i]["student_logprob_mean"] is not None]
        C.num("select.compare.mean_student_logprob", w, s["mean_student_logprob"], sum(lp) / len(lp))
        lab = [correct[i] for i in ids if correct[i] is not None]
        C.num("select.compare.accuracy", w, s["accuracy"], sum(1 for x in lab if x) / len(lab))
        C.eq("select.compare.n_chosen", w, s["n_chosen"], len(ids))
    for ov in comp["overlaps"]:
        a, bb = ov["a"], ov["b"]
        if a in picks and bb in picks:
            A, B = set(picks[a]), set(picks[bb])
            C.num("select.compare.jaccard", "%s %s~%s beta=%s" % (store, a, bb, beta), ov["jaccard"],
                  len(A & B) / len(A | B))


def R_rankable(resp, beta):
    # reading: a candidate none of whose actions could be typed (teacher and student) is not ranked
    return any(t is not None for t in R.types3(resp, "teacher", "student", beta))


# ---------------------------------------------------------------- attribute
def check_attribute(store, resps, correct, teachers, beta="auto", first=400):
    o = os.path.join(OUT, "attr_%s_%s_%d.json" % (store, beta, first))
    args = ["attribute", "-s", os.path.join(WD, store + ".db"), "-o", o, "--beta", str(beta), "--bootstrap", "50",
            "--first-positions", str(first)]
    for t in teachers:
        args += ["-t", t]
    run(args)
    got = json.load(open(o))
    betas = None if beta == "auto" else {t: float(beta) for t in teachers}
    ref = R.attribute(resps, correct, teachers, "student", "distilled", 0.1, first, betas)
    order = sorted(teachers, key=lambda t: -ref[t]["teacher_share"])
    for g in got["teachers"]:
        t = g["teacher"]
        w = "%s attribute %s beta=%s first=%d" % (store, t, beta, first)
        rf = ref[t]
        C.num("attr.beta", w, g["beta"], rf["beta"])
        C.num("attr.teacher_share", w, g["teacher_share"]["mean"], rf["teacher_share"])
        C.num("attr.student_share", w, g["student_share"]["mean"], rf["student_share"])
        C.eq("attr.n_responses", w, g["teacher_share"]["n_responses"], rf["n_responses"])
        C.num("attr.summed_diff_400", w, g["summed_teacher_correct_minus_incorrect"], rf["diff_sum_both"])
        C.eq("attr.rank", w, g["rank"], order.index(t) + 1)
        pc = pooled_counts(resps, t, "student", "distilled", 0.1, rf["beta"])
        C.num("attr.teacher_share_pooled", w, g["teacher_share_pooled"], pc["Teacher"] / sum(pc.values()))
        C.num("attr.student_share_pooled", w, g["student_share_pooled"], pc["Student"] / sum(pc.values()))


# ---------------------------------------------------------------- main
def main():
    _, A, _, corrA = load("A")
    check_beta("A", A)
    check_trace("A", A, corrA)
    check_trace("A", A, corrA, beta="0.1", keywords="corrected")
    check_trace("A", A, corrA, alpha=0.05, beta="0.15")
    check_trace("A", A, corrA, beta="auto", T="teacher2")
    check_attribute("A", A, corrA, ["teacher", "teacher2"])
    check_attribute("A", A, corrA, ["teacher", "teacher2"], beta="0.1")
    _, Bs, _, corrB = load("B")
    check_beta("B", Bs)
    check_trace("B", Bs, corrB)
    check_trace("B", Bs, corrB, alpha=0.15, beta="0.2", keywords="corrected")
    check_select("B", "B.jsonl", Bs)
    _, Cs, _, corrC = load("C")
    check_beta_training_only = True
    o = os.path.join(OUT, "beta_training_C.json")
    run(["beta", "-s", os.path.join(WD, "C.db"), "--procedure", "training", "-o", o])
    cmp_beta_training("C beta training", json.load(open(o)), R.beta_training(Cs, "teacher", "student"))
    check_select("C", "C.jsonl", Cs)
    check_select("C", "C.jsonl", Cs, beta="0.1")
    check_select("C", "C.jsonl", Cs, beta="0.3")
    check_attribute("A", A, corrA, ["teacher", "teacher2"], beta="0.1", first=1800)
    _, Ds, _, corrD = load("D")
    check_beta("D", Ds)
    check_trace("D", Ds, corrD)
    check_select("D", "D.jsonl", Ds)
    _, Es, _, corrE = load("E")
    o = os.path.join(OUT, "beta_training_E.json")
    run(["beta", "-s", os.path.join(WD, "E.db"), "--procedure", "training", "-o", o])
    cmp_beta_training("E beta training", json.load(open(o)), R.beta_training(Es, "teacher", "student"))
    check_select("E", "E.jsonl", Es)

    print("compared values by category:")
    tot = 0
    for k in sorted(C.n):
        print("  %-40s %8d" % (k, C.n[k]))
        tot += C.n[k]
    print("  %-40s %8d" % ("TOTAL", tot))
    bycat = defaultdict(list)
    for b in C.bad:
        bycat[b[0]].append(b)
    print("mismatches: %d" % len(C.bad))
    for k, v in bycat.items():
        print("  %s: %d" % (k, len(v)))
        for x in v[:8]:
            print("     %s | rdpt=%r | ref=%r" % (x[1], x[2], x[3]))
    json.dump([list(map(str, b)) for b in C.bad], open(os.path.join(OUT, "mismatches.json"), "w"), indent=1)
    sys.exit(1 if C.bad else 0)


if __name__ == "__main__":
    main()
