#!/usr/bin/env python3
"""Store.actions() speed and memory, against the script a user would otherwise write, in one run.

    PYTHONPATH=build/python python3 bench/python_actions_bench.py [STORE]

STORE defaults to the store bench/trace_store_bench builds (build/bench/trace_store_bench
--responses N first). Each variant runs in a fresh process, so that its peak resident memory is
its own. Prints actions/s, the ratio to the baseline, and peak memory:
  baseline   sqlite3 + numpy.frombuffer over the scores of every model (the README's old snippet),
             per-action p for every model, ids repeated per action: what a notebook does by hand
  dict       Store.actions(text=False, as_frame=False): numpy arrays
  frame      Store.actions(text=False): a pandas DataFrame (categorical id and group)
  stream     Store.iter_responses(): one response at a time (bounded memory)
"""
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

STORE = sys.argv[1] if len(sys.argv) > 1 else os.path.join(tempfile.gettempdir(), "rdpt_trace_store_bench.db")

VARIANTS = {
    "baseline": r'''
import sqlite3, numpy as np
db = sqlite3.connect("file:" + STORE + "?mode=ro", uri=True)
mids = [m for (m,) in db.execute("SELECT mid FROM models ORDER BY mid")]
ids = []; n_act = []
for rid, i, n in db.execute("SELECT rid, id, n_actions FROM responses ORDER BY rid"):
    ids.append(i); n_act.append(n)
cols = {"id": np.repeat(np.array(ids, dtype=object), n_act)}
for m in mids:
    ps = []
    for counts, sums in db.execute("SELECT token_counts, logprob_sums FROM scores WHERE mid = ? ORDER BY rid", (m,)):
        c = np.frombuffer(counts, "<u4"); s = np.frombuffer(sums, "<f8")
        with np.errstate(divide="ignore", invalid="ignore"):
            ps.append(np.where(c > 0, np.exp(s / c), np.nan))
    cols[f"p{m}"] = np.concatenate(ps)
N = len(cols["id"])
''',
    "dict": 'import rdpt\na = rdpt.Store(STORE).actions(text=False, as_frame=False)\nN = len(a["j"])\n',
    "frame": 'import rdpt\na = rdpt.Store(STORE).actions(text=False)\nN = len(a)\n',
    "stream": 'import rdpt\nN = 0\nfor r in rdpt.Store(STORE).iter_responses():\n    N += len(r["begin"])\n',
}

RUNNER = r'''
import json, resource, sys, time
STORE = sys.argv[1]
t0 = time.perf_counter()
exec(sys.stdin.read())
t = time.perf_counter() - t0
print(json.dumps({"n": N, "s": t, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def run(code):
    p = subprocess.run([sys.executable, "-c", RUNNER, STORE], input=code, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(p.stderr)
    return json.loads(p.stdout)


if not os.path.exists(STORE):
    raise SystemExit(f"no store at {STORE}: build it with build/bench/trace_store_bench --responses N")
res = {k: run(v) for k, v in VARIANTS.items()}
n = res["dict"]["n"]
assert all(r["n"] == n for r in res.values()), res
base = res["baseline"]["s"]
print(f"store {STORE}: {n} actions, {os.path.getsize(STORE) / 1e6:.0f} MB; one process per variant")
for k, r in res.items():
    print(f"{k:9s} {r['s']:7.2f} s {n / r['s'] / 1e6:7.2f} M actions/s {base / r['s']:6.2f}x baseline "
          f"peak {r['rss_mb']:7.0f} MB")
