#!/usr/bin/env python3
"""Coverage of the edge cases in the check stores: coverage.py WORKDIR"""
import math, os, sys
from collections import Counter
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import method_reference as R
WD = sys.argv[1]
betas = sorted(set(R.ANALYSIS_CANDS + R.TRAINING_CANDS))
for K in "ABC":
    models, resps = R.load_export(os.path.join(WD, K + ".csv"))
    recs = R.load_dataset(os.path.join(WD, K + ".jsonl"))
    corr = Counter(r["correct"] for r in recs)
    nact = sum(len(r["actions"]) for r in resps)
    uns = Counter()
    miss = Counter()
    for r in resps:
        for m in models:
            if r["actions"][0]["n"][m] is None:
                miss[m] += 1
            else:
                uns[m] += sum(1 for a in r["actions"] if a["n"][m] == 0)
    edge = Counter()
    alpha_edge = 0
    for r in resps:
        for a in r["actions"]:
            pT, pS = a["p"].get("teacher"), a["p"].get("student")
            if pT is None or pS is None:
                continue
            d = abs(pT - pS)
            for b in betas:
                if d == b:
                    edge["=%g" % b] += 1
                elif d == math.nextafter(b, 1):
                    edge["=next(%g)" % b] += 1
            if "distilled" in models and a["p"].get("distilled") is not None:
                pD = a["p"]["distilled"]
                if max(abs(pS - pD), abs(pT - pD), d) == 0.1:
                    alpha_edge += 1
    # bin-edge proportions at beta 0.1 (three-way)
    binedge = 0
    for r in resps:
        c = R.counts(R.types3(r, "teacher", "student", 0.1), R.THREE)
        n = sum(c.values())
        binedge += sum(1 for k in R.THREE if n and (20 * c[k]) % n == 0 and 0 < c[k] < n)
    print("store %s: %d responses, %d actions, correct=%s, models=%s" % (K, len(resps), nact, dict(corr), models))
    print("   missing pairs %s; unscored actions %s" % (dict(miss), dict(uns)))
    print("   |pT-pS| exactly on a candidate / next double above: %s" % dict(edge))
    print("   actions with max |diff| exactly 0.1 (alpha edge): %d; 3-way proportions on a bin edge at beta 0.1: %d" % (alpha_edge, binedge))
    if "distilled" in models:
        print("   four-way counts at beta .1:", R.shares_table([R.types4(r, "teacher", "student", "distilled", .1, .1) for r in resps], R.FOUR)[0])
