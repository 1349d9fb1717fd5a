#!/usr/bin/env bash
# Runs each libFuzzer target for a set time (clang + ASan/UBSan), then merges new interesting
# inputs into fuzz/corpus/<name>/ (minimised with -merge=1). Crashes land in fuzz/findings/.
#   scripts/fuzz.sh [--seconds N] [target ...]      (default: 600 s each, all targets)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECONDS_EACH=600
TARGETS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_EACH=$2; shift ;;
    *) TARGETS+=("$1") ;;
  esac
  shift
done
BUILD=$ROOT/build-fuzz
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DRDPT_FUZZ=ON -DRDPT_SANITIZE=ON -DRDPT_WITH_LLAMA=OFF \
  -DRDPT_BUILD_TESTS=OFF -DRDPT_BUILD_BENCH=OFF >/dev/null
if [ ${#TARGETS[@]} -eq 0 ]; then
  for f in "$ROOT"/fuzz/*_fuzz.cpp; do n=$(basename "$f" _fuzz.cpp); TARGETS+=("$n"); done
fi
mkdir -p "$ROOT/fuzz/findings"
for t in "${TARGETS[@]}"; do
  ninja -C "$BUILD" "fuzz_$t" >/dev/null || { echo "[fuzz] $t: not built (skipped)"; continue; }
  work=$(mktemp -d)
  cp -r "$ROOT/fuzz/corpus/$t/." "$work/" 2>/dev/null || true
  echo "[fuzz] $t for ${SECONDS_EACH}s"
  set +e
  (cd "$ROOT/fuzz/findings" && "$BUILD/fuzz/fuzz_$t" -max_total_time="$SECONDS_EACH" -max_len=65536 \
     -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 "$work" 2>&1 | tail -n 12)
  rc=${PIPESTATUS[0]}
  set -e
  mkdir -p "$ROOT/fuzz/corpus/$t"
  "$BUILD/fuzz/fuzz_$t" -merge=1 "$ROOT/fuzz/corpus/$t" "$work" >/dev/null 2>&1 || true
  rm -rf "$work"
  echo "[fuzz] $t: exit $rc, corpus now $(ls "$ROOT/fuzz/corpus/$t" | wc -l) files"
done
