#!/usr/bin/env bash
# The GPU run, for the machine with the GPU (the `device` tool runs it over a copy of the tree):
# makes the Debian build dependencies usable there (carried as .debs in .deps/, see
# scripts/gpu_deps.sh), builds with every core, runs the GPU tests, the core suite on the GPU,
# the GPU benchmarks and PyTorch's figures for the same cases, the LLM tests on the GPU and
# `alloy bench` on the issue's model shapes, the nn tests on the GPU and the training examples
# and benchmarks (train), and prints a short table last. The test data travels in a git-ignored
# gpu-data/, made here by `tests/run_gpu.sh --pack-data [llm|train]`: llm takes hf/, models/,
# quant/, tokenizers/ and chat-templates/ from ../shared/data; train takes Fashion-MNIST and the
# fortunes corpus from Debian's packages. Logs and JSON go to $OUT (or ./gpu-out).
#   tests/run_gpu.sh [tests|bench|llm|decode|train|step|profile|probe|all]   (default all)
#   tests/run_gpu.sh probe: the standalone kernel probes of bench/ only, built by nvcc in seconds
#   without the library (the quick loop for kernel work; PROBE_BASELINE=DIR adds an earlier
#   attention kernel's figures, same run)
#   tests/run_gpu.sh step: test_gpu, then the GPT-2-small training step next to PyTorch and its
#   profile (the quick loop for training-speed work)
#   tests/run_gpu.sh quick: everything the core bars need in one 10-minute device call: the
#   attention probe (and PROBE_BASELINE's) built and run while the library builds, the GEMM
#   section three times, test_gpu, attention, bandwidth, overhead and crossing, then PyTorch's
#   figures and the core suite on the GPU as far as QUICK_SECONDS (default 570) allows
set -uo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"
if [ "$what" = "--pack-data" ]; then
  # gpu-data must fit the 64 MiB a GPU run carries: the LLM set or the training set.
  rm -rf gpu-data && mkdir -p gpu-data
  if [ "${2:-llm}" = "train" ]; then
    cp -r /usr/share/datasets/fashion-mnist gpu-data/fashion-mnist
    mkdir -p gpu-data/fortunes && find /usr/share/games/fortunes -maxdepth 1 -type f ! -name "*.dat" \
      -exec cp {} gpu-data/fortunes/ \;
  else
    cp -r ../shared/data/hf ../shared/data/models ../shared/data/quant ../shared/data/tokenizers \
      ../shared/data/chat-templates gpu-data/
  fi
  du -sh gpu-data
  exit 0
fi
out="${OUT:-$PWD/gpu-out}"
mkdir -p "$out"
summary=()
# suite_result LABEL LOG: a test binary's pass/fail line (and the GPU fallbacks it lists, where it
# prints them) into the summary printed last, and its failures printed now.
suite_result() {
  summary+=("$1: $(grep -E '^\[  (PASSED|FAILED)' "$2" | tr '\n' ' ')")
  if grep -qE '^GPU fallbacks' "$2"; then summary+=("$1, $(grep -E '^GPU fallbacks' "$2")"); fi
  grep -E -A4 "Failure" "$2" | grep -vE "^--$|Failure$" | head -40
}
# configure_build: Debian's build dependencies (from the .debs carried in .deps/ where the machine
# lacks them) and build-gpu/'s CMake configuration, its log in $out/build.log.
configure_build() {
  if ! pkg-config --exists openblas libzip 2>/dev/null || ! [ -d /usr/include/nlohmann ]; then
    [ -d .deps ] || { echo "missing .deps/ (run scripts/gpu_deps.sh --download .deps here first)"; exit 1; }
    source scripts/gpu_deps.sh .deps /tmp/alloy-deps
  fi
  cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DALLOY_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DALLOY_PYTHON="$(command -v python3)" > "$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
}
# The standalone probes of the Hopper attention kernel, built by nvcc alone (probe and quick).
probe_flags="-std=c++20 -gencode=arch=compute_90a,code=sm_90a --expt-relaxed-constexpr -diag-suppress=997 -O3"
if [ "$what" = "probe" ]; then
  # PROBE_BASELINE=DIR: also the attention kernel of DIR/src/alloy/backend/cuda/hopper/ (an
  # earlier version of that folder, from `git show REV:PATH`), run after the current one.
  for base in "" ${PROBE_BASELINE:-}; do
    nvcc $probe_flags ${base:+-I$base/src} -Isrc bench/probe_attention_wgmma.cu -o /tmp/probe_attention_wgmma &&
      timeout 120 /tmp/probe_attention_wgmma | tee "$out/probe_attention_wgmma${base:+_baseline}.txt"
  done
  nvcc -std=c++17 -arch=sm_90 -O2 bench/probe_cublaslt_candidates.cu -lcublasLt -lcublas \
    -o /tmp/probe_cublaslt_candidates && /tmp/probe_cublaslt_candidates | tee "$out/probe_cublaslt_candidates.txt"
  exit 0
