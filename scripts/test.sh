#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The one test command: configure (Ninja, Release) into build/, build everything, run every test.
# Run from anywhere; extra arguments go to ctest (e.g. -R packaging, -L gpu, -LE gpu).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build"
jobs="$(nproc)"

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "$jobs"
cd "$build"
ctest --output-on-failure -j "$jobs" "$@"
