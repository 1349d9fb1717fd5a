#!/usr/bin/env bash
# The GPU benchmark as run on the lent H100: builds llama.cpp with CUDA from LLAMA_SRC, the
# fixture tool, a random-weight GGUF of the Qwen2.5-7B shape (f16), then bench/score_bench.sh
# at 4096 and 16384 tokens. Logs go to OUT (default /tmp/score_bench_gpu).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export LLAMA_SRC=${LLAMA_SRC:-/root/.cache/rdpt/src/llama.cpp-3.22.1} CUDA=1 BENCH_DIR=${BENCH_DIR:-/tmp/bb}
OUT=${OUT:-/tmp/score_bench_gpu}; mkdir -p "$OUT" "$BENCH_DIR"
LB=$BENCH_DIR/llama
t0=$(date +%s)
cmake -S "$LLAMA_SRC" -B "$LB" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_OPENSSL=OFF \
  -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCH:-90} >"$OUT/cmake.log" 2>&1
cmake --build "$LB" --target llama-bench llama-perplexity -j "$(nproc)" >"$OUT/build.log" 2>&1
echo "llama.cpp CUDA build: $(( $(date +%s) - t0 )) s"
g++ -O2 -std=c++20 "$ROOT/tests/tools/rdpt_fixture.cpp" -I"$LLAMA_SRC/ggml/include" -o "$BENCH_DIR/rdpt_fixture" \
  "$(find "$LB" -name libggml-base.a | head -1)" -lpthread -fopenmp
M=$BENCH_DIR/qwen7b-shape-f16.gguf
[ -f "$M" ] || "$BENCH_DIR/rdpt_fixture" --vocab "$LLAMA_SRC/models/ggml-vocab-qwen2.gguf" --out "$M" --hidden 3584 \
  --layers 28 --heads 28 --kv-heads 4 --ffn 18944 --vocab-size 152064 --type f16 --scale 0.02 --ctx 32768
echo "model ready: $(( $(date +%s) - t0 )) s"
"$ROOT/bench/score_bench.sh" "$M" ${TOKENS:-4096 16384} 2>"$OUT/bench.err" | tee "$OUT/bench.txt"
