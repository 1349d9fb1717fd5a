#!/usr/bin/env bash
# Sets up everything rdpt needs on a fresh Debian 12 machine, then builds rdpt.
#   scripts/setup.sh [--cuda] [--build-type Release|Debug|RelWithDebInfo] [--build-dir DIR]
#                    [--cmake-arg ARG]... [--target T]...   (default: build everything)
# - Debian -dev packages via apt-get (only those missing; needs root or sudo).
# - llama.cpp from the npm package node-llama-cpp (pinned below), built once into
#   $RDPT_CACHE (default ~/.cache/rdpt) keyed by version and backend, reused after.
# - DuckDB (Parquet input and output) from the npm packages duckdb (its C header) and
#   @duckdb/node-bindings-linux-x64 (libduckdb.so), unpacked into $RDPT_CACHE keyed by version.
# - rdpt itself, configured with CMake into build/ (or --build-dir).
set -euo pipefail

NODE_LLAMA_CPP_VERSION=3.22.1   # pinned: ships llama.cpp de3ff81 as llama/gitRelease.bundle
DUCKDB_VERSION=1.4.4            # pinned: npm duckdb (C header) and @duckdb/node-bindings-linux-x64 (libduckdb.so)
DUCKDB_BINDINGS_REVISION=r.4    # the bindings package's build of that DuckDB version (1.4.4-r.4)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${RDPT_CACHE:-$HOME/.cache/rdpt}
BACKEND=cpu
BUILD_TYPE=Release
BUILD_DIR=$ROOT/build
EXTRA_CMAKE=()
TARGETS=()
JOBS=${RDPT_JOBS:-$(nproc)}

while [ $# -gt 0 ]; do
  case "$1" in
    --cuda) BACKEND=cuda ;;
    --build-type) BUILD_TYPE=$2; shift ;;
    --build-dir) BUILD_DIR=$2; shift ;;
    --cmake-arg) EXTRA_CMAKE+=("$2"); shift ;;
    --target) TARGETS+=(--target "$2"); shift ;;
    -h|--help) sed -n 2,9p "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

log() { printf '[setup] %s\n' "$*" >&2; }

