#!/usr/bin/env python3
"""Independent reference for section 2 of docs/method.md ("An action's probability under one model").

Written from docs/method.md and docs/score.md, docs/segment.md, docs/python.md only (not from rdpt's
C++ sources), on top of rdpt's raw per-token signal: rdpt.Scorer(...).score([(prompt, response)])
gives the byte offset and log-prob of every response token. Everything between that signal and
the stored per-action numbers is recomputed here:

  * the canonical response (inline as is; or "<think>" + reasoning_content + "</think>" + answer);
  * the segmentation (docs/method.md section 1, own implementation; optionally cross-checked against
    tests/tools/segment_reference.py);
  * the prompt: a hand-written rendering of each fixture's template / raw format, compared with
    rdpt.Scorer.format_prompt (and so with what `rdpt score` used);
  * a thought the prompt already opened (docs/score.md): the prompt ends with <think> or
    <|begin_of_thought|> plus whitespace and the response starts with the same tag: the tag and the
    common whitespace prefix count as prompt; the rest of the response is scored after the prompt;
  * token -> the action holding its first byte; per action n_tokens, logprob_sum (sum of the token
    log-probs) and p = exp(logprob_sum / n_tokens); an action without a token is unscored
    (n_tokens 0, p empty/NaN);
  * a model whose prompt ends with <|start|>assistant (gpt-oss harmony, docs/score.md "Thinking
    formats"): the response is rendered into analysis/final channels; header tokens belong to no
    action, every other byte maps back to the canonical text;
  * --truncate (docs/score.md "Long responses"): only the first ctx - prompt tokens are scored, and
    the action the limit cuts is unscored like every action after it;
  * a failed pair (too long without --truncate): every action missing (n_tokens empty / <NA>).

Each action is then compared with `rdpt export` (CSV) and rdpt.Store(...).actions(): n_tokens and
scored/unscored/missing exactly, logprob_sum and p to a relative tolerance (default 1e-9).

  section2_reference.py CONFIG.json      (run_check.sh writes CONFIG.json; see there)

Standard library + numpy (and the rdpt module for the raw signal and the Store reader).
Exit status: 0 all agree (and the built-in perturbation self-test is caught), 1 otherwise.
"""
import csv
import json
import math
import os
import re
import sys

WS_SET = set(" \t\n\r\f\v")

# ------------------------------------------------------------------ docs/method.md section 1
_MARKER = re.compile(r"<\|[^ \t\n\r\f\v<>|]+?\|>|<\uff5c[^ \t\n\r\f\v<>|]+?\uff5c>")
_CUT = re.compile(r"([.?!}\]])([ \t\n\r\f\v]+)([A-Z])")


def segment(text, specials=("<think>", "</think>"), markers=True):
    """Actions of a response as [(begin_byte, end_byte, special)]."""
    n = len(text)
    specs = []                       # (start, end) char spans of special tokens, longest match
    i = 0
    while i < n:
        best = 0
        for sp in specials:
            if text.startswith(sp, i):
                best = max(best, len(sp))
        if markers and text[i] == "<":
            m = _MARKER.match(text, i)
            if m and len(m.group(0)[2:-2].encode("utf-8")) <= 60:  # docs/segment.md: inside of 1-60 bytes
                best = max(best, m.end() - i)
        if best:
            specs.append((i, i + best))
            i += best
        else:
            i += 1
    pieces, pos = [], 0
    for s, e in specs:
        if s > pos:
            pieces += _split_text(text, pos, s)
        pieces.append([s, e, True])
        pos = e
    if pos < n:
        pieces += _split_text(text, pos, n)
    out, pending = [], None          # whitespace-only pieces join the next action (or the last)
    for s, e, sp in pieces:
        if not sp and all(c in WS_SET for c in text[s:e]):
            if pending is None:
                pending = s
            continue
        if pending is not None:
            s, pending = pending, None
        out.append([s, e, sp])
    if pending is not None:
        if out:
            out[-1][1] = n
        else:
            out.append([pending, n, False])
    off = [0]
    for ch in text:
        off.append(off[-1] + len(ch.encode("utf-8")))
    res = [(off[s], off[e], sp) for s, e, sp in out]
    b = text.encode("utf-8")
    assert b"".join(b[s:e] for s, e, _ in res) == b
    return res


