#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The one test command: configure (Ninja, Release) into build/, build everything, run every test.
# Run from anywhere; extra arguments go to ctest (e.g. -R packaging, -L gpu, -LE gpu).
# A failed build does not hide the tests: the build keeps going past errors, ctest still runs
# (tests whose programs did not build show as failed), and the script exits non-zero.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build"
jobs="$(nproc)"

# A fresh machine needs the packages first; this is a no-op once they are installed.
if [[ "${CTML_SKIP_SETUP:-0}" != 1 ]]; then
  bash "$root/scripts/setup_deps.sh"
fi

# ccache keys on absolute paths unless told a base: with the checkout as base, a fresh clone in
# another folder reuses the objects an earlier build of the same sources left in the cache.
# (Release builds carry no debug info, so the build folder's own path need not be hashed.)
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$root}" CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
build_status=0
cmake --build "$build" -j "$jobs" -- -k 0 || build_status=$?
if ((build_status != 0)); then
  echo "test.sh: the build failed (the FAILED: lines above); running the tests anyway"
fi
cd "$build"
test_status=0
# A default timeout, so that a hung test fails instead of stalling CI.
ctest --output-on-failure -j "$jobs" --timeout 1500 "$@" || test_status=$?
if ((build_status != 0)); then
  exit "$build_status"
fi
exit "$test_status"