fi
if [ "$what" = "quick" ]; then
  start=$(date +%s)
  left() { echo $(( ${QUICK_SECONDS:-570} - $(date +%s) + start )); }
  stamp() { echo "[$(( $(date +%s) - start )) s] $*"; }
  nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader
  nvcc $probe_flags -Isrc bench/probe_attention_wgmma.cu -o /tmp/probe_attention &
  probes=$!
  if [ -n "${PROBE_BASELINE:-}" ]; then
    nvcc $probe_flags -I"$PROBE_BASELINE/src" -Isrc bench/probe_attention_wgmma.cu -o /tmp/probe_attention_baseline &
    probes="$probes $!"
  fi
  configure_build
  (cmake --build build-gpu -j"$(( $(nproc) - 2 ))" --target test_gpu bench_gpu test_core >> "$out/build.log" 2>&1
   echo $? > /tmp/alloy-build.rc) &
  wait $probes
  stamp "probes built"
  # A probe that fails or hangs leaves the library on the portable attention kernel for this run.
  timeout 40 /tmp/probe_attention > "$out/probe_attention.txt" 2>&1 ||
    { echo "attention probe FAILED (rc $?); ALLOY_CUDA_WGMMA=0 below"; export ALLOY_CUDA_WGMMA=0; }
  [ -n "${PROBE_BASELINE:-}" ] && timeout 40 /tmp/probe_attention_baseline > "$out/probe_attention_baseline.txt" 2>&1
  grep -E "ms " "$out/probe_attention.txt" | awk '{print "probe:", $0}' | cut -c1-150 | tail -20
  [ -n "${PROBE_BASELINE:-}" ] && grep -E "ms " "$out/probe_attention_baseline.txt" | cut -c1-150 | tail -20 |
    awk '{print "baseline probe:", $0}'
  while [ ! -f /tmp/alloy-build.rc ]; do sleep 1; done
  stamp "library built (rc $(cat /tmp/alloy-build.rc))"
  grep -E "error" -A3 "$out/build.log" | head -30
  for i in 1 2 3; do ALLOY_MATMUL_LOG=1 ./build-gpu/bench/bench_gpu "/tmp/gemm$i.json" gemm 2>&1; done |
    grep -vE "^group|^\s*$" | tee "$out/gemm.txt"
  stamp "GEMM run"
  timeout 150 ./build-gpu/tests/test_gpu > "$out/test_gpu.log" 2>&1
  suite_result test_gpu "$out/test_gpu.log"
  stamp "test_gpu run"
  for section in attention bandwidth overhead crossing; do
    ./build-gpu/bench/bench_gpu "/tmp/$section.json" "$section" 2>&1 | tail -n +2
  done | tee "$out/sections.txt"
  stamp "bench_gpu run"
  torch_seconds=$(( $(left) - 90 ))
  [ "$torch_seconds" -gt 150 ] && torch_seconds=150
  [ "$torch_seconds" -gt 20 ] && PYTHONUNBUFFERED=1 timeout "$torch_seconds" python3 bench/bench_gpu_torch.py \
    /tmp/torch.json > "$out/torch.txt" 2>&1
  tail -n +1 "$out/torch.txt" 2>/dev/null | head -60
  if [ "$(left)" -gt 30 ]; then
    ALLOY_DEFAULT_DEVICE=gpu ALLOY_GPU_FALLBACK=silent timeout "$(left)" ./build-gpu/tests/test_core --gtest_brief=1 \
      > "$out/test_core_on_gpu.log" 2>&1
    suite_result "test_core on the GPU" "$out/test_core_on_gpu.log"
  fi
  stamp "done"
  echo "== summary"
  for line in "${summary[@]}"; do echo "$line"; done
  exit 0
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python="$(command -v python3)"
start=$(date +%s)
configure_build
targets="test_gpu test_core test_llm bench_gpu alloy_cli"
[ "$what" = "train" ] || [ "$what" = "all" ] && targets="$targets test_nn mnist_mlp mnist_cnn gpt bench_train_gpt"
[ "$what" = "profile" ] && targets="bench_train_gpt"
[ "$what" = "step" ] && targets="test_gpu bench_train_gpt"
[ "$what" = "decode" ] && targets="test_llm alloy_cli test_gpu"
cmake --build build-gpu -j"$(nproc)" --target $targets >> "$out/build.log" 2>&1 ||
  { grep -E "error" -A3 "$out/build.log" | head -60; exit 1; }
