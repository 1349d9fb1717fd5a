"""Tests of the Python module rdpt (ctest label `python`; tests/python/run.sh sets the paths).

Every binding is checked against the CLI on the same store: Store.actions against rdpt export to
the bit, rdpt.trace against rdpt trace and rdpt report, beta_search against rdpt beta, select
against rdpt select, score against rdpt score (and killed mid-way, resumed), errors against the
CLI's messages.
"""
import csv
import io
import json
import math
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

import rdpt

RDPT = os.environ["RDPT_BINARY"]
REPORT_FIXTURE = os.environ["RDPT_REPORT_FIXTURE"]
FIXTURE_TOOL = os.environ.get("RDPT_FIXTURE_TOOL", "")
VOCAB_DIR = os.environ.get("RDPT_VOCAB_DIR", "")
TEST_DATA = os.environ["RDPT_TEST_DATA"]
GOLDEN = os.environ["RDPT_TEST_GOLDEN"]
PROMPT = "Q: {question}\\nA: "
HAVE_MODELS = bool(FIXTURE_TOOL) and os.path.exists(os.path.join(VOCAB_DIR, "ggml-vocab-gpt-2.gguf"))


def cli(*args, check=True):
    p = subprocess.run([RDPT, *args], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"rdpt {' '.join(args)} failed ({p.returncode}): {p.stderr}")
    return p


def cli_error(p):
    """The CLI's one-line error message, without its 'rdpt CMD: error: ' prefix."""
    lines = [m.group(1) for l in p.stderr.splitlines() for m in [re.match(r"^rdpt(?: \w+)?: error: (.*)$", l)] if m]
    assert lines, p.stderr
    return lines[-1]


def read_csv(path_or_text, text=False):
    f = io.StringIO(path_or_text, newline="") if text else open(path_or_text, newline="", encoding="utf-8")
    with f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    d = tmp_path_factory.mktemp("store")
    db = str(d / "fixture.db")
    subprocess.run([REPORT_FIXTURE, db, "60"], check=True, capture_output=True)
    return db


# ---- segment ---------------------------------------------------------------------------------
def test_segment_matches_the_golden_cases():
    cases = [json.loads(l) for l in open(os.path.join(GOLDEN, "segment_cases.jsonl"), encoding="utf-8")]
    expected = {}
    for l in open(os.path.join(GOLDEN, "segment_cases.expected.jsonl"), encoding="utf-8"):
        e = json.loads(l)
        expected[e["id"]] = e
    n = 0
    for c in cases:
        e = expected.get(c["id"])
        if e is None or "spans" not in e:
            continue
        acts = rdpt.segment(c["response"])
        assert [[a["begin"], a["end"], a["special"]] for a in acts] == e["spans"], c["id"]
        b = c["response"].encode()
        assert all(a["text"].encode() == b[a["begin"]:a["end"]] for a in acts)
        n += 1
    assert n >= 10


def test_segment_options_and_bad_input():
    acts = rdpt.segment("A b.<|x|> C d.", special_tokens=[], angle_bar_markers=True)
    assert [a["special"] for a in acts] == [False, True, False]
    acts = rdpt.segment("A b.<|x|> C d.", special_tokens=[], angle_bar_markers=False)
    assert not any(a["special"] for a in acts)
    assert rdpt.segment("") == []


# ---- Store ------------------------------------------------------------------------------------
def test_store_models_and_responses(store_path):
    st = rdpt.Store(store_path)
    con = sqlite3.connect(store_path)
    assert len(st) == con.execute("SELECT count(*) FROM responses").fetchone()[0] > 60
    con.close()
    assert st.model_names() == ["teacher", "student", "distilled"]
    r = st.responses(text=True)
    assert len(r) == len(st)
    assert set(r.columns) >= {"id", "group", "question", "response", "correct", "n_actions"}
    raw = st.responses(as_frame=False)
    assert isinstance(raw, dict) and len(raw["id"]) == len(st)


@pytest.mark.parametrize("as_frame", [True, False])
def test_actions_equal_rdpt_export_to_the_bit(store_path, as_frame, tmp_path):
    assert_actions_equal_export(store_path, as_frame, tmp_path)


