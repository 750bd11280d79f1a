#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds alloy, and runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
export CCACHE_BASEDIR="$PWD"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j"$(nproc)" --target alloy_demo
./build/examples/alloy_demo
