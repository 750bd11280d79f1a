#!/usr/bin/env bash
# alloy bench next to llama.cpp (PyPI's llama-cpp-python: same files, same thread count) on the
# issue's CPU rows: stories260K F32 (pp64/tg64: its context holds only 128 positions) and the
# "1B" shape (dim 2048, ffn 8192, 16 layers, 32/8 heads) in Q4_0 and Q8_0 (pp128, tg32).
# Models are made with `alloy synth` into $MODELS (default /tmp/alloy-models).
#   bench/bench_llm_cpu.sh [build dir]   (needs: pip install llama-cpp-python)
# PEER_ARGS adds options for the peer (PEER_ARGS=--flash-attn: llama.cpp with flash attention).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
models="${MODELS:-/tmp/alloy-models}"
threads="${THREADS:-2}"
mkdir -p "$models"
vocab=../shared/data/tokenizers/ggml-vocab-llama-spm.gguf
for type in Q4_0 Q8_0; do
  f="$models/1B-$type.gguf"
  [ -f "$f" ] || "$build/tools/alloy" synth --arch llama --dim 2048 --ffn 8192 --layers 16 --heads 32 --kv-heads 8 \
    --vocab-from "$vocab" -o "$f" --type "$type" 2> /dev/null
done
run() {  # model, pp, tg
  ALLOY_NUM_THREADS="$threads" "$build/tools/alloy" bench -m "$1" -p "$2" -n "$3" -r "${REPS:-3}" | grep -E "^\| llama"
  python3 bench/bench_llm_peer.py "$1" -p "$2" -n "$3" -r "${REPS:-3}" -t "$threads" ${PEER_ARGS:-}
}
echo "| model | size | params | device | test | t/s | peak memory |"
echo "| --- | ---: | ---: | --- | --- | ---: | ---: |"
run ../shared/data/models/stories260K.gguf 64 64   # its context is 128 positions
run "$models/1B-Q4_0.gguf" 128 32
run "$models/1B-Q8_0.gguf" 128 32
