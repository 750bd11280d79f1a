#!/usr/bin/env bash
# Makes the Debian 12 build dependencies usable on a machine that cannot install packages (the
# GPU machine): unpacks the .deb files of a folder into a prefix and rewrites their pkg-config
# and CMake paths. Source it: `source scripts/gpu_deps.sh DEBS_DIR [PREFIX]`.
# Fetch the .debs beforehand on a Debian 12 machine with `scripts/gpu_deps.sh --download DIR`.
set -euo pipefail

if [ "${1:-}" = "--download" ]; then
  mkdir -p "$2" && cd "$2"
  apt-get download libopenblas-dev libopenblas-pthread-dev libopenblas0-pthread libopenblas0 \
    libgfortran5 nlohmann-json3-dev libzip-dev libzip4 libgtest-dev libgmock-dev \
    libbenchmark-dev libbenchmark1debian pkgconf pkgconf-bin libpkgconf3 libpcre2-dev libpcre2-8-0 \
    zlib1g-dev zlib1g
  exit 0
fi

debs="$(cd "$1" && pwd)"
prefix="${2:-/tmp/alloy-deps}"
mkdir -p "$prefix"
for f in "$debs"/*.deb; do dpkg-deb -x "$f" "$prefix"; done
lib="$prefix/usr/lib/x86_64-linux-gnu"
# pkg-config files name /usr; point them at the prefix.
find "$prefix" -name '*.pc' -exec sed -i "s|/usr|$prefix/usr|g" {} +
ln -sf "$lib/openblas-pthread/pkgconfig/openblas.pc" "$lib/pkgconfig/openblas.pc"
ln -sf "openblas-pthread/libopenblas.so.0" "$lib/libopenblas.so.0"
export PATH="$prefix/usr/bin:$PATH"
export PKG_CONFIG_PATH="$lib/pkgconfig:$prefix/usr/share/pkgconfig"
export CMAKE_PREFIX_PATH="$prefix/usr"
export LD_LIBRARY_PATH="$lib/openblas-pthread:$lib:${LD_LIBRARY_PATH:-}"
set +euo pipefail
