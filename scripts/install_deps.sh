#!/usr/bin/env bash
# Installs what alloy needs from Debian 12's archive (only what is missing).
set -euo pipefail
packages=(build-essential cmake pkg-config ccache libopenblas-dev nlohmann-json3-dev libzip-dev
          libpcre2-dev zlib1g-dev libcairo2-dev python3-torch dataset-fashion-mnist fortunes
          libgtest-dev libgmock-dev libbenchmark-dev python3-numpy clang libclang-rt-14-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" > /dev/null
fi