def _split_text(text, start, end):
    """The paper's rule; the cut falls right after the punctuation."""
    seg = text[start:end]
    res, prev = [], 0
    for m in _CUT.finditer(seg):
        res.append([start + prev, start + m.start(2), False])
        prev = m.start(2)
    res.append([start + prev, end, False])
    return [r for r in res if r[1] > r[0]]


# ------------------------------------------------------------------ records and prompts
def canonical_response(rec):
    """docs/score.md "Thinking formats": inline as is, or <think>thought</think>answer."""
    resp = rec.get("response") or ""
    thought = rec.get("reasoning_content") or rec.get("reasoning")
    return "<think>" + thought + "</think>" + resp if thought else resp


def decode_escapes(fmt):
    """--prompt-format escapes \\n, \\t, \\\\ (docs/score.md)."""
    return re.sub(r"\\(n|t|\\)", lambda m: {"n": "\n", "t": "\t", "\\": "\\"}[m.group(1)], fmt)


def render_prompt(model, rec):
    """Hand-written rendering of the check's prompts (one user turn, generation prompt)."""
    q = rec["question"]
    system = rec.get("system_prompt") or rec.get("system") or ""
    kind = model["render"]
    if kind == "raw":                # --prompt-format: one pass over {question} and {system}
        fmt = decode_escapes(model["prompt_format"])
        return re.sub(r"\{question\}|\{system\}",
                      lambda m: q if m.group(0) == "{question}" else system, fmt)
    if kind == "chatml":             # the template of llama.cpp's ggml-vocab-qwen2.gguf
        s = ("<|im_start|>system\n" + system + "<|im_end|>\n" if system
             else "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n")
        return s + "<|im_start|>user\n" + q + "<|im_end|>\n<|im_start|>assistant\n"
    if kind == "phi3":               # ggml-vocab-phi-3.gguf's template: a system turn is dropped
        return model["bos_text"] + "<|user|>\n" + q + "<|end|>\n<|assistant|>\n"
    if kind == "qwq":                # the check's QwQ-like template, opening the thought
        s = "<|im_start|>system\n" + system + "<|im_end|>\n" if system else ""
        return s + "<|im_start|>user\n" + q + "<|im_end|>\n<|im_start|>assistant\n<think>\n"
    raise ValueError("unknown render " + kind)


_OPEN = re.compile(r"(<think>|<\|begin_of_thought\|>)([ \t\n\r\f\v]*)\Z")
_LEAD_OPEN = re.compile(r"[ \t\n\r\f\v]*(<think>|<\|begin_of_thought\|>)")
_CLOSE_OF = {"<think>": "</think>", "<|begin_of_thought|>": "<|end_of_thought|>"}
H_ANALYSIS = "<|channel|>analysis<|message|>"
H_FINAL_AFTER = "<|end|><|start|>assistant<|channel|>final<|message|>"
H_FINAL = "<|channel|>final<|message|>"


def prompt_overlap(prompt, response):
    """Bytes at the start of the response that the prompt already holds (an opened thought)."""
    m = _OPEN.search(prompt)
    if not m or not response.startswith(m.group(1)):
        return 0
    tag, pws = m.group(1), m.group(2)
    rest = response[len(tag):]
    k = 0
    while k < len(pws) and k < len(rest) and rest[k] == pws[k]:
        k += 1
    return len(tag) + k              # ASCII: characters are bytes


