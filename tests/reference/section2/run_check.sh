#!/usr/bin/env bash
# Independent check of docs/method.md section 2 ("An action's probability under one model") in rdpt.
#
#   run_check.sh [RDPT [PYMOD [FIXTURE [VOCAB_DIR]]]]
#
# or the same as environment variables (positional arguments win):
#   RDPT       rdpt binary                       (default build/src/rdpt of this clone)
#   PYMOD      directory holding the rdpt module (default build/python)
#   FIXTURE    rdpt_fixture binary               (default build/tests/rdpt_fixture)
#   VOCAB_DIR  llama.cpp's models/ (ggml-vocab-*.gguf; default ~/.cache/rdpt/src/llama.cpp-3.22.1/models)
# optional:
#   PYTHON     python3 with numpy (default /usr/bin/python3)
#   THREADS    CPU threads for rdpt score and the Scorer (default 1: on a shared 2-core machine
#              2 threads spin on each other and run 10x slower)
#   PARALLEL   rdpt score --parallel (default 1, which evaluates each response as the Scorer does
#              with n_seq_max=1, so the numbers must agree to TOL; with 8, rdpt's default, batching
#              moves log-probs: p by up to ~7e-4 relative on this data, use TOL=2e-3)
#   TOL        relative tolerance for logprob_sum and p (default 1e-9)
#   PERTURB    "model|id|j|column|factor": corrupt one expected value (the check must then fail),
#              e.g. PERTURB='qwen|syn:unicode|3|logprob_sum|1.00000001'
#   KEEP       keep the work directory (default: removed)
#   SEGREF     tests/tools/segment_reference.py to cross-check the segmentation with ("" = none)
#
# Prints the number of values compared and every mismatch; exit 0 when everything agrees (and the
# built-in perturbation self-tests are caught), 1 on any mismatch, 2 on a setup error.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
RDPT="${1:-${RDPT:-$ROOT/build/src/rdpt}}"
PYMOD="${2:-${PYMOD:-$ROOT/build/python}}"
FIXTURE="${3:-${FIXTURE:-$ROOT/build/tests/rdpt_fixture}}"
VOCAB_DIR="${4:-${VOCAB_DIR:-$HOME/.cache/rdpt/src/llama.cpp-3.22.1/models}}"
PYTHON="${PYTHON:-/usr/bin/python3}"
THREADS="${THREADS:-1}"
PARALLEL="${PARALLEL:-1}"
TOL="${TOL:-1e-9}"
DATA="$HERE/data.jsonl"
SEGREF="${SEGREF-$ROOT/tests/tools/segment_reference.py}"; [ -f "$SEGREF" ] || SEGREF=""

for f in "$RDPT" "$FIXTURE"; do [ -x "$f" ] || { echo "run_check: not executable: $f" >&2; exit 2; }; done
for v in qwen2 llama-spm phi-3 gpt-2; do
  [ -f "$VOCAB_DIR/ggml-vocab-$v.gguf" ] || { echo "run_check: missing $VOCAB_DIR/ggml-vocab-$v.gguf" >&2; exit 2; }
done
[ -f "$PYMOD/rdpt/__init__.py" ] || { echo "run_check: no rdpt module in $PYMOD" >&2; exit 2; }

W="$(mktemp -d "${TMPDIR:-/tmp}/rdpt-section2.XXXXXX")"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$W"' EXIT
echo "work directory: $W"

# 1. tiny fixture models with four vocabularies
"$FIXTURE" --vocab "$VOCAB_DIR/ggml-vocab-qwen2.gguf" --out "$W/qwen.gguf" --seed 1 --scale 0.1 --output-scale 0.6 --threads 1 >/dev/null 2>&1
"$FIXTURE" --vocab "$VOCAB_DIR/ggml-vocab-llama-spm.gguf" --out "$W/spm.gguf" --seed 2 --scale 0.5 --threads 1 >/dev/null 2>&1
"$FIXTURE" --vocab "$VOCAB_DIR/ggml-vocab-phi-3.gguf" --out "$W/phi3.gguf" --seed 3 --scale 0.1 --output-scale 0.6 --threads 1 >/dev/null 2>&1
QWQ_TEMPLATE="{% for message in messages %}{% if message['role'] == 'system' %}{{ '<|im_start|>system\n' + message['content'] + '<|im_end|>\n' }}{% else %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n<think>\n' }}{% endif %}"
"$FIXTURE" --vocab "$VOCAB_DIR/ggml-vocab-gpt-2.gguf" --out "$W/qwq.gguf" --seed 4 --scale 0.1 --output-scale 0.6 \
  --chat-template "$QWQ_TEMPLATE" --threads 1 >/dev/null 2>&1

