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
# WORKDIR (default: a temporary directory, removed when all matched; kept, and named, otherwise)
# keeps the stores, the exports, rdpt's outputs under out/ and out/mismatches.json; it must be new
# or empty. REFCHECK_INJECT=1 perturbs one expected value, to see the check fail. RDPT_PYTHON: the
# interpreter (default python3, 3.9 or later; only the standard library is used).
set -euo pipefail
RDPT=$(readlink -f "${1:?usage: run_check.sh RDPT [WORKDIR]}")
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${RDPT_PYTHON:-python3}
if [ -n "${2:-}" ]; then
  if [ -e "$2" ] && [ -n "$(ls -A "$2")" ]; then
    echo "run_check.sh: WORKDIR '$2' is not empty; give a new or empty directory" >&2
    exit 2
  fi
  mkdir -p "$2"
  WD=$(cd "$2" && pwd)
  KEEP=1
else
  WD=$(mktemp -d "${TMPDIR:-/tmp}/rdpt_refcheck.XXXXXX")
  KEEP=0
fi
trap 'rc=$?; if [ $rc -ne 0 ]; then echo "run_check.sh: failed (exit $rc); its files are in $WD" >&2; elif [ $KEEP = 0 ]; then rm -rf "$WD"; fi' EXIT
$PY "$HERE/gen_data.py" datasets "$WD"
cd "$WD"
for K in A B C D E; do
  "$RDPT" import --data $K.jsonl --store $K.db >/dev/null 2>import_$K.log || { cat import_$K.log >&2; exit 1; }
  "$RDPT" export --store $K.db -o $K.spans.csv 2>/dev/null
  $PY "$HERE/gen_data.py" logprobs $K $K.spans.csv lp$K
  for f in lp$K/lp_*.jsonl; do
    m=$(basename "$f" .jsonl); m=${m#lp_}
    "$RDPT" import --store $K.db --logprobs "$f" --model "$m" 2>&1 | sed "s/^/[$K] /"
  done
  "$RDPT" export --store $K.db -o $K.csv
done
$PY "$HERE/compare.py" "$RDPT" "$WD"