echo "build: $(( $(date +%s) - start )) s"
# watchdog SECONDS LOG CMD...: runs CMD (output to LOG); past SECONDS it appends every thread's
# backtrace (gdb, where installed) and the last test started to LOG, prints that test, and
# kills CMD. test_gpu has hung on a cold machine (GpuParity.Attention): this is how to see where.
# Where gdb is missing (the GPU machine), test_gpu's own watchdog (tests/gpu/hang_watchdog.cpp)
# prints every thread's stack after 240 s first.
watchdog() {
  local limit="$1" log="$2"
  shift 2
  "$@" > "$log" 2>&1 &
  local pid=$! waited=0
  while kill -0 "$pid" 2> /dev/null && [ "$waited" -lt "$limit" ]; do
    sleep 1
    waited=$((waited + 1))
  done
  if kill -0 "$pid" 2> /dev/null; then
    echo "$(basename "$1") still running after $limit s; last started: $(grep -E '^\[ RUN' "$log" | tail -1)"
    if command -v gdb > /dev/null; then
      gdb -p "$pid" -batch -ex "thread apply all bt" >> "$log" 2>&1
    fi
    kill -9 "$pid"
  fi
  wait "$pid" 2> /dev/null
}
if [ "$what" = "tests" ] || [ "$what" = "all" ]; then
  watchdog 300 "$out/test_gpu.log" ./build-gpu/tests/test_gpu
  suite_result test_gpu "$out/test_gpu.log"
  # The portable mma.sync attention kernels, which the Hopper (wgmma) ones replace on this GPU.
  ALLOY_CUDA_WGMMA=0 ./build-gpu/tests/test_gpu --gtest_filter='*Attention*' > "$out/test_gpu_portable.log" 2>&1
  suite_result "test_gpu attention, ALLOY_CUDA_WGMMA=0" "$out/test_gpu_portable.log"
  ALLOY_DEFAULT_DEVICE=gpu ALLOY_GPU_FALLBACK=silent timeout 900 ./build-gpu/tests/test_core --gtest_brief=1 \
    > "$out/test_core_on_gpu.log" 2>&1
  suite_result "test_core on the GPU" "$out/test_core_on_gpu.log"
  ALLOY_TEST_DATA="$PWD/gpu-data" ./build-gpu/tests/test_llm --gtest_brief=1 > "$out/test_llm.log" 2>&1
  suite_result "test_llm (CPU and GPU)" "$out/test_llm.log"
  grep -E "on the GPU: normalized" "$out/test_llm.log"
fi
if [ "$what" = "llm" ] || [ "$what" = "all" ]; then
  # The issue's shapes with random weights and the Llama 2 vocabulary, then llama-bench's tests.
  models=/tmp/alloy-models
  mkdir -p "$models"
  vocab=gpu-data/tokenizers/ggml-vocab-llama-spm.gguf
  for spec in "1B 2048 8192 16" "7B 4096 14336 32"; do
    set -- $spec
    for type in ${LLM_TYPES:-F16 Q8_0 Q4_0}; do
      f="$models/$1-$type.gguf"
      [ -f "$f" ] || ./build-gpu/tools/alloy synth --arch llama --dim "$2" --ffn "$3" --layers "$4" --heads 32 \
        --kv-heads 8 --vocab-from "$vocab" -o "$f" --type "$type" 2>> "$out/synth.log"
      ./build-gpu/tools/alloy bench -m "$f" -p 512 -n 128 -r "${LLM_REPS:-3}" --device gpu 2>&1 |
        tee -a "$out/llm_bench.md" | grep -E "^\| llama"
    done
  done
