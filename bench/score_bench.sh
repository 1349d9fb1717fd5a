#!/usr/bin/env bash
# Scoring throughput of rdpt next to llama.cpp's forward pass alone (llama-bench prompt
# processing, which keeps only the last logit) and llama-perplexity, on the same model and
# token count; prints tokens/s and the ratios. rdpt runs twice: reducing each row to its
# target's log-prob inside llama.cpp's graph (--reduce device, auto's choice with a GPU) and on the host
# from the copied logits (--reduce host).
#
#   bench/score_bench.sh MODEL.gguf [TOKENS...]          (default TOKENS: 4096)
# Environment:
#   LLAMA_SRC   llama.cpp source (default /root/.cache/rdpt/src/llama.cpp-3.22.1)
#   BENCH_DIR   side build dir for llama-bench/llama-perplexity/score_bench (default build-bench)
#   CUDA=1      build llama.cpp with CUDA (sm_90 unless CUDA_ARCH is set) and offload all layers
#   THREADS     CPU threads (default: all); BATCH / UBATCH (default 2048 / 2048 on CUDA, 512 / 512 on CPU)
#   FA          flash attention for all three (default 1 with CUDA, 0 on CPU)
#   REPS        repetitions (median reported; default 3)
set -euo pipefail
MODEL=${1:?usage: bench/score_bench.sh MODEL.gguf [TOKENS...]}
shift || true
TOKENS=("${@:-4096}")
[ ${#TOKENS[@]} -eq 0 ] && TOKENS=(4096)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LLAMA_SRC=${LLAMA_SRC:-/root/.cache/rdpt/src/llama.cpp-3.22.1}
BENCH_DIR=${BENCH_DIR:-$ROOT/build-bench}
THREADS=${THREADS:-$(nproc)}
REPS=${REPS:-3}
if [ "${CUDA:-0}" = 1 ]; then
  NGL=99; BATCH=${BATCH:-2048}; UBATCH=${UBATCH:-2048}; FA=${FA:-1}
  CUDA_FLAGS="-DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCH:-90}"
else
  NGL=0; BATCH=${BATCH:-512}; UBATCH=${UBATCH:-512}; FA=${FA:-0}
  CUDA_FLAGS=""
fi
LB=$BENCH_DIR/llama
if [ ! -x "$LB/bin/llama-bench" ] || [ ! -x "$LB/bin/llama-perplexity" ]; then
  echo "building llama-bench and llama-perplexity in $LB ..." >&2
  cmake -S "$LLAMA_SRC" -B "$LB" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_OPENSSL=OFF $CUDA_FLAGS >/dev/null
  cmake --build "$LB" --target llama-bench llama-perplexity -j "$(nproc)" >/dev/null
fi
SB=$BENCH_DIR/score_bench
if [ ! -x "$SB" ] || [ -n "$(find "$ROOT/bench/score_bench.cpp" "$ROOT/src/backends/llama" "$ROOT/include" -newer "$SB" -name '*.[ch]*' | head -1)" ]; then
  echo "building score_bench against $LB ..." >&2
  # Link exactly as llama-bench was linked (CUDA runtime, cuBLAS, NCCL, OpenMP...).
  LIBS=$(grep -A12 '^build bin/llama-bench:' "$LB/build.ninja" | sed -n 's/^ *LINK_LIBRARIES = //p' | head -1)
  # llama-bench links llama.cpp's common library, whose Jinja runtime the chat templates need.
  (cd "$LB" && g++ -O2 -std=c++20 -DRDPT_WITH_LLAMA=1 -DRDPT_WITH_JINJA=1 -I"$ROOT/include" -I"$ROOT/src" \
    -I"$LLAMA_SRC/include" -I"$LLAMA_SRC/ggml/include" -I"$LLAMA_SRC/common" -I"$LLAMA_SRC/vendor" \
    "$ROOT/bench/score_bench.cpp" \
    "$ROOT"/src/backends/llama/{llama_scorer,device_logprob,tokenize,logsoftmax,fingerprint,chat_template}.cpp \
    "$ROOT"/src/core/{progress,prompt}.cpp \
    -o "$SB" -Wl,--start-group $LIBS -Wl,--end-group -lpthread -ldl -fopenmp)
fi
TXT=$BENCH_DIR/perplexity.txt
python3 - "$TXT" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    k = 0; s = []
    while sum(map(len, s)) < 600000:
        s.append(f"Step {k}: we add {k*7%13} and check the sum. "); k += 1
    f.write("".join(s))
PY
printf '%-8s %12s %12s %12s %12s %10s %10s %10s\n' tokens rdpt_tok/s host_tok/s bench_tok/s ppl_tok/s rdpt/bench host/bench rdpt/ppl
for N in "${TOKENS[@]}"; do
  R=$("$SB" "$MODEL" --tokens "$N" --batch "$BATCH" --ubatch "$UBATCH" --ngl "$NGL" --threads "$THREADS" --reps "$REPS" --fa "$FA" --reduce device 2>/dev/null | sed -n 's/.*tok_per_s=\([0-9.]*\).*/\1/p')
  H=$("$SB" "$MODEL" --tokens "$N" --batch "$BATCH" --ubatch "$UBATCH" --ngl "$NGL" --threads "$THREADS" --reps "$REPS" --fa "$FA" --reduce host 2>/dev/null | sed -n 's/.*tok_per_s=\([0-9.]*\).*/\1/p')
  B=$("$LB/bin/llama-bench" -m "$MODEL" -p "$N" -n 0 -b "$BATCH" -ub "$UBATCH" -ngl "$NGL" -t "$THREADS" -fa "$FA" -r "$REPS" -o csv 2>/dev/null \
      | python3 -c 'import csv,sys; r=list(csv.DictReader(sys.stdin)); print(r[-1]["avg_ts"])')
  P=$("$LB/bin/llama-perplexity" -m "$MODEL" -f "$TXT" -c "$N" --chunks 1 -b "$BATCH" -ub "$UBATCH" -ngl "$NGL" -t "$THREADS" -fa "$([ "$FA" = 1 ] && echo on || echo off)" 2>&1 \
      | python3 -c '
import re, sys
t = sys.stdin.read()
m = re.findall(r"prompt eval time.*?([0-9.]+) tokens per second", t)
if m: print(m[-1])  # older builds print llama_perf timings
else:
    m = re.search(r"([0-9.]+) seconds per pass", t)  # this build: one pass of N tokens (one chunk)
    print(int(sys.argv[1]) / float(m.group(1)) if m else 0)' "$N")
  python3 -c "
r,h,b,p=float('${R:-0}' or 0),float('${H:-0}' or 0),float('${B:-0}' or 0),float('${P:-0}' or 0)
print('%-8s %12.1f %12.1f %12.1f %12.1f %10.2f %10.2f %10.2f' % ('$N', r, h, b, p, r/b if b else 0, h/b if b else 0, r/p if p else 0))"
done
echo "machine: $(uname -m), $(nproc) CPU threads used=$THREADS, ngl=$NGL, batch=$BATCH ubatch=$UBATCH fa=$FA, reps=$REPS (median); commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name --format=csv,noheader || true