def model_view(prompt, canon):
    """What the model scores after its prompt, and how its bytes map back to the canonical text.

    Returns (text, [(view_byte, canon_byte, length)], removed): bytes outside the segments (harmony
    channel headers) belong to no action; `removed` lists the canonical byte offsets of thinking
    tags the view leaves out, whose actions get no token (docs/score.md: "the canonical <think> and
    </think> actions are unscored under gpt-oss").
    """
    cb = canon.encode("utf-8")
    if prompt.endswith("<|start|>assistant"):
        # gpt-oss harmony (docs/score.md "Thinking formats"): thought -> analysis, answer -> final.
        # Details the docs leave open, as rdpt behaves (--show-prompt): whitespace before the
        # opening tag at the very start is dropped with it; Sky-T1's <|begin_of_thought|> /
        # <|end_of_thought|> are thinking tags too; without an opening tag the thought is
        # everything before the first closing tag.
        start, close, clen, removed = 0, -1, 0, []
        m = _LEAD_OPEN.match(canon)
        if m:
            start = len(canon[:m.end()].encode("utf-8"))
            removed.append(len(canon[:m.start(1)].encode("utf-8")))
            ctag = _CLOSE_OF[m.group(1)].encode()
            close = cb.find(ctag, start)
            clen = len(ctag)
        else:
            for ctag in (b"</think>", b"<|end_of_thought|>"):
                c = cb.find(ctag)
                if c >= 0 and (close < 0 or c < close):
                    close, clen = c, len(ctag)
        if close >= 0:
            removed.append(close)
        if not m and close < 0:
            parts = [(H_FINAL.encode(), None), (cb, 0)]
        elif close < 0:
            parts = [(H_ANALYSIS.encode(), None), (cb[start:], start)]
        else:
            parts = [(H_ANALYSIS.encode(), None), (cb[start:close], start),
                     (H_FINAL_AFTER.encode(), None), (cb[close + clen:], close + clen)]
        out, segs, pos = b"", [], 0
        for piece, at in parts:
            if at is not None and piece:
                segs.append((pos, at, len(piece)))
            out += piece
            pos += len(piece)
        return out.decode("utf-8"), segs, removed
    ov = prompt_overlap(prompt, canon)
    return cb[ov:].decode("utf-8"), [(0, ov, len(cb) - ov)], []


def view_to_canon(segs, off):
    for v, c, n in segs:
        if v <= off < v + n:
            return c + off - v
    return None


# ------------------------------------------------------------------ docs/method.md section 2
def action_of(spans, b):
    """Index of the action holding byte b (actions are contiguous and sorted), or None."""
    lo, hi = 0, len(spans) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        s, e, _ = spans[mid]
        if b < s:
            hi = mid - 1
        elif b >= e:
            lo = mid + 1
        else:
            return mid
    return None


def aggregate(spans, token_actions, logprobs):
    """Per action (n_tokens, logprob_sum, p); p None when unscored."""
    n = [0] * len(spans)
    sums = [0.0] * len(spans)
    for k, lp in zip(token_actions, logprobs):
        n[k] += 1
        sums[k] += float(lp)
    return [(n[k], sums[k], math.exp(sums[k] / n[k]) if n[k] else None) for k in range(len(spans))]


def expected_for_model(rdpt, model, recs, canon, spans, problems, full_offsets=None):
    """Expected per-action values of every record under one model configuration.

    Returns ({id: [(n, sum, p)] or None for a failed pair}, {id: all token offsets}).
    """
    opts = dict(threads=model.get("threads", 1), n_seq_max=1)
    if "prompt_format" in model:
        opts["prompt_format"] = decode_escapes(model["prompt_format"])
    if model.get("ctx"):
        opts["n_ctx"] = model["ctx"]
    if model.get("truncate"):
        opts["truncate"] = True
    sc = rdpt.Scorer(model["path"], model["name"], **opts)
    name = model["name"]
    todo = []
    for r in recs:
        prompt = sc.format_prompt(r["question"], r.get("system_prompt") or "")
        mine = render_prompt(model, r)
        if mine != prompt:
            problems.append((("prompt", name, r["id"]), mine, prompt))
        rest, segs, removed = model_view(mine, canon[r["id"]])
        todo.append((r["id"], segs, removed, prompt, rest))
    scored = [t for t in todo if t[4] != ""]
    outs = sc.score([(t[3], t[4]) for t in scored], progress=False)
    raw = {t[0]: o for t, o in zip(scored, outs)}
    expected, offsets_of = {}, {}
    for rid, segs, removed, prompt, rest in todo:
        sp = spans[rid]
        o = raw.get(rid)
        if o is None:                        # nothing left after the prompt's part
            expected[rid] = aggregate(sp, [], [])
            continue
        if o["error"]:
            if model.get("expect_failures"):
                expected[rid] = None         # failed pair: every action missing
            else:
                problems.append((("scorer error", name, rid), None, o["error"]))
            continue
        voffs = [int(x) for x in o["offsets"]]
        if any(b < a for a, b in zip(voffs, voffs[1:])) or any(b >= len(rest.encode("utf-8")) for b in voffs):
            problems.append((("offsets not sorted or past the end", name, rid), None, voffs))
        offs = [view_to_canon(segs, b) for b in voffs]     # None: a harmony header byte
        offsets_of[rid] = offs
        dropped = {action_of(sp, b) for b in removed}      # actions of the left-out tags
        acts, lps = [], []
        for b, lp in zip(offs, o["logprobs"]):
            if b is None:
                continue                                   # scored, but belongs to no action
            k = action_of(sp, b)
            if k is None:
                problems.append((("token outside every action", name, rid), None, b))
                continue
            if k in dropped:
                continue
            acts.append(k)
            lps.append(float(lp))
        if o["truncated"]:
            # the first dropped token's action is cut: it and every later action are unscored
            full = full_offsets[rid]
            kept = len(offs)
            if full[:kept] != offs:
                problems.append((("truncated offsets differ from the full ones", name, rid), full[:kept], offs))
            if len(segs) != 1:
                problems.append((("truncation of a harmony view is not modelled", name, rid), None, None))
            cut = action_of(sp, full[kept])
            keep = [i for i, k in enumerate(acts) if k < cut]
            acts = [acts[i] for i in keep]
            lps = [lps[i] for i in keep]
        elif len(offs) != o["n_tokens_total"]:
            problems.append((("n_tokens_total", name, rid), len(offs), o["n_tokens_total"]))
        expected[rid] = aggregate(sp, acts, lps)
    return expected, offsets_of


