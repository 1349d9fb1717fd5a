"""rdpt: reasoning distillation provenance tracing, from Python.

The same C++ pipeline as the ``rdpt`` command line (``include/rdpt/pipeline.h``): the numbers
``rdpt.trace`` returns are the ones ``rdpt trace`` writes, and ``Store.actions()`` holds what
``rdpt export`` prints. docs/python.md has a walkthrough.

    import rdpt
    st = rdpt.Store("scores.db")
    tr = rdpt.trace(st)                         # beta search, types, curves, shares
    tr.curves.query("subset == 'all'").pivot(index="j", columns="type", values="fraction").plot()

pandas is optional: without it, tables are dicts of numpy arrays (``rdpt.HAVE_PANDAS``).
Errors raise ``rdpt.Error`` (subclasses ``UsageError`` (also a ValueError), ``DataError``,
``BackendError``, ``StoreError``) carrying the message the CLI prints.
"""

from __future__ import annotations

import hashlib
import json
import operator
import os
import shutil
import warnings
import sys
import tempfile
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _rdpt
from ._rdpt import BackendError, DataError, Error, StoreError, UsageError

try:  # optional
    import pandas as _pd

    HAVE_PANDAS = True
except ImportError:  # pragma: no cover - depends on the machine
    _pd = None
    HAVE_PANDAS = False

__version__ = _rdpt.__version__
__all__ = [
    "segment", "Store", "trace", "Trace", "beta_search", "attribute", "select", "grade", "score", "merge", "Scorer",
    "Error", "UsageError", "DataError", "BackendError", "StoreError", "HAVE_PANDAS",
]

TYPE_NAMES = ("Shared", "Teacher", "Student", "Boosted", "Common")


def _table(columns: Dict[str, Any], as_frame: bool = True):
    """A DataFrame when pandas is present (and wanted), else the dict of numpy arrays."""
    if as_frame and HAVE_PANDAS:
        return _pd.DataFrame(columns, copy=False)  # the columns are fresh: no second copy
    return columns


class _Progress:
    """Progress of native work: a tqdm bar when tqdm is installed and `show` is true (None: on a
    terminal). `show` may also be a callable, called as f("start", what, total, unit),
    f("update", done, extra) and f("finish"); an exception it raises stops the work."""

    def __new__(cls, show):
        if callable(show):
            return show
        return super().__new__(cls)

    def __init__(self, show: Optional[bool]):
        self.show = sys.stderr.isatty() if show is None else bool(show)
        self.bar = None
        try:
            from tqdm.auto import tqdm  # optional

            self._tqdm = tqdm
        except ImportError:
            self._tqdm = None

    def __call__(self, what, *args):
        if not self.show:
            return
        if what == "start":
            name, total, unit = args
            if self._tqdm is not None:
                self.bar = self._tqdm(total=total or None, desc=name, unit=" " + unit, leave=False)
            else:
                self.bar = [name, total, unit]
        elif what == "update":
            done = args[0]
            if self._tqdm is not None and self.bar is not None:
                self.bar.update(done - self.bar.n)
            elif self.bar is not None:
                print(f"\r{self.bar[0]}: {done}/{self.bar[1]} {self.bar[2]}", end="", file=sys.stderr)
        elif what == "finish":
            if self._tqdm is not None and self.bar is not None:
                self.bar.close()
            elif self.bar is not None:
                print(file=sys.stderr)
            self.bar = None


def segment(text: str, special_tokens: Optional[Sequence[str]] = None, angle_bar_markers: bool = True):
    """Cut a response into actions (docs/method.md section 1).

    Returns a list of dicts ``{"text", "begin", "end", "special"}``; ``begin``/``end`` are UTF-8
    *byte* offsets into the response (``text.encode()[begin:end]``), the unit the store keeps.
    ``special_tokens`` defaults to ``["<think>", "</think>"]``; ``angle_bar_markers`` makes any
    ``<|...|>`` marker its own special action.

    >>> [a["text"] for a in rdpt.segment("<think>\\nA b. C d.</think>")]
    ['<think>', '\\nA b.', ' C d.', '</think>']
    """
    return _rdpt.segment(text, None if special_tokens is None else list(special_tokens), angle_bar_markers)