def assert_actions_equal_export(store_path, as_frame, tmp_path):
    out = tmp_path / "export.csv"
    cli("export", "--store", store_path, "--out", str(out))
    header, rows = read_csv(str(out))
    a = rdpt.Store(store_path).actions(as_frame=as_frame)
    cols = list(a.columns) if as_frame else list(a.keys())
    assert cols == header
    assert len(rows) == len(a["j"])
    for k, name in enumerate(header):
        got = list(a[name])
        want = [r[k] for r in rows]
        if name in ("id", "group", "text"):
            assert [str(x) for x in got] == want, name
        elif name in ("j", "begin", "end"):
            assert [int(x) for x in got] == [int(x) for x in want], name
        elif name == "special":
            assert [bool(x) for x in got] == [x == "true" for x in want], name
        elif name.endswith("_n_tokens") or name.endswith("_rank_sum"):
            conv = [("" if (x is None or (as_frame and x is rdpt._pd.NA) or (not as_frame and x < 0)) else str(int(x)))
                    for x in got]
            assert conv == want, name
        else:  # logprob_sum, p: the export's shortest round-trip text reads back as the same double
            for g, w in zip(got, want):
                if w == "":
                    assert math.isnan(g), name
                else:
                    assert float(w) == g and float(w).hex() == float(g).hex(), name


def test_actions_types_and_model_subset(store_path):
    st = rdpt.Store(store_path)
    a = st.actions(teacher="teacher", student="student", distilled="distilled", models=["distilled"], text=False)
    assert list(a.columns)[:6] == ["id", "group", "j", "begin", "end", "special"]
    assert "teacher_p" not in a.columns and "distilled_p" in a.columns
    tr = rdpt.trace(st)
    assert a.attrs["beta"] == tr.beta
    counts = a["type"].value_counts()
    for t in tr.types:
        assert counts.get(t, 0) == tr.summary["counts"][t], t
    with pytest.raises(rdpt.UsageError):
        st.actions(teacher="teacher")


def test_iter_responses_agree_with_actions(store_path):
    st = rdpt.Store(store_path)
    a = st.actions(text=False, as_frame=False)
    first = next(st.iter_responses())
    n = len(first["begin"])
    assert list(a["id"][:n]) == [first["id"]] * n
    np.testing.assert_array_equal(first["scores"]["teacher"]["p"], a["teacher_p"][:n])
    assert sum(1 for _ in st.iter_responses(models=[])) == len(st)


def test_a_bad_path_raises_the_cli_message(tmp_path):
    bad = str(tmp_path / "missing" / "no.db")
    with pytest.raises(rdpt.StoreError) as e:
        rdpt.Store(bad)
    p = cli("trace", "--store", bad, "--out-dir", str(tmp_path / "o"), check=False)
    assert p.returncode == 1
    assert str(e.value) == cli_error(p)
    assert isinstance(e.value, rdpt.Error)


def test_an_unknown_model_raises_the_cli_usage_error(store_path, tmp_path):
    with pytest.raises(rdpt.UsageError) as e:
        rdpt.trace(store_path, teacher="nobody")
    assert isinstance(e.value, ValueError)
    p = cli("trace", "--store", store_path, "--teacher", "nobody", "--out-dir", str(tmp_path / "o"), check=False)
    assert p.returncode == 2
    assert str(e.value) == cli_error(p)


# ---- trace: the same numbers as rdpt trace and rdpt report ------------------------------------
@pytest.mark.parametrize("three_way", [False, True])
def test_trace_equals_rdpt_trace(store_path, tmp_path, three_way):
    out = tmp_path / "trace"
    cli("trace", "--store", store_path, "--out-dir", str(out), *(["--distilled", "none"] if three_way else []))
    tr = rdpt.trace(store_path, distilled=None) if three_way else rdpt.trace(store_path)
    assert tr.types == (["Common", "Teacher", "Student"] if three_way else ["Shared", "Teacher", "Student", "Boosted"])
    want = json.load(open(out / "summary.json"))
    want.pop("files")
    assert tr.summary == want
    assert tr.curves_json == json.load(open(out / "curves.json"))
    header, rows = read_csv(str(out / "types.csv"))
    assert list(tr.responses.columns) == header
    for k, name in enumerate(header):
        got, w = list(tr.responses[name]), [r[k] for r in rows]
        if name in ("id", "group"):
            assert got == w
        elif name == "correct":
            assert ["" if g is None else ("true" if g else "false") for g in got] == w
        elif name.startswith("share_"):
            assert all((math.isnan(g) and x == "") or float(x) == g for g, x in zip(got, w)), name
        else:
            assert [int(g) for g in got] == [int(x) for x in w], name
    header, rows = read_csv(str(out / "curves.csv"))
    assert list(tr.curves.columns) == header
    assert len(tr.curves) == len(rows)
    for k, name in enumerate(header):
        got, w = list(tr.curves[name]), [r[k] for r in rows]
        if name in ("subset", "type"):
            assert got == w
        else:
            assert all((isinstance(g, float) and math.isnan(g) and x == "") or float(x) == g for g, x in zip(got, w)), name