# ------------------------------------------------------------------ comparison
class Compare:
    def __init__(self, tol):
        self.tol = tol
        self.n_values = 0
        self.n_pairs = 0
        self.max_rel = 0.0
        self.mismatches = []

    def eq(self, what, exp, got):
        self.n_values += 1
        if exp != got:
            self.mismatches.append((what, exp, got))

    def close(self, what, exp, got):
        """exp None: expect a missing value (NaN / empty)."""
        self.n_values += 1
        if exp is None or got is None:
            if not (exp is None and got is None):
                self.mismatches.append((what, exp, got))
            return
        rel = abs(exp - got) / max(abs(exp), abs(got), 1e-300)
        if rel <= self.tol:
            self.max_rel = max(self.max_rel, rel)
        else:
            self.mismatches.append((what, exp, got))


def _f(s):
    return None if s == "" else float(s)


def _nan_none(x):
    x = float(x)
    return None if math.isnan(x) else x


def compare(cmp, models, expected, recs, canon, spans, csv_rows, acts, by_id, perturb=None):
    for r in recs:
        rid = r["id"]
        rows = csv_rows.get(rid, [])
        idx = by_id.get(rid, [])
        cmp.eq(("n_actions csv", rid), len(spans[rid]), len(rows))
        cmp.eq(("n_actions py", rid), len(spans[rid]), len(idx))
        b = canon[rid].encode("utf-8")
        for j, ((s, e, sp), row) in enumerate(zip(spans[rid], rows), 1):
            cmp.eq(("span csv", rid, j), (j, s, e, sp),
                   (int(row["j"]), int(row["begin"]), int(row["end"]), row["special"] == "true"))
            cmp.eq(("text csv", rid, j), b[s:e].decode("utf-8"), row["text"])
        for m in models:
            name = m["name"]
            exp = expected[name][rid]
            for k in range(len(spans[rid])):
                j = k + 1
                if exp is None:                           # failed pair: missing everywhere
                    n, lsum, p = None, None, None
                else:
                    n, lsum, p = exp[k]
                if perturb and perturb[:3] == [name, rid, j]:
                    col, factor = perturb[3], float(perturb[4])
                    if col == "n_tokens":
                        n = n + 1
                    elif col == "logprob_sum":
                        lsum = lsum * factor
                    else:
                        p = p * factor
                cmp.n_pairs += 1
                if k < len(rows):
                    row = rows[k]
                    got_n = row[name + "_n_tokens"]
                    cmp.eq(("csv n_tokens", name, rid, j), n, None if got_n == "" else int(got_n))
                    cmp.close(("csv logprob_sum", name, rid, j), lsum, _f(row[name + "_logprob_sum"]))
                    cmp.close(("csv p", name, rid, j), p, _f(row[name + "_p"]))
                if k < len(idx):
                    a = idx[k]
                    got_n = acts[name + "_n_tokens"][a]
                    got_n = None if (got_n is None or int(got_n) < 0) else int(got_n)
                    cmp.eq(("py n_tokens", name, rid, j), n, got_n)
                    cmp.close(("py logprob_sum", name, rid, j), lsum, _nan_none(acts[name + "_logprob_sum"][a]))
                    cmp.close(("py p", name, rid, j), p, _nan_none(acts[name + "_p"][a]))


