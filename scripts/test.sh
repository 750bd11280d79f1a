#!/usr/bin/env bash
# Builds and runs every test: the suite under AddressSanitizer + UndefinedBehaviorSanitizer
# (clang), a short libFuzzer run of every file parser from the same build, a project built
# against the installed package, and the suite in the Release build (its ctest summary is the
# last line printed). The Release build compiles the CUDA backend where nvcc is present (the GPU
# tests skip without a GPU; they run on the GPU machine through tests/run_gpu.sh); the sanitizer
# build leaves it out.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
jobs="$(nproc)"
export CCACHE_BASEDIR="$PWD"  # relative paths: a fresh clone reuses earlier compilations

# One clang build serves both: the suite under the sanitizers, and the libFuzzer targets (the
# parsers' objects also carry the fuzzer's coverage instrumentation), so the library compiles
# once for the two.
echo "== sanitizers (ASan + UBSan, clang) =="
cmake -S . -B build-asan -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DALLOY_SANITIZE=ON \
  -DALLOY_FUZZ=ON -DALLOY_CUDA=OFF -DALLOY_BUILD_BENCH=OFF -DALLOY_BUILD_EXAMPLES=OFF > /dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure --timeout 1200

echo "== fuzz targets (libFuzzer) =="
for target in build-asan/fuzz/fuzz_*; do
  [ -x "$target" ] || continue
  echo "fuzzing $(basename "$target") for 20 s"
  "$target" -max_total_time=20 -rss_limit_mb=2048 -print_final_stats=0 2>&1 | tail -n 2
done

echo "== release build, installed package, test suite =="
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j"$jobs"
rm -rf build/install build/standalone
cmake --install build --prefix build/install > /dev/null
cmake -S examples/standalone -B build/standalone -DCMAKE_PREFIX_PATH="$PWD/build/install" > /dev/null
cmake --build build/standalone -j"$jobs"
./build/standalone/standalone
./build/examples/alloy_demo > /dev/null
ctest --test-dir build --output-on-failure --timeout 1200