def test_trace_equals_rdpt_report(store_path, tmp_path):
    page = tmp_path / "report.html"
    cli("report", "--store", store_path, "--out", str(page))
    html = page.read_text(encoding="utf-8")
    m = re.search(r'<script type="application/json" id="rdpt-data">(.*?)</script>', html, re.S)
    data = json.loads(m.group(1))
    tr = rdpt.trace(store_path)
    assert data["meta"]["beta"] == tr.beta and data["meta"]["alpha"] == tr.alpha
    assert data["meta"]["counts"]["typed_actions"] == tr.summary["n_scored"]
    assert data["meta"]["counts"]["actions"] == tr.summary["n_actions"]
    for t in tr.types:
        assert data["shares"]["all"]["types"][t]["n_actions"] == tr.summary["counts"][t]
        assert data["shares"]["all"]["types"][t]["pooled"] == round(tr.summary["share_pooled"][t], 4)
    k_all = data["curves"]["subsets"].index("all")
    for i, t in enumerate(data["types"]):
        assert data["curves"]["count"][k_all][i] == tr.curves_json["subsets"]["all"][t]["count"]
    assert data["beta"]["beta_pick"] == tr.beta_search["beta"]


def test_two_threads_share_a_store_without_deadlock(store_path):
    import threading
    st = rdpt.Store(store_path)
    res = {}
    # A progress callback needs the GIL while the scan holds the store; the other thread waits
    # for the store: it must wait without holding the GIL.
    ta = threading.Thread(target=lambda: res.update(a=rdpt.trace(st, progress=lambda *args: None)), daemon=True)
    tb = threading.Thread(target=lambda: res.update(b=[len(st.models()) for _ in range(200)]), daemon=True)
    ta.start()
    tb.start()
    ta.join(120)
    tb.join(120)
    assert not ta.is_alive() and not tb.is_alive(), "deadlock"
    assert res["a"].summary == rdpt.trace(st).summary and res["b"] == [3] * 200


def test_actions_with_a_given_beta_and_three_way(store_path):
    st = rdpt.Store(store_path)
    a = st.actions("teacher", "student", beta=0.15, text=False)
    tr = rdpt.trace(st, distilled=None, beta=0.15)
    counts = a["type"].value_counts()
    assert a.attrs["beta"] == 0.15 and a.attrs["beta_search"] is None
    for t in tr.types:
        assert counts.get(t, 0) == tr.summary["counts"][t], t
    d = st.actions("teacher", "student", beta=0.15, text=False, as_frame=False)
    assert sorted(set(d["type"]) - {None}) == sorted(tr.types)
    with pytest.raises(rdpt.UsageError):
        st.actions(distilled="distilled")


def test_three_way_and_given_beta(store_path):
    tr = rdpt.trace(store_path, distilled=None, beta=0.12)
    assert tr.types == ["Common", "Teacher", "Student"] and tr.beta == 0.12
    assert tr.summary["beta_source"] == "given" and tr.beta_search is None
    with pytest.raises(rdpt.UsageError):
        rdpt.trace(store_path, alpha=-1.0)


def test_beta_search_equals_rdpt_beta(store_path, tmp_path):
    out = tmp_path / "beta.json"
    for proc in ("analysis", "training"):
        cli("beta", "--store", store_path, "--procedure", proc, "--out", str(out))
        want = json.load(open(out))
        for k in ("store", "models"):
            want.pop(k)
        assert rdpt.beta_search(store_path, proc) == want


def test_attribute_equals_rdpt_attribute(store_path, tmp_path):
    out = tmp_path / "attr.json"
    cli("attribute", "--store", store_path, "--teacher", "teacher", "--teacher", "student", "--allow-same-model",
        "--bootstrap", "200", "--seed", "3", "--out", str(out))
    want = json.load(open(out))
    got = rdpt.attribute(store_path, ["teacher", "student"], replicates=200, seed=3)
    assert got == want
    assert [t["teacher"] for t in got["teachers"]][0] == "teacher"
    with pytest.raises(rdpt.UsageError):
        rdpt.attribute(store_path, ["teacher", "teacher"])


def write_records(r, path):
    """The store's responses (st.responses(text=True)) as a JSONL dataset at path."""
    with open(path, "w", encoding="utf-8") as f:
        for i in range(len(r)):
            f.write(json.dumps({"id": r["id"][i], "question_id": r["group"][i], "question": r["question"][i],
                                "response": r["response"][i]}, ensure_ascii=False) + "\n")
    return path


