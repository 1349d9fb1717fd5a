#!/usr/bin/env bash
# Checks an rdpt built with -DRDPT_WITH_LLAMA=OFF -DRDPT_WITH_DUCKDB=OFF (scripts/test.sh builds
# one in build-nollama/): it links, the model-free commands work, and a GGUF model is a usage
# error (exit 2) that says the build has no llama.cpp backend, while a missing file stays a
# runtime error (exit 1); Parquet in or out is a usage error that says the build has no DuckDB.
#   nollama_check.sh RDPT DATA.jsonl.zst
set -uo pipefail
rdpt=$1 data=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
check() {  # name, expected exit code, expected stderr substring, command...
  local name=$1 want=$2 msg=$3; shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [ "$rc" = "$want" ] && grep -qF -- "$msg" "$tmp/err"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1)); echo "FAILED $name: exit $rc (want $want), stderr: $(head -c 400 "$tmp/err")"
  fi
}
printf 'GGUF' >"$tmp/model.gguf"
check "segment runs" 0 "" "$rdpt" segment --data "$data" --out "$tmp/actions.jsonl"
check "import runs" 0 "" "$rdpt" import --data "$data" --store "$tmp/s.db"
check "GGUF model is a usage error naming the missing backend" 2 "built without the llama.cpp backend" \
  "$rdpt" score --data "$data" --store "$tmp/s.db" --model t="$tmp/model.gguf" --prompt-format '{question}'
check "missing GGUF file is a runtime error" 1 "" \
  "$rdpt" score --data "$data" --store "$tmp/s.db" --model t="$tmp/nosuch.gguf" --prompt-format '{question}'
check "sample with a GGUF model is a usage error" 2 "built without the llama.cpp backend" \
  "$rdpt" sample --data "$data" --model t="$tmp/model.gguf" --out "$tmp/samples.jsonl" --prompt-format '{question}'
printf 'PAR1\0\0\0\0PAR1' >"$tmp/d.parquet"
check "Parquet input is a usage error naming DuckDB" 2 "built without DuckDB" \
  "$rdpt" segment --data "$tmp/d.parquet"
check "Parquet output is a usage error naming DuckDB" 2 "built without DuckDB" \
  "$rdpt" export --store "$tmp/s.db" --format parquet --out "$tmp/a.parquet"
echo "rdpt without llama.cpp and DuckDB: $pass passed, $fail failed"
[ "$fail" = 0 ]