class Store:
    """A score store (the SQLite file ``rdpt import``/``rdpt score`` write).

    ``Store(path)`` opens it read-only; ``mode="rw"`` or ``"create"`` for writing (rdpt.score).
    A bad path raises StoreError with the CLI's message.
    """

    def __init__(self, path: Union[str, os.PathLike], mode: str = "r"):
        self._s = _rdpt.Store(os.fspath(path), mode)

    @property
    def path(self) -> str:
        """The store's file path."""
        return self._s.path

    def __repr__(self):
        return f"rdpt.Store({self.path!r})"

    def __len__(self):
        return self._s.n_responses()

    def models(self) -> List[Dict[str, Any]]:
        """The stored models: name, backend, location, fingerprint, tokenizer, template, info."""
        return self._s.models()

    def model_names(self) -> List[str]:
        """Names of the stored models, in the order they were added."""
        return [m["name"] for m in self.models()]

    def responses(self, text: bool = False, as_frame: bool = True):
        """One row per response: id, group, answer, correct (True/False/None), n_actions,
        source_file, source_line; with ``text=True`` also question and response."""
        c = self._s.responses(text)
        cols: Dict[str, Any] = {"id": np.array(c["id"], dtype=object), "group": np.array(c["group"], dtype=object)}
        if text:
            cols["question"] = np.array(c["question"], dtype=object)
            cols["response"] = np.array(c["response"], dtype=object)
        ans = np.array(c["answer"], dtype=object)
        ans[c["has_answer"] == 0] = None
        cols["answer"] = ans
        corr = np.array([None if v < 0 else bool(v) for v in c["correct"]], dtype=object)
        cols["correct"] = corr
        cols["n_actions"] = c["n_actions"]
        cols["source_file"] = np.array(c["source_file"], dtype=object)
        cols["source_line"] = c["source_line"]
        return _table(cols, as_frame)

    def actions(self, teacher: Optional[str] = None, student: Optional[str] = None,
                distilled: Optional[str] = None, *, models: Optional[Sequence[str]] = None,
                text: bool = True, alpha: float = 0.1, beta: Union[float, str, None] = "auto",
                as_frame: bool = True):
        """One row per action of every response, as ``rdpt export`` writes them.

        Columns: id, group, j (1-based position), begin, end (UTF-8 byte span), special, text
        (``text=False`` leaves it out; faster), then per model (``models``: default all, in the
        order they were added) ``<m>_n_tokens``, ``<m>_logprob_sum`` and ``<m>_p =
        exp(logprob_sum / n_tokens)``, and for a model scored with ranks (``rdpt score --ranks``,
        ``rank_clip=``) ``<m>_rank_sum``, the sum of the action's clipped token ranks. A model without
        a usable score for the response (absent or failed) gives missing values (pandas NA / NaN; -1
        in ``<m>_n_tokens`` and ``<m>_rank_sum`` without pandas), as does the rank sum of a pair
        scored without ranks; an action that got no token has n_tokens 0 and p NaN.

        With ``teacher`` and ``student`` (and ``distilled`` for the four-way scheme) a ``type``
        column holds each action's provenance type at ``alpha`` and ``beta`` ("auto": the search of
        docs/method.md section 5, as rdpt trace runs it); unscored actions have no type.
        """
        b = None if beta in (None, "auto") else float(beta)
        c = self._s.actions(None if models is None else list(models), text, teacher, student, distilled, alpha, b)
        resp = c["response"]
        cols: Dict[str, Any] = {}
        if as_frame and HAVE_PANDAS:
            cols["id"] = _pd.Categorical.from_codes(resp, categories=_pd.Index(c["ids"], dtype=object))
            gcodes = c["group_code"][resp]
            cols["group"] = _pd.Categorical.from_codes(gcodes, categories=_pd.Index(c["groups"], dtype=object))
        else:
            cols["id"] = np.array(c["ids"], dtype=object)[resp] if len(c["ids"]) else np.array([], dtype=object)
            cols["group"] = (np.array(c["groups"], dtype=object)[c["group_code"][resp]]
                             if len(c["groups"]) else np.array([], dtype=object))
        for k in ("j", "begin", "end", "special"):
            cols[k] = c[k]
        if text:
            cols["text"] = np.array(c["text"], dtype=object)
        for m in c["models"]:
            nt = c[m + "_n_tokens"]
            if as_frame and HAVE_PANDAS:
                cols[m + "_n_tokens"] = _pd.arrays.IntegerArray(np.maximum(nt, 0), nt < 0)
            else:
                cols[m + "_n_tokens"] = nt
            cols[m + "_logprob_sum"] = c[m + "_logprob_sum"]
            cols[m + "_p"] = c[m + "_p"]
            if m + "_rank_sum" in c:
                rk = c[m + "_rank_sum"]
                cols[m + "_rank_sum"] = (_pd.arrays.IntegerArray(np.maximum(rk, 0), rk < 0)
                                         if as_frame and HAVE_PANDAS else rk)
        if "type" in c:
            codes = c["type"]
            if as_frame and HAVE_PANDAS:
                cols["type"] = _pd.Categorical.from_codes(codes, categories=list(c["type_names"]))
            else:
                names = np.array(list(c["type_names"]) + [None], dtype=object)
                cols["type"] = names[np.where(codes < 0, len(c["type_names"]), codes)]
        out = _table(cols, as_frame)
        if "type" in c and as_frame and HAVE_PANDAS:
            out.attrs.update(alpha=c["alpha"], beta=c["beta"], beta_search=c["beta_search"])
        return out

    def iter_responses(self, models: Optional[Sequence[str]] = None) -> Iterator[Dict[str, Any]]:
        """Yields one dict per response (id, group, question, response, answer, correct, begin,
        end, special, and ``scores[model]`` = {status, error, n_tokens, logprob_sum, p}), in store
        order. Memory holds one response at a time (plus the list of row ids)."""
        names = self.model_names() if models is None else list(models)
        for rid in self._s.rids():
            yield self._s.response(int(rid), names)