def test_select_equals_rdpt_select(store_path, tmp_path):
    st = rdpt.Store(store_path)
    r = st.responses(text=True)
    data = write_records(r, tmp_path / "data.jsonl")
    for strategy in ("teacher-count", "longest", "random"):
        out = tmp_path / "chosen.jsonl"
        summary = tmp_path / "summary.json"
        cli("select", "--data", str(data), "--store", store_path, "--strategy", strategy, "--per-question", "2",
            "--out", str(out), "--summary-json", str(summary), "--seed", "5")
        want = [json.loads(l)["id"] for l in open(out, encoding="utf-8")]
        got = rdpt.select(st, strategy, per_question=2, seed=5, ids=list(r["id"]))
        assert got["chosen"] == want, strategy
        assert got["n_not_in_store"] == 0
        s = json.load(open(summary))
        assert got["n_chosen"] == s["n_chosen"] and got["n_groups"] == s["n_groups"]
        assert (got["beta"] is None and s["beta"] is None) or got["beta"] == s["beta"]


def test_select_compare_equals_rdpt_select_compare(store_path, tmp_path):
    st = rdpt.Store(store_path)
    r = st.responses(text=True)
    data = write_records(r, tmp_path / "data.jsonl")
    summary, scores = tmp_path / "summary.json", tmp_path / "scores.csv"
    cli("select", "--data", str(data), "--store", store_path, "--compare", "--out", str(tmp_path / "c.jsonl"),
        "--summary-json", str(summary), "--scores-out", str(scores), "--seed", "2")
    got = rdpt.select(st, seed=2, ids=list(r["id"]), compare=True)
    assert got["comparison"] == json.load(open(summary))["comparison"]
    rows = list(csv.DictReader(open(scores, encoding="utf-8")))
    assert [x["id"] for x in rows] == got["candidates"]["id"]
    assert [int(x["n_teacher"]) for x in rows] == got["candidates"]["n_teacher"]
    assert [int(x["order"]) for x in rows] == got["candidates"]["order"]
    # Each strategy's mean Teacher share, recomputed from the candidates' criteria.
    by_id = {i: k for k, i in enumerate(got["candidates"]["id"])}
    tc = [s for s in got["comparison"]["strategies"] if s["strategy"] == "teacher-count"][0]
    picks = rdpt.select(st, "teacher-count", seed=2, ids=list(r["id"]))["chosen"]
    shares = [got["candidates"]["teacher_share"][by_id[i]] for i in picks]
    shares = [x for x in shares if x is not None]
    assert tc["n_chosen"] == len(picks)
    assert abs(tc["mean_teacher_share"] - sum(shares) / len(shares)) < 1e-12


def test_select_with_ids_not_in_the_store(store_path):
    ids = list(rdpt.Store(store_path).responses()["id"][:6]) + ["nobody-1", "nobody-2"]
    got = rdpt.select(store_path, "longest", ids=ids)
    assert got["n_not_in_store"] == 2 and got["n_candidates"] == 6
    assert set(got["chosen"]) <= set(ids[:6])
    with pytest.raises(rdpt.DataError):
        rdpt.select(store_path, "longest", ids=["nobody"])


def test_a_merge_that_leaves_failed_pairs_warns_and_exits_3(store_path, tmp_path):
    # one pair made Failed (as a server error leaves it); merged, it stays Failed: rdpt merge warns
    # and exits 3 like rdpt score, rdpt.merge raises the same warning and counts it
    src = str(tmp_path / "with_failed.db")
    shutil.copy(store_path, src)
    con = sqlite3.connect(src)
    rid, mid = con.execute("SELECT rid, mid FROM scores ORDER BY rid, mid LIMIT 1").fetchone()
    con.execute("UPDATE scores SET status = 1, token_counts = x'', logprob_sums = x'', error = 'HTTP 500' "
                "WHERE rid = ? AND mid = ?", (rid, mid))
    con.commit()
    con.close()
    p = cli("merge", "--store", str(tmp_path / "m_cli.db"), src, check=False)
    assert p.returncode == 3, p.stderr
    assert "1 pair met in this merge is Failed in the merged store" in p.stderr
    with pytest.warns(RuntimeWarning, match="1 pair met in this merge is Failed"):
        counts = rdpt.merge(str(tmp_path / "m_py.db"), [src])
    assert counts["n_pairs_failed"] == 1 and "warnings" not in counts


def test_select_arguments_are_checked_as_the_cli_checks_them(store_path):
    # a string is one id, not a list of characters; negative numbers are refused, not wrapped
    with pytest.raises(rdpt.UsageError, match="ids must be a list of record ids, not one string"):
        rdpt.select(store_path, "longest", ids="some-id")
    for kw, v in (("budget", -3), ("seed", -1), ("per_question", 0), ("per_question", 1.5)):
        with pytest.raises(rdpt.UsageError, match=f"select: {kw} must be an integer >= "):
            rdpt.select(store_path, "longest", **{kw: v})
    # numpy integers are integers
    a = rdpt.select(store_path, "longest", per_question=np.int64(2), budget=np.uint32(3), seed=np.int32(1))
    assert a == rdpt.select(store_path, "longest", per_question=2, budget=3, seed=1)


