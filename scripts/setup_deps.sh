#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs (Debian/Ubuntu, apt-get) everything ctml's build, tests, examples and benchmarks need.
# Idempotent: packages already installed are left alone and apt-get update runs only when
# something is missing. Runs as root (CI) or through sudo.
# CUDA is not installed here: nvcc comes with the machine's CUDA toolkit (/usr/local/cuda); the
# build uses it when present (CTML_WITH_CUDA) and skips the CUDA parts otherwise.
set -euo pipefail

packages=(
  build-essential g++ clang-19 cmake ninja-build meson pkg-config ccache git
  libxtensor-dev libxtensor-blas-dev libxsimd-dev libsimdjson-dev
  libopenblas-dev liblapack-dev zlib1g-dev
  doctest-dev libbenchmark-dev
  libcli11-dev libcairo2-dev fonts-dejavu-core
  libsqlite3-dev libcurl4-openssl-dev libssl-dev
  openmpi-bin libopenmpi-dev slurm-wlm slurm-client munge iproute2 util-linux procps
  python3 python3-numpy
  ca-certificates curl
)

if ! command -v apt-get >/dev/null; then
  echo "setup_deps: no apt-get here; install by hand: ${packages[*]}" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup_deps: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo=()
if [[ "$(id -u)" != 0 ]]; then
  command -v sudo >/dev/null || { echo "setup_deps: not root and no sudo" >&2; exit 1; }
  sudo=(sudo)
fi
echo "setup_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  "${missing[@]}"
