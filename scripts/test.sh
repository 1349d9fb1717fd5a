#!/usr/bin/env bash
# Sets up everything rdpt needs (scripts/setup.sh) and runs all tests with ctest.
#   scripts/test.sh [--fast] [ctest args...]
#   After the plain suite, rdpt is built without llama.cpp (-DRDPT_WITH_LLAMA=OFF, build-nollama/)
#   and checked (tests/nollama/nollama_check.sh).
#     --fast   skip the sanitizer builds; by default, after that, the whole suite runs
#              again under ASan+UBSan (build-asan/), then the tests of concurrent code (llama
#              scorer, generation, HTTP client and engines) under ThreadSanitizer (build-tsan/)
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

# The configuration without llama.cpp and DuckDB (-DRDPT_WITH_LLAMA=OFF, also the fuzz builds';
# -DRDPT_WITH_DUCKDB=OFF): rdpt must link and say that GGUF models need the llama.cpp backend and
# Parquet needs DuckDB (tests/nollama/nollama_check.sh).
echo "[test] building rdpt without llama.cpp and DuckDB (build-nollama/) and checking it" >&2
bash scripts/setup.sh --build-dir "$ROOT/build-nollama" --cmake-arg -DRDPT_WITH_LLAMA=OFF --cmake-arg -DRDPT_WITH_DUCKDB=OFF \
  --cmake-arg -DRDPT_BUILD_TESTS=OFF --cmake-arg -DRDPT_BUILD_BENCH=OFF --target rdpt
bash tests/nollama/nollama_check.sh "$ROOT/build-nollama/src/rdpt" "$ROOT/data/traces/qwen25math_cot_8samples.jsonl.zst"

if [ "$SANITIZE" = 1 ]; then
  echo "[test] running the test suite under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)" >&2
  bash scripts/setup.sh --build-dir "$ROOT/build-asan" --build-type RelWithDebInfo --cmake-arg -DRDPT_SANITIZE=ON \
    --cmake-arg -DRDPT_BUILD_BENCH=OFF
  # Not under ASan (they ran in the plain pass, are the slowest there and reach no code the
  # rest of the suite does not): the planted-provenance pipeline, and the two
  # CLI stress loops (random option sweep, random SIGKILLs and resumes).
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$ROOT/build-asan" --output-on-failure -j "$JOBS" --timeout 1800 -LE browser \
    -E '^(planted_provenance|ScoreCli\.RandomKillsAlwaysResumeToTheSameStore|ScoreCli\.RandomOptionSweepNeverCrashes)$' \
    "${ARGS[@]}"

  echo "[test] running the concurrent scorer/HTTP tests under ThreadSanitizer (build-tsan/)" >&2
  bash scripts/setup.sh --build-dir "$ROOT/build-tsan" --build-type RelWithDebInfo --cmake-arg -DRDPT_TSAN=ON \
    --cmake-arg -DRDPT_BUILD_BENCH=OFF --target llama_test --target http_test --target cli_test --target rdpt
  # Left out under TSan (each ran in the plain and ASan passes; under TSan they took 25 of the
  # 37 tests' 35 test-minutes): the numerical-invariance sweeps over batch, context, parallel and
  # seeds, and the cached-prefix generation comparison. The threaded log-softmax, generation and
  # HTTP paths keep their tests here.
  TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$ROOT/tests/tsan.supp" \
    ctest --test-dir "$ROOT/build-tsan" --output-on-failure -j "$JOBS" --timeout 1800 \
    -R '^(LlamaScorerTest|GenerateTest|HttpScorerTest|HttpCli)\.' \
    -E '^(LlamaScorerTest\.(BatchOrContextAtOrBelowParallelDoesNotAbort|BatchingKvReuseAndThreadsChangeNothing|DefaultSettingsStayClose|PeakedModelsOfDifferentSeedsDisagree)|GenerateTest\.CachedPrefixGivesTheSameTextAsAFreshGenerator)$' \
    "${ARGS[@]}"
fi
