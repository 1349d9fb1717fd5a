#!/bin/bash
# The method reference check: an independent Python implementation of docs/method.md sections 3-8
# (method_reference.py, written from the method's text alone, without reading rdpt's sources)
# against rdpt's trace, beta, select and attribute on five stores built from the shipped traces
# with made-up per-token log-probs (gen_data.py: Teacher-dominated, Shared/Boosted-dominated,
# selection candidates with exact duplicates, models that agree exactly, exact half Teacher / half
# Common), including unscored actions, missing and truncated pairs, and probability differences
# exactly at alpha and at the beta candidates. Every number is compared (integers exactly, floats
# to 1e-9 relative): about 920,000 values.
#
#   tests/reference/run_check.sh RDPT [WORKDIR]   exit 0 when every value matches, 1 otherwise
#
# WORKDIR (default: a temporary directory, removed when all matched) keeps the stores, the exports,
# rdpt's outputs under out/ and out/mismatches.json. REFCHECK_INJECT=1 perturbs one expected value,
# to see the check fail.
set -euo pipefail
RDPT=$(readlink -f "${1:?usage: run_check.sh RDPT [WORKDIR]}")
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${RDPT_PYTHON:-python3}
if [ -n "${2:-}" ]; then
  WD=$2; rm -rf "$WD"; mkdir -p "$WD"
else
  WD=$(mktemp -d "${TMPDIR:-/tmp}/rdpt_refcheck.XXXXXX")
fi
$PY "$HERE/gen_data.py" datasets "$WD"
cd "$WD"
for K in A B C D E; do
  "$RDPT" import --data $K.jsonl --store $K.db >/dev/null 2>&1
  "$RDPT" export --store $K.db -o $K.spans.csv 2>/dev/null
  $PY "$HERE/gen_data.py" logprobs $K $K.spans.csv lp$K
  for f in lp$K/lp_*.jsonl; do
    m=$(basename "$f" .jsonl); m=${m#lp_}
    "$RDPT" import --store $K.db --logprobs "$f" --model "$m" 2>&1 | sed "s/^/[$K] /"
  done
  "$RDPT" export --store $K.db -o $K.csv 2>/dev/null
done
$PY "$HERE/compare.py" "$RDPT" "$WD"
if [ -z "${2:-}" ]; then cd /; rm -rf "$WD"; fi