def report(cmp, label, limit):
    print(f"{label}: {cmp.n_pairs} (model, action) pairs, {cmp.n_values} values compared, "
          f"{len(cmp.mismatches)} mismatches (tolerance {cmp.tol:g} relative; "
          f"largest relative difference within it {cmp.max_rel:.3g})")
    for what, exp, got in cmp.mismatches[:limit]:
        print("  MISMATCH", what, "expected", repr(exp)[:200], "got", repr(got)[:200])


def main():
    cfg = json.load(open(sys.argv[1]))
    sys.path.insert(0, cfg["pymod"])
    import rdpt
    recs = [json.loads(l) for l in open(cfg["data"], encoding="utf-8") if l.strip()]
    canon = {r["id"]: canonical_response(r) for r in recs}
    spans = {rid: segment(t) for rid, t in canon.items()}
    problems = []
    if cfg.get("segment_reference"):
        sys.path.insert(0, os.path.dirname(cfg["segment_reference"]))
        import segment_reference
        for rid, t in canon.items():
            if [list(s) for s in spans[rid]] != segment_reference.segment(t):
                problems.append((("segment_reference disagrees", rid), spans[rid], None))
    models = cfg["models"]
    expected, offsets = {}, {}
    for m in models:
        full = offsets.get(m.get("full_offsets_from"))
        expected[m["name"]], offsets[m["name"]] = expected_for_model(rdpt, m, recs, canon, spans, problems, full)
    csv_rows = {}
    with open(cfg["export_csv"], newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            csv_rows.setdefault(row["id"], []).append(row)
    acts = rdpt.Store(cfg["store"]).actions(models=[m["name"] for m in models], text=False, as_frame=False)
    by_id = {}
    for i, rid in enumerate(acts["id"]):
        by_id.setdefault(str(rid), []).append(i)
    for k in by_id:                   # rows in j order
        by_id[k].sort(key=lambda i: int(acts["j"][i]))
    limit = int(cfg.get("max_report", 40))
    tol = float(cfg.get("tol", 1e-9))

    cmp = Compare(tol)
    cmp.mismatches += problems
    compare(cmp, models, expected, recs, canon, spans, csv_rows, acts, by_id, cfg.get("perturb"))
    n_unscored = sum(1 for m in models for rid in expected[m["name"]] if expected[m["name"]][rid] is not None
                     for a in expected[m["name"]][rid] if a[0] == 0)
    n_failed = sum(1 for m in models for rid in expected[m["name"]] if expected[m["name"]][rid] is None)
    print(f"section 2 check: {len(recs)} responses, {len(models)} model configurations "
          f"({', '.join(m['name'] for m in models)}); expected: {n_unscored} unscored actions, "
          f"{n_failed} failed pairs")
    report(cmp, "rdpt vs reference", limit)
    ok = not cmp.mismatches

    # self-test: the same comparison with one expected value nudged must fail
    st = cfg.get("self_test")
    if st:
        base = Compare(tol)
        compare(base, models, expected, recs, canon, spans, csv_rows, acts, by_id)
        for pert in st:
            c2 = Compare(tol)
            compare(c2, models, expected, recs, canon, spans, csv_rows, acts, by_id, pert)
            caught = len(c2.mismatches) > len(base.mismatches)
            print(f"self-test, expected {pert[3]} of {pert[0]}/{pert[1]}/j={pert[2]} perturbed"
                  f"{' by x' + str(pert[4]) if pert[3] != 'n_tokens' else ' by +1'}: "
                  f"{len(c2.mismatches)} mismatches -> {'caught' if caught else 'NOT CAUGHT'}")
            ok = ok and caught
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