# ---- 1. Debian packages --------------------------------------------------
APT_PACKAGES=(
  build-essential cmake ninja-build git pkg-config ca-certificates
  nlohmann-json3-dev              # JSON reading/writing
  python3 python3-jinja2          # tests: an independent chat-template renderer (Hugging Face's settings)
  python3-dev pybind11-dev        # the Python module rdpt (python/)
  python3-numpy                   # the module's arrays
  python3-pandas                  # optional for users (DataFrames); the Python tests use it
  python3-pytest                  # the Python tests (ctest -L python)
  python3-setuptools python3-venv # pip install --no-build-isolation . (setup.py drives CMake)
  libcli11-dev                    # command-line parsing
  libfmt-dev                      # formatting
  libsqlite3-dev sqlite3          # the score store
  zlib1g-dev libzstd-dev zstd     # .gz and .zst datasets (zstd: the demo's shell steps)
  libcurl4-openssl-dev            # HTTP backends
  libgtest-dev libgmock-dev       # tests
  libbenchmark-dev                # benchmarks
  chromium                        # headless browser for the report's browser tests (ctest -L browser)
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm fetches node-llama-cpp (llama.cpp's source) and the report's JS. Some machines carry
# a nodejs that bundles npm (and conflicts with Debian's npm package): only ask when absent.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---- 2. llama.cpp ---------------------------------------------------------
LLAMA_SRC=$CACHE/src/llama.cpp-$NODE_LLAMA_CPP_VERSION
# The prefix's name carries the build recipe ("c1": libllama + its `common` library, whose Jinja
# runtime renders chat templates), so a changed recipe builds a new prefix; the build directory is
# shared between recipes, so that a change rebuilds only what it adds.
LLAMA_RECIPE=c1
LLAMA_PREFIX=$CACHE/llama.cpp-$NODE_LLAMA_CPP_VERSION-$BACKEND-$LLAMA_RECIPE
LLAMA_BUILD=$CACHE/llama.cpp-$NODE_LLAMA_CPP_VERSION-$BACKEND.build
if [ ! -f "$LLAMA_SRC/.rdpt-ok" ]; then
  log "fetching llama.cpp from npm node-llama-cpp@$NODE_LLAMA_CPP_VERSION"
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-llama-cpp@$NODE_LLAMA_CPP_VERSION" >/dev/null \
     && tar xzf "node-llama-cpp-$NODE_LLAMA_CPP_VERSION.tgz" package/llama/gitRelease.bundle)
  rm -rf "$LLAMA_SRC"; mkdir -p "$(dirname "$LLAMA_SRC")"
  git clone -q "$tmp/package/llama/gitRelease.bundle" "$LLAMA_SRC"
  touch "$LLAMA_SRC/.rdpt-ok"
fi
if [ ! -f "$LLAMA_PREFIX/.rdpt-ok" ]; then
  log "building llama.cpp ($BACKEND) into $LLAMA_PREFIX (a few minutes, once)"
  cuda_flags=(-DGGML_CUDA=OFF)
  [ "$BACKEND" = cuda ] && cuda_flags=(-DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCH:-native})
  rm -rf "$LLAMA_PREFIX"
  # LLAMA_BUILD_COMMON: the `llama-common` library (its Jinja runtime, common/jinja/, is what
  # `llama-server --jinja` renders chat templates with); no tools, examples, server or network.
  cmake -S "$LLAMA_SRC" -B "$LLAMA_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$LLAMA_PREFIX" -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF \
    -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_COMMON=ON -DLLAMA_SUBPROCESS=OFF -DLLAMA_OPENSSL=OFF \
    -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DGGML_OPENMP=ON "${cuda_flags[@]}" \
    >"$LLAMA_PREFIX.log" 2>&1 || { tail -30 "$LLAMA_PREFIX.log" >&2; exit 1; }
  cmake --build "$LLAMA_BUILD" -j "$JOBS" --target llama llama-common >>"$LLAMA_PREFIX.log" 2>&1 \
    || { tail -30 "$LLAMA_PREFIX.log" >&2; log "llama.cpp build failed; full log: $LLAMA_PREFIX.log"; exit 1; }
  cmake --install "$LLAMA_BUILD" >>"$LLAMA_PREFIX.log" 2>&1
  # llama.cpp installs no static `common`: copy its archives and headers into the prefix
  # (lib/, include/llama-common/), where rdpt's CMake looks for them.
  for a in common/libllama-common.a common/libllama-common-base.a vendor/cpp-httplib/libcpp-httplib.a; do
    [ -f "$LLAMA_BUILD/$a" ] && cp "$LLAMA_BUILD/$a" "$LLAMA_PREFIX/lib/"
  done
  mkdir -p "$LLAMA_PREFIX/include/llama-common/jinja"
  cp "$LLAMA_SRC"/common/*.h "$LLAMA_PREFIX/include/llama-common/"
  cp "$LLAMA_SRC"/common/jinja/*.h "$LLAMA_PREFIX/include/llama-common/jinja/"
  touch "$LLAMA_PREFIX/.rdpt-ok"
fi

# ---- 2a. DuckDB (Parquet) -------------------------------------------------
DUCKDB_PREFIX=$CACHE/duckdb-$DUCKDB_VERSION-$DUCKDB_BINDINGS_REVISION
if [ ! -f "$DUCKDB_PREFIX/.rdpt-ok" ]; then
  log "fetching DuckDB $DUCKDB_VERSION from npm (duckdb: C header; @duckdb/node-bindings-linux-x64: libduckdb.so)"
  dtmp=$(mktemp -d)
  (cd "$dtmp" && npm pack --silent "duckdb@$DUCKDB_VERSION" \
     "@duckdb/node-bindings-linux-x64@$DUCKDB_VERSION-$DUCKDB_BINDINGS_REVISION" >/dev/null \
     && mkdir h l && tar xzf "duckdb-$DUCKDB_VERSION.tgz" -C h package/src/duckdb/src/include/duckdb.h \
     && tar xzf "duckdb-node-bindings-linux-x64-$DUCKDB_VERSION-$DUCKDB_BINDINGS_REVISION.tgz" -C l package/libduckdb.so package/LICENSE)
  rm -rf "$DUCKDB_PREFIX"; mkdir -p "$DUCKDB_PREFIX/include" "$DUCKDB_PREFIX/lib"
  cp "$dtmp/h/package/src/duckdb/src/include/duckdb.h" "$DUCKDB_PREFIX/include/"
  cp "$dtmp/l/package/libduckdb.so" "$DUCKDB_PREFIX/lib/"
  cp "$dtmp/l/package/LICENSE" "$DUCKDB_PREFIX/LICENSE"
  rm -rf "$dtmp"
  touch "$DUCKDB_PREFIX/.rdpt-ok"
fi

# ---- 2b. the report's JavaScript (vega, vega-lite, vega-embed inlined into rdpt; playwright-core for tests)
if [ ! -f "$ROOT/report/node_modules/.package-lock.json" ] || [ "$ROOT/report/package-lock.json" -nt "$ROOT/report/node_modules/.package-lock.json" ]; then
  log "installing the report's JavaScript libraries (npm ci in report/)"
  (cd "$ROOT/report" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

# ---- 3. rdpt --------------------------------------------------------------
log "configuring rdpt ($BUILD_TYPE) in $BUILD_DIR"
cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" \
  -DCMAKE_PREFIX_PATH="$LLAMA_PREFIX" -Dllama_DIR="$LLAMA_PREFIX/lib/cmake/llama" -Dggml_DIR="$LLAMA_PREFIX/lib/cmake/ggml" \
  -DRDPT_LLAMA_SOURCE_DIR="$LLAMA_SRC" -DRDPT_DUCKDB_DIR="$DUCKDB_PREFIX" \
  ${EXTRA_CMAKE[@]+"${EXTRA_CMAKE[@]}"} >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS" ${TARGETS[@]+"${TARGETS[@]}"}
cat > "$BUILD_DIR/rdpt-env.sh" <<ENV
# Written by scripts/setup.sh: where this build's llama.cpp lives (the demo reads it).
RDPT_LLAMA_SRC='$LLAMA_SRC'
RDPT_LLAMA_PREFIX='$LLAMA_PREFIX'
RDPT_DUCKDB_PREFIX='$DUCKDB_PREFIX'
ENV
log "built: $BUILD_DIR/src/rdpt"