fi
if [ "$what" = "decode" ]; then
  # The decode step replayed as a CUDA graph: its tests, then tg128 with and without the graph
  # (ALLOY_CUDA_GRAPH=0) on the 1B shapes, in the same run.
  ALLOY_TEST_DATA="$PWD/gpu-data" ./build-gpu/tests/test_llm --gtest_brief=1 \
    --gtest_filter="${DECODE_TESTS:-*Decode*:*gpu*:*Gpu*}" > "$out/test_llm.log" 2>&1
  suite_result "test_llm (decode, GPU)" "$out/test_llm.log"
  ./build-gpu/tests/test_gpu --gtest_brief=1 --gtest_filter='*FusedOps*:*Runtime*' > "$out/test_gpu.log" 2>&1
  suite_result "test_gpu (fused ops, runtime)" "$out/test_gpu.log"
  models=/tmp/alloy-models
  mkdir -p "$models"
  for type in ${LLM_TYPES:-F16 Q8_0 Q4_0}; do
    f="$models/1B-$type.gguf"
    [ -f "$f" ] || ./build-gpu/tools/alloy synth --arch llama --dim 2048 --ffn 8192 --layers 16 --heads 32 \
      --kv-heads 8 --vocab-from gpu-data/tokenizers/ggml-vocab-llama-spm.gguf -o "$f" --type "$type" 2>> "$out/synth.log"
    ./build-gpu/tools/alloy bench -m "$f" -p "${DECODE_PP:-0}" -n 128 -r 3 --device gpu 2>&1 |
      tee -a "$out/llm_bench.md" | grep -E "^\| llama"
    ALLOY_CUDA_GRAPH=0 ./build-gpu/tools/alloy bench -m "$f" -p 0 -n 128 -r 3 --device gpu 2>&1 |
      tee -a "$out/llm_bench.md" | grep -E "^\| llama" | sed 's/$/ (ALLOY_CUDA_GRAPH=0)/'
  done
fi
if [ "$what" = "bench" ] || [ "$what" = "all" ]; then
  ALLOY_MATMUL_LOG=1 ./build-gpu/bench/bench_gpu "$out/bench_gpu.json"
  echo "attention with ALLOY_CUDA_WGMMA=0 (the portable mma.sync prefill kernel):"
  ALLOY_CUDA_WGMMA=0 ./build-gpu/bench/bench_gpu "$out/bench_gpu_portable.json" attention | grep -A1 prefill
  PYTHONUNBUFFERED=1 "$python" bench/bench_gpu_torch.py "$out/bench_gpu_torch.json" > "$out/bench_gpu_torch.txt"
  "$python" bench/gpu_table.py "$out/bench_gpu.json" "$out/bench_gpu_torch.json" | tee "$out/gpu_table.md"
fi
if [ "$what" = "train" ] || [ "$what" = "all" ]; then
  export ALLOY_FASHION_MNIST="$PWD/gpu-data/fashion-mnist"
  ALLOY_DEFAULT_DEVICE=gpu ALLOY_GPU_FALLBACK=silent timeout 900 ./build-gpu/tests/test_nn --gtest_brief=1 \
    > "$out/test_nn_on_gpu.log" 2>&1
  suite_result "test_nn on the GPU" "$out/test_nn_on_gpu.log"
  ./build-gpu/examples/mnist_mlp --device gpu --epochs 2 --out "$out" | tee "$out/mnist_mlp_gpu.txt" | tail -4
  ./build-gpu/examples/mnist_cnn --device gpu --epochs 2 --out "$out" | tee "$out/mnist_cnn_gpu.txt" | tail -4
  ./build-gpu/examples/gpt --device gpu --steps "${GPT_STEPS:-400}" --batch 32 --corpus gpu-data/fortunes \
    --out "$out" --sample-tokens 200 2>&1 | tee "$out/gpt_gpu.txt" | tail -14
  "$python" tests/nn/check_gpt_checkpoint.py "$out/gpt-checkpoint" ./build-gpu/tools/alloy 2>&1 | tail -3
  for b in ${TRAIN_BATCHES:-16}; do
    ./build-gpu/bench/bench_train_gpt --device gpu --batch "$b" 2> "$out/bench_train_gpt.log" | head -1
    "$python" bench/bench_train_gpt_torch.py --batch "$b" 2>> "$out/bench_train_gpt.log" | head -1
  done
fi
if [ "$what" = "step" ]; then
  watchdog 300 "$out/test_gpu.log" ./build-gpu/tests/test_gpu
  suite_result test_gpu "$out/test_gpu.log"
  ./build-gpu/bench/bench_train_gpt --device gpu --batch 16 2> "$out/bench_train_gpt.log" | head -1
  "$python" bench/bench_train_gpt_torch.py --batch 16 2>> "$out/bench_train_gpt.log" | head -1
fi
if [ "$what" = "profile" ] || [ "$what" = "step" ]; then
  # Where a GPT-2-small training step spends its GPU time: alloy's profiler (CUDA events around
  # each primitive) over two timed steps after two warm-up steps.
  ALLOY_GPU_PROFILE=1 ./build-gpu/bench/bench_train_gpt --device gpu --steps 2 --warmup 2 \
    > "$out/profile.txt" 2> "$out/profile.log"
  head -1 "$out/profile.txt"
  grep -A62 "ALLOY_GPU_PROFILE" "$out/profile.log"
fi
echo "== summary"
for line in "${summary[@]}"; do echo "$line"; done