def _store(store: Union[Store, str, os.PathLike]) -> Store:
    return store if isinstance(store, Store) else Store(store)


def _warn_same_models(st: Store, roles: Sequence[Tuple[str, Optional[str]]]) -> None:
    """Warns, as the CLI does, when two roles name one GGUF file under two names (same fingerprint
    and template): their probabilities are equal, so no action can be Teacher or Student between
    them. Only GGUF models: a server's fingerprint names its endpoint, an import's is the user's."""
    by_name = {m["name"]: m for m in st.models()}
    ms = [(role, by_name.get(name)) for role, name in roles if name]
    for i in range(len(ms)):
        for j in range(i + 1, len(ms)):
            (ri, a), (rj, b) = ms[i], ms[j]
            if a and b and a["name"] != b["name"] and a["backend"] == b["backend"] == "llama" \
                    and a["fingerprint"] and a["fingerprint"] == b["fingerprint"] and a["template"] == b["template"]:
                warnings.warn(f"{ri} '{a['name']}' and {rj} '{b['name']}' are the same model (fingerprint "
                              f"{a['fingerprint']}, same prompt): their probabilities are equal, so no action can "
                              f"be Teacher or Student between them", RuntimeWarning, stacklevel=3)


class Trace:
    """What ``rdpt.trace`` returns.

    - ``summary``: dict, the same content as rdpt trace's summary.json (thresholds, beta search,
      counts, shares, behaviours);
    - ``curves``: table in the long format of curves.csv (j, subset, n, type, count, fraction,
      lo, hi, mean_cum_tokens);
    - ``responses``: table with the columns of types.csv (id, group, correct, n_actions, n_scored,
      n_<type>, share_<type>);
    - ``curves_json``: the curves.json dict;  ``alpha``, ``beta``, ``beta_search``.
    """

    def __init__(self, raw: Dict[str, Any], as_frame: bool):
        self.summary = raw["summary"]
        self.curves_json = raw["curves"]
        self.alpha = self.summary["alpha"]
        self.beta = self.summary["beta"]
        self.beta_search = self.summary["beta_search"]
        self.types = list(raw["types"])
        r = raw["responses"]
        cols: Dict[str, Any] = {"id": np.array(r["id"], dtype=object), "group": np.array(r["group"], dtype=object),
                                "correct": np.array([None if v < 0 else bool(v) for v in r["correct"]], dtype=object),
                                "n_actions": r["n_actions"], "n_scored": r["n_scored"]}
        for t in self.types:
            cols["n_" + t] = r["n_" + t]
        for t in self.types:
            cols["share_" + t] = r["share_" + t]
        self.responses = _table(cols, as_frame)
        self.curves = _table(self._curves_long(), as_frame)

    def _curves_long(self) -> Dict[str, Any]:
        c = self.curves_json
        js, subs, ns, tys, counts, fr, lo, hi, tok = [], [], [], [], [], [], [], [], []
        nan = float("nan")
        for k, j in enumerate(c["positions"]):
            for s in ("correct", "incorrect", "all"):
                sj = c["subsets"][s]
                for t in c["types"]:
                    js.append(j)
                    subs.append(s)
                    ns.append(sj["n"][k])
                    tys.append(t)
                    counts.append(sj[t]["count"][k])
                    f = sj[t]["fraction"][k]
                    fr.append(nan if f is None else f)
                    v = sj[t]["lo"][k]
                    lo.append(nan if v is None else v)
                    v = sj[t]["hi"][k]
                    hi.append(nan if v is None else v)
                    m = c["mean_cum_tokens"][k]
                    tok.append(nan if m is None else m)
        return {"j": np.array(js, dtype=np.int64), "subset": np.array(subs, dtype=object),
                "n": np.array(ns, dtype=np.int64), "type": np.array(tys, dtype=object),
                "count": np.array(counts, dtype=np.int64), "fraction": np.array(fr), "lo": np.array(lo),
                "hi": np.array(hi), "mean_cum_tokens": np.array(tok)}

    def share(self, type_name: str, pooled: bool = True) -> float:
        """Share of a type over all typed actions (pooled) or the mean per response."""
        key = "share_pooled" if pooled else "share_mean_per_response"
        v = self.summary[key][type_name]
        return float("nan") if v is None else v

    def __repr__(self):
        s = self.summary
        shares = ", ".join(f"{t} {self.share(t):.3f}" for t in self.types)
        return (f"<rdpt.Trace {s['n_responses']} responses, {s['n_scored']}/{s['n_actions']} actions typed, "
                f"alpha {self.alpha}, beta {self.beta:.3g} ({s['beta_source']}): {shares}>")


