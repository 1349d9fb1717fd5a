#!/usr/bin/env bash
# Sets up everything (scripts/setup.sh), then runs rdpt end to end on the built-in demo:
#  1. three peaked fixture models (random weights, real Qwen2 tokenizer): teacher, student, distilled
#  2. planted responses: each sentence written by one of them (greedy continuation), so the true
#     provenance of every sentence is known
#  3. rdpt score (all three models) -> rdpt trace -> rdpt beta -> rdpt select -> rdpt report
#  4. a check of recovered vs planted provenance, and the shipped real traces scored too.
#   scripts/demo.sh [--out DIR]      (default out/demo)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/out/demo
[ "${1:-}" = "--out" ] && OUT=$(realpath -m "$2")
cd "$ROOT"
# Only what the demo runs: rdpt and the fixture tools (not the test suite, fuzz replays, benchmarks).
bash scripts/setup.sh --build-dir "$ROOT/build" --target rdpt --target rdpt_fixture --target rdpt_plant
# shellcheck source=/dev/null
. "$ROOT/build/rdpt-env.sh"
B=$ROOT/build
RDPT=$B/src/rdpt
mkdir -p "$OUT"
step() { printf '\n== %s\n' "$*" >&2; }

step "1. fixture models (qwen2 vocabulary, 2 layers, hidden 64, peaked output layer)"
VOCAB=$RDPT_LLAMA_SRC/models/ggml-vocab-qwen2.gguf
for m in teacher:1 student:2 distilled:3; do
  name=${m%%:*}; seed=${m##*:}
  [ -f "$OUT/$name.gguf" ] || "$B/tests/rdpt_fixture" --vocab "$VOCAB" --out "$OUT/$name.gguf" --seed "$seed" \
      --scale 0.1 --output-scale 1.5 >/dev/null
  echo "  $OUT/$name.gguf"
done
MODELS=(--model teacher="$OUT/teacher.gguf" --model student="$OUT/student.gguf" --model distilled="$OUT/distilled.gguf")
FMT=$'Question: {question}\nAnswer: '

step "2. planted responses: every sentence written by one model (questions from MATH-500)"
[ -f "$OUT/planted.jsonl" ] || "$B/tests/rdpt_plant" make --questions data/benchmarks/math500.jsonl.zst "${MODELS[@]}" \
    --responses 12 --per-question 4 --sentences 3 --sentence-tokens 100 --prompt-format "$FMT" --out "$OUT/planted.jsonl"

step "3. import the responses (with their labels), then score under teacher, student and distilled"
"$RDPT" import --data "$OUT/planted.jsonl" --store "$OUT/planted.db"
"$RDPT" score --data "$OUT/planted.jsonl" "${MODELS[@]}" --prompt-format "$FMT" --store "$OUT/planted.db"

step "4. trace (four types), beta, selection"
"$RDPT" beta --store "$OUT/planted.db" --out "$OUT/beta.json"
"$RDPT" trace --store "$OUT/planted.db" --out-dir "$OUT/trace"
"$RDPT" select --data "$OUT/planted.jsonl" --store "$OUT/planted.db" --strategy teacher-count \
    --summary-json "$OUT/select-summary.json" --out "$OUT/selected.jsonl"

step "5. recovered vs planted provenance (teacher-written -> Teacher, student -> Student, distilled -> Boosted)"
"$B/tests/rdpt_plant" check --planted "$OUT/planted.jsonl" --store "$OUT/planted.db" --beta 0.2
"$B/tests/rdpt_plant" check-selection --planted "$OUT/planted.jsonl" --selected "$OUT/selected.jsonl"

step "6. real traces (the first 4 shipped DeepSeek-R1-Distill responses) under the same three models"
{ zstd -dc data/traces/r1distill_thought_anchors.jsonl.zst || true; } | head -n 4 > "$OUT/real_traces.jsonl"
"$RDPT" score --data "$OUT/real_traces.jsonl" "${MODELS[@]}" --prompt-format "$FMT" --truncate --store "$OUT/traces.db"

step "7. report"
"$RDPT" report --store "$OUT/planted.db" --select-summary "$OUT/select-summary.json" --out "$OUT/report.html"

printf '\nDone.\n  store:   %s\n  trace:   %s\n  report:  %s\n  real traces scored: %s\n' \
  "$OUT/planted.db" "$OUT/trace" "$OUT/report.html" "$OUT/traces.db"