# 2. score with the CLI: one store, one run per model configuration
S="$W/store.db"
score() {  # name expected-exit-code args...
  local name="$1" want="$2"; shift 2
  set +e
  "$RDPT" score --data "$DATA" --store "$S" --threads "$THREADS" --parallel "$PARALLEL" --no-progress "$@" \
    >"$W/score_$name.log" 2>&1
  local rc=$?
  set -e
  if [ "$rc" != "$want" ]; then
    echo "run_check: rdpt score ($name) exited $rc, expected $want:" >&2; cat "$W/score_$name.log" >&2; exit 2
  fi
}
RAW='Q: {question}\nA: '
SKY='{system}Q: {question}\nA: <|begin_of_thought|>\n'
OSS='Q: {question}<|start|>assistant'
score qwen  0 --model qwen="$W/qwen.gguf"                          # GGUF Jinja template (chatml)
score spm   0 --model spm="$W/spm.gguf" --prompt-format "$RAW"     # raw format, SPM vocabulary
score phi3  0 --model phi3="$W/phi3.gguf"                          # GGUF Jinja template with bos_token
score qwq   0 --model qwq="$W/qwq.gguf"                            # template opening <think>\n
score sky   0 --model sky="$W/spm.gguf" --prompt-format "$SKY"     # raw format opening <|begin_of_thought|>
score oss   0 --model oss="$W/qwq.gguf" --prompt-format "$OSS"     # raw format ending <|start|>assistant: harmony
score trunc 0 --model trunc="$W/spm.gguf" --prompt-format "$RAW" --ctx 200 --truncate
score fail  3 --model fail="$W/spm.gguf" --prompt-format "$RAW" --ctx 200   # long pairs fail (exit 3)
"$RDPT" export --store "$S" --format csv --out "$W/export.csv" >/dev/null 2>&1

# 3. the independent computation and the comparison
"$PYTHON" - "$W" "$PYMOD" "$DATA" "$THREADS" "$TOL" "${PERTURB:-}" "$SEGREF" >"$W/cfg.json" <<'EOF'
import json, sys
w, pymod, data, threads, tol, perturb, segref = sys.argv[1:8]
t = int(threads)
raw, sky = "Q: {question}\\nA: ", "{system}Q: {question}\\nA: <|begin_of_thought|>\\n"
models = [
    {"name": "qwen", "path": w + "/qwen.gguf", "render": "chatml"},
    {"name": "spm", "path": w + "/spm.gguf", "render": "raw", "prompt_format": raw},
    {"name": "phi3", "path": w + "/phi3.gguf", "render": "phi3", "bos_text": "<s>"},
    {"name": "qwq", "path": w + "/qwq.gguf", "render": "qwq"},
    {"name": "sky", "path": w + "/spm.gguf", "render": "raw", "prompt_format": sky},
    {"name": "oss", "path": w + "/qwq.gguf", "render": "raw", "prompt_format": "Q: {question}<|start|>assistant"},
    {"name": "trunc", "path": w + "/spm.gguf", "render": "raw", "prompt_format": raw, "ctx": 200,
     "truncate": True, "full_offsets_from": "spm"},
    {"name": "fail", "path": w + "/spm.gguf", "render": "raw", "prompt_format": raw, "ctx": 200,
     "expect_failures": True},
]
for m in models:
    m["threads"] = t
cfg = {"pymod": pymod, "data": data, "store": w + "/store.db", "export_csv": w + "/export.csv",
       "tol": float(tol), "models": models, "max_report": 40,
       # each self-test nudges one expected value (10x the tolerance, or n_tokens + 1): must be caught
       "self_test": [["qwen", "syn:unicode", 3, "logprob_sum", 1 + 10 * float(tol)],
                     ["phi3", "syn:specials", 7, "n_tokens", 0],
                     ["qwq", "syn:think-nl", 1, "n_tokens", 0],
                     ["sky", "Sky-T1-math-correct-5K-27B|aime24|7", 2, "p", 1 - 10 * float(tol)],
                     ["oss", "syn:think-close", 5, "n_tokens", 0]]}
if segref:
    cfg["segment_reference"] = segref
if perturb:
    m, rid, j, col, f = perturb.split("|")
    cfg["perturb"] = [m, rid, int(j), col, float(f)]
print(json.dumps(cfg))
EOF
set +e
PYTHONDONTWRITEBYTECODE=1 "$PYTHON" "$HERE/section2_reference.py" "$W/cfg.json"
rc=$?
set -e
[ "$rc" = 0 ] && echo "RESULT: PASS" || echo "RESULT: FAIL"
exit "$rc"