def trace(store: Union[Store, str, os.PathLike], teacher: str = "teacher", student: str = "student",
          distilled: Optional[str] = "distilled", *, alpha: float = 0.1, beta: Union[float, str] = "auto",
          beta_candidates: Sequence[float] = (), max_positions: int = 0, token_mark: int = 4096,
          keywords: str = "upstream", progress: Optional[bool] = None, as_frame: bool = True) -> Trace:
    """Provenance types of every scored action, exactly as ``rdpt trace`` computes them.

    Four-way (Shared / Teacher / Student / Boosted, docs/method.md section 3) with ``distilled``;
    ``distilled=None`` gives the three-way teacher-vs-student scheme (section 4). ``beta="auto"``
    runs the search of section 5 over the store; a number fixes it. ``keywords`` picks the
    behaviour keyword list ("upstream" or "corrected"). Returns a :class:`Trace`.
    """
    s = _store(store)
    _warn_same_models(s, [("teacher", teacher), ("student", student), ("distilled", distilled)])
    b = None if beta == "auto" else float(beta)
    raw = _rdpt.trace(s._s, teacher, student, distilled or "", False, alpha, b, list(beta_candidates),
                      max_positions, token_mark, keywords, _Progress(progress))
    return Trace(raw, as_frame)


def beta_search(store: Union[Store, str, os.PathLike], procedure: str = "analysis", teacher: str = "teacher",
                student: str = "student", distilled: str = "distilled", *, alpha: float = 0.1,
                candidates: Sequence[float] = (), progress: Optional[bool] = None) -> Dict[str, Any]:
    """The beta search (docs/method.md section 5) as rdpt beta writes it: a dict with the chosen
    ``beta``, ``pick`` and per candidate the histograms, mean proportions and overlaps.
    ``procedure``: "analysis" (four-way, needs the distilled model) or "training" (three-way)."""
    s = _store(store)
    _warn_same_models(s, [("teacher", teacher), ("student", student),
                          ("distilled", distilled if procedure == "analysis" else None)])
    return _rdpt.beta_search(s._s, procedure, teacher, student, distilled, alpha, list(candidates),
                             _Progress(progress))


