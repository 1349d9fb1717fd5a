#!/usr/bin/env bash
# Planted provenance through the real pipeline (ctest planted_provenance; docs/analytics.md).
# Three peaked fixture models (random weights, Qwen2 vocabulary) write responses sentence by
# sentence, each sentence a greedy continuation by one of them, so every sentence's writer is
# known. The responses then go through rdpt import -> score (teacher, student, distilled) ->
# beta -> trace -> select --strategy teacher-count, and the test asserts that rdpt recovers
# the planted writers: teacher-written actions typed Teacher, student-written Student,
# distilled-written Boosted (each at least a minimum share), and that teacher-count selection
# keeps responses with a higher planted teacher share than the whole set.
#   planted_test.sh RDPT RDPT_FIXTURE RDPT_PLANT VOCAB.gguf QUESTIONS.jsonl[.zst] [--swap]
# --swap scores the teacher's file under the name student and vice versa: the test must then
# fail (a check that it can).
set -euo pipefail
RDPT=$1 FIXTURE=$2 PLANT=$3 VOCAB=$4 QUESTIONS=$5
SWAP=${6:-}
# Minima, with margin below the measured values (docs/analytics.md, "Planted provenance test").
MIN_RECALL=teacher=0.5,student=0.45,distilled=0.75
MIN_GAIN=0.1

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rdpt-planted.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
step() { printf '== %s\n' "$*"; }

step "fixture models"
for m in teacher:1 student:2 distilled:3; do
  "$FIXTURE" --vocab "$VOCAB" --out "${m%%:*}.gguf" --seed "${m##*:}" --scale 0.1 --output-scale 1.5 --threads 2 >/dev/null
done
MODELS=(--model teacher=teacher.gguf --model student=student.gguf --model distilled=distilled.gguf)
SCORE_MODELS=("${MODELS[@]}")
[ "$SWAP" = --swap ] && SCORE_MODELS=(--model teacher=student.gguf --model student=teacher.gguf --model distilled=distilled.gguf)
FMT=$'Question: {question}\nAnswer: '

step "planted responses: 12 (3 questions x 4 teacher shares), 3 sentences + a final one, 100 tokens each"
"$PLANT" make --questions "$QUESTIONS" "${MODELS[@]}" --responses 12 --per-question 4 --sentences 3 \
    --sentence-tokens 100 --seed 1 --threads 1 --prompt-format "$FMT" --out planted.jsonl

step "rdpt import, score, beta, trace, select"
"$RDPT" import --data planted.jsonl --store planted.db
"$RDPT" score --data planted.jsonl "${SCORE_MODELS[@]}" --prompt-format "$FMT" --threads 1 --store planted.db
"$RDPT" beta --store planted.db --out beta.json
"$RDPT" trace --store planted.db --out-dir trace
"$RDPT" select --data planted.jsonl --store planted.db --strategy teacher-count --summary-json select.json \
    --out selected.jsonl

fail=0
step "recovered vs planted provenance (minimum recall $MIN_RECALL)"
"$PLANT" check --planted planted.jsonl --store planted.db --beta 0.2 --min-recall "$MIN_RECALL" || fail=1
step "teacher-count selection vs the whole set (minimum gain in planted teacher share $MIN_GAIN)"
"$PLANT" check-selection --planted planted.jsonl --selected selected.jsonl --min-gain "$MIN_GAIN" || fail=1
if [ "$fail" = 0 ]; then step "planted provenance recovered"; else step "FAILED: planted provenance not recovered"; fi
exit "$fail"
