#!/usr/bin/env bash
# Sets up everything rdpt needs (scripts/setup.sh) and runs all tests with ctest.
#   scripts/test.sh [--fast] [ctest args...]
#     --fast   skip the sanitizer build (ASan+UBSan); by default it runs after the plain suite
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SANITIZE=1
ARGS=()
for a in "$@"; do
  case "$a" in
    --fast) SANITIZE=0 ;;
    *) ARGS+=("$a") ;;
  esac
done
JOBS=${RDPT_JOBS:-$(nproc)}

bash scripts/setup.sh --build-dir "$ROOT/build"
echo "[test] running the test suite (build/)" >&2
ctest --test-dir "$ROOT/build" --output-on-failure -j "$JOBS" --timeout 900 "${ARGS[@]}"

if [ "$SANITIZE" = 1 ]; then
  echo "[test] running the test suite under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)" >&2
  bash scripts/setup.sh --build-dir "$ROOT/build-asan" --build-type RelWithDebInfo --cmake-arg -DRDPT_SANITIZE=ON \
    --cmake-arg -DRDPT_BUILD_BENCH=OFF
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$ROOT/build-asan" --output-on-failure -j "$JOBS" --timeout 1800 -LE browser "${ARGS[@]}"
fi