def attribute(store: Union[Store, str, os.PathLike], teachers: Sequence[str], student: str = "student",
              distilled: str = "distilled", *, alpha: float = 0.1, beta: Union[float, str] = "auto",
              replicates: int = 1000, seed: int = 0, first_positions: int = 400,
              progress: Optional[bool] = None) -> Dict[str, Any]:
    """Which teacher? (docs/method.md section 8): the distilled model typed four-way against each
    candidate teacher, as rdpt attribute writes it: per teacher (in rank order) the Teacher and
    Student shares with seeded Poisson-bootstrap 95% intervals, pooled shares, the summed
    correct-minus-incorrect Teacher fraction over the first positions, and its beta search;
    ``consistent`` says whether the top teacher also has the lowest Student share."""
    b = None if beta == "auto" else float(beta)
    s = _store(store)
    _warn_same_models(s, [("teacher", t) for t in teachers] + [("student", student), ("distilled", distilled)])
    return _rdpt.attribute(s._s, list(teachers), student, distilled, alpha, b, replicates, seed,
                           first_positions, _Progress(progress))


def select(store: Union[Store, str, os.PathLike], strategy: str = "teacher-count", *, per_question: int = 1,
           budget: int = 0, seed: int = 0, teacher: str = "teacher", student: str = "student",
           beta: Union[float, str] = "auto", ids: Optional[Sequence[str]] = None,
           compare: bool = False) -> Dict[str, Any]:
    """Teacher-guided data selection (docs/method.md section 7), as rdpt select ranks.

    Candidates are ``ids`` (in that order) or every response of the store in store order.
    ``strategy`` is one of teacher-count, teacher-ratio, longest, min-teacher-count, random, grape,
    rsr (the rank-surprisal ratio: needs the student scored with ``rdpt score --ranks``).
    Returns a dict: ``chosen`` (ids, in candidate order), the counts of rdpt select's summary and
    the ``beta`` used (None when types were not needed and not available). With ``compare``, as
    ``rdpt select --compare``: ``comparison`` (every strategy's picks' means and the Jaccard
    overlaps; docs/analytics.md) and ``candidates`` (every candidate's criteria, column-wise, for
    ``pandas.DataFrame``)."""
    for name, v, least in (("per_question", per_question, 1), ("budget", budget, 0), ("seed", seed, 0)):
        try:
            n = None if isinstance(v, bool) else operator.index(v)  # int, numpy integers
        except TypeError:
            n = None
        if n is None or n < least:
            raise UsageError(f"select: {name} must be an integer >= {least}, got {v!r} ({type(v).__name__})")
    per_question, budget, seed = int(per_question), int(budget), int(seed)
    if isinstance(ids, (str, bytes)):
        raise UsageError(f"select: ids must be a list of record ids, not one string ({ids!r}); write ids=[{ids!r}]")
    b = None if beta == "auto" else float(beta)
    s = _store(store)
    _warn_same_models(s, [("teacher", teacher), ("student", student)])
    return _rdpt.select(s._s, strategy, per_question, budget, seed, teacher, student, b,
                        None if ids is None else list(ids), compare)


def merge(store: Union[Store, str, os.PathLike], inputs: Sequence[Union[str, os.PathLike]],
          progress: Any = None) -> Dict[str, int]:
    """Merge the stores ``inputs`` into ``store`` (created if absent), as ``rdpt merge`` does.

    One transaction: a merge that fails leaves ``store`` as it was, and merging again what is
    merged changes nothing. Models must be the same model file and prompt in every store, a
    record id the same response, a pair held twice identical (a usable pair replaces a failed
    one); otherwise ``rdpt.DataError`` names the record, model and stores. Merging all shards in
    one call orders responses by source file and line, as an unsharded run stores them. Returns
    the counts: n_responses_added / _present, n_pairs_added / _present / _replaced / _rounding (equal
    up to the last digits: the first kept) / _failed_ignored, n_pairs_failed (Failed in ``store``
    afterwards: rerun rdpt.score to retry them), n_models_added.
    """
    paths = [os.fspath(p) for p in inputs]
    for p in paths:  # checked before the output is created
        Store(p)
    st = store if isinstance(store, Store) else Store(store, "create")
    counts = _rdpt.merge(st._s, paths, _Progress(progress))
    # what rdpt merge warns on stderr: failed pairs left, shards missing or of two splits, one
    # file under two paths, other scoring settings
    for w in counts.pop("warnings"):
        warnings.warn("merge: " + w, RuntimeWarning, stacklevel=2)
    return counts