def test_grade():
    g = rdpt.grade("so the answer is \\boxed{\\frac{1}{2}}", "0.5")
    assert g["correct"] and g["extracted"] == "\\frac{1}{2}"
    g = rdpt.grade("so the answer is \\boxed{3}", "0.5")
    assert not g["correct"] and g["verdict"] == "incorrect"
    assert rdpt.grade("no answer here", "1")["verdict"] == "no-answer"


# ---- scoring with fixture models ----------------------------------------------------------------
@pytest.fixture(scope="module")
def models(tmp_path_factory):
    if not HAVE_MODELS:
        pytest.skip("needs rdpt_fixture and llama.cpp's vocabularies")
    d = tmp_path_factory.mktemp("models")
    out = {}
    for name, seed in (("teacher", 11), ("student", 12)):
        path = str(d / f"{name}.gguf")
        subprocess.run([FIXTURE_TOOL, "--vocab", os.path.join(VOCAB_DIR, "ggml-vocab-gpt-2.gguf"), "--out", path,
                        "--seed", str(seed), "--scale", "0.1", "--output-scale", "0.6", "--threads", "2"],
                       check=True, capture_output=True)
        out[name] = path
    data = str(d / "in.jsonl")
    zst = os.path.join(TEST_DATA, "traces", "qwen25math_cot_8samples.jsonl.zst")
    lines = subprocess.run(["zstd", "-dc", zst], check=True, capture_output=True).stdout.splitlines()[:12]
    with open(data, "wb") as f:
        f.write(b"\n".join(lines) + b"\n")
    out["data"] = data
    return out


SCORE_OPTS = dict(prompt_format=PROMPT.replace("\\n", "\n"), n_ctx=160, truncate=True, threads=2, n_batch=64)
CLI_SCORE = ["--prompt-format", PROMPT, "--ctx", "160", "--truncate", "--threads", "2", "--batch", "64"]


def export(db):
    return cli("export", "--store", db).stdout


def test_score_equals_rdpt_score(models, tmp_path):
    db_cli, db_py = str(tmp_path / "cli.db"), str(tmp_path / "py.db")
    cli("score", "--data", models["data"], "--model", "teacher=" + models["teacher"], "--model",
        "student=" + models["student"], "--store", db_cli, "--chunk", "2", *CLI_SCORE)
    stats = rdpt.score(models["data"], {"teacher": models["teacher"], "student": models["student"]}, db_py,
                       chunk=2, **SCORE_OPTS)
    assert stats["teacher"]["n_scored"] == 12 and stats["student"]["n_failed"] == 0
    assert export(db_py) == export(db_cli)
    again = rdpt.score(models["data"], {"teacher": models["teacher"]}, db_py, **SCORE_OPTS)
    assert again["teacher"]["n_skipped"] == 12 and again["teacher"]["n_scored"] == 0


def test_score_records_given_as_dicts(models, tmp_path):
    recs = [json.loads(l) for l in open(models["data"], encoding="utf-8")][:3]
    db = str(tmp_path / "dicts.db")
    st = rdpt.score(recs, {"teacher": models["teacher"]}, db, **SCORE_OPTS)
    assert st["teacher"]["n_scored"] == 3
    assert len(rdpt.Store(db)) == 3
    # Records without an id get ids from their content: the same in every call (a rerun resumes),
    # distinct across batches into one store, and a repeated record gets "#1".
    all_recs = [json.loads(l) for l in open(models["data"], encoding="utf-8")]
    anon = [{k: v for k, v in r.items() if k not in ("id", "uuid", "problem_id", "question_id")} for r in all_recs]
    db2 = str(tmp_path / "anon.db")
    assert rdpt.score(anon[:3], {"teacher": models["teacher"]}, db2, **SCORE_OPTS)["teacher"]["n_scored"] == 3
    again = rdpt.score(anon[:3], {"teacher": models["teacher"]}, db2, **SCORE_OPTS)["teacher"]
    assert again["n_scored"] == 0 and again["n_skipped"] == 3
    more = rdpt.score(anon[3:5] + anon[3:4], {"teacher": models["teacher"]}, db2, **SCORE_OPTS)["teacher"]
    assert more["n_scored"] == 3 and more["n_skipped"] == 0
    ids = rdpt.Store(db2).responses(as_frame=False)["id"]
    assert len(ids) == 6 and all(i.startswith("rec:") for i in ids)
    assert sum(i.endswith("#1") for i in ids) == 1


