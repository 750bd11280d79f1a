#!/usr/bin/env bash
# The training benchmarks of the CPU, each next to PyTorch (Debian's python3-torch) with the same
# model, data, batch size (64) and thread count in the same run:
#   mnist_mlp: seconds per epoch (the second of two; the first warms caches up),
#   mnist_cnn: milliseconds per step (an epoch of 6,400 images after a warm-up epoch).
#   bench/bench_train_cpu.sh [build dir]      (THREADS=2 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
threads="${THREADS:-2}"
out="$(mktemp -d)"
export ALLOY_NUM_THREADS="$threads"
mlp_alloy=$("$build/examples/mnist_mlp" --epochs 2 --out "$out" | awk '$1 == 2 {print $5}')
mlp_torch=$(/usr/bin/python3 bench/bench_train_torch.py mlp --epochs 2 --threads "$threads" |
  python3 -c "import json,sys; print('%.2f' % [json.loads(l) for l in sys.stdin][-1]['epoch_s'])")
cnn_alloy=$("$build/examples/mnist_cnn" --epochs 2 --train-subset 6400 --out "$out" | awk '$1 == 2 {print $6}')
cnn_torch=$(/usr/bin/python3 bench/bench_train_torch.py cnn --steps 100 --threads "$threads" |
  python3 -c "import json,sys; print('%.2f' % json.loads(sys.stdin.read())['step_ms'])")
torch_version=$(/usr/bin/python3 -c "import torch; print(torch.__version__)")
echo "| benchmark (batch 64, $threads threads) | alloy | PyTorch $torch_version | alloy speed-up |"
echo "| --- | ---: | ---: | ---: |"
awk -v a="$mlp_alloy" -v t="$mlp_torch" 'BEGIN { printf "| mnist_mlp s/epoch | %.2f | %.2f | %.2fx |\n", a, t, t / a }'
awk -v a="$cnn_alloy" -v t="$cnn_torch" 'BEGIN { printf "| mnist_cnn ms/step | %.2f | %.2f | %.2fx |\n", a, t, t / a }'
rm -rf "$out"