def grade(response: str, reference: str, extract_reference: bool = False) -> Dict[str, Any]:
    """Grade one response against a reference answer as rdpt grade does: extracts the final
    answer (\\boxed{...} and other forms) and compares it for mathematical equivalence.
    Returns ``{"verdict", "correct", "extracted", "method"}``."""
    return _rdpt.grade(response, reference, extract_reference)


class Scorer:
    """A model for raw per-token log-probs: a GGUF path (llama.cpp) or a server URL
    ("http://host:port/v1#served-name"; docs/http.md).

    Options (keyword arguments) are those of rdpt score: n_ctx, n_batch, n_seq_max, threads,
    n_gpu_layers, truncate, kv_f32, template, prompt_format, chat_template_file, chat_template_kwargs (a dict),
    template_date, tokenizer, api_key_env, concurrency, rank_clip (rdpt score --ranks --rank-clip N:
    each token's rank clipped at N comes back as ``ranks`` and rdpt.score stores rank sums; 0 = none).

        sc = rdpt.Scorer("teacher.gguf", prompt_format="Q: {question}\\nA: ")
        out = sc.score([(sc.format_prompt("1+1?"), "It is 2.")])[0]
        out["offsets"], out["logprobs"]     # byte offset of each response token, its log-prob
    """

    def __init__(self, model: Union[str, os.PathLike], name: str = "model", **options):
        if isinstance(options.get("chat_template_kwargs"), Mapping):
            options["chat_template_kwargs"] = json.dumps(options["chat_template_kwargs"])
        self.location = os.fspath(model)
        self.name = name
        self._sc = _rdpt.Scorer(self.location, name, options)
        if options.get("n_gpu_layers") and not self.location.startswith(("http://", "https://", "sglang+")) \
                and not self.capabilities()["gpu_offload"]:
            warnings.warn(f"Scorer {name}: n_gpu_layers={options['n_gpu_layers']} asks for GPU layers, but "
                          "llama.cpp has no GPU device (a CPU-only build, or no visible GPU): it runs on the CPU "
                          "(for CUDA: scripts/setup.sh --cuda, and a GPU in CUDA_VISIBLE_DEVICES)",
                          RuntimeWarning, stacklevel=2)

    def format_prompt(self, question: str, system: str = "") -> str:
        """The exact prompt the model sees for a question (its chat template or the raw format)."""
        return self._sc.format_prompt(question, system)

    def capabilities(self) -> Dict[str, Any]:
        """What the backend does: n_ctx, n_ctx_train, n_vocab, n_seq_max, gpu_offload (some layers
        run on a GPU), kv_prefix_sharing, device_reduction, rank_clip."""
        return self._sc.capabilities()

    def describe(self) -> Dict[str, Any]:
        """How the store records this model: backend, location, fingerprint, tokenizer, template."""
        return self._sc.describe()

    def score(self, pairs: Iterable[Sequence[str]], progress: Optional[bool] = None) -> List[Dict[str, Any]]:
        """Scores (prompt, response) pairs; the prompt is the exact text (format_prompt's).
        Returns per pair: offsets (uint32, byte offset in the response of each token), logprobs
        (float64), n_tokens_total, n_prompt_tokens, truncated, error (None when scored)."""
        return self._sc.score([(p, r) for p, r in pairs], _Progress(progress))


_ID_FIELDS = ("id", "_id", "uid", "uuid", "problem_id", "question_id")  # the reader's id and its alternatives
_READER_OPTIONS = ("id_field", "question_field", "response_field", "answer_field", "group_field", "correct_field")