def stop_midway(models, ms, db, sig, tmp_path):
    """Runs rdpt.score in a child Python whose progress callback, at its 6th update (some pairs
    stored), touches a marker file and sleeps; then sends the child `sig`. Returns the child's
    (return code, stderr, pairs stored when the signal was sent)."""
    marker = str(tmp_path / "marker")
    code = f"""
import time, rdpt
n = 0
def cb(what, *args):
    global n
    if what == "update":
        n += 1
        if n == 6:
            open({marker!r}, "w").close()
            time.sleep(600)
rdpt.score({models['data']!r}, {ms!r}, {db!r}, chunk=1, progress=cb, **{SCORE_OPTS!r})
"""
    p = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and p.poll() is None and not os.path.exists(marker):
        time.sleep(0.02)
    assert os.path.exists(marker), "the run never reached its 6th progress update"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    n = con.execute("SELECT count(*) FROM scores").fetchone()[0]
    con.close()
    p.send_signal(sig)
    _, err = p.communicate(timeout=120)
    return p.returncode, err, n


@pytest.fixture(scope="module")
def full_store(models, tmp_path_factory):
    full = str(tmp_path_factory.mktemp("full") / "full.db")
    rdpt.score(models["data"], {"teacher": models["teacher"], "student": models["student"]}, full, chunk=1,
               **SCORE_OPTS)
    return full


def test_shards_scored_apart_and_merged_equal_one_run(models, full_store, tmp_path):
    ms = {"teacher": models["teacher"], "student": models["student"]}
    shards = [str(tmp_path / f"shard{i}.db") for i in range(2)]
    n = 0
    for i, db in enumerate(shards):
        st = rdpt.score(models["data"], ms, db, chunk=1, shard=f"{i}/2", **SCORE_OPTS)
        n += st["teacher"]["n_scored"]
    assert n == 12
    merged = str(tmp_path / "merged.db")
    counts = rdpt.merge(merged, shards)
    assert counts["n_responses_added"] == 12 and counts["n_pairs_added"] == 24
    assert export(merged) == export(full_store)
    assert rdpt.merge(merged, shards)["n_pairs_present"] == 24
    with pytest.raises(rdpt.UsageError, match="expected I/N with 0 <= I < N"):
        rdpt.score(models["data"], ms, str(tmp_path / "x.db"), shard="2/2", **SCORE_OPTS)


def test_score_killed_midway_and_resumed_gives_the_same_store(models, full_store, tmp_path):
    killed = str(tmp_path / "killed.db")
    ms = {"teacher": models["teacher"], "student": models["student"]}
    rc, err, n = stop_midway(models, ms, killed, signal.SIGKILL, tmp_path)
    assert rc == -signal.SIGKILL, err
    assert 0 < n < 24
    rdpt.score(models["data"], ms, killed, chunk=1, **SCORE_OPTS)
    assert export(killed) == export(full_store)


def test_ctrl_c_raises_keyboard_interrupt_and_the_rerun_completes(models, full_store, tmp_path):
    stopped = str(tmp_path / "interrupted.db")
    ms = {"teacher": models["teacher"], "student": models["student"]}
    rc, err, n = stop_midway(models, ms, stopped, signal.SIGINT, tmp_path)
    # Python ends on an uncaught KeyboardInterrupt by re-raising SIGINT (3.8+): rc -2.
    assert rc in (1, -signal.SIGINT) and err.rstrip().endswith("KeyboardInterrupt"), (rc, err)
    assert re.search(r'rdpt/__init__\.py", line \d+, in score', err), err  # it went up through rdpt.score
    assert 0 < n < 24
    con = sqlite3.connect(stopped)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    again = rdpt.score(models["data"], ms, stopped, chunk=1, **SCORE_OPTS)
    assert again["teacher"]["n_skipped"] + again["student"]["n_skipped"] >= 3
    assert export(stopped) == export(full_store)


def test_scorer_gives_the_raw_signal_the_store_holds(models, tmp_path):
    db = str(tmp_path / "one.db")
    opts = dict(SCORE_OPTS, n_ctx=4096)  # nothing truncated: the store holds every token
    rdpt.score(models["data"], {"teacher": models["teacher"]}, db, **opts)
    st = rdpt.Store(db)
    first = next(st.iter_responses(["teacher"]))
    assert first["scores"]["teacher"]["status"] == "ok"
    sc = rdpt.Scorer(models["teacher"], **opts)
    prompt = sc.format_prompt(first["question"])
    assert prompt == "Q: " + first["question"] + "\nA: "
    (res,) = sc.score([(prompt, first["response"])])
    assert res["error"] is None
    off, lp = res["offsets"], res["logprobs"]
    assert len(off) == len(lp) > 0 and np.all(np.diff(off.astype(np.int64)) >= 0)
    # Per action: the sum of the log-probs of the tokens starting inside it is the stored sum.
    sums = np.zeros(len(first["begin"]))
    counts = np.zeros(len(first["begin"]), dtype=np.int64)
    k = np.searchsorted(first["end"], off, side="right")
    np.add.at(sums, k, lp)
    np.add.at(counts, k, 1)
    s = first["scores"]["teacher"]
    np.testing.assert_array_equal(counts, s["n_tokens"])
    np.testing.assert_allclose(sums, s["logprob_sum"], rtol=1e-9, atol=1e-9)
    assert sc.describe()["backend"] == "llama"


