#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# usage: run.sh <c++ compiler> <build dir>
# Configures and builds tests/self_contained with the given compiler; exits 77 (skipped) when
# the compiler is missing.
set -euo pipefail
compiler="${1:-}"
build_dir="${2:?usage: run.sh <c++ compiler> <build dir>}"
source_dir="${CTML_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
if [[ -z "$compiler" ]] || ! command -v "$compiler" >/dev/null; then
  echo "SKIP: no C++ compiler '${compiler}' for the self-containment check"
  exit 77
fi
args=(-S "$source_dir/tests/self_contained" -B "$build_dir"
      -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER="$compiler"
      -DCTML_SOURCE_DIR="$source_dir")
if command -v ninja >/dev/null && [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  args+=(-G Ninja)
fi
if [[ -n "${CTML_CCACHE:-}" ]]; then
  args+=(-DCMAKE_CXX_COMPILER_LAUNCHER="$CTML_CCACHE")
fi
cmake "${args[@]}"
# Keep going after a failure, so that one run names every header that does not stand alone.
if grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja' "$build_dir/CMakeCache.txt"; then
  cmake --build "$build_dir" -- -k 0
else
  cmake --build "$build_dir" -- -k
fi
echo "every public header compiles alone with $("$compiler" --version | head -n 1)"