def score(data: Union[str, os.PathLike, Sequence[Any]], models: Mapping[str, Union[str, Scorer]],
          store: Union[Store, str, os.PathLike], *, chunk: int = 64, replace: bool = False,
          progress: Any = None, skip_bad: bool = False, shard: Optional[str] = None,
          ranks: Union[bool, Sequence[str]] = False, **options) -> Dict[str, Dict[str, Any]]:
    """Score a dataset under each model and record it in a store, as rdpt score does.

    ``data``: a JSONL path (.gz/.zst), a list of paths, or a list of record dicts (written to a
    temporary JSONL, read by the same reader). ``models``: {name: GGUF path, server URL or
    Scorer}. Reader options as rdpt score's: ``skip_bad`` and ``id_field``, ``question_field``,
    ``response_field``, ``answer_field``, ``group_field``, ``correct_field``; other keyword
    ``options`` go to each Scorer made here. Resumable: pairs the store holds are skipped, so a
    run stopped by Ctrl-C (KeyboardInterrupt, the store stays consistent) or killed continues
    where it stopped. ``progress``: None (a bar on a terminal), a bool, or a callable (see
    ``rdpt._Progress``). ``shard="I/N"`` scores only shard I of N (0 <= I < N) of the responses,
    split by question id as ``rdpt score --shard`` splits them; ``rdpt.merge`` combines the
    shards' stores (docs/scale.md). ``ranks``: True (every model) or model names, as ``rdpt score
    --ranks [NAME,...]``: also store the sums of each action's token ranks, clipped at
    ``rank_clip`` (default 100), which the ``rsr`` selection strategy needs (the student's).
    Returns per model the counts of rdpt score.
    """
    if isinstance(ranks, str):
        ranks = [ranks]
    if ranks is not True and ranks is not False:
        ranks = list(ranks)
        unknown = [n for n in ranks if n not in models]
        if unknown:
            raise UsageError(f"ranks: no model named {unknown[0]!r} in this run (models: {', '.join(models)})")
    clip = options.pop("rank_clip", None)
    if shard is not None and not isinstance(shard, str):
        raise UsageError(f"shard must be a string 'I/N' (e.g. '0/4'), got {shard!r}")
    reader = {"skip_bad": skip_bad, "shard": shard}
    for k in _READER_OPTIONS:
        if k in options:
            reader[k] = options.pop(k)
    tmp = None
    if isinstance(data, (str, os.PathLike)):
        files = [os.fspath(data)]
    elif len(data) and all(isinstance(d, Mapping) for d in data):
        # Records without any id field get "rec:" + a hash of their content (and "#k" for the k-th
        # repeat): the same in every call, so that a rerun resumes, and distinct across batches.
        tmp = tempfile.mkdtemp(prefix="rdpt-records-")
        files = [os.path.join(tmp, "records.jsonl")]
        seen: Dict[str, int] = {}
        with open(files[0], "w", encoding="utf-8") as f:
            for d in data:
                if reader.get("id_field") is None and all(d.get(k) is None for k in _ID_FIELDS):
                    h = hashlib.sha256(json.dumps(d, sort_keys=True, ensure_ascii=False).encode("utf-8"))
                    h = h.hexdigest()[:16]
                    k = seen.get(h, 0)
                    seen[h] = k + 1
                    d = dict(d, id=f"rec:{h}" + (f"#{k}" if k else ""))
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
    else:
        files = [os.fspath(f) for f in data]
    # A store this call creates is removed again if the call fails before anything was put in it
    # (a missing data file, a model path typo, an unknown option), as the CLI leaves none.
    created = not isinstance(store, Store) and not os.path.exists(os.fspath(store))
    st = None
    try:
        st = store if isinstance(store, Store) else Store(store, "create")
        out = {}
        for name, m in models.items():  # checked before any model is scored
            if isinstance(m, Scorer) and (ranks is True or (ranks and name in ranks)) \
                    and not m.capabilities().get("rank_clip"):
                raise UsageError(f"ranks: model {name!r} is given as a Scorer made without ranks; make it with "
                                 f"rdpt.Scorer(..., rank_clip=100), or give its path")
        for name, m in models.items():
            opts = dict(options)
            if ranks is True or (ranks and name in ranks):
                opts["rank_clip"] = 100 if clip is None else clip
            elif clip is not None and ranks is False:
                opts["rank_clip"] = clip  # rank_clip=N alone ranks every model, as before
            sc = m if isinstance(m, Scorer) else Scorer(m, name, **opts)
            out[name] = _rdpt.score(st._s, sc._sc, name, files, reader, chunk, replace, _Progress(progress))
        return out
    except BaseException:
        if created and st is not None and len(st) == 0 and not st.models():
            path = st.path
            del st
            for p in (path, path + "-wal", path + "-shm", path + "-journal"):
                try:
                    os.remove(p)
                except OSError:
                    pass
        raise
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