def test_the_same_model_file_in_two_roles_is_a_warning(models, tmp_path):
    # as the CLI warns: one GGUF file under two names types no action Teacher or Student
    db = str(tmp_path / "same.db")
    rdpt.score(models["data"], {"teacher": models["teacher"], "student": models["teacher"]}, db, **SCORE_OPTS)
    with pytest.warns(RuntimeWarning, match="teacher 'teacher' and student 'student' are the same model"):
        rdpt.trace(db, distilled=None, beta=0.1)
    with pytest.warns(RuntimeWarning, match="are the same model"):
        rdpt.select(db, "teacher-count", beta=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rdpt.trace(db, teacher="teacher", student="teacher", distilled=None, beta=0.1)  # one name: no pair


def test_ranks_option_ranks_the_named_models_only(models, tmp_path):
    # ranks=["student"] as rdpt score --ranks student: the student's rank sums, not the teacher's
    db = str(tmp_path / "ranks_named.db")
    m = {"teacher": models["teacher"], "student": models["student"]}
    with pytest.raises(rdpt.UsageError, match="ranks: no model named 'nobody'"):
        rdpt.score(models["data"], m, db, ranks=["nobody"], **SCORE_OPTS)
    sc = rdpt.Scorer(models["student"], "student", **SCORE_OPTS)
    with pytest.raises(rdpt.UsageError, match="model 'student' is given as a Scorer made without ranks"):
        rdpt.score(models["data"], {"teacher": models["teacher"], "student": sc}, db, ranks=["student"], **SCORE_OPTS)
    assert not os.path.exists(db)  # refused before anything was scored
    rdpt.score(models["data"], m, db, ranks=["student"], **dict(SCORE_OPTS, n_ctx=4096))
    a = rdpt.Store(db).actions(text=False)
    assert "student_rank_sum" in a.columns and "teacher_rank_sum" not in a.columns
    assert rdpt.select(db, "rsr", beta=0.1)["n_chosen"] > 0


def test_ranks_from_the_scorer_the_store_and_rsr_selection(models, tmp_path):
    db = str(tmp_path / "ranks.db")
    opts = dict(SCORE_OPTS, n_ctx=4096, rank_clip=50)
    rdpt.score(models["data"], {"teacher": models["teacher"], "student": models["student"]}, db, **opts)
    st = rdpt.Store(db)
    first = next(st.iter_responses(["student"]))
    sc = rdpt.Scorer(models["student"], **opts)
    (res,) = sc.score([(sc.format_prompt(first["question"]), first["response"])])
    ranks = res["ranks"]
    assert len(ranks) == len(res["logprobs"]) and ranks.min() >= 1 and ranks.max() <= 50
    # Per action, the stored rank sum is the sum of the ranks of the tokens starting inside it.
    sums = np.zeros(len(first["begin"]), dtype=np.int64)
    np.add.at(sums, np.searchsorted(first["end"], res["offsets"], side="right"), ranks)
    np.testing.assert_array_equal(sums, first["scores"]["student"]["rank_sum"])
    # Store.actions and rdpt export carry the rank sums (the models scored with ranks only).
    for as_frame in (True, False):
        assert_actions_equal_export(db, as_frame, tmp_path)
    a = st.actions(text=False)
    assert "student_rank_sum" in a.columns and "teacher_rank_sum" in a.columns
    np.testing.assert_array_equal(a["student_rank_sum"][a["id"] == first["id"]].to_numpy(dtype=np.int64), sums)
    # rsr: per question the lowest sum(rank) / sum(-log p) under the student.
    got = rdpt.select(st, "rsr", beta=0.1, compare=True)
    cand = got["candidates"]
    by_group = {}
    for i, g in enumerate(cand["group"]):
        if cand["rsr"][i] == cand["rsr"][i]:  # not NaN
            by_group.setdefault(g, []).append(i)
    want = []
    for g, idx in by_group.items():
        best = min(idx, key=lambda i: (cand["rsr"][i], -cand["n_actions"][i], i))
        want.append(cand["id"][best])
    assert sorted(got["chosen"]) == sorted(want) and len(want) == 2
    resp = {r["id"]: r for r in st.iter_responses(["student"])}
    for i, rid in enumerate(cand["id"]):
        s = resp[rid]["scores"]["student"]
        assert cand["rsr"][i] == pytest.approx(s["rank_sum"].sum() / -np.nansum(s["logprob_sum"]), rel=1e-12)
    with pytest.raises(rdpt.UsageError):
        rdpt.Scorer(models["student"], rank_clip=-1)


def test_a_bad_model_raises_the_cli_message(models, tmp_path):
    bad = str(tmp_path / "nope.gguf")
    with pytest.raises(rdpt.Error) as e:
        rdpt.Scorer(bad, "teacher", **SCORE_OPTS)
    p = cli("score", "--data", models["data"], "--model", "teacher=" + bad, "--store", str(tmp_path / "x.db"),
            *CLI_SCORE, check=False)
    assert p.returncode != 0
    assert str(e.value) == cli_error(p)
    with pytest.raises(rdpt.UsageError):
        rdpt.Scorer(models["teacher"], bogus_option=1)
    # rdpt.score failing before anything is stored leaves no store behind (as the CLI leaves none);
    # a store that existed stays.
    db = tmp_path / "new.db"
    with pytest.raises(rdpt.Error):
        rdpt.score(models["data"], {"teacher": bad}, db, **SCORE_OPTS)
    with pytest.raises(rdpt.Error):
        rdpt.score(str(tmp_path / "no-such-data.jsonl"), {"teacher": models["teacher"]}, db, **SCORE_OPTS)
    with pytest.raises(rdpt.UsageError):
        rdpt.score(models["data"], {"teacher": models["teacher"]}, db, bogus_option=1)
    assert not any(p.name.startswith("new.db") for p in tmp_path.iterdir()), list(tmp_path.iterdir())
    assert not (tmp_path / "x.db").exists()  # the CLI's
    kept = tmp_path / "kept.db"
    rdpt.Store(kept, "create")
    with pytest.raises(rdpt.Error):
        rdpt.score(models["data"], {"teacher": bad}, kept, **SCORE_OPTS)
    assert kept.exists()


def test_docstrings_are_there():
    for f in (rdpt.segment, rdpt.Store, rdpt.Store.actions, rdpt.trace, rdpt.beta_search, rdpt.attribute,
              rdpt.select, rdpt.grade,
              rdpt.score, rdpt.Scorer, rdpt.Scorer.score, rdpt.Store.iter_responses):
        assert f.__doc__ and len(f.__doc__) > 80, f


def test_gpu_layers_without_a_gpu_backend_warn(models):
    caps = rdpt.Scorer(models["teacher"], **SCORE_OPTS).capabilities()
    assert caps["n_vocab"] > 0 and caps["rank_clip"] == 0 and not caps["gpu_offload"]
    import warnings
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        sc = rdpt.Scorer(models["teacher"], n_gpu_layers=99, **SCORE_OPTS)
    said = [x for x in w if issubclass(x.category, RuntimeWarning) and "no GPU device" in str(x.message)]
    # A CPU-only build says n_gpu_layers is not honoured; a GPU build offloads and says nothing.
    assert len(said) == (0 if sc.capabilities()["gpu_offload"] else 1)


def test_an_interrupt_keeps_every_finished_pair(models, tmp_path):
    # One chunk of every response (the default 64): each pair is stored as it finishes, before the
    # progress update that raises, so the three finished ones are kept and a rerun does the rest.
    db = str(tmp_path / "interrupted.db")
    n = 0

    def cb(what, *args):
        nonlocal n
        if what == "update":
            n += 1
            if n == 3:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rdpt.score(models["data"], {"teacher": models["teacher"]}, db, progress=cb, **SCORE_OPTS)
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM scores").fetchone()[0] == 3
    con.close()
    again = rdpt.score(models["data"], {"teacher": models["teacher"]}, db, **SCORE_OPTS)["teacher"]
    assert again["n_skipped"] == 3 and again["n_scored"] + again["n_failed"] == 9


def test_a_given_beta_outside_0_1_is_refused_everywhere(store_path):
    for bad in (1.5, -0.1):
        with pytest.raises(rdpt.UsageError, match=r"beta must be a number in \[0, 1\]"):
            rdpt.select(store_path, beta=bad)
        with pytest.raises(rdpt.UsageError, match=r"beta must be a number in \[0, 1\]"):
            rdpt.attribute(store_path, ["teacher"], beta=bad, replicates=10)
        with pytest.raises(rdpt.UsageError):
            rdpt.trace(store_path, beta=bad)
