#!/usr/bin/env bash
# The GPU run, for the machine with the GPU (the `device` tool runs it over a copy of the tree):
# makes the Debian build dependencies usable there (carried as .debs in .deps/, see
# scripts/gpu_deps.sh), builds with every core, runs the GPU tests, the core suite on the GPU,
# the GPU benchmarks and PyTorch's figures for the same cases, and prints a short table last.
# Logs and JSON go to $OUT (or ./gpu-out).
#   tests/run_gpu.sh [tests|bench|all]   (default all)
set -uo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"
out="${OUT:-$PWD/gpu-out}"
mkdir -p "$out"
if ! pkg-config --exists openblas libzip 2>/dev/null || ! [ -d /usr/include/nlohmann ]; then
  [ -d .deps ] || { echo "missing .deps/ (run scripts/gpu_deps.sh --download .deps here first)"; exit 1; }
  source scripts/gpu_deps.sh .deps /tmp/alloy-deps
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python="$(command -v python3)"
start=$(date +%s)
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DALLOY_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DALLOY_PYTHON="$python" -DALLOY_BUILD_EXAMPLES=OFF > "$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
cmake --build build-gpu -j"$(nproc)" --target test_gpu test_core bench_gpu >> "$out/build.log" 2>&1 ||
  { grep -E "error" -A3 "$out/build.log" | head -60; exit 1; }
echo "build: $(( $(date +%s) - start )) s"
summary=()
if [ "$what" != "bench" ]; then
  ./build-gpu/tests/test_gpu --gtest_brief=1 > "$out/test_gpu.log" 2>&1
  summary+=("test_gpu: $(grep -E '^\[  (PASSED|FAILED)' "$out/test_gpu.log" | tr '\n' ' ')")
  grep -E -A4 "Failure" "$out/test_gpu.log" | grep -vE "^--$|Failure$" | head -60
  ALLOY_DEFAULT_DEVICE=gpu ALLOY_GPU_FALLBACK=silent timeout 900 ./build-gpu/tests/test_core --gtest_brief=1 \
    > "$out/test_core_on_gpu.log" 2>&1
  summary+=("test_core on the GPU: $(grep -E '^\[  (PASSED|FAILED)' "$out/test_core_on_gpu.log" | tr '\n' ' ')")
  grep -E -A4 "Failure" "$out/test_core_on_gpu.log" | grep -vE "^--$|Failure$" | head -40
fi
if [ "$what" != "tests" ]; then
  ./build-gpu/bench/bench_gpu "$out/bench_gpu.json"
  PYTHONUNBUFFERED=1 "$python" bench/bench_gpu_torch.py "$out/bench_gpu_torch.json" > "$out/bench_gpu_torch.txt"
  "$python" bench/gpu_table.py "$out/bench_gpu.json" "$out/bench_gpu_torch.json" | tee "$out/gpu_table.md"
fi
echo "== summary"
for line in "${summary[@]}"; do echo "$line"; done
